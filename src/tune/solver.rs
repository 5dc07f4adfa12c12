//! The solver: argmin's simulated annealing over the flag lattice.
//!
//! Why annealing: the space is discrete (a few values per flag, tens to
//! thousands of points), every evaluation costs a server restart, and each
//! measurement is noisy (10-38% spread on these machines). Annealing needs
//! one evaluation per step, moves between neighbouring lattice points (one
//! flag one notch, more flags while it is hot), and accepts a worse point
//! with a probability that falls with the temperature, so one noisy
//! measurement does not trap it. It makes no gradient or smoothness
//! assumption. In a dozen trials it is a guided local search from a good
//! start, not a global optimizer; see `docs/tuning.md`.
//!
//! Determinism: both random streams (the move and the acceptance test) are
//! seeded from the campaign seed, and the cost of a point already in the log
//! is read from the log. Replaying a log with the same seed therefore walks
//! the same path and rebuilds the solver's state; the log is the only state.

use super::lattice::Point;
use argmin::core::{CostFunction, Executor, State};
use argmin::solver::simulatedannealing::{Anneal, SATempFunc, SimulatedAnnealing};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;

/// Why the search stopped early.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("search stopped: {0}")]
pub struct Stop(pub String);

/// What the solver asks of the campaign: the cost of a point (measuring it
/// if the log does not have it), and whether a point was already costed.
pub trait Oracle {
    /// Cost of a point: lower is better. `Err` stops the search.
    fn cost(&mut self, p: &Point) -> Result<f64, Stop>;
    /// Whether the solver has been told this point's cost in this run.
    fn told(&self, p: &Point) -> bool;
}

/// Solver settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Seed for both random streams.
    pub seed: u64,
    /// Initial temperature, in cost units (cost = -score, so 0.1 = 10% of the defaults).
    pub temperature: f64,
    /// Upper bound on solver iterations (cached points cost no trial).
    pub max_iters: u64,
}

struct Problem<'a> {
    oracle: RefCell<&'a mut dyn Oracle>,
    sizes: Vec<usize>,
    rng: RefCell<StdRng>,
    init_temp: f64,
}

impl CostFunction for Problem<'_> {
    type Param = Point;
    type Output = f64;
    fn cost(&self, p: &Point) -> Result<f64, argmin::core::Error> {
        Ok(self.oracle.borrow_mut().cost(p)?)
    }
}

impl Anneal for Problem<'_> {
    type Param = Point;
    type Output = Point;
    type Float = f64;
    /// Move on the lattice: one flag one notch when cold, up to three flags
    /// (and jumps) when hot; prefer points not seen yet.
    fn anneal(&self, p: &Point, temp: f64) -> Result<Point, argmin::core::Error> {
        let mut rng = self.rng.borrow_mut();
        let heat = (temp / self.init_temp).clamp(0.0, 1.0);
        let movable: Vec<usize> = (0..self.sizes.len())
            .filter(|&i| self.sizes[i] > 1)
            .collect();
        if movable.is_empty() {
            return Ok(p.clone());
        }
        let mut candidate = p.clone();
        for _ in 0..32 {
            candidate = p.clone();
            let n_moves = 1 + (heat * 2.0 * rng.gen::<f64>()).round() as usize;
            for _ in 0..n_moves {
                let d = movable[rng.gen_range(0..movable.len())];
                let size = self.sizes[d];
                let cur = candidate[d];
                candidate[d] = if rng.gen::<f64>() < 0.25 * heat {
                    rng.gen_range(0..size)
                } else if cur == 0 {
                    1
                } else if cur + 1 == size || rng.gen::<bool>() {
                    cur - 1
                } else {
                    cur + 1
                };
            }
            if candidate != *p && !self.oracle.borrow().told(&candidate) {
                break;
            }
        }
        Ok(candidate)
    }
}

/// Run the search from `start` on a lattice with `sizes` values per
/// dimension. Returns the best point the solver saw, or the reason it stopped.
pub fn search(
    oracle: &mut dyn Oracle,
    sizes: &[usize],
    start: Point,
    settings: Settings,
) -> Result<Option<Point>, Stop> {
    let problem = Problem {
        oracle: RefCell::new(oracle),
        sizes: sizes.to_vec(),
        rng: RefCell::new(StdRng::seed_from_u64(settings.seed)),
        init_temp: settings.temperature,
    };
    let sa = SimulatedAnnealing::new_with_rng(
        settings.temperature,
        StdRng::seed_from_u64(settings.seed.wrapping_add(0x9e37_79b9)),
    )
    .map_err(|e| Stop(e.to_string()))?
    .with_temp_func(SATempFunc::Boltzmann)
    .with_reannealing_best(8);
    let res = Executor::new(problem, sa)
        .configure(|s| s.param(start).max_iters(settings.max_iters))
        .ctrlc(false)
        .run();
    match res {
        Ok(r) => Ok(r.state().get_best_param().cloned()),
        Err(e) => match e.downcast::<Stop>() {
            Ok(stop) => Err(stop),
            Err(e) => Err(Stop(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A bowl with its minimum at (3, 1, 2), counting evaluations.
    struct Bowl {
        told: HashMap<Point, f64>,
        evals: Vec<Point>,
        limit: usize,
    }

    impl Oracle for Bowl {
        fn cost(&mut self, p: &Point) -> Result<f64, Stop> {
            if let Some(c) = self.told.get(p) {
                return Ok(*c);
            }
            if self.evals.len() >= self.limit {
                return Err(Stop("budget".into()));
            }
            let target = [3i64, 1, 2];
            let c = p
                .iter()
                .zip(target)
                .map(|(&x, t)| (x as i64 - t).pow(2) as f64)
                .sum::<f64>()
                * 0.05
                - 1.0;
            self.evals.push(p.clone());
            self.told.insert(p.clone(), c);
            Ok(c)
        }
        fn told(&self, p: &Point) -> bool {
            self.told.contains_key(p)
        }
    }

    fn run(seed: u64, limit: usize) -> (Vec<Point>, Result<Option<Point>, Stop>) {
        let mut b = Bowl {
            told: HashMap::new(),
            evals: Vec::new(),
            limit,
        };
        let r = search(
            &mut b,
            &[5, 3, 4],
            vec![0, 0, 0],
            Settings {
                seed,
                temperature: 0.1,
                max_iters: 200,
            },
        );
        (b.evals, r)
    }

    #[test]
    fn same_seed_same_path() {
        let (a, _) = run(7, 15);
        let (b, _) = run(7, 15);
        assert_eq!(a, b);
        let (c, _) = run(8, 15);
        assert_ne!(a, c);
    }

    #[test]
    fn budget_stops_the_search() {
        let (evals, r) = run(1, 10);
        assert_eq!(evals.len(), 10);
        assert_eq!(r.unwrap_err().0, "budget");
    }

    #[test]
    fn finds_the_bowl_bottom_with_enough_budget() {
        let (evals, _) = run(3, 40);
        assert!(evals.contains(&vec![3, 1, 2]), "{evals:?}");
    }
}
