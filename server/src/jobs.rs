//! Background jobs of a running portal: exemption expiry and reminders,
//! review campaigns' due dates,
//! signed checkpoints of the audit log (each also posted to an outgoing
//! webhook when one is set), and the newest snapshot's access index.

use crate::config::Config;
use attest_core::checkpoints::{Created, Notary};
use attest_core::error::CoreResult;
use attest_core::exemptions::expiry::{run_once, Reminder, Run};
use attest_core::reviews::due;
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

/// Runs the exemption job every `exemption_check_secs`, for ever.
pub async fn exemptions(pool: PgPool, config: Arc<Config>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok();
    let mut tick = tokio::time::interval(Duration::from_secs(config.exemption_check_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let webhook = client.as_ref().zip(config.webhook_url.as_deref());
        match exemptions_once(&pool, webhook).await {
            Ok(run) if !run.expired.is_empty() || !run.reminded.is_empty() => {
                tracing::info!(expired = ?run.expired, reminded = run.reminded.len(), "exemption job");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the exemption job failed; it will run again"),
        }
    }
}

/// How often the access-index job looks for a newest snapshot without one.
const ACCESS_INDEX_EVERY: Duration = Duration::from_secs(30);

/// Stores the newest snapshot's access index once it is imported, however
/// it arrived (upload, API, a scan, `attest import` beside the server), so
/// the whole estate's Access page does not wait for it (14 s for 500,000
/// assignments); an import does not wait for it either.
pub async fn access_index(pool: PgPool) {
    let mut tick = tokio::time::interval(ACCESS_INDEX_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = access_index_once(&pool).await {
            tracing::warn!(error = %e, "the access-index job failed; it will run again");
        }
    }
}

/// One run: the newest snapshot's index, when it has none; `Some` when
/// one was stored.
pub async fn access_index_once(pool: &PgPool) -> CoreResult<Option<attest_core::access::Materialized>> {
    let Ok((snapshot, _)) = attest_core::access::resolve_snapshot(pool, None).await else { return Ok(None) };
    let started = std::time::Instant::now();
    let m = attest_core::access::materialize(pool, snapshot).await?;
    if !m.created {
        return Ok(None);
    }
    tracing::info!(%snapshot, accounts = m.accounts, rows = m.rows, new_sets = m.new_sets,
                   ms = started.elapsed().as_millis() as u64, "access index stored");
    Ok(Some(m))
}

/// One run: expiry and reminders, each reminder also posted to the webhook.
pub async fn exemptions_once(pool: &PgPool, webhook: Option<(&reqwest::Client, &str)>) -> CoreResult<Run> {
    let run = run_once(pool, attest_core::exemptions::REMIND_DAYS).await?;
    if let Some((client, url)) = webhook {
        for r in &run.reminded {
            post(client, url, "exemption.expiring", r).await;
        }
    }
    Ok(run)
}

/// Posts one event; a failure is logged (the reminder is in the portal anyway).
async fn post(client: &reqwest::Client, url: &str, event: &str, r: &Reminder) {
    let body = json!({"event": event, "exemption": r});
    match client.post(url).json(&body).send().await {
        Ok(res) if res.status().is_success() => {}
        Ok(res) => tracing::warn!(status = %res.status(), exemption = r.id, "the webhook refused a reminder"),
        Err(e) => tracing::warn!(error = %e, exemption = r.id, "the webhook could not be reached"),
    }
}

/// Runs the review due-date job (reminders, then closing what is past its
/// date) as often as the exemption job, for ever.
pub async fn reviews(pool: PgPool, config: Arc<Config>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok();
    let mut tick = tokio::time::interval(Duration::from_secs(config.exemption_check_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let webhook = client.as_ref().zip(config.webhook_url.as_deref());
        match reviews_once(&pool, webhook, time::OffsetDateTime::now_utc()).await {
            Ok(run) if !run.0.is_empty() || !run.1.is_empty() => {
                tracing::info!(reminded = run.0.len(), closed = run.1.len(), "review due-date job");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "the review due-date job failed; it will run again"),
        }
    }
}

/// One run at `now`: campaigns reminded of their due date, and those the
/// date closed; each also posted to the webhook (`review.due_soon`,
/// `review.closed_at_due`).
pub async fn reviews_once(
    pool: &PgPool,
    webhook: Option<(&reqwest::Client, &str)>,
    now: time::OffsetDateTime,
) -> CoreResult<(Vec<due::Reminder>, Vec<due::Closed>)> {
    let reminded = due::remind(pool, now).await?;
    let closed = due::close_due(pool, now).await?;
    if let Some((client, url)) = webhook {
        let events = reminded
            .iter()
            .map(|r| ("review.due_soon", json!(r)))
            .chain(closed.iter().map(|c| ("review.closed_at_due", json!(c))));
        for (event, review) in events {
            let body = json!({"event": event, "review": review});
            match client.post(url).json(&body).send().await {
                Ok(res) if res.status().is_success() => {}
                Ok(res) => tracing::warn!(status = %res.status(), event, "the webhook refused a review event"),
                Err(e) => tracing::warn!(error = %e, event, "the webhook could not be reached"),
            }
        }
    }
    Ok((reminded, closed))
}

/// The webhook client and address, when a webhook is configured.
pub fn webhook(config: &Config) -> Option<(reqwest::Client, String)> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().ok()?;
    Some((client, config.webhook_url.clone()?))
}

/// Signs a checkpoint of the audit log every `checkpoint_interval_secs`
/// (starting now), for ever; a head that has not moved is not signed again.
pub async fn checkpoints(pool: PgPool, notary: Arc<Notary>, config: Arc<Config>) {
    let webhook = webhook(&config);
    let mut tick = tokio::time::interval(Duration::from_secs(config.checkpoint_interval_secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match checkpoint_once(&pool, &notary, webhook.as_ref().map(|(c, u)| (c, u.as_str()))).await {
            Ok(Created::Signed(c)) => tracing::info!(size = c.size, key = %c.key, "signed an audit checkpoint"),
            Ok(_) => {}
            // A broken chain is refused a signature and logged at every tick
            // until someone looks; `attest audit verify` says where.
            Err(e) => tracing::error!(error = %e, "no audit checkpoint was signed"),
        }
    }
}

/// Signs one checkpoint if the head moved, and posts a new one to the webhook.
pub async fn checkpoint_once(
    pool: &PgPool,
    notary: &Notary,
    webhook: Option<(&reqwest::Client, &str)>,
) -> CoreResult<Created> {
    let created = notary.checkpoint(pool).await?;
    if let (Created::Signed(c), Some((client, url))) = (&created, webhook) {
        let body = json!({"event": "audit.checkpoint", "checkpoint": c, "origin": c.origin()});
        match client.post(url).json(&body).send().await {
            Ok(res) if res.status().is_success() => {}
            Ok(res) => tracing::warn!(status = %res.status(), size = c.size, "the webhook refused a checkpoint"),
            Err(e) => tracing::warn!(error = %e, size = c.size, "the webhook could not be reached"),
        }
    }
    Ok(created)
}
