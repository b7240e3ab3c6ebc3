//! Reading stored snapshots back: one snapshot's inventory of a resource
//! kind (filtered, sorted and paged in the database), a single resource, and
//! the difference between two snapshots of the same scope.

use super::diff::{self, PropertyChange};
use crate::{CoreError, CoreResult};
use serde_json::Value;
use sqlx::PgPool;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// The resource kinds an inventory lists, as stored.
pub const KINDS: [&str; 6] =
    ["account", "deployment", "rai_policy", "diagnostic_setting", "private_endpoint_connection", "role_assignment"];

/// Sort keys an inventory accepts.
pub const SORTS: [&str; 7] = ["id", "name", "location", "kind", "sku", "model", "account"];

/// Flags an inventory filters on (empty: no flag).
pub const FLAGS: [&str; 5] = ["", "public", "keys", "unfiltered", "global"];

/// Longest free-text filter accepted.
pub const MAX_FILTER: usize = 200;

#[derive(Debug, Clone)]
pub struct InventoryQuery {
    pub snapshot: Uuid,
    pub kind: String,
    /// Matches the id, name, location, kind, SKU, model or principal type.
    pub text: String,
    /// One of `FLAGS`.
    pub flag: String,
    /// One of `SORTS`.
    pub sort: String,
    pub descending: bool,
    pub offset: i64,
    pub limit: i64,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub resource_id: String,
    pub account_id: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub struct InventoryPage {
    pub header: SnapshotHeader,
    pub items: Vec<Item>,
    pub total: i64,
    /// Role names by lower-cased role definition GUID (for role assignments).
    pub role_names: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct SnapshotHeader {
    pub id: Uuid,
    pub scope_key: String,
    pub finished_at: OffsetDateTime,
    pub source: String,
    pub partial: bool,
    pub errors: Value,
    pub account_count: i32,
    pub deployment_count: i32,
    pub role_assignment_count: i32,
}

fn invalid(path: &str, message: impl Into<String>) -> CoreError {
    CoreError::InvalidAt { path: path.into(), message: message.into() }
}

/// A snapshot's header, or NotFound.
pub async fn header(pool: &PgPool, id: Uuid) -> CoreResult<SnapshotHeader> {
    sqlx::query_as!(
        SnapshotHeader,
        r#"select id, scope_key, finished_at, source, partial, errors, account_count, deployment_count,
                  role_assignment_count
           from snapshots where id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::not_found("snapshot"))
}

/// Escapes LIKE's wildcards in user text.
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

pub async fn inventory(pool: &PgPool, q: &InventoryQuery) -> CoreResult<InventoryPage> {
    if !KINDS.contains(&q.kind.as_str()) {
        return Err(invalid("kind", format!("unknown resource kind {:?}", q.kind)));
    }
    if !SORTS.contains(&q.sort.as_str()) {
        return Err(invalid("sort", format!("cannot sort by {:?}", q.sort)));
    }
    if !FLAGS.contains(&q.flag.as_str()) {
        return Err(invalid("flag", format!("unknown filter {:?}", q.flag)));
    }
    if q.text.chars().count() > MAX_FILTER {
        return Err(invalid("q", format!("at most {MAX_FILTER} characters")));
    }
    if !(1..=500).contains(&q.limit) || q.offset < 0 {
        return Err(invalid("page", "out of range"));
    }
    let header = header(pool, q.snapshot).await?;
    let text = q.text.trim().to_lowercase();
    let pattern = format!("%{}%", like_escape(&text));
    let rows = sqlx::query!(
        r#"select r.resource_id as "resource_id!", r.account_id, d.body, count(*) over () as "total!"
           from snapshot_resources r join documents d on d.hash = r.document_hash
           where r.snapshot_id = $1 and r.kind = $2
             and ($3 = '' or r.resource_id like $4
                  or lower(coalesce(d.body->>'location', '')) like $4
                  or lower(coalesce(d.body->>'kind', '')) like $4
                  or lower(coalesce(d.body#>>'{sku,name}', '')) like $4
                  or lower(coalesce(d.body#>>'{properties,model,name}', '')) like $4
                  or lower(coalesce(d.body#>>'{properties,principalType}', '')) like $4)
             and ($5 = ''
                  or ($5 = 'public' and coalesce(d.body#>>'{properties,publicNetworkAccess}', 'Enabled') <> 'Disabled')
                  or ($5 = 'keys' and coalesce(d.body#>>'{properties,disableLocalAuth}', 'false') <> 'true')
                  or ($5 = 'unfiltered' and coalesce(d.body#>>'{properties,raiPolicyName}', '') = '')
                  or ($5 = 'global' and d.body#>>'{sku,name}' like 'Global%'))
           order by
             case when $7 then null else
               case $6 when 'name' then lower(d.body->>'name') when 'location' then lower(d.body->>'location')
                       when 'kind' then lower(coalesce(d.body->>'kind', d.body#>>'{properties,principalType}'))
                       when 'sku' then lower(d.body#>>'{sku,name}') when 'model' then lower(d.body#>>'{properties,model,name}')
                       when 'account' then r.account_id else r.resource_id end end asc nulls last,
             case when $7 then
               case $6 when 'name' then lower(d.body->>'name') when 'location' then lower(d.body->>'location')
                       when 'kind' then lower(coalesce(d.body->>'kind', d.body#>>'{properties,principalType}'))
                       when 'sku' then lower(d.body#>>'{sku,name}') when 'model' then lower(d.body#>>'{properties,model,name}')
                       when 'account' then r.account_id else r.resource_id end end desc nulls last,
             r.resource_id
           limit $8 offset $9"#,
        q.snapshot,
        q.kind,
        text,
        pattern,
        q.flag,
        q.sort,
        q.descending,
        q.limit,
        q.offset,
    )
    .fetch_all(pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let role_names = if q.kind == "role_assignment" { role_names(pool, q.snapshot).await? } else { HashMap::new() };
    Ok(InventoryPage {
        header,
        items: rows
            .into_iter()
            .map(|r| Item { resource_id: r.resource_id, account_id: r.account_id, body: r.body })
            .collect(),
        total,
        role_names,
    })
}

/// Role names by lower-cased definition GUID, from the snapshot's role definitions.
pub async fn role_names(pool: &PgPool, snapshot: Uuid) -> CoreResult<HashMap<String, String>> {
    let rows = sqlx::query!(
        r#"select lower(d.body->>'name') as "guid!", d.body#>>'{properties,roleName}' as "role_name!"
           from snapshot_members m cross join lateral unnest(m.ids) as member(id) join documents d on d.id = member.id
           where m.snapshot_id = $1 and m.kind = 'role_definition'
             and d.body->>'name' is not null and d.body#>>'{properties,roleName}' is not null"#,
        snapshot
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.guid, r.role_name)).collect())
}

/// One resource of a snapshot, by kind and ARM id (compared without case).
pub async fn resource(pool: &PgPool, snapshot: Uuid, kind: &str, id: &str) -> CoreResult<Item> {
    let row = sqlx::query!(
        r#"select d.resource_id, d.account_id, d.body
           from documents d
           join snapshot_members m on m.snapshot_id = $1 and m.kind = $2 and d.id = any(m.ids)
           where d.resource_id = lower($3) and d.kind = $2"#,
        snapshot,
        kind,
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::not_found("resource"))?;
    Ok(Item { resource_id: row.resource_id, account_id: row.account_id, body: row.body })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

#[derive(Debug, Clone)]
pub struct ResourceChange {
    pub kind: String,
    pub resource_id: String,
    pub change: ChangeKind,
    /// For `Changed`: each property that differs.
    pub properties: Vec<PropertyChange>,
}

#[derive(Debug, Clone)]
pub struct Diff {
    pub from: SnapshotHeader,
    pub to: SnapshotHeader,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    /// The first `limit` differences, by kind and id.
    pub changes: Vec<ResourceChange>,
}

/// The resources added, removed and changed from `from` to `to`, which must
/// be snapshots of the same scope.
pub async fn diff(pool: &PgPool, from: Uuid, to: Uuid, limit: i64) -> CoreResult<Diff> {
    let a = header(pool, from).await?;
    let b = header(pool, to).await?;
    if a.scope_key != b.scope_key {
        return Err(invalid(
            "to",
            "the two snapshots are of different scopes; only snapshots of the same scope compare",
        ));
    }
    let rows = sqlx::query!(
        r#"select coalesce(a.kind, b.kind) as "kind!", coalesce(a.resource_id, b.resource_id) as "resource_id!",
                  a.document_hash as "before?", b.document_hash as "after?"
           from (select kind, resource_id, document_hash from snapshot_resources where snapshot_id = $1) a
           full outer join (select kind, resource_id, document_hash from snapshot_resources where snapshot_id = $2) b
             on a.kind = b.kind and a.resource_id = b.resource_id
           where a.document_hash is distinct from b.document_hash
           order by 1, 2"#,
        from,
        to
    )
    .fetch_all(pool)
    .await?;
    let (mut added, mut removed, mut changed) = (0, 0, 0);
    for r in &rows {
        match (&r.before, &r.after) {
            (None, Some(_)) => added += 1,
            (Some(_), None) => removed += 1,
            _ => changed += 1,
        }
    }
    let shown: Vec<_> = rows.into_iter().take(limit.max(0) as usize).collect();
    let hashes: Vec<Vec<u8>> = shown
        .iter()
        .filter(|r| r.before.is_some() && r.after.is_some())
        .flat_map(|r| [r.before.clone().unwrap_or_default(), r.after.clone().unwrap_or_default()])
        .collect();
    let bodies: HashMap<Vec<u8>, Value> =
        sqlx::query!(r#"select hash, body from documents where hash = any($1)"#, &hashes[..])
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(|r| (r.hash, r.body))
            .collect();
    let changes = shown
        .into_iter()
        .map(|r| {
            let (change, properties) = match (&r.before, &r.after) {
                (None, _) => (ChangeKind::Added, vec![]),
                (_, None) => (ChangeKind::Removed, vec![]),
                (Some(x), Some(y)) => match (bodies.get(x), bodies.get(y)) {
                    (Some(x), Some(y)) => (ChangeKind::Changed, diff::changes(x, y)),
                    _ => (ChangeKind::Changed, vec![]),
                },
            };
            ResourceChange { kind: r.kind, resource_id: r.resource_id, change, properties }
        })
        .collect();
    Ok(Diff { from: a, to: b, added, removed, changed, changes })
}

/// Other snapshots of the same scope as `id`, newest first (for choosing a diff).
pub async fn same_scope(pool: &PgPool, id: Uuid) -> CoreResult<Vec<(Uuid, OffsetDateTime)>> {
    let rows = sqlx::query!(
        r#"select s.id, s.finished_at from snapshots s
           where s.scope_key = (select scope_key from snapshots where id = $1) and s.id <> $1
           order by s.finished_at desc limit 100"#,
        id
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.finished_at)).collect())
}

/// The display name of every subscription a snapshot holds, by lower-case
/// id (`/subscriptions/<guid>`): what lists show instead of a bare GUID.
pub async fn subscription_names(
    pool: &PgPool,
    snapshot: Uuid,
) -> CoreResult<std::collections::HashMap<String, String>> {
    Ok(sqlx::query!(
        r#"select d.resource_id, d.body->>'displayName' as "name?"
             from snapshot_members m cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'subscription'"#,
        snapshot
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .filter_map(|r| r.name.map(|n| (r.resource_id, n)))
    .collect())
}

/// When a snapshot finished and the subscriptions its scope names
/// (lower-case), or `None` when there is no such snapshot.
pub async fn finished_and_subscriptions(pool: &PgPool, id: Uuid) -> CoreResult<Option<(OffsetDateTime, Vec<String>)>> {
    Ok(sqlx::query!(
        r#"select finished_at, scope->'subscriptions' as "subs: serde_json::Value" from snapshots where id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| {
        let subs = r
            .subs
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| s.as_str().map(str::to_lowercase))
            .collect();
        (r.finished_at, subs)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_user_text_are_literal() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
