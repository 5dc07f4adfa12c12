//! MLX model directories: reading them into shapes, writing synthetic ones.
//!
//! An MLX model is a directory: `config.json` (the Hugging Face config plus
//! MLX's `quantization` block), one or more `*.safetensors` files, and a
//! Hugging Face tokenizer. rooftune reads only `config.json` and the
//! safetensors headers (never tensor data).
//!
//! - [`safetensors`]: header reading and streamed writing.
//! - [`shape`]: a directory -> the roofline's `ModelShape` and an inspection report.
//! - [`tokenizer`]: the SPM-style tokenizer and chat template synthetic models carry.
//! - [`synth`]: random-weight float32 models `mlx_lm.server` runs.

pub mod safetensors;
pub mod shape;
pub mod synth;
pub mod tokenizer;

use std::path::{Path, PathBuf};

/// Whether `path` looks like an MLX model directory (a directory with `config.json`).
pub fn is_model_dir(path: &Path) -> bool {
    path.is_dir() && path.join("config.json").is_file()
}

/// Errors reading or writing an MLX model directory. Each message is one
/// line naming the path and ending with a hint.
#[derive(Debug, thiserror::Error)]
pub enum MlxError {
    /// A file could not be read or written.
    #[error("cannot read or write `{}`: {source} (hint: check the path and permissions)", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The directory is not an MLX model (no `config.json`, no weights).
    #[error("`{}` {what} (hint: {hint})", path.display())]
    NotAModel {
        /// The directory.
        path: PathBuf,
        /// What is missing, phrased after the path.
        what: String,
        /// What to do.
        hint: &'static str,
    },
    /// A file of the directory does not parse or does not fit the others.
    #[error("MLX model file `{}` {what} (hint: {hint})", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
        /// What to do.
        hint: &'static str,
    },
    /// Invalid `rooftune synth --format mlx` arguments.
    #[error("{0}")]
    Synth(String),
}

/// An I/O error on `path`.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MlxError + '_ {
    move |source| MlxError::Io {
        path: path.to_path_buf(),
        source,
    }
}
