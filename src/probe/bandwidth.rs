//! Memory bandwidth, measured the way STREAM measures it: arrays far larger
//! than the last-level cache, one contiguous slice per thread (initialised by
//! that thread, so first-touch places its pages near it), every repetition
//! timed between two barriers, the best repetition reported.
//!
//! Two kernels: a read-only sum (what decode does to the weights) and the
//! triad `a[i] = b[i] + s * c[i]`, counted as STREAM counts it, 3 x 8 bytes
//! per element (the write-allocate read of `a` is not counted), so the triad
//! figure compares directly with `stream.c` (see `scripts/compare-probe-stream.sh`).

use super::ProbeError;
use serde::Serialize;
use std::sync::Barrier;
use std::time::Instant;

/// Initial value of every element of `b`.
const B_INIT: f64 = 1.0;
/// Initial value of every element of `c`.
const C_INIT: f64 = 2.0;
/// The triad's scalar.
const SCALAR: f64 = 3.0;

/// How big and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BandwidthConfig {
    /// Bytes of each of the three arrays.
    pub array_bytes: usize,
    /// Threads (one contiguous slice each).
    pub threads: usize,
    /// Timed repetitions per kernel; the best one is reported.
    pub repetitions: usize,
}

/// One kernel's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KernelResult {
    /// `read` or `triad`.
    pub kernel: &'static str,
    /// Bytes counted per repetition (STREAM counting).
    pub bytes_per_rep: u64,
    /// Best repetition, decimal GB/s.
    pub best_gb_s: f64,
    /// Median repetition, decimal GB/s.
    pub median_gb_s: f64,
    /// Worst repetition, decimal GB/s.
    pub worst_gb_s: f64,
    /// Checksum of the data after the kernel (a sum over the array it produced or read).
    pub checksum: f64,
    /// The checksum the arithmetic must give.
    pub expected_checksum: f64,
}

/// Both kernels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BandwidthResult {
    /// What was run.
    pub config: BandwidthConfig,
    /// Read-only sum over `b` and `c`.
    pub read: KernelResult,
    /// `a[i] = b[i] + s * c[i]`.
    pub triad: KernelResult,
}

/// Run the read and triad kernels.
pub fn measure(cfg: BandwidthConfig) -> Result<BandwidthResult, ProbeError> {
    let n = (cfg.array_bytes / 8).max(cfg.threads.max(1) * 8);
    let chunk = n.div_ceil(cfg.threads.clamp(1, n / 8));
    // The slices actually made (ceil division can leave fewer than asked for).
    let threads = n.div_ceil(chunk);
    let reps = cfg.repetitions.max(1);
    // `vec![0.0; n]` is a zeroed allocation (fresh pages for large sizes), so
    // the first write to each page is the worker's own initialisation.
    let mut a = vec![0.0f64; n];
    let mut b = vec![0.0f64; n];
    let mut c = vec![0.0f64; n];

    let barrier = Barrier::new(threads + 1);
    let mut read_times = Vec::with_capacity(reps);
    let mut triad_times = Vec::with_capacity(reps);
    let mut partial_sums = vec![(0.0f64, 0.0f64); threads];
    // Each worker's (start, end) of every kernel run: reps reads, then reps triads.
    let mut spans: Vec<Vec<(Instant, Instant)>> = vec![Vec::with_capacity(2 * reps); threads];
    std::thread::scope(|s| {
        let slices = a
            .chunks_mut(chunk)
            .zip(b.chunks_mut(chunk))
            .zip(c.chunks_mut(chunk))
            .zip(partial_sums.iter_mut().zip(spans.iter_mut()));
        for (((a, b), c), (out, span)) in slices {
            let barrier = &barrier;
            s.spawn(move || worker(a, b, c, reps, barrier, out, span));
        }
        // The main thread only paces the phases; the workers time their own kernels.
        for _ in 0..2 + 4 * reps {
            barrier.wait();
        }
    });
    // A run lasts from the first worker's start to the last worker's end. (Timing it from the
    // main thread between barriers was wrong with more threads than cores: the main thread could
    // be descheduled as the barrier released the workers and read the clock late, which made the
    // best of 20 runs 15-55 % faster than a C STREAM triad.)
    for rep in 0..2 * reps {
        let start = spans.iter().filter_map(|v| v.get(rep).map(|s| s.0)).min();
        let end = spans.iter().filter_map(|v| v.get(rep).map(|s| s.1)).max();
        if let (Some(a), Some(b)) = (start, end) {
            let t = b.saturating_duration_since(a).as_secs_f64();
            if rep < reps {
                read_times.push(t)
            } else {
                triad_times.push(t)
            }
        }
    }
    let read_sum: f64 = partial_sums.iter().map(|p| p.0).sum();
    let triad_sum: f64 = partial_sums.iter().map(|p| p.1).sum();
    let elements = n as f64;
    let read = summarize(
        "read",
        (2 * n * 8) as u64,
        &read_times,
        read_sum,
        elements * (B_INIT + C_INIT),
    )?;
    let triad = summarize(
        "triad",
        (3 * n * 8) as u64,
        &triad_times,
        triad_sum,
        elements * (B_INIT + SCALAR * C_INIT),
    )?;
    Ok(BandwidthResult {
        config: BandwidthConfig {
            array_bytes: n * 8,
            threads,
            repetitions: reps,
        },
        read,
        triad,
    })
}

/// One thread's part: initialise its slices, then follow the main thread's barriers.
fn worker(
    a: &mut [f64],
    b: &mut [f64],
    c: &mut [f64],
    reps: usize,
    barrier: &Barrier,
    out: &mut (f64, f64),
    spans: &mut Vec<(Instant, Instant)>,
) {
    a.fill(0.0);
    b.fill(B_INIT);
    c.fill(C_INIT);
    barrier.wait();
    barrier.wait();
    let mut read = 0.0;
    for _ in 0..reps {
        barrier.wait();
        let t0 = Instant::now();
        read = read_sum(b) + read_sum(c);
        spans.push((t0, Instant::now()));
        barrier.wait();
    }
    for _ in 0..reps {
        barrier.wait();
        let t0 = Instant::now();
        triad(a, b, c, SCALAR);
        spans.push((t0, Instant::now()));
        barrier.wait();
    }
    out.0 = std::hint::black_box(read);
    out.1 = read_sum(a);
}

/// Sum of a slice with eight independent accumulators, so the loop vectorises
/// and is bound by memory, not by the latency of one floating-point add chain.
pub fn read_sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut blocks = x.chunks_exact(8);
    for blk in &mut blocks {
        for (s, v) in acc.iter_mut().zip(blk) {
            *s += v;
        }
    }
    let tail: f64 = blocks.remainder().iter().sum();
    std::hint::black_box(acc.iter().sum::<f64>() + tail)
}

/// STREAM's triad: `a[i] = b[i] + s * c[i]`.
pub fn triad(a: &mut [f64], b: &[f64], c: &[f64], s: f64) {
    for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
        *a = b + s * c;
    }
    std::hint::black_box(&a);
}

fn summarize(
    kernel: &'static str,
    bytes_per_rep: u64,
    times_s: &[f64],
    checksum: f64,
    expected_checksum: f64,
) -> Result<KernelResult, ProbeError> {
    let mut rates: Vec<f64> = times_s
        .iter()
        .map(|t| bytes_per_rep as f64 / t.max(1e-9) / 1e9)
        .collect();
    rates.sort_by(|x, y| y.total_cmp(x));
    let best = rates.first().copied().unwrap_or(f64::NAN);
    if !(best.is_finite() && best > 0.0) {
        return Err(ProbeError::Measurement {
            what: format!("{kernel} bandwidth"),
            value: best,
        });
    }
    if (checksum - expected_checksum).abs() > 1e-9 * expected_checksum.abs() {
        return Err(ProbeError::Checksum {
            kernel,
            got: checksum,
            expected: expected_checksum,
        });
    }
    Ok(KernelResult {
        kernel,
        bytes_per_rep,
        best_gb_s: best,
        median_gb_s: rates[rates.len() / 2],
        worst_gb_s: rates[rates.len() - 1],
        checksum,
        expected_checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sum_handles_tails() {
        let x: Vec<f64> = (1..=13).map(f64::from).collect();
        assert_eq!(read_sum(&x), 91.0);
        assert_eq!(read_sum(&[]), 0.0);
    }

    #[test]
    fn triad_computes_b_plus_s_c() {
        let b = [1.0, 2.0, 3.0];
        let c = [10.0, 20.0, 30.0];
        let mut a = [0.0; 3];
        triad(&mut a, &b, &c, 0.5);
        assert_eq!(a, [6.0, 12.0, 18.0]);
    }

    #[test]
    fn small_run_has_correct_checksums_and_finite_rates() {
        for threads in [1, 2, 3] {
            let r = measure(BandwidthConfig {
                array_bytes: 1 << 20,
                threads,
                repetitions: 2,
            })
            .expect("measure");
            let n = (r.config.array_bytes / 8) as f64;
            assert_eq!(r.read.checksum, n * 3.0);
            assert_eq!(r.triad.checksum, n * 7.0);
            for k in [&r.read, &r.triad] {
                assert!(k.best_gb_s.is_finite() && k.best_gb_s > 0.0);
                assert!(k.worst_gb_s <= k.median_gb_s && k.median_gb_s <= k.best_gb_s);
            }
            assert_eq!(r.triad.bytes_per_rep, 3 * 8 * n as u64);
        }
    }

    #[test]
    fn odd_sizes_keep_every_element() {
        let r = measure(BandwidthConfig {
            array_bytes: 8 * 1001,
            threads: 4,
            repetitions: 1,
        })
        .expect("measure");
        assert_eq!(r.config.array_bytes, 8 * 1001);
        assert_eq!(r.triad.checksum, 7.0 * 1001.0);
    }
}
