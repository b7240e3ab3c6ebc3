//! Findings as the browser sees them: the filtered list, one finding with
//! its evidence and history, and the dashboard's compliance figures.

use serde::{Deserialize, Serialize};

/// The findings list's filters, as they appear in its URL.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FindingsQuery {
    pub state: String,
    pub severity: String,
    pub control: String,
    pub framework: String,
    /// A control area: the controls in it.
    pub area: String,
    pub subscription: String,
    pub resource: String,
    pub page: i64,
    /// Every state, not only what fails (the default).
    pub all: bool,
    /// The order within each control: `resource` (default), `-resource`,
    /// `state`, `first_seen`, `-first_seen`.
    pub sort: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingItem {
    pub id: i64,
    pub control: String,
    pub title: String,
    pub resource_id: String,
    pub resource_name: String,
    pub resource_type: String,
    /// The account the resource is or belongs to (its name), if any.
    pub account: String,
    /// The subscription's display name (its id when the snapshot has none).
    pub subscription: String,
    pub state: String,
    pub severity: String,
    pub area: String,
    pub delta: String,
    pub first_seen: String,
    /// The exemption that made it Exempt.
    pub exemption_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingsView {
    pub snapshot_id: Option<String>,
    pub snapshot_at: Option<String>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    /// Matching findings per control (the group headings' counts).
    pub group_counts: Vec<(String, i64)>,
    /// True when only failing findings are listed (no state chosen, not all).
    pub failing_only: bool,
    pub items: Vec<FindingItem>,
    /// Exempted findings matching the other filters, shown apart (first page).
    pub exempt: Vec<FindingItem>,
    pub exempt_total: i64,
    /// (name, title) of every control, for the filter.
    pub controls: Vec<(String, String)>,
    pub frameworks: Vec<String>,
    /// Every control area, for the filter.
    pub areas: Vec<String>,
    /// The subscriptions the snapshot covers.
    pub subscriptions: Vec<String>,
}

/// A condition that decided a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonView {
    pub operand: String,
    pub path: String,
    pub operator: String,
    pub expected: String,
    pub actual: String,
    pub held: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryView {
    pub evaluation_id: i64,
    pub snapshot_at: String,
    pub evaluated_at: String,
    /// Why it was evaluated: "import", or what changed.
    pub reason: String,
    pub state: String,
    pub delta: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingDetail {
    pub item: FindingItem,
    pub snapshot_id: String,
    /// The evaluation shown.
    pub evaluation_id: i64,
    /// True when a past evaluation was asked for (`?evaluation=`/`?snapshot=`).
    pub past: bool,
    /// False when the finding is no longer evaluated (its last state is shown).
    pub present: bool,
    /// The resource page's link inside its snapshot, when it has one.
    pub resource_href: Option<String>,
    pub assignment_id: String,
    pub effect: String,
    pub rationale: String,
    pub remediation_az: Option<String>,
    pub remediation_arm: Option<String>,
    /// (framework, requirement ids).
    pub frameworks: Vec<(String, String)>,
    pub reasons: Vec<ReasonView>,
    pub message: Option<String>,
    pub evidence_raw: String,
    pub evidence_hash: String,
    pub history: Vec<HistoryView>,
    /// (id, category) of the exemption that made it Exempt.
    pub exemption: Option<(i64, String)>,
    /// Whether the viewer may ask for an exemption from it.
    pub may_request: bool,
    /// Open requests (pending or approved) naming this finding's control on its resource.
    pub requests: Vec<(i64, String)>,
}

/// The dashboard's compliance section.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ComplianceView {
    pub snapshot_id: Option<String>,
    pub compliance: Option<f64>,
    pub by_state: Vec<(String, i64)>,
    pub failing_by_severity: Vec<(String, i64)>,
    pub failing_by_area: Vec<(String, i64)>,
    pub failing_by_framework: Vec<(String, i64)>,
    pub trend: Vec<(String, f64)>,
}

/// One control under one requirement, with its findings' counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequirementControl {
    pub control: String,
    pub title: String,
    pub severity: String,
    pub failing: i64,
    pub passing: i64,
    pub other: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub id: String,
    /// Passing, Failing or NotAssessed.
    pub state: String,
    pub controls: Vec<RequirementControl>,
}

/// A framework's score: requirements passing, failing and not assessed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkScoreView {
    pub name: String,
    pub passing: usize,
    pub failing: usize,
    pub not_assessed: usize,
    pub percent: Option<f64>,
}

/// A framework: its requirements, the controls mapped to each, and how the
/// newest evaluated snapshot fares.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameworkView {
    pub frameworks: Vec<String>,
    /// Every framework's score, in the order of `frameworks`.
    pub scores: Vec<FrameworkScoreView>,
    pub name: String,
    pub requirements: Vec<Requirement>,
    pub evaluated: bool,
}

/// A control assignment as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentView {
    pub id: String,
    pub display_name: String,
    pub control: String,
    pub severity: String,
    pub scope: String,
    /// One per line.
    pub not_scopes: String,
    /// Pretty JSON.
    pub parameters: String,
    /// The effect in force (the parameter, else the definition's default).
    pub effect: String,
    pub allowed_effects: Vec<String>,
    pub enforcement_mode: String,
    pub updated: String,
}
