//! Finding the server binary and asking it what it is.
//!
//! Order: `--server-bin`, then the backend's environment variable
//! (`$ROOFTUNE_LLAMA_SERVER`), then `PATH` (so a Homebrew or self-built CUDA
//! `llama-server` wins over ours), then the build cache written by
//! `scripts/install-llama-server.sh` (`~/.cache/rooftune/llama-server-path`).
//! An explicit choice that does not work is an error, never silently skipped.

use super::ServerError;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the binary came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `--server-bin`.
    Flag,
    /// The backend's environment variable.
    Env,
    /// Found on `PATH`.
    Path,
    /// rooftune's build cache.
    Cache,
}

/// A binary that exists and is executable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Located {
    /// Absolute or as-given path.
    pub path: PathBuf,
    /// How it was found.
    pub origin: Origin,
}

/// What to look at; [`Inputs::from_env`] fills it from the process.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// `--server-bin`.
    pub flag: Option<PathBuf>,
    /// Value of the backend's environment variable.
    pub env: Option<OsString>,
    /// Value of `PATH`.
    pub path_var: Option<OsString>,
    /// rooftune's cache directory.
    pub cache_dir: Option<PathBuf>,
    /// What to tell the user when nothing is found (the backend's install hint).
    pub install_hint: Option<String>,
}

impl Inputs {
    /// Read the environment variable `env_var`, `PATH` and the cache location.
    pub fn from_env(flag: Option<PathBuf>, env_var: &str) -> Inputs {
        Inputs {
            flag,
            env: std::env::var_os(env_var).filter(|v| !v.is_empty()),
            path_var: std::env::var_os("PATH"),
            cache_dir: cache_dir(),
            install_hint: None,
        }
    }
}

/// `$ROOFTUNE_CACHE_DIR`, else `~/.cache/rooftune` (the install script's choice on every OS).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("ROOFTUNE_CACHE_DIR").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(d));
    }
    dirs::home_dir().map(|h| h.join(".cache").join("rooftune"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The hint of [`ServerError::BadBinary`]: the binary it wants, then how to get it.
pub fn bad_binary_hint(name: &str, install_hint: &str) -> String {
    format!("name an executable {name}; {install_hint}")
}

fn check_explicit(p: &Path, origin: &str, name: &str, hint: &str) -> Result<(), ServerError> {
    let problem = match std::fs::metadata(p) {
        Err(_) => "does not exist",
        Ok(m) if !m.is_file() => "is not a file",
        Ok(_) if !is_executable(p) => "is not executable",
        Ok(_) => return Ok(()),
    };
    Err(ServerError::BadBinary {
        origin: origin.into(),
        path: p.to_path_buf(),
        problem,
        hint: bad_binary_hint(name, hint),
    })
}

/// Find `name` (e.g. `llama-server`) in the order above.
pub fn locate(name: &str, env_var: &str, inputs: &Inputs) -> Result<Located, ServerError> {
    let hint = inputs
        .install_hint
        .clone()
        .unwrap_or_else(|| format!("pass --server-bin PATH or set ${env_var}"));
    if let Some(p) = &inputs.flag {
        check_explicit(p, "--server-bin", name, &hint)?;
        return Ok(Located {
            path: p.clone(),
            origin: Origin::Flag,
        });
    }
    if let Some(v) = &inputs.env {
        let p = PathBuf::from(v);
        check_explicit(&p, &format!("${env_var}"), name, &hint)?;
        return Ok(Located {
            path: p,
            origin: Origin::Env,
        });
    }
    if let Some(path_var) = &inputs.path_var {
        for dir in std::env::split_paths(path_var) {
            let p = dir.join(name);
            if is_executable(&p) {
                return Ok(Located {
                    path: p,
                    origin: Origin::Path,
                });
            }
        }
    }
    if let Some(p) = inputs
        .cache_dir
        .as_deref()
        .and_then(|d| from_cache(d, name))
    {
        return Ok(Located {
            path: p,
            origin: Origin::Cache,
        });
    }
    Err(ServerError::NotFound {
        hint,
        name: name.into(),
        env_var: env_var.into(),
        cache: inputs
            .cache_dir
            .as_ref()
            .map_or("the cache".into(), |d| format!("{}", d.display())),
    })
}

/// The cached build: the path recorded by the install script, else the
/// newest complete build (a folder with rooftune's `.rooftune-complete`
/// marker) that has `bin/NAME`, whatever the backend names its builds.
fn from_cache(dir: &Path, name: &str) -> Option<PathBuf> {
    let recorded = std::fs::read_to_string(dir.join(format!("{name}-path")))
        .ok()
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| is_executable(p));
    if recorded.is_some() {
        return recorded;
    }
    let mut builds: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(".rooftune-complete").is_file())
        .map(|p| p.join("bin").join(name))
        .filter(|p| is_executable(p))
        .collect();
    builds.sort();
    builds.pop()
}

/// Run `BIN --version` (with a timeout) and return its output, trimmed to
/// the informative lines: `version: 0.6.0-dev (build 11434, commit unknown); built with GNU 12.2.0 for Linux x86_64`.
/// A binary that does not answer yields `unknown (...)` rather than an error:
/// the version is recorded, not required.
pub fn version(bin: &Path) -> String {
    let text = match super::supervise::ask(bin, &["--version"], Duration::from_secs(10)) {
        Ok(t) => t,
        Err(e) => return format!("unknown ({e})"),
    };
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("version") || l.starts_with("built with"))
        .collect();
    if lines.is_empty() {
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        return first.unwrap_or("unknown (no --version output)").to_string();
    }
    lines.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn exe(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, "#!/bin/sh\necho 'version: 9 (build 1)'\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn order_flag_env_path_cache() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, c, cache) = (
            t.path().join("a"),
            t.path().join("b"),
            t.path().join("c"),
            t.path().join("cache"),
        );
        for d in [&a, &b, &c, &cache] {
            std::fs::create_dir(d).unwrap();
        }
        let fa = exe(&a, "llama-server");
        let fb = exe(&b, "llama-server");
        let fc = exe(&c, "llama-server");
        let fcache = exe(&cache, "ls");
        std::fs::write(
            cache.join("llama-server-path"),
            format!("{}\n", fcache.display()),
        )
        .unwrap();
        let mut i = Inputs {
            flag: Some(fa.clone()),
            env: Some(fb.clone().into()),
            path_var: Some(std::env::join_paths([&c]).unwrap()),
            cache_dir: Some(cache.clone()),
            install_hint: Some(
                crate::server::Backend::install_hint(&crate::server::llama::LlamaServer).into(),
            ),
        };
        let name = "llama-server";
        let var = "ROOFTUNE_LLAMA_SERVER";
        assert_eq!(locate(name, var, &i).unwrap().path, fa);
        i.flag = None;
        assert_eq!(locate(name, var, &i).unwrap().origin, Origin::Env);
        assert_eq!(locate(name, var, &i).unwrap().path, fb);
        i.env = None;
        assert_eq!(locate(name, var, &i).unwrap().path, fc);
        i.path_var = Some(std::env::join_paths([&a.join("nope")]).unwrap());
        let l = locate(name, var, &i).unwrap();
        assert_eq!((l.path, l.origin), (fcache, Origin::Cache));
        i.cache_dir = None;
        let e = locate(name, var, &i).unwrap_err().to_string();
        assert!(e.contains("install-llama-server.sh"), "{e}");
    }

    #[test]
    fn explicit_but_missing_is_an_error() {
        let i = Inputs {
            flag: Some("/nonexistent/llama-server".into()),
            ..Inputs::default()
        };
        let e = locate("llama-server", "X", &i).unwrap_err().to_string();
        assert!(
            e.contains("--server-bin") && e.contains("does not exist"),
            "{e}"
        );
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f");
        std::fs::write(&p, "x").unwrap();
        let i = Inputs {
            env: Some(p.into()),
            ..Inputs::default()
        };
        let e = locate("llama-server", "ROOFTUNE_LLAMA_SERVER", &i)
            .unwrap_err()
            .to_string();
        assert!(e.contains("$ROOFTUNE_LLAMA_SERVER") && e.contains("not executable"));
    }

    #[test]
    fn version_lines() {
        let t = tempfile::tempdir().unwrap();
        let p = exe(t.path(), "s");
        assert_eq!(version(&p), "version: 9 (build 1)");
        assert!(version(Path::new("/nonexistent")).starts_with("unknown"));
    }
}
