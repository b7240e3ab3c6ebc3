//! Reading exemptions: the filtered list, one exemption with its history
//! and the findings it was approved against, and the approvals queue.

use super::state::State;
use crate::error::{CoreError, CoreResult};
use crate::names::Scope;
use crate::Principal;
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, Serialize)]
pub struct ExemptionRow {
    pub id: i64,
    pub assignment_id: String,
    pub controls: Vec<String>,
    pub reference_ids: Vec<String>,
    pub scope: String,
    pub category: String,
    pub justification: String,
    pub compensating_controls: String,
    pub ticket: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_on: OffsetDateTime,
    pub severity: String,
    pub approvals_needed: i16,
    pub state: String,
    pub finding_id: Option<i64>,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub requested_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub approved_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub drifted_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    pub comment: String,
}

/// A finding the exemption was approved against.
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    pub finding_id: i64,
    pub resource_id: String,
    pub control: String,
    pub reference_id: String,
    pub evidence_hash: String,
    /// The state it was approved against.
    pub state: String,
    /// Its state in the current evaluation of its scope ("gone" when it is
    /// no longer evaluated).
    pub now: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExemptionDetail {
    pub exemption: ExemptionRow,
    pub history: Vec<Event>,
    pub bindings: Vec<Binding>,
    /// Distinct approvers so far.
    pub approvers: Vec<String>,
}

/// The list's filters; empty means any.
#[derive(Debug, Clone, Default)]
pub struct ExemptionFilter {
    pub state: String,
    pub category: String,
    /// Approved exemptions expiring within this many days.
    pub expiring_within_days: Option<i64>,
    /// The exemption's scope starts with this (lower-cased).
    pub scope: String,
}

pub const MAX_LIST: i64 = 500;

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

pub async fn list(pool: &PgPool, f: &ExemptionFilter) -> CoreResult<Vec<ExemptionRow>> {
    if !f.state.is_empty() && State::parse(&f.state).is_none() {
        return Err(invalid("state", "pending, approved, rejected, withdrawn, expired or revoked"));
    }
    if !f.category.is_empty() && !super::CATEGORIES.contains(&f.category.as_str()) {
        return Err(invalid("category", "Waiver or Mitigated"));
    }
    if f.expiring_within_days.is_some_and(|d| !(0..=3650).contains(&d)) {
        return Err(invalid("expiring", "0 to 3650 days"));
    }
    if f.scope.len() > 512 {
        return Err(invalid("scope", "at most 512 characters"));
    }
    let prefix = format!("{}%", f.scope.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    Ok(sqlx::query_as!(
        ExemptionRow,
        "select id, assignment_id, controls, reference_ids, scope, category, justification, compensating_controls,
                ticket, expires_on, severity, approvals_needed, state, finding_id, requested_by, requested_at,
                approved_at, drifted_at
           from exemptions
          where ($1 = '' or state = $1) and ($2 = '' or category = $2)
            and ($3::int is null or (state = 'approved' and expires_on <= now() + make_interval(days => $3)))
            and scope like $4
          order by case state when 'pending' then 0 when 'approved' then 1 else 2 end, expires_on, id
          limit $5",
        f.state,
        f.category,
        f.expiring_within_days.map(|d| d as i32),
        prefix,
        MAX_LIST
    )
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: i64) -> CoreResult<ExemptionDetail> {
    let exemption = sqlx::query_as!(
        ExemptionRow,
        "select id, assignment_id, controls, reference_ids, scope, category, justification, compensating_controls,
                ticket, expires_on, severity, approvals_needed, state, finding_id, requested_by, requested_at,
                approved_at, drifted_at
           from exemptions where id = $1",
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("exemption {id}") })?;
    let history = sqlx::query_as!(
        Event,
        "select at, actor, action, from_state, to_state, comment from exemption_events
          where exemption_id = $1 order by id",
        id
    )
    .fetch_all(pool)
    .await?;
    let bindings = sqlx::query!(
        r#"select b.finding_id, b.resource_id, b.control, b.reference_id, b.evidence_hash,
                  coalesce((select s.base_state from finding_spans s
                             where s.finding_id = b.finding_id and s.evidence_hash = b.evidence_hash
                             order by s.first_eval limit 1), 'Unknown') as "state!",
                  coalesce(now.state, 'gone') as "now!"
             from exemption_bindings b
             left join lateral (select s.state from finding_spans s
                                 where s.finding_id = b.finding_id and s.until_eval is null
                                   and s.chain in (select chain from current_evaluations)
                                 order by s.first_eval desc limit 1) now on true
            where b.exemption_id = $1 order by b.resource_id, b.control, b.reference_id"#,
        id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| Binding {
        finding_id: r.finding_id,
        resource_id: r.resource_id,
        control: r.control,
        reference_id: r.reference_id,
        evidence_hash: hex::encode(r.evidence_hash),
        state: r.state,
        now: r.now,
    })
    .collect();
    let approvers: Vec<String> = history
        .iter()
        .filter(|e| e.action == "approve")
        .map(|e| e.actor.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(ExemptionDetail { exemption, history, bindings, approvers })
}

/// Pending requests `who` may decide now: within their approver scopes,
/// not their own, not already approved by them.
pub async fn queue(pool: &PgPool, who: &Principal) -> CoreResult<Vec<ExemptionRow>> {
    let pending = list(pool, &ExemptionFilter { state: "pending".into(), ..Default::default() }).await?;
    let mine: std::collections::HashSet<i64> = sqlx::query_scalar!(
        "select distinct exemption_id from exemption_events where action = 'approve' and actor = $1",
        who.name
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    Ok(pending
        .into_iter()
        .filter(|e| e.requested_by != who.name && !mine.contains(&e.id))
        .filter(|e| Scope::parse(&e.scope).is_ok_and(|s| who.may_approve(&s, &[])))
        .collect())
}

/// Counts for the navigation: requests awaiting `who`, and approved
/// exemptions that drifted or expire within the reminder window.
pub async fn attention(pool: &PgPool, who: &Principal, remind_days: i64) -> CoreResult<(usize, i64)> {
    let awaiting = if who.has(crate::Role::Approver) { queue(pool, who).await?.len() } else { 0 };
    let flagged = sqlx::query_scalar!(
        r#"select count(*) as "n!" from exemptions
            where state = 'approved' and (drifted_at is not null or expires_on <= now() + make_interval(days => $1))"#,
        remind_days as i32
    )
    .fetch_one(pool)
    .await?;
    Ok((awaiting, flagged))
}

/// An exemption's category (Waiver or Mitigated), if it exists.
pub async fn category(pool: &PgPool, id: i64) -> CoreResult<Option<String>> {
    Ok(sqlx::query_scalar!("select category from exemptions where id = $1", id).fetch_optional(pool).await?)
}

/// Open requests (pending or approved) that cover `control` of `assignment`
/// on `resource`: (id, state), oldest first.
pub async fn open_covering(
    pool: &PgPool,
    assignment: &str,
    control: &str,
    resource: &str,
) -> CoreResult<Vec<(i64, String)>> {
    Ok(sqlx::query!(
        "select id, state from exemptions
          where state in ('pending', 'approved') and assignment_id = $1
            and (cardinality(controls) = 0 or $2 = any(controls))
            and ($3 = scope or starts_with($3, scope || '/'))
          order by id",
        assignment,
        control,
        resource
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.id, r.state))
    .collect())
}

/// What each exemption covers, by name: the controls (or initiative
/// members) it lists; when it lists none, every control its assignment
/// applies — the definition's title, or each member of an initiative.
pub async fn coverage(pool: &PgPool, rows: &[ExemptionRow]) -> CoreResult<HashMap<i64, Vec<String>>> {
    use crate::findings::definitions::Library;
    use attest_policy::PolicyDocument;
    if rows.is_empty() {
        return Ok(HashMap::new());
    }
    let library = Library::load_pool(pool).await?;
    let whole: Vec<String> = rows
        .iter()
        .filter(|r| r.controls.is_empty() && r.reference_ids.is_empty())
        .map(|r| r.assignment_id.clone())
        .collect();
    let definitions: HashMap<String, String> =
        sqlx::query!("select id, definition_id from policy_assignments where id = any($1)", &whole)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.id, r.definition_id))
            .collect();
    let title = |doc: Option<&PolicyDocument>, fallback: &str| match doc {
        Some(PolicyDocument::Definition(d)) => d.display_name.clone(),
        Some(PolicyDocument::Initiative(i)) => i.display_name.clone(),
        None => fallback.to_string(),
    };
    let mut out = HashMap::new();
    for r in rows {
        let names: Vec<String> = if r.controls.is_empty() && r.reference_ids.is_empty() {
            let def = definitions.get(&r.assignment_id).map(String::as_str).unwrap_or_default();
            match library.catalog().get(def) {
                Some(PolicyDocument::Initiative(i)) => {
                    i.members.iter().map(|m| title(library.catalog().get(&m.definition_id), &m.reference_id)).collect()
                }
                other => vec![title(other, def)],
            }
        } else {
            r.controls.iter().map(|c| library.title(c)).chain(r.reference_ids.iter().cloned()).collect()
        };
        out.insert(r.id, names);
    }
    Ok(out)
}
