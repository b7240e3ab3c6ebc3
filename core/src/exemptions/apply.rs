//! What evaluation makes Exempt. An approved, unexpired exemption covers
//! the findings it was bound to on approval: one whose state and evidence
//! hash are unchanged becomes Exempt, naming the exemption; one that
//! changed is not exempted, and the exemption is flagged for re-approval
//! (drift). Findings that appeared in its scope after approval need their
//! own request: nobody approved their state.

use crate::audit;
use crate::error::CoreResult;
use serde_json::json;
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

/// (assignment, resource, control, reference id): what a binding names.
type Key = (String, String, String, String);

/// The active exemptions' bindings, looked up per finding.
#[derive(Debug, Clone, Default)]
pub struct Exemptions {
    /// (assignment, resource, control, reference id) → (exemption, approved hash).
    /// Key → (exemption id, the hash it was approved against).
    bindings: HashMap<Key, Vec<(i64, Vec<u8>)>>,
}

/// What applies to one finding.
#[derive(Debug, Clone, PartialEq)]
pub enum Applies {
    /// Exempt, by this exemption.
    Exempt {
        id: i64,
    },
    /// Covered, but its state changed since approval: these exemptions drifted.
    Drifted(Vec<i64>),
    None,
}

impl Exemptions {
    /// Approved exemptions that have not expired at `now`, with their bindings.
    pub async fn load(conn: &mut PgConnection, now: OffsetDateTime) -> CoreResult<Exemptions> {
        let rows = sqlx::query!(
            "select e.id, e.assignment_id, b.resource_id, b.control, b.reference_id, b.evidence_hash
               from exemptions e join exemption_bindings b on b.exemption_id = e.id
              where e.state = 'approved' and e.expires_on > $1
              order by e.id",
            now
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Exemptions::default();
        for r in rows {
            out.bindings
                .entry((r.assignment_id, r.resource_id, r.control, r.reference_id))
                .or_default()
                .push((r.id, r.evidence_hash));
        }
        Ok(out)
    }

    /// Every binding in a stable order, as text: part of what an
    /// evaluation ran against.
    pub fn fingerprint(&self) -> String {
        let mut bindings: Vec<_> = self.bindings.iter().collect();
        bindings.sort();
        format!("{bindings:?}")
    }

    /// What applies to the finding of (assignment, resource, control,
    /// reference id) whose state and evidence hash to `hash`.
    pub fn applies(&self, assignment: &str, resource: &str, control: &str, reference: &str, hash: &[u8]) -> Applies {
        if self.bindings.is_empty() {
            return Applies::None;
        }
        let key = (assignment.to_string(), resource.to_string(), control.to_string(), reference.to_string());
        let Some(found) = self.bindings.get(&key) else { return Applies::None };
        if let Some((id, _)) = found.iter().find(|(_, h)| h.as_slice() == hash) {
            return Applies::Exempt { id: *id };
        }
        Applies::Drifted(found.iter().map(|(id, _)| *id).collect())
    }
}

/// Flags exemptions that drifted (first time only), with an event and an
/// audit entry each, in the evaluation's transaction.
pub async fn flag_drift(
    conn: &mut PgConnection,
    actor: &str,
    evaluation_id: i64,
    drifted: &BTreeSet<i64>,
) -> CoreResult<Vec<i64>> {
    if drifted.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<i64> = drifted.iter().copied().collect();
    let flagged = sqlx::query_scalar!(
        "update exemptions set drifted_at = now() where id = any($1) and drifted_at is null returning id",
        &ids
    )
    .fetch_all(&mut *conn)
    .await?;
    for id in &flagged {
        let comment = format!(
            "evaluation {evaluation_id} found a covered finding in a different state than approved; \
             the exemption no longer applies to it and needs re-approval"
        );
        sqlx::query!(
            "insert into exemption_events (exemption_id, actor, action, from_state, to_state, comment)
             values ($1, $2, 'drift', 'approved', 'approved', $3)",
            id,
            actor,
            comment
        )
        .execute(&mut *conn)
        .await?;
        audit::append(conn, actor, "exemption.drift", &format!("exemption:{id}"), json!({"evaluation": evaluation_id}))
            .await?;
    }
    Ok(flagged)
}
