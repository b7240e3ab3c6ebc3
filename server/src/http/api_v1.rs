//! The REST API under /api/v1, for automation with API tokens (or a session).

use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::{
    snapshot::{ingest, store},
    CoreError, Principal, Role,
};
use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension, Json, Router,
};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me))
        .route("/snapshots", post(import_snapshot))
        .route("/findings", get(super::findings_api::list))
        .route("/findings.csv", get(super::findings_api::csv))
        .route("/findings/{id}", get(super::findings_api::one))
        .route("/access", get(super::access_api::list))
        .route("/principals/{id}", get(super::access_api::principal))
        .route("/reviews", post(super::reviews_api::create))
        .route("/reviews/{id}", get(super::reviews_api::one))
        .route("/reviews/{id}/decisions", post(super::reviews_api::decide))
        .route("/reviews/{id}/certify", post(super::reviews_api::certify))
        .route("/reviews/{id}/export", get(super::reviews_api::export))
        .route("/openapi.json", get(super::findings_api::openapi))
        .route("/exemptions", post(super::exemptions_api::create))
        .route("/exemptions/{id}", get(super::exemptions_api::one))
        .route("/exemptions/{id}/decisions", post(super::exemptions_api::decision))
        .fallback(not_found)
}

pub(crate) fn error(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

/// 422 with the field that is wrong.
pub(crate) fn unprocessable(field: &str, message: impl Into<String>) -> Response {
    error(StatusCode::UNPROCESSABLE_ENTITY, json!({"error": message.into(), "field": field}))
}

/// A domain error as the API answers it; what callers are not shown is logged.
pub(crate) fn core_error(e: CoreError) -> Response {
    match e {
        CoreError::Invalid { field, message } => unprocessable(field, message),
        CoreError::Forbidden(why) => error(StatusCode::FORBIDDEN, json!({"error": why})),
        CoreError::Conflict(why) => error(StatusCode::CONFLICT, json!({"error": why})),
        CoreError::NotFound { what } => error(StatusCode::NOT_FOUND, json!({"error": format!("no {what}")})),
        other => {
            tracing::error!(error = %other, "an API request failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "internal error; it has been logged"}))
        }
    }
}

/// Why a caller was turned away.
pub(crate) enum Denied {
    Unauthorized,
    Forbidden,
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Unauthorized => {
                error(StatusCode::UNAUTHORIZED, json!({"error": "sign in or send Authorization: Bearer TOKEN"}))
            }
            Denied::Forbidden => error(StatusCode::FORBIDDEN, json!({"error": "your roles do not allow this"})),
        }
    }
}

/// The caller, if they hold one of `roles` (any signed-in caller when empty).
pub(crate) fn require(principal: Option<Principal>, roles: &[Role]) -> Result<Principal, Denied> {
    match principal {
        None => Err(Denied::Unauthorized),
        Some(p) if roles.is_empty() || p.has_any(roles) => Ok(p),
        Some(_) => Err(Denied::Forbidden),
    }
}

/// The caller's identity and roles: the simplest check that a token works.
async fn me(Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>) -> Response {
    match require(principal, &[]) {
        Ok(p) => Json(json!({"name": p.name, "grants": p.grants})).into_response(),
        Err(denied) => denied.into_response(),
    }
}

/// Imports a snapshot file (JSON, or gzip): 201 when stored, 200 when the
/// same snapshot was already stored, 422 naming the field that is wrong.
async fn import_snapshot(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    body: Body,
) -> Response {
    let principal = match require(principal, &[Role::Admin]) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let limit = state.config.import_limit_bytes;
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return error(StatusCode::PAYLOAD_TOO_LARGE, json!({"error": format!("larger than {limit} bytes")})),
    };
    match ingest::import(&state.pool, std::io::Cursor::new(bytes), limit, store::Source::Api, &principal.name).await.map(|(s, _)| s) {
        Ok(stored) if stored.created => (
            StatusCode::CREATED,
            Json(json!({"id": stored.id, "stored": true, "resources": stored.resources, "new_documents": stored.new_documents})),
        )
            .into_response(),
        Ok(stored) => (
            StatusCode::OK,
            Json(json!({"id": stored.id, "stored": false, "message": "identical to a stored snapshot; nothing written"})),
        )
            .into_response(),
        Err(CoreError::TooLarge { limit }) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, json!({"error": format!("larger than {limit} bytes")}))
        }
        Err(CoreError::InvalidAt { path, message }) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, json!({"error": message, "path": path}))
        }
        Err(e) => {
            tracing::error!(error = %e, "importing a snapshot");
            error(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "internal error; it has been logged"}))
        }
    }
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, json!({"error": "no such API endpoint"}))
}
