//! The small document every report subject builds, and every renderer
//! (text, Markdown, CSV, and later HTML) takes: a title, then blocks in order
//! (headings, prose, key-value lists, tables). Subjects say what to show;
//! renderers say how, so a new format is one renderer, not one function per
//! command. JSON is not rendered from a document: scripts get the subject's
//! own result struct (`--format json`).

/// A report: a title and its blocks, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    /// What the report is about (`rooftune bench: m.gguf`).
    pub title: String,
    /// The content.
    pub blocks: Vec<Block>,
}

/// One piece of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A section heading.
    Heading(String),
    /// Prose or preformatted lines, shown as they are.
    Text(String),
    /// Labelled values (`placement: -ngl all`).
    KeyValues(Vec<(String, String)>),
    /// A table.
    Table(Table),
    /// A chart.
    Chart(super::chart::Chart),
    /// A command line to paste, with a label (`Paste:`).
    Code {
        /// What it is.
        label: String,
        /// The command.
        code: String,
    },
}

/// A table with a header row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// A stable snake_case name (CSV names its tables by it).
    pub id: String,
    /// A caption, if any.
    pub title: Option<String>,
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
}

impl Document {
    /// An empty document.
    pub fn new(title: impl Into<String>) -> Document {
        Document {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// Add a heading.
    pub fn heading(&mut self, h: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(h.into()));
        self
    }

    /// Add prose (or preformatted lines).
    pub fn text(&mut self, t: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Text(t.into()));
        self
    }

    /// Add labelled values.
    pub fn kv(&mut self, pairs: Vec<(String, String)>) -> &mut Self {
        self.blocks.push(Block::KeyValues(pairs));
        self
    }

    /// Add a command line to paste.
    pub fn code(&mut self, label: impl Into<String>, code: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Code {
            label: label.into(),
            code: code.into(),
        });
        self
    }

    /// Add a table.
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.blocks.push(Block::Table(t));
        self
    }

    /// Add a chart.
    pub fn chart(&mut self, c: super::chart::Chart) -> &mut Self {
        self.blocks.push(Block::Chart(c));
        self
    }

    /// The charts, in order.
    pub fn charts(&self) -> impl Iterator<Item = &super::chart::Chart> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Chart(c) => Some(c),
            _ => None,
        })
    }

    /// The tables, in order.
    pub fn tables(&self) -> impl Iterator<Item = &Table> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Table(t) => Some(t),
            _ => None,
        })
    }
}

impl Document {
    /// A document from text whose tables are Markdown pipe tables (what the
    /// older per-command renderers print): each table becomes a [`Table`]
    /// block (named `table`, `table_2`, ...), the lines between become text.
    pub fn from_text(title: impl Into<String>, text: &str) -> Document {
        let mut doc = Document::new(title);
        let mut prose = String::new();
        let mut lines = text.lines().peekable();
        let mut n = 0;
        while let Some(line) = lines.next() {
            let is_table =
                line.trim_start().starts_with('|') && lines.peek().is_some_and(|l| is_separator(l));
            if !is_table {
                prose.push_str(line);
                prose.push('\n');
                continue;
            }
            if !prose.is_empty() {
                doc.text(std::mem::take(&mut prose));
            }
            lines.next();
            n += 1;
            let mut t = Table::new(
                if n == 1 {
                    "table".to_string()
                } else {
                    format!("table_{n}")
                },
                cells(line),
            );
            while let Some(row) = lines.next_if(|l| l.trim_start().starts_with('|')) {
                t.rows.push(cells(row));
            }
            doc.table(t);
        }
        if !prose.is_empty() {
            doc.text(prose);
        }
        doc
    }
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(|c| c.trim().to_string()).collect()
}

impl Table {
    /// A table named `id` with these columns.
    pub fn new<S: Into<String>>(
        id: impl Into<String>,
        header: impl IntoIterator<Item = S>,
    ) -> Table {
        Table {
            id: id.into(),
            title: None,
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Set the caption.
    pub fn title(mut self, t: impl Into<String>) -> Table {
        self.title = Some(t.into());
        self
    }

    /// Add a row.
    pub fn row(mut self, r: Vec<String>) -> Table {
        self.rows.push(r);
        self
    }

    /// Add rows.
    pub fn rows(mut self, rs: impl IntoIterator<Item = Vec<String>>) -> Table {
        self.rows.extend(rs);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::format::{renderer, Format};

    #[test]
    fn tables_in_text_become_tables_and_render_back_the_same() {
        let table = crate::report::table(&["a", "bb"], vec![vec!["1".into(), "22".into()]]);
        let text = format!("head line\n\n{table}\n\nnote: tail\n");
        let doc = Document::from_text("", &text);
        let t: Vec<_> = doc.tables().collect();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].header, ["a", "bb"]);
        assert_eq!(t[0].rows, [["1", "22"]]);
        let back = renderer(Format::Text).unwrap().render(&doc);
        assert_eq!(back, text);
        let csv = renderer(Format::Csv).unwrap().render(&doc);
        assert_eq!(csv, "a,bb\n1,22\n");
    }
}
