//! The `attest` command line, run as a person would: account and token
//! commands, `audit verify` and its exit codes, and the embedded PostgreSQL.

use reqwest::StatusCode;
use sqlx::PgPool;
use std::{
    io::Write,
    process::{Command, Output, Stdio},
};
use tests::spawn;

fn attest(pool: &PgPool, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(spawn::bin_path())
        .args(args)
        .env("DATABASE_URL", spawn::database_url(pool).unwrap())
        .env("ATTEST_DATA_DIR", data_dir(pool))
        .env("USER", "tester")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A data directory (signing key, checkpoint copies) for the test's database.
fn data_dir(pool: &PgPool) -> std::path::PathBuf {
    let db = pool.connect_options().get_database().unwrap_or("postgres").to_string();
    std::env::temp_dir().join(format!("attest-cli-{db}"))
}

/// Edits the audit log with its triggers disabled, as a superuser could.
async fn behind_the_triggers(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("alter table audit_log disable trigger user").execute(&mut *tx).await.unwrap();
    sqlx::query(sql).execute(&mut *tx).await.unwrap();
    sqlx::query("alter table audit_log enable trigger user").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[sqlx::test(migrations = false)]
async fn account_and_token_commands_work_on_an_empty_database_and_are_audited(pool: PgPool) {
    // No migrations applied: the command must apply them itself.
    let out = ok(&attest(&pool, &["user", "add", "Alice", "--password-stdin"], Some("a long enough password\n")));
    assert!(out.contains("created user alice"), "{out}");
    let out = ok(&attest(&pool, &["user", "add", "bob"], None));
    let generated = out.split("password (shown once): ").nth(1).expect("a generated password").trim();
    assert!(generated.len() >= 12);

    let refused = attest(&pool, &["user", "grant", "alice", "approver"], None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("scope"));
    ok(&attest(
        &pool,
        &["user", "grant", "alice", "approver", "--scope", "/subscriptions/00000000-0000-0000-0000-0000000000A1"],
        None,
    ));
    ok(&attest(&pool, &["user", "grant", "alice", "admin"], None));
    let list = ok(&attest(&pool, &["user", "list"], None));
    assert!(
        list.contains("approver@/subscriptions/00000000-0000-0000-0000-0000000000a1") && list.contains("admin"),
        "{list}"
    );
    ok(&attest(
        &pool,
        &["user", "revoke", "alice", "approver", "--scope", "/subscriptions/00000000-0000-0000-0000-0000000000a1"],
        None,
    ));
    ok(&attest(&pool, &["user", "passwd", "alice", "--password-stdin"], Some("another long password\n")));
    ok(&attest(&pool, &["user", "disable", "bob"], None));
    let list = ok(&attest(&pool, &["user", "list"], None));
    assert!(list.lines().any(|l| l.starts_with("bob") && l.contains("disabled")), "{list}");
    ok(&attest(&pool, &["user", "enable", "bob"], None));

    let token = ok(&attest(&pool, &["token", "create", "alice", "--label", "ci"], None)).trim().to_string();
    assert!(token.starts_with("attest_"), "{token}");
    let principal = attest_core::tokens::authenticate(&pool, &secrecy::SecretString::from(token)).await.unwrap();
    assert_eq!(principal.unwrap().name, "alice");

    let actors: Vec<(String, String)> =
        sqlx::query_as("select actor, action from audit_log order by seq").fetch_all(&pool).await.unwrap();
    assert!(actors.iter().all(|(actor, _)| actor == "cli:tester"), "{actors:?}");
    let actions: Vec<&str> = actors.iter().map(|(_, a)| a.as_str()).collect();
    for want in
        ["user.create", "role.grant", "role.revoke", "user.password", "user.disable", "user.enable", "token.create"]
    {
        assert!(actions.contains(&want), "{want} missing from {actions:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn audit_verify_exits_zero_when_intact_and_one_naming_the_broken_entry(pool: PgPool) {
    for name in ["a", "b", "c"] {
        ok(&attest(&pool, &["user", "add", name], None));
    }
    let out = ok(&attest(&pool, &["audit", "verify"], None));
    assert!(out.contains("intact: 3 entries"), "{out}");

    behind_the_triggers(&pool, "update audit_log set object = 'user:mallory' where seq = 2").await;
    let broken = attest(&pool, &["audit", "verify"], None);
    assert_eq!(broken.status.code(), Some(1));
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("BROKEN at entry 2"), "{out}");
}

#[sqlx::test(migrations = "../migrations")]
async fn checkpoints_and_keys_anchor_the_chain_outside_the_database(pool: PgPool) {
    let _ = std::fs::remove_dir_all(data_dir(&pool));
    for name in ["a", "b", "c"] {
        ok(&attest(&pool, &["user", "add", name], None));
    }
    let out = ok(&attest(&pool, &["audit", "verify"], None));
    assert!(out.contains("no signed checkpoint yet"), "{out}");

    // A C2SP checkpoint on standard output, the key created on first use.
    let note = ok(&attest(&pool, &["audit", "checkpoint"], None));
    let lines: Vec<&str> = note.lines().collect();
    assert_eq!(&lines[..2], &["attest/audit-log", "3"], "{note}");
    assert!(lines[3].is_empty() && lines[4].starts_with("— attest "), "{note}");
    assert!(data_dir(&pool).join("signing-key").exists() && data_dir(&pool).join("signing-key.pub").exists());
    let again = attest(&pool, &["audit", "checkpoint"], None);
    assert_eq!(ok(&again), note, "an unmoved head is not signed again");
    assert!(String::from_utf8_lossy(&again.stderr).contains("has not moved"));

    let keys = ok(&attest(&pool, &["keys", "show"], None));
    let fingerprint =
        keys.split("fingerprint (SHA-256 of the raw key):").nth(1).unwrap().trim().lines().next().unwrap();
    assert_eq!(fingerprint.len(), 64, "{keys}");

    let rotated = ok(&attest(&pool, &["keys", "rotate"], None));
    assert!(rotated.contains("retired, still trusted: attest+"), "{rotated}");
    assert!(rotated.contains(&format!("fingerprint {fingerprint}")), "the old key is listed: {rotated}");
    let action: String =
        sqlx::query_scalar("select action from audit_log order by seq desc limit 1").fetch_one(&pool).await.unwrap();
    assert_eq!(action, "key.rotate");
    let out = ok(&attest(&pool, &["audit", "verify"], None));
    assert!(
        out.contains("intact: 4 entries") && out.contains("covers entries 1-3") && out.contains("1 newer entry awaits"),
        "{out}"
    );

    // A superuser deletes the newest entries: the chain is consistent, the checkpoint says otherwise.
    behind_the_triggers(&pool, "delete from audit_log where seq > 2").await;
    let broken = attest(&pool, &["audit", "verify"], None);
    assert_eq!(broken.status.code(), Some(1));
    let out = String::from_utf8_lossy(&broken.stdout);
    assert!(out.contains("BROKEN at entry 3") && out.contains("were deleted"), "{out}");
    let refused = attest(&pool, &["audit", "checkpoint"], None);
    assert!(!refused.status.success());
    let _ = std::fs::remove_dir_all(data_dir(&pool));
}

#[tokio::test]
async fn the_embedded_database_starts_keeps_its_data_and_stops_with_the_server() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("attest-embedded-{}", uuid::Uuid::new_v4()));
    let env = [
        ("ATTEST_DATA_DIR", dir.display().to_string()),
        ("ATTEST_ADMIN_PASSWORD", "embedded marmalade orbit".to_string()),
    ];
    let server = spawn::Binary::start(&env)?;
    server.wait_line("First start: created the admin account `admin`")?;
    let ready = reqwest::get(format!("{}/readyz", server.base)).await?;
    assert_eq!(ready.status(), StatusCode::OK);
    assert!(dir.join("pgdata/postmaster.pid").exists(), "the cluster runs while the server does");
    assert!(server.terminate()?.success());
    assert!(!dir.join("pgdata/postmaster.pid").exists(), "the cluster stops when the server exits");

    // Second start: same data, so no new admin, and nothing to initialise.
    let server = spawn::Binary::start(&env)?;
    server.wait_line("Sign in with your account")?;
    assert!(server.terminate()?.success());
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn attest_import_stores_a_file_once(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("attest-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("snapshot.json");
    std::fs::write(&file, serde_json::to_vec(&tests::fixtures::example_snapshot()).unwrap()).unwrap();
    let path = file.to_str().unwrap();
    let out = ok(&attest(&pool, &["import", path], None));
    assert!(out.starts_with("stored snapshot "), "{out}");
    // Evaluation runs on import: Microsoft's example account document lists
    // no approved private endpoint connection, so it fails that control.
    let failing: Vec<String> = sqlx::query_scalar(
        "select control from finding_spans where state = 'NonCompliant' and control = 'attest-network-private-endpoint'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(failing.len(), 1);
    let out = ok(&attest(&pool, &["import", path], None));
    assert!(out.starts_with("already stored as snapshot "), "{out}");
    let evaluations: i64 = sqlx::query_scalar("select count(*) from evaluations").fetch_one(&pool).await.unwrap();
    assert_eq!(evaluations, 1, "the same snapshot is not evaluated twice");

    std::fs::write(&file, b"{\"schema_version\": 1, \"scope\": 3}").unwrap();
    let bad = attest(&pool, &["import", path], None);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("scope") && err.contains("line 1"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn attest_demo_seeds_an_empty_database_once_and_writes_files(pool: PgPool) {
    let out = ok(&attest(&pool, &["demo", "--accounts", "5", "--seed", "9", "--if-empty"], None));
    assert!(out.starts_with("stored a demo estate of 5 accounts"), "{out}");
    let out = ok(&attest(&pool, &["demo", "--accounts", "5", "--seed", "9", "--if-empty"], None));
    assert!(out.contains("already stored; no demo estate added"), "{out}");
    let (accounts, source): (i32, String) =
        sqlx::query_as("select account_count, source from snapshots").fetch_one(&pool).await.unwrap();
    assert_eq!((accounts, source.as_str()), (5, "demo"));

    // The file form round-trips through import, and is recognised as the same snapshot.
    let dir = std::env::temp_dir().join(format!("attest-demo-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("estate.json.gz");
    ok(&attest(&pool, &["demo", "--accounts", "5", "--seed", "9", "--out", file.to_str().unwrap()], None));
    assert_eq!(&std::fs::read(&file).unwrap()[..2], &[0x1f, 0x8b], "gzip when the name ends in .gz");
    let out = ok(&attest(&pool, &["import", file.to_str().unwrap()], None));
    assert!(out.starts_with("already stored as snapshot"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = "../migrations")]
async fn attest_policy_import_assigns_azure_built_ins_and_refuses_missing_parameters(pool: PgPool) {
    let builtin = |f: &str| tests::fixtures::root().join("azure-policy").join(f).to_string_lossy().into_owned();
    let dir = tempfile::tempdir().unwrap();
    let params = dir.path().join("params.json");
    std::fs::write(&params, br#"{"effect": {"value": "Audit"}}"#).unwrap();
    // Evaluation runs on import: the built-in is evaluated with the catalogue.
    let snapshot = dir.path().join("snapshot.json");
    std::fs::write(&snapshot, serde_json::to_vec(&tests::fixtures::example_snapshot()).unwrap()).unwrap();
    ok(&attest(&pool, &["import", snapshot.to_str().unwrap()], None));

    let def = builtin("CognitiveServices__ManagedIdentity_Audit.json");
    let out = ok(&attest(&pool, &["policy", "import", &def, "--parameters", params.to_str().unwrap()], None));
    assert!(out.starts_with("imported definition fe3fd216-4f83-4fc1-8984-2bbec80a3418"), "{out}");
    assert!(out.contains("assigned as") && out.contains("1 snapshot(s) evaluated again"), "{out}");
    let states: Vec<String> = sqlx::query_scalar(
        "select s.state from finding_spans s where s.control = 'fe3fd216-4f83-4fc1-8984-2bbec80a3418'
            and s.until_eval is null",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(states.len(), 1, "the example account is evaluated under the built-in");
    let actor: String = sqlx::query_scalar("select actor from audit_log where action = 'policy.import'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(actor, "cli:tester");

    let again = ok(&attest(&pool, &["policy", "import", &def, "--parameters", params.to_str().unwrap()], None));
    assert!(again.starts_with("unchanged definition"), "{again}");

    // A parameter without a default and no value: refused, naming it.
    let refused = attest(&pool, &["policy", "import", &builtin("CognitiveServices__PrivateDnsZones_DINE.json")], None);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("parameters") && err.contains("privateDnsZoneId"), "{err}");
}

#[test]
fn a_pool_too_small_for_an_evaluation_is_refused_before_connecting() {
    let out = Command::new(spawn::bin_path())
        .args(["migrate"])
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("ATTEST_DB_MAX_CONNECTIONS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("db_max_connections is 2") && err.contains("at least 4"), "{err}");
}
