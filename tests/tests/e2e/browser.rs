//! In headless Chromium, as a person clicks, against the release binary and
//! the optimised WebAssembly that `make run` serves.

use attest_core::Role;
use sqlx::PgPool;
use tests::{accounts, browser::Browser, spawn};

const ADMIN_PASSWORD: &str = "marmalade orbit for the browser tests";

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

    // The refusal alone: none of the forms an admin would see around it.
    for page in ["/admin/users", "/admin/assignments", "/admin/audit"] {
        b.open(&format!("{}{page}", server.base)).await?;
        b.wait_text(".error-panel", "403").await?;
        let forms = b.client.find_all(fantoccini::Locator::Css("main form")).await?;
        anyhow::ensure!(forms.is_empty(), "{page} shows {} form(s) beside its refusal", forms.len());
    }
    b.client.clone().close().await?;
    Ok(())
}

/// The value a form field holds now.
async fn value_of(b: &Browser, css: &str) -> anyhow::Result<String> {
    Ok(b.client.find(fantoccini::Locator::Css(css)).await?.prop("value").await?.unwrap_or_default())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_is_asked_before_revoking_and_forms_clear_only_on_success(pool: PgPool) -> anyhow::Result<()> {
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "dora", &[Role::Auditor]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/admin/users/dora", server.base)).await?;
    b.wait_text("ul[data-testid='grants']", "auditor").await?;

    // A malformed approver scope is refused, and what was typed stays.
    b.select("#grant-role", "approver").await?;
    b.fill("#grant-scope", "/subscriptions/zzz").await?;
    b.click("#grant-scope ~ button[type='submit']").await?;
    b.wait_text("[role='alert']", "scope").await?;
    anyhow::ensure!(value_of(&b, "#grant-scope").await? == "/subscriptions/zzz", "a refused form keeps its input");
    // A good one is granted and the form empties.
    b.fill("#grant-scope", "/subscriptions/00000000-0000-0000-0000-0000000000a1").await?;
    b.click("#grant-scope ~ button[type='submit']").await?;
    b.wait_text("ul[data-testid='grants']", "approver @").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !value_of(&b, "#grant-scope").await?.is_empty() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the grant form did not clear after success");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // Revoking asks first; cancelling keeps the role.
    b.click("[data-testid='revoke-role'] button[aria-label='Revoke auditor']").await?;
    b.wait_text("[data-testid='revoke-role'] [role='alertdialog']", "Revoke auditor from dora?").await?;
    b.click("[data-testid='revoke-role'] [data-testid='confirm-no']").await?;
    b.wait_text("ul[data-testid='grants']", "auditor").await?;
    anyhow::ensure!(
        sqlx::query_scalar::<_, i64>("select count(*) from user_roles g join users u on u.id = g.user_id where u.name = 'dora' and g.role = 'auditor'")
            .fetch_one(&pool)
            .await?
            == 1,
        "cancel revoked nothing"
    );
    b.click("[data-testid='revoke-role'] button[aria-label='Revoke auditor']").await?;
    b.click("[data-testid='revoke-role'] [data-testid='confirm-yes']").await?;
    b.wait_text("[role='status']", "Role revoked.").await?;

    // Disabling asks too, naming what it stops.
    b.click("[data-testid='toggle-disabled'] button").await?;
    b.wait_text("[data-testid='toggle-disabled'] [role='alertdialog']", "API tokens stop working").await?;
    b.click("[data-testid='toggle-disabled'] [data-testid='confirm-yes']").await?;
    b.wait_text("h1", "disabled").await?;
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
    // A common password is refused with the reason, and no account is made.
    b.fill("#new-name", "carol").await?;
    b.fill("#new-password", "password1234").await?;
    b.click("form.form-inline button[type='submit']").await?;
    b.wait_text("[role='alert']", "too easy to guess").await?;
    b.fill("#new-password", "").await?;
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

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_uploads_a_snapshot_and_filters_its_inventory(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::arm::{Account, Deployment};
    let estate = attest_core::snapshot::demo::generate(14, 17);
    let dir = std::env::temp_dir().join(format!("attest-upload-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let good = dir.join("estate.json");
    std::fs::write(&good, serde_json::to_vec(&estate)?)?;
    let bad = dir.join("broken.json");
    std::fs::write(&bad, b"{\n  \"schema_version\": 1,\n  \"scope\": []\n}")?;

    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;

    // A broken file is refused, naming where it went wrong; nothing is stored.
    b.open(&format!("{}/import", server.base)).await?;
    b.fill("#snapshot-file", bad.to_str().unwrap()).await?;
    b.click("form[data-testid='import-form'] button[type='submit']").await?;
    let error = b.wait_text("[data-testid='import-error']", "Not imported").await?;
    assert!(error.contains("scope") && error.contains("line 3"), "{error}");
    let stored: i64 = sqlx::query_scalar("select count(*) from snapshots").fetch_one(&pool).await?;
    assert_eq!(stored, 0);
    // The message is shown once, and never taken from the address: a link
    // cannot put words on the page.
    b.open(&format!("{}/import?error=Your%20session%20expired%2C%20call%20%2B1-555", server.base)).await?;
    let source = b.client.source().await?;
    assert!(!source.contains("session expired") && !source.contains("line 3"), "{source}");

    b.fill("#snapshot-file", good.to_str().unwrap()).await?;
    b.click("form[data-testid='import-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='imported']", "Imported").await?;
    b.wait_text("[data-testid='inventory-count']", "14 resources").await?;

    // Quick filter: only accounts open to the public network.
    let public =
        estate.accounts.iter().filter(|a| Account::parse(&a.account).unwrap().public_network_access_enabled()).count();
    b.client.find(fantoccini::Locator::Css("#f-flag")).await?.select_by_value("public").await?;
    b.click("form[data-testid='inventory-filters'] button[type='submit']").await?;
    b.wait_text("[data-testid='inventory-count']", &format!("{public} resource")).await?;
    b.wait_text("table[data-testid='inventory-table']", "Enabled").await?;

    // The deployments tab, filtered by model text.
    b.click("nav.tabs a[href*='kind=deployment']").await?;
    b.wait_text("[data-testid='inventory-count']", "resources").await?;
    let mini = estate
        .accounts
        .iter()
        .flat_map(|a| &a.deployments)
        .filter(|d| Deployment::parse(d).unwrap().properties.model.unwrap().name.unwrap().contains("gpt-4o-mini"))
        .count();
    b.fill("#f-q", "gpt-4o-mini").await?;
    b.click("form[data-testid='inventory-filters'] button[type='submit']").await?;
    b.wait_text("[data-testid='inventory-count']", &format!("{mini} resource")).await?;

    // Into one resource: its typed view and its raw document.
    b.click("table[data-testid='inventory-table'] tbody tr:first-child a").await?;
    b.wait_text("[data-testid='typed-view']", "Model").await?;
    b.wait_text("[data-testid='raw-document']", "\"model\"").await?;
    b.client.clone().close().await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_auditor_sees_what_changed_between_two_scans(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::store;
    let mut before = attest_core::snapshot::demo::generate(6, 9);
    before.accounts[0].account["properties"]["publicNetworkAccess"] = "Enabled".into();
    let mut after = before.clone();
    after.finished_at += time::Duration::days(1);
    after.started_at += time::Duration::days(1);
    after.accounts[0].account["properties"]["publicNetworkAccess"] = "Disabled".into();
    let removed = after.accounts[1].deployments.remove(0);
    let mut tx = pool.begin().await?;
    store::insert(&mut tx, &before, store::Source::Demo, "test").await?;
    let later = store::insert(&mut tx, &after, store::Source::Demo, "test").await?;
    tx.commit().await?;

    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "audrey", &[Role::Auditor]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "audrey", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/snapshots/{}", server.base, later.id)).await?;
    b.click("form[data-testid='compare-form'] button[type='submit']").await?;
    b.wait_path("/diff").await?;
    let summary = b.wait_text("[data-testid='diff-summary']", "changed").await?;
    assert!(summary.contains("0 added") && summary.contains("1 removed") && summary.contains("1 changed"), "{summary}");
    let table = b.wait_text("table[data-testid='diff-table']", "properties.publicNetworkAccess").await?;
    assert!(table.contains("Enabled") && table.contains("Disabled"), "{table}");
    assert!(table.contains(&removed["name"].as_str().unwrap().to_ascii_lowercase()), "{table}");
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_auditor_follows_the_dashboard_to_a_findings_evidence(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(10, 3);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
    let public = estate.accounts.iter().filter(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled").count();
    assert!(public > 0);
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "aude", &[Role::Auditor]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "aude", accounts::PASSWORD).await?;
    b.wait_path("/").await?;

    // The dashboard shows compliance as Azure computes it and what fails.
    let figure = b.wait_text("[data-testid='compliance-figure']", "%").await?;
    assert!(figure.trim_end_matches('%').parse::<f64>().is_ok(), "{figure}");
    b.wait_text("[data-testid='bars-failing-by-severity']", "High").await?;
    b.wait_text("[data-testid='trend']", "Compliance across snapshots").await?;
    // Each framework's score: requirements passing, failing, not assessed.
    b.open(&format!("{}/frameworks?name=GDPR", server.base)).await?;
    let scores = b.wait_text("[data-testid='framework-scores']", "GDPR").await?;
    assert!(scores.contains('%'), "{scores}");
    b.wait_text("[data-testid='requirement-state']", "fail").await?;
    b.open(&format!("{}/", server.base)).await?;
    b.click("[data-testid='failing-link']").await?;
    b.wait_path("/findings").await?;
    b.wait_text("[data-testid='findings-table']", "NonCompliant").await?;

    // By default the list shows what fails; every state is one click away.
    b.open(&format!("{}/findings", server.base)).await?;
    let failing = b.wait_text("[data-testid='findings-count']", "that fail").await?;
    let states: Vec<String> = {
        let mut out = Vec::new();
        for el in b.client.find_all(fantoccini::Locator::Css("tr[data-testid='finding-row'] [data-state]")).await? {
            out.push(el.attr("data-state").await?.unwrap_or_default());
        }
        out
    };
    assert!(!states.is_empty() && states.iter().all(|s| s == "NonCompliant" || s == "Error"), "{states:?}");
    // Each resource names its account and subscription by display name.
    let display = estate.subscriptions[0]["displayName"].as_str().unwrap().to_string();
    b.wait_text("[data-testid='finding-place']", &display).await?;
    // A control's group says how many it holds and folds away.
    b.wait_text("[data-testid='group-count']", "finding").await?;
    let before = b.client.find_all(fantoccini::Locator::Css("tr.finding-row")).await?.len();
    b.click("[data-testid='finding-group'] .group-toggle").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut shown = 0;
        for row in b.client.find_all(fantoccini::Locator::Css("tr.finding-row")).await? {
            shown += usize::from(row.is_displayed().await?);
        }
        if shown < before {
            break;
        }
        anyhow::ensure!(std::time::Instant::now() < deadline, "the group did not fold");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let csv = b.client.find(fantoccini::Locator::Css("[data-testid='findings-csv']")).await?.attr("href").await?;
    assert_eq!(csv.as_deref(), Some("/api/v1/findings.csv?failing=1"));
    // The columns sort: by resource (A to Z) first, then the reverse on a second click.
    let aria = |key: &'static str| {
        let b = &b;
        async move {
            let css = format!("th:has([data-testid='sort-{key}'])");
            anyhow::Ok(
                b.client.find(fantoccini::Locator::Css(&css)).await?.attr("aria-sort").await?.unwrap_or_default(),
            )
        }
    };
    anyhow::ensure!(aria("resource").await? == "ascending", "the default order is by resource");
    b.click("[data-testid='sort-resource']").await?;
    // (Headings are upper-cased by the style sheet, so match the link, not its text.)
    b.wait_text("th[aria-sort='descending'] [data-testid='sort-resource']", "").await?;
    anyhow::ensure!(b.client.current_url().await?.query().unwrap_or_default().contains("sort=-resource"));
    b.click("[data-testid='sort-first_seen']").await?;
    b.wait_text("th[aria-sort='ascending'] [data-testid='sort-first_seen']", "").await?;
    b.open(&format!("{}/findings", server.base)).await?;
    b.click("[data-testid='show-all']").await?;
    let all = b.wait_text("[data-testid='findings-count']", "in every state").await?;
    let count = |t: &str| t.split_whitespace().next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    assert!(count(&all) > count(&failing), "{all} vs {failing}");
    b.click("[data-testid='show-failing']").await?;
    b.wait_text("[data-testid='findings-count']", "that fail").await?;

    // Filter to one control, as a person picks from the form.
    b.select("#f-control", "attest-network-public-access").await?;
    b.select("#f-severity", "High").await?;
    b.click("form[data-testid='finding-filters'] button[type='submit']").await?;
    b.wait_text("[data-testid='findings-count']", &format!("{public} finding")).await?;
    let rows = b
        .client
        .find_all(fantoccini::Locator::Css("[data-testid='findings-table'] tr[data-testid='finding-row']"))
        .await?;
    assert_eq!(rows.len(), public);
    for row in rows {
        assert!(row.text().await?.contains("NonCompliant"));
    }

    // The subscription filter narrows to one subscription's accounts.
    let sub = estate.subscriptions[0]["subscriptionId"].as_str().unwrap().to_lowercase();
    let in_sub = estate
        .accounts
        .iter()
        .filter(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled")
        .filter(|r| r.account["id"].as_str().unwrap().to_lowercase().starts_with(&format!("/subscriptions/{sub}/")))
        .count();
    assert!(in_sub > 0 && in_sub < public, "the estate spreads public accounts over subscriptions");
    b.select("#f-subscription", &sub).await?;
    b.click("form[data-testid='finding-filters'] button[type='submit']").await?;
    b.wait_text("[data-testid='findings-count']", &format!("{in_sub} finding")).await?;

    // A finding's page names the path and the value that decided it.
    b.click("[data-testid='findings-table'] tr[data-testid='finding-row'] a").await?;
    b.wait_text("[data-testid='finding-reasons']", "properties.publicNetworkAccess").await?;
    b.wait_text("[data-testid='finding-reasons']", "Enabled").await?;
    b.wait_text("[data-testid='finding-history']", "new").await?;

    // A public account's page lists its findings, the failing one among them.
    let public_account = estate
        .accounts
        .iter()
        .find(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled")
        .map(|r| r.account["id"].as_str().unwrap().to_string())
        .unwrap();
    let q: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("kind", "account")
        .append_pair("id", &public_account)
        .finish();
    b.open(&format!("{}/snapshots/{}/resource?{q}", server.base, stored.id)).await?;
    b.wait_text("[data-testid='resource-findings']", "Azure OpenAI accounts disable public network access").await?;
    b.wait_text("[data-testid='resource-findings']", "NonCompliant").await?;
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_switches_a_control_off_and_its_findings_go(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(5, 8);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;
    b.click("nav.mainnav a[href='/admin/assignments']").await?;
    b.wait_path("/admin/assignments").await?;
    let row = "tr[data-control='attest-network-public-access']";
    b.wait_text(&format!("{row} td:nth-child(4)"), "Audit").await?;
    b.click(&format!("{row} summary")).await?;
    b.select("#effect-attest-network-public-access", "Disabled").await?;
    b.click(&format!("{row} button[type='submit']")).await?;
    b.wait_text("p.form-ok", "evaluated again").await?;
    b.wait_text(&format!("{row} td:nth-child(4)"), "Disabled").await?;

    b.open(&format!("{}/findings?control=attest-network-public-access", server.base)).await?;
    b.wait_text("[data-testid='findings-count']", "0 findings").await?;
    let audit: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'assignment.update' and actor = 'admin'")
            .fetch_one(&pool)
            .await?;
    assert_eq!(audit, 1);
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_auditor_attests_a_manual_control_with_a_file(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(3, 6);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
    let manual: i64 =
        sqlx::query_scalar("select min(finding_id) from finding_spans where control = 'attest-cost-budget'")
            .fetch_one(&pool)
            .await?;
    let evidence = std::env::temp_dir().join(format!("budget-{}.txt", std::process::id()));
    std::fs::write(&evidence, "Budget ai-monthly: 5,000 EUR, alerts at 80% and 100%.")?;
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    accounts::user(&pool, "aude", &[Role::Auditor]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "aude", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/findings/{manual}", server.base)).await?;
    b.wait_text("[data-testid='attest-panel']", "Attestation").await?;
    b.select("#attest-state", "Compliant").await?;
    b.fill("#attest-note", "Budget ai-monthly covers the subscription; export attached.").await?;
    b.client.find(fantoccini::Locator::Css("#attest-file")).await?.send_keys(evidence.to_str().unwrap()).await?;
    b.click("form[data-testid='attest-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='attest-ok']", "Attested").await?;
    b.wait_text("main", "attested Compliant by aude").await?;
    let stored: Vec<u8> = sqlx::query_scalar("select attachment from attestations").fetch_one(&pool).await?;
    assert_eq!(stored, std::fs::read(&evidence)?);
    let _ = std::fs::remove_file(&evidence);
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_admin_imports_an_azure_built_in_and_sees_its_findings(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(4, 3);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
    let builtin = |f: &str| tests::fixtures::root().join("azure-policy").join(f).to_string_lossy().into_owned();
    let server = spawn::binary(&pool, ADMIN_PASSWORD)?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "admin", ADMIN_PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/admin/assignments", server.base)).await?;
    b.wait_text("[data-testid='assignments-table']", "attest-network-public-access").await?;

    // A parameter without a default and no value: back with the reason.
    b.click("[data-testid='import-panel'] summary").await?;
    b.client
        .find(fantoccini::Locator::Css("#import-file"))
        .await?
        .send_keys(&builtin("CognitiveServices__PrivateDnsZones_DINE.json"))
        .await?;
    b.click("form[data-testid='import-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='import-error']", "privateDnsZoneId").await?;

    // Azure's managed-identity built-in, as published, with an Audit effect.
    b.client
        .find(fantoccini::Locator::Css("#import-file"))
        .await?
        .send_keys(&builtin("CognitiveServices__ManagedIdentity_Audit.json"))
        .await?;
    b.fill("#import-parameters", r#"{"effect": "Audit"}"#).await?;
    b.click("form[data-testid='import-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='import-ok']", "managed identity").await?;
    let row = "tr[data-control='fe3fd216-4f83-4fc1-8984-2bbec80a3418']";
    b.wait_text(&format!("{row} td:nth-child(4)"), "Audit").await?;

    b.open(&format!("{}/findings?control=fe3fd216-4f83-4fc1-8984-2bbec80a3418&all=1", server.base)).await?;
    b.wait_text("[data-testid='findings-count']", "4 findings").await?;
    b.wait_text("main", "should use a managed identity").await?;
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_requester_asks_an_approver_approves_and_expiry_ends_the_exemption(pool: PgPool) -> anyhow::Result<()> {
    use attest_core::names::{Scope, UserName};
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(4, 3);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
    // A Medium-severity control: one approval settles it.
    let (finding, resource): (i64, String) = sqlx::query_as(
        "select finding_id, resource_id from finding_spans
          where control = 'attest-identity-managed-identity' and state = 'NonCompliant' order by finding_id limit 1",
    )
    .fetch_one(&pool)
    .await?;
    let name = resource.rsplit('/').next().unwrap_or_default().to_string();
    let subscription = format!("/subscriptions/{}", resource.split('/').nth(2).unwrap_or_default());
    accounts::user(&pool, "rita", &[Role::Requester]).await?;
    accounts::user(&pool, "mona", &[]).await?;
    {
        let mut tx = pool.begin().await?;
        attest_core::users::grant(
            &mut tx,
            "test",
            &UserName::parse("mona")?,
            Role::Approver,
            Some(&Scope::parse(&subscription)?),
        )
        .await?;
        tx.commit().await?;
    }
    let server = spawn::Binary::start(&[
        ("DATABASE_URL", spawn::database_url(&pool)?),
        ("ATTEST_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ("ATTEST_EXEMPTION_CHECK_SECS", "1".to_string()),
    ])?;

    // The requester asks, from the finding.
    let b = Browser::start().await?;
    b.sign_in(&server.base, "rita", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.open(&format!("{}/findings/{finding}", server.base)).await?;
    b.click("[data-testid='request-panel'] summary").await?;
    b.select("#req-category", "Waiver").await?;
    b.fill("#req-justification", "Batch workload; identity arrives with the Q1 rebuild.").await?;
    b.fill("#req-ticket", "CHG-2211").await?;
    let expiry = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date().to_string();
    b.client.execute("document.getElementById('req-expires').value = arguments[0];", vec![expiry.into()]).await?;
    b.click("form[data-testid='request-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='requested']", "exemption #").await?;
    let id: i64 = sqlx::query_scalar("select id from exemptions").fetch_one(&pool).await?;
    b.click("[data-testid='sign-out']").await?;
    b.wait_path("/signin").await?;

    // The approver sees it waiting, and approves it.
    b.sign_in(&server.base, "mona", accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    b.wait_text("[data-testid='approvals-count']", "1").await?;
    b.click("[data-testid='nav-approvals']").await?;
    b.wait_path("/approvals").await?;
    b.click(&format!("[data-testid='approvals-table'] a[href='/exemptions/{id}']")).await?;
    b.wait_text("[data-testid='justification']", "Q1 rebuild").await?;
    b.fill("#comment-decide-form", "Accepted until the rebuild; tracked in CHG-2211.").await?;
    b.click("[data-testid='decide-form'] button[data-decision='approve']").await?;
    b.wait_text("[data-testid='decided']", "approved").await?;
    b.wait_text("[data-testid='exemption-bindings']", &name).await?;
    b.wait_text("[data-testid='azure-export']", "approvedBy").await?;

    // The finding is Exempt now, in its own section of the list.
    b.open(&format!("{}/findings?control=attest-identity-managed-identity&resource={name}", server.base)).await?;
    b.wait_text("[data-testid='exempt-findings']", &name).await?;
    b.click("[data-testid='exempt-row'] a").await?;
    b.wait_text("[data-testid='finding-exemption']", &format!("exemption #{id}")).await?;
    // The link the requester started from still names the same finding, and
    // shows it as it is now: Exempt, with no request form.
    b.wait_path(&format!("/findings/{finding}")).await?;
    b.open(&format!("{}/findings/{finding}", server.base)).await?;
    b.wait_text("[data-testid='finding-exemption']", &format!("exemption #{id}")).await?;
    b.wait_text("[data-testid='finding-history']", "Exempt").await?;
    anyhow::ensure!(
        b.client.find_all(fantoccini::Locator::Css("[data-testid='request-panel']")).await?.is_empty(),
        "an exempt finding offers no exemption request"
    );

    // Its time passes: the job expires it and the finding is NonCompliant again.
    sqlx::query("update exemptions set expires_on = now() - interval '1 second' where id = $1")
        .bind(id)
        .execute(&pool)
        .await?;
    // The job expires it in one transaction and re-evaluates afterwards, so
    // wait for the evaluation that names the expiry, not only the state.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !sqlx::query_scalar::<_, bool>(
        "select exists (select 1 from exemptions where id = $1 and state = 'expired')
            and exists (select 1 from evaluations where reason like '%' || $1::text || ' expired%')",
    )
    .bind(id)
    .fetch_one(&pool)
    .await?
    {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the exemption job did not expire it and re-evaluate");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    b.open(&format!(
        "{}/findings?control=attest-identity-managed-identity&state=NonCompliant&resource={name}",
        server.base
    ))
    .await?;
    b.wait_text("[data-testid='findings-count']", "1 finding").await?;
    b.open(&format!("{}/findings/{finding}", server.base)).await?;
    b.wait_text("[data-testid='finding-history']", "changed").await?;
    b.wait_text("[data-testid='request-panel']", "Request an exemption").await?;
    b.open(&format!("{}/exemptions/{id}", server.base)).await?;
    b.wait_text("[data-testid='exemption-state']", "expired").await?;
    b.wait_text("[data-testid='exemption-history']", "system:expiry").await?;
    b.client.clone().close().await?;
    Ok(())
}

/// A demo estate of `accounts` accounts, stored and evaluated, served by the
/// release binary, with an auditor "aude" signed in at the dashboard.
async fn auditor_on_demo(pool: &PgPool, accounts: usize, seed: u64) -> anyhow::Result<(spawn::Binary, Browser)> {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(accounts, seed);
    let mut tx = pool.begin().await?;
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
    tx.commit().await?;
    attest_core::findings::evaluate_snapshot(pool, stored.id, "test").await?;
    let server = spawn::binary(pool, ADMIN_PASSWORD)?;
    tests::accounts::user(pool, "aude", &[Role::Auditor]).await?;
    let b = Browser::start().await?;
    b.sign_in(&server.base, "aude", tests::accounts::PASSWORD).await?;
    b.wait_path("/").await?;
    Ok((server, b))
}

#[sqlx::test(migrations = "../migrations")]
async fn an_auditor_narrows_the_access_page_to_what_is_flagged_and_opens_a_principal(
    pool: PgPool,
) -> anyhow::Result<()> {
    use fantoccini::Locator;
    let (_server, b) = auditor_on_demo(&pool, 12, 42).await?;

    // From the navigation to the whole list.
    b.click("[data-testid='nav-access']").await?;
    b.wait_path("/access").await?;
    let all = b.wait_text("[data-testid='access-count']", "principals").await?;
    let total: usize = all.split_whitespace().next().unwrap_or_default().parse()?;
    let rows = b.client.find_all(Locator::Css("tr[data-testid='access-row']")).await?.len();
    assert_eq!(rows, total.min(50), "{all}");

    // Flagged only: fewer rows, every one with a flag linking to its findings.
    b.click("[data-testid='flagged-only']").await?;
    b.select("#a-type", "user").await?;
    b.click("form[data-testid='access-filters'] button[type='submit']").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !b.client.current_url().await?.query().unwrap_or_default().contains("flagged=true") {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the filters were not applied");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.wait_hydrated().await?;
    let flagged = b.wait_text("[data-testid='access-count']", "principal").await?;
    let n: usize = flagged.split_whitespace().next().unwrap_or_default().parse()?;
    assert!(n > 0 && n < total, "{flagged} of {all}");
    for row in b.client.find_all(Locator::Css("tr[data-testid='access-row']")).await? {
        assert!(row.find(Locator::Css("[data-testid='flag'] a[href^='/findings?']")).await.is_ok());
        assert_eq!(row.find(Locator::Css("[data-testid='principal-kind']")).await?.text().await?, "User");
    }

    // A principal's page: its name, every account it reaches, a way back.
    let link = b.client.find(Locator::Css("[data-testid='principal-link']")).await?;
    let name = link.text().await?;
    link.click().await?;
    b.wait_text("[data-testid='principal-name']", &name).await?;
    assert!(b.client.current_url().await?.path().starts_with("/access/principals/"));
    let accounts = b.client.find_all(Locator::Css("tr[data-testid='principal-account']")).await?;
    assert!(!accounts.is_empty());
    b.wait_text("[data-testid='principal-flagged']", "flagged").await?;

    // From an account it reaches, to everyone on that account.
    let account = b.client.find(Locator::Css("tr[data-testid='principal-account'] td a")).await?;
    let account_name = account.text().await?;
    account.click().await?;
    b.wait_text("h1", &account_name).await?;
    b.click("[data-testid='access-link']").await?;
    b.wait_path("/access").await?;
    b.wait_text("[data-testid='access-count']", "principal").await?;
    for row in b.client.find_all(Locator::Css("tr[data-testid='access-row'] td:first-child")).await? {
        assert_eq!(row.text().await?, account_name);
    }
    b.client.clone().close().await?;
    Ok(())
}

#[sqlx::test(migrations = "../migrations")]
async fn an_auditor_runs_a_review_campaign_from_start_to_the_az_export(pool: PgPool) -> anyhow::Result<()> {
    let (server, b) = auditor_on_demo(&pool, 6, 3).await?;

    // From the access page to a new campaign over the whole estate.
    b.open(&format!("{}/access", server.base)).await?;
    b.click("[data-testid='nav-reviews']").await?;
    b.wait_path("/reviews").await?;
    b.fill("#r-name", "Q4 access review").await?;
    b.select("#r-scope", "/").await?;
    b.click("form[data-testid='review-create'] button[type='submit']").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !b.client.current_url().await?.path().starts_with("/reviews/") {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the campaign did not open");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let path = b.client.current_url().await?.path().to_string();
    b.wait_hydrated().await?;
    b.wait_text("[data-testid='review-name']", "Q4 access review").await?;
    b.wait_text("[data-testid='certify-blocked']", "undecided").await?;

    // The flagged ones revoked in bulk, the rest kept in bulk.
    b.select("#rf-flagged", "flagged").await?;
    b.click("form[data-testid='review-filters'] button[type='submit']").await?;
    while !b.client.current_url().await?.query().unwrap_or_default().contains("flagged=flagged") {
        anyhow::ensure!(std::time::Instant::now() < deadline, "the filter was not applied");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    b.wait_hydrated().await?;
    b.select("#bulk-decision", "revoke").await?;
    b.fill("#bulk-comment", "flagged and not justified").await?;
    b.click("form[data-testid='bulk-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='bulk-done']", "Decided").await?;
    b.open(&format!("{}{path}?status=open", server.base)).await?;
    b.select("#bulk-decision", "keep").await?;
    b.fill("#bulk-comment", "expected access").await?;
    b.click("form[data-testid='bulk-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='bulk-done']", "Decided").await?;

    // Certified, then read-only.
    b.open(&format!("{}{path}", server.base)).await?;
    b.wait_text("[data-testid='review-progress']", "100%").await?;
    b.fill("#certify-comment", "Reviewed with the account owners").await?;
    b.click("form[data-testid='certify-form'] button[type='submit']").await?;
    b.wait_text("[data-testid='certified']", "Certified by aude").await?;
    assert!(b.client.find(fantoccini::Locator::Css("form[data-testid='decide-form']")).await.is_err());

    // The az export, as the link downloads it.
    let href = b
        .client
        .find(fantoccini::Locator::Css("[data-testid='export-az']"))
        .await?
        .attr("href")
        .await?
        .unwrap_or_default();
    let script =
        b.client.execute("return fetch(arguments[0]).then(r => r.text());", vec![serde_json::json!(href)]).await?;
    let script = script.as_str().unwrap_or_default();
    assert!(script.contains("# Certified by aude"), "{script}");
    assert!(script.contains("az role assignment delete --ids '/subscriptions/"), "{script}");
    b.client.clone().close().await?;
    Ok(())
}
