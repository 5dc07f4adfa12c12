//! Reports for a model split across hosts (`predict --cluster`) and the link
//! profiles (`hw links`): what fits where, what a token costs on the devices
//! and on the link, and what another link would buy.

use super::doc::{Document, Table};
use super::rate;
use crate::catalog::links::LinkProfile;
use crate::roofline::split::SplitPrediction;

fn gib(b: f64) -> String {
    format!("{:.1}", b / (1u64 << 30) as f64)
}

fn ms(s: f64) -> String {
    format!("{:.3}", s * 1e3)
}

/// The split prediction as a document.
pub fn split_doc(title: &str, p: &SplitPrediction) -> Document {
    let mut d = Document::new(format!("{title} split across {} hosts", p.hosts.len()));
    let fits = p.memory.fits();
    d.kv(vec![
        ("hosts".into(), p.hosts.join(", ")),
        (
            "link".into(),
            format!(
                "{}: {:.2} GB/s, {} ms one way, {} us per RPC message",
                p.link.name,
                p.link.bandwidth_gb_s,
                ms(p.link.latency_s),
                format_args!("{:.0}", p.link.per_call_s * 1e6)
            ),
        ),
        ("placement".into(), p.placement.flags()),
        (
            "tensor split".into(),
            p.tensor_split
                .iter()
                .map(|x| {
                    format!(
                        "{:.3}",
                        x / p.tensor_split.iter().sum::<f64>().max(f64::MIN_POSITIVE)
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "fits".into(),
            if fits {
                "yes".into()
            } else {
                "no: see the devices below".into()
            },
        ),
    ]);
    d.table(
        Table::new(
            "devices",
            [
                "device (llama.cpp order)",
                "host",
                "weights GiB",
                "kv GiB",
                "needed GiB",
                "usable GiB",
                "fits",
            ],
        )
        .rows(p.memory.devices.iter().zip(&p.devices).map(|(m, (_, h))| {
            vec![
                m.device.clone(),
                h.to_string(),
                gib(m.weights_bytes),
                gib(m.kv_bytes),
                gib(m.needed()),
                gib(m.usable_bytes),
                if m.fits() { "yes" } else { "no" }.into(),
            ]
        })),
    );
    d.table(
        Table::new(
            "decode",
            [
                "depth",
                "devices ms",
                "link ms",
                "of which latency ms",
                "remote splits",
                "link bytes",
                "ceiling tok/s",
                "estimate tok/s",
                "link share",
            ],
        )
        .rows(p.decode.iter().map(|x| {
            vec![
                x.depth.to_string(),
                ms(1.0 / x.local.estimate_tok_s),
                ms(x.link.total_s()),
                ms(x.link.latency_s),
                x.link.remote_splits.to_string(),
                format!("{:.0}", x.link.bytes),
                rate(x.ceiling_tok_s),
                rate(x.estimate_tok_s),
                format!("{:.1}%", 100.0 * x.link_share),
            ]
        })),
    );
    let pf = &p.prefill;
    d.kv(vec![(
        format!("prefill (ubatch {})", pf.ubatch),
        format!(
            "{} tok/s ceiling: devices {} ms + link {} ms per micro-batch ({:.1} MB sent)",
            rate(pf.ceiling_tok_s),
            ms(pf.devices_s),
            ms(pf.link.total_s()),
            pf.link.bytes / 1e6
        ),
    )]);
    d.kv(vec![(
        "one host".into(),
        format!(
            "{} tok/s estimate with the whole model on one {} (memory aside)",
            rate(p.one_host_decode_estimate_tok_s),
            p.devices.first().map_or("", |(l, _)| l.as_str())
        ),
    )]);
    d.table(
        Table::new(
            "links",
            [
                "link",
                "GB/s",
                "latency ms",
                "decode estimate tok/s",
                "decode ceiling tok/s",
                "prefill tok/s",
                "link share",
            ],
        )
        .title("The same split over other links")
        .rows(p.links.iter().map(|w| {
            vec![
                w.link.name.clone(),
                format!("{:.2}", w.link.bandwidth_gb_s),
                ms(w.link.latency_s),
                rate(w.decode_estimate_tok_s),
                rate(w.decode_ceiling_tok_s),
                rate(w.prefill_ceiling_tok_s),
                format!("{:.1}%", 100.0 * w.link_share),
            ]
        })),
    );
    d
}

/// The link profiles as a document.
pub fn links_doc(links: &[LinkProfile]) -> Document {
    let mut d = Document::new("Link profiles (predict --cluster ... --link NAME)");
    d.table(
        Table::new(
            "links",
            [
                "name",
                "link",
                "GB/s",
                "latency us",
                "per call us",
                "rate source",
            ],
        )
        .rows(links.iter().map(|l| {
            vec![
                l.name.clone(),
                l.display_name.clone(),
                format!("{:.3}", l.bandwidth_gb_s.value),
                format!("{:.0}", l.latency_us.value),
                format!("{:.0}", l.per_call_us.value),
                l.bandwidth_gb_s.source.clone(),
            ]
        })),
    );
    d.text("Latencies and per-call costs are typical figures, not measurements: pass --link-latency-ms with your own (ping round trip / 2).");
    d
}
