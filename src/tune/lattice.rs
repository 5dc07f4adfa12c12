//! The flag lattice: one dimension per searched flag, each a list of
//! values; a point is one index per dimension. The solver moves on indices,
//! the server sees a [`Config`].

use super::space::Config;
use serde::Serialize;

/// One searched flag and its candidate values, in the order given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dim {
    /// Flag spelling passed to the server (`-ub`).
    pub flag: String,
    /// Candidate values (`default` leaves the flag out).
    pub values: Vec<String>,
    /// Whether the flag came from `[space.raw]` (not in the flag table).
    pub raw: bool,
}

/// A point of the lattice: an index into each dimension's values.
pub type Point = Vec<usize>;

/// The search space of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Space {
    /// Dimensions, in command-line order.
    pub dims: Vec<Dim>,
}

impl Space {
    /// Number of configurations in the lattice.
    pub fn size(&self) -> u64 {
        self.dims
            .iter()
            .map(|d| d.values.len() as u64)
            .fold(1u64, u64::saturating_mul)
    }

    /// The configuration at a point (indices out of range are clamped).
    pub fn config(&self, p: &[usize]) -> Config {
        Config(
            self.dims
                .iter()
                .zip(p)
                .map(|(d, &i)| {
                    let i = i.min(d.values.len().saturating_sub(1));
                    (d.flag.clone(), d.values[i].clone())
                })
                .collect(),
        )
    }

    /// The point of a configuration, if every value is on the lattice.
    pub fn point(&self, c: &Config) -> Option<Point> {
        self.dims
            .iter()
            .map(|d| {
                let v = c.0.iter().find(|(k, _)| *k == d.flag).map(|(_, v)| v)?;
                d.values.iter().position(|x| x == v)
            })
            .collect()
    }

    /// Every point, in lexicographic order (for the grid and `--dry-run`).
    pub fn all_points(&self) -> Vec<Point> {
        let mut out = vec![Vec::new()];
        for d in &self.dims {
            out = out
                .into_iter()
                .flat_map(|p| {
                    (0..d.values.len()).map(move |i| {
                        let mut q = p.clone();
                        q.push(i);
                        q
                    })
                })
                .collect();
        }
        out
    }

    /// The flag spellings searched.
    pub fn flags(&self) -> Vec<String> {
        self.dims.iter().map(|d| d.flag.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space() -> Space {
        Space {
            dims: vec![
                Dim {
                    flag: "-t".into(),
                    values: vec!["1".into(), "2".into()],
                    raw: false,
                },
                Dim {
                    flag: "-ub".into(),
                    values: vec!["128".into(), "256".into(), "512".into()],
                    raw: false,
                },
            ],
        }
    }

    #[test]
    fn points_and_configs_round_trip() {
        let s = space();
        assert_eq!(s.size(), 6);
        let all = s.all_points();
        assert_eq!(all.len(), 6);
        for p in &all {
            assert_eq!(s.point(&s.config(p)).as_ref(), Some(p));
        }
        assert_eq!(s.config(&[1, 2]).args(), vec!["-t", "2", "-ub", "512"]);
        assert_eq!(s.point(&Config::default()), None);
    }
}
