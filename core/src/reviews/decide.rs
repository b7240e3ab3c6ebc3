//! Deciding a campaign's items, one by one or over a filtered selection,
//! and certifying it once nothing is open. The campaign's row is locked
//! (`for update`) by every step, so a decision racing a certification
//! either lands before it or is refused after it; a certified campaign's
//! items are also frozen by a trigger.

use super::{text, within, Item, ItemFilter, MAX_COMMENT, MAX_NAME};
use crate::audit;
use crate::error::{CoreError, CoreResult};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

/// What a reviewer decides about one role assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Keep,
    Revoke,
    /// To a narrower role or scope, named.
    Change,
    DontKnow,
    OutOfScope,
}

impl Decision {
    pub const ALL: [Decision; 5] =
        [Decision::Keep, Decision::Revoke, Decision::Change, Decision::DontKnow, Decision::OutOfScope];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Keep => "keep",
            Decision::Revoke => "revoke",
            Decision::Change => "change",
            Decision::DontKnow => "dont_know",
            Decision::OutOfScope => "out_of_scope",
        }
    }

    pub fn parse(s: &str) -> CoreResult<Decision> {
        Decision::ALL.into_iter().find(|d| d.as_str() == s).ok_or_else(|| {
            CoreError::invalid("decision", format!("{s:?} is not keep, revoke, change, dont_know or out_of_scope"))
        })
    }
}

/// A decision as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewDecision {
    pub decision: String,
    /// For `change`: the narrower role to hold instead.
    pub role: Option<String>,
    /// For `change`: the narrower scope to hold it at.
    pub scope: Option<String>,
    pub comment: String,
}

/// The campaign, locked; Conflict once certified, NotFound when absent.
async fn open_campaign(conn: &mut PgConnection, campaign: i64) -> CoreResult<()> {
    let certified = sqlx::query_scalar!("select certified_at from review_campaigns where id = $1 for update", campaign)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| CoreError::not_found("review campaign"))?;
    if let Some(at) = certified {
        return Err(CoreError::Conflict(format!(
            "the campaign was certified at {}; it is read-only",
            crate::display::time(at)
        )));
    }
    Ok(())
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Decides one item. `change` names a narrower role or a scope at or below
/// the assignment's; the others take neither.
pub async fn decide(pool: &PgPool, actor: &str, campaign: i64, item: i64, d: &NewDecision) -> CoreResult<Item> {
    let decision = Decision::parse(&d.decision)?;
    let comment = text("comment", &d.comment, MAX_COMMENT)?;
    let (role, scope) = (blank(&d.role), blank(&d.scope));
    let mut tx = pool.begin().await?;
    open_campaign(&mut tx, campaign).await?;
    let current = sqlx::query!(
        "select assignment_id, scope, role, decision from review_items where id = $1 and campaign_id = $2",
        item,
        campaign
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| CoreError::not_found("item in this campaign"))?;
    match decision {
        Decision::Change => {
            if role.is_none() && scope.is_none() {
                return Err(CoreError::invalid("role", "a change names the narrower role, or scope, to hold instead"));
            }
            if let Some(r) = &role {
                text("role", r, MAX_NAME)?;
            }
            if let Some(s) = &scope {
                let wanted = super::normalize_scope(s)?;
                if !within(&current.scope.to_ascii_lowercase(), &wanted) {
                    return Err(CoreError::invalid(
                        "scope",
                        format!("{s} is not at or below the assignment's scope {}", current.scope),
                    ));
                }
            }
        }
        _ if role.is_some() => return Err(CoreError::invalid("role", "only a change names a role")),
        _ if scope.is_some() => return Err(CoreError::invalid("scope", "only a change names a scope")),
        _ => {}
    }
    sqlx::query!(
        "update review_items set decision = $3, new_role = $4, new_scope = $5, comment = $6, decided_by = $7,
                decided_at = now()
          where id = $1 and campaign_id = $2",
        item,
        campaign,
        decision.as_str(),
        role,
        scope,
        comment,
        actor
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "review.decide",
        &format!("review:{campaign}"),
        json!({"item": item, "assignment": current.assignment_id, "role": current.role,
               "decision": decision.as_str(), "new_role": role, "new_scope": scope, "comment": comment,
               "previous": current.decision}),
    )
    .await?;
    let decided = sqlx::query_as!(
        Item,
        r#"select id, assignment_id as assignment, principal_id as principal, principal_name, principal_kind, role,
                  role_definition_id, scope, accounts, flags, level, decision, new_role, new_scope, comment,
                  decided_by, decided_at, suggested, suggested_from, not_reviewed
             from review_items where id = $1"#,
        item
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(decided)
}

/// Decides every item `filter` selects alike, or, with decision
/// `suggested`, confirms each selected item's carried-forward suggestion.
/// A change names a target per item, so it is not decided in bulk.
/// Returns how many were decided.
pub async fn decide_where(
    pool: &PgPool,
    actor: &str,
    campaign: i64,
    filter: &ItemFilter,
    decision: &str,
    comment: &str,
) -> CoreResult<i64> {
    filter.check()?;
    let confirm = decision == "suggested";
    if !confirm && Decision::parse(decision)? == Decision::Change {
        return Err(CoreError::invalid("decision", "a change names its target; decide it item by item"));
    }
    let comment = text("comment", comment, MAX_COMMENT)?;
    let mut tx = pool.begin().await?;
    open_campaign(&mut tx, campaign).await?;
    let decided: Vec<i64> = sqlx::query_scalar!(
        r#"update review_items
              set decision = case when $5 then suggested else $6 end, new_role = null, new_scope = null,
                  comment = $7, decided_by = $8, decided_at = now()
            where campaign_id = $1
              and ($2 = '' or ($2 = 'flagged') = (cardinality(flags) > 0))
              and ($3 = '' or ($3 = 'open' and decision is null) or ($3 = 'decided' and decision is not null)
                   or ($3 = 'suggested' and decision is null and suggested is not null))
              and ($4 = '' or principal_kind = $4)
              and (not $5 or suggested is not null)
            returning id"#,
        campaign,
        filter.flagged,
        filter.status,
        filter.principal_kind,
        confirm,
        decision,
        comment,
        actor
    )
    .fetch_all(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "review.decide_bulk",
        &format!("review:{campaign}"),
        json!({"decision": decision, "comment": comment, "items": decided,
               "filter": {"flagged": filter.flagged, "status": filter.status, "principal_type": filter.principal_kind}}),
    )
    .await?;
    tx.commit().await?;
    Ok(decided.len() as i64)
}

/// Certifies a campaign: Conflict while any item is undecided or once
/// certified; read-only afterwards.
pub async fn certify(pool: &PgPool, actor: &str, campaign: i64, comment: &str) -> CoreResult<()> {
    let comment = text("comment", comment, MAX_COMMENT)?;
    let mut tx = pool.begin().await?;
    open_campaign(&mut tx, campaign).await?;
    let open: i64 = sqlx::query_scalar!(
        r#"select count(*) as "n!" from review_items where campaign_id = $1 and decision is null"#,
        campaign
    )
    .fetch_one(&mut *tx)
    .await?;
    if open > 0 {
        return Err(CoreError::Conflict(format!(
            "{open} {} still undecided; decide every item before certifying",
            if open == 1 { "item is" } else { "items are" }
        )));
    }
    let counts = sqlx::query!(
        r#"select decision as "decision!", count(*) as "n!" from review_items where campaign_id = $1 group by decision"#,
        campaign
    )
    .fetch_all(&mut *tx)
    .await?;
    sqlx::query!(
        "update review_campaigns set certified_by = $2, certified_at = now(), certify_comment = $3 where id = $1",
        campaign,
        actor,
        comment
    )
    .execute(&mut *tx)
    .await?;
    let decisions: serde_json::Map<String, serde_json::Value> =
        counts.into_iter().map(|c| (c.decision, json!(c.n))).collect();
    audit::append(
        &mut tx,
        actor,
        "review.certify",
        &format!("review:{campaign}"),
        json!({"comment": comment, "decisions": decisions}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
