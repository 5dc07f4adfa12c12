//! Plain text for a terminal: the title, prose as it is, `key  value` lines
//! with the keys aligned, and tables drawn as Markdown pipe tables so they
//! paste into an issue as they are.

use super::Renderer;
use crate::report::doc::{Block, Document};

/// The text renderer.
pub struct Text;

impl Renderer for Text {
    fn render(&self, doc: &Document) -> String {
        let mut out = String::new();
        if !doc.title.is_empty() {
            out.push_str(&doc.title);
            out.push('\n');
        }
        for b in &doc.blocks {
            match b {
                Block::Heading(h) => {
                    out.push('\n');
                    out.push_str(h);
                    out.push('\n');
                }
                Block::Text(t) => {
                    out.push_str(t);
                    if !t.ends_with('\n') {
                        out.push('\n');
                    }
                }
                Block::KeyValues(kv) => {
                    let w = kv
                        .iter()
                        .map(|(k, _)| k.chars().count())
                        .max()
                        .unwrap_or(0)
                        .max(12);
                    for (k, v) in kv {
                        out.push_str(&format!("{k:<w$} {v}\n"));
                    }
                }
                Block::Chart(c) => {
                    out.push_str(&format!(
                        "(chart: {}; see it with --format html or markdown)\n",
                        c.title
                    ));
                }
                Block::Code { label, code } => {
                    out.push_str(&format!("{label}\n  {code}\n"));
                }
                Block::Table(t) => {
                    if let Some(title) = &t.title {
                        out.push_str(title);
                        out.push('\n');
                    }
                    let header: Vec<&str> = t.header.iter().map(String::as_str).collect();
                    out.push_str(&crate::report::table(&header, t.rows.clone()));
                    out.push('\n');
                }
            }
        }
        out
    }
}
