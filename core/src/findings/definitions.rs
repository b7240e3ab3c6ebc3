//! Policy definitions beside the catalogue: Azure's built-ins (or a
//! company's own) imported unchanged, assigned at the tenant root and
//! evaluated with Attest's controls.

use crate::audit;
use crate::error::{CoreError, CoreResult};
use attest_policy::assignment::Catalog;
use attest_policy::catalogue::{self, Control};
use attest_policy::definition::{bind_parameters, unwrap_values, Parameter, PolicyDocument};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use std::collections::{BTreeMap, HashMap};

/// Largest definition accepted, in bytes of JSON (Azure's largest built-ins
/// are about 60 KiB).
pub const MAX_DOCUMENT: usize = 512 * 1024;
/// Most definitions and initiatives an estate may import.
pub const MAX_IMPORTED: i64 = 1_000;

/// Attest's catalogue and the imported definitions, as evaluation and the
/// findings pages look them up.
#[derive(Debug, Clone)]
pub struct Library {
    imported: Vec<Control>,
    /// Lower-case id and name → index in `imported`.
    index: HashMap<String, usize>,
    /// Imported initiatives' parameters, by lower-case id and name.
    initiative_parameters: HashMap<String, BTreeMap<String, Parameter>>,
    catalog: Catalog,
    /// SHA-256 over the imported documents as stored: part of what an
    /// evaluation ran against (the catalogue is part of the engine's).
    fingerprint: [u8; 32],
}

impl Library {
    /// The catalogue and every imported document.
    pub async fn load(conn: &mut PgConnection) -> CoreResult<Library> {
        let docs: Vec<Value> =
            sqlx::query_scalar!("select document from policy_definitions order by id").fetch_all(&mut *conn).await?;
        let mut library = Library {
            imported: Vec::new(),
            index: HashMap::new(),
            initiative_parameters: HashMap::new(),
            catalog: catalogue::catalog(),
            fingerprint: [0; 32],
        };
        let mut fingerprint = Sha256::new();
        for doc in &docs {
            fingerprint.update(doc.to_string().as_bytes());
            fingerprint.update([0]);
            // Stored documents were parsed on import; one that no longer
            // parses (a newer Attest reads stricter) is left out, not fatal.
            match PolicyDocument::parse(doc) {
                Ok(parsed) => library.add(parsed),
                Err(e) => tracing::warn!(error = %e, "an imported policy document no longer parses"),
            }
        }
        library.fingerprint = fingerprint.finalize().into();
        Ok(library)
    }

    pub async fn load_pool(pool: &PgPool) -> CoreResult<Library> {
        let mut conn = pool.acquire().await?;
        Library::load(&mut conn).await
    }

    fn add(&mut self, doc: PolicyDocument) {
        match &doc {
            PolicyDocument::Definition(d) => {
                let i = self.imported.len();
                self.index.insert(d.id.to_ascii_lowercase(), i);
                self.index.insert(d.name.to_ascii_lowercase(), i);
                self.imported.push(Control::from_definition(d.clone()));
            }
            PolicyDocument::Initiative(s) => {
                self.initiative_parameters.insert(s.id.to_ascii_lowercase(), s.parameters.clone());
                self.initiative_parameters.insert(s.name.to_ascii_lowercase(), s.parameters.clone());
            }
        }
        self.catalog.insert(doc);
    }

    /// A control of the catalogue or an imported definition, by id or name.
    pub fn control(&self, key: &str) -> Option<&Control> {
        catalogue::control(key).or_else(|| self.index.get(&key.to_ascii_lowercase()).map(|&i| &self.imported[i]))
    }

    /// Every control: the catalogue's, then the imported definitions.
    pub fn controls(&self) -> impl Iterator<Item = &Control> {
        catalogue::controls().iter().chain(self.imported.iter())
    }

    /// The imported definitions, in id order.
    pub fn imported(&self) -> &[Control] {
        &self.imported
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// What identifies the imported documents (see the field).
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// The parameters a definition or initiative declares.
    pub fn parameters(&self, definition_id: &str) -> Option<&BTreeMap<String, Parameter>> {
        self.control(definition_id)
            .map(|c| &c.definition.parameters)
            .or_else(|| self.initiative_parameters.get(&definition_id.to_ascii_lowercase()))
    }

    /// A control's title: its display name, else its name.
    pub fn title(&self, control: &str) -> String {
        self.control(control).map(|c| c.definition.display_name.clone()).unwrap_or_else(|| control.to_string())
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub kind: &'static str,
    /// True when a document with the same id was there and differed.
    pub replaced: bool,
    /// False when the same document was there already.
    pub changed: bool,
    /// The tenant-root assignment created or updated, if asked for.
    pub assignment: Option<String>,
    /// Evaluations written because of the import.
    pub evaluations: Vec<i64>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

/// Stores an Azure Policy definition or initiative as Azure publishes it,
/// audited. With `assign`, also assigns it at the tenant root with those
/// parameters (which must bind: a parameter without a default needs a
/// value) and evaluates the newest snapshot of every scope again.
pub async fn import(
    pool: &PgPool,
    actor: &str,
    text: &[u8],
    assign: Option<Map<String, Value>>,
) -> CoreResult<Imported> {
    if text.len() > MAX_DOCUMENT {
        return Err(CoreError::TooLarge { limit: MAX_DOCUMENT });
    }
    let doc: Value = serde_json::from_slice(text).map_err(|e| CoreError::InvalidAt {
        path: format!("line {}, column {}", e.line(), e.column()),
        message: e.to_string(),
    })?;
    let parsed = PolicyDocument::parse(&doc).map_err(|e| invalid("definition", e.0))?;
    let (kind, name, display_name, declared) = match &parsed {
        PolicyDocument::Definition(d) => ("definition", d.name.clone(), d.display_name.clone(), &d.parameters),
        PolicyDocument::Initiative(s) => ("initiative", s.name.clone(), s.display_name.clone(), &s.parameters),
    };
    if name.is_empty() || name.len() > 128 || name.contains(['/', '\\']) || name.chars().any(char::is_whitespace) {
        return Err(invalid(
            "definition",
            format!("{name:?} is not a policy definition name (a GUID or a short slug)"),
        ));
    }
    let collection = if kind == "definition" { "policyDefinitions" } else { "policySetDefinitions" };
    let id = match parsed.id() {
        id if id.starts_with('/') => id.to_ascii_lowercase(),
        _ => format!("/providers/microsoft.authorization/{}/{}", collection.to_ascii_lowercase(), name),
    };
    if catalogue::control(&name).is_some() {
        return Err(invalid(
            "definition",
            format!("{name} is one of Attest's own controls; import it under another name"),
        ));
    }
    // `{"name": {"value": x}}`, as Azure writes assignments, or `{"name": x}`.
    let assign = assign.map(|p| unwrap_values(&p));
    if let Some(params) = &assign {
        bind_parameters(declared, params).map_err(|e| invalid("parameters", e.0))?;
    }
    let sha: Vec<u8> = Sha256::digest(text).to_vec();

    let mut tx = pool.begin().await?;
    // Defaults first: an imported assignment must not stand in for them.
    super::assignments::current(&mut tx, actor).await?;
    let mut library = Library::load(&mut tx).await?;
    if let PolicyDocument::Initiative(s) = &parsed {
        let missing: Vec<&str> = s
            .members
            .iter()
            .filter(|m| library.catalog.get(&m.definition_id).is_none())
            .map(|m| m.definition_id.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(invalid(
                "definition",
                format!("the initiative refers to definitions not imported yet: {}", missing.join(", ")),
            ));
        }
    }
    let before = sqlx::query!("select sha256 from policy_definitions where id = $1 for update", id)
        .fetch_optional(&mut *tx)
        .await?;
    let count = sqlx::query_scalar!(r#"select count(*) as "n!" from policy_definitions"#).fetch_one(&mut *tx).await?;
    if before.is_none() && count >= MAX_IMPORTED {
        return Err(invalid("definition", format!("at most {MAX_IMPORTED} definitions may be imported")));
    }
    let changed = before.as_ref().is_none_or(|b| b.sha256 != sha);
    if changed {
        sqlx::query!(
            "insert into policy_definitions (id, name, display_name, kind, document, sha256, imported_by)
             values ($1, $2, $3, $4, $5, $6, $7)
             on conflict (id) do update set display_name = excluded.display_name, document = excluded.document,
                    sha256 = excluded.sha256, imported_by = excluded.imported_by, imported_at = now()",
            id,
            name,
            display_name,
            kind,
            doc,
            sha,
            actor
        )
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            CoreError::from_unique(e, "policy_definitions_name_key", format!("another definition is named {name}"))
        })?;
    }
    library.add(parsed);
    let assignment = match &assign {
        Some(params) => {
            let assignment_id = format!("/providers/Microsoft.Authorization/policyAssignments/{name}");
            sqlx::query!(
                "insert into policy_assignments (id, display_name, definition_id, scope, parameters, updated_by)
                 values ($1, $2, $3, '/', $4, $5)
                 on conflict (id) do update set parameters = excluded.parameters, updated_at = now(),
                        updated_by = excluded.updated_by",
                assignment_id,
                display_name,
                id,
                Value::Object(params.clone()),
                actor
            )
            .execute(&mut *tx)
            .await?;
            Some(assignment_id)
        }
        None => None,
    };
    audit::append(
        &mut tx,
        actor,
        "policy.import",
        &format!("policy:{id}"),
        json!({"kind": kind, "name": name, "display_name": display_name, "sha256": hex::encode(&sha),
               "replaced": before.is_some() && changed, "changed": changed, "assignment": assignment,
               "parameters": assign}),
    )
    .await?;
    // Evaluate again when what is assigned changed.
    let assigned = sqlx::query_scalar!(
        r#"select exists (select 1 from policy_assignments where lower(definition_id) = $1 or definition_id = $2) as "x!""#,
        id,
        name
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let evaluations = if assigned && (changed || assign.is_some()) {
        super::assignments::reevaluate_newest(pool, actor, &format!("policy {name} imported")).await?
    } else {
        vec![]
    };
    Ok(Imported {
        id,
        name,
        display_name,
        kind,
        replaced: before.is_some() && changed,
        changed,
        assignment,
        evaluations,
    })
}
