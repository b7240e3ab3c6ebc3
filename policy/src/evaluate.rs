//! One definition against one resource: parameters, mode, applicability,
//! the `if`, then the effect's own rule for the compliance state.

use crate::definition::{bind_parameters, Definition};
use crate::effect::Effect;
use crate::error::{PolicyError, Result};
use crate::rule::{Evaluator, Reason, Shape};
use crate::state::ComplianceState;
use crate::template::{self, get_ci};
use serde::Serialize;
use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// What a definition is evaluated with.
pub struct Input<'a> {
    pub resource: &'a Value,
    /// Resources an `auditIfNotExists`/`deployIfNotExists` rule may find:
    /// the resource's children and extensions (diagnostic settings, …).
    pub related: &'a [Value],
    /// Parameter values as the assignment gives them (unwrapped).
    pub parameters: &'a Map<String, Value>,
    pub now: OffsetDateTime,
    /// What `policy()` returns.
    pub policy: &'a Value,
}

/// The result of one definition on one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `None` when the definition does not apply: its effect is `disabled`,
    /// its mode excludes the resource, or its type/name/kind conditions do.
    pub state: Option<ComplianceState>,
    pub effect: Option<Effect>,
    /// The conditions that decided, with the values they saw.
    pub reasons: Vec<Reason>,
    /// An error's text, or why the definition does not apply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Outcome {
    fn error(effect: Option<Effect>, e: PolicyError) -> Outcome {
        Outcome { state: Some(ComplianceState::Error), effect, reasons: vec![], message: Some(e.0) }
    }
    fn not_applicable(effect: Option<Effect>, why: impl Into<String>) -> Outcome {
        Outcome { state: None, effect, reasons: vec![], message: Some(why.into()) }
    }
}

/// The type given to a deployment seen through the Cognitive Services data
/// plane, where `Microsoft.CognitiveServices.Data` definitions are evaluated.
pub const DATA_DEPLOYMENT_TYPE: &str = "Microsoft.CognitiveServices.Data/accounts/deployments";

/// Evaluates `def` on `input.resource`. Never fails: a fault in the
/// definition or its parameters is the `Error` state.
pub fn evaluate(def: &Definition, input: &Input) -> Outcome {
    Prepared::new(def, input.parameters, input.now).evaluate(input)
}

/// A definition with its parameters bound and its effect resolved once, for
/// evaluating many resources under the same assignment.
pub struct Prepared<'d> {
    pub def: &'d Definition,
    params: Result<Map<String, Value>>,
    /// `None` when the effect reads the resource (`field()`), so it is
    /// resolved per resource.
    effect: Option<Result<Effect>>,
    /// Whether the `if` is well formed ([`crate::rule::validate`]).
    structure: Result<()>,
    /// What the `if` tests, for applicability.
    shape: Shape,
}

impl<'d> Prepared<'d> {
    pub fn new(def: &'d Definition, given: &Map<String, Value>, now: OffsetDateTime) -> Prepared<'d> {
        let params = bind_parameters(&def.parameters, given);
        let reads_resource = effect_text(def).is_some_and(|t| t.to_ascii_lowercase().contains("field("));
        let effect = match &params {
            Ok(p) if !reads_resource => {
                let null = Value::Null;
                Some(effect_of(def, &Evaluator::new(&null, &null, p, now, &null)))
            }
            _ => None,
        };
        let rule = def.rule.as_object().expect("checked when the definition was parsed");
        let cond = get_ci(rule, "if").cloned().unwrap_or(Value::Null);
        let structure = crate::rule::validate(&cond);
        let mut shape = Shape::of(&cond);
        // A location read in the deployment's parameters counts too.
        let details = get_ci(rule, "then").and_then(Value::as_object).and_then(|t| get_ci(t, "details"));
        if details.is_some_and(|d| d.to_string().to_ascii_lowercase().contains("field('location')")) {
            shape.reads_location = true;
        }
        Prepared { def, params, effect, structure, shape }
    }

    /// The effect, when it does not depend on the resource.
    pub fn effect(&self) -> Option<Effect> {
        self.effect.as_ref().and_then(|e| e.as_ref().ok().copied())
    }

    pub fn evaluate(&self, input: &Input) -> Outcome {
        let def = self.def;
        let params = match &self.params {
            Ok(p) => p,
            Err(e) => return Outcome::error(None, e.clone()),
        };
        let mut ev = Evaluator::new(input.resource, input.resource, params, input.now, input.policy);
        let effect = match &self.effect {
            Some(Ok(e)) => *e,
            Some(Err(e)) => return Outcome::error(None, e.clone()),
            None => match effect_of(def, &ev) {
                Ok(e) => e,
                Err(e) => return Outcome::error(None, e),
            },
        };
        if effect == Effect::Disabled {
            return Outcome::not_applicable(Some(effect), "the effect is disabled");
        }
        if let Some(why) = mode_excludes(&def.mode, input.resource) {
            return Outcome::not_applicable(Some(effect), why);
        }
        if let Err(e) = &self.structure {
            return Outcome::error(Some(effect), e.clone());
        }
        if let Some(alias) = &self.shape.invalid_alias {
            return Outcome::not_applicable(
                Some(effect),
                format!("the rule reads '{alias}', which is not an alias Azure defines, so it applies to nothing"),
            );
        }
        let ty = input.resource.get("type").and_then(Value::as_str).unwrap_or_default();
        if self.shape.reads_location && ty.eq_ignore_ascii_case("Microsoft.Resources/subscriptions") {
            return Outcome::not_applicable(
                Some(effect),
                "a rule that reads the location does not apply to subscriptions",
            );
        }
        let rule = def.rule.as_object().expect("checked when the definition was parsed");
        let null = Value::Null;
        let cond = get_ci(rule, "if").unwrap_or(&null);
        // For the IfNotExists effects the whole `if` decides applicability
        // (below); for the others only its type, name and kind conditions.
        let if_not_exists = matches!(effect, Effect::AuditIfNotExists | Effect::DeployIfNotExists);
        if !if_not_exists && !ev.applicable(cond, self.shape.considered()) {
            return Outcome::not_applicable(
                Some(effect),
                "the rule's type, name or kind conditions exclude this resource",
            );
        }
        let (matched, reasons) = match ev.eval(cond) {
            Ok(r) => r,
            Err(e) => return Outcome::error(Some(effect), e),
        };
        if if_not_exists && !matched {
            return Outcome {
                state: None,
                effect: Some(effect),
                reasons,
                message: Some(format!(
                    "the rule's if is false for this resource, so this {} policy does not apply",
                    effect.as_str()
                )),
            };
        }
        let then = get_ci(rule, "then").and_then(Value::as_object);
        let details = then.and_then(|t| get_ci(t, "details"));
        let state = |s| Outcome { state: Some(s), effect: Some(effect), reasons: reasons.clone(), message: None };
        match effect {
            Effect::Manual => {
                let default = details
                    .and_then(Value::as_object)
                    .and_then(|d| get_ci(d, "defaultState"))
                    .and_then(Value::as_str)
                    .and_then(ComplianceState::parse)
                    .unwrap_or(ComplianceState::Unknown);
                let mut o = state(if matched { default } else { ComplianceState::Compliant });
                if matched {
                    o.message = Some("a manual control: its state is attested, not computed".into());
                }
                o
            }
            _ if !matched => state(ComplianceState::Compliant),
            Effect::AuditIfNotExists | Effect::DeployIfNotExists => match existence(details, params, input) {
                Ok((true, _)) => state(ComplianceState::Compliant),
                Ok((false, more)) => {
                    let mut o = state(ComplianceState::NonCompliant);
                    o.reasons.extend(more);
                    o
                }
                Err(e) => Outcome::error(Some(effect), e),
            },
            Effect::DenyAction => state(ComplianceState::Protected),
            _ => state(ComplianceState::NonCompliant),
        }
    }
}

/// The raw `then.effect` text.
fn effect_text(def: &Definition) -> Option<&str> {
    let then = get_ci(def.rule.as_object()?, "then")?.as_object()?;
    get_ci(then, "effect")?.as_str()
}

fn effect_of(def: &Definition, ev: &Evaluator) -> Result<Effect> {
    let then = get_ci(def.rule.as_object().ok_or_else(|| PolicyError("policyRule must be an object".into()))?, "then")
        .and_then(Value::as_object)
        .ok_or_else(|| PolicyError("policyRule.then must be an object".into()))?;
    let raw = get_ci(then, "effect").ok_or_else(|| PolicyError("policyRule.then.effect is missing".into()))?;
    match template::resolve(raw, ev)? {
        Value::String(s) => Effect::parse(&s).ok_or_else(|| PolicyError(format!("'{s}' is not a policy effect"))),
        other => Err(PolicyError(format!("the effect must be a string, not {other}"))),
    }
}

/// Why a definition's mode leaves this resource out, if it does.
fn mode_excludes(mode: &str, doc: &Value) -> Option<String> {
    let ty = doc.get("type").and_then(Value::as_str).unwrap_or_default();
    let data_plane = ty.to_ascii_lowercase().starts_with("microsoft.cognitiveservices.data/");
    if mode.eq_ignore_ascii_case("all") {
        return data_plane.then(|| "mode All covers Resource Manager resources, not the data plane".into());
    }
    if mode.eq_ignore_ascii_case("indexed") {
        if data_plane {
            return Some("mode Indexed covers Resource Manager resources, not the data plane".into());
        }
        // Indexed covers the types that carry tags and a location.
        return doc.get("location").is_none().then(|| format!("mode Indexed skips {ty}, which has no location"));
    }
    if mode.eq_ignore_ascii_case("Microsoft.CognitiveServices.Data") {
        return (!data_plane).then(|| "the Cognitive Services data-plane mode covers deployments only".into());
    }
    Some(format!("the resource provider mode '{mode}' is not evaluated offline"))
}

/// Looks among the related resources for one of `details.type` (and
/// `details.name`) that satisfies `details.existenceCondition`.
fn existence(details: Option<&Value>, params: &Map<String, Value>, input: &Input) -> Result<(bool, Vec<Reason>)> {
    let d = details
        .and_then(Value::as_object)
        .ok_or_else(|| PolicyError("auditIfNotExists and deployIfNotExists need 'details'".into()))?;
    let ev = Evaluator::new(input.resource, input.resource, params, input.now, input.policy);
    let ty = match get_ci(d, "type").map(|t| template::resolve(t, &ev)).transpose()? {
        Some(Value::String(s)) => s,
        _ => return Err(PolicyError("'details.type' is missing".into())),
    };
    let name = match get_ci(d, "name").map(|n| template::resolve(n, &ev)).transpose()? {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let candidates: Vec<&Value> = input
        .related
        .iter()
        .filter(|r| r.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(&ty)))
        .filter(|r| {
            name.as_ref()
                .is_none_or(|n| r.get("name").and_then(Value::as_str).is_some_and(|rn| rn.eq_ignore_ascii_case(n)))
        })
        .collect();
    let condition = get_ci(d, "existenceCondition");
    let mut failures = Vec::new();
    for c in &candidates {
        let Some(condition) = condition else { return Ok((true, vec![])) };
        let mut ev = Evaluator::new(c, input.resource, params, input.now, input.policy);
        let (ok, reasons) = ev.eval(condition)?;
        if ok {
            return Ok((true, reasons));
        }
        let id = c.get("id").cloned().unwrap_or(Value::Null);
        failures.extend(reasons.into_iter().map(|mut r| {
            r.operand = format!("{} of {}", r.operand, id.as_str().unwrap_or("a related resource"));
            r
        }));
    }
    let mut reasons = vec![Reason {
        operand: "details.type".into(),
        path: None,
        operator: "existenceCondition".into(),
        expected: json!(ty),
        actual: json!(format!("{} related resource(s) of this type, none satisfying the condition", candidates.len())),
        result: false,
    }];
    reasons.extend(failures);
    Ok((false, reasons))
}

/// The data-plane view of a deployment that `Microsoft.CognitiveServices.Data`
/// definitions read: the deployment's properties with its content filter
/// policy (`raiPolicy`) and model publisher filled in.
pub fn data_plane_deployment(deployment: &Value, rai_policy: Option<&Value>) -> Value {
    let mut props = deployment.get("properties").cloned().unwrap_or_else(|| json!({}));
    if let Some(p) = props.as_object_mut() {
        let model = p.entry("model").or_insert_with(|| json!({}));
        if let Some(m) = model.as_object_mut() {
            let format = m.get("format").and_then(Value::as_str).unwrap_or_default().to_string();
            let name = m.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
            let version = m.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
            // Azure OpenAI models are published by OpenAI in the azure-openai registry.
            if !m.contains_key("publisher") && format.eq_ignore_ascii_case("OpenAI") {
                m.insert("publisher".into(), json!("OpenAI"));
            }
            if !m.contains_key("assetId") && !name.is_empty() {
                let registry = if format.eq_ignore_ascii_case("OpenAI") { "azure-openai" } else { "azureml" };
                m.insert(
                    "assetId".into(),
                    json!(format!("azureml://registries/{registry}/models/{name}/versions/{version}")),
                );
            }
        }
        let rai = rai_policy.and_then(|r| r.get("properties")).cloned().unwrap_or(Value::Null);
        p.insert("raiPolicy".into(), rai);
    }
    json!({
        "id": deployment.get("id").cloned().unwrap_or(Value::Null),
        "name": deployment.get("name").cloned().unwrap_or(Value::Null),
        "type": DATA_DEPLOYMENT_TYPE,
        "sku": deployment.get("sku").cloned().unwrap_or(Value::Null),
        "properties": props,
    })
}

/// The ARM type of a model deployment.
pub const DEPLOYMENT_TYPE: &str = "Microsoft.CognitiveServices/accounts/deployments";

/// Whether `doc` is a model deployment, which data-plane definitions read
/// through [`data_plane_with`].
pub fn is_deployment(doc: &Value) -> bool {
    doc.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case(DEPLOYMENT_TYPE))
}

/// The data-plane view of `deployment` with the content filter policy it
/// names: the one among `policies` of that name, else Microsoft's built-in
/// policy of that name, else none.
pub fn data_plane_with<'p>(deployment: &Value, policies: impl IntoIterator<Item = &'p Value>) -> Value {
    let name = deployment.pointer("/properties/raiPolicyName").and_then(Value::as_str).unwrap_or_default();
    let own = policies
        .into_iter()
        .find(|p| p.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name)));
    match own {
        Some(p) => data_plane_deployment(deployment, Some(p)),
        None => data_plane_deployment(deployment, default_rai_policy(name).as_ref()),
    }
}

/// The properties of Microsoft's built-in content filter policies, which a
/// deployment may name without the account listing them: Medium thresholds,
/// blocking, on prompts and completions; `DefaultV2` adds the jailbreak
/// shield and protected-material detection.
pub fn default_rai_policy(name: &str) -> Option<Value> {
    let v2 = name.eq_ignore_ascii_case("Microsoft.DefaultV2");
    if !v2 && !name.eq_ignore_ascii_case("Microsoft.Default") {
        return None;
    }
    let mut filters = Vec::new();
    for source in ["Prompt", "Completion"] {
        for n in ["Hate", "Sexual", "Violence", "Selfharm"] {
            filters.push(
                json!({"name": n, "severityThreshold": "Medium", "blocking": true, "enabled": true, "source": source}),
            );
        }
    }
    if v2 {
        filters.push(json!({"name": "Jailbreak", "blocking": true, "enabled": true, "source": "Prompt"}));
        filters.push(
            json!({"name": "Protected Material Text", "blocking": true, "enabled": true, "source": "Completion"}),
        );
        filters.push(
            json!({"name": "Protected Material Code", "blocking": false, "enabled": true, "source": "Completion"}),
        );
    }
    Some(json!({
        "name": name,
        "type": "Microsoft.CognitiveServices/accounts/raiPolicies",
        "properties": {"type": "SystemManaged", "mode": "Blocking", "contentFilters": filters}
    }))
}
