//! Findings: a snapshot evaluated against the control assignments, one
//! finding per (assignment, control or initiative member, resource) with a
//! stable id, its state stored as spans over evaluations (written only when
//! it changes), with evidence, delta and first-seen time.

pub mod access;
pub mod assignments;
pub mod attest;
pub mod definitions;
pub mod evaluate;
pub mod frameworks;
mod incremental;
pub mod query;
mod staging;
pub mod subjects;

pub use evaluate::{evaluate_snapshot, reevaluate, Evaluation};
pub use query::{FindingFilter, FindingRow, FindingsPage};
