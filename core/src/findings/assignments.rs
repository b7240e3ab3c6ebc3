//! Control assignments: which controls apply where, with which parameters.
//! The catalogue's defaults (every control at the tenant root) are written
//! the first time they are needed; an admin changes them, and the newest
//! snapshot of every scope is evaluated again.

use crate::audit;
use crate::error::{CoreError, CoreResult};
use attest_policy::assignment::Assignment;
use attest_policy::catalogue;
use attest_policy::definition::bind_parameters;
use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Most `notScopes` an assignment may carry (Azure allows 400; a portal
/// form with more is a mistake).
pub const MAX_NOT_SCOPES: usize = 50;
/// Longest ARM scope accepted.
pub const MAX_SCOPE: usize = 400;
/// Largest parameters document, in bytes of JSON.
pub const MAX_PARAMETERS: usize = 16 * 1024;

/// An assignment as stored.
#[derive(Debug, Clone, Serialize)]
pub struct AssignmentRow {
    pub id: String,
    pub display_name: String,
    pub definition_id: String,
    pub scope: String,
    pub not_scopes: Vec<String>,
    pub parameters: Value,
    pub enforcement_mode: String,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: time::OffsetDateTime,
    pub updated_by: String,
}

impl AssignmentRow {
    fn to_policy(&self) -> Assignment {
        Assignment {
            id: self.id.clone(),
            display_name: self.display_name.clone(),
            scope: self.scope.clone(),
            not_scopes: self.not_scopes.clone(),
            definition_id: self.definition_id.clone(),
            parameters: self.parameters.as_object().cloned().unwrap_or_default(),
            enforcement_mode: self.enforcement_mode.clone(),
        }
    }
}

async fn rows(conn: &mut PgConnection) -> CoreResult<Vec<AssignmentRow>> {
    Ok(sqlx::query_as!(
        AssignmentRow,
        "select id, display_name, definition_id, scope, not_scopes, parameters, enforcement_mode, updated_at, updated_by
           from policy_assignments order by id"
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Writes the catalogue's defaults when no assignment exists yet, audited.
async fn seed(conn: &mut PgConnection, actor: &str) -> CoreResult<()> {
    let defaults = catalogue::default_assignments();
    for a in &defaults {
        sqlx::query!(
            "insert into policy_assignments (id, display_name, definition_id, scope, updated_by)
             values ($1, $2, $3, $4, $5) on conflict (id) do nothing",
            a.id,
            a.display_name,
            a.definition_id,
            a.scope,
            actor
        )
        .execute(&mut *conn)
        .await?;
    }
    audit::append(conn, actor, "assignments.seed", "assignments", json!({"assignments": defaults.len(), "scope": "/"}))
        .await?;
    Ok(())
}

/// The assignments evaluation uses, seeding the defaults on first use.
pub async fn current(conn: &mut PgConnection, actor: &str) -> CoreResult<Vec<Assignment>> {
    let mut found = rows(conn).await?;
    if found.is_empty() {
        seed(conn, actor).await?;
        found = rows(conn).await?;
    }
    Ok(found.iter().map(AssignmentRow::to_policy).collect())
}

/// Every assignment, seeding the defaults on first use.
pub async fn list(pool: &PgPool, actor: &str) -> CoreResult<Vec<AssignmentRow>> {
    let mut tx = pool.begin().await?;
    current(&mut tx, actor).await?;
    let all = rows(&mut tx).await?;
    tx.commit().await?;
    Ok(all)
}

/// What an admin may change.
#[derive(Debug, Clone)]
pub struct Change {
    pub parameters: Map<String, Value>,
    pub not_scopes: Vec<String>,
    pub enforcement_mode: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::Invalid { field, message: message.into() }
}

/// Validates and stores a change (audited, with the values before and
/// after), then evaluates the newest snapshot of every scope again.
/// Returns the new evaluations' ids.
pub async fn update(pool: &PgPool, actor: &str, id: &str, change: Change) -> CoreResult<Vec<i64>> {
    if !["Default", "DoNotEnforce"].contains(&change.enforcement_mode.as_str()) {
        return Err(invalid("enforcement_mode", "Default or DoNotEnforce"));
    }
    if change.not_scopes.len() > MAX_NOT_SCOPES {
        return Err(invalid("not_scopes", format!("at most {MAX_NOT_SCOPES} excluded scopes")));
    }
    for s in &change.not_scopes {
        if !s.starts_with('/') || s.len() > MAX_SCOPE || s.chars().any(char::is_whitespace) {
            return Err(invalid(
                "not_scopes",
                format!("{s:?} is not an ARM scope such as /subscriptions/<id>/resourceGroups/<name>"),
            ));
        }
    }
    if serde_json::to_vec(&change.parameters).map(|v| v.len()).unwrap_or(usize::MAX) > MAX_PARAMETERS {
        return Err(invalid("parameters", format!("larger than {MAX_PARAMETERS} bytes")));
    }
    let mut tx = pool.begin().await?;
    current(&mut tx, actor).await?;
    let before = sqlx::query_as!(
        AssignmentRow,
        "select id, display_name, definition_id, scope, not_scopes, parameters, enforcement_mode, updated_at, updated_by
           from policy_assignments where id = $1 for update",
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| CoreError::NotFound { what: format!("assignment {id}") })?;
    // Parameters must bind to the definition as Azure would accept them.
    let library = super::definitions::Library::load(&mut tx).await?;
    let declared = library.parameters(&before.definition_id).ok_or_else(|| {
        invalid("definition", format!("{} is neither in the catalogue nor imported", before.definition_id))
    })?;
    bind_parameters(declared, &change.parameters).map_err(|e| invalid("parameters", e.0))?;
    let parameters = Value::Object(change.parameters.clone());
    sqlx::query!(
        "update policy_assignments set parameters = $2, not_scopes = $3, enforcement_mode = $4, updated_at = now(),
                updated_by = $5 where id = $1",
        id,
        parameters,
        &change.not_scopes,
        change.enforcement_mode,
        actor
    )
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        "assignment.update",
        &format!("assignment:{id}"),
        json!({
            "before": {"parameters": before.parameters, "not_scopes": before.not_scopes, "enforcement_mode": before.enforcement_mode},
            "after": {"parameters": parameters, "not_scopes": change.not_scopes, "enforcement_mode": change.enforcement_mode},
        }),
    )
    .await?;
    tx.commit().await?;

    reevaluate_newest(pool, actor, &format!("assignment {id} changed")).await
}

/// Evaluates the newest evaluated snapshot of every scope again (after
/// what is assigned changed). Returns the new evaluations' ids.
pub async fn reevaluate_newest(pool: &PgPool, actor: &str, reason: &str) -> CoreResult<Vec<i64>> {
    let newest: Vec<Uuid> = sqlx::query_scalar!(
        r#"select distinct on (s.scope_key) s.id as "id!" from snapshots s
            where exists (select 1 from evaluations e where e.snapshot_id = s.id)
            order by s.scope_key, s.finished_at desc"#
    )
    .fetch_all(pool)
    .await?;
    let mut evaluations = Vec::new();
    for snapshot in newest {
        evaluations.push(super::evaluate::reevaluate(pool, snapshot, actor, reason).await?.id);
    }
    Ok(evaluations)
}
