//! The periodic job: approved exemptions past their expiry become expired
//! (evaluation stops honouring them at once anyway; this records it and
//! evaluates the newest snapshots again), and exemptions about to expire
//! get one reminder, in the portal and to a webhook if one is configured.

use super::decide::decide_in;
use super::state::Decision;
use crate::audit;
use crate::error::CoreResult;
use crate::Principal;
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// Who the audit log names for the job's transitions.
pub const SYSTEM: &str = "system:expiry";

/// An exemption nearing its expiry, as the reminder tells it.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub id: i64,
    pub scope: String,
    pub assignment_id: String,
    pub category: String,
    pub requested_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_on: OffsetDateTime,
}

/// What one run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Run {
    pub expired: Vec<i64>,
    pub reminded: Vec<Reminder>,
    pub evaluations: Vec<i64>,
}

/// Expires what is due and reminds of what expires within `remind_days`.
/// Each exemption is handled in its own transaction with its audit entry;
/// rows another run holds are skipped, so two servers never double up.
pub async fn run_once(pool: &PgPool, remind_days: i64) -> CoreResult<Run> {
    let system = Principal { user_id: Uuid::nil(), name: SYSTEM.into(), grants: vec![] };
    let mut run = Run::default();
    loop {
        let mut tx = pool.begin().await?;
        let Some(id) = sqlx::query_scalar!(
            "select id from exemptions where state = 'approved' and expires_on <= now()
              order by expires_on limit 1 for update skip locked"
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            break;
        };
        decide_in(&mut tx, &system, true, id, Decision::Expire, "expired: its expiry date passed").await?;
        tx.commit().await?;
        run.expired.push(id);
    }
    loop {
        let mut tx = pool.begin().await?;
        let Some(r) = sqlx::query_as!(
            Reminder,
            "select id, scope, assignment_id, category, requested_by, expires_on from exemptions
              where state = 'approved' and reminded_at is null and expires_on <= now() + make_interval(days => $1)
              order by expires_on limit 1 for update skip locked",
            remind_days as i32
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            break;
        };
        sqlx::query!("update exemptions set reminded_at = now() where id = $1", r.id).execute(&mut *tx).await?;
        let comment = format!("expires on {}; renew it with a new request if it is still needed", r.expires_on.date());
        sqlx::query!(
            "insert into exemption_events (exemption_id, actor, action, from_state, to_state, comment)
             values ($1, $2, 'remind', 'approved', 'approved', $3)",
            r.id,
            SYSTEM,
            comment
        )
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            SYSTEM,
            "exemption.remind",
            &format!("exemption:{}", r.id),
            json!({"expires_on": r.expires_on.date().to_string()}),
        )
        .await?;
        tx.commit().await?;
        run.reminded.push(r);
    }
    if !run.expired.is_empty() {
        let ids: Vec<String> = run.expired.iter().map(i64::to_string).collect();
        run.evaluations = crate::findings::assignments::reevaluate_newest(
            pool,
            SYSTEM,
            &format!("exemption {} expired", ids.join(", ")),
        )
        .await?;
    }
    Ok(run)
}
