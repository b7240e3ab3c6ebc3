//! `attest policy eval` and `attest evaluate` through the real binary, on
//! Microsoft's own definitions, assignments and example payloads.

use serde_json::{json, Value};
use std::process::{Command, Output};
use tests::{fixtures, spawn};

fn attest(args: &[&str]) -> Output {
    Command::new(spawn::bin_path()).args(args).output().expect("run attest")
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "attest failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn write(dir: &tempfile::TempDir, name: &str, v: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

fn public_account() -> Value {
    let mut account = fixtures::body("cognitiveservices-accounts/GetAccount.2026-09-01.json");
    account["kind"] = "OpenAI".into();
    account["properties"]["publicNetworkAccess"] = "Enabled".into();
    account
}

fn builtin(file: &str) -> String {
    fixtures::root().join("azure-policy").join(file).to_string_lossy().into_owned()
}

#[test]
fn policy_eval_prints_the_state_the_effect_and_the_deciding_conditions() {
    let dir = tempfile::tempdir().unwrap();
    let resource = write(&dir, "account.json", &public_account());
    let params = write(&dir, "params.json", &json!({"effect": {"value": "Audit"}}));
    let def = builtin("CognitiveServices__DisablePublicNetworkAccess_Audit.json");
    let out =
        json_of(&attest(&["policy", "eval", "--definition", &def, "--resource", &resource, "--parameters", &params]));
    assert_eq!(out["state"], "NonCompliant");
    assert_eq!(out["effect"], "audit");
    let reason = out["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "properties.publicNetworkAccess")
        .expect("the deciding path");
    assert_eq!(reason["actual"], "Enabled");

    // The definition's default effect is Disabled: nothing is evaluated.
    let out = json_of(&attest(&["policy", "eval", "--definition", &def, "--resource", &resource]));
    assert_eq!(out["state"], Value::Null);
    assert_eq!(out["applicable"], false);
}

#[test]
fn policy_eval_finds_related_resources_and_data_plane_filters() {
    let dir = tempfile::tempdir().unwrap();
    let account = write(&dir, "account.json", &public_account());
    let mut setting = fixtures::body("insights-diagnosticsettings/getDiagnosticSetting.2021-05-01-preview.json");
    let diag_def = builtin("AzureAiServices__DiagnosticLogs_Audit.json");
    let none = json_of(&attest(&["policy", "eval", "--definition", &diag_def, "--resource", &account]));
    assert_eq!(none["state"], "NonCompliant");
    setting["id"] =
        format!("{}/providers/microsoft.insights/diagnosticSettings/x", public_account()["id"].as_str().unwrap())
            .into();
    let related = write(&dir, "related.json", &json!([setting]));
    let with =
        json_of(&attest(&["policy", "eval", "--definition", &diag_def, "--resource", &account, "--related", &related]));
    assert_eq!(with["state"], "Compliant");

    // A data-plane definition reads the deployment with its content filter policy.
    let mut deployment = fixtures::body("cognitiveservices-deployments/GetDeployment.2026-09-01.json");
    deployment["properties"]["raiPolicyName"] = "raiPolicyName".into();
    let deployment = write(&dir, "deployment.json", &deployment);
    let rai = write(&dir, "rai.json", &fixtures::body("cognitiveservices-rai/GetRaiPolicy.2026-09-01.json"));
    let params = write(&dir, "p.json", &json!({"filterName": "Hate"}));
    let def = builtin("CognitiveServices__AllowDeploymentMultiSeverityControl_Audit.json");
    let out = json_of(&attest(&[
        "policy",
        "eval",
        "--definition",
        &def,
        "--resource",
        &deployment,
        "--related",
        &rai,
        "--parameters",
        &params,
    ]));
    assert_eq!(out["state"], "NonCompliant", "Microsoft's example turns the Hate prompt filter off: {out}");
}

#[test]
fn evaluate_reports_each_assignment_and_the_most_restrictive_overall_state() {
    let dir = tempfile::tempdir().unwrap();
    let account = public_account();
    let id = account["id"].as_str().unwrap().to_string();
    let sub = id.split("/resourceGroups/").next().unwrap().to_string();
    let resources = write(&dir, "resources.json", &json!([account]));
    // Microsoft's example assignment, pointed at the built-in and the account's subscription.
    let mut azure = fixtures::body("policy/getPolicyAssignment.2025-03-01.json");
    azure["id"] = format!("{sub}/providers/Microsoft.Authorization/policyAssignments/EnforceNaming").into();
    azure["properties"]["scope"] = sub.clone().into();
    azure["properties"]["policyDefinitionId"] =
        "/providers/Microsoft.Authorization/policyDefinitions/037eea7a-bd0a-46c5-9a66-03aea78705d3".into();
    azure["properties"]["parameters"] = json!({});
    let keys = json!({"id": "/providers/Microsoft.Authorization/policyAssignments/keys",
                      "properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/attest-identity-local-auth-disabled",
                                     "enforcementMode": "DoNotEnforce"}});
    let off = json!({"id": "/providers/Microsoft.Authorization/policyAssignments/off",
                     "properties": {"policyDefinitionId": "/providers/Microsoft.Authorization/policyDefinitions/attest-network-public-access",
                                    "parameters": {"effect": {"value": "Disabled"}}}});
    let assignments = write(&dir, "assignments.json", &json!([azure, keys, off]));
    let defs = fixtures::root().join("azure-policy").to_string_lossy().into_owned();
    let out = json_of(&attest(&[
        "evaluate",
        "--resources",
        &resources,
        "--assignments",
        &assignments,
        "--definitions",
        &defs,
    ]));
    let r = &out["resources"][0];
    assert_eq!(r["id"], id.as_str());
    assert_eq!(r["state"], "NonCompliant");
    let states: Vec<(String, String)> = r["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().rsplit('/').next().unwrap().to_string(),
                a["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [("EnforceNaming".to_string(), "NonCompliant".to_string()), ("keys".into(), "NonCompliant".into())],
        "disabled is skipped"
    );

    // An exemption (Microsoft's example, aimed at this account) makes that assignment Exempt.
    let mut exemption = fixtures::body("policy/getPolicyExemption.2022-07-01-preview.json");
    exemption["id"] = format!("{id}/providers/Microsoft.Authorization/policyExemptions/waive").into();
    exemption["properties"]["policyAssignmentId"] = "/providers/Microsoft.Authorization/policyAssignments/keys".into();
    exemption["properties"]["policyDefinitionReferenceIds"] = json!([]);
    let exemptions = write(&dir, "exemptions.json", &json!([exemption]));
    let out = json_of(&attest(&[
        "evaluate",
        "--resources",
        &resources,
        "--assignments",
        &assignments,
        "--definitions",
        &defs,
        "--exemptions",
        &exemptions,
    ]));
    let keys = out["resources"][0]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"].as_str().unwrap().ends_with("/keys"))
        .cloned()
        .unwrap();
    assert_eq!(keys["state"], "Exempt");
    assert_eq!(out["resources"][0]["state"], "NonCompliant", "the other assignment still fails");
}

#[test]
fn bad_input_is_refused_with_the_file_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"type\": \"x\",\n  oops\n}").unwrap();
    let def = builtin("CognitiveServices__ManagedIdentity_Audit.json");
    let out = attest(&["policy", "eval", "--definition", &def, "--resource", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json") && err.contains("line 3"), "{err}");

    let out = attest(&["evaluate", "--resources", broken.to_str().unwrap(), "--assignments", "/nonexistent.json"]);
    assert!(!out.status.success());
}
