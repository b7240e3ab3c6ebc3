//! In headless Chromium, as a person clicks, against the release binary and
//! the optimised WebAssembly that `make run` serves.

use attest_core::Role;
use sqlx::PgPool;
use tests::{accounts, browser::Browser, spawn};

const ADMIN_PASSWORD: &str = "admin password for the browser tests";

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_signs_in_sees_the_dashboard_and_signs_out(pool: PgPool) -> anyhow::Result<()> {
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;

    // A visitor is sent to the sign-in page, remembering where they were going.
    b.open(&format!("{}/admin/audit", server.base)).await?;
    b.wait_path("/signin").await?;
    b.fill("#username", "admin").await?;
    b.fill("#password", ADMIN_PASSWORD).await?;
    b.click("form[data-testid='signin-form'] button[type='submit']").await?;
    b.wait_path("/admin/audit").await?;
    b.wait_text("table[data-testid='audit-table']", "signin.success").await?;

    b.open(&format!("{}/", server.base)).await?;
    b.wait_text("[data-testid='signed-in-as']", "admin").await?;
    b.wait_text("[data-testid='estate-status']", "No snapshot").await?;
    b.wait_text("[data-testid='users-count']", "1").await?;

    b.click("[data-testid='sign-out']").await?;
    b.wait_path("/signin").await?;
    // Signed out for real: the dashboard sends us back to sign in.
    b.open(&format!("{}/", server.base)).await?;
    b.wait_path("/signin").await?;
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_wrong_password_is_refused_with_a_clear_message(pool: PgPool) -> anyhow::Result<()> {
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", "not the admin password").await?;
    b.wait_text("[role='alert']", "Wrong user name or password").await?;
    assert_eq!(b.client.current_url().await?.path(), "/signin");
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_viewer_is_refused_the_admin_pages(pool: PgPool) -> anyhow::Result<()> {
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "vera", &[Role::Viewer]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "vera", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.wait_text("[data-testid='signed-in-as']", "vera").await?;
    let nav = b.wait_text("nav.mainnav", "Dashboard").await?;
    assert!(!nav.contains("Users"), "a viewer's navigation must not offer admin pages: {nav}");

    b.open(&format!("{}/admin/users", server.base)).await?;
    b.wait_text(".error-panel", "403").await?;
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_creates_a_user_and_grants_a_role(pool: PgPool) -> anyhow::Result<()> {
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/admin/users", server.base)).await?;
    b.fill("#new-name", "carol").await?;
    b.click("form.form-inline button[type='submit']").await?;
    let secret = b.wait_text("[data-testid='one-time-secret']", "").await?;
    assert!(secret.len() >= 12, "a generated password is shown once: {secret:?}");
    b.wait_text("table[data-testid='users-table']", "carol").await?;

    b.open(&format!("{}/admin/users/carol", server.base)).await?;
    b.click("#grant-role option[value='auditor']").await?;
    b.click("#grant-scope ~ button[type='submit']").await?;
    b.wait_text("ul[data-testid='grants']", "auditor").await?;
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_viewer_sees_the_stored_snapshots(pool: PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let demo = attest_core::snapshot::demo::generate(4, 5);
    attest_core::snapshot::store::insert(&mut tx, &demo, attest_core::snapshot::store::Source::Demo, "test").await?;
    tx.commit().await?;
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "vera", &[Role::Viewer]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "vera", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.wait_text("[data-testid='estate-status']", "1 snapshot stored").await?;
    b.click("nav.mainnav a[href='/snapshots']").await?;
    b.wait_path("/snapshots").await?;
    let table = b.wait_text("table[data-testid='snapshots-table']", "3 subscriptions on management.azure.com").await?;
    assert!(table.contains("demo") && table.contains("complete"), "{table}");
    b.client.clone().close().await?;
    Ok(())
}
