//! Policy definitions and initiatives (policy set definitions), read exactly
//! as Azure publishes them.

use crate::error::{PolicyError, Result};
use crate::fail;
use crate::template::get_ci;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parameter a definition declares.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    /// `String`, `Array`, `Object`, `Boolean`, `Integer`, `Float` or `DateTime`.
    pub kind: String,
    pub default: Option<Value>,
    pub allowed: Option<Vec<Value>>,
}

/// A policy definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    /// `All`, `Indexed`, or a resource provider mode such as
    /// `Microsoft.CognitiveServices.Data`.
    pub mode: String,
    pub parameters: BTreeMap<String, Parameter>,
    /// `policyRule`: `if` and `then`.
    pub rule: Value,
    pub metadata: Value,
}

/// One definition inside an initiative, with the parameter values it gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub reference_id: String,
    pub definition_id: String,
    /// Parameter values, possibly expressions over the initiative's parameters.
    pub parameters: Map<String, Value>,
    pub groups: Vec<String>,
}

/// A policy set definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Initiative {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub parameters: BTreeMap<String, Parameter>,
    pub members: Vec<Member>,
    pub metadata: Value,
}

/// Either kind of document Azure stores under `policyDefinitions` and
/// `policySetDefinitions`.
#[derive(Debug, Clone, PartialEq)]
pub enum PolicyDocument {
    Definition(Definition),
    Initiative(Initiative),
}

impl PolicyDocument {
    /// Reads `{"id", "name", "properties": {…}}`, or the bare properties.
    pub fn parse(doc: &Value) -> Result<PolicyDocument> {
        let obj = doc.as_object().ok_or_else(|| PolicyError("a policy document must be a JSON object".into()))?;
        let props = match get_ci(obj, "properties") {
            Some(Value::Object(p)) => p,
            Some(_) => fail!("'properties' must be an object"),
            None => obj,
        };
        let name = str_at(obj, "name").or_else(|| str_at(props, "name")).unwrap_or_default();
        let id = str_at(obj, "id").unwrap_or_else(|| name.clone());
        let display_name = str_at(props, "displayName").unwrap_or_else(|| name.clone());
        let description = str_at(props, "description").unwrap_or_default();
        let metadata = get_ci(props, "metadata").cloned().unwrap_or(Value::Null);
        let parameters = parameters(props)?;
        if let Some(members) = get_ci(props, "policyDefinitions") {
            let members = members
                .as_array()
                .ok_or_else(|| PolicyError("'policyDefinitions' must be an array".into()))?
                .iter()
                .enumerate()
                .map(|(i, m)| member(m).map_err(|e| PolicyError(format!("policyDefinitions[{i}]: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            return Ok(PolicyDocument::Initiative(Initiative {
                id,
                name,
                display_name,
                description,
                parameters,
                members,
                metadata,
            }));
        }
        let rule = get_ci(props, "policyRule")
            .ok_or_else(|| PolicyError("no 'policyRule' and no 'policyDefinitions'".into()))?;
        let rule_obj = rule.as_object().ok_or_else(|| PolicyError("'policyRule' must be an object".into()))?;
        if !get_ci(rule_obj, "if").is_some_and(Value::is_object) {
            fail!("'policyRule.if' must be an object");
        }
        if get_ci(rule_obj, "then").and_then(Value::as_object).and_then(|t| get_ci(t, "effect")).is_none() {
            fail!("'policyRule.then.effect' is missing");
        }
        Ok(PolicyDocument::Definition(Definition {
            id,
            name,
            display_name,
            description,
            mode: str_at(props, "mode").unwrap_or_else(|| "All".into()),
            parameters,
            rule: rule.clone(),
            metadata,
        }))
    }

    pub fn id(&self) -> &str {
        match self {
            PolicyDocument::Definition(d) => &d.id,
            PolicyDocument::Initiative(i) => &i.id,
        }
    }
}

fn str_at(m: &Map<String, Value>, k: &str) -> Option<String> {
    get_ci(m, k).and_then(Value::as_str).map(str::to_string)
}

fn parameters(props: &Map<String, Value>) -> Result<BTreeMap<String, Parameter>> {
    let mut out = BTreeMap::new();
    let Some(ps) = get_ci(props, "parameters") else { return Ok(out) };
    let ps = ps.as_object().ok_or_else(|| PolicyError("'parameters' must be an object".into()))?;
    for (name, p) in ps {
        let p = p.as_object().ok_or_else(|| PolicyError(format!("parameter '{name}' must be an object")))?;
        let allowed = match get_ci(p, "allowedValues") {
            Some(Value::Array(a)) => Some(a.clone()),
            Some(_) => fail!("parameter '{name}': allowedValues must be an array"),
            None => None,
        };
        out.insert(
            name.clone(),
            Parameter {
                kind: str_at(p, "type").unwrap_or_else(|| "String".into()),
                default: get_ci(p, "defaultValue").cloned(),
                allowed,
            },
        );
    }
    Ok(out)
}

fn member(m: &Value) -> Result<Member> {
    let m = m.as_object().ok_or_else(|| PolicyError("must be an object".into()))?;
    let definition_id = str_at(m, "policyDefinitionId").ok_or_else(|| PolicyError("no policyDefinitionId".into()))?;
    let reference_id = str_at(m, "policyDefinitionReferenceId").unwrap_or_else(|| definition_id.clone());
    let parameters = match get_ci(m, "parameters") {
        Some(Value::Object(p)) => unwrap_values(p),
        Some(_) => fail!("'parameters' must be an object"),
        None => Map::new(),
    };
    let groups = get_ci(m, "groupNames")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    Ok(Member { reference_id, definition_id, parameters, groups })
}

/// Assignments and initiatives write parameters as `{"name": {"value": x}}`;
/// a plain `{"name": x}` is taken as it is.
pub fn unwrap_values(p: &Map<String, Value>) -> Map<String, Value> {
    p.iter()
        .map(|(k, v)| {
            let inner = match v {
                Value::Object(o) if o.len() == 1 && o.contains_key("value") => o["value"].clone(),
                other => other.clone(),
            };
            (k.clone(), inner)
        })
        .collect()
}

/// Every declared parameter's value: the one given, else the default.
/// Values outside `allowedValues`, missing values and undeclared names are
/// errors, as Azure refuses such an assignment.
pub fn bind_parameters(
    declared: &BTreeMap<String, Parameter>,
    given: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    for k in given.keys() {
        if !declared.keys().any(|d| d.eq_ignore_ascii_case(k)) {
            fail!("the parameter '{k}' is not declared by the definition");
        }
    }
    let mut out = Map::new();
    for (name, p) in declared {
        let v = match get_ci(given, name).or(p.default.as_ref()) {
            Some(v) => v.clone(),
            None => fail!("the parameter '{name}' has no value and no default"),
        };
        if let Some(allowed) = &p.allowed {
            let ok = |x: &Value| allowed.iter().any(|a| crate::compare::equals(a, x));
            let fine = match (&v, p.kind.eq_ignore_ascii_case("array")) {
                (Value::Array(items), true) if !allowed.iter().any(Value::is_array) => items.iter().all(ok),
                _ => ok(&v),
            };
            if !fine {
                fail!(
                    "the parameter '{name}' is {v}, which is not among its allowed values {}",
                    Value::Array(allowed.clone())
                );
            }
        }
        out.insert(name.clone(), v);
    }
    Ok(out)
}
