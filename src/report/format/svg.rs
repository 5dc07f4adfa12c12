//! Charts as SVG, written by hand: deterministic text (the same chart gives
//! the same bytes, so it can be snapshot-tested), no fonts or C libraries
//! (text is left to the browser), hover details as `<title>` elements, and
//! series told apart by dash pattern and marker shape as well as colour, so
//! they survive greyscale printing.

use crate::report::chart::{Axis, Chart, Style};
use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 215.0;
const TOP: f64 = 62.0;
const BOTTOM: f64 = 58.0;
/// Colours (Okabe-Ito, readable by colour-blind readers).
const COLOURS: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];
const DASHES: [&str; 4] = ["", "6 3", "2 3", "8 3 2 3"];

/// Escape text for SVG/XML.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number for a tick label or a tooltip: `0.5`, `12`, `1.2k`, `3.4M`.
pub fn num(v: f64) -> String {
    let a = v.abs();
    let short = |x: f64, unit: &str| {
        let t = format!("{x:.2}");
        let t = t.trim_end_matches('0').trim_end_matches('.');
        format!("{t}{unit}")
    };
    if a >= 1e12 {
        short(v / 1e12, "T")
    } else if a >= 1e9 {
        short(v / 1e9, "G")
    } else if a >= 1e6 {
        short(v / 1e6, "M")
    } else if a >= 1e4 {
        short(v / 1e3, "k")
    } else if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}").trim_end_matches('0').to_string()
    }
}

/// Maps data to pixels on one axis.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    from: f64,
    to: f64,
    categories: Vec<String>,
}

impl Scale {
    fn new(axis: &Axis, lo: f64, hi: f64, from: f64, to: f64) -> Scale {
        if !axis.categories.is_empty() {
            return Scale {
                lo: -0.5,
                hi: axis.categories.len() as f64 - 0.5,
                log: false,
                from,
                to,
                categories: axis.categories.clone(),
            };
        }
        let (lo, hi) = if axis.log {
            let l = lo.max(1e-300).log10().floor();
            let h = hi.max(1e-300).log10().ceil().max(l + 1.0);
            (10f64.powf(l), 10f64.powf(h))
        } else {
            let lo = lo.min(0.0);
            let step = nice_step(hi - lo);
            let hi = (hi / step).ceil() * step;
            (lo, if hi > lo { hi } else { lo + step })
        };
        Scale {
            lo,
            hi,
            log: axis.log,
            from,
            to,
            categories: Vec::new(),
        }
    }

    fn label(&self, v: f64) -> String {
        match self.categories.get(v.round().max(0.0) as usize) {
            Some(c) if !self.categories.is_empty() => c.clone(),
            _ => num(v),
        }
    }

    fn px(&self, v: f64) -> f64 {
        let f = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.from + f * (self.to - self.from)
    }

    fn ticks(&self) -> Vec<f64> {
        if !self.categories.is_empty() {
            return (0..self.categories.len()).map(|i| i as f64).collect();
        }
        if self.log {
            let (a, b) = (self.lo.log10() as i32, self.hi.log10() as i32);
            (a..=b).map(|e| 10f64.powi(e)).collect()
        } else {
            let step = nice_step(self.hi - self.lo);
            let mut t = Vec::new();
            let mut v = self.lo;
            while v <= self.hi + step * 1e-9 {
                t.push(v);
                v += step;
            }
            t
        }
    }
}

/// A 1, 2 or 5 times a power of ten giving about five ticks over `span`.
fn nice_step(span: f64) -> f64 {
    if !(span.is_finite() && span > 0.0) {
        return 1.0;
    }
    let raw = span / 5.0;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    p * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

fn marker(o: &mut String, i: usize, x: f64, y: f64, colour: &str, hollow: bool) {
    let fill = if hollow { "none" } else { colour };
    let _ = match i % 4 {
        0 => write!(
            o,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#
        ),
        1 => write!(
            o,
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#,
            x - 3.5,
            y - 3.5
        ),
        2 => write!(
            o,
            r#"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#,
            y - 5.0,
            x + 4.5,
            y + 3.5,
            x - 4.5,
            y + 3.5
        ),
        _ => write!(
            o,
            r#"<path d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{fill}" stroke="{colour}" stroke-width="1.5"/>"#,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
    };
}

/// One stacked bar segment: from the earlier segments' top at this x up by
/// the point's value, a third of the category spacing either side.
fn bar(
    o: &mut String,
    c: &Chart,
    (sx, sy): (&Scale, &Scale),
    (i, colour): (usize, &str),
    p: &crate::report::chart::Point,
    tip: &str,
) {
    if !(p.y.is_finite() && p.y > 0.0) {
        return;
    }
    let half = (sx.px(1.0) - sx.px(0.0)).abs() / 3.0;
    let base = c.stack_base(i, p.x);
    let (top, bottom) = (sy.px(base + p.y), sy.px(base));
    let x = sx.px(p.x) - half;
    let (w, h) = (2.0 * half, (bottom - top).max(0.5));
    let _ = write!(
        o,
        r##"<g class="point bar"><title>{}</title><rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="{colour}" stroke="#333" stroke-width="0.5"/>"##,
        esc(tip)
    );
    if i % 2 == 1 {
        let _ = write!(
            o,
            r##"<rect x="{x:.1}" y="{top:.1}" width="{w:.1}" height="{h:.1}" fill="url(#hatch-{})"/>"##,
            esc(&c.id)
        );
    }
    o.push_str("</g>");
}

/// `--format svg`: a document's charts alone, one under another in one SVG
/// image (tables and text are left out; a document without charts is an
/// empty image, which `Sink` refuses before it gets here).
pub struct Charts;

impl super::Renderer for Charts {
    fn render(&self, doc: &crate::report::doc::Document) -> String {
        let charts: Vec<&Chart> = doc.charts().collect();
        let total = H * charts.len() as f64;
        let mut o = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {total}" width="{W}" height="{total}">"#
        );
        for (i, c) in charts.iter().enumerate() {
            let inner = render(c);
            // Nested `<svg>` placed by its y; the inner one keeps its viewBox.
            let _ = write!(
                o,
                "{}",
                inner.replacen("<svg ", &format!(r#"<svg y="{}" "#, H * i as f64), 1)
            );
        }
        o.push_str("</svg>\n");
        o
    }
}

/// The chart as a standalone `<svg>` element.
pub fn render(c: &Chart) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart{}" id="chart-{}" viewBox="0 0 {W} {H}" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#,
        if c.small { " small" } else { "" },
        esc(&c.id)
    );
    let _ = write!(o, "<title>{}</title>", esc(&c.title));
    if c.series.iter().any(|s| s.style == Style::Stacked) {
        // White diagonal stripes over every other stacked segment, so the
        // segments stay apart in greyscale.
        let _ = write!(
            o,
            r##"<defs><pattern id="hatch-{}" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><path d="M0 0V6" stroke="#fff" stroke-width="2"/></pattern></defs>"##,
            esc(&c.id)
        );
    }
    let _ = write!(
        o,
        r##"<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{}</text><text x="{LEFT}" y="40" fill="#555">{}</text>"##,
        esc(&c.title),
        esc(&c.subtitle)
    );
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let Some(((xl, xh), (yl, yh))) = c.extent() else {
        let _ = write!(
            o,
            r##"<text x="{LEFT}" y="{}" fill="#555">no data</text></svg>"##,
            H / 2.0
        );
        return o;
    };
    let sx = Scale::new(&c.x, xl, xh, x0, x1);
    let sy = Scale::new(&c.y, yl, yh, y0, y1);
    let _ = write!(
        o,
        r##"<g class="axes" stroke="#999" fill="none"><path d="M{x0} {y1}V{y0}H{x1}"/></g>"##
    );
    for t in sx.ticks() {
        let x = sx.px(t);
        let _ = write!(
            o,
            r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{:.1}" stroke="#999"/><text class="tick" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            y0 + 5.0,
            y0 + 18.0,
            esc(&sx.label(t))
        );
    }
    for t in sy.ticks() {
        let y = sy.px(t);
        let _ = write!(
            o,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#eee"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            x0 - 5.0,
            x0 - 8.0,
            y + 4.0,
            num(t)
        );
    }
    let _ = write!(
        o,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text class="axis-label" transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 14.0,
        esc(&c.x.label),
        (y0 + y1) / 2.0,
        esc(&c.y.label)
    );
    for (i, s) in c.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let dash = DASHES[if s.style == Style::Dashed {
            1 + i % 3
        } else {
            i % 4
        }];
        let _ = write!(o, r#"<g class="series" data-name="{}">"#, esc(&s.name));
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.y.is_finite())
            .map(|p| (sx.px(p.x), sy.px(p.y)))
            .collect();
        if matches!(
            s.style,
            Style::Line | Style::Dashed | Style::Step | Style::Curve
        ) && pts.len() > 1
        {
            let mut d = String::new();
            for (k, (x, y)) in pts.iter().enumerate() {
                if k == 0 {
                    let _ = write!(d, "M{x:.1} {y:.1}");
                } else if s.style == Style::Step {
                    let _ = write!(d, "H{x:.1}V{y:.1}");
                } else {
                    let _ = write!(d, "L{x:.1} {y:.1}");
                }
            }
            let dash = if s.style == Style::Dashed && dash.is_empty() {
                "6 3"
            } else {
                dash
            };
            let _ = write!(
                o,
                r#"<path d="{d}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#
            );
        }
        for p in &s.points {
            if !p.x.is_finite() {
                continue;
            }
            let x = sx.px(p.x);
            let tip = p
                .note
                .clone()
                .unwrap_or_else(|| format!("{}: {}, {}", s.name, num(p.x), num(p.y)));
            if s.style == Style::Stacked {
                bar(&mut o, c, (&sx, &sy), (i, colour), p, &tip);
                continue;
            }
            if s.style == Style::Crosses {
                let y = y0 + 30.0;
                let _ = write!(
                    o,
                    r##"<g class="mark crash"><title>{}</title><path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="#C00" stroke-width="2"/></g>"##,
                    esc(&tip),
                    x - 4.0,
                    y - 4.0,
                    x + 4.0,
                    y + 4.0,
                    x - 4.0,
                    y + 4.0,
                    x + 4.0,
                    y - 4.0
                );
                continue;
            }
            if !p.y.is_finite() {
                continue;
            }
            let y = sy.px(p.y);
            let _ = write!(
                o,
                r#"<g class="point{}"><title>{}</title>"#,
                if p.warn { " warn" } else { "" },
                esc(&tip)
            );
            if let Some((lo, hi)) = p.range {
                let _ = write!(
                    o,
                    r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}"/>"#,
                    sy.px(lo),
                    sy.px(hi)
                );
            }
            if p.warn {
                let _ = write!(
                    o,
                    r##"<path d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="#FFD400" stroke="#C00" stroke-width="2"/><text x="{:.1}" y="{:.1}" fill="#C00" font-size="11">above ceiling: wrong profile?</text>"##,
                    y - 8.0,
                    x + 7.0,
                    y + 5.0,
                    x - 7.0,
                    y + 5.0,
                    x + 9.0,
                    y - 6.0
                );
            } else if !matches!(s.style, Style::Dashed | Style::Step | Style::Curve)
                || s.points.len() == 1
            {
                marker(&mut o, i, x, y, colour, s.style == Style::Hollow);
            } else {
                let _ = write!(
                    o,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="6" fill="transparent"/>"#
                );
            }
            o.push_str("</g>");
        }
        o.push_str("</g>");
        // Legend, right of the plot.
        let ly = TOP + 8.0 + 18.0 * i as f64;
        let lx = x1 + 14.0;
        let _ = write!(o, r#"<g class="legend">"#);
        match s.style {
            Style::Crosses => {
                let _ = write!(
                    o,
                    r##"<path d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="#C00" stroke-width="2"/>"##,
                    lx + 6.0,
                    ly - 4.0,
                    lx + 14.0,
                    ly + 4.0,
                    lx + 6.0,
                    ly + 4.0,
                    lx + 14.0,
                    ly - 4.0
                );
            }
            Style::Points | Style::Hollow => {
                marker(&mut o, i, lx + 10.0, ly, colour, s.style == Style::Hollow)
            }
            Style::Stacked => {
                let _ = write!(
                    o,
                    r##"<rect x="{:.1}" y="{:.1}" width="20" height="10" fill="{colour}" stroke="#333" stroke-width="0.5"/>"##,
                    lx,
                    ly - 5.0
                );
                if i % 2 == 1 {
                    let _ = write!(
                        o,
                        r##"<rect x="{:.1}" y="{:.1}" width="20" height="10" fill="url(#hatch-{})"/>"##,
                        lx,
                        ly - 5.0,
                        esc(&c.id)
                    );
                }
            }
            _ => {
                let dash = if s.style == Style::Dashed && dash.is_empty() {
                    "6 3"
                } else {
                    dash
                };
                let _ = write!(
                    o,
                    r#"<path d="M{lx:.1} {ly:.1}h20" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#
                );
            }
        }
        let _ = write!(
            o,
            r#"<text x="{:.1}" y="{:.1}">{}</text></g>"#,
            lx + 26.0,
            ly + 4.0,
            esc(&s.name)
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::{Point, Series};

    fn chart() -> Chart {
        Chart {
            id: "decode_depth".into(),
            title: "Decode vs depth <test>".into(),
            subtitle: "m.gguf on probe".into(),
            x: Axis::linear("context depth (tokens)"),
            y: Axis::linear("decode (tok/s)"),
            small: false,
            series: vec![
                Series::new(
                    "measured",
                    Style::Line,
                    vec![
                        Point::new(0.0, 80.0).range(75.0, 85.0),
                        Point::new(2048.0, 60.0),
                    ],
                ),
                Series::new(
                    "ceiling",
                    Style::Dashed,
                    vec![Point::new(0.0, 150.0), Point::new(2048.0, 120.0)],
                ),
                Series::new(
                    "wrong",
                    Style::Points,
                    vec![Point::new(1024.0, 200.0).warn(true)],
                ),
                Series::new("crashed", Style::Crosses, vec![Point::new(512.0, f64::NAN)]),
            ],
        }
    }

    #[test]
    fn deterministic_escaped_and_complete() {
        let a = render(&chart());
        assert_eq!(a, render(&chart()));
        assert!(a.starts_with("<svg") && a.ends_with("</svg>"));
        assert!(a.contains("Decode vs depth &lt;test&gt;"));
        assert!(a.contains("context depth (tokens)") && a.contains("decode (tok/s)"));
        assert_eq!(a.matches(r#"class="series""#).count(), 4);
        assert!(a.contains("above ceiling: wrong profile?"));
        assert!(a.contains(r#"class="mark crash""#));
        assert!(
            !a.contains("http://") || a.matches("http://").count() == 1,
            "only the xmlns"
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_step(100.0), 20.0);
        assert_eq!(nice_step(7.0), 2.0);
        let s = Scale::new(&Axis::log("x"), 3.0, 4000.0, 0.0, 100.0);
        assert_eq!(s.ticks(), vec![1.0, 10.0, 100.0, 1000.0, 10000.0]);
        assert_eq!(num(12340.0), "12.34k");
        assert_eq!(num(1e13), "10T");
        assert_eq!(num(2.5e9), "2.5G");
        assert_eq!(num(0.25), "0.25");
    }
}
