//! The HTTP side: health, `/tokenize`, and streamed generation with a client
//! timestamp on every streamed token.
//!
//! Two dialects: llama.cpp's native `/completion` (token-id prompts, exact
//! lengths, `timings` in the last event) and OpenAI-style
//! `/v1/chat/completions` (any server; `usage` and, from llama.cpp, `timings`
//! in the last events). Both are parsed by one incremental SSE reader into a
//! [`RequestRecord`]. Time to first token is defined in `docs/measurement.md`:
//! the first event that carries generated output (content, reasoning, or
//! token ids), not the first byte and not an empty role delta.

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Request dialect; it also says where a server's timings live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// llama.cpp `POST /completion` with `stream: true`.
    LlamaCompletion,
    /// OpenAI-compatible `POST {base}/chat/completions` with `stream: true`.
    OpenAiChat,
}

/// A prompt: token ids (exact) or text.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Token ids, sent as they are.
    Tokens(Vec<u32>),
    /// Text (one user message in the chat dialect).
    Text(String),
}

/// One generation request.
#[derive(Debug, Clone, PartialEq)]
pub struct GenRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// Tokens to generate (EOS ignored where the server allows).
    pub n_predict: u64,
    /// Whether the server may reuse a cached prefix.
    pub cache_prompt: bool,
    /// Send llama.cpp/vLLM extensions (`ignore_eos`, `cache_prompt`); off for strict APIs.
    pub extensions: bool,
    /// `model` field for the chat dialect.
    pub model: Option<String>,
}

/// The server's own timings (llama.cpp `timings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct ServerTimings {
    /// Prompt tokens reused from cache.
    #[serde(default)]
    pub cache_n: u64,
    /// Prompt tokens processed.
    #[serde(default)]
    pub prompt_n: u64,
    /// Prompt processing time, milliseconds.
    #[serde(default)]
    pub prompt_ms: f64,
    /// Tokens generated.
    #[serde(default)]
    pub predicted_n: u64,
    /// Generation time, milliseconds.
    #[serde(default)]
    pub predicted_ms: f64,
}

/// Token counts the server reported (OpenAI `usage`, or llama.cpp's fields).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Prompt tokens as the server counted them.
    pub prompt_tokens: Option<u64>,
    /// Generated tokens (reasoning included).
    pub completion_tokens: Option<u64>,
    /// Prompt tokens served from cache.
    pub cached_tokens: Option<u64>,
    /// A count the server sent that is not a count (`-7`, `1.5`, `"12"`),
    /// as sent: such a field is treated as missing, and said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<String>,
}

/// `obj[key]` as a token count; a present value that is not a
/// non-negative integer is noted in `invalid` and treated as missing.
fn count_field(obj: &Value, key: &str, invalid: &mut Option<String>) -> Option<u64> {
    let v = obj.get(key).filter(|v| !v.is_null())?;
    let n = v.as_u64();
    if n.is_none() && invalid.is_none() {
        *invalid = Some(format!("usage.{key} = {v}"));
    }
    n
}

/// Everything observed about one request. Times are seconds on the client
/// clock, relative to when the request was sent unless said otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestRecord {
    /// When it was sent, seconds since the benchmark's start.
    pub sent_at_s: f64,
    /// Response headers arrived.
    pub headers_s: Option<f64>,
    /// First event carrying generated output (time to first token).
    pub first_token_s: Option<f64>,
    /// Arrival of each event that carried output.
    pub token_times_s: Vec<f64>,
    /// Tokens in each of those events (1 unless the server batches).
    pub event_tokens: Vec<u32>,
    /// The event that ended generation (stop / finish_reason) arrived;
    /// the end of decode on the client clock, even when the last tokens'
    /// events carried no text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finish_s: Option<f64>,
    /// Stream finished.
    pub end_s: f64,
    /// Events with content.
    pub content_events: u64,
    /// Events with reasoning (`reasoning_content`).
    pub reasoning_events: u64,
    /// Server-reported counts.
    pub usage: Usage,
    /// Server timings, if the server sends them.
    pub timings: Option<ServerTimings>,
    /// Why generation stopped (`length`, `stop`, `limit`, `eos`).
    pub finish_reason: Option<String>,
    /// Prompt tokens rooftune sent (exact for token prompts).
    pub prompt_tokens_sent: Option<u64>,
    /// Generated token ids (native dialect), for checks such as
    /// [`Client::detokenize`]. Never serialized: generated text stays out of
    /// exported logs and reports.
    #[serde(skip)]
    pub token_ids: Vec<u32>,
}

impl RequestRecord {
    /// Generated tokens: the server's count, else the tokens seen.
    pub fn generated_tokens(&self) -> u64 {
        self.timings
            .as_ref()
            .map(|t| t.predicted_n)
            .filter(|&n| n > 0)
            .or(self.usage.completion_tokens)
            .unwrap_or_else(|| self.event_tokens.iter().map(|&n| n as u64).sum())
    }

    /// Prompt tokens processed: the server's count, else what was sent.
    pub fn prompt_tokens(&self) -> Option<u64> {
        self.timings
            .as_ref()
            .map(|t| t.prompt_n + t.cache_n)
            .filter(|&n| n > 0)
            .or(self.usage.prompt_tokens)
            .or(self.prompt_tokens_sent)
    }

    /// Decode rate on the client clock: the tokens after the first event's
    /// over the time from the first token event to the end of generation
    /// (the finishing event, else the last token event). Both ends are
    /// events, so tokens whose events carried no text (bytes of a
    /// multi-byte character) are timed as well as counted.
    pub fn client_decode_tok_s(&self) -> Option<f64> {
        let first = self.first_token_s?;
        let last_token = *self.token_times_s.last()?;
        let last = self.finish_s.map_or(last_token, |f| f.max(last_token));
        let n = self.generated_tokens();
        let in_first = u64::from(*self.event_tokens.first().unwrap_or(&1));
        (last > first && n > in_first).then(|| (n - in_first) as f64 / (last - first))
    }

    /// Decode rate from the server's timings.
    ///
    /// `predicted_ms` runs from the end of the prompt to the last token, and
    /// the first generated token comes free with the prompt's logits, so it
    /// spans `predicted_n - 1` decode steps (llama.cpp b11434 computes its
    /// own `predicted_per_second` this way). Dividing all `predicted_n`
    /// tokens by it overstated decode by n/(n-1): +3% at 32 tokens, +33% at 4,
    /// enough to put a latency-bound measurement above its ceiling.
    pub fn server_decode_tok_s(&self) -> Option<f64> {
        let t = self.timings.as_ref()?;
        (t.predicted_ms > 0.0 && t.predicted_n > 1)
            .then(|| (t.predicted_n - 1) as f64 / (t.predicted_ms / 1e3))
    }

    /// Prefill rate from the server's timings (tokens actually processed).
    pub fn server_prefill_tok_s(&self) -> Option<f64> {
        let t = self.timings.as_ref()?;
        (t.prompt_ms > 0.0 && t.prompt_n > 0).then(|| t.prompt_n as f64 / (t.prompt_ms / 1e3))
    }
}

/// Errors talking to a server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Bad `--url` or client setup.
    #[error("bad server URL `{url}`: {reason}\n  (hint: use the API base, e.g. http://127.0.0.1:8080/v1)")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Could not connect or the connection broke.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// URL.
        url: String,
        /// Cause, flattened.
        reason: String,
    },
    /// No answer in time.
    #[error("request to {url} got no {what} within {after_s:.0} s\n  (hint: raise --timeout if the server is just slow)")]
    Timeout {
        /// URL.
        url: String,
        /// What was awaited.
        what: &'static str,
        /// Timeout, seconds.
        after_s: f64,
    },
    /// Non-success HTTP status.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// URL.
        url: String,
        /// Status code.
        status: u16,
        /// Body (truncated).
        body: String,
    },
    /// The endpoint does not exist on this server.
    #[error("{url} is not supported by this server (HTTP {status})")]
    Unsupported {
        /// URL.
        url: String,
        /// Status.
        status: u16,
    },
    /// A streamed event could not be parsed.
    #[error("malformed event from {url}: {reason}: `{event}`\n  (hint: is this an OpenAI-compatible streaming endpoint?)")]
    Malformed {
        /// URL.
        url: String,
        /// Why.
        reason: String,
        /// The event (truncated).
        event: String,
    },
    /// The server reported an error inside the stream.
    #[error("{url} reported an error mid-stream: {message}")]
    InStream {
        /// URL.
        url: String,
        /// Message.
        message: String,
    },
    /// The stream closed before the server said it was done.
    #[error("stream from {url} ended early: after {tokens} generated tokens and {after_s:.2} s, without a final event")]
    EndedEarly {
        /// URL.
        url: String,
        /// Tokens seen.
        tokens: u64,
        /// Seconds since sent.
        after_s: f64,
    },
}

impl ClientError {
    /// The same error with every text a server could have sent (and the
    /// URL) passed through [`super::redact::redact`].
    pub fn redacted(self, key: Option<&str>) -> ClientError {
        let r = |s: String| super::redact::redact(&s, key);
        match self {
            ClientError::BadUrl { url, reason } => ClientError::BadUrl {
                url: r(url),
                reason: r(reason),
            },
            ClientError::Transport { url, reason } => ClientError::Transport {
                url: r(url),
                reason: r(reason),
            },
            ClientError::Timeout { url, what, after_s } => ClientError::Timeout {
                url: r(url),
                what,
                after_s,
            },
            ClientError::Status { url, status, body } => ClientError::Status {
                url: r(url),
                status,
                body: r(body),
            },
            ClientError::Unsupported { url, status } => ClientError::Unsupported {
                url: r(url),
                status,
            },
            ClientError::Malformed { url, reason, event } => ClientError::Malformed {
                url: r(url),
                reason: r(reason),
                event: r(event),
            },
            ClientError::InStream { url, message } => ClientError::InStream {
                url: r(url),
                message: r(message),
            },
            ClientError::EndedEarly {
                url,
                tokens,
                after_s,
            } => ClientError::EndedEarly {
                url: r(url),
                tokens,
                after_s,
            },
        }
    }
}

/// An HTTP client for one server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    root: String,
    api_base: String,
    api_key: Option<String>,
    timeout: Duration,
    /// Fields added to every generation request's body (per-request
    /// settings such as llama.cpp's `n_cache_reuse`), so configurations
    /// that differ only in them can share one server start.
    per_request: serde_json::Map<String, Value>,
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn transport(url: &str, e: reqwest::Error) -> ClientError {
    let mut reason = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        reason = format!("{reason}: {s}");
        src = s.source();
    }
    ClientError::Transport {
        url: url.into(),
        reason,
    }
}

impl Client {
    /// A client for a server whose root is `root` (`http://127.0.0.1:8080`)
    /// and OpenAI base `api_base` (`.../v1`). `timeout` bounds each request.
    /// The API key is sent as a bearer token and never printed.
    pub fn new(
        root: &str,
        api_base: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        for u in [root, api_base] {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(ClientError::BadUrl {
                    url: u.into(),
                    reason: "it must start with http:// or https://".into(),
                });
            }
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| ClientError::BadUrl {
                url: root.into(),
                reason: e.to_string(),
            })?;
        Ok(Client {
            http,
            root: root.trim_end_matches('/').into(),
            api_base: api_base.trim_end_matches('/').into(),
            api_key,
            timeout,
            per_request: serde_json::Map::new(),
        })
    }

    /// This client with `fields` added to every generation request's body
    /// (replacing what was set before).
    pub fn with_per_request(&self, fields: serde_json::Map<String, Value>) -> Client {
        Client {
            per_request: fields,
            ..self.clone()
        }
    }

    /// The fields added to every generation request's body.
    pub fn per_request(&self) -> &serde_json::Map<String, Value> {
        &self.per_request
    }

    /// A client for an OpenAI base URL (`http://host:port/v1`); the root is
    /// the URL without a trailing `/v1`.
    pub fn for_api_base(
        url: &str,
        api_key: Option<String>,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let base = url.trim_end_matches('/');
        let root = base.strip_suffix("/v1").unwrap_or(base);
        Client::new(root, base, api_key, timeout)
    }

    /// The server root URL.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// HTTP status of `GET root+path`, with a short timeout.
    pub async fn status(&self, path: &str) -> Result<u16, ClientError> {
        self.status_raw(path).await.map_err(|e| self.redacted(e))
    }

    /// Token ids of `text` (llama.cpp `/tokenize`).
    pub async fn tokenize(&self, text: &str) -> Result<Vec<u32>, ClientError> {
        self.tokenize_raw(text).await.map_err(|e| self.redacted(e))
    }

    /// Send one streamed generation and record every event's arrival.
    /// `t0` is the benchmark's start, for `sent_at_s`. Errors never carry
    /// the API key, whatever the server echoed back.
    pub async fn generate(
        &self,
        dialect: Dialect,
        req: &GenRequest,
        t0: Instant,
    ) -> Result<RequestRecord, ClientError> {
        self.generate_raw(dialect, req, t0)
            .await
            .map_err(|e| self.redacted(e))
    }

    fn redacted(&self, e: ClientError) -> ClientError {
        e.redacted(self.api_key.as_deref())
    }

    fn auth(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        }
    }

    /// HTTP status of `GET root+path`, with a short timeout.
    async fn status_raw(&self, path: &str) -> Result<u16, ClientError> {
        let url = format!("{}{path}", self.root);
        let rb = self
            .auth(self.http.get(&url))
            .timeout(Duration::from_secs(2));
        let r = rb.send().await.map_err(|e| transport(&url, e))?;
        Ok(r.status().as_u16())
    }

    /// Send a POST; a pooled keep-alive connection the server closed while
    /// idle fails before any byte of the answer, so that case is retried once
    /// on a fresh connection.
    async fn send_post(
        &self,
        url: &str,
        body: &Value,
        deadline: tokio::time::Instant,
        what: &'static str,
    ) -> Result<reqwest::Response, ClientError> {
        let mut retried = false;
        loop {
            let fut = self.auth(self.http.post(url)).json(body).send();
            match tokio::time::timeout_at(deadline, fut).await {
                Err(_) => return Err(self.timeout_err(url, what)),
                Ok(Ok(r)) => return Ok(r),
                Ok(Err(e)) if !retried && e.is_request() && !e.is_timeout() => retried = true,
                Ok(Err(e)) => return Err(transport(url, e)),
            }
        }
    }

    async fn post_json(&self, url: &str, body: &Value) -> Result<Value, ClientError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let r = self.send_post(url, body, deadline, "answer").await?;
        let status = r.status().as_u16();
        if status == 404 || status == 405 || status == 501 {
            return Err(ClientError::Unsupported {
                url: url.into(),
                status,
            });
        }
        let text = tokio::time::timeout(self.timeout, r.text())
            .await
            .map_err(|_| self.timeout_err(url, "answer"))?
            .map_err(|e| transport(url, e))?;
        if !(200..300).contains(&status) {
            return Err(ClientError::Status {
                url: url.into(),
                status,
                body: truncate(&text, 300),
            });
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Malformed {
            url: url.into(),
            reason: e.to_string(),
            event: truncate(&text, 200),
        })
    }

    fn timeout_err(&self, url: &str, what: &'static str) -> ClientError {
        ClientError::Timeout {
            url: url.into(),
            what,
            after_s: self.timeout.as_secs_f64(),
        }
    }

    /// Token ids of `text` without special tokens (llama.cpp `POST /tokenize`).
    async fn tokenize_raw(&self, text: &str) -> Result<Vec<u32>, ClientError> {
        let url = format!("{}/tokenize", self.root);
        let v = self
            .post_json(&url, &json!({"content": text, "add_special": false}))
            .await?;
        v.get("tokens")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_u64().or_else(|| t.get("id")?.as_u64()))
                    .map(|t| t as u32)
                    .collect()
            })
            .ok_or_else(|| ClientError::Malformed {
                url,
                reason: "no `tokens` array".into(),
                event: truncate(&v.to_string(), 200),
            })
    }

    /// Text of token ids (llama.cpp `POST /detokenize`).
    pub async fn detokenize(&self, ids: &[u32]) -> Result<String, ClientError> {
        let url = format!("{}/detokenize", self.root);
        let v = self.post_json(&url, &json!({ "tokens": ids })).await?;
        v.get("content")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Malformed {
                url,
                reason: "no `content` string".into(),
                event: truncate(&v.to_string(), 200),
            })
    }

    fn body(&self, dialect: Dialect, req: &GenRequest) -> (String, Value) {
        match dialect {
            Dialect::LlamaCompletion => {
                let prompt = match &req.prompt {
                    Prompt::Tokens(t) => json!(t),
                    Prompt::Text(s) => json!(s),
                };
                (
                    format!("{}/completion", self.root),
                    json!({
                        "prompt": prompt,
                        "n_predict": req.n_predict,
                        "ignore_eos": true,
                        "cache_prompt": req.cache_prompt,
                        "stream": true,
                        "return_tokens": true,
                    }),
                )
            }
            Dialect::OpenAiChat => {
                let text = match &req.prompt {
                    Prompt::Text(s) => s.clone(),
                    Prompt::Tokens(t) => t.iter().map(|x| format!("{x} ")).collect(),
                };
                let mut b = json!({
                    "messages": [{"role": "user", "content": text}],
                    "max_tokens": req.n_predict,
                    "stream": true,
                    "stream_options": {"include_usage": true},
                });
                if let Some(m) = &req.model {
                    b["model"] = json!(m);
                }
                if req.extensions {
                    b["ignore_eos"] = json!(true);
                    b["cache_prompt"] = json!(req.cache_prompt);
                }
                (format!("{}/chat/completions", self.api_base), b)
            }
        }
    }

    /// Send one streamed generation and record every event's arrival.
    /// `t0` is the benchmark's start, for `sent_at_s`.
    async fn generate_raw(
        &self,
        dialect: Dialect,
        req: &GenRequest,
        t0: Instant,
    ) -> Result<RequestRecord, ClientError> {
        let (url, body) = self.body(dialect, req);
        let tokens_sent = match &req.prompt {
            Prompt::Tokens(t) => Some(t.len() as u64),
            Prompt::Text(_) => None,
        };
        self.stream(dialect, url, &body, t0, tokens_sent).await
    }

    /// Send a ready-made OpenAI chat body (several messages, tools) to
    /// `{base}/chat/completions`, streamed, and record it like [`Client::generate`].
    /// `stream` and `stream_options.include_usage` are set here.
    pub async fn chat(&self, mut body: Value, t0: Instant) -> Result<RequestRecord, ClientError> {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let url = format!("{}/chat/completions", self.api_base);
        self.stream(Dialect::OpenAiChat, url, &body, t0, None)
            .await
            .map_err(|e| self.redacted(e))
    }

    /// The prompt the server builds from chat `messages` and `tools` with its
    /// own template (llama.cpp `POST /apply-template`).
    pub async fn apply_template(
        &self,
        messages: &Value,
        tools: &Value,
    ) -> Result<String, ClientError> {
        let url = format!("{}/apply-template", self.root);
        let mut body = json!({"messages": messages});
        if tools.as_array().is_some_and(|a| !a.is_empty()) {
            body["tools"] = tools.clone();
        }
        let v = self
            .post_json(&url, &body)
            .await
            .map_err(|e| self.redacted(e))?;
        v.get("prompt")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Malformed {
                url,
                reason: "no `prompt` string".into(),
                event: truncate(&v.to_string(), 200),
            })
    }

    /// `text` as the server tokenizes a chat prompt (special tokens parsed,
    /// BOS added), each token with the bytes of its piece.
    pub async fn tokenize_pieces(&self, text: &str) -> Result<Vec<(u32, Vec<u8>)>, ClientError> {
        let url = format!("{}/tokenize", self.root);
        let body = json!({"content": text, "add_special": true, "parse_special": true, "with_pieces": true});
        let v = self
            .post_json(&url, &body)
            .await
            .map_err(|e| self.redacted(e))?;
        let malformed = |v: &Value| ClientError::Malformed {
            url: url.clone(),
            reason: "no `tokens` array of {id, piece}".into(),
            event: truncate(&v.to_string(), 200),
        };
        let arr = v
            .get("tokens")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(&v))?;
        arr.iter()
            .map(|t| {
                let id = t
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| malformed(t))? as u32;
                let piece = match t.get("piece") {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(Value::Array(b)) => b
                        .iter()
                        .filter_map(Value::as_u64)
                        .map(|x| x as u8)
                        .collect(),
                    _ => return Err(malformed(t)),
                };
                Ok((id, piece))
            })
            .collect()
    }

    async fn stream(
        &self,
        dialect: Dialect,
        url: String,
        body: &Value,
        t0: Instant,
        prompt_tokens_sent: Option<u64>,
    ) -> Result<RequestRecord, ClientError> {
        let mut with_fields;
        let body = if self.per_request.is_empty() {
            body
        } else {
            with_fields = body.clone();
            if let Some(obj) = with_fields.as_object_mut() {
                for (k, v) in &self.per_request {
                    obj.insert(k.clone(), v.clone());
                }
            }
            &with_fields
        };
        let sent = Instant::now();
        let mut rec = RequestRecord {
            sent_at_s: sent.duration_since(t0).as_secs_f64(),
            prompt_tokens_sent,
            ..RequestRecord::default()
        };
        let deadline = tokio::time::Instant::from_std(sent) + self.timeout;
        let resp = self
            .send_post(&url, body, deadline, "response headers")
            .await?;
        rec.headers_s = Some(sent.elapsed().as_secs_f64());
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let text = tokio::time::timeout_at(deadline, resp.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            return Err(ClientError::Status {
                url,
                status,
                body: truncate(&text, 300),
            });
        }
        let mut stream = resp.bytes_stream();
        let mut sse = SseParser::default();
        let mut done = false;
        loop {
            let next = tokio::time::timeout_at(deadline, stream.next())
                .await
                .map_err(|_| self.timeout_err(&url, "end of stream"))?;
            let chunk = match next {
                None => break,
                Some(Err(e)) => return Err(transport(&url, e)),
                Some(Ok(c)) => c,
            };
            let at = sent.elapsed().as_secs_f64();
            for ev in sse.push(&chunk) {
                done |= apply_event(dialect, &url, ev, at, &mut rec)?;
            }
        }
        for ev in sse.finish() {
            done |= apply_event(dialect, &url, ev, sent.elapsed().as_secs_f64(), &mut rec)?;
        }
        rec.end_s = sent.elapsed().as_secs_f64();
        if !done {
            return Err(ClientError::EndedEarly {
                url,
                tokens: rec.event_tokens.iter().map(|&n| n as u64).sum(),
                after_s: rec.end_s,
            });
        }
        Ok(rec)
    }
}

/// One server-sent event's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    /// A `data:` payload.
    Data(String),
    /// `data: [DONE]`.
    Done,
    /// An `error:` line (llama.cpp streams errors so).
    Error(String),
}

/// An incremental reader of `text/event-stream` bytes. One event per `data:`
/// line (servers here never split JSON over lines).
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
}

impl SseParser {
    /// Feed bytes; get the complete lines' events.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            if let Some(ev) = parse_line(&String::from_utf8_lossy(&line)) {
                out.push(ev);
            }
        }
        out
    }

    /// Events from an unterminated last line.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let rest = std::mem::take(&mut self.buf);
        parse_line(&String::from_utf8_lossy(&rest))
            .into_iter()
            .collect()
    }
}

fn parse_line(line: &str) -> Option<SseEvent> {
    let l = line.trim_end_matches(['\r', '\n']);
    if let Some(d) = l.strip_prefix("data:") {
        let d = d.trim_start();
        return Some(if d == "[DONE]" {
            SseEvent::Done
        } else {
            SseEvent::Data(d.to_string())
        });
    }
    l.strip_prefix("error:")
        .map(|e| SseEvent::Error(e.trim().to_string()))
}

fn nonempty_str(v: Option<&Value>) -> bool {
    v.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// Apply one event to the record; true when it marks the end of generation.
fn apply_event(
    dialect: Dialect,
    url: &str,
    ev: SseEvent,
    at: f64,
    rec: &mut RequestRecord,
) -> Result<bool, ClientError> {
    let data = match ev {
        SseEvent::Done => return Ok(true),
        SseEvent::Error(m) => {
            return Err(ClientError::InStream {
                url: url.into(),
                message: truncate(&m, 300),
            })
        }
        SseEvent::Data(d) => d,
    };
    let v: Value = serde_json::from_str(&data).map_err(|e| ClientError::Malformed {
        url: url.into(),
        reason: e.to_string(),
        event: truncate(&data, 200),
    })?;
    if !v.is_object() {
        return Err(ClientError::Malformed {
            url: url.into(),
            reason: "not a JSON object".into(),
            event: truncate(&data, 200),
        });
    }
    if let Some(e) = v.get("error") {
        let message = e
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| e.to_string(), str::to_string);
        return Err(ClientError::InStream {
            url: url.into(),
            message: truncate(&message, 300),
        });
    }
    if let Some(t) = v.get("timings") {
        rec.timings = serde_json::from_value(t.clone()).ok();
    }
    let mut tokens = 0u32;
    let mut finished = false;
    match dialect {
        Dialect::LlamaCompletion => {
            let id_list = v.get("tokens").and_then(Value::as_array);
            let ids = id_list.map_or(0, Vec::len) as u32;
            rec.token_ids.extend(
                id_list
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                    .map(|t| t as u32),
            );
            let stop = v.get("stop").and_then(Value::as_bool).unwrap_or(false);
            tokens = if ids > 0 {
                ids
            } else {
                u32::from(!stop && nonempty_str(v.get("content")))
            };
            if tokens > 0 {
                rec.content_events += 1;
            }
            if stop {
                finished = true;
                rec.finish_reason = v.get("stop_type").and_then(Value::as_str).map(String::from);
                rec.usage.prompt_tokens = v.get("tokens_evaluated").and_then(Value::as_u64);
                rec.usage.completion_tokens = v.get("tokens_predicted").and_then(Value::as_u64);
                rec.usage.cached_tokens = rec.timings.as_ref().map(|t| t.cache_n);
            }
        }
        Dialect::OpenAiChat => {
            if let Some(c) = v
                .get("choices")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
            {
                let delta = c.get("delta");
                let content = nonempty_str(delta.and_then(|d| d.get("content")));
                let reasoning = nonempty_str(delta.and_then(|d| d.get("reasoning_content")))
                    || nonempty_str(delta.and_then(|d| d.get("reasoning")));
                // A text delta with no text still stands for a generated token
                // (a byte of a multi-byte character); the opening role delta
                // and the closing one do not.
                let textless = delta.and_then(Value::as_object).is_some_and(|d| {
                    !d.contains_key("role")
                        && ["content", "reasoning_content", "reasoning"]
                            .iter()
                            .any(|k| d.get(*k).is_some_and(Value::is_string))
                }) && !content
                    && !reasoning
                    && c.get("finish_reason").and_then(Value::as_str).is_none();
                if content {
                    rec.content_events += 1;
                }
                if reasoning {
                    rec.reasoning_events += 1;
                }
                tokens = u32::from(content || reasoning || textless);
                if let Some(r) = c.get("finish_reason").and_then(Value::as_str) {
                    rec.finish_reason = Some(r.to_string());
                    finished = true;
                }
            }
            if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
                rec.usage.prompt_tokens = count_field(u, "prompt_tokens", &mut rec.usage.invalid);
                rec.usage.completion_tokens =
                    count_field(u, "completion_tokens", &mut rec.usage.invalid);
                rec.usage.cached_tokens = u
                    .get("prompt_tokens_details")
                    .and_then(|d| d.get("cached_tokens"))
                    .and_then(Value::as_u64);
            }
        }
    }
    if finished {
        rec.finish_s.get_or_insert(at);
    }
    if tokens > 0 {
        rec.first_token_s.get_or_insert(at);
        rec.token_times_s.push(at);
        rec.event_tokens.push(tokens);
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_split_across_chunks() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: {\"a\":").is_empty());
        let evs = p.push(b"1}\n\n: comment\ndata: [DONE]\n");
        assert_eq!(
            evs,
            vec![SseEvent::Data("{\"a\":1}".into()), SseEvent::Done]
        );
        assert_eq!(p.push(b"error: {\"x\":1}"), vec![]);
        assert_eq!(p.finish(), vec![SseEvent::Error("{\"x\":1}".into())]);
    }

    fn apply(d: Dialect, s: &str, at: f64, r: &mut RequestRecord) -> Result<bool, ClientError> {
        apply_event(d, "u", SseEvent::Data(s.into()), at, r)
    }

    #[test]
    fn chat_ttft_skips_role_delta_and_counts_reasoning() {
        let d = Dialect::OpenAiChat;
        let mut r = RequestRecord::default();
        apply(
            d,
            r#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#,
            0.1,
            &mut r,
        )
        .unwrap();
        assert_eq!(r.first_token_s, None);
        apply(
            d,
            r#"{"choices":[{"delta":{"reasoning_content":"hm"}}]}"#,
            0.2,
            &mut r,
        )
        .unwrap();
        apply(d, r#"{"choices":[{"delta":{"content":"x"}}]}"#, 0.3, &mut r).unwrap();
        assert!(apply(
            d,
            r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#,
            0.4,
            &mut r
        )
        .unwrap());
        apply(d, r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":0}},"timings":{"prompt_n":5,"prompt_ms":2.0,"predicted_n":3,"predicted_ms":4.0}}"#, 0.5, &mut r).unwrap();
        assert_eq!(r.first_token_s, Some(0.2));
        assert_eq!((r.reasoning_events, r.content_events), (1, 1));
        assert_eq!(r.generated_tokens(), 3);
        assert_eq!(r.usage.cached_tokens, Some(0));
        // 3 tokens, 2 decode steps after the free first one, in 4 ms.
        assert_eq!(r.server_decode_tok_s(), Some(500.0));
        // 3 tokens, 2 events with text: the third token is timed by the
        // finishing event (0.4), so 2 tokens over 0.2 s.
        approx::assert_relative_eq!(r.client_decode_tok_s().unwrap(), 10.0, epsilon = 1e-9);
    }

    #[test]
    fn textless_events_are_timed_and_counted() {
        // Two tokens with text, then two bytes of one character with none,
        // then the finish: 4 tokens, the last 3 over 0.3 s.
        let d = Dialect::OpenAiChat;
        let mut r = RequestRecord::default();
        apply(
            d,
            r#"{"choices":[{"delta":{"role":"assistant","content":null}}]}"#,
            0.0,
            &mut r,
        )
        .unwrap();
        apply(d, r#"{"choices":[{"delta":{"content":"a"}}]}"#, 0.1, &mut r).unwrap();
        apply(d, r#"{"choices":[{"delta":{"content":"b"}}]}"#, 0.2, &mut r).unwrap();
        apply(d, r#"{"choices":[{"delta":{"content":""}}]}"#, 0.3, &mut r).unwrap();
        apply(d, r#"{"choices":[{"delta":{"content":""}}]}"#, 0.4, &mut r).unwrap();
        apply(
            d,
            r#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#,
            0.4,
            &mut r,
        )
        .unwrap();
        apply(
            d,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4}}"#,
            0.41,
            &mut r,
        )
        .unwrap();
        let rate = r.client_decode_tok_s().unwrap();
        assert!((rate - 10.0).abs() < 1e-9, "{rate}");
        // A stream whose every token event is textless still has a TTFT.
        let mut r = RequestRecord::default();
        apply(d, r#"{"choices":[{"delta":{"content":""}}]}"#, 0.25, &mut r).unwrap();
        assert_eq!(r.first_token_s, Some(0.25));
    }

    #[test]
    fn native_tokens_and_stop() {
        let d = Dialect::LlamaCompletion;
        let mut r = RequestRecord::default();
        assert!(!apply(
            d,
            r#"{"content":"","tokens":[147],"stop":false}"#,
            0.1,
            &mut r
        )
        .unwrap());
        assert!(apply(d, r#"{"content":"","tokens":[],"stop":true,"stop_type":"limit","tokens_evaluated":5,"tokens_predicted":1,"timings":{"cache_n":0,"prompt_n":5,"prompt_ms":10.0,"predicted_n":1,"predicted_ms":0.1}}"#, 0.2, &mut r).unwrap());
        assert_eq!(r.first_token_s, Some(0.1));
        assert_eq!(r.prompt_tokens(), Some(5));
        assert_eq!(r.server_prefill_tok_s(), Some(500.0));
        assert_eq!(r.finish_reason.as_deref(), Some("limit"));
        assert_eq!(r.token_ids, vec![147]);
        // Generated ids never reach serialized records (exported logs).
        assert!(!serde_json::to_string(&r).unwrap().contains("token_ids"));
    }

    #[test]
    fn malformed_and_error_events() {
        let mut r = RequestRecord::default();
        let e = apply(Dialect::OpenAiChat, "{not json", 0.0, &mut r).unwrap_err();
        assert!(matches!(e, ClientError::Malformed { .. }), "{e}");
        let e = apply(Dialect::OpenAiChat, "[1,2]", 0.0, &mut r).unwrap_err();
        assert!(matches!(e, ClientError::Malformed { .. }));
        let e = apply(
            Dialect::OpenAiChat,
            r#"{"error":{"message":"boom"}}"#,
            0.0,
            &mut r,
        )
        .unwrap_err();
        assert!(e.to_string().contains("boom"));
    }

    #[test]
    fn url_roots() {
        let c = Client::for_api_base("http://h:1/v1/", None, Duration::from_secs(1)).unwrap();
        assert_eq!(c.root(), "http://h:1");
        assert!(Client::for_api_base("h:1/v1", None, Duration::from_secs(1)).is_err());
    }
}
