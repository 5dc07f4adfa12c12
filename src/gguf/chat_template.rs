//! The chat template a model file carries, or the warning when it carries
//! none.
//!
//! Without `tokenizer.chat_template` llama-server renders chat requests in
//! ChatML (`<|im_start|>user ...`). A model trained on another turn format
//! (Gemma's `<start_of_turn>`) then sees its markers as plain text, answers
//! worse, and a prompt cache breaks where the real format would not. The
//! fix is a server flag, so the warning names it. Models rooftune generated
//! (`rooftune synth`) produce noise in any format and are not warned about.

use super::GgufModel;

/// The metadata key of a model's chat template (Jinja text).
pub const KEY: &str = "tokenizer.chat_template";

/// Server flags that supply a template, so a missing one does not matter.
const TEMPLATE_FLAGS: &[&str] = &["--chat-template", "--chat-template-file"];

/// A one-line warning when `m` carries no chat template and `server_args`
/// do not supply one; `None` when there is nothing to warn about.
pub fn missing_warning(m: &GgufModel, server_args: &[String]) -> Option<String> {
    if m.get(KEY).is_some()
        || server_args.iter().any(|a| {
            TEMPLATE_FLAGS
                .iter()
                .any(|f| a == f || a.starts_with(&format!("{f}=")))
        })
    {
        return None;
    }
    let name = m.get("general.name").and_then(|v| v.as_str()).unwrap_or("");
    if name.starts_with("rooftune synthetic") {
        return None;
    }
    let arch = m
        .get("general.architecture")
        .and_then(|v| v.as_str())
        .unwrap_or("");
    Some(format!(
        "`{}` carries no {KEY}: llama-server will render chats as ChatML, which this model may not know (hint: {})",
        m.path.display(),
        hint_for(arch)
    ))
}

/// The flags to suggest for an architecture (llama.cpp's built-in names).
fn hint_for(arch: &str) -> &'static str {
    if arch.starts_with("gemma") {
        "serve it with `--no-jinja --chat-template gemma`"
    } else if arch.starts_with("llama") {
        "serve it with `--no-jinja --chat-template llama3` (or llama2), or `--chat-template-file FILE`"
    } else if arch.starts_with("phi3") {
        "serve it with `--no-jinja --chat-template phi3`, or `--chat-template-file FILE`"
    } else {
        "pass the model's template with `--chat-template-file FILE`, or a built-in with `--no-jinja --chat-template NAME` (see llama-server --help)"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::writer::GgufWriter;
    use crate::gguf::{GgufFile, Value};
    use std::path::{Path, PathBuf};

    fn model(keys: &[(&str, &str)]) -> GgufModel {
        let mut w = GgufWriter::default();
        for (k, v) in keys {
            w.set(*k, Value::String((*v).into()));
        }
        let (bytes, _) = w.header();
        GgufModel {
            path: PathBuf::from("m.gguf"),
            shards: vec![GgufFile::from_bytes(&bytes, Path::new("m.gguf")).unwrap()],
        }
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_model_without_a_template_is_warned_about() {
        let m = model(&[
            ("general.architecture", "gemma3"),
            ("general.name", "Gemma 3"),
        ]);
        let w = missing_warning(&m, &[]).unwrap();
        assert!(w.contains("tokenizer.chat_template"), "{w}");
        assert!(w.contains("--no-jinja --chat-template gemma"), "{w}");
        assert!(!w.contains('\n'));
    }

    #[test]
    fn no_warning_with_a_template_a_template_flag_or_a_generated_model() {
        let with = model(&[("general.architecture", "gemma3"), (KEY, "{{ messages }}")]);
        assert_eq!(missing_warning(&with, &[]), None);
        let without = model(&[("general.architecture", "gemma3")]);
        for a in [
            args(&["--no-jinja", "--chat-template", "gemma"]),
            args(&["--chat-template-file=t.jinja"]),
        ] {
            assert_eq!(missing_warning(&without, &a), None, "{a:?}");
        }
        let synth = model(&[("general.name", "rooftune synthetic llama 2L h256 seed 1")]);
        assert_eq!(missing_warning(&synth, &[]), None);
    }

    #[test]
    fn hints_name_the_builtin_template() {
        assert!(hint_for("gemma3").contains("--chat-template gemma"));
        assert!(hint_for("qwen2").contains("--chat-template-file"));
    }
}
