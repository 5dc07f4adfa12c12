//! What the real run would refuse, checked by `tune --dry-run` without
//! starting anything: the model file (there, a file, not a loop of links)
//! and the space's flags against the server binary's `--help`. A dry run
//! that says all is well must not be followed by a real run that refuses.

use crate::cancel::Cancel;
use crate::tune::plan::Feasibility;
use crate::tune::server_eval::ServerEvaluator;
use crate::tune::spec::Campaign;
use crate::tune::TuneError;
use std::path::Path;

/// Problems with the model path, as the real run would report them.
pub fn model_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => None,
        Ok(_) if crate::mlx::is_model_dir(path) => None,
        Ok(_) => Some(format!(
            "model file `{}` is not a file (a directory without config.json); pass the .gguf file itself, or an MLX model directory",
            path.display()
        )),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Some(format!(
            "model file `{}` is a loop of symbolic links",
            path.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(format!("model file `{}` does not exist", path.display()))
        }
        Err(e) => Some(format!("model file `{}`: {e}", path.display())),
    }
}

/// A `server = "..."` in the spec (used when --server-bin is not given)
/// must exist and run; said as the spec's key, not as `--server-bin`.
pub fn check_spec_server(c: &Campaign, flag: Option<&Path>) -> Result<(), TuneError> {
    use std::os::unix::fs::PermissionsExt;
    let Some(p) = c.server.as_deref().filter(|_| flag.is_none()) else {
        return Ok(());
    };
    let problem = match std::fs::metadata(p) {
        Err(_) => "does not exist",
        Ok(m) if !m.is_file() => "is not a file",
        Ok(m) if m.permissions().mode() & 0o111 == 0 => "is not executable",
        Ok(_) => return Ok(()),
    };
    Err(TuneError::Preflight {
        problems: format!(
            "  `server = ...` in {} points to `{}`, which {problem} (pass the path of an executable llama-server, or remove the key to search PATH)",
            c.spec_path.display(),
            p.display()
        ),
    })
}

/// The model check alone (the real run, before hashing the file).
pub fn check_model(path: &Path) -> Result<(), TuneError> {
    match model_problem(path) {
        Some(p) => Err(TuneError::Preflight {
            problems: format!("  {p}"),
        }),
        None => Ok(()),
    }
}

/// A `min_ctx` that no configuration of the space can meet (the real run
/// and the dry run refuse it alike).
pub fn check_min_ctx(feas: &Feasibility, c: &Campaign) -> Result<(), TuneError> {
    match feas.min_ctx_problem(&c.space) {
        Some(p) => Err(TuneError::Preflight {
            problems: format!("  {p}"),
        }),
        None => Ok(()),
    }
}

/// Check what the real run checks before its first trial (`flag`:
/// `--server-bin`). `Ok` carries notes (a check that could not be made);
/// `Err` lists what it would refuse.
pub fn check(c: &Campaign, flag: Option<&Path>) -> Result<Vec<String>, TuneError> {
    check_spec_server(c, flag)?;
    let server_bin = flag.or(c.server.as_deref());
    let mut problems: Vec<String> = model_problem(&c.model).into_iter().collect();
    let mut notes = Vec::new();
    match ServerEvaluator::new(c, server_bin, Cancel::new()) {
        Ok(mut eval) => {
            if let Err(e) = crate::campaign::runner::check_flags_known(c, &mut eval) {
                problems.push(e.to_string());
            }
        }
        Err(e) => notes.push(format!(
            "the space's flags were not checked against {}'s --help: {}",
            c.backend.get().name(),
            e.to_string().lines().next().unwrap_or_default()
        )),
    }
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err(TuneError::Preflight {
            problems: problems
                .iter()
                .map(|p| format!("  {p}"))
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }
}
