//! A machine as the engine sees it: accelerators that take layers with
//! `-ngl` (GPUs, or the one unified SoC) and an optional host memory that
//! takes what is offloaded. Built from hardware profiles at the edge.

use serde::Serialize;

/// One memory tier: where bytes live decides how fast they are read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Label shown in reports (`rtx-3090 #1`, `host ddr5-6000-2ch`).
    pub label: String,
    /// Memory bandwidth, decimal GB/s.
    pub bandwidth_gb_s: f64,
    /// Decode efficiency: achieved fraction of bandwidth.
    pub eta: f64,
    /// Fixed per-token overhead, seconds.
    pub overhead_s: f64,
    /// Bytes a model may occupy here.
    pub usable_bytes: f64,
    /// Physical capacity, bytes.
    pub capacity_bytes: f64,
    /// Peak dense FP16 compute, FLOP/s (the float FMA roof on a CPU).
    pub flops: f64,
    /// Peak dense INT8 compute, op/s (0 when unknown): the roof for weights
    /// the runtime dots as integers (llama.cpp's q8 dot products on CPUs).
    pub int8_ops: f64,
    /// Estimate terms fitted on this machine's measurements (`rooftune
    /// calibrate`); when set they replace eta and the overhead in the estimate.
    pub calibration: Option<crate::catalog::calibrated::Calibration>,
    /// Whether this device shares memory with the CPU (Apple, DGX Spark, Strix Halo).
    pub unified: bool,
}

impl Device {
    /// The compute roof for a model's weights, op/s: quantized weights may take
    /// the int8 dot-product path or be dequantized to the float path, so the
    /// roof is the faster of the two; float weights take the float path.
    pub fn peak_ops(&self, quantized_weights: bool) -> f64 {
        if quantized_weights {
            self.flops.max(self.int8_ops)
        } else {
            self.flops
        }
    }
}

/// Accelerators plus host memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    /// Devices that take layers with `-ngl`, in order (`-ts` splits across them).
    pub accel: Vec<Device>,
    /// System RAM read by the CPU, when layers or experts can be offloaded there.
    pub host: Option<Device>,
    /// Share of the GPU layers each accelerator takes (`-ts`); same length as `accel`.
    pub tensor_split: Vec<f64>,
}

impl Machine {
    /// A machine that is one device (a unified SoC, one GPU, or a CPU).
    pub fn single(device: Device) -> Machine {
        Machine {
            accel: vec![device],
            host: None,
            tensor_split: vec![1.0],
        }
    }

    /// A CPU-only machine: everything lives in host memory.
    pub fn cpu_only(host: Device) -> Machine {
        Machine {
            accel: Vec::new(),
            host: Some(host),
            tensor_split: Vec::new(),
        }
    }

    /// Every device, accelerators first.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.accel.iter().chain(self.host.iter())
    }

    /// The device whose overhead and compute govern a token step: the first
    /// accelerator, else the host.
    pub fn primary(&self) -> Option<&Device> {
        self.accel.first().or(self.host.as_ref())
    }

    /// A label such as `2x rtx-3090 + host ddr5-6000-2ch`.
    pub fn label(&self) -> String {
        let base = |d: &Device| d.label.split(" #").next().unwrap_or_default().to_string();
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.accel.len() {
            let b = base(&self.accel[i]);
            let n = self.accel[i..]
                .iter()
                .take_while(|d| base(d) == b)
                .count()
                .max(1);
            parts.push(if n > 1 { format!("{n}x {b}") } else { b });
            i += n;
        }
        if let Some(h) = &self.host {
            parts.push(h.label.clone());
        }
        parts.join(" + ")
    }
}
