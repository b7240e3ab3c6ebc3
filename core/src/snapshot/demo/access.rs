//! The demo estate's access beyond role assignments: who the principals are
//! (as Microsoft Graph would answer), a deny assignment, PIM's eligible and
//! active assignments, and a custom role with wildcard actions, so that
//! every role-review flag fires somewhere.
//!
//! Drawn from a generator of its own, so that adding it changed none of the
//! estate's other documents.

use super::super::{graph::PrincipalRecord, templates, AccountRecord};
use super::guid;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::collections::BTreeMap;

const GIVEN: [&str; 12] =
    ["Adele", "Alex", "Diego", "Grady", "Isaiah", "Johanna", "Lee", "Lidia", "Megan", "Nestor", "Patti", "Pradeep"];
const FAMILY: [&str; 10] =
    ["Vance", "Wilber", "Siciliani", "Archie", "Langer", "Lauer", "Gu", "Holloway", "Bowen", "Wilke"];

/// What `generate` adds to the snapshot.
pub struct Access {
    pub custom_role: Value,
    pub deny_assignments: Vec<Value>,
    pub eligible: Vec<Value>,
    pub active: Vec<Value>,
    /// `PrincipalRecord`s, sorted by id.
    pub principals: Vec<Value>,
}

/// People and groups come from pools, so that one person holds access to
/// many accounts as people do; workload identities stay one per
/// assignment, and assignments to deleted principals keep their ids.
pub fn generate(
    seed: u64,
    subscriptions: &[String],
    accounts: &[AccountRecord],
    assignments: &mut Vec<Value>,
) -> Access {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0acc_e55e_5eed);
    let users: Vec<String> = (0..(accounts.len() / 2).max(6)).map(|_| guid(&mut rng)).collect();
    let groups: Vec<String> = (0..(accounts.len() / 6).max(3)).map(|_| guid(&mut rng)).collect();
    for a in assignments.iter_mut() {
        let pool = match a["properties"]["principalType"].as_str() {
            Some("User") => &users,
            Some("Group") => &groups,
            _ => continue,
        };
        a["properties"]["principalId"] = pool[rng.gen_range(0..pool.len())].clone().into();
    }

    let sub = &subscriptions[0];
    let sub_scope = format!("/subscriptions/{sub}");
    let first = accounts.first().and_then(|r| r.account["id"].as_str()).unwrap_or(&sub_scope).to_string();

    // A custom role any holder of which can do everything to an account,
    // assigned to a person on the first account.
    let custom_guid = guid(&mut rng);
    let custom_role = json!({
        "id": format!("{sub_scope}/providers/Microsoft.Authorization/roleDefinitions/{custom_guid}"),
        "name": custom_guid, "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": "AI Operations (custom)", "type": "CustomRole",
            "description": "Everything on Cognitive Services accounts, for the on-call team.",
            "assignableScopes": [sub_scope],
            "permissions": [{"actions": ["Microsoft.CognitiveServices/*", "Microsoft.Authorization/*/read"],
                             "notActions": [], "dataActions": ["Microsoft.CognitiveServices/*"], "notDataActions": []}],
            "createdOn": "2025-02-11T09:00:00.0000000Z", "updatedOn": "2025-02-11T09:00:00.0000000Z",
        }
    });
    let on_call = users[0].clone();
    assignments.push(assignment(&mut rng, &first, sub, &custom_role["id"], &on_call, "User"));
    // A guest (every fifth person is one) who can call the models.
    let openai_user = "/providers/Microsoft.Authorization/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd";
    assignments.push(assignment(&mut rng, &first, sub, &json!(openai_user), &users[4], "User"));

    // Key listing denied on the first account to everyone but its workload
    // identity, as a managed application's deny assignment does.
    let workload = assignments
        .iter()
        .find(|a| {
            a["properties"]["scope"].as_str() == Some(first.as_str())
                && a["properties"]["principalType"] == "ServicePrincipal"
        })
        .and_then(|a| a["properties"]["principalId"].as_str())
        .unwrap_or_default()
        .to_string();
    let deny_name = guid(&mut rng);
    let deny = templates::fill(
        "deny-assignment",
        json!({
            "id": format!("{first}/providers/Microsoft.Authorization/denyAssignments/{deny_name}"), "name": deny_name,
            "properties": {
                "denyAssignmentName": "Managed application: no key listing",
                "description": "Created by the managed application that deployed this account.",
                "permissions": [{"actions": ["Microsoft.CognitiveServices/accounts/listKeys/action",
                                             "Microsoft.CognitiveServices/accounts/regenerateKey/action"],
                                 "notActions": [], "dataActions": [], "notDataActions": []}],
                "scope": first, "doNotApplyToChildScopes": false,
                "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                "excludePrincipals": [{"id": workload, "type": "ServicePrincipal"}],
                "isSystemProtected": true,
            }
        }),
    );

    // PIM: two people eligible for privileged roles on the first
    // subscription, one of whom activated Contributor (which shows as a role
    // assignment while it lasts); the subscription's standing Owner is an
    // active assignment made outside eligibility.
    let owner_role = "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
    let contributor_role = "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c";
    let (alex, diego) = (users[1].clone(), users[2].clone());
    let eligible = vec![
        schedule(&mut rng, "eligibility-instance", &sub_scope, &format!("{sub_scope}{owner_role}"), &alex, None),
        schedule(&mut rng, "eligibility-instance", &sub_scope, &format!("{sub_scope}{contributor_role}"), &diego, None),
    ];
    let activated = assignment(&mut rng, &sub_scope, sub, &json!(contributor_role), &diego, "User");
    let mut active = vec![schedule(
        &mut rng,
        "assignment-instance",
        &sub_scope,
        &format!("{sub_scope}{contributor_role}"),
        &diego,
        Some(("Activated", activated["id"].as_str().unwrap_or_default())),
    )];
    assignments.push(activated);
    if let Some(standing) = assignments.iter().find(|a| {
        a["properties"]["scope"].as_str() == Some(sub_scope.as_str())
            && a["properties"]["roleDefinitionId"].as_str().is_some_and(|r| r.ends_with(owner_role))
    }) {
        let (role, principal, id) = (
            standing["properties"]["roleDefinitionId"].as_str().unwrap_or_default().to_string(),
            standing["properties"]["principalId"].as_str().unwrap_or_default().to_string(),
            standing["id"].as_str().unwrap_or_default().to_string(),
        );
        active.push(schedule(&mut rng, "assignment-instance", &sub_scope, &role, &principal, Some(("Assigned", &id))));
    }

    // A deployment pipeline's identity made Owner of the second account,
    // and a person whose directory account is disabled (every seventh is)
    // still able to use the first.
    let second = accounts.get(1).and_then(|r| r.account["id"].as_str()).unwrap_or(&first).to_string();
    let pipeline = guid(&mut rng);
    assignments.push(assignment(&mut rng, &second, sub, &json!(owner_role), &pipeline, "ServicePrincipal"));
    let cognitive_services_user =
        "/providers/Microsoft.Authorization/roleDefinitions/a97b65f3-24c7-4388-baec-2e87135dc908";
    assignments.push(assignment(&mut rng, &first, sub, &json!(cognitive_services_user), &users[3], "User"));

    // Who they are. Every fifth person is a guest; assignments of type
    // Unknown name principals since deleted, which Graph leaves out.
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    for a in assignments.iter() {
        if let (Some(id), Some(kind)) =
            (a["properties"]["principalId"].as_str(), a["properties"]["principalType"].as_str())
        {
            kinds.entry(id.to_string()).or_insert_with(|| kind.to_string());
        }
    }
    for u in [&alex, &diego] {
        kinds.entry(u.clone()).or_insert_with(|| "User".into());
    }
    let user_index: BTreeMap<&str, usize> = users.iter().enumerate().map(|(i, u)| (u.as_str(), i)).collect();
    let group_index: BTreeMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (g.as_str(), i)).collect();
    let user = |i: usize, id: &str| {
        let (given, family) = (GIVEN[i % GIVEN.len()], FAMILY[(i / GIVEN.len()) % FAMILY.len()]);
        let guest = i % 5 == 4;
        let upn = if guest {
            format!("{}.{}_fabrikam.com#EXT#@contoso.onmicrosoft.com", given.to_lowercase(), family.to_lowercase())
        } else {
            format!("{}.{}{}@contoso.com", given.to_lowercase(), family.to_lowercase(), i / 120)
        };
        json!({"@odata.type": "#microsoft.graph.user", "id": id, "accountEnabled": i % 7 != 3,
               "displayName": format!("{given} {family}"), "userPrincipalName": upn,
               "userType": if guest { "Guest" } else { "Member" }})
    };
    let mut principals = Vec::new();
    for (id, kind) in &kinds {
        let mut members = None;
        let object = match kind.as_str() {
            "User" => Some(user(user_index.get(id.as_str()).copied().unwrap_or(0), id)),
            "Group" => {
                let i = group_index.get(id.as_str()).copied().unwrap_or(0);
                // Its members: three to six neighbouring users of the pool,
                // groups overlapping as teams do, and one person whose only
                // access is through the group.
                let n = (3 + i % 4).min(users.len());
                let mut listed: Vec<Value> =
                    (0..n).map(|k| (i * 2 + k) % users.len()).map(|u| user(u, &users[u])).collect();
                listed.push(user(users.len() + i, &format!("{}{:012x}", &id[..24], 0x00de_0000 + i)));
                members = Some(listed);
                Some(json!({"@odata.type": "#microsoft.graph.group", "id": id,
                            "displayName": format!("AI users {}", i + 1), "securityEnabled": true, "groupTypes": []}))
            }
            "ServicePrincipal" => Some(json!({"@odata.type": "#microsoft.graph.servicePrincipal", "id": id,
                                              "accountEnabled": true, "appId": guid(&mut rng),
                                              "displayName": format!("app-{}", &id[..8]),
                                              "servicePrincipalType": "Application"})),
            _ => None,
        };
        let record = PrincipalRecord { id: id.to_ascii_lowercase(), object, members };
        principals.push(serde_json::to_value(record).expect("records serialise"));
    }

    Access { custom_role, deny_assignments: vec![deny], eligible, active, principals }
}

fn assignment(rng: &mut ChaCha8Rng, scope: &str, sub: &str, role: &Value, principal: &str, kind: &str) -> Value {
    let name = guid(rng);
    let role = role.as_str().unwrap_or_default();
    let role =
        if role.starts_with("/subscriptions/") { role.to_string() } else { format!("/subscriptions/{sub}{role}") };
    templates::fill(
        "role-assignment",
        json!({
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"), "name": name,
            "properties": {"roleDefinitionId": role, "principalId": principal, "principalType": kind, "scope": scope,
                           "createdOn": "2025-08-04T07:45:00.0000000Z"}
        }),
    )
}

/// A PIM schedule instance from Microsoft's example: eligible, or active
/// (`Assigned` standing or `Activated` from eligibility) through a role
/// assignment.
fn schedule(
    rng: &mut ChaCha8Rng,
    template: &str,
    scope: &str,
    role: &str,
    principal: &str,
    active: Option<(&str, &str)>,
) -> Value {
    let name = guid(rng);
    let kind = if active.is_some() { "RoleAssignmentScheduleInstances" } else { "RoleEligibilityScheduleInstances" };
    let mut props = json!({
        "scope": scope, "roleDefinitionId": role, "principalId": principal, "principalType": "User",
        "status": "Provisioned", "memberType": "Direct", "startDateTime": "2026-01-05T08:00:00Z",
        "endDateTime": if active.is_some_and(|(t, _)| t == "Activated") { json!("2026-09-30T16:00:00Z") } else { Value::Null },
        "createdOn": "2026-01-05T08:00:00Z", "condition": null, "conditionVersion": null, "expandedProperties": null,
        // The example's links point into its own subscription.
        "roleEligibilityScheduleId": null, "roleAssignmentScheduleId": null,
        "linkedRoleEligibilityScheduleId": null, "linkedRoleEligibilityScheduleInstanceId": null,
    });
    if let Some((assignment_type, origin)) = active {
        props["assignmentType"] = assignment_type.into();
        props["originRoleAssignmentId"] = origin.into();
        props["status"] = "Accepted".into();
    }
    templates::fill(
        template,
        json!({"id": format!("{scope}/providers/Microsoft.Authorization/{kind}/{name}"), "name": name, "properties": props}),
    )
}
