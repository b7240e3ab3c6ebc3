//! Migrations that move stored evidence keep it whole: snapshots stored
//! before a migration read back the same after it.

use sqlx::PgPool;

const FOUNDATION: &str = include_str!("../../../migrations/20261121000001_foundation.sql");
const SNAPSHOTS: &str = include_str!("../../../migrations/20261121000002_snapshots.sql");
const COMPACT: &str = include_str!("../../../migrations/20261121000003_compact_membership.sql");

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

/// Every migration up to (not including) finding identity, in order.
const BEFORE_IDENTITY: [&str; 8] = [
    FOUNDATION,
    SNAPSHOTS,
    COMPACT,
    include_str!("../../../migrations/20261121000004_findings.sql"),
    include_str!("../../../migrations/20261121000005_attestations.sql"),
    include_str!("../../../migrations/20261121000006_compact_findings.sql"),
    include_str!("../../../migrations/20261121000007_policy_definitions.sql"),
    include_str!("../../../migrations/20261121000008_exemptions.sql"),
];
const IDENTITY: &str = include_str!("../../../migrations/20261121000009_finding_identity.sql");
const PARTITIONS: &str = include_str!("../../../migrations/20261121000010_span_partitions.sql");

#[sqlx::test(migrations = false)]
async fn finding_identity_moves_every_finding_and_repoints_exemptions(pool: PgPool) -> anyhow::Result<()> {
    for m in BEFORE_IDENTITY {
        sqlx::raw_sql(m).execute(&pool).await?;
    }
    // Two snapshots of one scope, the second evaluated twice; two findings
    // in each evaluation; an exemption requested from, and bound to, the
    // newest finding on r1.
    sqlx::raw_sql(
        r#"
        insert into snapshots (id, content_hash, schema_version, scope, scope_key, started_at, finished_at, collector,
                               source, imported_by, partial, errors, account_count, deployment_count,
                               role_assignment_count)
        values ('00000000-0000-0000-0000-000000000001', sha256('s1'), 1, '{}', 'k', '2026-01-01', '2026-01-01', 't',
                'demo', 't', false, '[]', 1, 0, 0),
               ('00000000-0000-0000-0000-000000000002', sha256('s2'), 1, '{}', 'k', '2026-01-02', '2026-01-02', 't',
                'demo', 't', false, '[]', 1, 0, 0);
        insert into evaluations (snapshot_id, reason, finding_count) values
          ('00000000-0000-0000-0000-000000000001', 'import', 2),
          ('00000000-0000-0000-0000-000000000002', 'import', 2),
          ('00000000-0000-0000-0000-000000000002', 'assignment changed', 2);
        insert into finding_evidence values (sha256('e'), '{"reasons": []}');
        insert into findings (evaluation_id, snapshot_id, assignment_id, control, resource_id, resource_name,
                              resource_type, state, severity, area, effect, evidence_hash, delta, first_seen,
                              reference_id)
        select e.id, e.snapshot_id, 'a1', 'c1', '/subscriptions/s/r' || n, 'r' || n, 't',
               case when n = 1 then 'NonCompliant' else 'Compliant' end, 'High', 'Network', 'audit', sha256('e'),
               'new', '2026-01-01', ''
          from evaluations e, generate_series(1, 2) n;
        insert into exemptions (assignment_id, scope, category, justification, expires_on, severity,
                                approvals_needed, finding_id, requested_by, state)
        select 'a1', '/subscriptions/s/r1', 'Waiver', 'j', now() + interval '1 day', 'High', 1, max(id), 'u',
               'approved' from findings where resource_name = 'r1';
        insert into exemption_bindings
        select 1, resource_id, control, reference_id, evidence_hash, id from findings
         where id = (select max(id) from findings where resource_name = 'r1');
        "#,
    )
    .execute(&pool)
    .await?;
    sqlx::raw_sql(IDENTITY).execute(&pool).await?;

    // One identity per (assignment, control, member, resource), hashed as
    // the evaluator hashes it.
    let keys: Vec<(i64, Vec<u8>, String)> =
        sqlx::query_as("select id, key_hash, resource_id from finding_keys order by resource_id")
            .fetch_all(&pool)
            .await?;
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].1, attest_core::findings::evaluate::key_hash("a1", "c1", "", "/subscriptions/s/r1"));
    // Every old row is a span; the current evaluation heads the scope's
    // chain, the two before it are kept as chains of their own.
    let chains: Vec<(i64, String)> =
        sqlx::query_as("select id, chain from evaluations order by id").fetch_all(&pool).await?;
    assert_eq!(chains[2].1, "k");
    assert!(chains[0].1.starts_with('~') && chains[1].1.starts_with('~'));
    let spans: i64 = sqlx::query_scalar("select count(*) from finding_spans").fetch_one(&pool).await?;
    assert_eq!(spans, 6);
    let current: Vec<(String, String)> = sqlx::query_as(
        "select s.resource_id, s.state from finding_spans s join current_evaluations c on c.chain = s.chain
          where s.until_eval is null order by 1",
    )
    .fetch_all(&pool)
    .await?;
    assert_eq!(
        current,
        [
            ("/subscriptions/s/r1".to_string(), "NonCompliant".to_string()),
            ("/subscriptions/s/r2".into(), "Compliant".into())
        ]
    );
    // The exemption and its binding name the finding's identity.
    let r1 = keys[0].0;
    let (asked, bound): (Option<i64>, i64) =
        sqlx::query_as("select (select finding_id from exemptions), (select finding_id from exemption_bindings)")
            .fetch_one(&pool)
            .await?;
    assert_eq!((asked, bound), (Some(r1), r1));

    // Partitioned by chain (0010), every span and chain stays, each chain in
    // a partition of its own, indexed as the parent is.
    let spans_before: Vec<(i64, String, String)> =
        sqlx::query_as("select id, chain, state from finding_spans order by id").fetch_all(&pool).await?;
    sqlx::raw_sql(PARTITIONS).execute(&pool).await?;
    let spans_after: Vec<(i64, String, String)> =
        sqlx::query_as("select id, chain, state from finding_spans order by id").fetch_all(&pool).await?;
    assert_eq!(spans_after, spans_before);
    let (partitions, indexes): (i64, i64) = sqlx::query_as(
        "select count(*), min((select count(*) from pg_index i where i.indrelid = p.relation::regclass))
           from finding_span_partitions p",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!((partitions, indexes), (3, 7), "one partition per chain, each with the parent's seven indexes");
    // A new span continues the numbering.
    let next: i64 = sqlx::query_scalar("select nextval('finding_spans_id_seq')").fetch_one(&pool).await?;
    assert_eq!(next, 7);
    // Spans may be closed once, and not otherwise changed.
    sqlx::query("update finding_spans set until_eval = first_eval + 1 where id = 1").execute(&pool).await?;
    for refused in [
        "update finding_spans set until_eval = first_eval + 2 where id = 1",
        "update finding_spans set state = 'Compliant' where id = 2",
        "delete from finding_spans where id = 3",
    ] {
        assert!(sqlx::query(refused).execute(&pool).await.is_err(), "{refused}");
    }
    Ok(())
}
