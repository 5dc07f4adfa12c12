//! One self-contained HTML page: inline CSS, inline SVG charts, a few lines
//! of inline script, and a Content-Security-Policy that forbids every network
//! fetch, so the report opens offline, forever (hosted-script reports break
//! when the host goes away). The script marks the page ready
//! (`data-ready="1"`) and records any CSP violation in `data-csp-violations`,
//! which the browser test reads.

use super::svg::{self, esc};
use super::Renderer;
use crate::report::doc::{Block, Document};

/// The HTML renderer.
pub struct Html;

/// Nothing may be fetched; only the inline style and script run.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left}\
th{background:#f4f4f4}pre{background:#f6f6f6;padding:.6em;overflow-x:auto;white-space:pre-wrap}\
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}\
svg.chart{max-width:100%;height:auto;border:1px solid #eee;margin:.8em 0}svg.chart.small{width:49%;margin-right:.5%}.warn path{stroke-width:2}";

const SCRIPT: &str =
    "document.addEventListener('securitypolicyviolation',function(e){var b=document.body;\
b.dataset.cspViolations=String(Number(b.dataset.cspViolations||0)+1);});\
document.addEventListener('DOMContentLoaded',function(){document.body.dataset.ready='1';\
document.body.dataset.charts=String(document.querySelectorAll('svg.chart').length);});";

impl Renderer for Html {
    fn render(&self, doc: &Document) -> String {
        let mut o = String::new();
        o.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        o.push_str(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        ));
        o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        o.push_str(&format!("<title>{}</title>", esc(&doc.title)));
        o.push_str(&format!("<style>{STYLE}</style><script>{SCRIPT}</script>"));
        o.push_str("</head>\n<body data-csp-violations=\"0\">\n");
        if !doc.title.is_empty() {
            o.push_str(&format!("<h1>{}</h1>\n", esc(&doc.title)));
        }
        for b in &doc.blocks {
            match b {
                Block::Heading(h) => o.push_str(&format!("<h2>{}</h2>\n", esc(h))),
                Block::Text(t) if !t.trim().is_empty() => {
                    o.push_str(&format!("<pre>{}</pre>\n", esc(t.trim_matches('\n'))))
                }
                Block::Text(_) => {}
                Block::KeyValues(kv) => {
                    o.push_str("<dl>");
                    for (k, v) in kv {
                        o.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
                    }
                    o.push_str("</dl>\n");
                }
                Block::Table(t) => {
                    o.push_str(&format!("<table id=\"table-{}\">", esc(&t.id)));
                    if let Some(c) = &t.title {
                        o.push_str(&format!("<caption>{}</caption>", esc(c)));
                    }
                    o.push_str("<thead><tr>");
                    for h in &t.header {
                        o.push_str(&format!("<th>{}</th>", esc(h)));
                    }
                    o.push_str("</tr></thead><tbody>");
                    for r in &t.rows {
                        o.push_str("<tr>");
                        for c in r {
                            o.push_str(&format!("<td>{}</td>", esc(c)));
                        }
                        o.push_str("</tr>");
                    }
                    o.push_str("</tbody></table>\n");
                }
                Block::Chart(c) => {
                    o.push_str(&svg::render(c));
                    o.push('\n');
                }
                Block::Code { label, code } => o.push_str(&format!(
                    "<p>{}</p><pre><code>{}</code></pre>\n",
                    esc(label.trim()),
                    esc(code)
                )),
            }
        }
        o.push_str("</body></html>\n");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::{Axis, Chart, Point, Series, Style};
    use crate::report::doc::Table;

    #[test]
    fn self_contained_page() {
        let mut d = Document::new("Campaign `x` <b>");
        d.text("line one");
        d.table(Table::new("t", ["a"]).row(vec!["<1>".into()]));
        d.chart(Chart {
            id: "c".into(),
            title: "T".into(),
            subtitle: "S".into(),
            x: Axis::linear("x (s)"),
            y: Axis::linear("y (tok/s)"),
            series: vec![Series::new("s", Style::Line, vec![Point::new(1.0, 2.0)])],
            small: false,
        });
        d.code("Paste:", "llama-server -m m.gguf");
        let h = Html.render(&d);
        assert!(h.contains("Content-Security-Policy") && h.contains("default-src 'none'"));
        assert!(h.contains("&lt;b&gt;") && h.contains("&lt;1&gt;"));
        assert_eq!(h.matches("<svg").count(), 1);
        for attr in ["src=\"http", "href=\"http", "src='http", "@import"] {
            assert!(!h.contains(attr), "{attr}");
        }
    }
}
