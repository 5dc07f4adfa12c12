//! Measuring a running server: prompts of exact length, prefill, decode at
//! depths, time to first token, repeats and their statistics.
//!
//! The benchmark talks only to a [`crate::server::Client`]; it does not know
//! whether rooftune started the server or the user gave a URL.

pub mod contention;
pub mod measure;
pub mod probes;
pub mod prompt;
pub mod result;

pub use measure::{Event, Measurement, Plan, Target};
