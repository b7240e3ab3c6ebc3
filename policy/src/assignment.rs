//! Assignments and exemptions: which definitions apply to which resources,
//! and each resource's state under every assignment and overall.
//!
//! Every assignment is evaluated on its own, whatever its scope; `notScopes`
//! exclude; `DoNotEnforce` still evaluates; a resource's overall state is the
//! cumulative most restrictive of its assignments' states.

use crate::definition::{bind_parameters, unwrap_values, PolicyDocument};
use crate::error::{PolicyError, Result};
use crate::evaluate::{Input, Outcome, Prepared};
use crate::rule::Evaluator;
use crate::state::ComplianceState;
use crate::template::{self, get_ci, parse_time};
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use time::OffsetDateTime;

/// An Azure Policy assignment.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub id: String,
    pub display_name: String,
    pub scope: String,
    pub not_scopes: Vec<String>,
    pub definition_id: String,
    pub parameters: Map<String, Value>,
    /// `Default` or `DoNotEnforce`; both are evaluated.
    pub enforcement_mode: String,
}

/// An Azure Policy exemption.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemption {
    pub id: String,
    pub scope: String,
    pub assignment_id: String,
    pub reference_ids: Vec<String>,
    /// `Waiver` or `Mitigated`.
    pub category: String,
    pub expires_on: Option<OffsetDateTime>,
}

fn props(doc: &Value) -> Result<&Map<String, Value>> {
    let obj = doc.as_object().ok_or_else(|| PolicyError("must be a JSON object".into()))?;
    Ok(match get_ci(obj, "properties") {
        Some(Value::Object(p)) => p,
        _ => obj,
    })
}

fn text(m: &Map<String, Value>, k: &str) -> Option<String> {
    get_ci(m, k).and_then(Value::as_str).map(str::to_string)
}

/// The scope an ARM id of an assignment or exemption sits at.
fn scope_of(id: &str) -> String {
    match id.to_ascii_lowercase().find("/providers/microsoft.authorization/") {
        Some(0) => "/".into(),
        Some(i) => id[..i].to_string(),
        None => "/".into(),
    }
}

/// Whether `scope` is `resource_id` or one of its ancestors. Management
/// groups and the tenant root cover every resource: a snapshot covers one
/// tenant and does not record the management-group tree.
pub fn scope_covers(scope: &str, resource_id: &str) -> bool {
    let s = scope.trim_end_matches('/').to_ascii_lowercase();
    if s.is_empty() || s.starts_with("/providers/microsoft.management/managementgroups/") {
        return true;
    }
    let r = resource_id.to_ascii_lowercase();
    r == s || r.starts_with(&format!("{s}/"))
}

impl Assignment {
    pub fn parse(doc: &Value) -> Result<Assignment> {
        let p = props(doc)?;
        let id =
            doc.get("id").and_then(Value::as_str).map(str::to_string).or_else(|| text(p, "name")).unwrap_or_default();
        let definition_id = text(p, "policyDefinitionId")
            .ok_or_else(|| PolicyError("the assignment has no policyDefinitionId".into()))?;
        let parameters = match get_ci(p, "parameters") {
            Some(Value::Object(m)) => unwrap_values(m),
            Some(Value::Null) | None => Map::new(),
            Some(_) => return Err(PolicyError("the assignment's parameters must be an object".into())),
        };
        let not_scopes = get_ci(p, "notScopes")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Ok(Assignment {
            scope: text(p, "scope").unwrap_or_else(|| scope_of(&id)),
            display_name: text(p, "displayName")
                .unwrap_or_else(|| id.rsplit('/').next().unwrap_or_default().to_string()),
            id,
            not_scopes,
            definition_id,
            parameters,
            enforcement_mode: text(p, "enforcementMode").unwrap_or_else(|| "Default".into()),
        })
    }

    /// In scope and not excluded by `notScopes`.
    pub fn covers(&self, resource_id: &str) -> bool {
        scope_covers(&self.scope, resource_id) && !self.not_scopes.iter().any(|n| scope_covers(n, resource_id))
    }
}

impl Exemption {
    pub fn parse(doc: &Value) -> Result<Exemption> {
        let p = props(doc)?;
        let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let expires_on = match text(p, "expiresOn") {
            Some(s) => Some(parse_time(&s)?),
            None => None,
        };
        Ok(Exemption {
            scope: scope_of(&id),
            assignment_id: text(p, "policyAssignmentId")
                .ok_or_else(|| PolicyError("the exemption has no policyAssignmentId".into()))?,
            reference_ids: get_ci(p, "policyDefinitionReferenceIds")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
            category: text(p, "exemptionCategory").unwrap_or_else(|| "Waiver".into()),
            expires_on,
            id,
        })
    }

    /// Whether it exempts `resource_id` from `reference_id` of `assignment_id`
    /// at `now`. After `expiresOn` Azure keeps the exemption but no longer
    /// honours it.
    pub fn applies(
        &self,
        assignment_id: &str,
        reference_id: Option<&str>,
        resource_id: &str,
        now: OffsetDateTime,
    ) -> bool {
        self.assignment_id.eq_ignore_ascii_case(assignment_id)
            && scope_covers(&self.scope, resource_id)
            && self.expires_on.is_none_or(|t| t > now)
            && (self.reference_ids.is_empty()
                || reference_id.is_some_and(|r| self.reference_ids.iter().any(|x| x.eq_ignore_ascii_case(r))))
    }
}

/// Definitions and initiatives by id, and by name as a fallback (an
/// assignment may point at a built-in by its bare GUID).
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    by_id: HashMap<String, PolicyDocument>,
    by_name: HashMap<String, String>,
}

impl Catalog {
    pub fn insert(&mut self, doc: PolicyDocument) {
        let id = doc.id().to_ascii_lowercase();
        let name = id.rsplit('/').next().unwrap_or_default().to_string();
        self.by_name.insert(name, id.clone());
        self.by_id.insert(id, doc);
    }

    pub fn get(&self, id: &str) -> Option<&PolicyDocument> {
        let id = id.to_ascii_lowercase();
        self.by_id.get(&id).or_else(|| {
            let name = id.rsplit('/').next().unwrap_or_default();
            self.by_name.get(name).and_then(|i| self.by_id.get(i))
        })
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &PolicyDocument> {
        self.by_id.values()
    }
}

/// A resource as evaluation sees it.
#[derive(Debug, Clone)]
pub struct Subject {
    pub id: String,
    /// The ARM document.
    pub doc: Value,
    /// The data-plane view, for deployments (see [`crate::evaluate::data_plane_deployment`]).
    pub data_plane: Option<Value>,
    /// Children and extensions an existence rule may look for.
    pub related: Vec<Value>,
}

/// One definition's result inside an assignment.
#[derive(Debug, Clone, Serialize)]
pub struct MemberResult {
    /// The initiative's reference id; `None` for a plain definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    pub definition_id: String,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The exemption that made it Exempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
}

/// A resource's state under one assignment.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentResult {
    pub id: String,
    pub state: ComplianceState,
    pub definitions: Vec<MemberResult>,
}

/// A resource's state overall and under every assignment that applies.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    pub id: String,
    pub state: ComplianceState,
    pub assignments: Vec<AssignmentResult>,
}

/// One member of a prepared assignment.
struct PreparedMember<'c> {
    reference_id: Option<String>,
    definition_id: String,
    /// The definition ready to evaluate, or why it cannot be.
    prepared: std::result::Result<Prepared<'c>, String>,
    data_mode: bool,
    /// What `policy()` returns for this member, built once.
    policy: Value,
}

/// An assignment with its definitions looked up, parameters bound and
/// effects resolved once, for evaluating many resources.
pub struct PreparedAssignment<'c> {
    assignment: &'c Assignment,
    members: Vec<PreparedMember<'c>>,
}

impl<'c> PreparedAssignment<'c> {
    pub fn new(catalog: &'c Catalog, assignment: &'c Assignment, now: OffsetDateTime) -> PreparedAssignment<'c> {
        let set_id = match catalog.get(&assignment.definition_id) {
            Some(PolicyDocument::Initiative(s)) => Some(s.id.clone()),
            _ => None,
        };
        let member = |reference_id: Option<String>, definition_id: String, params: Map<String, Value>| {
            let prepared = match catalog.get(&definition_id) {
                Some(PolicyDocument::Definition(def)) => Ok(Prepared::new(def, &params, now)),
                Some(PolicyDocument::Initiative(_)) => {
                    Err(format!("{definition_id} is an initiative inside an initiative"))
                }
                None => Err(format!("the definition {definition_id} is not in the catalogue")),
            };
            let data_mode =
                prepared.as_ref().is_ok_and(|p| p.def.mode.eq_ignore_ascii_case("Microsoft.CognitiveServices.Data"));
            let policy = json!({
                "assignmentId": assignment.id, "definitionId": definition_id,
                "setDefinitionId": set_id, "definitionReferenceId": reference_id,
            });
            PreparedMember { reference_id, definition_id, prepared, data_mode, policy }
        };
        let failed = |message: String| PreparedMember {
            reference_id: None,
            definition_id: assignment.definition_id.clone(),
            prepared: Err(message),
            data_mode: false,
            policy: Value::Null,
        };
        let members = match catalog.get(&assignment.definition_id) {
            None => vec![failed(format!("the definition {} is not in the catalogue", assignment.definition_id))],
            Some(PolicyDocument::Definition(d)) => vec![member(None, d.id.clone(), assignment.parameters.clone())],
            Some(PolicyDocument::Initiative(set)) => match bind_parameters(&set.parameters, &assignment.parameters) {
                Err(e) => vec![failed(format!("{}: {e}", set.id))],
                Ok(bound) => {
                    let null = Value::Null;
                    let ev = Evaluator::new(&null, &null, &bound, now, &null);
                    set.members
                        .iter()
                        .map(|m| {
                            let mut params = Map::new();
                            for (k, v) in &m.parameters {
                                match template::resolve(v, &ev) {
                                    Ok(x) => {
                                        params.insert(k.clone(), x);
                                    }
                                    Err(e) => return failed(format!("{}: parameter {k}: {e}", m.reference_id)),
                                }
                            }
                            member(Some(m.reference_id.clone()), m.definition_id.clone(), params)
                        })
                        .collect()
                }
            },
        };
        PreparedAssignment { assignment, members }
    }

    /// Whether every member is switched off (effect `disabled`): the
    /// assignment is skipped without looking at resources.
    pub fn is_disabled(&self) -> bool {
        self.members.iter().all(|m| m.prepared.as_ref().is_ok_and(|p| p.effect() == Some(crate::Effect::Disabled)))
    }

    /// The assignment's result on `subject`; `None` when nothing in it applies.
    pub fn evaluate(
        &self,
        subject: &Subject,
        exemptions: &[Exemption],
        now: OffsetDateTime,
    ) -> Option<AssignmentResult> {
        let assignment = self.assignment;
        if !assignment.covers(&subject.id) {
            return None;
        }
        let mut results = Vec::new();
        for m in &self.members {
            let outcome = match &m.prepared {
                Ok(prepared) => {
                    let doc = match (m.data_mode, &subject.data_plane) {
                        (true, Some(d)) => d,
                        _ => &subject.doc,
                    };
                    prepared.evaluate(&Input {
                        resource: doc,
                        related: &subject.related,
                        parameters: &Map::new(),
                        now,
                        policy: &m.policy,
                    })
                }
                Err(message) => Outcome {
                    state: Some(ComplianceState::Error),
                    effect: None,
                    reasons: vec![],
                    message: Some(message.clone()),
                },
            };
            if outcome.state.is_none() {
                continue;
            }
            let exemption = exemptions
                .iter()
                .find(|e| e.applies(&assignment.id, m.reference_id.as_deref(), &subject.id, now))
                .map(|e| e.id.clone());
            let mut outcome = outcome;
            if exemption.is_some() {
                outcome.state = Some(ComplianceState::Exempt);
            }
            results.push(MemberResult {
                reference_id: m.reference_id.clone(),
                definition_id: m.definition_id.clone(),
                outcome,
                exemption,
            });
        }
        let state = ComplianceState::roll_up(results.iter().filter_map(|r| r.outcome.state))?;
        Some(AssignmentResult { id: assignment.id.clone(), state, definitions: results })
    }
}

/// Evaluates every assignment on every subject. Subjects no assignment
/// applies to are left out, as Azure leaves them out of compliance results.
pub fn evaluate_all(
    catalog: &Catalog,
    assignments: &[Assignment],
    exemptions: &[Exemption],
    subjects: &[Subject],
    now: OffsetDateTime,
) -> Vec<ResourceResult> {
    let prepared: Vec<PreparedAssignment> =
        assignments.iter().map(|a| PreparedAssignment::new(catalog, a, now)).filter(|p| !p.is_disabled()).collect();
    subjects
        .iter()
        .filter_map(|s| {
            let per: Vec<AssignmentResult> = prepared.iter().filter_map(|a| a.evaluate(s, exemptions, now)).collect();
            let state = ComplianceState::roll_up(per.iter().map(|a| a.state))?;
            Some(ResourceResult { id: s.id.clone(), state, assignments: per })
        })
        .collect()
}

/// Subjects from a flat list of ARM documents: each document's related
/// resources are those whose id lies beneath its own (found in a sorted
/// index, not by comparing every pair); each deployment gains its
/// data-plane view from the content filter policy it names.
pub fn subjects_from_documents(docs: &[Value]) -> Vec<Subject> {
    let mut ids: Vec<(String, usize)> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| (d.get("id").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase(), i))
        .collect();
    ids.sort();
    // The documents whose id starts with `prefix`, in id order.
    let beneath = |prefix: &str| -> Vec<usize> {
        let start = ids.partition_point(|(id, _)| id.as_str() < prefix);
        ids[start..].iter().take_while(|(id, _)| id.starts_with(prefix)).map(|(_, i)| *i).collect()
    };
    ids.iter()
        .map(|(lower, i)| {
            let doc = &docs[*i];
            let related: Vec<Value> = beneath(&format!("{lower}/")).into_iter().map(|j| docs[j].clone()).collect();
            let data_plane = crate::evaluate::is_deployment(doc).then(|| {
                let account = lower.rsplit_once("/deployments/").map(|(a, _)| a).unwrap_or_default();
                let policies = beneath(&format!("{account}/raipolicies/"));
                crate::evaluate::data_plane_with(doc, policies.into_iter().map(|j| &docs[j]))
            });
            let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            Subject { id, doc: doc.clone(), data_plane, related }
        })
        .collect()
}
