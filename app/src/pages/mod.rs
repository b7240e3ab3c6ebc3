//! One page per file.

pub mod audit;
pub mod dashboard;
pub mod not_found;
pub mod signin;
pub mod snapshots;
pub mod user;
pub mod users;
