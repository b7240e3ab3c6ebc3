//! `GET /api/v1/findings`, `GET /api/v1/findings/{id}` and the OpenAPI
//! document that describes the API.

use super::api_v1::{core_error, error, require, unprocessable};
use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::findings::{query, FindingFilter, FindingRow};
use axum::{
    extract::{Path, RawQuery, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde_json::{json, Value};

/// The OpenAPI document, kept beside the code it describes; a test checks
/// that it lists every route under /api/v1.
pub const OPENAPI: &str = include_str!("openapi.json");

pub async fn openapi() -> Response {
    match serde_json::from_str::<Value>(OPENAPI) {
        Ok(doc) => Json(doc).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document does not parse");
            error(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": "internal error; it has been logged"}))
        }
    }
}

fn summary(f: &FindingRow) -> Value {
    json!({
        "id": f.id,
        "control": f.control,
        "title": f.title,
        "resource": f.resource_id,
        "resource_type": f.resource_type,
        "subscription_id": f.subscription_id,
        "state": f.state,
        "severity": f.severity,
        "area": f.area,
        "effect": f.effect,
        "delta": f.delta,
        "first_seen": f.first_seen.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "assignment_id": f.assignment_id,
        "snapshot_id": f.snapshot_id,
        "evidence_hash": f.evidence_hash,
    })
}

/// The same filters as the findings page, paged.
pub async fn list(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = require(principal, &[]) {
        return denied.into_response();
    }
    let raw = raw.unwrap_or_default();
    if raw.len() > 4096 {
        return unprocessable("query", "the query string is longer than 4096 bytes");
    }
    let mut f = FindingFilter { page: 1, per_page: 50, ..Default::default() };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "state" => f.state = v,
            "severity" => f.severity = v,
            "control" => f.control = v,
            "framework" => f.framework = v,
            "subscription" => f.subscription = v,
            "resource" => f.resource = v,
            "snapshot" => match uuid::Uuid::parse_str(&v) {
                Ok(id) => f.snapshot = Some(id),
                Err(_) => return unprocessable("snapshot", format!("{v:?} is not a snapshot id")),
            },
            "page" | "per_page" => match v.parse::<i64>() {
                Ok(n) if k == "page" => f.page = n,
                Ok(n) => f.per_page = n,
                Err(_) => return unprocessable(&k, format!("{v:?} is not a number")),
            },
            other => return unprocessable(other, format!("unknown parameter {other:?}")),
        }
    }
    match query::list(&state.pool, &f).await {
        Ok(page) => Json(json!({
            "snapshot_id": page.snapshot_id,
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "findings": page.findings.iter().map(summary).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => core_error(e),
    }
}

/// One finding with its evidence and history.
pub async fn one(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = require(principal, &[]) {
        return denied.into_response();
    }
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", format!("{id:?} is not a finding id")) };
    match query::get(&state.pool, id).await {
        Ok((f, history)) => {
            let mut doc = summary(&f);
            doc["evidence"] = f.evidence.clone();
            doc["history"] = json!(history);
            Json(doc).into_response()
        }
        Err(e) => core_error(e),
    }
}
