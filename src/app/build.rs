//! Converting command-line values into the engine's structs.

use crate::catalog::hardware::{parse_multiplier, MemoryKind};
use crate::catalog::{user_hardware_dir, Catalog};
use crate::cli::{MachineArgs, ModelArgs};
use crate::compare::AsDevice;
use crate::roofline::decode::EtaBand;
use crate::roofline::machine::Machine;
use crate::roofline::placement::Placement;
use crate::shape::ModelShape;
use crate::units::{self, UnitError};
use anyhow::{bail, Context, Result};

/// The bundled catalog plus saved user profiles.
pub fn catalog() -> Result<Catalog> {
    Ok(Catalog::with_user_profiles(user_hardware_dir().as_deref())?)
}

/// Decode efficiency assumed for a machine given only by its bandwidth: the
/// median `eta` of the bundled profiles' families is near this.
pub const GENERIC_ETA: f64 = 0.8;

/// A machine described by `--bandwidth` alone (no profile): one memory of
/// that bandwidth, the generic efficiency (or `--eta`), no per-token
/// overhead (or `--overhead-ms`), no compute roof (prefill ceilings are
/// bandwidth bounds), and a memory fit only when `--memory` gives a size.
fn bandwidth_only(a: &MachineArgs) -> Result<(Machine, EtaBand)> {
    let bw = a
        .bandwidth
        .context("give --hw PROFILE or --bandwidth GB/s")?;
    if a.host.is_some() || a.tensor_split.is_some() {
        bail!(UnitError::OutOfRange {
            what: "--host and --tensor-split".into(),
            rule: "need --hw (a profile of the accelerator)".into(),
            value: bw,
        });
    }
    let eta = match a.eta {
        Some(e) => units::positive("--eta", e, 1.0)?,
        None => GENERIC_ETA,
    };
    let overhead_ms = a.overhead_ms.unwrap_or(0.0);
    if !(0.0..=1000.0).contains(&overhead_ms) {
        bail!(UnitError::OutOfRange {
            what: "--overhead-ms".into(),
            rule: "between 0 and 1000".into(),
            value: overhead_ms
        });
    }
    let bytes = a.memory.unwrap_or(f64::INFINITY);
    let dev = crate::roofline::machine::Device {
        label: format!("{bw:.0} GB/s memory"),
        bandwidth_gb_s: bw,
        eta,
        overhead_s: overhead_ms / 1e3,
        usable_bytes: bytes,
        capacity_bytes: bytes,
        flops: f64::INFINITY,
        int8_ops: 0.0,
        calibration: None,
        unified: true,
    };
    Ok((Machine::single(dev), EtaBand::default()))
}

/// Build the machine and its estimate band from `--hw`, `--host` and overrides.
pub fn machine(cat: &Catalog, a: &MachineArgs) -> Result<(Machine, EtaBand)> {
    let Some(hw_spec) = &a.hw else {
        return bandwidth_only(a);
    };
    let (count, name) = parse_multiplier(hw_spec);
    if count > 64 {
        bail!(UnitError::OutOfRange {
            what: "--hw device count".into(),
            rule: "at most 64".into(),
            value: count as f64
        });
    }
    let hw = cat.hardware(name)?;
    let band = crate::compare::family::band_for(cat, hw.family.as_str());
    let mut devices: Vec<_> = (0..count)
        .map(|i| {
            hw.device(if count > 1 {
                format!("{} #{}", hw.name, i + 1)
            } else {
                hw.name.clone()
            })
        })
        .collect();
    if let Some(bw) = a.bandwidth {
        devices[0].bandwidth_gb_s = bw;
    }
    if let Some(bytes) = a.memory {
        let frac = devices[0].usable_bytes / devices[0].capacity_bytes;
        devices[0].capacity_bytes = bytes;
        devices[0].usable_bytes = bytes * frac;
    }
    if let Some(eta) = a.eta {
        devices[0].eta = units::positive("--eta", eta, 1.0)?;
    }
    if let Some(c) = a.overhead_ms {
        if !(0.0..=1000.0).contains(&c) {
            bail!(UnitError::OutOfRange {
                what: "--overhead-ms".into(),
                rule: "between 0 and 1000".into(),
                value: c
            });
        }
        for d in &mut devices {
            d.overhead_s = c / 1e3;
        }
    }
    let host = match &a.host {
        Some(h) => {
            let hp = cat.hardware(h)?;
            Some(hp.device(format!("host {}", hp.name)))
        }
        None => None,
    };
    let split = match &a.tensor_split {
        Some(ts) => {
            let v: Vec<f64> = ts
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .context("--tensor-split takes shares like `3,1`")?;
            if v.len() != devices.len()
                || v.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                || v.iter().sum::<f64>() <= 0.0
            {
                bail!(UnitError::Invalid {
                    input: ts.clone(),
                    what: "tensor split",
                    examples: "one non-negative share per GPU: `3,1` for 2 GPUs"
                });
            }
            v
        }
        None => devices.iter().map(|d| d.usable_bytes).collect(),
    };
    let machine = if hw.memory_kind == MemoryKind::Host && host.is_none() && count == 1 {
        Machine::cpu_only(devices.remove(0))
    } else {
        Machine {
            accel: devices,
            host,
            tensor_split: split,
        }
    };
    Ok((machine, band))
}

/// Build the model shape from `--model`, `--quant` and what-if overrides.
pub fn shape(cat: &Catalog, a: &ModelArgs) -> Result<ModelShape> {
    let path = std::path::Path::new(&a.model);
    if path.is_dir() {
        // An MLX directory: exact bytes per tensor too (scales and biases included).
        let mut s = crate::mlx::shape::model_shape(path)?;
        s.quant_label = format!("{} dir {}", s.quant_label, path.display());
        return Ok(s);
    }
    if a.model.ends_with(".gguf") || path.is_file() {
        // A real file: exact bytes per tensor, so --quant does not apply.
        let m = crate::gguf::GgufModel::open(path)?;
        let mut s = crate::gguf::shape::model_shape(&m)?;
        s.quant_label = format!("file {}", path.display());
        return Ok(s);
    }
    let spec = cat.model(&a.model)?;
    let quant = match a.bpw {
        Some(bpw) => {
            units::positive("--bpw", bpw, 32.0)?;
            crate::catalog::quant::QuantScheme::Bpw {
                name: format!("{bpw} bpw"),
                bpw,
            }
        }
        None => cat.quant(&a.quant)?,
    };
    let mut shape = spec.shape(&quant);
    if let Some(p) = &a.active_params {
        let want = parse_params(p)?;
        let now = shape.active_weights().params;
        let f = want / now;
        for l in &mut shape.layers {
            l.attention = l.attention.scaled(f);
            l.ffn_dense = l.ffn_dense.scaled(f);
            l.experts = l.experts.scaled(f);
            l.shared_experts = l.shared_experts.scaled(f);
        }
        shape.output = shape.output.scaled(f);
        shape.name = format!("{} (active params set to {:.1}B)", shape.name, want / 1e9);
    }
    Ok(shape)
}

/// `40e9`, `40B`, `40b`, `3.5B`.
pub fn parse_params(s: &str) -> Result<f64, UnitError> {
    let t = s.trim().to_ascii_lowercase();
    let v = match t.strip_suffix('b') {
        Some(n) => n.trim().parse::<f64>().map(|x| x * 1e9),
        None => t.parse::<f64>(),
    }
    .map_err(|_| UnitError::Invalid {
        input: s.into(),
        what: "parameter count",
        examples: "40B, 40e9, 3.5b",
    })?;
    units::positive("active parameters", v, 1e14)
}

/// `ngl=20`, `ncmoe=12`, `cpu-moe`, comma separated.
pub fn placement(s: &str) -> Result<Placement, UnitError> {
    let mut p = Placement::ALL;
    let err = || UnitError::Invalid {
        input: s.into(),
        what: "placement",
        examples: "ngl=99, ncmoe=12, cpu-moe, ngl=40,ncmoe=8",
    };
    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
        match part.split_once('=') {
            Some(("ngl", n)) => p.n_gpu_layers = Some(n.trim().parse().map_err(|_| err())?),
            Some(("ncmoe", n)) => p.n_cpu_moe = n.trim().parse().map_err(|_| err())?,
            None if part == "cpu-moe" => p.n_cpu_moe = u32::MAX,
            _ => return Err(err()),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_syntax() {
        assert_eq!(
            placement("ngl=20").unwrap(),
            Placement {
                n_gpu_layers: Some(20),
                n_cpu_moe: 0
            }
        );
        assert_eq!(placement("cpu-moe").unwrap().n_cpu_moe, u32::MAX);
        assert_eq!(
            placement("ngl=99,ncmoe=12").unwrap(),
            Placement {
                n_gpu_layers: Some(99),
                n_cpu_moe: 12
            }
        );
        assert!(placement("gpu=3").is_err());
        assert!(placement("ngl=x").is_err());
    }

    #[test]
    fn params_syntax() {
        assert_eq!(parse_params("40B").unwrap(), 40e9);
        assert_eq!(parse_params("40e9").unwrap(), 40e9);
        assert!(parse_params("-1").is_err());
        assert!(parse_params("lots").is_err());
    }
}
