//! Role-review flags as findings: decided by the RBAC engine on each role
//! assignment of a stored snapshot, evaluated on import with the policy
//! controls, and kept up to date when what they read changes.

use attest_core::findings::{self, query, FindingFilter};
use attest_core::snapshot::{demo, store, Snapshot};
use attest_rbac::Check;
use sqlx::PgPool;
use time::Duration;
use uuid::Uuid;

async fn stored_and_evaluated(pool: &PgPool, s: &Snapshot) -> Uuid {
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    findings::evaluate_snapshot(pool, id, "test").await.unwrap();
    id
}

async fn of(pool: &PgPool, snapshot: Uuid, control: &str, state: &str) -> Vec<query::FindingRow> {
    let filter = FindingFilter {
        snapshot: Some(snapshot),
        control: control.into(),
        state: state.into(),
        page: 1,
        per_page: 500,
        ..Default::default()
    };
    query::list(pool, &filter).await.unwrap().findings
}

#[sqlx::test(migrations = "../migrations")]
async fn every_role_review_flag_fires_in_the_demo_estate_as_a_finding_with_its_reasons(pool: PgPool) {
    let s = demo::generate(12, 1);
    let id = stored_and_evaluated(&pool, &s).await;
    // A revocation not carried out needs a certified review first (reviews.rs).
    for check in Check::ALL.into_iter().filter(|c| *c != Check::RevocationNotCarriedOut) {
        let flagged = of(&pool, id, check.name(), "NonCompliant").await;
        assert!(!flagged.is_empty(), "{} flags nothing in the demo estate", check.name());
        let f = &flagged[0];
        assert_eq!(f.resource_type, "Microsoft.Authorization/roleAssignments", "{}", check.name());
        assert!(f.title.len() > 10 && f.area.len() > 3);
        let evidence = f.evidence.to_string();
        assert!(evidence.contains("role review"), "{}: {evidence}", check.name());
    }
    // The High ones, as the second seed rates them.
    let key = &of(&pool, id, Check::KeyAccessWhileKeysEnabled.name(), "NonCompliant").await[0];
    assert_eq!(key.severity, "High");
    assert!(key.evidence.to_string().contains("whose key access is enabled"));
    // A check that applies and finds nothing is a Compliant finding: the
    // first account's keys are denied to all but its workload identity.
    let compliant = of(&pool, id, Check::UserWithWriteAccess.name(), "Compliant").await;
    assert!(!compliant.is_empty());
    // The role-list controls they replace are gone from the catalogue.
    assert!(attest_policy::catalogue::control("privilege-no-user-write").is_none());
}

#[sqlx::test(migrations = "../migrations")]
async fn a_flag_follows_what_it_reads_when_only_the_account_changed(pool: PgPool) {
    let s = demo::generate(12, 1);
    let first = stored_and_evaluated(&pool, &s).await;
    let flagged = of(&pool, first, Check::KeyAccessWhileKeysEnabled.name(), "NonCompliant").await;
    // An assignment at an account (not above it), and that account.
    let f = flagged
        .iter()
        .find(|f| f.resource_id.contains("/providers/microsoft.cognitiveservices/accounts/"))
        .expect("a key flag on an assignment at an account");
    let account = f.resource_id.split("/providers/microsoft.authorization/").next().unwrap().to_string();

    // The next scan: the same role assignments; that account's keys disabled.
    let mut later = s.clone();
    later.started_at += Duration::days(1);
    later.finished_at += Duration::days(1);
    let record =
        later.accounts.iter_mut().find(|r| r.account["id"].as_str().unwrap().eq_ignore_ascii_case(&account)).unwrap();
    record.account["properties"]["disableLocalAuth"] = true.into();
    let second = stored_and_evaluated(&pool, &later).await;

    let now = of(&pool, second, Check::KeyAccessWhileKeysEnabled.name(), "Compliant").await;
    let same = now.iter().find(|g| g.id == f.id).expect("the same finding, now compliant");
    assert_eq!(same.delta, "resolved");
    assert!(same.evidence.to_string().contains("whose key access is disabled"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_role_review_control_switched_off_flags_nothing(pool: PgPool) {
    let s = demo::generate(8, 2);
    let mut tx = pool.begin().await.unwrap();
    let id = store::insert(&mut tx, &s, store::Source::Demo, "test").await.unwrap().id;
    tx.commit().await.unwrap();
    let assignment = format!("/providers/Microsoft.Authorization/policyAssignments/{}", Check::BroadScope.name());
    // Seeds the default assignments, then switches one control off.
    findings::assignments::list(&pool, "test").await.unwrap();
    let change = findings::assignments::Change {
        parameters: serde_json::json!({"effect": "Disabled"}).as_object().unwrap().clone(),
        not_scopes: vec![],
        enforcement_mode: "Default".into(),
    };
    findings::assignments::update(&pool, "admin", &assignment, change).await.unwrap();
    findings::evaluate_snapshot(&pool, id, "test").await.unwrap();
    assert!(of(&pool, id, Check::BroadScope.name(), "").await.is_empty());
    assert!(!of(&pool, id, Check::UserWithWriteAccess.name(), "").await.is_empty());
}

/// The context hash of the evaluation of `snapshot`.
async fn context(pool: &PgPool, snapshot: Uuid) -> Vec<u8> {
    sqlx::query_scalar("select context_hash from evaluations where snapshot_id = $1 order by id desc limit 1")
        .bind(snapshot)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_groups_membership_changing_keeps_the_evaluation_incremental_a_disabled_account_does_not(pool: PgPool) {
    let s = demo::generate(12, 1);
    let first = stored_and_evaluated(&pool, &s).await;
    // The next scan: one group lost a member. No check reads membership,
    // so the evaluation's context is the same and it reads only what changed.
    let mut later = s.clone();
    later.started_at += Duration::days(1);
    later.finished_at += Duration::days(1);
    let group = later.principals.iter_mut().find(|p| p["members"].as_array().is_some_and(|m| m.len() > 1)).unwrap();
    group["members"].as_array_mut().unwrap().pop();
    let second = stored_and_evaluated(&pool, &later).await;
    assert_eq!(context(&pool, first).await, context(&pool, second).await);

    // Then a member of the directory is disabled: the disabled-account
    // check reads that, so the context changes and everything is read.
    let mut disabled = later.clone();
    disabled.started_at += Duration::days(1);
    disabled.finished_at += Duration::days(1);
    let user = disabled.principals.iter_mut().find(|p| p["object"]["accountEnabled"] == true).unwrap();
    user["object"]["accountEnabled"] = false.into();
    let third = stored_and_evaluated(&pool, &disabled).await;
    assert_ne!(context(&pool, second).await, context(&pool, third).await);
}
