//! Appending to and reading a campaign log.
//!
//! Each line is written with one `write_all` and then `sync_data`, so after
//! a crash or a reboot the log holds every finished trial and at most one
//! torn last line. The reader skips it; the writer cuts the file back to the
//! end of the last complete line before appending (so the torn bytes never
//! end up as a bad line in the middle) and keeps them in `trials.jsonl.torn`.

use super::record::{Line, FORMAT_VERSION};
use super::CampaignError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The log file inside a campaign folder.
pub const LOG_FILE: &str = "trials.jsonl";

/// The log path for a campaign folder.
pub fn path_in(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// An open, append-only log.
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    path: PathBuf,
    /// A torn last line found on open and moved aside, to tell the user.
    pub repaired: Option<TornLine>,
}

/// A torn last line cut from a log on open.
#[derive(Debug, Clone, PartialEq)]
pub struct TornLine {
    /// Bytes cut.
    pub bytes: u64,
    /// Where they were kept.
    pub kept_in: PathBuf,
}

impl std::fmt::Display for TornLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the log's last line was torn (a crash mid-write?): its {} bytes were moved to `{}` and the log now ends at its last complete line",
            self.bytes,
            self.kept_in.display()
        )
    }
}

impl LogWriter {
    /// Open (creating folders and file) for appending. Fails early on a bad path.
    pub fn open(path: &Path) -> Result<LogWriter, CampaignError> {
        let err = |source| CampaignError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(path)
            .map_err(err)?;
        let repaired = if ends_without_newline(&mut file) {
            cut_torn_line(&mut file, path).map_err(err)?
        } else {
            None
        };
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            repaired,
        })
    }

    /// Append one line, flushed and synced. Returns the text written.
    pub fn append(&mut self, line: &Line) -> Result<String, CampaignError> {
        let err = |source| CampaignError::Write {
            path: self.path.clone(),
            source,
        };
        let mut text = serde_json::to_string(line).map_err(|e| err(std::io::Error::other(e)))?;
        text.push('\n');
        self.file.write_all(text.as_bytes()).map_err(err)?;
        self.file.flush().map_err(err)?;
        // /dev/full and pipes do not sync; a real file must.
        match self.file.sync_data() {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(err(e)),
        }
        Ok(text)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Cut a regular file back to the end of its last complete line, keeping
/// the cut bytes (appended) in `<log>.torn`. Other files get a newline.
fn cut_torn_line(file: &mut File, path: &Path) -> std::io::Result<Option<TornLine>> {
    if !file.metadata()?.is_file() {
        file.write_all(b"\n")?;
        return Ok(None);
    }
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let torn = &bytes[keep..];
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".torn");
    let kept_in = path.with_file_name(name);
    let mut side = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&kept_in)?;
    side.write_all(torn)?;
    side.write_all(b"\n")?;
    side.sync_data()?;
    file.set_len(keep as u64)?;
    file.sync_data()?;
    Ok(Some(TornLine {
        bytes: torn.len() as u64,
        kept_in,
    }))
}

fn ends_without_newline(file: &mut File) -> bool {
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    if len == 0 {
        return false;
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] != b'\n'
}

/// Parse one line, checking its version.
pub fn parse_line(path: &Path, n: usize, text: &str) -> Result<Line, CampaignError> {
    let perr = |message: String| CampaignError::Parse {
        path: path.to_path_buf(),
        line: n,
        message,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| perr(e.to_string()))?;
    let v = value
        .get("v")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| perr("no format version `v` (not a rooftune log?)".into()))?;
    if v > FORMAT_VERSION as u64 {
        return Err(CampaignError::Version {
            path: path.to_path_buf(),
            line: n,
            found: v,
            supported: FORMAT_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| perr(e.to_string()))
}

/// Read every line. A torn last line (a crash mid-write) is skipped. A log
/// that is not a regular file (a pipe, a device) is written, never read back.
pub fn read(path: &Path) -> Result<Vec<Line>, CampaignError> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Ok(Vec::new());
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CampaignError::NotFound {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(CampaignError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match parse_line(path, i + 1, l) {
            Ok(line) => out.push(line),
            Err(CampaignError::Parse { .. }) if i + 1 == lines.len() && !complete => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Read a log that may not exist yet (empty then).
pub fn read_or_empty(path: &Path) -> Result<Vec<Line>, CampaignError> {
    match read(path) {
        Err(CampaignError::NotFound { .. }) => Ok(Vec::new()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::record::SessionLine;

    fn session(n: u32) -> Line {
        Line::Session(SessionLine {
            v: FORMAT_VERSION,
            campaign: "c".into(),
            session: n,
            resumed: n > 1,
            started_at: "2025-01-01T00:00:00Z".into(),
            rooftune: "0".into(),
            spec_path: "c.toml".into(),
            spec_sha256: "x".into(),
            seed: 1,
            objective: "decode_tok_s@0".into(),
            space_size: 4,
            confidence: None,
            min_top1: None,
            topology: None,
            comparable: None,
        })
    }

    #[test]
    fn append_read_and_torn_last_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/trials.jsonl");
        let mut w = LogWriter::open(&p).unwrap();
        w.append(&session(1)).unwrap();
        drop(w);
        // A torn write: half a line, no newline.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"v\":1,\"kind\":\"sess").unwrap();
        drop(f);
        assert_eq!(read(&p).unwrap().len(), 1);
        let mut w = LogWriter::open(&p).unwrap();
        let torn = w.repaired.clone().expect("the torn line is reported");
        assert_eq!(torn.bytes, 19);
        w.append(&session(2)).unwrap();
        // The torn bytes are gone from the log (not a bad line in the
        // middle) and kept beside it.
        assert_eq!(read(&p).unwrap().len(), 2);
        assert_eq!(
            std::fs::read_to_string(&torn.kept_in).unwrap(),
            "{\"v\":1,\"kind\":\"sess\n"
        );
        assert!(torn.to_string().contains("trials.jsonl.torn"));
        assert!(LogWriter::open(&p).unwrap().repaired.is_none());
    }

    #[test]
    fn newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trials.jsonl");
        std::fs::write(&p, "{\"v\":99,\"kind\":\"session\"}\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("upgrade rooftune"), "{e}");
    }

    #[test]
    fn unwritable_log_is_a_clear_error() {
        let e = LogWriter::open(Path::new("/proc/rooftune-cannot/trials.jsonl")).unwrap_err();
        assert!(e.to_string().contains("stopping before measuring more"));
        if Path::new("/dev/full").exists() {
            let mut w = LogWriter::open(Path::new("/dev/full")).unwrap();
            assert!(w.append(&session(1)).is_err());
        }
    }
}
