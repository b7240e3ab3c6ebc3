//! Admin: the list of accounts, and creating one.

use crate::{
    api::admin::{list_users, CreateUser},
    components::{
        forms::{cleared_on_success, successes},
        layout::{Layout, RolesOnly},
        notice::{ErrorPanel, FormError, SecretOnce, StateBadge},
    },
};
use leptos::prelude::*;

#[component]
pub fn Users() -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let created = successes(create.value());
    let users = Resource::new(move || created.get(), |_| list_users());
    let create_form = cleared_on_success(create.value());
    view! {
        <Layout title="Users">
            <h1>"Users"</h1>
            <RolesOnly>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="users-table">
                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Roles"</th><th scope="col">"Status"</th><th scope="col">"Created"</th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| {
                                        let href = format!("/admin/users/{}", u.name);
                                        let roles = u.grants.iter().map(|g| if g.scope.is_empty() { g.role.clone() } else { format!("{} @ {}", g.role, g.scope) }).collect::<Vec<_>>().join(", ");
                                        view! {
                                            <tr>
                                                <td><a href=href>{u.name.clone()}</a></td>
                                                <td>{if roles.is_empty() { "—".to_string() } else { roles }}</td>
                                                <td><StateBadge good=!u.disabled good_text="active" bad_text="disabled"/></td>
                                                <td>{u.created_at}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            <section class="panel">
                <h2>"Create a user"</h2>
                <ActionForm action=create node_ref=create_form attr:class="form form-inline" attr:data-testid="create-user-form">
                    <label for="new-name">"User name"</label>
                    <input id="new-name" name="name" type="text" required maxlength="64" autocomplete="off"/>
                    <label for="new-password">"Password"</label>
                    <input id="new-password" name="password" type="password" maxlength="1024" autocomplete="new-password" placeholder="leave empty to generate one"/>
                    <button type="submit" class="btn btn-primary">"Create"</button>
                </ActionForm>
                {move || match create.value().get() {
                    Some(Ok(Some(secret))) => view! { <SecretOnce secret/> }.into_any(),
                    Some(Ok(None)) => view! { <p class="form-ok" role="status">"User created. Grant a role on their page."</p> }.into_any(),
                    Some(Err(error)) => view! { <FormError error/> }.into_any(),
                    None => ().into_any(),
                }}
            </section>
            </RolesOnly>
        </Layout>
    }
}
