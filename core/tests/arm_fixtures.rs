//! Every ARM payload Microsoft publishes for the resources Attest reads
//! (../shared/fixtures/arm, every api-version there) parses into its typed
//! view, one test per file, with the facts each file is known to hold.

use attest_core::snapshot::arm::*;
use serde_json::Value;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    attest_core::testing::fixtures_dir()
}

/// The resource documents in an example file: each response body (or the
/// whole file, for documents copied from the docs), and for list responses
/// each element of `value`.
fn documents(file: &str) -> Vec<Value> {
    let path = fixtures().join("arm").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let bodies: Vec<Value> = match doc.get("responses").and_then(Value::as_object) {
        Some(responses) => {
            responses.values().filter_map(|r| r.get("body")).filter(|b| b.is_object()).cloned().collect()
        }
        None => vec![doc],
    };
    assert!(!bodies.is_empty(), "{file}: no response bodies");
    bodies
        .into_iter()
        .flat_map(|b| match b.get("value").and_then(Value::as_array) {
            Some(items) if b.get("timespan").is_none() => items.clone(),
            _ => vec![b],
        })
        .collect()
}

fn all<T>(file: &str, parse: fn(&Value) -> Result<T, ShapeError>) -> Vec<T> {
    documents(file).iter().map(|d| parse(d).unwrap_or_else(|e| panic!("{file}: {e}"))).collect()
}

macro_rules! parses {
    ($($test:ident: $file:literal => $parse:path;)*) => {$(
        #[test]
        fn $test() {
            assert!(!all($file, $parse).is_empty());
        }
    )*};
}

// Files whose every document parses; the facts are checked below for the ones
// Attest's controls read.
parses! {
    account_create_2026: "cognitiveservices-accounts/CreateAccount.2026-09-01.json" => Account::parse;
    account_get_2025: "cognitiveservices-accounts/GetAccount.2025-09-01.json" => Account::parse;
    account_defender_settings_2026: "cognitiveservices-accounts/GetDefenderForAISetting.2026-09-01.json" => Resource::parse;
    accounts_by_resource_group_2026: "cognitiveservices-accounts/ListAccountsByResourceGroup.2026-09-01.json" => Account::parse;
    deployment_get_2026: "cognitiveservices-deployments/GetDeployment.2026-09-01.json" => Deployment::parse;
    deployment_skus_2026: "cognitiveservices-deployments/ListDeploymentSkus.2026-09-01.json" => Deployment::parse;
    deployment_put_2026: "cognitiveservices-deployments/PutDeployment.2026-09-01.json" => Deployment::parse;
    deployment_put_speculative_2026: "cognitiveservices-deployments/PutDeploymentWithSpeculativeDecoding.2026-09-01.json" => Deployment::parse;
    deployment_update_2026: "cognitiveservices-deployments/UpdateDeployment.2026-09-01.json" => Deployment::parse;
    private_endpoint_get_2026: "cognitiveservices-privateendpoints/GetPrivateEndpointConnection.2026-09-01.json" => PrivateEndpointConnection::parse;
    rai_blocklist_get_2026: "cognitiveservices-rai/GetRaiBlocklist.2026-09-01.json" => RaiBlocklist::parse;
    rai_blocklists_list_2026: "cognitiveservices-rai/ListBlocklists.2026-09-01.json" => RaiBlocklist::parse;
    rai_policy_get_2023: "cognitiveservices-rai/GetRaiPolicy.2023-05-01.json" => RaiPolicy::parse;
    rai_policy_get_2025: "cognitiveservices-rai/GetRaiPolicy.2025-06-01.json" => RaiPolicy::parse;
    rai_policies_list_2026: "cognitiveservices-rai/ListRaiPolicies.2026-09-01.json" => RaiPolicy::parse;
    rai_content_filters_2025: "cognitiveservices-rai/ListRaiContentFilters.2025-09-01.json" => Resource::parse;
    usages_account_2026: "cognitiveservices-usages-models/GetAccountUsages.2026-09-01.json" => Usage::parse;
    models_account_2026: "cognitiveservices-usages-models/ListAccountModels.2026-09-01.json" => Resource::parse;
    models_location_2026: "cognitiveservices-usages-models/ListLocationModels.2026-09-01.json" => Resource::parse;
    model_capacities_2026: "cognitiveservices-usages-models/ListModelCapacitiesDataZoneScope.2026-09-01.json" => Resource::parse;
    usages_2026: "cognitiveservices-usages-models/ListUsages.2026-09-01.json" => Usage::parse;
    usages_data_zone_2026: "cognitiveservices-usages-models/ListUsagesDataZoneScope.2026-09-01.json" => Usage::parse;
    diagnostic_setting_get: "insights-diagnosticsettings/getDiagnosticSetting.2021-05-01-preview.json" => DiagnosticSetting::parse;
    diagnostic_categories: "insights-diagnosticsettings/listDiagnosticSettingsCategories.2021-05-01-preview.json" => Resource::parse;
    role_definition_at_scope: "authorization-rbac/GetRoleDefinitionAtScope.2022-04-01.json" => RoleDefinition::parse;
    role_assignments_for_subscription: "authorization-rbac/RoleAssignments_ListForSubscription.2022-04-01.json" => RoleAssignment::parse;
    policy_definition_builtin: "policy/getBuiltinPolicyDefinition.2025-03-01.json" => Resource::parse;
    policy_assignments_list: "policy/listPolicyAssignments.2025-03-01.json" => PolicyAssignment::parse;
    policy_exemptions_list: "policy/listPolicyExemptionsForSubscription.2026-01-01-preview.json" => PolicyExemption::parse;
    locations_2022: "resources/GetLocations.2022-12-01.json" => Resource::parse;
}

#[test]
fn get_account_2026_reads_kind_location_and_tags() {
    let [a] = &all("cognitiveservices-accounts/GetAccount.2026-09-01.json", Account::parse)[..] else { panic!() };
    assert_eq!(a.common.name.as_deref(), Some("myAccount"));
    assert_eq!(a.kind.as_deref(), Some("Emotion"));
    assert!(!a.is_in_scope(), "an Emotion account is not an OpenAI estate");
    assert_eq!(a.common.location.as_deref(), Some("westus"));
    assert_eq!(a.common.tags.as_ref().unwrap()["Owner"], "felixwa");
    assert!(a.key_access_enabled(), "no disableLocalAuth: keys are enabled");
    assert!(a.public_network_access_enabled());
}

#[test]
fn accounts_by_subscription_2026_lists_every_account() {
    let accounts = all("cognitiveservices-accounts/ListAccountsBySubscription.2026-09-01.json", Account::parse);
    assert_eq!(accounts.len(), 4);
    assert!(accounts.iter().all(|a| a
        .common
        .id
        .as_deref()
        .unwrap()
        .contains("/providers/Microsoft.CognitiveServices/accounts/")));
}

#[test]
fn create_account_2026_reads_identity_and_customer_managed_keys() {
    let accounts = all("cognitiveservices-accounts/CreateAccount.2026-09-01.json", Account::parse);
    let a = &accounts[0];
    assert_eq!(a.identity.as_ref().unwrap().identity_type.as_deref(), Some("SystemAssigned"));
    assert_eq!(a.properties.encryption.as_ref().unwrap().key_source.as_deref(), Some("Microsoft.KeyVault"));
}

#[test]
fn deployments_parse_in_every_api_version() {
    for (file, capacity) in [
        ("cognitiveservices-deployments/ListDeployments.2021-10-01.json", Some(1)),
        ("cognitiveservices-deployments/ListDeployments.2023-05-01.json", Some(1)),
        ("cognitiveservices-deployments/ListDeployments.2026-09-01.json", Some(1)),
    ] {
        let [d] = &all(file, Deployment::parse)[..] else { panic!("{file}") };
        assert_eq!(d.properties.model.as_ref().unwrap().name.as_deref(), Some("ada"), "{file}");
        assert_eq!(d.capacity(), capacity, "{file}");
    }
    let [d] = &all("cognitiveservices-deployments/ListDeployments.2026-09-01.json", Deployment::parse)[..] else {
        panic!()
    };
    assert_eq!(d.deployment_type(), DeploymentType::Regional);
    assert_eq!(d.properties.deployment_state.as_deref(), Some("Running"));
}

#[test]
fn rai_policy_2026_reads_every_filter_and_its_threshold() {
    let [p] = &all("cognitiveservices-rai/GetRaiPolicy.2026-09-01.json", RaiPolicy::parse)[..] else { panic!() };
    assert_eq!(p.properties.base_policy_name.as_deref(), Some("Microsoft.Default"));
    let hate_prompt = p.filter("hate", "prompt").unwrap();
    assert_eq!(hate_prompt.enabled, Some(false));
    assert_eq!(hate_prompt.severity_threshold.as_deref(), Some("High"));
    assert_eq!(p.filter("Violence", "Completion").unwrap().severity_threshold.as_deref(), Some("Medium"));
    assert!(p.filter("Jailbreak", "Prompt").unwrap().enabled.unwrap());
}

#[test]
fn blocklist_items_read_their_patterns() {
    let items = all("cognitiveservices-rai/ListBlocklistItems.2026-09-01.json", RaiBlocklistItem::parse);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].properties.pattern.as_deref(), Some("Pattern To Block"));
    assert_eq!(items[0].properties.is_regex, Some(false));
}

#[test]
fn private_endpoint_connections_read_their_approval() {
    let [c] = &all(
        "cognitiveservices-privateendpoints/ListPrivateEndpointConnections.2026-09-01.json",
        PrivateEndpointConnection::parse,
    )[..] else {
        panic!()
    };
    assert!(c.is_approved());
    assert!(c
        .properties
        .private_endpoint
        .as_ref()
        .unwrap()
        .id
        .as_deref()
        .unwrap()
        .ends_with("/privateEndpoints/petest01"));
}

#[test]
fn diagnostic_settings_read_destinations_and_log_groups() {
    let [s] = &all(
        "insights-diagnosticsettings/listDiagnosticSettings.2021-05-01-preview.json",
        DiagnosticSetting::parse,
    )[..] else {
        panic!()
    };
    assert_eq!(s.workspace(), None, "an empty workspaceId means no workspace");
    assert!(s.properties.storage_account_id.is_some());
    assert!(s.sends("Audit") && s.sends("RequestResponse"), "allLogs covers every category");
}

#[test]
fn role_assignments_and_definitions_read_principals_and_permissions() {
    let [a] = &all("authorization-rbac/RoleAssignments_ListForScope.2022-04-01.json", RoleAssignment::parse)[..] else {
        panic!()
    };
    assert_eq!(a.properties.principal_type.as_deref(), Some("User"));
    assert_eq!(a.properties.scope.as_deref(), Some("/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2"));
    assert!(a.properties.role_definition_id.as_deref().unwrap().ends_with("0b5fe924-9a61-425c-96af-cfe6e287ca2d"));

    let [d] = &all("authorization-rbac/GetRoleDefinitionById.2022-04-01.json", RoleDefinition::parse)[..] else {
        panic!()
    };
    let perms = d.properties.permissions.as_ref().unwrap();
    assert_eq!(perms[0].actions, ["action"]);
    assert_eq!(perms[0].data_actions, ["dataAction"]);
}

#[test]
fn policy_assignment_reads_scope_parameters_and_enforcement() {
    let [a] = &all("policy/getPolicyAssignment.2025-03-01.json", PolicyAssignment::parse)[..] else { panic!() };
    assert_eq!(a.properties.enforcement_mode.as_deref(), Some("Default"));
    assert_eq!(a.properties.parameters.as_ref().unwrap()["prefix"]["value"], "DeptA");
    assert_eq!(a.properties.not_scopes.as_deref(), Some(&[][..]));
}

#[test]
fn policy_exemptions_read_category_expiry_and_approval_metadata() {
    let [e] = &all("policy/getPolicyExemption.2022-07-01-preview.json", PolicyExemption::parse)[..] else { panic!() };
    assert_eq!(e.properties.exemption_category.as_deref(), Some("Waiver"));
    assert_eq!(e.properties.policy_definition_reference_ids.as_deref(), Some(&["Limit_Skus".to_string()][..]));

    let [d] = &all("policy/docs-exemption-structure.waiver-expiresOn.json", PolicyExemption::parse)[..] else {
        panic!()
    };
    assert_eq!(
        d.properties.exemption_category.as_deref(),
        Some("waiver"),
        "kept as written; compared case-insensitively"
    );
    assert_eq!(d.properties.expires_on.as_deref(), Some("2020-12-31T23:59:00.0000000Z"));
    assert_eq!(d.properties.metadata.as_ref().unwrap()["approvedBy"], "IA");
}

#[test]
fn metrics_read_series_points_and_errors() {
    let [m] = &all("insights-metrics/GetMetric.2024-02-01.json", MetricsResponse::parse)[..] else { panic!() };
    assert_eq!(m.interval.as_deref(), Some("PT1H"));
    assert_eq!(m.value.len(), 2);
    let series = &m.value[0].timeseries[0];
    assert_eq!(series.dimension("tier"), Some("Hot"));
    assert_eq!(series.data[0].average, Some(7.0));

    let [e] = &all("insights-metrics/GetMetricError.2023-10-01.json", MetricsResponse::parse)[..] else { panic!() };
    assert!(!e.value.is_empty());
}

#[test]
fn usages_read_current_value_and_limit() {
    let [u] = &all("cognitiveservices-usages-models/ListUsages.2026-09-01.json", Usage::parse)[..] else { panic!() };
    assert_eq!(u.name.as_ref().unwrap().value.as_deref(), Some("AccountCount"));
    assert_eq!((u.current_value, u.limit), (Some(3.0), Some(200.0)));
}

#[test]
fn subscriptions_read_ids_and_tenants() {
    let subs = all("resources/GetSubscriptions.2022-12-01.json", Subscription::parse);
    assert_eq!(subs.len(), 2);
    assert!(subs.iter().all(|s| s.subscription_id.is_some() && s.state.is_some()));
}

/// Fixtures that shared/ holds for features not built yet, with the issue
/// that parses them (its tests then name them above, and they leave this
/// list). Kept as (folder, file) so that the check below does not count
/// this list as their test.
const AWAITING: &[(&str, &str, u32)] = &[
    ("authorization-rbac", "GetAllProviderOperations.2022-04-01.json", 13),
    ("authorization-rbac", "GetProviderOperationsRP.2022-04-01.json", 13),
    ("authorization-rbac", "GetDenyAssignmentById.2022-04-01.json", 13),
    ("authorization-rbac", "GetDenyAssignmentByScope.2022-04-01.json", 13),
    ("authorization-rbac", "GetDenyAssignmentsForResourceGroup.2022-04-01.json", 13),
    ("authorization-rbac", "GetRoleAssignmentScheduleInstancesByScope.2020-10-01.json", 13),
    ("authorization-rbac", "GetRoleEligibilityScheduleInstancesByScope.2020-10-01.json", 13),
    ("consumption", "Budget.2024-08-01.json", 15),
    ("consumption", "BudgetsList.2024-08-01.json", 15),
    ("consumption", "CreateOrUpdateBudget.2024-08-01.json", 15),
    ("consumption", "BillingAccountForecast.2023-11-01.json", 15),
    ("consumption", "ResourceGroupForecast.2023-11-01.json", 15),
    ("consumption", "SubscriptionQueryGrouping.2023-11-01.json", 15),
    ("insights-metrics", "GetMetricDefinitions.2023-10-01.json", 15),
    ("insights-metrics", "docs-supported-metrics.microsoft-cognitiveservices-accounts.md", 15),
];

#[test]
fn fixtures_awaiting_a_parser_exist() {
    for (group, file, issue) in AWAITING {
        assert!(fixtures().join("arm").join(group).join(file).is_file(), "{group}/{file} (issue {issue}) is gone");
    }
}

#[test]
fn every_arm_fixture_is_covered_by_a_test_here() {
    let source = include_str!("arm_fixtures.rs");
    let dir = fixtures().join("arm");
    let mut missing = Vec::new();
    for group in std::fs::read_dir(&dir).unwrap() {
        let group = group.unwrap().path();
        for file in std::fs::read_dir(&group).unwrap() {
            let file = file.unwrap().path();
            let rel = format!(
                "{}/{}",
                group.file_name().unwrap().to_string_lossy(),
                file.file_name().unwrap().to_string_lossy()
            );
            let awaiting = AWAITING.iter().any(|(g, f, _)| format!("{g}/{f}") == rel);
            if !awaiting && !source.contains(&format!("\"{rel}\"")) {
                missing.push(rel);
            }
        }
    }
    assert!(missing.is_empty(), "fixtures without a test: {missing:?}");
}
