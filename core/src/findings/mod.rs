//! Findings: a snapshot evaluated against the control assignments, one
//! finding per (assignment, control, resource), with evidence, delta
//! against the previous snapshot of the same scope, and first-seen time.

pub mod assignments;
pub mod attest;
pub mod definitions;
pub mod evaluate;
pub mod query;
pub mod subjects;

pub use evaluate::{evaluate_snapshot, reevaluate, Evaluation};
pub use query::{FindingFilter, FindingRow, FindingsPage};
