//! Rendering a `rooftune bench` result: Markdown tables for people, JSON
//! (with every request's raw record) for tools.

use super::{rate, table};
use crate::bench::result::BenchReport;
use crate::trial::Stat as Summary;

/// Measured as a share of its ceiling, by the one rule in `compare`: a
/// measurement above its ceiling blames the profile instead of printing more
/// than 100 %.
fn pct(measured: f64, ceiling: Option<f64>) -> String {
    crate::compare::ceiling::cell(
        ceiling
            .map(|c| crate::compare::versus(measured, c))
            .as_ref(),
    )
}

fn spread(s: &Option<Summary>) -> String {
    match s {
        Some(s) => format!(
            "{} ({}-{}, CV {:.1}%{})",
            rate(s.median),
            rate(s.min),
            rate(s.max),
            s.cv * 100.0,
            if s.noisy { ", NOISY" } else { "" }
        ),
        None => "-".into(),
    }
}

fn ms(s: &Option<Summary>) -> String {
    s.as_ref()
        .map_or("-".into(), |s| format!("{:.1} ms", s.median * 1e3))
}

/// The Markdown report.
pub fn markdown(r: &BenchReport) -> String {
    let mut out = String::new();
    let t = &r.target;
    out.push_str(&format!("## rooftune bench: {}\n\n", t.model));
    if let Some(v) = &t.version {
        out.push_str(&format!("- server: {} ({v})\n", t.backend));
    }
    if let Some(u) = &t.url {
        out.push_str(&format!("- url: {u}\n"));
    }
    if let Some(c) = &t.command_line {
        out.push_str(&format!("- command: `{c}`\n"));
    }
    if let Some(l) = &t.log {
        out.push_str(&format!("- log: {l}\n"));
    }
    if let Some(f) = &t.facts {
        if let (Some(n), Some(c)) = (f.n_slots, f.n_ctx_slot) {
            out.push_str(&format!("- slots: {n}, context per slot {c} tokens"));
            if let Some(kv) = f.kv_buffer_mib {
                out.push_str(&format!(", KV buffer {kv:.1} MiB"));
            }
            out.push('\n');
        }
        if let Some((req, train)) = f.ctx_capped {
            out.push_str(&format!(
                "- context capped: asked {req}, the model's training window is {train}\n"
            ));
        }
    }
    let m = &r.measurement;
    out.push_str(&format!(
        "- {} repeats after a discarded warm-up, {} stream(s); prompt cache: {}\n",
        r.plan.repeats, r.plan.concurrency, m.caching
    ));
    if let Some(c) = &r.ceilings {
        out.push_str(&format!("- ceilings: {} (from {})\n", c.hardware, c.source));
    }
    out.push('\n');
    let p = &m.prefill;
    let pre_ceiling = r.ceilings.as_ref().map(|c| c.prefill_tok_s);
    let counted = match m.counting {
        crate::bench::prompt::Counting::Tokenize => "",
        crate::bench::prompt::Counting::ServerReported => " (server's count)",
        crate::bench::prompt::Counting::Estimated => " (estimated)",
    };
    let pre_rate = p
        .server_tok_s
        .as_ref()
        .or(p.client_tok_s.as_ref())
        .map_or(f64::NAN, |s| s.median);
    out.push_str(&table(
        &[
            "prefill",
            "tok/s (median, min-max)",
            "% of ceiling",
            "TTFT",
            "server prefill",
            "rest",
        ],
        vec![vec![
            format!("{} tokens{counted}", p.prompt_tokens),
            spread(if p.server_tok_s.is_some() {
                &p.server_tok_s
            } else {
                &p.client_tok_s
            }),
            pct(pre_rate, pre_ceiling),
            ms(&p.ttft_s),
            ms(&p.server_prompt_s),
            ms(&p.ttft_rest_s),
        ]],
    ));
    out.push_str("\n\n");
    let mut rows = Vec::new();
    for d in &m.decode {
        let main = d.server_tok_s.as_ref().or(d.client_tok_s.as_ref());
        let ceiling = r.ceilings.as_ref().and_then(|c| c.decode_at(d.depth));
        rows.push(vec![
            d.depth.to_string(),
            spread(if d.server_tok_s.is_some() {
                &d.server_tok_s
            } else {
                &d.client_tok_s
            }),
            d.client_tok_s
                .as_ref()
                .map_or("-".into(), |s| rate(s.median)),
            ceiling.map_or("-".into(), rate),
            pct(main.map_or(f64::NAN, |s| s.median), ceiling),
            if r.plan.concurrency > 1 {
                d.aggregate_tok_s
                    .as_ref()
                    .map_or("-".into(), |s| rate(s.median))
            } else {
                "-".into()
            },
        ]);
    }
    out.push_str(&table(
        &[
            "decode depth",
            "tok/s per stream (median, min-max)",
            "client tok/s",
            "ceiling",
            "% of ceiling",
            "aggregate tok/s",
        ],
        rows,
    ));
    out.push('\n');
    let mut notes: Vec<String> = r.notes.clone();
    notes.extend(m.notes.iter().cloned());
    notes.extend(p.server_tok_s.as_ref().and_then(|s| s.warning("prefill")));
    for d in &m.decode {
        notes.extend(
            d.server_tok_s
                .as_ref()
                .and_then(|s| s.warning(&format!("decode at depth {}", d.depth))),
        );
    }
    notes.push(format!(
        "client CPU while measuring: {:.2} s over {:.1} s ({:.1}% of a core)",
        m.client_cpu.cpu_s,
        m.client_cpu.wall_s,
        100.0 * m.client_cpu.share()
    ));
    out.push('\n');
    for n in notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pct;

    #[test]
    fn beating_the_ceiling_blames_the_profile() {
        assert_eq!(pct(50.0, Some(100.0)), "50%");
        assert!(pct(120.0, Some(100.0)).contains("wrong profile"));
        assert_eq!(pct(1.0, None), "-");
    }
}
