//! Writing a snapshot as it arrives: resources and usage days go to the
//! database in batches as they come (each distinct document once, addressed
//! by the SHA-256 of its RFC 8785 canonical JSON), and the snapshot row, its
//! membership arrays and its audit entry at the end. Nothing is held but
//! the current batch and, per resource, a fingerprint, an id and the listing
//! the snapshot's own hash is computed over, so an import's memory does not
//! grow with the size of the documents.

use super::{CollectionError, DailyUsage, ScanScope, SCHEMA_VERSION};
use crate::{audit, CoreError, CoreResult};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::{HashMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// Rows per INSERT statement.
const BATCH: usize = 5_000;

/// Everything about a snapshot but its resources and usage.
#[derive(Debug, Clone)]
pub struct Header {
    pub schema_version: u32,
    pub scope: ScanScope,
    pub started_at: OffsetDateTime,
    pub finished_at: OffsetDateTime,
    pub collector: String,
    pub errors: Vec<CollectionError>,
}

/// The outcome of storing a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stored {
    pub id: Uuid,
    /// False when the same snapshot was already stored (nothing new was kept).
    pub created: bool,
    pub resources: usize,
    /// Documents not stored by any earlier snapshot.
    pub new_documents: u64,
}

struct PendingDoc {
    kind: &'static str,
    resource_id: String,
    account_id: Option<String>,
    hash: [u8; 32],
    body: Value,
}

struct PendingUsage {
    hash: [u8; 32],
    account: String,
    day: time::Date,
    usage: DailyUsage,
}

pub struct Writer<'c> {
    conn: &'c mut PgConnection,
    docs: Vec<PendingDoc>,
    usage: Vec<PendingUsage>,
    /// Fingerprints of (kind, id) and of (account, deployment, day) seen so far.
    seen: HashSet<u128>,
    doc_ids: HashMap<[u8; 32], i64>,
    usage_ids: Vec<i64>,
    /// (kind, id, document hash) of every resource, for the snapshot's hash.
    listing: Vec<(&'static str, String, [u8; 32])>,
    /// Usage per account, in account order, for the snapshot's hash.
    usage_by_account: Vec<Vec<DailyUsage>>,
    new_documents: u64,
}

/// RFC 8785 canonical JSON.
fn canonical(value: &impl Serialize) -> CoreResult<Vec<u8>> {
    serde_jcs::to_vec(value).map_err(|e| CoreError::Internal(format!("canonical JSON: {e}")))
}

pub fn canonical_hash(value: &impl Serialize) -> CoreResult<[u8; 32]> {
    Ok(Sha256::digest(canonical(value)?).into())
}

/// The address of a parsed document (the same bytes as `canonical_hash`,
/// written without serde_jcs's per-member buffers).
pub fn document_hash(value: &Value) -> [u8; 32] {
    super::canonical::hash(value)
}

fn fingerprint(parts: &[&str]) -> u128 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    u128::from_be_bytes(h.finalize()[..16].try_into().expect("16 bytes"))
}

/// The snapshot's own address: SHA-256 of the RFC 8785 canonical JSON of
/// `{schema_version, scope, started_at, finished_at (as nanosecond strings),
/// collector, errors, usage (per account), resources (sorted [kind, id,
/// hex hash])}`, written straight into the hasher rather than built as one
/// value (for 500,000 resources that value alone took hundreds of MiB).
/// Keys are written in the canonical (sorted) order.
fn content_hash(
    header: &Header,
    listing: &[(&'static str, String, [u8; 32])],
    usage: &[Vec<DailyUsage>],
) -> CoreResult<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(b"{\"collector\":");
    h.update(canonical(&header.collector)?);
    h.update(b",\"errors\":");
    h.update(canonical(&header.errors)?);
    h.update(b",\"finished_at\":");
    h.update(canonical(&header.finished_at.unix_timestamp_nanos().to_string())?);
    h.update(b",\"resources\":[");
    let mut entry = Vec::with_capacity(256);
    for (i, (kind, id, hash)) in listing.iter().enumerate() {
        // [kind, id, hex hash], as serde_jcs writes the tuple.
        entry.clear();
        if i > 0 {
            entry.push(b',');
        }
        entry.push(b'[');
        super::canonical::write_str(kind, &mut entry);
        entry.push(b',');
        super::canonical::write_str(id, &mut entry);
        entry.extend_from_slice(b",\"");
        entry.extend_from_slice(hex::encode(hash).as_bytes());
        entry.extend_from_slice(b"\"]");
        h.update(&entry);
    }
    h.update(b"],\"schema_version\":");
    h.update(canonical(&header.schema_version)?);
    h.update(b",\"scope\":");
    h.update(canonical(&header.scope)?);
    h.update(b",\"started_at\":");
    h.update(canonical(&header.started_at.unix_timestamp_nanos().to_string())?);
    h.update(b",\"usage\":[");
    for (i, rows) in usage.iter().enumerate() {
        if i > 0 {
            h.update(b",");
        }
        h.update(canonical(rows)?);
    }
    h.update(b"]}");
    Ok(h.finalize().into())
}

/// Refuses a snapshot of a schema version this Attest does not read.
pub fn check_schema_version(version: u32) -> CoreResult<()> {
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    Err(CoreError::InvalidAt {
        path: "schema_version".into(),
        message: format!("version {version} is not supported (this Attest reads {SCHEMA_VERSION})"),
    })
}

/// The address of a usage day: SHA-256 of
/// `account|deployment|YYYY-MM-DD|prompt|completion|total|requests`
/// (migration 20261121000003 computes the same in SQL).
fn usage_hash(account: &str, u: &DailyUsage, day: time::Date) -> [u8; 32] {
    let text = format!(
        "{account}|{}|{day}|{}|{}|{}|{}",
        u.deployment,
        clamp(u.prompt_tokens),
        clamp(u.completion_tokens),
        clamp(u.total_tokens),
        clamp(u.requests)
    );
    Sha256::digest(text.as_bytes()).into()
}

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The resource's ARM id, lower-cased; subscriptions may carry only
/// `subscriptionId`.
pub fn resource_id(body: &Value, path: &str) -> CoreResult<String> {
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

/// The key shared by snapshots of the same scope.
pub fn scope_key(scope: &ScanScope) -> String {
    let mut subs: Vec<String> = scope.subscriptions.iter().map(|s| s.to_ascii_lowercase()).collect();
    subs.sort();
    subs.dedup();
    format!("{}|{}", scope.arm_endpoint.trim_end_matches('/').to_ascii_lowercase(), subs.join(","))
}

impl<'c> Writer<'c> {
    /// A writer into the caller's transaction.
    pub fn new(conn: &'c mut PgConnection) -> Writer<'c> {
        Writer {
            conn,
            docs: Vec::with_capacity(BATCH),
            usage: Vec::with_capacity(BATCH),
            seen: HashSet::new(),
            doc_ids: HashMap::new(),
            usage_ids: Vec::new(),
            listing: Vec::new(),
            usage_by_account: Vec::new(),
            new_documents: 0,
        }
    }

    /// One resource document; `path` names it in errors.
    pub async fn resource(
        &mut self,
        kind: &'static str,
        body: Value,
        path: &str,
        account_id: Option<&str>,
    ) -> CoreResult<()> {
        let id = resource_id(&body, path)?;
        if !self.seen.insert(fingerprint(&["resource", kind, &id])) {
            return Err(CoreError::InvalidAt { path: path.into(), message: format!("duplicate {kind} {id}") });
        }
        let hash = document_hash(&body);
        self.listing.push((kind, id.clone(), hash));
        self.docs.push(PendingDoc { kind, resource_id: id, account_id: account_id.map(str::to_string), hash, body });
        if self.docs.len() >= BATCH {
            self.flush_documents().await?;
        }
        Ok(())
    }

    /// Starts the next account's usage (the snapshot's hash nests usage by account).
    pub fn begin_account(&mut self) {
        self.usage_by_account.push(Vec::new());
    }

    /// One day of one deployment's usage, of the account begun last.
    pub async fn usage(&mut self, account: &str, usage: DailyUsage, path: &str) -> CoreResult<()> {
        let day = time::Date::parse(&usage.date, time::macros::format_description!("[year]-[month]-[day]")).map_err(
            |_| CoreError::InvalidAt { path: format!("{path}.date"), message: "expected YYYY-MM-DD".into() },
        )?;
        if !self.seen.insert(fingerprint(&["usage", account, &usage.deployment, &usage.date])) {
            return Err(CoreError::InvalidAt {
                path: path.into(),
                message: format!("two usage rows for deployment {} on {}", usage.deployment, usage.date),
            });
        }
        let hash = usage_hash(account, &usage, day);
        match self.usage_by_account.last_mut() {
            Some(list) => list.push(usage.clone()),
            None => return Err(CoreError::Internal("usage before any account".into())),
        }
        self.usage.push(PendingUsage { hash, account: account.to_string(), day, usage });
        if self.usage.len() >= BATCH {
            self.flush_usage().await?;
        }
        Ok(())
    }

    async fn flush_documents(&mut self) -> CoreResult<()> {
        let mut batch: Vec<PendingDoc> = std::mem::take(&mut self.docs);
        batch.retain(|d| !self.doc_ids.contains_key(&d.hash));
        let mut in_batch = HashSet::new();
        batch.retain(|d| in_batch.insert(d.hash));
        // Documents an earlier snapshot stored are looked up by hash, not
        // sent again: in a re-import nearly every document is one, and
        // sending its body only for the insert to skip it cost PostgreSQL a
        // parse of each (most of the import's time).
        if !batch.is_empty() {
            let hashes: Vec<Vec<u8>> = batch.iter().map(|d| d.hash.to_vec()).collect();
            self.remember_ids(&hashes).await?;
            batch.retain(|d| !self.doc_ids.contains_key(&d.hash));
        }
        if !batch.is_empty() {
            let bodies: Vec<Value> = batch.iter_mut().map(|d| d.body.take()).collect();
            let hashes: Vec<Vec<u8>> = batch.iter().map(|d| d.hash.to_vec()).collect();
            let kinds: Vec<&str> = batch.iter().map(|d| d.kind).collect();
            let ids: Vec<&str> = batch.iter().map(|d| d.resource_id.as_str()).collect();
            let accounts: Vec<Option<&str>> = batch.iter().map(|d| d.account_id.as_deref()).collect();
            self.new_documents += sqlx::query!(
                "insert into documents (hash, kind, resource_id, account_id, body)
                 select * from unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
                 on conflict (hash) do nothing",
                &hashes,
                &kinds as &[&str],
                &ids as &[&str],
                &accounts as &[Option<&str>],
                &bodies
            )
            .execute(&mut *self.conn)
            .await?
            .rows_affected();
            // The conflict clause still covers a concurrent import of the same documents.
            self.remember_ids(&hashes).await?;
        }
        self.docs = Vec::with_capacity(BATCH);
        Ok(())
    }

    /// Records the ids of the stored documents among `hashes`.
    async fn remember_ids(&mut self, hashes: &[Vec<u8>]) -> CoreResult<()> {
        for row in sqlx::query!("select hash, id from documents where hash = any($1)", hashes)
            .fetch_all(&mut *self.conn)
            .await?
        {
            let hash: [u8; 32] =
                row.hash.try_into().map_err(|_| CoreError::Internal("a document hash is not 32 bytes".into()))?;
            self.doc_ids.insert(hash, row.id);
        }
        Ok(())
    }

    async fn flush_usage(&mut self) -> CoreResult<()> {
        let batch: Vec<PendingUsage> = std::mem::take(&mut self.usage);
        if batch.is_empty() {
            return Ok(());
        }
        let hashes: Vec<Vec<u8>> = batch.iter().map(|u| u.hash.to_vec()).collect();
        let accounts: Vec<&str> = batch.iter().map(|u| u.account.as_str()).collect();
        let deployments: Vec<&str> = batch.iter().map(|u| u.usage.deployment.as_str()).collect();
        let days: Vec<time::Date> = batch.iter().map(|u| u.day).collect();
        let n = |f: fn(&DailyUsage) -> u64| -> Vec<i64> { batch.iter().map(|u| clamp(f(&u.usage))).collect() };
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
        .execute(&mut *self.conn)
        .await?;
        self.usage_ids.extend(
            sqlx::query_scalar!("select id from usage_days where hash = any($1)", &hashes)
                .fetch_all(&mut *self.conn)
                .await?,
        );
        self.usage = Vec::with_capacity(BATCH);
        Ok(())
    }

    /// Writes the snapshot row, its membership and its audit entry; when an
    /// identical snapshot is already stored, only the audit entry.
    pub async fn finish(mut self, header: Header, source: &str, actor: &str) -> CoreResult<Stored> {
        check_schema_version(header.schema_version)?;
        self.flush_documents().await?;
        self.flush_usage().await?;

        // Sorting by the raw hash orders as its hex would.
        self.listing.sort_unstable();
        let content_hash = content_hash(&header, &self.listing, &self.usage_by_account)?;
        let resources = self.listing.len();
        let count = |kind: &str| self.listing.iter().filter(|(k, ..)| *k == kind).count() as i32;
        let (accounts, deployments, assignments) = (count("account"), count("deployment"), count("role_assignment"));

        let id = Uuid::new_v4();
        let inserted = sqlx::query_scalar!(
            r#"insert into snapshots (id, content_hash, schema_version, scope, scope_key, started_at, finished_at,
                                      collector, source, imported_by, partial, errors,
                                      account_count, deployment_count, role_assignment_count)
               values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
               on conflict (content_hash) do nothing
               returning id"#,
            id,
            &content_hash[..],
            header.schema_version as i32,
            serde_json::to_value(&header.scope).map_err(|e| CoreError::Internal(e.to_string()))?,
            scope_key(&header.scope),
            header.started_at,
            header.finished_at,
            header.collector,
            source,
            actor,
            !header.errors.is_empty(),
            serde_json::to_value(&header.errors).map_err(|e| CoreError::Internal(e.to_string()))?,
            accounts,
            deployments,
            assignments,
        )
        .fetch_optional(&mut *self.conn)
        .await?;

        let Some(id) = inserted else {
            // Same content hash, so the same documents and usage: nothing new was kept.
            let existing = sqlx::query_scalar!("select id from snapshots where content_hash = $1", &content_hash[..])
                .fetch_one(&mut *self.conn)
                .await?;
            audit::append(
                self.conn,
                actor,
                "snapshot.import",
                &format!("snapshot:{existing}"),
                json!({"source": source, "stored": false, "reason": "identical to a stored snapshot"}),
            )
            .await?;
            return Ok(Stored { id: existing, created: false, resources, new_documents: 0 });
        };

        let mut members: HashMap<&str, Vec<i64>> = HashMap::new();
        for (kind, _, hash) in &self.listing {
            members.entry(kind).or_default().push(self.doc_ids[hash]);
        }
        if !self.usage_ids.is_empty() {
            members.insert("usage", std::mem::take(&mut self.usage_ids));
        }
        for (kind, mut ids) in members {
            ids.sort_unstable();
            ids.dedup();
            sqlx::query!("insert into snapshot_members (snapshot_id, kind, ids) values ($1, $2, $3)", id, kind, &ids)
                .execute(&mut *self.conn)
                .await?;
        }
        audit::append(
            self.conn,
            actor,
            "snapshot.import",
            &format!("snapshot:{id}"),
            json!({
                "source": source,
                "stored": true,
                "resources": resources,
                "new_documents": self.new_documents,
                "partial": !header.errors.is_empty(),
            }),
        )
        .await?;
        Ok(Stored { id, created: true, resources, new_documents: self.new_documents })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::demo;

    #[test]
    fn the_streamed_snapshot_hash_equals_the_canonical_json_of_the_whole() {
        let s = demo::generate(5, 3);
        let header = Header {
            schema_version: s.schema_version,
            scope: s.scope.clone(),
            started_at: s.started_at,
            finished_at: s.finished_at,
            collector: s.collector.clone(),
            errors: vec![CollectionError {
                scope: "/subscriptions/x".into(),
                request: "GET /x?a=\"b\"".into(),
                status: Some(429),
                message: "throttled — é\u{1}".into(),
            }],
        };
        let mut listing: Vec<(&'static str, String, [u8; 32])> = s
            .accounts
            .iter()
            .flat_map(|a| std::iter::once(&a.account).chain(&a.deployments))
            .chain(&s.role_assignments)
            .map(|d| ("doc", resource_id(d, "x").unwrap(), canonical_hash(d).unwrap()))
            .collect();
        listing.sort_unstable();
        let usage: Vec<Vec<DailyUsage>> = s.accounts.iter().map(|a| a.usage.clone()).collect();
        let hex_listing: Vec<(&str, &str, String)> =
            listing.iter().map(|(k, id, h)| (*k, id.as_str(), hex::encode(h))).collect();
        let whole = canonical_hash(&json!({
            "schema_version": header.schema_version,
            "scope": header.scope,
            "started_at": header.started_at.unix_timestamp_nanos().to_string(),
            "finished_at": header.finished_at.unix_timestamp_nanos().to_string(),
            "collector": header.collector,
            "errors": header.errors,
            "usage": usage,
            "resources": hex_listing,
        }))
        .unwrap();
        assert_eq!(content_hash(&header, &listing, &usage).unwrap(), whole);
    }
}
