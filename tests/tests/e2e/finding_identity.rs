//! A finding keeps its identity across evaluations, its storage grows with
//! change only, and its deltas and first-seen time say what happened:
//! against a real database, through the same calls the portal makes.

use attest_core::exemptions::{decide, request, Decision, NewRequest};
use attest_core::findings::{self, query as fq, FindingFilter};
use attest_core::principal::Grant;
use attest_core::snapshot::{demo, store, AccountRecord, Snapshot};
use attest_core::{Principal, Role};
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

async fn stored(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    id
}

async fn evaluated(pool: &PgPool, s: &Snapshot) -> (Uuid, findings::Evaluation) {
    let id = stored(pool, s).await;
    let e = findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    (id, e)
}

fn later(s: &Snapshot, days: i64) -> Snapshot {
    let mut s = s.clone();
    s.started_at += Duration::days(days);
    s.finished_at += Duration::days(days);
    s
}

/// An exemption for `f` requested by rita and approved by anna (an
/// approver of its subscription): the requester and the exemption's id.
async fn exempted(pool: &PgPool, f: &fq::FindingRow) -> (Principal, i64) {
    let sub = format!("/subscriptions/{}", f.resource_id.split('/').nth(2).unwrap());
    let rita = person("rita", &[(Role::Requester, "/")]);
    let anna = person("anna", &[(Role::Approver, &sub)]);
    let asked = NewRequest {
        finding: Some(f.id),
        category: "Waiver".into(),
        justification: "Moved to managed identity next sprint.".into(),
        expires_on: Some(OffsetDateTime::now_utc() + Duration::days(30)),
        ..Default::default()
    };
    let exemption = request(pool, &rita, asked).await.unwrap();
    decide(pool, &anna, exemption, Decision::Approve, "ok").await.unwrap();
    (rita, exemption)
}

/// A new account like `r` (its id and name with `-new` appended), with
/// nothing hanging off it.
fn bare_copy(r: &AccountRecord) -> AccountRecord {
    let mut extra = r.clone();
    extra.account["id"] = format!("{}-new", r.account["id"].as_str().unwrap()).into();
    extra.account["name"] = format!("{}-new", r.account["name"].as_str().unwrap()).into();
    extra.deployments.clear();
    extra.rai_policies.clear();
    extra.diagnostic_settings.clear();
    extra.private_endpoint_connections.clear();
    extra.usage.clear();
    extra
}

async fn spans(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from finding_spans").fetch_one(pool).await.unwrap()
}

/// Each chain's partition and the spans it holds, as PostgreSQL counts them
/// (not through the parent).
async fn partitions(pool: &PgPool) -> Vec<(String, i64)> {
    let named: Vec<(String, String)> =
        sqlx::query_as("select chain, relation from finding_span_partitions order by chain")
            .fetch_all(pool)
            .await
            .unwrap();
    let mut out = Vec::new();
    for (chain, relation) in named {
        let attached: bool = sqlx::query_scalar(
            "select exists (select 1 from pg_inherits where inhrelid = $1::regclass and inhparent = 'finding_spans'::regclass)",
        )
        .bind(&relation)
        .fetch_one(pool)
        .await
        .unwrap();
        assert!(attached, "{relation} is attached");
        let n: i64 =
            sqlx::query_scalar(&format!("select count(*) from only {relation}")).fetch_one(pool).await.unwrap();
        out.push((chain, n));
    }
    out
}

async fn first(pool: &PgPool, control: &str, state: &str) -> fq::FindingRow {
    fq::list(
        pool,
        &FindingFilter { control: control.into(), state: state.into(), page: 1, per_page: 5, ..Default::default() },
    )
    .await
    .unwrap()
    .findings
    .into_iter()
    .next()
    .unwrap_or_else(|| panic!("no {state} finding of {control}"))
}

#[sqlx::test(migrations = "../migrations")]
async fn an_exemption_approved_and_revoked_keeps_the_findings_id_and_first_seen(pool: PgPool) {
    let s = demo::generate(8, 5);
    let (snapshot, first_eval) = evaluated(&pool, &s).await;
    let f = first(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    assert_eq!((f.delta.as_str(), f.first_seen), ("new", s.finished_at));

    let (rita, exemption) = exempted(&pool, &f).await;

    // The same id, now Exempt: a change, with first seen unchanged.
    let (exempt, history) = fq::get(&pool, f.id).await.unwrap();
    assert_eq!(exempt.id, f.id);
    assert_eq!((exempt.state.as_str(), exempt.delta.as_str()), ("Exempt", "changed"));
    assert_eq!(exempt.exemption_id, Some(exemption));
    assert_eq!(exempt.first_seen, s.finished_at, "approving an exemption does not reset first seen");
    assert!(exempt.present);
    let states: Vec<(&str, &str)> = history.iter().map(|h| (h.state.as_str(), h.delta.as_str())).collect();
    assert_eq!(states, [("NonCompliant", "new"), ("Exempt", "changed")]);
    assert!(history[1].reason.contains(&format!("exemption {exemption}")), "{}", history[1].reason);

    // The exemption's page names the finding by that id, in its current state.
    let detail = attest_core::exemptions::query::get(&pool, exemption).await.unwrap();
    assert_eq!(detail.exemption.finding_id, Some(f.id));
    let bound: Vec<(i64, &str, &str)> =
        detail.bindings.iter().map(|b| (b.finding_id, b.state.as_str(), b.now.as_str())).collect();
    assert_eq!(bound, [(f.id, "NonCompliant", "Exempt")]);

    decide(&pool, &rita, exemption, Decision::Revoke, "no longer needed").await.unwrap();
    let (back, history) = fq::get(&pool, f.id).await.unwrap();
    assert_eq!((back.state.as_str(), back.delta.as_str()), ("NonCompliant", "changed"));
    assert_eq!(back.first_seen, s.finished_at, "revoking does not reset first seen either");
    assert_eq!(history.len(), 3);

    // A past evaluation is an explicit choice, and shows what it saw.
    let at = fq::At::resolve(&pool, None, Some(first_eval.id)).await.unwrap();
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.unwrap();
    let (then, _) = fq::get_with(&pool, f.id, at.as_ref(), &library).await.unwrap();
    assert_eq!((then.state.as_str(), then.evaluation_id), ("NonCompliant", first_eval.id));
    let by_snapshot = fq::At::resolve(&pool, Some(snapshot), None).await.unwrap().unwrap();
    assert_eq!(by_snapshot.evaluation, back.evaluation_id, "a snapshot's view is its current evaluation");
    // Naming what does not exist is an error naming the parameter.
    for (s, e, field) in [(Some(Uuid::new_v4()), None, "snapshot"), (None, Some(999_999), "evaluation")] {
        match fq::At::resolve(&pool, s, e).await {
            Err(attest_core::CoreError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_reevaluation_writes_only_what_changed(pool: PgPool) {
    let s = demo::generate(10, 7);
    let (_, e1) = evaluated(&pool, &s).await;
    assert_eq!(e1.written, e1.findings, "a first evaluation writes every finding");
    let stored = spans(&pool).await;
    assert_eq!(stored as usize, e1.findings);
    assert_eq!(
        partitions(&pool).await,
        [(attest_core::snapshot::writer::scope_key(&s.scope), stored)],
        "the chain's spans are its partition's"
    );

    // The same estate the next day: nothing to write.
    let (_, e2) = evaluated(&pool, &later(&s, 1)).await;
    assert_eq!((e2.findings, e2.written), (e1.findings, 0));
    assert_eq!(spans(&pool).await, stored);
    let unchanged = fq::list(&pool, &FindingFilter { page: 1, per_page: 500, ..Default::default() }).await.unwrap();
    assert_eq!(unchanged.evaluation_id, Some(e2.id));
    assert!(unchanged.findings.iter().all(|f| f.delta == "unchanged" && f.first_seen == s.finished_at));

    // One account made private: only its changed findings are written, and
    // the list shows them changed (or resolved) with the rest unchanged.
    let mut third = later(&s, 2);
    let target =
        third.accounts.iter().position(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled").unwrap();
    let account = third.accounts[target].account["id"].as_str().unwrap().to_lowercase();
    third.accounts[target].account["properties"]["publicNetworkAccess"] = "Disabled".into();
    let (_, e3) = evaluated(&pool, &third).await;
    assert!(e3.written > 0 && e3.written * 20 < e3.findings, "{} of {} written", e3.written, e3.findings);
    assert_eq!(spans(&pool).await as usize, stored as usize + e3.written);
    assert_eq!(
        partitions(&pool).await,
        [(attest_core::snapshot::writer::scope_key(&s.scope), stored + e3.written as i64)],
        "changes join the partition"
    );
    let page = fq::list(
        &pool,
        &FindingFilter {
            control: "attest-network-public-access".into(),
            resource: account.clone(),
            page: 1,
            per_page: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let f = &page.findings[0];
    assert_eq!((f.state.as_str(), f.delta.as_str()), ("Compliant", "resolved"));
    assert_eq!(f.first_seen, third.finished_at, "a new state underneath is first seen now");
    let (_, history) = fq::get(&pool, f.id).await.unwrap();
    let seen: Vec<&str> = history.iter().map(|h| h.delta.as_str()).collect();
    assert_eq!(seen, ["new", "unchanged", "resolved"], "one entry per evaluation");

    // Every evaluation still lists every one of its findings.
    for e in [e1.id, e2.id, e3.id] {
        let page = fq::list(&pool, &FindingFilter { evaluation: Some(e), page: 1, per_page: 1, ..Default::default() })
            .await
            .unwrap();
        assert_eq!(page.total as usize, e1.findings, "evaluation {e}");
    }
    // The old span of the changed finding holds for the first two only.
    let e2_view = fq::list(
        &pool,
        &FindingFilter {
            evaluation: Some(e2.id),
            control: "attest-network-public-access".into(),
            resource: account,
            page: 1,
            per_page: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(e2_view.findings[0].state, "NonCompliant");
    assert_eq!(e2_view.findings[0].id, f.id);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_vanished_resource_ends_its_findings_and_a_new_one_is_new(pool: PgPool) {
    let s = demo::generate(6, 11);
    evaluated(&pool, &s).await;
    let gone = first(&pool, "attest-network-public-access", "").await;
    let mut next = later(&s, 1);
    next.accounts.retain(|r| r.account["id"].as_str().unwrap().to_lowercase() != gone.resource_id);
    let new_id = format!("{}-new", s.accounts[0].account["id"].as_str().unwrap());
    next.accounts.push(bare_copy(&s.accounts[0]));
    let (_, e) = evaluated(&pool, &next).await;

    let (last, _) = fq::get(&pool, gone.id).await.unwrap();
    assert!(!last.present, "the finding of a deleted account is no longer evaluated");
    assert!(last.evaluation_id < e.id);
    let fresh = fq::list(
        &pool,
        &FindingFilter {
            control: "attest-network-public-access".into(),
            resource: new_id.to_lowercase(),
            page: 1,
            per_page: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(fresh.findings[0].delta, "new");
    let listed = fq::list(
        &pool,
        &FindingFilter {
            control: "attest-network-public-access".into(),
            resource: gone.resource_id.clone(),
            page: 1,
            per_page: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.total, 0, "the current list has no finding for a deleted account");
}

#[sqlx::test(migrations = "../migrations")]
async fn an_older_snapshot_imported_late_does_not_become_current(pool: PgPool) {
    let s = demo::generate(6, 13);
    let (newest, e_new) = evaluated(&pool, &later(&s, 5)).await;
    let mut old = s.clone();
    let target = old.accounts.iter().position(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled").unwrap();
    old.accounts[target].account["properties"]["publicNetworkAccess"] = "Disabled".into();
    let (older, e_old) = evaluated(&pool, &old).await;
    assert_eq!(e_old.written, e_old.findings, "a detached chain stores its evaluation whole");
    let chains = partitions(&pool).await;
    assert_eq!(chains.len(), 2, "the detached chain has a partition of its own: {chains:?}");
    assert!(chains.contains(&(format!("~snapshot {older}"), e_old.findings as i64)), "{chains:?}");

    let current = fq::list(&pool, &FindingFilter { page: 1, per_page: 1, ..Default::default() }).await.unwrap();
    assert_eq!((current.snapshot_id, current.evaluation_id), (Some(newest), Some(e_new.id)));
    let past = fq::list(&pool, &FindingFilter { snapshot: Some(older), page: 1, per_page: 1, ..Default::default() })
        .await
        .unwrap();
    assert_eq!((past.evaluation_id, past.total as usize), (Some(e_old.id), e_old.findings));

    // The newest snapshot's evaluations stay one chain: a re-evaluation
    // writes nothing.
    let again = findings::reevaluate(&pool, newest, "test", "check").await.unwrap();
    assert_eq!(again.written, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_new_assignment_s_first_findings_are_new(pool: PgPool) {
    use attest_core::findings::definitions::import;
    let s = demo::generate(6, 17);
    evaluated(&pool, &s).await;
    let def = std::fs::read(
        tests::fixtures::root().join("azure-policy").join("CognitiveServices__DisablePublicNetworkAccess_Audit.json"),
    )
    .unwrap();
    let audit = serde_json::json!({"effect": "Audit"}).as_object().cloned();
    import(&pool, "admin", &def, audit).await.unwrap();
    let page = fq::list(
        &pool,
        &FindingFilter {
            control: "0725b4dd-7e76-479c-a735-68e7ee23d5ca".into(),
            page: 1,
            per_page: 50,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(page.total > 0);
    assert!(
        page.findings.iter().all(|f| f.delta == "new"),
        "{:?}",
        page.findings.iter().map(|f| &f.delta).collect::<Vec<_>>()
    );
    // The built-in's evaluation did not rewrite the other controls' findings.
    let others = fq::list(
        &pool,
        &FindingFilter { control: "attest-network-public-access".into(), page: 1, per_page: 50, ..Default::default() },
    )
    .await
    .unwrap();
    assert!(others.findings.iter().all(|f| f.delta == "unchanged"));
}

/// How an evaluation's findings read, finding by finding: what a full and
/// an incremental evaluation of the same documents must agree on.
async fn verdicts(pool: &PgPool, evaluation: i64) -> Vec<(i64, String, String, String, Vec<u8>, Option<i64>, Vec<u8>)> {
    sqlx::query_as(
        "select s.finding_id, s.state, s.base_state, s.severity, s.evidence_hash, s.exemption_id, s.version_hash
           from finding_spans s join evaluations e on e.chain = s.chain
          where e.id = $1 and s.first_eval <= $1 and (s.until_eval is null or s.until_eval > $1)
          order by s.finding_id",
    )
    .bind(evaluation)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn totals(pool: &PgPool, evaluation: i64) -> (i32, Option<f64>, Vec<(String, String, String, i32)>) {
    let (n, compliance): (i32, Option<f64>) =
        sqlx::query_as("select finding_count, compliance from evaluations where id = $1")
            .bind(evaluation)
            .fetch_one(pool)
            .await
            .unwrap();
    let counts = sqlx::query_as(
        "select state, severity, control, n from evaluation_counts where evaluation_id = $1 order by 1, 2, 3",
    )
    .bind(evaluation)
    .fetch_all(pool)
    .await
    .unwrap();
    (n, compliance, counts)
}

/// What the newest evaluation's audit entry says it evaluated: a number
/// of resources when it evaluated only what changed, "all" otherwise.
async fn evaluated_resources(pool: &PgPool) -> serde_json::Value {
    sqlx::query_scalar(
        "select details -> 'evaluated' from audit_log where action = 'snapshot.evaluate' order by seq desc limit 1",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn an_incremental_evaluation_finds_what_a_full_one_finds(pool: PgPool) {
    let s = demo::generate(40, 21);
    let (_, first_eval) = evaluated(&pool, &s).await;
    assert_eq!(evaluated_resources(&pool).await, "all");
    let (estate,): (i64,) = sqlx::query_as("select resources_counted from evaluations where id = $1")
        .bind(first_eval.id)
        .fetch_one(&pool)
        .await
        .unwrap();

    // Every kind of change a scan brings but to the set of accounts: an
    // account's own document, a deployment, a content filter, a diagnostic
    // setting gone, a role assignment changed, one added and one removed.
    let mut next = later(&s, 1);
    let public =
        next.accounts.iter().position(|r| r.account["properties"]["publicNetworkAccess"] == "Enabled").unwrap();
    next.accounts[public].account["properties"]["publicNetworkAccess"] = "Disabled".into();
    let with_deployment = next.accounts.iter().position(|r| !r.deployments.is_empty()).unwrap();
    next.accounts[with_deployment].deployments[0]["sku"]["name"] = "GlobalStandard".into();
    if let Some(r) = next.accounts.iter_mut().find(|r| !r.rai_policies.is_empty()) {
        r.rai_policies[0]["properties"]["mode"] = "Deferred".into();
    }
    if let Some(r) = next.accounts.iter_mut().find(|r| !r.diagnostic_settings.is_empty()) {
        r.diagnostic_settings.clear();
    }
    next.role_assignments[0]["properties"]["principalType"] = "User".into();
    let mut added = next.role_assignments[1].clone();
    added["id"] = format!("{}0", added["id"].as_str().unwrap()).into();
    added["name"] = format!("{}0", added["name"].as_str().unwrap()).into();
    next.role_assignments.push(added);
    next.role_assignments.remove(2);
    let (_, incremental) = evaluated(&pool, &next).await;
    let resources = evaluated_resources(&pool).await;
    assert!(
        resources.as_u64().is_some_and(|n| n > 0 && (n as i64) < estate / 4),
        "only the changed groups of {estate} resources are evaluated: {resources}"
    );
    assert!(incremental.written > 0);

    // The same documents under another scope: a chain of its own, whose
    // first evaluation reads everything.
    let mut elsewhere = next.clone();
    elsewhere.scope.arm_endpoint = "https://management.elsewhere.example".into();
    let (_, full) = evaluated(&pool, &elsewhere).await;
    assert_eq!(evaluated_resources(&pool).await, "all");
    assert_eq!(verdicts(&pool, incremental.id).await, verdicts(&pool, full.id).await);
    assert_eq!(totals(&pool, incremental.id).await, totals(&pool, full.id).await);
    assert_eq!((incremental.findings, incremental.compliance), (full.findings, full.compliance));

    // The list of the incremental evaluation agrees with its totals.
    let page = fq::list(
        &pool,
        &FindingFilter { evaluation: Some(incremental.id), page: 1, per_page: 1, ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(page.total as usize, incremental.findings);

    // An account deleted and one new: the role-review flags of assignments
    // above the accounts read every account, so everything is evaluated.
    let mut accounts_changed = later(&next, 1);
    let deleted = accounts_changed.accounts.len() - 1;
    accounts_changed.accounts.remove(deleted);
    accounts_changed.accounts.push(bare_copy(&s.accounts[0]));
    evaluated(&pool, &accounts_changed).await;
    assert_eq!(evaluated_resources(&pool).await, "all");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_changed_context_evaluates_everything_again(pool: PgPool) {
    let s = demo::generate(6, 23);
    let (id, _) = evaluated(&pool, &s).await;
    // Nothing changed at all: nothing to evaluate.
    findings::reevaluate(&pool, id, "test", "check").await.unwrap();
    assert_eq!(evaluated_resources(&pool).await, 0);

    // An approved exemption is part of the context: everything again.
    let f = first(&pool, "attest-identity-managed-identity", "NonCompliant").await;
    exempted(&pool, &f).await;
    assert_eq!(evaluated_resources(&pool).await, "all");
    let (_, e) = evaluated(&pool, &later(&s, 1)).await;
    assert_eq!(evaluated_resources(&pool).await, 0, "the next day's unchanged scan evaluates nothing");
    assert_eq!(e.written, 0);
}
