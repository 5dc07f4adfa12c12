//! Keeping API keys out of everything rooftune prints or logs.
//!
//! A server may echo the request back in an error body (`answered HTTP 401:
//! ... authorization: Bearer sk-...`), and that text ends up in error
//! messages. Every text that came from a server goes through [`redact`]
//! before it leaves the client: the key itself wherever it appears, and the
//! value of any `Bearer` token or `Authorization` header whatever it is.

/// What a secret is replaced with.
pub const MASK: &str = "[REDACTED]";

/// `text` with `key` (if any), `Bearer` tokens and `Authorization` header
/// values masked.
pub fn redact(text: &str, key: Option<&str>) -> String {
    let mut out = match key.filter(|k| k.len() >= 4) {
        Some(k) => text.replace(k, MASK),
        None => text.to_string(),
    };
    out = mask_after(&out, "bearer ", true);
    // A header's whole value (`Basic dXNl...`, `Bearer ...`), up to its end.
    for marker in [
        "authorization: ",
        "authorization\":\"",
        "authorization=",
        "x-api-key: ",
        "api-key: ",
    ] {
        out = mask_after(&out, marker, false);
    }
    out
}

/// Mask what follows each case-insensitive `marker`: one word, or with
/// `word == false` the whole value (up to a quote, a comma, a semicolon, a
/// brace, a backslash or the end of the line).
fn mask_after(text: &str, marker: &str, word: bool) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(i) = lower[at..].find(marker) {
        let start = at + i + marker.len();
        out.push_str(&text[at..start]);
        let rest = &text[start..];
        let len = rest
            .find(|c: char| {
                (word && c.is_whitespace())
                    || matches!(c, '"' | '\'' | ',' | ';' | '}' | '\\' | '\n' | '\r')
            })
            .unwrap_or(rest.len());
        let token = &rest[..len];
        if token.is_empty() || token == MASK {
            out.push_str(token);
        } else {
            out.push_str(MASK);
        }
        at = start + len;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_headers_are_masked_whatever_the_server_sends() {
        let body = r#"{"error":"denied","headers":{"Authorization":"Bearer sk-abc123"},"echo":"authorization: Basic dXNlcjpwdw=="}"#;
        let r = redact(body, Some("sk-abc123"));
        assert!(!r.contains("sk-abc123"), "{r}");
        assert!(!r.contains("dXNlcjpwdw"), "{r}");
        // Another key the server echoes (not ours) is masked by its header.
        let r = redact("AUTHORIZATION: Bearer other-key-9", None);
        assert_eq!(r, "AUTHORIZATION: [REDACTED]");
        assert_eq!(
            redact("plain text, no secrets", Some("sk-x1")),
            "plain text, no secrets"
        );
        assert_eq!(
            redact("key sk-x1 in text", Some("sk-x1")),
            "key [REDACTED] in text"
        );
    }
}
