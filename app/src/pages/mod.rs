//! One page per file.

pub mod access;
pub mod approvals;
pub mod assignments;
pub mod audit;
pub mod dashboard;
pub mod diff;
pub mod exemption;
pub mod exemption_new;
pub mod exemptions;
pub mod finding;
pub mod findings;
pub mod frameworks;
pub mod import;
pub mod inventory;
pub mod not_found;
pub mod principal;
pub mod resource;
pub mod review;
pub mod reviews;
pub mod signin;
pub mod snapshots;
pub mod user;
pub mod users;
