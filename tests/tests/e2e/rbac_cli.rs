//! `attest rbac can` through the real binary, on Microsoft's published role
//! definitions and example payloads.

use serde_json::{json, Value};
use std::process::{Command, Output};
use tests::{fixtures, spawn};

fn attest(args: &[&str]) -> Output {
    Command::new(spawn::bin_path()).args(args).output().expect("run attest")
}

fn write(dir: &tempfile::TempDir, name: &str, v: &Value) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

fn role(file: &str) -> Value {
    let text = std::fs::read_to_string(fixtures::root().join("roles").join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

const SUB: &str = "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2";
const ACCOUNT: &str =
    "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/oai";
const ALICE: &str = "11111111-1111-1111-1111-111111111111";

fn assignment(name: &str, scope: &str, role_guid: &str, principal: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
        "name": name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": format!("{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role_guid}"),
            "principalId": principal, "principalType": "User", "scope": scope
        }
    })
}

struct Files {
    _dir: tempfile::TempDir,
    definitions: String,
    assignments: String,
    denies: String,
}

fn files() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let definitions =
        write(&dir, "definitions.json", &json!([role("owner.json"), role("cognitive-services-openai-user.json")]));
    // A list response, as `az rest` returns it.
    let assignments = write(
        &dir,
        "assignments.json",
        &json!({"value": [
            assignment("owner", SUB, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ALICE),
            assignment("user", ACCOUNT, "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", ALICE),
        ]}),
    );
    let mut deny = fixtures::body("authorization-rbac/GetDenyAssignmentById.2022-04-01.json");
    deny["properties"]["scope"] = SUB.into();
    deny["properties"]["principals"] = json!([{"id": ALICE, "type": "User"}]);
    deny["properties"]["permissions"] =
        json!([{"actions": ["*/listKeys/action"], "notActions": [], "dataActions": [], "notDataActions": []}]);
    let denies = write(&dir, "denies.json", &json!([deny]));
    Files { _dir: dir, definitions, assignments, denies }
}

fn verdict(out: &Output) -> Value {
    assert!(out.status.success(), "attest failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn rbac_can_names_the_assignments_that_grant_and_the_deny_that_removes() {
    let f = files();
    let can = |rest: &[&str]| verdict(&rbac_can(&f.definitions, &f.assignments, rest));

    let v = can(&["--principal", ALICE, "--scope", ACCOUNT, "--action", "Microsoft.CognitiveServices/accounts/write"]);
    assert_eq!(v["allowed"], true);
    assert_eq!(v["granted_by"], json!([format!("{SUB}/providers/Microsoft.Authorization/roleAssignments/owner")]));
    assert_eq!(v["denied_by"], json!([]));

    // Owner's actions: ["*"] grants no data action; the OpenAI User role does.
    let chat = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action";
    let v = can(&["--principal", ALICE, "--scope", ACCOUNT, "--data-action", chat]);
    assert_eq!(v["granted_by"], json!([format!("{ACCOUNT}/providers/Microsoft.Authorization/roleAssignments/user")]));

    // A deny assignment removes what Owner grants; the exit status is still 0.
    let keys = "Microsoft.CognitiveServices/accounts/listKeys/action";
    let v = can(&["--deny-assignments", &f.denies, "--principal", ALICE, "--scope", ACCOUNT, "--action", keys]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["granted_by"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["denied_by"],
        json!(["/subscriptions/subId/resourcegroups/rgname/providers/Microsoft.Authorization/denyAssignments/daId"])
    );

    // Another principal holds nothing.
    let v = can(&["--principal", "22222222-2222-2222-2222-222222222222", "--scope", ACCOUNT, "--action", "x/read"]);
    assert_eq!(v["allowed"], false);
    assert_eq!(v["granted_by"], json!([]));
}

/// `attest rbac can` on these definitions and assignments, then `rest`.
fn rbac_can(definitions: &str, assignments: &str, rest: &[&str]) -> Output {
    let mut args = vec!["rbac", "can", "--role-definitions", definitions, "--role-assignments", assignments];
    args.extend(rest);
    attest(&args)
}

#[test]
fn rbac_can_refuses_bad_input_naming_the_file_and_field() {
    let f = files();
    let dir = tempfile::tempdir().unwrap();
    let mut broken = assignment("b", SUB, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ALICE);
    broken["properties"]["scope"] = json!(7);
    let bad = write(&dir, "bad.json", &json!([assignment("a", SUB, "x", ALICE), broken]));
    let query = ["--principal", ALICE, "--scope", ACCOUNT, "--action", "a/b"];
    let out = rbac_can(&f.definitions, &bad, &query);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json") && err.contains("[1].properties.scope"), "{err}");

    let not_json = write(&dir, "text.json", &json!("just a string"));
    let out = rbac_can(&not_json, &f.assignments, &query);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("text.json"));

    // Neither --action nor --data-action; a scope that is not an ARM id.
    let out = rbac_can(&f.definitions, &f.assignments, &["--principal", ALICE, "--scope", ACCOUNT]);
    assert_eq!(out.status.code(), Some(2));
    let out = rbac_can(
        &f.definitions,
        &f.assignments,
        &["--principal", ALICE, "--scope", "subscriptions/x", "--action", "a/b"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--scope"));
}
