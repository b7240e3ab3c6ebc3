//! What changed in a resource between two snapshots: every property whose
//! value differs, by its JSON path, with the old and the new value.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed property. A value absent on one side is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyChange {
    /// e.g. `properties.networkAcls.defaultAction` or `properties.contentFilters[2].severityThreshold`.
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The changed properties of `before` → `after`, ordered by path (object keys
/// sort alphabetically); objects are compared key by key and arrays element
/// by element.
pub fn changes(before: &Value, after: &Value) -> Vec<PropertyChange> {
    let mut out = Vec::new();
    walk("", Some(before), Some(after), &mut out);
    out
}

fn walk(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<PropertyChange>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                walk(&p, x.get(k), y.get(k), out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk(&format!("{path}[{i}]"), x.get(i), y.get(i), out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(PropertyChange { path: path.to_string(), before: a.map(render), after: b.map(render) }),
    }
}

fn render(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changed_added_and_removed_properties_are_named_by_path() {
        let before = json!({"properties": {"publicNetworkAccess": "Enabled", "disableLocalAuth": false,
                            "filters": [{"t": "Low"}, {"t": "Medium"}]}, "tags": {"team": "a"}});
        let after = json!({"properties": {"publicNetworkAccess": "Disabled",
                           "filters": [{"t": "Low"}, {"t": "High"}, {"t": "Low"}]}, "tags": {"team": "a", "env": "prod"}});
        let c = changes(&before, &after);
        let paths: Vec<&str> = c.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "properties.disableLocalAuth",
                "properties.filters[1].t",
                "properties.filters[2]",
                "properties.publicNetworkAccess",
                "tags.env"
            ]
        );
        assert_eq!(c[3].before.as_deref(), Some("Enabled"));
        assert_eq!(c[3].after.as_deref(), Some("Disabled"));
        assert_eq!(c[0].after, None, "removed");
        assert_eq!(c[2].before, None, "added");
        assert_eq!(c[2].after.as_deref(), Some(r#"{"t":"Low"}"#));
    }

    #[test]
    fn equal_documents_have_no_changes_and_a_type_change_is_one() {
        let doc = json!({"a": [1, {"b": null}]});
        assert!(changes(&doc, &doc).is_empty());
        let c = changes(&json!({"a": {"b": 1}}), &json!({"a": [1]}));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, "a");
    }
}
