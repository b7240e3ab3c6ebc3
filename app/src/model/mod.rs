//! Types shared by the browser and the server: what server functions take
//! and return. Plain data, so the WebAssembly side needs no server crates.

mod error;

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
