//! Campaign reports: the trials table sorted by the objective, the winner,
//! its gain over the defaults and % of ceiling, the quality guard, the
//! command line to paste; `campaign list` and `campaign compare`; the
//! `--dry-run` plan. The campaign report is a [`Document`]; JSON is the summary itself.

use super::doc::{Document, Table};
use super::format::{renderer, Format};
use super::{rate, table};
use crate::campaign::history::Listed;
use crate::campaign::summary::{CampaignSummary, Comparison, Row, Winner};
use crate::tune::plan::DryRun;
use std::fmt::Write;

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or("-".into(), f)
}

fn pct(v: f64) -> String {
    format!("{:+.1}%", v)
}

fn value_cell(r: &Row) -> String {
    match r.value {
        Some(v) if r.noise > 0.0 => format!("{} ±{:.0}%", rate(v), r.noise * 50.0),
        Some(v) => rate(v),
        None if r.measured.is_empty() => "-".into(),
        None => r
            .measured
            .iter()
            .map(|(k, v)| format!("{} {}", k.split('_').next().unwrap_or(k), rate(*v)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn pct_cell(single: Option<f64>, by_key: &[(String, f64)]) -> String {
    pct_cell_flagged(single, by_key, &[])
}

/// The % of ceiling cell, with measurements above their ceiling named as
/// such (never shown as more than 100 %).
fn pct_cell_flagged(single: Option<f64>, by_key: &[(String, f64)], above: &[String]) -> String {
    if !above.is_empty() {
        let keys: Vec<&str> = above
            .iter()
            .map(|k| k.split('_').next().unwrap_or(k))
            .collect();
        return format!(
            "{}: {}",
            keys.join(", "),
            crate::compare::ceiling::ABOVE_CEILING
        );
    }
    match single {
        Some(x) => format!("{x:.0}%"),
        None if by_key.is_empty() => "-".into(),
        None => by_key
            .iter()
            .map(|(k, v)| format!("{} {v:.0}%", k.split('_').next().unwrap_or(k)))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The trials table, best first.
pub fn trials_table(s: &CampaignSummary) -> String {
    let t = trials(s);
    let header: Vec<&str> = t.header.iter().map(String::as_str).collect();
    table(&header, t.rows)
}

/// The trials, best first, as a table.
pub fn trials(s: &CampaignSummary) -> Table {
    let rows = s
        .rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                format!("{:?}", r.role).to_lowercase(),
                r.config.clone(),
                r.status.as_str().to_string(),
                value_cell(r),
                opt(r.score, |x| pct((x - 1.0) * 100.0)),
                pct_cell_flagged(r.pct_of_ceiling, &r.pct_by_key, &r.above_ceiling),
                if r.lossy.is_empty() {
                    String::new()
                } else {
                    format!("LOSSY {}", r.lossy.join(", "))
                },
                format!("{:?}", r.verdict).to_uppercase(),
                r.reason.clone(),
            ]
        })
        .collect::<Vec<_>>();
    Table::new(
        "trials",
        [
            "#",
            "role",
            "configuration",
            "status",
            s.objective.as_str(),
            "vs defaults",
            "% of ceiling",
            "lossy",
            "verdict",
            "why",
        ],
    )
    .rows(rows)
}

fn winner_text(w: &Winner, objective: &str, server: &str) -> String {
    let mut o = String::new();
    // The search's best score, not the recommendation: the decision (with
    // its interval and the race) is the Evidence section's, and the two can
    // differ when the race does not confirm what one look suggested.
    let _ = writeln!(
        o,
        "Best search score: trial {} `{}` (what to run is the decision below)",
        w.id, w.config
    );
    let value = match w.value {
        Some(v) => format!("{} (defaults {}), ", rate(v), opt(w.default_value, rate)),
        None => String::new(),
    };
    let _ = writeln!(
        o,
        "  {objective}: {value}{} over {server}'s defaults, {} of the roofline ceiling",
        opt(w.gain_pct, pct),
        pct_cell(w.pct_of_ceiling, &w.pct_by_key),
    );
    if w.ties_defaults {
        let _ = writeln!(
            o,
            "  within noise of {server}'s defaults: keep the defaults unless more repeats separate them"
        );
    }
    if !w.ties.is_empty() {
        let _ = writeln!(
            o,
            "  cannot be told apart (within noise) from trials {:?}",
            w.ties
        );
    }
    if !w.lossy.is_empty() {
        let _ = writeln!(
            o,
            "  LOSSY: {} changes the numbers the model produces",
            w.lossy.join(", ")
        );
    }
    match &w.quality {
        Some(q) => {
            let _ = writeln!(
                o,
                "  quality vs the defaults: top-1 agreement {:.0}% over {} tokens, mean KL {:.4} nats (max {:.4})",
                q.top1_agreement * 100.0,
                q.positions,
                q.mean_kl_nats,
                q.max_kl_nats
            );
        }
        None if w.config != "(defaults)" => {
            let _ = writeln!(o, "  quality vs the defaults: not sampled");
        }
        None => {}
    }
    o
}

fn contender_line(c: &crate::campaign::decision::Contender) -> String {
    let iv = c.interval.map_or_else(
        || "no interval".into(),
        |iv| {
            format!(
                "gain {}, P(better than the defaults) {:.0}%",
                iv.label(),
                iv.p_better * 100.0
            )
        },
    );
    format!(
        "`{}` (trial {}): {iv}; {} measurement(s), {} repeats",
        c.config, c.id, c.measurements, c.repeats
    )
}

/// The evidence section: the decision, the best with its interval, how it
/// was raced, and a lossy configuration that was faster but not admitted.
fn decision_text(d: &crate::campaign::decision::Decision, server: &str) -> String {
    let mut o = String::from("\nEvidence:\n");
    let _ = writeln!(o, "  Decision: {}", d.why);
    if let Some(b) = &d.best {
        let _ = writeln!(o, "  Best tested: {}", contender_line(b));
        if let Some(q) = &b.quality {
            let _ = writeln!(
                o,
                "    quality: top-1 agreement {:.0}% (needs {:.0}% when lossy), mean KL {:.4} nats",
                q.top1_agreement * 100.0,
                d.min_top1 * 100.0,
                q.mean_kl_nats
            );
        }
    } else {
        let _ = writeln!(o, "  Best tested: {server}'s defaults");
    }
    if d.rounds > 0 {
        let _ = writeln!(
            o,
            "  Race: {} rounds against {}; {}",
            d.rounds,
            if d.raced_against.is_empty() {
                "-".to_string()
            } else {
                d.raced_against.join(", ")
            },
            if d.separated {
                "the best is separated from the rest"
            } else {
                "cannot separate the best from every other contestant"
            }
        );
    }
    if let Some(f) = &d.faster_but_lossy {
        let q = f.quality.map_or_else(
            || "quality not sampled".into(),
            |q| format!("top-1 agreement {:.0}%", q.top1_agreement * 100.0),
        );
        let _ = writeln!(
            o,
            "  Faster but changes the output: `{}` ({}, {q}); not pasted",
            f.config,
            f.interval.map_or_else(|| "?".into(), |iv| iv.label())
        );
    }
    if let Some(r) = &d.recommend {
        if d.best.as_ref().is_some_and(|b| b.id != r.id) {
            let _ = writeln!(o, "  Recommended instead: {}", contender_line(r));
        }
    }
    let _ = writeln!(
        o,
        "  Noise: {:.1}% a repeat within a server start, {:.1}% between starts ({:.0}% intervals)",
        d.noise_within * 100.0,
        d.noise_between * 100.0,
        d.confidence * 100.0
    );
    o
}

/// The campaign's report as a document: the header, the trials table,
/// drift, the winner with the command line to paste, where the time went.
pub fn document(s: &CampaignSummary) -> Document {
    let mut d = Document::new("");
    d.text(format!(
        "Campaign `{}`: objective {}, {} configurations measured, {} session(s), builds: {}\n\n",
        s.name,
        s.objective,
        s.trials_used,
        s.sessions,
        s.builds.join(", ")
    ));
    d.table(trials(s));
    let mut after = String::from("\n");
    for dr in &s.drift {
        let _ = writeln!(after, "Drift: {dr}");
    }
    match &s.winner {
        Some(w) => {
            after.push_str(&winner_text(w, &s.objective, &s.server));
            if let Some(dec) = &s.decision {
                after.push_str(&decision_text(dec, &s.server));
            }
            d.text(after);
            d.code(
                "\nPaste:",
                s.paste.clone().unwrap_or_else(|| w.command.clone()),
            );
        }
        None => {
            after.push_str("No configuration was fully measured yet.\n");
            d.text(after);
        }
    }
    let total_s = s.time.startup_s + s.time.measure_s;
    let share = if total_s > 0.0 {
        format!(
            " ({:.0}% of the time measuring)",
            s.time.measure_s / total_s * 100.0
        )
    } else {
        String::new()
    };
    d.text(format!(
        "\nTime: {} server starts, {:.0} s starting up, {:.0} s measuring{share}",
        s.time.restarts, s.time.startup_s, s.time.measure_s
    ));
    d
}

/// The report printed at the end of a campaign and by `campaign show`.
pub fn render(s: &CampaignSummary) -> String {
    renderer(Format::Text).map_or_else(String::new, |r| r.render(&document(s)))
}

/// The report as a Markdown document.
pub fn markdown(s: &CampaignSummary) -> String {
    let mut d = document(s);
    d.title = format!("Campaign `{}`", s.name);
    renderer(Format::Markdown).map_or_else(String::new, |r| r.render(&d))
}

/// `campaign list`.
pub fn list(items: &[Listed]) -> String {
    if items.is_empty() {
        return "No campaigns here (a campaign is a folder with a trials.jsonl).\n".into();
    }
    let rows = items
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                l.trials.to_string(),
                l.objective.clone(),
                opt(l.best_score, |x| pct((x - 1.0) * 100.0)),
                l.best.clone().unwrap_or_else(|| "-".into()),
                l.last.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(
        &[
            "campaign",
            "lines",
            "objective",
            "best vs defaults",
            "best configuration",
            "last trial",
        ],
        rows,
    ) + "\n"
}

/// `campaign compare A B`: the winners, the flags that differ, and (when
/// both logs measured one shape) every measurement against one ceiling.
pub fn compare(c: &Comparison) -> Document {
    let w = |s: &CampaignSummary| {
        s.winner.as_ref().map_or_else(
            || {
                vec![
                    s.name.clone(),
                    s.objective.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]
            },
            |w| {
                vec![
                    s.name.clone(),
                    s.objective.clone(),
                    opt(w.value, rate),
                    opt(w.gain_pct, pct),
                    opt(w.pct_of_ceiling, |x| format!("{x:.0}%")),
                    w.config.clone(),
                ]
            },
        )
    };
    let mut d = Document::new(format!("Campaigns `{}` and `{}`", c.a.name, c.b.name));
    d.table(
        Table::new(
            "winners",
            [
                "campaign",
                "objective",
                "winner",
                "vs its defaults",
                "% of ceiling",
                "configuration",
            ],
        )
        .rows([w(&c.a), w(&c.b)]),
    );
    if c.a.objective != c.b.objective {
        d.text("Note: the objectives differ; compare the gains, not the values.");
    }
    if c.differing.is_empty() {
        d.text("The winners use the same flags.");
    } else {
        d.table(
            Table::new("differing_flags", ["flag", &c.a.name, &c.b.name]).rows(
                c.differing
                    .iter()
                    .map(|(f, a, b)| vec![f.clone(), a.clone(), b.clone()]),
            ),
        );
    }
    if let Some(s) = &c.side_by_side {
        side_by_side(&mut d, &c.a.name, &c.b.name, s);
    }
    d
}

/// `value (x% of ceiling), CV y%`; `-` when the log did not measure it.
fn side_cell(c: Option<&crate::campaign::side_by_side::Cell>) -> String {
    let Some(c) = c else {
        return "-".into();
    };
    let v = if c.value.abs() >= 100.0 {
        format!("{:.0}", c.value)
    } else if c.value.abs() >= 1.0 {
        format!("{:.1}", c.value)
    } else {
        format!("{:.3}", c.value)
    };
    let pct = match (c.pct_of_ceiling, c.above_ceiling) {
        (_, true) => format!(" ({})", crate::compare::ceiling::ABOVE_CEILING),
        (Some(p), _) => format!(" ({p:.0}% of ceiling)"),
        (None, _) => String::new(),
    };
    format!("{v}{pct}, CV {:.1}%", c.cv * 100.0)
}

fn side_by_side(d: &mut Document, a: &str, b: &str, s: &crate::campaign::side_by_side::SideBySide) {
    d.heading("Measurements against one ceiling");
    let k = &s.shape;
    d.text(format!(
        "Both logs measured one shape ({} layers, hidden {}, vocabulary {}, {:.1} M weights and {:.1} MB read per token), so each row has one ceiling, from the shape and the machine, whatever the server.",
        k.layers,
        k.hidden,
        k.vocab,
        k.params_per_token / 1e6,
        k.bytes_per_token / 1e6
    ));
    let ha = format!("{a} ({})", s.a_server);
    let hb = format!("{b} ({})", s.b_server);
    d.table(
        Table::new(
            "side_by_side",
            ["measurement", "ceiling", ha.as_str(), hb.as_str()],
        )
        .rows(s.rows.iter().map(|r| {
            vec![
                r.label.clone(),
                opt(r.ceiling, |c| format!("{c:.1}")),
                side_cell(r.a.as_ref()),
                side_cell(r.b.as_ref()),
            ]
        })),
    );
    for n in &s.notes {
        d.text(format!("Note: {n}."));
    }
}

/// `tune --dry-run`.
pub fn dry_run(name: &str, d: &DryRun) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Campaign `{name}`: {} configurations in the space, {} can run, {} skipped",
        d.lattice,
        d.runnable,
        d.skipped.len()
    );
    let _ = writeln!(
        o,
        "Budget allows {} trials (the defaults first) + {} anchor re-measurements; start: `{}`",
        d.trials, d.anchors, d.start
    );
    if !d.lossy_values.is_empty() {
        let _ = writeln!(
            o,
            "Lossy values in the space: {}",
            d.lossy_values.join(", ")
        );
    }
    let _ = writeln!(
        o,
        "Estimated time: {:.0} s = {} restarts x ({:.1} s start-up + {:.1} s measuring)\n",
        d.total_s,
        d.trials + d.anchors,
        d.startup_s,
        d.measure_s
    );
    if !d.skipped.is_empty() {
        let rows = d
            .skipped
            .iter()
            .take(50)
            .map(|(c, r)| vec![c.clone(), r.clone()])
            .collect();
        o.push_str(&table(&["skipped configuration", "why"], rows));
        o.push('\n');
        if d.skipped.len() > 50 {
            let _ = writeln!(o, "... and {} more", d.skipped.len() - 50);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::side_by_side::fixtures::log;

    #[test]
    fn two_backends_on_one_shape_side_by_side() {
        let (a, b) = (log("llama", 4, 50.0, 100.0), log("mlx", 4, 40.0, 100.0));
        let c = crate::campaign::summary::compare(("llama-run", &a), ("mlx-run", &b)).unwrap();
        let d = compare(&c);
        for (f, name) in [(Format::Markdown, "markdown"), (Format::Text, "text")] {
            let r = renderer(f).expect("a renderer");
            insta::assert_snapshot!(format!("compare_side_by_side_{name}"), r.render(&d));
        }
        let s = c.side_by_side.expect("one shape");
        insta::assert_json_snapshot!("compare_side_by_side_json", s);
    }
}
