//! The search space of one backend (llama-server), as data.
//!
//! Every tunable flag is a [`FlagDef`] row: its spellings, the values it
//! takes, llama-server's default, whether a value changes the numbers the
//! model produces (lossy), and what we know about the builds that introduced
//! or renamed it. Interactions between flags are [`Rule`] rows checked by one
//! function, not `if`s spread through the tuner. A second backend
//! (`mlx_lm.server`, with `--prefill-step-size`, `--kv-bits`, ...) would be a
//! second table with the same shape.

use serde::Serialize;

/// What values a flag takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// A switch: `true` passes the flag, `false` leaves it out.
    Switch,
    /// Anything: passed through as typed (for `[space.raw]`).
    Text,
}

/// Which values of a flag change the model's output (not only its speed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lossy {
    /// No value changes the numbers.
    Never,
    /// Every value except these changes the numbers.
    Except(&'static [&'static str]),
}

/// One tunable flag of llama-server.
#[derive(Debug, Clone, Copy)]
pub struct FlagDef {
    /// The spelling rooftune passes and logs (`-ub`).
    pub name: &'static str,
    /// Other spellings a spec may use (`--ubatch-size`).
    pub aliases: &'static [&'static str],
    /// Valid values.
    pub kind: Kind,
    /// llama-server's default, as its `--help` states it.
    pub server_default: &'static str,
    /// Values that change the numbers.
    pub lossy: Lossy,
    /// Build history and effect notes.
    pub note: &'static str,
    /// Set when the flag no longer exists: what to use instead.
    pub removed: Option<&'static str>,
}

const KV_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

const SPEC_TYPES: &[&str] = &[
    "none",
    "draft-simple",
    "draft-eagle3",
    "draft-mtp",
    "draft-dflash",
    "draft-dspark",
    "ngram-simple",
    "ngram-map-k",
    "ngram-map-k4v",
    "ngram-mod",
    "ngram-cache",
];

/// llama-server's tunable start-up flags (build b11434; see
/// `docs/llama-cpp-facts.md` section 10).
pub const LLAMA_SERVER: &[FlagDef] = &[
    FlagDef {
        name: "-t",
        aliases: &["--threads"],
        kind: Kind::Int { min: -1, max: 1024 },
        server_default: "-1",
        lossy: Lossy::Never,
        note: "generation threads; beyond the physical cores it hurts",
        removed: None,
    },
    FlagDef {
        name: "-tb",
        aliases: &["--threads-batch"],
        kind: Kind::Int { min: -1, max: 1024 },
        server_default: "same as -t",
        lossy: Lossy::Never,
        note: "threads for prompt processing",
        removed: None,
    },
    FlagDef {
        name: "-b",
        aliases: &["--batch-size"],
        kind: Kind::Int {
            min: 1,
            max: 1 << 20,
        },
        server_default: "2048",
        lossy: Lossy::Never,
        note: "logical batch; must be >= -ub",
        removed: None,
    },
    FlagDef {
        name: "-ub",
        aliases: &["--ubatch-size"],
        kind: Kind::Int {
            min: 1,
            max: 1 << 20,
        },
        server_default: "512",
        lossy: Lossy::Never,
        note: "physical micro-batch; the seed's biggest prefill lever (512 -> 2048)",
        removed: None,
    },
    FlagDef {
        name: "-np",
        aliases: &["--parallel"],
        kind: Kind::Int { min: -1, max: 256 },
        server_default: "-1 (auto: 4 slots, unified KV)",
        lossy: Lossy::Never,
        note: "an explicit -np turns the unified KV cache off: each slot gets -c / -np",
        removed: None,
    },
    FlagDef {
        name: "-c",
        aliases: &["--ctx-size"],
        kind: Kind::Int {
            min: 0,
            max: 1 << 24,
        },
        server_default: "0 (from the model)",
        lossy: Lossy::Never,
        note:
            "padded up to 256; past the training window the slot is capped (lossy if it were not)",
        removed: None,
    },
    FlagDef {
        name: "-fa",
        aliases: &["--flash-attn"],
        kind: Kind::Choice(&["on", "off", "auto"]),
        server_default: "auto",
        lossy: Lossy::Never,
        note: "a switch until mid-2025 builds, then on|off|auto",
        removed: None,
    },
    FlagDef {
        name: "-ctk",
        aliases: &["--cache-type-k"],
        kind: Kind::Choice(KV_TYPES),
        server_default: "f16",
        lossy: Lossy::Except(&["f16", "f32"]),
        note: "quantized K cache",
        removed: None,
    },
    FlagDef {
        name: "-ctv",
        aliases: &["--cache-type-v"],
        kind: Kind::Choice(KV_TYPES),
        server_default: "f16",
        lossy: Lossy::Except(&["f16", "f32"]),
        note: "quantized V cache needs flash attention",
        removed: None,
    },
    FlagDef {
        name: "-kvu",
        aliases: &["--kv-unified"],
        kind: Kind::Switch,
        server_default: "on when -np is auto",
        lossy: Lossy::Never,
        note: "every slot may use all of -c",
        removed: None,
    },
    FlagDef {
        name: "-ngl",
        aliases: &["--n-gpu-layers", "--gpu-layers"],
        kind: Kind::Int {
            min: 0,
            max: 10_000,
        },
        server_default: "auto",
        lossy: Lossy::Never,
        note: "matters on GPUs and unified memory only; `auto`/`all` since 2025 builds",
        removed: None,
    },
    FlagDef {
        name: "-lm",
        aliases: &["--load-mode"],
        kind: Kind::Choice(&["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"]),
        server_default: "auto",
        lossy: Lossy::Never,
        note: "replaced --mlock / --no-mmap (b11434 has only -lm)",
        removed: None,
    },
    FlagDef {
        name: "--mlock",
        aliases: &[],
        kind: Kind::Switch,
        server_default: "off",
        lossy: Lossy::Never,
        note: "pin the model in RAM",
        removed: Some("-lm mlock"),
    },
    FlagDef {
        name: "--no-mmap",
        aliases: &[],
        kind: Kind::Switch,
        server_default: "off",
        lossy: Lossy::Never,
        note: "read the model instead of mapping it",
        removed: Some("-lm none"),
    },
    FlagDef {
        name: "--spec-type",
        aliases: &[],
        kind: Kind::Choice(SPEC_TYPES),
        server_default: "none",
        lossy: Lossy::Except(&["none"]),
        note: "speculative decoding; replaced --draft/--draft-max/--draft-min (removed by b11434)",
        removed: None,
    },
    FlagDef {
        name: "--spec-draft-n-max",
        aliases: &[],
        kind: Kind::Int { min: 0, max: 256 },
        server_default: "3",
        lossy: Lossy::Never,
        note: "draft length (only with --spec-type)",
        removed: None,
    },
];

/// A flag of the table by any of its spellings.
pub fn flag(spelling: &str) -> Option<&'static FlagDef> {
    LLAMA_SERVER
        .iter()
        .find(|f| f.name == spelling || f.aliases.contains(&spelling))
}

/// Every spelling in the table (for "did you mean").
pub fn spellings() -> impl Iterator<Item = &'static str> {
    LLAMA_SERVER
        .iter()
        .flat_map(|f| std::iter::once(f.name).chain(f.aliases.iter().copied()))
}

/// The value that leaves a flag out of the command line (server default).
pub const DEFAULT: &str = "default";

/// One configuration: a value per flag, in the space's order. A value of
/// [`DEFAULT`] (or a `false` switch) leaves the flag out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
pub struct Config(pub Vec<(String, String)>);

impl Config {
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
            let switch = flag(k).is_some_and(|f| f.kind == Kind::Switch);
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

    /// Flags whose value changes the model's numbers.
    pub fn lossy_flags(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| v != DEFAULT && is_lossy(k, v))
            .map(|(k, v)| format!("{k} {v}"))
            .collect()
    }
}

/// Whether `value` of flag `name` changes the numbers.
pub fn is_lossy(name: &str, value: &str) -> bool {
    match flag(name).map(|f| f.lossy) {
        Some(Lossy::Except(ok)) => !ok.contains(&value),
        _ => false,
    }
}

/// Check one value against a flag's kind. `Err` says what is allowed.
pub fn check_value(def: &FlagDef, value: &str) -> Result<(), String> {
    if value == DEFAULT {
        return Ok(());
    }
    match def.kind {
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(v) if (min..=max).contains(&v) => Ok(()),
            _ => Err(format!("an integer from {min} to {max}")),
        },
        Kind::Choice(words) if words.contains(&value) => Ok(()),
        Kind::Choice(words) => Err(format!("one of {}", words.join(", "))),
        Kind::Switch if value == "true" || value == "false" => Ok(()),
        Kind::Switch => Err("true or false".into()),
        Kind::Text => Ok(()),
    }
}

/// An interaction between flags, as data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// `small <= large`, with server defaults for unset flags.
    AtMost {
        /// The flag that must not exceed the other.
        small: &'static str,
        /// Its bound.
        large: &'static str,
        /// Server default of `small`.
        small_default: i64,
        /// Server default of `large`.
        large_default: i64,
    },
    /// When `flag` takes a value outside `plain`, `needs` must not be `forbidden`.
    Needs {
        /// The flag.
        flag: &'static str,
        /// Values that need nothing.
        plain: &'static [&'static str],
        /// The other flag.
        needs: &'static str,
        /// The value of the other flag that is not allowed.
        forbidden: &'static str,
        /// Why.
        why: &'static str,
    },
    /// A thread count above the machine's physical cores.
    ThreadsAtMostCores(&'static str),
}

/// llama-server's interactions (b11434).
pub const RULES: &[Rule] = &[
    Rule::AtMost {
        small: "-ub",
        large: "-b",
        small_default: 512,
        large_default: 2048,
    },
    Rule::Needs {
        flag: "-ctv",
        plain: &["f16", "f32", "bf16"],
        needs: "-fa",
        forbidden: "off",
        why: "a quantized V cache needs flash attention (llama-context.cpp:3843)",
    },
    Rule::ThreadsAtMostCores("-t"),
    Rule::ThreadsAtMostCores("-tb"),
];

/// Facts about the machine the rules need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MachineFacts {
    /// Physical CPU cores.
    pub physical_cores: u32,
}

/// Why a configuration is invalid, or None if every rule holds.
pub fn violation(config: &Config, machine: MachineFacts) -> Option<String> {
    RULES.iter().find_map(|r| check_rule(r, config, machine))
}

fn check_rule(rule: &Rule, c: &Config, m: MachineFacts) -> Option<String> {
    match *rule {
        Rule::AtMost {
            small,
            large,
            small_default,
            large_default,
        } => {
            if c.get(small).is_none() && c.get(large).is_none() {
                return None;
            }
            let s = c.int(small).unwrap_or(small_default);
            let l = c.int(large).unwrap_or(large_default);
            (s > l).then(|| format!("invalid: {small} {s} is larger than {large} {l}"))
        }
        Rule::Needs {
            flag,
            plain,
            needs,
            forbidden,
            why,
        } => {
            let v = c.get(flag)?;
            (!plain.contains(&v) && c.get(needs) == Some(forbidden))
                .then(|| format!("invalid: {flag} {v} with {needs} {forbidden}: {why}"))
        }
        Rule::ThreadsAtMostCores(f) => {
            let t = c.int(f)?;
            (t > m.physical_cores as i64 && m.physical_cores > 0).then(|| {
                format!(
                    "skipped: {f} {t} is more than the {} physical cores (oversubscription only hurts)",
                    m.physical_cores
                )
            })
        }
    }
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

/// Flags listed by a `llama-server --help` text.
pub fn flags_in_help(help: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        for part in t.split(',') {
            let word = part.split_whitespace().next().unwrap_or("");
            if word.starts_with('-') && word.len() > 1 {
                out.push(word.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Flags of a space that the binary's `--help` does not know, with a hint.
pub fn unknown_to_binary(flags: &[String], help: &str) -> Vec<(String, String)> {
    let known = flags_in_help(help);
    flags
        .iter()
        .filter(|f| !known.iter().any(|k| k == *f))
        .map(|f| {
            let hint = match flag(f).and_then(|d| d.removed) {
                Some(instead) => {
                    format!("removed from recent llama-server builds: use `{instead}`")
                }
                None => "check the flag against `llama-server --help` of this build".into(),
            };
            (f.clone(), hint)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    const TWO: MachineFacts = MachineFacts { physical_cores: 2 };

    #[test]
    fn ubatch_above_batch_is_invalid() {
        let c = cfg(&[("-ub", "1024"), ("-b", "512")]);
        assert!(violation(&c, TWO)
            .unwrap()
            .contains("-ub 1024 is larger than -b 512"));
        assert!(violation(&cfg(&[("-ub", "4096")]), TWO).is_some());
        assert!(violation(&cfg(&[("-ub", "512"), ("-b", "512")]), TWO).is_none());
        assert!(violation(&cfg(&[("-b", "256")]), TWO).is_some());
    }

    #[test]
    fn quantized_v_needs_flash_attention() {
        assert!(violation(&cfg(&[("-ctv", "q8_0"), ("-fa", "off")]), TWO).is_some());
        assert!(violation(&cfg(&[("-ctv", "q8_0"), ("-fa", "auto")]), TWO).is_none());
        assert!(violation(&cfg(&[("-ctk", "q8_0"), ("-fa", "off")]), TWO).is_none());
    }

    #[test]
    fn threads_beyond_cores() {
        assert!(violation(&cfg(&[("-t", "4")]), TWO).is_some());
        assert!(violation(&cfg(&[("-t", "2")]), TWO).is_none());
    }

    #[test]
    fn args_leave_defaults_and_false_switches_out() {
        let c = cfg(&[
            ("-t", "2"),
            ("-np", DEFAULT),
            ("-kvu", "false"),
            ("-fa", "on"),
        ]);
        assert_eq!(c.args(), vec!["-t", "2", "-fa", "on"]);
        let c = cfg(&[("-kvu", "true")]);
        assert_eq!(c.args(), vec!["-kvu"]);
        assert_eq!(Config::default().label(), "(defaults)");
    }

    #[test]
    fn lossy_tags() {
        let c = cfg(&[("-ctk", "q8_0"), ("-ctv", "f16"), ("--spec-type", "none")]);
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
        let c = cfg(&[("-c", "4096"), ("-np", "4")]);
        assert_eq!(ctx_per_slot(&c, 8192), 1024);
        let c = cfg(&[("-c", "4096"), ("-np", "4"), ("-kvu", "true")]);
        assert_eq!(ctx_per_slot(&c, 8192), 4096);
        assert_eq!(ctx_per_slot(&cfg(&[("-c", "16384")]), 8192), 8192);
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
