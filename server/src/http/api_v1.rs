//! The REST API under /api/v1, for automation with API tokens (or a session).

use crate::AppState;
use app::ssr::CurrentPrincipal;
use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Extension, Json, Router,
};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new().route("/me", get(me)).fallback(not_found)
}

/// The caller's identity and roles: the simplest check that a token works.
async fn me(Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>) -> Response {
    match principal {
        Some(p) => Json(json!({"name": p.name, "grants": p.grants})).into_response(),
        None => {
            let mut res =
                (StatusCode::UNAUTHORIZED, Json(json!({"error": "sign in or send Authorization: Bearer TOKEN"})))
                    .into_response();
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            res
        }
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": "no such API endpoint"}))).into_response()
}
