//! `predict --cluster`: a model split across hosts on llama.cpp's RPC
//! backend. Builds the cluster (hosts, devices in llama.cpp's order, the
//! link) from profiles and flags, then asks `roofline::split`.

use super::build;
use super::output::Sink;
use crate::catalog::hardware::{parse_multiplier, MemoryKind};
use crate::catalog::{links, Catalog};
use crate::cli::{LinkArgs, PredictArgs};
use crate::compare::AsDevice;
use crate::exit::ExitCode;
use crate::report;
use crate::roofline::decode::EtaBand;
use crate::roofline::kv::KvOptions;
use crate::roofline::machine::Machine;
use crate::roofline::placement::Placement;
use crate::roofline::split::{self, Cluster, Link};
use crate::units::UnitError;
use anyhow::{bail, Context, Result};

/// The most hosts a cluster spec may name.
const MAX_HOSTS: u32 = 16;

/// A link from a bundled profile.
pub fn link_of(p: &links::LinkProfile) -> Link {
    Link {
        name: p.name.clone(),
        bandwidth_gb_s: p.bandwidth_gb_s.value,
        latency_s: p.latency_us.value / 1e6,
        per_call_s: p.per_call_us.value / 1e6,
    }
}

/// The link asked for: a profile, with `--link-latency-ms` / `--link-gbit` overrides.
pub fn link(a: &LinkArgs) -> Result<Link> {
    let mut l = link_of(links::find(&a.link)?);
    if let Some(ms) = a.link_latency_ms {
        if !(ms.is_finite() && (0.0..=10_000.0).contains(&ms)) {
            bail!(UnitError::OutOfRange {
                what: "--link-latency-ms".into(),
                rule: "between 0 and 10000 (one way; ping's round trip / 2)".into(),
                value: ms
            });
        }
        l.latency_s = ms / 1e3;
        l.name = format!("{} ({ms} ms)", l.name);
    }
    if let Some(g) = a.link_gbit {
        if !(g.is_finite() && g > 0.0 && g <= 10_000.0) {
            bail!(UnitError::OutOfRange {
                what: "--link-gbit".into(),
                rule: "above 0 and at most 10000 Gbit/s".into(),
                value: g
            });
        }
        l.bandwidth_gb_s = g / 8.0;
        l.name = format!("{} ({g} Gbit/s)", l.name);
    }
    Ok(l)
}

/// Hosts named by `--cluster`: `2x m3-ultra-512` or `m3-ultra-512,rtx-4090`.
fn hosts<'c>(
    cat: &'c Catalog,
    spec: &str,
) -> Result<Vec<&'c crate::catalog::hardware::HardwareProfile>> {
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (n, name) = parse_multiplier(part);
        let hw = cat.hardware(name)?;
        if out.len() as u32 + n > MAX_HOSTS {
            bail!(UnitError::OutOfRange {
                what: "--cluster host count".into(),
                rule: format!("at most {MAX_HOSTS}"),
                value: f64::from(out.len() as u32 + n)
            });
        }
        out.extend(std::iter::repeat_n(hw, n as usize));
    }
    if out.len() < 2 {
        bail!(UnitError::Invalid {
            input: spec.into(),
            what: "cluster (two or more hosts, the head first)",
            examples: "2x m3-ultra-512, m3-ultra-512,m2-ultra-192; for one machine use --hw"
        });
    }
    Ok(out)
}

/// Build the cluster: workers' devices first (RPC0, RPC1, ...), then the
/// head's; a CPU head keeps its memory as the host tier.
pub fn cluster(
    cat: &Catalog,
    spec: &str,
    ts: Option<&str>,
    link: Link,
) -> Result<(Cluster, EtaBand)> {
    let hs = hosts(cat, spec)?;
    let band = crate::compare::family::band_for(cat, hs[0].family.as_str());
    let label = |i: usize| format!("{} {}", if i == 0 { "head" } else { "worker" }, i);
    let mut accel = Vec::new();
    let mut host_of = Vec::new();
    for (i, hw) in hs.iter().enumerate().skip(1) {
        accel.push(hw.device(format!("{} ({})", hw.name, label(i))));
        host_of.push(i);
    }
    let head = hs[0];
    let head_dev = head.device(format!("{} ({})", head.name, label(0)));
    let (host, head_device) = if head.memory_kind == MemoryKind::Host {
        (Some(head_dev), accel.len())
    } else {
        accel.push(head_dev);
        host_of.push(0);
        (None, accel.len() - 1)
    };
    if host.is_some() {
        host_of.push(0);
    }
    let tensor_split = match ts {
        Some(ts) => {
            let v: Vec<f64> = ts
                .split(',')
                .map(|x| x.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .context("--tensor-split takes shares like `1,1`")?;
            if v.len() != accel.len()
                || v.iter().any(|x| !(x.is_finite() && *x >= 0.0))
                || v.iter().sum::<f64>() <= 0.0
            {
                bail!(UnitError::Invalid {
                    input: ts.into(),
                    what: "tensor split for this cluster",
                    examples: "one non-negative share per device in llama.cpp's order: the workers first, then the head's GPU (`1,1` for 2 Macs)"
                });
            }
            v
        }
        None => accel.iter().map(|d| d.usable_bytes).collect(),
    };
    let cluster = Cluster {
        machine: Machine {
            accel,
            host,
            tensor_split,
        },
        host_of,
        head_device,
        hosts: hs
            .iter()
            .enumerate()
            .map(|(i, h)| format!("{} ({})", h.name, label(i)))
            .collect(),
        link,
    };
    Ok((cluster, band))
}

/// `rooftune predict --cluster HOSTS --link NAME`
pub fn predict(a: &PredictArgs, spec: &str) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let cat = build::catalog()?;
    let (c, band) = cluster(
        &cat,
        spec,
        a.machine.tensor_split.as_deref(),
        link(&a.link)?,
    )?;
    let shape = build::shape(&cat, &a.model)?;
    if a.ctx == 0 || a.ubatch == 0 {
        bail!(UnitError::OutOfRange {
            what: "--ctx and --ubatch".into(),
            rule: "at least 1".into(),
            value: 0.0
        });
    }
    let placement = a
        .placement
        .as_deref()
        .map(build::placement)
        .transpose()
        .context("--placement")?
        .unwrap_or(Placement::ALL);
    let kv = KvOptions {
        types: crate::roofline::kv::KvTypes {
            k: super::predict_cmds::kv_type(&a.ctk, "--ctk")?.into(),
            v: super::predict_cmds::kv_type(&a.ctv, "--ctv")?.into(),
        },
        n_seq: a.np.max(1),
        ubatch: a.ubatch,
        ..KvOptions::default()
    };
    let alternatives: Vec<Link> = links::bundled()?.iter().map(link_of).collect();
    let p = split::predict(
        &shape,
        &c,
        placement,
        a.ctx,
        &a.depth,
        kv,
        band,
        &alternatives,
    );
    let title = format!("{} at {}", shape.name, shape.quant_label);
    sink.emit(&p, || report::cluster::split_doc(&title, &p))?;
    Ok(ExitCode::OK)
}
