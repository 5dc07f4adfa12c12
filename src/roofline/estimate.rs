//! The estimate: what the roofline leaves out, as terms that scale with what
//! causes them. The ceiling (`decode`, `prefill`) is the time the memory or
//! the arithmetic alone takes; a real runtime adds
//!
//! - a shortfall on bandwidth, per weight type (each type's factor = 1 / eta
//!   of its kernel: prefetch, page walks, imperfect overlap, and on a CPU the
//!   dot-product kernel itself: llama.cpp b11434 on AVX2 repacks q4_0 and
//!   q4_K for faster dot products, not q8_0 or q5_0, so a q8_0 byte and a
//!   q4_0 byte take different times); a type the fit never saw takes the
//!   factor of the fitted type nearest in bits per weight ([`TypeColumns`]);
//! - a shortfall on bandwidth for the KV cache (`kv_factor`: the attention
//!   kernel reads it per query head, in rows);
//! - attention over the context: a cost per query head per cached token
//!   (`per_head_position_s`, [`head_positions`]), and the arithmetic, whose
//!   kernels reach a small share of the
//!   compute roof (`attn_factor` multiplies attention FLOPs at depth / roof):
//!   why decode at depth falls faster than the KV bytes explain;
//! - a fixed cost per token (`per_token_s`: sampling, HTTP, graph build);
//! - a cost per layer per token (`per_layer_s`: thread barriers and per-op
//!   dispatch, the same for a thin layer as for a wide one), per plain
//!   layer's worth of graph operations ([`ModelShape::layer_equivalents`]):
//!   a Gemma 3 layer, with four more norms than a llama one, counts 27/19;
//! - a cost per output-vocabulary row per token (`per_vocab_row_s`: the
//!   logits copy, softmax and sampler walk every row: a 262,144-token head
//!   pays 1,000x what a 256-token one does).
//!
//! Each term is one feature ([`decode_features`], [`prefill_features`]) times
//! one coefficient; the same features are used to fit the coefficients
//! (`rooftune calibrate`) and to predict, so a fit means what it says.
//! Prefill's features are the layers' weight FLOPs over the roof, split by
//! type the same way (no output head: see `prefill`), attention FLOPs, a
//! cost per token and per layer. Without a calibration the profile's eta and
//! overhead give the memory and per-token terms and the others are zero.

use super::kv::KvOptions;
use super::machine::Machine;
use super::placement::{kv_read_per_device, Assignment};
use super::prefill;
pub use crate::catalog::calibrated::{Calibration, DecodeTerms, PrefillTerms, TypeFactor};
use crate::shape::ModelShape;

/// Decode features after the two blocks of per-type columns (each type's
/// weights' memory time, then its output-head rows).
pub const DECODE_TAIL: [&str; 5] = [
    "KV cache memory time at full bandwidth (s)",
    "attention FLOPs / roof (s)",
    "attention head-positions (query heads x cached tokens)",
    "1 (per token)",
    "layers (in plain-layer graph operations)",
];
/// Prefill features after the per-type columns.
pub const PREFILL_TAIL: [&str; 3] = [
    "attention FLOPs / roof (s)",
    "1 (per token)",
    "layers (in plain-layer graph operations)",
];

/// The least share of a shape's weight bytes a type needs for a column of its own.
pub const MIN_TYPE_SHARE: f64 = 0.01;

/// The weight types a fit has a column for, each with its bits per weight.
/// A model's weights of a type go to the column of that name, else to the
/// column nearest in bits per weight (the fit never saw the type; the
/// nearest width is the best guess at its kernel's pace). One column named
/// `*` takes every type (a calibration saved before per-type terms).
#[derive(Debug, Clone, PartialEq)]
pub struct TypeColumns(Vec<(String, f64)>);

impl TypeColumns {
    /// One column for all weights.
    pub fn generic() -> Self {
        TypeColumns(vec![("*".into(), 0.0)])
    }

    /// A column for every type that holds at least [`MIN_TYPE_SHARE`] of
    /// some shape's weights (sorted by name), with the bits per weight of
    /// what they read; smaller ones (f32 norms) go to the nearest column.
    pub fn of<'a>(shapes: impl IntoIterator<Item = &'a ModelShape>) -> Self {
        let mut acc: Vec<(String, f64, f64)> = Vec::new();
        for shape in shapes {
            let types = shape.typed_weights();
            let total: f64 = types.iter().map(|t| t.read.plus(t.layers).bytes).sum();
            for t in types {
                let g = t.read.plus(t.layers);
                if total <= 0.0 || g.bytes < MIN_TYPE_SHARE * total {
                    continue;
                }
                match acc.iter_mut().find(|a| a.0 == t.name) {
                    Some(a) => {
                        a.1 += g.params;
                        a.2 += g.bytes;
                    }
                    None => acc.push((t.name.clone(), g.params, g.bytes)),
                }
            }
        }
        acc.sort_by(|a, b| a.0.cmp(&b.0));
        let cols: Vec<(String, f64)> = acc
            .into_iter()
            .filter(|a| a.1 > 0.0)
            .map(|(n, p, b)| (n, 8.0 * b / p))
            .collect();
        if cols.is_empty() {
            Self::generic()
        } else {
            TypeColumns(cols)
        }
    }

    /// The columns of saved per-type factors (generic when there are none).
    pub fn of_factors(types: &[TypeFactor]) -> Self {
        if types.is_empty() {
            Self::generic()
        } else {
            TypeColumns(types.iter().map(|t| (t.name.clone(), t.bits)).collect())
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never empty (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Names and bits per weight, in column order.
    pub fn columns(&self) -> &[(String, f64)] {
        &self.0
    }

    /// The column for weights of type `name` at `bits` per weight.
    pub fn column(&self, name: &str, bits: f64) -> usize {
        if let Some(i) = self.0.iter().position(|(n, _)| n == name) {
            return i;
        }
        self.nearest(bits, |_| true).unwrap_or(0)
    }

    /// The column nearest `bits` among those `keep` accepts (first on a tie).
    pub fn nearest(&self, bits: f64, keep: impl Fn(usize) -> bool) -> Option<usize> {
        (0..self.0.len()).filter(|&i| keep(i)).min_by(|&a, &b| {
            (self.0[a].1 - bits)
                .abs()
                .total_cmp(&(self.0[b].1 - bits).abs())
        })
    }

    /// Give each type column `supported` marks false (no training point has
    /// weights of its type) the coefficient of the supported column nearest
    /// in bits per weight, within each of the `blocks` consecutive blocks of
    /// type columns (decode has two: memory time, head rows); the columns
    /// after the blocks are left alone.
    pub fn fill(&self, c: &mut [f64], supported: &[bool], blocks: usize) {
        let k = self.len();
        for b in 0..blocks {
            let at = |i: usize| b * k + i;
            for i in 0..k {
                if at(i) >= c.len() || supported.get(at(i)).copied().unwrap_or(true) {
                    continue;
                }
                let near = self.nearest(self.0[i].1, |j| {
                    supported.get(at(j)).copied().unwrap_or(false)
                });
                if let Some(j) = near {
                    c[at(i)] = c[at(j)];
                }
            }
        }
    }

    /// Per column, the share of `g(type)` of a shape's weights (sums to 1 when any).
    fn shares(
        &self,
        shape: &ModelShape,
        g: impl Fn(&crate::shape::TypedWeights) -> f64,
    ) -> Vec<f64> {
        let mut v = vec![0.0; self.len()];
        let types = shape.typed_weights();
        let total: f64 = types.iter().map(&g).sum();
        if total > 0.0 {
            for t in &types {
                v[self.column(&t.name, t.bits())] += g(t) / total;
            }
        }
        v
    }
}

/// Query heads x cached tokens they attend over, summed over layers: a CPU
/// attention kernel's cost per head per cached token (scores, online
/// softmax, the V update) beyond the arithmetic. Measured here
/// (llama-server b11434, 2 cores): a 1024x8 model with 16 heads of 64 and
/// one with 4 heads of 256 do the same attention FLOPs, yet at depth 4096
/// the 16-head one spent 8.7 ms per token in attention and the 4-head one
/// 2.9 ms: about 15 ns per head-position plus 0.03 ns per head dimension.
pub fn head_positions(shape: &ModelShape, depth: u64) -> f64 {
    shape
        .layers
        .iter()
        .map(|l| l.attn_heads as f64 * super::kv::attended(&l.cache, depth) as f64)
        .sum()
}

/// The compute roof for this model's weights on the machine's primary device, op/s.
pub fn peak_ops(shape: &ModelShape, machine: &Machine) -> f64 {
    machine
        .primary()
        .map_or(f64::INFINITY, |d| d.peak_ops(shape.quantized_weights()))
}

/// Seconds per token reading (weights, KV cache) of every tier at full bandwidth.
pub fn memory_s(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
) -> (f64, f64) {
    let kv = kv_read_per_device(shape, a, depth, opts);
    machine
        .devices()
        .zip(&a.loads)
        .zip(&kv)
        .fold((0.0, 0.0), |(w, k), ((dev, load), kv_b)| {
            let bw = dev.bandwidth_gb_s * 1e9;
            (w + load.weights_read / bw, k + kv_b / bw)
        })
}

/// The decode features at `depth`: the weights' memory time split by type
/// column, the output-head rows split by type column, then [`DECODE_TAIL`].
pub fn decode_features(
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
    cols: &TypeColumns,
) -> Vec<f64> {
    let (weights_s, kv_s) = memory_s(shape, machine, a, depth, opts);
    let mut f: Vec<f64> = cols
        .shares(shape, |t| t.read.bytes)
        .into_iter()
        .map(|share| share * weights_s)
        .collect();
    f.extend(
        cols.shares(shape, |t| t.head.params)
            .into_iter()
            .map(|share| share * shape.vocab as f64),
    );
    f.extend([
        kv_s,
        prefill::attn_flops(shape, depth) / peak_ops(shape, machine),
        head_positions(shape, depth),
        1.0,
        shape.layer_equivalents(),
    ]);
    f
}

/// The decode terms as coefficients for `cols`, in feature order (a type
/// without a factor of its own takes `mem_factor`).
pub fn decode_coefficients(t: &DecodeTerms, cols: &TypeColumns) -> Vec<f64> {
    let of = |n: &str| t.types.iter().find(|f| f.name == n);
    let names = || cols.columns().iter().map(|(n, _)| n.as_str());
    let mut c: Vec<f64> = names()
        .map(|n| of(n).map_or(t.mem_factor, |f| f.factor))
        .collect();
    c.extend(names().map(|n| {
        of(n)
            .and_then(|f| f.head_row_s)
            .unwrap_or(t.per_vocab_row_s)
    }));
    c.extend([
        t.kv_factor.unwrap_or(t.mem_factor),
        t.attn_factor,
        t.per_head_position_s,
        t.per_token_s,
        t.per_layer_s,
    ]);
    c
}

/// Per-type factors from the first block of `c`, with head-row costs from
/// the second when given.
fn type_factors(cols: &TypeColumns, c: &[f64], head_rows: Option<&[f64]>) -> Vec<TypeFactor> {
    cols.columns()
        .iter()
        .zip(c)
        .enumerate()
        .filter(|(_, ((n, _), _))| n != "*")
        .map(|(i, ((name, bits), factor))| TypeFactor {
            name: name.clone(),
            bits: *bits,
            factor: *factor,
            head_row_s: head_rows.and_then(|h| h.get(i).copied()),
        })
        .collect()
}

/// The mean of the first `k` values (0 when there are none).
fn mean_of_first(c: &[f64], k: usize) -> f64 {
    let v = &c[..k.min(c.len())];
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Coefficients (in the order of [`decode_features`] for `cols`) back into decode terms.
pub fn decode_terms(c: &[f64], cols: &TypeColumns) -> DecodeTerms {
    let k = cols.len();
    let at = |i: usize| c.get(2 * k + i).copied().unwrap_or(0.0);
    let head_rows = c.get(k..2 * k).unwrap_or(&[]);
    DecodeTerms {
        mem_factor: mean_of_first(c, k),
        kv_factor: Some(at(0)),
        attn_factor: at(1),
        per_head_position_s: at(2),
        per_token_s: at(3),
        per_layer_s: at(4),
        per_vocab_row_s: mean_of_first(head_rows, k),
        types: type_factors(cols, c, Some(head_rows)),
    }
}

/// The prefill features per prompt token at `depth`: the layers' weight
/// FLOPs over the roof split by type column, then [`PREFILL_TAIL`].
pub fn prefill_features(
    shape: &ModelShape,
    machine: &Machine,
    depth: u64,
    cols: &TypeColumns,
) -> Vec<f64> {
    let peak = peak_ops(shape, machine);
    let weights_s = 2.0 * shape.layer_weights().params / peak;
    let mut f: Vec<f64> = cols
        .shares(shape, |t| t.layers.params)
        .into_iter()
        .map(|share| share * weights_s)
        .collect();
    f.extend([
        prefill::attn_flops(shape, depth) / peak,
        1.0,
        shape.layer_equivalents(),
    ]);
    f
}

/// The prefill terms as coefficients for `cols`, in feature order.
pub fn prefill_coefficients(t: &PrefillTerms, cols: &TypeColumns) -> Vec<f64> {
    let mut c: Vec<f64> = cols
        .columns()
        .iter()
        .map(|(n, _)| {
            t.types
                .iter()
                .find(|f| &f.name == n)
                .map_or(t.compute_factor, |f| f.factor)
        })
        .collect();
    c.extend([t.attn_factor, t.per_token_s, t.per_layer_token_s]);
    c
}

/// Coefficients back into prefill terms.
pub fn prefill_terms(c: &[f64], cols: &TypeColumns) -> PrefillTerms {
    let k = cols.len();
    let at = |i: usize| c.get(k + i).copied().unwrap_or(0.0);
    PrefillTerms {
        compute_factor: mean_of_first(c, k),
        attn_factor: at(0),
        per_token_s: at(1),
        per_layer_token_s: at(2),
        types: type_factors(cols, c, None),
    }
}

/// Dot product of features and coefficients: seconds.
pub fn seconds(features: &[f64], coefficients: &[f64]) -> f64 {
    features.iter().zip(coefficients).map(|(f, c)| f * c).sum()
}

/// Calibrated decode seconds per token at `depth`, never faster than the ceiling.
pub fn decode_s(
    cal: &Calibration,
    shape: &ModelShape,
    machine: &Machine,
    a: &Assignment,
    depth: u64,
    opts: KvOptions,
    ceiling_s: f64,
) -> f64 {
    let cols = TypeColumns::of_factors(&cal.decode.types);
    let f = decode_features(shape, machine, a, depth, opts, &cols);
    seconds(&f, &decode_coefficients(&cal.decode, &cols)).max(ceiling_s)
}

/// Calibrated prefill rate at `depth`, tok/s (None without prefill terms),
/// never above the prefill ceiling.
pub fn prefill_tok_s(
    cal: &Calibration,
    shape: &ModelShape,
    machine: &Machine,
    depth: u64,
    ubatch: u64,
) -> Option<f64> {
    let t = cal.prefill.as_ref()?;
    let cols = TypeColumns::of_factors(&t.types);
    let s = seconds(
        &prefill_features(shape, machine, depth, &cols),
        &prefill_coefficients(t, &cols),
    );
    let ceiling = prefill::at_depth(shape, machine, depth, ubatch).ceiling_tok_s;
    (s > 0.0).then(|| (1.0 / s).min(ceiling))
}

/// Time to first token for a prompt of `n` tokens of which `cached` are
/// already in the cache (what the agentic replay compares with), from the
/// calibrated terms: the `n - cached` new tokens prefilled at the calibrated
/// rate at the mean depth they see, then one calibrated decode step at depth
/// `n`. None when the machine has no calibration with prefill terms.
pub fn ttft_s(
    shape: &ModelShape,
    machine: &Machine,
    n: u64,
    cached: u64,
    opts: KvOptions,
) -> Option<f64> {
    let cal = machine.primary()?.calibration.as_ref()?;
    let new = n.saturating_sub(cached.min(n));
    let a = super::placement::assign(shape, machine, super::placement::Placement::ALL);
    let step = super::decode::at_depth(
        shape,
        machine,
        &a,
        n,
        opts,
        super::decode::EtaBand::default(),
    )
    .estimate_tok_s;
    let prefill_s = if new == 0 {
        0.0
    } else {
        let mid = cached + new / 2;
        new as f64 / prefill_tok_s(cal, shape, machine, mid, opts.ubatch.min(new))?
    };
    Some(prefill_s + 1.0 / step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roofline::decode::tests::{machine, shape};

    fn calibrated() -> Calibration {
        Calibration {
            decode: DecodeTerms {
                mem_factor: 1.0,
                attn_factor: 0.0,
                per_head_position_s: 0.0,
                per_token_s: 1e-3,
                per_layer_s: 0.0,
                per_vocab_row_s: 0.0,
                kv_factor: None,
                types: Vec::new(),
            },
            // 1 ms per prompt token, whatever the depth: 1,000 tok/s.
            prefill: Some(PrefillTerms {
                compute_factor: 0.0,
                attn_factor: 0.0,
                per_token_s: 1e-3,
                per_layer_token_s: 0.0,
                types: Vec::new(),
            }),
            decode_holdout_pct: 5.0,
            prefill_holdout_pct: Some(5.0),
            points: 4,
            models: 3,
            source: "test".into(),
        }
    }

    fn typed(parts: &[(&str, f64, f64)]) -> ModelShape {
        let mut s = shape();
        s.weight_types = parts
            .iter()
            .map(|&(name, params, bits)| crate::shape::TypedWeights {
                name: name.into(),
                read: crate::shape::Group::at_bpw(params, bits),
                layers: crate::shape::Group::at_bpw(params, bits),
                head: crate::shape::Group::default(),
            })
            .collect();
        s
    }

    #[test]
    fn types_take_their_own_column_else_the_nearest_in_bits() {
        let a = typed(&[("q4_0", 1e8, 4.5), ("f32", 1e5, 32.0)]);
        let b = typed(&[("q8_0", 1e8, 8.5)]);
        let cols = TypeColumns::of([&a, &b]);
        // f32 norms hold under 1% of a's bytes: no column of their own.
        let names: Vec<&str> = cols.columns().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["q4_0", "q8_0"]);
        assert_eq!(cols.column("q8_0", 0.0), 1);
        assert_eq!(cols.column("q5_0", 5.5), 0);
        assert_eq!(cols.column("q6_K", 6.56), 1);
        assert_eq!(cols.column("f32", 32.0), 1);
        // A column no fitted point has takes the nearest supported one's factor.
        // Within each block: memory factors, then head-row costs.
        let mut c = vec![0.0, 2.0, 3e-9, 0.0, 7.0];
        cols.fill(&mut c, &[false, true, true, false, true], 2);
        assert_eq!(c, [2.0, 2.0, 3e-9, 3e-9, 7.0]);
        // The weights' memory time is shared out by the bytes of each column.
        let m = machine(1e6, None);
        let asg = super::super::placement::assign(&a, &m, super::super::placement::Placement::ALL);
        let mixed = typed(&[("q4_0", 1e8, 4.5), ("q6_K", 1e8, 6.56)]);
        let f = decode_features(&mixed, &m, &asg, 0, KvOptions::default(), &cols);
        assert_eq!(f.len(), 2 * 2 + DECODE_TAIL.len());
        approx::assert_relative_eq!(f[0] / f[1], 4.5 / 6.56, max_relative = 1e-9);
        // Without types (a catalog shape) one generic column takes everything.
        let g = TypeColumns::of_factors(&[]);
        assert_eq!(g.len(), 1);
        let plain = decode_features(&shape(), &m, &asg, 0, KvOptions::default(), &g);
        approx::assert_relative_eq!(
            plain[0],
            memory_s(&shape(), &m, &asg, 0, KvOptions::default()).0,
            max_relative = 1e-12
        );
    }

    #[test]
    fn a_layer_of_more_graph_operations_pays_more_of_the_per_layer_term() {
        // Gemma 3 normalizes Q, K and both sublayer outputs too: 27
        // operations a layer where llama runs 19.
        let m = machine(1e6, None);
        let plain = shape();
        let mut gemma = shape();
        for l in &mut gemma.layers {
            l.ops = 27;
        }
        let asg =
            super::super::placement::assign(&plain, &m, super::super::placement::Placement::ALL);
        let mut cal = calibrated();
        cal.decode.per_token_s = 0.0;
        cal.decode.per_layer_s = 1e-4;
        let at = |s: &ModelShape| decode_s(&cal, s, &m, &asg, 0, KvOptions::default(), 0.0);
        let layers = plain.layers.len() as f64;
        approx::assert_relative_eq!(
            at(&gemma) - at(&plain),
            1e-4 * layers * 8.0 / 19.0,
            max_relative = 1e-9
        );
    }

    #[test]
    fn fitted_terms_round_trip_through_their_coefficients() {
        let cols = TypeColumns::of([&typed(&[("q4_0", 1e8, 4.5)]), &typed(&[("q8_0", 1e8, 8.5)])]);
        let c = [1.4, 1.2, 0.0, 1e-8, 0.5, 30.0, 1.5e-8, 1e-4, 2e-6];
        let t = decode_terms(&c, &cols);
        assert_eq!(t.types.len(), 2);
        assert_eq!(t.types[1].head_row_s, Some(1e-8));
        approx::assert_relative_eq!(t.mem_factor, 1.3, max_relative = 1e-12);
        assert_eq!(
            decode_coefficients(&t, &TypeColumns::of_factors(&t.types)),
            c
        );
        let p = [10.0, 14.0, 16.0, 0.0, 2e-6];
        let pt = prefill_terms(&p, &cols);
        assert_eq!(
            prefill_coefficients(&pt, &TypeColumns::of_factors(&pt.types)),
            p
        );
    }

    #[test]
    fn a_calibration_saved_before_per_type_terms_still_loads() {
        let old = r#"
decode_holdout_pct = 12.0
points = 6
models = 3
source = "rooftune calibrate on 2026-11-29"
[decode]
mem_factor = 1.3
attn_factor = 120.0
per_token_s = 8.5e-5
per_layer_s = 7e-6
per_vocab_row_s = 1e-9
[prefill]
compute_factor = 0.58
attn_factor = 131.0
per_token_s = 0.0
per_layer_token_s = 0.0
"#;
        let c: Calibration = toml::from_str(old).expect("old calibration");
        assert!(c.decode.types.is_empty() && c.decode.kv_factor.is_none());
        assert!(c.prefill.as_ref().is_some_and(|p| p.types.is_empty()));
        // The estimate reads it as one column for every weight type, the KV
        // cache at the weights' factor (what it meant when it was fitted).
        let cols = TypeColumns::of_factors(&c.decode.types);
        let k = decode_coefficients(&c.decode, &cols);
        assert_eq!(k, [1.3, 1e-9, 1.3, 120.0, 0.0, 8.5e-5, 7e-6]);
    }

    #[test]
    fn ttft_prefills_only_what_the_cache_misses() {
        let (s, m) = (shape(), machine(1e6, Some(calibrated())));
        let opts = KvOptions::default();
        let t = |cached| ttft_s(&s, &m, 1000, cached, opts).expect("calibrated");
        let a = super::super::placement::assign(&s, &m, super::super::placement::Placement::ALL);
        let step = super::super::decode::at_depth(
            &s,
            &m,
            &a,
            1000,
            opts,
            super::super::decode::EtaBand::default(),
        )
        .estimate_tok_s;
        // 1,000 new tokens at 1,000 tok/s, then one decode step at depth 1,000.
        approx::assert_relative_eq!(t(0), 1.0 + 1.0 / step, max_relative = 1e-9);
        approx::assert_relative_eq!(t(600), 0.4 + 1.0 / step, max_relative = 1e-9);
        // All cached: only the decode step; more cached than the prompt is the same.
        approx::assert_relative_eq!(t(1000), 1.0 / step, max_relative = 1e-9);
        approx::assert_relative_eq!(t(5000), 1.0 / step, max_relative = 1e-9);
        // Without prefill terms there is no calibrated TTFT.
        let mut bare = calibrated();
        bare.prefill = None;
        assert!(ttft_s(&s, &machine(1e6, Some(bare)), 1000, 0, opts).is_none());
    }
}
