//! The seeds' own arithmetic, checked against the engine and the bundled data.

use rooftune::catalog::measurements::MeasurementKind;
use rooftune::catalog::Catalog;
use rooftune::compare::calibration as published;
use rooftune::compare::AsDevice;
use rooftune::roofline::context::ContextVerdict;
use rooftune::roofline::decode::EtaBand;
use rooftune::roofline::kv::{self, KvOptions};
use rooftune::roofline::machine::Machine;
use rooftune::roofline::placement::Placement;
use rooftune::roofline::{self, context, Scenario};
use rooftune::shape::ModelShape;

const MIB: f64 = 1024.0 * 1024.0;

fn cat() -> &'static Catalog {
    Catalog::bundled().expect("bundled catalog parses")
}

fn shape(model: &str, quant: &str) -> ModelShape {
    let c = cat();
    c.model(model)
        .expect("model")
        .shape(&c.quant(quant).expect("quant"))
}

/// The seed's M3 Ultra at its "~800 GB/s effective".
fn m3_ultra_at(bw: f64) -> Machine {
    let hw = cat().hardware("m3-ultra-512").expect("profile");
    let mut d = hw.device(hw.name.clone());
    d.bandwidth_gb_s = bw;
    Machine::single(d)
}

fn ceiling(shape: &ModelShape, m: &Machine, depth: u64) -> f64 {
    let s = Scenario {
        depths: vec![depth],
        ..Scenario::default()
    };
    roofline::predict(shape, m, &s)
        .decode
        .last()
        .expect("a point")
        .ceiling_tok_s
}

#[test]
fn dense_27b_at_q4_is_about_50_tok_s_at_800_gb_s() {
    // Seed: "27B dense at Q4 (16 GB): 800 / 16 = ~50 tok/s".
    let s = shape("qwen3.5-27b", "mlx-4bit");
    let gb = s.active_weights().bytes / 1e9;
    assert!(
        (14.0..17.0).contains(&gb),
        "27B at 4.5 bpw reads {gb:.2} GB per token"
    );
    let c = ceiling(&s, &m3_ultra_at(800.0), 0);
    assert!((47.0..57.0).contains(&c), "ceiling {c:.1} tok/s");
}

#[test]
fn glm_5_1_at_ud_iq3_xxs_reads_17_5_gb_and_is_about_45_tok_s() {
    // Seed: "GLM-5.1, 40B active at IQ3_XXS: 800 / ~17.5 = ~45 tok/s".
    let ud = shape("glm-5.1", "ud-iq3_xxs");
    let gb = ud.active_weights().bytes / 1e9;
    assert!(
        (17.0..18.0).contains(&gb),
        "UD-IQ3_XXS reads {gb:.2} GB per token"
    );
    let c = ceiling(&ud, &m3_ultra_at(800.0), 0);
    assert!((43.0..48.0).contains(&c), "ceiling {c:.1} tok/s");
    // Pure IQ3_XXS would read ~15.3 GB: 40B x 3.0625 bits.
    let pure = shape("glm-5.1", "iq3_xxs").active_weights().bytes / 1e9;
    assert!(
        (15.0..16.2).contains(&pure),
        "pure IQ3_XXS reads {pure:.2} GB"
    );
    // The file: 268 GB in 7 shards.
    let file_gb = ud.total_weights().bytes / 1e9;
    assert!((262.0..275.0).contains(&file_gb), "file {file_gb:.1} GB");
}

#[test]
fn glm_5_1_latent_cache_matches_the_seed_log_to_the_hundredth_mib() {
    // Seed log: `llama_kv_cache: size = 85709.81 MiB (1000192 cells, 78 layers ...)`.
    let s = shape("glm-5.1", "ud-iq3_xxs");
    let a = kv::allocation(&s, 1_000_000, KvOptions::default());
    assert_eq!(a.cells, 1_000_192);
    assert_eq!(a.layers, 78);
    assert!(
        (a.kv_bytes / MIB - 85709.81).abs() < 0.01,
        "latent cache {:.2} MiB",
        a.kv_bytes / MIB
    );
    // b11434 also allocates the DSA indexer keys: 128 x 2 bytes per token per layer.
    assert!((a.indexer_bytes - 1_000_192.0 * 78.0 * 256.0).abs() < 1.0);
    // "about 87 MB per 1,000 tokens: 200K costs about 17 GB".
    let per_1k = kv::allocation(&s, 1024, KvOptions::default()).kv_bytes / 1024.0 * 1000.0 / 1e6;
    assert!(
        (86.0..92.0).contains(&per_1k),
        "{per_1k:.1} MB per 1k tokens"
    );
    let k200 = kv::allocation(&s, 200_000, KvOptions::default()).kv_bytes / 1e9;
    assert!((16.5..18.5).contains(&k200), "200K: {k200:.1} GB");
}

#[test]
fn a_million_tokens_on_glm_5_1_is_capped_at_202752() {
    let s = shape("glm-5.1", "ud-iq3_xxs");
    match context::judge(&s, 1_000_000) {
        ContextVerdict::Capped {
            allocated_cells,
            capped_to,
            ..
        } => {
            assert_eq!(capped_to, 202_752);
            assert_eq!(allocated_cells, 1_000_192);
        }
        other => panic!("expected a cap, got {other:?}"),
    }
    assert!(context::judge(&s, 200_000).is_native());
}

#[test]
fn decode_at_depth_is_slower_for_every_model_with_attention() {
    let m = m3_ultra_at(800.0);
    for spec in &cat().models {
        let s = spec.shape(&cat().quant("q4_k_m").expect("mix"));
        let (d0, d32k) = (ceiling(&s, &m, 0), ceiling(&s, &m, 32_768));
        assert!(d32k < d0, "{}: {d32k} !< {d0}", spec.name);
    }
}

#[test]
fn derived_parameter_counts_match_published_totals() {
    for spec in &cat().models {
        let Some(total) = &spec.params.total_b else {
            continue;
        };
        let derived = spec.derived_total_params() / 1e9;
        let err = (derived - total.value).abs() / total.value;
        assert!(
            err < 0.05,
            "{}: derived {derived:.1}B vs published {}B",
            spec.name,
            total.value
        );
        if let Some(active) = &spec.params.active_b {
            let s = spec.shape(&cat().quant("q8_0").expect("type"));
            let a = s.active_weights().params / 1e9;
            // Published active counts are rounded names ("A3B") and often leave out the output head.
            assert!(
                (a - active.value).abs() / active.value < 0.25,
                "{}: active {a:.1}B vs {}B",
                spec.name,
                active.value
            );
        }
    }
}

#[test]
fn no_plain_decode_measurement_beats_its_ceiling() {
    let checked =
        published::check_all(cat()).expect("every row names known hardware, models and quants");
    assert!(checked.len() >= 10);
    let plain: Vec<_> = checked
        .iter()
        .filter(|c| c.measurement.kind == MeasurementKind::Plain)
        .collect();
    assert!(plain.len() >= 10);
    for c in &plain {
        assert!(
            c.measurement.tok_s <= c.point.ceiling_tok_s,
            "{} {} {} at depth {}: measured {} > ceiling {:.1}",
            c.measurement.hw,
            c.measurement.model,
            c.measurement.quant,
            c.measurement.depth,
            c.measurement.tok_s,
            c.point.ceiling_tok_s
        );
    }
}

#[test]
fn speculative_rows_stay_under_the_best_speculative_estimate() {
    use rooftune::roofline::speculative;
    for c in published::check_all(cat())
        .expect("rows")
        .iter()
        .filter(|c| c.measurement.kind != MeasurementKind::Plain)
    {
        // A free drafter (prompt lookup) with a draft of up to 8 at 90 % acceptance is a generous bound.
        let (_, best) = speculative::best_speedup(0.9, 0.0, 8);
        assert!(
            c.measurement.tok_s <= c.point.ceiling_tok_s * best,
            "{} {}: {} tok/s beats even the speculative bound {:.1}",
            c.measurement.hw,
            c.measurement.model,
            c.measurement.tok_s,
            c.point.ceiling_tok_s * best
        );
        assert!(
            c.measurement.tok_s > c.point.ceiling_tok_s * 0.2,
            "a speculative row so slow it is probably mislabelled"
        );
    }
}

#[test]
fn held_out_calibration_is_reported_per_family() {
    let fits = published::family_bands(cat());
    assert!(!fits.is_empty(), "at least one family has enough rows");
    for (family, f) in fits {
        assert!(f.band.low <= 1.0 && f.band.high >= 1.0, "{family}");
        assert!(f.holdout_coverage > 0.0 && f.holdout_coverage <= 1.0);
        assert!(f.holdout_mape_pct.is_finite());
    }
}

#[test]
fn offloading_moe_experts_to_host_puts_most_time_on_the_host_tier() {
    let c = cat();
    let s = shape("gpt-oss-120b", "mxfp4-native");
    let gpu = c.hardware("rtx-3090").expect("gpu");
    let host = c.hardware("ddr5-6000-2ch").expect("host");
    let m = Machine {
        accel: vec![gpu.device("gpu".into())],
        host: Some(host.device("host".into())),
        tensor_split: vec![1.0],
    };
    let auto = roofline::predict(
        &s,
        &m,
        &Scenario {
            ctx: 32_768,
            ..Scenario::default()
        },
    );
    assert!(auto.memory.fits(), "auto placement finds a fit");
    assert!(
        auto.placement.n_cpu_moe > 0,
        "120B does not fit 24 GB: experts go to the host"
    );
    let all_gpu = roofline::predict(
        &s,
        &m,
        &Scenario {
            ctx: 32_768,
            placement: Some(Placement::ALL),
            ..Scenario::default()
        },
    );
    assert!(!all_gpu.memory.fits());
    let p = &auto.decode[0];
    let host_share = p
        .tiers
        .iter()
        .find(|t| t.device == "host")
        .map_or(0.0, |t| t.ceiling_s)
        / p.tiers.iter().map(|t| t.ceiling_s).sum::<f64>();
    assert!(host_share > 0.5, "host tier share {host_share:.2}");
}

#[test]
fn the_bar_verdicts_differ() {
    use rooftune::roofline::bars::BarVerdict;
    let m = m3_ultra_at(800.0);
    let v = |model: &str, quant: &str| {
        let s = Scenario {
            band: EtaBand {
                low: 0.7,
                high: 1.1,
            },
            ..Scenario::default()
        };
        roofline::predict(&shape(model, quant), &m, &s).bars[0].verdict
    };
    assert_eq!(v("glm-5.1", "ud-iq3_xxs"), BarVerdict::No);
    assert_eq!(v("qwen3-coder-30b-a3b", "q4_k_m"), BarVerdict::Yes);
}
