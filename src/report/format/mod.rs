//! Output formats: one renderer per file behind one trait (hyperfine's
//! `export/`). `--format text|json|markdown|csv` picks one; `--output FILE`
//! says where it goes.

mod csv;
mod html;
mod markdown;
pub mod svg;
mod text;

use super::doc::Document;

/// The formats a report can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// For people at a terminal: prose, key-value lines and Markdown-style tables that paste.
    #[default]
    Text,
    /// The subject's own result, for scripts.
    Json,
    /// A Markdown document.
    Markdown,
    /// The tables as comma-separated values.
    Csv,
    /// One self-contained HTML page: inline SVG charts and CSS, no network.
    Html,
    /// The report's charts alone, as one SVG image (one chart under another).
    Svg,
}

impl Format {
    /// Every format, in `--help` order.
    pub const ALL: &'static [Format] = &[
        Format::Text,
        Format::Json,
        Format::Markdown,
        Format::Csv,
        Format::Html,
        Format::Svg,
    ];

    /// The word on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::Svg => "svg",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == s || (s == "md" && *f == Format::Markdown))
            .ok_or_else(|| {
                format!("unknown format `{s}` (use text, json, markdown, csv, html or svg)")
            })
    }
}

/// Renders a document in one format.
pub trait Renderer {
    /// The document as this format's text.
    fn render(&self, doc: &Document) -> String;
    /// Files that go beside the output (a Markdown report's charts), as
    /// (file name, contents).
    fn assets(&self, _doc: &Document) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// The renderer for a document format (None for JSON, which renders the
/// subject's own data instead).
pub fn renderer(format: Format) -> Option<Box<dyn Renderer>> {
    match format {
        Format::Text => Some(Box::new(text::Text)),
        Format::Markdown => Some(Box::new(markdown::Markdown)),
        Format::Csv => Some(Box::new(csv::Csv)),
        Format::Html => Some(Box::new(html::Html)),
        Format::Svg => Some(Box::new(svg::Charts)),
        Format::Json => None,
    }
}

/// Pretty JSON with a trailing newline; a value that cannot be written as
/// JSON (a map with non-string keys, say) is an error, never an `{"error"}` on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(value).map(|s| s + "\n")
}
