//! Role-review flags: what in one role assignment deserves a reviewer's
//! attention, decided on the effective access it gives to each AI account
//! it reaches (its role, its condition and the deny assignments applied),
//! with the reasons that decided. The second seed's audit of existing
//! access rates key access while key auth is enabled High and a user with
//! Contributor-level rights Medium.
//!
//! Each check applies to some assignments only (a user's, a workload
//! identity's, one that can list keys, …), so an assignment it does not
//! apply to yields nothing rather than a "compliant" verdict, and one that
//! reaches no AI account yields no flag at all.

use crate::access::{assignment_grants, operation, role_verdicts, Level};
use crate::documents::{DenyAssignment, RoleAssignment, RoleDefinition, ScheduleInstance};
use crate::engine::{deny_matches, deny_names, Grant};
use crate::scope::{is_management_group, normalize, Hierarchy};
use std::collections::{BTreeMap, HashMap, HashSet};

/// A flag, by the catalogue name of the control that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// Can list an account's keys while its key access is enabled (High).
    KeyAccessWhileKeysEnabled,
    /// A user holding Owner-, Contributor- or Cognitive Services
    /// Contributor-level rights on an account (Medium).
    UserWithWriteAccess,
    /// A workload identity holding more than the right to call models.
    WorkloadBeyondInvoke,
    /// The principal no longer exists in the directory.
    PrincipalDeleted,
    /// A custom role whose actions are wildcards beyond reading.
    CustomRoleWildcard,
    /// Standing privileged access (manage access, owner-level) not activated
    /// through PIM, where PIM eligibility would do.
    StandingPrivilegedAccess,
    /// Access beyond reading granted at a subscription, management group or
    /// the root, inherited by every account below.
    BroadScope,
    /// A guest who can call the models (read data).
    GuestWithDataAccess,
    /// A certified access review revoked (or changed) the assignment, and a
    /// snapshot taken after the certification still has it.
    RevocationNotCarriedOut,
    /// The directory account is disabled (nobody signs in with it) and the
    /// assignment stays: access left behind, usable again on re-enabling.
    DisabledPrincipal,
    /// A workload identity holding Owner-level rights (manage access and
    /// change the account): whoever holds its secret owns the account.
    WorkloadOwner,
}

impl Check {
    pub const ALL: [Check; 11] = [
        Check::KeyAccessWhileKeysEnabled,
        Check::UserWithWriteAccess,
        Check::WorkloadBeyondInvoke,
        Check::PrincipalDeleted,
        Check::CustomRoleWildcard,
        Check::StandingPrivilegedAccess,
        Check::BroadScope,
        Check::GuestWithDataAccess,
        Check::RevocationNotCarriedOut,
        Check::DisabledPrincipal,
        Check::WorkloadOwner,
    ];

    /// The catalogue name of the control that reports it.
    pub fn name(self) -> &'static str {
        match self {
            Check::KeyAccessWhileKeysEnabled => "attest-access-key-access-while-keys-enabled",
            Check::UserWithWriteAccess => "attest-access-user-write-level",
            Check::WorkloadBeyondInvoke => "attest-access-workload-beyond-invoke",
            Check::PrincipalDeleted => "attest-access-principal-deleted",
            Check::CustomRoleWildcard => "attest-access-custom-role-wildcard",
            Check::StandingPrivilegedAccess => "attest-access-standing-privileged",
            Check::BroadScope => "attest-access-broad-scope",
            Check::GuestWithDataAccess => "attest-access-guest-data",
            Check::RevocationNotCarriedOut => "attest-access-revocation-not-carried-out",
            Check::DisabledPrincipal => "attest-access-disabled-principal",
            Check::WorkloadOwner => "attest-access-workload-owner",
        }
    }

    pub fn parse(name: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// A principal's kind (`user`, `group`, `service_principal`, `device`,
/// `other`) from ARM's `principalType`, for when the directory did not say.
pub fn principal_kind(principal_type: &str) -> &'static str {
    match principal_type.to_ascii_lowercase().as_str() {
        "user" => "user",
        "group" | "foreigngroup" => "group",
        "serviceprincipal" => "service_principal",
        "device" => "device",
        _ => "other",
    }
}

/// What the checks need to know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFacts {
    pub id: String,
    /// Keys (local auth) still work: `disableLocalAuth` is not true.
    pub local_auth_enabled: bool,
}

/// What the directory said of a principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalFacts {
    /// `false`: the directory was asked and no longer has it.
    pub exists: bool,
    pub guest: bool,
    /// `user`, `group`, `service_principal`, …, when the directory said.
    pub kind: Option<String>,
    /// `accountEnabled`, when the directory said.
    pub enabled: Option<bool>,
}

/// A certified review's decision that an assignment go (revoke, or change
/// to another role or scope), as the revocation check reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// The role assignment's id, any case.
    pub assignment_id: String,
    /// The campaign as a reader names it, e.g. `review #3 (Q4)`.
    pub campaign: String,
    /// When it was certified, as displayed.
    pub certified_at: String,
    /// `revoke` or `change`.
    pub decision: String,
}

/// One check's verdict on one assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub check: Check,
    /// `false`: the check applied and found nothing wrong.
    pub flagged: bool,
    /// What decided, in words, naming the accounts concerned.
    pub reasons: Vec<String>,
}

/// The estate-wide inputs, prepared once; `check` then decides each
/// assignment on its own, so assignments can be streamed.
pub struct Checker<'a> {
    definitions: HashMap<String, &'a RoleDefinition>,
    roles: HashMap<String, [Grant; 7]>,
    /// Each deny assignment with its normalized scope and which deciding
    /// operations its permissions match, worked out once.
    denies: Vec<(&'a DenyAssignment, String, [bool; 7])>,
    /// Accounts by normalized id, with the management groups above them
    /// (`None`: not known, so every group is taken to reach them).
    accounts: BTreeMap<String, (&'a AccountFacts, Option<Vec<String>>)>,
    principals: &'a HashMap<String, PrincipalFacts>,
    /// PIM was read: standing access can be told from activated access.
    pim_collected: bool,
    /// Role assignments that carry a PIM activation (lower case ids).
    activated: HashSet<String>,
    /// Certified decisions that assignments go, by lower-case assignment id.
    revoked: HashMap<String, &'a Revocation>,
}

impl<'a> Checker<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        definitions: &'a [RoleDefinition],
        denies: &'a [DenyAssignment],
        hierarchy: &'a Hierarchy,
        accounts: &'a [AccountFacts],
        principals: &'a HashMap<String, PrincipalFacts>,
        pim_collected: bool,
        active: &[ScheduleInstance],
    ) -> Checker<'a> {
        Checker {
            definitions: definitions.iter().map(|d| (d.guid.clone(), d)).collect(),
            roles: role_verdicts(definitions),
            denies: denies
                .iter()
                .map(|d| (d, normalize(&d.scope), std::array::from_fn(|op| deny_matches(d, &operation(op)))))
                .collect(),
            accounts: accounts
                .iter()
                .map(|a| {
                    let id = normalize(&a.id);
                    let groups = hierarchy.management_groups_above(&id);
                    (id, (a, groups))
                })
                .collect(),
            principals,
            pim_collected,
            activated: active
                .iter()
                .filter(|i| i.assignment_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Activated")))
                .filter_map(|i| i.origin_role_assignment_id.as_deref().map(str::to_ascii_lowercase))
                .collect(),
            revoked: HashMap::new(),
        }
    }

    /// The certified revocations the snapshot's assignments are held to:
    /// those certified before the snapshot was taken.
    pub fn with_revocations(mut self, revocations: &'a [Revocation]) -> Checker<'a> {
        self.revoked = revocations.iter().map(|r| (r.assignment_id.to_ascii_lowercase(), r)).collect();
        self
    }

    /// Whether the assignment `id` (any case) carries a PIM activation.
    pub fn activated(&self, id: &str) -> bool {
        self.activated.contains(&id.to_ascii_lowercase())
    }

    /// The accounts an assignment at `scope` (normalized) reaches.
    fn reached(&self, scope: &str) -> Vec<(&str, &'a AccountFacts)> {
        if scope == "/" {
            return self.accounts.iter().map(|(id, (a, _))| (id.as_str(), *a)).collect();
        }
        if is_management_group(scope) {
            return self
                .accounts
                .iter()
                .filter(|(_, (_, groups))| groups.as_ref().is_none_or(|g| g.iter().any(|mg| mg == scope)))
                .map(|(id, (a, _))| (id.as_str(), *a))
                .collect();
        }
        self.accounts
            .range(scope.to_string()..)
            .take_while(|(id, _)| id.starts_with(scope))
            .filter(|(id, _)| id.len() == scope.len() || id.as_bytes()[scope.len()] == b'/')
            .map(|(id, (a, _))| (id.as_str(), *a))
            .collect()
    }

    /// Whether a deny at `at` (normalized) reaches account `id`.
    fn deny_reaches(&self, deny: &DenyAssignment, at: &str, id: &str) -> bool {
        if deny.do_not_apply_to_child_scopes {
            return at == id;
        }
        if at == "/" {
            return true;
        }
        if is_management_group(at) {
            let groups = self.accounts.get(id).and_then(|(_, g)| g.as_ref());
            return groups.is_none_or(|g| g.iter().any(|mg| mg == at));
        }
        id == at || (id.starts_with(at) && id.as_bytes().get(at.len()) == Some(&b'/'))
    }

    /// Every check that applies to `a`, with its verdict.
    pub fn check(&self, a: &RoleAssignment) -> Vec<Flag> {
        let scope = normalize(&a.scope);
        let reached = self.reached(&scope);
        if reached.is_empty() {
            return Vec::new();
        }
        let grants = assignment_grants(&self.roles, a);
        let principal = a.principal_id.to_ascii_lowercase();
        let who = [principal.clone()];
        let denies: Vec<&(&DenyAssignment, String, [bool; 7])> =
            self.denies.iter().filter(|(d, _, _)| deny_names(d, &who)).collect();
        // Per account, what the assignment grants outright once denies apply.
        let effective: Vec<(&str, &AccountFacts, [bool; 7])> = reached
            .iter()
            .map(|(id, facts)| {
                let mut held: [bool; 7] = std::array::from_fn(|op| grants[op] == Grant::Yes);
                for (d, at, matches) in &denies {
                    if matches.iter().zip(&held).any(|(m, h)| *m && *h) && self.deny_reaches(d, at, id) {
                        for (h, m) in held.iter_mut().zip(matches) {
                            *h &= !m;
                        }
                    }
                }
                (*id, *facts, held)
            })
            .collect();
        let holds = |level: Level| -> Vec<&str> {
            effective.iter().filter(|(_, _, held)| level.held_by(held)).map(|(id, _, _)| *id).collect()
        };
        let name = |id: &str| id.rsplit('/').next().unwrap_or(id).to_string();
        let names = |ids: &[&str]| ids.iter().map(|id| name(id)).collect::<Vec<_>>().join(", ");
        let role = self.definitions.get(&a.role_guid()).copied();
        let role_name = role.map_or_else(|| format!("role {}", a.role_guid()), |r| r.role_name.clone());
        let facts = self.principals.get(&principal);
        let kind = facts.and_then(|f| f.kind.clone()).unwrap_or_else(|| principal_kind(&a.principal_type).into());
        let mut out = Vec::new();
        let mut flag =
            |check: Check, flagged: bool, reason: String| out.push(Flag { check, flagged, reasons: vec![reason] });

        let keys = holds(Level::ReadKeys);
        if !keys.is_empty() {
            let open: Vec<&str> = effective
                .iter()
                .filter(|(id, facts, _)| facts.local_auth_enabled && keys.contains(id))
                .map(|(id, _, _)| *id)
                .collect();
            if open.is_empty() {
                flag(
                    Check::KeyAccessWhileKeysEnabled,
                    false,
                    format!("{role_name} can list the keys of {}, whose key access is disabled", names(&keys)),
                );
            } else {
                flag(Check::KeyAccessWhileKeysEnabled, true, format!("{role_name} can list the keys of {}, whose key access is enabled (disableLocalAuth is not true)", names(&open)));
            }
        }
        let writes = holds(Level::ChangeNetworkOrFilters);
        let owner = holds(Level::OwnerLevel);
        if kind == "user" {
            let strong: Vec<&str> =
                writes.iter().chain(&owner).copied().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
            if strong.is_empty() {
                flag(
                    Check::UserWithWriteAccess,
                    false,
                    format!("{role_name} cannot change {}", names(&reached.iter().map(|r| r.0).collect::<Vec<_>>())),
                );
            } else {
                flag(
                    Check::UserWithWriteAccess,
                    true,
                    format!(
                        "a user holding {role_name}, which can change {} (Contributor-level or above)",
                        names(&strong)
                    ),
                );
            }
        }
        if kind == "service_principal" {
            let beyond: Vec<(&str, Vec<&str>)> = effective
                .iter()
                .filter_map(|(id, _, held)| {
                    let levels: Vec<&str> =
                        [Level::ManageAccess, Level::ChangeNetworkOrFilters, Level::ReadKeys, Level::DeployModels]
                            .into_iter()
                            .filter(|l| l.held_by(held))
                            .map(Level::label)
                            .collect();
                    (!levels.is_empty()).then_some((*id, levels))
                })
                .collect();
            match beyond.first() {
                None => flag(
                    Check::WorkloadBeyondInvoke,
                    false,
                    format!("{role_name} gives a workload identity no more than calling models and reading"),
                ),
                Some((id, levels)) => flag(
                    Check::WorkloadBeyondInvoke,
                    true,
                    format!(
                        "a workload identity holding {role_name}: {} on {}{}",
                        levels.join(", ").to_lowercase(),
                        name(id),
                        if beyond.len() > 1 {
                            format!(" and {} more accounts", beyond.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                ),
            }
        }
        // These two only ever flag, as the revocation check does: the few
        // assignments they are about are the finding, and a verdict on
        // every other one would add a compliant finding per assignment.
        if kind == "service_principal" && !owner.is_empty() {
            flag(
                Check::WorkloadOwner,
                true,
                format!(
                    "a workload identity holding {role_name}, Owner-level on {}: whoever holds its credential can grant themselves anything there",
                    names(&owner)
                ),
            );
        }
        if facts.is_some_and(|f| f.exists && f.enabled == Some(false)) {
            flag(
                Check::DisabledPrincipal,
                true,
                format!(
                    "the directory account is disabled and still holds {role_name} on {}",
                    names(&reached.iter().map(|r| r.0).collect::<Vec<_>>())
                ),
            );
        }
        match facts {
            Some(f) => flag(
                Check::PrincipalDeleted,
                !f.exists,
                if f.exists {
                    "the directory has the principal".into()
                } else {
                    format!("the directory no longer has principal {principal}; the assignment of {role_name} is left behind")
                },
            ),
            None if a.principal_type.eq_ignore_ascii_case("Unknown") => flag(
                Check::PrincipalDeleted,
                true,
                format!("ARM reports principal type Unknown for {principal}: it was deleted from the directory"),
            ),
            None => {}
        }
        if let Some(r) = role.filter(|r| r.custom) {
            let wild: Vec<&String> = r
                .permissions
                .iter()
                .flat_map(|p| p.actions.iter().chain(&p.data_actions))
                .filter(|p| p.contains('*') && !p.to_ascii_lowercase().ends_with("/read"))
                .collect();
            if wild.is_empty() {
                flag(Check::CustomRoleWildcard, false, format!("custom role {} names its actions", r.role_name));
            } else {
                let list: Vec<&str> = wild.iter().map(|s| s.as_str()).collect();
                flag(
                    Check::CustomRoleWildcard,
                    true,
                    format!("custom role {} grants wildcards: {}", r.role_name, list.join(", ")),
                );
            }
        }
        let privileged: Vec<&str> = holds(Level::ManageAccess);
        if self.pim_collected && !privileged.is_empty() {
            if self.activated.contains(&a.id.to_ascii_lowercase()) {
                flag(
                    Check::StandingPrivilegedAccess,
                    false,
                    format!("{role_name} was activated through PIM for a limited time"),
                );
            } else {
                flag(
                    Check::StandingPrivilegedAccess,
                    true,
                    format!(
                        "{role_name} can manage access to {} at all times, not through a PIM activation",
                        names(&privileged)
                    ),
                );
            }
        }
        let above = scope == "/" || is_management_group(&scope) || !scope.contains("/resourcegroups/");
        if above {
            let beyond_read: Vec<&str> =
                effective.iter().filter(|(_, _, held)| held[..6].iter().any(|h| *h)).map(|(id, _, _)| *id).collect();
            let at = if scope == "/" { "the root".to_string() } else { scope.clone() };
            if beyond_read.is_empty() {
                flag(
                    Check::BroadScope,
                    false,
                    format!("{role_name} at {at} only reads the {} accounts below", reached.len()),
                );
            } else {
                flag(
                    Check::BroadScope,
                    true,
                    format!("{role_name} at {at} reaches {} accounts below it beyond reading", beyond_read.len()),
                );
            }
        }
        if let Some(r) = self.revoked.get(&a.id.to_ascii_lowercase()) {
            flag(
                Check::RevocationNotCarriedOut,
                true,
                format!(
                    "{} decided to {} this assignment of {role_name}, certified {}; it is still assigned",
                    r.campaign, r.decision, r.certified_at
                ),
            );
        }
        if facts.is_some_and(|f| f.guest) {
            let data = holds(Level::InvokeModels);
            flag(
                Check::GuestWithDataAccess,
                !data.is_empty(),
                if data.is_empty() {
                    format!("the guest holds {role_name}, which calls no models")
                } else {
                    format!("a guest who can call the models of {} through {role_name}", names(&data))
                },
            );
        }
        out
    }
}
