//! Aliases: the names policy rules give resource properties, and the
//! document paths they stand for.
//!
//! Azure publishes each alias with its path per api-version. The ones the
//! Cognitive Services built-ins and Attest's catalogue use are listed here;
//! any other alias of the form `Namespace/type[/child]/property` follows the
//! rule these share (`sku.*`, `identity.*` and `kind` at the top of the
//! document, everything else under `properties`).

/// An alias split into the resource type it belongs to and its path.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    /// Lower-case resource type, e.g. `microsoft.cognitiveservices/accounts`.
    pub resource_type: String,
    /// Dotted document path, with `[*]` for every element of an array.
    pub path: String,
}

/// Aliases whose path is not simply `properties.<name>`.
const TABLE: &[(&str, &str)] = &[
    ("microsoft.cognitiveservices/accounts/sku.name", "sku.name"),
    ("microsoft.cognitiveservices/accounts/sku.tier", "sku.tier"),
    ("microsoft.cognitiveservices/accounts/identity.type", "identity.type"),
    ("microsoft.cognitiveservices/accounts/deployments/sku.name", "sku.name"),
    ("microsoft.cognitiveservices/accounts/deployments/sku.capacity", "sku.capacity"),
    ("microsoft.cognitiveservices/accounts/deployments/raipolicyname", "properties.raiPolicyName"),
    ("microsoft.cognitiveservices/accounts/deployments/model.name", "properties.model.name"),
    ("microsoft.cognitiveservices/accounts/deployments/model.version", "properties.model.version"),
    ("microsoft.cognitiveservices/accounts/deployments/model.format", "properties.model.format"),
    ("microsoft.cognitiveservices/accounts/publicnetworkaccess", "properties.publicNetworkAccess"),
    ("microsoft.cognitiveservices/accounts/disablelocalauth", "properties.disableLocalAuth"),
    ("microsoft.cognitiveservices/accounts/networkacls.defaultaction", "properties.networkAcls.defaultAction"),
    ("microsoft.cognitiveservices/accounts/networkacls.iprules[*].value", "properties.networkAcls.ipRules[*].value"),
    (
        "microsoft.cognitiveservices/accounts/networkacls.virtualnetworkrules[*].id",
        "properties.networkAcls.virtualNetworkRules[*].id",
    ),
    ("microsoft.cognitiveservices/accounts/restrictoutboundnetworkaccess", "properties.restrictOutboundNetworkAccess"),
    ("microsoft.cognitiveservices/accounts/allowedfqdnlist[*]", "properties.allowedFqdnList[*]"),
    ("microsoft.cognitiveservices/accounts/customsubdomainname", "properties.customSubDomainName"),
    ("microsoft.cognitiveservices/accounts/encryption", "properties.encryption"),
    ("microsoft.cognitiveservices/accounts/encryption.keysource", "properties.encryption.keySource"),
    ("microsoft.cognitiveservices/accounts/userownedstorage[*]", "properties.userOwnedStorage[*]"),
    ("microsoft.cognitiveservices/accounts/privateendpointconnections[*]", "properties.privateEndpointConnections[*]"),
    (
        "microsoft.cognitiveservices/accounts/privateendpointconnections[*].privatelinkserviceconnectionstate.status",
        "properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status",
    ),
    (
        "microsoft.cognitiveservices/accounts/privateendpointconnections/privatelinkserviceconnectionstate.status",
        "properties.privateLinkServiceConnectionState.status",
    ),
    ("microsoft.cognitiveservices/accounts/raipolicies/contentfilters[*]", "properties.contentFilters[*]"),
    ("microsoft.insights/diagnosticsettings/logs[*]", "properties.logs[*]"),
    ("microsoft.insights/diagnosticsettings/workspaceid", "properties.workspaceId"),
    ("microsoft.authorization/roleassignments/roledefinitionid", "properties.roleDefinitionId"),
    ("microsoft.authorization/roleassignments/principaltype", "properties.principalType"),
    (
        "microsoft.search/searchservices/privateendpointconnections[*].privatelinkserviceconnectionstate.status",
        "properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status",
    ),
    (
        "microsoft.network/privateendpoints/privatelinkserviceconnections[*]",
        "properties.privateLinkServiceConnections[*]",
    ),
    (
        "microsoft.network/privateendpoints/privatelinkserviceconnections[*].privatelinkserviceid",
        "properties.privateLinkServiceConnections[*].properties.privateLinkServiceId",
    ),
    (
        "microsoft.network/privateendpoints/privatelinkserviceconnections[*].groupids[*]",
        "properties.privateLinkServiceConnections[*].properties.groupIds[*]",
    ),
];

/// Resolves `alias`, or `None` when it has no `Namespace/type/property` form.
pub fn resolve(alias: &str) -> Option<Alias> {
    let lower = alias.to_ascii_lowercase();
    let (resource_type, property) = lower.rsplit_once('/')?;
    if !resource_type.contains('/') || property.is_empty() {
        return None;
    }
    let resource_type = resource_type.to_string();
    if let Some((_, path)) = TABLE.iter().find(|(a, _)| *a == lower) {
        return Some(Alias { resource_type, path: (*path).to_string() });
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
    Some(Alias { resource_type, path })
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
    fn names_that_are_not_aliases_do_not_resolve() {
        assert_eq!(resolve("location"), None);
        assert_eq!(resolve("identity.type"), None);
        assert_eq!(resolve("Microsoft.CognitiveServices/"), None);
    }
}
