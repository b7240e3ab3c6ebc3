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
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

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

/// Whether Azure's catalog, as shipped, covers `resource_type`.
pub fn catalogued(resource_type: &str) -> bool {
    catalog().types.contains(&resource_type.to_ascii_lowercase())
}

/// Looks `alias` up, or `None` when it has no `Namespace/type/property` form.
pub fn lookup(alias: &str) -> Option<Lookup> {
    let lower = alias.to_ascii_lowercase();
    let (resource_type, property) = lower.rsplit_once('/')?;
    if !resource_type.contains('/') || property.is_empty() {
        return None;
    }
    let resource_type = resource_type.to_string();
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
    fn names_that_are_not_aliases_do_not_resolve() {
        assert_eq!(resolve("location"), None);
        assert_eq!(resolve("identity.type"), None);
        assert_eq!(resolve("Microsoft.CognitiveServices/"), None);
    }
}
