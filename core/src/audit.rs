//! The audit log: append-only (the database refuses UPDATE, DELETE and
//! TRUNCATE) and hash-chained, so that an edit made behind the database's back
//! is found by recomputing the chain.
//!
//! Each entry's hash is SHA-256 over the RFC 8785 (JCS) canonical JSON of its
//! sequence number, time, actor, action, object, details and the previous
//! entry's hash. Writers serialise on a table lock taken in their own
//! transaction, so concurrent writers still build one chain, and an entry
//! commits or vanishes with the change it records.

use crate::{CoreError, CoreResult};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// The `prev_hash` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub details: Value,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What an entry's hash covers, in the order and spelling that is hashed.
#[derive(Serialize)]
struct Hashed<'a> {
    seq: i64,
    at: String,
    actor: &'a str,
    action: &'a str,
    object: &'a str,
    details: &'a Value,
    prev_hash: String,
}

/// Computes an entry's hash from its fields.
pub fn entry_hash(
    seq: i64,
    at: OffsetDateTime,
    actor: &str,
    action: &str,
    object: &str,
    details: &Value,
    prev_hash: &[u8],
) -> CoreResult<[u8; 32]> {
    let at = at.format(&Rfc3339).map_err(|e| CoreError::Internal(format!("formatting an audit time: {e}")))?;
    let hashed = Hashed { seq, at, actor, action, object, details, prev_hash: hex::encode(prev_hash) };
    let canonical =
        serde_jcs::to_vec(&hashed).map_err(|e| CoreError::Internal(format!("canonicalising an audit entry: {e}")))?;
    Ok(Sha256::digest(&canonical).into())
}

/// Appends an entry inside the caller's transaction. The table lock (which
/// conflicts only with itself and writers, not with readers) is held until
/// that transaction ends, so no two writers can claim the same predecessor.
pub async fn append(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    object: &str,
    details: Value,
) -> CoreResult<Entry> {
    sqlx::query("lock table audit_log in share row exclusive mode").execute(&mut *conn).await?;
    let last =
        sqlx::query!("select seq, hash from audit_log order by seq desc limit 1").fetch_optional(&mut *conn).await?;
    let (seq, prev_hash) = match last {
        Some(row) => (row.seq + 1, row.hash),
        None => (1, GENESIS.to_vec()),
    };
    // Postgres keeps microseconds; truncate first so the hash recomputes
    // from what is stored.
    let now = OffsetDateTime::now_utc();
    let at =
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000).map_err(|e| CoreError::Internal(e.to_string()))?;
    let hash = entry_hash(seq, at, actor, action, object, &details, &prev_hash)?;
    sqlx::query!(
        "insert into audit_log (seq, at, actor, action, object, details, prev_hash, hash)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
        seq,
        at,
        actor,
        action,
        object,
        details,
        prev_hash,
        &hash[..],
    )
    .execute(&mut *conn)
    .await?;
    Ok(Entry {
        seq,
        at,
        actor: actor.to_owned(),
        action: action.to_owned(),
        object: object.to_owned(),
        details,
        prev_hash,
        hash: hash.to_vec(),
    })
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact { entries: u64, head: Option<String> },
    Broken { seq: i64, reason: String },
}

/// A point of the chain vouched for from outside the database (a signed
/// checkpoint): entry `size` must exist and carry `head` as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub size: i64,
    pub head: Vec<u8>,
    /// How a report names it ("the checkpoint of 2026-12-02 10:00 UTC").
    pub label: String,
}

/// Recomputes the whole chain, a page at a time, and names the first entry
/// that does not follow from its predecessor.
pub async fn verify(pool: &PgPool) -> CoreResult<Verification> {
    verify_against(pool, &[]).await
}

/// Recomputes the whole chain and checks it against anchors: an entry
/// rewritten together with every later hash still contradicts the anchor
/// covering it, and entries deleted from the end leave an anchor beyond it.
pub async fn verify_against(pool: &PgPool, anchors: &[Anchor]) -> CoreResult<Verification> {
    walk(pool, 1, GENESIS.to_vec(), None, anchors).await
}

/// Checks the entries after `from` (an anchor checked before) up to `to`:
/// that entry `from.size` still carries `from.head`, and that every later
/// one follows from it. Cheap where a whole verification is not.
pub async fn verify_since(pool: &PgPool, from: &Anchor, to: i64) -> CoreResult<Verification> {
    let stored =
        sqlx::query_scalar!("select hash from audit_log where seq = $1", from.size).fetch_optional(pool).await?;
    match stored {
        None => Ok(Verification::Broken {
            seq: from.size,
            reason: format!("entry {} is missing, but {} covers it (entries were deleted)", from.size, from.label),
        }),
        Some(h) if h != from.head => Ok(Verification::Broken {
            seq: from.size,
            reason: format!("its hash differs from {} (entries up to it were rewritten)", from.label),
        }),
        Some(_) => walk(pool, from.size + 1, from.head.clone(), Some(to), &[]).await,
    }
}

async fn walk(
    pool: &PgPool,
    first: i64,
    mut prev: Vec<u8>,
    last: Option<i64>,
    anchors: &[Anchor],
) -> CoreResult<Verification> {
    const PAGE: i64 = 2_000;
    let mut anchors: Vec<&Anchor> = anchors.iter().collect();
    anchors.sort_by_key(|a| a.size);
    let mut pending = anchors.iter().peekable();
    let mut checked_to = 0_i64;
    let mut expected_seq = first;
    let last = last.unwrap_or(i64::MAX);
    loop {
        let rows = sqlx::query_as!(
            Entry,
            "select seq, at, actor, action, object, details, prev_hash, hash
             from audit_log where seq >= $1 and seq <= $2 order by seq limit $3",
            expected_seq,
            last,
            PAGE
        )
        .fetch_all(pool)
        .await?;
        let fetched = rows.len();
        for e in rows {
            if e.seq != expected_seq {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!("entry {expected_seq} is missing (next stored entry is {})", e.seq),
                });
            }
            if e.prev_hash != prev {
                return Ok(Verification::Broken {
                    seq: e.seq,
                    reason: "its prev_hash does not match the previous entry's hash".into(),
                });
            }
            let recomputed = entry_hash(e.seq, e.at, &e.actor, &e.action, &e.object, &e.details, &e.prev_hash)?;
            if e.hash != recomputed {
                return Ok(Verification::Broken {
                    seq: e.seq,
                    reason: "its contents do not match its hash (the entry was altered)".into(),
                });
            }
            while let Some(a) = pending.next_if(|a| a.size <= e.seq) {
                if a.size == e.seq && a.head != e.hash {
                    return Ok(Verification::Broken {
                        seq: e.seq,
                        reason: format!(
                            "its hash differs from {}: an entry from {} to {} was rewritten and the hashes after it \
                             recomputed",
                            a.label,
                            checked_to + 1,
                            e.seq
                        ),
                    });
                }
                checked_to = a.size;
            }
            prev = e.hash;
            expected_seq += 1;
        }
        if (fetched as i64) < PAGE {
            let entries = (expected_seq - 1) as u64;
            if let Some(a) = pending.next() {
                return Ok(Verification::Broken {
                    seq: expected_seq,
                    reason: format!(
                        "the log ends at entry {entries}, but {} covers {} entries (entries {expected_seq} to {} were \
                         deleted)",
                        a.label, a.size, a.size
                    ),
                });
            }
            let head = (entries > 0).then(|| hex::encode(&prev));
            return Ok(Verification::Intact { entries, head });
        }
    }
}

/// The newest entry's sequence number and hash.
pub async fn head(pool: &PgPool) -> CoreResult<Option<(i64, Vec<u8>)>> {
    let row = sqlx::query!("select seq, hash from audit_log order by seq desc limit 1").fetch_optional(pool).await?;
    Ok(row.map(|r| (r.seq, r.hash)))
}

/// Filters for listing the log; every field is optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    /// Matches actions starting with this text (`user.` finds every user action).
    pub action_prefix: Option<String>,
    pub object: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    /// Keyset paging: entries with a smaller sequence number than this.
    pub before_seq: Option<i64>,
}

/// Lists entries newest first, at most `limit` (1–500).
pub async fn list(pool: &PgPool, filter: &Filter, limit: i64) -> CoreResult<Vec<Entry>> {
    let limit = limit.clamp(1, 500);
    let prefix = filter
        .action_prefix
        .as_ref()
        .map(|p| format!("{}%", p.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let rows = sqlx::query_as!(
        Entry,
        r#"select seq, at, actor, action, object, details, prev_hash, hash
           from audit_log
           where ($1::text is null or actor = $1)
             and ($2::text is null or action like $2)
             and ($3::text is null or object = $3)
             and ($4::timestamptz is null or at >= $4)
             and ($5::timestamptz is null or at < $5)
             and ($6::int8 is null or seq < $6)
           order by seq desc
           limit $7"#,
        filter.actor,
        prefix,
        filter.object,
        filter.since,
        filter.until,
        filter.before_seq,
        limit
    )
    .fetch_all(pool)
    .await?;
    Ok(rows)
}

/// The number of entries (the newest sequence number).
pub async fn count(pool: &PgPool) -> CoreResult<i64> {
    let n = sqlx::query_scalar!(r#"select coalesce(max(seq), 0) as "n!" from audit_log"#).fetch_one(pool).await?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn the_hash_covers_every_field() {
        let at = datetime!(2026-11-21 10:00:00.123456 UTC);
        let details = json!({"b": 1, "a": [true, null]});
        let base = entry_hash(1, at, "alice", "user.create", "user:bob", &details, &GENESIS).unwrap();
        assert_eq!(base, entry_hash(1, at, "alice", "user.create", "user:bob", &details, &GENESIS).unwrap());
        let changed = [
            entry_hash(2, at, "alice", "user.create", "user:bob", &details, &GENESIS).unwrap(),
            entry_hash(1, at + time::Duration::microseconds(1), "alice", "user.create", "user:bob", &details, &GENESIS)
                .unwrap(),
            entry_hash(1, at, "mallory", "user.create", "user:bob", &details, &GENESIS).unwrap(),
            entry_hash(1, at, "alice", "user.delete", "user:bob", &details, &GENESIS).unwrap(),
            entry_hash(1, at, "alice", "user.create", "user:eve", &details, &GENESIS).unwrap(),
            entry_hash(1, at, "alice", "user.create", "user:bob", &json!({"b": 2, "a": [true, null]}), &GENESIS)
                .unwrap(),
            entry_hash(1, at, "alice", "user.create", "user:bob", &details, &[1; 32]).unwrap(),
        ];
        for (i, h) in changed.iter().enumerate() {
            assert_ne!(&base, h, "changing field {i} must change the hash");
        }
    }

    #[test]
    fn key_order_in_details_does_not_matter() {
        let at = datetime!(2026-11-21 10:00:00 UTC);
        let a: Value = serde_json::from_str(r#"{"x": 1, "y": {"q": 2, "p": 3}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y": {"p": 3, "q": 2}, "x": 1}"#).unwrap();
        assert_eq!(
            entry_hash(1, at, "a", "b", "c", &a, &GENESIS).unwrap(),
            entry_hash(1, at, "a", "b", "c", &b, &GENESIS).unwrap()
        );
    }
}
