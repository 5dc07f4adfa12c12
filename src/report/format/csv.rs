//! The tables as CSV (RFC 4180 quoting). One table is plain CSV; several
//! are written one after another, each after a `# id` line naming it and a
//! blank line between them. Prose and key-values are left out.

use super::Renderer;
use crate::report::doc::Document;

/// The CSV renderer.
pub struct Csv;

/// One CSV field, quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn line(cells: &[String]) -> String {
    cells.iter().map(|c| field(c)).collect::<Vec<_>>().join(",") + "\n"
}

impl Renderer for Csv {
    fn render(&self, doc: &Document) -> String {
        let tables: Vec<_> = doc.tables().collect();
        let many = tables.len() > 1;
        let mut out = String::new();
        for (i, t) in tables.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if many {
                out.push_str(&format!("# {}\n", t.id));
            }
            out.push_str(&line(&t.header));
            for r in &t.rows {
                out.push_str(&line(r));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::doc::Table;

    #[test]
    fn quoting_and_several_tables() {
        let mut d = Document::new("t");
        d.text("prose is left out");
        d.table(Table::new("a", ["x", "y"]).row(vec!["1,5".into(), "say \"hi\"".into()]));
        assert_eq!(Csv.render(&d), "x,y\n\"1,5\",\"say \"\"hi\"\"\"\n");
        d.table(Table::new("b", ["z"]).row(vec!["2".into()]));
        assert_eq!(
            Csv.render(&d),
            "# a\nx,y\n\"1,5\",\"say \"\"hi\"\"\"\n\n# b\nz\n2\n"
        );
    }
}
