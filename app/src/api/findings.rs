//! Findings for every signed-in role: the filtered list, one finding with
//! its evidence and history, and the dashboard's compliance figures.

use crate::model::{AppError, ComplianceView, FindingDetail, FindingsQuery, FindingsView};
use leptos::prelude::*;

/// Findings per page.
pub const PAGE_SIZE: i64 = 50;

#[server(endpoint = "fn/findings/list")]
pub async fn list_findings(query: FindingsQuery) -> Result<FindingsView, AppError> {
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::findings::{query as fq, FindingFilter};
    require(&[]).await?;
    let pool = pool()?;
    // Exempted findings are shown apart, unless they are what is asked for.
    let exclude_state = if query.state.is_empty() { "Exempt".to_string() } else { String::new() };
    // What fails, unless a state is chosen or every state is asked for.
    let failing = query.state.is_empty() && !query.all;
    let filter = FindingFilter {
        snapshot: None,
        evaluation: None,
        state: query.state,
        severity: query.severity,
        control: query.control,
        framework: query.framework,
        area: query.area,
        subscription: query.subscription,
        resource: query.resource,
        exclude_state,
        failing,
        sort: fq::Sort::parse(&query.sort).map_err(|e| fail(core(e)))?,
        page: query.page.max(1),
        per_page: PAGE_SIZE,
    };
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.map_err(|e| fail(core(e)))?;
    let page = fq::list_with(&pool, &filter, &library).await.map_err(|e| fail(core(e)))?;
    let exempt = if filter.state.is_empty() {
        let f = FindingFilter {
            state: "Exempt".into(),
            exclude_state: String::new(),
            failing: false,
            page: 1,
            ..filter.clone()
        };
        fq::list_with(&pool, &f, &library).await.map_err(|e| fail(core(e)))?
    } else {
        attest_core::findings::FindingsPage {
            snapshot_id: None,
            evaluation_id: None,
            total: 0,
            by_control: vec![],
            page: 1,
            per_page: PAGE_SIZE,
            findings: vec![],
        }
    };
    let (snapshot_at, subscriptions) = match page.snapshot_id {
        Some(id) => match attest_core::snapshot::browse::finished_and_subscriptions(&pool, id)
            .await
            .map_err(|e| fail(core(e)))?
        {
            Some((at, subs)) => (Some(fmt_time(at)), subs),
            None => (None, vec![]),
        },
        None => (None, vec![]),
    };
    let names = match page.snapshot_id {
        Some(s) => attest_core::snapshot::browse::subscription_names(&pool, s).await.map_err(|e| fail(core(e)))?,
        None => Default::default(),
    };
    Ok(FindingsView {
        snapshot_id: page.snapshot_id.map(|s| s.to_string()),
        snapshot_at,
        total: page.total,
        page: page.page,
        pages: (page.total + PAGE_SIZE - 1) / PAGE_SIZE,
        group_counts: page.by_control.clone(),
        failing_only: failing,
        items: page.findings.into_iter().map(|r| shape::item(r, &names)).collect(),
        exempt: exempt.findings.into_iter().map(|r| shape::item(r, &names)).collect(),
        exempt_total: exempt.total,
        controls: attest_policy::catalogue::controls()
            .iter()
            .chain(library.imported())
            .map(|c| (c.definition.name.clone(), c.definition.display_name.clone()))
            .collect(),
        frameworks: fq::frameworks(),
        areas: library
            .controls()
            .map(|c| c.area.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        subscriptions,
    })
}

/// One finding by its stable id: as it is now, or at a past evaluation
/// (`evaluation`, or a `snapshot`'s current evaluation) when one is named.
#[server(endpoint = "fn/findings/get")]
pub async fn finding(id: i64, snapshot: Option<String>, evaluation: Option<i64>) -> Result<FindingDetail, AppError> {
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::findings::query as fq;
    let me = require(&[]).await?;
    let pool = pool()?;
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.map_err(|e| fail(core(e)))?;
    let snapshot = match snapshot.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(uuid::Uuid::parse_str(s).map_err(|_| {
            fail(AppError::Invalid { field: "snapshot".into(), message: format!("{s:?} is not a snapshot id") })
        })?),
        None => None,
    };
    let past = snapshot.is_some() || evaluation.is_some();
    let at = if past { fq::At::resolve(&pool, snapshot, evaluation).await.map_err(|e| fail(core(e)))? } else { None };
    let (row, history) = fq::get_with(&pool, id, at.as_ref(), &library).await.map_err(|e| fail(core(e)))?;
    use attest_core::exemptions::query as xq;
    let exemption = match row.exemption_id {
        Some(e) => xq::category(&pool, e).await.map_err(|e| fail(core(e)))?.map(|c| (e, c)),
        None => None,
    };
    let requests = xq::open_covering(&pool, &row.assignment_id, &row.control, &row.resource_id)
        .await
        .map_err(|e| fail(core(e)))?;
    let may_request = me.has_any(&[attest_core::Role::Requester, attest_core::Role::Approver]);
    let control = library.control(&row.control);
    let reasons = row.evidence["reasons"].as_array().cloned().unwrap_or_default();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "(missing)".into(),
        other => other.to_string(),
    };
    let kind = shape::kind(&row.resource_type);
    let resource_href = kind.map(|k| {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("kind", k)
            .append_pair("id", &row.resource_id)
            .finish();
        format!("/snapshots/{}/resource?{q}", row.snapshot_id)
    });
    Ok(FindingDetail {
        snapshot_id: row.snapshot_id.to_string(),
        evaluation_id: row.evaluation_id,
        past,
        present: row.present,
        resource_href,
        assignment_id: row.assignment_id.clone(),
        effect: row.effect.clone().unwrap_or_default(),
        rationale: control.map(|c| c.rationale.clone()).unwrap_or_default(),
        remediation_az: control.and_then(|c| c.remediation_az.clone()),
        remediation_arm: control
            .and_then(|c| c.remediation_arm.as_ref())
            .and_then(|v| serde_json::to_string_pretty(v).ok()),
        frameworks: control
            .map(|c| c.frameworks.iter().map(|(k, v)| (k.clone(), v.join(", "))).collect())
            .unwrap_or_default(),
        reasons: reasons
            .iter()
            .map(|r| crate::model::ReasonView {
                operand: text(&r["operand"]),
                path: r["path"].as_str().unwrap_or("").to_string(),
                operator: text(&r["operator"]),
                expected: text(&r["expected"]),
                actual: text(&r["actual"]),
                held: r["result"].as_bool().unwrap_or(false),
            })
            .collect(),
        message: row.evidence["message"].as_str().map(str::to_string),
        evidence_raw: serde_json::to_string_pretty(&row.evidence).unwrap_or_default(),
        evidence_hash: row.evidence_hash.clone(),
        history: history
            .into_iter()
            .map(|h| crate::model::HistoryView {
                evaluation_id: h.evaluation_id,
                snapshot_at: fmt_time(h.finished_at),
                evaluated_at: fmt_time(h.evaluated_at),
                reason: h.reason,
                state: h.state,
                delta: h.delta,
            })
            .collect(),
        item: shape::item(row, &Default::default()),
        exemption,
        may_request,
        requests,
    })
}

#[server(endpoint = "fn/findings/compliance")]
pub async fn compliance_summary() -> Result<ComplianceView, AppError> {
    use crate::ssr::{core, fail, pool, require};
    require(&[]).await?;
    let s = attest_core::findings::query::summary(&pool()?).await.map_err(|e| fail(core(e)))?;
    Ok(ComplianceView {
        snapshot_id: s.snapshot_id.map(|i| i.to_string()),
        compliance: s.compliance,
        by_state: s.by_state,
        failing_by_severity: s.failing_by_severity,
        failing_by_area: s.failing_by_area,
        failing_by_framework: s.failing_by_framework,
        trend: s.trend,
    })
}

#[cfg(feature = "ssr")]
pub(crate) mod shape {
    use crate::model::FindingItem;
    use attest_core::findings::FindingRow;

    /// The inventory kind of an ARM type, for links to the resource page.
    pub fn kind(resource_type: &str) -> Option<&'static str> {
        match resource_type.to_ascii_lowercase().as_str() {
            "microsoft.cognitiveservices/accounts" => Some("account"),
            "microsoft.cognitiveservices/accounts/deployments" => Some("deployment"),
            "microsoft.cognitiveservices/accounts/raipolicies" => Some("rai_policy"),
            "microsoft.authorization/roleassignments" => Some("role_assignment"),
            _ => None,
        }
    }

    /// The account named in an ARM id (`…/accounts/{name}/…`), if any.
    pub fn account_of(resource_id: &str) -> String {
        let mut parts = resource_id.split('/');
        while let Some(p) = parts.next() {
            if p.eq_ignore_ascii_case("accounts") {
                return parts.next().unwrap_or_default().to_string();
            }
        }
        String::new()
    }

    pub fn item(r: FindingRow, subscriptions: &std::collections::HashMap<String, String>) -> FindingItem {
        let subscription = r.subscription_id.clone().unwrap_or_default();
        FindingItem {
            account: account_of(&r.resource_id),
            subscription: subscriptions.get(&format!("/subscriptions/{subscription}")).cloned().unwrap_or(subscription),
            id: r.id,
            resource_name: r.resource_id.rsplit('/').next().unwrap_or_default().to_string(),
            control: r.control,
            title: r.title,
            resource_id: r.resource_id,
            resource_type: r.resource_type,
            state: r.state,
            severity: r.severity,
            area: r.area,
            delta: r.delta,
            first_seen: crate::ssr::fmt_time(r.first_seen),
            exemption_id: r.exemption_id,
        }
    }
}

/// A framework's requirements → controls → finding counts (the first
/// framework when `name` is empty).
#[server(endpoint = "fn/findings/framework")]
pub async fn framework(name: String) -> Result<crate::model::FrameworkView, AppError> {
    use crate::model::{FrameworkView, Requirement, RequirementControl};
    use crate::ssr::{core, fail, pool, require};
    use attest_core::findings::query as fq;
    require(&[]).await?;
    let frameworks = fq::frameworks();
    let name = if name.is_empty() { frameworks.first().cloned().unwrap_or_default() } else { name };
    if !frameworks.contains(&name) {
        return Err(fail(AppError::Invalid { field: "name".into(), message: format!("unknown framework {name:?}") }));
    }
    let counts = fq::counts_by_control(&pool()?).await.map_err(|e| fail(core(e)))?;
    let evaluated = !counts.is_empty();
    // Requirement → controls, per framework, from the catalogue's mappings.
    let mapping = |framework: &str| {
        let mut m: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for c in attest_policy::catalogue::controls() {
            for id in c.frameworks.get(framework).into_iter().flatten() {
                m.entry(id.clone()).or_default().push(c.definition.name.clone());
            }
        }
        m
    };
    use attest_core::findings::frameworks::score;
    let scores: Vec<crate::model::FrameworkScoreView> = frameworks
        .iter()
        .map(|f| {
            let s = score(f, &mapping(f), &counts);
            crate::model::FrameworkScoreView {
                name: s.name,
                passing: s.passing,
                failing: s.failing,
                not_assessed: s.not_assessed,
                percent: s.percent,
            }
        })
        .collect();
    let states: std::collections::HashMap<String, String> = score(&name, &mapping(&name), &counts)
        .requirements
        .into_iter()
        .map(|r| (r.id, format!("{:?}", r.state)))
        .collect();
    let mut requirements: std::collections::BTreeMap<String, Vec<RequirementControl>> = Default::default();
    for c in attest_policy::catalogue::controls() {
        let Some(ids) = c.frameworks.get(&name) else { continue };
        let (failing, passing, other) = counts.get(&c.definition.name).copied().unwrap_or_default();
        for id in ids {
            requirements.entry(id.clone()).or_default().push(RequirementControl {
                control: c.definition.name.clone(),
                title: c.definition.display_name.clone(),
                severity: c.severity.as_str().into(),
                failing,
                passing,
                other,
            });
        }
    }
    Ok(FrameworkView {
        frameworks,
        name,
        requirements: requirements
            .into_iter()
            .map(|(id, controls)| Requirement { state: states.get(&id).cloned().unwrap_or_default(), id, controls })
            .collect(),
        scores,
        evaluated,
    })
}
