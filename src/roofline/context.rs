//! Context honesty: is the requested window native, extended by RoPE
//! scaling, or beyond what the model was trained on?
//!
//! llama.cpp allocates the requested (padded) cells, warns
//! `n_ctx_seq (...) > n_ctx_train (...) -- possible training context overflow`,
//! and llama-server then caps each slot to `n_ctx_train`: the seed's
//! `-c 1000000` on GLM-5.1 allocated 1,000,192 cells and served 202,752.

use super::kv;
use crate::shape::ModelShape;
use serde::Serialize;

/// The verdict on a requested context.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum ContextVerdict {
    /// Within the window the model was pretrained on.
    Native {
        /// Requested tokens.
        requested: u64,
        /// Native window.
        native: u64,
    },
    /// Within the window that RoPE scaling extends to.
    Extended {
        /// Requested tokens.
        requested: u64,
        /// Native window.
        native: u64,
        /// Extended window (`n_ctx_train`).
        extended: u64,
        /// Scaling method.
        method: String,
        /// Scaling factor.
        factor: f64,
    },
    /// Beyond `n_ctx_train`: llama-server caps the slot.
    Capped {
        /// Requested tokens.
        requested: u64,
        /// Cells allocated (padded).
        allocated_cells: u64,
        /// What each slot gets.
        capped_to: u64,
    },
}

impl ContextVerdict {
    /// Tokens a slot can really use.
    pub fn usable(&self) -> u64 {
        match self {
            ContextVerdict::Native { requested, .. }
            | ContextVerdict::Extended { requested, .. } => *requested,
            ContextVerdict::Capped { capped_to, .. } => *capped_to,
        }
    }

    /// Whether the requested window is native.
    pub fn is_native(&self) -> bool {
        matches!(self, ContextVerdict::Native { .. })
    }
}

/// Judge a requested context for a model.
pub fn judge(shape: &ModelShape, requested: u64) -> ContextVerdict {
    let train = shape.ctx_train;
    if requested > train {
        return ContextVerdict::Capped {
            requested,
            allocated_cells: kv::padded_cells(requested),
            capped_to: train,
        };
    }
    match &shape.rope_scaling {
        Some(r) if requested > r.original_ctx => ContextVerdict::Extended {
            requested,
            native: r.original_ctx,
            extended: train,
            method: r.kind.clone(),
            factor: r.factor,
        },
        Some(r) => ContextVerdict::Native {
            requested,
            native: r.original_ctx,
        },
        None => ContextVerdict::Native {
            requested,
            native: train,
        },
    }
}
