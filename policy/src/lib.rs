//! The Azure Policy definition language, evaluated offline against ARM
//! resource documents.
//!
//! The evaluator is pure: the resource, its related resources, the parameter
//! values and the clock are handed in, and an [`Outcome`] comes back naming
//! the conditions that decided it. One faulty definition yields an `Error`
//! outcome for that definition and never aborts a wider evaluation.

pub mod alias;
pub mod assignment;
pub mod catalogue;
pub mod compare;
pub mod definition;
pub mod effect;
pub mod error;
pub mod evaluate;
pub mod field;
pub mod functions;
pub mod rule;
pub mod state;
pub mod template;

pub use assignment::{Assignment, Exemption};
pub use definition::{Definition, Initiative, PolicyDocument};
pub use effect::Effect;
pub use error::PolicyError;
pub use evaluate::{evaluate, Input, Outcome};
pub use rule::Reason;
pub use state::ComplianceState;
