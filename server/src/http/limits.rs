//! Request body limits: small for pages, forms and server functions; large
//! for snapshot uploads. A declared length over the limit is refused at
//! once (413); a body without one is cut off at the limit.

use crate::AppState;
use axum::{
    body::Body,
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// Paths that accept snapshot files.
pub fn is_upload(path: &str) -> bool {
    path == "/api/v1/snapshots" || path == super::upload::PATH
}

/// Room for the multipart envelope around a file posted from the upload form.
const FORM_OVERHEAD: usize = 64 * 1024;

pub async fn body_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let limit = match path {
        p if p == super::upload::PATH => state.config.import_limit_bytes + FORM_OVERHEAD,
        p if p.starts_with(super::attest::PREFIX) => attest_core::findings::attest::MAX_ATTACHMENT + FORM_OVERHEAD,
        p if p == super::definitions::PATH => attest_core::findings::definitions::MAX_DOCUMENT + FORM_OVERHEAD,
        p if is_upload(p) => state.config.import_limit_bytes,
        _ => state.config.body_limit_bytes,
    };
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body larger than {limit} bytes")).into_response();
    }
    let (parts, body) = req.into_parts();
    let body = Body::new(http_body_util::Limited::new(body, limit));
    next.run(Request::from_parts(parts, body)).await
}
