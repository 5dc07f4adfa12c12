//! A backend's tunable flags and their rules, as data.
//!
//! Each backend ships a TOML table (`backends/NAME.toml`, compiled in): every
//! flag's spellings, the values it takes, the server's default, which values
//! keep the model's numbers (lossless) and what replaced a removed flag; and
//! the interactions between flags as [`Rule`] rows checked by one function,
//! not `if`s spread through the tuner. The one `--help` parser lives here too,
//! so a flag is checked against the binary in use the same way everywhere.

use serde::Deserialize;

/// What values a flag takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// An integer in `min..=max`.
    Int {
        /// Smallest valid value.
        min: i64,
        /// Largest valid value.
        max: i64,
    },
    /// One of a fixed list of words.
    Choice(Vec<String>),
    /// A switch: `true` passes the flag, `false` leaves it out.
    Switch,
    /// Anything: passed through as typed (for `[space.raw]`).
    Text,
}

/// Which values of a flag change the model's output (not only its speed).
#[derive(Debug, Clone, PartialEq)]
pub enum Lossy {
    /// No value changes the numbers.
    Never,
    /// Every value except these changes the numbers.
    Except(Vec<String>),
}

/// One tunable flag of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagDef {
    /// The spelling rooftune passes and logs (`-ub`).
    pub name: String,
    /// Other spellings a spec may use (`--ubatch-size`).
    pub aliases: Vec<String>,
    /// Valid values.
    pub kind: Kind,
    /// The server's default, as its `--help` states it.
    pub server_default: String,
    /// Values that change the numbers.
    pub lossy: Lossy,
    /// Build history and effect notes.
    pub note: String,
    /// Set when the flag no longer exists: what to use instead.
    pub removed: Option<String>,
    /// The request field the server also accepts for this setting
    /// (`n_cache_reuse` for `--cache-reuse`): configurations that differ
    /// only in such flags can share one server start.
    pub per_request: Option<String>,
}

/// An interaction between flags (a `[[rule]]` of the table, tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// `small <= large`, with server defaults for unset flags.
    AtMost {
        /// The flag that must not exceed the other.
        small: String,
        /// Its bound.
        large: String,
        /// Server default of `small`.
        small_default: i64,
        /// Server default of `large`.
        large_default: i64,
    },
    /// When `flag` takes a value outside `plain`, `needs` must not be `forbidden`.
    Needs {
        /// The flag.
        flag: String,
        /// Values that need nothing.
        plain: Vec<String>,
        /// The other flag.
        needs: String,
        /// The value of the other flag that is not allowed.
        forbidden: String,
        /// Why.
        why: String,
    },
    /// A thread count above the machine's physical cores.
    ThreadsAtMostCores {
        /// The thread-count flag.
        flag: String,
    },
}

/// The values of a configuration, as the rules read them.
pub trait FlagValues {
    /// The value set for a flag, None when it is left at the server's default.
    fn value(&self, flag: &str) -> Option<&str>;
    /// An integer flag's value, if set and numeric.
    fn int(&self, flag: &str) -> Option<i64> {
        self.value(flag).and_then(|v| v.parse().ok())
    }
}

/// A backend's flags and rules.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagTable {
    /// The backend the table belongs to (`llama`).
    pub backend: String,
    /// The flags.
    pub flags: Vec<FlagDef>,
    /// Their interactions.
    pub rules: Vec<Rule>,
}

/// A flag table that does not parse: a bug in a bundled file, caught by a test.
#[derive(Debug, thiserror::Error)]
#[error("flag table `{file}`: {message}")]
pub struct FlagTableError {
    /// The table's file.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileForm {
    backend: String,
    #[serde(default)]
    flag: Vec<FlagRow>,
    #[serde(default)]
    rule: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagRow {
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    kind: String,
    min: Option<i64>,
    max: Option<i64>,
    #[serde(default)]
    values: Vec<String>,
    default: String,
    lossless: Option<Vec<String>>,
    #[serde(default)]
    note: String,
    removed: Option<String>,
    per_request: Option<String>,
}

impl FlagTable {
    /// A table compiled into the binary (`backends/*.toml`). A parse failure
    /// is a bug that each backend's tests catch; at run time it is printed
    /// and the backend gets an empty table rather than a panic.
    pub fn bundled(file: &str, text: &str, backend: &str) -> FlagTable {
        FlagTable::parse(file, text).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            FlagTable {
                backend: backend.into(),
                flags: Vec::new(),
                rules: Vec::new(),
            }
        })
    }

    /// Parse a table from its TOML text.
    pub fn parse(file: &str, text: &str) -> Result<FlagTable, FlagTableError> {
        let err = |message: String| FlagTableError {
            file: file.into(),
            message,
        };
        let form: FileForm = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        let flags = form
            .flag
            .into_iter()
            .map(|r| {
                let kind = match r.kind.as_str() {
                    "int" => Kind::Int {
                        min: r
                            .min
                            .ok_or_else(|| err(format!("{}: int without min", r.name)))?,
                        max: r
                            .max
                            .ok_or_else(|| err(format!("{}: int without max", r.name)))?,
                    },
                    "choice" if !r.values.is_empty() => Kind::Choice(r.values),
                    "switch" => Kind::Switch,
                    "text" => Kind::Text,
                    other => return Err(err(format!("{}: unknown kind `{other}`", r.name))),
                };
                Ok(FlagDef {
                    name: r.name,
                    aliases: r.aliases,
                    kind,
                    server_default: r.default,
                    lossy: r.lossless.map_or(Lossy::Never, Lossy::Except),
                    note: r.note,
                    removed: r.removed,
                    per_request: r.per_request,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rules = form.rule;
        Ok(FlagTable {
            backend: form.backend,
            flags,
            rules,
        })
    }

    /// A flag by any of its spellings.
    pub fn flag(&self, spelling: &str) -> Option<&FlagDef> {
        self.flags
            .iter()
            .find(|f| f.name == spelling || f.aliases.iter().any(|a| a == spelling))
    }

    /// Every spelling in the table (for "did you mean").
    pub fn spellings(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().flat_map(|f| {
            std::iter::once(f.name.as_str()).chain(f.aliases.iter().map(String::as_str))
        })
    }

    /// Whether `value` of flag `name` changes the numbers.
    pub fn is_lossy(&self, name: &str, value: &str) -> bool {
        match self.flag(name).map(|f| &f.lossy) {
            Some(Lossy::Except(ok)) => !ok.iter().any(|v| v == value),
            _ => false,
        }
    }

    /// Whether `name` is a switch (passed alone, no value).
    pub fn is_switch(&self, name: &str) -> bool {
        self.flag(name).is_some_and(|f| f.kind == Kind::Switch)
    }

    /// Why a configuration is invalid, or None if every rule holds.
    pub fn violation(&self, config: &dyn FlagValues, physical_cores: u32) -> Option<String> {
        self.rules
            .iter()
            .find_map(|r| check_rule(r, config, physical_cores))
    }

    /// Flags of a space that the binary's `--help` does not know, with a hint.
    pub fn unknown_to_binary(
        &self,
        flags: &[String],
        help: &str,
        server: &str,
    ) -> Vec<(String, String)> {
        let known = parse_help_flags(help);
        flags
            .iter()
            .filter(|f| !known.iter().any(|k| k == *f))
            .map(|f| {
                let hint = match self.flag(f).and_then(|d| d.removed.as_deref()) {
                    Some(instead) => {
                        format!("removed from recent {server} builds: use `{instead}`")
                    }
                    None => format!("check the flag against `{server} --help` of this build"),
                };
                (f.clone(), hint)
            })
            .collect()
    }
}

/// Check one value against a flag's kind (`default` always passes). `Err`
/// says what is allowed.
pub fn check_value(def: &FlagDef, value: &str, default_word: &str) -> Result<(), String> {
    if value == default_word {
        return Ok(());
    }
    match &def.kind {
        Kind::Int { min, max } => match value.parse::<i64>() {
            Ok(v) if (*min..=*max).contains(&v) => Ok(()),
            _ => Err(format!("an integer from {min} to {max}")),
        },
        Kind::Choice(words) if words.iter().any(|w| w == value) => Ok(()),
        Kind::Choice(words) => Err(format!("one of {}", words.join(", "))),
        Kind::Switch if value == "true" || value == "false" => Ok(()),
        Kind::Switch => Err("true or false".into()),
        Kind::Text => Ok(()),
    }
}

fn check_rule(rule: &Rule, c: &dyn FlagValues, cores: u32) -> Option<String> {
    match rule {
        Rule::AtMost {
            small,
            large,
            small_default,
            large_default,
        } => {
            if c.value(small).is_none() && c.value(large).is_none() {
                return None;
            }
            let s = c.int(small).unwrap_or(*small_default);
            let l = c.int(large).unwrap_or(*large_default);
            (s > l).then(|| format!("invalid: {small} {s} is larger than {large} {l}"))
        }
        Rule::Needs {
            flag,
            plain,
            needs,
            forbidden,
            why,
        } => {
            let v = c.value(flag)?;
            (!plain.iter().any(|p| p == v) && c.value(needs) == Some(forbidden.as_str()))
                .then(|| format!("invalid: {flag} {v} with {needs} {forbidden}: {why}"))
        }
        Rule::ThreadsAtMostCores { flag: f } => {
            let t = c.int(f)?;
            (t > cores as i64 && cores > 0).then(|| {
                format!(
                    "skipped: {f} {t} is more than the {cores} physical cores (oversubscription only hurts)"
                )
            })
        }
    }
}

/// Flags in a `--help` text: every `-x`/`--long` token at the start of a line
/// or after `, ` in the option column. The one parser of `--help` output.
pub fn parse_help_flags(help: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        for tok in t.split_whitespace() {
            let tok = tok.trim_end_matches(',');
            let valid = tok.len() > 1
                && tok.starts_with('-')
                && tok
                    .trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            let is_arg = tok.contains(['[', '|', '<', '{'])
                || tok
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
            if valid {
                if !out.iter().any(|x| x == tok) {
                    out.push(tok.to_string());
                }
            } else if !is_arg {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_flags() {
        let help = "\
-h,    --help, --usage                  print usage and exit
-t,    --threads N                      number of CPU threads
-fa,   --flash-attn [on|off|auto]       set Flash Attention use
       --port PORT                      port to listen (default: 8080)
-lm, --load-mode MODE  how to load
not a flag line
";
        let f = parse_help_flags(help);
        for x in [
            "-h",
            "--help",
            "--usage",
            "-t",
            "--threads",
            "-fa",
            "--flash-attn",
            "--port",
            "-lm",
            "--load-mode",
        ] {
            assert!(f.contains(&x.to_string()), "{x} in {f:?}");
        }
        assert!(!f.iter().any(|x| x == "N" || x.contains('[')));
    }

    #[test]
    fn a_bad_table_is_an_error_naming_the_flag() {
        let e = FlagTable::parse(
            "t.toml",
            "backend = \"x\"\n[[flag]]\nname = \"-q\"\nkind = \"int\"\ndefault = \"1\"\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("-q: int without min"), "{e}");
        assert!(FlagTable::parse("t.toml", "backend = 3").is_err());
    }
}
