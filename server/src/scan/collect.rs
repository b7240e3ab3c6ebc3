//! The walk over an estate: subscriptions, their Cognitive Services
//! accounts of kind OpenAI or AIServices, and everything about each account
//! that the controls read. Every failed request becomes a collection error
//! in the snapshot and the walk goes on; lists come back sorted, so two scans
//! of an unchanged estate produce the same content however the requests
//! interleaved or were retried.

use super::{
    client::{ArmClient, Failure},
    progress::Progress,
};
use attest_core::snapshot::{
    arm::{Account, MetricsResponse},
    graph::PrincipalRecord,
    AccountRecord, BlocklistRecord, CollectionError, DailyUsage,
};
use futures::{stream, StreamExt};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::{format_description::well_known::Rfc3339, Duration, OffsetDateTime};

/// The api-versions asked for (see docs/ARCHITECTURE.md: stable where one exists).
pub mod api {
    pub const SUBSCRIPTIONS: &str = "2022-12-01";
    pub const COGNITIVE_SERVICES: &str = "2025-06-01";
    pub const AUTHORIZATION: &str = "2022-04-01";
    /// PIM's schedule instances have no newer stable version.
    pub const PIM: &str = "2020-10-01";
    pub const DIAGNOSTIC_SETTINGS: &str = "2021-05-01-preview";
    pub const METRICS: &str = "2024-02-01";
    pub const POLICY_ASSIGNMENTS: &str = "2025-03-01";
    /// Policy exemptions have only preview api-versions.
    pub const POLICY_EXEMPTIONS: &str = "2024-12-01-preview";
    pub const PROVIDERS: &str = "2021-04-01";
}

/// The providers whose Policy aliases the scan reads: those of the types it
/// collects (accounts and their children, diagnostic settings, role and
/// policy documents) and of the private endpoints built-ins look at.
pub const ALIAS_PROVIDERS: [&str; 4] =
    ["Microsoft.CognitiveServices", "Microsoft.Insights", "Microsoft.Authorization", "Microsoft.Network"];

/// The token-usage metrics, in the order `DailyUsage` holds them.
const METRICS: &str = "ProcessedPromptTokens,GeneratedTokens,TokenTransaction,AzureOpenAIRequests";

pub struct Plan {
    /// Subscriptions to scan; empty means every one the credential can see.
    pub subscriptions: Vec<String>,
    /// Days of token usage to read, ending at the start of today (UTC).
    pub usage_days: u32,
    /// Accounts collected at once.
    pub concurrency: usize,
    pub now: OffsetDateTime,
}

#[derive(Default)]
pub struct Collected {
    pub tenant_id: Option<String>,
    pub subscription_ids: Vec<String>,
    pub subscriptions: Vec<Value>,
    /// Each account's record as compact JSON, sorted by account id.
    pub accounts: Vec<String>,
    pub deployment_count: usize,
    /// Compact JSON, sorted by id: an estate can hold hundreds of thousands,
    /// and as text they take a fraction of the memory of `Value`s.
    pub role_assignments: Vec<String>,
    pub role_definitions: Vec<Value>,
    pub policy_assignments: Vec<Value>,
    pub policy_exemptions: Vec<Value>,
    /// Resource providers with their Policy aliases.
    pub providers: Vec<Value>,
    /// Per subscription, sorted by id: deny assignments and PIM's eligible
    /// and active schedule instances.
    pub deny_assignments: Vec<Value>,
    pub role_eligibility_schedule_instances: Vec<Value>,
    pub role_assignment_schedule_instances: Vec<Value>,
    /// What Microsoft Graph said of each principal the assignments name
    /// (`PrincipalRecord`s), sorted by id; empty without Graph.
    pub principals: Vec<Value>,
    pub errors: Vec<CollectionError>,
    /// False when not even one subscription could be listed.
    pub reached_anything: bool,
}

struct Recorder<'a> {
    client: &'a ArmClient,
    errors: Vec<CollectionError>,
}

impl Recorder<'_> {
    fn record(&mut self, scope: &str, url: &str, failure: Failure) {
        self.errors.push(CollectionError {
            scope: scope.to_string(),
            request: format!("GET {}", path_of(url)),
            status: failure.status,
            message: failure.message,
        });
    }

    async fn list(&mut self, scope: &str, url: String) -> Option<Vec<Value>> {
        match self.client.list(&url).await {
            Ok(v) => Some(v),
            Err(f) => {
                self.record(scope, &url, f);
                None
            }
        }
    }

    async fn get(&mut self, scope: &str, url: String) -> Option<Value> {
        match self.client.get(&url).await {
            Ok(v) => Some(v),
            Err(f) => {
                self.record(scope, &url, f);
                None
            }
        }
    }
}

/// Microsoft Graph's `getByIds` takes at most this many ids per request.
const GRAPH_IDS_PER_REQUEST: usize = 1000;

/// Who the principal ids are, from Microsoft Graph: a record per id asked
/// about, in batches. A batch Graph refused is a collection error, and its
/// principals stay unresolved (no record), not deleted.
async fn resolve_principals(
    graph: &ArmClient,
    ids: &[String],
    errors: &mut Vec<CollectionError>,
) -> Vec<PrincipalRecord> {
    let url = graph.url("/v1.0/directoryObjects/getByIds", &[]);
    let mut records = Vec::new();
    for chunk in ids.chunks(GRAPH_IDS_PER_REQUEST) {
        let body = serde_json::json!({"ids": chunk, "types": ["user", "group", "servicePrincipal", "device"]});
        match graph.post(&url, &body).await {
            Ok(answer) => match answer.get("value").and_then(Value::as_array) {
                Some(objects) => records.extend(PrincipalRecord::for_answer(chunk, objects)),
                None => errors.push(CollectionError {
                    scope: "graph".into(),
                    request: format!("POST {}", path_of(&url)),
                    status: Some(200),
                    message: "the answer has no `value` array".into(),
                }),
            },
            Err(f) => errors.push(CollectionError {
                scope: "graph".into(),
                request: format!("POST {}", path_of(&url)),
                status: f.status,
                message: f.message,
            }),
        }
    }
    records
}

/// The members of the groups among `records`, direct and nested
/// (`transitiveMembers`), each group's list followed to its end. A group
/// whose members Graph refused is a collection error and keeps no list, so
/// it is shown without members rather than as empty.
async fn read_members(
    graph: &ArmClient,
    records: &mut [PrincipalRecord],
    concurrency: usize,
    errors: &mut Vec<CollectionError>,
) {
    let reads = stream::iter(records.iter_mut().filter(|r| r.is_group()))
        .map(|record| async move {
            let url = graph.url(&format!("/v1.0/groups/{}/transitiveMembers", record.id), &[]);
            match graph.list(&url).await {
                Ok(members) => {
                    record.members = Some(members);
                    None
                }
                Err(f) => Some(CollectionError {
                    scope: "graph".into(),
                    request: format!("GET {}", path_of(&url)),
                    status: f.status,
                    message: f.message,
                }),
            }
        })
        .buffer_unordered(concurrency.max(1));
    errors.extend(reads.filter_map(|e| async move { e }).collect::<Vec<_>>().await);
}

/// The request as recorded: path and query, without the host.
fn path_of(url: &str) -> &str {
    url.split_once("://").and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..])).unwrap_or(url)
}

/// Walks the estate through `client`; `graph`, when given, resolves the
/// principals the role assignments name.
pub async fn collect(client: &ArmClient, graph: Option<&ArmClient>, plan: &Plan, progress: &Progress) -> Collected {
    let mut out = Collected::default();
    let mut rec = Recorder { client, errors: Vec::new() };

    progress.phase("listing subscriptions");
    if plan.subscriptions.is_empty() {
        let url = client.url("/subscriptions", &[("api-version", api::SUBSCRIPTIONS)]);
        out.subscriptions = rec.list("/", url).await.unwrap_or_default();
    } else {
        for id in &plan.subscriptions {
            let url = client.url(&format!("/subscriptions/{id}"), &[("api-version", api::SUBSCRIPTIONS)]);
            if let Some(doc) = rec.get(&format!("/subscriptions/{id}"), url).await {
                out.subscriptions.push(doc);
            }
        }
    }
    // Azure's Policy aliases as of now (tenant-level reads, one per
    // provider), so that the engine resolves what Azure defines today.
    progress.phase("reading Policy aliases");
    for ns in ALIAS_PROVIDERS {
        let url = client
            .url(&format!("/providers/{ns}"), &[("api-version", api::PROVIDERS), ("$expand", "resourceTypes/aliases")]);
        if let Some(doc) = rec.get(&format!("/providers/{ns}"), url).await {
            out.providers.push(doc);
        }
    }
    out.subscription_ids = if plan.subscriptions.is_empty() {
        out.subscriptions.iter().filter_map(|s| s["subscriptionId"].as_str().map(str::to_string)).collect()
    } else {
        plan.subscriptions.clone()
    };
    out.tenant_id = out.subscriptions.iter().find_map(|s| s["tenantId"].as_str().map(str::to_string));

    progress.phase("listing accounts");
    let mut accounts = Vec::new();
    for id in out.subscription_ids.clone() {
        let scope = format!("/subscriptions/{id}");
        let url = client.url(
            &format!("{scope}/providers/Microsoft.CognitiveServices/accounts"),
            &[("api-version", api::COGNITIVE_SERVICES)],
        );
        if let Some(listed) = rec.list(&scope, url).await {
            out.reached_anything = true;
            // Accounts_List has no $filter: the kinds are chosen here.
            accounts.extend(listed.into_iter().filter(|a| Account::parse(a).is_ok_and(|a| a.is_in_scope())));
        }
        progress.counters(&client.counters);
    }
    progress.accounts_found(accounts.len() as u64);

    // Who else can and cannot act, per subscription: deny assignments, PIM's
    // eligible and active assignments (which need a PIM-reading role; a 403
    // is a collection error like any other), and custom roles.
    progress.phase("reading deny assignments, PIM schedules and custom roles");
    let (mut denies, mut eligible, mut active) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let mut custom_roles = Vec::new();
    for id in out.subscription_ids.clone() {
        let scope = format!("/subscriptions/{id}");
        let url = |what: &str, version: &str, filter: Option<&str>| {
            let mut query = vec![("api-version", version)];
            query.extend(filter.map(|f| ("$filter", f)));
            client.url(&format!("{scope}/providers/Microsoft.Authorization/{what}"), &query)
        };
        for (into, what, version) in [
            (&mut denies, "denyAssignments", api::AUTHORIZATION),
            (&mut eligible, "roleEligibilityScheduleInstances", api::PIM),
            (&mut active, "roleAssignmentScheduleInstances", api::PIM),
        ] {
            for doc in rec.list(&scope, url(what, version, None)).await.unwrap_or_default() {
                into.insert(id_key(&doc), doc);
            }
        }
        let customs = url("roleDefinitions", api::AUTHORIZATION, Some("type eq 'CustomRole'"));
        custom_roles.extend(rec.list(&scope, customs).await.unwrap_or_default());
        progress.counters(&client.counters);
    }

    progress.phase("collecting accounts");
    let mut outcomes = stream::iter(accounts)
        .map(|account| async move {
            let outcome = collect_account(client, account, plan).await;
            progress.account_done(&client.counters);
            outcome
        })
        .buffer_unordered(plan.concurrency.max(1));

    // Each account's outcome is folded in as it arrives, so its role
    // assignments are held as text, not as `Value`s, from then on.
    let mut assignments: BTreeMap<String, String> = BTreeMap::new();
    let mut principal_ids: BTreeSet<String> = BTreeSet::new();
    let mut definitions: HashMap<String, String> = HashMap::new();
    let mut policy_assignments = BTreeMap::new();
    let mut policy_exemptions = BTreeMap::new();
    let mut records: Vec<(String, String)> = Vec::new();
    while let Some(o) = outcomes.next().await {
        out.deployment_count += o.record.deployments.len();
        records.push((id_key(&o.record.account), serde_json::to_string(&o.record).expect("records serialise")));
        rec.errors.extend(o.errors);
        for doc in o.role_assignments {
            let key = id_key(&doc);
            if assignments.contains_key(&key) {
                continue;
            }
            if let Some(id) = doc["properties"]["roleDefinitionId"].as_str() {
                definitions.entry(id.to_ascii_lowercase()).or_insert_with(|| id.to_string());
            }
            if let Some(p) = doc["properties"]["principalId"].as_str() {
                principal_ids.insert(p.to_ascii_lowercase());
            }
            assignments.insert(key, serde_json::to_string(&doc).expect("JSON values serialise"));
        }
        for (into, docs) in
            [(&mut policy_assignments, o.policy_assignments), (&mut policy_exemptions, o.policy_exemptions)]
        {
            for doc in docs {
                into.insert(id_key(&doc), doc);
            }
        }
    }
    drop(outcomes);

    progress.phase("reading role definitions");
    let mut by_name = BTreeMap::new();
    let fetched: Vec<(String, Result<Value, Failure>)> = stream::iter(definitions.into_values())
        .map(|id| async move {
            let url = client.url(&id, &[("api-version", api::AUTHORIZATION)]);
            let result = client.get(&url).await;
            (url, result)
        })
        .buffer_unordered(plan.concurrency.max(1))
        .collect()
        .await;
    for (url, result) in fetched {
        match result {
            // The same built-in role read at several scopes is one definition.
            Ok(doc) => {
                let key = doc["name"].as_str().map(str::to_ascii_lowercase).unwrap_or_else(|| id_key(&doc));
                by_name.entry(key).or_insert(doc);
            }
            Err(f) => rec.record(path_of(&url).split('?').next().unwrap_or(""), &url, f),
        }
    }
    progress.counters(&client.counters);
    // Custom roles that no assignment names are still reviewed (a wildcard
    // custom role is a flag before anyone holds it).
    for doc in custom_roles {
        let key = doc["name"].as_str().map(str::to_ascii_lowercase).unwrap_or_else(|| id_key(&doc));
        by_name.entry(key).or_insert(doc);
    }

    for doc in eligible.values().chain(active.values()) {
        if let Some(p) = doc["properties"]["principalId"].as_str() {
            principal_ids.insert(p.to_ascii_lowercase());
        }
    }
    if let Some(graph) = graph {
        progress.phase("resolving principals (Microsoft Graph)");
        let ids: Vec<String> = principal_ids.into_iter().collect();
        let mut resolved = resolve_principals(graph, &ids, &mut rec.errors).await;
        read_members(graph, &mut resolved, plan.concurrency, &mut rec.errors).await;
        out.principals = resolved.iter().map(|r| serde_json::to_value(r).expect("records serialise")).collect();
    }

    records.sort_unstable();
    out.accounts = records.into_iter().map(|(_, json)| json).collect();
    out.role_assignments = assignments.into_values().collect();
    out.role_definitions = by_name.into_values().collect();
    out.policy_assignments = policy_assignments.into_values().collect();
    out.policy_exemptions = policy_exemptions.into_values().collect();
    out.deny_assignments = denies.into_values().collect();
    out.role_eligibility_schedule_instances = eligible.into_values().collect();
    out.role_assignment_schedule_instances = active.into_values().collect();
    rec.errors.sort_by(|a, b| (&a.scope, &a.request).cmp(&(&b.scope, &b.request)));
    out.errors = rec.errors;
    out
}

struct AccountOutcome {
    record: AccountRecord,
    role_assignments: Vec<Value>,
    policy_assignments: Vec<Value>,
    policy_exemptions: Vec<Value>,
    errors: Vec<CollectionError>,
}

fn id_key(doc: &Value) -> String {
    doc["id"].as_str().unwrap_or_default().to_ascii_lowercase()
}

fn sorted(mut docs: Vec<Value>) -> Vec<Value> {
    docs.sort_by_key(id_key);
    docs.dedup_by_key(|d| id_key(d));
    docs
}

async fn collect_account(client: &ArmClient, account: Value, plan: &Plan) -> AccountOutcome {
    let id = account["id"].as_str().unwrap_or_default().to_string();
    let cs = |child: &str| client.url(&format!("{id}/{child}"), &[("api-version", api::COGNITIVE_SERVICES)]);
    let at_scope = |provider: &str, version: &str| {
        client.url(&format!("{id}/providers/{provider}"), &[("api-version", version), ("$filter", "atScope()")])
    };
    let mut r = [(); 8].map(|_| Recorder { client, errors: Vec::new() });
    let [r1, r2, r3, r4, r5, r6, r7, r8] = &mut r;
    let (deployments, rai_policies, blocklists, pecs, diagnostics, roles, policies, exemptions) = tokio::join!(
        r1.list(&id, cs("deployments")),
        r2.list(&id, cs("raiPolicies")),
        r3.list(&id, cs("raiBlocklists")),
        r4.list(&id, cs("privateEndpointConnections")),
        r5.list(
            &id,
            client.url(
                &format!("{id}/providers/Microsoft.Insights/diagnosticSettings"),
                &[("api-version", api::DIAGNOSTIC_SETTINGS)]
            )
        ),
        r6.list(&id, at_scope("Microsoft.Authorization/roleAssignments", api::AUTHORIZATION)),
        r7.list(&id, at_scope("Microsoft.Authorization/policyAssignments", api::POLICY_ASSIGNMENTS)),
        r8.list(&id, at_scope("Microsoft.Authorization/policyExemptions", api::POLICY_EXEMPTIONS)),
    );
    let mut errors: Vec<CollectionError> = r.into_iter().flat_map(|r| r.errors).collect();
    let mut rec = Recorder { client, errors: Vec::new() };

    let mut rai_blocklists = Vec::new();
    for blocklist in sorted(blocklists.unwrap_or_default()) {
        let name = blocklist["name"].as_str().unwrap_or_default().to_string();
        let items = rec.list(&id, cs(&format!("raiBlocklists/{name}/raiBlocklistItems"))).await.unwrap_or_default();
        rai_blocklists.push(BlocklistRecord { blocklist, items: sorted(items) });
    }

    let deployments = sorted(deployments.unwrap_or_default());
    let usage = if deployments.is_empty() { Vec::new() } else { usage(&mut rec, &id, plan).await };
    errors.extend(rec.errors);

    AccountOutcome {
        record: AccountRecord {
            account,
            deployments,
            rai_policies: sorted(rai_policies.unwrap_or_default()),
            rai_blocklists,
            private_endpoint_connections: sorted(pecs.unwrap_or_default()),
            diagnostic_settings: sorted(diagnostics.unwrap_or_default()),
            usage,
        },
        role_assignments: roles.unwrap_or_default(),
        policy_assignments: policies.unwrap_or_default(),
        policy_exemptions: exemptions.unwrap_or_default(),
        errors,
    }
}

/// Daily token usage per deployment over the plan's window, from Azure Monitor.
async fn usage(rec: &mut Recorder<'_>, id: &str, plan: &Plan) -> Vec<DailyUsage> {
    let end = plan.now.date().midnight().assume_utc();
    let start = end - Duration::days(plan.usage_days.max(1) as i64);
    let timespan = format!("{}/{}", start.format(&Rfc3339).expect("formats"), end.format(&Rfc3339).expect("formats"));
    let url = rec.client.url(
        &format!("{id}/providers/Microsoft.Insights/metrics"),
        &[
            ("api-version", api::METRICS),
            ("metricnames", METRICS),
            ("aggregation", "Total"),
            ("interval", "P1D"),
            ("timespan", &timespan),
            ("$filter", "ModelDeploymentName eq '*'"),
            // Without it, splits stop at 10 series.
            ("top", "1000"),
        ],
    );
    let Some(doc) = rec.get(id, url.clone()).await else { return Vec::new() };
    let response = match MetricsResponse::parse(&doc) {
        Ok(r) => r,
        Err(e) => {
            rec.record(id, &url, Failure { status: Some(200), message: e.to_string() });
            return Vec::new();
        }
    };
    daily_usage(&response).unwrap_or_else(|message| {
        rec.record(id, &url, Failure { status: Some(200), message });
        Vec::new()
    })
}

/// Folds the four metrics into one row per deployment and day.
pub fn daily_usage(response: &MetricsResponse) -> Result<Vec<DailyUsage>, String> {
    let mut rows: BTreeMap<(String, String), DailyUsage> = BTreeMap::new();
    for metric in &response.value {
        let name = metric.name.as_ref().and_then(|n| n.value.as_deref()).unwrap_or_default();
        if let Some(code) = metric.error_code.as_deref().filter(|c| !c.eq_ignore_ascii_case("Success")) {
            return Err(format!("metric {name}: {code}: {}", metric.error_message.as_deref().unwrap_or("")));
        }
        for series in &metric.timeseries {
            let deployment = series.dimension("ModelDeploymentName").unwrap_or("").to_string();
            for point in &series.data {
                let (Some(stamp), Some(total)) = (point.time_stamp.as_deref(), point.total) else { continue };
                let date = stamp.get(..10).unwrap_or(stamp).to_string();
                let row = rows.entry((deployment.clone(), date.clone())).or_insert_with(|| DailyUsage {
                    deployment: deployment.clone(),
                    date,
                    prompt_tokens: 0,
                    completion_tokens: 0,
                    total_tokens: 0,
                    requests: 0,
                });
                let value = total.max(0.0).round() as u64;
                match name {
                    "ProcessedPromptTokens" => row.prompt_tokens = value,
                    "GeneratedTokens" => row.completion_tokens = value,
                    "TokenTransaction" => row.total_tokens = value,
                    "AzureOpenAIRequests" => row.requests = value,
                    _ => {}
                }
            }
        }
    }
    Ok(rows.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_are_recorded_without_the_host() {
        assert_eq!(
            path_of("https://management.azure.com/subscriptions/x?api-version=1"),
            "/subscriptions/x?api-version=1"
        );
    }

    #[test]
    fn metrics_fold_into_one_row_per_deployment_and_day() {
        let series = |dep: &str, total: f64| {
            json!({"metadatavalues": [{"name": {"value": "modeldeploymentname"}, "value": dep}],
                   "data": [{"timeStamp": "2026-11-20T00:00:00Z", "total": total}, {"timeStamp": "2026-11-19T00:00:00Z"}]})
        };
        let doc = json!({"value": [
            {"name": {"value": "ProcessedPromptTokens"}, "timeseries": [series("a", 100.0), series("b", 7.0)], "errorCode": "Success"},
            {"name": {"value": "GeneratedTokens"}, "timeseries": [series("a", 40.0)]},
            {"name": {"value": "TokenTransaction"}, "timeseries": [series("a", 140.0)]},
            {"name": {"value": "AzureOpenAIRequests"}, "timeseries": [series("a", 3.0)]},
        ]});
        let rows = daily_usage(&MetricsResponse::parse(&doc).unwrap()).unwrap();
        assert_eq!(rows.len(), 2, "points without a total are not days of use");
        assert_eq!(
            rows[0],
            DailyUsage {
                deployment: "a".into(),
                date: "2026-11-20".into(),
                prompt_tokens: 100,
                completion_tokens: 40,
                total_tokens: 140,
                requests: 3
            }
        );
        assert_eq!(rows[1].deployment, "b");
    }

    #[test]
    fn a_metric_error_in_microsofts_example_is_reported() {
        let fixture = attest_core::testing::fixtures_dir().join("arm/insights-metrics/GetMetricError.2023-10-01.json");
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        let body = &doc["responses"]["200"]["body"];
        let parsed = MetricsResponse::parse(body).unwrap();
        assert!(daily_usage(&parsed).is_err());
    }
}
