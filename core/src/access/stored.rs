//! The access list's index, stored per snapshot: for each account, one
//! entry per principal that reaches it (who, what kind, which levels, which
//! flags) in the list's order. It is computed once from the snapshot, by
//! the portal's background job after an import or by the first request
//! that needs it, and kept content-addressed per account, so an account
//! whose access did not change shares its set with earlier snapshots. The
//! whole estate's list counts and pages through it, then computes only the
//! rows of the page it shows.

use super::{AccessFilter, AccessRow, Coverage, Estate, Narrow};
use crate::error::{CoreError, CoreResult};
use attest_rbac::{Check, Level};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use uuid::Uuid;

/// A row's filterable facts in 32 bits: its principal's kind (bits 24–26,
/// an index into `principal_types`), the levels held (bits 16–22, by
/// `Level::ALL`) and the flags raised (bits 0–15, by `Check::ALL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u32);

const _: () = assert!(Level::ALL.len() <= 8 && Check::ALL.len() <= 16);

impl Key {
    fn of(row: &AccessRow) -> Key {
        let kind = super::principal_types().iter().position(|k| *k == row.principal.kind).unwrap_or(4) as u32;
        let levels = row
            .levels
            .iter()
            .filter_map(|l| Level::ALL.iter().position(|x| x.as_str() == l.level))
            .fold(0u32, |m, i| m | 1 << i);
        let flags = row
            .flags
            .iter()
            .filter_map(|f| Check::ALL.iter().position(|c| c.name() == f.check))
            .fold(0u32, |m, i| m | 1 << i);
        Key(kind << 24 | levels << 16 | flags)
    }

    /// Whether a row with this key passes the filter's kind, level, flag
    /// and flagged parts (the same tests `matching` makes of a row).
    fn passes(self, f: &Wanted) -> bool {
        let kind = self.0 >> 24 & 0x7;
        let levels = self.0 >> 16 & 0xff;
        let flags = self.0 & 0xffff;
        f.kind.is_none_or(|k| k == kind)
            && f.level.is_none_or(|l| levels & 1 << l != 0)
            && f.flag.is_none_or(|c| flags & 1 << c != 0)
            && (!f.flagged || flags != 0)
    }
}

/// A filter's row tests as indexes into the key's fields.
struct Wanted {
    kind: Option<u32>,
    level: Option<u32>,
    flag: Option<u32>,
    flagged: bool,
    subscription: String,
}

impl Wanted {
    fn of(filter: &AccessFilter) -> Wanted {
        let position = |found: Option<usize>| found.map(|i| i as u32);
        Wanted {
            kind: position(super::principal_types().iter().position(|k| *k == filter.principal_type)),
            level: position(Level::ALL.iter().position(|l| l.as_str() == filter.level)),
            flag: position(Check::ALL.iter().position(|c| c.name() == filter.flag)),
            flagged: filter.flagged,
            subscription: filter.subscription.trim().to_ascii_lowercase(),
        }
    }
}

/// One account's entries: principals (lower-case ids) and their keys, in
/// the list's order.
struct Set {
    account_id: String,
    account_name: String,
    principals: Vec<u32>,
    keys: Vec<Key>,
}

/// A snapshot's index as read back, accounts in the list's order.
pub(super) struct Index {
    pub coverage: Coverage,
    sets: Vec<Set>,
    /// Interned principal ids (the sets refer to them by position).
    principals: Vec<String>,
}

/// The page a filter selects: how many rows match in all, and the
/// (account, principal) pairs of the page, in order.
pub(super) struct Window {
    pub total: i64,
    pub pairs: Vec<(String, String)>,
}

impl Index {
    pub fn window(&self, filter: &AccessFilter) -> Window {
        let wanted = Wanted::of(filter);
        let start = (filter.page - 1).saturating_mul(filter.per_page);
        let end = start.saturating_add(filter.per_page);
        let mut total = 0i64;
        let mut pairs = Vec::new();
        for set in &self.sets {
            if !wanted.subscription.is_empty() && super::subscription_of(&set.account_id) != wanted.subscription {
                continue;
            }
            for (p, key) in set.principals.iter().zip(&set.keys) {
                if !key.passes(&wanted) {
                    continue;
                }
                if (start..end).contains(&total) {
                    pairs.push((set.account_id.to_ascii_lowercase(), self.principals[*p as usize].clone()));
                }
                total += 1;
            }
        }
        Window { total, pairs }
    }
}

/// What storing a snapshot's index did.
#[derive(Debug, Clone, Copy)]
pub struct Materialized {
    pub accounts: usize,
    pub rows: usize,
    /// Sets not stored before (accounts whose access changed).
    pub new_sets: usize,
    /// False when the index was already stored.
    pub created: bool,
}

/// Computes and stores the access index of `snapshot` unless it is stored
/// already; concurrent callers wait for one computation.
pub async fn materialize(pool: &PgPool, snapshot: Uuid) -> CoreResult<Materialized> {
    let mut tx = pool.begin().await?;
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 13))", snapshot)
        .execute(&mut *tx)
        .await?;
    if let Some(done) = sqlx::query!("select accounts, row_count from access_indexes where snapshot_id = $1", snapshot)
        .fetch_optional(&mut *tx)
        .await?
    {
        return Ok(Materialized {
            accounts: done.accounts as usize,
            rows: done.row_count as usize,
            new_sets: 0,
            created: false,
        });
    }
    let estate = Estate::load(pool, snapshot, Narrow::All).await?;
    let mut rows = estate.rows(|_| true);
    super::sort_rows(&mut rows);

    // Every account gets a set, an account nobody reaches an empty one, so
    // the index's accounts are the snapshot's.
    let mut by_account: HashMap<String, (Vec<String>, Vec<u8>)> = HashMap::new();
    for row in &rows {
        let (principals, keys) = by_account.entry(row.account_id.clone()).or_default();
        principals.push(row.principal.id.clone());
        keys.extend(Key::of(row).0.to_le_bytes());
    }
    let (mut ids, mut names, mut hashes, mut principal_lists, mut key_lists) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (name, account) in &estate.accounts {
        let (principals, keys) = by_account.remove(&account.id).unwrap_or_default();
        let principals = principals.join("\n");
        let mut h = Sha256::new();
        for part in [account.id.as_bytes(), principals.as_bytes(), &keys] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        ids.push(account.id.clone());
        names.push(name.clone());
        hashes.push(h.finalize().to_vec());
        principal_lists.push(principals);
        key_lists.push(keys);
    }
    let new_sets = sqlx::query!(
        r#"insert into access_sets (hash, principals, keys)
           select * from unnest($1::bytea[], $2::text[], $3::bytea[])
           on conflict (hash) do nothing"#,
        &hashes,
        &principal_lists,
        &key_lists
    )
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    sqlx::query!(
        r#"insert into snapshot_access (snapshot_id, account_id, account_name, set_hash)
           select $1, * from unnest($2::text[], $3::text[], $4::bytea[])"#,
        snapshot,
        &ids,
        &names,
        &hashes
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        r#"insert into access_indexes (snapshot_id, accounts, row_count, graph, pim)
           values ($1, $2, $3, $4, $5)"#,
        snapshot,
        ids.len() as i32,
        rows.len() as i64,
        estate.coverage.graph,
        estate.coverage.pim
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Materialized { accounts: ids.len(), rows: rows.len(), new_sets, created: true })
}

/// How many snapshots' indexes are kept in memory (about 10 MiB each for
/// 500,000 rows).
const CACHED: usize = 4;

type Cache = Mutex<Vec<(Uuid, Arc<Index>)>>;

static CACHE: LazyLock<Cache> = LazyLock::new(Default::default);

/// The index of `snapshot`, stored first when it is not yet (a snapshot
/// the background job has not reached yet, or one imported before indexes
/// were kept).
pub(super) async fn index(pool: &PgPool, snapshot: Uuid) -> CoreResult<Arc<Index>> {
    let hit =
        CACHE.lock().unwrap_or_else(|e| e.into_inner()).iter().find(|(id, _)| *id == snapshot).map(|(_, i)| i.clone());
    if let Some(index) = hit {
        return Ok(index);
    }
    let header = || sqlx::query_as!(Coverage, "select graph, pim from access_indexes where snapshot_id = $1", snapshot);
    let coverage = match header().fetch_optional(pool).await? {
        Some(c) => c,
        None => {
            materialize(pool, snapshot).await?;
            header().fetch_one(pool).await?
        }
    };
    let stored = sqlx::query!(
        r#"select a.account_id, a.account_name, s.principals, s.keys
             from snapshot_access a join access_sets s on s.hash = a.set_hash
            where a.snapshot_id = $1"#,
        snapshot
    )
    .fetch_all(pool)
    .await?;
    let mut interned: HashMap<String, u32> = HashMap::new();
    let mut principals = Vec::new();
    let mut sets = Vec::with_capacity(stored.len());
    for s in stored {
        if s.keys.len() % 4 != 0 {
            return Err(CoreError::Internal(format!("the access index of {} is damaged", s.account_id)));
        }
        let keys: Vec<Key> =
            s.keys.chunks_exact(4).map(|b| Key(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect();
        let ids: Vec<u32> = s
            .principals
            .split('\n')
            .filter(|p| !p.is_empty())
            .map(|p| {
                *interned.entry(p.to_string()).or_insert_with(|| {
                    principals.push(p.to_string());
                    (principals.len() - 1) as u32
                })
            })
            .collect();
        if ids.len() != keys.len() {
            return Err(CoreError::Internal(format!("the access index of {} is damaged", s.account_id)));
        }
        sets.push(Set { account_id: s.account_id, account_name: s.account_name, principals: ids, keys });
    }
    // The list's order: by account name, then id (the rows within a set
    // are in order already).
    sets.sort_by_cached_key(|s| (s.account_name.to_lowercase(), s.account_id.clone()));
    let index = Arc::new(Index { coverage, sets, principals });
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|(id, _)| *id != snapshot);
    cache.insert(0, (snapshot, index.clone()));
    cache.truncate(CACHED);
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: u32, levels: &[usize], flags: &[usize]) -> Key {
        Key(kind << 24 | levels.iter().fold(0, |m, i| m | 1 << i) << 16 | flags.iter().fold(0, |m, i| m | 1 << i))
    }

    fn filter() -> AccessFilter {
        AccessFilter { page: 1, per_page: 50, ..Default::default() }
    }

    #[test]
    fn a_key_passes_the_parts_of_a_filter_it_holds() {
        let guest_invoker = key(0, &[5], &[7]);
        let plain_reader = key(2, &[6], &[]);
        let pass = |k: Key, f: AccessFilter| k.passes(&Wanted::of(&f));
        assert!(pass(guest_invoker, filter()));
        assert!(pass(guest_invoker, AccessFilter { principal_type: "user".into(), ..filter() }));
        assert!(!pass(plain_reader, AccessFilter { principal_type: "user".into(), ..filter() }));
        assert!(pass(plain_reader, AccessFilter { principal_type: "service_principal".into(), ..filter() }));
        assert!(pass(guest_invoker, AccessFilter { level: "invoke_models".into(), ..filter() }));
        assert!(!pass(guest_invoker, AccessFilter { level: "read_only".into(), ..filter() }));
        assert!(pass(guest_invoker, AccessFilter { flagged: true, ..filter() }));
        assert!(!pass(plain_reader, AccessFilter { flagged: true, ..filter() }));
        let flag = Check::ALL[7].name().to_string();
        assert!(pass(guest_invoker, AccessFilter { flag: flag.clone(), ..filter() }));
        assert!(!pass(key(0, &[5], &[6]), AccessFilter { flag, ..filter() }));
    }

    #[test]
    fn a_window_counts_every_match_and_keeps_the_page() {
        let index = Index {
            coverage: Coverage { graph: true, pim: true },
            principals: vec!["p0".into(), "p1".into(), "p2".into()],
            sets: vec![
                Set {
                    account_id: "/subscriptions/a/x".into(),
                    account_name: "x".into(),
                    principals: vec![0, 1],
                    keys: vec![key(0, &[0], &[1]), key(0, &[6], &[])],
                },
                Set {
                    account_id: "/subscriptions/b/y".into(),
                    account_name: "y".into(),
                    principals: vec![1, 2],
                    keys: vec![key(0, &[5], &[2]), key(2, &[6], &[])],
                },
            ],
        };
        let w = index.window(&AccessFilter { per_page: 2, page: 2, ..filter() });
        assert_eq!(w.total, 4);
        assert_eq!(w.pairs, [("/subscriptions/b/y".into(), "p1".into()), ("/subscriptions/b/y".into(), "p2".into())]);
        let w = index.window(&AccessFilter { flagged: true, ..filter() });
        assert_eq!(w.total, 2);
        assert_eq!(w.pairs, [("/subscriptions/a/x".into(), "p0".into()), ("/subscriptions/b/y".into(), "p1".into())]);
        let w = index.window(&AccessFilter { subscription: "B".into(), page: 3, ..filter() });
        assert_eq!((w.total, w.pairs.len()), (2, 0));
    }
}
