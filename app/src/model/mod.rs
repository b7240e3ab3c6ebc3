//! Types shared by the browser and the server: what server functions take
//! and return. Plain data, so the WebAssembly side needs no server crates.

mod access;
mod error;
mod exemptions;
mod findings;
mod reviews;
pub use access::*;
pub use exemptions::*;
pub use findings::*;
pub use reviews::*;

pub use error::AppError;
use serde::{Deserialize, Serialize};

/// The roles a portal user can hold, in the order the UI lists them.
pub const ROLES: [&str; 5] = ["viewer", "auditor", "requester", "approver", "admin"];

/// One role grant; `scope` is empty for every role but `approver`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub role: String,
    pub scope: String,
}

/// A one-time message a form handler left for a page (in the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flash {
    pub error: bool,
    pub text: String,
}

/// The signed-in user, as the layout and pages need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub name: String,
    pub grants: Vec<GrantView>,
}

impl SessionUser {
    pub fn has(&self, role: &str) -> bool {
        self.grants.iter().any(|g| g.role == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has("admin")
    }

    /// Who may read the audit log: admins and auditors.
    pub fn may_read_audit(&self) -> bool {
        self.has("admin") || self.has("auditor")
    }
}

/// A user as the admin pages list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    pub created_at: String,
    pub disabled: bool,
    pub grants: Vec<GrantView>,
}

/// An API token, never with its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: Option<String>,
    pub revoked: bool,
}

/// A secret shown exactly once: a generated password or a new API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeSecret {
    pub subject: String,
    pub secret: String,
}

/// One audit-log entry for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub details: String,
    pub hash: String,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` to get the next (older) page; `None` on the last page.
    pub next_before: Option<i64>,
}

/// The filters of the audit-log page; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    pub actor: String,
    pub action: String,
    pub object: String,
    pub since: String,
    pub until: String,
    pub before: Option<i64>,
}

/// The result of recomputing the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChainStatus {
    Intact { entries: u64, head: Option<String> },
    Broken { seq: i64, reason: String },
}

/// The chain checked against the signed checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditVerification {
    pub chain: ChainStatus,
    /// Trusted checkpoints it was checked against.
    pub checkpoints: usize,
    /// The newest: how many entries it covers and when it was signed.
    pub latest: Option<(i64, String)>,
    /// Entries newer than the newest checkpoint.
    pub unanchored: u64,
    /// Checkpoints that could not be trusted, and why.
    pub problems: Vec<String>,
}

/// One public key of the portal's signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyView {
    pub name: String,
    pub id: String,
    pub verifier_key: String,
    pub ed25519: String,
    pub fingerprint: String,
    pub current: bool,
}

/// One stored checkpoint of the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointView {
    pub size: i64,
    pub at: String,
    pub key: String,
    pub note: String,
}

/// The signing keys and the newest checkpoints, for the audit page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningInfo {
    pub origin: String,
    pub keys: Vec<SigningKeyView>,
    pub checkpoints: Vec<CheckpointView>,
}

/// What the dashboard reports: only facts the portal holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalSummary {
    pub users: i64,
    pub disabled_users: i64,
    pub active_tokens: i64,
    pub audit_entries: i64,
    pub last_audit_at: Option<String>,
    pub snapshots: i64,
}

/// A stored snapshot, as the snapshots list shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotRow {
    pub id: String,
    pub source: String,
    pub scope: String,
    pub finished_at: String,
    pub imported_at: String,
    pub imported_by: String,
    pub partial: bool,
    pub accounts: i32,
    pub deployments: i32,
    pub role_assignments: i32,
}

/// A snapshot as the inventory, resource and diff pages head it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotHeaderView {
    pub id: String,
    pub finished_at: String,
    pub scope: String,
    pub source: String,
    pub partial: bool,
    /// Each collection error, one line each.
    pub errors: Vec<String>,
    pub accounts: i32,
    pub deployments: i32,
    pub role_assignments: i32,
}

/// The resource kinds an inventory lists: (stored kind, label).
pub const INVENTORY_KINDS: [(&str, &str); 6] = [
    ("account", "Accounts"),
    ("deployment", "Deployments"),
    ("rai_policy", "Content filters"),
    ("diagnostic_setting", "Diagnostic settings"),
    ("private_endpoint_connection", "Private endpoints"),
    ("role_assignment", "Role assignments"),
];

/// The quick filters an inventory offers: (flag, label, the kind it applies to).
pub const INVENTORY_FLAGS: [(&str, &str, &str); 4] = [
    ("public", "Public network access", "account"),
    ("keys", "Key access enabled", "account"),
    ("unfiltered", "No content filter", "deployment"),
    ("global", "Global processing", "deployment"),
];

/// What the inventory page asks for (from its URL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryQuery {
    pub snapshot: String,
    pub kind: String,
    pub q: String,
    pub flag: String,
    pub sort: String,
    pub desc: bool,
    /// From 1.
    pub page: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnView {
    pub label: String,
    /// The sort key when the column sorts.
    pub sort: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryRowView {
    pub href: String,
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryView {
    pub header: SnapshotHeaderView,
    pub kind: String,
    pub columns: Vec<ColumnView>,
    pub rows: Vec<InventoryRowView>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Other snapshots of the same scope, newest first: (id, time).
    pub same_scope: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceView {
    pub header: SnapshotHeaderView,
    pub kind: String,
    pub kind_label: String,
    pub resource_id: String,
    /// The account a child resource belongs to, and its page.
    pub account: Option<(String, String)>,
    /// The typed view: label and value.
    pub fields: Vec<(String, String)>,
    /// The ARM document as collected, pretty-printed.
    pub raw: String,
    /// Its findings (and its children's) in the snapshot's current evaluation.
    pub findings: Vec<crate::model::FindingItem>,
    pub findings_total: i64,
    /// For a role assignment: the principal it names (its access page).
    pub principal_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyChangeView {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    pub kind_label: String,
    pub resource_id: String,
    /// "added", "removed" or "changed".
    pub change: String,
    /// The resource's page in the snapshot that has it.
    pub href: String,
    pub properties: Vec<PropertyChangeView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffView {
    pub from: SnapshotHeaderView,
    pub to: SnapshotHeaderView,
    pub added: i64,
    pub removed: i64,
    pub changed: i64,
    pub changes: Vec<ChangeView>,
}
