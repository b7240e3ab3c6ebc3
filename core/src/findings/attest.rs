//! Attesting manual controls: an auditor states, with a note and an attached
//! document, that a resource meets a control Attest cannot check itself.
//! The attestation is bound to the resource's document; evaluation honours
//! it until a snapshot shows the resource changed.

use super::evaluate::reevaluate;
use crate::audit;
use crate::error::{CoreError, CoreResult};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

/// Largest attachment accepted.
pub const MAX_ATTACHMENT: usize = 5 * 1024 * 1024;
/// Longest note.
pub const MAX_NOTE: usize = 4000;

/// What an auditor submits.
#[derive(Debug, Clone)]
pub struct NewAttestation {
    pub finding_id: i64,
    /// `Compliant` or `NonCompliant`.
    pub state: String,
    pub note: String,
    pub attachment_name: String,
    pub attachment_type: String,
    pub attachment: Vec<u8>,
}

/// The latest attestation of a (control, resource), as evaluation reads it.
#[derive(Debug, Clone)]
pub struct Attested {
    pub id: i64,
    pub state: String,
    pub note: String,
    pub by: String,
    pub at: time::OffsetDateTime,
    pub document_hash: Vec<u8>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

/// Records an attestation (audited), then evaluates the finding's snapshot
/// again. Returns the attestation's id and the finding's (stable) id.
pub async fn attest(pool: &PgPool, actor: &str, a: NewAttestation) -> CoreResult<(i64, i64)> {
    if !["Compliant", "NonCompliant"].contains(&a.state.as_str()) {
        return Err(invalid("state", "Compliant or NonCompliant"));
    }
    let note = a.note.trim();
    if note.is_empty() || note.chars().count() > MAX_NOTE {
        return Err(invalid("note", format!("a note of 1 to {MAX_NOTE} characters is required")));
    }
    if a.attachment.is_empty() {
        return Err(invalid("file", "attach the evidence (a document, a screenshot, an export)"));
    }
    if a.attachment.len() > MAX_ATTACHMENT {
        return Err(invalid("file", format!("the attachment is larger than {MAX_ATTACHMENT} bytes")));
    }
    let name: String = a.attachment_name.chars().filter(|c| !c.is_control()).take(200).collect();
    let kind: String = a.attachment_type.chars().filter(|c| !c.is_control()).take(100).collect();
    // The finding as it is now: its span in the current evaluation of its scope.
    let f = sqlx::query!(
        r#"select e.snapshot_id, s.control, s.resource_id, s.effect
             from finding_spans s join current_evaluations c on c.chain = s.chain
             join evaluations e on e.id = c.id
            where s.finding_id = $1 and s.until_eval is null
            order by c.id desc limit 1"#,
        a.finding_id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("finding {} in a current evaluation", a.finding_id) })?;
    if f.effect.as_deref() != Some("manual") {
        return Err(invalid("finding", "only manual controls are attested; the others are evaluated"));
    }
    let document_hash = sqlx::query_scalar!(
        r#"select d.hash from snapshot_members m cross join lateral unnest(m.ids) as member(id)
             join documents d on d.id = member.id
            where m.snapshot_id = $1 and d.resource_id = $2 limit 1"#,
        f.snapshot_id,
        f.resource_id
    )
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("the document of {}", f.resource_id) })?;
    let sha: Vec<u8> = Sha256::digest(&a.attachment).to_vec();
    let mut tx = pool.begin().await?;
    let id = sqlx::query_scalar!(
        "insert into attestations (control, resource_id, state, note, attachment_name, attachment_type, attachment,
                                   attachment_sha256, document_hash, attested_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
        f.control,
        f.resource_id,
        a.state,
        note,
        if name.is_empty() { "attachment".to_string() } else { name.clone() },
        if kind.is_empty() { "application/octet-stream".to_string() } else { kind },
        a.attachment,
        sha,
        document_hash,
        actor
    )
    .fetch_one(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "finding.attest",
        &format!("attestation:{id}"),
        json!({"control": f.control, "resource": f.resource_id, "state": a.state, "note": note,
               "attachment": {"name": name, "sha256": hex::encode(&sha), "bytes": a.attachment.len()},
               "document_hash": hex::encode(&document_hash), "finding": a.finding_id}),
    )
    .await?;
    tx.commit().await?;
    reevaluate(pool, f.snapshot_id, actor, &format!("attestation {id}")).await?;
    // A finding keeps its id across evaluations.
    Ok((id, a.finding_id))
}

/// The latest attestation of every (control, resource).
pub async fn latest(
    conn: &mut sqlx::PgConnection,
) -> CoreResult<std::collections::HashMap<(String, String), Attested>> {
    Ok(sqlx::query!(
        "select distinct on (control, resource_id) id, control, resource_id, state, note, attested_by, attested_at,
                document_hash
           from attestations order by control, resource_id, attested_at desc, id desc"
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| {
        (
            (r.control, r.resource_id),
            Attested {
                id: r.id,
                state: r.state,
                note: r.note,
                by: r.attested_by,
                at: r.attested_at,
                document_hash: r.document_hash,
            },
        )
    })
    .collect())
}
