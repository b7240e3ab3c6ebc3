//! Exemptions: requesting (requesters and approvers), deciding (approvers
//! over the scope; the requester withdraws), reading (every signed-in
//! role), the approvals queue, and the expiry limits (admins).

// `request_exemption`'s arguments are the request form's fields, posted flat
// so the form works before the page hydrates; the server macro copies them
// into the client stub too, so the allowance is module-wide.
#![allow(clippy::too_many_arguments)]

use crate::model::{AppError, AssignmentChoice, ExemptionDetailView, ExemptionItem, ExemptionsQuery, ExemptionsView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn item(
    e: &attest_core::exemptions::query::ExemptionRow,
    coverage: &std::collections::HashMap<i64, Vec<String>>,
) -> ExemptionItem {
    use crate::ssr::fmt_time;
    let controls = coverage.get(&e.id).map(|names| names.join(", ")).unwrap_or_default();
    ExemptionItem {
        id: e.id,
        state: e.state.clone(),
        category: e.category.clone(),
        scope: e.scope.clone(),
        assignment: e.assignment_id.rsplit('/').next().unwrap_or_default().to_string(),
        controls,
        severity: e.severity.clone(),
        requested_by: e.requested_by.clone(),
        requested_at: fmt_time(e.requested_at),
        expires_on: fmt_time(e.expires_on),
        drifted: e.drifted_at.is_some(),
    }
}

/// Parses an expiry: a date (`2027-01-31`, midnight UTC, as az takes it) or RFC 3339.
#[cfg(feature = "ssr")]
fn expiry(raw: &str) -> Result<time::OffsetDateTime, AppError> {
    use time::format_description::well_known::Rfc3339;
    let raw = raw.trim();
    let invalid = || AppError::Invalid {
        field: "expires_on".into(),
        message: "a date (2027-01-31) or an RFC 3339 time (2027-01-31T00:00:00Z)".into(),
    };
    if raw.is_empty() {
        return Err(AppError::Invalid { field: "expires_on".into(), message: "required".into() });
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(t);
    }
    let date =
        time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| invalid())?;
    Ok(date.midnight().assume_utc())
}

#[server(endpoint = "fn/exemptions/request")]
pub async fn request_exemption(
    finding: Option<i64>,
    assignment: Option<String>,
    scope: Option<String>,
    category: String,
    justification: String,
    compensating_controls: Option<String>,
    ticket: Option<String>,
    expires_on: String,
) -> Result<i64, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::exemptions::{request, NewRequest};
    use attest_core::Role;
    let me = require(&[Role::Requester, Role::Approver]).await?;
    let expires_on = expiry(&expires_on).map_err(fail)?;
    let id = request(
        &pool()?,
        &me,
        NewRequest {
            finding,
            assignment_id: assignment.unwrap_or_default(),
            scope: scope.unwrap_or_default(),
            category,
            justification,
            compensating_controls: compensating_controls.unwrap_or_default(),
            ticket: ticket.unwrap_or_default(),
            expires_on: Some(expires_on),
            ..Default::default()
        },
    )
    .await
    .map_err(core)?;
    Ok(id)
}

#[server(endpoint = "fn/exemptions/list")]
pub async fn list_exemptions(query: ExemptionsQuery) -> Result<ExemptionsView, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::exemptions::{azure, query as eq, request};
    use attest_core::Role;
    let me = require(&[]).await?;
    let pool = pool()?;
    let expiring =
        match query.expiring.trim() {
            "" => None,
            d => Some(d.parse::<i64>().map_err(|_| {
                fail(AppError::Invalid { field: "expiring".into(), message: "a number of days".into() })
            })?),
        };
    let filter = eq::ExemptionFilter {
        state: query.state,
        category: query.category,
        expiring_within_days: expiring,
        scope: query.scope,
    };
    let rows = eq::list(&pool, &filter).await.map_err(core)?;
    let coverage = eq::coverage(&pool, &rows).await.map_err(core)?;
    let (snapshot, found) = azure::in_newest_snapshot(&pool).await.map_err(core)?;
    Ok(ExemptionsView {
        items: rows.iter().map(|r| item(r, &coverage)).collect(),
        azure: found
            .into_iter()
            .map(|a| crate::model::AzureExemptionView {
                id: a.id,
                name: a.name,
                display_name: a.display_name,
                policy_assignment_id: a.policy_assignment_id,
                category: a.category,
                expires_on: a.expires_on.unwrap_or_default(),
            })
            .collect(),
        azure_snapshot: snapshot.map(|s| s.to_string()),
        limits: request::limits(&pool).await.map_err(core)?,
        may_set_limits: me.is_admin(),
        may_request: me.has_any(&[Role::Requester, Role::Approver]),
    })
}

#[server(endpoint = "fn/exemptions/get")]
pub async fn exemption(id: i64) -> Result<ExemptionDetailView, AppError> {
    use crate::ssr::{core, fmt_time, pool, require};
    use attest_core::exemptions::{azure, query as eq};
    let me = require(&[]).await?;
    let pool = pool()?;
    let d = eq::get(&pool, id).await.map_err(core)?;
    let e = &d.exemption;
    let coverage = eq::coverage(&pool, std::slice::from_ref(e)).await.map_err(core)?;
    let scope = attest_core::names::Scope::parse(&e.scope).ok();
    let approver = scope.as_ref().is_some_and(|s| me.may_approve(s, &[]));
    let own = e.requested_by == me.name;
    let export = (e.state == "approved").then(|| azure::export(&d));
    Ok(ExemptionDetailView {
        item: item(e, &coverage),
        assignment_id: e.assignment_id.clone(),
        justification: e.justification.clone(),
        compensating_controls: e.compensating_controls.clone(),
        ticket: e.ticket.clone(),
        finding_id: e.finding_id,
        approvals_needed: e.approvals_needed,
        approved_at: e.approved_at.map(fmt_time).unwrap_or_default(),
        drifted_at: e.drifted_at.map(fmt_time).unwrap_or_default(),
        history: d
            .history
            .iter()
            .map(|h| crate::model::ExemptionEventView {
                at: fmt_time(h.at),
                actor: h.actor.clone(),
                action: h.action.clone(),
                from_state: h.from_state.clone().unwrap_or_default(),
                to_state: h.to_state.clone(),
                comment: h.comment.clone(),
            })
            .collect(),
        bindings: d
            .bindings
            .iter()
            .map(|b| crate::model::BindingView {
                finding_id: b.finding_id,
                resource_id: b.resource_id.clone(),
                control: b.control.clone(),
                reference_id: b.reference_id.clone(),
                state: b.state.clone(),
                now: b.now.clone(),
                evidence_hash: b.evidence_hash.clone(),
            })
            .collect(),
        azure_arm: export.as_ref().and_then(|x| serde_json::to_string_pretty(&x.arm).ok()),
        azure_az: export.map(|x| x.az),
        may_decide: e.state == "pending" && approver && !own && !d.approvers.contains(&me.name),
        may_withdraw: e.state == "pending" && own,
        may_revoke: e.state == "approved" && (approver || own),
        approvers: d.approvers.clone(),
    })
}

/// approve, reject, withdraw or revoke, with a comment. Whether the caller
/// may is decided by the state machine (403 with the reason; 409 when the
/// request moved on meanwhile).
#[server(endpoint = "fn/exemptions/decide")]
pub async fn decide_exemption(id: i64, decision: String, comment: String) -> Result<String, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::exemptions::{decide, Decision};
    let me = require(&[]).await?;
    let Some(d) = Decision::parse(&decision).filter(|d| *d != Decision::Expire) else {
        return Err(fail(AppError::Invalid {
            field: "decision".into(),
            message: "approve, reject, withdraw or revoke".into(),
        }));
    };
    let done = decide(&pool()?, &me, id, d, &comment).await.map_err(core)?;
    Ok(done.state.as_str().to_string())
}

/// Pending requests the caller may decide.
#[server(endpoint = "fn/exemptions/queue")]
pub async fn approvals_queue() -> Result<Vec<ExemptionItem>, AppError> {
    use crate::ssr::{core, pool, require};
    use attest_core::Role;
    let me = require(&[Role::Approver]).await?;
    let pool = pool()?;
    let rows = attest_core::exemptions::query::queue(&pool, &me).await.map_err(core)?;
    let coverage = attest_core::exemptions::query::coverage(&pool, &rows).await.map_err(core)?;
    Ok(rows.iter().map(|r| item(r, &coverage)).collect())
}

/// For the navigation: (requests awaiting the caller, approved exemptions
/// drifted or expiring soon).
#[server(endpoint = "fn/exemptions/attention")]
pub async fn attention() -> Result<(usize, i64), AppError> {
    use crate::ssr::{core, pool, require};
    let me = require(&[]).await?;
    attest_core::exemptions::query::attention(&pool()?, &me, attest_core::exemptions::REMIND_DAYS).await.map_err(core)
}

/// The assignments a scope request can name.
#[server(endpoint = "fn/exemptions/assignments")]
pub async fn assignment_choices() -> Result<Vec<AssignmentChoice>, AppError> {
    use crate::ssr::{core, pool, require};
    use attest_core::Role;
    let me = require(&[Role::Requester, Role::Approver]).await?;
    let rows = attest_core::findings::assignments::list(&pool()?, &me.name).await.map_err(core)?;
    Ok(rows.into_iter().map(|r| AssignmentChoice { title: r.display_name, id: r.id }).collect())
}

/// Sets the longest exemption for a severity (admins).
#[server(endpoint = "fn/exemptions/limit")]
pub async fn set_exemption_limit(severity: String, max_days: i32) -> Result<(), AppError> {
    use crate::ssr::{core, pool, require};
    use attest_core::Role;
    let me = require(&[Role::Admin]).await?;
    attest_core::exemptions::request::set_limit(&pool()?, &me.name, &severity, max_days).await.map_err(core)
}
