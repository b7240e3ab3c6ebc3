//! `attest scan` against the fake ARM: the estate comes back whole through
//! paging, throttling and injected faults; a scan that reaches only part of
//! the estate says so; one that reaches nothing exits non-zero.

use attest_core::snapshot::{demo, Snapshot};
use server::{
    fake_arm::{self, FakeArm, FaultPlan, Options, Stats},
    scan::{
        self,
        cloud::{Cloud, CloudName},
        credential::Credential,
        ScanOptions, ScanReport,
    },
};
use sqlx::PgPool;
use std::{path::PathBuf, sync::Arc, time::Duration};
use tests::spawn;

const TOKEN: &str = "fake-arm-token";

struct Fake {
    base: String,
    arm: Arc<FakeArm>,
    estate: Snapshot,
}

async fn fake(accounts: usize, seed: u64, options: Options) -> Fake {
    let estate = demo::generate(accounts, seed);
    let served = fake_arm::Estate::from_snapshot(estate.clone(), time::OffsetDateTime::now_utc().date());
    let arm = FakeArm::new(served, Options { token: Some(TOKEN.into()), ..options });
    let base = fake_arm::spawn_local(&arm).await.unwrap();
    Fake { base, arm, estate }
}

fn token_file(token: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("attest-scan-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token");
    std::fs::write(&path, token).unwrap();
    path
}

async fn scan_of(fake: &Fake, adjust: impl FnOnce(&mut ScanOptions)) -> ScanReport {
    let cloud = Cloud::new(CloudName::Public, Some(&fake.base), None).unwrap();
    let mut options = ScanOptions::new(cloud);
    adjust(&mut options);
    scan::scan(&options, Arc::new(Credential::token_file(token_file(TOKEN)))).await.unwrap()
}

fn ids(docs: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = docs.iter().map(|d| d["id"].as_str().unwrap().to_ascii_lowercase()).collect();
    v.sort();
    v
}

/// The same content: everything but when the scan ran and the fake's port.
fn content(mut s: Snapshot) -> Snapshot {
    s.started_at = time::OffsetDateTime::UNIX_EPOCH;
    s.finished_at = time::OffsetDateTime::UNIX_EPOCH;
    s.scope.arm_endpoint = "fake".into();
    s
}

#[tokio::test]
async fn a_scan_collects_the_whole_estate_through_every_page() {
    // Two records a page, each list opening with an empty page.
    let fake = fake(9, 11, Options { page_size: 2, empty_first_page: true, ..Default::default() }).await;
    let report = scan_of(&fake, |_| {}).await;
    let got = &report.scanned.to_snapshot();
    assert!(report.reached_anything);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.scope.subscriptions, fake.estate.scope.subscriptions);
    assert_eq!(got.scope.tenant_id, fake.estate.scope.tenant_id);
    assert_eq!(got.scope.arm_endpoint, fake.base);
    assert_eq!(got.subscriptions.len(), 3);
    // Azure's Policy aliases as the providers API lists them, one document a provider.
    let namespaces: Vec<&str> = got.providers.iter().filter_map(|p| p["namespace"].as_str()).collect();
    assert_eq!(namespaces.len(), 4, "{namespaces:?}");
    let aliases: Vec<_> = got.providers.iter().flat_map(attest_policy::alias::from_provider).collect();
    assert!(aliases
        .iter()
        .any(|(_, a, p)| a == "microsoft.cognitiveservices/accounts/disablelocalauth"
            && p == "properties.disableLocalAuth"));
    assert!(aliases.len() > 1000, "{}", aliases.len());

    // Only OpenAI and AIServices accounts: the fake also serves Computer Vision ones.
    let want: Vec<serde_json::Value> = fake.estate.accounts.iter().map(|a| a.account.clone()).collect();
    let have: Vec<serde_json::Value> = got.accounts.iter().map(|a| a.account.clone()).collect();
    assert_eq!(ids(&have), ids(&want));
    for record in &got.accounts {
        let id = record.account["id"].as_str().unwrap();
        let source = fake.estate.accounts.iter().find(|a| a.account["id"] == id).unwrap();
        assert_eq!(ids(&record.deployments), ids(&source.deployments), "{id}");
        assert_eq!(record.account, source.account, "documents arrive whole");
        assert_eq!(record.rai_policies.len(), source.rai_policies.len());
        assert_eq!(record.diagnostic_settings, source.diagnostic_settings);
        assert_eq!(record.private_endpoint_connections, source.private_endpoint_connections);
        assert_eq!(record.usage.len(), source.usage.len(), "{id}: every day of token usage");
        let tokens = |u: &[attest_core::snapshot::DailyUsage]| u.iter().map(|d| d.total_tokens).sum::<u64>();
        assert_eq!(tokens(&record.usage), tokens(&source.usage));
    }

    // Role assignments at each account and every scope above it, once each.
    let account_ids: Vec<String> = ids(&want);
    let inherited: Vec<serde_json::Value> = fake
        .estate
        .role_assignments
        .iter()
        .filter(|a| {
            let scope = a["properties"]["scope"].as_str().unwrap().to_ascii_lowercase();
            account_ids.iter().any(|id| *id == scope || id.starts_with(&format!("{scope}/")))
        })
        .cloned()
        .collect();
    assert_eq!(ids(&got.role_assignments), ids(&inherited));
    assert!(got
        .role_assignments
        .iter()
        .any(|a| !a["properties"]["scope"].as_str().unwrap().contains("/resourceGroups/")));
    // And the definitions they reference, once each.
    let mut referenced: Vec<String> = got
        .role_assignments
        .iter()
        .map(|a| a["properties"]["roleDefinitionId"].as_str().unwrap().rsplit('/').next().unwrap().to_string())
        .collect();
    referenced.sort();
    referenced.dedup();
    let mut defined: Vec<String> =
        got.role_definitions.iter().map(|d| d["name"].as_str().unwrap().to_string()).collect();
    defined.sort();
    assert_eq!(defined, referenced);
}

#[tokio::test]
async fn a_scan_collects_deny_assignments_pim_custom_roles_and_who_the_principals_are() {
    let fake = fake(9, 12, Options { page_size: 3, ..Default::default() }).await;
    let graph = (url::Url::parse(&fake.base).unwrap(), format!("{}/.default", fake.base));
    let report = scan_of(&fake, |o| o.graph = Some(graph)).await;
    let got = report.scanned.to_snapshot();
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(ids(&got.deny_assignments), ids(&fake.estate.deny_assignments));
    assert_eq!(got.deny_assignments, fake.estate.deny_assignments, "documents arrive whole");
    assert_eq!(ids(&got.role_eligibility_schedule_instances), ids(&fake.estate.role_eligibility_schedule_instances));
    assert_eq!(ids(&got.role_assignment_schedule_instances), ids(&fake.estate.role_assignment_schedule_instances));
    assert!(!got.role_eligibility_schedule_instances.is_empty() && !got.role_assignment_schedule_instances.is_empty());
    // The custom role arrives with the built-ins its assignments reference.
    assert!(got.role_definitions.iter().any(|d| d["properties"]["type"] == "CustomRole"));
    // Graph: every principal named, resolved or known deleted, as the estate has it.
    let mut want = fake.estate.principals.clone();
    want.sort_by_key(|r| r["id"].as_str().unwrap().to_string());
    assert_eq!(got.principals, want);
    assert!(got.principals.iter().any(|r| r["object"].is_null()), "a deleted principal");
    assert!(got.principals.iter().any(|r| r["object"]["userType"] == "Guest"), "a guest");
    // Groups arrive with their members, read through Graph's pages (3 a page here).
    let groups: Vec<&serde_json::Value> =
        got.principals.iter().filter(|r| r["object"]["@odata.type"] == "#microsoft.graph.group").collect();
    assert!(!groups.is_empty());
    assert!(groups.iter().all(|g| g["members"].is_array()), "{groups:?}");
    assert!(groups.iter().any(|g| g["members"].as_array().unwrap().len() > 3), "some group spans pages");
    assert!(got.principals.iter().filter(|r| !groups.contains(r)).all(|r| r.get("members").is_none()));
}

#[tokio::test]
async fn group_members_graph_refuses_are_collection_errors_and_the_groups_stay_without_members() {
    let fake = fake(9, 12, Options { forbidden: vec!["/transitivemembers".into()], ..Default::default() }).await;
    let graph = (url::Url::parse(&fake.base).unwrap(), format!("{}/.default", fake.base));
    let report = scan_of(&fake, |o| o.graph = Some(graph)).await;
    let got = report.scanned.to_snapshot();
    let groups: Vec<&serde_json::Value> =
        got.principals.iter().filter(|r| r["object"]["@odata.type"] == "#microsoft.graph.group").collect();
    assert!(!groups.is_empty());
    assert_eq!(got.errors.len(), groups.len(), "one per group: {:?}", got.errors);
    for e in &got.errors {
        assert_eq!((e.scope.as_str(), e.status), ("graph", Some(403)));
        assert!(e.request.starts_with("GET /v1.0/groups/") && e.request.ends_with("/transitiveMembers"), "{e:?}");
    }
    // Known as groups, named, and not said to be empty.
    assert!(groups.iter().all(|g| g.get("members").is_none() && g["object"]["displayName"].is_string()));
}

#[tokio::test]
async fn a_forbidden_pim_read_is_a_collection_error_and_without_graph_principals_stay_unresolved() {
    let forbidden = vec!["roleeligibilityscheduleinstances".to_string()];
    let fake = fake(6, 13, Options { forbidden, ..Default::default() }).await;
    let report = scan_of(&fake, |_| {}).await;
    let got = report.scanned.to_snapshot();
    assert!(report.reached_anything);
    assert_eq!(got.errors.len(), 3, "one per subscription: {:?}", got.errors);
    for e in &got.errors {
        assert_eq!(e.status, Some(403));
        assert!(e.request.contains("roleEligibilityScheduleInstances") && e.message.starts_with("AuthorizationFailed"));
    }
    assert!(got.role_eligibility_schedule_instances.is_empty());
    assert_eq!(ids(&got.role_assignment_schedule_instances), ids(&fake.estate.role_assignment_schedule_instances));
    assert_eq!(ids(&got.deny_assignments), ids(&fake.estate.deny_assignments));
    assert!(got.principals.is_empty(), "no Graph: no records, so every principal is unresolved");
}

#[tokio::test]
async fn throttled_and_failing_responses_give_the_same_snapshot_as_a_quiet_run() {
    let quiet = fake(8, 21, Options { page_size: 3, ..Default::default() }).await;
    let baseline = scan_of(&quiet, |_| {}).await;
    let baseline = baseline.scanned.to_snapshot();
    assert!(baseline.errors.is_empty(), "{:?}", baseline.errors);

    let noisy = fake(
        8,
        21,
        Options {
            page_size: 3,
            // Stricter than the scanner's own budget, so it runs into 429s.
            throttle: Some("15/30".parse().unwrap()),
            faults: FaultPlan { rate: 0.35, seed: 5, slow: Duration::from_millis(150) },
            ..Default::default()
        },
    )
    .await;
    let disturbed = scan_of(&noisy, |o| o.retry.max_attempts = 15).await;
    let stats = &noisy.arm.stats;
    let (requests, bad) = (Stats::get(&stats.requests), stats.disturbed());
    assert!(bad * 5 >= requests, "at least 20% of responses throttled or failed: {bad} of {requests}");
    assert!(
        Stats::get(&stats.throttled) > 0 && Stats::get(&stats.truncated) > 0 && Stats::get(&stats.server_errors) > 0
    );
    assert!(disturbed.retries >= bad, "every disturbed response was retried");
    let (a, b) = (content(disturbed.scanned.to_snapshot()), content(baseline));
    // Compared as JSON text first, so a difference prints as something readable.
    assert!(a.errors.is_empty(), "{:?}", a.errors);
    assert_eq!(serde_json::to_string_pretty(&a).unwrap(), serde_json::to_string_pretty(&b).unwrap());
    assert_eq!(a, b);
}

#[tokio::test]
async fn the_scanner_paces_itself_inside_arms_read_budget_instead_of_running_into_429s() {
    // ARM allows 12 reads at once per subscription, refilled at 20 a second.
    let options = || Options { throttle: Some("12/20".parse().unwrap()), ..Default::default() };
    let paced = fake(6, 13, options()).await;
    let report = scan_of(&paced, |o| o.budget = "10/20".parse().unwrap()).await;
    let requests = Stats::get(&paced.arm.stats.requests);
    assert!(requests > 3 * 12, "enough reads to exhaust each budget: {requests}");
    assert_eq!(Stats::get(&paced.arm.stats.throttled), 0, "paced under the budget, never throttled");
    assert!(report.scanned.to_snapshot().errors.is_empty());

    // The same scan with pacing lifted does run into ARM's limit.
    let unpaced = fake(6, 13, options()).await;
    scan_of(&unpaced, |o| o.budget = "100000/100000".parse().unwrap()).await;
    assert!(Stats::get(&unpaced.arm.stats.throttled) > 0);
}

#[tokio::test]
async fn the_scanner_keeps_no_more_requests_in_flight_than_its_concurrency() {
    let fake = fake(8, 17, Options { latency: Duration::from_millis(40), ..Default::default() }).await;
    scan_of(&fake, |o| o.concurrency = 3).await;
    let most = Stats::get(&fake.arm.stats.max_in_flight);
    assert!((2..=3).contains(&most), "at most 3 at once, and more than one: {most}");
}

#[tokio::test]
async fn a_subscription_that_cannot_be_read_makes_the_scan_partial() {
    let fake = fake(6, 3, Options::default()).await;
    let good = fake.estate.scope.subscriptions[1].clone();
    let report =
        scan_of(&fake, |o| o.subscriptions = vec![good.clone(), "00000000-0000-0000-0000-000000000000".into()]).await;
    let s = report.scanned.to_snapshot();
    assert!(report.reached_anything);
    assert!(s.is_partial());
    assert_eq!(s.errors.len(), 2, "the subscription and its account list: {:?}", s.errors);
    assert!(s.errors.iter().all(|e| e.status == Some(404) && e.scope.ends_with("0000-000000000000")));
    assert!(s.errors[0].request.starts_with("GET /subscriptions/00000000"), "{:?}", s.errors[0]);
    assert!(!s.accounts.is_empty());
    assert!(s.accounts.iter().all(|a| a.account["id"].as_str().unwrap().contains(&good)));
}

async fn attest(pool: Option<&PgPool>, args: &[&str]) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(spawn::bin_path());
    cmd.args(args).env("USER", "tester");
    match pool {
        Some(pool) => cmd.env("DATABASE_URL", spawn::database_url(pool).unwrap()),
        None => cmd.env_remove("DATABASE_URL"),
    };
    cmd.output().await.unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn attest_scan_writes_a_file_or_stores_the_snapshot_and_fails_when_nothing_is_reachable(pool: PgPool) {
    let fake = fake(5, 8, Options { page_size: 4, ..Default::default() }).await;
    let token = token_file(TOKEN);
    let out = token.with_file_name("scan.json.gz");
    let args = ["scan", "--arm-endpoint", &fake.base, "--access-token-file", token.to_str().unwrap()];

    let written = attest(None, &[&args[..], &["--out", out.to_str().unwrap()]].concat()).await;
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let stderr = String::from_utf8_lossy(&written.stderr);
    assert!(stderr.contains("scanned 3 subscriptions: 5 accounts"), "{stderr}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
    let snapshot = attest_core::snapshot::decode::decode(&bytes, usize::MAX).unwrap();
    assert_eq!(snapshot.accounts.len(), 5);
    // With --arm-endpoint and no --graph-endpoint, Graph is not read (a
    // custom ARM says nothing of where its Graph is): principals stay unresolved.
    assert!(snapshot.principals.is_empty(), "{:?}", snapshot.principals.first());
    // Named, it is read: principals, and groups with their members.
    let with_graph = token.with_file_name("scan-graph.json");
    let resolved =
        attest(None, &[&args[..], &["--graph-endpoint", &fake.base, "--out", with_graph.to_str().unwrap()]].concat())
            .await;
    assert!(resolved.status.success(), "{}", String::from_utf8_lossy(&resolved.stderr));
    let resolved = attest_core::snapshot::decode::decode(&std::fs::read(&with_graph).unwrap(), usize::MAX).unwrap();
    assert!(!resolved.principals.is_empty());
    assert!(resolved.principals.iter().any(|p| p["members"].is_array()), "a group with its members");

    let stored = attest(Some(&pool), &args).await;
    assert!(stored.status.success(), "{}", String::from_utf8_lossy(&stored.stderr));
    let (source, accounts, partial): (String, i32, bool) =
        sqlx::query_as("select source, account_count, partial from snapshots").fetch_one(&pool).await.unwrap();
    assert_eq!((source.as_str(), accounts, partial), ("scan", 5, false));

    let wrong = token_file("not-the-token");
    let refused = attest(
        None,
        &[
            "scan",
            "--arm-endpoint",
            &fake.base,
            "--access-token-file",
            wrong.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("nothing could be collected") && stderr.contains("InvalidAuthenticationToken"), "{stderr}");

    let insecure = attest(
        None,
        &["scan", "--arm-endpoint", "http://arm.example.com", "--access-token-file", wrong.to_str().unwrap()],
    )
    .await;
    assert_eq!(insecure.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&insecure.stderr).contains("https"));
}
