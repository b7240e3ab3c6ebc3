//! The estate the fake ARM serves, indexed by ARM path, and the answer to
//! each GET it understands, in ARM's own shapes (list envelopes with
//! `nextLink`, Azure Monitor metrics, ARM error bodies).

use attest_core::snapshot::{AccountRecord, DailyUsage, Snapshot};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use time::{format_description::well_known::Rfc3339, Date, OffsetDateTime};

/// The metrics a scanner asks for, with Azure Monitor's display names.
const METRICS: [(&str, &str); 4] = [
    ("ProcessedPromptTokens", "Processed Prompt Tokens"),
    ("GeneratedTokens", "Generated Completion Tokens"),
    ("TokenTransaction", "Processed Inference Tokens"),
    ("AzureOpenAIRequests", "Azure OpenAI Requests"),
];

pub struct Estate {
    subscriptions: Vec<Value>,
    /// Accounts per lower-cased subscription id, out-of-scope kinds included.
    accounts: BTreeMap<String, Vec<Value>>,
    /// Everything beneath an account, by lower-cased account id.
    records: HashMap<String, AccountRecord>,
    role_assignments: Vec<Value>,
    /// Indexes into `role_assignments` by lower-cased scope, so that a large
    /// estate answers atScope() without scanning every assignment.
    assignments_by_scope: HashMap<String, Vec<usize>>,
    /// Role definitions by lower-cased GUID (they are addressable at any scope).
    role_definitions: HashMap<String, Value>,
    policy_assignments: Vec<Value>,
    policy_exemptions: Vec<Value>,
    deny_assignments: Vec<Value>,
    eligibility_instances: Vec<Value>,
    assignment_instances: Vec<Value>,
    /// Directory objects by lower-cased id, for the fake Graph; the
    /// snapshot's deleted principals are absent, as Graph leaves them out.
    principals: HashMap<String, Value>,
    /// Groups' transitive members, by group id.
    members: HashMap<String, Vec<Value>>,
    account_count: usize,
}

/// What a GET is answered with.
#[derive(Debug, PartialEq)]
pub enum Answer {
    One(Value),
    List(Vec<Value>),
    NotFound { code: &'static str, message: String },
    BadRequest { code: &'static str, message: String },
}

impl Estate {
    /// Serves `snapshot`, its usage moved so that its last day is the day
    /// before `today` (a scanner asks for recent days), plus a Computer
    /// Vision account per subscription that a scanner must leave out.
    pub fn from_snapshot(snapshot: Snapshot, today: Date) -> Estate {
        let last = snapshot.accounts.iter().flat_map(|a| &a.usage).filter_map(|u| parse_day(&u.date)).max();
        let shift = last.map(|l| today.previous_day().unwrap_or(today) - l).unwrap_or_default();
        let mut accounts: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut records = HashMap::new();
        let account_count = snapshot.accounts.len();
        for mut record in snapshot.accounts {
            let id = record.account["id"].as_str().unwrap_or_default().to_string();
            let sub = subscription_of(&id).unwrap_or_default();
            for u in &mut record.usage {
                if let Some(d) = parse_day(&u.date) {
                    u.date = (d + shift).to_string();
                }
            }
            accounts.entry(sub).or_default().push(record.account.clone());
            records.insert(id.to_ascii_lowercase(), record);
        }
        for sub in &snapshot.scope.subscriptions {
            let name = format!("vision-{}", &sub[..sub.len().min(8)]);
            accounts.entry(sub.to_ascii_lowercase()).or_default().push(json!({
                "id": format!("/subscriptions/{sub}/resourceGroups/rg-vision/providers/Microsoft.CognitiveServices/accounts/{name}"),
                "name": name, "type": "Microsoft.CognitiveServices/accounts", "kind": "ComputerVision",
                "location": "eastus", "sku": {"name": "S1"},
                "properties": {"provisioningState": "Succeeded", "publicNetworkAccess": "Enabled"}
            }));
        }
        let principals = snapshot
            .principals
            .iter()
            .filter_map(|r| {
                Some((r["id"].as_str()?.to_ascii_lowercase(), r.get("object").filter(|o| !o.is_null())?.clone()))
            })
            .collect();
        let members = snapshot
            .principals
            .iter()
            .filter_map(|r| Some((r["id"].as_str()?.to_ascii_lowercase(), r.get("members")?.as_array()?.clone())))
            .collect();
        let role_definitions = snapshot
            .role_definitions
            .into_iter()
            .filter_map(|d| Some((d["name"].as_str()?.to_ascii_lowercase(), d)))
            .collect();
        Estate {
            subscriptions: snapshot.subscriptions,
            accounts,
            records,
            assignments_by_scope: snapshot.role_assignments.iter().enumerate().fold(
                HashMap::new(),
                |mut index: HashMap<String, Vec<usize>>, (i, a)| {
                    let scope = a["properties"]["scope"].as_str().unwrap_or_default().to_ascii_lowercase();
                    index.entry(scope).or_default().push(i);
                    index
                },
            ),
            role_assignments: snapshot.role_assignments,
            role_definitions,
            policy_assignments: snapshot.policy_assignments,
            policy_exemptions: snapshot.policy_exemptions,
            deny_assignments: snapshot.deny_assignments,
            eligibility_instances: snapshot.role_eligibility_schedule_instances,
            assignment_instances: snapshot.role_assignment_schedule_instances,
            principals,
            members,
            account_count,
        }
    }

    pub fn account_count(&self) -> usize {
        self.account_count
    }

    /// The directory object Graph would return for `id`.
    pub fn principal(&self, id: &str) -> Option<Value> {
        self.principals.get(&id.to_ascii_lowercase()).cloned()
    }

    /// A group's transitive members, `None` when `id` is not a group Graph knows.
    pub fn members(&self, id: &str) -> Option<&[Value]> {
        let id = id.to_ascii_lowercase();
        let group = self.principals.get(&id)?;
        (group["@odata.type"] == "#microsoft.graph.group").then(|| self.members.get(&id).map_or(&[][..], |m| &m[..]))
    }

    /// Answers `GET path?query` (the query already decoded into pairs).
    pub fn get(&self, path: &str, query: &[(String, String)]) -> Answer {
        let path = path.trim_end_matches('/');
        let lower = path.to_ascii_lowercase();
        let segments: Vec<&str> = lower.split('/').skip(1).collect();
        let param = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());

        // Provider-level reads addressed beneath any scope.
        if let Some((scope, rest)) = lower.split_once("/providers/microsoft.authorization/") {
            return self.authorization(scope, rest, param("$filter"));
        }
        if let Some((scope, rest)) = lower.split_once("/providers/microsoft.insights/") {
            let Some(record) = self.records.get(scope) else {
                return not_found("ResourceNotFound", scope);
            };
            return match rest {
                "diagnosticsettings" => Answer::List(record.diagnostic_settings.clone()),
                "metrics" => metrics(path, record, param("timespan")),
                _ => not_found("InvalidResourceType", rest),
            };
        }
        match segments.as_slice() {
            // Providers with their Policy aliases: Azure's catalog as Attest
            // ships it, in the shape of Providers_GetAtTenantScope.
            ["providers", ns] => attest_policy::alias::as_providers()
                .into_iter()
                .find(|p| p["namespace"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(ns)))
                .map(|mut p| {
                    if !param("$expand").is_some_and(|e| e.eq_ignore_ascii_case("resourceTypes/aliases")) {
                        for rt in p["resourceTypes"].as_array_mut().into_iter().flatten() {
                            rt.as_object_mut().map(|o| o.remove("aliases"));
                        }
                    }
                    Answer::One(p)
                })
                .unwrap_or_else(|| not_found("InvalidResourceNamespace", ns)),
            ["subscriptions"] => Answer::List(self.subscriptions.clone()),
            ["subscriptions", sub] => self
                .subscriptions
                .iter()
                .find(|s| s["subscriptionId"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(sub)))
                .map(|s| Answer::One(s.clone()))
                .unwrap_or_else(|| not_found("SubscriptionNotFound", sub)),
            ["subscriptions", sub, "providers", "microsoft.cognitiveservices", "accounts"] => {
                match self.accounts.get(*sub) {
                    Some(list) => Answer::List(list.clone()),
                    None if self
                        .subscriptions
                        .iter()
                        .any(|s| s["subscriptionId"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(sub))) =>
                    {
                        Answer::List(vec![])
                    }
                    None => not_found("SubscriptionNotFound", sub),
                }
            }
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.cognitiveservices", "accounts", _, rest @ ..] =>
            {
                let account: String = segments[..8].iter().map(|s| format!("/{s}")).collect();
                let Some(record) = self.records.get(&account) else {
                    return not_found("ResourceNotFound", &account);
                };
                match rest {
                    [] => Answer::One(record.account.clone()),
                    ["deployments"] => Answer::List(record.deployments.clone()),
                    ["raipolicies"] => Answer::List(record.rai_policies.clone()),
                    ["raiblocklists"] => {
                        Answer::List(record.rai_blocklists.iter().map(|b| b.blocklist.clone()).collect())
                    }
                    ["raiblocklists", name, "raiblocklistitems"] => record
                        .rai_blocklists
                        .iter()
                        .find(|b| b.blocklist["name"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
                        .map(|b| Answer::List(b.items.clone()))
                        .unwrap_or_else(|| not_found("ResourceNotFound", name)),
                    ["privateendpointconnections"] => Answer::List(record.private_endpoint_connections.clone()),
                    _ => not_found("InvalidResourceType", path),
                }
            }
            _ => not_found("InvalidResourceType", path),
        }
    }

    /// Role assignments and definitions, policy assignments and exemptions.
    fn authorization(&self, scope: &str, rest: &str, filter: Option<&str>) -> Answer {
        let applies = |doc_scope: &str| {
            let s = doc_scope.to_ascii_lowercase();
            // atScope(): at the scope or above it; no filter: also below.
            scope == s || scope.starts_with(&format!("{s}/")) || (filter.is_none() && s.starts_with(scope))
        };
        let in_scope = |docs: &[Value]| -> Vec<Value> {
            docs.iter().filter(|d| applies(d["properties"]["scope"].as_str().unwrap_or_default())).cloned().collect()
        };
        match rest.split('/').collect::<Vec<_>>().as_slice() {
            // atScope(): the scope and each scope above it, from the index.
            ["roleassignments"] if filter.is_some() => Answer::List(
                scope
                    .match_indices('/')
                    .map(|(i, _)| &scope[..i])
                    .chain([scope])
                    .filter_map(|s| self.assignments_by_scope.get(s))
                    .flatten()
                    .map(|i| self.role_assignments[*i].clone())
                    .collect(),
            ),
            ["roleassignments"] => Answer::List(
                self.role_assignments
                    .iter()
                    .filter(|a| applies(a["properties"]["scope"].as_str().unwrap_or_default()))
                    .cloned()
                    .collect(),
            ),
            ["denyassignments"] => Answer::List(in_scope(&self.deny_assignments)),
            ["roleeligibilityscheduleinstances"] => Answer::List(in_scope(&self.eligibility_instances)),
            ["roleassignmentscheduleinstances"] => Answer::List(in_scope(&self.assignment_instances)),
            // `$filter=type eq 'CustomRole'`: the custom roles assignable here.
            ["roledefinitions"] => Answer::List(
                self.role_definitions
                    .values()
                    .filter(|d| {
                        let custom = d["properties"]["type"].as_str() == Some("CustomRole");
                        custom || !filter.is_some_and(|f| f.contains("CustomRole"))
                    })
                    .filter(|d| {
                        d["properties"]["assignableScopes"].as_array().is_some_and(|scopes| {
                            scopes.iter().filter_map(Value::as_str).any(|s| applies(s) || s == "/")
                        })
                    })
                    .cloned()
                    .collect(),
            ),
            ["roledefinitions", guid] => self
                .role_definitions
                .get(*guid)
                .map(|d| Answer::One(d.clone()))
                .unwrap_or_else(|| not_found("RoleDefinitionDoesNotExist", guid)),
            ["policyassignments"] => Answer::List(
                self.policy_assignments
                    .iter()
                    .filter(|a| applies(a["properties"]["scope"].as_str().unwrap_or_default()))
                    .cloned()
                    .collect(),
            ),
            ["policyexemptions"] => Answer::List(
                self.policy_exemptions
                    .iter()
                    .filter(|e| {
                        let id = e["id"].as_str().unwrap_or_default();
                        let at = id.split("/providers/Microsoft.Authorization/policyExemptions/").next().unwrap_or(id);
                        applies(at)
                    })
                    .cloned()
                    .collect(),
            ),
            _ => not_found("InvalidResourceType", rest),
        }
    }
}

fn not_found(code: &'static str, what: &str) -> Answer {
    Answer::NotFound { code, message: format!("The resource '{what}' was not found.") }
}

fn parse_day(s: &str) -> Option<Date> {
    Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()
}

fn subscription_of(id: &str) -> Option<String> {
    let mut parts = id.split('/').skip(1);
    if !parts.next()?.eq_ignore_ascii_case("subscriptions") {
        return None;
    }
    parts.next().map(str::to_ascii_lowercase)
}

/// An Azure Monitor `Metrics_List` answer: one daily series per deployment.
fn metrics(path: &str, record: &AccountRecord, timespan: Option<&str>) -> Answer {
    let Some((from, to)) = timespan.and_then(|t| t.split_once('/')) else {
        return Answer::BadRequest { code: "BadRequest", message: "timespan is required (start/end)".into() };
    };
    let (Ok(from), Ok(to)) = (OffsetDateTime::parse(from, &Rfc3339), OffsetDateTime::parse(to, &Rfc3339)) else {
        return Answer::BadRequest { code: "BadRequest", message: format!("invalid timespan {timespan:?}") };
    };
    let mut by_deployment: BTreeMap<&str, Vec<&DailyUsage>> = BTreeMap::new();
    for u in &record.usage {
        if let Some(day) = parse_day(&u.date) {
            let at = day.midnight().assume_utc();
            if at >= from && at < to {
                by_deployment.entry(&u.deployment).or_default().push(u);
            }
        }
    }
    let value: Vec<Value> = METRICS
        .iter()
        .map(|(name, display)| {
            let pick = |u: &DailyUsage| match *name {
                "ProcessedPromptTokens" => u.prompt_tokens,
                "GeneratedTokens" => u.completion_tokens,
                "TokenTransaction" => u.total_tokens,
                _ => u.requests,
            };
            json!({
                "id": format!("{path}/{name}"), "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": display},
                "displayDescription": display, "unit": "Count", "errorCode": "Success",
                "timeseries": by_deployment.iter().map(|(dep, days)| json!({
                    "metadatavalues": [{"name": {"value": "modeldeploymentname", "localizedValue": "modeldeploymentname"}, "value": dep}],
                    "data": days.iter().map(|u| json!({"timeStamp": format!("{}T00:00:00Z", u.date), "total": pick(u) as f64})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Answer::One(json!({
        "cost": 0, "timespan": timespan, "interval": "P1D",
        "namespace": "Microsoft.CognitiveServices/accounts",
        "resourceregion": record.account["location"], "value": value,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest_core::snapshot::demo;
    use time::macros::date;

    fn estate() -> (Estate, Snapshot) {
        let snap = demo::generate(6, 5);
        (Estate::from_snapshot(snap.clone(), date!(2026 - 11 - 21)), snap)
    }

    fn list(a: Answer) -> Vec<Value> {
        match a {
            Answer::List(v) => v,
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn accounts_are_listed_per_subscription_with_an_out_of_scope_kind() {
        let (e, snap) = estate();
        let sub = &snap.scope.subscriptions[0];
        let accounts =
            list(e.get(&format!("/subscriptions/{sub}/providers/Microsoft.CognitiveServices/accounts"), &[]));
        assert!(accounts.iter().any(|a| a["kind"] == "ComputerVision"));
        assert_eq!(accounts.iter().filter(|a| a["kind"] != "ComputerVision").count(), 2);
    }

    #[test]
    fn paths_compare_without_case_and_unknown_ones_are_404() {
        let (e, snap) = estate();
        let id = snap.accounts[0].account["id"].as_str().unwrap().to_ascii_uppercase();
        assert_eq!(e.get(&id, &[]), Answer::One(snap.accounts[0].account.clone()));
        assert!(matches!(e.get(&format!("{id}/nonsense"), &[]), Answer::NotFound { .. }));
        assert!(matches!(e.get("/subscriptions/nope", &[]), Answer::NotFound { .. }));
    }

    #[test]
    fn role_assignments_at_scope_include_those_inherited_from_above() {
        let (e, snap) = estate();
        let account = snap.accounts.iter().find(|a| a.account["id"].as_str().unwrap().contains("rg-ai-search"));
        let Some(account) = account else { return };
        let id = account.account["id"].as_str().unwrap();
        let filter = [("$filter".to_string(), "atScope()".to_string())];
        let got = list(e.get(&format!("{id}/providers/Microsoft.Authorization/roleAssignments"), &filter));
        let scopes: Vec<&str> = got.iter().map(|a| a["properties"]["scope"].as_str().unwrap()).collect();
        assert!(scopes.iter().any(|s| s.eq_ignore_ascii_case(id)));
        assert!(scopes.iter().any(|s| !s.contains("/resourceGroups/")), "subscription-level: {scopes:?}");
    }

    #[test]
    fn metrics_cover_the_asked_days_moved_to_end_yesterday() {
        let (e, snap) = estate();
        let id = snap.accounts[0].account["id"].as_str().unwrap();
        let q = [("timespan".to_string(), "2026-11-14T00:00:00Z/2026-11-21T00:00:00Z".to_string())];
        let Answer::One(doc) = e.get(&format!("{id}/providers/Microsoft.Insights/metrics"), &q) else { panic!() };
        let parsed = attest_core::snapshot::arm::MetricsResponse::parse(&doc).unwrap();
        let series = &parsed.value[0].timeseries[0];
        assert_eq!(series.data.len(), 7);
        assert_eq!(series.data[6].time_stamp.as_deref(), Some("2026-11-20T00:00:00Z"));
        assert!(matches!(e.get(&format!("{id}/providers/Microsoft.Insights/metrics"), &[]), Answer::BadRequest { .. }));
    }
}
