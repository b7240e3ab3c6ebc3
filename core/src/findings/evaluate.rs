//! Evaluating a stored snapshot and storing its findings in one transaction
//! with its audit entry.
//!
//! Memory stays bounded on large estates: the account-scoped documents
//! (accounts and what hangs off them) are evaluated together because they
//! refer to each other; role assignments, which refer to nothing, stream
//! through in chunks. Deltas against the previous snapshot are computed by
//! the insert itself, joining on the previous findings' unique key.

use super::attest::Attested;
use super::definitions::Library;
use super::subjects::{self, Doc};
use crate::audit;
use crate::error::{CoreError, CoreResult};
use crate::exemptions::apply::{Applies, Exemptions};
use attest_policy::assignment::{evaluate_all, Assignment, ResourceResult, Subject};
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
}

/// Subjects evaluated per batch, and rows per insert statement.
const CHUNK: usize = 5_000;

/// What every chunk is evaluated with.
struct Context {
    /// The catalogue and the imported definitions.
    library: Library,
    assignments: Vec<Assignment>,
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
struct Totals {
    findings: usize,
    by_state: BTreeMap<&'static str, usize>,
    /// Findings per (state, severity, control), stored for the list's totals.
    by_key: BTreeMap<(&'static str, &'static str, String), i32>,
    /// Each resource's overall state, for the compliance percentage.
    overall: Vec<ComplianceState>,
    /// Exemptions whose covered findings changed state since approval.
    drifted: BTreeSet<i64>,
}

impl Totals {
    fn merge(&mut self, other: Totals) {
        self.findings += other.findings;
        for (k, v) in other.by_state {
            *self.by_state.entry(k).or_default() += v;
        }
        for (k, v) in other.by_key {
            *self.by_key.entry(k).or_default() += v;
        }
        self.overall.extend(other.overall);
        self.drifted.extend(other.drifted);
    }
}

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
    let mut tx = pool.begin().await?;
    // One evaluation per snapshot at a time; the loser finds the winner's.
    sqlx::query!("select pg_advisory_xact_lock(hashtextextended($1::uuid::text, 7))", snapshot_id)
        .execute(&mut *tx)
        .await?;
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
            });
        }
    }
    let header = sqlx::query!("select scope_key, finished_at from snapshots where id = $1", snapshot_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| CoreError::NotFound { what: format!("snapshot {snapshot_id}") })?;
    // Deltas are against the newest evaluation of this scope up to this
    // snapshot: an earlier snapshot's, or this one's when evaluating again.
    let previous = sqlx::query_scalar!(
        r#"select max(e.id) from evaluations e join snapshots s on s.id = e.snapshot_id
            where s.scope_key = $1 and (s.finished_at < $2 or s.id = $3)"#,
        header.scope_key,
        header.finished_at,
        snapshot_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let evaluation_id = sqlx::query_scalar!(r#"select nextval(pg_get_serial_sequence('evaluations', 'id')) as "id!""#)
        .fetch_one(&mut *tx)
        .await?;

    let library = Library::load(&mut tx).await?;
    let assignments = super::assignments::current(&mut tx, actor).await?;
    let target = Target { evaluation_id, snapshot_id, previous, now: header.finished_at };

    // Accounts and everything that hangs off them, together.
    let docs: Vec<Doc> = sqlx::query!(
        r#"select d.kind, d.hash, d.resource_id, d.account_id, d.body
             from snapshot_members m
            cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind not in ('usage', 'role_assignment', 'subscription')"#,
        snapshot_id
    )
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .map(|r| Doc { kind: r.kind, hash: r.hash, resource_id: r.resource_id, account_id: r.account_id, body: r.body })
    .collect();
    // Manual controls are attested on accounts and what hangs off them.
    let attested = super::attest::latest(&mut tx).await?;
    let attested_ids: std::collections::HashSet<&str> = attested.keys().map(|(_, r)| r.as_str()).collect();
    let hashes: HashMap<String, Vec<u8>> = docs
        .iter()
        .filter(|d| attested_ids.contains(d.resource_id.as_str()))
        .map(|d| (d.resource_id.clone(), d.hash.clone()))
        .collect();
    // Expiry is enforced here too: an exemption past its date no longer
    // applies, whether or not the expiry job has run yet.
    let exemptions = Exemptions::load(&mut tx, OffsetDateTime::now_utc()).await?;
    let ctx = Arc::new(Context { library, assignments, now: header.finished_at, attested, hashes, exemptions });
    let mut pipeline = Pipeline::new(ctx);
    let mut subjects = subjects::build(docs);
    while !subjects.is_empty() {
        let rest = subjects.split_off(subjects.len().min(CHUNK));
        let chunk = std::mem::replace(&mut subjects, rest);
        pipeline.push(&mut tx, &target, chunk).await?;
    }

    // Role assignments, streamed. The stream borrows its connection, so it
    // reads from a second connection of the pool.
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
    let totals = pipeline.finish(&mut tx, &target).await?;
    crate::exemptions::apply::flag_drift(&mut tx, actor, evaluation_id, &totals.drifted).await?;

    let compliance = attest_policy::state::compliance_percentage(totals.overall.iter().copied());
    sqlx::query!(
        "insert into evaluations (id, snapshot_id, previous_evaluation_id, reason, finding_count, compliance)
         overriding system value values ($1, $2, $3, $4, $5, $6)",
        evaluation_id,
        snapshot_id,
        previous,
        reason,
        totals.findings as i32,
        compliance
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
        json!({"evaluation": evaluation_id, "reason": reason, "findings": totals.findings, "states": totals.by_state,
               "compliance": compliance, "previous_evaluation": previous}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(snapshot.id = %snapshot_id, evaluation.id = evaluation_id, findings = totals.findings, "snapshot evaluated");
    Ok(Evaluation { id: evaluation_id, snapshot_id, findings: totals.findings, compliance, created: true })
}

/// Where a chunk's findings go.
struct Target {
    evaluation_id: i64,
    snapshot_id: Uuid,
    previous: Option<i64>,
    now: OffsetDateTime,
}

/// A chunk being evaluated on a blocking thread: its rows and totals.
type Evaluating = tokio::task::JoinHandle<CoreResult<(Vec<Row>, Totals)>>;

/// Evaluates chunks on a blocking thread while the previous chunk's rows
/// are written, so the evaluator and PostgreSQL work at the same time.
struct Pipeline {
    ctx: Arc<Context>,
    pending: Option<Evaluating>,
    totals: Totals,
    /// Evidence hashes written by this evaluation: most findings of a
    /// control share their evidence, which is stored once.
    written: HashSet<Vec<u8>>,
}

impl Pipeline {
    fn new(ctx: Arc<Context>) -> Pipeline {
        Pipeline { ctx, pending: None, totals: Totals::default(), written: HashSet::new() }
    }

    /// Starts evaluating `chunk`, then writes the chunk started before it.
    async fn push(&mut self, tx: &mut PgConnection, target: &Target, chunk: Vec<Subject>) -> CoreResult<()> {
        let ctx = Arc::clone(&self.ctx);
        let next = tokio::task::spawn_blocking(move || {
            let types: BTreeMap<String, String> = chunk
                .iter()
                .map(|s| (s.id.clone(), s.doc.get("type").and_then(Value::as_str).unwrap_or_default().to_string()))
                .collect();
            let results = evaluate_all(ctx.library.catalog(), &ctx.assignments, &[], &chunk, ctx.now);
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

    /// Writes what is still being evaluated and returns the totals.
    async fn finish(mut self, tx: &mut PgConnection, target: &Target) -> CoreResult<Totals> {
        if let Some(handle) = self.pending.take() {
            self.write(tx, target, handle).await?;
        }
        Ok(self.totals)
    }

    async fn write(&mut self, tx: &mut PgConnection, target: &Target, handle: Evaluating) -> CoreResult<()> {
        let (rows, totals) = handle.await.map_err(|e| CoreError::Internal(format!("evaluation panicked: {e}")))??;
        for part in rows.chunks(CHUNK) {
            insert_evidence(tx, part, &mut self.written).await?;
            insert(tx, target, part).await?;
        }
        self.totals.merge(totals);
        Ok(())
    }
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
        // Exemptions change a resource's overall state: roll up what is stored.
        let mut stored_states = Vec::new();
        let mut exempted = false;
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
                let mut exemption_id = None;
                match ctx.exemptions.applies(&a.id, &r.id, &name, reference, &evidence_hash) {
                    Applies::Exempt { id } => {
                        state = ComplianceState::Exempt;
                        exemption_id = Some(id);
                        exempted = true;
                    }
                    Applies::Drifted(ids) => totals.drifted.extend(ids),
                    Applies::None => {}
                }
                let severity = control.map(|c| c.severity.as_str()).unwrap_or("Medium");
                *totals.by_state.entry(state.as_str()).or_default() += 1;
                *totals.by_key.entry((state.as_str(), severity, name.clone())).or_default() += 1;
                totals.findings += 1;
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
                    area: control.map(|c| c.area.clone()).unwrap_or_else(|| "Azure built-in".into()),
                    effect: m.outcome.effect.map(|e| e.as_str()),
                    evidence,
                    evidence_hash,
                    exemption_id,
                });
                stored_states.push(state);
            }
        }
        totals.overall.push(if exempted {
            ComplianceState::roll_up(stored_states).unwrap_or(r.state)
        } else {
            r.state
        });
    }
    Ok(out)
}

/// Stores the evidence of `rows` not stored yet, once per distinct content.
async fn insert_evidence(tx: &mut PgConnection, rows: &[Row], written: &mut HashSet<Vec<u8>>) -> CoreResult<()> {
    let (mut hashes, mut bodies) = (Vec::new(), Vec::new());
    for r in rows {
        if written.insert(r.evidence_hash.clone()) {
            hashes.push(r.evidence_hash.clone());
            bodies.push(r.evidence.clone());
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

/// Inserts rows, taking each one's delta and first-seen time from the same
/// finding in the previous snapshot (if any).
async fn insert(tx: &mut PgConnection, target: &Target, rows: &[Row]) -> CoreResult<()> {
    let text = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let (assignment, control, resource, rtype, area) = (
        text(|r| r.assignment_id.clone()),
        text(|r| r.control.clone()),
        text(|r| r.resource_id.clone()),
        text(|r| r.resource_type.clone()),
        text(|r| r.area.clone()),
    );
    let (state, severity) = (text(|r| r.state.to_string()), text(|r| r.severity.to_string()));
    let reference = text(|r| r.reference_id.clone());
    let name = text(|r| r.resource_name.clone());
    let exemption: Vec<Option<i64>> = rows.iter().map(|r| r.exemption_id).collect();
    let subscription: Vec<Option<String>> = rows.iter().map(|r| r.subscription_id.clone()).collect();
    let effect: Vec<Option<String>> = rows.iter().map(|r| r.effect.map(str::to_string)).collect();
    let hash: Vec<Vec<u8>> = rows.iter().map(|r| r.evidence_hash.clone()).collect();
    sqlx::query!(
        r#"insert into findings (evaluation_id, snapshot_id, assignment_id, control, resource_id, resource_type,
                                 subscription_id, state, severity, area, effect, evidence_hash, delta, first_seen,
                                 reference_id, exemption_id, resource_name)
           select $14, $1, n.assignment_id, n.control, n.resource_id, n.resource_type, n.subscription_id, n.state,
                  n.severity, n.area, n.effect, n.evidence_hash,
                  case when p.id is null then 'new'
                       when p.state = 'NonCompliant' and n.state = 'Compliant' then 'resolved'
                       when p.state = n.state and p.evidence_hash = n.evidence_hash then 'unchanged'
                       else 'changed' end,
                  case when p.state = n.state then p.first_seen else $13 end,
                  n.reference_id, n.exemption_id, n.resource_name
             from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::text[], $11::bytea[], $15::text[], $16::bigint[], $17::text[])
                  as n(assignment_id, control, resource_id, resource_type, subscription_id, state, severity, area,
                       effect, evidence_hash, reference_id, exemption_id, resource_name)
             left join findings p on p.evaluation_id = $12 and p.resource_id = n.resource_id
                                 and p.control = n.control and p.assignment_id = n.assignment_id
                                 and p.reference_id = n.reference_id"#,
        target.snapshot_id,
        &assignment,
        &control,
        &resource,
        &rtype,
        &subscription as &[Option<String>],
        &state,
        &severity,
        &area,
        &effect as &[Option<String>],
        &hash,
        target.previous as Option<i64>,
        target.now,
        target.evaluation_id,
        &reference,
        &exemption as &[Option<i64>],
        &name
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
