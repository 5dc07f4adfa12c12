//! The binary's edge: turn parsed command lines into engine inputs, run the
//! command, hand the result to a report. `anyhow` lives here and in `main`.

mod agentic_cmds;
mod bench_cmds;
mod build;
mod calibrate_cmds;
mod calibrate_input;
mod calibrate_run;
mod catalog_cmds;
mod cluster_cmds;
mod gguf_cmds;
mod logs_cmds;
mod output;
mod predict_cmds;
mod probe_cmds;
mod report_cmds;
mod tune_cmds;

use crate::cli::{Cli, Command};
use crate::exit::ExitCode;

/// Run one command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Predict(a) => predict_cmds::predict(&a),
        Command::Matrix(a) => predict_cmds::matrix(&a),
        Command::Speculate(a) => predict_cmds::speculate(&a),
        Command::Published(a) => predict_cmds::published(&a.out),
        Command::Hw(c) => catalog_cmds::hw(c),
        Command::Model(c) => catalog_cmds::model(c),
        Command::Synth(a) => gguf_cmds::synth(&a),
        Command::Bench(a) => bench_cmds::bench(&a),
        Command::Calibrate(a) => calibrate_cmds::calibrate(&a),
        Command::Tune(a) => tune_cmds::tune(&a),
        Command::Campaign(crate::cli::CampaignCommand::Export(mut a)) => {
            a.kind = if a.systemd {
                crate::cli::ServiceKind::Systemd
            } else if a.launchd {
                crate::cli::ServiceKind::Launchd
            } else {
                crate::cli::ServiceKind::Shell
            };
            report_cmds::export(&a)
        }
        Command::Campaign(c) => tune_cmds::campaign(c),
        Command::Session(c) => agentic_cmds::session(c),
        Command::Replay(a) => agentic_cmds::replay(&a),
        Command::Report(a) => report_cmds::report(&a),
        Command::Logs(c) => logs_cmds::logs(c),
    }
}
