//! A stored snapshot's documents as the policy engine sees them: accounts
//! with their diagnostic settings and private endpoint connections as
//! related resources, deployments with their data-plane view, content
//! filter policies and role assignments.

use attest_policy::assignment::Subject;
use attest_policy::evaluate::data_plane_with;
use serde_json::Value;
use std::collections::HashMap;

/// One stored document.
pub struct Doc {
    pub kind: String,
    /// documents.hash: what an attestation is bound to.
    pub hash: Vec<u8>,
    pub resource_id: String,
    pub account_id: Option<String>,
    pub body: Value,
}

/// Kinds evaluated in their own right; the others are only related resources.
pub const EVALUATED: [&str; 4] = ["account", "deployment", "rai_policy", "role_assignment"];

/// Every kind a subject is built from: what an evaluation reads.
pub const INPUTS: [&str; 6] =
    ["account", "deployment", "rai_policy", "role_assignment", "diagnostic_setting", "private_endpoint_connection"];

/// The documents a subject's verdict can depend on share a group: an
/// account's are its own and those that hang off it; any other document
/// is a group of its own (role assignments refer to nothing).
pub fn group(resource_id: &str, account_id: Option<&str>) -> String {
    account_id.unwrap_or(resource_id).to_string()
}

pub fn build(docs: Vec<Doc>) -> Vec<Subject> {
    let mut related: HashMap<String, Vec<Value>> = HashMap::new();
    let mut rai: HashMap<(String, String), Value> = HashMap::new();
    for d in &docs {
        let Some(account) = &d.account_id else { continue };
        match d.kind.as_str() {
            "diagnostic_setting" | "private_endpoint_connection" => {
                related.entry(account.clone()).or_default().push(d.body.clone())
            }
            "rai_policy" => {
                let name = d.body.get("name").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
                rai.insert((account.clone(), name), d.body.clone());
            }
            _ => {}
        }
    }
    docs.into_iter()
        .filter(|d| EVALUATED.contains(&d.kind.as_str()))
        .map(|d| {
            let data_plane = (d.kind == "deployment").then(|| {
                let name = d.body.pointer("/properties/raiPolicyName").and_then(Value::as_str).unwrap_or_default();
                let account = d.account_id.clone().unwrap_or_default();
                data_plane_with(&d.body, rai.get(&(account, name.to_ascii_lowercase())))
            });
            let mut rel = Vec::new();
            if d.kind == "account" {
                rel = related.get(&d.resource_id).cloned().unwrap_or_default();
                // A deployIfNotExists rule may name the account itself.
                rel.push(d.body.clone());
            }
            Subject { id: d.resource_id, doc: d.body, data_plane, related: rel }
        })
        .collect()
}
