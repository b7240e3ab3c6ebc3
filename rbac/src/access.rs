//! Effective access to one account, summarised for a person: every
//! principal whose assignments reach it, at the levels they give (owner-level,
//! can manage access, can read keys, can change network or content filters,
//! can deploy models, can invoke models, read-only), each with the
//! assignments that give it.
//!
//! Each level is decided by the engine's rules on the operations that
//! define it (`Level::operations`); a role's verdict on those operations is
//! computed once per role, so an estate's worth of assignments costs a
//! lookup each.

use crate::documents::{DenyAssignment, RoleAssignment, RoleDefinition};
use crate::engine::{condition_restricts, deny_matches, deny_names, deny_reaches, role_grants, Grant, Operation};
use crate::scope::{is_management_group, normalize, Hierarchy};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What a principal can do to an account, in the words an auditor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    OwnerLevel,
    ManageAccess,
    ReadKeys,
    ChangeNetworkOrFilters,
    DeployModels,
    InvokeModels,
    ReadOnly,
}

/// The operations the levels are decided on.
const OPERATIONS: [(&str, bool); 7] = [
    ("Microsoft.Authorization/roleAssignments/write", false),
    ("Microsoft.CognitiveServices/accounts/write", false),
    ("Microsoft.CognitiveServices/accounts/raiPolicies/write", false),
    ("Microsoft.CognitiveServices/accounts/listKeys/action", false),
    ("Microsoft.CognitiveServices/accounts/deployments/write", false),
    ("Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action", true),
    ("Microsoft.CognitiveServices/accounts/read", false),
];

/// What each role (by GUID) grants of the deciding operations.
pub(crate) fn role_verdicts(definitions: &[RoleDefinition]) -> HashMap<String, [Grant; 7]> {
    let mut roles: HashMap<String, [Grant; 7]> = HashMap::new();
    for d in definitions {
        let grants: [Grant; 7] = std::array::from_fn(|i| role_grants(d, &operation(i)));
        let entry = roles.entry(d.guid.clone()).or_insert([Grant::No; 7]);
        for (have, new) in entry.iter_mut().zip(grants) {
            *have = (*have).max(new);
        }
    }
    roles
}

/// What one assignment grants of the deciding operations: its role's
/// verdicts, conditional where its condition names the operation.
pub(crate) fn assignment_grants(roles: &HashMap<String, [Grant; 7]>, a: &RoleAssignment) -> [Grant; 7] {
    let role = roles.get(&a.role_guid()).copied().unwrap_or([Grant::No; 7]);
    std::array::from_fn(|op| match (&a.condition, role[op]) {
        (Some(c), Grant::Yes) if condition_restricts(c, &operation(op)) => Grant::Conditional,
        (_, g) => g,
    })
}

pub(crate) fn operation(i: usize) -> Operation {
    let (name, data) = OPERATIONS[i];
    if data {
        Operation::DataAction(name.into())
    } else {
        Operation::Action(name.into())
    }
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::OwnerLevel,
        Level::ManageAccess,
        Level::ReadKeys,
        Level::ChangeNetworkOrFilters,
        Level::DeployModels,
        Level::InvokeModels,
        Level::ReadOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::OwnerLevel => "owner_level",
            Level::ManageAccess => "manage_access",
            Level::ReadKeys => "read_keys",
            Level::ChangeNetworkOrFilters => "change_network_or_filters",
            Level::DeployModels => "deploy_models",
            Level::InvokeModels => "invoke_models",
            Level::ReadOnly => "read_only",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::OwnerLevel => "Owner-level",
            Level::ManageAccess => "Can manage access",
            Level::ReadKeys => "Can read keys",
            Level::ChangeNetworkOrFilters => "Can change network or content filters",
            Level::DeployModels => "Can deploy models",
            Level::InvokeModels => "Can invoke models",
            Level::ReadOnly => "Read-only",
        }
    }

    /// Whether the outright grants `held` (per deciding operation) give the level.
    pub(crate) fn held_by(self, held: &[bool; 7]) -> bool {
        let (ops, all) = self.operations();
        if all {
            ops.iter().all(|o| held[*o])
        } else {
            ops.iter().any(|o| held[*o])
        }
    }

    /// The operations (indexes into `OPERATIONS`) that decide the level, and
    /// whether it takes all of them (owner-level: manage access and change
    /// the account) or any.
    fn operations(self) -> (&'static [usize], bool) {
        match self {
            Level::OwnerLevel => (&[0, 1], true),
            Level::ManageAccess => (&[0], false),
            Level::ChangeNetworkOrFilters => (&[1, 2], false),
            Level::ReadKeys => (&[3], false),
            Level::DeployModels => (&[4], false),
            Level::InvokeModels => (&[5], false),
            Level::ReadOnly => (&[6], false),
        }
    }
}

/// One level a principal holds, and through which assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelGrant<'a> {
    pub level: Level,
    /// Held only where an ABAC condition allows.
    pub conditional: bool,
    pub assignments: Vec<&'a str>,
}

/// Everything one principal can do to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalAccess<'a> {
    /// Lower case.
    pub principal_id: &'a str,
    pub principal_type: &'a str,
    /// Strongest first; read-only only when nothing stronger is held.
    pub levels: Vec<LevelGrant<'a>>,
    /// Every role assignment that reaches the account for this principal.
    pub assignments: Vec<&'a str>,
    /// Deny assignments that removed some of what the roles grant.
    pub denied_by: Vec<&'a str>,
}

/// Role verdicts per operation, computed once per role definition, and role
/// assignments by the scope they are made at.
pub struct Index<'a> {
    assignments: &'a [RoleAssignment],
    /// Per assignment: its principal (lower case) and what it grants of
    /// each operation, its condition applied.
    principals: Vec<String>,
    grants: Vec<[Grant; 7]>,
    by_scope: HashMap<String, Vec<usize>>,
    at_management_groups: Vec<usize>,
}

impl<'a> Index<'a> {
    pub fn new(definitions: &[RoleDefinition], assignments: &'a [RoleAssignment]) -> Index<'a> {
        let roles = role_verdicts(definitions);
        let mut by_scope: HashMap<String, Vec<usize>> = HashMap::new();
        let mut at_management_groups = Vec::new();
        let mut grants = Vec::with_capacity(assignments.len());
        for (i, a) in assignments.iter().enumerate() {
            let scope = normalize(&a.scope);
            if is_management_group(&scope) {
                at_management_groups.push(i);
            }
            by_scope.entry(scope).or_default().push(i);
            grants.push(assignment_grants(&roles, a));
        }
        let principals = assignments.iter().map(|a| a.principal_id.to_ascii_lowercase()).collect();
        Index { assignments, principals, grants, by_scope, at_management_groups }
    }

    /// The assignments that reach `target` (normalized), nearest scope first.
    fn reaching(&self, hierarchy: &Hierarchy, target: &str) -> Vec<usize> {
        let mut out: Vec<usize> =
            hierarchy.ancestors(target).iter().filter_map(|s| self.by_scope.get(s)).flatten().copied().collect();
        if hierarchy.management_groups_above(target).is_none() {
            out.extend(&self.at_management_groups);
        }
        out
    }

    /// Every principal's access to the account at `account` (any case).
    pub fn account(
        &'a self,
        hierarchy: &Hierarchy,
        denies: &'a [DenyAssignment],
        account: &str,
    ) -> Vec<PrincipalAccess<'a>> {
        let target = normalize(account);
        let mut by_principal: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for i in self.reaching(hierarchy, &target) {
            by_principal.entry(self.principals[i].as_str()).or_default().push(i);
        }
        let reaching_denies: Vec<&'a DenyAssignment> =
            denies.iter().filter(|d| deny_reaches(d, hierarchy, &target)).collect();
        by_principal
            .into_iter()
            .map(|(principal, indexes)| self.principal(principal, &indexes, &reaching_denies))
            .collect()
    }

    fn principal(
        &'a self,
        principal: &'a str,
        indexes: &[usize],
        denies: &[&'a DenyAssignment],
    ) -> PrincipalAccess<'a> {
        let who = [principal.to_string()];
        let denies: Vec<&'a DenyAssignment> = denies.iter().copied().filter(|d| deny_names(d, &who)).collect();
        let mut denied_by = Vec::new();
        // Per operation: the assignments granting it outright, and those
        // granting it under a condition; empty both when a deny removes it.
        let mut outright: [Vec<usize>; 7] = Default::default();
        let mut conditional: [Vec<usize>; 7] = Default::default();
        for (op, (yes, maybe)) in outright.iter_mut().zip(conditional.iter_mut()).enumerate() {
            let removed: Vec<&'a DenyAssignment> = if denies.is_empty() {
                Vec::new()
            } else {
                denies.iter().copied().filter(|d| deny_matches(d, &operation(op))).collect()
            };
            for &i in indexes {
                match self.grants[i][op] {
                    Grant::Yes => yes.push(i),
                    Grant::Conditional => maybe.push(i),
                    Grant::No => {}
                }
            }
            let granted = !yes.is_empty() || !maybe.is_empty();
            if granted && !removed.is_empty() {
                denied_by.extend(removed.iter().map(|d| d.id.as_str()));
                yes.clear();
                maybe.clear();
            }
        }
        let mut levels = Vec::new();
        for level in Level::ALL {
            let (ops, all) = level.operations();
            let held = |o: &usize| !outright[*o].is_empty();
            let reachable = |o: &usize| held(o) || !conditional[*o].is_empty();
            let (full, some) = if all {
                (ops.iter().all(held), ops.iter().all(reachable))
            } else {
                (ops.iter().any(held), ops.iter().any(reachable))
            };
            if !some || (level == Level::ReadOnly && !levels.is_empty()) {
                continue;
            }
            let mut ids: Vec<&'a str> = ops
                .iter()
                .flat_map(|o| outright[*o].iter().chain(if full { &[][..] } else { &conditional[*o][..] }))
                .map(|&i| self.assignments[i].id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            levels.push(LevelGrant { level, conditional: !full, assignments: ids });
        }
        denied_by.sort_unstable();
        denied_by.dedup();
        let first = &self.assignments[indexes[0]];
        PrincipalAccess {
            principal_id: principal,
            principal_type: &first.principal_type,
            levels,
            assignments: indexes.iter().map(|&i| self.assignments[i].id.as_str()).collect(),
            denied_by,
        }
    }
}
