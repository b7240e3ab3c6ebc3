//! Access review campaigns for automation: `POST /api/v1/reviews`,
//! `GET /api/v1/reviews/{id}`, its decisions, certification and export
//! (CSV of the items, or the `az` commands that carry out the decisions).
//! Auditors and admins; 409 once certified or while items are open.

use super::api_v1::{core_error, error, require, unprocessable};
use super::exemptions_api::body;
use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::reviews::{self, ItemFilter, NewDecision};
use attest_core::Role;
use axum::{
    extract::{rejection::JsonRejection, Path, RawQuery, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use serde_json::json;

/// Who runs reviews.
const REVIEWERS: &[Role] = &[Role::Auditor, Role::Admin];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    name: String,
    scope: String,
    snapshot: Option<uuid::Uuid>,
    /// `YYYY-MM-DD` or an RFC 3339 time.
    #[serde(default)]
    due: String,
    /// keep, revoke or recommendation (with `due`).
    #[serde(default)]
    on_due: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    payload: Result<Json<NewCampaign>, JsonRejection>,
) -> Response {
    let who = match require(principal, REVIEWERS) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let b = match body(payload) {
        Ok(b) => b,
        Err((field, message)) => return unprocessable(&field, message),
    };
    let due = match reviews::due::Due::parse(&b.due, &b.on_due, time::OffsetDateTime::now_utc()) {
        Ok(due) => due,
        Err(e) => return core_error(e),
    };
    if due.is_none() && !b.on_due.trim().is_empty() {
        return unprocessable("on_due", "only with a due date");
    }
    match reviews::create_due(&state.pool, &who.name, &b.name, &b.scope, b.snapshot, due).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => core_error(e),
    }
}

/// A campaign with its progress and every item.
pub async fn one(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = require(principal, REVIEWERS) {
        return denied.into_response();
    }
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", "not a review id") };
    let campaign = match reviews::campaign(&state.pool, id).await {
        Ok(c) => c,
        Err(e) => return core_error(e),
    };
    match reviews::items(&state.pool, id, &ItemFilter::default()).await {
        Ok(items) => {
            let mut doc = json!(campaign);
            doc["items"] = json!(items);
            Json(doc).into_response()
        }
        Err(e) => core_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    item: i64,
    decision: String,
    role: Option<String>,
    scope: Option<String>,
    comment: String,
}

pub async fn decide(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    payload: Result<Json<DecisionBody>, JsonRejection>,
) -> Response {
    let who = match require(principal, REVIEWERS) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", "not a review id") };
    let b = match body(payload) {
        Ok(b) => b,
        Err((field, message)) => return unprocessable(&field, message),
    };
    let d = NewDecision { decision: b.decision, role: b.role, scope: b.scope, comment: b.comment };
    match reviews::decide(&state.pool, &who.name, id, b.item, &d).await {
        Ok(item) => Json(item).into_response(),
        Err(e) => core_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertifyBody {
    comment: String,
}

pub async fn certify(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    payload: Result<Json<CertifyBody>, JsonRejection>,
) -> Response {
    let who = match require(principal, REVIEWERS) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", "not a review id") };
    let b = match body(payload) {
        Ok(b) => b,
        Err((field, message)) => return unprocessable(&field, message),
    };
    match reviews::certify(&state.pool, &who.name, id, &b.comment).await {
        Ok(()) => match reviews::campaign(&state.pool, id).await {
            Ok(c) => Json(c).into_response(),
            Err(e) => core_error(e),
        },
        Err(e) => core_error(e),
    }
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 19] = [
    "item",
    "assignment",
    "principal",
    "principal_name",
    "principal_type",
    "role",
    "scope",
    "level",
    "accounts",
    "flags",
    "decision",
    "new_role",
    "new_scope",
    "comment",
    "decided_by",
    "decided_at",
    "suggested",
    "suggested_from",
    "not_reviewed",
];

/// `?format=csv` (the default) or `?format=az`.
pub async fn export(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = require(principal, REVIEWERS) {
        return denied.into_response();
    }
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", "not a review id") };
    let mut format = "csv".to_string();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "format" if v == "csv" || v == "az" => format = v.into_owned(),
            "format" => return unprocessable("format", format!("{v:?} is not csv or az")),
            other => return unprocessable(other, format!("unknown parameter {other:?}")),
        }
    }
    let campaign = match reviews::campaign(&state.pool, id).await {
        Ok(c) => c,
        Err(e) => return core_error(e),
    };
    let items = match reviews::items(&state.pool, id, &ItemFilter::default()).await {
        Ok(items) => items,
        Err(e) => return core_error(e),
    };
    let (body, kind, ext) = if format == "az" {
        (reviews::export::az(&campaign, &items).into_bytes(), "text/x-shellscript; charset=utf-8", "sh")
    } else {
        let mut w = csv::Writer::from_writer(Vec::new());
        let time = |t: Option<time::OffsetDateTime>| {
            t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok()).unwrap_or_default()
        };
        let mut rows = vec![CSV_COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
        for i in &items {
            rows.push(vec![
                i.id.to_string(),
                i.assignment.clone(),
                i.principal.clone(),
                i.principal_name.clone(),
                i.principal_kind.clone(),
                i.role.clone(),
                i.scope.clone(),
                i.level.clone(),
                i.accounts.join(" "),
                i.flags.join(" "),
                i.decision.clone().unwrap_or_default(),
                i.new_role.clone().unwrap_or_default(),
                i.new_scope.clone().unwrap_or_default(),
                i.comment.clone().unwrap_or_default(),
                i.decided_by.clone().unwrap_or_default(),
                time(i.decided_at),
                i.suggested.clone().unwrap_or_default(),
                i.suggested_from.map(|s| s.to_string()).unwrap_or_default(),
                i.not_reviewed.to_string(),
            ]);
        }
        for r in rows {
            if let Err(e) = w.write_record(&r) {
                tracing::error!(error = %e, "writing a review's CSV");
                return error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({"error": "internal error; it has been logged"}),
                );
            }
        }
        (w.into_inner().unwrap_or_default(), "text/csv; charset=utf-8", "csv")
    };
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"review-{id}.{ext}\"")),
        ],
        body,
    )
        .into_response()
}
