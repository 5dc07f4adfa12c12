//! The solver benchmark on a recorded grid (`benches/solver.sh`): run the
//! whole campaign loop (search, screening, anchors, race, decision) against
//! [`rooftune::tune::replay::ReplayEvaluator`] for many seeds, and score the
//! picks against the grid's own top group: the configurations the full
//! grid cannot separate from its best at 95% (the defaults included).
//!
//! Usage: `solver_bench GRID.jsonl SPEC.toml [SEEDS]`

use rooftune::campaign::decision;
use rooftune::campaign::evidence::LogEvidence;
use rooftune::campaign::history::History;
use rooftune::campaign::record::{HardwareInfo, ModelInfo, Role};
use rooftune::campaign::runner::{self, Setup};
use rooftune::cancel::Cancel;
use rooftune::tune::objective::Objective;
use rooftune::tune::plan::Feasibility;
use rooftune::tune::replay::ReplayEvaluator;
use rooftune::tune::space::{Config, MachineFacts};
use rooftune::tune::spec;
use rooftune::tune::stats::{self, Block};
use std::collections::BTreeMap;
use std::path::Path;

/// The grid's evidence without the disturbances it caught: anchors logged
/// as drifted and the trials their re-runs superseded (the re-runs stay).
fn undisturbed(h: &History) -> History {
    let gone = h.superseded();
    let mut out = h.clone();
    out.trials.retain(|t| {
        !gone.contains(&t.id) && !t.reason.as_deref().is_some_and(|r| r.starts_with("drift"))
    });
    for t in &mut out.trials {
        t.supersedes.clear();
    }
    out
}

/// Each configuration of the grid with its gain over the defaults (log)
/// and that gain's standard error; the defaults as an empty label.
fn grid_truth(h: &History, o: &Objective) -> Vec<(String, f64, f64)> {
    let h = &undisturbed(h);
    let ev = LogEvidence::of(h, o, 0.95);
    let mut out = vec![("(defaults)".to_string(), 0.0, 0.0)];
    let d: Vec<&Block> = ev.defaults.iter().collect();
    let mut seen: Vec<Vec<(String, String)>> = Vec::new();
    for t in &h.trials {
        if matches!(t.role, Role::Search | Role::Rerun)
            && t.status == rooftune::trial::Status::Ok
            && !seen.contains(&t.config_order)
        {
            seen.push(t.config_order.clone());
            let blocks: Vec<Block> = h
                .trials
                .iter()
                .filter(|x| {
                    x.config_order == t.config_order && x.status == rooftune::trial::Status::Ok
                })
                .map(|x| rooftune::campaign::evidence::block(x, o))
                .collect();
            let refs: Vec<&Block> = blocks.iter().collect();
            if let Some(iv) = stats::paired(&refs, &d, &ev.noise, 0.95) {
                let t975 = stats::t_quantile(0.975, ev.noise.within_df.max(1) as f64);
                out.push((t.config().label(), iv.center, (iv.hi - iv.center) / t975));
            }
        }
    }
    out
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (grid, spec_path) = match (args.get(1), args.get(2)) {
        (Some(g), Some(s)) => (g.clone(), s.clone()),
        _ => anyhow::bail!("usage: solver_bench GRID.jsonl SPEC.toml [SEEDS]"),
    };
    let seeds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let text = std::fs::read_to_string(&grid)?;
    let h = History::read(Path::new(&grid))?;
    let base = spec::load(Path::new(&spec_path))?;
    let o = base.objective.clone();
    let truth = grid_truth(&h, &o);
    let (best, c_best, se_best) = truth
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();
    let top: Vec<&String> = truth
        .iter()
        .filter(|(_, c, se)| c_best - c <= 1.96 * (se * se + se_best * se_best).sqrt())
        .map(|(l, _, _)| l)
        .collect();
    // "Better than the defaults at 90% confidence" (one-sided) on the grid.
    let better90: Vec<&String> = truth
        .iter()
        .filter(|(_, c, se)| *se > 0.0 && c - 1.2816 * se > 0.0)
        .map(|(l, _, _)| l)
        .collect();
    println!(
        "better than the defaults at 90% on the grid: {} {:?}",
        better90.len(),
        better90
    );
    let grid_measure_s: f64 = h.trials.iter().map(|t| t.measure_s).sum();
    println!(
        "grid: {} configurations, best `{best}` ({:+.1}% over the defaults), top group {} (95%): {:?}",
        truth.len(),
        (c_best.exp() - 1.0) * 100.0,
        top.len(),
        top
    );
    let (mut in_top, mut bad, mut share_sum) = (0, 0, 0.0);
    for seed in 1..=seeds {
        let dir = tempfile::tempdir()?;
        let mut campaign = base.clone();
        campaign.seed = seed;
        let setup = Setup {
            log_path: dir.path().join("trials.jsonl"),
            resume: false,
            feasibility: Feasibility {
                backend: campaign.backend,
                machine: MachineFacts { physical_cores: 2 },
                min_ctx: 0,
                shape: None,
                memory_bytes: None,
                headroom_bytes: 0.0,
                split: None,
            },
            campaign,
            accelerated: false,
            hardware: HardwareInfo::default(),
            model: ModelInfo::default(),
            ceilings: BTreeMap::new(),
            server_bin: "llama-server".into(),
        };
        let mut eval = ReplayEvaluator::parse(&text, seed)?;
        let summary = runner::run(&setup, &mut eval, &Cancel::new(), &mut |_| {})?;
        let d = decision::decide(&summary.history);
        let pick = d
            .as_ref()
            .and_then(|d| d.recommend.as_ref().map(|r| r.config.clone()))
            .unwrap_or_else(|| Config::default().label());
        if std::env::var_os("SOLVER_BENCH_VERBOSE").is_some() {
            for t in &summary.history.trials {
                println!(
                    "    {:3} {:?} {} {:?} {}",
                    t.id,
                    t.role,
                    t.config().label(),
                    t.objective.score.map(|s| (s * 1000.0).round() / 1000.0),
                    t.verdict_reason
                );
            }
            if let Some(d) = &d {
                println!(
                    "    why: {} ({} rounds, left out {:?})",
                    d.why, d.rounds, d.left_out
                );
            }
        }
        let measured: f64 = summary.history.trials.iter().map(|t| t.measure_s).sum();
        let share = measured / grid_measure_s.max(1e-9);
        share_sum += share;
        let ok = top.contains(&&pick);
        let not_better = pick != "(defaults)" && !better90.contains(&&pick);
        in_top += usize::from(ok);
        bad += usize::from(not_better);
        let on_grid = truth
            .iter()
            .find(|(l, _, _)| *l == pick)
            .map_or_else(String::new, |(_, c, se)| {
                format!(" (grid: {:+.1}% ± {:.1}%)", c * 100.0, se * 100.0)
            });
        println!(
            "seed {seed:2}: pick `{pick}`{on_grid} {} {}, {:.0}% of the grid's measuring time",
            if ok {
                "in the top group"
            } else {
                "OUTSIDE the top group"
            },
            if not_better {
                "(NOT better than the defaults at 90%)"
            } else {
                ""
            },
            share * 100.0
        );
    }
    println!(
        "score: {in_top}/{seeds} picks in the top group; mean {:.0}% of the grid's measuring time; {bad} recommendation(s) not better than the defaults at 90%",
        share_sum / seeds as f64 * 100.0
    );
    Ok(())
}
