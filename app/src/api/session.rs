//! Who is signed in; signing in and out.

use crate::model::{AppError, Flash, SessionUser};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
pub(crate) fn session_user(p: &attest_core::Principal) -> SessionUser {
    use crate::model::GrantView;
    SessionUser {
        name: p.name.clone(),
        grants: p.grants.iter().map(|g| GrantView { role: g.role.to_string(), scope: g.scope.clone() }).collect(),
    }
}

/// The signed-in user, or `None` for a visitor.
#[server(endpoint = "fn/session/current")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    Ok(crate::ssr::current().await?.as_ref().map(session_user))
}

/// The message the last form post left for `page` (`import`, `assignments`,
/// `finding:{id}`), taken once. Kept in the session, never in the URL, so a
/// link cannot put words on a page.
#[server(endpoint = "fn/session/flash")]
pub async fn take_flash(page: String) -> Result<Option<Flash>, AppError> {
    use crate::ssr::{fail, require};
    require(&[]).await?;
    if page.len() > 64 {
        return Err(fail(AppError::Invalid { field: "page".into(), message: "at most 64 characters".into() }));
    }
    let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| fail(AppError::Internal))?;
    Ok(session.remove::<Flash>(&format!("flash:{page}")).await.ok().flatten())
}

/// Signs in with a local account; answers where to go next.
#[server(endpoint = "fn/session/sign-in")]
pub async fn sign_in(username: String, password: String, next: Option<String>) -> Result<String, AppError> {
    use crate::ssr::{fail, pool, session_keys, ClientAddr};
    use attest_core::signin::{self, SignInError};

    if username.len() > 256 || password.len() > attest_core::password::MAX_LEN * 4 {
        return Err(fail(AppError::BadCredentials));
    }
    let axum::Extension(ClientAddr(client)) =
        leptos_axum::extract::<axum::Extension<ClientAddr>>().await.map_err(|_| fail(AppError::Internal))?;
    let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| fail(AppError::Internal))?;
    let password = secrecy::SecretString::from(password);
    // A refusal to come back later says when, in a Retry-After header too.
    let retry_after = |err: AppError, secs: u64| {
        if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
            res.insert_header(http::header::RETRY_AFTER, secs.into());
        }
        fail(err)
    };
    let principal = match signin::sign_in(&pool()?, &username, &password, &client).await {
        Ok(p) => p,
        Err(SignInError::BadCredentials) => return Err(fail(AppError::BadCredentials)),
        Err(SignInError::Throttled { retry_after_secs }) => {
            return Err(retry_after(AppError::Throttled { retry_after_secs }, retry_after_secs))
        }
        Err(SignInError::Busy { retry_after_secs }) => {
            return Err(retry_after(AppError::Busy { retry_after_secs }, retry_after_secs))
        }
        Err(SignInError::Other(e)) => return Err(crate::ssr::core(e)),
    };
    // A new session id on sign-in defeats session fixation.
    let stored = async {
        session.cycle_id().await?;
        session.insert(session_keys::USER_ID, principal.user_id).await?;
        session
            .insert(session_keys::AUTHENTICATED_AT, time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64)
            .await
    };
    stored.await.map_err(|e| {
        tracing::error!(error = %e, "storing a session");
        fail(AppError::Internal)
    })?;
    // Only a path on this portal is followed (no open redirect).
    Ok(signin::local_path(next.as_deref()))
}

/// Signs out: the session is deleted from the store, not just forgotten.
#[server(endpoint = "fn/session/sign-out")]
pub async fn sign_out() -> Result<(), AppError> {
    use crate::ssr::{fail, pool, require};
    let principal = require(&[]).await?;
    let session = leptos_axum::extract::<tower_sessions::Session>().await.map_err(|_| fail(AppError::Internal))?;
    let mut tx = pool()?.begin().await?;
    attest_core::audit::append(
        &mut tx,
        &principal.name,
        "signout",
        &format!("user:{}", principal.name),
        serde_json::json!({}),
    )
    .await?;
    tx.commit().await?;
    session.flush().await.map_err(|e| {
        tracing::error!(error = %e, "deleting a session");
        fail(AppError::Internal)
    })?;
    Ok(())
}
