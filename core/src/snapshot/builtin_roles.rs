//! Azure's built-in role definitions that Attest knows by heart, embedded
//! verbatim from Microsoft's documentation (core/data/builtin-roles), and
//! converted to the shape ARM returns them in.

use serde_json::{json, Map, Value};

const DOCS: [(&str, &str); 7] = [
    ("owner", include_str!("../../data/builtin-roles/owner.json")),
    ("contributor", include_str!("../../data/builtin-roles/contributor.json")),
    ("reader", include_str!("../../data/builtin-roles/reader.json")),
    ("cognitive-services-openai-user", include_str!("../../data/builtin-roles/cognitive-services-openai-user.json")),
    (
        "cognitive-services-openai-contributor",
        include_str!("../../data/builtin-roles/cognitive-services-openai-contributor.json"),
    ),
    ("cognitive-services-user", include_str!("../../data/builtin-roles/cognitive-services-user.json")),
    ("cognitive-services-contributor", include_str!("../../data/builtin-roles/cognitive-services-contributor.json")),
];

/// The embedded documents, by file stem, as Microsoft's docs print them.
pub fn docs() -> impl Iterator<Item = (&'static str, &'static str)> {
    DOCS.into_iter()
}

/// A built-in role in ARM's shape (`properties.roleName`, `properties.type`, …).
pub fn arm_definition(stem: &str) -> Option<Value> {
    let text = DOCS.iter().find(|(s, _)| *s == stem)?.1;
    let doc: Map<String, Value> = serde_json::from_str(text).ok()?;
    let mut properties = Map::new();
    for (k, v) in &doc {
        match k.as_str() {
            "id" | "name" | "type" => {}
            "roleType" => {
                properties.insert("type".into(), v.clone());
            }
            _ => {
                properties.insert(k.clone(), v.clone());
            }
        }
    }
    Some(json!({"id": doc.get("id")?, "name": doc.get("name")?, "type": doc.get("type")?, "properties": properties}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::arm::RoleDefinition;

    #[test]
    fn every_embedded_role_converts_to_arm_shape() {
        for (stem, _) in docs() {
            let def = RoleDefinition::parse(&arm_definition(stem).unwrap()).unwrap();
            assert_eq!(def.properties.role_type.as_deref(), Some("BuiltInRole"), "{stem}");
            assert!(def.properties.role_name.is_some() && def.properties.permissions.is_some(), "{stem}");
        }
        let owner = RoleDefinition::parse(&arm_definition("owner").unwrap()).unwrap();
        assert_eq!(owner.properties.role_name.as_deref(), Some("Owner"));
        assert_eq!(owner.properties.permissions.unwrap()[0].actions, ["*"]);
    }

    #[test]
    fn the_embedded_roles_equal_the_shared_fixtures() {
        let root = crate::testing::fixtures_dir();
        for (stem, text) in docs() {
            let fixture = std::fs::read_to_string(root.join("roles").join(format!("{stem}.json"))).unwrap();
            assert_eq!(fixture, text, "{stem} drifted from the fixture");
        }
    }
}
