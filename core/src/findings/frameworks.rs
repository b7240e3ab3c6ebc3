//! A framework's score, as Defender's regulatory compliance view gives it:
//! each requirement is passing, failing or not assessed according to the
//! findings of the controls mapped to it, and the framework's percentage is
//! passing over assessed. Pure: counts in, verdicts (with their reasons) out.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Findings of one control in one evaluation: (failing, passing, other).
pub type ControlCounts = HashMap<String, (i64, i64, i64)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RequirementState {
    /// Some mapped control has a failing finding.
    Failing,
    /// Every mapped control was assessed and nothing fails.
    Passing,
    /// No mapped control has a finding that passes or fails (nothing
    /// collected, or only manual controls not attested yet).
    NotAssessed,
}

/// One requirement's verdict and the controls that decided it.
#[derive(Debug, Clone, Serialize)]
pub struct RequirementScore {
    pub id: String,
    pub state: RequirementState,
    /// The mapped controls with failing findings (why it fails).
    pub failing_controls: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FrameworkScore {
    pub name: String,
    pub passing: usize,
    pub failing: usize,
    pub not_assessed: usize,
    /// Passing over assessed (passing + failing); `None` when none is assessed.
    pub percent: Option<f64>,
    pub requirements: Vec<RequirementScore>,
}

/// Scores `framework` given its requirement → controls mapping.
pub fn score(framework: &str, requirements: &BTreeMap<String, Vec<String>>, counts: &ControlCounts) -> FrameworkScore {
    let mut out = FrameworkScore {
        name: framework.to_string(),
        passing: 0,
        failing: 0,
        not_assessed: 0,
        percent: None,
        requirements: Vec::new(),
    };
    for (id, controls) in requirements {
        let failing_controls: Vec<String> =
            controls.iter().filter(|c| counts.get(*c).is_some_and(|(f, _, _)| *f > 0)).cloned().collect();
        let assessed = controls.iter().any(|c| counts.get(c).is_some_and(|(f, p, _)| f + p > 0));
        let state = if !failing_controls.is_empty() {
            out.failing += 1;
            RequirementState::Failing
        } else if assessed {
            out.passing += 1;
            RequirementState::Passing
        } else {
            out.not_assessed += 1;
            RequirementState::NotAssessed
        };
        out.requirements.push(RequirementScore { id: id.clone(), state, failing_controls });
    }
    let assessed = out.passing + out.failing;
    out.percent = (assessed > 0).then(|| 100.0 * out.passing as f64 / assessed as f64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs.iter().map(|(r, cs)| (r.to_string(), cs.iter().map(|c| c.to_string()).collect())).collect()
    }

    #[test]
    fn a_requirement_fails_with_any_failing_control_and_names_it() {
        let counts: ControlCounts =
            [("net".to_string(), (2, 5, 0)), ("keys".to_string(), (0, 7, 0))].into_iter().collect();
        let s = score("X", &reqs(&[("A", &["net", "keys"]), ("B", &["keys"])]), &counts);
        assert_eq!((s.passing, s.failing, s.not_assessed), (1, 1, 0));
        assert_eq!(s.requirements[0].state, RequirementState::Failing);
        assert_eq!(s.requirements[0].failing_controls, ["net"]);
        assert_eq!(s.percent, Some(50.0));
    }

    #[test]
    fn only_unknown_or_missing_findings_are_not_assessed_and_do_not_count() {
        let counts: ControlCounts = [("manual".to_string(), (0, 0, 4))].into_iter().collect();
        let s = score("X", &reqs(&[("A", &["manual"]), ("B", &["absent"])]), &counts);
        assert_eq!((s.passing, s.failing, s.not_assessed), (0, 0, 2));
        assert_eq!(s.percent, None);
    }
}
