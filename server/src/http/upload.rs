//! The upload page's form target: a snapshot file posted from the browser
//! (multipart/form-data, so it works before the page hydrates), stored as
//! `attest import` stores it, then a redirect to the stored snapshot, or back
//! to the form with the error that names the field and its position.

use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::{
    snapshot::{ingest, store},
    CoreError, Role,
};
use axum::{
    extract::{Multipart, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
    Extension,
};

pub const PATH: &str = "/upload/snapshot";

fn back(message: &str) -> Response {
    super::flash::redirect("/import", "import", true, message)
}

pub async fn upload_snapshot(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(principal) = principal else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    if !principal.has_any(&[Role::Admin]) {
        return (StatusCode::FORBIDDEN, "only admins may import snapshots").into_response();
    }
    let Ok(mut multipart) = multipart else {
        return back("the upload was not a file form (multipart/form-data)");
    };
    let limit = state.config.import_limit_bytes;
    let mut file = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => match field.bytes().await {
                Ok(bytes) => file = Some(bytes),
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    return back(&format!("the file is larger than the limit of {limit} bytes"))
                }
                Err(e) => return back(&format!("the upload did not arrive whole: {}", e.body_text())),
            },
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return back(&format!("the file is larger than the limit of {limit} bytes"))
            }
            Err(e) => return back(&format!("the upload did not arrive whole: {}", e.body_text())),
        }
    }
    let Some(bytes) = file.filter(|b| !b.is_empty()) else {
        return back("choose a snapshot file to upload");
    };
    match ingest::import(&state.pool, std::io::Cursor::new(bytes), limit, store::Source::Upload, &principal.name).await
    {
        Ok((stored, _)) => Redirect::to(&format!(
            "/snapshots/{}?imported={}",
            stored.id,
            if stored.created { "new" } else { "existing" }
        ))
        .into_response(),
        Err(CoreError::TooLarge { limit }) => back(&format!("the file is larger than the limit of {limit} bytes")),
        Err(CoreError::InvalidAt { path, message }) => back(&format!("{path}: {message}")),
        Err(e) => {
            tracing::error!(error = %e, "storing an uploaded snapshot");
            back("the snapshot could not be stored (an internal error, logged on the server)")
        }
    }
}
