//! The `if` of a policy rule: logical operators, conditions and `count`,
//! evaluated with Azure's semantics, keeping the conditions that decided.

use crate::compare::{self, equals};
use crate::error::{PolicyError, Result};
use crate::fail;
use crate::field::{walk, Field, Resolved, Seg};
use crate::template::{self, get_ci, Scope};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// A condition that decided an outcome, with the value it saw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The operand as the rule wrote it: a field or alias, `value`, or `count(…)`.
    pub operand: String,
    /// The document path read, when the operand is a field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub operator: String,
    pub expected: Value,
    pub actual: Value,
    /// Whether the condition held.
    pub result: bool,
}

/// A `count` in progress: the element it is visiting.
#[derive(Debug, Clone)]
enum Binding {
    Field { operand: String, prefix: Vec<Seg>, element: Value },
    Value { name: Option<String>, element: Value },
}

/// Evaluates conditions against one document.
pub struct Evaluator<'a> {
    /// What `field` conditions read (the related resource inside an
    /// `existenceCondition`).
    pub doc: &'a Value,
    /// What the `field()` function reads: always the evaluated resource.
    pub origin: &'a Value,
    pub params: &'a Map<String, Value>,
    pub now: OffsetDateTime,
    pub policy: &'a Value,
    bindings: Vec<Binding>,
}

const OPERATORS: &[&str] = &[
    "equals",
    "notequals",
    "like",
    "notlike",
    "match",
    "matchinsensitively",
    "notmatch",
    "notmatchinsensitively",
    "contains",
    "notcontains",
    "in",
    "notin",
    "containskey",
    "notcontainskey",
    "less",
    "lessorequals",
    "greater",
    "greaterorequals",
    "exists",
];

impl<'a> Evaluator<'a> {
    pub fn new(
        doc: &'a Value,
        origin: &'a Value,
        params: &'a Map<String, Value>,
        now: OffsetDateTime,
        policy: &'a Value,
    ) -> Self {
        Evaluator { doc, origin, params, now, policy, bindings: Vec::new() }
    }

    /// Evaluates a condition or logical operator. Logical operators stop at
    /// the first child that decides them, as Azure does, so a later child
    /// that would fail on this resource is never reached.
    pub fn eval(&mut self, c: &Value) -> Result<(bool, Vec<Reason>)> {
        let m = c.as_object().ok_or_else(|| PolicyError(format!("a condition must be an object, not {c}")))?;
        if let Some(children) = get_ci(m, "allOf") {
            let mut reasons = Vec::new();
            for child in list(children, "allOf")? {
                let (ok, r) = self.eval(child)?;
                if !ok {
                    return Ok((false, r));
                }
                reasons.extend(r);
            }
            return Ok((true, reasons));
        }
        if let Some(children) = get_ci(m, "anyOf") {
            let mut reasons = Vec::new();
            for child in list(children, "anyOf")? {
                let (ok, r) = self.eval(child)?;
                if ok {
                    return Ok((true, r));
                }
                reasons.extend(r);
            }
            return Ok((false, reasons));
        }
        if let Some(child) = get_ci(m, "not") {
            let (ok, r) = self.eval(child)?;
            return Ok((!ok, r));
        }
        self.condition(m)
    }

    /// Azure's applicability test for effects other than `auditIfNotExists`
    /// and `deployIfNotExists`: only the conditions on the fields `considered`
    /// are evaluated; every other condition passes, as if true (or false under
    /// a `not`). `false` means the policy does not apply to this resource.
    pub fn applicable(&mut self, c: &Value, considered: &[&str]) -> bool {
        self.applies(c, considered, false)
    }

    fn applies(&mut self, c: &Value, considered: &[&str], negated: bool) -> bool {
        let Some(m) = c.as_object() else { return !negated };
        if let Some(children) = get_ci(m, "allOf").and_then(Value::as_array) {
            return children.iter().all(|x| self.applies(x, considered, negated));
        }
        if let Some(children) = get_ci(m, "anyOf").and_then(Value::as_array) {
            return children.iter().any(|x| self.applies(x, considered, negated));
        }
        if let Some(child) = get_ci(m, "not") {
            return !self.applies(child, considered, !negated);
        }
        let weighed = get_ci(m, "field")
            .and_then(Value::as_str)
            .is_some_and(|f| considered.iter().any(|k| k.eq_ignore_ascii_case(f)));
        if !weighed {
            return !negated;
        }
        // A condition on type, name or kind that cannot be evaluated does
        // not exclude the resource; the evaluation proper reports it.
        self.condition(m).map(|(b, _)| b).unwrap_or(!negated)
    }

    fn condition(&mut self, m: &Map<String, Value>) -> Result<(bool, Vec<Reason>)> {
        let (op, expected) = operator(m)?;
        let expected = template::resolve_deep(expected, self)?;
        if let Some(count) = get_ci(m, "count") {
            let (operand, n) = self.count(count)?;
            let actual = Value::from(n);
            let ok = apply(&op, &actual, &expected)?;
            return Ok((ok, vec![Reason { operand, path: None, operator: op, expected, actual, result: ok }]));
        }
        if let Some(f) = get_ci(m, "field") {
            let name = match template::resolve(f, self)? {
                Value::String(s) => s,
                other => fail!("a field must name a string, not {other}"),
            };
            let field = Field::parse(&name)?;
            let resolved = self.read(&field);
            let ok = match &resolved {
                Resolved::One(v) => apply(&op, v, &expected)?,
                // `exists` on an empty selection: nothing exists.
                Resolved::Many(vs) if vs.is_empty() && op == "exists" => apply(&op, &Value::Null, &expected)?,
                // `[*]` outside `count`: every element must satisfy the condition.
                Resolved::Many(vs) => {
                    let mut all = true;
                    for v in vs {
                        if !apply(&op, v, &expected)? {
                            all = false;
                            break;
                        }
                    }
                    all
                }
            };
            let reason = Reason {
                operand: name,
                path: Some(field.path()),
                operator: op,
                expected,
                actual: resolved.into_value(),
                result: ok,
            };
            return Ok((ok, vec![reason]));
        }
        if let Some(v) = get_ci(m, "value") {
            let actual = template::resolve_deep(v, self)?;
            let ok = apply(&op, &actual, &expected)?;
            let operand = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            return Ok((ok, vec![Reason { operand, path: None, operator: op, expected, actual, result: ok }]));
        }
        fail!("a condition needs a field, a value or a count: {}", Value::Object(m.clone()))
    }

    /// Reads a field, from the element a `count` is visiting when the field
    /// lies beneath the counted array.
    fn read(&self, field: &Field) -> Resolved {
        if let Field::Path { segs, .. } = field {
            for b in self.bindings.iter().rev() {
                if let Binding::Field { prefix, element, .. } = b {
                    if starts_with(segs, prefix) {
                        return walk(element, &segs[prefix.len()..]);
                    }
                }
            }
        }
        field.resolve(self.doc)
    }

    fn count(&mut self, spec: &Value) -> Result<(String, usize)> {
        let m = spec.as_object().ok_or_else(|| PolicyError("count must be an object".into()))?;
        let filter = get_ci(m, "where");
        if let Some(f) = get_ci(m, "field") {
            let name = match template::resolve(f, self)? {
                Value::String(s) => s,
                other => fail!("count.field must be a string, not {other}"),
            };
            let field = Field::parse(&name)?;
            if field.array_prefix().is_none() {
                fail!("count.field '{name}' has no [*]");
            }
            // The where sees one member of the innermost array at a time.
            let Field::Path { segs: prefix, .. } = &field else { unreachable!("only paths have [*]") };
            let prefix = prefix.clone();
            let elements = match self.read(&field) {
                Resolved::Many(v) => v,
                Resolved::One(_) => vec![],
            };
            let operand = format!("count({name})");
            let Some(filter) = filter else { return Ok((operand, elements.len())) };
            let mut n = 0;
            for element in elements {
                self.bindings.push(Binding::Field { operand: name.clone(), prefix: prefix.clone(), element });
                let r = self.eval(filter);
                self.bindings.pop();
                if r?.0 {
                    n += 1;
                }
            }
            return Ok((operand, n));
        }
        if let Some(v) = get_ci(m, "value") {
            let elements = match template::resolve_deep(v, self)? {
                Value::Array(a) => a,
                Value::Null => vec![],
                other => fail!("count.value must be an array, not {other}"),
            };
            let name = get_ci(m, "name").and_then(Value::as_str).map(str::to_string);
            let operand = format!("count({})", name.clone().unwrap_or_else(|| v.to_string()));
            let Some(filter) = filter else { return Ok((operand, elements.len())) };
            let mut n = 0;
            for element in elements {
                self.bindings.push(Binding::Value { name: name.clone(), element });
                let r = self.eval(filter);
                self.bindings.pop();
                if r?.0 {
                    n += 1;
                }
            }
            return Ok((operand, n));
        }
        fail!("count needs a field or a value")
    }
}

impl Scope for Evaluator<'_> {
    fn parameter(&self, name: &str) -> Result<Value> {
        get_ci(self.params, name).cloned().ok_or_else(|| PolicyError(format!("the parameter '{name}' is not defined")))
    }

    fn field(&self, path: &str) -> Result<Value> {
        let f = Field::parse(path)?;
        // Inside a count, field() on the counted alias sees the one element.
        if let Field::Path { segs, .. } = &f {
            for b in self.bindings.iter().rev() {
                if let Binding::Field { prefix, element, .. } = b {
                    if starts_with(segs, prefix) {
                        return Ok(Value::Array(present(walk(element, &segs[prefix.len()..]))));
                    }
                }
            }
        }
        Ok(match f.resolve(self.origin) {
            // field() of a missing property is the empty string.
            Resolved::One(Value::Null) => Value::String(String::new()),
            // Over `[*]`, only the values present: a member without the
            // property, or with a missing nested array, adds nothing.
            r @ Resolved::Many(_) => Value::Array(present(r)),
            r => r.into_value(),
        })
    }

    fn current(&self, name: Option<&str>) -> Result<Value> {
        for b in self.bindings.iter().rev() {
            match (b, name) {
                (Binding::Value { element, .. }, None) | (Binding::Field { element, .. }, None) => {
                    return Ok(element.clone())
                }
                (Binding::Value { name: Some(n), element }, Some(want)) if n.eq_ignore_ascii_case(want) => {
                    return Ok(element.clone())
                }
                (Binding::Field { operand, element, .. }, Some(want)) if operand.eq_ignore_ascii_case(want) => {
                    return Ok(element.clone())
                }
                // A path below the counted alias: that property of the member.
                (Binding::Field { prefix, element, .. }, Some(want)) => {
                    if let Ok(Field::Path { segs, .. }) = Field::parse(want) {
                        if segs.len() > prefix.len() && starts_with(&segs, prefix) {
                            return Ok(walk(element, &segs[prefix.len()..]).into_value());
                        }
                    }
                }
                _ => {}
            }
        }
        match name {
            Some(n) => fail!("current('{n}') is used outside a count over '{n}'"),
            None => fail!("current() is used outside a count"),
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.now
    }

    fn policy(&self) -> Value {
        self.policy.clone()
    }
}

/// The values a `[*]` read found, without the members that lacked them.
fn present(r: Resolved) -> Vec<Value> {
    match r {
        Resolved::One(Value::Null) => vec![],
        Resolved::One(v) => vec![v],
        Resolved::Many(vs) => vs.into_iter().filter(|v| !v.is_null()).collect(),
    }
}

fn starts_with(segs: &[Seg], prefix: &[Seg]) -> bool {
    segs.len() >= prefix.len()
        && segs.iter().zip(prefix).all(|(a, b)| match (a, b) {
            (Seg::Key(x), Seg::Key(y)) => x.eq_ignore_ascii_case(y),
            _ => a == b,
        })
}

fn list<'v>(v: &'v Value, op: &str) -> Result<&'v Vec<Value>> {
    v.as_array().ok_or_else(|| PolicyError(format!("{op} must hold an array of conditions")))
}

/// The condition's operator (lower-case) and its operand.
fn operator(m: &Map<String, Value>) -> Result<(String, &Value)> {
    let mut found = None;
    for (k, v) in m {
        let lk = k.to_ascii_lowercase();
        if OPERATORS.contains(&lk.as_str()) {
            if found.is_some() {
                fail!("a condition has more than one operator: {}", Value::Object(m.clone()));
            }
            found = Some((lk, v));
        } else if !["field", "value", "count"].contains(&lk.as_str()) {
            fail!("'{k}' is not a condition operator");
        }
    }
    found.ok_or_else(|| PolicyError(format!("a condition has no operator: {}", Value::Object(m.clone()))))
}

/// Applies a condition operator to the value the operand produced.
/// A missing value (`Null`) satisfies only the negative operators.
pub fn apply(op: &str, actual: &Value, expected: &Value) -> Result<bool> {
    let missing = actual.is_null();
    Ok(match op {
        "equals" => equals(actual, expected),
        "notequals" => !equals(actual, expected),
        "like" | "notlike" => {
            let pattern = text(expected, op)?;
            let hit = actual.as_str().is_some_and(|s| compare::like(s, &pattern));
            hit == (op == "like")
        }
        "match" | "notmatch" | "matchinsensitively" | "notmatchinsensitively" => {
            let pattern = text(expected, op)?;
            let insensitive = op.ends_with("insensitively");
            let hit = actual.as_str().is_some_and(|s| compare::matches(s, &pattern, insensitive));
            hit != op.starts_with("not")
        }
        "contains" | "notcontains" => {
            let hit = match actual {
                Value::String(s) => compare::fold(s).contains(compare::fold(&text(expected, op)?).as_ref()),
                Value::Array(a) => a.iter().any(|x| equals(x, expected)),
                _ => false,
            };
            hit == (op == "contains")
        }
        "in" | "notin" => {
            let set = match expected {
                Value::Array(a) => a,
                other => fail!("'{op}' needs an array, not {other}"),
            };
            let hit = !missing && set.iter().any(|x| equals(actual, x));
            hit == (op == "in")
        }
        "containskey" | "notcontainskey" => {
            let key = text(expected, op)?;
            let hit = actual.as_object().is_some_and(|m| get_ci(m, &key).is_some());
            hit == (op == "containskey")
        }
        "less" | "lessorequals" | "greater" | "greaterorequals" => {
            if missing {
                return Ok(false);
            }
            let o = compare::order(actual, expected)?;
            match op {
                "less" => o.is_lt(),
                "lessorequals" => o.is_le(),
                "greater" => o.is_gt(),
                _ => o.is_ge(),
            }
        }
        "exists" => {
            let want = match expected {
                Value::Bool(b) => *b,
                Value::String(s) if s.eq_ignore_ascii_case("true") => true,
                Value::String(s) if s.eq_ignore_ascii_case("false") => false,
                other => fail!("'exists' takes true or false, not {other}"),
            };
            missing != want
        }
        other => fail!("'{other}' is not a condition operator"),
    })
}

fn text(v: &Value, op: &str) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(_) | Value::Bool(_) => Ok(v.to_string()),
        other => fail!("'{op}' needs a string, not {other}"),
    }
}

const LOGICAL: &[&str] = &["allof", "anyof", "not"];

/// Checks the structure of an `if` before anything is evaluated, so that a
/// malformed condition is an error for the definition wherever it stands,
/// not a verdict decided by the branches that happen to be reached: a
/// logical operator stands alone, and a condition has one operand (`field`,
/// `value` or `count`) and one operator.
pub fn validate(c: &Value) -> Result<()> {
    let m = c.as_object().ok_or_else(|| PolicyError(format!("a condition must be an object, not {c}")))?;
    let logical: Vec<&String> = m.keys().filter(|k| LOGICAL.contains(&k.to_ascii_lowercase().as_str())).collect();
    if let Some(op) = logical.first() {
        if m.len() > 1 {
            let others: Vec<&str> = m.keys().filter(|k| k != op).map(String::as_str).collect();
            fail!("the logical operator '{op}' stands beside {}: {}", others.join(", "), Value::Object(m.clone()));
        }
        let v = &m[op.as_str()];
        if op.eq_ignore_ascii_case("not") {
            return validate(v);
        }
        for child in list(v, op)? {
            validate(child)?;
        }
        return Ok(());
    }
    let operands: Vec<&str> = ["field", "value", "count"].into_iter().filter(|k| get_ci(m, k).is_some()).collect();
    match operands.as_slice() {
        [] => fail!("a condition needs a field, a value or a count: {}", Value::Object(m.clone())),
        [_] => {}
        _ => fail!("a condition has both {}: {}", operands.join(" and "), Value::Object(m.clone())),
    }
    operator(m)?;
    if let Some(count) = get_ci(m, "count") {
        let cm = count.as_object().ok_or_else(|| PolicyError("count must be an object".into()))?;
        if get_ci(cm, "field").is_some() == get_ci(cm, "value").is_some() {
            fail!("count needs a field or a value, not both or neither: {count}");
        }
        if let Some(w) = get_ci(cm, "where") {
            validate(w)?;
        }
    }
    Ok(())
}

/// The fields an `if` tests, as applicability weighs them.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Shape {
    pub has_type: bool,
    pub has_name: bool,
    pub has_kind: bool,
    /// Any condition on another field, a value or a count.
    pub has_other: bool,
    /// A condition reads the location (as a field or through `field()`).
    pub reads_location: bool,
    /// The first alias Azure's catalog does not define, if any.
    pub invalid_alias: Option<String>,
}

impl Shape {
    pub fn of(c: &Value) -> Shape {
        let mut s = Shape::default();
        s.visit(c);
        s
    }

    /// The fields whose conditions decide applicability: with only type,
    /// name and kind conditions, the type alone (so only-name or only-kind
    /// rules apply to every resource); with other conditions beside them,
    /// all three.
    pub fn considered(&self) -> &'static [&'static str] {
        if self.has_other {
            &["type", "name", "kind"]
        } else {
            &["type"]
        }
    }

    fn visit(&mut self, c: &Value) {
        let Some(m) = c.as_object() else { return };
        for op in ["allOf", "anyOf"] {
            if let Some(children) = get_ci(m, op).and_then(Value::as_array) {
                children.iter().for_each(|x| self.visit(x));
                return;
            }
        }
        if let Some(child) = get_ci(m, "not") {
            return self.visit(child);
        }
        let text = Value::Object(m.clone()).to_string().to_ascii_lowercase();
        if text.contains("field('location')") {
            self.reads_location = true;
        }
        if let Some(count) = get_ci(m, "count") {
            self.has_other = true;
            if let Some(f) = count.get("field").and_then(Value::as_str) {
                self.check_alias(f);
            }
            if let Some(w) = count.as_object().and_then(|cm| get_ci(cm, "where")) {
                let mut inner = Shape::default();
                inner.visit(w);
                self.reads_location |= inner.reads_location;
                self.invalid_alias = self.invalid_alias.take().or(inner.invalid_alias);
            }
            return;
        }
        match get_ci(m, "field").and_then(Value::as_str) {
            Some(f) if f.eq_ignore_ascii_case("type") => self.has_type = true,
            Some(f) if f.eq_ignore_ascii_case("name") => self.has_name = true,
            Some(f) if f.eq_ignore_ascii_case("kind") => self.has_kind = true,
            Some(f) => {
                self.has_other = true;
                if f.eq_ignore_ascii_case("location") {
                    self.reads_location = true;
                }
                self.check_alias(f);
            }
            None => self.has_other = true,
        }
    }

    fn check_alias(&mut self, f: &str) {
        if self.invalid_alias.is_none() && !f.starts_with('[') {
            if let Some(crate::alias::Lookup::Invalid { .. }) = crate::alias::lookup(f) {
                self.invalid_alias = Some(f.to_string());
            }
        }
    }
}
