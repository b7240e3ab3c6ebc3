//! Reading findings: the filtered, paged list and one finding with its
//! history across snapshots.

use super::definitions::Library;
use crate::error::{CoreError, CoreResult};
use attest_policy::catalogue;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

/// Longest free-text filter accepted.
pub const MAX_FILTER: usize = 200;
/// Largest page.
pub const MAX_PER_PAGE: i64 = 500;
pub const STATES: [&str; 7] = ["NonCompliant", "Compliant", "Error", "Conflicting", "Protected", "Exempt", "Unknown"];
pub const SEVERITIES: [&str; 3] = ["High", "Medium", "Low"];

/// What the list filters on; empty strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    /// The snapshot; `None` is the newest evaluated one.
    pub snapshot: Option<Uuid>,
    pub state: String,
    pub severity: String,
    /// A control's name (`attest-network-public-access`).
    pub control: String,
    /// A framework name as the catalogue spells it (`NIST SP 800-53 r5`).
    pub framework: String,
    pub subscription: String,
    /// The start of the resource's name, or of its id when it starts with `/`.
    pub resource: String,
    /// Leave out findings in this state (the list shows Exempt ones apart).
    pub exclude_state: String,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub id: i64,
    pub snapshot_id: Uuid,
    pub assignment_id: String,
    /// The initiative member's reference id; empty for a definition.
    pub reference_id: String,
    pub control: String,
    pub title: String,
    pub resource_id: String,
    pub resource_type: String,
    pub subscription_id: Option<String>,
    pub state: String,
    pub severity: String,
    pub area: String,
    pub effect: Option<String>,
    pub delta: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: OffsetDateTime,
    pub evidence: Value,
    pub evidence_hash: String,
    /// The exemption that made it Exempt.
    pub exemption_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingsPage {
    pub snapshot_id: Option<Uuid>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub findings: Vec<FindingRow>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

/// Checks a filter's values before any query runs.
pub fn validate(f: &FindingFilter, library: &Library) -> CoreResult<()> {
    if !f.state.is_empty() && !STATES.contains(&f.state.as_str()) {
        return Err(invalid("state", format!("unknown state {:?}; one of {}", f.state, STATES.join(", "))));
    }
    if !f.exclude_state.is_empty() && !STATES.contains(&f.exclude_state.as_str()) {
        return Err(invalid("exclude_state", format!("unknown state {:?}", f.exclude_state)));
    }
    if !f.severity.is_empty() && !SEVERITIES.contains(&f.severity.as_str()) {
        return Err(invalid("severity", format!("unknown severity {:?}", f.severity)));
    }
    if !f.control.is_empty() && library.control(&f.control).is_none() {
        return Err(invalid("control", format!("unknown control {:?}", f.control)));
    }
    if !f.framework.is_empty() && !frameworks().contains(&f.framework) {
        return Err(invalid("framework", format!("unknown framework {:?}", f.framework)));
    }
    for (field, v) in [("resource", &f.resource), ("subscription", &f.subscription)] {
        if v.chars().count() > MAX_FILTER {
            return Err(invalid(field, format!("longer than {MAX_FILTER} characters")));
        }
    }
    if f.page < 1 || f.per_page < 1 || f.per_page > MAX_PER_PAGE {
        return Err(invalid("page", format!("pages start at 1 and hold 1 to {MAX_PER_PAGE} findings")));
    }
    Ok(())
}

/// Every framework the catalogue maps to, sorted.
pub fn frameworks() -> Vec<String> {
    let mut all: Vec<String> = catalogue::controls().iter().flat_map(|c| c.frameworks.keys().cloned()).collect();
    all.sort();
    all.dedup();
    all
}

/// The newest evaluated snapshot and its current (newest) evaluation.
pub async fn latest(pool: &PgPool) -> CoreResult<Option<(Uuid, i64)>> {
    Ok(sqlx::query!(
        r#"select e.snapshot_id, max(e.id) as "evaluation!" from evaluations e join snapshots s on s.id = e.snapshot_id
            group by e.snapshot_id, s.finished_at, s.imported_at order by s.finished_at desc, s.imported_at desc limit 1"#
    )
    .fetch_optional(pool)
    .await?
    .map(|r| (r.snapshot_id, r.evaluation)))
}

/// A snapshot's current evaluation.
pub async fn current_evaluation(pool: &PgPool, snapshot: Uuid) -> CoreResult<Option<i64>> {
    Ok(sqlx::query_scalar!("select max(id) from evaluations where snapshot_id = $1", snapshot).fetch_one(pool).await?)
}

/// A `FindingRow` from a query record selecting the findings columns
/// (each `query!` has its own record type, hence a macro).
macro_rules! finding_row {
    ($r:expr) => {{
        let mut r = $r;
        let evidence = std::mem::take(&mut r.evidence);
        finding_row!(r, evidence)
    }};
    ($r:expr, $evidence:expr) => {{
        let r = $r;
        FindingRow {
            id: r.id,
            snapshot_id: r.snapshot_id,
            title: String::new(),
            assignment_id: r.assignment_id,
            reference_id: r.reference_id,
            control: r.control,
            resource_id: r.resource_id,
            resource_type: r.resource_type,
            subscription_id: r.subscription_id,
            state: r.state,
            severity: r.severity,
            area: r.area,
            effect: r.effect,
            delta: r.delta,
            first_seen: r.first_seen,
            evidence: $evidence,
            evidence_hash: hex::encode(r.evidence_hash),
            exemption_id: r.exemption_id,
        }
    }};
}

/// One page of findings, ordered by severity, control and resource name.
pub async fn list(pool: &PgPool, f: &FindingFilter) -> CoreResult<FindingsPage> {
    list_with(pool, f, &Library::load_pool(pool).await?).await
}

/// [`list`] with the catalogue and imported definitions already loaded
/// (a page that lists twice loads them once).
pub async fn list_with(pool: &PgPool, f: &FindingFilter, library: &Library) -> CoreResult<FindingsPage> {
    validate(f, library)?;
    let target = match f.snapshot {
        Some(s) => current_evaluation(pool, s).await?.map(|e| (s, e)),
        None => latest(pool).await?,
    };
    let Some((snapshot_id, evaluation)) = target else {
        return Ok(FindingsPage {
            snapshot_id: f.snapshot,
            total: 0,
            page: f.page,
            per_page: f.per_page,
            findings: vec![],
        });
    };
    // A framework filter is the set of controls mapped to it.
    let controls: Vec<String> = if !f.framework.is_empty() {
        catalogue::controls()
            .iter()
            .filter(|c| c.frameworks.contains_key(&f.framework))
            .map(|c| c.definition.name.clone())
            .collect()
    } else if !f.control.is_empty() {
        library.control(&f.control).map(|c| vec![c.definition.name.clone()]).unwrap_or_default()
    } else {
        vec![]
    };
    let control_filter = !controls.is_empty() || !f.framework.is_empty();
    let controls = if !f.control.is_empty() && !f.framework.is_empty() {
        controls.into_iter().filter(|c| library.control(&f.control).is_some_and(|x| &x.definition.name == c)).collect()
    } else {
        controls
    };
    if control_filter && controls.is_empty() {
        // A control outside the framework: nothing can match.
        return Ok(FindingsPage {
            snapshot_id: Some(snapshot_id),
            total: 0,
            page: f.page,
            per_page: f.per_page,
            findings: vec![],
        });
    }
    // A prefix, so an index answers it: of the id when it looks like one,
    // else of the name (ids and names are stored lower-case).
    let prefix =
        format!("{}%", f.resource.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let (by_id, by_name) = match f.resource.as_str() {
        "" => (String::new(), String::new()),
        r if r.starts_with('/') => (prefix, String::new()),
        _ => (String::new(), prefix),
    };
    // One control is an equality, so the (evaluation, control, severity,
    // resource) index serves the page in order.
    let (one_control, controls) = match controls.as_slice() {
        [only] if control_filter => (only.clone(), vec![]),
        _ => (String::new(), controls),
    };
    let severity_rank = SEVERITIES.iter().position(|s| *s == f.severity).map(|i| i as i16);
    // The filters are optional parameters; planning each statement for its
    // actual values lets PostgreSQL pick the index that matches them.
    let mut tx = pool.begin().await?;
    sqlx::query("set local plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
    let total = if f.resource.is_empty() && f.subscription.is_empty() {
        sqlx::query_scalar!(
            r#"select coalesce(sum(n), 0)::bigint as "n!" from evaluation_counts
                where evaluation_id = $1 and ($2 = '' or state = $2) and ($3 = '' or severity = $3)
                  and ($4 = '' or control = $4) and (cardinality($5::text[]) = 0 or control = any($5))
                  and ($6 = '' or state <> $6)"#,
            evaluation,
            f.state,
            f.severity,
            one_control,
            &controls,
            f.exclude_state
        )
        .fetch_one(&mut *tx)
        .await?
    } else {
        sqlx::query_scalar!(
            r#"select count(*) as "n!" from findings
                where evaluation_id = $1 and ($2 = '' or state = $2) and ($3::smallint is null or severity_rank = $3)
                  and ($4 = '' or control = $4) and (cardinality($5::text[]) = 0 or control = any($5))
                  and ($6 = '' or subscription_id = lower($6)) and ($7 = '' or resource_id like $7)
                  and ($8 = '' or resource_name like $8) and ($9 = '' or state <> $9)"#,
            evaluation,
            f.state,
            severity_rank,
            one_control,
            &controls,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state
        )
        .fetch_one(&mut *tx)
        .await?
    };
    // Several controls (a framework): one ordered index scan per control,
    // merged, so the work is bounded by the page whatever the statistics say.
    let offset = (f.page - 1) * f.per_page;
    let mut findings: Vec<FindingRow> = if controls.len() > 1 {
        sqlx::query!(
            r#"select f.id as "id!", f.snapshot_id as "snapshot_id!", f.assignment_id as "assignment_id!",
                      f.control as "control!", f.resource_id as "resource_id!", f.resource_type as "resource_type!",
                      f.subscription_id as "subscription_id?", f.state as "state!", f.severity as "severity!",
                      f.area as "area!", f.effect as "effect?", f.delta as "delta!", f.first_seen as "first_seen!",
                      f.evidence_hash as "evidence_hash!", f.reference_id as "reference_id!",
                      f.exemption_id as "exemption_id?"
                 from unnest($4::text[]) as c(control)
                cross join lateral (
                      select * from findings
                       where evaluation_id = $1 and control = c.control and ($2 = '' or state = $2)
                         and ($3::smallint is null or severity_rank = $3)
                         and ($5 = '' or subscription_id = lower($5)) and ($6 = '' or resource_id like $6)
                         and ($7 = '' or resource_name like $7) and ($8 = '' or state <> $8)
                       order by severity_rank, resource_name, id
                       limit $9::bigint + $10::bigint) f
                order by f.severity_rank, f.control, f.resource_name, f.id
                limit $9 offset $10"#,
            evaluation,
            f.state,
            severity_rank,
            &controls,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state,
            f.per_page,
            offset
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| FindingRow { title: library.title(&r.control), ..finding_row!(r, Value::Null) })
        .collect()
    } else {
        sqlx::query!(
            r#"select id, snapshot_id, assignment_id, control, resource_id, resource_type, subscription_id, state,
                      severity, area, effect, delta, first_seen, evidence_hash, reference_id, exemption_id
                 from findings
                where evaluation_id = $1 and ($2 = '' or state = $2) and ($3::smallint is null or severity_rank = $3)
                  and ($4 = '' or control = $4) and ($5 = '' or subscription_id = lower($5))
                  and ($6 = '' or resource_id like $6) and ($7 = '' or resource_name like $7)
                  and ($8 = '' or state <> $8)
                order by severity_rank, control, resource_name, id
                limit $9 offset $10"#,
            evaluation,
            f.state,
            severity_rank,
            one_control,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state,
            f.per_page,
            offset
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| FindingRow { title: library.title(&r.control), ..finding_row!(r, Value::Null) })
        .collect()
    };
    // Evidence for the page only (not for the rows an offset skips).
    let hashes: Vec<Vec<u8>> = findings.iter().filter_map(|r| hex::decode(&r.evidence_hash).ok()).collect();
    let evidence: std::collections::HashMap<String, Value> =
        sqlx::query!("select hash, evidence from finding_evidence where hash = any($1)", &hashes)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (hex::encode(r.hash), r.evidence))
            .collect();
    tx.commit().await?;
    for r in &mut findings {
        r.evidence = evidence.get(&r.evidence_hash).cloned().unwrap_or(Value::Null);
    }
    Ok(FindingsPage { snapshot_id: Some(snapshot_id), total, page: f.page, per_page: f.per_page, findings })
}

/// One state of a finding in one snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub finding_id: i64,
    pub snapshot_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub state: String,
    pub delta: String,
}

/// A finding and its states in every evaluated snapshot of the same scope.
pub async fn get(pool: &PgPool, id: i64) -> CoreResult<(FindingRow, Vec<HistoryEntry>)> {
    get_with(pool, id, &Library::load_pool(pool).await?).await
}

/// [`get`] with the definitions already loaded.
pub async fn get_with(pool: &PgPool, id: i64, library: &Library) -> CoreResult<(FindingRow, Vec<HistoryEntry>)> {
    let r = sqlx::query!(
        r#"select f.id, f.snapshot_id, f.assignment_id, f.control, f.resource_id, f.resource_type, f.subscription_id,
                  f.state, f.severity, f.area, f.effect, f.delta, f.first_seen, x.evidence, f.evidence_hash,
                  f.reference_id, f.exemption_id
             from findings f join finding_evidence x on x.hash = f.evidence_hash where f.id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("finding {id}") })?;
    let history = sqlx::query!(
        r#"select f.id, f.snapshot_id, s.finished_at, f.state, f.delta
             from snapshots s
             join lateral (select max(e.id) as id from evaluations e where e.snapshot_id = s.id) current on true
             join findings f on f.evaluation_id = current.id and f.resource_id = $3 and f.control = $2
                            and f.assignment_id = $1 and f.reference_id = $5
            where s.scope_key = (select scope_key from snapshots where id = $4)
            order by s.finished_at"#,
        r.assignment_id,
        r.control,
        r.resource_id,
        r.snapshot_id,
        r.reference_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|h| HistoryEntry {
        finding_id: h.id,
        snapshot_id: h.snapshot_id,
        finished_at: h.finished_at,
        state: h.state,
        delta: h.delta,
    })
    .collect();
    let row = FindingRow { title: library.title(&r.control), ..finding_row!(r) };
    Ok((row, history))
}

/// Counts for the dashboard: by state, by severity of non-compliant
/// findings, by area, and the compliance trend across snapshots.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub snapshot_id: Option<Uuid>,
    pub compliance: Option<f64>,
    pub by_state: Vec<(String, i64)>,
    pub failing_by_severity: Vec<(String, i64)>,
    pub failing_by_area: Vec<(String, i64)>,
    pub failing_by_framework: Vec<(String, i64)>,
    /// (snapshot finished, compliance %), oldest first.
    pub trend: Vec<(String, f64)>,
}

pub async fn summary(pool: &PgPool) -> CoreResult<Summary> {
    let Some((snapshot_id, evaluation)) = latest(pool).await? else { return Ok(Summary::default()) };
    let compliance =
        sqlx::query_scalar!("select compliance from evaluations where id = $1", evaluation).fetch_one(pool).await?;
    let rows = sqlx::query!(
        r#"select state, severity, area, control, count(*) as "n!" from findings where evaluation_id = $1
            group by state, severity, area, control"#,
        evaluation
    )
    .fetch_all(pool)
    .await?;
    let mut s = Summary { snapshot_id: Some(snapshot_id), compliance, ..Default::default() };
    let bump = |v: &mut Vec<(String, i64)>, k: &str, n: i64| match v.iter_mut().find(|(x, _)| x == k) {
        Some(e) => e.1 += n,
        None => v.push((k.to_string(), n)),
    };
    for r in &rows {
        bump(&mut s.by_state, &r.state, r.n);
        if r.state == "NonCompliant" {
            bump(&mut s.failing_by_severity, &r.severity, r.n);
            bump(&mut s.failing_by_area, &r.area, r.n);
            if let Some(c) = catalogue::control(&r.control) {
                for fw in c.frameworks.keys() {
                    bump(&mut s.failing_by_framework, fw, r.n);
                }
            }
        }
    }
    let order = |k: &str, list: &[&str]| list.iter().position(|x| *x == k).unwrap_or(99);
    s.by_state.sort_by_key(|(k, _)| order(k, &STATES));
    s.failing_by_severity.sort_by_key(|(k, _)| order(k, &SEVERITIES));
    s.failing_by_area.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    s.failing_by_framework.sort();
    let scope =
        sqlx::query_scalar!("select scope_key from snapshots where id = $1", snapshot_id).fetch_one(pool).await?;
    s.trend = sqlx::query!(
        r#"select s.finished_at, e.compliance from evaluations e join snapshots s on s.id = e.snapshot_id
            where s.scope_key = $1 and e.compliance is not null
              and e.id = (select max(x.id) from evaluations x where x.snapshot_id = e.snapshot_id)
            order by s.finished_at"#,
        scope
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.finished_at.date().to_string(), r.compliance.unwrap_or_default()))
    .collect();
    Ok(s)
}

/// For the newest evaluated snapshot: control → (non-compliant, compliant,
/// other) finding counts. Empty when nothing has been evaluated.
pub async fn counts_by_control(pool: &PgPool) -> CoreResult<std::collections::HashMap<String, (i64, i64, i64)>> {
    let Some((_, evaluation)) = latest(pool).await? else { return Ok(Default::default()) };
    Ok(sqlx::query!(
        r#"select control,
                  count(*) filter (where state = 'NonCompliant') as "failing!",
                  count(*) filter (where state = 'Compliant') as "passing!",
                  count(*) filter (where state not in ('NonCompliant', 'Compliant')) as "other!"
             from findings where evaluation_id = $1 group by control"#,
        evaluation
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.control, (r.failing, r.passing, r.other)))
    .collect())
}
