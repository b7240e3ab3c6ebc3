//! What the portal itself holds, for the dashboard: accounts, tokens, the
//! audit log and snapshots, counted in one statement.

use crate::error::CoreResult;
use sqlx::PgPool;
use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct PortalCounts {
    pub users: i64,
    pub disabled_users: i64,
    pub active_tokens: i64,
    pub audit_entries: i64,
    pub last_audit_at: Option<OffsetDateTime>,
    pub snapshots: i64,
}

pub async fn counts(pool: &PgPool) -> CoreResult<PortalCounts> {
    let counts = sqlx::query!(
        r#"select
             (select count(*) from users) as "users!",
             (select count(*) from users where disabled_at is not null) as "disabled!",
             (select count(*) from api_tokens where revoked_at is null) as "tokens!",
             (select coalesce(max(seq), 0) from audit_log) as "audit!",
             (select max(at) from audit_log) as last_audit,
             (select count(*) from snapshots) as "snapshots!""#
    )
    .fetch_one(pool)
    .await?;
    Ok(PortalCounts {
        users: counts.users,
        disabled_users: counts.disabled,
        active_tokens: counts.tokens,
        audit_entries: counts.audit,
        last_audit_at: counts.last_audit,
        snapshots: counts.snapshots,
    })
}
