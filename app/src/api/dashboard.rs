//! The dashboard's figures: counts the portal actually holds.

use crate::model::{AppError, PortalSummary};
use leptos::prelude::*;

#[server(endpoint = "fn/dashboard/summary")]
pub async fn dashboard_summary() -> Result<PortalSummary, AppError> {
    use crate::ssr::{fmt_time, pool, require};
    require(&[]).await?;
    let pool = pool()?;
    let counts = attest_core::portal::counts(&pool).await.map_err(|e| crate::ssr::fail(crate::ssr::core(e)))?;
    Ok(PortalSummary {
        users: counts.users,
        disabled_users: counts.disabled_users,
        active_tokens: counts.active_tokens,
        audit_entries: counts.audit_entries,
        last_audit_at: counts.last_audit_at.map(fmt_time),
        snapshots: counts.snapshots,
    })
}
