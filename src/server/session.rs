//! One function that starts a server for measurement: `bench`, `tune` (and
//! `replay`) all start servers through it, so a backend is located, checked,
//! launched, supervised and connected to the same way everywhere.
//!
//! The returned [`Session`] owns the [`RunningServer`] guard: dropping it on
//! any path (an error, Ctrl-C, a panic) tears the server's process group
//! down; [`Session::stop`] does it gracefully.

use super::client::Client;
use super::supervise::{RunningServer, StartOptions};
use super::{Backend, ServerError};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A running server with a client connected to it.
#[derive(Debug)]
pub struct Session {
    /// The backend that runs it.
    pub backend: &'static dyn Backend,
    /// The binary started.
    pub binary: PathBuf,
    /// Its version, as recorded with every result.
    pub version: String,
    /// The supervised process (the guard).
    pub server: RunningServer,
    /// A client for its HTTP API.
    pub client: Client,
}

impl Session {
    /// Stop the server (SIGTERM, a grace period, SIGKILL) and wait for it.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Check the model, start `bin` with `flags` on a loopback port, wait until
/// it is ready, and connect a client whose requests time out after
/// `request_timeout`.
pub async fn start_for_measurement(
    backend: &'static dyn Backend,
    bin: &Path,
    version: String,
    model: &Path,
    flags: &[String],
    opts: &StartOptions,
    request_timeout: Duration,
) -> Result<Session, ServerError> {
    backend.check_model(model)?;
    let server = RunningServer::start(backend, bin, model, flags, opts).await?;
    let client = Client::new(
        &server.root_url,
        &format!("{}/v1", server.root_url),
        None,
        request_timeout,
    )
    .map_err(ServerError::Client)?;
    Ok(Session {
        backend,
        binary: bin.to_path_buf(),
        version,
        server,
        client,
    })
}
