//! Every role-related payload Microsoft publishes in the shared fixtures,
//! read as Azure sends it: one test per file.

use attest_rbac::documents::{parse_all, DenyAssignment, RoleAssignment, RoleDefinition, ScheduleInstance};
use serde_json::Value;

mod common;

fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(common::fixtures().join(path)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn rbac(file: &str) -> Value {
    fixture(&format!("arm/authorization-rbac/{file}"))
}

/// A published built-in role: its name, GUID and kind as the docs give them.
macro_rules! role {
    ($test:ident, $file:literal, $name:literal, $guid:literal) => {
        #[test]
        fn $test() {
            let doc = fixture(concat!("roles/", $file));
            let role = RoleDefinition::parse(&doc, "").unwrap();
            assert_eq!(role.role_name, $name);
            assert_eq!(role.guid, $guid);
            assert!(!role.custom);
            assert!(!role.permissions.is_empty());
        }
    };
}

role!(owner, "owner.json", "Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635");
role!(contributor, "contributor.json", "Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c");
role!(reader, "reader.json", "Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7");
role!(
    user_access_administrator,
    "user-access-administrator.json",
    "User Access Administrator",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
);
role!(
    rbac_administrator,
    "role-based-access-control-administrator.json",
    "Role Based Access Control Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
);
role!(
    ai_account_owner,
    "azure-ai-account-owner.json",
    "Azure AI Account Owner",
    "e47c6f54-e4a2-4754-9501-8e0985b135e1"
);
role!(ai_developer, "azure-ai-developer.json", "Azure AI Developer", "64702f94-c441-49e6-a78b-ef80e0188fee");
role!(ai_owner, "azure-ai-owner.json", "Azure AI Owner", "c883944f-8b7b-4483-af10-35834be79c4a");
role!(ai_user, "azure-ai-user.json", "Azure AI User", "53ca6127-db72-4b80-b1b0-d745d6d5456d");
role!(
    cognitive_services_contributor,
    "cognitive-services-contributor.json",
    "Cognitive Services Contributor",
    "25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68"
);
role!(
    openai_contributor,
    "cognitive-services-openai-contributor.json",
    "Cognitive Services OpenAI Contributor",
    "a001fd3d-188f-4b5d-821b-7da978bf7442"
);
role!(
    openai_user,
    "cognitive-services-openai-user.json",
    "Cognitive Services OpenAI User",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd"
);
role!(
    usages_reader,
    "cognitive-services-usages-reader.json",
    "Cognitive Services Usages Reader",
    "bba48692-92b0-4667-a9ad-c31c7b334ac2"
);
role!(
    cognitive_services_user,
    "cognitive-services-user.json",
    "Cognitive Services User",
    "a97b65f3-24c7-4388-baec-2e87135dc908"
);

#[test]
fn ai_account_owner_carries_its_abac_condition() {
    let role = RoleDefinition::parse(&fixture("roles/azure-ai-account-owner.json"), "").unwrap();
    assert!(role.permissions[0]
        .condition
        .as_deref()
        .unwrap()
        .contains("ActionMatches{'Microsoft.Authorization/roleAssignments/write'}"));
}

#[test]
fn role_definition_at_scope() {
    let defs = parse_all(&rbac("GetRoleDefinitionAtScope.2022-04-01.json"), RoleDefinition::parse).unwrap();
    assert_eq!(defs.len(), 1);
    assert_eq!((defs[0].role_name.as_str(), defs[0].guid.as_str()), ("Role name", "roledefinitionid"));
    // The example's `type` is the placeholder "roletype", not CustomRole.
    assert!(!defs[0].custom);
    assert_eq!(defs[0].permissions[0].data_actions, ["dataAction"]);
}

#[test]
fn role_definition_by_id() {
    let defs = parse_all(&rbac("GetRoleDefinitionById.2022-04-01.json"), RoleDefinition::parse).unwrap();
    assert_eq!(defs[0].assignable_scopes, ["/subscriptions/subId"]);
}

#[test]
fn role_assignments_for_scope() {
    let a = parse_all(&rbac("RoleAssignments_ListForScope.2022-04-01.json"), RoleAssignment::parse).unwrap();
    assert_eq!(a[0].principal_type, "User");
    assert_eq!(a[0].role_guid(), "0b5fe924-9a61-425c-96af-cfe6e287ca2d");
}

#[test]
fn role_assignments_for_subscription() {
    let a = parse_all(&rbac("RoleAssignments_ListForSubscription.2022-04-01.json"), RoleAssignment::parse).unwrap();
    assert_eq!(a[0].scope, "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2");
}

#[test]
fn deny_assignment_by_scope() {
    let d = parse_all(&rbac("GetDenyAssignmentByScope.2022-04-01.json"), DenyAssignment::parse).unwrap();
    assert_eq!(d[0].principals, ["principalId1"]);
    assert_eq!(d[0].exclude_principals, ["principalId2"]);
    assert!(d[0].is_system_protected && !d[0].do_not_apply_to_child_scopes);
}

#[test]
fn deny_assignment_by_id() {
    let d = parse_all(&rbac("GetDenyAssignmentById.2022-04-01.json"), DenyAssignment::parse).unwrap();
    assert_eq!(d[0].scope, "/subscriptions/subId/resourcegroups/rgname");
    assert_eq!(d[0].name, "Deny assignment name");
}

#[test]
fn deny_assignments_for_resource_group() {
    let d = parse_all(&rbac("GetDenyAssignmentsForResourceGroup.2022-04-01.json"), DenyAssignment::parse).unwrap();
    assert_eq!(d[0].permissions[0].data_actions, ["action"]);
}

#[test]
fn eligibility_schedule_instances() {
    let i = parse_all(&rbac("GetRoleEligibilityScheduleInstancesByScope.2020-10-01.json"), ScheduleInstance::parse)
        .unwrap();
    assert_eq!(i[0].role_guid(), "b24988ac-6180-42a0-ab88-20f7382dd24c");
    assert_eq!(i[0].member_type, "Direct");
    assert_eq!(i[0].assignment_type, None);
    assert!(i[0].condition.is_some());
}

#[test]
fn assignment_schedule_instances() {
    let i =
        parse_all(&rbac("GetRoleAssignmentScheduleInstancesByScope.2020-10-01.json"), ScheduleInstance::parse).unwrap();
    assert_eq!(i[0].assignment_type.as_deref(), Some("Assigned"));
    assert!(i[0].origin_role_assignment_id.as_deref().unwrap().ends_with("ed9b8180-cef7-4c77-a63c-b8566ecfc412"));
    assert_eq!(i[0].end.as_deref(), Some("2020-09-10T05:35:17.91Z"));
}
