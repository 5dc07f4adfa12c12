//! `logs analyze PATH... [--since 30d] [--by source|model] [--format ...] [--output FILE]`.

use crate::app::output::Sink;
use crate::cli::{LogsAnalyzeArgs, LogsBy, LogsCommand};
use crate::exit::ExitCode;
use crate::logs::{self, walk, GroupBy, Options};
use crate::report;
use anyhow::Result;
use std::time::SystemTime;

/// `rooftune logs ...`
pub fn logs(c: LogsCommand) -> Result<ExitCode> {
    match c {
        LogsCommand::Analyze(a) => analyze(&a),
    }
}

fn analyze(a: &LogsAnalyzeArgs) -> Result<ExitCode> {
    let sink = Sink::open(&a.out)?;
    let since = a
        .since
        .as_deref()
        .map(|s| walk::parse_since(s, SystemTime::now()))
        .transpose()?;
    let paths = if a.paths.is_empty() {
        logs::default_paths()?
    } else {
        a.paths.clone()
    };
    let threads = a.threads.map_or_else(
        || std::thread::available_parallelism().map_or(2, usize::from),
        usize::from,
    );
    let analysis = logs::analyze(&Options {
        paths,
        since,
        by: match a.by {
            LogsBy::Source => GroupBy::Source,
            LogsBy::Model => GroupBy::Model,
        },
        threads,
    })?;
    sink.emit(&analysis, || report::logs::document(&analysis))?;
    Ok(ExitCode::OK)
}
