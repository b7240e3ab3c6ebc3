//! A deterministic synthetic estate for demonstrations and tests: the same
//! accounts, seed and parameters give the same snapshot, byte for byte.
//! It mixes compliant and non-compliant accounts the way real estates do:
//! public access, keys left enabled, no private endpoint, deployments
//! without a content filter or with weak thresholds, missing diagnostics,
//! GlobalStandard deployments in EU regions, users holding Owner or
//! Contributor, assignments to deleted principals, and usage spikes; and for
//! role review a deny assignment, eligible and active PIM assignments, a
//! custom role with wildcard actions, guests, and the principals Microsoft
//! Graph would resolve (people and groups hold access across many accounts).
//! Every document starts from Microsoft's example payload of its kind
//! (`templates`), overridden where the estate varies.

mod access;

use super::{builtin_roles, templates, AccountRecord, DailyUsage, ScanScope, Snapshot, SCHEMA_VERSION};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;
use time::{macros::datetime, Duration};

const REGIONS: [&str; 8] =
    ["eastus", "westeurope", "swedencentral", "francecentral", "uksouth", "japaneast", "australiaeast", "westus3"];
const TEAMS: [&str; 6] = ["search", "support", "legal", "marketing", "research", "platform"];
const MODELS: [(&str, &str); 5] = [
    ("gpt-4o", "2024-11-20"),
    ("gpt-4o-mini", "2024-07-18"),
    ("gpt-4.1", "2025-04-14"),
    ("text-embedding-3-large", "1"),
    ("o4-mini", "2025-04-16"),
];
const SKUS: [&str; 4] = ["Standard", "GlobalStandard", "DataZoneStandard", "ProvisionedManaged"];
/// The built-in roles the demo assigns, by embedded file stem.
const ROLES: [&str; 7] = [
    "owner",
    "contributor",
    "cognitive-services-contributor",
    "cognitive-services-openai-user",
    "cognitive-services-openai-contributor",
    "cognitive-services-user",
    "reader",
];
const DAYS: i64 = 30;

fn guid(rng: &mut ChaCha8Rng) -> String {
    let b: [u8; 16] = rng.gen();
    let h = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    rng.gen_bool(p)
}

/// Generates an estate of `accounts` OpenAI / AIServices accounts.
pub fn generate(accounts: usize, seed: u64) -> Snapshot {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tenant = guid(&mut rng);
    let subscriptions: Vec<String> = (0..3).map(|_| guid(&mut rng)).collect();
    // A fixed date in the past (never "now"), so the output depends on the seed alone.
    let finished_at = datetime!(2026-10-01 06:00 UTC) - Duration::days((seed % 365) as i64);
    let started_at = finished_at - Duration::minutes(4);

    let subscription_docs = subscriptions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            templates::fill(
                "subscription",
                json!({"id": format!("/subscriptions/{s}"), "subscriptionId": s, "tenantId": tenant,
                       "displayName": (["Production AI", "Shared AI services", "AI sandbox"][i]), "state": "Enabled",
                       "authorizationSource": "RoleBased", "managedByTenants": [],
                       "tags": {"cost-center": (["cc-4100", "cc-4200", "cc-9000"][i])}}),
            )
        })
        .collect();

    let mut role_assignments = Vec::new();
    let mut records = Vec::with_capacity(accounts);
    for i in 0..accounts {
        let sub = &subscriptions[i % subscriptions.len()];
        let team = TEAMS[rng.gen_range(0..TEAMS.len())];
        let rg = format!("rg-ai-{team}");
        let region = REGIONS[rng.gen_range(0..REGIONS.len())];
        let name = format!("aoai-{team}-{i:03}");
        let id =
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/{name}");
        // About a third of accounts are locked down properly.
        let hardened = chance(&mut rng, 0.35);
        let public = !hardened && chance(&mut rng, 0.6);
        let keys_disabled = hardened || chance(&mut rng, 0.3);
        let private_endpoint = hardened || chance(&mut rng, 0.3);
        let managed_identity = hardened || chance(&mut rng, 0.5);
        let kind = if chance(&mut rng, 0.6) { "OpenAI" } else { "AIServices" };

        let mut properties = json!({
            "provisioningState": "Succeeded",
            "endpoint": format!("https://{name}.openai.azure.com/"),
            "customSubDomainName": name,
            "publicNetworkAccess": if public { "Enabled" } else { "Disabled" },
            "networkAcls": {"defaultAction": if public { "Allow" } else { "Deny" }, "bypass": "AzureServices",
                            "ipRules": if public { json!([]) } else { json!([{"value": "203.0.113.0/24"}]) },
                            "virtualNetworkRules": []},
            "restrictOutboundNetworkAccess": hardened,
            "dateCreated": "2025-03-14T09:12:00.0000000Z",
        });
        if keys_disabled {
            properties["disableLocalAuth"] = true.into();
        } else if chance(&mut rng, 0.5) {
            properties["disableLocalAuth"] = false.into();
        }
        let mut pecs = Vec::new();
        if private_endpoint {
            let pe_name = format!("pe-{name}");
            let pec = templates::fill(
                "private-endpoint-connection",
                json!({
                    "id": format!("{id}/privateEndpointConnections/{pe_name}.{}", guid(&mut rng)),
                    "name": pe_name, "type": "Microsoft.CognitiveServices/accounts/privateEndpointConnections",
                    "properties": {"privateEndpoint": {"id": format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateEndpoints/{pe_name}")},
                                   "privateLinkServiceConnectionState": {"status": if chance(&mut rng, 0.9) { "Approved" } else { "Pending" }, "description": "Auto-Approved", "actionsRequired": "None"},
                                   "provisioningState": "Succeeded", "groupIds": ["account"]}
                }),
            );
            properties["privateEndpointConnections"] = json!([pec.clone()]);
            pecs.push(pec);
        }
        let mut account = templates::fill(
            "account",
            json!({
                "id": id, "name": name, "type": "Microsoft.CognitiveServices/accounts", "kind": kind,
                "location": region, "sku": {"name": "S0"},
                "tags": {"team": team, "data-classification": (["public", "internal", "confidential", "restricted"][rng.gen_range(0..4)])},
                "etag": format!("\"{}\"", guid(&mut rng)),
                "properties": properties,
            }),
        );
        if managed_identity {
            account["identity"] = json!({"type": "SystemAssigned", "principalId": guid(&mut rng), "tenantId": tenant});
        }

        // Content filters: a strict custom policy on most accounts; some weak.
        let weak = chance(&mut rng, 0.25);
        // Microsoft's example policy, with the four harm categories set to
        // Medium (High when weak) and the shields blocking (or not).
        let mut filters: Vec<serde_json::Value> =
            templates::template("rai-policy")["properties"]["contentFilters"].as_array().cloned().unwrap_or_default();
        for f in &mut filters {
            match f["name"].as_str().unwrap_or_default() {
                "Hate" | "Sexual" | "Selfharm" | "Violence" => {
                    f["enabled"] = true.into();
                    f["blocking"] = true.into();
                    f["severityThreshold"] = (if weak { "High" } else { "Medium" }).into();
                }
                "Jailbreak" => f["blocking"] = (!weak).into(),
                _ => {}
            }
        }
        filters.push(json!({"name": "Indirect Attack", "blocking": !weak, "enabled": !weak, "source": "Prompt"}));
        let policy_name = if weak { "relaxed-filter" } else { "strict-filter" };
        let rai_policy = templates::fill(
            "rai-policy",
            json!({
                "id": format!("{id}/raiPolicies/{policy_name}"), "name": policy_name,
                "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
                "properties": {"type": "UserManaged", "mode": "Blocking", "basePolicyName": "Microsoft.DefaultV2",
                               "contentFilters": filters, "customBlocklists": []}
            }),
        );

        let mut deployments = Vec::new();
        let mut usage = Vec::new();
        for d in 0..rng.gen_range(1..=4) {
            let (model, version) = MODELS[rng.gen_range(0..MODELS.len())];
            let mut sku = SKUS[rng.gen_range(0..SKUS.len())];
            if region.ends_with("europe") || region.starts_with("sweden") || region.starts_with("france") {
                // EU accounts: a realistic share of GlobalStandard anyway.
                if chance(&mut rng, 0.3) {
                    sku = "GlobalStandard";
                }
            }
            let dep_name = format!("{model}-{d}");
            let filter = match rng.gen_range(0..10) {
                0 | 1 => None,
                2 => Some("Microsoft.DefaultV2"),
                _ => Some(policy_name),
            };
            let capacity = if sku == "ProvisionedManaged" { 50 } else { rng.gen_range(10..=300) };
            let mut props = json!({"provisioningState": "Succeeded", "deploymentState": "Running", "serviceTier": "Default",
                                   "model": {"format": "OpenAI", "name": model, "version": version},
                                   "versionUpgradeOption": "OnceNewDefaultVersionAvailable"});
            if let Some(f) = filter {
                props["raiPolicyName"] = f.into();
            }
            deployments.push(templates::fill(
                "deployment",
                json!({
                    "id": format!("{id}/deployments/{dep_name}"), "name": dep_name,
                    "type": "Microsoft.CognitiveServices/accounts/deployments",
                    "sku": {"name": sku, "capacity": capacity}, "properties": props,
                }),
            ));
            let base: u64 = rng.gen_range(20_000..2_000_000);
            let spike_day = if chance(&mut rng, 0.2) { Some(rng.gen_range(0..DAYS)) } else { None };
            for day in 0..DAYS {
                let date = (finished_at - Duration::days(DAYS - day)).date();
                let factor = if Some(day) == spike_day { rng.gen_range(8..20) } else { 1 };
                let prompt = base * factor * rng.gen_range(80..120) / 100;
                let completion = prompt * rng.gen_range(20..60) / 100;
                usage.push(DailyUsage {
                    deployment: dep_name.clone(),
                    date: date.to_string(),
                    prompt_tokens: prompt,
                    completion_tokens: completion,
                    total_tokens: prompt + completion,
                    requests: prompt / rng.gen_range(500..3_000),
                });
            }
        }

        let diagnostic_settings = if hardened || chance(&mut rng, 0.5) {
            let partial = !hardened && chance(&mut rng, 0.3);
            let mut logs =
                vec![json!({"category": "Audit", "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}})];
            if !partial {
                logs.push(json!({"category": "RequestResponse", "enabled": true, "retentionPolicy": {"enabled": false, "days": 0}}));
            }
            vec![templates::fill(
                "diagnostic-setting",
                json!({
                    "id": format!("{id}/providers/microsoft.insights/diagnosticSettings/to-law"), "name": "to-law",
                    "type": "Microsoft.Insights/diagnosticSettings",
                    "properties": {"workspaceId": format!("/subscriptions/{sub}/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-ai"),
                                   "storageAccountId": null, "eventHubAuthorizationRuleId": null, "marketplacePartnerId": null,
                                   "logAnalyticsDestinationType": "Dedicated", "logs": logs,
                                   "metrics": [{"category": "AllMetrics", "enabled": true}]}
                }),
            )]
        } else {
            vec![]
        };

        // Role assignments on the account: workloads, people, and mistakes.
        let mut assign = |rng: &mut ChaCha8Rng, role: &str, principal_type: &str| {
            role_assignment(rng, &mut role_assignments, &id, sub, role, principal_type, "2025-06-01T10:00:00.0000000Z")
        };
        assign(&mut rng, "cognitive-services-openai-user", "ServicePrincipal");
        if chance(&mut rng, 0.3) {
            assign(&mut rng, "cognitive-services-contributor", "ServicePrincipal");
        }
        if !hardened && chance(&mut rng, 0.5) {
            let role = if chance(&mut rng, 0.5) { "owner" } else { "contributor" };
            assign(&mut rng, role, "User");
        }
        if chance(&mut rng, 0.4) {
            assign(&mut rng, "cognitive-services-user", "Group");
        }
        if chance(&mut rng, 0.15) {
            // Left behind when its principal was deleted from the directory.
            assign(&mut rng, "cognitive-services-openai-contributor", "Unknown");
        }

        records.push(AccountRecord {
            account,
            deployments,
            rai_policies: vec![rai_policy],
            rai_blocklists: vec![],
            private_endpoint_connections: pecs,
            diagnostic_settings,
            usage,
        });
    }

    // Access granted above the accounts, inherited by every account beneath:
    // a reader group per subscription, a person with Owner on the first one,
    // and a Contributor on one resource group.
    for (i, sub) in subscriptions.iter().enumerate() {
        let scope = format!("/subscriptions/{sub}");
        let created = "2024-11-02T08:30:00.0000000Z";
        role_assignment(&mut rng, &mut role_assignments, &scope, sub, "reader", "Group", created);
        if i == 0 {
            role_assignment(&mut rng, &mut role_assignments, &scope, sub, "owner", "User", created);
            let rg = format!("{scope}/resourceGroups/rg-ai-{}", TEAMS[0]);
            role_assignment(&mut rng, &mut role_assignments, &rg, sub, "contributor", "User", created);
        }
    }

    let access = access::generate(seed, &subscriptions, &records, &mut role_assignments);

    Snapshot {
        schema_version: SCHEMA_VERSION,
        scope: ScanScope {
            tenant_id: Some(tenant),
            subscriptions,
            arm_endpoint: "https://management.azure.com".into(),
        },
        started_at,
        finished_at,
        collector: format!("attest-demo/{} seed={seed}", env!("CARGO_PKG_VERSION")),
        subscriptions: subscription_docs,
        accounts: records,
        role_assignments,
        role_definitions: ROLES
            .iter()
            .filter_map(|r| builtin_roles::arm_definition(r))
            .chain(std::iter::once(access.custom_role))
            .collect(),
        deny_assignments: access.deny_assignments,
        role_eligibility_schedule_instances: access.eligible,
        role_assignment_schedule_instances: access.active,
        principals: access.principals,
        policy_assignments: vec![],
        policy_exemptions: vec![],
        providers: vec![],
        errors: vec![],
    }
}

/// A role assignment of the built-in `role` at `scope` (an account, a
/// resource group or a subscription) to a new principal.
fn role_assignment(
    rng: &mut ChaCha8Rng,
    out: &mut Vec<serde_json::Value>,
    scope: &str,
    sub: &str,
    role: &str,
    principal_type: &str,
    created_on: &str,
) {
    let role_id = builtin_roles::arm_definition(role).and_then(|d| d["id"].as_str().map(str::to_string));
    let name = guid(rng);
    out.push(templates::fill(
        "role-assignment",
        json!({
            "id": format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"), "name": name,
            "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": format!("/subscriptions/{sub}{}", role_id.unwrap_or_default()),
                           "principalId": guid(rng), "principalType": principal_type, "scope": scope,
                           "createdOn": created_on}
        }),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::arm::{Account, Deployment, DeploymentType, DiagnosticSetting, RaiPolicy, RoleAssignment};

    #[test]
    fn the_same_seed_gives_the_same_estate_and_another_seed_another() {
        let a = serde_json::to_string(&generate(20, 7)).unwrap();
        assert_eq!(a, serde_json::to_string(&generate(20, 7)).unwrap());
        assert_ne!(a, serde_json::to_string(&generate(20, 8)).unwrap());
    }

    #[test]
    fn every_document_parses_with_the_views_used_for_azure_payloads() {
        let s = generate(40, 1);
        for r in &s.accounts {
            assert!(Account::parse(&r.account).unwrap().is_in_scope());
            r.deployments.iter().for_each(|d| drop(Deployment::parse(d).unwrap()));
            r.rai_policies.iter().for_each(|p| drop(RaiPolicy::parse(p).unwrap()));
            r.diagnostic_settings.iter().for_each(|d| drop(DiagnosticSetting::parse(d).unwrap()));
        }
        s.role_assignments.iter().for_each(|a| drop(RoleAssignment::parse(a).unwrap()));
    }

    #[test]
    fn the_estate_mixes_compliant_and_non_compliant_accounts() {
        let s = generate(60, 3);
        let accounts: Vec<Account> = s.accounts.iter().map(|r| Account::parse(&r.account).unwrap()).collect();
        let both = |f: &dyn Fn(&Account) -> bool| accounts.iter().any(f) && !accounts.iter().all(f);
        assert!(both(&|a| a.public_network_access_enabled()), "public and private accounts");
        assert!(both(&|a| a.key_access_enabled()), "keys enabled and disabled");
        assert!(s.accounts.iter().any(|r| r.private_endpoint_connections.is_empty()));
        assert!(s.accounts.iter().any(|r| r.diagnostic_settings.is_empty()));
        let deployments: Vec<Deployment> =
            s.accounts.iter().flat_map(|r| r.deployments.iter()).map(|d| Deployment::parse(d).unwrap()).collect();
        assert!(deployments.iter().any(|d| d.properties.rai_policy_name.is_none()), "a deployment without a filter");
        assert!(s.accounts.iter().any(|r| {
            let eu = ["westeurope", "swedencentral", "francecentral"]
                .contains(&Account::parse(&r.account).unwrap().common.location.as_deref().unwrap_or(""));
            eu && r
                .deployments
                .iter()
                .any(|d| Deployment::parse(d).unwrap().deployment_type() == DeploymentType::Global)
        }));
        let roles: Vec<RoleAssignment> = s.role_assignments.iter().map(|a| RoleAssignment::parse(a).unwrap()).collect();
        assert!(roles.iter().any(|r| r.properties.principal_type.as_deref() == Some("User")
            && r.properties.role_definition_id.as_deref().unwrap().ends_with("8e3af657-a8ff-443c-a75c-2fe8c4bcb635")
            || r.properties.role_definition_id.as_deref().unwrap().ends_with("b24988ac-6180-42a0-ab88-20f7382dd24c")));
        assert!(roles.iter().any(|r| r.properties.principal_type.as_deref() == Some("Unknown")));
        let max = s.accounts.iter().flat_map(|r| &r.usage).map(|u| u.total_tokens).max().unwrap();
        let median = {
            let mut t: Vec<u64> = s.accounts.iter().flat_map(|r| &r.usage).map(|u| u.total_tokens).collect();
            t.sort();
            t[t.len() / 2]
        };
        assert!(max > 5 * median, "usage spikes stand out");
    }

    #[test]
    fn documents_carry_what_microsofts_examples_carry() {
        let s = generate(10, 4);
        assert!(s.subscriptions.iter().all(|d| d["subscriptionPolicies"]["spendingLimit"] == "Off"));
        let policy = &s.accounts[0].rai_policies[0];
        let names: Vec<&str> = policy["properties"]["contentFilters"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["name"].as_str())
            .collect();
        assert!(names.contains(&"Protected Material Code") && names.contains(&"Profanity"), "{names:?}");
        for d in s.accounts.iter().flat_map(|a| &a.diagnostic_settings) {
            assert!(d["properties"].get("storageAccountId").is_none(), "the example's storage target is not ours");
        }
    }
}
