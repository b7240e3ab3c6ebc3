//! Policy effects, and the order Azure checks them in.

use serde::Serialize;

/// What a definition does when its `if` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Effect {
    Disabled,
    Append,
    Modify,
    Deny,
    Audit,
    Manual,
    AuditIfNotExists,
    DeployIfNotExists,
    DenyAction,
    AddToNetworkGroup,
    Mutate,
}

impl Effect {
    const ALL: [Effect; 11] = [
        Effect::Disabled,
        Effect::Append,
        Effect::Modify,
        Effect::Deny,
        Effect::Audit,
        Effect::Manual,
        Effect::AuditIfNotExists,
        Effect::DeployIfNotExists,
        Effect::DenyAction,
        Effect::AddToNetworkGroup,
        Effect::Mutate,
    ];

    /// Azure spells effects in any case (`Audit`, `audit`, `AuditIfNotExists`).
    pub fn parse(s: &str) -> Option<Effect> {
        Self::ALL.into_iter().find(|e| e.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Disabled => "disabled",
            Effect::Append => "append",
            Effect::Modify => "modify",
            Effect::Deny => "deny",
            Effect::Audit => "audit",
            Effect::Manual => "manual",
            Effect::AuditIfNotExists => "auditIfNotExists",
            Effect::DeployIfNotExists => "deployIfNotExists",
            Effect::DenyAction => "denyAction",
            Effect::AddToNetworkGroup => "addToNetworkGroup",
            Effect::Mutate => "mutate",
        }
    }

    /// The position in Azure's order of evaluation: `disabled` first, then
    /// append/modify, deny, audit, manual, auditIfNotExists (and
    /// deployIfNotExists after the provider answers), denyAction last.
    pub fn order(self) -> u8 {
        match self {
            Effect::Disabled => 0,
            Effect::Append | Effect::Modify | Effect::AddToNetworkGroup | Effect::Mutate => 1,
            Effect::Deny => 2,
            Effect::Audit => 3,
            Effect::Manual => 4,
            Effect::AuditIfNotExists => 5,
            Effect::DeployIfNotExists => 6,
            Effect::DenyAction => 7,
        }
    }

    /// Effects judged by a related resource (`details.existenceCondition`).
    pub fn checks_existence(self) -> bool {
        matches!(self, Effect::AuditIfNotExists | Effect::DeployIfNotExists)
    }
}

impl std::fmt::Display for Effect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effects_parse_in_any_case() {
        assert_eq!(Effect::parse("AuditIfNotExists"), Some(Effect::AuditIfNotExists));
        assert_eq!(Effect::parse("DENY"), Some(Effect::Deny));
        assert_eq!(Effect::parse("block"), None);
    }

    #[test]
    fn disabled_comes_first_and_deny_action_last() {
        let mut all = Effect::ALL.to_vec();
        all.sort_by_key(|e| e.order());
        assert_eq!(all.first(), Some(&Effect::Disabled));
        assert_eq!(all.last(), Some(&Effect::DenyAction));
        assert!(Effect::Modify.order() < Effect::Deny.order() && Effect::Deny.order() < Effect::Audit.order());
        assert!(Effect::Audit.order() < Effect::Manual.order());
        assert!(Effect::Manual.order() < Effect::AuditIfNotExists.order());
    }
}
