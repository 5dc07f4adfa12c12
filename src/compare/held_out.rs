//! How a published row is held out: predicted from the rows of the *other*
//! models of its family and runtime (a model's rows at other depths never
//! help predict it), or of every family when its own has no other model;
//! and its errors summed up per family.

/// A published row that belongs to a model on a machine and to a family.
pub trait Held {
    /// Hardware profile.
    fn hw(&self) -> &str;
    /// Model spec.
    fn model(&self) -> &str;
    /// Family and runtime (`calibration::band_key`).
    fn family(&self) -> &str;
}

/// The rows to fit when predicting `r`: the other models' rows of its
/// family, else of every family.
pub fn fit_set<'a, T: Held>(rows: &'a [T], r: &T) -> Vec<&'a T> {
    let others: Vec<&T> = rows
        .iter()
        .filter(|o| !(o.hw() == r.hw() && o.model() == r.model()))
        .collect();
    let kin: Vec<&T> = others
        .iter()
        .copied()
        .filter(|o| o.family() == r.family())
        .collect();
    if kin.is_empty() {
        others
    } else {
        kin
    }
}

/// Signed error of a prediction, % (positive = predicted too fast).
pub fn error_pct(predicted_tok_s: f64, measured_tok_s: f64) -> f64 {
    100.0 * (predicted_tok_s / measured_tok_s - 1.0)
}

/// Per family: `fit` on all its rows, and how many rows there are.
pub fn fit_per_family<T: Held, F>(
    rows: &[T],
    fit: impl Fn(&[&T]) -> F,
) -> std::collections::BTreeMap<String, (F, usize)> {
    by_family(rows, |r| r.family())
        .into_iter()
        .map(|(family, kin)| {
            let n = kin.len();
            (family, (fit(&kin), n))
        })
        .collect()
}

/// Items grouped by family (sorted by family), in their order within each.
pub fn by_family<H>(items: &[H], family: impl Fn(&H) -> &str) -> Vec<(String, Vec<&H>)> {
    let mut families: Vec<&str> = items.iter().map(&family).collect();
    families.sort_unstable();
    families.dedup();
    families
        .into_iter()
        .map(|f| {
            let of: Vec<&H> = items.iter().filter(|h| family(h) == f).collect();
            (f.to_string(), of)
        })
        .collect()
}

/// Mean of `|g|` over `items` (0 when there are none).
pub fn mean_abs<H>(items: &[&H], g: impl Fn(&H) -> f64) -> f64 {
    if items.is_empty() {
        return 0.0;
    }
    items.iter().map(|h| g(h).abs()).sum::<f64>() / items.len() as f64
}

/// Largest `|g|` over `items`.
pub fn max_abs<H>(items: &[&H], g: impl Fn(&H) -> f64) -> f64 {
    items.iter().map(|h| g(h).abs()).fold(0.0, f64::max)
}
