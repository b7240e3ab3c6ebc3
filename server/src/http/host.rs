//! With `public_url` set, only requests addressed to its host are served:
//! a page reached under another name (a DNS rebinding attack points an
//! attacker's name at the portal's address) would otherwise be same-origin
//! to the attacker's scripts. Health probes, which load balancers send by
//! address, are exempt.

use crate::AppState;
use axum::{
    extract::{Request, State},
    http::{header, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

/// The `host[:port]` a request must name, from `public_url` (the port only
/// when it is not the scheme's default, as browsers send it).
pub fn expected_authority(public_url: &str) -> Option<String> {
    let url = url::Url::parse(public_url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

pub async fn only_public_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.config.public_url.as_deref().and_then(expected_authority) else {
        return next.run(req).await;
    };
    if matches!(req.uri().path(), "/healthz" | "/readyz") {
        return next.run(req).await;
    }
    let headers = req.headers();
    // Behind a proxy trusted for X-Forwarded-For, the name the browser used
    // may arrive as X-Forwarded-Host instead.
    let forwarded = state
        .config
        .trust_forwarded_for
        .then(|| headers.get("x-forwarded-host"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim);
    let named = forwarded
        .or_else(|| headers.get(header::HOST).and_then(|v| v.to_str().ok()))
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase());
    let default_port = if state.config.https() { ":443" } else { ":80" };
    match named {
        Some(h) if h == expected || h.strip_suffix(default_port) == Some(expected.as_str()) => next.run(req).await,
        _ => (
            StatusCode::MISDIRECTED_REQUEST,
            format!("This portal answers at {} only.\n", state.config.public_url.as_deref().unwrap_or_default()),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::expected_authority;

    #[test]
    fn the_authority_is_the_host_and_a_port_other_than_the_default() {
        assert_eq!(expected_authority("https://Attest.Example/").as_deref(), Some("attest.example"));
        assert_eq!(expected_authority("https://attest.example:443").as_deref(), Some("attest.example"));
        assert_eq!(expected_authority("http://10.0.0.5:3000/portal").as_deref(), Some("10.0.0.5:3000"));
        assert_eq!(expected_authority("not a url"), None);
    }
}
