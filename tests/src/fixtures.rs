//! Snapshots built from Microsoft's example payloads in ../shared/fixtures.

use attest_core::snapshot::{AccountRecord, ScanScope, Snapshot, SCHEMA_VERSION};
use serde_json::Value;
use std::path::PathBuf;

pub fn root() -> PathBuf {
    attest_core::testing::fixtures_dir()
}

/// The 200 response body of an ARM example file.
pub fn body(file: &str) -> Value {
    let path = root().join("arm").join(file);
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("JSON");
    doc["responses"]["200"]["body"].clone()
}

pub fn items(file: &str) -> Vec<Value> {
    body(file)["value"].as_array().cloned().unwrap_or_default()
}

/// What Graph's getByIds example answers for its users, group and device,
/// and a principal it left out (deleted), as a snapshot records them.
pub fn principals() -> Vec<Value> {
    use attest_core::snapshot::graph::PrincipalRecord;
    let path = root().join("graph/directoryObjects_getByIds.v1.0.json");
    let answer: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
    let objects = answer["value"].as_array().cloned().unwrap_or_default();
    let mut asked: Vec<String> = objects.iter().filter_map(|o| o["id"].as_str().map(str::to_string)).collect();
    asked.push("ce2ce14e-85d7-4629-bdbc-454d0519d987".into());
    PrincipalRecord::for_answer(&asked, &objects).iter().map(|r| serde_json::to_value(r).unwrap()).collect()
}

/// Microsoft's example account (made an OpenAI account) with its example
/// deployments, content filter, private endpoint, diagnostic setting, role
/// assignment and policy documents.
pub fn example_snapshot() -> Snapshot {
    let mut account = body("cognitiveservices-accounts/GetAccount.2026-09-01.json");
    account["kind"] = "OpenAI".into();
    Snapshot {
        schema_version: SCHEMA_VERSION,
        scope: ScanScope {
            tenant_id: None,
            subscriptions: vec!["00000000-1111-2222-3333-444444444444".into()],
            arm_endpoint: "https://management.azure.com".into(),
        },
        started_at: time::macros::datetime!(2026-11-21 10:00 UTC),
        finished_at: time::macros::datetime!(2026-11-21 10:05 UTC),
        collector: "test".into(),
        subscriptions: items("resources/GetSubscriptions.2022-12-01.json"),
        accounts: vec![AccountRecord {
            account,
            deployments: items("cognitiveservices-deployments/ListDeployments.2026-09-01.json"),
            rai_policies: vec![body("cognitiveservices-rai/GetRaiPolicy.2026-09-01.json")],
            rai_blocklists: vec![],
            private_endpoint_connections: items(
                "cognitiveservices-privateendpoints/ListPrivateEndpointConnections.2026-09-01.json",
            ),
            diagnostic_settings: items("insights-diagnosticsettings/listDiagnosticSettings.2021-05-01-preview.json"),
            usage: vec![],
        }],
        role_assignments: items("authorization-rbac/RoleAssignments_ListForScope.2022-04-01.json"),
        role_definitions: vec![body("authorization-rbac/GetRoleDefinitionById.2022-04-01.json")],
        deny_assignments: items("authorization-rbac/GetDenyAssignmentByScope.2022-04-01.json"),
        role_eligibility_schedule_instances: items(
            "authorization-rbac/GetRoleEligibilityScheduleInstancesByScope.2020-10-01.json",
        ),
        role_assignment_schedule_instances: items(
            "authorization-rbac/GetRoleAssignmentScheduleInstancesByScope.2020-10-01.json",
        ),
        principals: principals(),
        policy_assignments: items("policy/listPolicyAssignments.2025-03-01.json"),
        policy_exemptions: vec![body("policy/getPolicyExemption.2022-07-01-preview.json")],
        providers: vec![],
        errors: vec![],
    }
}
