//! GGUF: reading real model files into shapes, writing synthetic models.
//!
//! - [`chat_template`]: whether a file carries a chat template; the warning when not.
//! - [`reader`]: headers, metadata and tensor infos (never tensor data), split shards.
//! - [`value`]: the metadata value types.
//! - [`shape`]: a file's metadata and tensors -> the roofline's `ModelShape` and a model spec.
//! - [`writer`]: GGUF v3 writing, streamed or sparse.
//! - [`synth`]: random-weight models llama-server runs.

pub mod chat_template;
pub mod reader;
pub mod shape;
pub mod synth;
pub mod value;
pub mod writer;

pub use reader::{GgufFile, GgufModel, TensorInfo};
pub use value::{Value, ValueType};

use std::path::PathBuf;

/// Errors reading, interpreting or generating a GGUF file. Each message is one
/// line naming the file and ending with a hint.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// The file could not be opened or read.
    #[error("cannot read model file `{}`: {source} (hint: check the path and permissions)", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid GGUF header.
    #[error("model file `{}` {what} (hint: {hint})", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong, phrased after "model file `x`".
        what: String,
        /// What to do.
        hint: &'static str,
    },
    /// A valid file whose metadata does not describe a model rooftune understands.
    #[error("model file `{}` {what} (hint: {hint})", path.display())]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing or inconsistent.
        what: String,
        /// What to do.
        hint: &'static str,
    },
    /// Invalid `rooftune synth` arguments.
    #[error("{0}")]
    Synth(String),
}
