//! The real evaluator: one llama-server start per trial (over `crate::server`
//! and `crate::bench`). Until those land this reports that it is missing.

use super::spec::Campaign;
use super::trial::{Evaluator, Measurements, ServerInfo, TrialOutcome, TrialRequest};
use super::TuneError;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Starts llama-server per trial and measures it.
#[derive(Debug)]
pub struct ServerEvaluator;

impl ServerEvaluator {
    /// Find the binary and prepare.
    pub fn new(
        _c: &Campaign,
        _bin: Option<&Path>,
        _interrupt: &'static AtomicBool,
    ) -> Result<ServerEvaluator, TuneError> {
        Err(TuneError::Server(
            "the llama-server evaluator is not built into this rooftune yet (hint: use --dry-run)"
                .into(),
        ))
    }
}

impl Evaluator for ServerEvaluator {
    fn server(&mut self) -> ServerInfo {
        ServerInfo::default()
    }
    fn help_text(&mut self) -> Option<String> {
        None
    }
    fn evaluate(
        &mut self,
        _req: &TrialRequest,
        _promote: &mut dyn FnMut(&Measurements) -> bool,
    ) -> TrialOutcome {
        TrialOutcome::default()
    }
}
