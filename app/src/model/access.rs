//! Effective access as the Access and principal pages show it.

use serde::{Deserialize, Serialize};

/// The Access page's filters, as its URL carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessQuery {
    pub account: String,
    pub principal_type: String,
    pub level: String,
    pub flag: String,
    pub subscription: String,
    pub flagged: bool,
    pub page: i64,
}

/// A principal as far as the snapshot knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalSummary {
    pub id: String,
    /// user, group, service_principal, device, other.
    pub kind: String,
    /// Its display name, else its id.
    pub name: String,
    /// User principal name or application id, when Graph gave one.
    pub detail: String,
    pub guest: bool,
    /// resolved, deleted or unresolved.
    pub resolution: String,
    /// A group's members, when Graph let the scan read them.
    pub members: Option<Vec<MemberItem>>,
}

/// A member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberItem {
    pub id: String,
    pub kind: String,
    /// Its display name, else its id.
    pub name: String,
    /// Its user principal name, when Graph gave one.
    pub detail: String,
    pub guest: bool,
    /// Graph said its account is disabled.
    pub disabled: bool,
}

/// A group a principal is a member of, and the accounts the group reaches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupItem {
    pub id: String,
    pub name: String,
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelItem {
    pub level: String,
    pub label: String,
    pub conditional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentItem {
    pub id: String,
    pub role: String,
    pub custom_role: bool,
    pub scope: String,
    pub inherited: bool,
    pub activated: bool,
    pub conditional: bool,
    /// The assignment in the snapshot's inventory.
    pub href: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlagItem {
    pub check: String,
    pub title: String,
    pub severity: String,
    pub assignment: String,
    pub reasons: Vec<String>,
}

/// What one principal can do to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessItem {
    pub account_id: String,
    pub account_name: String,
    /// The account in the snapshot's inventory.
    pub account_href: String,
    pub subscription_id: String,
    pub principal: PrincipalSummary,
    pub levels: Vec<LevelItem>,
    pub assignments: Vec<AssignmentItem>,
    pub denied_by: Vec<String>,
    pub flags: Vec<FlagItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessView {
    pub snapshot_id: String,
    pub snapshot_at: String,
    /// Microsoft Graph and PIM were read (else names and activations are unknown).
    pub graph: bool,
    pub pim: bool,
    pub items: Vec<AccessItem>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// The filters' choices: (value, label).
    pub levels: Vec<(String, String)>,
    pub flags: Vec<(String, String)>,
    pub principal_types: Vec<(String, String)>,
    pub subscriptions: Vec<String>,
    /// The accounts of the snapshot: (id, name).
    pub accounts: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EligibleItem {
    pub id: String,
    pub role: String,
    pub scope: String,
    pub start: String,
    pub end: String,
    pub accounts: Vec<String>,
}

/// One principal across the estate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalDetail {
    pub snapshot_id: String,
    pub snapshot_at: String,
    pub graph: bool,
    pub pim: bool,
    pub principal: PrincipalSummary,
    pub accounts: Vec<AccessItem>,
    pub eligible: Vec<EligibleItem>,
    /// Groups it is a member of that have access of their own.
    pub groups: Vec<GroupItem>,
}

/// How a principal kind reads.
pub fn principal_kind_label(kind: &str) -> &'static str {
    match kind {
        "user" => "User",
        "group" => "Group",
        "service_principal" => "Workload identity",
        "device" => "Device",
        _ => "Other",
    }
}
