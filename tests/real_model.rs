//! The real model: Google's Gemma 3 270M Q4_K_M (`scripts/fetch-model.sh`),
//! proving what generated models cannot: the reader against gguf-py on a
//! real K-quant mix with a sliding-window layout and a tied output head;
//! generated tokens that decode to words; a quality guard that sees a lossy
//! KV cache on real weights; and Gemma's own chat turn format.
//! Skipped (with a message) without the model or llama-server; tests that
//! start a server take the shared lock (and the nextest `serial-server` group).

#[macro_use]
mod server_support;
mod gguf_golden;

use rooftune::bench::measure::{self, Kind, Plan, Target};
use rooftune::campaign::history::History;
use rooftune::campaign::record::Role;
use rooftune::gguf::GgufModel;
use rooftune::server::client::{Client, Dialect, GenRequest, Prompt};
use rooftune::server::{llama::LlamaServer, RunningServer, StartOptions};
use rooftune::tune::quality;
use serde_json::{json, Value as J};
use server_support::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Gemma's chat format: the file has no template, so the server needs these.
const GEMMA_TEMPLATE: &[&str] = &["--no-jinja", "--chat-template", "gemma"];

/// A llama-server on the model, 2 threads, one 2,048-token slot.
async fn start(bin: &Path, model: &Path, extra: &[&str]) -> RunningServer {
    let mut args: Vec<String> = ["-t", "2", "-c", "2048", "-np", "1"]
        .iter()
        .chain(extra)
        .map(|s| s.to_string())
        .collect();
    args.extend(GEMMA_TEMPLATE.iter().map(|s| s.to_string()));
    let opts = StartOptions {
        ready_timeout: Duration::from_secs(120),
        ..StartOptions::default()
    };
    RunningServer::start(&LlamaServer, bin, model, &args, &opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn client(s: &RunningServer) -> Client {
    Client::new(
        &s.root_url,
        &format!("{}/v1", s.root_url),
        None,
        Duration::from_secs(120),
    )
    .unwrap()
}

fn ggml_type_name(id: u64) -> &'static str {
    match id {
        0 => "f32",
        6 => "q5_0",
        8 => "q8_0",
        12 => "q4_K",
        14 => "q6_K",
        _ => "other",
    }
}

#[test]
fn model_inspect_matches_gguf_py() {
    let model = need_gemma!();
    let g = gguf_golden::golden("gemma-3-270m-q4_k_m.json");
    // The reader, field by field against gguf-py.
    let m = GgufModel::open(&model).unwrap();
    gguf_golden::check_against_golden(&m, &g);

    // `model inspect --json` against figures derived from the gguf-py dump.
    let out = rooftune()
        .args(["model", "inspect", "--json"])
        .arg(&model)
        .assert()
        .success()
        .get_output()
        .clone();
    let ins: J = serde_json::from_slice(&out.stdout).unwrap();
    let tensors = g["tensors"].as_array().unwrap();
    assert_eq!(ins["n_tensors"], json!(236));
    assert_eq!(ins["n_tensors"].as_u64().unwrap(), tensors.len() as u64);
    let mut mix = std::collections::BTreeMap::<&str, u64>::new();
    for t in tensors {
        *mix.entry(ggml_type_name(t["type"].as_u64().unwrap()))
            .or_default() += t["bytes"].as_u64().unwrap();
    }
    let types: Vec<&str> = mix.keys().copied().collect();
    assert_eq!(types, ["f32", "q4_K", "q5_0", "q6_K", "q8_0"]);
    for (ty, bytes) in &mix {
        assert_eq!(ins["quant_mix"][ty]["bytes"].as_u64(), Some(*bytes), "{ty}");
    }
    let total: u64 = mix.values().sum();
    assert_eq!(ins["total"]["bytes"].as_u64(), Some(total));
    // Tied output head: no `output.weight`; the whole Q8_0 embedding is read
    // per token as the output head, plus the input token's own row.
    assert!(tensors.iter().all(|t| t["name"] != "output.weight"));
    let embd = tensors
        .iter()
        .find(|t| t["name"] == "token_embd.weight")
        .unwrap();
    assert_eq!(embd["type"], json!(8));
    assert_eq!(embd["dims"], json!([640, 262144]));
    let row_bytes = embd["bytes"].as_u64().unwrap() / 262144;
    assert_eq!(
        ins["active_per_token"]["bytes"].as_u64(),
        Some(total + row_bytes)
    );
    // Sliding-window layout: every 6th layer global, the others slide over 512.
    let meta = &g["metadata"];
    assert_eq!(meta["gemma3.attention.sliding_window"]["value"], json!(512));
    let n_layer = meta["gemma3.block_count"]["value"].as_u64().unwrap();
    let cache = ins["cache"].as_array().unwrap();
    assert_eq!(cache.len() as u64, n_layer);
    let kv_el = meta["gemma3.attention.head_count_kv"]["value"]
        .as_u64()
        .unwrap()
        * meta["gemma3.attention.key_length"]["value"]
            .as_u64()
            .unwrap();
    for (i, c) in cache.iter().enumerate() {
        if i % 6 == 5 {
            assert_eq!(c["kind"], "full", "layer {i}: {c}");
        } else {
            assert_eq!(c["kind"], "sliding", "layer {i}: {c}");
            assert_eq!(c["window"], json!(512), "layer {i}");
        }
        assert_eq!(c["k_per_token"].as_u64(), Some(kv_el), "layer {i}");
    }
    assert_eq!(ins["tokenizer"], json!(["llama", 262144]));
    // No chat template in the file: inspect says so, with the flags to use.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no tokenizer.chat_template"), "{err}");
    assert!(err.contains("--no-jinja --chat-template gemma"), "{err}");
}

/// Share of whitespace-separated words made of 2+ letters (an apostrophe or a
/// trailing punctuation mark allowed), and how many there are.
fn word_share(text: &str) -> (f64, usize) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let is_word = |w: &&&str| {
        let core = w.trim_matches(|c: char| c.is_ascii_punctuation());
        core.chars().count() >= 2 && core.chars().all(|c| c.is_alphabetic() || c == '\'')
    };
    let n = words.iter().filter(is_word).count();
    (n as f64 / words.len().max(1) as f64, n)
}

#[tokio::test]
async fn bench_generates_tokens_that_decode_to_words() {
    let bin = need_server!();
    let model = need_gemma!();
    let _l = server_lock();
    let server = start(&bin, &model, &[]).await;
    let c = client(&server);
    let target = Target {
        client: c.clone(),
        dialect: Dialect::LlamaCompletion,
        model: None,
        ctx_limit: Some(2048),
        server_pid: None,
    };
    // Each request's prompt is random words after a random prefix, and greedy
    // decoding from word salad sometimes collapses into special tokens; real
    // weights show in that most continuations are words, so look at four.
    let plan = Plan {
        prompt_tokens: 64,
        depths: vec![64],
        n_predict: 32,
        repeats: 4,
        concurrency: 1,
    };
    let m = measure::run(&target, &plan, &mut |_| {}).await.unwrap();
    let mut texts = Vec::new();
    for s in m.requests.iter().filter(|s| s.kind == Kind::Decode) {
        assert_eq!(s.record.token_ids.len(), 32, "one id per generated token");
        texts.push(c.detokenize(&s.record.token_ids).await.unwrap());
    }
    server.stop().await;
    let shares: Vec<(f64, usize)> = texts.iter().map(|t| word_share(t)).collect();
    eprintln!("words per continuation: {shares:?}");
    assert!(
        shares.iter().any(|&(share, n)| n >= 5 && share >= 0.6),
        "no continuation was words: {texts:?}"
    );
    // The generated text never reaches the serialized measurement.
    let exported = serde_json::to_string(&m).unwrap();
    assert!(!exported.contains("token_ids"));
}

#[test]
fn bench_on_the_real_model_warns_about_the_missing_template() {
    let bin = need_server!();
    let model = need_gemma!();
    let _l = server_lock();
    let run = |extra: &[&str]| -> J {
        let out = rooftune()
            .args(["bench", "--server-bin"])
            .arg(&bin)
            .arg("--model")
            .arg(&model)
            .args(["--hw", "ddr5-6000-2ch", "--json"])
            .args(QUICK_ARGS)
            .args(["--", "-t", "2", "-c", "2048"])
            .args(extra)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    };
    let has_warning = |v: &J| {
        v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("no tokenizer.chat_template"))
    };
    let plain = run(&[]);
    assert!(has_warning(&plain), "{}", plain["notes"]);
    let templated = run(GEMMA_TEMPLATE);
    assert!(!has_warning(&templated), "{}", templated["notes"]);
}

/// The tiny quality campaign: the defaults, `-fa on -ctk q4_0 -ctv q4_0`,
/// the defaults again (the anchor, on a fresh server), `-fa on -ctk q8_0 -ctv q4_0`.
const QUALITY_SPEC: &str = r#"
hardware = "ddr5-6000-2ch"
fixed = ["--no-jinja", "--chat-template", "gemma"]
[space]
"-t" = [2]
"-fa" = ["on"]
"-ctk" = ["q4_0", "q8_0"]
"-ctv" = ["q4_0"]
[objective]
metric = "decode"
tokens = 4
[budget]
repeats = 1
[anchor]
every = 1
drift = 100.0
settle_s = 0
retries = 0
[quality]
n_predict = 16
"#;

#[test]
fn quality_guard_sees_a_lossy_kv_cache_on_real_weights() {
    let bin = need_server!();
    let model = need_gemma!();
    let _l = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("quality.toml");
    std::fs::write(
        &spec,
        format!("model = {:?}\n{QUALITY_SPEC}", model.display().to_string()),
    )
    .unwrap();
    let out = dir.path().join("log");
    rooftune()
        // Four server starts; on a 2-core machine shared with compilers this
        // took from 60 s to over 4 minutes.
        .timeout(Duration::from_secs(540))
        .args(["tune", "--grid", "--server-bin"])
        .arg(&bin)
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let h = History::read(&out.join("trials.jsonl")).unwrap();
    let sample = |pred: &dyn Fn(&rooftune::campaign::record::TrialLine) -> bool| {
        h.trials
            .iter()
            .find(|t| pred(t))
            .and_then(|t| t.quality.clone())
            .expect("a trial with a quality sample")
    };
    let defaults = sample(&|t| t.role == Role::Default);
    let again = sample(&|t| t.role == Role::Anchor);
    let q4 = sample(&|t| t.config().get("-ctk") == Some("q4_0"));
    let q8 = sample(&|t| t.config().get("-ctk") == Some("q8_0"));
    assert_eq!(defaults.len(), 3, "three quality prompts");
    let same = quality::compare(&defaults, &again).unwrap();
    let lossy = quality::compare(&defaults, &q4).unwrap();
    let milder = quality::compare(&defaults, &q8).unwrap();
    eprintln!("defaults vs defaults (fresh server): {same:?}");
    eprintln!("-fa on -ctk q4_0 -ctv q4_0: {lossy:?}");
    eprintln!("-fa on -ctk q8_0 -ctv q4_0: {milder:?}");
    assert_eq!(same.top1_agreement, 1.0);
    assert!(same.mean_kl_nats < 1e-4, "{same:?}");
    assert!(lossy.top1_agreement < 1.0, "{lossy:?}");
    assert!(lossy.mean_kl_nats > 0.0, "{lossy:?}");
    assert!(
        lossy.mean_kl_nats > same.mean_kl_nats,
        "{lossy:?} vs {same:?}"
    );
}

#[tokio::test]
async fn chat_completions_use_gemma_turns() {
    let bin = need_server!();
    let model = need_gemma!();
    let _l = server_lock();
    let server = start(&bin, &model, &[]).await;
    let http = reqwest::Client::new();
    let post = |path: &'static str, body: J| {
        let req = http.post(format!("{}{path}", server.root_url)).json(&body);
        async move {
            let r = req.send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.json::<J>().await.unwrap()
        }
    };
    let messages = json!([{"role": "user", "content": "Name three colours."}]);
    let rendered = post("/apply-template", json!({ "messages": messages })).await;
    let prompt = rendered["prompt"].as_str().unwrap().to_string();
    assert!(
        prompt.contains("<start_of_turn>user\nName three colours.<end_of_turn>\n"),
        "{prompt:?}"
    );
    assert!(prompt.ends_with("<start_of_turn>model\n"), "{prompt:?}");
    assert!(!prompt.contains("<|im_start|>"), "{prompt:?}");
    // Gemma's vocabulary treats the turn markers as single special tokens.
    let toks = post(
        "/tokenize",
        json!({"content": prompt, "parse_special": true, "with_pieces": true}),
    )
    .await;
    let pieces: Vec<&str> = toks["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["piece"].as_str())
        .collect();
    assert_eq!(
        pieces.iter().filter(|p| **p == "<start_of_turn>").count(),
        2
    );
    assert_eq!(pieces.iter().filter(|p| **p == "<end_of_turn>").count(), 1);
    // A streamed chat completion through rooftune's client.
    let c = client(&server);
    let req = GenRequest {
        prompt: Prompt::Text("Name three colours.".into()),
        n_predict: 16,
        cache_prompt: false,
        extensions: false,
        model: None,
    };
    let rec = c
        .generate(Dialect::OpenAiChat, &req, Instant::now())
        .await
        .unwrap();
    server.stop().await;
    assert!(rec.generated_tokens() > 0);
    assert!(rec.content_events > 0);
    // The server counted the rendered turns (plus BOS), not ChatML.
    assert_eq!(rec.usage.prompt_tokens, Some(pieces.len() as u64 + 1));
}

/// Replay on the real Gemma 3 270M (sliding window 512 on most layers): what
/// a sliding-window model reuses, and how the report explains it. Served
/// with a Gemma-format Jinja template that renders tools (llama-server takes
/// `tools` only with --jinja, so `--no-jinja --chat-template gemma` cannot
/// serve a session with tools). Turns that only append reuse their prefix;
/// the compaction edit at an early message is explained either as the
/// client's change (the server kept what the two requests share) or, when
/// the window dropped it, as sliding-window memory with no usable checkpoint
/// (the log's "forcing full prompt re-processing"): never as unknown.
#[test]
fn sliding_window_reuse_is_explained() {
    let bin = need_server!();
    let model = need_gemma!();
    let _g = server_lock();
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("s.jsonl");
    rooftune()
        .args([
            "session",
            "synth",
            "--turns",
            "4",
            "--max-depth",
            "2000",
            "--prefix",
            "600",
            "--output-tokens",
            "4",
            "--break",
            "compaction",
            "--seed",
            "1",
            "-o",
        ])
        .arg(&s)
        .assert()
        .success();
    let template =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/templates/gemma-tools.jinja");
    let out = rooftune()
        .timeout(Duration::from_secs(600))
        .arg("replay")
        .arg(&s)
        .arg("--server-bin")
        .arg(&bin)
        .arg("--model")
        .arg(&model)
        .args([
            "--json",
            "--no-predict",
            "--",
            "-t",
            "2",
            "-c",
            "8192",
            "-np",
            "1",
            "--jinja",
            "--chat-template-file",
        ])
        .arg(&template)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: J = serde_json::from_slice(&out.stdout).unwrap();
    let reqs = v["runs"][0]["requests"].as_array().unwrap();
    let n = |x: &J| x.as_u64().unwrap_or_else(|| panic!("not a count: {x}"));
    for q in &reqs[1..] {
        let e = &q["explanation"];
        let shared = n(&e["shared_prefix_tokens"]);
        let reused = n(&q["reused_tokens"]);
        if q["injected"].as_array().is_some_and(|i| !i.is_empty()) {
            assert_eq!(e["client_change"]["field"], "message_content", "{e}");
            assert_eq!(e["client_change"]["message"], 3, "{e}");
            let kept = e["verdict"] == "client_changed" && reused as f64 >= 0.95 * shared as f64;
            let dropped =
                e["verdict"] == "server_dropped" && e["server_cause"] == "swa_or_recurrent";
            assert!(kept || dropped, "compaction on a sliding-window model: {q}");
        } else {
            assert_eq!(e["verdict"], "reused", "an appended turn: {q}");
            assert!(reused as f64 >= 0.95 * shared as f64, "{q}");
        }
    }
}
