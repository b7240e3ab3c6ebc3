//! Deciding a request: approve, reject, withdraw, revoke. The request's row
//! is locked for the decision, so of two decisions at the same moment the
//! second sees the first's outcome and is refused with a conflict, changing
//! nothing. Approval binds the exemption to the current findings it covers;
//! approving and revoking evaluate the newest snapshots again.

use super::request::like_prefix;
use super::state::{self, Decider, Decision, Outcome, Refusal, State};
use super::MAX_TEXT;
use crate::audit;
use crate::error::{CoreError, CoreResult};
use crate::names::Scope;
use crate::Principal;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;

/// What a decision did.
#[derive(Debug, Clone, Serialize)]
pub struct Decided {
    pub id: i64,
    pub state: State,
    /// Distinct approvals so far, and how many are needed.
    pub approvals: usize,
    pub approvals_needed: usize,
    /// Findings the exemption was bound to (on approval).
    pub bound: u64,
    /// Evaluations written because of the decision.
    pub evaluations: Vec<i64>,
}

fn refused(r: Refusal) -> CoreError {
    match r {
        Refusal::Forbidden(m) => CoreError::Forbidden(m),
        Refusal::Conflict(m) => CoreError::Conflict(m),
    }
}

/// Distinct approvers of the request since it was filed.
async fn approvals(conn: &mut PgConnection, id: i64) -> CoreResult<Vec<String>> {
    Ok(sqlx::query_scalar!(
        "select distinct actor from exemption_events where exemption_id = $1 and action = 'approve' order by actor",
        id
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Records `decision` on exemption `id` by `who`, with a comment, audited in
/// the same transaction. The expiry job decides as the system.
pub async fn decide(pool: &PgPool, who: &Principal, id: i64, decision: Decision, comment: &str) -> CoreResult<Decided> {
    let comment = comment.trim();
    if comment.is_empty() {
        return Err(CoreError::Invalid { field: "comment", message: "every decision carries a comment".into() });
    }
    if comment.chars().count() > MAX_TEXT {
        return Err(CoreError::Invalid { field: "comment", message: format!("at most {MAX_TEXT} characters") });
    }
    let decided = {
        let mut tx = pool.begin().await?;
        let d = decide_in(&mut tx, who, false, id, decision, comment).await?;
        tx.commit().await?;
        d
    };
    // What is Exempt changed: evaluate again, so the current findings say so.
    let exempt_changed = (decided.state == State::Approved && decided.bound > 0) || decided.state == State::Revoked;
    let evaluations = if exempt_changed {
        crate::findings::assignments::reevaluate_newest(
            pool,
            &who.name,
            &format!("exemption {id} {}", decided.state.as_str()),
        )
        .await?
    } else {
        vec![]
    };
    Ok(Decided { evaluations, ..decided })
}

/// The decision inside a transaction the caller commits.
pub(crate) async fn decide_in(
    tx: &mut PgConnection,
    who: &Principal,
    is_system: bool,
    id: i64,
    decision: Decision,
    comment: &str,
) -> CoreResult<Decided> {
    let row = sqlx::query!(
        "select state, scope, requested_by, approvals_needed, expires_on, assignment_id, controls, reference_ids
           from exemptions where id = $1 for update",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("exemption {id}") })?;
    let current = State::parse(&row.state).ok_or_else(|| CoreError::Internal(format!("state {:?}", row.state)))?;
    let approved_by = approvals(tx, id).await?;
    let scope = Scope::parse(&row.scope)?;
    let decider = Decider { name: &who.name, is_system, may_approve: who.may_approve(&scope, &[]) };
    let request = state::Request {
        state: current,
        requested_by: &row.requested_by,
        approvals: &approved_by,
        approvals_needed: row.approvals_needed as usize,
        expired: row.expires_on <= OffsetDateTime::now_utc(),
    };
    let outcome = state::decide(&request, decision, &decider).map_err(refused)?;
    let (next, approvals) = match outcome {
        Outcome::Counted { approvals, .. } => (current, approvals),
        Outcome::Moves(s) => (s, approved_by.len() + usize::from(decision == Decision::Approve)),
    };
    let mut bound = 0;
    if next != current {
        sqlx::query!(
            "update exemptions set state = $2, approved_at = case when $2 = 'approved' then now() else approved_at end
              where id = $1",
            id,
            next.as_str()
        )
        .execute(&mut *tx)
        .await?;
    }
    if next == State::Approved && current == State::Pending {
        // Bound to each covered finding as it is now: its evidence hash.
        bound = sqlx::query!(
            r#"insert into exemption_bindings (exemption_id, resource_id, control, reference_id, evidence_hash, finding_id)
               select distinct on (s.resource_id, s.control, k.reference_id)
                      $1::bigint, s.resource_id, s.control, k.reference_id, s.evidence_hash, s.finding_id
                 from finding_spans s join finding_keys k on k.id = s.finding_id
                where s.until_eval is null and s.chain in (select chain from current_evaluations)
                  and k.assignment_id = $2 and (s.resource_id = $3 or s.resource_id like $4)
                  and (cardinality($5::text[]) = 0 or s.control = any($5))
                  and (cardinality($6::text[]) = 0 or k.reference_id = any($6))
                order by s.resource_id, s.control, k.reference_id, s.first_eval desc"#,
            id,
            row.assignment_id,
            row.scope,
            like_prefix(&row.scope),
            &row.controls,
            &row.reference_ids
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    sqlx::query!(
        "insert into exemption_events (exemption_id, actor, action, from_state, to_state, comment)
         values ($1, $2, $3, $4, $5, $6)",
        id,
        who.name,
        decision.as_str(),
        current.as_str(),
        next.as_str(),
        comment
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        tx,
        &who.name,
        &format!("exemption.{}", decision.as_str()),
        &format!("exemption:{id}"),
        json!({"from": current.as_str(), "to": next.as_str(), "comment": comment, "approvals": approvals,
               "approvals_needed": row.approvals_needed, "bound_findings": bound}),
    )
    .await?;
    Ok(Decided {
        id,
        state: next,
        approvals,
        approvals_needed: row.approvals_needed as usize,
        bound,
        evaluations: vec![],
    })
}
