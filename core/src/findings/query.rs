//! Reading findings: the filtered, paged list of one evaluation, and one
//! finding (by its stable id) as it is now or at a chosen evaluation, with
//! its history across every evaluation of its chain.

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
    /// One evaluation (of any snapshot); `None` is the snapshot's current one.
    pub evaluation: Option<i64>,
    pub state: String,
    pub severity: String,
    /// A control's name (`attest-network-public-access`).
    pub control: String,
    /// A framework name as the catalogue spells it (`NIST SP 800-53 r5`).
    pub framework: String,
    /// A control area (`Network isolation`): the controls in it.
    pub area: String,
    pub subscription: String,
    /// The start of the resource's name, or of its id when it starts with `/`.
    pub resource: String,
    /// Leave out findings in this state (the list shows Exempt ones apart).
    pub exclude_state: String,
    /// Only what fails (NonCompliant or Error), when no state is named.
    pub failing: bool,
    /// How each control's findings are ordered.
    pub sort: Sort,
    pub page: i64,
    pub per_page: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    /// The finding's stable id: the same in every evaluation.
    pub id: i64,
    pub snapshot_id: Uuid,
    /// The evaluation this row shows the finding in.
    pub evaluation_id: i64,
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
    /// False when the finding is not in the evaluation shown (its resource
    /// or its assignment is gone): the row is its last known state.
    pub present: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FindingsPage {
    pub snapshot_id: Option<Uuid>,
    pub evaluation_id: Option<i64>,
    pub total: i64,
    /// The matching findings per control, for the list's group headings.
    pub by_control: Vec<(String, i64)>,
    pub page: i64,
    pub per_page: i64,
    pub findings: Vec<FindingRow>,
}

/// The order of the findings within each control (controls themselves are
/// ordered by severity, then name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sort {
    /// Resource name, A to Z.
    #[default]
    Resource,
    /// Resource name, Z to A.
    ResourceDesc,
    /// State, failing first (alphabetical: Error, NonCompliant, …).
    State,
    /// Oldest first seen first.
    FirstSeen,
    /// Newest first seen first.
    FirstSeenDesc,
}

impl Sort {
    pub const ALL: [(&'static str, Sort); 5] = [
        ("resource", Sort::Resource),
        ("-resource", Sort::ResourceDesc),
        ("state", Sort::State),
        ("first_seen", Sort::FirstSeen),
        ("-first_seen", Sort::FirstSeenDesc),
    ];

    /// `resource`, `-resource`, `state`, `first_seen` or `-first_seen`;
    /// empty is the default.
    pub fn parse(s: &str) -> CoreResult<Sort> {
        if s.is_empty() {
            return Ok(Sort::default());
        }
        Sort::ALL.iter().find(|(k, _)| *k == s).map(|(_, v)| *v).ok_or_else(|| {
            invalid("sort", format!("unknown sort {s:?}; one of resource, -resource, state, first_seen, -first_seen"))
        })
    }

    pub fn as_str(self) -> &'static str {
        Sort::ALL.iter().find(|(_, v)| *v == self).map(|(k, _)| *k).unwrap_or("resource")
    }
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
    if !f.area.is_empty() && !library.controls().any(|c| c.area == f.area) {
        return Err(invalid("area", format!("unknown control area {:?}", f.area)));
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

/// One evaluation, located: which snapshot it is of and the chain its
/// findings' spans are in.
#[derive(Debug, Clone)]
pub struct At {
    pub snapshot_id: Uuid,
    pub evaluation: i64,
    pub chain: String,
}

impl At {
    /// `evaluation` if given, else `snapshot`'s current evaluation, else the
    /// newest evaluated snapshot's; `None` when nothing is evaluated. A named
    /// evaluation or snapshot that does not exist is an error naming it.
    pub async fn resolve(pool: &PgPool, snapshot: Option<Uuid>, evaluation: Option<i64>) -> CoreResult<Option<At>> {
        let id = match (evaluation, snapshot) {
            (Some(e), _) => Some(e),
            (None, Some(s)) => Some(current_evaluation(pool, s).await?.ok_or_else(|| {
                invalid("snapshot", format!("snapshot {s} does not exist or has not been evaluated"))
            })?),
            (None, None) => latest(pool).await?.map(|(_, e)| e),
        };
        let Some(id) = id else { return Ok(None) };
        let r = sqlx::query!("select snapshot_id, chain from evaluations where id = $1", id)
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| invalid("evaluation", format!("evaluation {id} does not exist")))?;
        if let Some(s) = snapshot {
            if s != r.snapshot_id {
                return Err(invalid("evaluation", format!("evaluation {id} is not of snapshot {s}")));
            }
        }
        Ok(Some(At { snapshot_id: r.snapshot_id, evaluation: id, chain: r.chain }))
    }
}

/// A `FindingRow` from a query record selecting a span's and its key's
/// columns (each `query!` has its own record type, hence a macro).
macro_rules! finding_row {
    ($r:expr, $at:expr, $evidence:expr) => {{
        let r = $r;
        FindingRow {
            id: r.id,
            snapshot_id: $at.snapshot_id,
            evaluation_id: $at.evaluation,
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
            present: true,
        }
    }};
}

/// Whether a framework, area or control filter applies, and the controls
/// that survive all three (empty when none applies).
fn narrowed(f: &FindingFilter, library: &Library) -> (bool, Vec<String>) {
    let applies = !f.framework.is_empty() || !f.area.is_empty() || !f.control.is_empty();
    if !applies {
        return (false, vec![]);
    }
    let named = library.control(&f.control).map(|c| c.definition.name.clone());
    let controls = library
        .controls()
        .filter(|c| f.framework.is_empty() || c.frameworks.contains_key(&f.framework))
        .filter(|c| f.area.is_empty() || c.area == f.area)
        .filter(|c| f.control.is_empty() || named.as_ref() == Some(&c.definition.name))
        .map(|c| c.definition.name.clone())
        .collect();
    (true, controls)
}

/// The resource filter as a LIKE prefix, so an index answers it: of the id
/// when it looks like one, else of the name (both stored lower-case).
fn resource_prefix(resource: &str) -> (String, String) {
    let prefix = format!("{}%", resource.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    match resource {
        "" => (String::new(), String::new()),
        r if r.starts_with('/') => (prefix, String::new()),
        _ => (String::new(), prefix),
    }
}

/// One page of findings, ordered by severity, control and resource name.
pub async fn list(pool: &PgPool, f: &FindingFilter) -> CoreResult<FindingsPage> {
    list_with(pool, f, &Library::load_pool(pool).await?).await
}

/// [`list`] with the catalogue and imported definitions already loaded
/// (a page that lists twice loads them once).
pub async fn list_with(pool: &PgPool, f: &FindingFilter, library: &Library) -> CoreResult<FindingsPage> {
    validate(f, library)?;
    let empty = |at: Option<&At>| FindingsPage {
        snapshot_id: at.map(|a| a.snapshot_id).or(f.snapshot),
        evaluation_id: at.map(|a| a.evaluation),
        total: 0,
        by_control: vec![],
        page: f.page,
        per_page: f.per_page,
        findings: vec![],
    };
    let Some(at) = At::resolve(pool, f.snapshot, f.evaluation).await? else { return Ok(empty(None)) };
    let (control_filter, controls) = narrowed(f, library);
    if control_filter && controls.is_empty() {
        // A control outside the framework: nothing can match.
        return Ok(empty(Some(&at)));
    }
    let (by_id, by_name) = resource_prefix(&f.resource);
    // One control is an equality, so the (chain, control, severity,
    // resource) index serves the page in order.
    let (one_control, controls) = match controls.as_slice() {
        [only] if control_filter => (only.clone(), vec![]),
        _ => (String::new(), controls),
    };
    let severity_rank = SEVERITIES.iter().position(|s| *s == f.severity).map(|i| i as i16);
    let failing = f.failing && f.state.is_empty();
    // The filters are optional parameters; planning each statement for its
    // actual values lets PostgreSQL pick the index that matches them.
    let mut tx = pool.begin().await?;
    sqlx::query("set local plan_cache_mode = force_custom_plan").execute(&mut *tx).await?;
    // Totals per control: from the stored counts unless a resource or
    // subscription filter needs the spans themselves.
    let by_control: Vec<(String, i64)> = if f.resource.is_empty() && f.subscription.is_empty() {
        sqlx::query!(
            r#"select control, sum(n)::bigint as "n!" from evaluation_counts
                where evaluation_id = $1 and ($2 = '' or state = $2) and ($3 = '' or severity = $3)
                  and ($4 = '' or control = $4) and (cardinality($5::text[]) = 0 or control = any($5))
                  and ($6 = '' or state <> $6) and (not $7 or state in ('NonCompliant', 'Error'))
                group by control"#,
            at.evaluation,
            f.state,
            f.severity,
            one_control,
            &controls,
            f.exclude_state,
            failing
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.control, r.n))
        .collect()
    } else {
        sqlx::query!(
            r#"select control, count(*) as "n!" from finding_spans
                where chain = $10 and first_eval <= $1 and (until_eval is null or until_eval > $1)
                  and ($2 = '' or state = $2) and ($3::smallint is null or severity_rank = $3)
                  and ($4 = '' or control = $4) and (cardinality($5::text[]) = 0 or control = any($5))
                  and ($6 = '' or subscription_id = lower($6)) and ($7 = '' or resource_id like $7)
                  and ($8 = '' or resource_name like $8) and ($9 = '' or state <> $9)
                  and (not $11 or state in ('NonCompliant', 'Error'))
                group by control"#,
            at.evaluation,
            f.state,
            severity_rank,
            one_control,
            &controls,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state,
            at.chain,
            failing
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| (r.control, r.n))
        .collect()
    };
    let total: i64 = by_control.iter().map(|(_, n)| n).sum();
    // Several controls (a framework): one ordered index scan per control,
    // merged, so the work is bounded by the page whatever the statistics say.
    let offset = (f.page - 1)
        .checked_mul(f.per_page)
        .ok_or_else(|| invalid("page", format!("page {} is past any list's end", f.page)))?;
    let mut findings: Vec<FindingRow> = if controls.len() > 1 {
        sqlx::query!(
            r#"select s.finding_id as "id!", k.assignment_id, s.control as "control!", s.resource_id as "resource_id!",
                      k.resource_type, s.subscription_id as "subscription_id?", s.state as "state!",
                      s.severity as "severity!", s.area as "area!", s.effect as "effect?",
                      case when s.first_eval = $1 then s.delta else 'unchanged' end as "delta!",
                      s.since as "first_seen!", s.evidence_hash as "evidence_hash!", k.reference_id,
                      s.exemption_id as "exemption_id?"
                 from (
                select s.* from unnest($4::text[]) as c(control)
                cross join lateral (
                      select * from finding_spans
                       where chain = $11 and control = c.control and first_eval <= $1
                         and (until_eval is null or until_eval > $1) and ($2 = '' or state = $2)
                         and ($3::smallint is null or severity_rank = $3)
                         and ($5 = '' or subscription_id = lower($5)) and ($6 = '' or resource_id like $6)
                         and ($7 = '' or resource_name like $7) and ($8 = '' or state <> $8)
                         and (not $12 or state in ('NonCompliant', 'Error'))
                       order by severity_rank,
                                case when $13 = 'state' then state end,
                                case when $13 = 'first_seen' then since end,
                                case when $13 = '-first_seen' then since end desc,
                                case when $13 = '-resource' then resource_name end desc,
                                resource_name, finding_id
                       limit $9::bigint + $10::bigint) s
                order by s.severity_rank, s.control,
                         case when $13 = 'state' then s.state end,
                         case when $13 = 'first_seen' then s.since end,
                         case when $13 = '-first_seen' then s.since end desc,
                         case when $13 = '-resource' then s.resource_name end desc,
                         s.resource_name, s.finding_id
                limit $9 offset $10) s
                -- The keys of the page only, not of the rows an offset skips.
                join finding_keys k on k.id = s.finding_id
                order by s.severity_rank, s.control,
                         case when $13 = 'state' then s.state end,
                         case when $13 = 'first_seen' then s.since end,
                         case when $13 = '-first_seen' then s.since end desc,
                         case when $13 = '-resource' then s.resource_name end desc,
                         s.resource_name, s.finding_id"#,
            at.evaluation,
            f.state,
            severity_rank,
            &controls,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state,
            f.per_page,
            offset,
            at.chain,
            failing,
            f.sort.as_str()
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| FindingRow { title: library.title(&r.control), ..finding_row!(r, at, Value::Null) })
        .collect()
    } else {
        sqlx::query!(
            r#"select s.finding_id as id, k.assignment_id, s.control, s.resource_id, k.resource_type,
                      s.subscription_id, s.state, s.severity, s.area, s.effect,
                      case when s.first_eval = $1 then s.delta else 'unchanged' end as "delta!",
                      s.since as first_seen, s.evidence_hash, k.reference_id, s.exemption_id
                 from (select * from finding_spans s
                where s.chain = $11 and s.first_eval <= $1 and (s.until_eval is null or s.until_eval > $1)
                  and ($2 = '' or s.state = $2) and ($3::smallint is null or s.severity_rank = $3)
                  and ($4 = '' or s.control = $4) and ($5 = '' or s.subscription_id = lower($5))
                  and ($6 = '' or s.resource_id like $6) and ($7 = '' or s.resource_name like $7)
                  and ($8 = '' or s.state <> $8) and (not $12 or s.state in ('NonCompliant', 'Error'))
                order by s.severity_rank, s.control,
                         case when $13 = 'state' then s.state end,
                         case when $13 = 'first_seen' then s.since end,
                         case when $13 = '-first_seen' then s.since end desc,
                         case when $13 = '-resource' then s.resource_name end desc,
                         s.resource_name, s.finding_id
                limit $9 offset $10) s
                -- The keys of the page only, not of the rows an offset skips.
                join finding_keys k on k.id = s.finding_id
                order by s.severity_rank, s.control,
                         case when $13 = 'state' then s.state end,
                         case when $13 = 'first_seen' then s.since end,
                         case when $13 = '-first_seen' then s.since end desc,
                         case when $13 = '-resource' then s.resource_name end desc,
                         s.resource_name, s.finding_id"#,
            at.evaluation,
            f.state,
            severity_rank,
            one_control,
            f.subscription,
            by_id,
            by_name,
            f.exclude_state,
            f.per_page,
            offset,
            at.chain,
            failing,
            f.sort.as_str()
        )
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|r| FindingRow { title: library.title(&r.control), ..finding_row!(r, at, Value::Null) })
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
    Ok(FindingsPage {
        snapshot_id: Some(at.snapshot_id),
        evaluation_id: Some(at.evaluation),
        total,
        by_control,
        page: f.page,
        per_page: f.per_page,
        findings,
    })
}

/// Every finding the filter matches (paging ignored), in the list's order,
/// handed to `each` in batches: one statement read as a stream, so an
/// export of a million findings holds one batch in memory. Returns how
/// many were handed over.
pub async fn export<F, Fut>(pool: &PgPool, f: &FindingFilter, library: &Library, mut each: F) -> CoreResult<usize>
where
    F: FnMut(Vec<FindingRow>) -> Fut,
    Fut: std::future::Future<Output = CoreResult<()>>,
{
    use futures_util::TryStreamExt;
    validate(f, library)?;
    let Some(at) = At::resolve(pool, f.snapshot, f.evaluation).await? else { return Ok(0) };
    let (control_filter, controls) = narrowed(f, library);
    if control_filter && controls.is_empty() {
        return Ok(0);
    }
    let (by_id, by_name) = resource_prefix(&f.resource);
    let severity_rank = SEVERITIES.iter().position(|s| *s == f.severity).map(|i| i as i16);
    let failing = f.failing && f.state.is_empty();
    let mut conn = pool.acquire().await?;
    let mut rows = sqlx::query!(
        r#"select s.finding_id as id, k.assignment_id, s.control, s.resource_id, k.resource_type,
                  s.subscription_id, s.state, s.severity, s.area, s.effect,
                  case when s.first_eval = $1 then s.delta else 'unchanged' end as "delta!",
                  s.since as first_seen, s.evidence_hash, k.reference_id, s.exemption_id
             from finding_spans s join finding_keys k on k.id = s.finding_id
            where s.chain = $2 and s.first_eval <= $1 and (s.until_eval is null or s.until_eval > $1)
              and ($3 = '' or s.state = $3) and ($4::smallint is null or s.severity_rank = $4)
              and (not $5 or s.control = any($6)) and ($7 = '' or s.subscription_id = lower($7))
              and ($8 = '' or s.resource_id like $8) and ($9 = '' or s.resource_name like $9)
              and ($10 = '' or s.state <> $10) and (not $11 or s.state in ('NonCompliant', 'Error'))
            order by s.severity_rank, s.control, s.resource_name, s.finding_id"#,
        at.evaluation,
        at.chain,
        f.state,
        severity_rank,
        control_filter,
        &controls,
        f.subscription,
        by_id,
        by_name,
        f.exclude_state,
        failing
    )
    .fetch(&mut *conn);
    let (mut batch, mut n) = (Vec::with_capacity(1_000), 0);
    while let Some(r) = rows.try_next().await? {
        batch.push(FindingRow { title: library.title(&r.control), ..finding_row!(r, at, Value::Null) });
        if batch.len() == 1_000 {
            n += batch.len();
            each(std::mem::take(&mut batch)).await?;
        }
    }
    n += batch.len();
    if !batch.is_empty() {
        each(batch).await?;
    }
    Ok(n)
}

/// A finding's state in one evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub evaluation_id: i64,
    pub snapshot_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub evaluated_at: OffsetDateTime,
    /// Why it was evaluated: "import", or what changed.
    pub reason: String,
    pub state: String,
    pub delta: String,
}

/// A finding (by its stable id) and its state in every evaluation of its chain.
pub async fn get(pool: &PgPool, id: i64) -> CoreResult<(FindingRow, Vec<HistoryEntry>)> {
    get_with(pool, id, None, &Library::load_pool(pool).await?).await
}

/// [`get`] at a chosen evaluation (`None`: as it is now), with the
/// definitions already loaded. "Now" is the finding's span in the current
/// evaluation of its scope; a finding no longer evaluated shows its last
/// state, with `present` false.
pub async fn get_with(
    pool: &PgPool,
    id: i64,
    at: Option<&At>,
    library: &Library,
) -> CoreResult<(FindingRow, Vec<HistoryEntry>)> {
    // The span shown: the one holding at the chosen evaluation; else the
    // open one of a scope's chain, newest first; else the latest of all.
    let chosen = sqlx::query!(
        r#"select s.id, s.chain, s.first_eval, s.until_eval
             from finding_spans s
            where s.finding_id = $1
              and ($2::text is null or (s.chain = $2 and s.first_eval <= $3 and (s.until_eval is null or s.until_eval > $3)))
            order by (s.until_eval is null and s.chain not like '~%') desc, s.first_eval desc
            limit 1"#,
        id,
        at.map(|a| a.chain.clone()),
        at.map(|a| a.evaluation)
    )
    .fetch_optional(pool)
    .await?;
    let Some(chosen) = chosen else {
        return Err(match at {
            Some(a) => invalid("evaluation", format!("finding {id} is not in evaluation {}", a.evaluation)),
            None => CoreError::NotFound { what: format!("finding {id}") },
        });
    };
    // The evaluation it is shown in: the chosen one, the chain's head while
    // the span holds, or the last evaluation before it ended.
    let shown = match at {
        Some(a) => a.evaluation,
        None => {
            sqlx::query_scalar!(
                r#"select max(id) as "id!" from evaluations
                where chain = $1 and id >= $2 and ($3::bigint is null or id < $3)"#,
                chosen.chain,
                chosen.first_eval,
                chosen.until_eval
            )
            .fetch_one(pool)
            .await?
        }
    };
    let present = at.is_some() || chosen.until_eval.is_none();
    let snapshot_id =
        sqlx::query_scalar!("select snapshot_id from evaluations where id = $1", shown).fetch_one(pool).await?;
    let r = sqlx::query!(
        r#"select s.finding_id as id, k.assignment_id, s.control, s.resource_id, k.resource_type, s.subscription_id,
                  s.state, s.severity, s.area, s.effect,
                  case when s.first_eval = $2 then s.delta else 'unchanged' end as "delta!",
                  s.since as first_seen, s.evidence_hash, k.reference_id, s.exemption_id, x.evidence
             from finding_spans s join finding_keys k on k.id = s.finding_id
             join finding_evidence x on x.hash = s.evidence_hash
            where s.id = $1"#,
        chosen.id,
        shown
    )
    .fetch_one(pool)
    .await?;
    let history = sqlx::query!(
        r#"select e.id, e.snapshot_id, sn.finished_at, e.evaluated_at, e.reason, s.state,
                  case when s.first_eval = e.id then s.delta else 'unchanged' end as "delta!"
             from finding_spans s
             join evaluations e on e.chain = s.chain and e.id >= s.first_eval
                               and (s.until_eval is null or e.id < s.until_eval)
             join snapshots sn on sn.id = e.snapshot_id
            where s.finding_id = $1 and s.chain = $2
            order by e.id"#,
        id,
        chosen.chain
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|h| HistoryEntry {
        evaluation_id: h.id,
        snapshot_id: h.snapshot_id,
        finished_at: h.finished_at,
        evaluated_at: h.evaluated_at,
        reason: h.reason,
        state: h.state,
        delta: h.delta,
    })
    .collect();
    let at = At { snapshot_id, evaluation: shown, chain: chosen.chain };
    let mut row = r;
    let evidence = std::mem::take(&mut row.evidence);
    let row = FindingRow { title: library.title(&row.control), present, ..finding_row!(row, at, evidence) };
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
    let library = Library::load_pool(pool).await?;
    let compliance =
        sqlx::query_scalar!("select compliance from evaluations where id = $1", evaluation).fetch_one(pool).await?;
    // The stored counts, not a million spans: area comes with the control.
    let rows: Vec<(String, String, String, String, i64)> = sqlx::query!(
        r#"select state, severity, control, n::bigint as "n!" from evaluation_counts where evaluation_id = $1"#,
        evaluation
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| {
        let area = library.control(&r.control).map(|c| c.area.clone()).unwrap_or_else(|| "Azure built-in".into());
        (r.state, r.severity, area, r.control, r.n)
    })
    .collect();
    let mut s = Summary { snapshot_id: Some(snapshot_id), compliance, ..Default::default() };
    let bump = |v: &mut Vec<(String, i64)>, k: &str, n: i64| match v.iter_mut().find(|(x, _)| x == k) {
        Some(e) => e.1 += n,
        None => v.push((k.to_string(), n)),
    };
    for (state, severity, area, control, n) in &rows {
        bump(&mut s.by_state, state, *n);
        if state == "NonCompliant" {
            bump(&mut s.failing_by_severity, severity, *n);
            bump(&mut s.failing_by_area, area, *n);
            if let Some(c) = catalogue::control(control) {
                for fw in c.frameworks.keys() {
                    bump(&mut s.failing_by_framework, fw, *n);
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
                  coalesce(sum(n) filter (where state = 'NonCompliant'), 0)::bigint as "failing!",
                  coalesce(sum(n) filter (where state = 'Compliant'), 0)::bigint as "passing!",
                  coalesce(sum(n) filter (where state not in ('NonCompliant', 'Compliant')), 0)::bigint as "other!"
             from evaluation_counts where evaluation_id = $1 group by control"#,
        evaluation
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| (r.control, (r.failing, r.passing, r.other)))
    .collect())
}
