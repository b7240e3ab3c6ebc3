//! Storing snapshots in a real PostgreSQL: built from Microsoft's example
//! payloads, stored once, unchanged documents shared, immutable, audited.

use attest_core::{
    audit,
    snapshot::{
        store::{self, Source},
        CollectionError, Snapshot,
    },
    CoreError,
};
use sqlx::PgPool;
use tests::fixtures;
use time::macros::datetime;

fn example() -> Snapshot {
    fixtures::example_snapshot()
}

async fn store(pool: &PgPool, s: &Snapshot) -> Result<store::Stored, CoreError> {
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, s, Source::Import, "tester").await?;
    tx.commit().await?;
    Ok(stored)
}

async fn rows(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_snapshot_is_stored_once_and_the_second_import_says_so(pool: PgPool) {
    let s = example();
    let first = store(&pool, &s).await.unwrap();
    assert!(first.created);
    // Subscriptions, the account, its children, estate-wide documents, then
    // (schema 2) a deny assignment, an eligible and an active PIM instance,
    // and five principals (four Graph resolved, one it left out).
    let schema_2 = 1 + 1 + 1 + 5;
    assert_eq!(first.resources, 2 + 1 + 1 + 1 + 1 + 1 + 1 + 1 + 2 + 1 + schema_2);
    assert_eq!(first.new_documents as usize, first.resources);
    let again = store(&pool, &s).await.unwrap();
    assert_eq!(again.id, first.id);
    assert!(!again.created);
    assert_eq!(rows(&pool, "snapshots").await, 1);
    let log = audit::list(&pool, &audit::Filter { action_prefix: Some("snapshot.".into()), ..Default::default() }, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].details["stored"], false);
    assert_eq!(log[1].details["stored"], true);
}

#[sqlx::test(migrations = "../migrations")]
async fn an_unchanged_resource_is_stored_once_across_snapshots(pool: PgPool) {
    let first = example();
    store(&pool, &first).await.unwrap();
    let mut second = example();
    second.started_at = datetime!(2026-11-22 10:00 UTC);
    second.finished_at = datetime!(2026-11-22 10:05 UTC);
    second.accounts[0].deployments[0]["sku"]["capacity"] = 50.into();
    let stored = store(&pool, &second).await.unwrap();
    assert!(stored.created);
    assert_eq!(stored.new_documents, 1, "only the changed deployment is a new document");
    assert_eq!(rows(&pool, "snapshots").await, 2);
    assert_eq!(rows(&pool, "documents").await as usize, stored.resources + 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_failed_import_leaves_nothing_behind(pool: PgPool) {
    let mut s = example();
    let dup = s.accounts[0].deployments[0].clone();
    s.accounts[0].deployments.push(dup);
    match store(&pool, &s).await {
        Err(CoreError::InvalidAt { path, message }) => {
            assert_eq!(path, "accounts[0].deployments[1]");
            assert!(message.contains("duplicate deployment"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut s = example();
    s.role_assignments[0].as_object_mut().unwrap().remove("id");
    assert!(
        matches!(store(&pool, &s).await, Err(CoreError::InvalidAt { path, .. }) if path == "role_assignments[0].id")
    );
    for table in ["snapshots", "snapshot_resources", "documents", "audit_log"] {
        assert_eq!(rows(&pool, table).await, 0, "{table}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn stored_snapshots_are_immutable(pool: PgPool) {
    store(&pool, &example()).await.unwrap();
    // A demo estate too, for usage rows.
    store(&pool, &attest_core::snapshot::demo::generate(2, 1)).await.unwrap();
    for sql in [
        "update snapshots set collector = 'forged'",
        "delete from snapshot_members",
        "delete from usage_days",
        "update documents set body = '{}'",
        "delete from snapshots",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("immutable"), "{sql}: {err}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_partial_snapshot_is_listed_as_partial(pool: PgPool) {
    let mut s = example();
    s.errors.push(CollectionError {
        scope: "/subscriptions/00000000-1111-2222-3333-444444444444".into(),
        request:
            "GET /subscriptions/00000000-1111-2222-3333-444444444444/providers/Microsoft.Authorization/roleAssignments"
                .into(),
        status: Some(403),
        message: "AuthorizationFailed".into(),
    });
    store(&pool, &s).await.unwrap();
    let [summary] = &store::list(&pool, 10).await.unwrap()[..] else { panic!() };
    assert!(summary.partial);
    assert_eq!((summary.account_count, summary.deployment_count, summary.role_assignment_count), (1, 1, 1));
    assert_eq!(summary.scope_key, "https://management.azure.com|00000000-1111-2222-3333-444444444444");
}

/// The kinds of document a stored snapshot holds.
async fn kinds_of(pool: &PgPool, snapshot: uuid::Uuid) -> Vec<String> {
    sqlx::query_scalar("select kind from snapshot_members where snapshot_id = $1 order by kind")
        .bind(snapshot)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_schema_1_snapshot_still_imports_and_schema_2_brings_its_access_lists(pool: PgPool) {
    use attest_core::snapshot::ingest;
    // Version 1: as Attest wrote it before role review, without version 2's lists.
    let mut v1 = serde_json::to_value(example()).unwrap();
    for field in
        ["deny_assignments", "role_eligibility_schedule_instances", "role_assignment_schedule_instances", "principals"]
    {
        v1.as_object_mut().unwrap().remove(field);
    }
    v1["schema_version"] = 1.into();
    let bytes = serde_json::to_vec(&v1).unwrap();
    let (stored, _) =
        ingest::import(&pool, std::io::Cursor::new(bytes), 1 << 24, Source::Import, "tester").await.unwrap();
    assert!(stored.created);
    let kinds = kinds_of(&pool, stored.id).await;
    assert!(!kinds.iter().any(|k| k == "deny_assignment" || k == "principal"), "{kinds:?}");

    // Version 2 streams the same way and keeps each new kind.
    let bytes = serde_json::to_vec(&example()).unwrap();
    let (stored, _) =
        ingest::import(&pool, std::io::Cursor::new(bytes), 1 << 24, Source::Import, "tester").await.unwrap();
    let kinds = kinds_of(&pool, stored.id).await;
    for kind in ["deny_assignment", "principal", "role_assignment_instance", "role_eligibility_instance"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }

    // A version this Attest does not know is refused, naming the field.
    let mut v9 = serde_json::to_value(example()).unwrap();
    v9["schema_version"] = 9.into();
    let refused =
        ingest::import(&pool, std::io::Cursor::new(serde_json::to_vec(&v9).unwrap()), 1 << 24, Source::Import, "t")
            .await;
    assert!(matches!(refused, Err(CoreError::InvalidAt { ref path, .. }) if path == "schema_version"), "{refused:?}");
}
