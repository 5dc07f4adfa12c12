//! One run per campaign at a time.
//!
//! Two `rooftune tune` runs on one campaign would interleave their lines
//! with duplicate trial ids and measure each other's load. A run holds an
//! exclusive `flock` on `trials.jsonl.lock` beside the log for its whole
//! duration and writes its pid there; a second run finds the lock taken and
//! refuses, naming that pid. The kernel drops a `flock` when its holder dies
//! (even by SIGKILL), so a stale lock file never blocks a later run.

use super::CampaignError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// An exclusive lock on a campaign; released on drop (or when we die).
#[derive(Debug)]
pub struct CampaignLock {
    file: File,
    path: PathBuf,
}

/// The lock file for a log file.
pub fn lock_path(log: &Path) -> PathBuf {
    let mut name = log.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    log.with_file_name(name)
}

impl CampaignLock {
    /// Take the lock on the campaign whose log is `log`, or refuse with the
    /// holder's pid. A log that is not a regular file (a pipe, `/dev/full`)
    /// has no folder to lock in and is not locked.
    pub fn acquire(log: &Path) -> Result<Option<CampaignLock>, CampaignError> {
        if std::fs::metadata(log).is_ok_and(|m| !m.is_file()) {
            return Ok(None);
        }
        let path = lock_path(log);
        let err = |source| CampaignError::Write {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(err)?;
        // SAFETY: flock(2) on a descriptor we own.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(CampaignError::Locked {
                    path: log.to_path_buf(),
                    holder: text.trim().parse().ok(),
                });
            }
            return Err(err(e));
        }
        file.set_len(0).map_err(err)?;
        file.seek(SeekFrom::Start(0)).map_err(err)?;
        writeln!(file, "{}", std::process::id()).map_err(err)?;
        Ok(Some(CampaignLock { file, path }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CampaignLock {
    fn drop(&mut self) {
        // SAFETY: flock(2) on a descriptor we own.
        unsafe {
            libc::flock(self.file.as_raw_fd(), libc::LOCK_UN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_pid() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("c/trials.jsonl");
        let first = CampaignLock::acquire(&log).unwrap().unwrap();
        // A second open file description conflicts even within one process.
        let e = CampaignLock::acquire(&log).unwrap_err();
        match &e {
            CampaignError::Locked { holder, .. } => {
                assert_eq!(*holder, Some(std::process::id()))
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains(&std::process::id().to_string()));
        drop(first);
        assert!(CampaignLock::acquire(&log).unwrap().is_some());
    }
}
