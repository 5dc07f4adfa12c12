//! The comparison step: a measurement next to its roofline ceiling.
//!
//! One place turns a machine, a model shape and a measurement into the
//! ceiling and the % of ceiling that every command shows and every JSON
//! result carries, and flags a measurement above its ceiling the same way
//! everywhere (a ceiling cannot be beaten: such a figure means the profile or
//! the model shape is wrong, never a result).
//!
//! - [`machine`]: one [`crate::roofline::machine::Machine`] from a hardware profile, one rule;
//! - [`ceiling`]: ceilings per probe and per bench depth, % of ceiling, the above-ceiling flag;
//! - [`calibrate`]: the estimate's terms fitted on this machine's bench results, held out by model;
//! - [`calibration`]: published measurements against the engine, per-family estimate bands;
//! - [`depth`]: published rows at depth predicted held out (the attention term);
//! - [`prefill`]: published prefill rates predicted held out (weights and attention factors);
//! - [`family`]: what `predict` takes from a platform family's published rows;
//! - [`held_out`]: how those rows are held out by model, and summed up per family.

pub mod calibrate;
pub mod calibration;
pub mod ceiling;
pub mod depth;
pub mod family;
pub mod held_out;
pub mod machine;
pub mod prefill;

pub use ceiling::{pct_of_ceiling, versus};
pub use machine::AsDevice;
