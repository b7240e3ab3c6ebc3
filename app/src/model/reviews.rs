//! Access review campaigns as their pages show them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSummary {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub snapshot_id: String,
    pub created_by: String,
    pub created_at: String,
    /// What the snapshot could not read: graph, pim.
    pub gaps: Vec<String>,
    pub certified_by: String,
    pub certified_at: String,
    pub certify_comment: String,
    /// When it must be finished ("" when it has no due date), and what
    /// then happens to undecided items, in words.
    pub due_at: String,
    pub on_due: String,
    /// Past its due date and not certified yet (the job closes it shortly).
    pub overdue: bool,
    /// Certified by the due-date policy, not by a person.
    pub closed_at_due: bool,
    pub items: i64,
    pub decided: i64,
    pub flagged: i64,
}

/// The campaigns, and the scopes a new one may cover: (value, label).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewsView {
    pub reviews: Vec<ReviewSummary>,
    pub scopes: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewItemView {
    pub id: i64,
    pub assignment: String,
    pub assignment_href: String,
    pub principal: String,
    pub principal_name: String,
    pub principal_kind: String,
    pub role: String,
    pub scope: String,
    pub accounts: Vec<String>,
    /// (control name, what the flag says).
    pub flags: Vec<(String, String)>,
    pub level_label: String,
    pub decision: String,
    pub new_role: String,
    pub new_scope: String,
    pub comment: String,
    pub decided_by: String,
    pub decided_at: String,
    pub suggested: String,
    pub suggested_from: Option<i64>,
    /// Decided by the due-date policy, not by a reviewer.
    pub not_reviewed: bool,
}

/// A campaign's review screen's filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewQuery {
    pub id: i64,
    /// flagged, unflagged or empty.
    pub flagged: String,
    /// open, decided, suggested or empty.
    pub status: String,
    pub principal_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewDetail {
    pub summary: ReviewSummary,
    pub items: Vec<ReviewItemView>,
}

/// The decisions a reviewer picks from: (value, label).
pub const REVIEW_DECISIONS: [(&str, &str); 5] = [
    ("keep", "Keep"),
    ("revoke", "Revoke"),
    ("change", "Change to a narrower role or scope"),
    ("dont_know", "Don't know"),
    ("out_of_scope", "Out of scope"),
];

/// What a due date may do to undecided items: (value, label).
pub const ON_DUE: [(&str, &str); 3] = [
    ("keep", "Keep what is undecided"),
    ("revoke", "Revoke what is undecided"),
    ("recommendation", "Revoke what is flagged, keep the rest"),
];

/// How a decision reads.
pub fn decision_label(d: &str) -> &'static str {
    REVIEW_DECISIONS.iter().find(|(v, _)| *v == d).map_or("Undecided", |(_, l)| l)
}
