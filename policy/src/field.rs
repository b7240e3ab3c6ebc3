//! `field` operands: the built-in fields (`type`, `name`, `tags['x']`, …) and
//! aliases, resolved against an ARM document.

use crate::alias::{self, Lookup};
use crate::compare::normalize_location;
use crate::error::{PolicyError, Result};
use crate::template::get_ci;
use serde_json::{json, Value};

/// One step of a document path.
#[derive(Debug, Clone, PartialEq)]
pub enum Seg {
    Key(String),
    Index(usize),
    /// `[*]`: every element of an array.
    All,
}

/// A parsed `field` operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    Type,
    Name,
    FullName,
    Kind,
    Location,
    Id,
    Tags,
    Tag(String),
    /// A document path: an alias, or `identity.type`.
    Path {
        /// The lower-case resource type the alias belongs to; `None` for
        /// paths every resource has.
        resource_type: Option<String>,
        path: String,
        segs: Vec<Seg>,
    },
}

/// A field's value: one value (`Null` when missing), or every element an
/// `[*]` path selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    One(Value),
    Many(Vec<Value>),
}

impl Resolved {
    pub fn into_value(self) -> Value {
        match self {
            Resolved::One(v) => v,
            Resolved::Many(v) => Value::Array(v),
        }
    }
}

impl Field {
    pub fn parse(s: &str) -> Result<Field> {
        let lower = s.to_ascii_lowercase();
        Ok(match lower.as_str() {
            "type" => Field::Type,
            "name" => Field::Name,
            "fullname" => Field::FullName,
            "kind" => Field::Kind,
            "location" => Field::Location,
            "id" => Field::Id,
            "tags" => Field::Tags,
            // Paths every resource with a managed identity has, not aliases of one type.
            "identity.type" | "identity.userassignedidentities" | "identity.principalid" | "identity.tenantid" => {
                Field::Path { resource_type: None, path: s.to_string(), segs: parse_path(s)? }
            }
            _ if lower.starts_with("tags[") && s.ends_with(']') => Field::Tag(unquote_tag(&s[5..s.len() - 1])),
            _ if lower.starts_with("tags.") => Field::Tag(s[5..].to_string()),
            _ => match alias::lookup(s) {
                Some(Lookup::Listed(a) | Lookup::Unlisted(a)) => {
                    Field::Path { segs: parse_path(&a.path)?, resource_type: Some(a.resource_type), path: a.path }
                }
                Some(Lookup::Invalid { resource_type }) => {
                    return Err(PolicyError(format!("'{s}' is not an alias Azure defines for {resource_type}")))
                }
                None => return Err(PolicyError(format!("'{s}' is neither a field nor an alias"))),
            },
        })
    }

    /// The document path this field reads, for evidence.
    pub fn path(&self) -> String {
        match self {
            Field::Type => "type".into(),
            Field::Name => "name".into(),
            Field::FullName => "fullName".into(),
            Field::Kind => "kind".into(),
            Field::Location => "location".into(),
            Field::Id => "id".into(),
            Field::Tags => "tags".into(),
            Field::Tag(t) => format!("tags['{t}']"),
            Field::Path { path, .. } => path.clone(),
        }
    }

    /// The segments up to and including the last `[*]`: what a `count`
    /// over this field visits, one inner member at a time for `a[*].b[*]`.
    pub fn array_prefix(&self) -> Option<Vec<Seg>> {
        match self {
            Field::Path { segs, .. } => {
                let i = segs.iter().rposition(|s| *s == Seg::All)?;
                Some(segs[..=i].to_vec())
            }
            _ => None,
        }
    }

    /// Reads this field from `doc`.
    pub fn resolve(&self, doc: &Value) -> Resolved {
        let s = |k: &str| doc.get(k).cloned().unwrap_or(Value::Null);
        Resolved::One(match self {
            Field::Type => s("type"),
            Field::Name => s("name"),
            Field::FullName => full_name(doc),
            Field::Kind => s("kind"),
            Field::Location => match doc.get("location").and_then(Value::as_str) {
                Some(l) => Value::String(normalize_location(l)),
                None => json!("global"),
            },
            Field::Id => s("id"),
            Field::Tags => s("tags"),
            Field::Tag(t) => {
                doc.get("tags").and_then(Value::as_object).and_then(|m| get_ci(m, t)).cloned().unwrap_or(Value::Null)
            }
            Field::Path { resource_type, segs, .. } => {
                let applies = resource_type.as_ref().is_none_or(|t| {
                    doc.get("type").and_then(Value::as_str).is_some_and(|dt| dt.eq_ignore_ascii_case(t))
                });
                let many = segs.contains(&Seg::All);
                if !applies {
                    return if many { Resolved::Many(vec![]) } else { Resolved::One(Value::Null) };
                }
                return walk(doc, segs);
            }
        })
    }
}

/// Follows `segs` from `doc`. A missing array yields no elements; a missing
/// property under an element yields `Null` for that element.
pub fn walk(doc: &Value, segs: &[Seg]) -> Resolved {
    if !segs.contains(&Seg::All) {
        let mut cur = doc;
        for s in segs {
            let next = match (s, cur) {
                (Seg::Key(k), Value::Object(m)) => get_ci(m, k),
                (Seg::Index(i), Value::Array(a)) => a.get(*i),
                _ => None,
            };
            match next {
                Some(v) => cur = v,
                None => return Resolved::One(Value::Null),
            }
        }
        return Resolved::One(cur.clone());
    }
    let mut out = Vec::new();
    collect(doc, segs, &mut out, true);
    Resolved::Many(out)
}

fn collect(cur: &Value, segs: &[Seg], out: &mut Vec<Value>, top: bool) {
    let Some((first, rest)) = segs.split_first() else {
        out.push(cur.clone());
        return;
    };
    // Below an element, a missing property is that element's null; but a
    // missing nested array has no members, so it adds nothing.
    let missing = !top && !rest.contains(&Seg::All) && *first != Seg::All;
    match (first, cur) {
        (Seg::All, Value::Array(a)) => a.iter().for_each(|e| collect(e, rest, out, false)),
        (Seg::All, _) => {}
        (Seg::Key(k), Value::Object(m)) => match get_ci(m, k) {
            Some(v) => collect(v, rest, out, top),
            None if missing => out.push(Value::Null),
            None => {}
        },
        (Seg::Index(i), Value::Array(a)) => match a.get(*i) {
            Some(v) => collect(v, rest, out, top),
            None if missing => out.push(Value::Null),
            None => {}
        },
        _ if missing => out.push(Value::Null),
        _ => {}
    }
}

/// Parses `properties.logs[*].retentionPolicy.days`.
pub fn parse_path(p: &str) -> Result<Vec<Seg>> {
    let mut segs = Vec::new();
    for part in p.split('.') {
        let (key, mut brackets) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            segs.push(Seg::Key(key.to_string()));
        }
        while let Some(rest) = brackets.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| PolicyError(format!("unclosed '[' in '{p}'")))?;
            let inner = &rest[..end];
            segs.push(if inner == "*" {
                Seg::All
            } else {
                Seg::Index(inner.parse().map_err(|_| PolicyError(format!("bad index '[{inner}]' in '{p}'")))?)
            });
            brackets = &rest[end + 1..];
        }
        if !brackets.is_empty() || (key.is_empty() && segs.is_empty()) {
            return Err(PolicyError(format!("cannot read the path '{p}'")));
        }
    }
    Ok(segs)
}

/// `tags['x']`, `tags['''x''']` (a name holding quotes) and `tags[x]`.
fn unquote_tag(inner: &str) -> String {
    match inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(q) => q.replace("''", "'"),
        None => inner.to_string(),
    }
}

/// `fullName`: the names of the resource and its parents, `account/deployment`.
fn full_name(doc: &Value) -> Value {
    let Some(id) = doc.get("id").and_then(Value::as_str) else {
        return doc.get("name").cloned().unwrap_or(Value::Null);
    };
    let tail = match id.to_ascii_lowercase().rfind("/providers/") {
        Some(i) => &id[i + "/providers/".len()..],
        None => return doc.get("name").cloned().unwrap_or(Value::Null),
    };
    // Namespace, then type/name pairs: keep the names.
    let names: Vec<&str> = tail.split('/').skip(1).skip(1).step_by(2).collect();
    Value::String(names.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Value {
        json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct/deployments/gpt",
            "name": "gpt", "type": "Microsoft.CognitiveServices/accounts", "location": "East US 2",
            "tags": {"Data-Classification": "restricted", "it's": "q"},
            "properties": {"networkAcls": {"defaultAction": "Allow", "ipRules": [{"value": "1.2.3.4"}, {}]},
                           "privateEndpointConnections": []}
        })
    }

    #[test]
    fn built_in_fields_read_the_document() {
        let d = account();
        assert_eq!(Field::parse("location").unwrap().resolve(&d), Resolved::One(json!("eastus2")));
        assert_eq!(
            Field::parse("tags['data-classification']").unwrap().resolve(&d),
            Resolved::One(json!("restricted"))
        );
        assert_eq!(Field::parse("tags['it''s']").unwrap().resolve(&d), Resolved::One(json!("q")));
        assert_eq!(Field::parse("tags.missing").unwrap().resolve(&d), Resolved::One(Value::Null));
        assert_eq!(Field::parse("fullName").unwrap().resolve(&d), Resolved::One(json!("acct/gpt")));
        assert_eq!(Field::parse("location").unwrap().resolve(&json!({})), Resolved::One(json!("global")));
    }

    #[test]
    fn star_paths_select_every_element_and_missing_arrays_select_none() {
        let d = account();
        let ips = Field::parse("Microsoft.CognitiveServices/accounts/networkAcls.ipRules[*].value").unwrap();
        assert_eq!(ips.resolve(&d), Resolved::Many(vec![json!("1.2.3.4"), Value::Null]));
        let pecs = Field::parse("Microsoft.CognitiveServices/accounts/privateEndpointConnections[*]").unwrap();
        assert_eq!(pecs.resolve(&d), Resolved::Many(vec![]));
        let storage = Field::parse("Microsoft.CognitiveServices/accounts/userOwnedStorage[*]").unwrap();
        assert_eq!(storage.resolve(&d), Resolved::Many(vec![]));
    }

    #[test]
    fn an_alias_of_another_type_reads_nothing() {
        let search = Field::parse("Microsoft.Search/searchServices/publicNetworkAccess").unwrap();
        let mut d = account();
        d["properties"]["publicNetworkAccess"] = json!("Enabled");
        assert_eq!(search.resolve(&d), Resolved::One(Value::Null));
    }

    #[test]
    fn unknown_fields_and_bad_paths_are_errors() {
        assert!(Field::parse("properties").is_err());
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a[1").is_err());
        assert_eq!(parse_path("a[0].b").unwrap(), vec![Seg::Key("a".into()), Seg::Index(0), Seg::Key("b".into())]);
    }
}
