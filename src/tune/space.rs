//! A configuration of a backend's start-up flags, and what the tuner asks of
//! the backend's flag table.
//!
//! The flags themselves (spellings, values, defaults, lossy values, rules)
//! are data owned by each backend (`crate::server::flags`, `backends/*.toml`);
//! this module holds the tuner's side: a [`Config`] (a value per flag, in the
//! space's order) and the checks the tuner runs on it against a table.

use crate::server::flags::FlagValues;
pub use crate::server::flags::{
    check_value as check_value_in, FlagDef, FlagTable, Kind, Lossy, Rule,
};
use serde::Serialize;

/// The value that leaves a flag out of the command line (server default).
pub const DEFAULT: &str = "default";

/// One configuration: a value per flag, in the space's order. A value of
/// [`DEFAULT`] (or a `false` switch) leaves the flag out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
pub struct Config(pub Vec<(String, String)>);

impl Config {
    /// A configuration from `(flag, value)` pairs, in their order.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Config {
        Config(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The value set for a flag, if any (not [`DEFAULT`]).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && v != DEFAULT)
            .map(|(_, v)| v.as_str())
    }

    /// An integer flag's value, if set and numeric.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(|v| v.parse().ok())
    }

    /// The flags as command-line arguments.
    pub fn args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            let switch = crate::server::is_switch_anywhere(k);
            match (switch, v.as_str()) {
                (_, DEFAULT) => {}
                (true, "true") => out.push(k.clone()),
                (true, _) => {}
                (false, _) => {
                    out.push(k.clone());
                    out.push(v.clone());
                }
            }
        }
        out
    }

    /// A short label: `-t 2 -ub 256` or `(defaults)`.
    pub fn label(&self) -> String {
        let a = self.args();
        if a.is_empty() {
            "(defaults)".into()
        } else {
            shell_words::join(a)
        }
    }

    /// The flags that need a server start: every set flag except those the
    /// backend's table says the server also takes per request. Two
    /// configurations with equal server parts can share one start.
    pub fn server_part(&self, table: &FlagTable) -> Config {
        Config(
            self.0
                .iter()
                .filter(|(k, v)| v == DEFAULT || !is_per_request(table, k))
                .cloned()
                .collect(),
        )
    }

    /// The per-request fields of the set flags the server also takes per
    /// request (`n_cache_reuse: 256` for `--cache-reuse 256`); a number is
    /// sent as a number.
    pub fn per_request_fields(
        &self,
        table: &FlagTable,
    ) -> serde_json::Map<String, serde_json::Value> {
        self.0
            .iter()
            .filter(|(_, v)| v != DEFAULT)
            .filter_map(|(k, v)| {
                let field = table.flag(k)?.per_request.clone()?;
                let value = v
                    .parse::<i64>()
                    .map(serde_json::Value::from)
                    .or_else(|_| v.parse::<f64>().map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::from(v.as_str()));
                Some((field, value))
            })
            .collect()
    }

    /// Flags whose value changes the model's numbers.
    pub fn lossy_flags(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| v != DEFAULT && crate::server::is_lossy_anywhere(k, v))
            .map(|(k, v)| format!("{k} {v}"))
            .collect()
    }
}

fn is_per_request(table: &FlagTable, flag: &str) -> bool {
    table.flag(flag).is_some_and(|d| d.per_request.is_some())
}

/// Check one value against a flag's kind (`default` always passes).
pub fn check_value(def: &FlagDef, value: &str) -> Result<(), String> {
    check_value_in(def, value, DEFAULT)
}

impl FlagValues for Config {
    fn value(&self, flag: &str) -> Option<&str> {
        self.get(flag)
    }
}

/// Facts about the machine the rules need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineFacts {
    /// Physical CPU cores.
    pub physical_cores: u32,
}

/// Why a configuration is invalid under `table`'s rules, or None if every rule holds.
pub fn violation(table: &FlagTable, config: &Config, machine: MachineFacts) -> Option<String> {
    table.violation(config, machine.physical_cores)
}

/// Context a slot can use under a configuration, in tokens, when it can be
/// told without starting the server: an explicit `-np` without `-kvu` splits
/// `-c` between the slots; the automatic `-np` (4 slots) shares it whole.
/// The server's `n_ctx_slot` startup line is the truth and is logged.
pub fn ctx_per_slot(config: &Config, ctx_train: u64) -> u64 {
    let ctx = match config.int("-c") {
        Some(c) if c > 0 => crate::roofline::kv::padded_cells(c as u64),
        _ => ctx_train,
    };
    let np = config.int("-np").filter(|&n| n > 0);
    let unified = config.get("-kvu") == Some("true");
    let per_slot = match np {
        Some(n) if !unified => crate::roofline::kv::padded_cells(ctx / n as u64),
        _ => ctx,
    };
    per_slot.min(ctx_train.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::Backend;

    const TWO: MachineFacts = MachineFacts { physical_cores: 2 };

    fn table() -> &'static FlagTable {
        crate::server::llama::LlamaServer.flags()
    }
    fn violation(c: &Config, m: MachineFacts) -> Option<String> {
        super::violation(table(), c, m)
    }
    fn flag(s: &str) -> Option<&'static FlagDef> {
        table().flag(s)
    }
    fn is_lossy(k: &str, v: &str) -> bool {
        table().is_lossy(k, v)
    }
    fn flags_in_help(help: &str) -> Vec<String> {
        crate::server::flags::parse_help_flags(help)
    }
    fn unknown_to_binary(flags: &[String], help: &str) -> Vec<(String, String)> {
        table().unknown_to_binary(flags, help, "llama-server")
    }

    #[test]
    fn ubatch_above_batch_is_invalid() {
        let c = Config::from_pairs(&[("-ub", "1024"), ("-b", "512")]);
        assert!(violation(&c, TWO)
            .unwrap()
            .contains("-ub 1024 is larger than -b 512"));
        assert!(violation(&Config::from_pairs(&[("-ub", "4096")]), TWO).is_some());
        assert!(violation(&Config::from_pairs(&[("-ub", "512"), ("-b", "512")]), TWO).is_none());
        assert!(violation(&Config::from_pairs(&[("-b", "256")]), TWO).is_some());
    }

    #[test]
    fn quantized_v_needs_flash_attention() {
        assert!(violation(
            &Config::from_pairs(&[("-ctv", "q8_0"), ("-fa", "off")]),
            TWO
        )
        .is_some());
        assert!(violation(
            &Config::from_pairs(&[("-ctv", "q8_0"), ("-fa", "auto")]),
            TWO
        )
        .is_none());
        assert!(violation(
            &Config::from_pairs(&[("-ctk", "q8_0"), ("-fa", "off")]),
            TWO
        )
        .is_none());
    }

    #[test]
    fn threads_beyond_cores() {
        assert!(violation(&Config::from_pairs(&[("-t", "4")]), TWO).is_some());
        assert!(violation(&Config::from_pairs(&[("-t", "2")]), TWO).is_none());
    }

    #[test]
    fn args_leave_defaults_and_false_switches_out() {
        let c = Config::from_pairs(&[
            ("-t", "2"),
            ("-np", DEFAULT),
            ("-kvu", "false"),
            ("-fa", "on"),
        ]);
        assert_eq!(c.args(), vec!["-t", "2", "-fa", "on"]);
        let c = Config::from_pairs(&[("-kvu", "true")]);
        assert_eq!(c.args(), vec!["-kvu"]);
        assert_eq!(Config::default().label(), "(defaults)");
    }

    #[test]
    fn lossy_tags() {
        let c = Config::from_pairs(&[("-ctk", "q8_0"), ("-ctv", "f16"), ("--spec-type", "none")]);
        assert_eq!(c.lossy_flags(), vec!["-ctk q8_0"]);
        assert!(is_lossy("--spec-type", "ngram-simple"));
        assert!(!is_lossy("-ub", "2048"));
    }

    #[test]
    fn values_checked_against_kind() {
        let fa = flag("--flash-attn").unwrap();
        assert!(check_value(fa, "on").is_ok());
        assert!(check_value(fa, "yes")
            .unwrap_err()
            .contains("on, off, auto"));
        assert!(check_value(flag("-ub").unwrap(), "0").is_err());
        assert!(check_value(flag("-kvu").unwrap(), "true").is_ok());
    }

    #[test]
    fn slot_context() {
        let c = Config::from_pairs(&[("-c", "4096"), ("-np", "4")]);
        assert_eq!(ctx_per_slot(&c, 8192), 1024);
        let c = Config::from_pairs(&[("-c", "4096"), ("-np", "4"), ("-kvu", "true")]);
        assert_eq!(ctx_per_slot(&c, 8192), 4096);
        assert_eq!(
            ctx_per_slot(&Config::from_pairs(&[("-c", "16384")]), 8192),
            8192
        );
        assert_eq!(ctx_per_slot(&Config::default(), 4096), 4096);
    }

    #[test]
    fn help_check_rejects_removed_flags() {
        let help = "----- common params -----\n\n-t,    --threads N   number of threads\n-lm, --load-mode MODE  how to load\n-fa, --flash-attn [on|off|auto]  flash\n";
        let known = flags_in_help(help);
        assert!(known.contains(&"--threads".to_string()));
        assert!(known.contains(&"-lm".to_string()));
        let bad = unknown_to_binary(&["-t".into(), "--mlock".into()], help);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].1.contains("-lm mlock"));
    }
}
