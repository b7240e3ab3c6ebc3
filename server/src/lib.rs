//! Attest's server: configuration, the embedded PostgreSQL, the axum
//! application (Leptos pages, server functions, REST API) and the command line.

pub mod cli;
pub mod config;
pub mod database;
pub mod embedded_pg;
pub mod fake_arm;
pub mod http;
pub mod jobs;
pub mod policy_cli;
pub mod rbac_cli;
pub mod scan;
pub mod startup;
pub mod state;

pub use config::Config;
pub use state::AppState;
