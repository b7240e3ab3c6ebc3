//! Who is asking: resolves the session cookie (or, on /api/v1, a bearer
//! token) to a principal for the handlers, enforces idle and absolute session
//! expiry, and sends visitors who are not signed in to the sign-in page.

use crate::AppState;
use app::ssr::{session_keys, ClientAddr, CurrentPrincipal};
use attest_core::{tokens, users, Principal};
use axum::{
    extract::{ConnectInfo, Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Json,
};
use secrecy::SecretString;
use std::net::SocketAddr;
use time::OffsetDateTime;
use tower_sessions::Session;
use uuid::Uuid;

pub async fn resolve_principal(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let client = client_addr(&state, &req);
    req.extensions_mut().insert(ClientAddr(client));

    let bearer = bearer_token(req.headers()).map(|t| SecretString::from(t.to_string()));
    let principal = match bearer {
        Some(token) if req.uri().path().starts_with("/api/v1/") => {
            match tokens::authenticate(&state.pool, &token).await {
                Ok(Some(p)) => Some(p),
                Ok(None) => return unauthorized("the API token is unknown, revoked, or its user is disabled"),
                Err(e) => return internal(e),
            }
        }
        _ => match from_session(&state, &session).await {
            Ok(p) => p,
            Err(e) => return internal(e),
        },
    };
    req.extensions_mut().insert(CurrentPrincipal(principal));
    next.run(req).await
}

/// The token of an `Authorization: Bearer …` header (the scheme is
/// case-insensitive, RFC 9110 §11.1); any other scheme is no token.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The session's user, if the session is still valid: the account exists and
/// is enabled, its password has not changed since sign-in, and sign-in was
/// less than the absolute lifetime ago. Otherwise the session is deleted.
async fn from_session(state: &AppState, session: &Session) -> anyhow::Result<Option<Principal>> {
    let Some(user_id) = session.get::<Uuid>(session_keys::USER_ID).await? else {
        return Ok(None);
    };
    // Nanoseconds: a session signed in before a password change ends even
    // when both fell in the same second.
    let authenticated_at = i128::from(session.get::<i64>(session_keys::AUTHENTICATED_AT).await?.unwrap_or(0));
    let absolute = i128::from(state.config.session_absolute_hours) * 3_600 * 1_000_000_000;
    let now = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let valid = match users::principal(&state.pool, user_id).await? {
        Some((p, password_changed_at))
            if now - authenticated_at < absolute && password_changed_at.unix_timestamp_nanos() < authenticated_at =>
        {
            Some(p)
        }
        _ => None,
    };
    if valid.is_none() {
        session.flush().await?;
    }
    Ok(valid)
}

fn client_addr(state: &AppState, req: &Request) -> String {
    if state.config.trust_forwarded_for {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(|s| s.trim().to_string());
        if let Some(addr) = forwarded.filter(|a| !a.is_empty()) {
            return addr;
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn unauthorized(message: &str) -> Response {
    let mut res = (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": message}))).into_response();
    res.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    res
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "resolving the request's user");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}

/// Paths anyone may fetch without signing in.
fn is_public(path: &str) -> bool {
    path == "/signin"
        || path.starts_with("/api/")
        || path.starts_with("/pkg/")
        || matches!(path, "/healthz" | "/readyz" | "/favicon.svg" | "/favicon.ico" | "/robots.txt")
}

/// Sends visitors to the sign-in page (remembering where they were going),
/// and signed-in users away from it.
pub async fn page_guard(req: Request, next: Next) -> Response {
    let signed_in = req.extensions().get::<CurrentPrincipal>().is_some_and(|p| p.0.is_some());
    let path = req.uri().path();
    if req.method() == axum::http::Method::GET {
        if !signed_in && !is_public(path) {
            let target = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let next: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
            return Redirect::to(&format!("/signin?next={next}")).into_response();
        }
        if signed_in && path == "/signin" {
            return Redirect::to("/").into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_sign_in_assets_and_probes_are_public_pages() {
        for p in ["/signin", "/pkg/attest.js", "/healthz", "/readyz", "/api/fn/session/current", "/api/v1/me"] {
            assert!(is_public(p), "{p}");
        }
        for p in ["/", "/admin/users", "/admin/audit", "/signin/x", "/pkgx"] {
            assert!(!is_public(p), "{p}");
        }
    }
}
