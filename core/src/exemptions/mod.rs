//! Exemptions: requests to exempt a scope from an assignment (or from some
//! of its controls), decided by approvers with separation of duties, bound
//! to the evidence they were approved against, expiring on their own.
//!
//! - [`state`]: the state machine, pure;
//! - [`request`]: asking, with the limits admins set;
//! - [`decide`]: approving, rejecting, withdrawing, revoking, one at a time;
//! - [`apply`]: what evaluation makes Exempt, and drift;
//! - [`expiry`]: the periodic job: expiry and reminders (portal and webhook);
//! - [`query`]: lists, one exemption with its history, the approvals queue;
//! - [`azure`]: Azure Policy's own exemptions, and exporting ours to Azure.

pub mod apply;
pub mod azure;
pub mod decide;
pub mod expiry;
pub mod query;
pub mod request;
pub mod state;

pub use decide::{decide, Decided};
pub use request::{request, NewRequest};
pub use state::{Decision, State};

/// Longest justification, compensating-controls text and comment.
pub const MAX_TEXT: usize = 4000;
/// Longest ticket reference.
pub const MAX_TICKET: usize = 200;
/// Most controls or initiative reference ids one request names.
pub const MAX_CONTROLS: usize = 50;
pub const CATEGORIES: [&str; 2] = ["Waiver", "Mitigated"];
/// Days before expiry that an approved exemption is flagged and reminded of.
pub const REMIND_DAYS: i64 = 14;
