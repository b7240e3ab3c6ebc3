//! `GET /api/v1/access` and `GET /api/v1/principals/{id}`: effective access
//! for auditors and admins, as the Access and principal pages show it.

use super::api_v1::{core_error, require, unprocessable};
use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::{access, Role};
use axum::{
    extract::{Path, RawQuery, State},
    response::{IntoResponse, Response},
    Extension, Json,
};
use serde_json::json;

/// Who may read effective access: those who review it.
const READERS: &[Role] = &[Role::Auditor, Role::Admin];

#[allow(clippy::result_large_err)]
fn snapshot_param(v: &str) -> Result<uuid::Uuid, Response> {
    uuid::Uuid::parse_str(v).map_err(|_| unprocessable("snapshot", format!("{v:?} is not a snapshot id")))
}

/// The list's filters from a query string, or the 422 naming the bad one.
#[allow(clippy::result_large_err)]
fn filter_from(raw: Option<String>) -> Result<access::AccessFilter, Response> {
    let raw = raw.unwrap_or_default();
    if raw.len() > 8192 {
        return Err(unprocessable("query", "the query string is longer than 8192 bytes"));
    }
    let mut f = access::AccessFilter { page: 1, per_page: 50, ..Default::default() };
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "account" => f.account = v,
            "principal" => f.principal = v,
            "principal_type" => f.principal_type = v,
            "level" => f.level = v,
            "flag" => f.flag = v,
            "subscription" => f.subscription = v,
            "flagged" => match v.as_str() {
                "1" | "true" => f.flagged = true,
                "0" | "false" | "" => f.flagged = false,
                _ => return Err(unprocessable("flagged", format!("{v:?} is not true or false"))),
            },
            "snapshot" => f.snapshot = Some(snapshot_param(&v)?),
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

/// Every (account, principal) pair with the levels, assignments and flags.
pub async fn list(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = require(principal, READERS) {
        return denied.into_response();
    }
    let filter = match filter_from(raw) {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    match access::list(&state.pool, &filter).await {
        Ok(page) => Json(json!({
            "snapshot_id": page.snapshot_id,
            "finished_at": page.finished_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "coverage": page.coverage,
            "total": page.total,
            "page": page.page,
            "per_page": page.per_page,
            "items": page.rows,
        }))
        .into_response(),
        Err(e) => core_error(e),
    }
}

/// One principal across the estate; `?snapshot=` reads an older snapshot.
pub async fn principal(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(caller)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(denied) = require(caller, READERS) {
        return denied.into_response();
    }
    let mut snapshot = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "snapshot" => match snapshot_param(&v) {
                Ok(s) => snapshot = Some(s),
                Err(refused) => return refused,
            },
            other => return unprocessable(other, format!("unknown parameter {other:?}")),
        }
    }
    match access::principal(&state.pool, snapshot, &id).await {
        Ok(view) => Json(view).into_response(),
        Err(e) => core_error(e),
    }
}
