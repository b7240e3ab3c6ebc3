//! One principal's page: who it is (as Microsoft Graph said), what it can
//! do to every AI account and through which assignments, and what PIM
//! makes it eligible for without holding it.

use crate::{
    api::access::principal_access,
    components::{layout::Layout, notice::ErrorPanel},
    pages::access::{scope_label, Coverage, Flags, Levels, PrincipalBadges, Through},
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn PrincipalPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let data = Resource::new(id, principal_access);
    view! {
        <Layout title="Principal">
            <p class="crumbs"><a href="/access">"Access"</a>" / principal"</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let p = v.principal.clone();
                            let flagged = v.accounts.iter().filter(|a| !a.flags.is_empty()).count();
                            view! {
                                <h1 data-testid="principal-name">{p.name.clone()}</h1>
                                <p><PrincipalBadges principal=p.clone()/></p>
                                <dl class="facts">
                                    <dt>"Object id"</dt><dd><code>{p.id.clone()}</code></dd>
                                    {(!p.detail.is_empty()).then(|| view! { <dt>{if p.kind == "user" { "Sign-in name" } else { "Application id" }}</dt><dd><code>{p.detail.clone()}</code></dd> })}
                                    <dt>"Snapshot"</dt><dd><a href={format!("/snapshots/{}", v.snapshot_id)}>{v.snapshot_at.clone()}</a></dd>
                                </dl>
                                <Coverage graph=v.graph pim=v.pim/>
                                {p.members.clone().map(|members| view! { <Members members/> })}
                                {(!v.groups.is_empty()).then(|| view! { <Groups groups=v.groups.clone()/> })}
                                <h2 class="spaced">{format!("Active access: {} {}", v.accounts.len(), if v.accounts.len() == 1 { "account" } else { "accounts" })}</h2>
                                {(flagged > 0).then(|| view! { <p class="muted" data-testid="principal-flagged">{format!("{flagged} of them flagged")}</p> })}
                                {if v.accounts.is_empty() {
                                    let text = if v.groups.is_empty() {
                                        "No role assignment gives this principal access to an AI account."
                                    } else {
                                        "No role assignment names this principal itself; what it holds comes through the groups above."
                                    };
                                    view! { <p class="panel empty-state">{text}</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="principal-accounts">
                                            <thead><tr><th scope="col">"Account"</th><th scope="col">"Can"</th><th scope="col">"Through"</th><th scope="col">"Flags"</th></tr></thead>
                                            <tbody>
                                                {v.accounts.into_iter().map(|item| view! {
                                                    <tr data-testid="principal-account">
                                                        <td class="nowrap">
                                                            <a href=item.account_href.clone() title=item.account_id.clone()>{item.account_name.clone()}</a>
                                                            <span class="place muted"><a href={crate::pages::access::href(&crate::model::AccessQuery { account: item.account_id.clone(), ..Default::default() })}>"everyone on it"</a></span>
                                                        </td>
                                                        <td><Levels item=item.clone()/></td>
                                                        <td><Through item=item.clone()/></td>
                                                        <td><Flags item=item/></td>
                                                    </tr>
                                                }.into_any()).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                <h2>"Eligible through PIM"</h2>
                                {if v.eligible.is_empty() {
                                    view! { <p class="muted" data-testid="no-eligible">{if v.pim { "No eligible role assignments." } else { "Unknown: PIM was not read." }}</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="principal-eligible">
                                            <thead><tr><th scope="col">"Role"</th><th scope="col">"Scope"</th><th scope="col">"Accounts it would reach"</th><th scope="col">"Window"</th></tr></thead>
                                            <tbody>
                                                {v.eligible.into_iter().map(|e| view! {
                                                    <tr data-testid="eligible-row">
                                                        <td>{e.role}</td>
                                                        <td title=e.scope.clone()>{scope_label(&e.scope)}</td>
                                                        <td>{if e.accounts.is_empty() { "—".to_string() } else { e.accounts.join(", ") }}</td>
                                                        <td class="nowrap">{format!("{} → {}", if e.start.is_empty() { "—" } else { &e.start }, if e.end.is_empty() { "no end" } else { &e.end })}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// A group's members, as Graph listed them when the snapshot was taken:
/// each of them holds what the group holds.
#[component]
fn Members(members: Vec<crate::model::MemberItem>) -> AnyView {
    view! {
        <h2 class="spaced">{format!("Members: {}", members.len())}</h2>
        <p class="muted">"Direct and nested members hold everything this group holds."</p>
        {if members.is_empty() {
            view! { <p class="panel empty-state" data-testid="no-members">"The group has no members."</p> }.into_any()
        } else {
            view! {
                <table class="table" data-testid="group-members">
                    <thead><tr><th scope="col">"Member"</th><th scope="col">"Kind"</th><th scope="col">"Sign-in name"</th></tr></thead>
                    <tbody>
                        {members.into_iter().map(|m| view! {
                            <tr data-testid="group-member">
                                <td><a href=crate::pages::access::principal_href(&m.id)>{m.name.clone()}</a></td>
                                <td>
                                    <span class="badge">{crate::model::principal_kind_label(&m.kind)}</span>
                                    {m.guest.then(|| view! { " "<span class="badge badge-warn">"guest"</span> })}
                                    {m.disabled.then(|| view! { " "<span class="badge">"disabled"</span> })}
                                </td>
                                <td>{if m.detail.is_empty() { "—".to_string() } else { m.detail.clone() }}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
    .into_any()
}

/// The groups a principal holds access through.
#[component]
fn Groups(groups: Vec<crate::model::GroupItem>) -> AnyView {
    view! {
        <h2 class="spaced">"Through groups"</h2>
        <ul class="plain" data-testid="principal-groups">
            {groups.into_iter().map(|g| view! {
                <li data-testid="principal-group">
                    <a href=crate::pages::access::principal_href(&g.id)>{g.name.clone()}</a>
                    <span class="muted">{format!(" reaches {}", summary(&g.accounts))}</span>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// At most five names, and how many more.
fn summary(names: &[String]) -> String {
    match names.len() {
        0..=5 => names.join(", "),
        n => format!("{} and {} more", names[..5].join(", "), n - 5),
    }
}
