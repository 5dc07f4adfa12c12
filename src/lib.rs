//! rooftune: roofline ceilings and an autotuner for local LLM serving.
//!
//! Data flows one way: spec (hardware, model, flags) -> prediction (roofline)
//! -> measurement (server, bench) -> comparison (% of ceiling) -> log
//! (campaign) -> report. Each stage is one module:
//!
//! - [`catalog`]: bundled hardware profiles, model specs and quantization data.
//! - [`roofline`]: pure napkin math, no I/O.
//! - [`gguf`]: reading real model files, writing synthetic ones.
//! - [`probe`]: measuring the machine at hand (`hw probe`).
//! - [`tune`]: the autotuner (search space, solver, campaign loop).
//! - [`campaign`]: the append-only campaign log and what it says.
//! - [`logs`]: agents' usage logs and request logs, read into where the time went.
//! - [`report`]: rendering results as tables and JSON.
//! - [`cli`] and [`app`]: the command line, converted to core types at the edge.
#![warn(missing_docs)]

pub mod agentic;
pub mod app;
pub mod bench;
pub mod campaign;
pub mod cancel;
pub mod catalog;
pub mod child;
pub mod cli;
pub mod compare;
pub mod dtype;
pub mod exit;
pub mod gguf;
pub mod logs;
pub mod mlx;
pub mod probe;
pub mod report;
pub mod roofline;
pub mod server;
pub mod shape;
pub mod trial;
pub mod tune;
pub mod units;

pub use app::run;
