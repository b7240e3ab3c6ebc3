//! Signed checkpoints in a real PostgreSQL, attacked as a database
//! superuser would: entries rewritten with every later hash recomputed, the
//! newest entries deleted, the checkpoints themselves deleted or forged.
//! The chain alone calls each of these intact; the checkpoints do not.

use attest_core::audit::{self, Verification};
use attest_core::checkpoints::{self, Created, Notary};
use attest_core::signing::{KeyFiles, Keyring};
use serde_json::json;
use sqlx::{PgPool, Row};
use std::path::Path;

async fn append_n(pool: &PgPool, from: usize, n: usize) {
    for i in from..from + n {
        let mut tx = pool.begin().await.unwrap();
        audit::append(&mut tx, "alice", "test.event", &format!("thing:{i}"), json!({"i": i})).await.unwrap();
        tx.commit().await.unwrap();
    }
}

fn notary(dir: &Path) -> Notary {
    Notary::new(KeyFiles::at(dir.join("signing-key")), "attest.test", checkpoints::copies_in(dir)).unwrap()
}

/// Runs `sql` on `table` with its append-only triggers disabled.
async fn behind_the_triggers(pool: &PgPool, table: &str, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(&format!("alter table {table} disable trigger user")).execute(&mut *tx).await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    sqlx::query(&format!("alter table {table} enable trigger user")).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

/// Changes entry `seq`'s details and recomputes its hash and every later
/// one, so that the chain itself is consistent again.
async fn rewrite_and_rehash(pool: &PgPool, seq: i64) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("alter table audit_log disable trigger user").execute(&mut *tx).await.unwrap();
    sqlx::query("update audit_log set details = '{\"i\": \"rewritten\"}' where seq = $1")
        .bind(seq)
        .execute(&mut *tx)
        .await
        .unwrap();
    let rows = sqlx::query(
        "select seq, at, actor, action, object, details, prev_hash from audit_log where seq >= $1 order by seq",
    )
    .bind(seq)
    .fetch_all(&mut *tx)
    .await
    .unwrap();
    let mut prev: Vec<u8> = rows[0].get("prev_hash");
    for r in rows {
        let s: i64 = r.get("seq");
        let details: serde_json::Value = r.get("details");
        let hash = audit::entry_hash(s, r.get("at"), r.get("actor"), r.get("action"), r.get("object"), &details, &prev)
            .unwrap();
        sqlx::query("update audit_log set prev_hash = $2, hash = $3 where seq = $1")
            .bind(s)
            .bind(&prev)
            .bind(&hash[..])
            .execute(&mut *tx)
            .await
            .unwrap();
        prev = hash.to_vec();
    }
    sqlx::query("alter table audit_log enable trigger user").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

fn broken(report: &checkpoints::Report) -> (i64, String) {
    match &report.chain {
        Verification::Broken { seq, reason } => (*seq, reason.clone()),
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_checkpoint_signs_the_head_once_and_is_kept_outside_the_database(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    assert_eq!(n.checkpoint(&pool).await.unwrap(), Created::Empty);
    append_n(&pool, 0, 5).await;

    let Created::Signed(c) = n.checkpoint(&pool).await.unwrap() else { panic!("expected a new checkpoint") };
    assert_eq!(c.size, 5);
    let (_, head) = audit::head(&pool).await.unwrap().unwrap();
    assert_eq!(c.head, hex::encode(&head));
    // The note is a C2SP checkpoint: origin, size, base64 head, blank line, signature.
    let text = n.keys().unwrap().verify_note(&c.note).unwrap();
    assert_eq!(text, checkpoints::body("attest.test/audit-log", 5, &head));
    assert!(c.note.contains("\n\n— attest.test "), "{}", c.note);
    let copies = std::fs::read_to_string(checkpoints::copies_in(dir.path())).unwrap();
    assert_eq!(copies.lines().count(), 1);
    assert!(copies.contains(&serde_json::to_string(&c.note).unwrap()), "{copies}");

    // An unmoved head is not signed again.
    assert!(matches!(n.checkpoint(&pool).await.unwrap(), Created::Unchanged(same) if same == c));
    append_n(&pool, 5, 2).await;
    assert!(matches!(n.checkpoint(&pool).await.unwrap(), Created::Signed(next) if next.size == 7));

    let report = n.verify(&pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checkpoints, 2);
    assert_eq!(report.latest.map(|(s, _)| s), Some(7));
    append_n(&pool, 7, 3).await;
    assert_eq!(n.verify(&pool).await.unwrap().unanchored(), 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rewrite_with_recomputed_hashes_is_reported(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    append_n(&pool, 0, 4).await;
    n.checkpoint(&pool).await.unwrap();
    append_n(&pool, 4, 4).await;
    n.checkpoint(&pool).await.unwrap();

    rewrite_and_rehash(&pool, 6).await;
    // The chain alone cannot tell: every hash follows from its predecessor.
    assert!(matches!(audit::verify(&pool).await.unwrap(), Verification::Intact { entries: 8, .. }));
    let report = n.verify(&pool).await.unwrap();
    let (seq, reason) = broken(&report);
    assert_eq!(seq, 8);
    assert!(reason.contains("from 5 to 8 was rewritten"), "{reason}");
    assert!(!report.ok());
    // And no checkpoint is signed over a chain that no longer matches.
    let refused = n.checkpoint(&pool).await.unwrap_err().to_string();
    assert!(refused.contains("broken at entry 8") && refused.contains("no checkpoint was signed"), "{refused}");
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_the_newest_entries_is_reported(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    append_n(&pool, 0, 6).await;
    n.checkpoint(&pool).await.unwrap();
    behind_the_triggers(&pool, "audit_log", "delete from audit_log where seq > 3").await;

    assert!(matches!(audit::verify(&pool).await.unwrap(), Verification::Intact { entries: 3, .. }));
    let (seq, reason) = broken(&n.verify(&pool).await.unwrap());
    assert_eq!(seq, 4);
    assert!(reason.contains("the log ends at entry 3") && reason.contains("entries 4 to 6 were deleted"), "{reason}");
}

#[sqlx::test(migrations = "../migrations")]
async fn deleting_the_stored_checkpoints_hides_nothing(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    append_n(&pool, 0, 5).await;
    n.checkpoint(&pool).await.unwrap();
    let signed_at: time::OffsetDateTime =
        sqlx::query_scalar("select created_at from audit_checkpoints").fetch_one(&pool).await.unwrap();
    behind_the_triggers(&pool, "audit_checkpoints", "delete from audit_checkpoints").await;
    // The copy alone still vouches for the head, with the time it was signed.
    let report = n.verify(&pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.latest, Some((5, signed_at)));
    rewrite_and_rehash(&pool, 2).await;

    let report = n.verify(&pool).await.unwrap();
    let (seq, reason) = broken(&report);
    assert_eq!(seq, 5);
    assert!(reason.contains("kept in"), "the copy outside the database caught it: {reason}");
}

#[sqlx::test(migrations = "../migrations")]
async fn forged_and_altered_checkpoints_are_not_trusted(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    append_n(&pool, 0, 3).await;
    let Created::Signed(real) = n.checkpoint(&pool).await.unwrap() else { panic!() };
    assert!(matches!(n.checkpoint(&pool).await.unwrap(), Created::Unchanged(_)));

    // A checkpoint signed with a key of the attacker's own.
    let other = tempfile::tempdir().unwrap();
    let forger = notary(other.path());
    let (_, head) = audit::head(&pool).await.unwrap().unwrap();
    let forged = forger.keys().unwrap().sign_note(&checkpoints::body("attest.test/audit-log", 3, &head)).unwrap();
    sqlx::query(
        "insert into audit_checkpoints (tree_size, head, key, note) values (3, $1, 'attest.test+00000000', $2)",
    )
    .bind(&head)
    .bind(&forged)
    .execute(&pool)
    .await
    .unwrap();
    // The real one, its size edited in the note.
    let edited = real.note.replacen("\n3\n", "\n2\n", 1);
    behind_the_triggers(
        &pool,
        "audit_checkpoints",
        &format!("update audit_checkpoints set note = '{edited}' where key = '{}'", real.key),
    )
    .await;

    let report = n.verify(&pool).await.unwrap();
    assert!(!report.ok());
    assert!(matches!(report.chain, Verification::Intact { entries: 3, .. }), "{report:?}");
    let problems = report.problems.join("\n");
    assert!(problems.contains("does not trust"), "{problems}");
    assert!(problems.contains("does not verify (it was altered or forged)"), "{problems}");
    // The copy outside the database still vouches for the real head.
    assert_eq!(report.checkpoints, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn checkpoints_signed_before_a_rotation_still_verify(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    append_n(&pool, 0, 2).await;
    let n = notary(dir.path());
    n.checkpoint(&pool).await.unwrap();
    // Rotated behind the running notary's back, as `attest keys rotate` does.
    let rotated = Keyring::rotate(&n.files, "attest.test").unwrap();
    append_n(&pool, 2, 2).await;
    let Created::Signed(c) = n.checkpoint(&pool).await.unwrap() else { panic!() };
    assert_eq!(c.key, format!("attest.test+{}", rotated.current().id), "the new key signs at once");
    let report = n.verify(&pool).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert_eq!(report.checkpoints, 2);
    let keys: Vec<String> =
        sqlx::query_scalar("select distinct key from audit_checkpoints").fetch_all(&pool).await.unwrap();
    assert_eq!(keys.len(), 2, "one checkpoint per key");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_checkpoints_table_is_append_only(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    append_n(&pool, 0, 1).await;
    notary(dir.path()).checkpoint(&pool).await.unwrap();
    for sql in
        ["update audit_checkpoints set note = 'x'", "delete from audit_checkpoints", "truncate audit_checkpoints"]
    {
        let err = sqlx::query(sql).execute(&pool).await.expect_err(sql);
        assert!(err.to_string().contains("audit_checkpoints is append-only"), "{sql}: {err}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_key_file_gone_missing_is_an_error_not_a_new_key(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let n = notary(dir.path());
    append_n(&pool, 0, 1).await;
    std::fs::remove_file(&n.files.private).unwrap();
    let err = n.checkpoint(&pool).await.unwrap_err().to_string();
    assert!(err.contains("signing-key"), "{err}");
    assert!(!n.files.private.exists(), "no key was made behind the operator's back");
}
