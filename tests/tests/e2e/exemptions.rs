//! The exemptions workflow against a real database: separation of duties,
//! scoped approval, two approvers for high severity, concurrent decisions,
//! the effect on findings, drift, expiry and reminders, and validation.

use attest_core::exemptions::{decide, expiry, query, request, Decision, NewRequest, State};
use attest_core::findings::{self, query as fq, FindingFilter};
use attest_core::principal::Grant;
use attest_core::snapshot::{demo, store, Snapshot};
use attest_core::{CoreError, Principal, Role};
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

fn person(name: &str, grants: &[(Role, &str)]) -> Principal {
    Principal {
        user_id: Uuid::new_v4(),
        name: name.into(),
        grants: grants.iter().map(|(role, scope)| Grant { role: *role, scope: scope.to_string() }).collect(),
    }
}

async fn evaluated(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    id
}

/// The newest evaluation's first finding of `control` in `state`.
async fn finding(pool: &PgPool, control: &str, state: &str) -> fq::FindingRow {
    let page = fq::list(
        pool,
        &FindingFilter { control: control.into(), state: state.into(), page: 1, per_page: 10, ..Default::default() },
    )
    .await
    .unwrap();
    page.findings.into_iter().next().unwrap_or_else(|| panic!("no {state} finding of {control}"))
}

/// The current state of the finding of (control, resource).
async fn current_state(pool: &PgPool, control: &str, resource: &str) -> fq::FindingRow {
    let page = fq::list(
        pool,
        &FindingFilter {
            control: control.into(),
            resource: resource.into(),
            page: 1,
            per_page: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(page.findings.len(), 1, "{control} on {resource}");
    page.findings.into_iter().next().unwrap()
}

fn subscription_of(resource: &str) -> String {
    format!("/subscriptions/{}", resource.split('/').nth(2).unwrap())
}

fn asked(finding: i64, days: i64) -> NewRequest {
    NewRequest {
        finding: Some(finding),
        category: "Waiver".into(),
        justification: "Decommissioned next quarter; traffic is internal only.".into(),
        ticket: "CHG-42".into(),
        expires_on: Some(OffsetDateTime::now_utc() + Duration::days(days)),
        ..Default::default()
    }
}

fn code(e: &CoreError) -> &'static str {
    match e {
        CoreError::Forbidden(_) => "forbidden",
        CoreError::Conflict(_) => "conflict",
        CoreError::Invalid { .. } => "invalid",
        _ => "other",
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn approval_needs_another_person_with_the_approver_role_over_the_scope(pool: PgPool) {
    evaluated(&pool, &demo::generate(8, 5)).await;
    // A Medium control: one approval is enough.
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let rita = person("rita", &[(Role::Requester, "")]);
    let self_approving = person("rita", &[(Role::Requester, ""), (Role::Approver, &sub)]);
    let elsewhere = person("otto", &[(Role::Approver, "/subscriptions/00000000-0000-0000-0000-000000000000")]);
    let admin = person("adam", &[(Role::Admin, "")]);
    let anna = person("anna", &[(Role::Approver, &sub)]);
    let viewer = person("vera", &[(Role::Viewer, "")]);

    let refused = request(&pool, &viewer, asked(f.id, 30)).await.unwrap_err();
    assert_eq!(code(&refused), "forbidden");
    let id = request(&pool, &rita, asked(f.id, 30)).await.unwrap();

    for who in [&self_approving, &elsewhere, &admin] {
        let e = decide(&pool, who, id, Decision::Approve, "looks fine").await.unwrap_err();
        assert_eq!(code(&e), "forbidden", "{} must not approve", who.name);
    }
    let e = decide(&pool, &anna, id, Decision::Approve, "  ").await.unwrap_err();
    assert!(matches!(e, CoreError::Invalid { field: "comment", .. }));
    let done = decide(&pool, &anna, id, Decision::Approve, "Accepted until decommissioning.").await.unwrap();
    assert_eq!(done.state, State::Approved);
    assert_eq!(done.bound, 1);
    assert_eq!(done.evaluations.len(), 1, "the newest snapshot is evaluated again");

    // The finding is Exempt now, naming the exemption; nothing else is.
    let now = current_state(&pool, "attest-identity-managed-identity", &f.resource_id).await;
    assert_eq!(now.state, "Exempt");
    assert_eq!(now.exemption_id, Some(id));
    assert_eq!(now.evidence_hash, f.evidence_hash, "the hash stays that of the state underneath");
    let exempt =
        fq::list(&pool, &FindingFilter { state: "Exempt".into(), page: 1, per_page: 50, ..Default::default() })
            .await
            .unwrap();
    assert_eq!(exempt.total, 1);

    // Whole history, and every transition audited.
    let d = query::get(&pool, id).await.unwrap();
    let actions: Vec<&str> = d.history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["request", "approve"]);
    assert_eq!(d.approvers, ["anna"]);
    let audited: Vec<String> = sqlx::query_scalar("select action from audit_log where object = $1 order by seq")
        .bind(format!("exemption:{id}"))
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(audited, ["exemption.request", "exemption.approve"]);

    // Revoking ends it at once.
    decide(&pool, &rita, id, Decision::Revoke, "No longer needed.").await.unwrap();
    let now = current_state(&pool, "attest-identity-managed-identity", &f.resource_id).await;
    assert_eq!(now.state, "NonCompliant");
}

#[sqlx::test(migrations = "../migrations")]
async fn high_severity_needs_two_distinct_approvers(pool: PgPool) {
    evaluated(&pool, &demo::generate(8, 5)).await;
    let f = finding(&pool, "attest-network-public-access", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let rita = person("rita", &[(Role::Requester, "")]);
    let anna = person("anna", &[(Role::Approver, &sub)]);
    let bert = person("bert", &[(Role::Approver, &sub)]);
    let id = request(&pool, &rita, asked(f.id, 30)).await.unwrap();
    let first = decide(&pool, &anna, id, Decision::Approve, "ok from networking").await.unwrap();
    assert_eq!((first.state, first.approvals, first.approvals_needed), (State::Pending, 1, 2));
    let again = decide(&pool, &anna, id, Decision::Approve, "really ok").await.unwrap_err();
    assert_eq!(code(&again), "conflict");
    assert_eq!(current_state(&pool, "attest-network-public-access", &f.resource_id).await.state, "NonCompliant");
    let second = decide(&pool, &bert, id, Decision::Approve, "ok from security").await.unwrap();
    assert_eq!(second.state, State::Approved);
    assert_eq!(query::get(&pool, id).await.unwrap().approvers, ["anna", "bert"]);
    assert_eq!(current_state(&pool, "attest-network-public-access", &f.resource_id).await.state, "Exempt");
}

#[sqlx::test(migrations = "../migrations")]
async fn of_two_decisions_at_the_same_moment_one_wins_and_the_other_changes_nothing(pool: PgPool) {
    evaluated(&pool, &demo::generate(4, 2)).await;
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let rita = person("rita", &[(Role::Requester, "")]);
    let anna = person("anna", &[(Role::Approver, &sub)]);
    let bert = person("bert", &[(Role::Approver, &sub)]);
    for round in 0..5 {
        let id = request(&pool, &rita, asked(f.id, 10 + round)).await.unwrap();
        let (a, b) = tokio::join!(
            decide(&pool, &anna, id, Decision::Approve, "approve"),
            decide(&pool, &bert, id, Decision::Reject, "reject"),
        );
        let (won, lost) = match (a, b) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            other => panic!("round {round}: exactly one decision must win: {other:?}"),
        };
        assert_eq!(code(&lost), "conflict", "round {round}");
        let d = query::get(&pool, id).await.unwrap();
        assert_eq!(d.exemption.state, won.state.as_str());
        assert_eq!(d.history.len(), 2, "the loser wrote nothing");
        if won.state == State::Approved {
            decide(&pool, &rita, id, Decision::Revoke, "next round").await.unwrap();
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_finding_drifts_and_is_no_longer_exempt(pool: PgPool) {
    let first = demo::generate(8, 5);
    evaluated(&pool, &first).await;
    let f = finding(&pool, "attest-network-public-access", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let rita = person("rita", &[(Role::Requester, "")]);
    let (anna, bert) = (person("anna", &[(Role::Approver, &sub)]), person("bert", &[(Role::Approver, &sub)]));
    let id = request(&pool, &rita, asked(f.id, 60)).await.unwrap();
    decide(&pool, &anna, id, Decision::Approve, "ok").await.unwrap();
    decide(&pool, &bert, id, Decision::Approve, "ok").await.unwrap();

    // A later snapshot with the resource unchanged: still Exempt.
    let mut second = first.clone();
    second.started_at += Duration::days(1);
    second.finished_at += Duration::days(1);
    evaluated(&pool, &second).await;
    assert_eq!(current_state(&pool, "attest-network-public-access", &f.resource_id).await.state, "Exempt");

    // Then the account changes: the exemption no longer applies and is flagged.
    let mut third = second.clone();
    third.started_at += Duration::days(1);
    third.finished_at += Duration::days(1);
    let account = third
        .accounts
        .iter_mut()
        .find(|a| a.account["id"].as_str().unwrap().eq_ignore_ascii_case(&f.resource_id))
        .unwrap();
    account.account["properties"]["publicNetworkAccess"] = "Disabled".into();
    evaluated(&pool, &third).await;
    let now = current_state(&pool, "attest-network-public-access", &f.resource_id).await;
    assert_eq!(now.state, "Compliant");
    assert_eq!(now.exemption_id, None);
    let d = query::get(&pool, id).await.unwrap();
    assert!(d.exemption.drifted_at.is_some());
    assert_eq!(d.history.last().unwrap().action, "drift");
    let audited: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'exemption.drift'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test(migrations = "../migrations")]
async fn expiry_ends_an_exemption_and_reminders_go_out_once(pool: PgPool) {
    evaluated(&pool, &demo::generate(8, 5)).await;
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let rita = person("rita", &[(Role::Requester, "")]);
    let anna = person("anna", &[(Role::Approver, &sub)]);
    let soon = request(&pool, &rita, asked(f.id, 3)).await.unwrap();
    decide(&pool, &anna, soon, Decision::Approve, "short").await.unwrap();
    assert_eq!(current_state(&pool, "attest-identity-managed-identity", &f.resource_id).await.state, "Exempt");

    // The navigation flags it: approved and expiring within the window.
    assert_eq!(query::attention(&pool, &anna, 14).await.unwrap(), (0, 1));
    // Within the reminder window: one reminder, however often the job runs.
    let run = expiry::run_once(&pool, 14).await.unwrap();
    assert_eq!(run.reminded.iter().map(|r| r.id).collect::<Vec<_>>(), [soon]);
    assert!(run.expired.is_empty());
    assert!(expiry::run_once(&pool, 14).await.unwrap().reminded.is_empty());

    // Time passes: evaluation stops honouring it at once, and the job records it.
    sqlx::query("update exemptions set expires_on = now() - interval '1 second' where id = $1")
        .bind(soon)
        .execute(&pool)
        .await
        .unwrap();
    let run = expiry::run_once(&pool, 14).await.unwrap();
    assert_eq!(run.expired, [soon]);
    assert_eq!(run.evaluations.len(), 1);
    assert_eq!(current_state(&pool, "attest-identity-managed-identity", &f.resource_id).await.state, "NonCompliant");
    let d = query::get(&pool, soon).await.unwrap();
    assert_eq!(d.exemption.state, "expired");
    assert_eq!(d.history.last().unwrap().actor, expiry::SYSTEM);
    // Nobody can approve or revoke it any more.
    let e = decide(&pool, &rita, soon, Decision::Revoke, "late").await.unwrap_err();
    assert_eq!(code(&e), "conflict");
}

#[sqlx::test(migrations = "../migrations")]
async fn requests_are_validated_field_by_field(pool: PgPool) {
    evaluated(&pool, &demo::generate(4, 2)).await;
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let rita = person("rita", &[(Role::Requester, "")]);
    let field = |e: CoreError| match e {
        CoreError::Invalid { field, .. } => field,
        other => panic!("{other:?}"),
    };
    let mitigated = NewRequest { category: "Mitigated".into(), ..asked(f.id, 30) };
    assert_eq!(field(request(&pool, &rita, mitigated).await.unwrap_err()), "compensating_controls");
    let no_reason = NewRequest { justification: " ".into(), ..asked(f.id, 30) };
    assert_eq!(field(request(&pool, &rita, no_reason).await.unwrap_err()), "justification");
    let odd = NewRequest { category: "Forever".into(), ..asked(f.id, 30) };
    assert_eq!(field(request(&pool, &rita, odd).await.unwrap_err()), "category");
    assert_eq!(field(request(&pool, &rita, asked(f.id, -1)).await.unwrap_err()), "expires_on");
    assert_eq!(field(request(&pool, &rita, asked(f.id, 400)).await.unwrap_err()), "expires_on");
    // Admins set the longest expiry per severity.
    request::set_limit(&pool, "adam", "Medium", 30).await.unwrap();
    assert_eq!(field(request(&pool, &rita, asked(f.id, 31)).await.unwrap_err()), "expires_on");
    request(&pool, &rita, asked(f.id, 29)).await.unwrap();
    // A scope without findings of the assignment.
    let empty = NewRequest {
        finding: None,
        assignment_id: f.assignment_id.clone(),
        scope: "/subscriptions/00000000-0000-0000-0000-00000000beef".into(),
        ..asked(f.id, 10)
    };
    assert_eq!(field(request(&pool, &rita, empty).await.unwrap_err()), "scope");
    // A scope request covers every current finding of the assignment in it.
    let sub = subscription_of(&f.resource_id);
    let scoped =
        NewRequest { finding: None, assignment_id: f.assignment_id.clone(), scope: sub.clone(), ..asked(f.id, 10) };
    let id = request(&pool, &rita, scoped).await.unwrap();
    let done = decide(&pool, &person("anna", &[(Role::Approver, &sub)]), id, Decision::Approve, "ok").await.unwrap();
    let in_scope: i64 = sqlx::query_scalar(
        "select count(*) from finding_spans s join finding_keys k on k.id = s.finding_id
          where k.assignment_id = $1 and s.resource_id like $2 || '/%'
            and s.until_eval is null and s.chain not like '~%' and s.exemption_id = $3",
    )
    .bind(&f.assignment_id)
    .bind(&sub)
    .bind(id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(in_scope as u64, done.bound);
    assert!(done.bound >= 1);
    // Listed, the scope exemption names what it covers: its assignment's control.
    let rows = query::list(&pool, &query::ExemptionFilter::default()).await.unwrap();
    let covered = query::coverage(&pool, &rows).await.unwrap();
    let title = attest_policy::catalogue::control(&f.control).unwrap().definition.display_name.clone();
    assert_eq!(covered[&id], vec![title], "a scope exemption names its controls");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reminder_goes_to_the_webhook_once(pool: PgPool) {
    evaluated(&pool, &demo::generate(8, 5)).await;
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let sub = subscription_of(&f.resource_id);
    let id = request(&pool, &person("rita", &[(Role::Requester, "")]), asked(f.id, 5)).await.unwrap();
    decide(&pool, &person("anna", &[(Role::Approver, &sub)]), id, Decision::Approve, "ok").await.unwrap();
    let (url, received) = tests::webhook::one_post().await;
    let client = reqwest::Client::new();
    let run = server::jobs::exemptions_once(&pool, Some((&client, &url))).await.unwrap();
    assert_eq!(run.reminded.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&received.await.unwrap()).unwrap();
    assert_eq!(body["event"], "exemption.expiring");
    assert_eq!(body["exemption"]["id"], id);
    assert_eq!(body["exemption"]["requested_by"], "rita");
    // Reminded once: the next run posts nothing.
    assert!(server::jobs::exemptions_once(&pool, Some((&client, &url))).await.unwrap().reminded.is_empty());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_second_pending_request_for_the_same_finding_is_refused_naming_the_first(pool: PgPool) {
    evaluated(&pool, &demo::generate(8, 5)).await;
    let f = finding(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    let rita = person("rita", &[(Role::Requester, "/")]);
    let ross = person("ross", &[(Role::Requester, "/")]);
    let first = request(&pool, &rita, asked(f.id, 10)).await.unwrap();
    match request(&pool, &ross, asked(f.id, 20)).await {
        Err(CoreError::Conflict(m)) => assert!(m.contains(&format!("exemption #{first}")), "{m}"),
        other => panic!("{other:?}"),
    }
    // Once the first is withdrawn, asking again is fine.
    decide(&pool, &rita, first, Decision::Withdraw, "asked twice").await.unwrap();
    request(&pool, &ross, asked(f.id, 20)).await.unwrap();
}
