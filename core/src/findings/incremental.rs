//! Evaluating only what changed: when an evaluation runs against the same
//! context as its chain's head (the same engine, imported definitions,
//! assignments, attestations, exemptions and alias listing), a resource
//! whose documents did not change gets the same findings, so only the
//! resources whose documents differ between the head's snapshot and this
//! one are evaluated; every other finding continues its span untouched.
//!
//! A re-import of the 5,000-account estate with 1% changed then reads and
//! evaluates about 1% of its documents instead of all 536,000
//! (BENCHMARKS.md). When anything in the context differs, or much of the
//! estate changed, the evaluation reads everything, as a first one does.

use super::attest::Attested;
use super::definitions::Library;
use super::subjects::{self, Doc};
use crate::error::CoreResult;
use crate::exemptions::apply::Exemptions;
use attest_policy::assignment::Assignment;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::{BTreeSet, HashMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

/// The sources and data the engine was built from (core/build.rs).
const ENGINE: &str = env!("ATTEST_ENGINE_FINGERPRINT");

/// Beyond this share of changed documents, reading everything is cheaper
/// than looking the changed ones up.
const MOST_CHANGED: usize = 4;

/// SHA-256 of everything besides the documents that decides a finding.
pub(super) fn context_hash(
    library: &Library,
    assignments: &[Assignment],
    attested: &HashMap<(String, String), Attested>,
    exemptions: &Exemptions,
    providers: &[Vec<u8>],
    access: &[u8],
    now: OffsetDateTime,
) -> Vec<u8> {
    let mut h = Sha256::new();
    let mut part = |name: &str, text: &[u8]| {
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text);
    };
    part("engine", ENGINE.as_bytes());
    part("library", library.fingerprint());
    let assignments = format!("{assignments:?}");
    part("assignments", assignments.as_bytes());
    let mut attested: Vec<_> = attested.iter().collect();
    attested.sort_by(|a, b| a.0.cmp(b.0));
    part("attested", format!("{attested:?}").as_bytes());
    part("exemptions", exemptions.fingerprint().as_bytes());
    let mut providers: Vec<&[u8]> = providers.iter().map(Vec::as_slice).collect();
    providers.sort();
    part("providers", &providers.concat());
    // What the role-review checks read besides each assignment.
    part("access", access);
    // A rule that reads utcNow() gives a verdict that depends on when the
    // snapshot was taken, so then the time is part of the context too.
    let reads_time = |text: &str| text.to_ascii_lowercase().contains("utcnow");
    if reads_time(&assignments) || library.controls().any(|c| reads_time(&format!("{:?}", c.definition))) {
        part("now", now.unix_timestamp_nanos().to_string().as_bytes());
    }
    h.finalize().to_vec()
}

/// The chain's head, when it ran against the same context: what an
/// incremental evaluation starts from.
pub(super) struct Basis {
    pub snapshot: Uuid,
    /// Its evaluation_counts rows: (state, severity, control, findings).
    pub counts: Vec<(String, String, String, i32)>,
    pub counted: i64,
    pub passing: i64,
}

impl Basis {
    /// Evaluation `head`, if its context is `context` (an evaluation made
    /// before contexts were recorded has none, and is never a basis).
    pub async fn load(conn: &mut PgConnection, head: i64, context: &[u8]) -> CoreResult<Option<Basis>> {
        let h = sqlx::query!(
            "select snapshot_id, context_hash, resources_counted, resources_passing from evaluations where id = $1",
            head
        )
        .fetch_one(&mut *conn)
        .await?;
        let (Some(hash), Some(counted), Some(passing)) = (h.context_hash, h.resources_counted, h.resources_passing)
        else {
            return Ok(None);
        };
        if hash != context {
            return Ok(None);
        }
        let counts =
            sqlx::query!("select state, severity, control, n from evaluation_counts where evaluation_id = $1", head)
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .map(|r| (r.state, r.severity, r.control, r.n))
                .collect();
        Ok(Some(Basis { snapshot: h.snapshot_id, counts, counted, passing }))
    }
}

/// What an incremental evaluation evaluates: the documents of every group
/// (subjects::group) in which a document was added, changed or removed,
/// and the resources whose findings it replaces.
#[derive(Default)]
pub(super) struct Changes {
    /// The current snapshot's documents of the changed groups.
    pub docs: Vec<Doc>,
    /// Resources of the changed groups in either snapshot: their findings
    /// at the head are compared with this evaluation's, the others continue.
    pub resources: Vec<String>,
}

/// The documents that differ between snapshot `previous` and `current`,
/// or `None` when so many differ that evaluating everything is cheaper.
pub(super) async fn changes(conn: &mut PgConnection, current: Uuid, previous: Uuid) -> CoreResult<Option<Changes>> {
    if current == previous {
        // The same snapshot again: its documents did not change.
        return Ok(Some(Changes::default()));
    }
    let kinds: Vec<String> = subjects::INPUTS.iter().map(|k| k.to_string()).collect();
    let (mut now, mut then) = (HashSet::new(), HashSet::new());
    for m in sqlx::query!(
        "select snapshot_id, ids from snapshot_members where snapshot_id = any($1) and kind = any($2)",
        &[current, previous],
        &kinds
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let into = if m.snapshot_id == current { &mut now } else { &mut then };
        into.extend(m.ids);
    }
    let changed: Vec<i64> = now.symmetric_difference(&then).copied().collect();
    if changed.is_empty() {
        return Ok(Some(Changes::default()));
    }
    if changed.len() > now.len() / MOST_CHANGED {
        return Ok(None);
    }
    let groups: Vec<String> =
        sqlx::query!("select resource_id, account_id from documents where id = any($1)", &changed)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .map(|d| subjects::group(&d.resource_id, d.account_id.as_deref()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
    // Every version ever stored of the groups' documents, of which each
    // snapshot holds at most one.
    let mut read = Vec::new();
    let mut resources = BTreeSet::new();
    for d in sqlx::query!(
        "select id, kind, resource_id from documents
          where (resource_id = any($1) or account_id = any($1)) and kind = any($2)",
        &groups,
        &kinds
    )
    .fetch_all(&mut *conn)
    .await?
    {
        let (in_now, in_then) = (now.contains(&d.id), then.contains(&d.id));
        if in_now {
            read.push(d.id);
        }
        if (in_now || in_then) && subjects::EVALUATED.contains(&d.kind.as_str()) {
            resources.insert(d.resource_id);
        }
    }
    let docs = sqlx::query!(
        "select kind, hash, resource_id, account_id, body from documents where id = any($1) order by id",
        &read
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Doc { kind: r.kind, hash: r.hash, resource_id: r.resource_id, account_id: r.account_id, body: r.body })
    .collect();
    Ok(Some(Changes { docs, resources: resources.into_iter().collect() }))
}
