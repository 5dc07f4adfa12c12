//! Agents' usage logs and request logs, read into the tables of "where an
//! agent's time goes": per source or model, the prompt depth and cache share
//! of each call, time to first token and decode rate by input depth, and
//! where the time went between calls.
//!
//! Pure parsing and aggregation, no printing. The flow is
//! [`walk`] (find files, open gzip) -> one reader per format ([`codex`],
//! [`claude`], [`requests`]) -> [`record::Request`] (numbers only, never text)
//! -> [`summary`]. Files are read on all cores, line by line, with a cheap
//! substring check before any JSON parsing and borrowed strings in the
//! deserialised structs; memory holds one small record per model call.

pub mod claude;
pub mod codex;
pub mod collect;
pub mod record;
pub mod requests;
pub mod summary;
pub mod walk;

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

pub use record::{Request, Source};
pub use summary::{GroupBy, Summary};

/// How many malformed lines are listed by place (all are counted).
pub const MALFORMED_LISTED: usize = 20;

/// What can stop `logs analyze` (a bad line never does: it is counted).
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    /// A path given on the command line cannot be read.
    #[error("cannot read `{}`: {source} (hint: check the path; with no PATH, rooftune reads ~/.codex and ~/.claude/projects)", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `--since` was neither a duration nor a date.
    #[error(
        "--since `{value}` is not a duration or a date (hint: `30d`, `12h`, `2w` or `2026-01-31`)"
    )]
    BadSince {
        /// What was typed.
        value: String,
    },
    /// None of the default places exists.
    #[error("no agent logs found in the usual places ({tried}) (hint: name the folders or files: `rooftune logs analyze PATH...`)")]
    NothingFound {
        /// The places looked at.
        tried: String,
    },
}

impl LogsError {
    /// Whether the error is the user's input (exit code 2) rather than the machine.
    pub fn is_usage(&self) -> bool {
        true
    }
}

/// What one file gave.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Model calls, in file order.
    pub records: Vec<Request>,
    /// The first malformed lines: line number and reason.
    pub malformed: Vec<(u64, String)>,
    /// Every malformed line.
    pub malformed_count: u64,
    /// Lines skipped as known duplicates.
    pub counters: Skipped,
}

impl Parsed {
    /// Count a malformed line (and keep its place while few are kept).
    pub fn malformed(&mut self, line_no: u64, reason: &str) {
        self.malformed_count += 1;
        if self.malformed.len() < MALFORMED_LISTED {
            // serde_json's messages name a line and column of the line itself: keep the column only.
            let reason = reason.split(" at line ").next().unwrap_or(reason);
            self.malformed.push((line_no, reason.to_string()));
        }
    }
}

/// Rows that describe a model call already counted, by trap.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Codex `token_count` events repeated with unchanged totals.
    pub codex_repeated: u64,
    /// Codex events replayed at the start of a forked or subagent thread.
    pub codex_replayed: u64,
    /// Claude Code rows of a response already counted (streaming, copies).
    pub claude_rows_merged: u64,
}

impl Skipped {
    fn add(&mut self, o: Skipped) {
        self.codex_repeated += o.codex_repeated;
        self.codex_replayed += o.codex_replayed;
        self.claude_rows_merged += o.claude_rows_merged;
    }
}

/// What to read and how to group it.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files and folders.
    pub paths: Vec<PathBuf>,
    /// Skip files last written before, and records stamped before, this time.
    pub since: Option<SystemTime>,
    /// Rows per source, or per source and model.
    pub by: GroupBy,
    /// Worker threads (at least 1).
    pub threads: usize,
}

/// Files seen, by kind.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Files {
    /// Codex rollouts read.
    pub codex: u64,
    /// Claude Code transcripts read.
    pub claude: u64,
    /// Request logs read.
    pub requests: u64,
    /// Of those, gzip-compressed.
    pub gzip: u64,
    /// Files of no known kind, not read past their first lines.
    pub skipped: u64,
    /// Files that could not be opened or ended in an I/O error.
    pub unreadable: Vec<String>,
    /// Bytes on disk of the files read.
    pub bytes: u64,
}

/// A malformed line: where and why (never its content).
#[derive(Debug, Clone, Serialize)]
pub struct Malformed {
    /// `path:line`.
    pub place: String,
    /// The parser's reason.
    pub reason: String,
}

/// The whole analysis: what was read and what it says.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Files seen.
    pub files: Files,
    /// Malformed lines, all counted.
    pub malformed_lines: u64,
    /// The first [`MALFORMED_LISTED`] of them.
    pub malformed: Vec<Malformed>,
    /// Duplicate rows skipped, by trap.
    pub skipped: Skipped,
    /// Records dropped by `--since`.
    pub before_since: u64,
    /// The tables.
    pub summary: Summary,
}

/// Read every file under `opts.paths` and summarise.
pub fn analyze(opts: &Options) -> Result<Analysis, LogsError> {
    let found = walk::find(&opts.paths, opts.since)?;
    let since_ms = opts.since.and_then(|t| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_millis() as i64)
    });
    let mut merge = Merge {
        found: &found,
        files: Files::default(),
        malformed: Vec::new(),
        malformed_lines: 0,
        skipped: Skipped::default(),
        collector: collect::Collector::new(opts.by, since_ms),
    };
    read_all(&found, opts.threads.max(1), |i, o| merge.add(i, o));
    let Merge {
        mut files,
        mut malformed,
        malformed_lines,
        mut skipped,
        collector,
        ..
    } = merge;
    files.unreadable.sort();
    malformed.sort_by_key(|(file, line, _)| (*file, *line));
    malformed.truncate(MALFORMED_LISTED);
    skipped.claude_rows_merged += collector.merged;
    Ok(Analysis {
        files,
        malformed_lines,
        malformed: malformed
            .into_iter()
            .map(|(file, line, reason)| Malformed {
                place: format!("{}:{line}", found[file].path.display()),
                reason,
            })
            .collect(),
        skipped,
        before_since: collector.before_since,
        summary: summary::from_collector(&collector),
    })
}

/// The running totals while files arrive (in any order).
struct Merge<'a> {
    found: &'a [walk::Found],
    files: Files,
    malformed: Vec<(usize, u64, String)>,
    malformed_lines: u64,
    skipped: Skipped,
    collector: collect::Collector,
}

impl Merge<'_> {
    fn add(&mut self, i: usize, o: Outcome) {
        let f = &self.found[i];
        match o.kind {
            walk::Kind::Codex => self.files.codex += 1,
            walk::Kind::Claude => self.files.claude += 1,
            walk::Kind::RequestsCsv | walk::Kind::RequestsJsonl => self.files.requests += 1,
            walk::Kind::Unknown => self.files.skipped += 1,
        }
        if o.kind != walk::Kind::Unknown {
            self.files.bytes += f.size_bytes;
            self.files.gzip += u64::from(o.gzip);
        }
        if let Some(e) = o.io_error {
            self.files
                .unreadable
                .push(format!("{}: {e}", f.path.display()));
        }
        self.malformed_lines += o.parsed.malformed_count;
        self.malformed.extend(
            o.parsed
                .malformed
                .into_iter()
                .map(|(line, reason)| (i, line, reason)),
        );
        self.skipped.add(o.parsed.counters);
        self.collector.add_file(i, o.parsed.records);
    }
}

/// What reading one file gave.
struct Outcome {
    kind: walk::Kind,
    gzip: bool,
    io_error: Option<std::io::Error>,
    parsed: Parsed,
}

/// Read files on `threads` workers, biggest first, handing each outcome to
/// `sink` on this thread as it arrives (so only a few files' records are in
/// memory at once).
fn read_all(found: &[walk::Found], threads: usize, mut sink: impl FnMut(usize, Outcome)) {
    let mut order: Vec<usize> = (0..found.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(found[i].size_bytes));
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Outcome)>(threads * 2);
    std::thread::scope(|s| {
        for _ in 0..threads.min(found.len()) {
            let tx = tx.clone();
            let (next, order) = (&next, &order);
            s.spawn(move || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                if tx.send((i, read_one(&found[i].path))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        for (i, o) in rx {
            sink(i, o);
        }
    });
}

/// Read one file: open, tell its kind, hand it to its reader.
fn read_one(path: &Path) -> Outcome {
    let mut parsed = Parsed::default();
    let opened = match walk::open(path) {
        Ok(o) => o,
        Err(e) => {
            return Outcome {
                kind: walk::Kind::Unknown,
                gzip: false,
                io_error: Some(e),
                parsed,
            }
        }
    };
    let kind = walk::kind(path, &opened.head);
    let stem = session_stem(path);
    let mut lines = walk::LineReader::new(opened.reader);
    match kind {
        walk::Kind::Codex => codex::parse(&mut lines, &opened.head, &stem, &mut parsed),
        walk::Kind::Claude => claude::parse(&mut lines, &stem, &mut parsed),
        walk::Kind::RequestsJsonl => requests::parse_jsonl(&mut lines, &stem, &mut parsed),
        walk::Kind::RequestsCsv => requests::parse_csv(&mut lines, &stem, &mut parsed),
        walk::Kind::Unknown => {}
    }
    Outcome {
        kind,
        gzip: opened.gzip,
        io_error: lines.error,
        parsed,
    }
}

/// A file's name without `.gz` and its format extension.
fn session_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem.to_string(),
        _ => name.to_string(),
    }
}

/// The usual places: `${CODEX_HOME:-~/.codex}`, `~/.claude/projects`,
/// `~/.config/claude/projects` and each folder of `CLAUDE_CONFIG_DIR`
/// (comma-separated, as ccusage reads it; `projects/` below each); those that exist.
pub fn default_paths() -> Result<Vec<PathBuf>, LogsError> {
    let home = dirs::home_dir();
    let mut tried = Vec::new();
    match std::env::var_os("CODEX_HOME") {
        Some(h) if !h.is_empty() => tried.push(PathBuf::from(h)),
        _ => tried.extend(home.as_ref().map(|h| h.join(".codex"))),
    }
    if let Some(h) = &home {
        tried.push(h.join(".claude/projects"));
        tried.push(h.join(".config/claude/projects"));
    }
    if let Ok(dirs) = std::env::var("CLAUDE_CONFIG_DIR") {
        for d in dirs.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            let d = PathBuf::from(d);
            tried.push(if d.ends_with("projects") {
                d
            } else {
                d.join("projects")
            });
        }
    }
    let found: Vec<PathBuf> = tried.iter().filter(|p| p.is_dir()).cloned().collect();
    if found.is_empty() {
        return Err(LogsError::NothingFound {
            tried: tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let mut uniq = found;
    uniq.dedup();
    Ok(uniq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_drop_gz_and_extension() {
        assert_eq!(
            session_stem(Path::new("a/b/rollout-x.jsonl.gz")),
            "rollout-x"
        );
        assert_eq!(session_stem(Path::new("run.csv")), "run");
        assert_eq!(session_stem(Path::new(".hidden")), ".hidden");
    }
}
