//! HTTP concerns around the handlers: authentication, CSRF, security headers,
//! health checks and the REST API.

pub mod access_api;
pub mod api_v1;
pub mod attest;
pub mod auth;
pub mod connections;
pub mod csrf;
pub mod definitions;
pub mod exemptions_api;
pub mod findings_api;
pub mod flash;
pub mod health;
pub mod host;
pub mod limits;
pub mod reviews_api;
pub mod security;
pub mod upload;
