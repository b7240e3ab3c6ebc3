//! Stored snapshots (every signed-in role may see what has been collected).

use crate::model::{AppError, SnapshotRow};
use leptos::prelude::*;

#[server(endpoint = "fn/snapshots/list")]
pub async fn list_snapshots() -> Result<Vec<SnapshotRow>, AppError> {
    use crate::ssr::{fmt_time, pool, require};
    require(&[]).await?;
    let rows = attest_core::snapshot::store::list(&pool()?, 200).await?;
    Ok(rows
        .into_iter()
        .map(|s| SnapshotRow {
            id: s.id.to_string(),
            source: s.source,
            scope: describe_scope(&s.scope_key),
            finished_at: fmt_time(s.finished_at),
            imported_at: fmt_time(s.imported_at),
            imported_by: s.imported_by,
            partial: s.partial,
            accounts: s.account_count,
            deployments: s.deployment_count,
            role_assignments: s.role_assignment_count,
        })
        .collect())
}

/// "3 subscriptions on management.azure.com" from a scope key.
#[cfg(feature = "ssr")]
pub(crate) fn describe_scope(key: &str) -> String {
    let (endpoint, subs) = key.split_once('|').unwrap_or((key, ""));
    let host = endpoint.trim_start_matches("https://").trim_start_matches("http://");
    let n = subs.split(',').filter(|s| !s.is_empty()).count();
    format!("{n} subscription{} on {host}", if n == 1 { "" } else { "s" })
}
