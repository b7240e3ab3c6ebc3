//! Admin: one account — roles, status, password, API tokens.

use crate::{
    api::admin::{
        get_user, list_tokens, CreateToken, GrantRole, ResetPassword, RevokeRole, RevokeToken, SetUserDisabled,
    },
    components::{
        forms::{cleared_on_success, successes, ConfirmButton},
        layout::Layout,
        notice::{action_outcome, ErrorPanel, FormError, SecretOnce, StateBadge},
    },
    model::ROLES,
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn UserDetail() -> impl IntoView {
    let name = move || use_params_map().with(|p| p.get("name").unwrap_or_default());
    let grant = ServerAction::<GrantRole>::new();
    let revoke = ServerAction::<RevokeRole>::new();
    let disable = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetPassword>::new();
    let token = ServerAction::<CreateToken>::new();
    let revoke_token = ServerAction::<RevokeToken>::new();
    let (granted, revoked, toggled) = (successes(grant.value()), successes(revoke.value()), successes(disable.value()));
    let changes = move || (granted.get(), revoked.get(), toggled.get());
    let (grant_form, reset_form, token_form) =
        (cleared_on_success(grant.value()), cleared_on_success(reset.value()), cleared_on_success(token.value()));
    let user = Resource::new(move || (name(), changes()), |(n, _)| get_user(n));
    let (issued, token_revoked) = (successes(token.value()), successes(revoke_token.value()));
    let tokens = Resource::new(move || (name(), issued.get(), token_revoked.get()), |(n, _, _)| list_tokens(n));

    view! {
        <Layout title=name()>
            <p class="crumbs"><a href="/admin/users">"Users"</a>" / "{name}</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let u = match user.await {
                        Err(error) => return view! { <ErrorPanel error/> }.into_any(),
                        Ok(u) => u,
                    };
                    let uname = u.name.clone();
                    let (for_grant, for_reset, for_token, for_toggle) =
                        (uname.clone(), uname.clone(), uname.clone(), uname.clone());
                    let disabled = u.disabled;
                    view! {
                        <h1>{u.name.clone()}
                            <StateBadge good=!disabled good_text="active" bad_text="disabled"/>
                        </h1>
                        <p class="muted">{format!("Created {}", u.created_at)}</p>

                        <section class="panel">
                            <h2>"Roles"</h2>
                            {if u.grants.is_empty() { Some(view! { <p class="muted">"No roles: this user can sign in but sees nothing."</p> }) } else { None }}
                            <ul class="grants" data-testid="grants">
                                {u.grants.into_iter().map(|g| {
                                    let label = if g.scope.is_empty() { g.role.clone() } else { format!("{} @ {}", g.role, g.scope) };
                                    let (n, r, s) = (uname.clone(), g.role.clone(), g.scope.clone());
                                    view! {
                                        <li>
                                            <span class="badge">{label.clone()}</span>
                                            <ConfirmButton label="Revoke" aria_label=format!("Revoke {label}")
                                                question=format!("Revoke {label} from {n}? They lose what it allows at once.")
                                                confirm="Yes, revoke" testid="revoke-role"
                                                on_confirm=Callback::new(move |_| { revoke.dispatch(RevokeRole { name: n.clone(), role: r.clone(), scope: s.clone() }); })/>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {action_outcome(revoke.value(), "Role revoked.")}
                            <ActionForm action=grant node_ref=grant_form attr:class="form form-inline" attr:data-testid="grant-form">
                                <input type="hidden" name="name" value=for_grant/>
                                <label for="grant-role">"Role"</label>
                                <select id="grant-role" name="role">
                                    {ROLES.iter().map(|r| view! { <option value=*r>{*r}</option> }).collect_view()}
                                </select>
                                <label for="grant-scope">"Scope (approver only)"</label>
                                <input id="grant-scope" name="scope" type="text" maxlength="512" placeholder="/subscriptions/…"/>
                                <button type="submit" class="btn btn-primary">"Grant"</button>
                            </ActionForm>
                            {action_outcome(grant.value(), "Role granted.")}
                        </section>

                        <section class="panel">
                            <h2>"Account"</h2>
                            {if disabled {
                                view! {
                                    <button type="button" class="btn" data-testid="toggle-disabled"
                                        on:click=move |_| { disable.dispatch(SetUserDisabled { name: for_toggle.clone(), disabled: false }); }>
                                        "Enable account"
                                    </button>
                                }.into_any()
                            } else {
                                let who = for_toggle.clone();
                                view! {
                                    <ConfirmButton label="Disable account" aria_label=format!("Disable {who}") class="btn"
                                        question=format!("Disable {who}? Their sessions and API tokens stop working until the account is enabled again.")
                                        confirm="Yes, disable" testid="toggle-disabled"
                                        on_confirm=Callback::new(move |_| { disable.dispatch(SetUserDisabled { name: for_toggle.clone(), disabled: true }); })/>
                                }.into_any()
                            }}
                            {action_outcome(disable.value(), "Saved.")}
                            <h3>"Reset password"</h3>
                            <ActionForm action=reset node_ref=reset_form attr:class="form form-inline">
                                <input type="hidden" name="name" value=for_reset/>
                                <label for="reset-password">"New password"</label>
                                <input id="reset-password" name="password" type="password" maxlength="1024" autocomplete="new-password" placeholder="leave empty to generate one"/>
                                <button type="submit" class="btn">"Reset"</button>
                            </ActionForm>
                            {move || match reset.value().get() {
                                Some(Ok(Some(secret))) => view! { <SecretOnce secret/> }.into_any(),
                                Some(Ok(None)) => view! { <p class="form-ok" role="status">"Password changed; existing sessions are signed out."</p> }.into_any(),
                                Some(Err(error)) => view! { <FormError error/> }.into_any(),
                                None => ().into_any(),
                            }}
                        </section>

                        <section class="panel">
                            <h2>"API tokens"</h2>
                            <p class="muted">"A token acts as this user, with this user's roles, on "<code>"/api/v1"</code>" (header "<code>"Authorization: Bearer …"</code>")."</p>
                            <ActionForm action=token node_ref=token_form attr:class="form form-inline">
                                <input type="hidden" name="name" value=for_token/>
                                <label for="token-label">"Label"</label>
                                <input id="token-label" name="label" type="text" required maxlength="100" placeholder="ci-pipeline"/>
                                <button type="submit" class="btn">"Issue token"</button>
                            </ActionForm>
                            {move || match token.value().get() {
                                Some(Ok(secret)) => view! { <SecretOnce secret/> }.into_any(),
                                Some(Err(error)) => view! { <FormError error/> }.into_any(),
                                None => ().into_any(),
                            }}
                            {action_outcome(revoke_token.value(), "Token revoked.")}
                        </section>
                    }.into_any()
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    tokens.await.ok().filter(|t| !t.is_empty()).map(|list| view! {
                        <table class="table" data-testid="tokens-table">
                            <thead><tr><th scope="col">"Label"</th><th scope="col">"Issued"</th><th scope="col">"Last used"</th><th scope="col">"State"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
                                    let id = t.id.clone();
                                    view! {
                                        <tr>
                                            <td>{t.label.clone()}</td>
                                            <td>{format!("{} by {}", t.created_at, t.created_by)}</td>
                                            <td>{t.last_used_at.clone().unwrap_or_else(|| "never".into())}</td>
                                            <td>{if t.revoked { "revoked" } else { "active" }}</td>
                                            <td>{(!t.revoked).then(|| view! {
                                                <ConfirmButton label="Revoke" aria_label=format!("Revoke token {}", t.label)
                                                    question=format!("Revoke the token {}? Whatever uses it is refused from now on.", t.label)
                                                    confirm="Yes, revoke" testid="revoke-token"
                                                    on_confirm=Callback::new(move |_| { revoke_token.dispatch(RevokeToken { id: id.clone() }); })/>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    })
                })}
            </Suspense>
        </Layout>
    }
}
