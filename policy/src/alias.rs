//! Aliases: the names policy rules give resource properties, and the
//! document paths they stand for.
//!
//! Azure publishes each alias with its path per api-version. Attest ships
//! Azure's own catalog (`aliases/catalog.json`: each alias's default path as
//! `Get-AzPolicyAlias` reports it, for the resource types Attest collects
//! and those the built-ins over them read; its source is recorded in the
//! file). An alias of a type in that catalog that the catalog does not hold
//! is invalid, which makes a definition not applicable, as in Azure. An
//! alias of a type outside the catalog (the Cognitive Services data plane,
//! or a provider Attest does not collect) follows the rule every listed one
//! shares: `sku.*`, `identity.*`, `kind` and the like at the top of the
//! document, everything else under `properties`.

use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{OnceLock, RwLock};

/// An alias split into the resource type it belongs to and its path.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    /// Lower-case resource type, e.g. `microsoft.cognitiveservices/accounts`.
    pub resource_type: String,
    /// Dotted document path, with `[*]` for every element of an array.
    pub path: String,
}

/// What a name that looks like an alias turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Listed in Azure's catalog.
    Listed(Alias),
    /// Of a type outside the catalog: its path by the naming rule.
    Unlisted(Alias),
    /// Of a type in the catalog, which does not list it.
    Invalid { resource_type: String },
}

impl Lookup {
    pub fn alias(self) -> Option<Alias> {
        match self {
            Lookup::Listed(a) | Lookup::Unlisted(a) => Some(a),
            Lookup::Invalid { .. } => None,
        }
    }
}

#[derive(Deserialize)]
struct CatalogFile {
    types: Vec<String>,
    aliases: HashMap<String, String>,
}

struct Catalog {
    types: HashSet<String>,
    /// Lower-case alias → default path.
    paths: HashMap<String, String>,
}

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let file: CatalogFile =
            serde_json::from_str(include_str!("../aliases/catalog.json")).expect("aliases/catalog.json is valid");
        Catalog { types: file.types.into_iter().map(|t| t.to_ascii_lowercase()).collect(), paths: file.aliases }
    })
}

/// Aliases a scan read from Azure (the providers API), over the shipped
/// catalog: the catalog a deployment's scans see is Azure's as of the newest
/// scan, not as of this build. Learned types replace their shipped aliases.
fn learned() -> &'static RwLock<Catalog> {
    static LEARNED: OnceLock<RwLock<Catalog>> = OnceLock::new();
    LEARNED.get_or_init(|| RwLock::new(Catalog { types: HashSet::new(), paths: HashMap::new() }))
}

/// Whether Azure's catalog (shipped, or read by a scan) covers `resource_type`.
pub fn catalogued(resource_type: &str) -> bool {
    let t = resource_type.to_ascii_lowercase();
    catalog().types.contains(&t) || learned().read().is_ok_and(|l| l.types.contains(&t))
}

/// The aliases of a resource provider document as ARM returns it with
/// `$expand=resourceTypes/aliases`: (resource type, alias, default path),
/// all lower-case but the path. An alias without a default path takes its
/// first listed path, as Azure falls back to.
pub fn from_provider(doc: &Value) -> Vec<(String, String, String)> {
    let namespace = doc.get("namespace").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    for rt in doc.get("resourceTypes").and_then(Value::as_array).into_iter().flatten() {
        let Some(ty) = rt.get("resourceType").and_then(Value::as_str) else { continue };
        let full = format!("{namespace}/{ty}").to_ascii_lowercase();
        for a in rt.get("aliases").and_then(Value::as_array).into_iter().flatten() {
            let Some(name) = a.get("name").and_then(Value::as_str) else { continue };
            let path = a
                .get("defaultPath")
                .and_then(Value::as_str)
                .or_else(|| a.pointer("/paths/0/path").and_then(Value::as_str));
            if let Some(path) = path {
                out.push((full.clone(), name.to_ascii_lowercase(), path.to_string()));
            }
        }
    }
    out
}

/// Takes in what a scan read from Azure: every listed type's aliases, which
/// from now on are the whole of that type's catalog. Returns how many
/// aliases are known that the shipped catalog lacks or maps elsewhere.
pub fn learn(entries: &[(String, String, String)]) -> usize {
    let Ok(mut l) = learned().write() else { return 0 };
    let shipped = catalog();
    let mut new = 0;
    for (ty, name, path) in entries {
        l.types.insert(ty.clone());
        if shipped.paths.get(name) != Some(path) {
            new += 1;
        }
        l.paths.insert(name.clone(), path.clone());
    }
    new
}

/// The shipped catalog as resource provider documents, in the shape the
/// providers API answers with `$expand=resourceTypes/aliases` (what the
/// fake ARM serves), one per namespace.
pub fn as_providers() -> Vec<Value> {
    let cat = catalog();
    let mut by_ns: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    let mut names: Vec<(&String, &String)> = cat.paths.iter().collect();
    names.sort();
    for (alias, path) in names {
        let Some((ty, _)) = alias.rsplit_once('/') else { continue };
        let Some((ns, rest)) = ty.split_once('/') else { continue };
        if !cat.types.contains(ty) {
            continue;
        }
        by_ns.entry(ns.to_string()).or_default().entry(rest.to_string()).or_default().push(json!({
            "name": alias,
            "paths": [{"path": path, "apiVersions": []}],
            "type": "NotSpecified",
            "defaultPath": path,
        }));
    }
    by_ns
        .into_iter()
        .map(|(ns, types)| {
            json!({
                "id": format!("/providers/{ns}"),
                "namespace": ns,
                "registrationState": "Registered",
                "resourceTypes": types.into_iter().map(|(t, aliases)| json!({"resourceType": t, "aliases": aliases})).collect::<Vec<_>>(),
            })
        })
        .collect()
}

/// Looks `alias` up, or `None` when it has no `Namespace/type/property` form.
pub fn lookup(alias: &str) -> Option<Lookup> {
    let lower = alias.to_ascii_lowercase();
    let (resource_type, property) = lower.rsplit_once('/')?;
    if !resource_type.contains('/') || property.is_empty() {
        return None;
    }
    let resource_type = resource_type.to_string();
    if let Ok(l) = learned().read() {
        if let Some(path) = l.paths.get(&lower) {
            return Some(Lookup::Listed(Alias { resource_type, path: path.clone() }));
        }
        if l.types.contains(&resource_type) {
            return Some(Lookup::Invalid { resource_type });
        }
    }
    let cat = catalog();
    if let Some(path) = cat.paths.get(&lower) {
        return Some(Lookup::Listed(Alias { resource_type, path: path.clone() }));
    }
    if cat.types.contains(&resource_type) {
        return Some(Lookup::Invalid { resource_type });
    }
    // Keep the alias's own spelling for the document path: ARM property
    // names are matched without regard to case, but evidence reads better.
    let property = &alias[alias.len() - property.len()..];
    let top_level = ["sku", "identity", "kind", "plan", "zones", "extendedLocation"];
    let head = property.split(['.', '[']).next().unwrap_or_default();
    let path = if top_level.iter().any(|t| t.eq_ignore_ascii_case(head)) {
        property.to_string()
    } else {
        format!("properties.{property}")
    };
    Some(Lookup::Unlisted(Alias { resource_type, path }))
}

/// Resolves `alias` to its path, or `None` when it is no alias or an invalid one.
pub fn resolve(alias: &str) -> Option<Alias> {
    lookup(alias).and_then(Lookup::alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_aliases_resolve_to_their_paths() {
        let a = resolve("Microsoft.CognitiveServices/accounts/networkAcls.defaultAction").unwrap();
        assert_eq!(a.resource_type, "microsoft.cognitiveservices/accounts");
        assert_eq!(a.path, "properties.networkAcls.defaultAction");
        assert_eq!(resolve("Microsoft.CognitiveServices/accounts/deployments/sku.name").unwrap().path, "sku.name");
        assert_eq!(
            resolve("Microsoft.CognitiveServices/accounts/privateEndpointConnections[*].privateLinkServiceConnectionState.status")
                .unwrap()
                .path,
            "properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status"
        );
    }

    #[test]
    fn other_aliases_follow_the_naming_rule() {
        let a =
            resolve("Microsoft.CognitiveServices.Data/accounts/deployments/raiPolicy.contentFilters[*].name").unwrap();
        assert_eq!(a.resource_type, "microsoft.cognitiveservices.data/accounts/deployments");
        assert_eq!(a.path, "properties.raiPolicy.contentFilters[*].name");
        assert_eq!(resolve("Microsoft.Search/searchServices/sku.name").unwrap().path, "sku.name");
        assert_eq!(
            resolve("microsoft.insights/diagnosticSettings/logs[*].categoryGroup").unwrap().path,
            "properties.logs[*].categoryGroup"
        );
    }

    #[test]
    fn the_catalog_is_azures_and_knows_what_it_lacks() {
        // Legacy aliases without `[*]` read every element, as Azure lists them.
        assert_eq!(
            resolve("Microsoft.Insights/diagnosticSettings/logs.enabled").unwrap().path,
            "properties.logs[*].enabled"
        );
        assert_eq!(
            resolve("Microsoft.Network/privateEndpoints/privateLinkServiceConnections[*].privateLinkServiceId")
                .unwrap()
                .path,
            "properties.privateLinkServiceConnections[*].properties.privateLinkServiceId"
        );
        assert!(catalogued("Microsoft.CognitiveServices/accounts"));
        assert_eq!(
            lookup("Microsoft.CognitiveServices/accounts/noSuchProperty"),
            Some(Lookup::Invalid { resource_type: "microsoft.cognitiveservices/accounts".into() })
        );
        assert!(matches!(
            lookup("Microsoft.CognitiveServices.Data/accounts/deployments/raiPolicy.mode"),
            Some(Lookup::Unlisted(_))
        ));
    }

    #[test]
    fn a_scan_teaches_the_catalog_what_azure_lists_now() {
        // A type the shipped catalog lacks, as the providers API lists it.
        let doc = serde_json::json!({
            "namespace": "Microsoft.Example",
            "resourceTypes": [{"resourceType": "widgets", "aliases": [
                {"name": "Microsoft.Example/widgets/colour", "paths": [{"path": "properties.paint.colour", "apiVersions": ["2026-01-01"]}]},
                {"name": "Microsoft.Example/widgets/size", "defaultPath": "properties.size", "paths": []}
            ]}]
        });
        let entries = from_provider(&doc);
        assert_eq!(entries.len(), 2);
        assert_eq!(learn(&entries), 2);
        assert_eq!(resolve("Microsoft.Example/widgets/colour").unwrap().path, "properties.paint.colour");
        assert!(catalogued("microsoft.example/widgets"));
        assert_eq!(
            lookup("Microsoft.Example/widgets/weight"),
            Some(Lookup::Invalid { resource_type: "microsoft.example/widgets".into() })
        );
        // The shipped catalog round-trips through the providers shape.
        let providers = as_providers();
        let all: Vec<_> = providers.iter().flat_map(from_provider).collect();
        assert!(all.iter().any(|(t, a, p)| t == "microsoft.cognitiveservices/accounts"
            && a == "microsoft.cognitiveservices/accounts/disablelocalauth"
            && p == "properties.disableLocalAuth"));
    }

    #[test]
    fn names_that_are_not_aliases_do_not_resolve() {
        assert_eq!(resolve("location"), None);
        assert_eq!(resolve("identity.type"), None);
        assert_eq!(resolve("Microsoft.CognitiveServices/"), None);
    }
}
