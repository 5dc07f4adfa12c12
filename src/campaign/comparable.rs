//! What makes two sessions' trials comparable.
//!
//! A resume ranks the old trials with the new ones, so everything that
//! decides what a number means must be the same: the search space (every
//! flag and value, not just its size), the objective with its parameters
//! (depths, token counts, weights), the model file, and the server (backend
//! and build). Each session line records these; a resume compares them with
//! the log's first session and lists every difference.

use serde::{Deserialize, Serialize};

/// The facts a session's trials depend on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Comparable {
    /// The search space, one `flag=[v1, v2]` per dimension in order.
    pub space: Vec<String>,
    /// The objective and its parameters (probes with depths and token counts, weights), as JSON.
    pub objective: String,
    /// Model file size, bytes.
    pub model_size_bytes: u64,
    /// SHA-256 of the model file (empty if not hashed).
    pub model_sha256: String,
    /// Server backend (`llama-server`).
    pub backend: String,
    /// Server build as it reports itself (`--version`).
    pub build: String,
}

impl Comparable {
    /// Every difference between `old` (the log) and `self` (this run), one
    /// indented line each; empty when comparable.
    pub fn differences(&self, old: &Comparable) -> Vec<String> {
        let mut out = Vec::new();
        let mut diff = |what: &str, was: String, now: String| {
            if was != now {
                out.push(format!("  {what}: was {was}, now {now}"));
            }
        };
        diff("search space", old.space.join(" "), self.space.join(" "));
        diff("objective", old.objective.clone(), self.objective.clone());
        diff(
            "model size (bytes)",
            old.model_size_bytes.to_string(),
            self.model_size_bytes.to_string(),
        );
        // A model that was not hashed on one side cannot be compared by hash.
        if !old.model_sha256.is_empty() && !self.model_sha256.is_empty() {
            diff(
                "model sha256",
                old.model_sha256.clone(),
                self.model_sha256.clone(),
            );
        }
        diff("server backend", old.backend.clone(), self.backend.clone());
        diff("server build", old.build.clone(), self.build.clone());
        out
    }
}

/// `-t=[1, 2]`, the form a space dimension is recorded in.
pub fn dimension(flag: &str, values: &[String]) -> String {
    format!("{flag}=[{}]", values.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Comparable {
        Comparable {
            space: vec![dimension("-t", &["1".into(), "2".into()])],
            objective: "{\"probe\":\"decode\",\"depth\":0,\"tokens\":64}".into(),
            model_size_bytes: 10,
            model_sha256: "aa".into(),
            backend: "llama-server".into(),
            build: "b1".into(),
        }
    }

    #[test]
    fn same_size_different_space_is_a_difference() {
        let mut now = base();
        now.space = vec![dimension("-b", &["64".into(), "2048".into()])];
        now.objective = now.objective.replace("64", "128");
        let d = now.differences(&base());
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d[0].contains("-t=[1, 2]") && d[0].contains("-b=[64, 2048]"));
        assert!(d[1].contains("objective"));
        assert!(base().differences(&base()).is_empty());
    }
}
