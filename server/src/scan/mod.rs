//! `attest scan`: reads an Azure estate through ARM into a snapshot. The
//! credential comes from azure_identity (or a token file), requests are paced
//! to ARM's read budget and retried when throttled or failed, and whatever
//! could not be read is recorded so that a partial scan says it is partial.

pub mod client;
pub mod cloud;
pub mod collect;
pub mod credential;
pub mod pacing;
pub mod progress;
pub mod retry;

use attest_core::snapshot::{ScanScope, Snapshot, SCHEMA_VERSION};
use client::{ArmClient, Counters};
use cloud::Cloud;
use credential::Credential;
use pacing::{Budget, Pacer};
use retry::RetryPolicy;
use std::{sync::Arc, time::Duration};
use time::OffsetDateTime;

pub struct ScanOptions {
    pub cloud: Cloud,
    /// Empty: every subscription the credential can see.
    pub subscriptions: Vec<String>,
    /// Requests in flight at once.
    pub concurrency: usize,
    pub budget: Budget,
    pub retry: RetryPolicy,
    pub usage_days: u32,
    pub timeout: Duration,
    pub progress: bool,
}

impl ScanOptions {
    pub fn new(cloud: Cloud) -> ScanOptions {
        ScanOptions {
            cloud,
            subscriptions: Vec::new(),
            concurrency: 16,
            budget: Budget::ARM_READS,
            retry: RetryPolicy::default(),
            usage_days: 30,
            timeout: Duration::from_secs(60),
            progress: false,
        }
    }
}

/// A finished scan.
pub struct ScanReport {
    pub snapshot: Snapshot,
    /// False when nothing at all could be read (no subscription listed).
    pub reached_anything: bool,
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub failed: u64,
    pub credential: &'static str,
}

pub async fn scan(options: &ScanOptions, credential: Arc<Credential>) -> anyhow::Result<ScanReport> {
    let started_at = OffsetDateTime::now_utc();
    let client = ArmClient::new(
        options.cloud.arm_endpoint.clone(),
        credential.clone(),
        Pacer::new(options.budget),
        options.concurrency,
        options.retry,
        options.timeout,
    )?;
    let plan = collect::Plan {
        subscriptions: options.subscriptions.clone(),
        usage_days: options.usage_days,
        // Account-level work in flight; each account issues several requests.
        concurrency: options.concurrency.div_ceil(2).max(1),
        now: started_at,
    };
    let progress = progress::Progress::new(options.progress);
    let collected = collect::collect(&client, &plan, &progress).await;
    progress.finish();
    let snapshot = Snapshot {
        schema_version: SCHEMA_VERSION,
        scope: ScanScope {
            tenant_id: collected.tenant_id,
            subscriptions: collected.subscription_ids,
            arm_endpoint: options.cloud.arm_base(),
        },
        started_at,
        finished_at: OffsetDateTime::now_utc().max(started_at),
        collector: concat!("attest/", env!("CARGO_PKG_VERSION")).to_string(),
        subscriptions: collected.subscriptions,
        accounts: collected.accounts,
        role_assignments: collected.role_assignments,
        role_definitions: collected.role_definitions,
        policy_assignments: collected.policy_assignments,
        policy_exemptions: collected.policy_exemptions,
        errors: collected.errors,
    };
    let c = &client.counters;
    Ok(ScanReport {
        snapshot,
        reached_anything: collected.reached_anything,
        requests: Counters::get(&c.requests),
        retries: Counters::get(&c.retries),
        throttled: Counters::get(&c.throttled),
        failed: Counters::get(&c.failed),
        credential: credential.via().await,
    })
}
