//! The audit log in a real PostgreSQL: the database refuses changes, the
//! chain detects tampering, and concurrent writers keep one valid chain.

use attest_core::audit::{self, Verification};
use serde_json::json;
use sqlx::PgPool;

async fn append_n(pool: &PgPool, n: usize) {
    for i in 0..n {
        let mut tx = pool.begin().await.unwrap();
        audit::append(&mut tx, "alice", "test.event", &format!("thing:{i}"), json!({"i": i, "note": "ünïcode ✓"}))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn an_untouched_chain_verifies(pool: PgPool) {
    assert_eq!(audit::verify(&pool).await.unwrap(), Verification::Intact { entries: 0, head: None });
    append_n(&pool, 5).await;
    match audit::verify(&pool).await.unwrap() {
        Verification::Intact { entries: 5, head: Some(h) } => assert_eq!(h.len(), 64),
        other => panic!("{other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn update_delete_and_truncate_are_refused_even_for_a_superuser(pool: PgPool) {
    append_n(&pool, 2).await;
    for sql in [
        "update audit_log set actor = 'mallory' where seq = 1",
        "delete from audit_log where seq = 2",
        "truncate audit_log",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert!(matches!(audit::verify(&pool).await.unwrap(), Verification::Intact { entries: 2, .. }));
}

/// Edits the log behind the triggers' back, as someone with DDL rights could.
async fn tamper(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("alter table audit_log disable trigger user").execute(&mut *tx).await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    sqlx::query("alter table audit_log enable trigger user").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[sqlx::test(migrations = "../migrations")]
async fn an_altered_entry_is_named(pool: PgPool) {
    append_n(&pool, 6).await;
    tamper(&pool, "update audit_log set details = '{\"i\": 99}' where seq = 4").await;
    match audit::verify(&pool).await.unwrap() {
        Verification::Broken { seq: 4, reason } => assert!(reason.contains("altered"), "{reason}"),
        other => panic!("expected entry 4 to be broken: {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deleted_entry_is_named(pool: PgPool) {
    append_n(&pool, 6).await;
    tamper(&pool, "delete from audit_log where seq = 3").await;
    match audit::verify(&pool).await.unwrap() {
        Verification::Broken { seq: 3, reason } => assert!(reason.contains("missing"), "{reason}"),
        other => panic!("expected entry 3 to be reported missing: {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rehashed_entry_still_breaks_the_next_link(pool: PgPool) {
    append_n(&pool, 4).await;
    // Rewrite entry 2 and recompute its own hash: entry 3 no longer follows.
    let e =
        audit::list(&pool, &audit::Filter { before_seq: Some(3), ..Default::default() }, 1).await.unwrap().remove(0);
    let forged = json!({"i": 1000});
    let hash = audit::entry_hash(e.seq, e.at, &e.actor, &e.action, &e.object, &forged, &e.prev_hash).unwrap();
    tamper(
        &pool,
        &format!("update audit_log set details = '{forged}', hash = '\\x{}' where seq = 2", hex::encode(hash)),
    )
    .await;
    match audit::verify(&pool).await.unwrap() {
        Verification::Broken { seq: 3, reason } => assert!(reason.contains("prev_hash"), "{reason}"),
        other => panic!("expected entry 3 to be broken: {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_writers_keep_one_valid_chain(pool: PgPool) {
    let writers = 8;
    let each = 25;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let pool = pool.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let mut tx = pool.begin().await.unwrap();
                audit::append(&mut tx, &format!("writer-{w}"), "test.concurrent", &format!("n:{i}"), json!({}))
                    .await
                    .unwrap();
                // Commit some, roll back others: rolled-back entries leave no gap.
                if i % 5 == 4 {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected = (writers * each * 4 / 5) as u64;
    assert!(
        matches!(audit::verify(&pool).await.unwrap(), Verification::Intact { entries, .. } if entries == expected),
        "{:?}",
        audit::verify(&pool).await
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn listing_filters_and_pages_newest_first(pool: PgPool) {
    append_n(&pool, 5).await;
    let mut tx = pool.begin().await.unwrap();
    audit::append(&mut tx, "bob", "user.create", "user:carol", json!({})).await.unwrap();
    tx.commit().await.unwrap();

    let all = audit::list(&pool, &audit::Filter::default(), 3).await.unwrap();
    assert_eq!(all.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![6, 5, 4]);
    let older = audit::list(&pool, &audit::Filter { before_seq: Some(4), ..Default::default() }, 10).await.unwrap();
    assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 2, 1]);
    let bob = audit::list(&pool, &audit::Filter { actor: Some("bob".into()), ..Default::default() }, 10).await.unwrap();
    assert_eq!(bob.len(), 1);
    let users = audit::list(&pool, &audit::Filter { action_prefix: Some("user.".into()), ..Default::default() }, 10)
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    // LIKE metacharacters in the prefix are literal.
    let none =
        audit::list(&pool, &audit::Filter { action_prefix: Some("%".into()), ..Default::default() }, 10).await.unwrap();
    assert!(none.is_empty());
}
