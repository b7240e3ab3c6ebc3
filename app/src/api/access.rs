//! Effective access for auditors and admins: the Access list (who can do
//! what to each account, with the flags it raises) and one principal's
//! access across the estate. Directory names and who holds keys are for
//! those who review access, not every reader of findings.

use crate::model::{AccessQuery, AccessView, AppError, PrincipalDetail};
use leptos::prelude::*;

/// Rows per Access page.
pub const PAGE_SIZE: i64 = 50;

#[cfg(feature = "ssr")]
mod shape {
    use crate::model::{AccessItem, AssignmentItem, FlagItem, LevelItem, MemberItem, PrincipalSummary};
    use attest_core::access::{AccessRow, PrincipalInfo, Resolution};

    pub fn resource_href(snapshot: &str, kind: &str, id: &str) -> String {
        let q =
            form_urlencoded::Serializer::new(String::new()).append_pair("kind", kind).append_pair("id", id).finish();
        format!("/snapshots/{snapshot}/resource?{q}")
    }

    pub fn principal(p: &PrincipalInfo) -> PrincipalSummary {
        PrincipalSummary {
            id: p.id.clone(),
            kind: p.kind.clone(),
            name: p.name().to_string(),
            detail: p.user_principal_name.clone().or_else(|| p.app_id.clone()).unwrap_or_default(),
            guest: p.guest,
            resolution: match p.resolution {
                Resolution::Resolved => "resolved",
                Resolution::Deleted => "deleted",
                Resolution::Unresolved => "unresolved",
            }
            .into(),
            members: p.members.as_ref().map(|members| {
                members
                    .iter()
                    .map(|m| MemberItem {
                        id: m.id.clone(),
                        kind: m.kind.as_str().to_string(),
                        name: m.display_name.clone().unwrap_or_else(|| m.id.clone()),
                        detail: m.user_principal_name.clone().unwrap_or_default(),
                        guest: m.guest,
                        disabled: m.enabled == Some(false),
                    })
                    .collect()
            }),
        }
    }

    /// What a check's flag says, and its control's severity in the catalogue.
    pub fn flag(name: &str) -> (String, String) {
        let label = attest_core::access::checks()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| name.to_string(), |(_, label)| label.to_string());
        let severity = attest_policy::catalogue::controls()
            .iter()
            .find(|c| c.definition.name == name)
            .map_or_else(|| "Medium".to_string(), |c| c.severity.as_str().to_string());
        (label, severity)
    }

    pub fn row(snapshot: &str, r: &AccessRow) -> AccessItem {
        AccessItem {
            account_id: r.account_id.clone(),
            account_name: r.account_name.clone(),
            account_href: resource_href(snapshot, "account", &r.account_id),
            subscription_id: r.subscription_id.clone(),
            principal: principal(&r.principal),
            levels: r
                .levels
                .iter()
                .map(|l| LevelItem { level: l.level.into(), label: l.label.into(), conditional: l.conditional })
                .collect(),
            assignments: r
                .assignments
                .iter()
                .map(|a| AssignmentItem {
                    id: a.id.clone(),
                    role: a.role.clone(),
                    custom_role: a.custom_role,
                    scope: a.scope.clone(),
                    inherited: a.inherited,
                    activated: a.activated,
                    conditional: a.condition.is_some(),
                    href: resource_href(snapshot, "role_assignment", &a.id),
                })
                .collect(),
            denied_by: r.denied_by.clone(),
            flags: r
                .flags
                .iter()
                .map(|f| {
                    let (title, severity) = flag(f.check);
                    FlagItem {
                        check: f.check.into(),
                        title,
                        severity,
                        assignment: f.assignment.clone(),
                        reasons: f.reasons.clone(),
                    }
                })
                .collect(),
        }
    }
}

#[server(endpoint = "fn/access/list")]
pub async fn list_access(query: AccessQuery) -> Result<AccessView, AppError> {
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::{access, Role};
    require(&[Role::Auditor, Role::Admin]).await?;
    let pool = pool()?;
    let filter = access::AccessFilter {
        snapshot: None,
        account: query.account,
        principal: String::new(),
        principal_type: query.principal_type,
        level: query.level,
        flag: query.flag,
        subscription: query.subscription,
        flagged: query.flagged,
        page: query.page.max(1),
        per_page: PAGE_SIZE,
    };
    let page = access::list(&pool, &filter).await.map_err(|e| fail(core(e)))?;
    let snapshot = page.snapshot_id.to_string();
    let accounts = access::accounts(&pool, page.snapshot_id).await.map_err(|e| fail(core(e)))?;
    let subscriptions = access::subscriptions(&accounts);
    Ok(AccessView {
        snapshot_id: snapshot.clone(),
        snapshot_at: fmt_time(page.finished_at),
        graph: page.coverage.graph,
        pim: page.coverage.pim,
        items: page.rows.iter().map(|r| shape::row(&snapshot, r)).collect(),
        total: page.total,
        page: page.page,
        pages: (page.total + PAGE_SIZE - 1) / PAGE_SIZE,
        levels: access::levels().into_iter().map(|(l, label)| (l.to_string(), label.to_string())).collect(),
        flags: access::checks().into_iter().map(|(c, label)| (c.to_string(), label.to_string())).collect(),
        principal_types: access::principal_types()
            .iter()
            .map(|k| (k.to_string(), crate::model::principal_kind_label(k).to_string()))
            .collect(),
        subscriptions,
        accounts,
    })
}

#[server(endpoint = "fn/access/principal")]
pub async fn principal_access(id: String) -> Result<PrincipalDetail, AppError> {
    use crate::model::{EligibleItem, GroupItem};
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::{access, Role};
    require(&[Role::Auditor, Role::Admin]).await?;
    let pool = pool()?;
    let v = access::principal(&pool, None, &id).await.map_err(|e| fail(core(e)))?;
    let snapshot = v.snapshot_id.to_string();
    Ok(PrincipalDetail {
        snapshot_id: snapshot.clone(),
        snapshot_at: fmt_time(v.finished_at),
        graph: v.coverage.graph,
        pim: v.coverage.pim,
        principal: shape::principal(&v.principal),
        accounts: v.accounts.iter().map(|r| shape::row(&snapshot, r)).collect(),
        eligible: v
            .eligible
            .into_iter()
            .map(|e| EligibleItem {
                id: e.id,
                role: e.role,
                scope: e.scope,
                start: e.start.unwrap_or_default(),
                end: e.end.unwrap_or_default(),
                accounts: e.accounts,
            })
            .collect(),
        groups: v
            .groups
            .into_iter()
            .map(|g| GroupItem { name: g.display_name.unwrap_or_else(|| g.id.clone()), id: g.id, accounts: g.accounts })
            .collect(),
    })
}
