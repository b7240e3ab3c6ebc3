//! Exemptions as the pages show them: the list, one exemption with its
//! history and what it was approved against, and the approvals queue.

use serde::{Deserialize, Serialize};

/// The exemptions list's filters, as they appear in the URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExemptionsQuery {
    pub state: String,
    pub category: String,
    /// Approved exemptions expiring within this many days (empty: any).
    pub expiring: String,
    pub scope: String,
}

/// One exemption in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionItem {
    pub id: i64,
    pub state: String,
    pub category: String,
    pub scope: String,
    pub assignment: String,
    pub controls: String,
    pub severity: String,
    pub requested_by: String,
    pub requested_at: String,
    pub expires_on: String,
    pub drifted: bool,
}

/// An exemption found in Azure by a scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AzureExemptionView {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub policy_assignment_id: String,
    pub category: String,
    pub expires_on: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionsView {
    pub items: Vec<ExemptionItem>,
    pub azure: Vec<AzureExemptionView>,
    /// The snapshot Azure's exemptions come from.
    pub azure_snapshot: Option<String>,
    /// (severity, longest days) as admins set them.
    pub limits: Vec<(String, i32)>,
    pub may_set_limits: bool,
    pub may_request: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionEventView {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub comment: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingView {
    pub finding_id: i64,
    pub resource_id: String,
    pub control: String,
    pub reference_id: String,
    pub state: String,
    /// Its state now ("gone" when no longer evaluated).
    pub now: String,
    pub evidence_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionDetailView {
    pub item: ExemptionItem,
    pub assignment_id: String,
    pub justification: String,
    pub compensating_controls: String,
    pub ticket: String,
    pub finding_id: Option<i64>,
    pub approvals_needed: i16,
    pub approvers: Vec<String>,
    pub approved_at: String,
    pub drifted_at: String,
    pub history: Vec<ExemptionEventView>,
    pub bindings: Vec<BindingView>,
    /// The Azure Policy exemption it exports as (approved only).
    pub azure_arm: Option<String>,
    pub azure_az: Option<String>,
    /// What the viewer may do now.
    pub may_decide: bool,
    pub may_withdraw: bool,
    pub may_revoke: bool,
}

/// A control assignment a scope request can name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentChoice {
    pub id: String,
    pub title: String,
}
