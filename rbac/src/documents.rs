//! Role definitions, role assignments and deny assignments read from the
//! JSON Azure sends: ARM documents (`properties` nested), the flattened
//! shape `az role definition list` prints, list responses (`value`) and
//! Microsoft's example files (`responses.200.body`).
//!
//! Errors name the field that was wrong as a JSON path (`[3].properties.scope`)
//! so that a person can find it in a file of thousands of documents.

use serde_json::{Map, Value};

/// Why a document could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ParseError {
    /// A JSON path from the top of the input, such as `value[2].properties.scope`.
    pub path: String,
    pub message: String,
}

/// One block of a role definition's (or deny assignment's) permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permission {
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    /// An ABAC condition on the block (built-in roles such as Azure AI
    /// Account Owner restrict what they may assign this way).
    pub condition: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    /// As Azure sent it: `/providers/Microsoft.Authorization/roleDefinitions/<guid>`
    /// for a built-in role, under a subscription for a custom one.
    pub id: String,
    /// The GUID that names the role wherever it is referenced (lower case).
    pub guid: String,
    pub role_name: String,
    /// `CustomRole` rather than `BuiltInRole`.
    pub custom: bool,
    pub permissions: Vec<Permission>,
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub id: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal`, `ForeignGroup` or `Device`; empty when not sent.
    pub principal_type: String,
    /// An ABAC condition: access through this assignment is conditional.
    pub condition: Option<String>,
}

impl RoleAssignment {
    /// The GUID of the role it assigns (lower case).
    pub fn role_guid(&self) -> String {
        last_segment(&self.role_definition_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DenyAssignment {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub permissions: Vec<Permission>,
    pub principals: Vec<String>,
    pub exclude_principals: Vec<String>,
    pub do_not_apply_to_child_scopes: bool,
    pub is_system_protected: bool,
}

/// A PIM schedule instance: an eligible assignment
/// (`roleEligibilityScheduleInstances`) or an active one
/// (`roleAssignmentScheduleInstances`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleInstance {
    pub id: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    /// `Direct`, `Group` or `Inherited`.
    pub member_type: String,
    /// Active instances only: `Assigned` (standing) or `Activated` (from an
    /// eligible assignment, for a while).
    pub assignment_type: Option<String>,
    /// Active instances only: the role assignment that carries it.
    pub origin_role_assignment_id: Option<String>,
    pub start: Option<String>,
    /// Absent: permanent.
    pub end: Option<String>,
    pub condition: Option<String>,
}

impl ScheduleInstance {
    pub fn parse(doc: &Value, path: &str) -> Result<ScheduleInstance, ParseError> {
        let top = Fields::of(doc, path)?;
        let props = top.properties()?;
        Ok(ScheduleInstance {
            id: top.required("id")?,
            scope: props.required("scope")?,
            role_definition_id: props.required("roleDefinitionId")?,
            principal_id: props.required("principalId")?,
            principal_type: props.text("principalType")?.unwrap_or_default(),
            member_type: props.text("memberType")?.unwrap_or_default(),
            assignment_type: props.text("assignmentType")?,
            origin_role_assignment_id: props.text("originRoleAssignmentId")?,
            start: props.text("startDateTime")?,
            end: props.text("endDateTime")?,
            condition: props.text("condition")?.filter(|c| !c.trim().is_empty()),
        })
    }

    /// The GUID of the role (lower case).
    pub fn role_guid(&self) -> String {
        last_segment(&self.role_definition_id)
    }
}

/// The documents of an input: a JSON array, a list response (`value`), an
/// example file (`responses.200.body`, itself either), or one document.
/// Returns each with the path it was found at.
pub fn documents(input: &Value) -> Vec<(String, &Value)> {
    if let Some(body) = input.pointer("/responses/200/body") {
        return documents(body)
            .into_iter()
            .map(|(path, doc)| (format!("responses.200.body{}", dotted(&path)), doc))
            .collect();
    }
    match input {
        Value::Array(items) => items.iter().enumerate().map(|(i, d)| (format!("[{i}]"), d)).collect(),
        Value::Object(map) if map.get("value").is_some_and(Value::is_array) => {
            map["value"].as_array().into_iter().flatten().enumerate().map(|(i, d)| (format!("value[{i}]"), d)).collect()
        }
        other => vec![(String::new(), other)],
    }
}

fn dotted(path: &str) -> String {
    if path.is_empty() || path.starts_with('[') {
        path.to_string()
    } else {
        format!(".{path}")
    }
}

/// Reads every document of `input` with `parse`, stopping at the first error.
pub fn parse_all<T>(input: &Value, parse: fn(&Value, &str) -> Result<T, ParseError>) -> Result<Vec<T>, ParseError> {
    documents(input).into_iter().map(|(path, doc)| parse(doc, &path)).collect()
}

/// A field reader that knows where it is.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Fields<'a> {
    fn of(value: &'a Value, path: &str) -> Result<Fields<'a>, ParseError> {
        match value {
            Value::Object(map) => Ok(Fields { map, path: path.to_string() }),
            other => {
                Err(ParseError { path: root(path), message: format!("expected an object, found {}", kind(other)) })
            }
        }
    }

    fn at(&self, field: &str) -> String {
        if self.path.is_empty() {
            field.to_string()
        } else {
            format!("{}.{field}", self.path)
        }
    }

    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn text(&self, field: &str) -> Result<Option<String>, ParseError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(field, "a string", other)),
        }
    }

    fn required(&self, field: &str) -> Result<String, ParseError> {
        match self.text(field)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            Some(_) => Err(ParseError { path: self.at(field), message: "must not be empty".into() }),
            None => Err(ParseError { path: self.at(field), message: "is required".into() }),
        }
    }

    fn flag(&self, field: &str) -> Result<bool, ParseError> {
        match self.get(field) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.wrong(field, "true or false", other)),
        }
    }

    fn strings(&self, field: &str) -> Result<Vec<String>, ParseError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(ParseError {
                        path: format!("{}[{i}]", self.at(field)),
                        message: format!("expected a string, found {}", kind(other)),
                    }),
                })
                .collect(),
            Some(other) => Err(self.wrong(field, "an array of strings", other)),
        }
    }

    fn objects(&self, field: &str) -> Result<Vec<Fields<'a>>, ParseError> {
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| Fields::of(v, &format!("{}[{i}]", self.at(field)))).collect()
            }
            Some(other) => Err(self.wrong(field, "an array of objects", other)),
        }
    }

    /// ARM nests a document's fields under `properties`; the flattened shape
    /// does not.
    fn properties(&self) -> Result<Fields<'a>, ParseError> {
        match self.get("properties") {
            Some(props) => Fields::of(props, &self.at("properties")),
            None => Ok(Fields { map: self.map, path: self.path.clone() }),
        }
    }

    fn wrong(&self, field: &str, wanted: &str, found: &Value) -> ParseError {
        ParseError { path: self.at(field), message: format!("expected {wanted}, found {}", kind(found)) }
    }
}

fn root(path: &str) -> String {
    if path.is_empty() {
        "(document)".into()
    } else {
        path.to_string()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The last segment of an ARM id, lower case: a role definition's GUID.
pub fn last_segment(id: &str) -> String {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_ascii_lowercase()
}

fn permissions(fields: &Fields) -> Result<Vec<Permission>, ParseError> {
    fields
        .objects("permissions")?
        .iter()
        .map(|p| {
            Ok(Permission {
                actions: p.strings("actions")?,
                not_actions: p.strings("notActions")?,
                data_actions: p.strings("dataActions")?,
                not_data_actions: p.strings("notDataActions")?,
                condition: p.text("condition")?.filter(|c| !c.trim().is_empty()),
            })
        })
        .collect()
}

impl RoleDefinition {
    /// Reads a role definition in either shape, ARM (`properties.roleName`,
    /// `properties.type`) or flattened (`roleName`, `roleType`).
    pub fn parse(doc: &Value, path: &str) -> Result<RoleDefinition, ParseError> {
        let top = Fields::of(doc, path)?;
        let props = top.properties()?;
        let id = top.required("id")?;
        let guid = match top.text("name")? {
            Some(name) if !name.trim().is_empty() => name.to_ascii_lowercase(),
            _ => last_segment(&id),
        };
        let kind = props.text("type")?.filter(|t| !t.contains('/')).or(props.text("roleType")?);
        Ok(RoleDefinition {
            guid,
            role_name: props.required("roleName")?,
            custom: kind.is_some_and(|k| k.eq_ignore_ascii_case("CustomRole")),
            permissions: permissions(&props)?,
            assignable_scopes: props.strings("assignableScopes")?,
            id,
        })
    }
}

impl RoleAssignment {
    pub fn parse(doc: &Value, path: &str) -> Result<RoleAssignment, ParseError> {
        let top = Fields::of(doc, path)?;
        let props = top.properties()?;
        Ok(RoleAssignment {
            id: top.required("id")?,
            scope: props.required("scope")?,
            role_definition_id: props.required("roleDefinitionId")?,
            principal_id: props.required("principalId")?,
            principal_type: props.text("principalType")?.unwrap_or_default(),
            condition: props.text("condition")?.filter(|c| !c.trim().is_empty()),
        })
    }
}

impl DenyAssignment {
    pub fn parse(doc: &Value, path: &str) -> Result<DenyAssignment, ParseError> {
        let top = Fields::of(doc, path)?;
        let props = top.properties()?;
        let ids = |field: &str| -> Result<Vec<String>, ParseError> {
            props.objects(field)?.iter().map(|p| p.required("id")).collect()
        };
        Ok(DenyAssignment {
            id: top.required("id")?,
            name: props.text("denyAssignmentName")?.unwrap_or_default(),
            scope: props.required("scope")?,
            permissions: permissions(&props)?,
            principals: ids("principals")?,
            exclude_principals: ids("excludePrincipals")?,
            do_not_apply_to_child_scopes: props.flag("doNotApplyToChildScopes")?,
            is_system_protected: props.flag("isSystemProtected")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_wrong_field_is_named_by_its_path() {
        let input = json!({"value": [
            {"id": "/a", "properties": {"scope": "/", "roleDefinitionId": "/r/x", "principalId": "p"}},
            {"id": "/b", "properties": {"scope": 7, "roleDefinitionId": "/r/x", "principalId": "p"}}
        ]});
        let err = parse_all(&input, RoleAssignment::parse).unwrap_err();
        assert_eq!(err.path, "value[1].properties.scope");
        assert!(err.message.contains("a number"), "{err}");
    }

    #[test]
    fn an_example_file_is_read_through_its_body() {
        let input = json!({"responses": {"200": {"body": {"value": [{"id": "/x", "properties": {}}]}}}});
        let err = parse_all(&input, RoleAssignment::parse).unwrap_err();
        assert_eq!(err.path, "responses.200.body.value[0].properties.scope");
    }

    #[test]
    fn a_definition_without_a_name_takes_its_guid_from_its_id() {
        let doc = json!({"id": "/providers/Microsoft.Authorization/roleDefinitions/ABC", "roleName": "R"});
        assert_eq!(RoleDefinition::parse(&doc, "").unwrap().guid, "abc");
    }
}
