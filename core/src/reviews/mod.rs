//! Access review campaigns: an auditor names a scope (the root, a
//! subscription, a resource group or an account) as of a snapshot; its items
//! are the role assignments that give access to the AI accounts there,
//! flagged ones first. Each is decided (`decide`), the whole certified once
//! nothing is open, and the revocations and changes exported as `az`
//! commands (`export`). A new campaign proposes the last certified decision
//! on every assignment that has not changed since.

pub mod decide;
pub mod due;
pub mod export;

use crate::access;
use crate::audit;
use crate::error::{CoreError, CoreResult};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

pub use decide::{certify, decide, decide_where, Decision, NewDecision};

/// Longest campaign name, comment and scope accepted.
pub const MAX_NAME: usize = 200;
pub const MAX_COMMENT: usize = 2_000;
pub const MAX_SCOPE: usize = 1_024;

/// A campaign as listed.
#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub snapshot_id: Uuid,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What the snapshot could not read (`graph`, `pim`).
    pub gaps: Vec<String>,
    pub certified_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub certified_at: Option<OffsetDateTime>,
    pub certify_comment: Option<String>,
    /// When it must be finished, and what then happens to undecided items
    /// (`due::OnDue`).
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_at: Option<OffsetDateTime>,
    pub on_due: String,
    /// Certified by the due-date policy, not by a person.
    pub closed_at_due: bool,
    pub items: i64,
    pub decided: i64,
    pub flagged: i64,
}

/// One item: a role assignment, who it names, what it gives, its decision.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub assignment: String,
    pub principal: String,
    pub principal_name: String,
    pub principal_kind: String,
    pub role: String,
    pub role_definition_id: String,
    pub scope: String,
    pub accounts: Vec<String>,
    pub flags: Vec<String>,
    pub level: String,
    pub decision: Option<String>,
    pub new_role: Option<String>,
    pub new_scope: Option<String>,
    pub comment: Option<String>,
    pub decided_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
    pub suggested: Option<String>,
    pub suggested_from: Option<i64>,
    /// Decided by the due-date policy, not by a reviewer.
    pub not_reviewed: bool,
}

/// Which items a list or a bulk decision is about; empty filters nothing.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// `flagged`, `unflagged` or empty.
    pub flagged: String,
    /// `open` (undecided), `decided`, `suggested` (open with a suggestion) or empty.
    pub status: String,
    /// A principal kind (`access::principal_types`).
    pub principal_kind: String,
}

impl ItemFilter {
    pub fn check(&self) -> CoreResult<()> {
        if !["", "flagged", "unflagged"].contains(&self.flagged.as_str()) {
            return Err(CoreError::invalid("flagged", format!("{:?} is not flagged or unflagged", self.flagged)));
        }
        if !["", "open", "decided", "suggested"].contains(&self.status.as_str()) {
            return Err(CoreError::invalid("status", format!("{:?} is not open, decided or suggested", self.status)));
        }
        if !self.principal_kind.is_empty() && !access::principal_types().contains(&self.principal_kind.as_str()) {
            return Err(CoreError::invalid(
                "principal_type",
                format!("{:?} is not a principal type", self.principal_kind),
            ));
        }
        Ok(())
    }
}

/// A scope as stored: lower case, no trailing slash; `/` the root.
pub fn normalize_scope(scope: &str) -> CoreResult<String> {
    let s = scope.trim().trim_end_matches('/').to_ascii_lowercase();
    if s.is_empty() {
        return Ok("/".into());
    }
    if s.len() > MAX_SCOPE {
        return Err(CoreError::invalid("scope", format!("longer than {MAX_SCOPE} characters")));
    }
    if !s.starts_with("/subscriptions/") || s.split('/').any(|seg| seg.chars().any(char::is_whitespace)) {
        return Err(CoreError::invalid(
            "scope",
            "the root (/), or an ARM id of a subscription, resource group or account",
        ));
    }
    Ok(s)
}

/// Whether `id` (lower case) is `scope` or below it: rbac's scope rule
/// (segment boundaries), with no management groups in a campaign's scope.
pub fn within(scope: &str, id: &str) -> bool {
    attest_rbac::Hierarchy::default().covers(scope, id)
}

fn text(field: &'static str, value: &str, max: usize) -> CoreResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(CoreError::invalid(field, "is required"));
    }
    if v.chars().count() > max {
        return Err(CoreError::invalid(field, format!("longer than {max} characters")));
    }
    Ok(v.to_string())
}

/// Starts a campaign over `scope` as of `snapshot` (the newest when `None`),
/// with its items and the suggestions carried forward; audited.
pub async fn create(pool: &PgPool, actor: &str, name: &str, scope: &str, snapshot: Option<Uuid>) -> CoreResult<i64> {
    create_due(pool, actor, name, scope, snapshot, None).await
}

/// As `create`, with a due date and what it does to undecided items.
pub async fn create_due(
    pool: &PgPool,
    actor: &str,
    name: &str,
    scope: &str,
    snapshot: Option<Uuid>,
    due: Option<due::Due>,
) -> CoreResult<i64> {
    let name = text("name", name, MAX_NAME)?;
    let scope = normalize_scope(scope)?;
    // Every row of the accounts in scope, read by scope.
    let page = access::of_accounts(pool, snapshot, |account| within(&scope, account)).await?;
    let snapshot_id = page.snapshot_id;
    let rows = page.rows;
    if rows.is_empty() {
        return Err(CoreError::invalid("scope", "no role assignment gives access to an AI account in this scope"));
    }

    // One item per assignment: the accounts it reaches in scope, its flags
    // there, and the strongest level it takes part in.
    struct Pending {
        principal: access::PrincipalInfo,
        assignment: access::AssignmentInfo,
        accounts: Vec<String>,
        flags: Vec<String>,
        level: usize,
    }
    let levels = access::levels();
    let mut items: BTreeMap<String, Pending> = BTreeMap::new();
    for r in &rows {
        for a in &r.assignments {
            let rank = r
                .levels
                .iter()
                .filter(|l| l.assignments.contains(&a.id))
                .filter_map(|l| levels.iter().position(|(name, _)| *name == l.level))
                .min()
                .unwrap_or(levels.len() - 1);
            let p = items.entry(a.id.clone()).or_insert_with(|| Pending {
                principal: r.principal.clone(),
                assignment: a.clone(),
                accounts: Vec::new(),
                flags: Vec::new(),
                level: rank,
            });
            p.level = p.level.min(rank);
            p.accounts.push(r.account_name.clone());
            p.flags.extend(r.flags.iter().filter(|f| f.assignment == a.id).map(|f| f.check.to_string()));
        }
    }
    let ids: Vec<String> = items.keys().map(|k| k.to_ascii_lowercase()).collect();
    let principal_ids: Vec<String> = items.values().map(|p| p.principal.id.clone()).collect();
    let hashes: BTreeMap<String, Vec<u8>> = sqlx::query!(
        r#"select lower(d.resource_id) as "id!", d.hash from snapshot_members m
            cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'role_assignment' and lower(d.resource_id) = any($2)"#,
        snapshot_id,
        &ids
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.hash))
    .collect();
    let principal_hashes: BTreeMap<String, Vec<u8>> = sqlx::query!(
        r#"select lower(d.body->>'id') as "id!", d.hash from snapshot_members m
            cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'principal' and lower(d.body->>'id') = any($2)"#,
        snapshot_id,
        &principal_ids
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.hash))
    .collect();

    let mut gaps = Vec::new();
    if !page.coverage.graph {
        gaps.push("graph".to_string());
    }
    if !page.coverage.pim {
        gaps.push("pim".to_string());
    }
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        "insert into review_campaigns (name, scope, snapshot_id, created_by, gaps, due_at, on_due)
         values ($1, $2, $3, $4, $5, $6, $7) returning id",
        name,
        scope,
        snapshot_id,
        actor,
        &gaps,
        due.map(|d| d.at),
        due.map_or("keep", |d| d.on_due.as_str())
    )
    .fetch_one(&mut *tx)
    .await?;
    let mut flagged = 0;
    for (assignment, mut p) in items {
        p.accounts.sort();
        p.accounts.dedup();
        p.flags.sort();
        p.flags.dedup();
        flagged += usize::from(!p.flags.is_empty());
        let hash = hashes.get(&assignment.to_ascii_lowercase()).cloned().unwrap_or_default();
        let principal_hash = principal_hashes.get(&p.principal.id).cloned();
        sqlx::query!(
            r#"insert into review_items (campaign_id, assignment_id, assignment_hash, principal_hash, principal_id,
                                         principal_name, principal_kind, role, role_definition_id, scope, accounts,
                                         flags, level, suggested, suggested_from)
               select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, prev.decision, prev.campaign_id
                 from (select 1) as one
                 left join lateral (
                      select i.decision, i.campaign_id from review_items i
                        join review_campaigns c on c.id = i.campaign_id
                       where c.certified_at is not null and lower(i.assignment_id) = lower($2)
                         and i.assignment_hash = $3 and i.principal_hash is not distinct from $4
                       order by c.certified_at desc limit 1) prev on true"#,
            id,
            assignment,
            hash,
            principal_hash,
            p.principal.id,
            p.principal.name(),
            p.principal.kind,
            p.assignment.role,
            p.assignment.role_definition_id,
            p.assignment.scope,
            &p.accounts,
            &p.flags,
            levels[p.level].0
        )
        .execute(&mut *tx)
        .await?;
    }
    let count: i64 = sqlx::query_scalar!(r#"select count(*) as "n!" from review_items where campaign_id = $1"#, id)
        .fetch_one(&mut *tx)
        .await?;
    let suggested: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from review_items where campaign_id = $1 and suggested is not null"#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "review.create",
        &format!("review:{id}"),
        json!({"name": name, "scope": scope, "snapshot": snapshot_id, "items": count, "flagged": flagged,
               "carried_forward": suggested, "gaps": gaps,
               "due_at": due.map(|d| crate::display::time(d.at)), "on_due": due.map(|d| d.on_due.as_str())}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Campaigns with their progress, newest first: every one, or the one `id` names.
async fn campaigns(pool: &PgPool, id: Option<i64>) -> CoreResult<Vec<Campaign>> {
    Ok(sqlx::query_as!(
        Campaign,
        r#"select c.id, c.name, c.scope, c.snapshot_id, c.created_by, c.created_at, c.gaps, c.certified_by,
                  c.certified_at, c.certify_comment, c.due_at, c.on_due, c.closed_at_due,
                  count(i.id) as "items!", count(i.decision) as "decided!",
                  count(i.id) filter (where cardinality(i.flags) > 0) as "flagged!"
             from review_campaigns c left join review_items i on i.campaign_id = c.id
            where $1::bigint is null or c.id = $1
            group by c.id order by c.created_at desc, c.id desc limit 500"#,
        id
    )
    .fetch_all(pool)
    .await?)
}

/// Every campaign (the newest 500), newest first.
pub async fn list(pool: &PgPool) -> CoreResult<Vec<Campaign>> {
    campaigns(pool, None).await
}

/// One campaign, or NotFound.
pub async fn campaign(pool: &PgPool, id: i64) -> CoreResult<Campaign> {
    campaigns(pool, Some(id)).await?.pop().ok_or_else(|| CoreError::not_found("review campaign"))
}

/// A campaign's items that `filter` selects: flagged first, then by
/// principal and role.
pub async fn items(pool: &PgPool, id: i64, filter: &ItemFilter) -> CoreResult<Vec<Item>> {
    filter.check()?;
    Ok(sqlx::query_as!(
        Item,
        r#"select id, assignment_id as assignment, principal_id as principal, principal_name, principal_kind, role,
                  role_definition_id, scope, accounts, flags, level, decision, new_role, new_scope, comment,
                  decided_by, decided_at, suggested, suggested_from, not_reviewed
             from review_items
            where campaign_id = $1
              and ($2 = '' or ($2 = 'flagged') = (cardinality(flags) > 0))
              and ($3 = '' or ($3 = 'open' and decision is null) or ($3 = 'decided' and decision is not null)
                   or ($3 = 'suggested' and decision is null and suggested is not null))
              and ($4 = '' or principal_kind = $4)
            order by cardinality(flags) = 0, lower(principal_name), lower(role), id"#,
        id,
        filter.flagged,
        filter.status,
        filter.principal_kind
    )
    .fetch_all(pool)
    .await?)
}

/// The certified decisions that assignments go (revoke, change) that
/// `snapshot` is held to: those certified before it was taken, the newest
/// per assignment. The revocation check flags an assignment still there.
pub async fn revocations(conn: &mut sqlx::PgConnection, snapshot: Uuid) -> CoreResult<Vec<attest_rbac::Revocation>> {
    let rows = sqlx::query!(
        r#"select distinct on (lower(i.assignment_id)) i.assignment_id, i.decision as "decision!", c.id, c.name,
                  c.certified_at as "certified_at!"
             from review_items i join review_campaigns c on c.id = i.campaign_id
            where c.certified_at is not null and i.decision in ('revoke', 'change')
              and c.certified_at < (select finished_at from snapshots where id = $1)
            order by lower(i.assignment_id), c.certified_at desc"#,
        snapshot
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| attest_rbac::Revocation {
            assignment_id: r.assignment_id,
            campaign: format!("review #{} ({})", r.id, r.name),
            certified_at: crate::display::time(r.certified_at),
            decision: r.decision,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_root_or_arm_ids_and_within_keeps_segment_boundaries() {
        assert_eq!(normalize_scope("").unwrap(), "/");
        assert_eq!(normalize_scope("/").unwrap(), "/");
        assert_eq!(normalize_scope("/Subscriptions/ABC/").unwrap(), "/subscriptions/abc");
        assert!(normalize_scope("subscriptions/abc").is_err());
        assert!(normalize_scope("/providers/x").is_err());
        assert!(normalize_scope(&format!("/subscriptions/{}", "a".repeat(MAX_SCOPE))).is_err());
        assert!(within("/", "/subscriptions/a"));
        assert!(within("/subscriptions/a", "/subscriptions/a/resourcegroups/r"));
        assert!(!within("/subscriptions/a", "/subscriptions/ab/resourcegroups/r"));
    }
}
