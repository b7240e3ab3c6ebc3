//! The sign-in page.

use crate::{api::session::SignIn, components::notice::FormError};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let next = move || use_query_map().with_untracked(|q| q.get("next")).unwrap_or_else(|| "/".into());
    // A full page load after signing in, so every part of the page is
    // rendered for the new user (and the session cookie is in effect).
    Effect::new(move |_| {
        if let Some(Ok(target)) = action.value().get() {
            let _ = window().location().set_href(&target);
        }
    });
    view! {
        <Title text="Sign in"/>
        <main id="main" class="signin">
            <section class="panel signin-panel">
                <h1 class="brand"><span class="brand-mark" aria-hidden="true">"◆"</span>" Attest"</h1>
                <p class="muted">"Compliance evidence for Azure OpenAI and Azure AI Services."</p>
                <ActionForm action=action attr:class="form" attr:data-testid="signin-form">
                    <input type="hidden" name="next" value=next/>
                    <label for="username">"User name"</label>
                    <input id="username" name="username" type="text" autocomplete="username" required maxlength="64" autofocus/>
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"/>
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                    {move || action.value().get().and_then(Result::err).map(|error| view! { <FormError error/> })}
                </ActionForm>
            </section>
        </main>
    }
}
