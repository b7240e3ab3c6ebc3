//! Writing a snapshot as it arrives: resources and usage days go to the
//! database in batches as they come (each distinct document once, addressed
//! by the SHA-256 of its RFC 8785 canonical JSON), and the snapshot row, its
//! membership arrays and its audit entry at the end. Nothing is held but
//! the current batch and, per resource, a fingerprint, an id and the listing
//! the snapshot's own hash is computed over, so an import's memory does not
//! grow with the size of the documents.

use super::{CollectionError, DailyUsage, ScanScope, READABLE_VERSIONS};
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
    /// Whether the last batch was mostly new: then the next is inserted
    /// first and only what conflicted is looked up; otherwise looked up
    /// first (a re-import finds nearly everything stored).
    documents_mostly_new: bool,
    usage_mostly_new: bool,
    /// Where stored hashes are looked up while the writer goes on: a
    /// second connection (the lookups need nothing this transaction wrote,
    /// whose hashes the writer knows), and the batch being looked up.
    reader: Option<PgPool>,
    documents_looked_up: Option<LookingUp<PendingDoc>>,
    usage_looked_up: Option<LookingUp<PendingUsage>>,
}

/// A batch whose stored hashes are being looked up on the reader.
type LookingUp<T> = tokio::task::JoinHandle<CoreResult<(Vec<T>, HashMap<[u8; 32], i64>)>>;

/// The tables whose rows are addressed by hash.
#[derive(Clone, Copy)]
enum Addressed {
    Documents,
    UsageDays,
}

/// The ids of the rows of `table` whose hash is among `hashes`.
async fn look_up(conn: &mut PgConnection, table: Addressed, hashes: &[Vec<u8>]) -> CoreResult<HashMap<[u8; 32], i64>> {
    let rows: Vec<(Vec<u8>, i64)> = match table {
        Addressed::Documents => sqlx::query!("select hash, id from documents where hash = any($1)", hashes)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.hash, r.id))
            .collect(),
        Addressed::UsageDays => sqlx::query!("select hash, id from usage_days where hash = any($1)", hashes)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|r| (r.hash, r.id))
            .collect(),
    };
    rows.into_iter().map(|(h, id)| Ok((hash32(h)?, id))).collect()
}

/// Starts looking `batch` up on a connection of `pool`.
fn start_lookup<T: Send + 'static>(
    pool: &PgPool,
    table: Addressed,
    batch: Vec<T>,
    hash: fn(&T) -> [u8; 32],
) -> LookingUp<T> {
    let pool = pool.clone();
    tokio::spawn(async move {
        let hashes: Vec<Vec<u8>> = batch.iter().map(|t| hash(t).to_vec()).collect();
        let mut conn = pool.acquire().await?;
        let found = look_up(&mut conn, table, &hashes).await?;
        Ok((batch, found))
    })
}

async fn looked_up<T>(handle: LookingUp<T>) -> CoreResult<(Vec<T>, HashMap<[u8; 32], i64>)> {
    handle.await.map_err(|e| CoreError::Internal(format!("a hash lookup stopped: {e}")))?
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
    if READABLE_VERSIONS.contains(&version) {
        return Ok(());
    }
    let readable: Vec<String> = READABLE_VERSIONS.iter().map(u32::to_string).collect();
    Err(CoreError::InvalidAt {
        path: "schema_version".into(),
        message: format!("version {version} is not supported (this Attest reads {})", readable.join(" and ")),
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

/// A stored SHA-256.
fn hash32(bytes: Vec<u8>) -> CoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| CoreError::Internal("a stored hash is not 32 bytes".into()))
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
            documents_mostly_new: false,
            usage_mostly_new: false,
            reader: None,
            documents_looked_up: None,
            usage_looked_up: None,
        }
    }

    /// A writer that looks stored hashes up on connections of `pool` while
    /// it goes on with the next batch.
    pub fn with_reader(conn: &'c mut PgConnection, pool: PgPool) -> Writer<'c> {
        Writer { reader: Some(pool), ..Writer::new(conn) }
    }

    /// One resource document; `path` names it in errors.
    pub async fn resource(
        &mut self,
        kind: &'static str,
        body: Value,
        path: &str,
        account_id: Option<&str>,
    ) -> CoreResult<()> {
        let hash = document_hash(&body);
        self.resource_hashed(kind, body, hash, path, account_id).await
    }

    /// One resource document whose `document_hash` the caller computed (a
    /// reader on another thread, so that hashing overlaps the writes).
    pub async fn resource_hashed(
        &mut self,
        kind: &'static str,
        body: Value,
        hash: [u8; 32],
        path: &str,
        account_id: Option<&str>,
    ) -> CoreResult<()> {
        let id = resource_id(&body, path)?;
        if !self.seen.insert(fingerprint(&["resource", kind, &id])) {
            return Err(CoreError::InvalidAt { path: path.into(), message: format!("duplicate {kind} {id}") });
        }
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
        self.docs = Vec::with_capacity(BATCH);
        batch.retain(|d| !self.doc_ids.contains_key(&d.hash));
        let mut in_batch = HashSet::new();
        batch.retain(|d| in_batch.insert(d.hash));
        if batch.is_empty() {
            return Ok(());
        }
        // Documents an earlier snapshot stored are looked up by hash, not
        // sent again: sending a body only for the insert to skip it costs
        // PostgreSQL a parse of each. Whichever way goes first, what it
        // leaves is done the other way (a concurrent import may store the
        // same documents).
        if !self.documents_mostly_new {
            if let Some(pool) = &self.reader {
                // Looked up while the next batch is read; the one before is
                // finished meanwhile.
                let next = start_lookup(pool, Addressed::Documents, batch, |d| d.hash);
                if let Some(previous) = self.documents_looked_up.replace(next) {
                    self.finish_document_lookup(previous).await?;
                }
                return Ok(());
            }
            let hashes: Vec<Vec<u8>> = batch.iter().map(|d| d.hash.to_vec()).collect();
            let found = look_up(self.conn, Addressed::Documents, &hashes).await?;
            return self.found_documents(batch, found).await;
        }
        self.store_documents(batch, None).await
    }

    async fn finish_document_lookup(&mut self, handle: LookingUp<PendingDoc>) -> CoreResult<()> {
        let (batch, found) = looked_up(handle).await?;
        self.found_documents(batch, found).await
    }

    /// Remembers what a lookup of `batch` found and inserts the rest.
    async fn found_documents(&mut self, mut batch: Vec<PendingDoc>, found: HashMap<[u8; 32], i64>) -> CoreResult<()> {
        let total = batch.len();
        self.doc_ids.extend(found);
        batch.retain(|d| !self.doc_ids.contains_key(&d.hash));
        self.store_documents(batch, Some(total)).await
    }

    /// Inserts `batch` (none of it known stored), looks up what conflicted,
    /// and decides how the next batch goes: of `total` (the batch before
    /// its lookup, if it had one), were most new?
    async fn store_documents(&mut self, mut batch: Vec<PendingDoc>, total: Option<usize>) -> CoreResult<()> {
        let total = total.unwrap_or(batch.len());
        let inserted = self.insert_documents(&mut batch).await?;
        batch.retain(|d| !self.doc_ids.contains_key(&d.hash));
        if !batch.is_empty() {
            let hashes: Vec<Vec<u8>> = batch.iter().map(|d| d.hash.to_vec()).collect();
            self.look_up_documents(&hashes).await?;
        }
        self.documents_mostly_new = inserted * 2 > total;
        Ok(())
    }

    /// Finishes the lookups still going.
    async fn drain_lookups(&mut self) -> CoreResult<()> {
        if let Some(handle) = self.documents_looked_up.take() {
            self.finish_document_lookup(handle).await?;
        }
        if let Some(handle) = self.usage_looked_up.take() {
            self.finish_usage_lookup(handle).await?;
        }
        Ok(())
    }

    /// Inserts `batch` (bodies taken), remembering the ids of the rows
    /// inserted; returns how many were.
    async fn insert_documents(&mut self, batch: &mut [PendingDoc]) -> CoreResult<usize> {
        if batch.is_empty() {
            return Ok(0);
        }
        let bodies: Vec<Value> = batch.iter_mut().map(|d| d.body.take()).collect();
        let hashes: Vec<Vec<u8>> = batch.iter().map(|d| d.hash.to_vec()).collect();
        let kinds: Vec<&str> = batch.iter().map(|d| d.kind).collect();
        let ids: Vec<&str> = batch.iter().map(|d| d.resource_id.as_str()).collect();
        let accounts: Vec<Option<&str>> = batch.iter().map(|d| d.account_id.as_deref()).collect();
        let rows = sqlx::query!(
            "insert into documents (hash, kind, resource_id, account_id, body)
             select * from unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::jsonb[])
             on conflict (hash) do nothing
             returning hash, id",
            &hashes,
            &kinds as &[&str],
            &ids as &[&str],
            &accounts as &[Option<&str>],
            &bodies
        )
        .fetch_all(&mut *self.conn)
        .await?;
        self.new_documents += rows.len() as u64;
        let inserted = rows.len();
        for row in rows {
            self.doc_ids.insert(hash32(row.hash)?, row.id);
        }
        Ok(inserted)
    }

    /// Records the ids of the stored documents among `hashes`.
    async fn look_up_documents(&mut self, hashes: &[Vec<u8>]) -> CoreResult<()> {
        let found = look_up(self.conn, Addressed::Documents, hashes).await?;
        self.doc_ids.extend(found);
        Ok(())
    }

    async fn flush_usage(&mut self) -> CoreResult<()> {
        let batch: Vec<PendingUsage> = std::mem::take(&mut self.usage);
        self.usage = Vec::with_capacity(BATCH);
        if batch.is_empty() {
            return Ok(());
        }
        // As for documents: the same usage day is stored once, and a
        // re-import finds nearly all of its days stored.
        if !self.usage_mostly_new {
            if let Some(pool) = &self.reader {
                let next = start_lookup(pool, Addressed::UsageDays, batch, |u| u.hash);
                if let Some(previous) = self.usage_looked_up.replace(next) {
                    self.finish_usage_lookup(previous).await?;
                }
                return Ok(());
            }
            let hashes: Vec<Vec<u8>> = batch.iter().map(|u| u.hash.to_vec()).collect();
            let found = look_up(self.conn, Addressed::UsageDays, &hashes).await?;
            return self.found_usage(batch, found).await;
        }
        self.store_usage(batch, None).await
    }

    async fn finish_usage_lookup(&mut self, handle: LookingUp<PendingUsage>) -> CoreResult<()> {
        let (batch, found) = looked_up(handle).await?;
        self.found_usage(batch, found).await
    }

    /// As `found_documents`, for usage days.
    async fn found_usage(&mut self, mut batch: Vec<PendingUsage>, found: HashMap<[u8; 32], i64>) -> CoreResult<()> {
        let total = batch.len();
        batch.retain(|u| !found.contains_key(&u.hash));
        self.usage_ids.extend(found.into_values());
        self.store_usage(batch, Some(total)).await
    }

    /// As `store_documents`, for usage days.
    async fn store_usage(&mut self, mut batch: Vec<PendingUsage>, total: Option<usize>) -> CoreResult<()> {
        let total = total.unwrap_or(batch.len());
        let inserted = self.insert_usage(&batch).await?;
        batch.retain(|u| !inserted.contains(&u.hash));
        if !batch.is_empty() {
            let hashes: Vec<Vec<u8>> = batch.iter().map(|u| u.hash.to_vec()).collect();
            self.look_up_usage(&hashes).await?;
        }
        self.usage_mostly_new = inserted.len() * 2 > total;
        Ok(())
    }

    /// Inserts the usage days of `batch` not stored yet; returns the hashes
    /// of those it inserted (their ids are remembered).
    async fn insert_usage(&mut self, batch: &[PendingUsage]) -> CoreResult<HashSet<[u8; 32]>> {
        if batch.is_empty() {
            return Ok(HashSet::new());
        }
        let hashes: Vec<Vec<u8>> = batch.iter().map(|u| u.hash.to_vec()).collect();
        let accounts: Vec<&str> = batch.iter().map(|u| u.account.as_str()).collect();
        let deployments: Vec<&str> = batch.iter().map(|u| u.usage.deployment.as_str()).collect();
        let days: Vec<time::Date> = batch.iter().map(|u| u.day).collect();
        let n = |f: fn(&DailyUsage) -> u64| -> Vec<i64> { batch.iter().map(|u| clamp(f(&u.usage))).collect() };
        let rows = sqlx::query!(
            "insert into usage_days (hash, account_id, deployment, day, prompt_tokens, completion_tokens,
                                     total_tokens, requests)
             select * from unnest($1::bytea[], $2::text[], $3::text[], $4::date[], $5::int8[], $6::int8[], $7::int8[],
                                  $8::int8[])
             on conflict (hash) do nothing
             returning hash, id",
            &hashes,
            &accounts as &[&str],
            &deployments as &[&str],
            &days,
            &n(|u| u.prompt_tokens),
            &n(|u| u.completion_tokens),
            &n(|u| u.total_tokens),
            &n(|u| u.requests),
        )
        .fetch_all(&mut *self.conn)
        .await?;
        let mut inserted = HashSet::with_capacity(rows.len());
        for row in rows {
            inserted.insert(hash32(row.hash)?);
            self.usage_ids.push(row.id);
        }
        Ok(inserted)
    }

    /// Remembers the ids of the stored usage days among `hashes`; returns
    /// the hashes found.
    async fn look_up_usage(&mut self, hashes: &[Vec<u8>]) -> CoreResult<HashSet<[u8; 32]>> {
        let found = look_up(self.conn, Addressed::UsageDays, hashes).await?;
        self.usage_ids.extend(found.values());
        Ok(found.into_keys().collect())
    }

    /// Writes the snapshot row, its membership and its audit entry; when an
    /// identical snapshot is already stored, only the audit entry.
    pub async fn finish(mut self, header: Header, source: &str, actor: &str) -> CoreResult<Stored> {
        check_schema_version(header.schema_version)?;
        self.flush_documents().await?;
        self.flush_usage().await?;
        self.drain_lookups().await?;

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
