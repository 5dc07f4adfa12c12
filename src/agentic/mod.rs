//! Agentic workloads: coding-agent sessions replayed turn by turn against a
//! server, with its prompt cache on and off, and an explanation of every
//! request that missed the cache.
//!
//! A coding agent resends its whole history on every turn, so what a user
//! waits on is prefill of the part the server did not keep: time to first
//! token and prefix reuse, not decode speed. The pieces:
//!
//! - [`session`]: the JSONL session format (`docs/sessions.md`): a header and
//!   one line per request, several conversations interleaved.
//! - [`synth`]: a deterministic synthetic coding-agent session with named,
//!   injectable cache-breakers.
//! - [`import`]: a user's Codex or Claude Code log as a session, with
//!   stand-ins for what the log did not keep.
//! - [`replay`]: send a session's requests in order and record what the
//!   server reused and how long each request took.
//! - [`explain`]: why a request missed the cache: where the client changed
//!   the prefix (in the server's own tokens), or why the server dropped it.
//! - [`summary`]: depth buckets and where the wall time went.

pub mod explain;
pub mod import;
pub mod replay;
pub mod session;
pub mod summary;
pub mod synth;
