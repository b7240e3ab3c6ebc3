//! Background jobs of a running portal: exemption expiry and reminders, and
//! signed checkpoints of the audit log, each also posted to an outgoing
//! webhook when one is set.

use crate::config::Config;
use attest_core::checkpoints::{Created, Notary};
use attest_core::error::CoreResult;
use attest_core::exemptions::expiry::{run_once, Reminder, Run};
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
