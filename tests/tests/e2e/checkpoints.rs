//! A running portal signs checkpoints of its audit log on schedule, keeps a
//! copy outside the database, posts each to the webhook, and shows auditors
//! its public key and what verifying found.

use attest_core::checkpoints::{self, Created};
use attest_core::signing::{KeyFiles, Keyring};
use attest_core::Role;
use reqwest::{redirect::Policy, Client, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;
use tests::{accounts, spawn};

async fn signed_in(base: &str, name: &str) -> Client {
    let client = Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let res = client
        .post(format!("{base}/api/fn/session/sign-in"))
        .header("origin", base)
        .form(&[("username", name), ("password", accounts::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    client
}

async fn call(client: &Client, base: &str, endpoint: &str) -> Value {
    let res = client
        .post(format!("{base}/api/fn/{endpoint}"))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{endpoint}");
    res.json().await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_portal_signs_checkpoints_on_schedule_and_shows_its_key(pool: PgPool) {
    accounts::user(&pool, "aude", &[Role::Auditor]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |c| c.checkpoint_interval_secs = 1).await.unwrap();

    // The first tick signs the head (the account's creation and its grant).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let size = loop {
        let size: Option<i64> =
            sqlx::query_scalar("select max(tree_size) from audit_checkpoints").fetch_one(&pool).await.unwrap();
        if let Some(s) = size {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "no checkpoint was signed within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(size >= 2);
    let copies = std::fs::read_to_string(checkpoints::copies_in(app.data_dir.path())).unwrap();
    assert!(copies.contains("attest/audit-log"), "the copy outside the database: {copies}");

    let keys = Keyring::load(&KeyFiles::at(app.data_dir.path().join("signing-key"))).unwrap();
    let c = signed_in(&app.base, "aude").await;
    let info = call(&c, &app.base, "audit/signing").await;
    assert_eq!(info["origin"], "attest/audit-log");
    assert_eq!(info["keys"][0]["fingerprint"], keys.current().fingerprint.as_str());
    assert_eq!(info["keys"][0]["current"], true);
    assert!(info["checkpoints"][0]["note"].as_str().unwrap().contains("\n\n— attest "), "{info}");

    let verified = call(&c, &app.base, "audit/verify").await;
    assert!(verified["chain"]["Intact"].is_object(), "{verified}");
    assert!(verified["checkpoints"].as_u64().unwrap() >= 1, "{verified}");
    assert_eq!(verified["problems"], serde_json::json!([]));

    // The audit page shows the key's fingerprint to compare with a recipient's copy.
    let page = c.get(format!("{}/admin/audit", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&keys.current().fingerprint), "the page shows the fingerprint");

    // Rotated while the portal runs: the new key shows at once, the old one
    // stays trusted, and what it signed still verifies.
    let rotated = Keyring::rotate(&KeyFiles::at(app.data_dir.path().join("signing-key")), "attest").unwrap();
    let info = call(&c, &app.base, "audit/signing").await;
    assert_eq!(info["keys"][0]["fingerprint"], rotated.current().fingerprint.as_str());
    assert_eq!(info["keys"][1]["fingerprint"], keys.current().fingerprint.as_str());
    assert_eq!(info["keys"][1]["current"], false);
    let verified = call(&c, &app.base, "audit/verify").await;
    assert!(verified["chain"]["Intact"].is_object() && verified["problems"] == serde_json::json!([]), "{verified}");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_checkpoint_is_posted_to_the_webhook(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let notary = checkpoints::Notary::new(
        KeyFiles::at(dir.path().join("signing-key")),
        "attest.example",
        checkpoints::copies_in(dir.path()),
    )
    .unwrap();
    let (url, received) = tests::webhook::one_post().await;
    let client = reqwest::Client::new();
    let created = server::jobs::checkpoint_once(&pool, &notary, Some((&client, &url))).await.unwrap();
    let Created::Signed(c) = created else { panic!("expected a new checkpoint: {created:?}") };
    let body: Value = serde_json::from_str(&received.await.unwrap()).unwrap();
    assert_eq!(body["event"], "audit.checkpoint");
    assert_eq!(body["origin"], "attest.example/audit-log");
    assert_eq!(body["checkpoint"]["size"], c.size);
    // What the webhook received verifies on its own with the public key.
    assert!(notary.keys().unwrap().verify_note(body["checkpoint"]["note"].as_str().unwrap()).is_ok());
}
