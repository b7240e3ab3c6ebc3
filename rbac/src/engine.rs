//! Whether a principal may perform one operation at one scope, with the
//! assignments that decided it.
//!
//! Azure's rules, as the issue and Microsoft's documentation state them:
//! * A role assignment grants at its scope and below it.
//! * A permission block grants an action that one of its `actions` matches
//!   and none of its own `notActions` does; data actions likewise with
//!   `dataActions` and `notDataActions`. `notActions` subtract within their
//!   block only, never from another block or another role, and `actions`
//!   never grant a data action (so `actions: ["*"]` reads no data).
//! * A deny assignment at the scope or above (unless it does not apply to
//!   child scopes and the target is below it) that names the principal, one
//!   of its groups or Everyone, and excludes none of them, removes what its
//!   permissions match whatever the roles grant.
//! * A condition, on the assignment or on the permission block, restricts
//!   what it grants: such access is reported as conditional, never as
//!   access outright.

use crate::documents::{DenyAssignment, Permission, RoleAssignment, RoleDefinition};
use crate::pattern;
use crate::scope::{normalize, Hierarchy};
use serde::Serialize;

/// The principal id deny assignments use for Everyone.
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    Action(String),
    DataAction(String),
}

impl Operation {
    pub fn name(&self) -> &str {
        match self {
            Operation::Action(a) | Operation::DataAction(a) => a,
        }
    }
}

/// How a role (or a deny assignment's permissions) treats one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grant {
    No,
    /// Granted only where a condition holds.
    Conditional,
    Yes,
}

/// Whether one permission block matches `op`.
pub fn block_matches(block: &Permission, op: &Operation) -> bool {
    let (allow, except) = match op {
        Operation::Action(_) => (&block.actions, &block.not_actions),
        Operation::DataAction(_) => (&block.data_actions, &block.not_data_actions),
    };
    pattern::any(allow, op.name()) && !pattern::any(except, op.name())
}

/// Whether a condition restricts `op`. Conditions name the operations they
/// constrain with `ActionMatches{'…'}` (the usual form is
/// `(!(ActionMatches{'X'})) OR (…)`, which leaves every other operation
/// alone); a condition that names none constrains every operation.
pub fn condition_restricts(condition: &str, op: &Operation) -> bool {
    let named: Vec<&str> = condition
        .split("ActionMatches{")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().strip_prefix('\'')?;
            rest.split('\'').next()
        })
        .collect();
    named.is_empty() || named.iter().any(|p| pattern::matches(p, op.name()))
}

/// How a role definition treats `op`: granted by some block outright,
/// only under a block's condition, or not at all.
pub fn role_grants(role: &RoleDefinition, op: &Operation) -> Grant {
    role.permissions
        .iter()
        .filter(|b| block_matches(b, op))
        .map(|b| match &b.condition {
            Some(c) if condition_restricts(c, op) => Grant::Conditional,
            _ => Grant::Yes,
        })
        .max()
        .unwrap_or(Grant::No)
}

/// Whether `who` (a principal and its groups, lower case) is one a deny
/// assignment applies to.
pub fn deny_names(deny: &DenyAssignment, who: &[String]) -> bool {
    let named = |ids: &[String]| ids.iter().any(|id| who.iter().any(|w| id.eq_ignore_ascii_case(w)));
    let everyone = deny.principals.iter().any(|id| id == EVERYONE);
    (everyone || named(&deny.principals)) && !named(&deny.exclude_principals)
}

/// Whether a deny assignment reaches `target` (normalized).
pub fn deny_reaches(deny: &DenyAssignment, hierarchy: &Hierarchy, target: &str) -> bool {
    let at = normalize(&deny.scope);
    if deny.do_not_apply_to_child_scopes {
        at == target
    } else {
        hierarchy.covers(&at, target)
    }
}

/// Whether a deny assignment's permissions match `op`.
pub fn deny_matches(deny: &DenyAssignment, op: &Operation) -> bool {
    deny.permissions.iter().any(|b| block_matches(b, op))
}

/// The outcome for one principal, scope and operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Granted outright by some assignment and denied by none.
    pub allowed: bool,
    /// The role assignments that grant it outright (denied or not).
    pub granted_by: Vec<String>,
    /// The deny assignments that remove it.
    pub denied_by: Vec<String>,
    /// The role assignments that grant it only under a condition.
    pub conditional: Vec<String>,
}

/// Whether `principal` (or one of `groups`) may perform `op` at `scope`.
#[allow(clippy::too_many_arguments)]
pub fn can(
    definitions: &[RoleDefinition],
    assignments: &[RoleAssignment],
    denies: &[DenyAssignment],
    hierarchy: &Hierarchy,
    principal: &str,
    groups: &[String],
    scope: &str,
    op: &Operation,
) -> Verdict {
    let target = normalize(scope);
    let who: Vec<String> =
        std::iter::once(principal).chain(groups.iter().map(String::as_str)).map(str::to_ascii_lowercase).collect();
    let mut verdict = Verdict::default();
    for a in assignments {
        if !who.iter().any(|w| a.principal_id.eq_ignore_ascii_case(w))
            || !hierarchy.covers(&normalize(&a.scope), &target)
        {
            continue;
        }
        let guid = a.role_guid();
        let grant =
            definitions.iter().filter(|d| d.guid == guid).map(|d| role_grants(d, op)).max().unwrap_or(Grant::No);
        match (grant, &a.condition) {
            (Grant::No, _) => {}
            (Grant::Yes, None) => verdict.granted_by.push(a.id.clone()),
            (_, Some(c)) if grant == Grant::Yes && !condition_restricts(c, op) => verdict.granted_by.push(a.id.clone()),
            _ => verdict.conditional.push(a.id.clone()),
        }
    }
    verdict.denied_by = denies
        .iter()
        .filter(|d| deny_names(d, &who) && deny_reaches(d, hierarchy, &target) && deny_matches(d, op))
        .map(|d| d.id.clone())
        .collect();
    verdict.allowed = !verdict.granted_by.is_empty() && verdict.denied_by.is_empty();
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_restricts_only_what_it_names() {
        let c = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[x] GuidEquals{y}))";
        assert!(condition_restricts(c, &Operation::Action("Microsoft.Authorization/roleAssignments/write".into())));
        assert!(!condition_restricts(c, &Operation::Action("Microsoft.CognitiveServices/accounts/write".into())));
        assert!(condition_restricts("@Resource[x] StringEquals 'y'", &Operation::DataAction("a/b".into())));
    }
}
