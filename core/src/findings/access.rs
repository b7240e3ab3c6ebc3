//! Role-review flags as findings: the catalogue's `rbac:` controls, decided
//! by the RBAC engine's checker on each role assignment of a snapshot and
//! handed to the findings pipeline as the policy engine's results are, so
//! they are exempted, compared, counted and kept in history alike.
//!
//! What the checker reads besides the assignment itself (role definitions,
//! deny assignments, PIM instances, principals, whether each account's keys
//! work) is part of the evaluation's context: when any of it changes, the
//! next evaluation reads everything (`fingerprint`).

use crate::error::CoreResult;
use attest_policy::assignment::{Assignment, AssignmentResult, MemberResult, ResourceResult};
use attest_policy::evaluate::Outcome;
use attest_policy::{ComplianceState, Effect, Reason};
use attest_rbac::documents::{DenyAssignment, RoleAssignment, RoleDefinition, ScheduleInstance};
use attest_rbac::{AccountFacts, Check, Checker, Hierarchy, PrincipalFacts, Revocation};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use std::collections::HashMap;
use uuid::Uuid;

/// A snapshot's access documents, read once per evaluation.
pub struct AccessInputs {
    definitions: Vec<RoleDefinition>,
    denies: Vec<DenyAssignment>,
    active: Vec<ScheduleInstance>,
    accounts: Vec<AccountFacts>,
    principals: HashMap<String, PrincipalFacts>,
    pim_collected: bool,
    hierarchy: Hierarchy,
    /// Certified reviews' decisions that assignments go.
    revocations: Vec<Revocation>,
    fingerprint: [u8; 32],
}

impl AccessInputs {
    pub async fn load(conn: &mut PgConnection, snapshot_id: Uuid) -> CoreResult<AccessInputs> {
        let docs = sqlx::query!(
            r#"select d.kind, d.hash, d.body from snapshot_members m
                cross join lateral unnest(m.ids) as member(id)
                 join documents d on d.id = member.id
                where m.snapshot_id = $1
                  and m.kind in ('role_definition', 'deny_assignment', 'role_eligibility_instance',
                                 'role_assignment_instance', 'principal')"#,
            snapshot_id
        )
        .fetch_all(&mut *conn)
        .await?;
        // Whether each account's keys work: from the accounts' documents.
        let accounts = sqlx::query!(
            r#"select d.resource_id, (d.body #>> '{properties,disableLocalAuth}') as "disable_local_auth"
                 from snapshot_members m
                cross join lateral unnest(m.ids) as member(id)
                 join documents d on d.id = member.id
                where m.snapshot_id = $1 and m.kind = 'account'
                order by d.resource_id"#,
            snapshot_id
        )
        .fetch_all(&mut *conn)
        .await?;
        let header = sqlx::query!("select schema_version, errors from snapshots where id = $1", snapshot_id)
            .fetch_one(&mut *conn)
            .await?;
        // PIM was read when the snapshot is of a schema that collects it and
        // no read of it failed.
        let pim_failed = header.errors.as_array().is_some_and(|errors| {
            errors.iter().any(|e| e["request"].as_str().is_some_and(|r| r.contains("ScheduleInstances")))
        });

        // Principal records count by what the checks read of them, not by
        // their documents: a group's membership changes often and decides
        // no flag, so it does not make the next evaluation read everything.
        let mut hashes: Vec<(&str, &[u8])> =
            docs.iter().filter(|d| d.kind != "principal").map(|d| (d.kind.as_str(), d.hash.as_slice())).collect();
        hashes.sort();
        let mut h = Sha256::new();
        for (kind, hash) in &hashes {
            h.update(kind.as_bytes());
            h.update(hash);
        }
        let principals: HashMap<String, PrincipalFacts> =
            docs.iter().filter(|d| d.kind == "principal").filter_map(|d| principal_facts(&d.body)).collect();
        let mut read: Vec<(&String, &PrincipalFacts)> = principals.iter().collect();
        read.sort_by_key(|(id, _)| *id);
        for (id, f) in read {
            h.update(format!("{id}:{}:{}:{:?}:{:?};", f.exists, f.guest, f.kind, f.enabled).as_bytes());
        }
        for a in &accounts {
            h.update(a.resource_id.as_bytes());
            h.update(a.disable_local_auth.as_deref().unwrap_or("-").as_bytes());
        }
        h.update([u8::from(pim_failed), header.schema_version as u8]);
        let revocations = crate::reviews::revocations(&mut *conn, snapshot_id).await?;
        for r in &revocations {
            h.update(r.assignment_id.to_ascii_lowercase().as_bytes());
            h.update(r.campaign.as_bytes());
            h.update(r.decision.as_bytes());
        }

        let mut inputs = AccessInputs {
            definitions: Vec::new(),
            denies: Vec::new(),
            active: Vec::new(),
            accounts: accounts
                .iter()
                .map(|a| AccountFacts {
                    id: a.resource_id.clone(),
                    local_auth_enabled: a.disable_local_auth.as_deref() != Some("true"),
                })
                .collect(),
            principals,
            pim_collected: header.schema_version >= 2 && !pim_failed,
            hierarchy: Hierarchy::default(),
            revocations,
            fingerprint: h.finalize().into(),
        };
        // A document the engine cannot read is left out (it was stored
        // because ARM sent it; the evaluation does not fail over it).
        for d in &docs {
            match d.kind.as_str() {
                "role_definition" => inputs.definitions.extend(RoleDefinition::parse(&d.body, "").ok()),
                "deny_assignment" => inputs.denies.extend(DenyAssignment::parse(&d.body, "").ok()),
                "role_assignment_instance" => inputs.active.extend(ScheduleInstance::parse(&d.body, "").ok()),
                _ => {}
            }
        }
        Ok(inputs)
    }

    /// What the checks read, besides each assignment: part of the context.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The flags of the role-assignment subjects among `subjects` (id and
    /// document), as results under the assignments of the `rbac:` controls
    /// (`checks`: each control's assignment and check), merged into `results`.
    pub fn flag(&self, checks: &[(Assignment, Check)], subjects: &[(&str, &Value)], results: &mut Vec<ResourceResult>) {
        if checks.is_empty() {
            return;
        }
        let checker = Checker::new(
            &self.definitions,
            &self.denies,
            &self.hierarchy,
            &self.accounts,
            &self.principals,
            self.pim_collected,
            &self.active,
        )
        .with_revocations(&self.revocations);
        let mut at: HashMap<String, usize> = results.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect();
        for (id, doc) in subjects {
            if doc
                .get("type")
                .and_then(Value::as_str)
                .is_none_or(|t| !t.eq_ignore_ascii_case("Microsoft.Authorization/roleAssignments"))
            {
                continue;
            }
            let Ok(assignment) = RoleAssignment::parse(doc, "") else { continue };
            let flags = checker.check(&assignment);
            let mut found = Vec::new();
            for f in flags {
                let Some((a, _)) = checks.iter().find(|(a, c)| *c == f.check && a.covers(id)) else { continue };
                let state = if f.flagged { ComplianceState::NonCompliant } else { ComplianceState::Compliant };
                let reasons = f
                    .reasons
                    .iter()
                    .map(|text| Reason {
                        operand: "role review".into(),
                        path: None,
                        operator: f.check.name().trim_start_matches("attest-").into(),
                        expected: Value::Bool(false),
                        actual: Value::String(text.clone()),
                        result: f.flagged,
                    })
                    .collect();
                found.push(AssignmentResult {
                    id: a.id.clone(),
                    state,
                    definitions: vec![MemberResult {
                        reference_id: None,
                        definition_id: a.definition_id.clone(),
                        outcome: Outcome {
                            state: Some(state),
                            effect: Some(Effect::Audit),
                            reasons,
                            message: Some(f.reasons.join("; ")),
                        },
                        exemption: None,
                    }],
                });
            }
            if found.is_empty() {
                continue;
            }
            let i = *at.entry(id.to_string()).or_insert_with(|| {
                results.push(ResourceResult {
                    id: id.to_string(),
                    state: ComplianceState::Compliant,
                    assignments: vec![],
                });
                results.len() - 1
            });
            let r = &mut results[i];
            r.assignments.extend(found);
            r.state = ComplianceState::roll_up(r.assignments.iter().map(|a| a.state)).unwrap_or(r.state);
        }
    }
}

/// The `rbac:` controls that are switched on, with the assignment that
/// applies each (effect not Disabled).
pub fn checks(
    assignments: &[Assignment],
    control: impl Fn(&str) -> Option<(String, Value)>,
) -> Vec<(Assignment, Check)> {
    assignments
        .iter()
        .filter_map(|a| {
            let (name, default_effect) = control(&a.definition_id)?;
            let check = Check::parse(&name)?;
            let given = attest_policy::definition::unwrap_values(&a.parameters);
            let effect = given.get("effect").cloned().unwrap_or(default_effect);
            (!effect.as_str().is_some_and(|e| e.eq_ignore_ascii_case("Disabled"))).then(|| (a.clone(), check))
        })
        .collect()
}

/// A principal record (`snapshot::graph::PrincipalRecord`) as the checks
/// read it; `None` for one the portal cannot read (left out, as if Graph
/// had not been asked).
fn principal_facts(record: &Value) -> Option<(String, PrincipalFacts)> {
    use crate::snapshot::graph::{facts, PrincipalRecord};
    let record = <PrincipalRecord as serde::Deserialize>::deserialize(record).ok()?;
    let described = record.described().ok()?;
    Some((record.id.to_ascii_lowercase(), facts(described.as_ref())))
}
