//! The snapshot: one scan of one scope at one time, as a typed, versioned
//! document. Resources are kept as the raw ARM documents (every field, known
//! or not, is evidence); `arm` gives typed views over them. What could not be
//! collected is recorded, so a partial scan says so.

pub mod arm;
pub mod browse;
pub mod builtin_roles;
pub mod canonical;
pub mod decode;
pub mod demo;
pub mod diff;
pub mod graph;
pub mod ingest;
pub mod store;
pub mod templates;
pub mod writer;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// The schema version written into every snapshot document. Bump it when the
/// shape changes, and teach the importer the old one.
///
/// 2 added what role review needs: deny assignments, PIM schedule
/// instances and the principals Microsoft Graph resolved.
pub const SCHEMA_VERSION: u32 = 2;

/// The versions the importer reads: a version-1 snapshot simply has none of
/// version 2's lists.
pub const READABLE_VERSIONS: [u32; 2] = [1, 2];

/// One scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    pub schema_version: u32,
    pub scope: ScanScope,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    /// What produced it, e.g. `attest/0.1.0`.
    pub collector: String,
    /// Subscription documents (`Subscriptions_List`).
    #[serde(default)]
    pub subscriptions: Vec<Value>,
    #[serde(default)]
    pub accounts: Vec<AccountRecord>,
    /// Role assignments at the accounts and every scope above them, once each.
    #[serde(default)]
    pub role_assignments: Vec<Value>,
    /// The role definitions those assignments reference, and every custom
    /// role of the scanned subscriptions, once each.
    #[serde(default)]
    pub role_definitions: Vec<Value>,
    /// Deny assignments that apply to the scanned subscriptions (schema 2).
    #[serde(default)]
    pub deny_assignments: Vec<Value>,
    /// PIM: eligible assignments (`roleEligibilityScheduleInstances`), when
    /// the credential may read them (schema 2).
    #[serde(default)]
    pub role_eligibility_schedule_instances: Vec<Value>,
    /// PIM: active assignments (`roleAssignmentScheduleInstances`), likewise.
    #[serde(default)]
    pub role_assignment_schedule_instances: Vec<Value>,
    /// The principals the assignments name, as Microsoft Graph answered
    /// (`graph::PrincipalRecord`); empty when Graph could not be read, so
    /// that they are shown by id, unresolved (schema 2).
    #[serde(default)]
    pub principals: Vec<Value>,
    /// Azure Policy assignments that apply to the scanned accounts.
    #[serde(default)]
    pub policy_assignments: Vec<Value>,
    /// Azure Policy exemptions that apply to the scanned accounts.
    #[serde(default)]
    pub policy_exemptions: Vec<Value>,
    /// The resource providers of the types Attest collects, as ARM answers
    /// with `$expand=resourceTypes/aliases`: Azure's Policy aliases as of
    /// the scan, which refresh the catalog the engine reads them from.
    #[serde(default)]
    pub providers: Vec<Value>,
    /// Every request that failed; non-empty means the snapshot is partial.
    #[serde(default)]
    pub errors: Vec<CollectionError>,
}

impl Snapshot {
    pub fn is_partial(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// What was scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanScope {
    pub tenant_id: Option<String>,
    /// The subscriptions scanned (all the credential could see, or those asked for).
    pub subscriptions: Vec<String>,
    /// The ARM endpoint used, e.g. `https://management.azure.com`.
    pub arm_endpoint: String,
}

/// A Cognitive Services account of kind OpenAI or AIServices and everything
/// collected beneath it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    pub account: Value,
    #[serde(default)]
    pub deployments: Vec<Value>,
    #[serde(default)]
    pub rai_policies: Vec<Value>,
    #[serde(default)]
    pub rai_blocklists: Vec<BlocklistRecord>,
    #[serde(default)]
    pub private_endpoint_connections: Vec<Value>,
    #[serde(default)]
    pub diagnostic_settings: Vec<Value>,
    /// Token usage per deployment per day, from Azure Monitor metrics.
    #[serde(default)]
    pub usage: Vec<DailyUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocklistRecord {
    pub blocklist: Value,
    #[serde(default)]
    pub items: Vec<Value>,
}

/// Tokens and requests of one deployment on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyUsage {
    pub deployment: String,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    pub requests: u64,
}

/// A request that failed during the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionError {
    /// The ARM scope the request was about (subscription, account id, …).
    pub scope: String,
    /// Method and path, without the host, e.g. `GET /subscriptions/…/deployments`.
    pub request: String,
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "schema_version": SCHEMA_VERSION,
            "scope": {"tenant_id": null, "subscriptions": ["s1"], "arm_endpoint": "https://management.azure.com"},
            "started_at": "2026-11-21T10:00:00Z",
            "finished_at": "2026-11-21T10:05:00Z",
            "collector": "attest/0.1.0",
            "accounts": [{"account": {"id": "/subscriptions/s1/x", "kind": "OpenAI", "unknownField": {"kept": true}}}],
        })
    }

    #[test]
    fn a_snapshot_round_trips_and_keeps_unknown_resource_fields() {
        let snap: Snapshot = serde_json::from_value(minimal()).unwrap();
        assert!(!snap.is_partial());
        assert_eq!(snap.accounts[0].account["unknownField"]["kept"], true);
        let again: Snapshot = serde_json::from_value(serde_json::to_value(&snap).unwrap()).unwrap();
        assert_eq!(snap, again);
    }

    #[test]
    fn collection_errors_make_it_partial() {
        let mut doc = minimal();
        doc["errors"] = json!([{"scope": "/subscriptions/s1", "request": "GET /subscriptions/s1/providers/Microsoft.CognitiveServices/accounts", "status": 403, "message": "AuthorizationFailed"}]);
        let snap: Snapshot = serde_json::from_value(doc).unwrap();
        assert!(snap.is_partial());
    }

    #[test]
    fn a_misspelt_snapshot_field_is_an_error_not_silently_dropped() {
        let mut doc = minimal();
        doc["acounts"] = json!([]);
        assert!(serde_json::from_value::<Snapshot>(doc).is_err());
    }
}
