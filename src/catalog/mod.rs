//! The catalog: hardware profiles, model specs, quantization mixes and
//! published measurements. The bundled files are compiled into the binary
//! and parsed once; user profiles (from `hw probe --save`) are added from the
//! config directory.

pub mod calibrated;
pub mod hardware;
pub mod links;
pub mod measurements;
pub mod model_spec;
pub mod quant;
pub mod sourced;
pub mod suggest;

use hardware::HardwareProfile;
use measurements::PublishedMeasurement;
use model_spec::ModelSpec;
use quant::{MixSpec, QuantScheme};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

/// Errors reading or querying the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A TOML file that does not parse or does not fit the schema.
    #[error("{file}:{line}:{column}: {message}\n(hint: see docs/data-format.md for the schema)")]
    Parse {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A field whose value is out of range.
    #[error("{file}: field `{field}`: {reason}")]
    Invalid {
        /// File name.
        file: String,
        /// Dotted field path.
        field: String,
        /// Why.
        reason: String,
    },
    /// An unknown name, with suggestions.
    #[error("unknown {kind} `{name}`{}\n(hint: `rooftune {list_cmd}` lists them)", did_you_mean(.suggestions))]
    Unknown {
        /// hardware profile, model, quantization.
        kind: &'static str,
        /// What was asked for.
        name: String,
        /// Closest known names.
        suggestions: Vec<String>,
        /// Command that lists the known names.
        list_cmd: &'static str,
    },
    /// `bpw:X` with X outside what a quantization can be.
    #[error("quantization `{name}`: bits per weight must be above 0.5 and at most 32, got {bpw}\n(hint: e.g. `bpw:4.5`; `rooftune model quants` lists named ones)")]
    BadBpw {
        /// As given.
        name: String,
        /// The number.
        bpw: f64,
    },
    /// A file that could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

fn did_you_mean(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(
            ": did you mean {}?",
            s.iter()
                .map(|x| format!("`{x}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// Parse one TOML file into `T`, mapping errors to file:line:column.
pub fn parse_toml<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<T, CatalogError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| {
                let before = &text[..s.start.min(text.len())];
                (
                    before.matches('\n').count() + 1,
                    before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1,
                )
            })
            .unwrap_or((1, 1));
        CatalogError::Parse {
            file: file.into(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })
}

#[derive(Deserialize)]
struct MixFile {
    #[serde(default)]
    mix: BTreeMap<String, MixSpec>,
}

#[derive(Deserialize)]
struct MeasurementFile {
    #[serde(default)]
    measurement: Vec<PublishedMeasurement>,
    #[serde(default)]
    prefill: Vec<measurements::PublishedPrefill>,
}

/// Everything the catalog holds.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Hardware profiles, sorted by name.
    pub hardware: Vec<HardwareProfile>,
    /// Model specs, sorted by name.
    pub models: Vec<ModelSpec>,
    /// Named quantization mixes.
    pub mixes: BTreeMap<String, MixSpec>,
    /// Published decode measurements.
    pub measurements: Vec<PublishedMeasurement>,
    /// Published prefill measurements.
    pub prefill_measurements: Vec<measurements::PublishedPrefill>,
}

impl Catalog {
    /// The bundled catalog, parsed once per process.
    pub fn bundled() -> Result<&'static Catalog, CatalogError> {
        static CELL: OnceLock<Result<Catalog, String>> = OnceLock::new();
        let r = CELL.get_or_init(|| {
            Catalog::from_files(bundled::HARDWARE, bundled::MODELS, bundled::MEASUREMENTS)
                .map_err(|e| e.to_string())
        });
        r.as_ref().map_err(|m| CatalogError::Invalid {
            file: "bundled data".into(),
            field: "-".into(),
            reason: m.clone(),
        })
    }

    /// Build a catalog from (file name, contents) pairs.
    pub fn from_files(
        hardware: &[(&str, &str)],
        models: &[(&str, &str)],
        measurements: &[(&str, &str)],
    ) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog::default();
        for (file, text) in hardware {
            cat.add_hardware(file, text)?;
        }
        for (file, text) in models {
            if file.ends_with("quant-mixes.toml") {
                let mixes: MixFile = parse_toml(file, text)?;
                cat.mixes.extend(mixes.mix);
                continue;
            }
            let spec: ModelSpec = parse_toml(file, text)?;
            spec.validate()
                .map_err(|(field, reason)| CatalogError::Invalid {
                    file: file.to_string(),
                    field,
                    reason,
                })?;
            cat.models.push(spec);
        }
        for (file, text) in measurements {
            let m: MeasurementFile = parse_toml(file, text)?;
            cat.measurements.extend(m.measurement);
            cat.prefill_measurements.extend(m.prefill);
        }
        cat.models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cat)
    }

    /// Add one hardware profile from TOML text.
    pub fn add_hardware(&mut self, file: &str, text: &str) -> Result<(), CatalogError> {
        let hw: HardwareProfile = parse_toml(file, text)?;
        hw.validate()
            .map_err(|(field, reason)| CatalogError::Invalid {
                file: file.to_string(),
                field,
                reason,
            })?;
        self.hardware.retain(|h| h.name != hw.name);
        self.hardware.push(hw);
        self.hardware.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// The bundled catalog plus the user's saved profiles (`~/.config/rooftune/hardware/*.toml`).
    pub fn with_user_profiles(dir: Option<&Path>) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog::bundled()?.clone();
        let Some(dir) = dir else { return Ok(cat) };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(cat);
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        {
            let text = std::fs::read_to_string(&path).map_err(|source| CatalogError::Io {
                path: path.clone(),
                source,
            })?;
            cat.add_hardware(&path.display().to_string(), &text)?;
        }
        Ok(cat)
    }

    /// Find a hardware profile by name or alias.
    pub fn hardware(&self, name: &str) -> Result<&HardwareProfile, CatalogError> {
        find_named(
            &self.hardware,
            name,
            |h| (&h.name, &h.aliases),
            "hardware profile",
            "hw list",
        )
    }

    /// Find a model spec by name or alias.
    pub fn model(&self, name: &str) -> Result<&ModelSpec, CatalogError> {
        find_named(
            &self.models,
            name,
            |m| (&m.name, &m.aliases),
            "model",
            "model list",
        )
    }

    /// Resolve `--quant`: a mix name, a ggml type, `bpw:3.6` or `3.6bpw`.
    pub fn quant(&self, name: &str) -> Result<QuantScheme, CatalogError> {
        let n = name.trim().to_ascii_lowercase();
        if let Some(spec) = self.mixes.get(&n) {
            return Ok(match spec.bpw {
                Some(bpw) if spec.groups.is_empty() => QuantScheme::Bpw { name: n, bpw },
                _ => QuantScheme::Mix {
                    name: n,
                    spec: spec.clone(),
                },
            });
        }
        if let Ok(t) = n.parse::<crate::dtype::ggml::GgmlType>() {
            return Ok(QuantScheme::Uniform(t));
        }
        let bpw = n
            .strip_prefix("bpw:")
            .or_else(|| n.strip_suffix("bpw"))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(bpw) = bpw {
            if bpw > 0.5 && bpw <= 32.0 {
                return Ok(QuantScheme::Bpw {
                    name: format!("{bpw} bpw"),
                    bpw,
                });
            }
            return Err(CatalogError::BadBpw {
                name: name.into(),
                bpw,
            });
        }
        let known = self
            .mixes
            .keys()
            .map(String::as_str)
            .chain(crate::dtype::ggml::ALL_TYPES.iter().map(|t| t.ggml_name()));
        Err(CatalogError::Unknown {
            kind: "quantization",
            name: name.into(),
            suggestions: suggest::closest(name, known),
            list_cmd: "model quants",
        })
    }
}

/// Find an item by name or alias (case-insensitive), or say which known names are closest.
fn find_named<'a, T>(
    items: &'a [T],
    name: &str,
    names: impl Fn(&T) -> (&String, &Vec<String>),
    kind: &'static str,
    list_cmd: &'static str,
) -> Result<&'a T, CatalogError> {
    let n = name.trim().to_ascii_lowercase();
    items
        .iter()
        .find(|it| {
            let (own, aliases) = names(it);
            *own == n || aliases.contains(&n)
        })
        .ok_or_else(|| CatalogError::Unknown {
            kind,
            name: name.into(),
            suggestions: suggest::closest(
                name,
                items.iter().flat_map(|it| {
                    let (own, aliases) = names(it);
                    std::iter::once(own.as_str()).chain(aliases.iter().map(String::as_str))
                }),
            ),
            list_cmd,
        })
}

/// The user's config directory for rooftune (`~/.config/rooftune` on Linux,
/// `~/Library/Application Support/rooftune` on macOS), or `$ROOFTUNE_CONFIG_DIR`.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ROOFTUNE_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("rooftune"))
}

/// Where saved hardware profiles live.
pub fn user_hardware_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("hardware"))
}
