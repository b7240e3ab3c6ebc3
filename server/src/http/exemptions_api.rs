//! `POST /api/v1/exemptions`, `POST /api/v1/exemptions/{id}/decisions` and
//! `GET /api/v1/exemptions/{id}`: the exemptions workflow for automation.
//! 403 when the caller may not, 409 when the request moved on, 422 naming
//! the field that is wrong.

use super::api_v1::{core_error, require, unprocessable};
use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::exemptions::{azure, decide, query, request, Decision, NewRequest};
use attest_core::Role;
use axum::{
    extract::{rejection::JsonRejection, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;

/// The body's JSON, or what is wrong with it for a 422: (the field, when
/// serde names one, else "body"; the message).
pub(crate) fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, (String, String)> {
    payload.map(|Json(v)| v).map_err(|rejection| {
        let text = rejection.body_text();
        let field = text.split('`').nth(1).filter(|f| !f.contains(' ')).unwrap_or("body").to_string();
        (field, text)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewExemption {
    finding: Option<i64>,
    assignment: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    controls: Vec<String>,
    #[serde(default)]
    reference_ids: Vec<String>,
    category: String,
    justification: String,
    #[serde(default)]
    compensating_controls: String,
    #[serde(default)]
    ticket: String,
    expires_on: String,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    payload: Result<Json<NewExemption>, JsonRejection>,
) -> Response {
    let who = match require(principal, &[Role::Requester, Role::Approver]) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let b = match body(payload) {
        Ok(b) => b,
        Err((field, message)) => return unprocessable(&field, message),
    };
    if b.finding.is_none() && (b.assignment.is_none() || b.scope.is_none()) {
        return unprocessable("finding", "name a finding, or an assignment and a scope");
    }
    let Ok(expires_on) = time::OffsetDateTime::parse(&b.expires_on, &Rfc3339) else {
        return unprocessable("expires_on", "an RFC 3339 time such as 2027-01-31T00:00:00Z");
    };
    let r = NewRequest {
        finding: b.finding,
        assignment_id: b.assignment.unwrap_or_default(),
        scope: b.scope.unwrap_or_default(),
        controls: b.controls,
        reference_ids: b.reference_ids,
        category: b.category,
        justification: b.justification,
        compensating_controls: b.compensating_controls,
        ticket: b.ticket,
        expires_on: Some(expires_on),
    };
    match request(&state.pool, &who, r).await {
        Ok(id) => (StatusCode::CREATED, Json(json!({"id": id}))).into_response(),
        Err(e) => core_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDecision {
    decision: String,
    comment: String,
}

pub async fn decision(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    payload: Result<Json<NewDecision>, JsonRejection>,
) -> Response {
    let who = match require(principal, &[]) {
        Ok(p) => p,
        Err(denied) => return denied.into_response(),
    };
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", format!("{id:?} is not an exemption id")) };
    let b = match body(payload) {
        Ok(b) => b,
        Err((field, message)) => return unprocessable(&field, message),
    };
    let Some(d) = Decision::parse(&b.decision).filter(|d| *d != Decision::Expire) else {
        return unprocessable("decision", "approve, reject, withdraw or revoke");
    };
    match decide(&state.pool, &who, id, d, &b.comment).await {
        Ok(done) => Json(json!({
            "id": done.id,
            "state": done.state,
            "approvals": done.approvals,
            "approvals_needed": done.approvals_needed,
        }))
        .into_response(),
        Err(e) => core_error(e),
    }
}

pub async fn one(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
) -> Response {
    if let Err(denied) = require(principal, &[]) {
        return denied.into_response();
    }
    let Ok(id) = id.parse::<i64>() else { return unprocessable("id", format!("{id:?} is not an exemption id")) };
    match query::get(&state.pool, id).await {
        Ok(d) => {
            let mut doc: Value = json!(d.exemption);
            doc["approvers"] = json!(d.approvers);
            doc["history"] = json!(d.history);
            doc["approved_against"] = json!(d.bindings);
            if d.exemption.state == "approved" {
                let x = azure::export(&d);
                doc["azure"] = json!({"arm": x.arm, "az": x.az});
            }
            Json(doc).into_response()
        }
        Err(e) => core_error(e),
    }
}
