//! Server functions, one area per file. Each is a thin adapter: check the
//! caller's roles, call the domain layer, shape the answer. Endpoints are
//! named (not hashed) so the authorization tests can call every one.

pub mod access;
pub mod admin;
pub mod assignments;
pub mod audit;
pub mod dashboard;
pub mod exemptions;
pub mod findings;
pub mod inventory;
pub mod reviews;
pub mod session;
pub mod snapshots;
