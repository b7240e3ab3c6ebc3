//! The authorization matrix: every route and every server function, called
//! as an anonymous visitor and as each role, with the answer each must get.
//! A server function that is not in the matrix fails the test, so a new one
//! cannot ship without its authorization being decided here.

use attest_core::Role;
use reqwest::{redirect::Policy, Client, Method, StatusCode};
use sqlx::PgPool;
use std::collections::BTreeSet;
use tests::{accounts, spawn};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Viewer,
    Auditor,
    Requester,
    Approver,
    Admin,
}

const EVERYONE: [Who; 6] = [Who::Anonymous, Who::Viewer, Who::Auditor, Who::Requester, Who::Approver, Who::Admin];

impl Who {
    fn user(self) -> Option<&'static str> {
        match self {
            Who::Anonymous => None,
            Who::Viewer => Some("viewer"),
            Who::Auditor => Some("auditor"),
            Who::Requester => Some("requester"),
            Who::Approver => Some("approver"),
            Who::Admin => Some("admin"),
        }
    }
}

/// What a caller gets: `anon` for visitors, `allowed` for the listed roles,
/// `denied` for the other signed-in roles.
struct Rule {
    method: Method,
    path: &'static str,
    body: String,
    anon: u16,
    allowed: &'static [Who],
    ok: u16,
    denied: u16,
}

fn page(path: &'static str, allowed: &'static [Who]) -> Rule {
    Rule { method: Method::GET, path, body: String::new(), anon: 303, allowed, ok: 200, denied: 403 }
}

fn call(path: &'static str, body: impl Into<String>, allowed: &'static [Who]) -> Rule {
    Rule { method: Method::POST, path, body: body.into(), anon: 401, allowed, ok: 200, denied: 403 }
}

const SIGNED_IN: &[Who] = &[Who::Viewer, Who::Auditor, Who::Requester, Who::Approver, Who::Admin];
const ADMIN: &[Who] = &[Who::Admin];
const AUDIT_READERS: &[Who] = &[Who::Auditor, Who::Admin];
const REQUESTERS: &[Who] = &[Who::Requester, Who::Approver];
const APPROVERS: &[Who] = &[Who::Approver];

/// A date `days` from now, as the request form sends it.
fn in_days(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days)).date().to_string()
}

/// A path built at run time (the matrix holds `'static` paths).
fn at(path: String) -> &'static str {
    Box::leak(path.into_boxed_str())
}

/// The objects the matrix's calls name.
struct Ids<'a> {
    token: &'a str,
    snapshot: &'a str,
    account: &'a str,
    finding: &'a str,
    manual: &'a str,
    /// A pending exemption the requester account asked for.
    exemption: &'a str,
    /// A finding nobody asked about: the approver's own request.
    spare: &'a str,
    /// A principal a role assignment names.
    principal: &'a str,
    /// An open review campaign and one of its items; another open one.
    review: &'a str,
    review_item: &'a str,
    other_review: &'a str,
}

fn matrix(who: Who, ids: &Ids) -> Vec<Rule> {
    let Ids {
        token: token_id,
        snapshot,
        account,
        finding,
        manual,
        exemption,
        spare,
        principal,
        review,
        review_item,
        other_review,
    } = *ids;
    // Bodies name a per-caller object where the admin's call changes state,
    // so each admin call succeeds once on its own.
    let me = who.user().unwrap_or("anonymous");
    let account_q: String = form_urlencoded::Serializer::new(String::new()).append_pair("id", account).finish();
    vec![
        page("/", SIGNED_IN),
        page("/snapshots", SIGNED_IN),
        page(at(format!("/snapshots/{snapshot}")), SIGNED_IN),
        page(at(format!("/snapshots/{snapshot}?kind=role_assignment&sort=kind&desc=1&q=user")), SIGNED_IN),
        page(at(format!("/snapshots/{snapshot}/resource?kind=account&{account_q}")), SIGNED_IN),
        page(at(format!("/diff?from={snapshot}&to={snapshot}")), SIGNED_IN),
        page("/findings", SIGNED_IN),
        page("/findings?state=NonCompliant&severity=High&framework=GDPR&subscription=00000000-0000-0000-0000-000000000000&resource=acct", SIGNED_IN),
        page(at(format!("/findings/{finding}")), SIGNED_IN),
        page("/frameworks", SIGNED_IN),
        // Who holds which keys, by directory name: for those who review access.
        page("/access", AUDIT_READERS),
        page("/access?flagged=true&level=owner_level&principal_type=user&flag=attest-access-broad-scope", AUDIT_READERS),
        page(at(format!("/access/principals/{principal}")), AUDIT_READERS),
        Rule { anon: 401, ..page("/api/v1/access?flagged=true", AUDIT_READERS) },
        Rule { anon: 401, ..page(at(format!("/api/v1/access?account={}", account_q.trim_start_matches("id="))), AUDIT_READERS) },
        Rule { anon: 401, ..page(at(format!("/api/v1/principals/{principal}")), AUDIT_READERS) },
        page("/reviews", AUDIT_READERS),
        page(at(format!("/reviews/{review}")), AUDIT_READERS),
        page(at(format!("/reviews/{review}?flagged=flagged&status=open&principal_type=user")), AUDIT_READERS),
        Rule { anon: 401, ..page(at(format!("/api/v1/reviews/{review}")), AUDIT_READERS) },
        Rule { anon: 401, ..page(at(format!("/api/v1/reviews/{review}/export?format=az")), AUDIT_READERS) },
        Rule { anon: 401, ..page(at(format!("/api/v1/reviews/{review}/export?format=csv")), AUDIT_READERS) },
        // Authorization first; then an allowed caller's empty body is refused (422).
        Rule { ok: 422, ..call("/api/v1/reviews", "", AUDIT_READERS) },
        Rule { ok: 422, ..call(at(format!("/api/v1/reviews/{review}/decisions")), "", AUDIT_READERS) },
        Rule { ok: 422, ..call(at(format!("/api/v1/reviews/{review}/certify")), "", AUDIT_READERS) },
        page("/frameworks?name=GDPR", SIGNED_IN),
        // Every signed-in role sees the page; only an admin sees the form.
        page("/import", SIGNED_IN),
        // An admin posting no file is sent back to the form with the reason.
        Rule { ok: 303, ..call("/upload/snapshot", "", ADMIN) },
        // Allowed callers posting no form are sent back to the finding with the reason.
        Rule { ok: 303, ..call(at(format!("/attest/finding/{manual}")), "", AUDIT_READERS) },
        page("/admin/users", ADMIN),
        page("/admin/users/target", ADMIN),
        page("/admin/audit", AUDIT_READERS),
        page("/admin/assignments", ADMIN),
        page("/exemptions", SIGNED_IN),
        page("/exemptions?state=pending&category=Waiver&expiring=30&scope=/subscriptions", SIGNED_IN),
        page(at(format!("/exemptions/{exemption}")), SIGNED_IN),
        page("/exemptions/new", REQUESTERS),
        page("/approvals", APPROVERS),
        Rule { anon: 401, ..page(at(format!("/api/v1/exemptions/{exemption}")), SIGNED_IN) },
        // Authorization first; then an allowed caller's empty body is refused (422).
        Rule { ok: 422, ..call("/api/v1/exemptions", "", REQUESTERS) },
        // Any signed-in caller may post a decision; whether it is theirs to make
        // is the state machine's answer, after the body is read.
        Rule { ok: 422, ..call(at(format!("/api/v1/exemptions/{exemption}/decisions")), "", SIGNED_IN) },
        // An admin posting no file is sent back to the page with the reason.
        Rule { ok: 303, ..call("/admin/definitions", "", ADMIN) },
        Rule { anon: 303, ok: 404, denied: 404, ..page("/no-such-page", SIGNED_IN) },
        Rule { anon: 200, ok: 303, denied: 303, ..page("/signin", SIGNED_IN) },
        Rule { anon: 200, ok: 200, ..page("/healthz", SIGNED_IN) },
        Rule { anon: 200, ok: 200, ..page("/readyz", SIGNED_IN) },
        Rule { anon: 200, ok: 200, ..page("/pkg/attest.css", SIGNED_IN) },
        Rule { anon: 401, ..page("/api/v1/me", SIGNED_IN) },
        Rule { anon: 401, ..page("/api/v1/findings?state=NonCompliant&severity=High&framework=GDPR", SIGNED_IN) },
        Rule { anon: 401, ..page("/api/v1/findings.csv?failing=1&area=Network%20isolation", SIGNED_IN) },
        Rule { anon: 401, ..page(at(format!("/api/v1/findings/{finding}")), SIGNED_IN) },
        Rule { anon: 200, ok: 200, ..page("/api/v1/openapi.json", SIGNED_IN) },
        Rule { anon: 404, ok: 404, ..page("/api/v1/no-such-endpoint", SIGNED_IN) },
        // An empty body: authorization is decided before the file is read,
        // and an admin gets the file's error (422), not a stored snapshot.
        Rule { ok: 422, ..call("/api/v1/snapshots", "", ADMIN) },
        Rule { anon: 200, ..call("/api/fn/session/current", "", SIGNED_IN) },
        call("/api/fn/session/flash", "page=import", SIGNED_IN),
        // Wrong credentials answer 401 to everyone; sign-in itself is open.
        Rule {
            anon: 401,
            ok: 401,
            ..call("/api/fn/session/sign-in", format!("username=nobody-{me}&password=wrong-password-1"), SIGNED_IN)
        },
        call("/api/fn/session/sign-out", "", SIGNED_IN),
        call("/api/fn/dashboard/summary", "", SIGNED_IN),
        call("/api/fn/snapshots/list", "", SIGNED_IN),
        call(
            "/api/fn/snapshots/inventory",
            format!("query[snapshot]={snapshot}&query[kind]=deployment&query[q]=gpt&query[flag]=&query[sort]=model&query[desc]=true&query[page]=1"),
            SIGNED_IN,
        ),
        call("/api/fn/snapshots/resource", format!("snapshot={snapshot}&kind=account&{account_q}"), SIGNED_IN),
        call("/api/fn/snapshots/diff", format!("from={snapshot}&to={snapshot}"), SIGNED_IN),
        call(
            "/api/fn/findings/list",
            "query[state]=NonCompliant&query[severity]=High&query[control]=&query[framework]=GDPR&query[resource]=&query[page]=1",
            SIGNED_IN,
        ),
        call("/api/fn/findings/get", format!("id={finding}"), SIGNED_IN),
        call("/api/fn/findings/compliance", "", SIGNED_IN),
        call("/api/fn/findings/framework", "name=HIPAA", SIGNED_IN),
        call("/api/fn/admin/assignments", "", ADMIN),
        call(
            "/api/fn/access/list",
            "query[account]=&query[principal_type]=user&query[level]=&query[flag]=&query[subscription]=&query[flagged]=true&query[page]=1",
            AUDIT_READERS,
        ),
        call("/api/fn/access/principal", format!("id={principal}"), AUDIT_READERS),
        call("/api/fn/reviews/list", "", AUDIT_READERS),
        call(
            "/api/fn/reviews/get",
            format!("query[id]={review}&query[flagged]=&query[status]=&query[principal_type]="),
            AUDIT_READERS,
        ),
        call("/api/fn/reviews/create", format!("name=matrix-{me}&scope=/"), AUDIT_READERS),
        call(
            "/api/fn/reviews/decide",
            format!("campaign={review}&item={review_item}&decision=keep&role=&scope=&comment=reviewed"),
            AUDIT_READERS,
        ),
        call(
            "/api/fn/reviews/decide-bulk",
            format!("campaign={review}&flagged=flagged&status=&principal_type=&decision=keep&comment=reviewed"),
            AUDIT_READERS,
        ),
        // Its items are open: an allowed caller is refused with a conflict.
        Rule { ok: 409, ..call("/api/fn/reviews/certify", format!("campaign={other_review}&comment=done"), AUDIT_READERS) },
        // One pending request per finding: each caller asks for its own.
        call(
            "/api/fn/exemptions/request",
            format!(
                "finding={}&category=Waiver&justification=Decommissioned+soon&expires_on={}",
                if who == Who::Approver { spare } else { finding },
                in_days(30)
            ),
            REQUESTERS,
        ),
        call("/api/fn/exemptions/list", "query[state]=&query[category]=&query[expiring]=&query[scope]=", SIGNED_IN),
        call("/api/fn/exemptions/get", format!("id={exemption}"), SIGNED_IN),
        // Only the requester withdraws (the requester account asked for it);
        // the approver and the admin who come after are refused, not late.
        call("/api/fn/exemptions/decide", format!("id={exemption}&decision=withdraw&comment=not+needed"), &[Who::Requester]),
        call("/api/fn/exemptions/queue", "", APPROVERS),
        call("/api/fn/exemptions/attention", "", SIGNED_IN),
        call("/api/fn/exemptions/assignments", "", REQUESTERS),
        call("/api/fn/exemptions/limit", "severity=Low&max_days=200", ADMIN),
        call(
            "/api/fn/admin/assignment-update",
            "id=/providers/Microsoft.Authorization/policyAssignments/attest-cost-budget&effect=Manual&enforcement_mode=DoNotEnforce&not_scopes=&parameters=",
            ADMIN,
        ),
        call(
            "/api/fn/audit/list",
            "query[actor]=&query[action]=&query[object]=&query[since]=&query[until]=",
            AUDIT_READERS,
        ),
        call("/api/fn/audit/verify", "", AUDIT_READERS),
        call("/api/fn/audit/signing", "", AUDIT_READERS),
        call("/api/fn/admin/users/list", "", ADMIN),
        call("/api/fn/admin/users/get", "name=target", ADMIN),
        call("/api/fn/admin/users/create", format!("name=new-{me}&password=another+long+password"), ADMIN),
        call("/api/fn/admin/users/set-disabled", "name=target&disabled=true", ADMIN),
        call("/api/fn/admin/users/reset-password", "name=target&password=", ADMIN),
        call("/api/fn/admin/roles/grant", "name=target&role=auditor&scope=", ADMIN),
        call("/api/fn/admin/roles/revoke", "name=target&role=viewer&scope=", ADMIN),
        call("/api/fn/admin/tokens/list", "name=target", ADMIN),
        call("/api/fn/admin/tokens/create", "name=target&label=ci", ADMIN),
        call("/api/fn/admin/tokens/revoke", format!("id={token_id}"), ADMIN),
    ]
}

async fn client_for(base: &str, who: Who) -> anyhow::Result<Client> {
    let client = Client::builder().cookie_store(true).redirect(Policy::none()).build()?;
    if let Some(name) = who.user() {
        let res = client
            .post(format!("{base}/api/fn/session/sign-in"))
            .header("origin", base)
            .form(&[("username", name), ("password", accounts::PASSWORD)])
            .send()
            .await?;
        anyhow::ensure!(res.status() == StatusCode::OK, "signing in as {name}: {}", res.status());
    }
    Ok(client)
}

#[sqlx::test(migrations = "../migrations")]
async fn every_route_answers_every_role_as_the_matrix_says(pool: PgPool) -> anyhow::Result<()> {
    for (name, roles) in [
        ("viewer", vec![Role::Viewer]),
        ("auditor", vec![Role::Auditor]),
        ("requester", vec![Role::Requester]),
        ("approver", vec![Role::Approver]),
        ("admin", vec![Role::Admin]),
        ("target", vec![Role::Viewer]),
    ] {
        accounts::user(&pool, name, &roles).await?;
    }
    let token_id = {
        let mut tx = pool.begin().await?;
        let name = attest_core::names::UserName::parse("target")?;
        let (id, _) = attest_core::tokens::create(&mut tx, "test", &name, "to-revoke").await?;
        tx.commit().await?;
        id.to_string()
    };
    let (snapshot, account, principal) = {
        use attest_core::snapshot::{demo, store};
        let estate = demo::generate(4, 2);
        let mut tx = pool.begin().await?;
        let stored = store::insert(&mut tx, &estate, store::Source::Demo, "test").await?;
        tx.commit().await?;
        attest_core::findings::evaluate_snapshot(&pool, stored.id, "test").await?;
        (
            stored.id.to_string(),
            estate.accounts[0].account["id"].as_str().unwrap().to_string(),
            estate.role_assignments[0]["properties"]["principalId"].as_str().unwrap().to_string(),
        )
    };
    let finding: i64 = sqlx::query_scalar("select min(finding_id) from finding_spans").fetch_one(&pool).await?;
    let finding = finding.to_string();
    let manual: i64 = sqlx::query_scalar("select min(finding_id) from finding_spans where effect = 'manual'")
        .fetch_one(&pool)
        .await?;
    let manual = manual.to_string();
    let spare: i64 = sqlx::query_scalar("select max(finding_id) from finding_spans where until_eval is null")
        .fetch_one(&pool)
        .await?;
    let spare = spare.to_string();
    let exemption = {
        let f: i64 = sqlx::query_scalar(
            "select min(finding_id) from finding_spans where state = 'NonCompliant' and control = 'attest-identity-managed-identity'",
        )
        .fetch_one(&pool)
        .await?;
        let requester = attest_core::Principal {
            user_id: uuid::Uuid::nil(),
            name: "requester".into(),
            grants: vec![attest_core::principal::Grant { role: Role::Requester, scope: String::new() }],
        };
        let r = attest_core::exemptions::NewRequest {
            finding: Some(f),
            category: "Waiver".into(),
            justification: "for the matrix".into(),
            expires_on: Some(time::OffsetDateTime::now_utc() + time::Duration::days(30)),
            ..Default::default()
        };
        attest_core::exemptions::request(&pool, &requester, r).await?.to_string()
    };
    let review = attest_core::reviews::create(&pool, "test", "matrix", "/", None).await?;
    let other_review = attest_core::reviews::create(&pool, "test", "matrix, open", "/", None).await?.to_string();
    let review_item: i64 = sqlx::query_scalar("select min(id) from review_items where campaign_id = $1")
        .bind(review)
        .fetch_one(&pool)
        .await?;
    let (review, review_item) = (review.to_string(), review_item.to_string());
    let app = spawn::in_process(pool, |_| {}).await?;

    let mut failures = Vec::new();
    // The admin goes last, so state-changing calls by others are seen to fail
    // against the same objects the admin then changes.
    for who in EVERYONE {
        let ids = Ids {
            token: &token_id,
            snapshot: &snapshot,
            account: &account,
            finding: &finding,
            manual: &manual,
            exemption: &exemption,
            spare: &spare,
            principal: &principal,
            review: &review,
            review_item: &review_item,
            other_review: &other_review,
        };
        for rule in matrix(who, &ids) {
            // A fresh session per request: sign-out must not affect the next.
            let client = client_for(&app.base, who).await?;
            let res = client
                .request(rule.method.clone(), format!("{}{}", app.base, rule.path))
                .header("origin", &app.base)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(rule.body.clone())
                .send()
                .await?;
            let want = match who {
                Who::Anonymous => rule.anon,
                w if rule.allowed.contains(&w) => rule.ok,
                _ => rule.denied,
            };
            if res.status().as_u16() != want {
                failures.push(format!("{who:?} {} {} → {} (want {want})", rule.method, rule.path, res.status()));
            }
        }
    }
    assert!(failures.is_empty(), "authorization matrix violations:\n{}", failures.join("\n"));
    Ok(())
}

#[test]
fn every_server_function_is_in_the_matrix() {
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_string()).collect();
    let ids = Ids {
        token: "x",
        snapshot: "s",
        account: "a",
        finding: "1",
        manual: "2",
        exemption: "3",
        spare: "4",
        principal: "p",
        review: "5",
        review_item: "6",
        other_review: "7",
    };
    let covered: BTreeSet<String> = matrix(Who::Admin, &ids)
        .into_iter()
        .filter(|r| r.path.starts_with("/api/fn/"))
        .map(|r| r.path.to_string())
        .collect();
    // Touch the app so its server functions are linked into this binary.
    let _ = server::startup::SESSION_COOKIE;
    assert!(!registered.is_empty(), "no server functions registered");
    assert_eq!(registered, covered, "server functions and the authorization matrix differ");
}
