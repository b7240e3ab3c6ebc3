//! Evaluating a stored snapshot and storing its findings in one transaction
//! with its audit entry.
//!
//! Memory stays bounded on large estates: the account-scoped documents
//! (accounts and what hangs off them) are evaluated together because they
//! refer to each other; role assignments, which refer to nothing, stream
//! through in chunks.
//!
//! Storage grows with change: a finding's state is a span over its chain's
//! evaluations (see migration 0009). The previous evaluation's membership is
//! loaded once as compact hashes; each finding evaluated is compared with it,
//! and only what changed is written (a new span, the old one closed), so a
//! re-evaluation in which 1% changed writes 1% of the rows.
//!
//! When nothing but documents changed since the chain's head, only the
//! resources whose documents changed are evaluated (see `incremental`).
//!
//! Each chain's spans are a partition of their own (migration 0010). A
//! chain's first evaluation writes every finding into a bare staged table
//! on a second connection while this one writes the identities, builds its
//! indexes in one sorted pass each, two at a time, then attaches it (see
//! `staging`): four to six times faster than inserting each row into seven
//! indexes, and the work of two backends instead of one.

use super::access::AccessInputs;
use super::attest::Attested;
use super::definitions::Library;
use super::incremental::{self, Basis};
use super::staging::Staging;
use super::subjects::{self, Doc};
use crate::audit;
use crate::error::{CoreError, CoreResult};
use crate::exemptions::apply::{Applies, Exemptions};
use attest_policy::assignment::{evaluate_all, Assignment, ResourceResult, Subject};
use attest_policy::state::counts_as_compliant;
use attest_policy::ComplianceState;
use futures_util::TryStreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;

/// What an evaluation produced.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub id: i64,
    pub snapshot_id: Uuid,
    pub findings: usize,
    pub compliance: Option<f64>,
    /// False when the snapshot had been evaluated before (nothing changed).
    pub created: bool,
    /// Finding spans written: the findings that are new or changed.
    pub written: usize,
}

/// Subjects evaluated per batch, and rows per insert statement.
const CHUNK: usize = 5_000;

/// What every chunk is evaluated with.
struct Context {
    /// The catalogue and the imported definitions.
    library: Library,
    /// The assignments the policy engine evaluates (all but those of the
    /// controls Attest's own checks decide).
    assignments: Vec<Assignment>,
    /// The role-review controls switched on, and what their checks read.
    checks: Vec<(Assignment, attest_rbac::Check)>,
    access: AccessInputs,
    now: OffsetDateTime,
    /// The latest attestation of each (control, resource).
    attested: HashMap<(String, String), Attested>,
    /// The current document hash of every attested resource.
    hashes: HashMap<String, Vec<u8>>,
    /// Approved, unexpired exemptions and the findings they were approved against.
    exemptions: Exemptions,
}

/// Running totals across chunks.
#[derive(Default)]
pub(super) struct Totals {
    /// Findings per (state, severity, control), stored for the list's totals.
    by_key: BTreeMap<(&'static str, &'static str, String), i32>,
    /// Resources with a finding, and those of them whose overall state
    /// counts as compliant: the compliance percentage.
    counted: i64,
    passing: i64,
    /// Exemptions whose covered findings changed state since approval.
    drifted: BTreeSet<i64>,
}

impl Totals {
    fn merge(&mut self, other: Totals) {
        for (k, v) in other.by_key {
            *self.by_key.entry(k).or_default() += v;
        }
        self.counted += other.counted;
        self.passing += other.passing;
        self.drifted.extend(other.drifted);
    }

    fn count(&mut self, overall: ComplianceState) {
        self.counted += 1;
        self.passing += i64::from(counts_as_compliant(overall));
    }

    fn findings(&self) -> usize {
        self.by_key.values().map(|n| *n as usize).sum()
    }

    fn by_state(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for ((state, ..), n) in &self.by_key {
            *out.entry(*state).or_default() += *n as usize;
        }
        out
    }

    fn compliance(&self) -> Option<f64> {
        (self.counted > 0).then(|| self.passing as f64 * 100.0 / self.counted as f64)
    }

    /// The head's totals, with the findings it held for the re-evaluated
    /// resources (`old`) replaced by this evaluation's (`new`).
    fn replacing(basis: &Basis, old: &[Old], new: Totals) -> Totals {
        let mut t = Totals { counted: basis.counted, passing: basis.passing, ..Totals::default() };
        for (state, severity, control, n) in &basis.counts {
            *t.by_key.entry((state_name(state), severity_name(severity), control.clone())).or_default() += n;
        }
        let mut worst: HashMap<&str, ComplianceState> = HashMap::new();
        for o in old {
            if let Some(n) = t.by_key.get_mut(&(o.state, o.severity, o.control.clone())) {
                *n -= 1;
            }
            let s = ComplianceState::parse(o.state).unwrap_or(ComplianceState::Unknown);
            let w = worst.entry(o.resource.as_str()).or_insert(s);
            if s.rank() < w.rank() {
                *w = s;
            }
        }
        t.counted -= worst.len() as i64;
        t.passing -= worst.values().filter(|s| counts_as_compliant(**s)).count() as i64;
        t.merge(new);
        t.by_key.retain(|_, n| *n > 0);
        t
    }
}

/// A state's or severity's name as the static the totals key on.
fn state_name(s: &str) -> &'static str {
    super::query::STATES.iter().find(|x| **x == s).copied().unwrap_or("Unknown")
}

fn severity_name(s: &str) -> &'static str {
    super::query::SEVERITIES.iter().find(|x| **x == s).copied().unwrap_or("Medium")
}

/// Spans written beyond which an evaluation refreshes the planner's statistics.
const ANALYZE_AFTER: usize = 20_000;

/// Evaluates `snapshot_id` against the control assignments and stores its
/// findings, unless it has been evaluated before (imports call this).
pub async fn evaluate_snapshot(pool: &PgPool, snapshot_id: Uuid, actor: &str) -> CoreResult<Evaluation> {
    run(pool, snapshot_id, actor, "import", false).await
}

/// Evaluates `snapshot_id` again, as a new evaluation that becomes its
/// current one (after an assignment changed).
pub async fn reevaluate(pool: &PgPool, snapshot_id: Uuid, actor: &str, reason: &str) -> CoreResult<Evaluation> {
    run(pool, snapshot_id, actor, reason, true).await
}

async fn run(pool: &PgPool, snapshot_id: Uuid, actor: &str, reason: &str, again: bool) -> CoreResult<Evaluation> {
    let started = std::time::Instant::now();
    let mut tx = pool.begin().await?;
    let header = sqlx::query!("select scope_key, finished_at from snapshots where id = $1", snapshot_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| CoreError::NotFound { what: format!("snapshot {snapshot_id}") })?;
    // One evaluation per scope at a time: a chain advances one evaluation
    // at a time, and of two imports of one snapshot the loser finds the
    // winner's evaluation.
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1, 7))", header.scope_key).execute(&mut *tx).await?;
    if !again {
        if let Some(e) = sqlx::query!(
            "select id, finding_count, compliance from evaluations where snapshot_id = $1 order by id desc limit 1",
            snapshot_id
        )
        .fetch_optional(&mut *tx)
        .await?
        {
            return Ok(Evaluation {
                id: e.id,
                snapshot_id,
                findings: e.finding_count as usize,
                compliance: e.compliance,
                created: false,
                written: 0,
            });
        }
    }
    let chain = chain_of(&mut tx, snapshot_id, &header.scope_key, header.finished_at).await?;
    let head =
        sqlx::query_scalar!("select max(id) from evaluations where chain = $1", chain).fetch_one(&mut *tx).await?;
    // Deltas are against the chain's head, or, for a chain's first
    // evaluation, against the newest evaluation of an earlier snapshot of
    // the scope (whatever its chain).
    let previous = match head {
        Some(h) => Some(h),
        None => {
            sqlx::query_scalar!(
                r#"select max(e.id) from evaluations e join snapshots s on s.id = e.snapshot_id
                    where s.scope_key = $1 and s.finished_at < $2"#,
                header.scope_key,
                header.finished_at
            )
            .fetch_one(&mut *tx)
            .await?
        }
    };
    let evaluation_id = sqlx::query_scalar!(r#"select nextval(pg_get_serial_sequence('evaluations', 'id')) as "id!""#)
        .fetch_one(&mut *tx)
        .await?;
    // A chain's first evaluation fills a staged table of its own, written
    // on another connection (see `staging`); first, what failed evaluations
    // left behind goes.
    let staged = match head {
        Some(_) => None,
        None => {
            let dropped =
                sqlx::query_scalar!(r#"select finding_spans_drop_orphans() as "n!""#).fetch_one(&mut *tx).await?;
            if dropped > 0 {
                tracing::info!(dropped, "staged spans of failed evaluations dropped");
            }
            Some(
                sqlx::query_scalar!(r#"select finding_spans_stage($1) as "relation!""#, chain)
                    .fetch_one(&mut *tx)
                    .await?,
            )
        }
    };

    let library = Library::load(&mut tx).await?;
    let assignments = super::assignments::current(&mut tx, actor).await?;
    // Manual controls are attested on accounts and what hangs off them.
    let attested = super::attest::latest(&mut tx).await?;
    // Expiry is enforced here too: an exemption past its date no longer
    // applies, whether or not the expiry job has run yet.
    let exemptions = Exemptions::load(&mut tx, OffsetDateTime::now_utc()).await?;
    // The aliases Azure listed when the snapshot was scanned refresh the
    // engine's catalog before anything is evaluated against them.
    let providers: Vec<(Vec<u8>, Value)> = sqlx::query!(
        r#"select d.hash, d.body from snapshot_members m cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind = 'provider'"#,
        snapshot_id
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.hash, r.body))
    .collect();
    let aliases: Vec<(String, String, String)> =
        providers.iter().flat_map(|(_, body)| attest_policy::alias::from_provider(body)).collect();
    if !aliases.is_empty() {
        let changed = attest_policy::alias::learn(&aliases);
        tracing::info!(aliases = aliases.len(), changed, "Policy aliases read by the scan");
    }
    let provider_hashes: Vec<Vec<u8>> = providers.into_iter().map(|(hash, _)| hash).collect();
    let access = AccessInputs::load(&mut tx, snapshot_id).await?;
    let context = incremental::context_hash(
        &library,
        &assignments,
        &attested,
        &exemptions,
        &provider_hashes,
        access.fingerprint(),
        header.finished_at,
    );
    let checks = super::access::checks(&assignments, |id| {
        let c = library.control(id).filter(|c| c.check.is_some())?;
        let effect = c.definition.parameters.get("effect").and_then(|p| p.default.clone()).unwrap_or(Value::Null);
        Some((c.definition.name.clone(), effect))
    });
    let assignments: Vec<Assignment> =
        assignments.into_iter().filter(|a| !checks.iter().any(|(c, _)| c.id == a.id)).collect();

    // Against the same context as the head, only what changed is evaluated.
    let mut incremental = None;
    if let Some(h) = head {
        if let Some(basis) = Basis::load(&mut tx, h, &context).await? {
            if let Some(changes) = incremental::changes(&mut tx, snapshot_id, basis.snapshot).await? {
                incremental = Some((basis, changes));
            }
        }
    }
    let (before, old, docs) = match incremental.as_mut() {
        Some((_, changes)) => {
            let (before, old) = Membership::load_for(&mut tx, head.unwrap_or_default(), &changes.resources).await?;
            (before, old, std::mem::take(&mut changes.docs))
        }
        None => {
            let before = match previous {
                Some(p) => Membership::load(&mut tx, p).await?,
                None => Membership::default(),
            };
            // Accounts and everything that hangs off them, together; role
            // assignments are streamed below.
            let kinds: Vec<String> =
                subjects::INPUTS.iter().filter(|k| **k != "role_assignment").map(|k| k.to_string()).collect();
            let docs: Vec<Doc> = sqlx::query!(
                r#"select d.kind, d.hash, d.resource_id, d.account_id, d.body
                     from snapshot_members m
                    cross join lateral unnest(m.ids) as member(id)
                     join documents d on d.id = member.id
                    where m.snapshot_id = $1 and m.kind = any($2)"#,
                snapshot_id,
                &kinds
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| Doc {
                kind: r.kind,
                hash: r.hash,
                resource_id: r.resource_id,
                account_id: r.account_id,
                body: r.body,
            })
            .collect();
            (before, Vec::new(), docs)
        }
    };
    let attested_ids: HashSet<&str> = attested.keys().map(|(_, r)| r.as_str()).collect();
    let hashes: HashMap<String, Vec<u8>> = docs
        .iter()
        .filter(|d| attested_ids.contains(d.resource_id.as_str()))
        .map(|d| (d.resource_id.clone(), d.hash.clone()))
        .collect();
    let evaluated = docs.iter().filter(|d| subjects::EVALUATED.contains(&d.kind.as_str())).count();
    tracing::info!(incremental = incremental.is_some(), previous_findings = before.by_key.len(), docs = docs.len(),
                   elapsed = ?started.elapsed(), "evaluation prepared");
    let target = Target { evaluation_id, chain: chain.clone(), continuing: staged.is_none(), now: header.finished_at };
    let staging = staged.map(|relation| Staging::start(pool, relation, chain.clone(), evaluation_id));
    let ctx = Arc::new(Context {
        library,
        assignments,
        checks,
        access,
        now: header.finished_at,
        attested,
        hashes,
        exemptions,
    });
    let mut pipeline = Pipeline::new(ctx, before, staging);
    let mut subjects = subjects::build(docs);
    while !subjects.is_empty() {
        let rest = subjects.split_off(subjects.len().min(CHUNK));
        let chunk = std::mem::replace(&mut subjects, rest);
        pipeline.push(&mut tx, &target, chunk).await?;
    }
    if incremental.is_none() {
        // Role assignments, streamed. The stream borrows its connection, so
        // it reads from a second connection of the pool.
        let mut reader = pool.acquire().await?;
        let mut stream = sqlx::query!(
            r#"select d.kind, d.hash, d.resource_id, d.account_id, d.body
                 from snapshot_members m
                cross join lateral unnest(m.ids) as member(id)
                 join documents d on d.id = member.id
                where m.snapshot_id = $1 and m.kind = 'role_assignment'"#,
            snapshot_id
        )
        .fetch(&mut *reader);
        let mut batch = Vec::with_capacity(CHUNK);
        while let Some(r) = stream.try_next().await? {
            batch.push(Doc {
                kind: r.kind,
                hash: r.hash,
                resource_id: r.resource_id,
                account_id: r.account_id,
                body: r.body,
            });
            if batch.len() == CHUNK {
                pipeline.push(&mut tx, &target, subjects::build(std::mem::take(&mut batch))).await?;
            }
        }
        drop(stream);
        drop(reader);
        if !batch.is_empty() {
            pipeline.push(&mut tx, &target, subjects::build(batch)).await?;
        }
    }
    let (totals, written) = pipeline.finish(pool, &mut tx, &target).await?;
    let totals = match &incremental {
        Some((basis, _)) => Totals::replacing(basis, &old, totals),
        None => totals,
    };
    crate::exemptions::apply::flag_drift(&mut tx, actor, evaluation_id, &totals.drifted).await?;

    let (findings, compliance) = (totals.findings(), totals.compliance());
    sqlx::query!(
        "insert into evaluations (id, snapshot_id, previous_evaluation_id, reason, finding_count, compliance, chain,
                                  context_hash, resources_counted, resources_passing)
         overriding system value values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        evaluation_id,
        snapshot_id,
        previous,
        reason,
        findings as i32,
        compliance,
        chain,
        &context,
        totals.counted,
        totals.passing
    )
    .execute(&mut *tx)
    .await?;
    let (states, severities, controls, counts): (Vec<String>, Vec<String>, Vec<String>, Vec<i32>) = totals
        .by_key
        .iter()
        .map(|((st, sev, c), n)| (st.to_string(), sev.to_string(), c.clone(), *n))
        .fold((vec![], vec![], vec![], vec![]), |mut acc, (a, b, c, d)| {
            acc.0.push(a);
            acc.1.push(b);
            acc.2.push(c);
            acc.3.push(d);
            acc
        });
    sqlx::query!(
        "insert into evaluation_counts (evaluation_id, state, severity, control, n)
         select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::int[])",
        evaluation_id,
        &states,
        &severities,
        &controls,
        &counts
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "snapshot.evaluate",
        &format!("snapshot:{snapshot_id}"),
        json!({"evaluation": evaluation_id, "reason": reason, "findings": findings, "states": totals.by_state(),
               "compliance": compliance, "previous_evaluation": previous, "chain": chain, "written": written,
               "evaluated": if incremental.is_some() { json!(evaluated) } else { json!("all") }}),
    )
    .await?;
    tx.commit().await?;
    // A large write leaves the planner's statistics describing a table that
    // no longer exists (after a first import, "no rows"), and the findings
    // list then picks plans for a handful of rows; autovacuum catches up only
    // later. Refresh them now: it samples, so it takes a second at most.
    if written >= ANALYZE_AFTER {
        let partition = sqlx::query_scalar!("select relation from finding_span_partitions where chain = $1", chain)
            .fetch_one(pool)
            .await?;
        sqlx::query(&format!("analyze {}, finding_keys, finding_evidence", quoted(&partition))).execute(pool).await?;
    }
    tracing::info!(snapshot.id = %snapshot_id, evaluation.id = evaluation_id, findings, written,
                   incremental = incremental.is_some(), "snapshot evaluated");
    Ok(Evaluation { id: evaluation_id, snapshot_id, findings, compliance, created: true, written })
}

/// The chain an evaluation of `snapshot_id` joins: its scope's, when it is
/// the scope's newest snapshot; else a detached chain of its own, so that a
/// scope's chain only ever moves forward in time.
async fn chain_of(
    conn: &mut PgConnection,
    snapshot_id: Uuid,
    scope_key: &str,
    finished_at: OffsetDateTime,
) -> CoreResult<String> {
    let newer = sqlx::query_scalar!(
        r#"select exists (select 1 from snapshots where scope_key = $1 and finished_at > $2 and id <> $3) as "x!""#,
        scope_key,
        finished_at,
        snapshot_id
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(if newer { format!("~snapshot {snapshot_id}") } else { scope_key.to_string() })
}

/// The first 16 bytes of a SHA-256: what the evaluator keeps in memory per
/// finding of the previous evaluation (the full hashes are stored).
type Short = [u8; 16];

fn short(hash: &[u8]) -> Short {
    let mut out = [0u8; 16];
    out.copy_from_slice(&hash[..16]);
    out
}

/// A finding of the previous evaluation, as compactly as comparing needs.
#[derive(Clone, Copy)]
struct Prev {
    span: i64,
    finding: i64,
    version: Short,
    /// Index into `STATES`.
    state: u8,
    base_state: u8,
    since: OffsetDateTime,
}

impl Prev {
    /// A span as the membership queries read it.
    fn read(span: i64, finding: i64, version: &[u8], state: &str, base_state: &str, since: OffsetDateTime) -> Prev {
        Prev {
            span,
            finding,
            version: short(version),
            state: state_index(state),
            base_state: state_index(base_state),
            since,
        }
    }
}

/// The previous evaluation's findings, keyed by identity hash.
#[derive(Default)]
struct Membership {
    by_key: HashMap<Short, Prev>,
}

fn state_index(s: &str) -> u8 {
    super::query::STATES.iter().position(|x| *x == s).unwrap_or(0) as u8
}

impl Membership {
    /// Every finding of evaluation `e`: the spans of its chain that hold at it.
    async fn load(conn: &mut PgConnection, e: i64) -> CoreResult<Membership> {
        let mut by_key = HashMap::new();
        // The chain as a value, so that only its partition is read.
        let chain = sqlx::query_scalar!("select chain from evaluations where id = $1", e).fetch_one(&mut *conn).await?;
        let mut rows = sqlx::query!(
            r#"select s.id, s.finding_id, k.key_hash, s.version_hash, s.state, s.base_state, s.since
                 from finding_spans s
                 join finding_keys k on k.id = s.finding_id
                where s.chain = $2 and s.first_eval <= $1 and (s.until_eval is null or s.until_eval > $1)"#,
            e,
            chain
        )
        .fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            by_key.insert(
                short(&r.key_hash),
                Prev::read(r.id, r.finding_id, &r.version_hash, &r.state, &r.base_state, r.since),
            );
        }
        Ok(Membership { by_key })
    }
}

/// A finding the head held for a resource this evaluation evaluates again:
/// what the totals it takes over counted.
pub(super) struct Old {
    state: &'static str,
    severity: &'static str,
    control: String,
    resource: String,
}

impl Membership {
    /// The findings evaluation `e` held for `resources`, as `load` reads
    /// them, and what each counted in its totals.
    async fn load_for(conn: &mut PgConnection, e: i64, resources: &[String]) -> CoreResult<(Membership, Vec<Old>)> {
        let (mut by_key, mut old) = (HashMap::new(), Vec::new());
        if resources.is_empty() {
            return Ok((Membership { by_key }, old));
        }
        let chain = sqlx::query_scalar!("select chain from evaluations where id = $1", e).fetch_one(&mut *conn).await?;
        let mut rows = sqlx::query!(
            r#"select s.id, s.finding_id, k.key_hash, s.version_hash, s.state, s.base_state, s.since, s.severity,
                      s.control, s.resource_id
                 from finding_spans s
                 join finding_keys k on k.id = s.finding_id
                where s.chain = $2 and s.resource_id = any($3)
                  and s.first_eval <= $1 and (s.until_eval is null or s.until_eval > $1)"#,
            e,
            chain,
            resources
        )
        .fetch(&mut *conn);
        while let Some(r) = rows.try_next().await? {
            by_key.insert(
                short(&r.key_hash),
                Prev::read(r.id, r.finding_id, &r.version_hash, &r.state, &r.base_state, r.since),
            );
            old.push(Old {
                state: state_name(&r.state),
                severity: severity_name(&r.severity),
                control: r.control,
                resource: r.resource_id,
            });
        }
        Ok((Membership { by_key }, old))
    }
}

/// SHA-256 of a finding's identity: assignment, control, initiative member
/// and resource, each followed by a newline (migration 0009 computes the
/// same for the findings it moved).
pub fn key_hash(assignment: &str, control: &str, reference: &str, resource: &str) -> Vec<u8> {
    let mut h = Sha256::new();
    for part in [assignment, control, reference, resource] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.finalize().to_vec()
}

/// SHA-256 of what a finding shows: equal hashes mean nothing to write.
fn version_hash(
    state: &str,
    effect: Option<&str>,
    severity: &str,
    area: &str,
    exemption: Option<i64>,
    evidence_hash: &[u8],
) -> Vec<u8> {
    let mut h = Sha256::new();
    let exemption = exemption.map(|e| e.to_string()).unwrap_or_default();
    for part in [state, effect.unwrap_or_default(), severity, area, exemption.as_str()] {
        h.update(part.as_bytes());
        h.update(b"\n");
    }
    h.update(evidence_hash);
    h.finalize().to_vec()
}

/// Where a chunk's findings go.
struct Target {
    evaluation_id: i64,
    chain: String,
    /// The chain has a head, whose open spans this evaluation continues or
    /// closes. Otherwise this is the chain's first evaluation, which writes
    /// every finding to a staged table (`Pipeline::staging`).
    continuing: bool,
    now: OffsetDateTime,
}

/// A table name as an SQL identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A chunk being evaluated on a blocking thread: its rows and totals.
type Evaluating = tokio::task::JoinHandle<CoreResult<(Vec<Row>, Totals)>>;

/// Evaluates chunks on a blocking thread while the previous chunk's rows
/// are compared and written, so the evaluator and PostgreSQL work at the
/// same time.
struct Pipeline {
    ctx: Arc<Context>,
    pending: Option<Evaluating>,
    totals: Totals,
    /// The previous evaluation's findings not yet seen in this one.
    before: Membership,
    /// Spans this evaluation ends (their findings changed or vanished).
    closing: Vec<i64>,
    written: usize,
    /// Evidence hashes written by this evaluation: most findings of a
    /// control share their evidence, which is stored once.
    evidence: HashSet<Vec<u8>>,
    /// A chain's first evaluation's spans go to its staged table's writer.
    staging: Option<Staging>,
    timings: Timings,
}

/// Where an evaluation's time went, for its log line.
#[derive(Default, Debug)]
struct Timings {
    /// Waiting for the engine (it runs while the previous chunk is written).
    waiting: std::time::Duration,
    /// Writing identities, and spans with their evidence (for a staged
    /// table, handing them to its writer).
    keys: std::time::Duration,
    spans: std::time::Duration,
    /// Closing the spans of findings that changed or vanished.
    closing: std::time::Duration,
    /// Waiting for a staged table's writer to finish, then building its
    /// indexes.
    indexing: std::time::Duration,
    /// Attaching it.
    attaching: std::time::Duration,
}

impl Pipeline {
    fn new(ctx: Arc<Context>, before: Membership, staging: Option<Staging>) -> Pipeline {
        Pipeline {
            ctx,
            pending: None,
            totals: Totals::default(),
            before,
            closing: Vec::new(),
            written: 0,
            evidence: HashSet::new(),
            staging,
            timings: Timings::default(),
        }
    }

    /// Starts evaluating `chunk`, then writes the chunk started before it.
    async fn push(&mut self, tx: &mut PgConnection, target: &Target, chunk: Vec<Subject>) -> CoreResult<()> {
        let ctx = Arc::clone(&self.ctx);
        let next = tokio::task::spawn_blocking(move || {
            let types: BTreeMap<String, String> = chunk
                .iter()
                .map(|s| (s.id.clone(), s.doc.get("type").and_then(Value::as_str).unwrap_or_default().to_string()))
                .collect();
            let mut results = evaluate_all(ctx.library.catalog(), &ctx.assignments, &[], &chunk, ctx.now);
            let docs: Vec<(&str, &Value)> = chunk.iter().map(|s| (s.id.as_str(), &s.doc)).collect();
            ctx.access.flag(&ctx.checks, &docs, &mut results);
            let mut totals = Totals::default();
            let rows = rows(&results, &types, &ctx, &mut totals)?;
            Ok((rows, totals))
        });
        let previous = self.pending.replace(next);
        if let Some(handle) = previous {
            self.write(tx, target, handle).await?;
        }
        Ok(())
    }

    /// Writes what is still being evaluated, closes the spans of findings
    /// that vanished, and returns the totals and the spans written.
    async fn finish(mut self, pool: &PgPool, tx: &mut PgConnection, target: &Target) -> CoreResult<(Totals, usize)> {
        if let Some(handle) = self.pending.take() {
            self.write(tx, target, handle).await?;
        }
        if target.continuing {
            self.closing.extend(self.before.by_key.values().map(|p| p.span));
        }
        let t = std::time::Instant::now();
        for part in self.closing.chunks(CHUNK * 4) {
            sqlx::query!(
                "update finding_spans set until_eval = $1 where chain = $2 and id = any($3)",
                target.evaluation_id,
                target.chain,
                part
            )
            .execute(&mut *tx)
            .await?;
        }
        self.timings.closing = t.elapsed();
        if let Some(staging) = self.staging.take() {
            let t = std::time::Instant::now();
            staging.finish(pool).await?;
            self.timings.indexing = t.elapsed();
            // The indexes are built: attaching adopts them.
            let t = std::time::Instant::now();
            sqlx::query_scalar!("select finding_spans_attach($1)", target.chain).fetch_one(&mut *tx).await?;
            self.timings.attaching = t.elapsed();
        }
        tracing::info!(timings = ?self.timings, "findings written");
        Ok((self.totals, self.written))
    }

    async fn write(&mut self, tx: &mut PgConnection, target: &Target, handle: Evaluating) -> CoreResult<()> {
        let waited = std::time::Instant::now();
        let (rows, totals) = handle.await.map_err(|e| CoreError::Internal(format!("evaluation panicked: {e}")))??;
        self.timings.waiting += waited.elapsed();
        self.totals.merge(totals);
        // Compare each finding with the previous evaluation's: an unchanged
        // one continues its span and costs nothing.
        let mut changed: Vec<Change> = Vec::new();
        for row in rows {
            let prev = self.before.by_key.remove(&short(&row.key_hash));
            match prev {
                Some(p) if target.continuing && p.version == short(&row.version_hash) => {}
                Some(p) => {
                    let nc = state_index("NonCompliant");
                    let delta = if p.state == nc && row.state == "Compliant" {
                        "resolved"
                    } else if p.version == short(&row.version_hash) {
                        "unchanged"
                    } else {
                        "changed"
                    };
                    let since = if p.base_state == state_index(row.base_state) { p.since } else { target.now };
                    if target.continuing {
                        self.closing.push(p.span);
                    }
                    changed.push(Change { row, finding: Some(p.finding), delta, since });
                }
                None => changed.push(Change { row, finding: None, delta: "new", since: target.now }),
            }
        }
        for part in changed.chunks_mut(CHUNK) {
            let t = std::time::Instant::now();
            identify(tx, part).await?;
            self.timings.keys += t.elapsed();
            let t = std::time::Instant::now();
            insert_evidence(tx, part, &mut self.evidence).await?;
            let spans = Spans::of(part);
            match self.staging.as_mut() {
                Some(staging) => staging.send(spans).await?,
                None => spans.insert(tx, "finding_spans", &target.chain, target.evaluation_id).await?,
            }
            self.timings.spans += t.elapsed();
            self.written += part.len();
        }
        Ok(())
    }
}

/// A finding that is new or changed: a span to write.
struct Change {
    row: Row,
    /// Its identity, once known (new findings get theirs in `identify`).
    finding: Option<i64>,
    delta: &'static str,
    since: OffsetDateTime,
}

struct Row {
    assignment_id: String,
    /// The initiative member's reference id; empty for a definition.
    reference_id: String,
    control: String,
    resource_id: String,
    /// The id's last segment: what the list sorts and searches by.
    resource_name: String,
    resource_type: String,
    subscription_id: Option<String>,
    state: &'static str,
    severity: &'static str,
    area: String,
    effect: Option<&'static str>,
    /// The evidence as JSON text: serialised once, hashed, and cast to
    /// jsonb by the insert.
    evidence: String,
    evidence_hash: Vec<u8>,
    /// The exemption that made it Exempt.
    exemption_id: Option<i64>,
    /// The state underneath an exemption (the state itself otherwise).
    base_state: &'static str,
    key_hash: Vec<u8>,
    version_hash: Vec<u8>,
}

/// What a finding's evidence holds.
#[derive(Serialize)]
struct Evidence<'a> {
    reasons: &'a [attest_policy::Reason],
    message: &'a Option<String>,
}

fn rows(
    results: &[ResourceResult],
    types: &BTreeMap<String, String>,
    ctx: &Context,
    totals: &mut Totals,
) -> CoreResult<Vec<Row>> {
    let mut out = Vec::new();
    for r in results {
        // The resource's overall state is rolled up from what is stored
        // (exemptions and attestations included), as an incremental
        // evaluation rolls up the spans it keeps.
        let mut stored_states = Vec::new();
        let subscription_id = r.id.split('/').nth(2).filter(|s| !s.is_empty()).map(str::to_string);
        for a in &r.assignments {
            for m in &a.definitions {
                let Some(mut state) = m.outcome.state else { continue };
                let control = ctx.library.control(&m.definition_id);
                let name = control.map(|c| c.definition.name.clone()).unwrap_or_else(|| m.definition_id.clone());
                let mut message = m.outcome.message.clone();
                // A manual control's Unknown gives way to an attestation made
                // against the resource as it still is.
                if m.outcome.effect == Some(attest_policy::Effect::Manual) && state == ComplianceState::Unknown {
                    if let Some(a) = ctx.attested.get(&(name.clone(), r.id.clone())) {
                        if ctx.hashes.get(&r.id) == Some(&a.document_hash) {
                            state = ComplianceState::parse(&a.state).unwrap_or(ComplianceState::Unknown);
                            message = Some(format!(
                                "attested {} by {} on {} (attestation {}): {}",
                                a.state,
                                a.by,
                                a.at.date(),
                                a.id,
                                a.note
                            ));
                        } else {
                            message = Some(format!(
                                "the attestation by {} on {} (attestation {}) ended: the resource changed since",
                                a.by,
                                a.at.date(),
                                a.id
                            ));
                        }
                    }
                }
                let evidence = serde_json::to_string(&Evidence { reasons: &m.outcome.reasons, message: &message })
                    .map_err(|e| CoreError::Internal(e.to_string()))?;
                // The state, then the evidence: what an exemption is bound to.
                let mut hash = Sha256::new();
                hash.update(state.as_str().as_bytes());
                hash.update(b"\n");
                hash.update(evidence.as_bytes());
                let evidence_hash = hash.finalize().to_vec();
                // The hash is of the state underneath: what an exemption is
                // approved against, and what drift is measured by.
                let reference = m.reference_id.as_deref().unwrap_or_default();
                let base_state = state.as_str();
                let mut exemption_id = None;
                match ctx.exemptions.applies(&a.id, &r.id, &name, reference, &evidence_hash) {
                    Applies::Exempt { id } => {
                        state = ComplianceState::Exempt;
                        exemption_id = Some(id);
                    }
                    Applies::Drifted(ids) => totals.drifted.extend(ids),
                    Applies::None => {}
                }
                let severity = control.map(|c| c.severity.as_str()).unwrap_or("Medium");
                let area = control.map(|c| c.area.clone()).unwrap_or_else(|| "Azure built-in".into());
                let effect = m.outcome.effect.map(|e| e.as_str());
                let key_hash = key_hash(&a.id, &name, reference, &r.id);
                let version_hash = version_hash(state.as_str(), effect, severity, &area, exemption_id, &evidence_hash);
                *totals.by_key.entry((state.as_str(), severity, name.clone())).or_default() += 1;
                out.push(Row {
                    assignment_id: a.id.clone(),
                    reference_id: m.reference_id.clone().unwrap_or_default(),
                    control: name,
                    resource_id: r.id.clone(),
                    resource_name: r.id.rsplit('/').next().unwrap_or_default().to_string(),
                    resource_type: types.get(&r.id).cloned().unwrap_or_default(),
                    subscription_id: subscription_id.clone(),
                    state: state.as_str(),
                    severity,
                    area,
                    effect,
                    evidence,
                    evidence_hash,
                    exemption_id,
                    base_state,
                    key_hash,
                    version_hash,
                });
                stored_states.push(state);
            }
        }
        totals.count(ComplianceState::roll_up(stored_states).unwrap_or(r.state));
    }
    Ok(out)
}

/// Finds or creates the identity of each new finding of `changes`.
///
/// Most are new (every finding of a first evaluation is), so they are
/// inserted first, in key order so that the key index is written in runs,
/// and only those that already existed are looked up after.
async fn identify(tx: &mut PgConnection, changes: &mut [Change]) -> CoreResult<()> {
    let mut new: Vec<&Row> = changes.iter().filter(|c| c.finding.is_none()).map(|c| &c.row).collect();
    if new.is_empty() {
        return Ok(());
    }
    new.sort_unstable_by(|a, b| a.key_hash.cmp(&b.key_hash));
    let text = |f: fn(&Row) -> String| new.iter().map(|r| f(r)).collect::<Vec<String>>();
    let hashes: Vec<Vec<u8>> = new.iter().map(|r| r.key_hash.clone()).collect();
    let mut found: HashMap<Vec<u8>, i64> = sqlx::query!(
        r#"insert into finding_keys (key_hash, assignment_id, reference_id, resource_type)
           select * from unnest($1::bytea[], $2::text[], $3::text[], $4::text[])
           on conflict (key_hash) do nothing
           returning id, key_hash"#,
        &hashes,
        &text(|r| r.assignment_id.clone()),
        &text(|r| r.reference_id.clone()),
        &text(|r| r.resource_type.clone()),
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| (r.key_hash, r.id))
    .collect();
    if found.len() < hashes.len() {
        let existing: Vec<Vec<u8>> = hashes.into_iter().filter(|h| !found.contains_key(h)).collect();
        let rows = sqlx::query!("select id, key_hash from finding_keys where key_hash = any($1)", &existing)
            .fetch_all(&mut *tx)
            .await?;
        found.extend(rows.into_iter().map(|r| (r.key_hash, r.id)));
    }
    for c in changes.iter_mut().filter(|c| c.finding.is_none()) {
        c.finding = Some(*found.get(&c.row.key_hash).ok_or_else(|| {
            CoreError::Internal(format!("no identity for the finding of {} on {}", c.row.control, c.row.resource_id))
        })?);
    }
    Ok(())
}

/// Stores the evidence of `changes` not stored yet, once per distinct content.
async fn insert_evidence(tx: &mut PgConnection, changes: &[Change], written: &mut HashSet<Vec<u8>>) -> CoreResult<()> {
    let (mut hashes, mut bodies) = (Vec::new(), Vec::new());
    for c in changes {
        if written.insert(c.row.evidence_hash.clone()) {
            hashes.push(c.row.evidence_hash.clone());
            bodies.push(c.row.evidence.clone());
        }
    }
    if hashes.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "insert into finding_evidence (hash, evidence)
         select h, e::jsonb from unnest($1::bytea[], $2::text[]) as n(h, e) on conflict (hash) do nothing",
        &hashes,
        &bodies
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The spans of a batch of changes as the columns of one insert: built on
/// the evaluating connection, written by it or sent to a chain's first
/// evaluation's writer.
pub(super) struct Spans {
    finding: Vec<i64>,
    state: Vec<String>,
    base_state: Vec<String>,
    severity: Vec<String>,
    rank: Vec<i16>,
    area: Vec<String>,
    effect: Vec<Option<String>>,
    control: Vec<String>,
    resource_id: Vec<String>,
    resource_name: Vec<String>,
    subscription: Vec<Option<String>>,
    evidence: Vec<Vec<u8>>,
    exemption: Vec<Option<i64>>,
    delta: Vec<String>,
    since: Vec<OffsetDateTime>,
    version: Vec<Vec<u8>>,
}

impl Spans {
    fn of(changes: &[Change]) -> Spans {
        let text = |f: fn(&Change) -> String| changes.iter().map(f).collect::<Vec<String>>();
        Spans {
            finding: changes.iter().map(|c| c.finding.unwrap_or_default()).collect(),
            state: text(|c| c.row.state.to_string()),
            base_state: text(|c| c.row.base_state.to_string()),
            severity: text(|c| c.row.severity.to_string()),
            rank: changes
                .iter()
                .map(|c| super::query::SEVERITIES.iter().position(|s| *s == c.row.severity).unwrap_or(2) as i16)
                .collect(),
            area: text(|c| c.row.area.clone()),
            effect: changes.iter().map(|c| c.row.effect.map(str::to_string)).collect(),
            control: text(|c| c.row.control.clone()),
            resource_id: text(|c| c.row.resource_id.clone()),
            resource_name: text(|c| c.row.resource_name.clone()),
            subscription: changes.iter().map(|c| c.row.subscription_id.clone()).collect(),
            evidence: changes.iter().map(|c| c.row.evidence_hash.clone()).collect(),
            exemption: changes.iter().map(|c| c.row.exemption_id).collect(),
            delta: text(|c| c.delta.to_string()),
            since: changes.iter().map(|c| c.since).collect(),
            version: changes.iter().map(|c| c.row.version_hash.clone()).collect(),
        }
    }

    /// Writes a span, starting at `evaluation_id`, for each change: into a
    /// staged table, or through the parent. The table is named at run time,
    /// so this one statement is not checked at compile time; every
    /// evaluation in the database tests runs it.
    pub(super) async fn insert(
        &self,
        conn: &mut PgConnection,
        table: &str,
        chain: &str,
        evaluation_id: i64,
    ) -> CoreResult<()> {
        let table = quoted(table);
        let sql = format!(
            r#"insert into {table} (finding_id, chain, first_eval, state, base_state, severity, severity_rank, area,
                                    effect, control, resource_id, resource_name, subscription_id, evidence_hash,
                                    exemption_id, delta, since, version_hash)
               select n.finding_id, $1, $2, n.state, n.base_state, n.severity, n.severity_rank, n.area, n.effect,
                      n.control, n.resource_id, n.resource_name, n.subscription_id, n.evidence_hash, n.exemption_id,
                      n.delta, n.since, n.version_hash
                 from unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::smallint[], $8::text[], $9::text[],
                             $10::text[], $11::text[], $12::text[], $13::text[], $14::bytea[], $15::bigint[],
                             $16::text[], $17::timestamptz[], $18::bytea[])
                      as n(finding_id, state, base_state, severity, severity_rank, area, effect, control, resource_id,
                           resource_name, subscription_id, evidence_hash, exemption_id, delta, since, version_hash)"#
        );
        sqlx::query(&sql)
            .bind(chain)
            .bind(evaluation_id)
            .bind(&self.finding)
            .bind(&self.state)
            .bind(&self.base_state)
            .bind(&self.severity)
            .bind(&self.rank)
            .bind(&self.area)
            .bind(&self.effect)
            .bind(&self.control)
            .bind(&self.resource_id)
            .bind(&self.resource_name)
            .bind(&self.subscription)
            .bind(&self.evidence)
            .bind(&self.exemption)
            .bind(&self.delta)
            .bind(&self.since)
            .bind(&self.version)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}
