//! Charts as data: what a subject wants drawn (series of points, axes with
//! units and scales, marks for failed or suspicious points), kept apart from
//! how a renderer draws them (`format::svg`), so every chart is
//! deterministic and testable as text.

/// An axis: its label (with the unit) and its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Label, unit included (`context depth (tokens)`).
    pub label: String,
    /// Logarithmic (base 10) instead of linear.
    pub log: bool,
    /// Names of the values 0, 1, 2... for a categorical axis (a flag's values).
    pub categories: Vec<String>,
}

impl Axis {
    /// A linear axis.
    pub fn linear(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            log: false,
            categories: Vec::new(),
        }
    }

    /// A log-scale axis.
    pub fn log(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            log: true,
            categories: Vec::new(),
        }
    }

    /// A categorical axis: value `i` is drawn at `i` and labelled `names[i]`.
    pub fn categories(label: impl Into<String>, names: Vec<String>) -> Axis {
        Axis {
            label: label.into(),
            log: false,
            categories: names,
        }
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Points joined by straight lines, each point marked.
    Line,
    /// A solid line without point marks (a roof, a fit).
    Curve,
    /// A step line (best so far).
    Step,
    /// Dashed line (ceilings, defaults, references).
    Dashed,
    /// Points only.
    Points,
    /// Hollow points (skipped, screened).
    Hollow,
    /// Crosses below the axis (crashed, failed).
    Crosses,
    /// Bar segments on a categorical x axis: each point's bar sits on top of
    /// the earlier `Stacked` series' bars at the same x (where the time went).
    Stacked,
}

/// One point, with optional error bar and hover text.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// X value.
    pub x: f64,
    /// Y value.
    pub y: f64,
    /// Error bar (low, high), if any.
    pub range: Option<(f64, f64)>,
    /// Hover text (an SVG `<title>`).
    pub note: Option<String>,
    /// Drawn as a warning (a measurement above its ceiling).
    pub warn: bool,
}

impl Point {
    /// A plain point.
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            range: None,
            note: None,
            warn: false,
        }
    }

    /// With hover text.
    pub fn note(mut self, n: impl Into<String>) -> Point {
        self.note = Some(n.into());
        self
    }

    /// With an error bar.
    pub fn range(mut self, lo: f64, hi: f64) -> Point {
        self.range = Some((lo, hi));
        self
    }

    /// Marked as a warning.
    pub fn warn(mut self, w: bool) -> Point {
        self.warn = w;
        self
    }
}

/// A named series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// How it is drawn.
    pub style: Style,
    /// Its points, in x order for lines.
    pub points: Vec<Point>,
}

impl Series {
    /// A series.
    pub fn new(name: impl Into<String>, style: Style, points: Vec<Point>) -> Series {
        Series {
            name: name.into(),
            style,
            points,
        }
    }
}

/// A chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Stable snake_case name (file names, element ids).
    pub id: String,
    /// Title.
    pub title: String,
    /// Model, quantization, hardware, backend build, campaign.
    pub subtitle: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Series, drawn in order (later on top).
    pub series: Vec<Series>,
    /// One of several small panels (drawn smaller, side by side).
    pub small: bool,
}

impl Chart {
    /// Where a `Stacked` point's bar starts: the sum of the earlier stacked
    /// series' values at the same x.
    pub fn stack_base(&self, series: usize, x: f64) -> f64 {
        self.series[..series.min(self.series.len())]
            .iter()
            .filter(|s| s.style == Style::Stacked)
            .flat_map(|s| s.points.iter())
            .filter(|p| p.x == x && p.y.is_finite())
            .map(|p| p.y)
            .sum()
    }

    /// Every finite point's x and y (for axis ranges); a stacked bar counts
    /// at its top.
    pub fn extent(&self) -> Option<((f64, f64), (f64, f64))> {
        let pts = self.series.iter().enumerate().flat_map(|(i, s)| {
            s.points.iter().map(move |p| {
                let base = if s.style == Style::Stacked {
                    self.stack_base(i, p.x)
                } else {
                    0.0
                };
                (p, base)
            })
        });
        let mut ext: Option<((f64, f64), (f64, f64))> = None;
        for (p, base) in pts {
            let ys = [Some(p.y + base), p.range.map(|r| r.0), p.range.map(|r| r.1)];
            for y in ys.into_iter().flatten() {
                let ok = |v: f64, log: bool| v.is_finite() && (!log || v > 0.0);
                if !(ok(p.x, self.x.log) && ok(y, self.y.log)) {
                    continue;
                }
                ext = Some(match ext {
                    None => ((p.x, p.x), (y, y)),
                    Some(((x0, x1), (y0, y1))) => {
                        ((x0.min(p.x), x1.max(p.x)), (y0.min(y), y1.max(y)))
                    }
                });
            }
        }
        ext
    }
}
