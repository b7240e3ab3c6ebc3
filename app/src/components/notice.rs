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
        // A bad parameter in the address (a filter, an id): say which.
        AppError::Invalid { .. } => (
            "This address asks for something that does not exist",
            "Correct it, or start again from the page's own links.",
        ),
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

/// The one-time message a form post left for a page (see [`FlashNote`]).
pub type FlashResource = Resource<Result<Option<crate::model::Flash>, AppError>>;

/// Asks for the message left for the page `page()` names. Create it at the
/// top of the page component: server rendering waits for resources made
/// there, not for ones made while a suspended section renders.
pub fn flash_for(page: impl Fn() -> String + Send + Sync + 'static) -> FlashResource {
    Resource::new(page, crate::api::session::take_flash)
}

/// The one-time message a form post left for this page, if any: an error
/// (`{testid}-error`) or a confirmation (`{testid}-ok`).
#[component]
pub fn FlashNote(flash: FlashResource, testid: &'static str, #[prop(optional)] prefix: &'static str) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                flash.await.ok().flatten().map(|f| if f.error {
                    view! { <p class="form-error panel" role="alert" data-testid=format!("{testid}-error")>{format!("{prefix}{}", f.text)}</p> }.into_any()
                } else {
                    view! { <p class="form-ok panel" role="status" data-testid=format!("{testid}-ok")>{f.text}</p> }.into_any()
                })
            })}
        </Suspense>
    }
}

/// An inline error under a form. An exemption it names ("exemption #12")
/// becomes a link to it.
#[component]
pub fn FormError(error: AppError) -> impl IntoView {
    let text = error.to_string();
    let linked = text.find("exemption #").and_then(|at| {
        let digits: String = text[at + 11..].chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some((at, digits))
    });
    match linked {
        Some((at, id)) => {
            let (before, rest) = text.split_at(at);
            let after = rest[11 + id.len()..].to_string();
            view! { <p class="form-error" role="alert">{before.to_string()}<a href=format!("/exemptions/{id}") data-testid="error-link">{format!("exemption #{id}")}</a>{after}</p> }.into_any()
        }
        None => view! { <p class="form-error" role="alert">{text}</p> }.into_any(),
    }
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
