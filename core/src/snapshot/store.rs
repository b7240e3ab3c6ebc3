//! Storing snapshots from a `Snapshot` in memory (`insert`; files are read as
//! a stream by `ingest::import`), both through `writer::Writer`; and listing
//! them.
//! The same snapshot stored twice is kept once.

use super::{
    writer::{self, Header, Writer},
    AccountRecord, Snapshot,
};
use crate::CoreResult;
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Scan,
    Import,
    Api,
    Upload,
    Demo,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Scan => "scan",
            Source::Import => "import",
            Source::Api => "api",
            Source::Upload => "upload",
            Source::Demo => "demo",
        }
    }
}

pub use super::writer::Stored;

/// Stores `snapshot` in the caller's transaction, with its audit entry.
pub async fn insert(tx: &mut PgConnection, snapshot: &Snapshot, source: Source, actor: &str) -> CoreResult<Stored> {
    let mut w = Writer::new(tx);
    for (i, s) in snapshot.subscriptions.iter().enumerate() {
        w.resource("subscription", s.clone(), &format!("subscriptions[{i}]"), None).await?;
    }
    for (i, a) in snapshot.accounts.iter().enumerate() {
        write_account(&mut w, i, a).await?;
    }
    for (kind, list, name) in [
        ("role_assignment", &snapshot.role_assignments, "role_assignments"),
        ("role_definition", &snapshot.role_definitions, "role_definitions"),
        ("deny_assignment", &snapshot.deny_assignments, "deny_assignments"),
        (
            "role_eligibility_instance",
            &snapshot.role_eligibility_schedule_instances,
            "role_eligibility_schedule_instances",
        ),
        (
            "role_assignment_instance",
            &snapshot.role_assignment_schedule_instances,
            "role_assignment_schedule_instances",
        ),
        ("principal", &snapshot.principals, "principals"),
        ("policy_assignment", &snapshot.policy_assignments, "policy_assignments"),
        ("policy_exemption", &snapshot.policy_exemptions, "policy_exemptions"),
        ("provider", &snapshot.providers, "providers"),
    ] {
        for (i, doc) in list.iter().enumerate() {
            w.resource(kind, doc.clone(), &format!("{name}[{i}]"), None).await?;
        }
    }
    let header = Header {
        schema_version: snapshot.schema_version,
        scope: snapshot.scope.clone(),
        started_at: snapshot.started_at,
        finished_at: snapshot.finished_at,
        collector: snapshot.collector.clone(),
        errors: snapshot.errors.clone(),
    };
    w.finish(header, source.as_str(), actor).await
}

/// One account and everything beneath it, as the `i`th account.
pub(crate) async fn write_account(w: &mut Writer<'_>, i: usize, a: &AccountRecord) -> CoreResult<()> {
    let path = |rest: &str| format!("accounts[{i}].{rest}");
    let account_id = writer::resource_id(&a.account, &path("account"))?;
    let acc = Some(account_id.as_str());
    w.begin_account();
    w.resource("account", a.account.clone(), &path("account"), None).await?;
    for (j, d) in a.deployments.iter().enumerate() {
        w.resource("deployment", d.clone(), &path(&format!("deployments[{j}]")), acc).await?;
    }
    for (j, p) in a.rai_policies.iter().enumerate() {
        w.resource("rai_policy", p.clone(), &path(&format!("rai_policies[{j}]")), acc).await?;
    }
    for (j, b) in a.rai_blocklists.iter().enumerate() {
        w.resource("rai_blocklist", b.blocklist.clone(), &path(&format!("rai_blocklists[{j}].blocklist")), acc).await?;
        for (k, item) in b.items.iter().enumerate() {
            w.resource("rai_blocklist_item", item.clone(), &path(&format!("rai_blocklists[{j}].items[{k}]")), acc)
                .await?;
        }
    }
    for (j, pe) in a.private_endpoint_connections.iter().enumerate() {
        w.resource(
            "private_endpoint_connection",
            pe.clone(),
            &path(&format!("private_endpoint_connections[{j}]")),
            acc,
        )
        .await?;
    }
    for (j, d) in a.diagnostic_settings.iter().enumerate() {
        w.resource("diagnostic_setting", d.clone(), &path(&format!("diagnostic_settings[{j}]")), acc).await?;
    }
    for (j, u) in a.usage.iter().enumerate() {
        w.usage(&account_id, u.clone(), &path(&format!("usage[{j}]"))).await?;
    }
    Ok(())
}

/// A stored snapshot as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub id: Uuid,
    pub source: String,
    pub scope_key: String,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub imported_at: OffsetDateTime,
    pub imported_by: String,
    pub partial: bool,
    pub account_count: i32,
    pub deployment_count: i32,
    pub role_assignment_count: i32,
}

/// Stored snapshots, newest scan first.
pub async fn list(pool: &PgPool, limit: i64) -> CoreResult<Vec<Summary>> {
    Ok(sqlx::query_as!(
        Summary,
        "select id, source, scope_key, started_at, finished_at, imported_at, imported_by, partial,
                account_count, deployment_count, role_assignment_count
         from snapshots order by finished_at desc, imported_at desc limit $1",
        limit.clamp(1, 1000)
    )
    .fetch_all(pool)
    .await?)
}

pub async fn count(pool: &PgPool) -> CoreResult<i64> {
    Ok(sqlx::query_scalar!(r#"select count(*) as "n!" from snapshots"#).fetch_one(pool).await?)
}
