//! GGUF: reading real model files into shapes, writing synthetic models.

/// Errors reading a GGUF file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    /// Placeholder until the reader lands.
    #[error("{0}")]
    Other(String),
}
