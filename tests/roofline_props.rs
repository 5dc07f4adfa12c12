//! Properties of the engine over the whole catalog and random scenarios.

use proptest::prelude::*;
use rooftune::catalog::Catalog;
use rooftune::compare::AsDevice;
use rooftune::roofline::kv::{KvOptions, KvTypes};
use rooftune::roofline::machine::Machine;
use rooftune::roofline::placement::Placement;
use rooftune::roofline::{self, Scenario};

fn cat() -> &'static Catalog {
    Catalog::bundled().expect("catalog")
}

const QUANTS: &[&str] = &["q4_k_m", "q8_0", "iq3_xxs", "mlx-4bit", "f16"];
const KV: &[&str] = &["f16", "q8_0", "q4_0"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn predictions_are_finite_ordered_and_fall_with_depth(
        hw_i in 0usize..64, host_i in 0usize..64, model_i in 0usize..64, q_i in 0usize..QUANTS.len(),
        kv_i in 0usize..KV.len(), ctx in 1u64..2_000_000, d1 in 0u64..1_000_000, d2 in 0u64..1_000_000,
        np in 1u64..8, ngl in proptest::option::of(0u32..200), ncmoe in 0u32..200, use_host in any::<bool>(),
    ) {
        let c = cat();
        let hw = &c.hardware[hw_i % c.hardware.len()];
        let spec = &c.models[model_i % c.models.len()];
        let shape = spec.shape(&c.quant(QUANTS[q_i]).expect("quant"));
        let host = &c.hardware[host_i % c.hardware.len()];
        let machine = if use_host {
            Machine { accel: vec![hw.device("a".into())], host: Some(host.device("h".into())), tensor_split: vec![1.0] }
        } else {
            Machine::single(hw.device("a".into()))
        };
        let t: rooftune::dtype::ggml::GgmlType = KV[kv_i].parse().expect("kv type");
        let s = Scenario {
            ctx,
            depths: vec![d1.min(d2), d1.max(d2)],
            kv: KvOptions { types: KvTypes { k: t.into(), v: t.into() }, n_seq: np, ..KvOptions::default() },
            placement: Some(Placement { n_gpu_layers: ngl, n_cpu_moe: ncmoe }),
            prompt_tokens: d1.max(1),
            ..Scenario::default()
        };
        let p = roofline::predict(&shape, &machine, &s);
        for d in &p.decode {
            prop_assert!(d.ceiling_tok_s.is_finite() && d.ceiling_tok_s > 0.0);
            prop_assert!(d.estimate_tok_s > 0.0 && d.estimate_tok_s <= d.ceiling_tok_s * (1.0 + 1e-9));
            prop_assert!(d.estimate_low_tok_s <= d.estimate_high_tok_s * (1.0 + 1e-9));
            prop_assert!(d.estimate_high_tok_s <= d.ceiling_tok_s * (1.0 + 1e-9));
        }
        let (a, b) = (&p.decode[0], &p.decode[p.decode.len() - 1]);
        prop_assert!(b.ceiling_tok_s <= a.ceiling_tok_s * (1.0 + 1e-9));
        prop_assert!(p.ttft.ceiling_s.is_finite() && p.ttft.ceiling_s > 0.0 && p.ttft.ceiling_s <= p.ttft.estimate_s);
        prop_assert!(p.memory.kv.total() >= 0.0);
        prop_assert!(p.context.usable() <= ctx.max(p.context.usable()));
        // Weights are conserved across tiers: every byte lives somewhere once (MTP is not loaded), except a
        // tied output head placed off the host, which llama.cpp loads as a duplicate (TENSOR_DUPLICATED).
        let placed: f64 = p.memory.devices.iter().map(|d| d.weights_bytes).sum();
        let expected = p.total.bytes - shape.mtp.bytes;
        let dup = if shape.tied_embeddings { shape.token_embd.bytes } else { 0.0 };
        prop_assert!(placed >= expected * (1.0 - 1e-9) - 1.0 && placed <= (expected + dup) * (1.0 + 1e-9) + 1.0, "placed {placed} vs {expected}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// No ceiling is below any measurement in `measurements/`: whatever the
    /// estimate terms (eta, overhead, a calibration), and at the row's depth
    /// or any shallower one, every plain-decode row sits at or under its
    /// ceiling at spec bandwidth, with the compute bound taking part.
    #[test]
    fn no_ceiling_is_below_a_published_measurement(
        row_i in 0usize..1000, eta in 0.05f64..1.0, overhead_ms in 0.0f64..50.0,
        shallower in 0.0f64..=1.0, calibrated in any::<bool>(), factor in 0.0f64..100.0,
    ) {
        use rooftune::catalog::calibrated::{Calibration, DecodeTerms};
        use rooftune::catalog::measurements::MeasurementKind;
        let c = cat();
        let plain: Vec<_> = c.measurements.iter().filter(|m| m.kind == MeasurementKind::Plain).collect();
        let m = plain[row_i % plain.len()];
        let hw = c.hardware(&m.hw).expect("hw");
        let shape = c.model(&m.model).expect("model").shape(&c.quant(&m.quant).expect("quant"));
        let mut dev = hw.device("a".into());
        dev.eta = eta;
        dev.overhead_s = overhead_ms / 1e3;
        dev.calibration = calibrated.then(|| Calibration {
            decode: DecodeTerms { mem_factor: factor, attn_factor: factor, per_head_position_s: 0.0, per_token_s: 1e-3, per_layer_s: 1e-5, per_vocab_row_s: 1e-9, kv_factor: None, types: Vec::new() },
            prefill: None,
            decode_holdout_pct: 10.0,
            prefill_holdout_pct: None,
            points: 1,
            models: 1,
            source: "test".into(),
        });
        let machine = Machine::single(dev);
        let depth = (m.depth as f64 * shallower) as u64;
        let ceiling = rooftune::compare::ceiling::decode_tok_s(&shape, &machine, depth);
        prop_assert!(m.tok_s <= ceiling, "{} {} {} at depth {depth}: measured {} > ceiling {ceiling:.1}", m.hw, m.model, m.quant, m.tok_s);
    }

    /// The same for prefill: every published prompt-processing rate sits at or
    /// under its prefill ceiling at spec peaks, at the mean depth its prompt's
    /// tokens see or any shallower one, whatever the micro-batch up to the row's.
    #[test]
    fn no_prefill_ceiling_is_below_a_published_measurement(
        row_i in 0usize..1000, shallower in 0.0f64..=1.0, ub_share in 0.01f64..=1.0,
    ) {
        let c = cat();
        assert!(!c.prefill_measurements.is_empty(), "measurements/ holds prefill rows");
        let m = &c.prefill_measurements[row_i % c.prefill_measurements.len()];
        let hw = c.hardware(&m.hw).expect("hw");
        let shape = c.model(&m.model).expect("model").shape(&c.quant(&m.quant).expect("quant"));
        let machine = Machine::single(hw.device("a".into()));
        let depth = m.depth + ((m.prompt_tokens / 2) as f64 * shallower) as u64;
        let ubatch = ((m.ubatch as f64 * ub_share) as u64).max(1);
        let ceiling = rooftune::roofline::prefill::at_depth(&shape, &machine, depth, m.ubatch).ceiling_tok_s;
        prop_assert!(m.tok_s <= ceiling, "{} {} {}: prefill {} > ceiling {ceiling:.1} at depth {depth}", m.hw, m.model, m.quant, m.tok_s);
        // A smaller micro-batch reads the weights more often: its ceiling is no higher.
        let small = rooftune::roofline::prefill::at_depth(&shape, &machine, depth, ubatch).ceiling_tok_s;
        prop_assert!(small <= ceiling * (1.0 + 1e-9), "ubatch {ubatch}: {small} > {ceiling}");
    }
}

/// Every published prefill rate, at the mean depth its prompt's tokens see
/// (the roofline's time per token is linear in depth, so the mean of the
/// times is the time at the mean depth), is at or under its ceiling.
#[test]
fn every_published_prefill_row_is_at_or_under_its_ceiling() {
    let c = cat();
    let mut checked = 0;
    for m in &c.prefill_measurements {
        let hw = c.hardware(&m.hw).expect("hw");
        let shape = c
            .model(&m.model)
            .expect("model")
            .shape(&c.quant(&m.quant).expect("quant"));
        let machine = Machine::single(hw.device("a".into()));
        let depth = m.depth + m.prompt_tokens / 2;
        let ceiling =
            rooftune::roofline::prefill::at_depth(&shape, &machine, depth, m.ubatch).ceiling_tok_s;
        assert!(
            m.tok_s <= ceiling,
            "{} {} {} pp{} @ d{}: {} > ceiling {ceiling:.1}",
            m.hw,
            m.model,
            m.quant,
            m.prompt_tokens,
            m.depth,
            m.tok_s
        );
        checked += 1;
    }
    assert!(checked >= 60, "{checked} rows");
}
