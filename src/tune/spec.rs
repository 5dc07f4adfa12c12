//! The campaign spec: `experiments/NAME.toml`, parsed and validated before
//! anything starts. A typo in a key, an unknown flag or a value the flag does
//! not take is an error naming the file and line.
//!
//! ```toml
//! model = "example.gguf"         # relative to this file
//! hardware = "probe"             # or a profile name from `rooftune hw list`
//! seed = 1
//! fixed = ["--no-jinja", "--chat-template", "gemma"]   # on every trial
//! [space]
//! "-t" = [1, 2]
//! "-ub" = { from = 64, to = 512, times = 2 }
//! "-fa" = ["on", "off"]
//! "--cache-reuse" = [0, 256]        # per request too: values share a start
//! [space.raw]
//! "--slot-prompt-similarity" = ["0.1", "0.5"]
//! [constraints]
//! min_ctx = 2048
//! memory_headroom = "1GiB"
//! [objective]
//! metric = "decode"              # decode | prefill | ttft | aggregate | mix
//! depth = 0
//! [budget]
//! trials = 12
//! minutes = 15
//! repeats = 3
//! ```

use super::lattice::{Dim, Space};
use super::objective::{Objective, Term};
use super::space::{self, Kind};
use super::trial::{Probe, QualityProbe};
use super::TuneError;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: Option<String>,
    model: String,
    #[serde(default)]
    hardware: Option<String>,
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    backend: Option<String>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    fixed: Option<Spanned<Vec<String>>>,
    space: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    constraints: RawConstraints,
    objective: RawObjective,
    #[serde(default)]
    budget: RawBudget,
    #[serde(default)]
    anchor: RawAnchor,
    #[serde(default)]
    quality: RawQuality,
    #[serde(default)]
    race: RawRace,
    #[serde(default)]
    cluster: Option<Spanned<super::cluster::RawCluster>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRace {
    finalists: Option<u32>,
    rounds: Option<u32>,
    confidence: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConstraints {
    min_ctx: Option<u64>,
    memory_headroom: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    metric: Spanned<String>,
    depth: Option<u64>,
    tokens: Option<u64>,
    prompt_tokens: Option<u64>,
    streams: Option<u32>,
    mix: Option<BTreeMap<String, f64>>,
    /// `metric = "agentic"`: the session file (relative to the spec).
    session: Option<String>,
    /// `metric = "agentic"`: median, p90 or total_wait.
    statistic: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBudget {
    trials: Option<u32>,
    minutes: Option<f64>,
    repeats: Option<u32>,
    screen_repeats: Option<u32>,
    screen_margin: Option<f64>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAnchor {
    every: Option<u32>,
    drift: Option<f64>,
    settle_s: Option<f64>,
    retries: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawQuality {
    enabled: Option<bool>,
    prompts: Option<Vec<String>>,
    n_predict: Option<u64>,
    n_probs: Option<u32>,
    min_top1: Option<f64>,
}

/// Where the hardware description comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum HardwareChoice {
    /// Measure the machine (`probe`): cores and memory from the OS.
    Probe,
    /// A catalog profile by name.
    Profile(String),
}

/// Limits on what a configuration may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Constraints {
    /// Smallest context a slot must offer, tokens.
    pub min_ctx: u64,
    /// Memory to leave free, bytes.
    pub headroom_bytes: f64,
}

/// How much searching a campaign may do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Configurations to measure (the defaults included), if limited.
    pub trials: Option<u32>,
    /// Wall time of trials, minutes, if limited.
    pub minutes: Option<f64>,
    /// Repeats for a promising configuration.
    pub repeats: u32,
    /// Repeats of the screening measurement.
    pub screen_repeats: u32,
    /// A screened configuration is promising when its score is at least
    /// `best x (1 - margin)`.
    pub screen_margin: f64,
}

/// The drift anchor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    /// Re-measure the anchor after this many trials (0: never).
    pub every: u32,
    /// Smallest relative change of the re-measured defaults worth re-running
    /// for (0.05 = 5%); the change must also be beyond the measured noise.
    pub drift: f64,
    /// After drift, wait this long before measuring the anchor again, seconds.
    pub settle_s: f64,
    /// Anchor re-measurements after drift before re-running anyway.
    pub retries: u32,
}

/// A validated campaign spec.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// Campaign name (the file stem unless given).
    pub name: String,
    /// Path of the spec file.
    pub spec_path: PathBuf,
    /// SHA-256 of the spec text.
    pub spec_sha256: String,
    /// Model file (resolved against the spec's folder).
    pub model: PathBuf,
    /// Hardware description.
    pub hardware: HardwareChoice,
    /// Server binary, if the spec names one.
    pub server: Option<PathBuf>,
    /// The backend whose server is tuned (`backend = "llama"`, the default).
    pub backend: crate::server::BackendKind,
    /// Seed of the solver.
    pub seed: u64,
    /// Server arguments passed on every trial, the defaults included
    /// (`--no-jinja --chat-template gemma`); flags rooftune does not search.
    pub fixed: Vec<String>,
    /// The search space.
    pub space: Space,
    /// Constraints.
    pub constraints: Constraints,
    /// Objective.
    pub objective: Objective,
    /// Budget.
    pub budget: Budget,
    /// Drift anchor.
    pub anchor: Anchor,
    /// Quality guard probe (None: disabled).
    pub quality: Option<QualityProbe>,
    /// Measure every configuration in lattice order instead of searching.
    pub grid: bool,
    /// The final race and the confidence of every comparison.
    pub race: Race,
    /// Least top-1 agreement with the defaults a lossy configuration needs
    /// to be recommended (0.95 = 95% of positions choose the same token).
    pub min_top1: f64,
    /// The session an `agentic` objective replays.
    pub agentic: Option<AgenticObjective>,
    /// RPC workers the model is split across (`[cluster]`), if any.
    pub cluster: Option<super::cluster::ClusterSpec>,
}

/// The session an `agentic` objective replays, and its size.
#[derive(Debug, Clone, PartialEq)]
pub struct AgenticObjective {
    /// The session file (JSONL, docs/sessions.md).
    pub session: PathBuf,
    /// Estimated prompt tokens over all its requests (for time estimates).
    pub prompt_tokens: u64,
}

/// The final race: the finalists and the defaults re-measured interleaved.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Race {
    /// Best configurations of the search that race the defaults (0: no race).
    pub finalists: u32,
    /// Most rounds (each round measures every contestant once).
    pub rounds: u32,
    /// Two-sided confidence of every interval and test (0.95).
    pub confidence: f64,
}

impl Default for Race {
    fn default() -> Self {
        Race {
            finalists: 3,
            rounds: 8,
            confidence: 0.95,
        }
    }
}

/// Default quality prompts: fixed text, so every trial answers the same.
pub const QUALITY_PROMPTS: &[&str] = &[
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village,",
];

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn spec_err(file: &Path, text: &str, offset: usize, message: String) -> TuneError {
    TuneError::Spec {
        file: file.display().to_string(),
        line: line_of(text, offset),
        message,
    }
}

/// Read and validate a spec file.
pub fn load(path: &Path) -> Result<Campaign, TuneError> {
    let text = std::fs::read_to_string(path).map_err(|e| TuneError::SpecRead {
        file: path.display().to_string(),
        source: e,
    })?;
    parse(path, &text)
}

/// Validate a spec's text (`path` names it in errors and anchors relative paths).
pub fn parse(path: &Path, text: &str) -> Result<Campaign, TuneError> {
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        spec_err(path, text, offset, e.message().trim().to_string())
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            p
        } else {
            dir.join(p)
        }
    };
    let name = raw.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("campaign".into(), |s| s.to_string_lossy().into_owned())
    });
    let hardware = match raw.hardware.as_deref() {
        None | Some("probe") => HardwareChoice::Probe,
        Some(p) => HardwareChoice::Profile(p.to_string()),
    };
    let backend = match raw.backend.as_deref() {
        None => crate::server::BackendKind::default(),
        Some(b) => b.parse().map_err(|e: crate::server::UnknownBackend| {
            spec_err(path, text, text.find("backend").unwrap_or(0), e.to_string())
        })?,
    };
    let space = parse_space(path, text, &raw.space, backend)?;
    let fixed = parse_fixed(path, text, raw.fixed.as_ref(), &space, backend)?;
    let objective = parse_objective(path, text, &raw.objective)?;
    let agentic = parse_agentic(path, text, &raw.objective, &resolve)?;
    let headroom_bytes = match &raw.constraints.memory_headroom {
        Some(h) => crate::units::parse_bytes(h).map_err(|e| {
            let at = text.find("memory_headroom").unwrap_or(0);
            spec_err(path, text, at, format!("constraints.memory_headroom: {e}"))
        })?,
        None => 1024.0 * 1024.0 * 1024.0,
    };
    let budget = parse_budget(path, text, &raw.budget)?;
    let cluster = parse_cluster(path, text, raw.cluster.as_ref(), &space, &fixed)?;
    Ok(Campaign {
        name,
        spec_path: path.to_path_buf(),
        spec_sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        model: resolve(&raw.model),
        hardware,
        server: raw.server.as_deref().map(resolve),
        backend,
        seed: raw.seed.unwrap_or(1),
        fixed,
        space,
        constraints: Constraints {
            min_ctx: raw.constraints.min_ctx.unwrap_or(0),
            headroom_bytes,
        },
        objective,
        budget,
        anchor: Anchor {
            every: raw.anchor.every.unwrap_or(5),
            drift: raw.anchor.drift.unwrap_or(0.05),
            settle_s: raw.anchor.settle_s.unwrap_or(15.0).clamp(0.0, 3600.0),
            retries: raw.anchor.retries.unwrap_or(2),
        },
        quality: parse_quality(&raw.quality),
        grid: false,
        race: parse_race(path, text, &raw.race)?,
        agentic,
        cluster,
        min_top1: match raw.quality.min_top1 {
            Some(m) if !(0.0..=1.0).contains(&m) => {
                let at = text.find("min_top1").unwrap_or(0);
                return Err(spec_err(
                    path,
                    text,
                    at,
                    "quality.min_top1 must be in [0, 1] (0.95 = 95% top-1 agreement)".into(),
                ));
            }
            Some(m) => m,
            None => 0.95,
        },
    })
}

/// The budget's rules, shared by the spec (`budget.trials`) and the command
/// line (`--trials`): `Err` says what is wrong with the value.
pub fn check_trials(trials: u32) -> Result<(), String> {
    if trials == 0 {
        return Err("must be at least 1, got 0 (leave it out for no trial limit)".into());
    }
    Ok(())
}

/// `budget.minutes` / `--minutes`: a finite number above 0.
pub fn check_minutes(minutes: f64) -> Result<(), String> {
    if !minutes.is_finite() || minutes <= 0.0 {
        return Err(format!(
            "must be a number of minutes above 0, got {minutes} (leave it out for no time limit)"
        ));
    }
    Ok(())
}

/// `budget.repeats` / `budget.screen_repeats`: at least 1.
pub fn check_repeats(repeats: u32) -> Result<(), String> {
    if repeats == 0 {
        return Err("must be at least 1, got 0".into());
    }
    Ok(())
}

fn parse_budget(path: &Path, text: &str, b: &RawBudget) -> Result<Budget, TuneError> {
    let at = text.find("[budget]").unwrap_or(0);
    let checks = [
        ("budget.trials", b.trials.map_or(Ok(()), check_trials)),
        ("budget.minutes", b.minutes.map_or(Ok(()), check_minutes)),
        ("budget.repeats", b.repeats.map_or(Ok(()), check_repeats)),
        (
            "budget.screen_repeats",
            b.screen_repeats.map_or(Ok(()), check_repeats),
        ),
    ];
    for (key, r) in checks {
        if let Err(why) = r {
            return Err(spec_err(path, text, at, format!("{key} {why}")));
        }
    }
    let repeats = b.repeats.unwrap_or(3);
    let screen_repeats = b.screen_repeats.unwrap_or(1).min(repeats);
    let screen_margin = b.screen_margin.unwrap_or(0.1);
    if !(0.0..1.0).contains(&screen_margin) {
        return Err(spec_err(
            path,
            text,
            at,
            "budget.screen_margin must be in [0, 1)".into(),
        ));
    }
    Ok(Budget {
        trials: b.trials,
        minutes: b.minutes,
        repeats,
        screen_repeats,
        screen_margin,
    })
}

fn parse_race(path: &Path, text: &str, r: &RawRace) -> Result<Race, TuneError> {
    let d = Race::default();
    let confidence = r.confidence.unwrap_or(d.confidence);
    if !(0.5..1.0).contains(&confidence) {
        let at = text.find("[race]").unwrap_or(0);
        return Err(spec_err(
            path,
            text,
            at,
            "race.confidence must be in [0.5, 1) (0.95 = 95%)".into(),
        ));
    }
    Ok(Race {
        finalists: r.finalists.unwrap_or(d.finalists),
        rounds: r
            .rounds
            .unwrap_or(d.rounds)
            .max(crate::tune::stats::MIN_ROUNDS as u32),
        confidence,
    })
}

/// `[cluster]`: its own rules, one `--rpc` (not also in `fixed`), and
/// `-ts` values that are shares with at most one per worker.
fn parse_cluster(
    path: &Path,
    text: &str,
    raw: Option<&Spanned<super::cluster::RawCluster>>,
    space: &Space,
    fixed: &[String],
) -> Result<Option<super::cluster::ClusterSpec>, TuneError> {
    let ts_at = text
        .find("\"-ts\"")
        .or_else(|| text.find("\"--tensor-split\""))
        .unwrap_or(0);
    let ts = space.dims.iter().find(|d| d.flag == "-ts");
    for v in ts.map_or(&[][..], |d| &d.values[..]) {
        if v != "default" {
            super::cluster::tensor_split(v)
                .map_err(|m| spec_err(path, text, ts_at, format!("[space] `-ts`: {m}")))?;
        }
    }
    let Some(raw) = raw else {
        return Ok(None);
    };
    let at = raw.span().start;
    let c = super::cluster::parse(raw.get_ref()).map_err(|m| spec_err(path, text, at, m))?;
    if fixed
        .iter()
        .any(|a| a == "--rpc" || a.starts_with("--rpc="))
    {
        return Err(spec_err(
            path,
            text,
            at,
            "`--rpc` in `fixed` and a [cluster] section: keep one ([cluster] starts the workers and records them)".into(),
        ));
    }
    let n = c.n_workers();
    for v in ts.map_or(&[][..], |d| &d.values[..]) {
        let shares = super::cluster::tensor_split(v)
            .map(|s| s.len())
            .unwrap_or(0);
        if shares > n {
            return Err(spec_err(
                path,
                text,
                ts_at,
                format!("[space] `-ts` = `{v}` has {shares} shares for {n} workers (one per worker, in --rpc order; the head keeps what -ngl leaves)"),
            ));
        }
    }
    Ok(Some(c))
}

/// `fixed = [...]`: arguments for every trial. A flag rooftune knows must be
/// searched (a one-value list in [space]) so its memory and rules are checked;
/// a flag may not be both fixed and searched.
fn parse_fixed(
    path: &Path,
    text: &str,
    fixed: Option<&Spanned<Vec<String>>>,
    space: &Space,
    backend: crate::server::BackendKind,
) -> Result<Vec<String>, TuneError> {
    let table = backend.get().flags();
    let Some(fixed) = fixed else {
        return Ok(Vec::new());
    };
    let at = fixed.span().start;
    for a in fixed.get_ref() {
        let flag = a.split('=').next().unwrap_or(a);
        if a.trim().is_empty() {
            return Err(spec_err(
                path,
                text,
                at,
                "`fixed` holds an empty argument".into(),
            ));
        }
        if !flag.starts_with('-') {
            continue;
        }
        if let Some(def) = table.flag(flag) {
            return Err(spec_err(
                path,
                text,
                at,
                format!(
                    "`{flag}` in `fixed` is a flag rooftune checks: put it in [space] with one value (\"{}\" = [...])",
                    def.name
                ),
            ));
        }
        if space.dims.iter().any(|d| d.flag == flag) {
            return Err(spec_err(
                path,
                text,
                at,
                format!("`{flag}` is both in `fixed` and searched in [space.raw]; keep one"),
            ));
        }
    }
    Ok(fixed.get_ref().clone())
}

fn parse_quality(q: &RawQuality) -> Option<QualityProbe> {
    if q.enabled == Some(false) {
        return None;
    }
    Some(QualityProbe {
        prompts: q
            .prompts
            .clone()
            .unwrap_or_else(|| QUALITY_PROMPTS.iter().map(|s| s.to_string()).collect()),
        n_predict: q.n_predict.unwrap_or(8),
        n_probs: q.n_probs.unwrap_or(5),
    })
}

fn parse_space(
    path: &Path,
    text: &str,
    raw: &BTreeMap<String, Spanned<toml::Value>>,
    backend: crate::server::BackendKind,
) -> Result<Space, TuneError> {
    let table = backend.get().flags();
    let server = backend.get().name();
    let mut dims = Vec::new();
    for (key, value) in raw {
        let at = value.span().start;
        if key == "raw" {
            dims.extend(parse_raw_table(path, text, value, table)?);
            continue;
        }
        let Some(def) = table.flag(key) else {
            let close = crate::catalog::suggest::closest(key, table.spellings());
            let hint = if close.is_empty() {
                "put flags rooftune does not know under [space.raw]".to_string()
            } else {
                format!("did you mean {}?", close.join(", "))
            };
            return Err(spec_err(
                path,
                text,
                at,
                format!("unknown flag `{key}` in [space] ({hint})"),
            ));
        };
        if let Some(instead) = &def.removed {
            return Err(spec_err(
                path,
                text,
                at,
                format!("flag `{key}` was removed from {server} (use `{instead}`)"),
            ));
        }
        let values = values_of(value.get_ref(), &def.kind)
            .map_err(|m| spec_err(path, text, at, format!("[space] `{key}`: {m}")))?;
        for v in &values {
            space::check_value(def, v).map_err(|allowed| {
                spec_err(
                    path,
                    text,
                    at,
                    format!("[space] `{key}` = `{v}` is not valid: {key} takes {allowed}"),
                )
            })?;
        }
        dims.push(Dim {
            flag: def.name.to_string(),
            values,
            raw: false,
        });
    }
    // Command-line order: the flag table's order, then raw flags.
    let order = |d: &Dim| {
        table
            .flags
            .iter()
            .position(|f| f.name == d.flag)
            .unwrap_or(usize::MAX)
    };
    dims.sort_by_key(|d| (d.raw, order(d)));
    if dims.is_empty() {
        return Err(spec_err(
            path,
            text,
            text.find("[space]").unwrap_or(0),
            "[space] is empty: give at least one flag with its values".into(),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for d in &dims {
        if !seen.insert(d.flag.clone()) {
            return Err(spec_err(
                path,
                text,
                text.find(&format!("\"{}\"", d.flag)).unwrap_or(0),
                format!(
                    "flag `{}` appears twice in [space] (two spellings?)",
                    d.flag
                ),
            ));
        }
    }
    Ok(Space { dims })
}

fn parse_raw_table(
    path: &Path,
    text: &str,
    value: &Spanned<toml::Value>,
    table: &crate::server::flags::FlagTable,
) -> Result<Vec<Dim>, TuneError> {
    let at = value.span().start;
    let toml::Value::Table(t) = value.get_ref() else {
        return Err(spec_err(
            path,
            text,
            at,
            "[space.raw] must be a table of flag = [values]".into(),
        ));
    };
    let mut dims = Vec::new();
    for (flag, v) in t {
        let at = text.find(&format!("\"{flag}\"")).unwrap_or(at);
        if !flag.starts_with('-') {
            return Err(spec_err(
                path,
                text,
                at,
                format!("[space.raw] key `{flag}` is not a flag (flags start with `-`)"),
            ));
        }
        if table.flag(flag).is_some() {
            return Err(spec_err(
                path,
                text,
                at,
                format!(
                    "`{flag}` is a known flag: put it in [space], where its values are checked"
                ),
            ));
        }
        let values = values_of(v, &Kind::Text)
            .map_err(|m| spec_err(path, text, at, format!("[space.raw] `{flag}`: {m}")))?;
        dims.push(Dim {
            flag: flag.clone(),
            values,
            raw: true,
        });
    }
    Ok(dims)
}

/// Values of one space entry: a list, or a range table `{ from, to, step | times }`.
fn values_of(v: &toml::Value, kind: &Kind) -> Result<Vec<String>, String> {
    let out: Vec<String> = match v {
        toml::Value::Array(items) => items
            .iter()
            .map(|x| match x {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => Err(format!("`{other}` is not a flag value")),
            })
            .collect::<Result<_, _>>()?,
        toml::Value::Table(t) => range(t, kind)?,
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Integer(i) => vec![i.to_string()],
        toml::Value::Boolean(b) => vec![b.to_string()],
        other => return Err(format!("`{other}` is not a list of values")),
    };
    if out.is_empty() {
        return Err("the list of values is empty".into());
    }
    let mut dedup = out.clone();
    dedup.sort();
    dedup.dedup();
    if dedup.len() != out.len() {
        return Err("a value appears twice".into());
    }
    Ok(out)
}

fn range(t: &toml::map::Map<String, toml::Value>, kind: &Kind) -> Result<Vec<String>, String> {
    if !matches!(kind, Kind::Int { .. }) {
        return Err("a range `{ from, to }` needs an integer flag".into());
    }
    for k in t.keys() {
        if !["from", "to", "step", "times"].contains(&k.as_str()) {
            return Err(format!(
                "unknown range key `{k}` (use from, to, and step or times)"
            ));
        }
    }
    let int = |k: &str| t.get(k).and_then(toml::Value::as_integer);
    let (Some(from), Some(to)) = (int("from"), int("to")) else {
        return Err("a range needs integer `from` and `to`".into());
    };
    let mut out = Vec::new();
    let mut x = from;
    match (int("step"), int("times")) {
        (Some(step), None) if step > 0 => {
            while x <= to {
                out.push(x.to_string());
                x += step;
            }
        }
        (None, Some(times)) if times > 1 && from > 0 => {
            while x <= to {
                out.push(x.to_string());
                x *= times;
            }
        }
        (None, None) => {
            while x <= to {
                out.push(x.to_string());
                x += 1;
            }
        }
        _ => return Err("a range takes a positive `step` or `times` > 1 (not both)".into()),
    }
    if out.len() > 1000 {
        return Err("a range of more than 1000 values".into());
    }
    Ok(out)
}

/// `metric = "agentic"` (alone or in a mix) needs `session`, a readable session file.
fn parse_agentic(
    path: &Path,
    text: &str,
    o: &RawObjective,
    resolve: &dyn Fn(&str) -> PathBuf,
) -> Result<Option<AgenticObjective>, TuneError> {
    let wanted = o.metric.get_ref() == "agentic"
        || o.mix.as_ref().is_some_and(|m| m.contains_key("agentic"));
    let at = o.metric.span().start;
    let Some(file) = o.session.as_deref().filter(|_| wanted) else {
        if wanted {
            return Err(spec_err(
                path,
                text,
                at,
                "metric = \"agentic\" needs `session = \"FILE.jsonl\"` (write one with `rooftune session synth` or `session import`)".into(),
            ));
        }
        return Ok(None);
    };
    let session = resolve(file);
    let s = crate::agentic::session::Session::read(&session).map_err(|e| {
        spec_err(
            path,
            text,
            text.find("session").unwrap_or(at),
            format!(
                "objective.session: {}",
                e.to_string().lines().next().unwrap_or("")
            ),
        )
    })?;
    let cpt = s.header.chars_per_token.unwrap_or(4.0).max(0.5);
    let chars: usize = s.requests.iter().map(|r| r.text_chars()).sum();
    Ok(Some(AgenticObjective {
        session,
        prompt_tokens: (chars as f64 / cpt) as u64,
    }))
}

fn parse_objective(path: &Path, text: &str, o: &RawObjective) -> Result<Objective, TuneError> {
    let at = o.metric.span().start;
    let depth = o.depth.unwrap_or(0);
    for (key, v) in [
        ("tokens", o.tokens),
        ("prompt_tokens", o.prompt_tokens),
        ("streams", o.streams.map(u64::from)),
    ] {
        if v == Some(0) {
            return Err(spec_err(
                path,
                text,
                at,
                format!("objective.{key} must be at least 1, got 0"),
            ));
        }
    }
    let tokens = o.tokens.unwrap_or(32);
    let prompt = o.prompt_tokens.unwrap_or(512);
    let streams = o.streams.unwrap_or(4);
    let probe = |metric: &str| -> Result<Probe, TuneError> {
        Ok(match metric {
            "decode" => Probe::Decode { depth, tokens },
            "prefill" => Probe::Prefill { tokens: prompt },
            "ttft" => Probe::Ttft {
                depth: o.depth.unwrap_or(prompt),
            },
            "aggregate" => Probe::Aggregate { streams, tokens },
            "agentic" => {
                let name = o.statistic.as_deref().unwrap_or("median");
                let stat = crate::trial::AgenticStat::ALL
                    .into_iter()
                    .find(|s| s.name() == name)
                    .ok_or_else(|| {
                        spec_err(
                            path,
                            text,
                            text.find("statistic").unwrap_or(at),
                            format!("objective.statistic `{name}` is not one of median, p90, total_wait"),
                        )
                    })?;
                Probe::Agentic { stat }
            }
            other => {
                return Err(spec_err(
                    path,
                    text,
                    at,
                    format!(
                        "unknown objective metric `{other}` (use decode, prefill, ttft, aggregate, agentic or mix)"
                    ),
                ))
            }
        })
    };
    match o.metric.get_ref().as_str() {
        "mix" => {
            let mix = o.mix.as_ref().filter(|m| !m.is_empty()).ok_or_else(|| {
                spec_err(
                    path,
                    text,
                    at,
                    "metric = \"mix\" needs `mix = { decode = 0.7, prefill = 0.3 }`".into(),
                )
            })?;
            let mut terms = Vec::new();
            for (k, &w) in mix {
                if !(w > 0.0 && w.is_finite()) {
                    return Err(spec_err(
                        path,
                        text,
                        at,
                        format!("mix weight of `{k}` must be positive"),
                    ));
                }
                if k == "mix" {
                    return Err(spec_err(
                        path,
                        text,
                        at,
                        "a mix cannot contain `mix`".into(),
                    ));
                }
                terms.push(Term {
                    probe: probe(k)?,
                    weight: w,
                });
            }
            Ok(Objective { terms })
        }
        m => Ok(Objective::single(probe(m)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
model = "m.gguf"
seed = 7
[space]
"-t" = [1, 2]
"--ubatch-size" = { from = 64, to = 512, times = 2 }
"-fa" = ["on", "off"]
[space.raw]
"--slot-prompt-similarity" = ["0.1", "0.5"]
[objective]
metric = "decode"
[budget]
trials = 5
"#;

    #[test]
    fn a_good_spec() {
        let c = parse(Path::new("experiments/x.toml"), GOOD).unwrap();
        assert_eq!(c.name, "x");
        assert_eq!(c.model, PathBuf::from("experiments/m.gguf"));
        assert_eq!(c.seed, 7);
        let flags: Vec<_> = c.space.dims.iter().map(|d| d.flag.as_str()).collect();
        assert_eq!(flags, vec!["-t", "-ub", "-fa", "--slot-prompt-similarity"]);
        assert_eq!(c.space.dims[1].values, vec!["64", "128", "256", "512"]);
        assert_eq!(c.space.size(), 2 * 4 * 2 * 2);
        assert_eq!(c.budget.trials, Some(5));
        assert_eq!(c.hardware, HardwareChoice::Probe);
        assert!(c.quality.is_some());
    }

    fn err(text: &str) -> String {
        parse(Path::new("e.toml"), text).unwrap_err().to_string()
    }

    #[test]
    fn zero_tokens_is_refused_not_raised() {
        let e = err(
            "model = \"m\"\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decode\"\ntokens = 0\n",
        );
        assert!(e.starts_with("e.toml:5:"), "{e}");
        assert!(
            e.contains("objective.tokens must be at least 1, got 0"),
            "{e}"
        );
    }

    #[test]
    fn typo_in_a_key_names_the_line() {
        let e = err(
            "model = \"m\"\nsede = 3\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decode\"\n",
        );
        assert!(e.starts_with("e.toml:2:"), "{e}");
        assert!(e.contains("sede"), "{e}");
    }

    #[test]
    fn unknown_flag_value_names_the_line() {
        let e = err("model = \"m\"\n[space]\n\"-t\" = [1]\n\"-fa\" = [\"yes\"]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.starts_with("e.toml:4:"), "{e}");
        assert!(e.contains("on, off, auto"), "{e}");
    }

    #[test]
    fn unknown_flag_suggests() {
        let e = err("model = \"m\"\n[space]\n\"-ubb\" = [1]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.starts_with("e.toml:3:"), "{e}");
        assert!(e.contains("did you mean"), "{e}");
    }

    #[test]
    fn removed_flags_point_to_the_new_one() {
        let e = err("model = \"m\"\n[space]\n\"--mlock\" = [true, false]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.contains("-lm mlock"), "{e}");
    }

    #[test]
    fn typo_in_objective_and_mix() {
        let e = err("model = \"m\"\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decod\"\n");
        assert!(e.starts_with("e.toml:5:"), "{e}");
        let c = parse(
            Path::new("e.toml"),
            "model = \"m\"\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"mix\"\nmix = { decode = 0.7, prefill = 0.3 }\n",
        )
        .unwrap();
        assert_eq!(c.objective.terms.len(), 2);
    }

    #[test]
    fn fixed_arguments() {
        let c = parse(
            Path::new("e.toml"),
            "model = \"m\"\nfixed = [\"--no-jinja\", \"--chat-template\", \"gemma\"]\n[space]\n\"-t\" = [1]\n[objective]\nmetric = \"decode\"\n",
        )
        .unwrap();
        assert_eq!(c.fixed, vec!["--no-jinja", "--chat-template", "gemma"]);
        let e = err("model = \"m\"\nfixed = [\"-t\", \"2\"]\n[space]\n\"-fa\" = [\"on\"]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.starts_with("e.toml:2:"), "{e}");
        assert!(e.contains("put it in [space]"), "{e}");
        let e = err("model = \"m\"\nfixed = [\"--x=1\"]\n[space]\n\"-t\" = [1]\n[space.raw]\n\"--x\" = [\"2\"]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.contains("both"), "{e}");
    }

    #[test]
    fn ranges_and_duplicates() {
        let e = err("model = \"m\"\n[space]\n\"-t\" = [1, 1]\n[objective]\nmetric = \"decode\"\n");
        assert!(e.contains("twice"), "{e}");
        let e = err("model = \"m\"\n[space]\n\"-fa\" = { from = 1, to = 2 }\n[objective]\nmetric = \"decode\"\n");
        assert!(e.contains("integer flag"), "{e}");
    }
}
