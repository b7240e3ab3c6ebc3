//! Access review campaigns for auditors and admins: the list and the scopes
//! a new campaign may cover, starting one, its review screen, deciding an
//! item or a filtered selection, and certifying it.

use crate::model::{AppError, ReviewDetail, ReviewQuery, ReviewsView};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
mod shape {
    use crate::model::{ReviewItemView, ReviewSummary};
    use attest_core::reviews::{Campaign, Item};

    pub fn summary(c: &Campaign) -> ReviewSummary {
        use crate::ssr::fmt_time;
        ReviewSummary {
            id: c.id,
            name: c.name.clone(),
            scope: c.scope.clone(),
            snapshot_id: c.snapshot_id.to_string(),
            created_by: c.created_by.clone(),
            created_at: fmt_time(c.created_at),
            gaps: c.gaps.clone(),
            certified_by: c.certified_by.clone().unwrap_or_default(),
            certified_at: c.certified_at.map(fmt_time).unwrap_or_default(),
            certify_comment: c.certify_comment.clone().unwrap_or_default(),
            due_at: c.due_at.map(fmt_time).unwrap_or_default(),
            on_due: attest_core::reviews::due::OnDue::parse(&c.on_due).map(|p| p.label()).unwrap_or("").to_string(),
            overdue: c.certified_at.is_none() && c.due_at.is_some_and(|d| d <= time::OffsetDateTime::now_utc()),
            closed_at_due: c.closed_at_due,
            items: c.items,
            decided: c.decided,
            flagged: c.flagged,
        }
    }

    pub fn item(snapshot: &str, i: &Item) -> ReviewItemView {
        let labels = attest_core::access::checks();
        let levels = attest_core::access::levels();
        let q = form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", "role_assignment")
            .append_pair("id", &i.assignment)
            .finish();
        ReviewItemView {
            id: i.id,
            assignment: i.assignment.clone(),
            assignment_href: format!("/snapshots/{snapshot}/resource?{q}"),
            principal: i.principal.clone(),
            principal_name: i.principal_name.clone(),
            principal_kind: i.principal_kind.clone(),
            role: i.role.clone(),
            scope: i.scope.clone(),
            accounts: i.accounts.clone(),
            flags: i
                .flags
                .iter()
                .map(|f| {
                    let label = labels.iter().find(|(n, _)| n == f).map_or(f.as_str(), |(_, l)| l);
                    (f.clone(), label.to_string())
                })
                .collect(),
            level_label: levels.iter().find(|(n, _)| *n == i.level).map_or(i.level.as_str(), |(_, l)| l).to_string(),
            decision: i.decision.clone().unwrap_or_default(),
            new_role: i.new_role.clone().unwrap_or_default(),
            new_scope: i.new_scope.clone().unwrap_or_default(),
            comment: i.comment.clone().unwrap_or_default(),
            decided_by: i.decided_by.clone().unwrap_or_default(),
            decided_at: i.decided_at.map(crate::ssr::fmt_time).unwrap_or_default(),
            suggested: i.suggested.clone().unwrap_or_default(),
            suggested_from: i.suggested_from,
            not_reviewed: i.not_reviewed,
        }
    }
}

#[server(endpoint = "fn/reviews/list")]
pub async fn list_reviews() -> Result<ReviewsView, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{access, reviews, Role};
    require(&[Role::Auditor, Role::Admin]).await?;
    let pool = pool()?;
    let all = reviews::list(&pool).await.map_err(|e| fail(core(e)))?;
    // The scopes of the newest snapshot: the root, each subscription, each account.
    let mut scopes = vec![("/".to_string(), "The whole estate (/)".to_string())];
    if let Ok((snapshot, _)) = access::resolve_snapshot(&pool, None).await {
        let accounts = access::accounts(&pool, snapshot).await.map_err(|e| fail(core(e)))?;
        scopes.extend(
            access::subscriptions(&accounts)
                .into_iter()
                .map(|s| (format!("/subscriptions/{s}"), format!("Subscription {s}"))),
        );
        scopes.extend(accounts.into_iter().map(|(id, name)| (id.to_ascii_lowercase(), format!("Account {name}"))));
    }
    Ok(ReviewsView { reviews: all.iter().map(shape::summary).collect(), scopes })
}

#[server(endpoint = "fn/reviews/create")]
pub async fn create_review(
    name: String,
    scope: String,
    #[server(default)] due: String,
    #[server(default)] on_due: String,
) -> Result<i64, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{reviews, Role};
    let who = require(&[Role::Auditor, Role::Admin]).await?;
    let due = reviews::due::Due::parse(&due, &on_due, time::OffsetDateTime::now_utc()).map_err(|e| fail(core(e)))?;
    reviews::create_due(&pool()?, &who.name, &name, &scope, None, due).await.map_err(|e| fail(core(e)))
}

#[server(endpoint = "fn/reviews/get")]
pub async fn review(query: ReviewQuery) -> Result<ReviewDetail, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{reviews, Role};
    require(&[Role::Auditor, Role::Admin]).await?;
    let pool = pool()?;
    let c = reviews::campaign(&pool, query.id).await.map_err(|e| fail(core(e)))?;
    let filter =
        reviews::ItemFilter { flagged: query.flagged, status: query.status, principal_kind: query.principal_type };
    let items = reviews::items(&pool, query.id, &filter).await.map_err(|e| fail(core(e)))?;
    let snapshot = c.snapshot_id.to_string();
    Ok(ReviewDetail { summary: shape::summary(&c), items: items.iter().map(|i| shape::item(&snapshot, i)).collect() })
}

#[server(endpoint = "fn/reviews/decide")]
pub async fn decide_item(
    campaign: i64,
    item: i64,
    decision: String,
    role: String,
    scope: String,
    comment: String,
) -> Result<(), AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{reviews, Role};
    let who = require(&[Role::Auditor, Role::Admin]).await?;
    let d = reviews::NewDecision { decision, role: Some(role), scope: Some(scope), comment };
    reviews::decide(&pool()?, &who.name, campaign, item, &d).await.map(|_| ()).map_err(|e| fail(core(e)))
}

#[server(endpoint = "fn/reviews/decide-bulk")]
pub async fn decide_bulk(
    campaign: i64,
    flagged: String,
    status: String,
    principal_type: String,
    decision: String,
    comment: String,
) -> Result<i64, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{reviews, Role};
    let who = require(&[Role::Auditor, Role::Admin]).await?;
    let filter = reviews::ItemFilter { flagged, status, principal_kind: principal_type };
    reviews::decide_where(&pool()?, &who.name, campaign, &filter, &decision, &comment).await.map_err(|e| fail(core(e)))
}

#[server(endpoint = "fn/reviews/certify")]
pub async fn certify_review(campaign: i64, comment: String) -> Result<(), AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::{reviews, Role};
    let who = require(&[Role::Auditor, Role::Admin]).await?;
    reviews::certify(&pool()?, &who.name, campaign, &comment).await.map_err(|e| fail(core(e)))
}
