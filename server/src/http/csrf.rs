//! Cross-site request forgery protection for every state-changing request,
//! server functions included.
//!
//! Browsers label every request with where it came from (`Sec-Fetch-Site`,
//! and `Origin` on every non-GET request); a forged cross-site request cannot
//! fake either. So a non-safe request is accepted only when it is same-origin
//! by those headers — the approach of Go's `http.CrossOriginProtection` and
//! OWASP's "verifying origin with standard headers". Requests carrying an API
//! token are exempt: a bearer token is never sent ambiently by a browser.
//! SameSite=Strict session cookies are a second, independent layer.

use axum::{
    extract::Request,
    http::{header, Method, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn protect(req: Request, next: Next) -> Response {
    if is_allowed(&req) {
        next.run(req).await
    } else {
        tracing::warn!(path = %req.uri().path(), "cross-origin state-changing request refused");
        (StatusCode::FORBIDDEN, "cross-origin request refused").into_response()
    }
}

fn is_allowed(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let headers = req.headers();
    // Only a bearer token, which then alone authenticates the request (the
    // cookie is not read); any other Authorization header is no exemption.
    if req.uri().path().starts_with("/api/v1/") && super::auth::bearer_token(headers).is_some() {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    // Older browsers: compare Origin with the host the request was sent to.
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST)) else {
        return false;
    };
    let (Ok(origin), Ok(host)) = (origin.to_str(), host.to_str()) else {
        return false;
    };
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|a| a.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn req(method: Method, path: &str, headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn safe_methods_pass() {
        assert!(is_allowed(&req(Method::GET, "/", &[("sec-fetch-site", "cross-site")])));
    }

    #[test]
    fn same_origin_posts_pass_and_cross_site_ones_do_not() {
        assert!(is_allowed(&req(Method::POST, "/api/fn/x", &[("sec-fetch-site", "same-origin")])));
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &[("sec-fetch-site", "cross-site")])));
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &[("sec-fetch-site", "same-site")])));
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_match_the_host() {
        let ok = [("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")];
        assert!(is_allowed(&req(Method::POST, "/api/fn/x", &ok)));
        let evil = [("origin", "http://evil.example"), ("host", "127.0.0.1:3000")];
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &evil)));
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &[("host", "127.0.0.1:3000")])));
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &[("origin", "null"), ("host", "h")])));
    }

    #[test]
    fn bearer_requests_to_the_rest_api_are_exempt_but_not_elsewhere() {
        assert!(is_allowed(&req(Method::POST, "/api/v1/things", &[("authorization", "Bearer x")])));
        assert!(!is_allowed(&req(Method::POST, "/api/fn/x", &[("authorization", "Bearer x")])));
        assert!(is_allowed(&req(Method::POST, "/api/v1/things", &[("authorization", "bearer x")])));
        for other in ["Basic dTpw", "Bearer", "Bearer  ", "Token x", "x"] {
            assert!(!is_allowed(&req(Method::POST, "/api/v1/things", &[("authorization", other)])), "{other}");
        }
    }
}
