//! The dashboard's figures: counts the portal actually holds.

use crate::model::{AppError, PortalSummary};
use leptos::prelude::*;

#[server(endpoint = "fn/dashboard/summary")]
pub async fn dashboard_summary() -> Result<PortalSummary, AppError> {
    use crate::ssr::{fmt_time, pool, require};
    require(&[]).await?;
    let pool = pool()?;
    let counts = sqlx::query!(
        r#"select
             (select count(*) from users) as "users!",
             (select count(*) from users where disabled_at is not null) as "disabled!",
             (select count(*) from api_tokens where revoked_at is null) as "tokens!",
             (select coalesce(max(seq), 0) from audit_log) as "audit!",
             (select max(at) from audit_log) as last_audit,
             (select count(*) from snapshots) as "snapshots!""#
    )
    .fetch_one(&pool)
    .await?;
    Ok(PortalSummary {
        users: counts.users,
        disabled_users: counts.disabled,
        active_tokens: counts.tokens,
        audit_entries: counts.audit,
        last_audit_at: counts.last_audit.map(fmt_time),
        snapshots: counts.snapshots,
    })
}
