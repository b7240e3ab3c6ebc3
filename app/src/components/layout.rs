//! The page frame: skip link, header with navigation and the user menu, and
//! the main area. Every signed-in page renders inside it.

use crate::{api::session::SignOut, UserResource};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

#[component]
pub fn Layout(#[prop(into)] title: String, children: Children) -> impl IntoView {
    let user = expect_context::<UserResource>();
    let sign_out = ServerAction::<SignOut>::new();
    // Requests awaiting the signed-in approver, for the count in the navigation.
    let attention = Resource::new(|| (), |_| crate::api::exemptions::attention());
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_out.value().get() {
            let _ = window().location().set_href("/signin");
        }
    });
    let path = use_location().pathname;
    let current = move |href: &'static str| {
        move || {
            let p = path.get();
            let here = if href == "/" { p == "/" } else { p.starts_with(href) };
            here.then_some("page")
        }
    };

    view! {
        <Title text=title/>
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                " Attest"
            </a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let user = user.await.ok().flatten();
                    user.map(|u| {
                        let admin = u.is_admin();
                        let audit = u.may_read_audit();
                        let approver = u.has("approver");
                        let roles = {
                            let mut r: Vec<String> = u.grants.iter().map(|g| g.role.clone()).collect();
                            r.dedup();
                            r.join(", ")
                        };
                        view! {
                            // On narrow screens the navigation folds behind
                            // this toggle: a checkbox, so it works before
                            // (and without) hydration.
                            <input type="checkbox" id="nav-toggle" class="nav-toggle"/>
                            <label for="nav-toggle" class="nav-toggle-label" data-testid="nav-toggle">"Menu"</label>
                            <nav class="mainnav" aria-label="Main">
                                <a href="/" aria-current=current("/")>"Dashboard"</a>
                                <a href="/findings" aria-current=current("/findings")>"Findings"</a>
                                <a href="/frameworks" aria-current=current("/frameworks")>"Frameworks"</a>
                                {audit.then(|| view! { <a href="/access" aria-current=current("/access") data-testid="nav-access">"Access"</a> })}
                                {audit.then(|| view! { <a href="/reviews" aria-current=current("/reviews") data-testid="nav-reviews">"Reviews"</a> })}
                                <a href="/exemptions" aria-current=current("/exemptions") title="Approved exemptions that drifted or expire within 14 days">
                                    "Exemptions"
                                    <Suspense fallback=|| ()>
                                        {move || Suspend::new(async move {
                                            let flagged = attention.await.map(|(_, n)| n).unwrap_or(0);
                                            (flagged > 0).then(|| view! { " "<span class="count count-warn" data-testid="exemptions-flagged">{flagged}</span> })
                                        })}
                                    </Suspense>
                                </a>
                                {approver.then(|| view! {
                                    <a href="/approvals" aria-current=current("/approvals") data-testid="nav-approvals">
                                        "Approvals"
                                        <Suspense fallback=|| ()>
                                            {move || Suspend::new(async move {
                                                let waiting = attention.await.map(|(n, _)| n).unwrap_or(0);
                                                (waiting > 0).then(|| view! { " "<span class="count" data-testid="approvals-count">{waiting}</span> })
                                            })}
                                        </Suspense>
                                    </a>
                                })}
                                <a href="/snapshots" aria-current=current("/snapshots")>"Snapshots"</a>
                                {admin.then(|| view! { <a href="/admin/users" aria-current=current("/admin/users")>"Users"</a> })}
                                {admin.then(|| view! { <a href="/admin/assignments" aria-current=current("/admin/assignments")>"Assignments"</a> })}
                                {audit.then(|| view! { <a href="/admin/audit" aria-current=current("/admin/audit")>"Audit log"</a> })}
                            </nav>
                            <div class="usermenu">
                                <span class="who" data-testid="signed-in-as">
                                    <strong>{u.name.clone()}</strong>
                                    <span class="muted">{format!(" · {}", if roles.is_empty() { "no roles".to_string() } else { roles })}</span>
                                </span>
                                <ActionForm action=sign_out>
                                    <button type="submit" class="btn btn-quiet" data-testid="sign-out">"Sign out"</button>
                                </ActionForm>
                            </div>
                        }
                    })
                })}
            </Suspense>
        </header>
        <main id="main" class="content" tabindex="-1">
            {children()}
        </main>
        <footer class="footer muted">"Attest · compliance evidence for Azure OpenAI estates"</footer>
    }
}

/// A restricted page's body: for anyone without one of `roles` (admin by
/// default), the refusal alone, without the forms they would see around it.
#[component]
pub fn RolesOnly(#[prop(default = &["admin"])] roles: &'static [&'static str], children: ChildrenFn) -> impl IntoView {
    let user = expect_context::<UserResource>();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let allowed = user.await.ok().flatten().is_some_and(|u| roles.iter().any(|r| u.has(r)));
                if allowed {
                    children.with_value(|c| c()).into_any()
                } else {
                    view! { <crate::components::notice::ErrorPanel error=crate::model::AppError::Forbidden/> }.into_any()
                }
            })}
        </Suspense>
    }
}
