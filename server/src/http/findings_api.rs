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
        "evaluation_id": f.evaluation_id,
        "evidence_hash": f.evidence_hash,
        "exemption_id": f.exemption_id,
        "present": f.present,
    })
}

/// The list's filters from a query string, or the 422 naming the bad one.
#[allow(clippy::result_large_err)]
fn filter_from(raw: Option<String>) -> Result<FindingFilter, Response> {
    let raw = raw.unwrap_or_default();
    if raw.len() > 4096 {
        return Err(unprocessable("query", "the query string is longer than 4096 bytes"));
    }
    let mut f = FindingFilter { page: 1, per_page: 50, ..Default::default() };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "state" => f.state = v,
            "severity" => f.severity = v,
            "control" => f.control = v,
            "framework" => f.framework = v,
            "area" => f.area = v,
            "failing" => match v.as_str() {
                "1" | "true" => f.failing = true,
                "0" | "false" => f.failing = false,
                _ => return Err(unprocessable("failing", format!("{v:?} is not 1 or 0"))),
            },
            "subscription" => f.subscription = v,
            "sort" => match attest_core::findings::query::Sort::parse(&v) {
                Ok(s) => f.sort = s,
                Err(_) => {
                    return Err(unprocessable(
                        "sort",
                        format!("{v:?} is not resource, -resource, state, first_seen or -first_seen"),
                    ))
                }
            },
            "resource" => f.resource = v,
            "snapshot" => match uuid::Uuid::parse_str(&v) {
                Ok(id) => f.snapshot = Some(id),
                Err(_) => return Err(unprocessable("snapshot", format!("{v:?} is not a snapshot id"))),
            },
            "evaluation" => match v.parse::<i64>() {
                Ok(e) => f.evaluation = Some(e),
                Err(_) => return Err(unprocessable("evaluation", format!("{v:?} is not an evaluation id"))),
            },
            "page" | "per_page" => match v.parse::<i64>() {
                Ok(n) if k == "page" => f.page = n,
                Ok(n) => f.per_page = n,
                Err(_) => return Err(unprocessable(&k, format!("{v:?} is not a number"))),
            },
            other => return Err(unprocessable(other, format!("unknown parameter {other:?}"))),
        }
    }
    Ok(f)
}

/// Any signed-in caller's filters, or the refusal (401, or a 422 naming
/// the bad parameter): what the list and its CSV export start with.
#[allow(clippy::result_large_err)]
fn allowed_filter(principal: Option<attest_core::Principal>, raw: Option<String>) -> Result<FindingFilter, Response> {
    require(principal, &[]).map_err(IntoResponse::into_response)?;
    filter_from(raw)
}

/// The same filters as the findings page, paged.
pub async fn list(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let f = match allowed_filter(principal, raw) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    match query::list(&state.pool, &f).await {
        Ok(page) => Json(json!({
            "snapshot_id": page.snapshot_id,
            "evaluation_id": page.evaluation_id,
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "findings": page.findings.iter().map(summary).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(e) => core_error(e),
    }
}

/// The columns of `GET /api/v1/findings.csv`, in order.
pub const CSV_COLUMNS: [&str; 15] = [
    "id",
    "control",
    "title",
    "severity",
    "state",
    "delta",
    "first_seen",
    "resource",
    "resource_type",
    "subscription_id",
    "assignment_id",
    "reference_id",
    "exemption_id",
    "evaluation_id",
    "evidence_hash",
];

/// The filtered list as CSV, every matching finding (paging ignored), in
/// the list's order; streamed, so a large export holds one batch at a time.
pub async fn csv(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut f = match allowed_filter(principal, raw) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    // Resolve the evaluation now: a bad snapshot is a 422 before any byte
    // is sent, and the export reads one evaluation even if another lands.
    let library = match attest_core::findings::definitions::Library::load_pool(&state.pool).await {
        Ok(l) => l,
        Err(e) => return core_error(e),
    };
    if let Err(e) = query::validate(&f, &library) {
        return core_error(e);
    }
    match query::At::resolve(&state.pool, f.snapshot, f.evaluation).await {
        Ok(at) => f.evaluation = at.map(|a| a.evaluation),
        Err(e) => return core_error(e),
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let mut head = csv::Writer::from_writer(Vec::new());
        let _ = head.write_record(CSV_COLUMNS);
        if tx.send(Ok(head.into_inner().unwrap_or_default())).await.is_err() {
            return;
        }
        let done = query::export(&pool, &f, &library, |rows| {
            let sender = tx.clone();
            async move {
                let mut w = csv::Writer::from_writer(Vec::new());
                for r in &rows {
                    let fields = [
                        r.id.to_string(),
                        r.control.clone(),
                        r.title.clone(),
                        r.severity.clone(),
                        r.state.clone(),
                        r.delta.clone(),
                        r.first_seen.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        r.resource_id.clone(),
                        r.resource_type.clone(),
                        r.subscription_id.clone().unwrap_or_default(),
                        r.assignment_id.clone(),
                        r.reference_id.clone(),
                        r.exemption_id.map(|e| e.to_string()).unwrap_or_default(),
                        r.evaluation_id.to_string(),
                        r.evidence_hash.clone(),
                    ];
                    w.write_record(&fields).map_err(|e| attest_core::CoreError::Internal(e.to_string()))?;
                }
                let bytes = w.into_inner().map_err(|e| attest_core::CoreError::Internal(e.to_string()))?;
                // A client that went away ends the export.
                sender.send(Ok(bytes)).await.map_err(|_| attest_core::CoreError::Internal("client gone".into()))
            }
        });
        if let Err(e) = done.await {
            tracing::warn!(error = %e, "findings export ended early");
            let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
        }
    });
    // poll_recv answers None again after the end, as a body may ask.
    let mut rx = rx;
    let body = axum::body::Body::from_stream(futures::stream::poll_fn(move |cx| rx.poll_recv(cx)));
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"findings.csv\""),
        ],
        body,
    )
        .into_response()
}

/// One finding, by its stable id, with its evidence and its history across
/// every evaluation: as it is now, or at `?evaluation=` / `?snapshot=`.
pub async fn one(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = require(principal, &[]) {
        return denied.into_response();
    }
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", format!("{id:?} is not a finding id")) };
    let raw = raw.unwrap_or_default();
    if raw.len() > 4096 {
        return unprocessable("query", "the query string is longer than 4096 bytes");
    }
    let (mut snapshot, mut evaluation) = (None, None);
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "snapshot" => match uuid::Uuid::parse_str(&v) {
                Ok(s) => snapshot = Some(s),
                Err(_) => return unprocessable("snapshot", format!("{v:?} is not a snapshot id")),
            },
            "evaluation" => match v.parse::<i64>() {
                Ok(e) => evaluation = Some(e),
                Err(_) => return unprocessable("evaluation", format!("{v:?} is not an evaluation id")),
            },
            other => return unprocessable(other, format!("unknown parameter {other:?}")),
        }
    }
    let found = async {
        let library = attest_core::findings::definitions::Library::load_pool(&state.pool).await?;
        let at = match (snapshot, evaluation) {
            (None, None) => None,
            _ => query::At::resolve(&state.pool, snapshot, evaluation).await?,
        };
        query::get_with(&state.pool, id, at.as_ref(), &library).await
    };
    match found.await {
        Ok((f, history)) => {
            let mut doc = summary(&f);
            doc["evidence"] = f.evidence.clone();
            doc["history"] = json!(history);
            Json(doc).into_response()
        }
        Err(e) => core_error(e),
    }
}
