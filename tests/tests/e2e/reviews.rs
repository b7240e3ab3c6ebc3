//! Access review campaigns against a real database: items are the
//! assignments that reach the scope's accounts, flagged first; decisions
//! are validated and audited; certification is refused while items are
//! open and makes the campaign read-only; a later campaign proposes the
//! certified decision for what has not changed, and only for that; a due
//! date reminds once, then decides what is open by its policy, marked as
//! not reviewed, and closes the campaign.

use attest_core::reviews::{self, ItemFilter, NewDecision};
use attest_core::snapshot::{demo, store, Snapshot};
use attest_core::{CoreError, Role};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sqlx::PgPool;
use tests::{accounts, spawn};
use uuid::Uuid;

async fn stored_and_evaluated(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    attest_core::findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    id
}

fn keep(comment: &str) -> NewDecision {
    NewDecision { decision: "keep".into(), comment: comment.into(), ..Default::default() }
}

async fn audit_actions(pool: &PgPool, object: &str) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log where object = $1 order by seq")
        .bind(object)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_campaign_is_decided_certified_once_nothing_is_open_and_then_read_only(pool: PgPool) {
    let s = demo::generate(12, 42);
    let snapshot = stored_and_evaluated(&pool, &s).await;
    // A subscription's campaign covers exactly the assignments that reach its accounts.
    let subscription = s.accounts[0].account["id"].as_str().unwrap().split('/').take(3).collect::<Vec<_>>().join("/");
    let id = reviews::create(&pool, "aude", "Q4", &subscription.to_ascii_uppercase(), None).await.unwrap();
    let c = reviews::campaign(&pool, id).await.unwrap();
    assert_eq!(c.snapshot_id, snapshot);
    assert_eq!(c.scope, subscription.to_ascii_lowercase());
    let items = reviews::items(&pool, id, &ItemFilter::default()).await.unwrap();
    assert_eq!(items.len() as i64, c.items);
    let page = attest_core::access::matching(
        &pool,
        &attest_core::access::AccessFilter {
            subscription: subscription[15..].into(),
            page: 1,
            per_page: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut expected: Vec<String> = page.rows.iter().flat_map(|r| r.assignments.iter().map(|a| a.id.clone())).collect();
    expected.sort();
    expected.dedup();
    let mut got: Vec<String> = items.iter().map(|i| i.assignment.clone()).collect();
    got.sort();
    assert_eq!(got, expected);
    // Flagged first.
    let first_unflagged = items.iter().position(|i| i.flags.is_empty()).unwrap_or(items.len());
    assert!(c.flagged > 0 && items[..first_unflagged].iter().all(|i| !i.flags.is_empty()));
    assert!(items[first_unflagged..].iter().all(|i| i.flags.is_empty()));

    // Bad decisions are refused by field.
    let item = items[0].id;
    for (d, field) in [
        (NewDecision { decision: "maybe".into(), comment: "x".into(), ..Default::default() }, "decision"),
        (NewDecision { decision: "keep".into(), comment: "  ".into(), ..Default::default() }, "comment"),
        (NewDecision { decision: "change".into(), comment: "narrower".into(), ..Default::default() }, "role"),
        (
            NewDecision {
                decision: "keep".into(),
                role: Some("Reader".into()),
                comment: "x".into(),
                ..Default::default()
            },
            "role",
        ),
        (
            NewDecision {
                decision: "change".into(),
                scope: Some("/subscriptions/elsewhere".into()),
                comment: "x".into(),
                ..Default::default()
            },
            "scope",
        ),
    ] {
        match reviews::decide(&pool, "aude", id, item, &d).await {
            Err(CoreError::Invalid { field: f, .. }) => assert_eq!(f, field, "{d:?}"),
            other => panic!("{d:?}: {other:?}"),
        }
    }
    assert!(matches!(reviews::decide(&pool, "aude", id, i64::MAX, &keep("x")).await, Err(CoreError::NotFound { .. })));

    // One revoked, one changed, the flagged rest kept in bulk: certify is
    // refused while the unflagged ones are open.
    let revoked = reviews::decide(
        &pool,
        "aude",
        id,
        items[0].id,
        &NewDecision { decision: "revoke".into(), comment: "left the team".into(), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(revoked.decision.as_deref(), Some("revoke"));
    assert_eq!(revoked.decided_by.as_deref(), Some("aude"));
    let changed = reviews::decide(
        &pool,
        "aude",
        id,
        items[1].id,
        &NewDecision {
            decision: "change".into(),
            role: Some("Cognitive Services OpenAI User".into()),
            comment: "only needs to call models".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(changed.new_role.as_deref(), Some("Cognitive Services OpenAI User"));
    let flagged_open = ItemFilter { flagged: "flagged".into(), status: "open".into(), ..Default::default() };
    let n = reviews::decide_where(&pool, "aude", id, &flagged_open, "keep", "reviewed with the owners").await.unwrap();
    assert_eq!(n as usize, first_unflagged.saturating_sub(2));
    assert!(matches!(
        reviews::decide_where(&pool, "aude", id, &ItemFilter::default(), "change", "x").await,
        Err(CoreError::Invalid { field: "decision", .. })
    ));
    if first_unflagged < items.len() {
        match reviews::certify(&pool, "aude", id, "done").await {
            Err(CoreError::Conflict(why)) => assert!(why.contains("undecided"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
    let open = ItemFilter { status: "open".into(), ..Default::default() };
    reviews::decide_where(&pool, "aude", id, &open, "keep", "expected access").await.unwrap();
    reviews::certify(&pool, "aude", id, "All access in the subscription reviewed").await.unwrap();
    let c = reviews::campaign(&pool, id).await.unwrap();
    assert_eq!(c.certified_by.as_deref(), Some("aude"));
    assert_eq!(c.decided, c.items);

    // Read-only now: deciding or certifying again is a conflict, and the
    // database itself refuses edits to its items.
    assert!(matches!(reviews::decide(&pool, "aude", id, item, &keep("late")).await, Err(CoreError::Conflict(_))));
    assert!(matches!(reviews::certify(&pool, "aude", id, "again").await, Err(CoreError::Conflict(_))));
    assert!(sqlx::query("update review_items set comment = 'edited' where campaign_id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .is_err());

    // Every step is in the audit log.
    let actions = audit_actions(&pool, &format!("review:{id}")).await;
    assert_eq!(actions.first().map(String::as_str), Some("review.create"));
    assert_eq!(actions.last().map(String::as_str), Some("review.certify"));
    assert_eq!(actions.iter().filter(|a| *a == "review.decide").count(), 2);
    assert_eq!(actions.iter().filter(|a| *a == "review.decide_bulk").count(), 2);

    // The az export revokes, and changes by creating before deleting.
    let items = reviews::items(&pool, id, &ItemFilter::default()).await.unwrap();
    let script = reviews::export::az(&c, &items);
    assert!(script.contains(&format!(
        "az role assignment delete --ids '{}'",
        items.iter().find(|i| i.id == revoked.id).unwrap().assignment
    )));
    assert!(script.contains("--role 'Cognitive Services OpenAI User'"));
    assert!(script.contains("# Certified by aude"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_campaign_proposes_certified_decisions_only_for_what_has_not_changed(pool: PgPool) {
    let mut s = demo::generate(12, 42);
    stored_and_evaluated(&pool, &s).await;
    let first = reviews::create(&pool, "aude", "Q3", "/", None).await.unwrap();
    let items = reviews::items(&pool, first, &ItemFilter::default()).await.unwrap();
    let revoked = items[0].assignment.clone();
    reviews::decide(
        &pool,
        "aude",
        first,
        items[0].id,
        &NewDecision { decision: "revoke".into(), comment: "not needed".into(), ..Default::default() },
    )
    .await
    .unwrap();
    reviews::decide_where(
        &pool,
        "aude",
        first,
        &ItemFilter { status: "open".into(), ..Default::default() },
        "keep",
        "ok",
    )
    .await
    .unwrap();
    // An uncertified campaign proposes nothing.
    let draft = reviews::create(&pool, "aude", "draft", "/", None).await.unwrap();
    assert!(reviews::items(&pool, draft, &ItemFilter::default()).await.unwrap().iter().all(|i| i.suggested.is_none()));
    reviews::certify(&pool, "aude", first, "Q3 done").await.unwrap();

    // A later scan: one assignment's condition changed; the rest are as they were.
    let changed = s.role_assignments.iter().position(|a| a["id"].as_str() != Some(revoked.as_str())).unwrap();
    let changed_id = s.role_assignments[changed]["id"].as_str().unwrap().to_string();
    s.role_assignments[changed]["properties"]["description"] = json!("edited since the last review");
    s.finished_at += time::Duration::days(30);
    stored_and_evaluated(&pool, &s).await;
    let second = reviews::create(&pool, "aude", "Q4", "/", None).await.unwrap();
    let items = reviews::items(&pool, second, &ItemFilter::default()).await.unwrap();
    for i in &items {
        if i.assignment.eq_ignore_ascii_case(&changed_id) {
            assert_eq!(i.suggested, None, "a changed assignment is reviewed afresh");
        } else {
            let want = if i.assignment == revoked { "revoke" } else { "keep" };
            assert_eq!(i.suggested.as_deref(), Some(want), "{}", i.assignment);
            assert_eq!(i.suggested_from, Some(first));
        }
        assert_eq!(i.decision, None, "a suggestion is not a decision until confirmed");
    }
    // Confirming the suggestions decides exactly those items.
    let suggested = ItemFilter { status: "suggested".into(), ..Default::default() };
    let n = reviews::decide_where(&pool, "aude", second, &suggested, "suggested", "carried forward").await.unwrap();
    assert_eq!(n as usize, items.len() - 1);
    let open =
        reviews::items(&pool, second, &ItemFilter { status: "open".into(), ..Default::default() }).await.unwrap();
    assert_eq!(open.len(), 1);
    assert!(open[0].assignment.eq_ignore_ascii_case(&changed_id));
}

#[sqlx::test(migrations = "../migrations")]
async fn the_reviews_api_creates_decides_certifies_and_exports(pool: PgPool) {
    let s = demo::generate(6, 3);
    stored_and_evaluated(&pool, &s).await;
    accounts::user(&pool, "aude", &[Role::Auditor]).await.unwrap();
    accounts::user(&pool, "vic", &[Role::Viewer]).await.unwrap();
    let secrets = accounts::tokens(&pool, &["aude", "vic"]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = reqwest::Client::new();
    let url = |path: &str| format!("{}/api/v1{path}", app.base);
    let post = |who: &str, path: &str, body: Value| {
        c.post(url(path)).bearer_auth(secrets[who].expose_secret()).json(&body).send()
    };
    let get = |who: &str, path: &str| c.get(url(path)).bearer_auth(secrets[who].expose_secret()).send();

    assert_eq!(
        post("vic", "/reviews", json!({"name": "x", "scope": "/"})).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    for (body, field) in [
        (json!({"name": "", "scope": "/"}), "name"),
        (json!({"name": "x", "scope": "nowhere"}), "scope"),
        (json!({"name": "x", "scope": "/subscriptions/00000000-0000-0000-0000-000000000000"}), "scope"),
        (json!({"name": "x", "scope": "/", "colour": "red"}), "colour"),
    ] {
        let res = post("aude", "/reviews", body.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.json::<Value>().await.unwrap()["field"], field, "{body}");
    }
    let res = post("aude", "/reviews", json!({"name": "Q4", "scope": "/"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let review: Value = get("aude", &format!("/reviews/{id}")).await.unwrap().json().await.unwrap();
    let items = review["items"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    for key in ["id", "assignment", "principal", "role", "scope", "flags", "decision"] {
        assert!(items[0].get(key).is_some(), "{key}");
    }
    assert_eq!(get("vic", &format!("/reviews/{id}")).await.unwrap().status(), StatusCode::FORBIDDEN);

    // Certifying with open items is a conflict.
    let res = post("aude", &format!("/reviews/{id}/certify"), json!({"comment": "done"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = post(
        "aude",
        &format!("/reviews/{id}/decisions"),
        json!({"item": items[0]["id"], "decision": "nope", "comment": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    for (n, item) in items.iter().enumerate() {
        let decision = if n == 0 { "revoke" } else { "keep" };
        let res = post(
            "aude",
            &format!("/reviews/{id}/decisions"),
            json!({"item": item["id"], "decision": decision, "comment": "reviewed"}),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = post("aude", &format!("/reviews/{id}/certify"), json!({"comment": "done"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = post(
        "aude",
        &format!("/reviews/{id}/decisions"),
        json!({"item": items[0]["id"], "decision": "keep", "comment": "late"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::CONFLICT);

    let csv = get("aude", &format!("/reviews/{id}/export?format=csv")).await.unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("item,assignment,principal,"));
    assert_eq!(lines.count(), items.len());
    let az = get("aude", &format!("/reviews/{id}/export?format=az")).await.unwrap().text().await.unwrap();
    assert!(
        az.contains(&format!("az role assignment delete --ids '{}'", items[0]["assignment"].as_str().unwrap())),
        "{az}"
    );
    assert_eq!(az.matches("az role assignment delete").count(), 1);
    let res = get("aude", &format!("/reviews/{id}/export?format=pdf")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(get("aude", "/reviews/999999").await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_certified_revocation_a_later_scan_still_finds_is_a_finding_until_it_is_gone(pool: PgPool) {
    use attest_core::findings::{query, FindingFilter};
    let control = "attest-access-revocation-not-carried-out";
    let flagged = |snapshot: Uuid| {
        let pool = pool.clone();
        async move {
            let f = FindingFilter {
                snapshot: Some(snapshot),
                control: control.into(),
                state: "NonCompliant".into(),
                page: 1,
                per_page: 500,
                ..Default::default()
            };
            query::list(&pool, &f).await.unwrap().findings
        }
    };
    let mut s = demo::generate(12, 42);
    let reviewed = stored_and_evaluated(&pool, &s).await;
    let id = reviews::create(&pool, "aude", "Q4", "/", None).await.unwrap();
    let items = reviews::items(&pool, id, &ItemFilter::default()).await.unwrap();
    let target = items.iter().find(|i| i.flags.is_empty()).unwrap().clone();
    let revoke = NewDecision { decision: "revoke".into(), comment: "no longer needed".into(), ..Default::default() };
    reviews::decide(&pool, "aude", id, target.id, &revoke).await.unwrap();
    reviews::decide_where(&pool, "aude", id, &ItemFilter { status: "open".into(), ..Default::default() }, "keep", "ok")
        .await
        .unwrap();
    reviews::certify(&pool, "aude", id, "Q4 done").await.unwrap();
    // The snapshot the review read was taken before it was certified.
    attest_core::findings::evaluate_snapshot(&pool, reviewed, "test").await.unwrap();
    assert!(flagged(reviewed).await.is_empty());

    // A scan after the certification still has the assignment: High, naming the review.
    s.finished_at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let later = stored_and_evaluated(&pool, &s).await;
    let found = flagged(later).await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].resource_id.eq_ignore_ascii_case(&target.assignment));
    assert_eq!(found[0].severity, "High");
    assert!(
        found[0].evidence.to_string().contains(&format!("review #{id} (Q4) decided to revoke")),
        "{}",
        found[0].evidence
    );
    // The Access page shows it beside the assignment too.
    let rows = attest_core::access::matching(
        &pool,
        &attest_core::access::AccessFilter {
            snapshot: Some(later),
            flag: control.into(),
            page: 1,
            per_page: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .rows;
    assert!(!rows.is_empty() && rows.iter().all(|r| r.assignments.iter().any(|a| a.id == target.assignment)));

    // Once it is gone, so is the finding.
    s.role_assignments.retain(|a| !a["id"].as_str().unwrap().eq_ignore_ascii_case(&target.assignment));
    s.finished_at += time::Duration::hours(1);
    let done = stored_and_evaluated(&pool, &s).await;
    assert!(flagged(done).await.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_due_date_reminds_once_then_its_policy_decides_what_is_open_marked_not_reviewed(pool: PgPool) {
    let s = demo::generate(6, 3);
    stored_and_evaluated(&pool, &s).await;
    accounts::user(&pool, "aude", &[Role::Auditor]).await.unwrap();
    let secrets = accounts::tokens(&pool, &["aude"]).await.unwrap();
    let app = spawn::in_process(pool.clone(), |_| {}).await.unwrap();
    let c = reqwest::Client::new();
    let post = |body: Value| {
        c.post(format!("{}/api/v1/reviews", app.base)).bearer_auth(secrets["aude"].expose_secret()).json(&body).send()
    };
    let now = time::OffsetDateTime::now_utc();
    let day = |d: time::Duration| (now + d).date().to_string();
    // Bad dates and policies are refused by field.
    for (body, field) in [
        (json!({"name": "x", "scope": "/", "due": "yesterday"}), "due"),
        (json!({"name": "x", "scope": "/", "due": day(time::Duration::days(-2))}), "due"),
        (json!({"name": "x", "scope": "/", "due": day(time::Duration::days(400))}), "due"),
        (json!({"name": "x", "scope": "/", "due": day(time::Duration::days(2)), "on_due": "archive"}), "on_due"),
        (json!({"name": "x", "scope": "/", "on_due": "revoke"}), "on_due"),
    ] {
        let res = post(body.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(res.json::<Value>().await.unwrap()["field"], field, "{body}");
    }
    let res =
        post(json!({"name": "Q4", "scope": "/", "due": day(time::Duration::days(2)), "on_due": "recommendation"}))
            .await
            .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let c = reviews::campaign(&pool, id).await.unwrap();
    assert_eq!(c.on_due, "recommendation");
    let due_at = c.due_at.expect("a due date");
    let items = reviews::items(&pool, id, &ItemFilter::default()).await.unwrap();
    assert!(items.iter().any(|i| !i.flags.is_empty()) && items.iter().any(|i| i.flags.is_empty()));
    // A reviewer decides one; the rest stay open.
    let kept = items.iter().find(|i| !i.flags.is_empty()).unwrap();
    reviews::decide(&pool, "aude", id, kept.id, &keep("needed for the on-call rota")).await.unwrap();

    // Not yet within three days of the date a week before: nothing.
    let early = due_at - time::Duration::days(7);
    assert_eq!(server::jobs::reviews_once(&pool, None, early).await.unwrap(), (vec![], vec![]));
    // Within three days: reminded, once.
    let soon = due_at - time::Duration::days(1);
    let (reminded, closed) = server::jobs::reviews_once(&pool, None, soon).await.unwrap();
    assert_eq!(reminded.len(), 1);
    assert_eq!((reminded[0].campaign, reminded[0].open), (id, items.len() as i64 - 1));
    assert!(closed.is_empty());
    assert!(server::jobs::reviews_once(&pool, None, soon).await.unwrap().0.is_empty(), "reminded once");

    // Past the date: the recommendation decides what is open, and Attest certifies.
    let late = due_at + time::Duration::minutes(1);
    let (_, closed) = server::jobs::reviews_once(&pool, None, late).await.unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!((closed[0].campaign, closed[0].decided), (id, items.len() as i64 - 1));
    let c = reviews::campaign(&pool, id).await.unwrap();
    assert!(c.closed_at_due && c.certified_at.is_some());
    assert_eq!(c.certified_by.as_deref(), Some(reviews::due::ACTOR));
    for i in reviews::items(&pool, id, &ItemFilter::default()).await.unwrap() {
        if i.id == kept.id {
            assert!(!i.not_reviewed);
            assert_eq!(i.decision.as_deref(), Some("keep"));
            continue;
        }
        assert!(i.not_reviewed, "{i:?}");
        let want = if i.flags.is_empty() { "keep" } else { "revoke" };
        assert_eq!(i.decision.as_deref(), Some(want), "{i:?}");
        assert!(i.comment.as_deref().unwrap().starts_with("Not reviewed"));
    }
    // Read-only like any certified campaign; closing again does nothing.
    match reviews::decide(&pool, "aude", id, kept.id, &keep("late")).await {
        Err(CoreError::Conflict(_)) => {}
        other => panic!("{other:?}"),
    }
    assert!(server::jobs::reviews_once(&pool, None, late).await.unwrap().1.is_empty());
    let actions = audit_actions(&pool, &format!("review:{id}")).await;
    assert_eq!(actions, ["review.create", "review.decide", "review.remind", "review.close_due"]);
    // The exports say so.
    let az = reviews::export::az(&c, &reviews::items(&pool, id, &ItemFilter::default()).await.unwrap());
    assert!(az.contains("Closed at its due date"), "{az}");
}
