//! Test vectors as data: one file per control and per imported Azure
//! built-in under `tests/cases/`, one generated test per file. Each case
//! names a resource (a Microsoft example payload with a merge patch, or a
//! document), the parameters, and the state and effect Azure would report.

use attest_policy::assignment::{evaluate_all, subjects_from_documents, Assignment, Exemption};
use attest_policy::evaluate::{data_plane_deployment, data_plane_with, is_deployment};
use attest_policy::{catalogue, evaluate, ComplianceState, Input, PolicyDocument};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// `catalogue:<slug>`, `builtin:<file in fixtures/azure-policy>`, or
    /// `rules` when every case brings its own rule.
    definition: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    cases: Vec<Case>,
    /// Whole-estate cases through assignments and exemptions.
    #[serde(default)]
    estates: Vec<Estate>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    note: String,
    resource: Doc,
    #[serde(default)]
    related: Vec<Doc>,
    /// An `if` to evaluate instead of the file's definition (mode All,
    /// effect audit): for operator edge cases.
    #[serde(default)]
    rule: Option<Value>,
    /// A whole `policyRule` (`if` and `then`) to evaluate instead, mode All:
    /// for cases that turn on the effect.
    #[serde(default)]
    policy_rule: Option<Value>,
    /// For data-plane definitions: the deployment's content filter policy.
    #[serde(default)]
    rai_policy: Option<Doc>,
    #[serde(default)]
    parameters: Map<String, Value>,
    /// `null` when the definition does not apply.
    want_state: Option<String>,
    #[serde(default)]
    want_effect: Option<String>,
    /// Document paths or operands the reasons must mention.
    #[serde(default)]
    want_reasons: Vec<String>,
    /// Text the error message must contain.
    #[serde(default)]
    want_message: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Estate {
    note: String,
    resources: Vec<Doc>,
    assignments: Vec<Value>,
    #[serde(default)]
    exemptions: Vec<Value>,
    /// Resource id → expected overall state; absent resources must be left out.
    want: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Doc {
    Fixture {
        fixture: String,
        #[serde(default = "body")]
        pointer: String,
        #[serde(default)]
        patch: Value,
    },
    Literal(Value),
}

fn body() -> String {
    "/responses/200/body".into()
}

fn fixtures() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/fixtures");
        if candidate.is_dir() {
            return candidate;
        }
        if !dir.pop() {
            panic!("shared/fixtures not found beside the checkout or any parent");
        }
    }
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

impl Doc {
    fn load(&self) -> Value {
        match self {
            Doc::Literal(v) => v.clone(),
            Doc::Fixture { fixture, pointer, patch } => {
                let path = fixtures().join("arm").join(fixture);
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let whole: Value = serde_json::from_str(&text).unwrap();
                let mut v = whole.pointer(pointer).unwrap_or_else(|| panic!("{fixture}: no {pointer}")).clone();
                if !patch.is_null() {
                    merge(&mut v, patch);
                }
                v
            }
        }
    }
}

fn load_definition(spec: &str) -> PolicyDocument {
    if spec == "rules" {
        return rule_definition(&serde_json::json!({"field": "type", "exists": true}));
    }
    if let Some(slug) = spec.strip_prefix("catalogue:") {
        let c = catalogue::control(slug).unwrap_or_else(|| panic!("no control {slug}"));
        return PolicyDocument::Definition(c.definition.clone());
    }
    let file = spec.strip_prefix("builtin:").unwrap_or_else(|| panic!("unknown definition source {spec}"));
    let text = std::fs::read_to_string(fixtures().join("azure-policy").join(file)).unwrap();
    PolicyDocument::parse(&serde_json::from_str(&text).unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn rule_definition(rule: &Value) -> PolicyDocument {
    let doc = serde_json::json!({"name": "rule", "properties": {"mode": "All", "policyRule": {"if": rule, "then": {"effect": "audit"}}}});
    PolicyDocument::parse(&doc).unwrap()
}

fn policy_definition(policy_rule: &Value) -> PolicyDocument {
    let doc = serde_json::json!({"name": "rule", "properties": {"mode": "All", "policyRule": policy_rule}});
    PolicyDocument::parse(&doc).unwrap()
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-21 12:00 UTC)
}

fn check(path: &Path) -> datatest_stable::Result<()> {
    let file: File = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let doc = load_definition(&file.definition);
    let mut failures = Vec::new();
    for case in &file.cases {
        let own = match (&case.rule, &case.policy_rule) {
            (Some(r), _) => Some(rule_definition(r)),
            (None, Some(pr)) => Some(policy_definition(pr)),
            (None, None) => None,
        };
        let PolicyDocument::Definition(def) = own.as_ref().unwrap_or(&doc) else { panic!("cases need a definition") };
        let mut params = file.parameters.clone();
        params.extend(case.parameters.clone());
        let mut resource = case.resource.load();
        if let Some(rai) = &case.rai_policy {
            resource = data_plane_deployment(&resource, Some(&rai.load()));
        } else if def.mode.eq_ignore_ascii_case("Microsoft.CognitiveServices.Data") && is_deployment(&resource) {
            resource = data_plane_with(&resource, []);
        }
        let related: Vec<Value> = case.related.iter().map(Doc::load).collect();
        let out = evaluate(
            def,
            &Input { resource: &resource, related: &related, parameters: &params, now: now(), policy: &Value::Null },
        );
        let got = out.state.map(|s| s.as_str().to_string());
        if got != case.want_state {
            failures.push(format!(
                "{}: state {:?}, want {:?} ({:?}; reasons {:?})",
                case.note, got, case.want_state, out.message, out.reasons
            ));
            continue;
        }
        if let Some(e) = &case.want_effect {
            let got = out.effect.map(|x| x.as_str().to_string()).unwrap_or_default();
            if !got.eq_ignore_ascii_case(e) {
                failures.push(format!("{}: effect {got}, want {e}", case.note));
            }
        }
        let text = serde_json::to_string(&out.reasons)?;
        for r in &case.want_reasons {
            if !text.contains(r.as_str()) {
                failures.push(format!("{}: reasons do not mention {r}: {text}", case.note));
            }
        }
        if let Some(m) = &case.want_message {
            if !out.message.as_deref().unwrap_or_default().contains(m.as_str()) {
                failures.push(format!("{}: message {:?} lacks {m:?}", case.note, out.message));
            }
        }
    }
    for estate in &file.estates {
        let mut catalog = catalogue::catalog();
        catalog.insert(doc.clone());
        // Initiatives refer to the built-ins by id.
        for entry in std::fs::read_dir(fixtures().join("azure-policy"))? {
            let text = std::fs::read_to_string(entry?.path())?;
            catalog.insert(PolicyDocument::parse(&serde_json::from_str(&text)?)?);
        }
        let docs: Vec<Value> = estate.resources.iter().map(Doc::load).collect();
        let assignments: Vec<Assignment> = estate.assignments.iter().map(|a| Assignment::parse(a).unwrap()).collect();
        let exemptions: Vec<Exemption> = estate.exemptions.iter().map(|e| Exemption::parse(e).unwrap()).collect();
        let results = evaluate_all(&catalog, &assignments, &exemptions, &subjects_from_documents(&docs), now());
        let got: Map<String, Value> =
            results.iter().map(|r| (r.id.to_ascii_lowercase(), Value::String(r.state.as_str().into()))).collect();
        let want: Map<String, Value> = estate.want.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect();
        if got != want {
            failures.push(format!("{}: got {got:?}, want {want:?}", estate.note));
        }
        for v in want.values() {
            assert!(ComplianceState::parse(v.as_str().unwrap_or_default()).is_some(), "{}: bad state {v}", estate.note);
        }
    }
    if file.cases.is_empty() && file.estates.is_empty() {
        failures.push("the file has no cases".into());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}

datatest_stable::harness! {
    { test = check, root = "tests/cases", pattern = r"\.json$" },
}
