//! Reading and verifying the audit log (admins and auditors).

use crate::model::{AppError, AuditPage, AuditQuery, AuditVerification, SigningInfo};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
fn parse_time(field: &str, raw: &str, end_of_day: bool) -> Result<Option<time::OffsetDateTime>, AppError> {
    use time::format_description::well_known::Rfc3339;
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(Some(t));
    }
    let date = time::Date::parse(raw, time::macros::format_description!("[year]-[month]-[day]")).map_err(|_| {
        crate::ssr::fail(AppError::Invalid {
            field: field.into(),
            message: "expected a date (YYYY-MM-DD) or an RFC 3339 time".into(),
        })
    })?;
    let date = if end_of_day { date.next_day().unwrap_or(date) } else { date };
    Ok(Some(date.midnight().assume_utc()))
}

#[server(endpoint = "fn/audit/list")]
pub async fn list_audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    use crate::model::AuditEntryView;
    use crate::ssr::{fail, fmt_time, pool, require};
    use attest_core::{audit, Role};
    const PAGE: i64 = 50;

    require(&[Role::Admin, Role::Auditor]).await?;
    for (field, value) in [("actor", &query.actor), ("action", &query.action), ("object", &query.object)] {
        if value.len() > 256 {
            return Err(fail(AppError::Invalid { field: field.into(), message: "at most 256 characters".into() }));
        }
    }
    let non_empty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let filter = audit::Filter {
        actor: non_empty(&query.actor),
        action_prefix: non_empty(&query.action),
        object: non_empty(&query.object),
        since: parse_time("since", &query.since, false)?,
        until: parse_time("until", &query.until, true)?,
        before_seq: query.before,
    };
    let entries = audit::list(&pool()?, &filter, PAGE + 1).await?;
    let more = entries.len() as i64 > PAGE;
    let entries: Vec<AuditEntryView> = entries
        .into_iter()
        .take(PAGE as usize)
        .map(|e| AuditEntryView {
            seq: e.seq,
            at: fmt_time(e.at),
            actor: e.actor,
            action: e.action,
            object: e.object,
            details: e.details.to_string(),
            hash: hex_prefix(&e.hash),
        })
        .collect();
    let next_before = if more { entries.last().map(|e| e.seq) } else { None };
    Ok(AuditPage { entries, next_before })
}

#[cfg(feature = "ssr")]
fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Recomputes the chain and checks it against every trusted checkpoint.
#[server(endpoint = "fn/audit/verify")]
pub async fn verify_audit_chain() -> Result<AuditVerification, AppError> {
    use crate::model::ChainStatus;
    use crate::ssr::{fmt_time, notary, pool, require};
    use attest_core::{audit, Role};
    require(&[Role::Admin, Role::Auditor]).await?;
    let report = notary()?.verify(&pool()?).await?;
    let unanchored = report.unanchored();
    Ok(AuditVerification {
        chain: match report.chain {
            audit::Verification::Intact { entries, head } => ChainStatus::Intact { entries, head },
            audit::Verification::Broken { seq, reason } => ChainStatus::Broken { seq, reason },
        },
        checkpoints: report.checkpoints,
        latest: report.latest.map(|(size, at)| (size, fmt_time(at))),
        unanchored,
        problems: report.problems,
    })
}

/// The portal's public keys and the newest signed checkpoints.
#[server(endpoint = "fn/audit/signing")]
pub async fn signing_keys() -> Result<SigningInfo, AppError> {
    use crate::model::{CheckpointView, SigningKeyView};
    use crate::ssr::{fmt_time, notary, pool, require};
    use attest_core::{checkpoints::Notary, Role};
    require(&[Role::Admin, Role::Auditor]).await?;
    let keyring = notary()?.keys()?;
    let keys = keyring
        .keys()
        .iter()
        .rev()
        .map(|k| SigningKeyView {
            name: k.name.clone(),
            id: k.id.clone(),
            verifier_key: k.verifier_key.clone(),
            ed25519: k.ed25519.clone(),
            fingerprint: k.fingerprint.clone(),
            current: k.current,
        })
        .collect();
    let checkpoints = Notary::list(&pool()?, 5)
        .await?
        .into_iter()
        .map(|c| CheckpointView { size: c.size, at: fmt_time(c.created_at), key: c.key, note: c.note })
        .collect();
    Ok(SigningInfo { origin: Notary::origin(&keyring), keys, checkpoints })
}
