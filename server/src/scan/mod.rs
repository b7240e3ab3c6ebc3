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
    /// Microsoft Graph's base URL and token scope, to resolve principals;
    /// `None` leaves them unresolved.
    pub graph: Option<(url::Url, String)>,
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
            graph: None,
        }
    }
}

/// A scanned snapshot. Account records and role assignments are kept as
/// compact JSON text (an estate can hold thousands of accounts and hundreds
/// of thousands of assignments; as `Value`s they took several times the
/// memory); `write_json` writes exactly what serialising the equivalent
/// `Snapshot` would.
pub struct Scanned {
    /// Everything but the accounts and role assignments (left empty here).
    pub snapshot: Snapshot,
    /// Each account's record, sorted by account id.
    pub accounts: Vec<String>,
    pub deployment_count: usize,
    /// Sorted by id.
    pub role_assignments: Vec<String>,
}

impl Scanned {
    pub fn write_json(&self, mut w: impl std::io::Write) -> std::io::Result<()> {
        use time::format_description::well_known::Rfc3339;
        let s = &self.snapshot;
        let time = |t: OffsetDateTime| t.format(&Rfc3339).map_err(std::io::Error::other);
        let field = |w: &mut dyn std::io::Write, name: &str, first: bool| -> std::io::Result<()> {
            write!(w, "{}\"{name}\":", if first { "{" } else { "," })
        };
        field(&mut w, "schema_version", true)?;
        serde_json::to_writer(&mut w, &s.schema_version)?;
        field(&mut w, "scope", false)?;
        serde_json::to_writer(&mut w, &s.scope)?;
        field(&mut w, "started_at", false)?;
        serde_json::to_writer(&mut w, &time(s.started_at)?)?;
        field(&mut w, "finished_at", false)?;
        serde_json::to_writer(&mut w, &time(s.finished_at)?)?;
        field(&mut w, "collector", false)?;
        serde_json::to_writer(&mut w, &s.collector)?;
        field(&mut w, "subscriptions", false)?;
        serde_json::to_writer(&mut w, &s.subscriptions)?;
        field(&mut w, "accounts", false)?;
        raw_array(&mut w, &self.accounts)?;
        field(&mut w, "role_assignments", false)?;
        raw_array(&mut w, &self.role_assignments)?;
        field(&mut w, "role_definitions", false)?;
        serde_json::to_writer(&mut w, &s.role_definitions)?;
        field(&mut w, "deny_assignments", false)?;
        serde_json::to_writer(&mut w, &s.deny_assignments)?;
        field(&mut w, "role_eligibility_schedule_instances", false)?;
        serde_json::to_writer(&mut w, &s.role_eligibility_schedule_instances)?;
        field(&mut w, "role_assignment_schedule_instances", false)?;
        serde_json::to_writer(&mut w, &s.role_assignment_schedule_instances)?;
        field(&mut w, "principals", false)?;
        serde_json::to_writer(&mut w, &s.principals)?;
        field(&mut w, "policy_assignments", false)?;
        serde_json::to_writer(&mut w, &s.policy_assignments)?;
        field(&mut w, "policy_exemptions", false)?;
        serde_json::to_writer(&mut w, &s.policy_exemptions)?;
        field(&mut w, "providers", false)?;
        serde_json::to_writer(&mut w, &s.providers)?;
        field(&mut w, "errors", false)?;
        serde_json::to_writer(&mut w, &s.errors)?;
        w.write_all(b"}")
    }

    /// The whole snapshot in memory (for small estates and tests).
    pub fn to_snapshot(&self) -> Snapshot {
        let mut s = self.snapshot.clone();
        s.accounts = self.accounts.iter().map(|a| serde_json::from_str(a).expect("written as JSON")).collect();
        s.role_assignments =
            self.role_assignments.iter().map(|a| serde_json::from_str(a).expect("written as JSON")).collect();
        s
    }
}

/// Writes JSON texts as one array.
fn raw_array(w: &mut impl std::io::Write, items: &[String]) -> std::io::Result<()> {
    w.write_all(b"[")?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(item.as_bytes())?;
    }
    w.write_all(b"]")
}

/// A finished scan.
pub struct ScanReport {
    pub scanned: Scanned,
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
    let graph = match &options.graph {
        Some((endpoint, scope)) => Some(ArmClient::new(
            endpoint.clone(),
            Arc::new(credential.for_scope(scope.clone())),
            Pacer::new(options.budget),
            options.concurrency,
            options.retry,
            options.timeout,
        )?),
        None => None,
    };
    let progress = progress::Progress::new(options.progress);
    let collected = collect::collect(&client, graph.as_ref(), &plan, &progress).await;
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
        accounts: Vec::new(),
        role_assignments: Vec::new(),
        role_definitions: collected.role_definitions,
        policy_assignments: collected.policy_assignments,
        policy_exemptions: collected.policy_exemptions,
        providers: collected.providers,
        deny_assignments: collected.deny_assignments,
        role_eligibility_schedule_instances: collected.role_eligibility_schedule_instances,
        role_assignment_schedule_instances: collected.role_assignment_schedule_instances,
        principals: collected.principals,
        errors: collected.errors,
    };
    let c = &client.counters;
    Ok(ScanReport {
        scanned: Scanned {
            snapshot,
            accounts: collected.accounts,
            deployment_count: collected.deployment_count,
            role_assignments: collected.role_assignments,
        },
        reached_anything: collected.reached_anything,
        requests: Counters::get(&c.requests),
        retries: Counters::get(&c.retries),
        throttled: Counters::get(&c.throttled),
        failed: Counters::get(&c.failed),
        credential: credential.via().await,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use attest_core::snapshot::demo;

    #[test]
    fn a_scanned_snapshot_writes_exactly_what_the_snapshot_serialises_to() {
        let whole = demo::generate(6, 2);
        let mut rest = whole.clone();
        let text = |v: &[_]| -> Vec<String> { v.iter().map(|x| serde_json::to_string(x).unwrap()).collect() };
        let role_assignments = text(&std::mem::take(&mut rest.role_assignments));
        let accounts: Vec<String> =
            std::mem::take(&mut rest.accounts).iter().map(|a| serde_json::to_string(a).unwrap()).collect();
        let scanned = Scanned { snapshot: rest, accounts, deployment_count: 0, role_assignments };
        let mut written = Vec::new();
        scanned.write_json(&mut written).unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), serde_json::to_string(&whole).unwrap());
        assert_eq!(scanned.to_snapshot(), whole);
    }
}
