//! Microsoft's example payloads as templates for generated documents: the
//! demo estate (and so the fake ARM) starts each document from the real
//! shape and overrides only what it varies.

use serde_json::{Map, Value};

/// (name, source file under shared/fixtures/arm, index into `value` for list bodies, text).
const TEMPLATES: [(&str, &str, Option<usize>, &str); 10] = [
    (
        "account",
        "cognitiveservices-accounts/GetAccount.2026-09-01.json",
        None,
        include_str!("../../data/arm-templates/account.json"),
    ),
    (
        "deployment",
        "cognitiveservices-deployments/GetDeployment.2026-09-01.json",
        None,
        include_str!("../../data/arm-templates/deployment.json"),
    ),
    (
        "rai-policy",
        "cognitiveservices-rai/GetRaiPolicy.2026-09-01.json",
        None,
        include_str!("../../data/arm-templates/rai-policy.json"),
    ),
    (
        "private-endpoint-connection",
        "cognitiveservices-privateendpoints/GetPrivateEndpointConnection.2026-09-01.json",
        None,
        include_str!("../../data/arm-templates/private-endpoint-connection.json"),
    ),
    (
        "diagnostic-setting",
        "insights-diagnosticsettings/getDiagnosticSetting.2021-05-01-preview.json",
        None,
        include_str!("../../data/arm-templates/diagnostic-setting.json"),
    ),
    (
        "role-assignment",
        "authorization-rbac/RoleAssignments_ListForScope.2022-04-01.json",
        Some(0),
        include_str!("../../data/arm-templates/role-assignment.json"),
    ),
    (
        "deny-assignment",
        "authorization-rbac/GetDenyAssignmentById.2022-04-01.json",
        None,
        include_str!("../../data/arm-templates/deny-assignment.json"),
    ),
    (
        "eligibility-instance",
        "authorization-rbac/GetRoleEligibilityScheduleInstancesByScope.2020-10-01.json",
        Some(0),
        include_str!("../../data/arm-templates/eligibility-instance.json"),
    ),
    (
        "assignment-instance",
        "authorization-rbac/GetRoleAssignmentScheduleInstancesByScope.2020-10-01.json",
        Some(0),
        include_str!("../../data/arm-templates/assignment-instance.json"),
    ),
    (
        "subscription",
        "resources/GetSubscriptions.2022-12-01.json",
        Some(0),
        include_str!("../../data/arm-templates/subscription.json"),
    ),
];

/// The template `name` (a programming error if there is none).
pub fn template(name: &str) -> Value {
    let text = TEMPLATES.iter().find(|(n, ..)| *n == name).map(|t| t.3).expect("a known template name");
    serde_json::from_str(text).expect("embedded templates are JSON")
}

/// Template `name` with `overrides` applied: objects merge key by key, any
/// other value replaces, and `null` removes the key. `tags` are replaced
/// whole (an example's tags mean nothing in another estate).
pub fn fill(name: &str, overrides: Value) -> Value {
    let mut doc = template(name);
    merge(&mut doc, overrides);
    doc
}

fn merge(into: &mut Value, overrides: Value) {
    match (into, overrides) {
        (Value::Object(target), Value::Object(changes)) => merge_map(target, changes),
        (slot, value) => *slot = value,
    }
}

fn merge_map(target: &mut Map<String, Value>, changes: Map<String, Value>) {
    for (key, value) in changes {
        match value {
            Value::Null => {
                target.remove(&key);
            }
            Value::Object(_) if key != "tags" && target.get(&key).is_some_and(Value::is_object) => {
                merge(target.get_mut(&key).expect("checked"), value)
            }
            value => {
                target.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_template_is_still_microsofts_example_verbatim() {
        for (name, file, index, _) in TEMPLATES {
            let path = crate::testing::fixtures_dir().join("arm").join(file);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let example: Value = serde_json::from_str(&text).unwrap();
            let mut body = example["responses"]["200"]["body"].clone();
            if let Some(i) = index {
                body = body["value"][i].clone();
            }
            assert_eq!(template(name), body, "{name} differs from {file}");
        }
    }

    #[test]
    fn overrides_merge_replace_and_remove() {
        let doc = fill(
            "diagnostic-setting",
            json!({"name": "to-law", "properties": {"workspaceId": "/w", "storageAccountId": null}}),
        );
        assert_eq!(doc["name"], "to-law");
        assert_eq!(doc["properties"]["workspaceId"], "/w");
        assert!(doc["properties"].get("storageAccountId").is_none(), "removed");
        assert!(doc["properties"]["eventHubAuthorizationRuleId"].is_string(), "kept from the example");
        let sub = fill("subscription", json!({"tags": {"env": "prod"}}));
        assert_eq!(sub["tags"], json!({"env": "prod"}), "tags replaced whole");
        assert!(sub["subscriptionPolicies"].is_object());
    }
}
