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
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.0)
    }
}

/// The exit code for an error that reached the binary's edge.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        match cause.downcast_ref::<crate::server::ServerError>() {
            Some(crate::server::ServerError::Interrupted) => return ExitCode::INTERRUPTED,
            Some(
                crate::server::ServerError::NotFound { .. }
                | crate::server::ServerError::BadBinary { .. }
                | crate::server::ServerError::BadModel { .. }
                | crate::server::ServerError::ReservedFlag { .. },
            ) => return ExitCode::USAGE,
            _ => {}
        }
        if cause
            .downcast_ref::<crate::catalog::CatalogError>()
            .is_some()
            || cause.downcast_ref::<crate::units::UnitError>().is_some()
            || cause.downcast_ref::<crate::gguf::GgufError>().is_some()
            || cause
                .downcast_ref::<crate::logs::LogsError>()
                .is_some_and(crate::logs::LogsError::is_usage)
            || cause
                .downcast_ref::<crate::tune::TuneError>()
                .is_some_and(crate::tune::TuneError::is_usage)
            || cause
                .downcast_ref::<crate::probe::ProbeError>()
                .is_some_and(|e| e.is_usage())
        {
            return ExitCode::USAGE;
        }
    }
    ExitCode::FAILURE
}
