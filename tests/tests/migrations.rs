//! Migrations that move stored evidence keep it whole: snapshots stored
//! before a migration read back the same after it.

use sqlx::PgPool;

const FOUNDATION: &str = include_str!("../../migrations/20261121000001_foundation.sql");
const SNAPSHOTS: &str = include_str!("../../migrations/20261121000002_snapshots.sql");
const COMPACT: &str = include_str!("../../migrations/20261121000003_compact_membership.sql");

#[sqlx::test(migrations = false)]
async fn compact_membership_keeps_every_resource_and_usage_row(pool: PgPool) -> anyhow::Result<()> {
    sqlx::raw_sql(FOUNDATION).execute(&pool).await?;
    sqlx::raw_sql(SNAPSHOTS).execute(&pool).await?;
    // Two snapshots in the old layout sharing one document and one usage row.
    sqlx::raw_sql(
        r#"
        insert into documents (hash, body) values
          (sha256('a'), '{"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.CognitiveServices/accounts/a"}'),
          (sha256('d1'), '{"id": "/x/deployments/d", "sku": {"capacity": 1}}'),
          (sha256('d2'), '{"id": "/x/deployments/d", "sku": {"capacity": 2}}');
        insert into snapshots (id, content_hash, schema_version, scope, scope_key, started_at, finished_at, collector,
                               source, imported_by, partial, errors, account_count, deployment_count,
                               role_assignment_count)
        values ('00000000-0000-0000-0000-000000000001', sha256('s1'), 1, '{}', 'k', now(), now(), 't', 'demo', 't',
                false, '[]', 1, 1, 0),
               ('00000000-0000-0000-0000-000000000002', sha256('s2'), 1, '{}', 'k', now(), now(), 't', 'demo', 't',
                false, '[]', 1, 1, 0);
        insert into snapshot_resources values
          ('00000000-0000-0000-0000-000000000001', 'account', '/a', null, sha256('a')),
          ('00000000-0000-0000-0000-000000000001', 'deployment', '/a/deployments/d', '/a', sha256('d1')),
          ('00000000-0000-0000-0000-000000000002', 'account', '/a', null, sha256('a')),
          ('00000000-0000-0000-0000-000000000002', 'deployment', '/a/deployments/d', '/a', sha256('d2'));
        insert into snapshot_usage values
          ('00000000-0000-0000-0000-000000000001', '/a', 'd', '2026-11-01', 10, 5, 15, 2),
          ('00000000-0000-0000-0000-000000000001', '/a', 'd', '2026-11-02', 20, 5, 25, 3),
          ('00000000-0000-0000-0000-000000000002', '/a', 'd', '2026-11-02', 20, 5, 25, 3);
        "#,
    )
    .execute(&pool)
    .await?;
    let resources =
        "select snapshot_id::text, kind, resource_id, coalesce(account_id, ''), encode(document_hash, 'hex')
                     from snapshot_resources order by 1, 2, 3";
    let usage = "select snapshot_id::text, account_id, deployment, day::text, prompt_tokens, total_tokens, requests
                 from snapshot_usage order by 1, 2, 3, 4";
    type R = (String, String, String, String, String);
    type U = (String, String, String, String, i64, i64, i64);
    let before: Vec<R> = sqlx::query_as(resources).fetch_all(&pool).await?;
    let usage_before: Vec<U> = sqlx::query_as(usage).fetch_all(&pool).await?;

    sqlx::raw_sql(COMPACT).execute(&pool).await?;

    assert_eq!(sqlx::query_as::<_, R>(resources).fetch_all(&pool).await?, before);
    assert_eq!(sqlx::query_as::<_, U>(usage).fetch_all(&pool).await?, usage_before);
    let (documents, usage_days): (i64, i64) =
        sqlx::query_as("select (select count(*) from documents), (select count(*) from usage_days)")
            .fetch_one(&pool)
            .await?;
    assert_eq!((documents, usage_days), (3, 2), "shared rows are stored once");
    Ok(())
}
