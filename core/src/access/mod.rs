//! Effective access as an auditor reads it: for a snapshot, every principal
//! whose role assignments reach each AI account, at the levels they give
//! (`attest_rbac::Level`), through which assignments, with the flags those
//! assignments raise; and one principal's access across the estate, active
//! and PIM-eligible.
//!
//! Computed by the pure `rbac` crate from the snapshot's documents. The
//! database narrows what is read: a request for some accounts reads only
//! the assignments whose scope is one of them or above it, and one for a
//! principal only that principal's. The whole estate's list pages through
//! an index stored per snapshot (`stored`) and computes the rows of the
//! page it shows.

mod stored;

pub use stored::{materialize, Materialized};

use crate::error::{CoreError, CoreResult};
use crate::snapshot::graph::{Principal as GraphPrincipal, PrincipalRecord};
use attest_rbac::documents::{DenyAssignment, RoleAssignment, RoleDefinition, ScheduleInstance};
use attest_rbac::{AccountFacts, Check, Checker, Hierarchy, Index, Level, PrincipalFacts};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest value of a text filter.
pub const MAX_FILTER: usize = 2_048;
/// Most rows a page holds.
pub const MAX_PER_PAGE: i64 = 500;

/// What the access list is narrowed to; empty strings filter nothing.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    /// The snapshot; `None` is the newest evaluated one (else the newest stored).
    pub snapshot: Option<Uuid>,
    /// An account's ARM id (any case).
    pub account: String,
    /// A principal's object id.
    pub principal: String,
    /// `user`, `group`, `service_principal`, `device`, `other`.
    pub principal_type: String,
    /// A level's name (`Level::as_str`): rows holding it.
    pub level: String,
    /// A check's control name (`attest-access-…`): rows flagged by it.
    pub flag: String,
    /// A subscription id: its accounts only.
    pub subscription: String,
    /// Only rows with at least one flag.
    pub flagged: bool,
    pub page: i64,
    pub per_page: i64,
}

/// Whether the directory was asked about a principal, and what it said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Microsoft Graph described it.
    Resolved,
    /// Graph was asked and no longer has it.
    Deleted,
    /// Graph was not asked (no permission, or a schema 1 snapshot): shown by id.
    Unresolved,
}

/// A principal as far as the snapshot knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalInfo {
    /// Lower case.
    pub id: String,
    /// From Graph when resolved, else from the assignment's `principalType`.
    pub kind: String,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub app_id: Option<String>,
    pub guest: bool,
    pub resolution: Resolution,
    /// A group's members, direct and nested, when Graph let the scan read
    /// them; `None` otherwise (and for every other kind).
    pub members: Option<Vec<GraphPrincipal>>,
}

/// A group through which a principal holds access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub id: String,
    pub display_name: Option<String>,
    /// The accounts the group reaches (active access), by name.
    pub accounts: Vec<String>,
}

impl PrincipalInfo {
    /// What a person calls it: its display name, else its id.
    pub fn name(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }
}

/// One level held, and through which assignments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldLevel {
    /// `Level::as_str`.
    pub level: &'static str,
    pub label: &'static str,
    /// Held only where an ABAC condition allows.
    pub conditional: bool,
    pub assignments: Vec<String>,
}

/// A role assignment as the access pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssignmentInfo {
    pub id: String,
    pub role: String,
    pub role_definition_id: String,
    pub custom_role: bool,
    pub scope: String,
    /// Made above the account (resource group, subscription, management
    /// group or root) and inherited.
    pub inherited: bool,
    /// Carries a PIM activation (time-bound), rather than standing.
    pub activated: bool,
    pub condition: Option<String>,
}

/// A flag an assignment raises, with the reasons that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagInfo {
    /// The control's name (`attest-access-…`).
    pub check: &'static str,
    pub assignment: String,
    pub reasons: Vec<String>,
}

/// Everything one principal can do to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    pub account_id: String,
    pub account_name: String,
    pub subscription_id: String,
    pub principal: PrincipalInfo,
    /// Strongest first.
    pub levels: Vec<HeldLevel>,
    pub assignments: Vec<AssignmentInfo>,
    /// Deny assignments that removed some of what the roles grant.
    pub denied_by: Vec<String>,
    pub flags: Vec<FlagInfo>,
}

/// What the snapshot could and could not see, so a reader knows how far
/// to trust the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Microsoft Graph was read: principals are named, deleted ones known.
    pub graph: bool,
    /// PIM schedules were read: activated access is told from standing.
    pub pim: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessPage {
    pub snapshot_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub coverage: Coverage,
    pub rows: Vec<AccessRow>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A PIM eligibility: a role the principal may activate, not holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Eligibility {
    pub id: String,
    pub role: String,
    pub scope: String,
    pub start: Option<String>,
    pub end: Option<String>,
    /// The accounts it would reach once activated.
    pub accounts: Vec<String>,
}

/// One principal across the estate.
#[derive(Debug, Clone, Serialize)]
pub struct PrincipalView {
    pub snapshot_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub coverage: Coverage,
    pub principal: PrincipalInfo,
    /// Per account it reaches, what it can do there (active access).
    pub accounts: Vec<AccessRow>,
    pub eligible: Vec<Eligibility>,
    /// The groups it is a member of (as Graph listed their members) that
    /// have access themselves: what it holds through them is shown on the
    /// group's page.
    pub groups: Vec<GroupInfo>,
}

/// The choices a filter's values must come from.
pub fn principal_types() -> [&'static str; 5] {
    ["user", "group", "service_principal", "device", "other"]
}

/// The levels, strongest first: (name, label).
pub fn levels() -> Vec<(&'static str, &'static str)> {
    Level::ALL.iter().map(|l| (l.as_str(), l.label())).collect()
}

/// The flags: (control name, what the flag says, in a few words). The
/// controls' titles say what should hold; a flag says what does not.
pub fn checks() -> Vec<(&'static str, &'static str)> {
    Check::ALL.iter().map(|c| (c.name(), flag_label(*c))).collect()
}

/// What a flag says, in a few words.
pub fn flag_label(check: Check) -> &'static str {
    match check {
        Check::KeyAccessWhileKeysEnabled => "Can list keys while key access is enabled",
        Check::UserWithWriteAccess => "A user with Contributor-level rights",
        Check::WorkloadBeyondInvoke => "A workload identity beyond calling models",
        Check::PrincipalDeleted => "The principal was deleted",
        Check::CustomRoleWildcard => "A custom role with wildcard actions",
        Check::StandingPrivilegedAccess => "Standing privileged access, not through PIM",
        Check::BroadScope => "Granted at a broad scope",
        Check::GuestWithDataAccess => "A guest who can call the models",
        Check::RevocationNotCarriedOut => "A certified review revoked it; still assigned",
        Check::DisabledPrincipal => "A disabled directory account still holds it",
        Check::WorkloadOwner => "A workload identity with Owner-level rights",
    }
}

/// A snapshot's accounts: (ARM id, name), by name; from what the access
/// list itself read, so a page asking for both reads them once.
pub async fn accounts(pool: &PgPool, snapshot: Uuid) -> CoreResult<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> =
        cached(pool, snapshot).await?.accounts.iter().map(|(name, f)| (f.id.clone(), name.clone())).collect();
    out.sort_by_key(|(id, name)| (name.to_lowercase(), id.clone()));
    Ok(out)
}

/// The subscriptions of `accounts` (ARM id first), lower case, sorted.
pub fn subscriptions(accounts: &[(String, String)]) -> Vec<String> {
    let mut out: Vec<String> = accounts.iter().map(|(id, _)| subscription_of(id)).filter(|s| !s.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

impl AccessFilter {
    fn check(&self) -> CoreResult<()> {
        for (field, value) in [
            ("account", &self.account),
            ("principal", &self.principal),
            ("subscription", &self.subscription),
            ("principal_type", &self.principal_type),
            ("level", &self.level),
            ("flag", &self.flag),
        ] {
            if value.len() > MAX_FILTER {
                return Err(CoreError::invalid(field, format!("longer than {MAX_FILTER} bytes")));
            }
        }
        if !self.principal_type.is_empty() && !principal_types().contains(&self.principal_type.as_str()) {
            return Err(CoreError::invalid(
                "principal_type",
                format!("{:?} is not one of {}", self.principal_type, principal_types().join(", ")),
            ));
        }
        if !self.level.is_empty() && !Level::ALL.iter().any(|l| l.as_str() == self.level) {
            let names: Vec<&str> = Level::ALL.iter().map(|l| l.as_str()).collect();
            return Err(CoreError::invalid("level", format!("{:?} is not one of {}", self.level, names.join(", "))));
        }
        if !self.flag.is_empty() && Check::parse(&self.flag).is_none() {
            let names: Vec<&str> = Check::ALL.iter().map(|c| c.name()).collect();
            return Err(CoreError::invalid("flag", format!("{:?} is not one of {}", self.flag, names.join(", "))));
        }
        if self.page < 1 {
            return Err(CoreError::invalid("page", "pages are numbered from 1"));
        }
        if !(1..=MAX_PER_PAGE).contains(&self.per_page) {
            return Err(CoreError::invalid("per_page", format!("between 1 and {MAX_PER_PAGE}")));
        }
        Ok(())
    }
}

/// The snapshot a request is about: the one named (it must exist), else the
/// newest evaluated, else the newest stored.
pub async fn resolve_snapshot(pool: &PgPool, named: Option<Uuid>) -> CoreResult<(Uuid, OffsetDateTime)> {
    let id = match named {
        Some(id) => Some(id),
        None => crate::findings::query::latest(pool).await?.map(|(id, _)| id),
    };
    if let Some(id) = id {
        let at = sqlx::query_scalar!("select finished_at from snapshots where id = $1", id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| CoreError::not_found("snapshot"))?;
        return Ok((id, at));
    }
    sqlx::query!("select id, finished_at from snapshots order by finished_at desc, imported_at desc limit 1")
        .fetch_optional(pool)
        .await?
        .map(|r| (r.id, r.finished_at))
        .ok_or_else(|| CoreError::not_found("snapshot (nothing has been imported yet)"))
}

/// Which role assignments to read.
enum Narrow<'a> {
    All,
    /// Those whose scope is one of these accounts (lower case) or above it.
    Accounts(&'a [String]),
    /// Those of these principals (lower case).
    Principals(&'a [String]),
}

/// A snapshot's access documents, parsed.
struct Estate {
    definitions: Vec<RoleDefinition>,
    assignments: Vec<RoleAssignment>,
    denies: Vec<DenyAssignment>,
    eligible: Vec<ScheduleInstance>,
    active: Vec<ScheduleInstance>,
    /// Accounts by id as stored: (name, facts).
    accounts: Vec<(String, AccountFacts)>,
    /// Principal records by lower-case id: the directory object (`None`
    /// when deleted) and a group's members (`None` when not read).
    principals: HashMap<String, (Option<GraphPrincipal>, Option<Vec<GraphPrincipal>>)>,
    coverage: Coverage,
    revocations: Vec<attest_rbac::Revocation>,
}

impl Estate {
    async fn load(pool: &PgPool, snapshot: Uuid, narrow: Narrow<'_>) -> CoreResult<Estate> {
        // The few documents every answer needs, and the principal records
        // (all of them only when every assignment is read).
        let kinds: &[&str] = match narrow {
            Narrow::All => &[
                "role_definition",
                "deny_assignment",
                "role_eligibility_instance",
                "role_assignment_instance",
                "principal",
            ],
            _ => &["role_definition", "deny_assignment", "role_eligibility_instance", "role_assignment_instance"],
        };
        let kinds: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        let mut docs: Vec<(String, serde_json::Value)> = sqlx::query!(
            r#"select d.kind, d.body from snapshot_members m
                cross join lateral unnest(m.ids) as member(id)
                 join documents d on d.id = member.id
                where m.snapshot_id = $1 and m.kind = any($2)"#,
            snapshot,
            &kinds
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.kind, r.body))
        .collect();
        let assignments: Vec<serde_json::Value> = match narrow {
            Narrow::All => {
                sqlx::query_scalar!(
                    r#"select d.body from snapshot_members m
                        cross join lateral unnest(m.ids) as member(id)
                         join documents d on d.id = member.id
                        where m.snapshot_id = $1 and m.kind = 'role_assignment'"#,
                    snapshot
                )
                .fetch_all(pool)
                .await?
            }
            Narrow::Accounts(accounts) => {
                // An assignment's id starts with the scope it is made at: the
                // account, its resource group, its subscription, the root, or
                // a management group (taken to reach every account, as the
                // snapshot does not record the hierarchy). Scopes shared by
                // several accounts are read once.
                let mut patterns: Vec<String> = accounts.iter().flat_map(|a| reaching_prefixes(a)).collect();
                patterns.sort();
                patterns.dedup();
                let members = &cached(pool, snapshot).await?.role_assignments;
                let mut found: Vec<(i64, serde_json::Value)> = Vec::new();
                // Eight patterns a statement: each is planned with its
                // patterns' values, as a union of index range scans (one
                // statement per pattern costs a round trip each; one for
                // all, through an array, is planned without them and scans
                // every assignment). The padding matches nothing.
                for chunk in patterns.chunks(8) {
                    let p = |i: usize| chunk.get(i).map_or("\u{1}", String::as_str);
                    let rows = sqlx::query!(
                        r#"select id, body from documents
                            where kind = 'role_assignment'
                              and (lower(resource_id) like $1 or lower(resource_id) like $2 or lower(resource_id) like $3
                                   or lower(resource_id) like $4 or lower(resource_id) like $5 or lower(resource_id) like $6
                                   or lower(resource_id) like $7 or lower(resource_id) like $8)"#,
                        p(0),
                        p(1),
                        p(2),
                        p(3),
                        p(4),
                        p(5),
                        p(6),
                        p(7)
                    )
                    .fetch_all(pool)
                    .await?;
                    found.extend(
                        rows.into_iter().filter(|r| members.binary_search(&r.id).is_ok()).map(|r| (r.id, r.body)),
                    );
                }
                // In document order, as the whole estate's are read.
                found.sort_by_key(|(id, _)| *id);
                found.dedup_by_key(|(id, _)| *id);
                found.into_iter().map(|(_, body)| body).collect()
            }
            Narrow::Principals(principals) => {
                let found = sqlx::query!(
                    r#"select id, body from documents
                        where kind = 'role_assignment' and lower(body #>> '{properties,principalId}') = any($1)"#,
                    principals
                )
                .fetch_all(pool)
                .await?;
                let members = &cached(pool, snapshot).await?.role_assignments;
                found.into_iter().filter(|r| members.binary_search(&r.id).is_ok()).map(|r| r.body).collect()
            }
        };
        if !matches!(narrow, Narrow::All) {
            // The records of the principals those assignments name, and the
            // one asked about.
            let mut named: Vec<String> = assignments
                .iter()
                .filter_map(|a| a.pointer("/properties/principalId").and_then(|v| v.as_str()))
                .map(str::to_ascii_lowercase)
                .collect();
            if let Narrow::Principals(p) = narrow {
                named.extend(p.iter().cloned());
            }
            named.sort();
            named.dedup();
            let found = sqlx::query!(
                r#"select id, body from documents where kind = 'principal' and lower(body ->> 'id') = any($1)"#,
                &named
            )
            .fetch_all(pool)
            .await?;
            let members = &cached(pool, snapshot).await?.principals;
            docs.extend(
                found
                    .into_iter()
                    .filter(|r| members.binary_search(&r.id).is_ok())
                    .map(|r| ("principal".to_string(), r.body)),
            );
        }
        let accounts = cached(pool, snapshot).await?;
        let header = sqlx::query!("select schema_version, errors from snapshots where id = $1", snapshot)
            .fetch_one(pool)
            .await?;
        let revocations = crate::reviews::revocations(&mut *pool.acquire().await?, snapshot).await?;
        let failed = |what: &str| {
            header
                .errors
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["request"].as_str().is_some_and(|r| r.contains(what))))
        };

        let mut estate = Estate {
            definitions: Vec::new(),
            // A document the engine cannot read is left out, as evaluation does.
            assignments: assignments.iter().filter_map(|b| RoleAssignment::parse(b, "").ok()).collect(),
            denies: Vec::new(),
            eligible: Vec::new(),
            active: Vec::new(),
            accounts: accounts.accounts.clone(),
            principals: HashMap::new(),
            coverage: Coverage { graph: false, pim: header.schema_version >= 2 && !failed("ScheduleInstances") },
            revocations,
        };
        for (kind, body) in &docs {
            match kind.as_str() {
                "role_definition" => estate.definitions.extend(RoleDefinition::parse(body, "").ok()),
                "deny_assignment" => estate.denies.extend(DenyAssignment::parse(body, "").ok()),
                "role_eligibility_instance" => estate.eligible.extend(ScheduleInstance::parse(body, "").ok()),
                "role_assignment_instance" => estate.active.extend(ScheduleInstance::parse(body, "").ok()),
                "principal" => {
                    // A record the portal cannot read is left out, as if Graph
                    // had not been asked about it.
                    let Ok(record) = <PrincipalRecord as serde::Deserialize>::deserialize(body) else { continue };
                    let Ok(described) = record.described() else { continue };
                    estate.principals.insert(record.id.to_ascii_lowercase(), (described, record.members()));
                }
                _ => {}
            }
        }
        estate.coverage.graph = !estate.principals.is_empty() && !failed("getByIds");
        Ok(estate)
    }

    fn facts(&self) -> HashMap<String, PrincipalFacts> {
        self.principals.iter().map(|(id, (p, _))| (id.clone(), crate::snapshot::graph::facts(p.as_ref()))).collect()
    }

    fn principal_info(&self, id: &str, principal_type: &str) -> PrincipalInfo {
        let from_arm = attest_rbac::principal_kind(principal_type);
        match self.principals.get(id) {
            Some((Some(p), members)) => PrincipalInfo {
                id: id.to_string(),
                kind: p.kind.as_str().to_string(),
                display_name: p.display_name.clone(),
                user_principal_name: p.user_principal_name.clone(),
                app_id: p.app_id.clone(),
                guest: p.guest,
                resolution: Resolution::Resolved,
                members: members.clone(),
            },
            found => PrincipalInfo {
                id: id.to_string(),
                kind: from_arm.to_string(),
                display_name: None,
                user_principal_name: None,
                app_id: None,
                guest: false,
                resolution: if found.is_some() { Resolution::Deleted } else { Resolution::Unresolved },
                members: None,
            },
        }
    }

    /// The rows of the accounts `accounts` selects, unfiltered otherwise.
    fn rows(&self, wanted: impl Fn(&AccountFacts) -> bool) -> Vec<AccessRow> {
        self.rows_of(wanted, |_, _| true)
    }

    /// As `rows`, keeping only the (lower-case account id, principal)
    /// pairs `pair` accepts, decided before anything else of a row is
    /// worked out (a page of the whole estate wants 50 of thousands).
    fn rows_of(&self, wanted: impl Fn(&AccountFacts) -> bool, pair: impl Fn(&str, &str) -> bool) -> Vec<AccessRow> {
        let hierarchy = Hierarchy::default();
        let facts = self.facts();
        let plain: Vec<AccountFacts> = self.accounts.iter().map(|(_, f)| f.clone()).collect();
        let checker =
            Checker::new(&self.definitions, &self.denies, &hierarchy, &plain, &facts, self.coverage.pim, &self.active)
                .with_revocations(&self.revocations);
        let index = Index::new(&self.definitions, &self.assignments);
        let by_id: HashMap<&str, &RoleAssignment> = self.assignments.iter().map(|a| (a.id.as_str(), a)).collect();
        let roles: HashMap<&str, &RoleDefinition> = self.definitions.iter().map(|d| (d.guid.as_str(), d)).collect();
        // Each assignment's flags, decided once however many accounts it reaches.
        let mut flags: HashMap<&str, Vec<FlagInfo>> = HashMap::new();
        let mut rows = Vec::new();
        for (name, account) in self.accounts.iter().filter(|(_, a)| wanted(a)) {
            let account_lower = account.id.to_ascii_lowercase();
            for access in index.account(&hierarchy, &self.denies, &account.id) {
                if !pair(&account_lower, access.principal_id) {
                    continue;
                }
                let assignments: Vec<AssignmentInfo> = access
                    .assignments
                    .iter()
                    .filter_map(|id| by_id.get(id))
                    .map(|a| {
                        let role = roles.get(a.role_guid().as_str());
                        AssignmentInfo {
                            id: a.id.clone(),
                            role: role.map_or_else(|| format!("role {}", a.role_guid()), |r| r.role_name.clone()),
                            role_definition_id: a.role_definition_id.clone(),
                            custom_role: role.is_some_and(|r| r.custom),
                            scope: a.scope.clone(),
                            inherited: a.scope.to_ascii_lowercase() != account_lower,
                            activated: checker.activated(&a.id),
                            condition: a.condition.clone(),
                        }
                    })
                    .collect();
                let mut row_flags = Vec::new();
                for a in access.assignments.iter().filter_map(|id| by_id.get(id)) {
                    let decided = flags.entry(a.id.as_str()).or_insert_with(|| {
                        checker
                            .check(a)
                            .into_iter()
                            .filter(|f| f.flagged)
                            .map(|f| FlagInfo { check: f.check.name(), assignment: a.id.clone(), reasons: f.reasons })
                            .collect()
                    });
                    row_flags.extend(decided.iter().cloned());
                }
                // An assignment's flag is shown on the accounts where the
                // access it is about is held: a deny may remove a key right
                // here that the same assignment still gives elsewhere.
                let held: Vec<Level> = access.levels.iter().map(|l| l.level).collect();
                row_flags.retain(|f: &FlagInfo| Check::parse(f.check).is_none_or(|c| concerns(c, &held)));
                let principal = self.principal_info(access.principal_id, access.principal_type);
                rows.push(AccessRow {
                    account_id: account.id.clone(),
                    account_name: name.clone(),
                    subscription_id: subscription_of(&account.id),
                    levels: access
                        .levels
                        .iter()
                        .map(|l| HeldLevel {
                            level: l.level.as_str(),
                            label: l.level.label(),
                            conditional: l.conditional,
                            assignments: l.assignments.iter().map(|s| s.to_string()).collect(),
                        })
                        .collect(),
                    assignments,
                    denied_by: access.denied_by.iter().map(|s| s.to_string()).collect(),
                    flags: row_flags,
                    principal,
                });
            }
        }
        rows
    }
}

/// Whether a flag is about access among `held` (the levels on one account).
fn concerns(check: Check, held: &[Level]) -> bool {
    let any = |levels: &[Level]| levels.iter().any(|l| held.contains(l));
    match check {
        Check::KeyAccessWhileKeysEnabled => any(&[Level::ReadKeys]),
        Check::UserWithWriteAccess => any(&[Level::OwnerLevel, Level::ChangeNetworkOrFilters]),
        Check::WorkloadBeyondInvoke => {
            any(&[Level::ManageAccess, Level::ChangeNetworkOrFilters, Level::ReadKeys, Level::DeployModels])
        }
        Check::StandingPrivilegedAccess => any(&[Level::ManageAccess]),
        Check::BroadScope => held.iter().any(|l| *l != Level::ReadOnly),
        Check::GuestWithDataAccess => any(&[Level::InvokeModels]),
        Check::WorkloadOwner => any(&[Level::OwnerLevel]),
        Check::PrincipalDeleted
        | Check::CustomRoleWildcard
        | Check::RevocationNotCarriedOut
        | Check::DisabledPrincipal => true,
    }
}

/// The LIKE patterns of the ids of the role assignments that can reach
/// `account` (lower case): made at it, its resource group, its
/// subscription, the root, or any management group.
fn reaching_prefixes(account: &str) -> [String; 5] {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let tail = "/providers/microsoft.authorization/roleassignments/%";
    let segments: Vec<&str> = account.trim_end_matches('/').split('/').collect();
    // "", "subscriptions", id, "resourcegroups", name, …
    let at = |n: usize| escape(&segments[..n.min(segments.len())].join("/"));
    [
        format!("{}{tail}", escape(account.trim_end_matches('/'))),
        format!("{}{tail}", at(5)),
        format!("{}{tail}", at(3)),
        tail.to_string(),
        "/providers/microsoft.management/managementgroups/%".to_string(),
    ]
}

/// What every narrowed request reads of a snapshot whatever it asks:
/// which role assignments and principal records it holds, and its accounts
/// with their key setting. A snapshot never changes once stored (and its id
/// is never reused), so this is read once per snapshot and kept for the few
/// most recently asked about: 35 ms for the membership of 500,000
/// assignments, 26 ms for 5,000 accounts, on every request otherwise.
struct Shared {
    /// Document ids, sorted.
    role_assignments: Vec<i64>,
    principals: Vec<i64>,
    /// By id as stored: (name, facts).
    accounts: Vec<(String, AccountFacts)>,
    /// Member id → the groups listing it (lower case), read on first use.
    groups_of: tokio::sync::OnceCell<HashMap<String, Vec<String>>>,
}

impl Shared {
    /// The groups whose members (as Graph listed them) include `member`.
    async fn groups_of(&self, pool: &PgPool, snapshot: Uuid, member: &str) -> CoreResult<Vec<String>> {
        let map = self
            .groups_of
            .get_or_try_init(|| async {
                let pairs = sqlx::query!(
                    r#"select lower(d.body ->> 'id') as "group!", lower(x.member ->> 'id') as "member!"
                         from snapshot_members m
                        cross join lateral unnest(m.ids) as listed(id)
                         join documents d on d.id = listed.id
                        cross join lateral jsonb_array_elements(d.body -> 'members') as x(member)
                        where m.snapshot_id = $1 and m.kind = 'principal'
                          and jsonb_typeof(d.body -> 'members') = 'array' and x.member ? 'id'"#,
                    snapshot
                )
                .fetch_all(pool)
                .await?;
                let mut map: HashMap<String, Vec<String>> = HashMap::new();
                for p in pairs {
                    map.entry(p.member).or_default().push(p.group);
                }
                for groups in map.values_mut() {
                    groups.sort_unstable();
                    groups.dedup();
                }
                Ok::<_, CoreError>(map)
            })
            .await?;
        Ok(map.get(member).cloned().unwrap_or_default())
    }
}

/// How many snapshots' `Shared` are kept (4 MiB each per 500,000 assignments).
const CACHED_SNAPSHOTS: usize = 4;

/// The most recently read first.
type Cache = std::sync::Mutex<Vec<(Uuid, std::sync::Arc<Shared>)>>;

static CACHE: std::sync::LazyLock<Cache> = std::sync::LazyLock::new(Default::default);

async fn cached(pool: &PgPool, snapshot: Uuid) -> CoreResult<std::sync::Arc<Shared>> {
    let hit =
        CACHE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(id, _)| *id == snapshot).map(|(_, s)| s.clone());
    if let Some(shared) = hit {
        return Ok(shared);
    }
    let mut members = sqlx::query!(
        "select kind, ids from snapshot_members where snapshot_id = $1 and kind in ('role_assignment', 'principal')",
        snapshot
    )
    .fetch_all(pool)
    .await?;
    let mut take = |kind: &str| {
        let mut ids =
            members.iter_mut().find(|m| m.kind == kind).map(|m| std::mem::take(&mut m.ids)).unwrap_or_default();
        if !ids.is_sorted() {
            ids.sort_unstable();
        }
        ids
    };
    let (role_assignments, principals) = (take("role_assignment"), take("principal"));
    let accounts = sqlx::query!(
        r#"select d.resource_id, coalesce(d.body->>'name', '') as "name!",
                  (d.body #>> '{properties,disableLocalAuth}') as "disable_local_auth"
             from snapshot_members m
            cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'account'
            order by d.resource_id"#,
        snapshot
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|a| {
        let facts =
            AccountFacts { local_auth_enabled: a.disable_local_auth.as_deref() != Some("true"), id: a.resource_id };
        (a.name, facts)
    })
    .collect();
    let shared = std::sync::Arc::new(Shared { role_assignments, principals, accounts, groups_of: Default::default() });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(id, _)| *id != snapshot);
    cache.insert(0, (snapshot, shared.clone()));
    cache.truncate(CACHED_SNAPSHOTS);
    Ok(shared)
}

/// The subscription id in an ARM id (lower case), or "".
fn subscription_of(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    lower.strip_prefix("/subscriptions/").and_then(|rest| rest.split('/').next()).unwrap_or("").to_string()
}

/// The rank of a row's strongest level (0 strongest), for ordering.
fn rank(row: &AccessRow) -> usize {
    row.levels.first().and_then(|l| Level::ALL.iter().position(|x| x.as_str() == l.level)).unwrap_or(Level::ALL.len())
}

/// The list's order: by account name, then the strongest access first,
/// then principal name.
fn sort_rows(rows: &mut [AccessRow]) {
    rows.sort_by_cached_key(|r| {
        (
            r.account_name.to_lowercase(),
            r.account_id.clone(),
            rank(r),
            r.principal.name().to_lowercase(),
            r.principal.id.clone(),
        )
    });
}

/// The access list: one row per (account, principal), filtered and paged,
/// in the list's order (`sort_rows`). Narrowed to an account or a
/// principal, the rows are computed and paged; otherwise the stored index
/// picks the page and only its accounts are computed.
pub async fn list(pool: &PgPool, filter: &AccessFilter) -> CoreResult<AccessPage> {
    filter.check()?;
    if !filter.account.trim().is_empty() || !filter.principal.trim().is_empty() {
        let mut page = matching(pool, filter).await?;
        let total = page.rows.len() as i64;
        let start = ((filter.page - 1).saturating_mul(filter.per_page)).min(total) as usize;
        page.rows = page.rows.into_iter().skip(start).take(filter.per_page as usize).collect();
        return Ok(page);
    }
    let (snapshot_id, finished_at) = resolve_snapshot(pool, filter.snapshot).await?;
    let index = stored::index(pool, snapshot_id).await?;
    let window = index.window(filter);
    let mut rows = Vec::new();
    if !window.pairs.is_empty() {
        let mut accounts: Vec<String> = window.pairs.iter().map(|(a, _)| a.clone()).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let estate = Estate::load(pool, snapshot_id, Narrow::Accounts(&accounts)).await?;
        let mut wanted: Vec<(&str, &str)> = window.pairs.iter().map(|(a, p)| (a.as_str(), p.as_str())).collect();
        wanted.sort_unstable();
        rows = estate.rows_of(
            |a| accounts.binary_search(&a.id.to_ascii_lowercase()).is_ok(),
            |account, principal| wanted.binary_search(&(account, principal)).is_ok(),
        );
        sort_rows(&mut rows);
        if rows.len() != window.pairs.len() {
            // The index and the documents it was computed from disagree:
            // the page shows what the documents say.
            tracing::warn!(%snapshot_id, indexed = window.pairs.len(), computed = rows.len(), "the access index disagrees with its snapshot");
        }
    }
    Ok(AccessPage {
        snapshot_id,
        finished_at,
        coverage: index.coverage,
        rows,
        total: window.total,
        page: filter.page,
        per_page: filter.per_page,
    })
}

/// Most accounts whose assignments are read by scope; beyond, every
/// assignment is read (one pass beats thousands of index lookups).
const NARROW_ACCOUNTS: usize = 200;

/// Every row of the accounts `keep` selects (by lower-case id), in the
/// list's order, unpaged: what a review campaign over a scope copies.
pub async fn of_accounts(pool: &PgPool, snapshot: Option<Uuid>, keep: impl Fn(&str) -> bool) -> CoreResult<AccessPage> {
    let (snapshot_id, finished_at) = resolve_snapshot(pool, snapshot).await?;
    let mut accounts: Vec<String> = cached(pool, snapshot_id)
        .await?
        .accounts
        .iter()
        .map(|(_, a)| a.id.to_ascii_lowercase())
        .filter(|id| keep(id))
        .collect();
    accounts.sort_unstable();
    accounts.dedup();
    let narrow = if accounts.len() <= NARROW_ACCOUNTS { Narrow::Accounts(&accounts) } else { Narrow::All };
    let estate = Estate::load(pool, snapshot_id, narrow).await?;
    let mut rows = estate.rows(|a| accounts.binary_search(&a.id.to_ascii_lowercase()).is_ok());
    sort_rows(&mut rows);
    let total = rows.len() as i64;
    Ok(AccessPage { snapshot_id, finished_at, coverage: estate.coverage, rows, total, page: 1, per_page: total.max(1) })
}

/// Every row `filter` selects, in the list's order, unpaged (`page` and
/// `per_page` are only checked).
pub async fn matching(pool: &PgPool, filter: &AccessFilter) -> CoreResult<AccessPage> {
    filter.check()?;
    let (snapshot_id, finished_at) = resolve_snapshot(pool, filter.snapshot).await?;
    let account = filter.account.trim().to_ascii_lowercase();
    let principal = filter.principal.trim().to_ascii_lowercase();
    let subscription = filter.subscription.trim().to_ascii_lowercase();
    let narrow = if !principal.is_empty() {
        Narrow::Principals(std::slice::from_ref(&principal))
    } else if !account.is_empty() {
        Narrow::Accounts(std::slice::from_ref(&account))
    } else {
        Narrow::All
    };
    let estate = Estate::load(pool, snapshot_id, narrow).await?;
    let mut rows = estate.rows(|a| {
        (account.is_empty() || a.id.eq_ignore_ascii_case(&account))
            && (subscription.is_empty() || subscription_of(&a.id) == subscription)
    });
    rows.retain(|r| {
        (principal.is_empty() || r.principal.id == principal)
            && (filter.principal_type.is_empty() || r.principal.kind == filter.principal_type)
            && (filter.level.is_empty() || r.levels.iter().any(|l| l.level == filter.level))
            && (filter.flag.is_empty() || r.flags.iter().any(|f| f.check == filter.flag))
            && (!filter.flagged || !r.flags.is_empty())
    });
    sort_rows(&mut rows);
    let total = rows.len() as i64;
    Ok(AccessPage {
        snapshot_id,
        finished_at,
        coverage: estate.coverage,
        rows,
        total,
        page: filter.page,
        per_page: filter.per_page,
    })
}

/// One principal: what it can do to every account, and what it is
/// eligible for through PIM. NotFound when the snapshot names it nowhere.
pub async fn principal(pool: &PgPool, snapshot: Option<Uuid>, id: &str) -> CoreResult<PrincipalView> {
    let id = id.trim().to_ascii_lowercase();
    if id.is_empty() || id.len() > 128 {
        return Err(CoreError::invalid("id", "a principal's object id"));
    }
    let (snapshot_id, finished_at) = resolve_snapshot(pool, snapshot).await?;
    // The principal's own assignments, and those of the groups it is in.
    let groups = cached(pool, snapshot_id).await?.groups_of(pool, snapshot_id, &id).await?;
    let asked: Vec<String> = std::iter::once(id.clone()).chain(groups.iter().cloned()).collect();
    let estate = Estate::load(pool, snapshot_id, Narrow::Principals(&asked)).await?;
    let mut accounts = estate.rows(|_| true);
    let through: Vec<GroupInfo> = groups
        .iter()
        .filter_map(|g| {
            let mut reached: Vec<String> =
                accounts.iter().filter(|r| r.principal.id == *g).map(|r| r.account_name.clone()).collect();
            reached.sort_by_key(|n| n.to_lowercase());
            let name = estate.principals.get(g).and_then(|(p, _)| p.as_ref()).and_then(|p| p.display_name.clone());
            (!reached.is_empty()).then(|| GroupInfo { id: g.clone(), display_name: name, accounts: reached })
        })
        .collect();
    accounts.retain(|r| r.principal.id == id);
    let roles: HashMap<&str, &RoleDefinition> = estate.definitions.iter().map(|d| (d.guid.as_str(), d)).collect();
    let eligible: Vec<Eligibility> = estate
        .eligible
        .iter()
        .filter(|e| e.principal_id.eq_ignore_ascii_case(&id))
        .map(|e| {
            let scope = e.scope.to_ascii_lowercase();
            Eligibility {
                id: e.id.clone(),
                role: roles
                    .get(e.role_guid().as_str())
                    .map_or_else(|| format!("role {}", e.role_guid()), |r| r.role_name.clone()),
                scope: e.scope.clone(),
                start: e.start.clone(),
                end: e.end.clone(),
                accounts: estate
                    .accounts
                    .iter()
                    .filter(|(_, a)| crate::reviews::within(&scope, &a.id.to_ascii_lowercase()))
                    .map(|(name, _)| name.clone())
                    .collect(),
            }
        })
        .collect();
    let known =
        !accounts.is_empty() || !eligible.is_empty() || !groups.is_empty() || estate.principals.contains_key(&id);
    if !known {
        return Err(CoreError::not_found("principal in this snapshot"));
    }
    let principal_type = estate
        .assignments
        .iter()
        .find(|a| a.principal_id.eq_ignore_ascii_case(&id))
        .map(|a| a.principal_type.clone())
        .or_else(|| {
            estate.eligible.iter().find(|e| e.principal_id.eq_ignore_ascii_case(&id)).map(|e| e.principal_type.clone())
        })
        .unwrap_or_default();
    Ok(PrincipalView {
        snapshot_id,
        finished_at,
        coverage: estate.coverage,
        principal: described_by_groups(estate.principal_info(&id, &principal_type), &estate, &groups),
        accounts,
        eligible,
        groups: through,
    })
}

/// A principal no assignment names has no record of its own; a group
/// listing it as a member says who it is.
fn described_by_groups(info: PrincipalInfo, estate: &Estate, groups: &[String]) -> PrincipalInfo {
    if info.resolution != Resolution::Unresolved {
        return info;
    }
    let listed = groups
        .iter()
        .filter_map(|g| estate.principals.get(g).and_then(|(_, members)| members.as_ref()))
        .flatten()
        .find(|m| m.id == info.id);
    match listed {
        None => info,
        Some(m) => PrincipalInfo {
            kind: m.kind.as_str().to_string(),
            display_name: m.display_name.clone(),
            user_principal_name: m.user_principal_name.clone(),
            app_id: m.app_id.clone(),
            guest: m.guest,
            resolution: Resolution::Resolved,
            ..info
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefixes_of_what_reaches_an_account_are_its_scopes_escaped() {
        let p =
            reaching_prefixes("/subscriptions/s1/resourcegroups/rg_1/providers/microsoft.cognitiveservices/accounts/a");
        assert_eq!(
            p[0],
            "/subscriptions/s1/resourcegroups/rg\\_1/providers/microsoft.cognitiveservices/accounts/a/providers/microsoft.authorization/roleassignments/%"
        );
        assert_eq!(p[1], "/subscriptions/s1/resourcegroups/rg\\_1/providers/microsoft.authorization/roleassignments/%");
        assert_eq!(p[2], "/subscriptions/s1/providers/microsoft.authorization/roleassignments/%");
        assert_eq!(p[3], "/providers/microsoft.authorization/roleassignments/%");
    }

    #[test]
    fn subscription_of_reads_the_id() {
        assert_eq!(subscription_of("/subscriptions/ABC/resourceGroups/x"), "abc");
        assert_eq!(subscription_of("/providers/Microsoft.Management/managementGroups/m"), "");
    }

    #[test]
    fn filters_refuse_unknown_values_by_name() {
        let ok = AccessFilter { page: 1, per_page: 50, ..Default::default() };
        assert!(ok.check().is_ok());
        for (bad, field) in [
            (AccessFilter { level: "god".into(), ..ok.clone() }, "level"),
            (AccessFilter { flag: "attest-nope".into(), ..ok.clone() }, "flag"),
            (AccessFilter { principal_type: "robot".into(), ..ok.clone() }, "principal_type"),
            (AccessFilter { per_page: 501, ..ok.clone() }, "per_page"),
            (AccessFilter { page: 0, ..ok.clone() }, "page"),
            (AccessFilter { account: "x".repeat(MAX_FILTER + 1), ..ok.clone() }, "account"),
        ] {
            match bad.check() {
                Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
