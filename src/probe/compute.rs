//! CPU compute: a short blocked f32 matrix multiply on every thread, for the
//! prefill ceiling. It is an honest CPU figure for a plain Rust kernel (with
//! AVX2+FMA chosen at run time on x86-64), not a peak: llama.cpp's hand-written
//! quantized kernels (and AVX-512/AMX/NEON dot products) can reach more, so a
//! prefill ceiling built on it is conservative.

use super::ProbeError;
use serde::Serialize;
use std::time::Instant;

/// Block of the shared dimension k, elements (a KB x NR panel of B is 16 KiB, in L1).
const KB: usize = 256;

/// How big and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ComputeConfig {
    /// Square matrix size n (n x n times n x n).
    pub n: usize,
    /// Threads (each computes a band of rows).
    pub threads: usize,
    /// Timed repetitions; the best one is reported.
    pub repetitions: usize,
}

/// The matmul's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComputeResult {
    /// What was run (threads as actually used).
    pub config: ComputeConfig,
    /// Best repetition, GFLOP/s (2 n^3 floating-point operations per multiply).
    pub best_gflop_s: f64,
    /// Median repetition, GFLOP/s.
    pub median_gflop_s: f64,
    /// The instruction set the kernel ran with (`avx2+fma`, `baseline`).
    pub isa: &'static str,
}

/// Multiply two n x n f32 matrices `reps` times on `threads` threads.
pub fn measure(cfg: ComputeConfig) -> Result<ComputeResult, ProbeError> {
    let n = cfg.n.max(8);
    let threads = cfg.threads.clamp(1, n);
    let reps = cfg.repetitions.max(1);
    let a: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32) * 0.25).collect();
    let b: Vec<f32> = (0..n * n).map(|i| ((i % 5) as f32) * 0.5).collect();
    let mut c = vec![0.0f32; n * n];
    let mut rates = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t0 = Instant::now();
        matmul_parallel(&a, &b, &mut c, n, threads);
        let s = t0.elapsed().as_secs_f64().max(1e-9);
        rates.push(2.0 * (n as f64).powi(3) / s / 1e9);
    }
    std::hint::black_box(&c);
    rates.sort_by(|x, y| y.total_cmp(x));
    let best = rates[0];
    if !(best.is_finite() && best > 0.0) {
        return Err(ProbeError::Measurement {
            what: "matmul GFLOP/s".into(),
            value: best,
        });
    }
    let rows = n.div_ceil(threads);
    Ok(ComputeResult {
        config: ComputeConfig {
            n,
            threads: n.div_ceil(rows),
            repetitions: reps,
        },
        best_gflop_s: best,
        median_gflop_s: rates[rates.len() / 2],
        isa: isa(),
    })
}

/// `c = a * b` (row-major n x n), rows split into one band per thread.
pub fn matmul_parallel(a: &[f32], b: &[f32], c: &mut [f32], n: usize, threads: usize) {
    let rows = n.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        for (band, c_band) in c.chunks_mut(rows * n).enumerate() {
            let a_band = &a[band * rows * n..band * rows * n + c_band.len()];
            s.spawn(move || matmul_band(a_band, b, c_band, n));
        }
    });
}

fn isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            return "avx2+fma";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return "neon";
    }
    #[allow(unreachable_code)]
    "baseline"
}

/// One band of rows: `c_band = a_band * b`, choosing the widest kernel the CPU has.
fn matmul_band(a_band: &[f32], b: &[f32], c_band: &mut [f32], n: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { band_avx2(a_band, b, c_band, n) };
            return;
        }
    }
    // NEON has fused multiply-add in every aarch64 CPU; elsewhere `mul_add`
    // would be a library call, so the plain kernel multiplies and adds.
    band::<{ cfg!(target_arch = "aarch64") }>(a_band, b, c_band, n);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn band_avx2(a_band: &[f32], b: &[f32], c_band: &mut [f32], n: usize) {
    band::<true>(a_band, b, c_band, n);
}

/// Rows of the register tile.
const MR: usize = 4;
/// Columns of the register tile (two 8-lane AVX registers per row).
const NR: usize = 16;

/// Blocked multiply: k in blocks of `KB`, then `NR`-column panels of B (which
/// stay in L1 while every `MR`-row tile of the band passes over them), the
/// tile accumulated in registers; ragged edges take a plain loop.
#[inline(always)]
fn band<const FMA: bool>(a_band: &[f32], b: &[f32], c_band: &mut [f32], n: usize) {
    c_band.fill(0.0);
    let rows = c_band.len() / n;
    let full_rows = rows - rows % MR;
    let full_cols = n - n % NR;
    for k0 in (0..n).step_by(KB) {
        let k1 = (k0 + KB).min(n);
        for j0 in (0..full_cols).step_by(NR) {
            for i0 in (0..full_rows).step_by(MR) {
                tile::<FMA>(a_band, b, c_band, n, (i0, j0), (k0, k1));
            }
        }
        edges(a_band, b, c_band, n, (full_rows, full_cols), (k0, k1));
    }
}

/// `C[i0.., j0..] += A[i0.., k0..k1] * B[k0..k1, j0..]` for one MR x NR tile.
#[inline(always)]
fn tile<const FMA: bool>(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    n: usize,
    (i0, j0): (usize, usize),
    (k0, k1): (usize, usize),
) {
    let mut acc = [[0.0f32; NR]; MR];
    for k in k0..k1 {
        let b_row = &b[k * n + j0..][..NR];
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let a_rk = a[(i0 + r) * n + k];
            for (s, bv) in acc_row.iter_mut().zip(b_row) {
                *s = if FMA {
                    a_rk.mul_add(*bv, *s)
                } else {
                    *s + a_rk * bv
                };
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        for (cv, s) in c[(i0 + r) * n + j0..][..NR].iter_mut().zip(acc_row) {
            *cv += s;
        }
    }
}

/// The rows below the last full tile row and the columns right of the last full tile column.
fn edges(
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    n: usize,
    (full_rows, full_cols): (usize, usize),
    (k0, k1): (usize, usize),
) {
    let rows = c.len() / n;
    for i in 0..rows {
        let cols = if i < full_rows { full_cols..n } else { 0..n };
        for j in cols {
            let dot: f32 = (k0..k1).map(|k| a[i * n + k] * b[k * n + j]).sum();
            c[i * n + j] += dot;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], n: usize) -> Vec<f32> {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                c[i * n + j] = (0..n).map(|k| a[i * n + k] * b[k * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn blocked_parallel_matches_naive() {
        // 300 crosses both block sizes and leaves ragged edges.
        for (n, threads) in [(5, 2), (37, 3), (300, 2)] {
            let a: Vec<f32> = (0..n * n).map(|i| ((i % 7) as f32) - 3.0).collect();
            let b: Vec<f32> = (0..n * n).map(|i| ((i % 5) as f32) * 0.5).collect();
            let mut c = vec![1.0; n * n];
            matmul_parallel(&a, &b, &mut c, n, threads);
            let want = naive(&a, &b, n);
            for (x, y) in c.iter().zip(&want) {
                approx::assert_relative_eq!(x, y, max_relative = 1e-4, epsilon = 1e-3);
            }
        }
    }

    #[test]
    fn measure_is_positive_and_finite() {
        let r = measure(ComputeConfig {
            n: 64,
            threads: 2,
            repetitions: 2,
        })
        .expect("measure");
        assert!(r.best_gflop_s.is_finite() && r.best_gflop_s > 0.0);
        assert!(r.median_gflop_s <= r.best_gflop_s);
    }
}
