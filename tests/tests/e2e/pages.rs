//! Every page, as every role, in headless Chromium: no console error (a
//! style the CSP blocks, a failed hydration, a panic) and, at 390 and 1440
//! CSS pixels wide, nothing wider than the window.

use attest_core::snapshot::{demo, store};
use attest_core::Role;
use sqlx::PgPool;
use tests::{accounts, browser::Browser, spawn};

const ADMIN_PASSWORD: &str = "marmalade orbit for the page sweep";

/// Every page of the portal, with the ids they need from the demo estate.
async fn pages(pool: &PgPool) -> anyhow::Result<Vec<String>> {
    let mut tx = pool.begin().await?;
    let estate = demo::generate(6, 3);
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(pool, stored.id, "test").await?;
    let snapshot = stored.id;
    let finding: i64 = sqlx::query_scalar(
        "select min(finding_id) from finding_spans where state = 'NonCompliant' and effect <> 'manual'",
    )
    .fetch_one(pool)
    .await?;
    let manual: i64 =
        sqlx::query_scalar("select min(finding_id) from finding_spans where effect = 'manual'").fetch_one(pool).await?;
    let account = estate.accounts[0].account["id"].as_str().unwrap_or_default().to_string();
    let principal = estate.role_assignments[0]["properties"]["principalId"].as_str().unwrap_or_default().to_string();
    let review = attest_core::reviews::create(pool, "test", "Q4 review", "/", None).await?;
    let account_q: String = form_urlencoded::Serializer::new(String::new()).append_pair("id", &account).finish();
    Ok([
        "/".to_string(),
        "/findings".into(),
        "/findings?state=NonCompliant&severity=High".into(),
        format!("/findings/{finding}"),
        format!("/findings/{manual}"),
        "/frameworks".into(),
        "/access".into(),
        "/access?flagged=true".into(),
        format!("/access/principals/{principal}"),
        "/reviews".into(),
        format!("/reviews/{review}"),
        "/exemptions".into(),
        "/exemptions/new".into(),
        "/approvals".into(),
        "/snapshots".into(),
        format!("/snapshots/{snapshot}"),
        format!("/snapshots/{snapshot}/resource?kind=account&{account_q}"),
        format!("/diff?from={snapshot}&to={snapshot}"),
        "/import".into(),
        "/admin/users".into(),
        "/admin/users/admin".into(),
        "/admin/audit".into(),
        "/admin/assignments".into(),
    ]
    .into())
}

async fn sweep(b: &Browser, base: &str, pages: &[String], widths: &[u32], who: &str) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for width in widths {
        b.set_width(*width).await?;
        for page in pages {
            b.open(&format!("{base}{page}")).await?;
            // Give late resources (suspended sections, images) their turn.
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            // A refused page answers 403 by design, which Chromium logs as a
            // failed load of the page itself; anything else is a problem.
            let refused = format!("{base}{page} - Failed to load resource: the server responded with a status of 403");
            for e in b.console_errors().await? {
                if !e.starts_with(&refused) {
                    problems.push(format!("{who} at {width}px, {page}: console error: {e}"));
                }
            }
            let over = b.overflow().await?;
            if over > 0 {
                problems.push(format!("{who} at {width}px, {page}: {over}px wider than the window"));
            }
        }
    }
    Ok(problems)
}

#[sqlx::test(migrations = "../migrations")]
async fn every_page_as_every_role_logs_no_console_error(pool: PgPool) -> anyhow::Result<()> {
    let pages = pages(&pool).await?;
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let people = [
        ("vera", vec![Role::Viewer]),
        ("aude", vec![Role::Auditor]),
        ("rita", vec![Role::Requester]),
        ("mona", vec![Role::Approver]),
    ];
    let mut problems = Vec::new();
    for (name, roles) in &people {
        accounts::user(&pool, name, roles).await?;
        let b = Browser::start().await?;
        b.sign_in(&server.base, name, accounts::PASSWORD).await?;
        b.wait_path("/").await?;
        problems.extend(sweep(&b, &server.base, &pages, &[1440], name).await?);
        b.client.clone().close().await?;
    }
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn every_page_fits_390_and_1440_pixels_as_an_admin(pool: PgPool) -> anyhow::Result<()> {
    let pages = pages(&pool).await?;
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;
    let problems = sweep(&b, &server.base, &pages, &[390, 1440], "admin").await?;
    b.client.clone().close().await?;
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("\n"));
    Ok(())
}
