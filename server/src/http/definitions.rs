//! The assignments page's import form target: an admin posts an Azure
//! Policy definition or initiative file as Azure publishes it, with the
//! parameters to assign it with (multipart, so it works before the page
//! hydrates), then returns to the page with what happened or the error
//! that names the field.

use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::findings::definitions::{import, MAX_DOCUMENT};
use attest_core::{CoreError, Role};
use axum::{
    extract::{Multipart, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension,
};

/// Where definitions are posted.
pub const PATH: &str = "/admin/definitions";

fn error(message: &str) -> Response {
    super::flash::redirect("/admin/assignments", "assignments", true, message)
}

pub async fn import_definition(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(principal) = principal else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    if !principal.has_any(&[Role::Admin]) {
        return (StatusCode::FORBIDDEN, "only admins import policy definitions").into_response();
    }
    let Ok(mut multipart) = multipart else {
        return error("the form did not arrive as multipart/form-data");
    };
    let too_large = format!("file: larger than {MAX_DOCUMENT} bytes");
    let (mut file, mut parameters, mut assign) = (Vec::new(), String::new(), false);
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                match field.bytes().await {
                    Ok(bytes) => match name.as_str() {
                        "file" => file = bytes.to_vec(),
                        "parameters" => parameters = String::from_utf8_lossy(&bytes).into_owned(),
                        "assign" => assign = !bytes.is_empty(),
                        _ => {}
                    },
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return error(&too_large),
                    Err(e) => return error(&format!("the form did not arrive whole: {}", e.body_text())),
                }
            }
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return error(&too_large),
            Err(e) => return error(&format!("the form did not arrive whole: {}", e.body_text())),
        }
    }
    if file.is_empty() {
        return error("file: choose a policy definition or initiative (.json)");
    }
    let params = if parameters.trim().is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_str(&parameters) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => return error("parameters: a JSON object of parameter values"),
            Err(e) => return error(&format!("parameters: not JSON: {e}")),
        }
    };
    match import(&state.pool, &principal.name, &file, assign.then_some(params)).await {
        Ok(done) => super::flash::redirect(
            "/admin/assignments",
            "assignments",
            false,
            format!("Imported {}; the newest snapshots were evaluated again.", done.display_name),
        ),
        Err(CoreError::Invalid { field, message }) => error(&format!("{field}: {message}")),
        Err(CoreError::InvalidAt { path, message }) => error(&format!("file: not JSON at {path}: {message}")),
        Err(CoreError::TooLarge { .. }) => error(&too_large),
        Err(CoreError::Conflict(message)) => error(&format!("file: {message}")),
        Err(e) => {
            tracing::error!(error = %e, "importing a policy definition");
            error("the definition could not be stored (an internal error, logged on the server)")
        }
    }
}
