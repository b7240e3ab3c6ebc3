//! Attest's web app: the HTML shell, the routes, and the WebAssembly entry
//! point that hydrates server-rendered pages in the browser.

pub mod api;
pub mod components;
pub mod model;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use model::{AppError, SessionUser};

/// The signed-in user, loaded once per page and shared through context.
pub type UserResource = Resource<Result<Option<SessionUser>, AppError>>;

/// The HTML document around the app. On the server it also sets the
/// Content-Security-Policy with this response's script nonce.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Scripts run only with this response's nonce (Leptos puts it on every
/// inline script it writes); WebAssembly may compile; everything else comes
/// from this origin or nowhere.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use leptos::nonce::use_nonce;
    let (Some(nonce), Some(res)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'none'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         connect-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         manifest-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let user: UserResource = Resource::new(|| (), |_| api::session::current_user());
    provide_context(user);

    // Marks the page as hydrated, so tests (and people) know the buttons work.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="attest" href="/pkg/attest.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Attest".to_string() } else { format!("{page} · Attest") }/>
        <Router>
            <Routes fallback=pages::not_found::NotFound>
                <Route path=path!("/signin") view=pages::signin::SignIn ssr=SsrMode::Async/>
                <Route path=path!("/") view=pages::dashboard::Dashboard ssr=SsrMode::Async/>
                <Route path=path!("/snapshots") view=pages::snapshots::Snapshots ssr=SsrMode::Async/>
                <Route path=path!("/snapshots/:id") view=pages::inventory::Inventory ssr=SsrMode::Async/>
                <Route path=path!("/snapshots/:id/resource") view=pages::resource::ResourcePage ssr=SsrMode::Async/>
                <Route path=path!("/diff") view=pages::diff::Diff ssr=SsrMode::Async/>
                <Route path=path!("/findings") view=pages::findings::Findings ssr=SsrMode::Async/>
                <Route path=path!("/findings/:id") view=pages::finding::FindingPage ssr=SsrMode::Async/>
                <Route path=path!("/exemptions") view=pages::exemptions::Exemptions ssr=SsrMode::Async/>
                <Route path=path!("/exemptions/new") view=pages::exemption_new::NewExemption ssr=SsrMode::Async/>
                <Route path=path!("/exemptions/:id") view=pages::exemption::ExemptionPage ssr=SsrMode::Async/>
                <Route path=path!("/approvals") view=pages::approvals::Approvals ssr=SsrMode::Async/>
                <Route path=path!("/access") view=pages::access::Access ssr=SsrMode::Async/>
                <Route path=path!("/access/principals/:id") view=pages::principal::PrincipalPage ssr=SsrMode::Async/>
                <Route path=path!("/reviews") view=pages::reviews::Reviews ssr=SsrMode::Async/>
                <Route path=path!("/reviews/:id") view=pages::review::ReviewPage ssr=SsrMode::Async/>
                <Route path=path!("/frameworks") view=pages::frameworks::Frameworks ssr=SsrMode::Async/>
                <Route path=path!("/import") view=pages::import::Import ssr=SsrMode::Async/>
                <Route path=path!("/admin/users") view=pages::users::Users ssr=SsrMode::Async/>
                <Route path=path!("/admin/users/:name") view=pages::user::UserDetail ssr=SsrMode::Async/>
                <Route path=path!("/admin/audit") view=pages::audit::AuditLog ssr=SsrMode::Async/>
                <Route path=path!("/admin/assignments") view=pages::assignments::Assignments ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// The WebAssembly entry point: attaches the app to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
