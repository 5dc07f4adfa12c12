//! Exit codes, named in one place.

/// A process exit code with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitCode(pub u8);

impl ExitCode {
    /// Success.
    pub const OK: ExitCode = ExitCode(0);
    /// A runtime failure (server crashed, I/O failed).
    pub const FAILURE: ExitCode = ExitCode(1);
    /// Bad input: unknown name, malformed file, invalid number.
    pub const USAGE: ExitCode = ExitCode(2);
    /// Interrupted by Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: ExitCode = ExitCode(130);
    /// Stopped by SIGTERM (128 + SIGTERM), after tearing down like Ctrl-C.
    pub const TERMINATED: ExitCode = ExitCode(143);

    /// 130 for SIGINT, 143 for SIGTERM (128 + the signal, as shells report).
    pub fn for_signal(signal: i32) -> ExitCode {
        match signal {
            libc::SIGTERM => ExitCode::TERMINATED,
            _ => ExitCode::INTERRUPTED,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.0)
    }
}

/// The exit code for an error that reached the binary's edge: decided by
/// the error's type and variant anywhere in its chain, never by its text, so
/// the same fault exits with the same code from every command.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    use crate::campaign::runner::RunError;
    use crate::server::ServerError;
    use crate::tune::TuneError;
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<ServerError>() {
            if let ServerError::Interrupted { signal, .. } = e {
                return ExitCode::for_signal(*signal);
            }
            if e.is_usage() {
                return ExitCode::USAGE;
            }
        }
        let tune_usage = |e: &TuneError| e.is_usage();
        if cause.downcast_ref::<TuneError>().is_some_and(tune_usage)
            || cause.downcast_ref::<RunError>().is_some_and(|e| match e {
                RunError::Tune(t) => tune_usage(t),
                RunError::Log(l) => l.is_usage(),
            })
            || cause
                .downcast_ref::<crate::campaign::CampaignError>()
                .is_some_and(crate::campaign::CampaignError::is_usage)
            || cause
                .downcast_ref::<crate::catalog::CatalogError>()
                .is_some()
            || cause.downcast_ref::<crate::units::UnitError>().is_some()
            || cause
                .downcast_ref::<crate::server::rpc::RpcError>()
                .is_some_and(crate::server::rpc::RpcError::is_usage)
            || cause
                .downcast_ref::<crate::dtype::ggml::UnknownType>()
                .is_some()
            || matches!(
                cause.downcast_ref::<crate::server::ClientError>(),
                Some(crate::server::ClientError::BadUrl { .. })
            )
            || cause.downcast_ref::<crate::gguf::GgufError>().is_some()
            || cause.downcast_ref::<crate::mlx::MlxError>().is_some()
            || cause
                .downcast_ref::<crate::logs::LogsError>()
                .is_some_and(crate::logs::LogsError::is_usage)
            || cause
                .downcast_ref::<crate::server::UnknownBackend>()
                .is_some()
            || cause
                .downcast_ref::<crate::probe::ProbeError>()
                .is_some_and(|e| e.is_usage())
            || cause
                .downcast_ref::<crate::agentic::session::SessionError>()
                .is_some()
            || cause
                .downcast_ref::<crate::agentic::synth::SpecError>()
                .is_some()
            || cause
                .downcast_ref::<crate::agentic::import::ImportError>()
                .is_some()
            // Every calibration error is about the files the user gave.
            || cause
                .downcast_ref::<crate::compare::calibrate::CalibrateError>()
                .is_some()
        {
            return ExitCode::USAGE;
        }
    }
    ExitCode::FAILURE
}
