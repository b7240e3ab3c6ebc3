//! Control assignments, for admins: list them, and change one's effect,
//! enforcement mode, excluded scopes and parameters (which evaluates the
//! newest snapshot of every scope again).

use crate::model::{AppError, AssignmentView};
use leptos::prelude::*;

#[server(endpoint = "fn/admin/assignments")]
pub async fn list_assignments() -> Result<Vec<AssignmentView>, AppError> {
    use crate::ssr::{core, fail, fmt_time, pool, require};
    use attest_core::Role;
    let me = require(&[Role::Admin]).await?;
    let pool = pool()?;
    let rows = attest_core::findings::assignments::list(&pool, &me.name).await.map_err(|e| fail(core(e)))?;
    let library = attest_core::findings::definitions::Library::load_pool(&pool).await.map_err(|e| fail(core(e)))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let control = library.control(&r.definition_id);
            let effect_param = control.and_then(|c| c.definition.parameters.get("effect"));
            let effect = r
                .parameters
                .get("effect")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .or_else(|| effect_param.and_then(|p| p.default.as_ref()).and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_default();
            AssignmentView {
                display_name: r.display_name.clone(),
                control: control.map(|c| c.definition.name.clone()).unwrap_or_else(|| r.definition_id.clone()),
                severity: control.map(|c| c.severity.as_str().to_string()).unwrap_or_default(),
                scope: r.scope.clone(),
                not_scopes: r.not_scopes.join("\n"),
                parameters: serde_json::to_string_pretty(&r.parameters).unwrap_or_default(),
                effect,
                allowed_effects: effect_param
                    .and_then(|p| p.allowed.as_ref())
                    .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                enforcement_mode: r.enforcement_mode.clone(),
                updated: format!("{} by {}", fmt_time(r.updated_at), r.updated_by),
                id: r.id,
            }
        })
        .collect())
}

/// Changes one assignment. `effect` overrides the `effect` parameter;
/// `parameters` is a JSON object of the others; `not_scopes` one per line.
#[server(endpoint = "fn/admin/assignment-update")]
pub async fn update_assignment(
    id: String,
    effect: String,
    enforcement_mode: String,
    not_scopes: String,
    parameters: String,
) -> Result<usize, AppError> {
    use crate::ssr::{core, fail, pool, require};
    use attest_core::findings::assignments::{self, Change};
    use attest_core::Role;
    let me = require(&[Role::Admin]).await?;
    let invalid = |field: &str, message: String| fail(AppError::Invalid { field: field.into(), message });
    if parameters.len() > assignments::MAX_PARAMETERS
        || not_scopes.len() > assignments::MAX_NOT_SCOPES * (assignments::MAX_SCOPE + 1)
    {
        return Err(invalid("parameters", "too large".into()));
    }
    let mut params: serde_json::Map<String, serde_json::Value> = if parameters.trim().is_empty() {
        Default::default()
    } else {
        match serde_json::from_str(&parameters) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return Err(invalid("parameters", "a JSON object of parameter values".into())),
            Err(e) => return Err(invalid("parameters", format!("not JSON: {e}"))),
        }
    };
    if !effect.is_empty() {
        params.insert("effect".into(), serde_json::Value::String(effect));
    }
    let change = Change {
        parameters: params,
        not_scopes: not_scopes.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect(),
        enforcement_mode,
    };
    let evaluated = assignments::update(&pool()?, &me.name, &id, change).await.map_err(|e| fail(core(e)))?;
    Ok(evaluated.len())
}
