//! Storing snapshots: each resource document once, addressed by the SHA-256
//! of its canonical JSON; each snapshot as references to documents. The same
//! snapshot imported twice is stored once. Inserts are batched (UNNEST over
//! arrays), so large estates cost few round trips.

use super::{Snapshot, SCHEMA_VERSION};
use crate::{audit, CoreError, CoreResult};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows per INSERT statement.
const BATCH: usize = 5_000;

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

/// The outcome of storing a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub id: Uuid,
    /// False when the same snapshot was already stored (nothing was written).
    pub created: bool,
    pub resources: usize,
    /// Documents not stored by any earlier snapshot.
    pub new_documents: u64,
}

/// One resource of a snapshot, flattened for storage.
struct Row<'a> {
    kind: &'static str,
    resource_id: String,
    account_id: Option<String>,
    hash: [u8; 32],
    body: &'a Value,
}

fn canonical_hash(value: &impl Serialize) -> CoreResult<[u8; 32]> {
    let bytes = serde_jcs::to_vec(value).map_err(|e| CoreError::Internal(format!("canonical JSON: {e}")))?;
    Ok(Sha256::digest(&bytes).into())
}

/// The address of a usage day: SHA-256 of
/// `account|deployment|YYYY-MM-DD|prompt|completion|total|requests`
/// (migration 20261121000003 computes the same in SQL).
fn usage_hash(account: &str, u: &super::DailyUsage, day: time::Date) -> [u8; 32] {
    let text = format!(
        "{account}|{}|{day}|{}|{}|{}|{}",
        u.deployment,
        i64::try_from(u.prompt_tokens).unwrap_or(i64::MAX),
        i64::try_from(u.completion_tokens).unwrap_or(i64::MAX),
        i64::try_from(u.total_tokens).unwrap_or(i64::MAX),
        i64::try_from(u.requests).unwrap_or(i64::MAX)
    );
    Sha256::digest(text.as_bytes()).into()
}

/// The resource's ARM id, lower-cased; subscriptions may carry only
/// `subscriptionId`.
fn resource_id(body: &Value, path: &str) -> CoreResult<String> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| body.get("subscriptionId").and_then(Value::as_str).map(|s| format!("/subscriptions/{s}")));
    match id {
        Some(id) if !id.trim().is_empty() => Ok(id.to_ascii_lowercase()),
        _ => {
            Err(CoreError::InvalidAt { path: format!("{path}.id"), message: "every resource needs its ARM id".into() })
        }
    }
}

struct Collector<'a> {
    rows: Vec<Row<'a>>,
    seen: HashSet<(&'static str, String)>,
}

impl<'a> Collector<'a> {
    fn push(&mut self, kind: &'static str, body: &'a Value, path: String, account_id: Option<&str>) -> CoreResult<()> {
        let id = resource_id(body, &path)?;
        if !self.seen.insert((kind, id.clone())) {
            return Err(CoreError::InvalidAt { path, message: format!("duplicate {kind} {id}") });
        }
        let hash = canonical_hash(body)?;
        self.rows.push(Row { kind, resource_id: id, account_id: account_id.map(str::to_string), hash, body });
        Ok(())
    }
}

fn flatten(snapshot: &Snapshot) -> CoreResult<Vec<Row<'_>>> {
    let mut c = Collector { rows: Vec::new(), seen: HashSet::new() };
    for (i, s) in snapshot.subscriptions.iter().enumerate() {
        c.push("subscription", s, format!("subscriptions[{i}]"), None)?;
    }
    for (i, a) in snapshot.accounts.iter().enumerate() {
        let account_id = resource_id(&a.account, &format!("accounts[{i}].account"))?;
        let acc = Some(account_id.as_str());
        c.push("account", &a.account, format!("accounts[{i}].account"), None)?;
        for (j, d) in a.deployments.iter().enumerate() {
            c.push("deployment", d, format!("accounts[{i}].deployments[{j}]"), acc)?;
        }
        for (j, p) in a.rai_policies.iter().enumerate() {
            c.push("rai_policy", p, format!("accounts[{i}].rai_policies[{j}]"), acc)?;
        }
        for (j, b) in a.rai_blocklists.iter().enumerate() {
            c.push("rai_blocklist", &b.blocklist, format!("accounts[{i}].rai_blocklists[{j}].blocklist"), acc)?;
            for (k, item) in b.items.iter().enumerate() {
                c.push("rai_blocklist_item", item, format!("accounts[{i}].rai_blocklists[{j}].items[{k}]"), acc)?;
            }
        }
        for (j, pe) in a.private_endpoint_connections.iter().enumerate() {
            c.push("private_endpoint_connection", pe, format!("accounts[{i}].private_endpoint_connections[{j}]"), acc)?;
        }
        for (j, d) in a.diagnostic_settings.iter().enumerate() {
            c.push("diagnostic_setting", d, format!("accounts[{i}].diagnostic_settings[{j}]"), acc)?;
        }
    }
    for (kind, list, name) in [
        ("role_assignment", &snapshot.role_assignments, "role_assignments"),
        ("role_definition", &snapshot.role_definitions, "role_definitions"),
        ("policy_assignment", &snapshot.policy_assignments, "policy_assignments"),
        ("policy_exemption", &snapshot.policy_exemptions, "policy_exemptions"),
    ] {
        for (i, doc) in list.iter().enumerate() {
            c.push(kind, doc, format!("{name}[{i}]"), None)?;
        }
    }
    Ok(c.rows)
}

/// The key shared by snapshots of the same scope.
pub fn scope_key(snapshot: &Snapshot) -> String {
    let mut subs: Vec<String> = snapshot.scope.subscriptions.iter().map(|s| s.to_ascii_lowercase()).collect();
    subs.sort();
    subs.dedup();
    format!("{}|{}", snapshot.scope.arm_endpoint.trim_end_matches('/').to_ascii_lowercase(), subs.join(","))
}

/// Stores `snapshot` in the caller's transaction, with its audit entry.
pub async fn insert(tx: &mut PgConnection, snapshot: &Snapshot, source: Source, actor: &str) -> CoreResult<Stored> {
    let rows = flatten(snapshot)?;
    let usage_rows: Vec<(String, &super::DailyUsage, time::Date)> = snapshot
        .accounts
        .iter()
        .enumerate()
        .flat_map(|(i, a)| a.usage.iter().enumerate().map(move |(j, u)| (i, j, a, u)))
        .map(|(i, j, a, u)| {
            let day = time::Date::parse(&u.date, time::macros::format_description!("[year]-[month]-[day]")).map_err(
                |_| CoreError::InvalidAt {
                    path: format!("accounts[{i}].usage[{j}].date"),
                    message: "expected YYYY-MM-DD".into(),
                },
            )?;
            Ok((resource_id(&a.account, &format!("accounts[{i}].account"))?, u, day))
        })
        .collect::<CoreResult<_>>()?;
    let mut days_seen = HashSet::with_capacity(usage_rows.len());
    for (account, u, day) in &usage_rows {
        if !days_seen.insert((account.as_str(), u.deployment.as_str(), *day)) {
            return Err(CoreError::InvalidAt {
                path: "accounts[].usage".into(),
                message: format!("two usage rows for deployment {} of {account} on {day}", u.deployment),
            });
        }
    }

    let mut listing: Vec<(&str, &str, String)> =
        rows.iter().map(|r| (r.kind, r.resource_id.as_str(), hex::encode(r.hash))).collect();
    listing.sort();
    let content_hash = canonical_hash(&json!({
        "schema_version": snapshot.schema_version,
        "scope": snapshot.scope,
        "started_at": snapshot.started_at.unix_timestamp_nanos().to_string(),
        "finished_at": snapshot.finished_at.unix_timestamp_nanos().to_string(),
        "collector": snapshot.collector,
        "errors": snapshot.errors,
        "usage": snapshot.accounts.iter().map(|a| &a.usage).collect::<Vec<_>>(),
        "resources": listing,
    }))?;

    let id = Uuid::new_v4();
    let count = |kind: &str| rows.iter().filter(|r| r.kind == kind).count() as i32;
    let inserted = sqlx::query_scalar!(
        r#"insert into snapshots (id, content_hash, schema_version, scope, scope_key, started_at, finished_at,
                                  collector, source, imported_by, partial, errors,
                                  account_count, deployment_count, role_assignment_count)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           on conflict (content_hash) do nothing
           returning id"#,
        id,
        &content_hash[..],
        SCHEMA_VERSION as i32,
        serde_json::to_value(&snapshot.scope).map_err(|e| CoreError::Internal(e.to_string()))?,
        scope_key(snapshot),
        snapshot.started_at,
        snapshot.finished_at,
        snapshot.collector,
        source.as_str(),
        actor,
        snapshot.is_partial(),
        serde_json::to_value(&snapshot.errors).map_err(|e| CoreError::Internal(e.to_string()))?,
        count("account"),
        count("deployment"),
        count("role_assignment"),
    )
    .fetch_optional(&mut *tx)
    .await?;

    let Some(id) = inserted else {
        let existing = sqlx::query_scalar!("select id from snapshots where content_hash = $1", &content_hash[..])
            .fetch_one(&mut *tx)
            .await?;
        audit::append(
            tx,
            actor,
            "snapshot.import",
            &format!("snapshot:{existing}"),
            json!({"source": source.as_str(), "stored": false, "reason": "identical to a stored snapshot"}),
        )
        .await?;
        return Ok(Stored { id: existing, created: false, resources: rows.len(), new_documents: 0 });
    };

    // Documents first (each once), then the snapshot's members: per kind,
    // the sorted ids of its documents.
    let mut unique: HashMap<[u8; 32], &Row> = HashMap::with_capacity(rows.len());
    for r in &rows {
        unique.entry(r.hash).or_insert(r);
    }
    let docs: Vec<&Row> = unique.into_values().collect();
    let mut new_documents = 0;
    let mut document_ids: HashMap<[u8; 32], i64> = HashMap::with_capacity(docs.len());
    for chunk in docs.chunks(BATCH) {
        let hashes: Vec<Vec<u8>> = chunk.iter().map(|r| r.hash.to_vec()).collect();
        let kinds: Vec<&str> = chunk.iter().map(|r| r.kind).collect();
        let ids: Vec<&str> = chunk.iter().map(|r| r.resource_id.as_str()).collect();
        let accounts: Vec<Option<&str>> = chunk.iter().map(|r| r.account_id.as_deref()).collect();
        let bodies: Vec<Value> = chunk.iter().map(|r| r.body.clone()).collect();
        new_documents += sqlx::query!(
            "insert into documents (hash, kind, resource_id, account_id, body)
             select * from unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
             on conflict (hash) do nothing",
            &hashes,
            &kinds as &[&str],
            &ids as &[&str],
            &accounts as &[Option<&str>],
            &bodies
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for row in
            sqlx::query!("select hash, id from documents where hash = any($1)", &hashes).fetch_all(&mut *tx).await?
        {
            document_ids.insert(row.hash.try_into().map_err(|_| CoreError::Internal("a 32-byte hash".into()))?, row.id);
        }
    }
    let mut members: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in &rows {
        members.entry(r.kind).or_default().push(document_ids[&r.hash]);
    }

    // Usage days, each distinct row once, addressed by the same text the
    // migration that introduced them hashes.
    let mut usage_ids = Vec::with_capacity(usage_rows.len());
    for chunk in usage_rows.chunks(BATCH) {
        let hashes: Vec<Vec<u8>> = chunk.iter().map(|(a, u, d)| usage_hash(a, u, *d).to_vec()).collect();
        let accounts: Vec<&str> = chunk.iter().map(|(a, _, _)| a.as_str()).collect();
        let deployments: Vec<&str> = chunk.iter().map(|(_, u, _)| u.deployment.as_str()).collect();
        let days: Vec<time::Date> = chunk.iter().map(|(_, _, d)| *d).collect();
        let n = |f: fn(&super::DailyUsage) -> u64| -> Vec<i64> {
            chunk.iter().map(|(_, u, _)| i64::try_from(f(u)).unwrap_or(i64::MAX)).collect()
        };
        sqlx::query!(
            "insert into usage_days (hash, account_id, deployment, day, prompt_tokens, completion_tokens,
                                     total_tokens, requests)
             select * from unnest($1::bytea[], $2::text[], $3::text[], $4::date[], $5::int8[], $6::int8[], $7::int8[],
                                  $8::int8[])
             on conflict (hash) do nothing",
            &hashes,
            &accounts as &[&str],
            &deployments as &[&str],
            &days,
            &n(|u| u.prompt_tokens),
            &n(|u| u.completion_tokens),
            &n(|u| u.total_tokens),
            &n(|u| u.requests),
        )
        .execute(&mut *tx)
        .await?;
        usage_ids.extend(
            sqlx::query_scalar!("select id from usage_days where hash = any($1)", &hashes).fetch_all(&mut *tx).await?,
        );
    }
    if !usage_ids.is_empty() {
        members.insert("usage", usage_ids);
    }
    for (kind, mut ids) in members {
        ids.sort_unstable();
        ids.dedup();
        sqlx::query!("insert into snapshot_members (snapshot_id, kind, ids) values ($1, $2, $3)", id, kind, &ids)
            .execute(&mut *tx)
            .await?;
    }
    audit::append(
        tx,
        actor,
        "snapshot.import",
        &format!("snapshot:{id}"),
        json!({
            "source": source.as_str(),
            "stored": true,
            "resources": rows.len(),
            "new_documents": new_documents,
            "partial": snapshot.is_partial(),
        }),
    )
    .await?;
    Ok(Stored { id, created: true, resources: rows.len(), new_documents })
}

/// Decodes a snapshot file (JSON or gzip, within `limit`) and stores it in
/// one transaction: if anything fails, nothing is written. Returns what was
/// stored and how many collection errors the snapshot records.
pub async fn import(
    pool: &PgPool,
    bytes: &[u8],
    limit: usize,
    source: Source,
    actor: &str,
) -> CoreResult<(Stored, usize)> {
    let snapshot = super::decode::decode(bytes, limit)?;
    let mut tx = pool.begin().await?;
    let stored = insert(&mut tx, &snapshot, source, actor).await?;
    tx.commit().await?;
    Ok((stored, snapshot.errors.len()))
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
