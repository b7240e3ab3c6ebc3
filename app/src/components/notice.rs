//! Messages: errors with their status, one-time secrets, empty states.

use crate::model::{AppError, OneTimeSecret};
use leptos::prelude::*;

/// A full-page error: what went wrong, and what the visitor can do.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let (title, hint) = match &error {
        AppError::Forbidden => ("403 · Not allowed", "Ask an admin for a role that includes this page."),
        AppError::Unauthorized => ("401 · Signed out", "Your session has ended. Sign in again to continue."),
        AppError::NotFound(_) => ("404 · Not found", "Check the address, or go back to the dashboard."),
        _ => ("Something went wrong", "Try again; if it keeps happening, tell your administrator."),
    };
    view! {
        <section class="panel error-panel" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            <p class="muted">{hint}</p>
            <p><a href="/">"Back to the dashboard"</a></p>
        </section>
    }
}

/// An inline error under a form.
#[component]
pub fn FormError(error: AppError) -> impl IntoView {
    view! { <p class="form-error" role="alert">{error.to_string()}</p> }
}

/// A secret shown exactly once, with a warning that it cannot be shown again.
#[component]
pub fn SecretOnce(secret: OneTimeSecret) -> impl IntoView {
    view! {
        <div class="secret-once" role="status">
            <p><strong>{secret.subject}</strong>" — copy this now; it will not be shown again:"</p>
            <code class="secret" data-testid="one-time-secret">{secret.secret}</code>
        </div>
    }
}

/// Shows the result of the last submitted action: nothing, a confirmation or an error.
pub fn action_outcome<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
    ok: &'static str,
) -> impl IntoView {
    move || match value.get() {
        Some(Ok(_)) => view! { <p class="form-ok" role="status">{ok}</p> }.into_any(),
        Some(Err(e)) => view! { <FormError error=e/> }.into_any(),
        None => ().into_any(),
    }
}

/// A two-state badge: green for the good state, red for the other.
#[component]
pub fn StateBadge(good: bool, good_text: &'static str, bad_text: &'static str) -> impl IntoView {
    if good {
        view! { <span class="badge badge-good">{good_text}</span> }
    } else {
        view! { <span class="badge badge-bad">{bad_text}</span> }
    }
}
