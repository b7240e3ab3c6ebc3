//! Server-side glue for server functions: where they find the database and
//! the acting user, how they check roles, and how errors become statuses.

use crate::model::AppError;
use attest_core::{CoreError, Principal, Role};
use leptos::prelude::*;
use sqlx::PgPool;

/// What the server provides to every server function and page render.
#[derive(Clone)]
pub struct ServerContext {
    pub pool: PgPool,
    /// The portal's signing key and checkpoint copies (outside the database).
    pub notary: std::sync::Arc<attest_core::checkpoints::Notary>,
}

/// The acting user of a request, resolved by the server's authentication
/// middleware from the session cookie (or an API token on /api/v1).
#[derive(Clone, Debug, Default)]
pub struct CurrentPrincipal(pub Option<Principal>);

/// The client's address, as the server determined it (for sign-in throttling).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

/// Keys under which the session stores the signed-in user.
pub mod session_keys {
    pub const USER_ID: &str = "uid";
    /// When the session signed in, in nanoseconds since 1970, so that a
    /// password change even in the same second ends it (sessions holding
    /// only the older, whole-second `auth_at` end at their next request).
    pub const AUTHENTICATED_AT: &str = "auth_at_ns";
}

pub fn pool() -> Result<PgPool, AppError> {
    use_context::<ServerContext>().map(|c| c.pool).ok_or_else(|| {
        tracing::error!("ServerContext missing from the reactive context");
        AppError::Internal
    })
}

pub fn notary() -> Result<std::sync::Arc<attest_core::checkpoints::Notary>, AppError> {
    use_context::<ServerContext>().map(|c| c.notary).ok_or_else(|| {
        tracing::error!("ServerContext missing from the reactive context");
        AppError::Internal
    })
}

/// Sets the response status for an error, so pages rendered on the server and
/// server functions called over HTTP both answer with the right code.
pub fn fail(err: AppError) -> AppError {
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(err.status()) {
            res.set_status(status);
        }
    }
    err
}

pub async fn current() -> Result<Option<Principal>, AppError> {
    let axum::Extension(CurrentPrincipal(p)) =
        leptos_axum::extract::<axum::Extension<CurrentPrincipal>>().await.map_err(|e| {
            tracing::error!(error = %e, "no CurrentPrincipal on the request");
            fail(AppError::Internal)
        })?;
    Ok(p)
}

/// The acting user, if they hold one of `any_of`; 401 when nobody is signed
/// in, 403 when the roles do not allow it. An empty list means "any signed-in user".
pub async fn require(any_of: &[Role]) -> Result<Principal, AppError> {
    match current().await? {
        None => Err(fail(AppError::Unauthorized)),
        Some(p) if any_of.is_empty() || p.has_any(any_of) => Ok(p),
        Some(_) => Err(fail(AppError::Forbidden)),
    }
}

/// Converts a domain error, logging what the visitor is not shown.
pub fn core(err: CoreError) -> AppError {
    let app = match err {
        CoreError::NotFound { what } => AppError::NotFound(what),
        CoreError::Conflict(why) => AppError::Conflict(why),
        CoreError::Invalid { field, message } => AppError::Invalid { field: field.into(), message },
        CoreError::InvalidAt { path, message } => AppError::Invalid { field: path, message },
        CoreError::TooLarge { limit } => {
            AppError::Invalid { field: "file".into(), message: format!("larger than the limit of {limit} bytes") }
        }
        CoreError::Forbidden(_) => AppError::Forbidden,
        CoreError::Throttled { retry_after_secs } => AppError::Throttled { retry_after_secs },
        CoreError::Database(e) => {
            tracing::error!(error = %e, "database error in a server function");
            AppError::Internal
        }
        CoreError::Internal(e) => {
            tracing::error!(error = %e, "internal error in a server function");
            AppError::Internal
        }
    };
    fail(app)
}

impl From<CoreError> for AppError {
    fn from(err: CoreError) -> Self {
        core(err)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        core(CoreError::from(err))
    }
}

/// Formats a time for display (UTC, to the second).
pub fn fmt_time(t: time::OffsetDateTime) -> String {
    attest_core::display::time(t)
}

pub fn user_name(raw: &str) -> Result<attest_core::names::UserName, AppError> {
    attest_core::names::UserName::parse(raw).map_err(core)
}
