//! Asking for an exemption: from a finding (its resource, assignment and
//! control), or for a scope. Validated field by field; the expiry is
//! bounded by the limit admins set for the severity of what it covers.

use super::{CATEGORIES, MAX_CONTROLS, MAX_TEXT, MAX_TICKET};
use crate::audit;
use crate::error::{CoreError, CoreResult};
use crate::names::Scope;
use crate::{Principal, Role};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// A request as asked.
#[derive(Debug, Clone, Default)]
pub struct NewRequest {
    /// The finding it is asked from; it sets the assignment, scope, control
    /// and reference id, and the fields below are ignored.
    pub finding: Option<i64>,
    pub assignment_id: String,
    /// A resource, resource group or subscription id.
    pub scope: String,
    /// Control names; empty: every control of the assignment.
    pub controls: Vec<String>,
    /// Initiative members (policyDefinitionReferenceIds); empty: all.
    pub reference_ids: Vec<String>,
    pub category: String,
    pub justification: String,
    pub compensating_controls: String,
    pub ticket: String,
    pub expires_on: Option<OffsetDateTime>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

/// Escapes `%`, `_` and `\\` for a LIKE prefix.
pub(crate) fn like_prefix(s: &str) -> String {
    format!("{}/%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}

/// What a request covers among the current findings (the current
/// evaluation of the newest evaluated snapshot of every scope): how many,
/// and the highest severity.
pub(crate) async fn coverage(
    conn: &mut PgConnection,
    assignment_id: &str,
    scope: &str,
    controls: &[String],
    reference_ids: &[String],
) -> CoreResult<(i64, Option<String>)> {
    let row = sqlx::query!(
        r#"select count(*) as "n!", min(s.severity_rank) as rank
             from finding_spans s join finding_keys k on k.id = s.finding_id
            where s.until_eval is null and s.chain in (select chain from current_evaluations)
              and k.assignment_id = $1 and (s.resource_id = $2 or s.resource_id like $3)
              and (cardinality($4::text[]) = 0 or s.control = any($4))
              and (cardinality($5::text[]) = 0 or k.reference_id = any($5))"#,
        assignment_id,
        scope,
        like_prefix(scope),
        controls,
        reference_ids
    )
    .fetch_one(&mut *conn)
    .await?;
    let severity = row.rank.map(|r| ["High", "Medium", "Low"][(r.max(0) as usize).min(2)].to_string());
    Ok((row.n, severity))
}

fn text(field: &'static str, v: &str, max: usize, required: bool) -> CoreResult<String> {
    let v = v.trim();
    if required && v.is_empty() {
        return Err(invalid(field, "required"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(invalid(field, "contains control characters"));
    }
    Ok(v.to_string())
}

/// Files a request as `who` (a requester or an approver), audited. Returns its id.
pub async fn request(pool: &PgPool, who: &Principal, r: NewRequest) -> CoreResult<i64> {
    if !who.has_any(&[Role::Requester, Role::Approver]) {
        return Err(CoreError::Forbidden("requesting an exemption needs the requester or approver role".into()));
    }
    if !CATEGORIES.contains(&r.category.as_str()) {
        return Err(invalid("category", "Waiver or Mitigated"));
    }
    let justification = text("justification", &r.justification, MAX_TEXT, true)?;
    let compensating = text("compensating_controls", &r.compensating_controls, MAX_TEXT, r.category == "Mitigated")
        .map_err(|e| match e {
            CoreError::Invalid { message, .. } if message == "required" => {
                invalid("compensating_controls", "required for a Mitigated exemption: say what mitigates the risk")
            }
            other => other,
        })?;
    let ticket = text("ticket", &r.ticket, MAX_TICKET, false)?;
    let now = OffsetDateTime::now_utc();
    let expires_on = r.expires_on.ok_or_else(|| invalid("expires_on", "required (RFC 3339)"))?;
    if expires_on <= now {
        return Err(invalid("expires_on", "must be in the future"));
    }

    let mut tx = pool.begin().await?;
    let (assignment_id, scope, controls, reference_ids) = match r.finding {
        Some(id) => {
            // The key's control and resource are its spans' (migration 0014):
            // every span of a key names the same ones (its hash binds them).
            let f = sqlx::query!(
                "select k.assignment_id, s.control, s.resource_id, k.reference_id
                   from finding_keys k join finding_spans s on s.finding_id = k.id
                  where k.id = $1 limit 1",
                id
            )
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| invalid("finding", format!("no finding {id}")))?;
            let refs = if f.reference_id.is_empty() { vec![] } else { vec![f.reference_id] };
            (f.assignment_id, f.resource_id, vec![f.control], refs)
        }
        None => {
            let scope = Scope::parse(&r.scope)
                .map_err(|_| invalid("scope", "a resource, resource group or subscription id (/subscriptions/…)"))?;
            if !scope.as_str().starts_with("/subscriptions/") {
                return Err(invalid("scope", "a resource, resource group or subscription id (/subscriptions/…)"));
            }
            if r.controls.len() > MAX_CONTROLS || r.reference_ids.len() > MAX_CONTROLS {
                return Err(invalid("controls", format!("at most {MAX_CONTROLS}")));
            }
            (r.assignment_id.clone(), scope.as_str().to_string(), r.controls.clone(), r.reference_ids.clone())
        }
    };
    let (mut controls, mut reference_ids) = (controls, reference_ids);
    controls.sort();
    controls.dedup();
    reference_ids.sort();
    reference_ids.dedup();
    // One pending request per (assignment, scope, controls): a second is
    // refused with the first's number. The lock serialises two at once.
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1 || ' ' || $2, 11))", assignment_id, scope)
        .execute(&mut *tx)
        .await?;
    if let Some(first) = sqlx::query_scalar!(
        "select id from exemptions where state = 'pending' and assignment_id = $1 and scope = $2
            and controls = $3 and reference_ids = $4 order by id limit 1",
        assignment_id,
        scope,
        &controls,
        &reference_ids
    )
    .fetch_optional(&mut *tx)
    .await?
    {
        return Err(CoreError::Conflict(format!(
            "exemption #{first} already asks for this and is pending: decide or withdraw it first"
        )));
    }
    let known =
        sqlx::query_scalar!("select exists (select 1 from policy_assignments where id = $1) as \"x!\"", assignment_id)
            .fetch_one(&mut *tx)
            .await?;
    if !known {
        return Err(invalid("assignment", format!("no assignment {assignment_id}")));
    }
    let (covered, severity) = coverage(&mut tx, &assignment_id, &scope, &controls, &reference_ids).await?;
    let Some(severity) = severity.filter(|_| covered > 0) else {
        return Err(invalid("scope", "no current finding of this assignment lies in this scope"));
    };
    let max_days = sqlx::query_scalar!("select max_days from exemption_limits where severity = $1", severity)
        .fetch_optional(&mut *tx)
        .await?
        .unwrap_or(365);
    if expires_on > now + time::Duration::days(max_days as i64) {
        return Err(invalid(
            "expires_on",
            format!("at most {max_days} days ahead for {severity}-severity controls (the limit admins set)"),
        ));
    }
    let approvals_needed: i16 = if severity == "High" { 2 } else { 1 };
    let id = sqlx::query_scalar!(
        "insert into exemptions (assignment_id, controls, reference_ids, scope, category, justification,
                                 compensating_controls, ticket, expires_on, severity, approvals_needed, finding_id,
                                 requested_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) returning id",
        assignment_id,
        &controls,
        &reference_ids,
        scope,
        r.category,
        justification,
        compensating,
        ticket,
        expires_on,
        severity,
        approvals_needed,
        r.finding,
        who.name
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "insert into exemption_events (exemption_id, actor, action, from_state, to_state, comment)
         values ($1, $2, 'request', null, 'pending', $3)",
        id,
        who.name,
        justification
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        &who.name,
        "exemption.request",
        &format!("exemption:{id}"),
        json!({"assignment": assignment_id, "scope": scope, "controls": controls, "reference_ids": reference_ids,
               "category": r.category, "justification": justification, "compensating_controls": compensating,
               "ticket": ticket, "expires_on": expires_on.format(&time::format_description::well_known::Rfc3339).ok(),
               "severity": severity, "approvals_needed": approvals_needed, "covers": covered, "finding": r.finding}),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The longest exemption per severity.
pub async fn limits(pool: &PgPool) -> CoreResult<Vec<(String, i32)>> {
    Ok(sqlx::query!("select severity, max_days from exemption_limits order by case severity when 'High' then 0 when 'Medium' then 1 else 2 end")
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.severity, r.max_days))
        .collect())
}

/// Sets the longest exemption for a severity (admins), audited.
pub async fn set_limit(pool: &PgPool, actor: &str, severity: &str, max_days: i32) -> CoreResult<()> {
    if !["High", "Medium", "Low"].contains(&severity) {
        return Err(invalid("severity", "High, Medium or Low"));
    }
    if !(1..=3650).contains(&max_days) {
        return Err(invalid("max_days", "1 to 3650 days"));
    }
    let mut tx = pool.begin().await?;
    let before = sqlx::query_scalar!("select max_days from exemption_limits where severity = $1 for update", severity)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query!(
        "update exemption_limits set max_days = $2, updated_by = $3, updated_at = now() where severity = $1",
        severity,
        max_days,
        actor
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "exemption.limit",
        &format!("exemption-limit:{severity}"),
        json!({"before": before, "after": max_days}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
