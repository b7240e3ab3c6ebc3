//! Template expressions (`"[concat(parameters('a'), 'b')]"`): parsing and the
//! functions policy rules use.
//!
//! A string that starts with `[` and ends with `]` is an expression; `[[` at
//! the start escapes a literal bracket. Functions are matched without regard
//! to case, as ARM does.

use crate::error::{PolicyError, Result};
use crate::fail;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    Call { name: String, args: Vec<Expr> },
    Property { base: Box<Expr>, name: String },
    Index { base: Box<Expr>, index: Box<Expr> },
}

/// What expressions can ask of the evaluation around them.
pub trait Scope {
    fn parameter(&self, name: &str) -> Result<Value>;
    /// `field('…')`: the value at a field path of the evaluated resource.
    fn field(&self, path: &str) -> Result<Value>;
    /// `current('name')` or `current()`: the element a `count` is visiting.
    fn current(&self, name: Option<&str>) -> Result<Value>;
    fn now(&self) -> OffsetDateTime;
    /// `policy()`: the assignment and definition being evaluated.
    fn policy(&self) -> Value;
}

/// `Some(expr)` when `s` is an expression, `None` when it is a literal string.
pub fn parse(s: &str) -> Option<Result<Expr>> {
    if s.starts_with("[[") || !(s.starts_with('[') && s.ends_with(']')) || s.len() < 2 {
        return None;
    }
    let mut p = Parser { src: &s[1..s.len() - 1], pos: 0 };
    Some(p.expr().and_then(|e| {
        p.ws();
        if p.pos != p.src.len() {
            Err(PolicyError(format!("unexpected '{}' in expression {s}", &p.src[p.pos..])))
        } else {
            Ok(e)
        }
    }))
}

/// Evaluates a JSON value that may be (or contain, for objects and arrays
/// given as parameters) template expressions.
pub fn resolve(v: &Value, scope: &dyn Scope) -> Result<Value> {
    match v {
        Value::String(s) => match parse(s) {
            Some(e) => eval(&e?, scope),
            None if s.starts_with("[[") => Ok(Value::String(s[1..].to_string())),
            None => Ok(v.clone()),
        },
        _ => Ok(v.clone()),
    }
}

/// [`resolve`], and inside the arrays and objects a rule writes out: each
/// string element of an `in` list may be an expression. What a function
/// returns (a parameter's value) is never evaluated again.
pub fn resolve_deep(v: &Value, scope: &dyn Scope) -> Result<Value> {
    match v {
        Value::Array(a) => Ok(Value::Array(a.iter().map(|x| resolve_deep(x, scope)).collect::<Result<_>>()?)),
        Value::Object(m) => {
            Ok(Value::Object(m.iter().map(|(k, x)| Ok((k.clone(), resolve_deep(x, scope)?))).collect::<Result<_>>()?))
        }
        _ => resolve(v, scope),
    }
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }
    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Expr> {
        self.ws();
        let mut e = match self.peek() {
            Some('\'') => self.string()?,
            Some(c) if c.is_ascii_digit() || c == '-' => self.number()?,
            Some(c) if c.is_ascii_alphabetic() => self.call()?,
            other => fail!("expected an expression at {:?} in '{}'", other, self.src),
        };
        loop {
            if self.eat('.') {
                let name = self.ident();
                if name.is_empty() {
                    fail!("expected a property name after '.' in '{}'", self.src);
                }
                e = Expr::Property { base: Box::new(e), name };
            } else if self.eat('[') {
                let index = self.expr()?;
                if !self.eat(']') {
                    fail!("expected ']' in '{}'", self.src);
                }
                e = Expr::Index { base: Box::new(e), index: Box::new(index) };
            } else {
                return Ok(e);
            }
        }
    }

    fn ident(&mut self) -> String {
        self.ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            self.pos += 1;
        }
        self.src[start..self.pos].to_string()
    }

    fn string(&mut self) -> Result<Expr> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => fail!("unterminated string in '{}'", self.src),
                Some('\'') => {
                    self.pos += 1;
                    if self.peek() == Some('\'') {
                        out.push('\'');
                        self.pos += 1;
                    } else {
                        return Ok(Expr::Literal(Value::String(out)));
                    }
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    fn number(&mut self) -> Result<Expr> {
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        if let Ok(i) = text.parse::<i64>() {
            return Ok(Expr::Literal(json!(i)));
        }
        match text.parse::<f64>() {
            Ok(f) => Ok(Expr::Literal(json!(f))),
            Err(_) => fail!("bad number '{text}' in '{}'", self.src),
        }
    }

    fn call(&mut self) -> Result<Expr> {
        let name = self.ident();
        if !self.eat('(') {
            match name.to_ascii_lowercase().as_str() {
                "true" => return Ok(Expr::Literal(Value::Bool(true))),
                "false" => return Ok(Expr::Literal(Value::Bool(false))),
                "null" => return Ok(Expr::Literal(Value::Null)),
                _ => fail!("expected '(' after {name} in '{}'", self.src),
            }
        }
        let mut args = Vec::new();
        if !self.eat(')') {
            loop {
                args.push(self.expr()?);
                if self.eat(')') {
                    break;
                }
                if !self.eat(',') {
                    fail!("expected ',' or ')' in call to {name} in '{}'", self.src);
                }
            }
        }
        Ok(Expr::Call { name, args })
    }
}

/// Evaluates an expression.
pub fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value> {
    match e {
        Expr::Literal(v) => Ok(v.clone()),
        Expr::Property { base, name } => {
            let b = eval(base, scope)?;
            match &b {
                Value::Object(m) => match get_ci(m, name) {
                    Some(v) => Ok(v.clone()),
                    None => fail!("the object has no property '{name}'"),
                },
                _ => fail!("cannot read property '{name}' of {}", short(&b)),
            }
        }
        Expr::Index { base, index } => {
            let b = eval(base, scope)?;
            let i = eval(index, scope)?;
            match (&b, &i) {
                (Value::Array(a), Value::Number(n)) => match n.as_u64().and_then(|n| a.get(n as usize)) {
                    Some(v) => Ok(v.clone()),
                    None => fail!("index {n} is out of range for an array of {}", a.len()),
                },
                (Value::Object(m), Value::String(k)) => match get_ci(m, k) {
                    Some(v) => Ok(v.clone()),
                    None => fail!("the object has no property '{k}'"),
                },
                _ => fail!("cannot index {} with {}", short(&b), short(&i)),
            }
        }
        Expr::Call { name, args } => call(name, args, scope),
    }
}

/// A property of an object, matched without regard to case.
pub fn get_ci<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    m.get(key).or_else(|| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!("{}…", &s[..s.floor_char_boundary(60)])
    } else {
        s
    }
}

fn string_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn arg_count(name: &str, args: &[Expr], min: usize, max: usize) -> Result<()> {
    if args.len() < min || args.len() > max {
        if min == max {
            fail!("{name}() takes {min} argument(s), not {}", args.len());
        }
        fail!("{name}() takes {min} to {max} arguments, not {}", args.len());
    }
    Ok(())
}

fn as_str<'a>(name: &str, v: &'a Value) -> Result<&'a str> {
    v.as_str().ok_or_else(|| PolicyError(format!("{name}() expects a string, not {}", short(v))))
}

fn as_int(name: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| PolicyError(format!("{name}() expects an integer, not {n}"))),
        Value::String(s) => {
            s.trim().parse().map_err(|_| PolicyError(format!("{name}() expects an integer, not '{s}'")))
        }
        _ => fail!("{name}() expects an integer, not {}", short(v)),
    }
}

fn as_bool(name: &str, v: &Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => fail!("{name}() expects a boolean, not {}", short(v)),
    }
}

fn call(name: &str, args: &[Expr], scope: &dyn Scope) -> Result<Value> {
    let lname = name.to_ascii_lowercase();
    let n = lname.as_str();
    // `if` evaluates only the branch it takes, so a guarded error stays unraised.
    if n == "if" {
        arg_count(name, args, 3, 3)?;
        let c = as_bool(name, &eval(&args[0], scope)?)?;
        return eval(if c { &args[1] } else { &args[2] }, scope);
    }
    let v: Vec<Value> = args.iter().map(|a| eval(a, scope)).collect::<Result<_>>()?;
    let one = |min: usize, max: usize| arg_count(name, args, min, max);
    Ok(match n {
        "parameters" => {
            one(1, 1)?;
            scope.parameter(as_str(name, &v[0])?)?
        }
        "field" => {
            one(1, 1)?;
            scope.field(as_str(name, &v[0])?)?
        }
        "current" => {
            one(0, 1)?;
            match v.first() {
                Some(x) => scope.current(Some(as_str(name, x)?))?,
                None => scope.current(None)?,
            }
        }
        "policy" => {
            one(0, 0)?;
            scope.policy()
        }
        "requestcontext" => {
            one(0, 0)?;
            // Offline there is no request; the newest api-version the
            // scanner reads accounts with stands in for it.
            json!({"apiVersion": "2024-10-01"})
        }
        "utcnow" => {
            one(0, 1)?;
            Value::String(scope.now().format(&Rfc3339).map_err(|e| PolicyError(e.to_string()))?)
        }
        "adddays" => {
            one(2, 2)?;
            let t = parse_time(as_str(name, &v[0])?)?;
            let t = t + time::Duration::days(as_int(name, &v[1])?);
            Value::String(t.format(&Rfc3339).map_err(|e| PolicyError(e.to_string()))?)
        }
        "concat" => {
            if v.iter().all(Value::is_array) && !v.is_empty() {
                Value::Array(v.iter().flat_map(|a| a.as_array().into_iter().flatten().cloned()).collect())
            } else {
                Value::String(v.iter().map(string_of).collect())
            }
        }
        "tolower" => {
            one(1, 1)?;
            Value::String(as_str(name, &v[0])?.to_lowercase())
        }
        "toupper" => {
            one(1, 1)?;
            Value::String(as_str(name, &v[0])?.to_uppercase())
        }
        "trim" => {
            one(1, 1)?;
            Value::String(as_str(name, &v[0])?.trim().to_string())
        }
        "string" => {
            one(1, 1)?;
            Value::String(string_of(&v[0]))
        }
        "int" => {
            one(1, 1)?;
            match &v[0] {
                // A float rounds to the nearest integer, halves to even, as .NET converts.
                Value::Number(x) if x.as_i64().is_none() => json!(x.as_f64().unwrap_or(0.0).round_ties_even() as i64),
                other => json!(as_int(name, other)?),
            }
        }
        "float" => {
            one(1, 1)?;
            let f = match &v[0] {
                Value::Number(x) => x.as_f64().unwrap_or(0.0),
                Value::String(s) => {
                    s.trim().parse().map_err(|_| PolicyError(format!("float() expects a number, not '{s}'")))?
                }
                other => fail!("float() expects a number, not {}", short(other)),
            };
            json!(f)
        }
        "bool" => {
            one(1, 1)?;
            Value::Bool(match &v[0] {
                Value::Number(x) => x.as_f64() != Some(0.0),
                other => as_bool(name, other)?,
            })
        }
        "add" | "sub" | "mul" | "div" | "mod" => {
            one(2, 2)?;
            let (a, b) = (as_int(name, &v[0])?, as_int(name, &v[1])?);
            if (n == "div" || n == "mod") && b == 0 {
                fail!("{name}() by zero");
            }
            let r = match n {
                "add" => a.checked_add(b),
                "sub" => a.checked_sub(b),
                "mul" => a.checked_mul(b),
                // .NET integer division and remainder truncate toward zero, as Rust's do.
                "div" => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            json!(r.ok_or_else(|| PolicyError(format!("{name}({a}, {b}) overflows a 64-bit integer")))?)
        }
        "range" => {
            one(2, 2)?;
            let (start, count) = (as_int(name, &v[0])?, as_int(name, &v[1])?);
            if !(0..=10_000).contains(&count) {
                fail!("range() takes a count from 0 to 10000, not {count}");
            }
            Value::Array((0..count).map(|i| json!(start + i)).collect())
        }
        "array" => {
            one(1, 1)?;
            match &v[0] {
                Value::Array(_) => v[0].clone(),
                other => Value::Array(vec![other.clone()]),
            }
        }
        "flatten" => {
            one(1, 1)?;
            let a = v[0].as_array().ok_or_else(|| PolicyError("flatten() expects an array of arrays".into()))?;
            let mut out = Vec::new();
            for x in a {
                match x {
                    Value::Array(inner) => out.extend(inner.iter().cloned()),
                    other => fail!("flatten() expects an array of arrays, not one holding {}", short(other)),
                }
            }
            Value::Array(out)
        }
        "items" => {
            one(1, 1)?;
            let m = v[0].as_object().ok_or_else(|| PolicyError("items() expects an object".into()))?;
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| k.to_lowercase());
            Value::Array(keys.into_iter().map(|k| json!({"key": k, "value": m[k]})).collect())
        }
        "objectkeys" => {
            one(1, 1)?;
            let m = v[0].as_object().ok_or_else(|| PolicyError("objectKeys() expects an object".into()))?;
            Value::Array(m.keys().map(|k| json!(k)).collect())
        }
        "null" => {
            one(0, 0)?;
            Value::Null
        }
        "padleft" => {
            one(2, 3)?;
            let s = match &v[0] {
                Value::String(s) => s.clone(),
                Value::Number(x) => x.to_string(),
                other => fail!("padLeft() expects a string or an integer, not {}", short(other)),
            };
            let width = as_int(name, &v[1])?;
            let pad = match v.get(2) {
                Some(p) => {
                    let p = as_str(name, p)?;
                    let mut chars = p.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => c,
                        _ => fail!("padLeft() pads with one character, not '{p}'"),
                    }
                }
                None => ' ',
            };
            if !(0..=16_384).contains(&width) {
                fail!("padLeft() takes a length from 0 to 16384, not {width}");
            }
            let missing = (width as usize).saturating_sub(s.chars().count());
            Value::String(std::iter::repeat_n(pad, missing).chain(s.chars()).collect())
        }
        "format" => {
            one(1, usize::MAX)?;
            Value::String(crate::functions::format(as_str(name, &v[0])?, &v[1..])?)
        }
        "base64" => {
            one(1, 1)?;
            Value::String(crate::functions::base64_encode(as_str(name, &v[0])?))
        }
        "base64tostring" => {
            one(1, 1)?;
            Value::String(crate::functions::base64_decode(as_str(name, &v[0])?)?)
        }
        "base64tojson" => {
            one(1, 1)?;
            let text = crate::functions::base64_decode(as_str(name, &v[0])?)?;
            serde_json::from_str(&text).map_err(|e| PolicyError(format!("base64ToJson(): {e}")))?
        }
        "datauri" => {
            one(1, 1)?;
            Value::String(crate::functions::data_uri(&string_of(&v[0])))
        }
        "datauritostring" => {
            one(1, 1)?;
            Value::String(crate::functions::data_uri_to_string(as_str(name, &v[0])?)?)
        }
        "uri" => {
            one(2, 2)?;
            Value::String(crate::functions::uri(as_str(name, &v[0])?, as_str(name, &v[1])?)?)
        }
        "uricomponent" => {
            one(1, 1)?;
            Value::String(crate::functions::uri_component(as_str(name, &v[0])?))
        }
        "uricomponenttostring" => {
            one(1, 1)?;
            Value::String(crate::functions::uri_component_to_string(as_str(name, &v[0])?)?)
        }
        "guid" => {
            one(1, usize::MAX)?;
            let parts: Vec<&str> = v.iter().map(|x| as_str(name, x)).collect::<Result<_>>()?;
            Value::String(crate::functions::guid(&parts))
        }
        "uniquestring" => {
            one(1, usize::MAX)?;
            let parts: Vec<&str> = v.iter().map(|x| as_str(name, x)).collect::<Result<_>>()?;
            Value::String(crate::functions::unique_string(&parts))
        }
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "json" => {
            one(1, 1)?;
            serde_json::from_str(as_str(name, &v[0])?).map_err(|e| PolicyError(format!("json(): {e}")))?
        }
        "and" => {
            one(1, usize::MAX)?;
            Value::Bool(v.iter().map(|x| as_bool(name, x)).collect::<Result<Vec<_>>>()?.into_iter().all(|b| b))
        }
        "or" => {
            one(1, usize::MAX)?;
            Value::Bool(v.iter().map(|x| as_bool(name, x)).collect::<Result<Vec<_>>>()?.into_iter().any(|b| b))
        }
        "not" => {
            one(1, 1)?;
            Value::Bool(!as_bool(name, &v[0])?)
        }
        "equals" => {
            one(2, 2)?;
            Value::Bool(crate::compare::equals(&v[0], &v[1]))
        }
        "greater" | "greaterorequals" | "less" | "lessorequals" => {
            one(2, 2)?;
            let ord = crate::compare::order(&v[0], &v[1])?;
            Value::Bool(match n {
                "greater" => ord.is_gt(),
                "greaterorequals" => ord.is_ge(),
                "less" => ord.is_lt(),
                _ => ord.is_le(),
            })
        }
        "contains" => {
            one(2, 2)?;
            // ARM's contains() is case-sensitive, except for object keys.
            Value::Bool(match &v[0] {
                Value::String(s) => s.contains(&string_of(&v[1])),
                Value::Array(a) => a.contains(&v[1]) || a.iter().any(|x| numbers_equal(x, &v[1])),
                Value::Object(m) => get_ci(m, &string_of(&v[1])).is_some(),
                other => fail!("contains() cannot search {}", short(other)),
            })
        }
        "startswith" | "endswith" => {
            one(2, 2)?;
            let (s, p) = (as_str(name, &v[0])?.to_lowercase(), as_str(name, &v[1])?.to_lowercase());
            Value::Bool(if n == "startswith" { s.starts_with(&p) } else { s.ends_with(&p) })
        }
        "indexof" | "lastindexof" if v.first().is_some_and(Value::is_array) => {
            one(2, 2)?;
            let a = v[0].as_array().expect("checked");
            let hit = |x: &Value| x == &v[1] || numbers_equal(x, &v[1]);
            let found = if n == "indexof" { a.iter().position(hit) } else { a.iter().rposition(hit) };
            json!(found.map(|i| i as i64).unwrap_or(-1))
        }
        "indexof" | "lastindexof" => {
            one(2, 2)?;
            let (s, p) = (as_str(name, &v[0])?.to_lowercase(), as_str(name, &v[1])?.to_lowercase());
            let found = if n == "indexof" { s.find(&p) } else { s.rfind(&p) };
            json!(found.map(|i| s[..i].chars().count() as i64).unwrap_or(-1))
        }
        "length" => {
            one(1, 1)?;
            json!(match &v[0] {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                Value::Object(m) => m.len(),
                other => fail!("length() of {}", short(other)),
            })
        }
        "empty" => {
            one(1, 1)?;
            Value::Bool(match &v[0] {
                Value::Null => true,
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                Value::Object(m) => m.is_empty(),
                _ => false,
            })
        }
        "first" | "last" => {
            one(1, 1)?;
            match &v[0] {
                Value::Array(a) => (if n == "first" { a.first() } else { a.last() }).cloned().unwrap_or(Value::Null),
                Value::String(s) => {
                    let c = if n == "first" { s.chars().next() } else { s.chars().last() };
                    Value::String(c.map(String::from).unwrap_or_default())
                }
                other => fail!("{name}() of {}", short(other)),
            }
        }
        "split" => {
            one(2, 2)?;
            let s = as_str(name, &v[0])?;
            let seps: Vec<String> = match &v[1] {
                Value::Array(a) => a.iter().map(string_of).collect(),
                other => vec![string_of(other)],
            };
            let mut parts = vec![s.to_string()];
            for sep in seps.iter().filter(|s| !s.is_empty()) {
                parts =
                    parts.iter().flat_map(|p| p.split(sep.as_str()).map(str::to_string).collect::<Vec<_>>()).collect();
            }
            Value::Array(parts.into_iter().map(Value::String).collect())
        }
        "replace" => {
            one(3, 3)?;
            Value::String(as_str(name, &v[0])?.replace(as_str(name, &v[1])?, as_str(name, &v[2])?))
        }
        "substring" => {
            one(2, 3)?;
            let chars: Vec<char> = as_str(name, &v[0])?.chars().collect();
            let start = as_int(name, &v[1])?;
            let len = match v.get(2) {
                Some(l) => as_int(name, l)?,
                None => chars.len() as i64 - start,
            };
            if start < 0 || len < 0 || (start + len) as usize > chars.len() {
                fail!("substring({start}, {len}) is out of range for a string of {} characters", chars.len());
            }
            Value::String(chars[start as usize..(start + len) as usize].iter().collect())
        }
        "take" | "skip" => {
            one(2, 2)?;
            let k = as_int(name, &v[1])?.max(0) as usize;
            match &v[0] {
                Value::Array(a) => Value::Array(if n == "take" {
                    a.iter().take(k).cloned().collect()
                } else {
                    a.iter().skip(k).cloned().collect()
                }),
                Value::String(s) => {
                    Value::String(if n == "take" { s.chars().take(k).collect() } else { s.chars().skip(k).collect() })
                }
                other => fail!("{name}() of {}", short(other)),
            }
        }
        "createarray" => Value::Array(v),
        "createobject" => {
            if !v.len().is_multiple_of(2) {
                fail!("createObject() takes pairs of arguments");
            }
            let mut m = Map::new();
            for pair in v.chunks(2) {
                m.insert(as_str(name, &pair[0])?.to_string(), pair[1].clone());
            }
            Value::Object(m)
        }
        "union" | "intersection" => set_op(n, &v)?,
        "coalesce" => v.into_iter().find(|x| !x.is_null()).unwrap_or(Value::Null),
        "min" | "max" => {
            let nums: Vec<i64> = match v.as_slice() {
                [Value::Array(a)] => a.iter().map(|x| as_int(name, x)).collect::<Result<_>>()?,
                _ => v.iter().map(|x| as_int(name, x)).collect::<Result<_>>()?,
            };
            let r = if n == "min" { nums.iter().min() } else { nums.iter().max() };
            json!(r.ok_or_else(|| PolicyError(format!("{name}() of nothing")))?)
        }
        "join" => {
            one(2, 2)?;
            let a = v[0].as_array().ok_or_else(|| PolicyError("join() expects an array".into()))?;
            Value::String(a.iter().map(string_of).collect::<Vec<_>>().join(as_str(name, &v[1])?))
        }
        "iprangecontains" => {
            one(2, 2)?;
            Value::Bool(crate::compare::ip_range_contains(as_str(name, &v[0])?, as_str(name, &v[1])?)?)
        }
        "subscription" => {
            let id = string_of(&scope.field("id")?);
            let sub = id.split('/').nth(2).unwrap_or_default().to_string();
            json!({"id": format!("/subscriptions/{sub}"), "subscriptionId": sub})
        }
        "resourcegroup" => {
            let id = string_of(&scope.field("id")?);
            let parts: Vec<&str> = id.split('/').collect();
            match parts.get(3) {
                Some(rg) if rg.eq_ignore_ascii_case("resourceGroups") => {
                    let name = parts.get(4).copied().unwrap_or_default();
                    json!({"id": parts[..5.min(parts.len())].join("/"), "name": name})
                }
                _ => fail!("resourceGroup() of a resource outside any resource group"),
            }
        }
        _ if crate::functions::EXCLUDED.contains(&n) => {
            fail!("the template function {name}() is not available in policy rules")
        }
        _ => fail!("{name}() is not an ARM template function"),
    })
}

/// Numbers compare by value (`1` and `1.0` are one), everything else exactly.
fn numbers_equal(a: &Value, b: &Value) -> bool {
    matches!((a, b), (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64())
}

fn set_op(n: &str, v: &[Value]) -> Result<Value> {
    match v.first() {
        Some(Value::Array(_)) => {
            let arrays: Vec<&Vec<Value>> = v
                .iter()
                .map(|x| x.as_array().ok_or_else(|| PolicyError(format!("{n}() mixes arrays and others"))))
                .collect::<Result<_>>()?;
            let mut out: Vec<Value> = Vec::new();
            if n == "union" {
                for x in arrays.iter().flat_map(|a| a.iter()) {
                    if !out.contains(x) {
                        out.push(x.clone());
                    }
                }
            } else {
                for x in arrays[0] {
                    if arrays[1..].iter().all(|a| a.contains(x)) && !out.contains(x) {
                        out.push(x.clone());
                    }
                }
            }
            Ok(Value::Array(out))
        }
        Some(Value::Object(_)) => {
            let mut out = Map::new();
            for (i, o) in v.iter().enumerate() {
                let m = o.as_object().ok_or_else(|| PolicyError(format!("{n}() mixes objects and others")))?;
                for (k, x) in m {
                    if n == "union" || (i == 0 && v[1..].iter().all(|o| o.get(k) == Some(x))) {
                        out.insert(k.clone(), x.clone());
                    }
                }
            }
            Ok(Value::Object(out))
        }
        _ => fail!("{n}() takes arrays or objects"),
    }
}

/// Parses a timestamp as ARM writes them (RFC 3339, or a bare date).
pub fn parse_time(s: &str) -> Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &date_only)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| PolicyError(format!("'{s}' is not a date-time")))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Scope for Fixed {
        fn parameter(&self, name: &str) -> Result<Value> {
            match name {
                "effect" => Ok(json!("Audit")),
                "list" => Ok(json!(["a", "b"])),
                _ => fail!("no parameter {name}"),
            }
        }
        fn field(&self, path: &str) -> Result<Value> {
            Ok(match path {
                "id" => json!("/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.CognitiveServices/accounts/a"),
                "name" => json!("a"),
                _ => json!(""),
            })
        }
        fn current(&self, _: Option<&str>) -> Result<Value> {
            Ok(json!("cur"))
        }
        fn now(&self) -> OffsetDateTime {
            time::macros::datetime!(2026-11-21 12:00 UTC)
        }
        fn policy(&self) -> Value {
            json!({"assignmentId": "/a"})
        }
    }

    fn run(s: &str) -> Result<Value> {
        resolve(&json!(s), &Fixed)
    }

    #[test]
    fn literals_and_escapes_stay_literal() {
        assert_eq!(run("plain").unwrap(), json!("plain"));
        assert_eq!(run("[[not an expression]").unwrap(), json!("[not an expression]"));
        assert_eq!(run("['it''s']").unwrap(), json!("it's"));
    }

    #[test]
    fn functions_compose_and_ignore_case() {
        assert_eq!(run("[parameters('effect')]").unwrap(), json!("Audit"));
        assert_eq!(run("[toLower(concat(parameters('effect'), '-', field('name')))]").unwrap(), json!("audit-a"));
        assert_eq!(run("[CONCAT(parameters('list'), createArray('c'))]").unwrap(), json!(["a", "b", "c"]));
        assert_eq!(run("[if(equals(parameters('effect'), 'AUDIT'), 'yes', 'no')]").unwrap(), json!("yes"));
        assert_eq!(run("[length(split('a/b/c', '/'))]").unwrap(), json!(3));
        assert_eq!(run("[last(split(field('id'), '/'))]").unwrap(), json!("a"));
        assert_eq!(run("[substring('abcdef', 1, 3)]").unwrap(), json!("bcd"));
        assert_eq!(run("[replace('a-b', '-', '+')]").unwrap(), json!("a+b"));
        assert_eq!(run("[empty('')]").unwrap(), json!(true));
        assert_eq!(run("[first(parameters('list'))]").unwrap(), json!("a"));
        assert_eq!(run("[and(true(), not(false()))]").unwrap(), json!(true));
        assert_eq!(run("[or(false, contains(parameters('list'), 'b'))]").unwrap(), json!(true));
        assert_eq!(
            run("[contains(parameters('list'), 'B')]").unwrap(),
            json!(false),
            "ARM's contains() is case-sensitive"
        );
        assert_eq!(run("[resourceGroup().name]").unwrap(), json!("rg1"));
        assert_eq!(run("[subscription().subscriptionId]").unwrap(), json!("s1"));
        assert_eq!(run("[policy().assignmentId]").unwrap(), json!("/a"));
        assert_eq!(run("[current()]").unwrap(), json!("cur"));
        assert_eq!(run("[requestContext().apiVersion]").unwrap(), json!("2024-10-01"));
    }

    #[test]
    fn dates_come_from_the_injected_clock() {
        assert_eq!(run("[utcNow()]").unwrap(), json!("2026-11-21T12:00:00Z"));
        assert_eq!(run("[addDays(utcNow(), -30)]").unwrap(), json!("2026-10-22T12:00:00Z"));
        assert_eq!(run("[less(addDays('2026-01-01', 1), '2026-01-03')]").unwrap(), json!(true));
    }

    #[test]
    fn ip_ranges_contain_addresses_and_smaller_ranges() {
        assert_eq!(run("[ipRangeContains('10.0.0.0/24', '10.0.0.7')]").unwrap(), json!(true));
        assert_eq!(run("[ipRangeContains('10.0.0.0/24', '10.0.1.7')]").unwrap(), json!(false));
        assert_eq!(run("[ipRangeContains('10.0.0.0/16', '10.0.3.0/24')]").unwrap(), json!(true));
        assert!(run("[ipRangeContains('10.0.0.0/16', 'fe80::1')]").is_err());
    }

    #[test]
    fn mistakes_are_errors_that_name_what_went_wrong() {
        let e = run("[parameters('missing')]").unwrap_err();
        assert!(e.0.contains("missing"), "{e}");
        assert!(run("[reference('x')]").unwrap_err().0.contains("not available in policy rules"));
        assert!(run("[dateTimeAdd(utcNow(), 'P1D')]").unwrap_err().0.contains("not available in policy rules"));
        assert!(run("[noSuchFunction()]").unwrap_err().0.contains("not an ARM template function"));
        assert!(run("[concat('a']").is_err());
        assert_eq!(run("[concat('a'").unwrap(), json!("[concat('a'"), "no closing bracket: a literal");
        assert!(run("[substring('ab', 1, 5)]").is_err());
        assert!(run("[first(parameters('list'))[9]]").is_err());
        // `if` evaluates only the branch it takes.
        assert_eq!(run("[if(true, 'ok', parameters('missing'))]").unwrap(), json!("ok"));
    }
}
