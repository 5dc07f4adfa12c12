//! A Markdown document: `#` title, `##` headings, key-values as a bullet
//! list with bold keys, tables as pipe tables.

use super::Renderer;
use crate::report::doc::{Block, Document};

/// The Markdown renderer.
pub struct Markdown;

/// Escape the characters that would break a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Renderer for Markdown {
    fn assets(&self, doc: &Document) -> Vec<(String, String)> {
        doc.charts()
            .map(|c| (format!("{}.svg", c.id), super::svg::render(c) + "\n"))
            .collect()
    }

    fn render(&self, doc: &Document) -> String {
        let mut out = String::new();
        if !doc.title.is_empty() {
            out.push_str(&format!("# {}\n\n", doc.title));
        }
        for b in &doc.blocks {
            match b {
                Block::Heading(h) => out.push_str(&format!("## {h}\n\n")),
                Block::Text(t) => {
                    out.push_str(t.trim_end());
                    out.push_str("\n\n");
                }
                Block::KeyValues(kv) => {
                    for (k, v) in kv {
                        out.push_str(&format!("- **{k}**: {v}\n"));
                    }
                    out.push('\n');
                }
                Block::Chart(c) => {
                    out.push_str(&format!("![{}]({}.svg)\n\n", c.title, c.id));
                }
                Block::Code { label, code } => {
                    out.push_str(&format!("{label}\n\n```sh\n{code}\n```\n\n"));
                }
                Block::Table(t) => {
                    if let Some(title) = &t.title {
                        out.push_str(&format!("**{title}**\n\n"));
                    }
                    let header: Vec<String> = t.header.iter().map(|h| cell(h)).collect();
                    let header: Vec<&str> = header.iter().map(String::as_str).collect();
                    let rows = t
                        .rows
                        .iter()
                        .map(|r| r.iter().map(|c| cell(c)).collect())
                        .collect();
                    out.push_str(&crate::report::table(&header, rows));
                    out.push_str("\n\n");
                }
            }
        }
        out
    }
}
