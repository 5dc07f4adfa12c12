//! A number together with where it came from.

use serde::{Deserialize, Serialize};

/// A value with its source, written in TOML as `{ value = 819, source = "..." }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced<T> {
    /// The value, in the unit its key names.
    pub value: T,
    /// Where the value comes from: a document, a URL, or `derived: ...`.
    pub source: String,
    /// False when the figure could not be confirmed against a primary source.
    #[serde(default = "yes")]
    pub verified: bool,
    /// Free-text remark (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

impl<T: Copy> Sourced<T> {
    /// A value given on the command line for a what-if question.
    pub fn from_cli(value: T, flag: &str) -> Self {
        Sourced {
            value,
            source: format!("command line ({flag})"),
            verified: true,
            note: None,
        }
    }
}
