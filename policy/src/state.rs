//! Compliance states, spelled and ranked as Azure Policy spells and ranks them.

use serde::{Deserialize, Serialize};

/// A resource's compliance state under one policy, one assignment, or overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ComplianceState {
    NonCompliant,
    Compliant,
    Error,
    Conflicting,
    /// A `denyAction` policy whose condition matched.
    Protected,
    Exempt,
    /// The default state of a `manual` policy that nobody has attested yet.
    Unknown,
}

impl ComplianceState {
    pub const ALL: [ComplianceState; 7] = [
        ComplianceState::NonCompliant,
        ComplianceState::Compliant,
        ComplianceState::Error,
        ComplianceState::Conflicting,
        ComplianceState::Protected,
        ComplianceState::Exempt,
        ComplianceState::Unknown,
    ];

    /// Azure's aggregation rank: when several policies apply to a resource,
    /// the state with the lowest rank present wins.
    pub fn rank(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceState::NonCompliant => "NonCompliant",
            ComplianceState::Compliant => "Compliant",
            ComplianceState::Error => "Error",
            ComplianceState::Conflicting => "Conflicting",
            ComplianceState::Protected => "Protected",
            ComplianceState::Exempt => "Exempt",
            ComplianceState::Unknown => "Unknown",
        }
    }

    /// Parses Azure's spelling, case-insensitively, with or without the
    /// hyphen Azure's portal shows (`Non-compliant`).
    pub fn parse(s: &str) -> Option<Self> {
        let norm: String = s.chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_lowercase();
        Self::ALL.into_iter().find(|st| st.as_str().to_ascii_lowercase() == norm)
    }

    /// The cumulative most restrictive of several states, or `None` when no
    /// policy applied.
    pub fn roll_up(states: impl IntoIterator<Item = ComplianceState>) -> Option<ComplianceState> {
        states.into_iter().min_by_key(|s| s.rank())
    }
}

impl std::fmt::Display for ComplianceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Azure's compliance percentage: compliant, exempt and unknown over every
/// state that counts (protected counts as compliant, as `denyAction` does in
/// Azure). `None` when nothing counts.
pub fn compliance_percentage(states: impl IntoIterator<Item = ComplianceState>) -> Option<f64> {
    let (mut good, mut all) = (0u64, 0u64);
    for s in states {
        all += 1;
        if counts_as_compliant(s) {
            good += 1;
        }
    }
    (all > 0).then(|| good as f64 * 100.0 / all as f64)
}

/// Whether a resource in state `s` counts on the good side of the
/// compliance percentage.
pub fn counts_as_compliant(s: ComplianceState) -> bool {
    matches!(
        s,
        ComplianceState::Compliant | ComplianceState::Exempt | ComplianceState::Unknown | ComplianceState::Protected
    )
}

#[cfg(test)]
mod tests {
    use super::ComplianceState::*;
    use super::*;

    #[test]
    fn one_non_compliant_policy_makes_the_resource_non_compliant() {
        assert_eq!(ComplianceState::roll_up([Compliant, Exempt, NonCompliant, Unknown]), Some(NonCompliant));
        assert_eq!(ComplianceState::roll_up([Error, Compliant]), Some(Compliant));
        assert_eq!(ComplianceState::roll_up([Conflicting, Error]), Some(Error));
        assert_eq!(ComplianceState::roll_up([]), None);
    }

    #[test]
    fn a_resource_is_exempt_only_when_every_policy_is_exempt_or_unknown() {
        assert_eq!(ComplianceState::roll_up([Exempt, Unknown]), Some(Exempt));
        assert_eq!(ComplianceState::roll_up([Exempt, Compliant]), Some(Compliant));
        assert_eq!(ComplianceState::roll_up([Unknown]), Some(Unknown));
    }

    #[test]
    fn the_percentage_counts_exempt_and_unknown_as_compliant() {
        assert_eq!(compliance_percentage([Compliant, Exempt, Unknown, NonCompliant]), Some(75.0));
        assert_eq!(compliance_percentage([Error, Conflicting]), Some(0.0));
        assert_eq!(compliance_percentage([]), None);
    }

    #[test]
    fn states_parse_as_azure_and_its_portal_spell_them() {
        assert_eq!(ComplianceState::parse("Non-compliant"), Some(NonCompliant));
        assert_eq!(ComplianceState::parse("noncompliant"), Some(NonCompliant));
        assert_eq!(ComplianceState::parse("Exempt"), Some(Exempt));
        assert_eq!(ComplianceState::parse("Fine"), None);
    }
}
