//! Where a report goes and in which format: `--format`, `--json` and
//! `--output FILE` on every command that reports.
//!
//! The output file is created when the command starts, before any work, so
//! a bad path fails first (hyperfine does the same); `-` is standard output.
//! A report that cannot be rendered is an error like any other: it exits
//! non-zero and prints nothing half-made.

use crate::cli::OutputArgs;
use crate::report::doc::Document;
use crate::report::format::{self, Format};
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

/// Where a command's report goes.
pub struct Sink {
    /// The chosen format.
    pub format: Format,
    file: Option<(PathBuf, std::fs::File)>,
}

impl Sink {
    /// Resolve the format and create the output file now.
    pub fn open(a: &OutputArgs) -> Result<Sink> {
        let format = if a.json {
            Format::Json
        } else if a.markdown {
            Format::Markdown
        } else {
            a.format.unwrap_or_default()
        };
        let file = match &a.output {
            Some(p) if p.as_os_str() != "-" => {
                let f = std::fs::File::create(p).with_context(|| {
                    format!(
                        "--output {}: cannot create the file\n  (hint: check that the folder exists and is writable)",
                        p.display()
                    )
                })?;
                Some((p.clone(), f))
            }
            _ => None,
        };
        Ok(Sink { format, file })
    }

    /// True when the output is JSON (progress and chatter stay off stdout).
    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// True when the report goes to the terminal's standard output.
    pub fn to_stdout(&self) -> bool {
        self.file.is_none()
    }

    /// Write `data` as JSON, or the document `doc` builds in the chosen format.
    pub fn emit<T: serde::Serialize>(self, data: &T, doc: impl FnOnce() -> Document) -> Result<()> {
        let (text, assets) = match format::renderer(self.format) {
            Some(r) => {
                let d = doc();
                if self.format == Format::Svg && d.charts().next().is_none() {
                    anyhow::bail!(
                        "--format svg: this report has no charts\n  (hint: use --format html, markdown or text; `predict` and `report` draw charts)"
                    );
                }
                (r.render(&d), r.assets(&d))
            }
            None => (
                format::json(data).context("writing the report as JSON")?,
                Vec::new(),
            ),
        };
        self.write_assets(&assets)?;
        self.write(&text)
    }

    /// Write `data` as JSON, or the text report `text` builds (its prose and
    /// pipe tables read into a document) in the chosen format.
    pub fn emit_text<T: serde::Serialize>(
        self,
        data: &T,
        text: impl FnOnce() -> String,
    ) -> Result<()> {
        self.emit(data, || Document::from_text("", &text()))
    }

    /// Write the files that go beside the report (a Markdown report's charts).
    fn write_assets(&self, assets: &[(String, String)]) -> Result<()> {
        if assets.is_empty() {
            return Ok(());
        }
        let Some((path, _)) = &self.file else {
            eprintln!(
                "note: {} chart(s) not written: give --output FILE to write them beside the report",
                assets.len()
            );
            return Ok(());
        };
        let dir = path.parent().unwrap_or(std::path::Path::new("."));
        for (name, body) in assets {
            let p = dir.join(name);
            std::fs::write(&p, body).with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(())
    }

    /// Write text that is already in the chosen format.
    pub fn write(self, text: &str) -> Result<()> {
        match self.file {
            Some((path, mut f)) => f
                .write_all(text.as_bytes())
                .and_then(|_| f.sync_all())
                .with_context(|| format!("writing {}", path.display())),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())
                    .and_then(|_| out.flush())
                    .context("writing to standard output")
            }
        }
    }
}
