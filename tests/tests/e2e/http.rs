//! The server over HTTP: sessions and their expiry, CSRF, security headers,
//! API tokens, sign-in throttling, limits and health probes.

use attest_core::{names::UserName, tokens, users, Role};
use reqwest::{redirect::Policy, Client, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tests::{accounts, spawn};

fn client() -> Client {
    Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap()
}

async fn sign_in(client: &Client, base: &str, name: &str, password: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/fn/session/sign-in"))
        .header("origin", base)
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// A demo estate of `accounts` accounts, stored and evaluated.
async fn evaluated_demo(pool: &PgPool, accounts: usize, seed: u64) -> attest_core::findings::Evaluation {
    use attest_core::snapshot::{demo, store};
    let estate = demo::generate(accounts, seed);
    let mut tx = pool.begin().await.unwrap();
    let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await.unwrap();
    tx.commit().await.unwrap();
    attest_core::findings::evaluate_snapshot(pool, stored.id, "test").await.unwrap()
}

async fn status_of_dashboard(client: &Client, base: &str) -> StatusCode {
    client.get(format!("{base}/")).send().await.unwrap().status()
}

#[sqlx::test(migrations = "../migrations")]
async fn sign_in_sets_an_http_only_same_site_cookie_and_sign_out_kills_the_session(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    let c = client();
    let res = sign_in(&c, &app.base, "vera", accounts::PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with("attest_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http must not mark the cookie Secure: {cookie}");
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::OK);

    // Replaying the cookie after sign-out must not work: the session is gone
    // from the store, not merely from the browser.
    let stolen = cookie.split(';').next().unwrap().to_string();
    let out = c.post(format!("{}/api/fn/session/sign-out", app.base)).header("origin", &app.base).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
    let replay = Client::builder().redirect(Policy::none()).build().unwrap();
    let res = replay.get(format!("{}/", app.base)).header("cookie", stolen).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = "../migrations")]
async fn over_https_the_cookie_is_secure_and_hsts_is_sent(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool, |c| c.public_url = Some("https://attest.example".into())).await.unwrap();
    // As the proxy in front passes it on: addressed to the public name.
    let res = client()
        .post(format!("{}/api/fn/session/sign-in", app.base))
        .header("host", "attest.example")
        .header("origin", "https://attest.example")
        .form(&[("username", "vera"), ("password", accounts::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("__Host-attest_session="), "{cookie}");
    assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    assert!(res.headers().get("strict-transport-security").is_some());

    // Under any other name (DNS rebinding), pages and functions are refused;
    // health probes, sent by address, are answered.
    for host in [app.base.trim_start_matches("http://"), "evil.example", "attest.example.evil.example"] {
        let res = client().get(format!("{}/signin", app.base)).header("host", host).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    assert_eq!(client().get(format!("{}/healthz", app.base)).send().await.unwrap().status(), StatusCode::OK);
    let named = client().get(format!("{}/signin", app.base)).header("host", "Attest.Example:443").send().await.unwrap();
    assert_eq!(named.status(), StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn pages_carry_a_nonce_csp_and_the_other_security_headers(pool: PgPool) {
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    let res = client().get(format!("{}/signin", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let csp = h.get("content-security-policy").unwrap().to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("a nonce in the CSP").to_string();
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'"), "{csp}");
    assert_eq!(h.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(h.get("referrer-policy").unwrap(), "same-origin");
    assert_eq!(h.get("cache-control").unwrap(), "no-store");
    assert!(h.get("x-request-id").is_some());
    assert!(h.get("strict-transport-security").is_none(), "no HSTS over plain http");
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "inline scripts must carry the CSP nonce");

    // Every response gets a CSP, strict where there is no page.
    let res = client().get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert!(res.headers().get("content-security-policy").unwrap().to_str().unwrap().starts_with("default-src 'none'"));
}

#[sqlx::test(migrations = "../migrations")]
async fn cross_origin_state_changes_are_refused(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    let c = client();
    assert_eq!(sign_in(&c, &app.base, "vera", accounts::PASSWORD).await.status(), StatusCode::OK);
    let url = format!("{}/api/fn/dashboard/summary", app.base);
    let evil = c.post(&url).header("origin", "http://evil.example").send().await.unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    let cross = c.post(&url).header("sec-fetch-site", "cross-site").send().await.unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let bare = c.post(&url).send().await.unwrap();
    assert_eq!(bare.status(), StatusCode::FORBIDDEN, "no Origin and no Sec-Fetch-Site: refused");
    let same = c.post(&url).header("sec-fetch-site", "same-origin").send().await.unwrap();
    assert_eq!(same.status(), StatusCode::OK);
    // A forged sign-in (login CSRF) is refused too.
    let forged = Client::new()
        .post(format!("{}/api/fn/session/sign-in", app.base))
        .header("origin", "http://evil.example")
        .form(&[("username", "vera"), ("password", accounts::PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_password_reset_signs_out_existing_sessions(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = client();
    sign_in(&c, &app.base, "vera", accounts::PASSWORD).await;
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::OK);
    // At once, most likely within the same second as the sign-in.
    let mut tx = pool.begin().await.unwrap();
    let name = UserName::parse("vera").unwrap();
    users::set_password(&mut tx, "test", &name, &SecretString::from("a brand new password")).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::SEE_OTHER);
    // Signed in again with the new password, the new session holds.
    let again = client();
    assert!(sign_in(&again, &app.base, "vera", "a brand new password").await.status().is_success());
    assert_eq!(status_of_dashboard(&again, &app.base).await, StatusCode::OK);
}

#[sqlx::test(migrations = "../migrations")]
async fn disabling_an_account_ends_its_sessions(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = client();
    sign_in(&c, &app.base, "vera", accounts::PASSWORD).await;
    let mut tx = pool.begin().await.unwrap();
    users::set_disabled(&mut tx, "test", &UserName::parse("vera").unwrap(), true).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::SEE_OTHER);
    assert_eq!(sign_in(&client(), &app.base, "vera", accounts::PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn sessions_expire_when_idle_and_after_their_absolute_lifetime(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = client();
    sign_in(&c, &app.base, "vera", accounts::PASSWORD).await;
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::OK);
    // Idle: the store's expiry passes.
    sqlx::query("update tower_sessions.session set expiry_date = now() - interval '1 second'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(status_of_dashboard(&c, &app.base).await, StatusCode::SEE_OTHER);

    // Absolute: a zero-hour lifetime ends every session at once, however active.
    let strict = spawn::in_process(pool, |c| c.session_absolute_hours = 0).await.unwrap();
    let c = client();
    assert_eq!(sign_in(&c, &strict.base, "vera", accounts::PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(status_of_dashboard(&c, &strict.base).await, StatusCode::SEE_OTHER);
}

#[sqlx::test(migrations = "../migrations")]
async fn api_tokens_act_as_their_user_until_revoked(pool: PgPool) {
    accounts::user(&pool, "robot", &[Role::Auditor]).await.unwrap();
    let name = UserName::parse("robot").unwrap();
    let mut tx = pool.begin().await.unwrap();
    let (id, secret) = tokens::create(&mut tx, "test", &name, "ci").await.unwrap();
    tx.commit().await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let me = format!("{}/api/v1/me", app.base);
    let plain = Client::new();

    let res = plain.get(&me).bearer_auth(secret.expose_secret()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["name"], "robot");
    assert_eq!(body["grants"][0]["role"], "auditor");

    let res = plain.get(&me).bearer_auth("attest_not-a-real-token").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");

    // A token is not a session: it does not open the pages.
    let page = Client::builder().redirect(Policy::none()).build().unwrap();
    let res = page.get(format!("{}/", app.base)).bearer_auth(secret.expose_secret()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);

    let mut tx = pool.begin().await.unwrap();
    tokens::revoke(&mut tx, "test", id).await.unwrap();
    tx.commit().await.unwrap();
    let res = plain.get(&me).bearer_auth(secret.expose_secret()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[sqlx::test(migrations = "../migrations")]
async fn repeated_failures_throttle_sign_in_for_that_account(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    for _ in 0..attest_core::signin::MAX_PER_PAIR {
        let res = sign_in(&client(), &app.base, "vera", "wrong password!!").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let body = res.text().await.unwrap();
        assert!(body.contains("BadCredentials"), "{body}");
    }
    // Even the right password is refused while throttled.
    let res = sign_in(&client(), &app.base, "vera", accounts::PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
}

/// Concurrent guesses cannot outrun the throttle: each reserves its failure
/// before its password is checked, so of 100 guesses at once against one
/// account at most the pair's budget is checked, and the right password
/// does not get through once the budget is spent.
#[sqlx::test(migrations = "../migrations")]
async fn concurrent_guesses_are_checked_no_more_than_the_budget_allows(pool: PgPool) {
    use attest_core::signin::{MAX_PER_CLIENT, MAX_PER_PAIR};
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    // Every guess on a connection of its own, all from one address: more
    // than the default connection share allows at once.
    let app = spawn::in_process(pool.clone(), |c| c.max_connections_per_client = 500).await.unwrap();
    let guesses = (0..100).map(|i| {
        let base = app.base.clone();
        async move { sign_in(&client(), &base, "vera", &format!("wrong password {i}")).await.status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked as i64 <= MAX_PER_PAIR, "{checked} passwords checked: {statuses:?}");
    assert_eq!(checked + refused, 100, "{statuses:?}");
    let failures: i64 = sqlx::query_scalar("select count(*) from signin_failures").fetch_one(&pool).await.unwrap();
    assert!(failures <= MAX_PER_PAIR, "{failures} failures recorded");
    let right = sign_in(&client(), &app.base, "vera", accounts::PASSWORD).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS, "the budget is spent, even for the right password");

    // One address guessing across accounts: at most its budget is checked.
    let guesses = (0..150).map(|i| {
        let base = app.base.clone();
        async move { sign_in(&client(), &base, &format!("guess{i}"), "whatever password").await.status() }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count() as i64;
    assert!(checked + failures <= MAX_PER_CLIENT, "{checked} more checked after {failures}");
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED || *s == StatusCode::TOO_MANY_REQUESTS));
}

/// After sign-in, only a path on the portal is followed: what browsers
/// strip (tab, CR, LF) or read as a slash cannot make it another host.
#[sqlx::test(migrations = "../migrations")]
async fn sign_in_follows_only_paths_on_the_portal(pool: PgPool) {
    accounts::user(&pool, "vera", &[Role::Viewer]).await.unwrap();
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    for (next, expected) in [
        ("/findings?state=Error", "/findings?state=Error"),
        ("/\t/evil.example/x", "/"),
        ("/\n/evil.example/x", "/"),
        ("/\r/evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("/.//evil.example", "/"),
        ("//evil.example", "/"),
    ] {
        let res = client()
            .post(format!("{}/api/fn/session/sign-in", app.base))
            .header("origin", &app.base)
            .form(&[("username", "vera"), ("password", accounts::PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{next:?}: {}", res.status());
        let body: String = res.json().await.unwrap();
        assert_eq!(body, expected, "{next:?}");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn oversized_bodies_are_refused_and_probes_answer(pool: PgPool) {
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    let res = Client::new()
        .post(format!("{}/api/fn/session/sign-in", app.base))
        .header("origin", &app.base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(Client::new().get(format!("{}/healthz", app.base)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(Client::new().get(format!("{}/readyz", app.base)).send().await.unwrap().status(), StatusCode::OK);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn snapshots_import_over_the_api_once_with_errors_that_name_the_field(pool: PgPool) {
    accounts::user(&pool, "robot", &[Role::Admin]).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let (_, token) = tokens::create(&mut tx, "test", &UserName::parse("robot").unwrap(), "ci").await.unwrap();
    tx.commit().await.unwrap();
    let app = spawn::in_process(pool.clone(), |c| c.import_limit_bytes = 64 * 1024).await.unwrap();
    let url = format!("{}/api/v1/snapshots", app.base);
    let post = |body: Vec<u8>| Client::new().post(&url).bearer_auth(token.expose_secret()).body(body).send();
    let file = serde_json::to_vec(&tests::fixtures::example_snapshot()).unwrap();

    let res = post(gzip(&file)).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let first: serde_json::Value = res.json().await.unwrap();
    assert_eq!(first["stored"], true);

    let res = post(file.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the same snapshot, uncompressed, is recognised");
    let second: serde_json::Value = res.json().await.unwrap();
    assert_eq!((second["id"].clone(), second["stored"].clone()), (first["id"].clone(), false.into()));

    let broken = String::from_utf8(file.clone()).unwrap().replacen("\"collector\":\"test\"", "\"collector\":false", 1);
    let res = post(broken.into_bytes()).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let err: serde_json::Value = res.json().await.unwrap();
    assert_eq!(err["path"], "collector", "{err}");
    assert!(err["error"].as_str().unwrap().contains("line 1"), "{err}");

    let res = post(vec![b' '; 100 * 1024]).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let count: i64 = sqlx::query_scalar("select count(*) from snapshots").fetch_one(&pool).await.unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_audit_page_links_to_older_entries_keeping_its_filters(pool: PgPool) {
    accounts::user(&pool, "root", &[Role::Admin]).await.unwrap();
    for i in 0..60 {
        let mut tx = pool.begin().await.unwrap();
        attest_core::audit::append(&mut tx, "a b&c", "test.event", &format!("n:{i}"), serde_json::json!({}))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let app = spawn::in_process(pool, |_| {}).await.unwrap();
    let c = client();
    sign_in(&c, &app.base, "root", accounts::PASSWORD).await;
    let html = c.get(format!("{}/admin/audit?actor=a+b%26c", app.base)).send().await.unwrap().text().await.unwrap();
    let link = html.split("href=\"/admin/audit?").nth(1).expect("a link to older entries").split('"').next().unwrap();
    assert!(link.starts_with("actor=a+b%26c&amp;before="), "{link}");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_findings_api_filters_pages_explains_and_refuses_bad_parameters(pool: PgPool) {
    evaluated_demo(&pool, 6, 4).await;
    accounts::user(&pool, "robot", &[Role::Viewer]).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let (_, secret) = tokens::create(&mut tx, "test", &UserName::parse("robot").unwrap(), "ci").await.unwrap();
    tx.commit().await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = Client::new();
    let get = |path: &str| c.get(format!("{}/api/v1{path}", app.base)).bearer_auth(secret.expose_secret()).send();

    let res = get("/findings?state=NonCompliant&severity=High&per_page=5").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value = res.json().await.unwrap();
    let findings = body["findings"].as_array().unwrap();
    assert!(body["total"].as_i64().unwrap() > 5 && findings.len() == 5, "{body}");
    for f in findings {
        for key in ["id", "control", "resource", "state", "severity"] {
            assert!(!f[key].is_null(), "{key} missing in {f}");
        }
        assert_eq!((f["state"].as_str(), f["severity"].as_str()), (Some("NonCompliant"), Some("High")));
    }
    let page2: serde_json::Value =
        get("/findings?state=NonCompliant&severity=High&per_page=5&page=2").await.unwrap().json().await.unwrap();
    assert_ne!(page2["findings"][0]["id"], findings[0]["id"]);

    let id = findings[0]["id"].as_i64().unwrap();
    let one: serde_json::Value = get(&format!("/findings/{id}")).await.unwrap().json().await.unwrap();
    assert!(one["evidence"]["reasons"].as_array().is_some_and(|r| !r.is_empty()), "{one}");
    assert_eq!(one["history"].as_array().unwrap().len(), 1);
    let evaluation = one["evaluation_id"].as_i64().unwrap();
    assert_eq!(one["history"][0]["evaluation_id"], evaluation);
    assert_eq!(one["present"], true);
    // A past evaluation is asked for by name, and shows the same finding.
    let then: serde_json::Value =
        get(&format!("/findings/{id}?evaluation={evaluation}")).await.unwrap().json().await.unwrap();
    assert_eq!((then["id"].as_i64(), then["evaluation_id"].as_i64()), (Some(id), Some(evaluation)));
    // The same filters as CSV: a header, then every match (paging ignored).
    let res = get("/findings.csv?state=NonCompliant&severity=High&per_page=5").await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("id,control,title,severity,state,delta,first_seen,resource"), "{}", lines[0]);
    assert_eq!(lines.len() as i64 - 1, body["total"].as_i64().unwrap());
    assert!(lines[1..].iter().all(|l| l.contains(",High,NonCompliant,")), "{text}");
    let res = get("/findings.csv?state=Broken").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let bad_evaluation = format!("/findings/{id}?evaluation=999999");
    let bad_snapshot = format!("/findings/{id}?snapshot=00000000-0000-0000-0000-000000000000");
    let not_a_number = format!("/findings/{id}?evaluation=latest");

    for (path, field) in [
        ("/findings?state=Broken", "state"),
        ("/findings?per_page=100000", "page"),
        ("/findings?colour=blue", "colour"),
        ("/findings?snapshot=not-a-uuid", "snapshot"),
        ("/findings?evaluation=x", "evaluation"),
        ("/findings?area=Nowhere", "area"),
        ("/findings/abc", "id"),
        (bad_evaluation.as_str(), "evaluation"),
        (bad_snapshot.as_str(), "snapshot"),
        (not_a_number.as_str(), "evaluation"),
    ] {
        let res = get(path).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    assert_eq!(get("/findings/999999999").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get(format!("{}/api/v1/findings", app.base)).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The OpenAPI document describes exactly the API's routes.
    let doc: serde_json::Value =
        c.get(format!("{}/api/v1/openapi.json", app.base)).send().await.unwrap().json().await.unwrap();
    let mut paths: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/access",
            "/exemptions",
            "/exemptions/{id}",
            "/exemptions/{id}/decisions",
            "/findings",
            "/findings/{id}",
            "/me",
            "/openapi.json",
            "/principals/{id}",
            "/reviews",
            "/reviews/{id}",
            "/reviews/{id}/certify",
            "/reviews/{id}/decisions",
            "/reviews/{id}/export",
            "/snapshots"
        ]
    );
    let required = &doc["components"]["schemas"]["FindingSummary"]["required"];
    assert_eq!(required, &serde_json::json!(["id", "control", "resource", "state", "severity"]));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_exemptions_api_requests_decides_and_answers_403_409_and_422(pool: PgPool) {
    use serde_json::{json, Value};
    evaluated_demo(&pool, 4, 2).await;
    let (finding, resource): (i64, String) = sqlx::query_as(
        "select finding_id, resource_id from finding_spans
          where control = 'attest-identity-managed-identity' and state = 'NonCompliant' order by finding_id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let subscription = format!("/subscriptions/{}", resource.split('/').nth(2).unwrap());
    accounts::user(&pool, "rita", &[Role::Requester]).await.unwrap();
    accounts::user(&pool, "vic", &[Role::Viewer]).await.unwrap();
    for approver in ["anna", "bert"] {
        accounts::user(&pool, approver, &[]).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        let scope = attest_core::names::Scope::parse(&subscription).unwrap();
        users::grant(&mut tx, "test", &UserName::parse(approver).unwrap(), Role::Approver, Some(&scope)).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut secrets = std::collections::HashMap::new();
    for name in ["rita", "vic", "anna", "bert"] {
        let mut tx = pool.begin().await.unwrap();
        let (_, s) = tokens::create(&mut tx, "test", &UserName::parse(name).unwrap(), "ci").await.unwrap();
        tx.commit().await.unwrap();
        secrets.insert(name, s);
    }
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = Client::new();
    let post = |who: &str, path: &str, body: Value| {
        c.post(format!("{}/api/v1{path}", app.base)).bearer_auth(secrets[who].expose_secret()).json(&body).send()
    };
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let ask = json!({"finding": finding, "category": "Waiver", "justification": "Retired in Q1",
                     "ticket": "CHG-9", "expires_on": expires});

    // A viewer may not ask; a bad field is named; a requester's request is created.
    assert_eq!(post("vic", "/exemptions", ask.clone()).await.unwrap().status(), StatusCode::FORBIDDEN);
    let mut bad = ask.clone();
    bad["category"] = "Mitigated".into();
    let res = post("rita", "/exemptions", bad).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "compensating_controls");
    let mut late = ask.clone();
    late["expires_on"] = "next year".into();
    let res = post("rita", "/exemptions", late).await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "expires_on");
    let res = post("rita", "/exemptions", ask.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let decisions = format!("/exemptions/{id}/decisions");
    // Nobody decides their own request.
    let res = post("rita", &decisions, json!({"decision": "approve", "comment": "mine"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.json::<Value>().await.unwrap()["error"].as_str().unwrap().contains("own request"));
    let res = post("anna", &decisions, json!({"decision": "approve"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.json::<Value>().await.unwrap()["field"], "comment");
    // Two approvers at the same moment: one wins, the other gets 409.
    let (a, b) = tokio::join!(
        post("anna", &decisions, json!({"decision": "approve", "comment": "ok"})),
        post("bert", &decisions, json!({"decision": "reject", "comment": "no"})),
    );
    let mut statuses = [a.unwrap().status(), b.unwrap().status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);

    let got: Value = c
        .get(format!("{}/api/v1/exemptions/{id}", app.base))
        .bearer_auth(secrets["vic"].expose_secret())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["requested_by"], "rita");
    assert_eq!(got["history"].as_array().unwrap().len(), 2);
    if got["state"] == "approved" {
        assert_eq!(got["azure"]["arm"]["properties"]["metadata"]["ticketRef"], "CHG-9");
        assert_eq!(got["approved_against"][0]["finding_id"], finding);
    } else {
        assert_eq!(got["state"], "rejected");
    }
}

/// Hundreds of slow-header and idle connections from one client address are
/// closed — those over its share at once, the rest when the header timeout
/// passes — while a client from another address is served meanwhile; and an
/// idle keep-alive connection is closed after the same timeout.
#[sqlx::test(migrations = "../migrations")]
async fn slow_and_idle_connections_are_closed_and_others_are_served(pool: PgPool) {
    use std::net::{IpAddr, SocketAddr};
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SHARE: usize = 100;
    let app = spawn::in_process(pool, |c| {
        c.header_timeout_secs = 2;
        c.max_connections_per_client = SHARE;
    })
    .await
    .unwrap();
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    // Loopback holds all of 127/8: the attacker is another address.
    let attacker: IpAddr = [127, 0, 0, 2].into();
    let started = Instant::now();
    let mut held = Vec::new();
    for i in 0..300 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(attacker, 0)).unwrap();
        let mut s = socket.connect(addr).await.unwrap();
        if i % 2 == 0 {
            // A request line that never ends.
            let _ = s.write_all(b"GET /healthz HT").await;
        }
        held.push(s);
    }
    // Each connection's own time to be closed, watched concurrently.
    let closing = tokio::spawn(futures_util::future::join_all(held.into_iter().map(|mut s| async move {
        let mut buf = [0u8; 512];
        let ended = tokio::time::timeout(Duration::from_secs(15), async {
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        })
        .await;
        ended.map(|()| started.elapsed())
    })));

    // Meanwhile another client is served, promptly.
    for path in ["/healthz", "/readyz", "/signin"] {
        let t = Instant::now();
        let res = Client::new().get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert!(t.elapsed() < Duration::from_secs(2), "{path} took {:?}", t.elapsed());
    }

    let closed: Vec<Duration> =
        closing.await.unwrap().into_iter().map(|r| r.expect("a connection was still open after 15 s")).collect();
    let at_once = closed.iter().filter(|t| **t < Duration::from_millis(1500)).count();
    assert!(at_once >= 300 - SHARE, "{at_once} closed at once; those over the share of {SHARE} should be");
    let last = closed.iter().max().unwrap();
    assert!(*last < Duration::from_secs(8), "the last was closed after {last:?}; the header timeout is 2 s");

    // An idle keep-alive connection: served, then closed after the timeout.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: attest\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let idle = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "an idle keep-alive connection stayed open");
    assert!(idle.elapsed() >= Duration::from_millis(1500), "closed after {:?}, before the timeout", idle.elapsed());
}

/// Input the database cannot store, numbers past any range, and requests a
/// server function cannot read each answer a 4xx naming the problem (413 for
/// a body over the limit), never a 500.
#[sqlx::test(migrations = "../migrations")]
async fn bad_input_is_a_4xx_naming_the_problem_never_a_500(pool: PgPool) {
    evaluated_demo(&pool, 3, 4).await;
    accounts::user(&pool, "root", &[Role::Admin]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = client();
    assert!(sign_in(&c, &app.base, "root", accounts::PASSWORD).await.status().is_success());

    for (path, status, says) in [
        ("/api/v1/findings?resource=a%00b", 422, "NUL"),
        ("/api/v1/findings?page=9223372036854775807", 422, "page"),
        ("/api/v1/findings?page=9223372036854775807&per_page=500", 422, "page"),
        ("/findings?resource=a%00b", 422, "NUL"),
        ("/findings?page=9223372036854775807", 422, "page"),
    ] {
        let res = c.get(format!("{}{path}", app.base)).send().await.unwrap();
        let code = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_eq!(code, status, "{path}: {body}");
        assert!(body.contains(says), "{path} should say {says:?}: {body}");
    }

    let post = |endpoint: &str, body: Vec<u8>| {
        c.post(format!("{}/api/fn/{endpoint}", app.base))
            .header("origin", &app.base)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    for (endpoint, body, status, says) in [
        ("admin/tokens/create", b"name=root&label=a%00b".to_vec(), 422, "NUL"),
        ("admin/tokens/create", b"label=ci".to_vec(), 400, "`name` is missing"),
        ("admin/tokens/create", b"name=root&label=\xff\xfe".to_vec(), 400, "UTF-8"),
        ("findings/list", b"page=9223372036854775807".to_vec(), 400, "missing"),
    ] {
        let res = post(endpoint, body.clone()).await.unwrap();
        let code = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(code, status, "{endpoint} {}: {text}", String::from_utf8_lossy(&body));
        assert!(text.contains(says), "{endpoint} should say {says:?}: {text}");
        assert!(!text.contains("deserializ"), "serde's wording leaked: {text}");
    }

    // A chunked body (no Content-Length to refuse up front) over the limit.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = app.base.trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
        let head = format!(
            "POST /api/fn/session/sign-in HTTP/1.1\r\nHost: {host}\r\nOrigin: {}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
            app.base
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        for _ in 0..40 {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                break; // the server answered and closed: expected
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    }
}
