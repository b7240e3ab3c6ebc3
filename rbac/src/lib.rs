//! Azure role-based access control, evaluated offline: role definitions,
//! role and deny assignments in; whether a principal may perform an action
//! at a scope, and through which assignments, out. No I/O.
//!
//! The rules are Azure's (see `engine`): an assignment reaches its scope and
//! everything below it; a permission block grants what its `actions` (or
//! `dataActions`) match and that same block's `notActions` do not; deny
//! assignments remove what they match whatever roles grant; conditions make
//! a grant conditional, never unconditional.

pub mod access;
pub mod documents;
pub mod engine;
pub mod flags;
pub mod pattern;
pub mod scope;

pub use access::{Index, Level, LevelGrant, PrincipalAccess};
pub use documents::{DenyAssignment, ParseError, Permission, RoleAssignment, RoleDefinition, ScheduleInstance};
pub use engine::{can, Operation, Verdict};
pub use flags::{principal_kind, AccountFacts, Check, Checker, Flag, PrincipalFacts, Revocation};
pub use scope::Hierarchy;
