//! Finding log files and reading them line by line: directories are walked
//! (symlinked folders are not followed), gzip is recognised by its magic bytes
//! whatever the name, `--since` drops files last written before the cutoff,
//! and each file's kind is told from its name and first lines.

use super::LogsError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// How much of each file is read ahead to tell its kind (and Codex's subagent mark).
pub const HEAD_BYTES: u64 = 16 * 1024;

/// A file to read.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its path, as the walk found it.
    pub path: PathBuf,
    /// Size on disk, bytes (compressed size for gzip).
    pub size_bytes: u64,
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A Codex CLI rollout.
    Codex,
    /// A Claude Code transcript (main thread or subagent).
    Claude,
    /// A request log, one JSON object per line.
    RequestsJsonl,
    /// A request log, CSV with a header line.
    RequestsCsv,
    /// Anything else (Codex's `history.jsonl`, config): skipped, never read further.
    Unknown,
}

/// Lines of a file, numbered from 1, without their line ending; blank lines skipped.
pub trait Lines {
    /// The next non-blank line and its number, or `None` at the end (or on an I/O error).
    fn next_line(&mut self) -> Option<(u64, &[u8])>;
}

/// [`Lines`] over any reader, reusing one buffer.
pub struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    line_no: u64,
    /// The I/O error that ended reading early, if one did.
    pub error: Option<io::Error>,
}

impl<R: BufRead> LineReader<R> {
    /// Wrap a reader.
    pub fn new(reader: R) -> Self {
        LineReader {
            reader,
            buf: Vec::with_capacity(64 * 1024),
            line_no: 0,
            error: None,
        }
    }
}

impl<R: BufRead> Lines for LineReader<R> {
    fn next_line(&mut self) -> Option<(u64, &[u8])> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {
                    self.line_no += 1;
                    let end = self
                        .buf
                        .iter()
                        .rposition(|b| !b.is_ascii_whitespace())
                        .map_or(0, |i| i + 1);
                    if end > 0 {
                        return Some((self.line_no, &self.buf[..end]));
                    }
                }
                Err(e) => {
                    self.error = Some(e);
                    return None;
                }
            }
        }
    }
}

/// An open file: its first bytes (decompressed) and a reader from the start.
pub struct Opened {
    /// The first [`HEAD_BYTES`] (fewer for a short file), decompressed.
    pub head: Vec<u8>,
    /// The whole content from the start, decompressed.
    pub reader: Box<dyn BufRead + Send>,
    /// Whether it was gzip.
    pub gzip: bool,
}

/// Open a file, decompressing gzip (told by its magic bytes).
pub fn open(path: &Path) -> io::Result<Opened> {
    let mut file = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    let mut inner: Box<dyn Read + Send> = if gzip {
        Box::new(MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    inner.by_ref().take(HEAD_BYTES).read_to_end(&mut head)?;
    let reader = Cursor::new(head.clone()).chain(inner);
    Ok(Opened {
        head,
        reader: Box::new(BufReader::with_capacity(256 * 1024, reader)),
        gzip,
    })
}

/// Tell a file's kind from its name and first lines.
pub fn kind(path: &Path, head: &[u8]) -> Kind {
    use memchr::memmem::find;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".csv") || name.ends_with(".csv.gz") {
        return Kind::RequestsCsv;
    }
    for line in head.split(|&b| b == b'\n').take(20) {
        let start = &line[..line.len().min(128)];
        if find(start, b"\"payload\"").is_some() || find(start, b"\"session_meta\"").is_some() {
            return Kind::Codex;
        }
        if [
            &b"\"parentUuid\""[..],
            b"\"sessionId\"",
            b"\"leafUuid\"",
            b"\"file-history-snapshot\"",
        ]
        .iter()
        .any(|k| find(line, k).is_some())
        {
            return Kind::Claude;
        }
        if find(line, b"\"input_tokens\"").is_some() || find(line, b"\"prompt_tokens\"").is_some() {
            return Kind::RequestsJsonl;
        }
    }
    Kind::Unknown
}

/// Whether a file name is one the walk reads.
fn readable_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [
        ".jsonl",
        ".jsonl.gz",
        ".csv",
        ".csv.gz",
        ".ndjson",
        ".ndjson.gz",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// Every readable file under `paths` (a file named directly is always taken),
/// last written at or after `since` when given, in path order.
pub fn find(paths: &[PathBuf], since: Option<SystemTime>) -> Result<Vec<Found>, LogsError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| LogsError::Path {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk_dir(p, since, &mut out);
        } else {
            out.push(Found {
                path: p.clone(),
                size_bytes: meta.len(),
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

fn walk_dir(dir: &Path, since: Option<SystemTime>, out: &mut Vec<Found>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            walk_dir(&path, since, out);
            continue;
        }
        if !readable_name(&path) {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if let (Some(cutoff), Ok(mtime)) = (since, meta.modified()) {
            if mtime < cutoff {
                continue;
            }
        }
        out.push(Found {
            path,
            size_bytes: meta.len(),
        });
    }
}

/// Parse `--since`: `30d`, `12h`, `2w`, `90m` (minutes) back from `now`, or a date `2026-01-31` (UTC midnight).
pub fn parse_since(s: &str, now: SystemTime) -> Result<SystemTime, LogsError> {
    let bad = || LogsError::BadSince { value: s.into() };
    let t = s.trim();
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        let secs = d
            .and_hms_opt(0, 0, 0)
            .ok_or_else(bad)?
            .and_utc()
            .timestamp();
        let secs = u64::try_from(secs).map_err(|_| bad())?;
        return Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let unit_s = match unit {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    now.checked_sub(std::time::Duration::from_secs(n.saturating_mul(unit_s)))
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn since_accepts_durations_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86_400);
        assert_eq!(
            parse_since("30d", now).ok(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(70 * 86_400))
        );
        assert_eq!(
            parse_since("2w", now).ok(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(86 * 86_400))
        );
        assert_eq!(
            parse_since("1970-01-02", now).ok(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400))
        );
        for bad in ["", "30", "d", "30y", "-3d", "2026-13-01"] {
            assert!(
                matches!(parse_since(bad, now), Err(LogsError::BadSince { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn kinds_from_first_lines() {
        let p = Path::new("x.jsonl");
        assert_eq!(
            kind(
                p,
                br#"{"timestamp":"2025-01-01T00:00:00Z","type":"session_meta","payload":{}}"#
            ),
            Kind::Codex
        );
        assert_eq!(
            kind(
                p,
                b"{\"type\":\"summary\",\"leafUuid\":\"a\"}\n{\"parentUuid\":null}"
            ),
            Kind::Claude
        );
        assert_eq!(
            kind(p, br#"{"model":"m","input_tokens":3,"output_tokens":1}"#),
            Kind::RequestsJsonl
        );
        assert_eq!(
            kind(p, br#"{"session_id":"a","ts":1,"text":"hi"}"#),
            Kind::Unknown
        );
        assert_eq!(kind(Path::new("a.CSV"), b"anything"), Kind::RequestsCsv);
    }

    #[test]
    fn lines_are_numbered_and_blank_lines_skipped() {
        let mut r = LineReader::new(Cursor::new(b"a\r\n\n  \nb".to_vec()));
        assert_eq!(
            r.next_line().map(|(n, l)| (n, l.to_vec())),
            Some((1, b"a".to_vec()))
        );
        assert_eq!(
            r.next_line().map(|(n, l)| (n, l.to_vec())),
            Some((4, b"b".to_vec()))
        );
        assert!(r.next_line().is_none());
    }
}
