//! Evaluating a stored snapshot and storing its findings in one transaction
//! with its audit entry.

use super::subjects::{self, Doc};
use crate::audit;
use crate::error::CoreResult;
use attest_policy::assignment::{evaluate_all, Catalog};
use attest_policy::catalogue;
use attest_policy::state::compliance_percentage;
use attest_policy::PolicyDocument;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// What an evaluation produced.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub snapshot_id: Uuid,
    pub findings: usize,
    pub compliance: Option<f64>,
    /// False when the snapshot had been evaluated before (nothing changed).
    pub created: bool,
}

struct Row {
    assignment_id: String,
    control: String,
    resource_id: String,
    resource_type: String,
    subscription_id: Option<String>,
    state: String,
    severity: String,
    area: String,
    effect: Option<String>,
    evidence: Value,
    evidence_hash: Vec<u8>,
    delta: &'static str,
    first_seen: OffsetDateTime,
}

/// (assignment, control, resource).
type FindingKey = (String, String, String);
/// A finding's state, evidence hash and first-seen time in the previous snapshot.
type Previous = (String, Vec<u8>, OffsetDateTime);

/// Rows per insert statement.
const BATCH: usize = 5_000;

/// Evaluates `snapshot_id` with the catalogue's default assignments and
/// stores its findings. A snapshot already evaluated is left as it is.
pub async fn evaluate_snapshot(pool: &PgPool, snapshot_id: Uuid, actor: &str) -> CoreResult<Evaluation> {
    if let Some(e) =
        sqlx::query!("select finding_count, compliance from evaluations where snapshot_id = $1", snapshot_id)
            .fetch_optional(pool)
            .await?
    {
        return Ok(Evaluation {
            snapshot_id,
            findings: e.finding_count as usize,
            compliance: e.compliance,
            created: false,
        });
    }
    let header = sqlx::query!("select scope_key, finished_at from snapshots where id = $1", snapshot_id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| crate::CoreError::NotFound { what: format!("snapshot {snapshot_id}") })?;
    let docs: Vec<Doc> = sqlx::query!(
        r#"select d.kind, d.resource_id, d.account_id, d.body
             from snapshot_members m
            cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and m.kind <> 'usage'"#,
        snapshot_id
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| Doc { kind: r.kind, resource_id: r.resource_id, account_id: r.account_id, body: r.body })
    .collect();

    let mut catalog = Catalog::default();
    for c in catalogue::controls() {
        catalog.insert(PolicyDocument::Definition(c.definition.clone()));
    }
    let assignments = catalogue::default_assignments();
    let now = header.finished_at;
    let subjects = subjects::build(docs);
    let types: HashMap<String, String> = subjects
        .iter()
        .map(|s| (s.id.clone(), s.doc.get("type").and_then(Value::as_str).unwrap_or_default().to_string()))
        .collect();
    // Evaluation is CPU work: keep it off the async workers.
    let results = tokio::task::spawn_blocking(move || evaluate_all(&catalog, &assignments, &[], &subjects, now))
        .await
        .map_err(|e| crate::CoreError::Internal(format!("evaluation panicked: {e}")))?;

    let previous = sqlx::query!(
        r#"select s.id from snapshots s join evaluations e on e.snapshot_id = s.id
            where s.scope_key = $1 and s.finished_at < $2 and s.id <> $3
            order by s.finished_at desc limit 1"#,
        header.scope_key,
        header.finished_at,
        snapshot_id
    )
    .fetch_optional(pool)
    .await?
    .map(|r| r.id);
    let mut before: HashMap<FindingKey, Previous> = HashMap::new();
    if let Some(prev) = previous {
        for r in sqlx::query!(
            "select assignment_id, control, resource_id, state, evidence_hash, first_seen from findings where snapshot_id = $1",
            prev
        )
        .fetch_all(pool)
        .await?
        {
            before.insert((r.assignment_id, r.control, r.resource_id), (r.state, r.evidence_hash, r.first_seen));
        }
    }

    let mut rows = Vec::new();
    for r in &results {
        let subscription_id = r.id.split('/').nth(2).filter(|s| !s.is_empty()).map(str::to_string);
        for a in &r.assignments {
            for m in &a.definitions {
                let Some(state) = m.outcome.state else { continue };
                let control = catalogue::control(&m.definition_id);
                let name = control.map(|c| c.definition.name.clone()).unwrap_or_else(|| m.definition_id.clone());
                let evidence = json!({"reasons": m.outcome.reasons, "message": m.outcome.message});
                let hash: Vec<u8> = Sha256::digest(
                    serde_jcs::to_vec(&json!({"state": state.as_str(), "evidence": evidence}))
                        .map_err(|e| crate::CoreError::Internal(e.to_string()))?,
                )
                .to_vec();
                let key = (a.id.clone(), name.clone(), r.id.clone());
                let (delta, first_seen) = match before.get(&key) {
                    None => ("new", now),
                    Some((s, _, _)) if s == "NonCompliant" && state.as_str() == "Compliant" => ("resolved", now),
                    Some((s, h, seen)) if s == state.as_str() && *h == hash => ("unchanged", *seen),
                    Some((s, _, seen)) if s == state.as_str() => ("changed", *seen),
                    Some(_) => ("changed", now),
                };
                rows.push(Row {
                    assignment_id: a.id.clone(),
                    control: name,
                    resource_id: r.id.clone(),
                    resource_type: types.get(&r.id).cloned().unwrap_or_default(),
                    subscription_id: subscription_id.clone(),
                    state: state.as_str().to_string(),
                    severity: control.map(|c| c.severity.as_str()).unwrap_or("Medium").to_string(),
                    area: control.map(|c| c.area.clone()).unwrap_or_else(|| "Azure built-in".into()),
                    effect: m.outcome.effect.map(|e| e.as_str().to_string()),
                    evidence,
                    evidence_hash: hash,
                    delta,
                    first_seen,
                });
            }
        }
    }
    let compliance = compliance_percentage(results.iter().map(|r| r.state));

    let mut tx = pool.begin().await?;
    let inserted = sqlx::query!(
        "insert into evaluations (snapshot_id, previous_snapshot_id, finding_count, compliance)
         values ($1, $2, $3, $4) on conflict (snapshot_id) do nothing",
        snapshot_id,
        previous,
        rows.len() as i32,
        compliance
    )
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        // Another evaluation of the same snapshot won the race.
        tx.rollback().await?;
        return Box::pin(evaluate_snapshot(pool, snapshot_id, actor)).await;
    }
    for chunk in rows.chunks(BATCH) {
        insert(&mut tx, snapshot_id, chunk).await?;
    }
    let counts = rows.iter().fold(HashMap::<&str, usize>::new(), |mut m, r| {
        *m.entry(r.state.as_str()).or_default() += 1;
        m
    });
    audit::append(
        &mut tx,
        actor,
        "snapshot.evaluate",
        &format!("snapshot:{snapshot_id}"),
        json!({"findings": rows.len(), "states": counts, "compliance": compliance, "previous": previous}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(snapshot.id = %snapshot_id, findings = rows.len(), "snapshot evaluated");
    Ok(Evaluation { snapshot_id, findings: rows.len(), compliance, created: true })
}

async fn insert(tx: &mut sqlx::PgConnection, snapshot_id: Uuid, rows: &[Row]) -> CoreResult<()> {
    let col = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let (assignment, control, resource, rtype) = (
        col(|r| r.assignment_id.clone()),
        col(|r| r.control.clone()),
        col(|r| r.resource_id.clone()),
        col(|r| r.resource_type.clone()),
    );
    let subscription: Vec<Option<String>> = rows.iter().map(|r| r.subscription_id.clone()).collect();
    let (state, severity, area) = (col(|r| r.state.clone()), col(|r| r.severity.clone()), col(|r| r.area.clone()));
    let effect: Vec<Option<String>> = rows.iter().map(|r| r.effect.clone()).collect();
    let evidence: Vec<Value> = rows.iter().map(|r| r.evidence.clone()).collect();
    let hash: Vec<Vec<u8>> = rows.iter().map(|r| r.evidence_hash.clone()).collect();
    let delta: Vec<String> = rows.iter().map(|r| r.delta.to_string()).collect();
    let first_seen: Vec<OffsetDateTime> = rows.iter().map(|r| r.first_seen).collect();
    sqlx::query!(
        r#"insert into findings (snapshot_id, assignment_id, control, resource_id, resource_type, subscription_id,
                                 state, severity, area, effect, evidence, evidence_hash, delta, first_seen)
           select $1, * from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                    $9::text[], $10::text[], $11::jsonb[], $12::bytea[], $13::text[], $14::timestamptz[])"#,
        snapshot_id,
        &assignment,
        &control,
        &resource,
        &rtype,
        &subscription as &[Option<String>],
        &state,
        &severity,
        &area,
        &effect as &[Option<String>],
        &evidence,
        &hash,
        &delta,
        &first_seen
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}
