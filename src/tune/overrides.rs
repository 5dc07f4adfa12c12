//! Command-line overrides of a spec's budget (`--trials`, `--minutes`),
//! checked by the same rules as the spec's keys so that neither way in can
//! smuggle in a budget the other refuses (`--minutes nan`, `--trials 0`).

use super::spec::{check_minutes, check_trials};
use super::TuneError;

/// Check the overrides given on the command line.
pub fn check(trials: Option<u32>, minutes: Option<f64>) -> Result<(), TuneError> {
    if let Some(Err(problem)) = trials.map(check_trials) {
        return Err(TuneError::BadOverride {
            flag: "--trials",
            problem,
        });
    }
    if let Some(Err(problem)) = minutes.map(check_minutes) {
        return Err(TuneError::BadOverride {
            flag: "--minutes",
            problem,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_rules_as_the_spec() {
        assert!(check(Some(3), Some(1.5)).is_ok());
        for (t, m) in [
            (Some(0), None),
            (None, Some(f64::NAN)),
            (None, Some(-1.0)),
            (None, Some(0.0)),
            (None, Some(f64::INFINITY)),
        ] {
            let e = check(t, m).unwrap_err();
            assert!(e.is_usage(), "{e}");
        }
    }
}
