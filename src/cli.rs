//! Command-line types (clap derive) only. They end here: `app` converts them
//! into the engine's own structs before anything else sees them.

use clap::{Args, Parser, Subcommand};

/// Roofline ceilings and an autotuner for local LLM serving.
#[derive(Debug, Parser)]
#[command(name = "rooftune", version, about, long_about = None, arg_required_else_help = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Predict decode/prefill ceilings, memory fit and context honesty for a model on a machine.
    Predict(PredictArgs),
    /// Every hardware profile x model: ceiling, estimate, fit and the 100 tok/s bar.
    Matrix(MatrixArgs),
    /// Speculative-decoding speedup from acceptance rate, draft length and draft cost.
    Speculate(SpeculateArgs),
    /// Published decode measurements against the engine: % of ceiling, estimate band, held-out error.
    Published(JsonFlag),
    /// Hardware profiles.
    #[command(subcommand)]
    Hw(HwCommand),
    /// Model specs and quantizations.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Write a GGUF model with random weights and real structure (llama-server runs it).
    Synth(SynthArgs),
    /// Measure prefill, decode and time to first token of a real server, against the roofline.
    Bench(BenchArgs),
    /// Fit the estimate's efficiency and overhead terms on this machine's bench results, validated on held-out models.
    Calibrate(CalibrateArgs),
    /// Search llama-server's start-up flags for a campaign's objective, logging every trial.
    Tune(TuneArgs),
    /// Campaign logs: list, show, compare, export the winner as a service.
    #[command(subcommand)]
    Campaign(CampaignCommand),
    /// Coding-agent sessions (JSONL, docs/sessions.md): synthesize one.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Replay a session against a server turn by turn, prompt cache on and/or off, and explain each cache miss.
    Replay(ReplayArgs),
    /// A campaign, or a `bench`, `replay` or `logs analyze` JSON result, as a self-contained HTML page with charts (or Markdown).
    Report(ReportArgs),
    /// Agents' usage logs (Codex CLI, Claude Code) and request logs: where an agent's time goes.
    #[command(subcommand)]
    Logs(LogsCommand),
}

/// `rooftune session ...`
#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// Write a synthetic coding-agent session, the same for the same seed.
    Synth(SessionSynthArgs),
    /// Turn a Codex CLI rollout or a Claude Code transcript into a session file (says what the log did not keep).
    Import(SessionImportArgs),
}

/// `rooftune session import`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("log").required(true).args(["codex", "claude_code"]))]
pub struct SessionImportArgs {
    /// A Codex CLI rollout (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`).
    #[arg(long, value_name = "FILE")]
    pub codex: Option<std::path::PathBuf>,
    /// A Claude Code transcript (`~/.claude/projects/PROJECT/SESSION.jsonl`; its `SESSION/subagents/` come along).
    #[arg(long, value_name = "FILE")]
    pub claude_code: Option<std::path::PathBuf>,
    /// Size of the stand-in system prompt plus tool definitions, tokens (default: what the usage records imply).
    #[arg(long, value_name = "N", value_parser = crate::units::parse_tokens)]
    pub system_tokens: Option<u64>,
    /// Characters per token, to size stand-ins (1 for a byte vocabulary).
    #[arg(long, default_value_t = 4.0)]
    pub chars_per_token: f64,
    /// The session's name (default: the log file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// The session file to write.
    #[arg(short = 'o', long, value_name = "FILE.jsonl")]
    pub output: std::path::PathBuf,
}

/// `rooftune session synth`
#[derive(Debug, Args)]
pub struct SessionSynthArgs {
    /// Requests in all, spread over the conversations.
    #[arg(long, default_value_t = 40)]
    pub turns: u32,
    /// Depth the main conversation reaches, tokens (`120k`).
    #[arg(long, default_value = "120k", value_parser = crate::units::parse_tokens)]
    pub max_depth: u64,
    /// Conversations interleaved on one server: the main agent and subagents.
    #[arg(long, default_value_t = 1)]
    pub conversations: u32,
    /// PRNG seed: the same seed gives the same session.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// System prompt plus tool definitions, tokens (`6k`).
    #[arg(long, default_value = "6k", value_parser = crate::units::parse_tokens)]
    pub prefix: u64,
    /// Tokens each request asks the model for.
    #[arg(long, default_value_t = 64)]
    pub output_tokens: u64,
    /// Characters per token of the tokenizer the sizes aim at (1 for a byte vocabulary).
    #[arg(long, default_value_t = 4.0)]
    pub chars_per_token: f64,
    /// Inject a cache-breaker (repeatable): timestamp, nonce, reminder, tool-order, compaction.
    #[arg(long = "break", value_name = "NAME", value_parser = parse_breaker)]
    pub breakers: Vec<crate::agentic::synth::Breaker>,
    /// The session file to write.
    #[arg(short = 'o', long, value_name = "FILE.jsonl")]
    pub output: std::path::PathBuf,
}

/// `--break NAME`.
fn parse_breaker(s: &str) -> Result<crate::agentic::synth::Breaker, String> {
    s.parse()
        .map_err(|e: crate::agentic::synth::UnknownBreaker| e.to_string())
}

/// Prompt caching during a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReuseArg {
    /// Let the server reuse cached prefixes (`cache_prompt: true`).
    On,
    /// Recompute every prompt (`cache_prompt: false`).
    Off,
    /// The session twice: on, then off; side by side.
    Both,
}

/// `rooftune replay`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["model", "url"]))]
pub struct ReplayArgs {
    /// The session file (JSONL, docs/sessions.md).
    pub session: std::path::PathBuf,
    /// GGUF model to serve with a llama-server that rooftune starts and stops (repeatable: each is a target).
    #[arg(long, value_name = "FILE.gguf")]
    pub model: Vec<std::path::PathBuf>,
    /// A running OpenAI-compatible server (`http://HOST:PORT/v1`; repeatable: each is a target).
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,
    /// `model` field sent with --url.
    #[arg(long, value_name = "NAME", requires = "url")]
    pub model_name: Option<String>,
    /// Environment variable holding the API key for --url (never printed).
    #[arg(long, value_name = "VAR", requires = "url")]
    pub api_key_env: Option<String>,
    /// Server to start for --model: `llama` (a .gguf) or `mlx` (an MLX directory).
    #[arg(long, value_name = "NAME", default_value = "llama", value_parser = parse_backend)]
    pub backend: crate::server::BackendKind,
    /// Server binary (default: $ROOFTUNE_LLAMA_SERVER, PATH, then rooftune's build cache).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
    /// Prompt caching: on, off, or both (the session twice, side by side).
    #[arg(long, value_enum, default_value = "on")]
    pub reuse: ReuseArg,
    /// Hardware profile for predicted TTFT (default: a quick probe of this machine).
    #[arg(long = "hw", value_name = "PROFILE")]
    pub hw: Option<String>,
    /// No predicted TTFT (skips the probe).
    #[arg(long, conflicts_with = "hw")]
    pub no_predict: bool,
    /// Wait the recorded gaps between requests (`at_s`), as the client did.
    #[arg(long)]
    pub keep_gaps: bool,
    /// Put prompt text (tokens around each divergence) into exported reports too.
    #[arg(long)]
    pub show_text: bool,
    /// Time allowed for loading and for each request: `300`, `90s`, `5m`.
    #[arg(long, default_value = "600", value_parser = crate::units::parse_duration_s)]
    pub timeout: f64,
    /// Append each run to DIR/trials.jsonl as a hand-run trial (its median TTFT, for `campaign compare`); one --model only.
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub log: Option<std::path::PathBuf>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Extra llama-server flags, after `--` (`-- -c 32768 -np 1`).
    #[arg(last = true, value_name = "SERVER FLAGS")]
    pub extra: Vec<String>,
}

/// `rooftune report`
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A campaign folder (`experiments/NAME`), its `trials.jsonl`, or a `bench`, `replay` or `logs analyze` JSON file.
    pub path: std::path::PathBuf,
    /// Output format (default html) and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `rooftune logs ...`
#[derive(Debug, Subcommand)]
pub enum LogsCommand {
    /// Read the logs under PATH... into per-call tables: prompt depth, cache share, TTFT and decode by input depth, where the time went. Never prints their text.
    Analyze(LogsAnalyzeArgs),
}

/// `rooftune logs analyze`
#[derive(Debug, Args)]
pub struct LogsAnalyzeArgs {
    /// Files or folders (default: `${CODEX_HOME:-~/.codex}`, `~/.claude/projects`, `~/.config/claude/projects`, `$CLAUDE_CONFIG_DIR`).
    pub paths: Vec<std::path::PathBuf>,
    /// Only logs written since: `30d`, `12h`, `2w` or a date `2026-01-31`.
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// One row per source, or per source and model (provider/model for request logs).
    #[arg(long, value_enum, default_value = "source")]
    pub by: LogsBy,
    /// Reader threads (default: every core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// What `campaign export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// A systemd unit.
    Systemd,
    /// A launchd agent plist.
    Launchd,
    /// A shell script.
    Shell,
}

/// `rooftune campaign export`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("kind").required(true).args(["systemd", "launchd", "shell"]))]
pub struct ExportArgs {
    /// Campaign name (a folder under --dir), a folder, or a trials.jsonl.
    pub name: String,
    /// Folder holding campaign folders.
    #[arg(long, default_value = "experiments")]
    pub dir: std::path::PathBuf,
    /// A systemd unit.
    #[arg(long)]
    pub systemd: bool,
    /// A launchd agent (`~/Library/LaunchAgents/LABEL.plist`).
    #[arg(long)]
    pub launchd: bool,
    /// A shell script.
    #[arg(long)]
    pub shell: bool,
    /// Port for the server (default: the server's own).
    #[arg(long)]
    pub port: Option<u16>,
    /// launchd label / systemd description (default `local.rooftune.NAME`).
    #[arg(long)]
    pub label: Option<String>,
    /// Output file (`-` for standard output).
    #[command(flatten)]
    pub out: OutputArgs,
    /// Filled from the flags above.
    #[arg(skip = ServiceKind::Shell)]
    pub kind: ServiceKind,
}

/// `--by`
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogsBy {
    /// One row per source.
    Source,
    /// One row per source and model.
    Model,
}

/// Where a report goes and in which format (every command that reports).
#[derive(Debug, Clone, Args, Default)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format, conflicts_with = "json")]
    pub format: Option<crate::report::format::Format>,
    /// Short for `--format json`.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Short for `--format markdown`.
    #[arg(long)]
    pub markdown: bool,
    /// Write the report to FILE (`-` for standard output); created before any work starts.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// `--format text|json|markdown|csv`.
fn parse_format(s: &str) -> Result<crate::report::format::Format, String> {
    s.parse()
}

/// `--backend NAME`: one of the backends rooftune can start.
fn parse_backend(s: &str) -> Result<crate::server::BackendKind, String> {
    s.parse()
        .map_err(|e: crate::server::UnknownBackend| e.to_string())
}

/// `rooftune calibrate`
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// `rooftune bench --json` results and campaign logs (`experiments/NAME` or its `trials.jsonl`: the defaults' trial counts), at least two models in all (each names its model file).
    #[arg(required_unless_present = "run")]
    pub results: Vec<std::path::PathBuf>,
    /// Results of models to leave out of the fit and predict with it (bench results or campaign logs, comma separated).
    #[arg(long, value_delimiter = ',', value_name = "FILE")]
    pub held_out: Vec<std::path::PathBuf>,
    /// Measuring generated models here first (`--run`).
    #[command(flatten)]
    pub run: CalibrateRunArgs,
    /// Hardware profile the measurements were made on (default: probe this machine).
    #[arg(long)]
    pub hw: Option<String>,
    /// Save the profile with the fitted calibration as NAME (then `--hw NAME` or `predict --calibration NAME` uses it).
    #[arg(long, value_name = "NAME")]
    pub save: Option<String>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `rooftune calibrate --run ...`
#[derive(Debug, Args)]
pub struct CalibrateRunArgs {
    /// Measure generated models of --shapes with the real server, fit on them, and predict the --validate models.
    #[arg(long)]
    pub run: bool,
    /// Generated shapes to fit on, HIDDENxLAYERS (`hN`: N attention heads; `v` at the end: with the --vocab-from tokenizer; `:TYPE` for weights other than q4_0: f16, q8_0, q6_K, q5_0, q4_K).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1024x12,768x24,1024x8h4,1024x8:q8_0,768x16:q8_0,1024x8h4:q8_0,1024x8:q5_0,768x16:q5_0",
        requires = "run"
    )]
    pub shapes: Vec<String>,
    /// Models measured but left out of the fit: shapes or .gguf files (the real model).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1024x12h8",
        requires = "run"
    )]
    pub validate: Vec<String>,
    /// A GGUF whose tokenizer the `v` shapes copy (a large output vocabulary).
    #[arg(long, value_name = "FILE.gguf", requires = "run")]
    pub vocab_from: Option<std::path::PathBuf>,
    /// Decode depths, tokens.
    #[arg(long, value_delimiter = ',', default_value = "0,4096", value_parser = crate::units::parse_tokens, requires = "run")]
    pub depths: Vec<u64>,
    /// Prefill prompt length, tokens.
    #[arg(long, default_value = "512", value_parser = crate::units::parse_tokens, requires = "run")]
    pub prompt_tokens: u64,
    /// Tokens generated per decode request.
    #[arg(long, default_value_t = 32, requires = "run")]
    pub n_predict: u64,
    /// Measured repeats per point.
    #[arg(long, default_value_t = 3, requires = "run")]
    pub repeats: u32,
    /// Server starts per model: each start measures the whole plan, the fit takes the mean over starts (a start can land on a pace 10-20% off the next one's).
    #[arg(long, default_value_t = 1, requires = "run")]
    pub starts: u32,
    /// The llama-server binary (default: $ROOFTUNE_LLAMA_SERVER, the cached install, PATH).
    #[arg(long, value_name = "PATH", requires = "run")]
    pub server_bin: Option<std::path::PathBuf>,
}

/// `rooftune tune`
#[derive(Debug, Args)]
pub struct TuneArgs {
    /// The campaign spec (`experiments/NAME.toml`).
    pub spec: std::path::PathBuf,
    /// Continue the campaign's log after Ctrl-C, a crash or a reboot.
    #[arg(long)]
    pub resume: bool,
    /// With --resume: measure the machine again for the ceilings instead of keeping the campaign's first ones.
    #[arg(long, requires = "resume")]
    pub reprobe: bool,
    /// Print the trials the budget allows, the skipped configurations and a time estimate; start nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Folder for the log (default: `NAME/` beside the spec).
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
    /// The server binary (default: the spec's `server`, then the usual places).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
    /// Time allowed for a server to load and for each request: `300`, `90s`, `5m`.
    #[arg(long, value_name = "TIME", default_value = "300", value_parser = crate::units::parse_duration_s)]
    pub timeout: f64,
    /// Override the spec's `backend` (default: `llama`).
    #[arg(long, value_name = "NAME", value_parser = parse_backend)]
    pub backend: Option<crate::server::BackendKind>,
    /// Override the spec's trial budget.
    #[arg(long, value_name = "N")]
    pub trials: Option<u32>,
    /// Override the spec's solver seed.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Measure every configuration of the space, fully (ground truth for the solver).
    #[arg(long)]
    pub grid: bool,
    /// Override the spec's time budget, minutes.
    #[arg(long, value_name = "MIN")]
    pub minutes: Option<f64>,
    /// Report format and file.
    #[command(flatten)]
    pub report: OutputArgs,
}

/// `rooftune campaign ...`
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// List the campaigns in a folder.
    List {
        /// Folder holding campaign folders.
        #[arg(long, default_value = "experiments")]
        dir: std::path::PathBuf,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// The report of one campaign: trials by objective, winner, command line.
    Show {
        /// Campaign name (a folder under --dir), a folder, or a trials.jsonl.
        name: String,
        /// Folder holding campaign folders.
        #[arg(long, default_value = "experiments")]
        dir: std::path::PathBuf,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Write the winner as a systemd unit, a launchd agent or a shell script.
    Export(ExportArgs),
    /// Two campaigns' winners side by side, the flags that differ, and (one architecture, e.g. llama-server and mlx_lm.server on `synth --format both`) every measurement as % of one ceiling.
    Compare {
        /// First campaign.
        a: String,
        /// Second campaign.
        b: String,
        /// Folder holding campaign folders.
        #[arg(long, default_value = "experiments")]
        dir: std::path::PathBuf,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// `rooftune hw ...`
#[derive(Debug, Subcommand)]
pub enum HwCommand {
    /// List hardware profiles.
    List(JsonFlag),
    /// Show one profile with the source of every number.
    Show {
        /// Profile name.
        name: String,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Detect this machine, measure its memory bandwidth and CPU compute, and print (or save) a profile.
    Probe(ProbeArgs),
    /// List the link profiles for `predict --cluster ... --link NAME` (rate, latency, sources).
    Links(JsonFlag),
}

/// `rooftune hw probe`
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// Save the profile as NAME in the config directory, for `--hw NAME`.
    #[arg(long, value_name = "NAME")]
    pub save: Option<String>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Smaller arrays and fewer repetitions (about a second).
    #[arg(long)]
    pub quick: bool,
    /// Size of each of the three bandwidth arrays, MiB (default 256, 128 with --quick, at least 4x the last-level cache).
    #[arg(long, value_name = "MiB")]
    pub array_mib: Option<u64>,
}

/// `rooftune model ...`
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// List model specs.
    List(JsonFlag),
    /// Show one model spec, its derived parameter counts and per-token bytes.
    Show {
        /// Model name.
        name: String,
        /// Quantization for the byte figures.
        #[arg(long, default_value = "q4_k_m")]
        quant: String,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List quantization types and mixes with their bits per weight.
    Quants(JsonFlag),
    /// Read a GGUF file (or any shard of a split model) and print its model spec.
    Inspect {
        /// The `.gguf` file, or an MLX model directory (config.json + *.safetensors).
        file: std::path::PathBuf,
        /// Print a `model-specs/` TOML file.
        #[arg(long, conflicts_with = "json")]
        toml: bool,
        /// Output format and file.
        #[command(flatten)]
        out: OutputArgs,
    },
}

/// Just `--json`.
#[derive(Debug, Args)]
pub struct JsonFlag {
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Where the model runs.
#[derive(Debug, Args, Clone)]
pub struct MachineArgs {
    /// Hardware profile: a name (`m3-ultra-512`), `2x rtx-3090` for several GPUs (or give only --bandwidth).
    #[arg(
        long = "hw",
        value_name = "PROFILE",
        required_unless_present_any = ["bandwidth", "cluster"]
    )]
    pub hw: Option<String>,
    /// Host memory profile that offloaded layers/experts live in (`ddr5-6000-2ch`).
    #[arg(long = "host", value_name = "PROFILE")]
    pub host: Option<String>,
    /// Override the bandwidth of the (first) device: `800`, `800GB/s`, `1.2TB/s`; alone, it is the whole machine.
    #[arg(long, value_name = "GB/s", value_parser = crate::units::parse_bandwidth_gb_s)]
    pub bandwidth: Option<f64>,
    /// Override the memory capacity of the (first) device: `192GiB`.
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_bytes)]
    pub memory: Option<f64>,
    /// Override decode efficiency eta (0..1].
    #[arg(long)]
    pub eta: Option<f64>,
    /// Override the per-token overhead c, milliseconds.
    #[arg(long, value_name = "MS")]
    pub overhead_ms: Option<f64>,
    /// Tensor split across several GPUs (`-ts`), e.g. `3,1`.
    #[arg(long, value_name = "SHARES")]
    pub tensor_split: Option<String>,
}

/// Which model at which quantization.
#[derive(Debug, Args, Clone)]
pub struct ModelArgs {
    /// Model spec name (`glm-5.1`).
    #[arg(long = "model", value_name = "NAME")]
    pub model: String,
    /// Quantization: a ggml type (`q4_0`, `iq3_xxs`), a mix (`q4_k_m`, `ud-iq3_xxs`, `mlx-4bit`) or `bpw:3.6`.
    #[arg(long, default_value = "q4_k_m")]
    pub quant: String,
    /// What-if: active parameters per token (`40e9`, `40B`), scaling the model's active weights.
    #[arg(long, value_name = "N")]
    pub active_params: Option<String>,
    /// What-if: bits per weight for every tensor.
    #[arg(long)]
    pub bpw: Option<f64>,
}

/// `rooftune predict`
#[derive(Debug, Args)]
pub struct PredictArgs {
    #[command(flatten)]
    /// Machine.
    pub machine: MachineArgs,
    #[command(flatten)]
    /// Model.
    pub model: ModelArgs,
    /// Requested context (`-c`): `8192`, `200k`, `1M`.
    #[arg(long, default_value = "8192", value_parser = crate::units::parse_tokens)]
    pub ctx: u64,
    /// Decode depth(s) to show, comma separated (`5460`, `0,32k,100k`).
    #[arg(long, value_delimiter = ',', value_parser = crate::units::parse_tokens)]
    pub depth: Vec<u64>,
    /// Placement as llama.cpp flags: `ngl=N`, `ncmoe=N`, `cpu-moe` (comma separated). Default: the best that fits.
    #[arg(long)]
    pub placement: Option<String>,
    /// K cache type (`-ctk`).
    #[arg(long, default_value = "f16")]
    pub ctk: String,
    /// V cache type (`-ctv`).
    #[arg(long, default_value = "f16")]
    pub ctv: String,
    /// Parallel slots (`-np`).
    #[arg(long, default_value_t = 1)]
    pub np: u64,
    /// Micro-batch (`-ub`).
    #[arg(long, default_value_t = 512)]
    pub ubatch: u64,
    /// Decode target, tok/s.
    #[arg(long, default_value_t = 100.0)]
    pub target: f64,
    /// Prompt length for time to first token (default: the deepest depth, or 8192).
    #[arg(long, value_parser = crate::units::parse_tokens)]
    pub prompt: Option<u64>,
    /// Tokens of the prompt already cached (prefix reuse).
    #[arg(long, default_value = "0", value_parser = crate::units::parse_tokens)]
    pub cached: u64,
    /// Use the estimate terms fitted by `rooftune calibrate --save NAME` (a saved profile's calibration).
    #[arg(long, value_name = "NAME")]
    pub calibration: Option<String>,
    /// Split the model across hosts on llama.cpp's RPC backend: `2x m3-ultra-512`, or
    /// `m3-ultra-512,rtx-4090` (head first; the others run ggml-rpc-server).
    #[arg(long, value_name = "HOSTS", conflicts_with_all = ["hw", "bandwidth"])]
    pub cluster: Option<String>,
    #[command(flatten)]
    /// The link between the hosts.
    pub link: LinkArgs,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// The network between the hosts of a cluster.
#[derive(Debug, Args, Clone)]
pub struct LinkArgs {
    /// Link profile between head and workers (`tb5`, `10gbe`, `25gbe`, `100gbe`, `loopback`; `rooftune hw links`).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "10gbe",
        requires = "cluster"
    )]
    pub link: String,
    /// Override the link's one-way latency, milliseconds (`ping` round trip / 2).
    #[arg(long, value_name = "MS", requires = "cluster")]
    pub link_latency_ms: Option<f64>,
    /// Override the link's rate, decimal Gbit/s (`10` for 10GbE).
    #[arg(long, value_name = "GBIT", requires = "cluster")]
    pub link_gbit: Option<f64>,
}

/// `rooftune matrix`
#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Decode target, tok/s.
    #[arg(long, default_value_t = 100.0)]
    pub target: f64,
    /// Quantization for every model.
    #[arg(long, default_value = "q4_k_m")]
    pub quant: String,
    /// Context for the memory fit.
    #[arg(long, default_value = "32k", value_parser = crate::units::parse_tokens)]
    pub ctx: u64,
    /// Decode depth.
    #[arg(long, default_value = "0", value_parser = crate::units::parse_tokens)]
    pub depth: u64,
    /// Host memory for offload on discrete GPUs (none: the model must fit in VRAM).
    #[arg(long)]
    pub host: Option<String>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `rooftune speculate`
#[derive(Debug, Args)]
pub struct SpeculateArgs {
    /// Per-token acceptance rate, 0..1.
    #[arg(long)]
    pub acceptance: f64,
    /// Draft length (tokens proposed per cycle).
    #[arg(long, default_value_t = 4)]
    pub draft_len: u32,
    /// Draft step cost as a share of a target step (`0.15` for a 4B draft on a 27B target; 0 for prompt lookup).
    #[arg(long)]
    pub cost: f64,
    /// Plain decode rate to scale, tok/s.
    #[arg(long)]
    pub base: Option<f64>,
    /// Target rate, tok/s: prints the acceptance needed.
    #[arg(long)]
    pub target: Option<f64>,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Architecture of a synthetic model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthArchArg {
    /// Dense `llama`.
    Llama,
    /// Mixture of experts (`qwen3moe`).
    Moe,
}

/// Weight type of a synthetic model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SynthQuantArg {
    /// 32-bit floats.
    F32,
    /// 16-bit floats.
    F16,
    /// 8-bit blocks.
    #[value(name = "q8_0")]
    Q8_0,
    /// 4-bit blocks.
    #[value(name = "q4_0")]
    Q4_0,
    /// 5-bit blocks.
    #[value(name = "q5_0")]
    Q5_0,
    /// 4-bit K-quant super-blocks (hidden and FFN multiples of 256).
    #[value(name = "q4_K")]
    Q4K,
    /// 6-bit K-quant super-blocks (hidden and FFN multiples of 256).
    #[value(name = "q6_K")]
    Q6K,
}

/// What `rooftune synth` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SynthFormat {
    /// One GGUF file (llama-server).
    #[default]
    Gguf,
    /// An MLX model directory: float32 safetensors, an SPM-style tokenizer and a chat template (mlx_lm.server).
    Mlx,
    /// Both, with the same float32 weights and vocabulary: `-o DIR` gets `DIR/model.gguf` and `DIR/mlx/`.
    Both,
}

/// `rooftune synth`
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Architecture.
    #[arg(long, value_enum, default_value = "llama")]
    pub arch: SynthArchArg,
    /// Target file size (`400MB`, `1.5GiB`): picks layers, hidden and FFN sizes.
    #[arg(long, conflicts_with_all = ["layers", "hidden"], required_unless_present_all = ["layers", "hidden"])]
    pub size: Option<String>,
    /// Decoder layers.
    #[arg(long, requires = "hidden")]
    pub layers: Option<u32>,
    /// Hidden size (`n_embd`).
    #[arg(long, requires = "layers")]
    pub hidden: Option<u64>,
    /// FFN size (dense), or each expert's FFN size (MoE). Default 2.75x (dense) or 0.75x (MoE) hidden.
    #[arg(long)]
    pub ff: Option<u64>,
    /// Attention heads (default hidden / 64, or / 128 from hidden 2048).
    #[arg(long)]
    pub heads: Option<u64>,
    /// KV heads (default heads / 4).
    #[arg(long)]
    pub kv_heads: Option<u64>,
    /// Routed experts (MoE).
    #[arg(long)]
    pub experts: Option<u32>,
    /// Experts used per token (MoE).
    #[arg(long)]
    pub experts_used: Option<u32>,
    /// Weight type of a GGUF (default q8_0); MLX directories are always float32.
    #[arg(long, value_enum)]
    pub quant: Option<SynthQuantArg>,
    /// What to write: a GGUF file, an MLX model directory, or both with the same weights (`-o` names the directory).
    #[arg(long, value_enum, default_value = "gguf")]
    pub format: SynthFormat,
    /// Vocabulary size of an MLX directory's tokenizer (GGUFs carry 259 byte tokens or --vocab-from's).
    #[arg(long, value_name = "TOKENS")]
    pub vocab_size: Option<u64>,
    /// Training context (`4096`, `32k`).
    #[arg(long, default_value = "4096")]
    pub ctx_train: String,
    /// Copy the tokenizer from this GGUF (e.g. llama.cpp's `models/ggml-vocab-qwen2.gguf`).
    #[arg(long, value_name = "FILE.gguf")]
    pub vocab_from: Option<std::path::PathBuf>,
    /// PRNG seed: the same seed gives the same file.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file.
    #[arg(short = 'o', long)]
    pub output: std::path::PathBuf,
    /// Write headers only and leave tensor data as a hole (a sparse file, for tests of huge models).
    #[arg(long)]
    pub sparse: bool,
    /// Print what was written as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rooftune bench`
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["model", "url"]))]
pub struct BenchArgs {
    /// GGUF model to serve with a llama-server that rooftune starts and stops.
    #[arg(long, value_name = "FILE.gguf")]
    pub model: Option<std::path::PathBuf>,
    /// Measure a running OpenAI-compatible server instead (`http://HOST:PORT/v1`).
    #[arg(long, value_name = "URL", conflicts_with_all = ["server_bin", "port"])]
    pub url: Option<String>,
    /// `model` field sent with --url (default: the server's first model, or none).
    #[arg(long, value_name = "NAME", requires = "url")]
    pub model_name: Option<String>,
    /// Environment variable holding the API key for --url (never printed).
    #[arg(long, value_name = "VAR", requires = "url")]
    pub api_key_env: Option<String>,
    /// The server to start for --model.
    #[arg(long, value_name = "NAME", default_value = "llama", value_parser = parse_backend, conflicts_with = "url")]
    pub backend: crate::server::BackendKind,
    /// Server binary (default: the backend's variable such as $ROOFTUNE_LLAMA_SERVER, PATH, then rooftune's build cache).
    #[arg(long, value_name = "PATH")]
    pub server_bin: Option<std::path::PathBuf>,
    /// Hardware profile for the ceilings (default: the probed machine, when available).
    #[arg(long = "hw", value_name = "PROFILE")]
    pub hw: Option<String>,
    /// Host memory profile for offloaded layers.
    #[arg(long = "host", value_name = "PROFILE", requires = "hw")]
    pub host: Option<String>,
    /// Override the bandwidth of the profile: `18.7GB/s`.
    #[arg(long, value_name = "GB/s", requires = "hw", value_parser = crate::units::parse_bandwidth_gb_s)]
    pub bandwidth: Option<f64>,
    /// Decode depths, comma separated (capped by the slot context).
    #[arg(long, value_delimiter = ',', default_value = "0,2048,8192", value_parser = crate::units::parse_tokens)]
    pub depths: Vec<u64>,
    /// Prompt length for prefill and time to first token.
    #[arg(long, default_value = "512", value_parser = crate::units::parse_tokens)]
    pub prompt_tokens: u64,
    /// Tokens generated per decode request.
    #[arg(long, default_value_t = 64)]
    pub n_predict: u64,
    /// Measured repeats per point (after one discarded warm-up).
    #[arg(long, default_value_t = 5)]
    pub repeats: u32,
    /// Streams at once (aggregate and per-stream tok/s).
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// Port for the server (another is picked if it is in use).
    #[arg(long)]
    pub port: Option<u16>,
    /// Time allowed for loading and for each request: `300`, `90s`, `5m`.
    #[arg(long, default_value = "300", value_parser = crate::units::parse_duration_s)]
    pub timeout: f64,
    /// Output format and file.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Extra llama-server flags, after `--` (`-- -t 2 -fa on`).
    #[arg(last = true, value_name = "SERVER FLAGS")]
    pub extra: Vec<String>,
    /// Append this run to a campaign's log (a folder such as `experiments/NAME`), as a hand-run trial.
    #[arg(long, value_name = "DIR", conflicts_with = "url")]
    pub log: Option<std::path::PathBuf>,
    /// Split the model across llama.cpp RPC workers (`host:port`, comma separated), passed to llama-server as `--rpc`.
    #[arg(
        long,
        value_name = "HOST:PORT",
        value_delimiter = ',',
        conflicts_with = "url"
    )]
    pub rpc: Vec<String>,
    /// Start N RPC workers (`ggml-rpc-server`) on loopback for this run; they stop with the server.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with = "url")]
    pub rpc_workers: u32,
    /// Threads for each worker rooftune starts (`-t`).
    #[arg(long, value_name = "N")]
    pub rpc_threads: Option<u32>,
    /// What the link to the workers is, recorded with the results (`10gbe`, `netem 20ms 1gbit`).
    #[arg(long, value_name = "TEXT")]
    pub rpc_link: Option<String>,
}
