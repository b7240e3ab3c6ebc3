//! Attest's domain and storage for the portal itself: local accounts, scoped
//! roles, API tokens, sign-in throttling and the hash-chained audit log.
//!
//! Every function that changes state takes a transaction and writes its audit
//! entry in it, so a change and its record commit or vanish together.

pub mod access;
pub mod audit;
pub mod checkpoints;
pub mod display;
pub mod error;
pub mod exemptions;
pub mod findings;
pub mod names;
pub mod password;
pub mod portal;
pub mod principal;
pub mod reviews;
pub mod role;
pub mod signin;
pub mod signing;
pub mod snapshot;
pub mod testing;
pub mod tokens;
pub mod users;

pub use error::{CoreError, CoreResult};
pub use principal::Principal;
pub use role::Role;

/// The migrations, embedded so that every `attest` command can bring an empty
/// database up to date before it touches it.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");
