//! Principals as Microsoft Graph describes them (`directoryObjects/getByIds`):
//! who a role assignment's principal id is, whether it still exists, and
//! whether it is a guest.
//!
//! A snapshot keeps one `PrincipalRecord` per id it asked Graph about: the
//! object Graph returned, verbatim, or none when Graph answered without it
//! (the principal was deleted). Ids the scan could not ask about (no Graph
//! permission) have no record and are shown unresolved. A group's record
//! also keeps its members when Graph let the scan read them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a snapshot stores for one principal id Graph was asked about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrincipalRecord {
    /// The object id, lower case.
    pub id: String,
    /// The directory object as Graph returned it; `None` when Graph's
    /// answer left it out: the principal no longer exists.
    pub object: Option<Value>,
    /// A group's members, direct and through nested groups, as Graph
    /// returned them (`groups/{id}/transitiveMembers`); absent when not
    /// read (not a group, no permission, or an older scan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<Value>>,
}

impl PrincipalRecord {
    /// Whether Graph described it as a group (whose members are worth reading).
    pub fn is_group(&self) -> bool {
        self.object.as_ref().is_some_and(|o| Principal::from_graph(o).is_ok_and(|p| p.kind == PrincipalKind::Group))
    }

    /// The principal as a person reads it: `Ok(None)` when Graph no longer
    /// has it, an error when its object cannot be read.
    pub fn described(&self) -> Result<Option<Principal>, String> {
        self.object.as_ref().map(Principal::from_graph).transpose()
    }

    /// Its members as a person reads them; `None` when they were not read.
    /// A member Graph described without an id is left out.
    pub fn members(&self) -> Option<Vec<Principal>> {
        self.members.as_ref().map(|m| m.iter().filter_map(|o| Principal::from_graph(o).ok()).collect())
    }

    /// The records for `asked`, from the objects Graph returned for them.
    pub fn for_answer(asked: &[String], returned: &[Value]) -> Vec<PrincipalRecord> {
        let mut by_id: std::collections::HashMap<String, &Value> =
            returned.iter().filter_map(|o| o["id"].as_str().map(|id| (id.to_ascii_lowercase(), o))).collect();
        asked
            .iter()
            .map(|id| {
                let id = id.to_ascii_lowercase();
                let object = by_id.remove(&id).cloned();
                PrincipalRecord { id, object, members: None }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    Group,
    ServicePrincipal,
    Device,
    Other,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Group => "group",
            PrincipalKind::ServicePrincipal => "service_principal",
            PrincipalKind::Device => "device",
            PrincipalKind::Other => "other",
        }
    }
}

/// A principal as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub id: String,
    pub kind: PrincipalKind,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
    pub app_id: Option<String>,
    /// A guest (B2B) user: `userType` Guest, or `#EXT#` in the user principal name.
    pub guest: bool,
    /// `accountEnabled`, when Graph gave it.
    pub enabled: Option<bool>,
}

impl Principal {
    /// Reads one directory object. Its kind is `@odata.type` when present
    /// (getByIds sends it); a single object read by id has none, so its
    /// kind is told by the fields only that kind has.
    pub fn from_graph(object: &Value) -> Result<Principal, String> {
        let id = object["id"].as_str().filter(|s| !s.trim().is_empty()).ok_or("a directory object needs its id")?;
        let text = |k: &str| object[k].as_str().map(str::to_string);
        let kind = match object["@odata.type"].as_str() {
            Some(t) => match t.trim_start_matches("#microsoft.graph.") {
                "user" => PrincipalKind::User,
                "group" => PrincipalKind::Group,
                "servicePrincipal" => PrincipalKind::ServicePrincipal,
                "device" => PrincipalKind::Device,
                _ => PrincipalKind::Other,
            },
            None if object.get("userPrincipalName").is_some() => PrincipalKind::User,
            None if object.get("servicePrincipalType").is_some() || object.get("appId").is_some() => {
                PrincipalKind::ServicePrincipal
            }
            None if object.get("groupTypes").is_some() || object.get("securityEnabled").is_some() => {
                PrincipalKind::Group
            }
            None if object.get("deviceId").is_some() => PrincipalKind::Device,
            None => PrincipalKind::Other,
        };
        let upn = text("userPrincipalName");
        let guest = kind == PrincipalKind::User
            && (object["userType"].as_str().is_some_and(|t| t.eq_ignore_ascii_case("guest"))
                || upn.as_deref().is_some_and(|u| u.to_ascii_uppercase().contains("#EXT#")));
        Ok(Principal {
            id: id.to_ascii_lowercase(),
            kind,
            display_name: text("displayName"),
            user_principal_name: upn,
            app_id: text("appId"),
            guest,
            enabled: object["accountEnabled"].as_bool(),
        })
    }
}

/// What the role-review checks read of a principal: whether it exists
/// (`None`: Graph no longer has it), is a guest, its kind, whether it is enabled.
pub fn facts(described: Option<&Principal>) -> attest_rbac::PrincipalFacts {
    match described {
        None => attest_rbac::PrincipalFacts { exists: false, guest: false, kind: None, enabled: None },
        Some(p) => attest_rbac::PrincipalFacts {
            exists: true,
            guest: p.guest,
            kind: Some(p.kind.as_str().to_string()),
            enabled: p.enabled,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Value {
        let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        while !dir.join("shared/fixtures").is_dir() {
            assert!(dir.pop(), "shared/fixtures not found");
        }
        serde_json::from_str(&std::fs::read_to_string(dir.join("shared/fixtures/graph").join(name)).unwrap()).unwrap()
    }

    #[test]
    fn get_by_ids_gives_each_object_its_kind() {
        let answer = fixture("directoryObjects_getByIds.v1.0.json");
        let objects = answer["value"].as_array().unwrap();
        let kinds: Vec<PrincipalKind> = objects.iter().map(|o| Principal::from_graph(o).unwrap().kind).collect();
        use PrincipalKind::*;
        assert_eq!(kinds, [User, User, Group, Device]);
        let trevor = Principal::from_graph(&objects[0]).unwrap();
        assert_eq!(trevor.display_name.as_deref(), Some("Trevor Jones"));
        assert_eq!(trevor.enabled, Some(true));
        assert!(!trevor.guest);

        // An id Graph's answer left out is a principal that no longer exists.
        let asked = vec!["84B80893-8749-40A3-97B7-68513B600544".to_string(), "deleted-id".to_string()];
        let records = PrincipalRecord::for_answer(&asked, objects);
        assert_eq!(records[0].id, "84b80893-8749-40a3-97b7-68513b600544");
        assert!(records[0].object.is_some());
        assert_eq!(records[1].object, None);
    }

    #[test]
    fn a_group_keeps_its_members_and_older_records_read_without_them() {
        let answer = fixture("directoryObjects_getByIds.v1.0.json");
        let objects = answer["value"].as_array().unwrap();
        let group = objects.iter().find(|o| o["@odata.type"] == "#microsoft.graph.group").unwrap();
        let id = group["id"].as_str().unwrap().to_string();
        let mut record = PrincipalRecord::for_answer(std::slice::from_ref(&id), objects).remove(0);
        assert!(record.is_group());
        assert_eq!(record.members(), None, "not read yet");
        // transitiveMembers answers with directory objects, as getByIds does.
        record.members =
            Some(objects.iter().filter(|o| o["@odata.type"] != "#microsoft.graph.group").cloned().collect());
        let members = record.members().unwrap();
        assert_eq!(members.len(), 3);
        assert_eq!(members[0].display_name.as_deref(), Some("Trevor Jones"));
        // Stored and read back; a record written before members were kept reads as not read.
        let stored = serde_json::to_value(&record).unwrap();
        assert_eq!(serde_json::from_value::<PrincipalRecord>(stored).unwrap(), record);
        let older: PrincipalRecord = serde_json::from_value(serde_json::json!({"id": id, "object": group})).unwrap();
        assert_eq!(older.members, None);
        assert!(!serde_json::to_string(&older).unwrap().contains("members"), "an unread list is not written");
    }

    #[test]
    fn a_user_read_by_id_is_a_user() {
        let user = Principal::from_graph(&fixture("users_get.v1.0.json")).unwrap();
        assert_eq!(user.kind, PrincipalKind::User);
        assert_eq!(user.user_principal_name.as_deref(), Some("AdeleV@contoso.com"));
        let mut guest = fixture("users_get.v1.0.json");
        guest["userPrincipalName"] = "adele_fabrikam.com#EXT#@contoso.onmicrosoft.com".into();
        assert!(Principal::from_graph(&guest).unwrap().guest);
    }

    #[test]
    fn a_service_principal_read_by_id_has_its_app_id() {
        let sp = Principal::from_graph(&fixture("servicePrincipals_get.v1.0.json")).unwrap();
        assert_eq!(sp.kind, PrincipalKind::ServicePrincipal);
        assert!(sp.app_id.is_some());
    }
}
