//! The finding page's attestation form target: an auditor's state, note
//! and evidence file for a manual control (multipart, so it works before
//! the page hydrates), then a redirect to the finding as evaluated again,
//! or back to the form with the error that names the field.

use crate::AppState;
use app::ssr::CurrentPrincipal;
use attest_core::findings::attest::{attest, NewAttestation, MAX_ATTACHMENT};
use attest_core::{CoreError, Role};
use axum::{
    extract::{Multipart, Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    Extension,
};

/// Where attestations are posted: `/attest/finding/{id}`.
pub const PREFIX: &str = "/attest/finding/";

fn back(id: &str, message: &str) -> Response {
    super::flash::redirect(&format!("/findings/{id}"), &format!("finding:{id}"), true, message)
}

pub async fn attest_finding(
    State(state): State<AppState>,
    Extension(CurrentPrincipal(principal)): Extension<CurrentPrincipal>,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let Some(principal) = principal else {
        return (StatusCode::UNAUTHORIZED, "sign in first").into_response();
    };
    if !principal.has_any(&[Role::Auditor, Role::Admin]) {
        return (StatusCode::FORBIDDEN, "only auditors attest controls").into_response();
    }
    let Ok(finding_id) = id.parse::<i64>() else {
        return (StatusCode::NOT_FOUND, "no such finding").into_response();
    };
    let Ok(mut multipart) = multipart else {
        return back(&id, "the form did not arrive as multipart/form-data");
    };
    let mut a = NewAttestation {
        finding_id,
        state: String::new(),
        note: String::new(),
        attachment_name: String::new(),
        attachment_type: String::new(),
        attachment: vec![],
    };
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    a.attachment_name = field.file_name().unwrap_or_default().to_string();
                    a.attachment_type = field.content_type().unwrap_or_default().to_string();
                }
                match field.bytes().await {
                    Ok(bytes) => match name.as_str() {
                        "file" => a.attachment = bytes.to_vec(),
                        "state" => a.state = String::from_utf8_lossy(&bytes).into_owned(),
                        "note" => a.note = String::from_utf8_lossy(&bytes).into_owned(),
                        _ => {}
                    },
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return back(&id, &format!("file: larger than {MAX_ATTACHMENT} bytes"))
                    }
                    Err(e) => return back(&id, &format!("the form did not arrive whole: {}", e.body_text())),
                }
            }
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return back(&id, &format!("file: larger than {MAX_ATTACHMENT} bytes"))
            }
            Err(e) => return back(&id, &format!("the form did not arrive whole: {}", e.body_text())),
        }
    }
    match attest(&state.pool, &principal.name, a).await {
        Ok((_, finding)) => super::flash::redirect(
            &format!("/findings/{finding}"),
            &format!("finding:{finding}"),
            false,
            "Attested; the snapshot was evaluated again.",
        ),
        Err(CoreError::Invalid { field, message }) => back(&id, &format!("{field}: {message}")),
        Err(CoreError::NotFound { .. }) => (StatusCode::NOT_FOUND, "no such finding").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "recording an attestation");
            back(&id, "the attestation could not be stored (an internal error, logged on the server)")
        }
    }
}
