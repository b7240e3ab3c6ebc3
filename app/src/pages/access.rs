//! The Access page: who can do what to each AI account, at the levels an
//! auditor reads at a glance, through which role assignments, with the
//! flags those assignments raise; filtered by account, subscription,
//! principal type, level and flag, paged on the server.

use crate::{
    api::access::list_access,
    components::{layout::Layout, notice::ErrorPanel, pager::Pager},
    model::{principal_kind_label, AccessItem, AccessQuery, PrincipalSummary},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The page's URL for `q`.
pub fn href(q: &AccessQuery) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("account", &q.account),
        ("subscription", &q.subscription),
        ("principal_type", &q.principal_type),
        ("level", &q.level),
        ("flag", &q.flag),
    ] {
        if !v.is_empty() {
            url.append_pair(k, v);
        }
    }
    if q.flagged {
        url.append_pair("flagged", "true");
    }
    if q.page > 1 {
        url.append_pair("page", &q.page.to_string());
    }
    format!("/access?{}", url.finish())
}

/// A principal's page.
pub fn principal_href(id: &str) -> String {
    format!("/access/principals/{id}")
}

/// Where the directory's answer leaves a principal: a badge for guests,
/// deleted principals and ids Graph was not asked about.
#[component]
pub fn PrincipalBadges(principal: PrincipalSummary) -> AnyView {
    view! {
        <span class="badge" data-testid="principal-kind">{principal_kind_label(&principal.kind)}</span>
        {principal.guest.then(|| view! { " "<span class="badge badge-warn" data-testid="principal-guest">"guest"</span> })}
        {match principal.resolution.as_str() {
            "deleted" => Some(view! { " "<span class="badge badge-bad" data-testid="principal-deleted">"deleted from the directory"</span> }.into_any()),
            "unresolved" => Some(view! { " "<span class="badge" title="Microsoft Graph was not read for this principal" data-testid="principal-unresolved">"unresolved"</span> }.into_any()),
            _ => None,
        }}
        {principal.members.map(|m| {
            let names: Vec<String> = m.iter().map(|m| m.name.clone()).collect();
            view! { " "<span class="badge" title=names.join(", ") data-testid="principal-members">{format!("{} {}", m.len(), if m.len() == 1 { "member" } else { "members" })}</span> }
        })}
    }
    .into_any()
}

/// What the snapshot could not see, said before the table.
#[component]
pub fn Coverage(graph: bool, pim: bool) -> AnyView {
    view! {
        {(!graph).then(|| view! {
            <p class="panel warn" data-testid="no-graph">"Microsoft Graph was not read for this snapshot: principals are shown by object id, and deleted principals and guests cannot be told apart."</p>
        })}
        {(!pim).then(|| view! {
            <p class="panel warn" data-testid="no-pim">"PIM schedules were not read for this snapshot: access activated for a limited time cannot be told from standing access, and eligible assignments are not shown."</p>
        })}
    }
    .into_any()
}

/// The levels of one row, strongest first; conditional ones marked.
#[component]
pub fn Levels(item: AccessItem) -> AnyView {
    view! {
        <ul class="plain levels">
            {item.levels.into_iter().map(|l| {
                let class = match l.level.as_str() {
                    "owner_level" | "manage_access" | "read_keys" => "badge badge-bad",
                    "change_network_or_filters" | "deploy_models" => "badge badge-warn",
                    _ => "badge",
                };
                view! {
                    <li data-testid="level" data-level=l.level.clone()>
                        <span class=class>{l.label}</span>
                        {l.conditional.then(|| view! { <span class="muted" title="Held only where the assignment's condition allows">" (conditional)"</span> })}
                    </li>
                }
            }).collect_view()}
            {(!item.denied_by.is_empty()).then(|| view! {
                <li class="muted" data-testid="denied" title=item.denied_by.join("\n")>{match item.denied_by.len() { 1 => "A deny assignment removes some of what the roles grant".to_string(), n => format!("{n} deny assignments remove some of what the roles grant") }}</li>
            })}
        </ul>
    }
    .into_any()
}

/// The assignments of one row: role, where it is made, how it is held.
#[component]
pub fn Through(item: AccessItem) -> AnyView {
    view! {
        <ul class="plain">
            {item.assignments.into_iter().map(|a| view! {
                <li data-testid="through">
                    <a href=a.href title=a.id.clone()>{a.role.clone()}</a>
                    {a.custom_role.then(|| view! { " "<span class="badge">"custom"</span> })}
                    {a.inherited.then(|| view! { <span class="muted" title=a.scope.clone()>{format!(" · inherited from {}", scope_label(&a.scope))}</span> })}
                    {a.activated.then(|| view! { " "<span class="badge badge-good" title="Activated through PIM for a limited time">"PIM activated"</span> })}
                    {a.conditional.then(|| view! { " "<span class="badge" title="The assignment carries an ABAC condition">"condition"</span> })}
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// The flags of one row, each linking to its findings.
#[component]
pub fn Flags(item: AccessItem) -> AnyView {
    if item.flags.is_empty() {
        return view! { <span class="muted">"none"</span> }.into_any();
    }
    view! {
        <ul class="plain">
            {item.flags.into_iter().map(|f| {
                let class = if f.severity == "High" { "badge badge-bad" } else { "badge badge-warn" };
                let findings = format!("/findings?{}", form_urlencoded::Serializer::new(String::new()).append_pair("control", &f.check).append_pair("resource", &f.assignment).finish());
                view! {
                    <li data-testid="flag" data-check=f.check.clone()>
                        <span class=class>{f.severity}</span>" "
                        <a href=findings title=f.reasons.join("; ")>{f.title}</a>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// A scope as a person reads it: its last named segment and what it is.
pub fn scope_label(scope: &str) -> String {
    let parts: Vec<&str> = scope.trim_matches('/').split('/').collect();
    if scope.trim_matches('/').is_empty() {
        return "the root".into();
    }
    match parts.as_slice() {
        [.., kind, name] if kind.eq_ignore_ascii_case("resourceGroups") => format!("resource group {name}"),
        [.., kind, name] if kind.eq_ignore_ascii_case("managementGroups") => format!("management group {name}"),
        ["subscriptions", id] => format!("subscription {id}"),
        [.., name] => name.to_string(),
        [] => scope.to_string(),
    }
}

#[component]
pub fn Access() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        query_map.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            AccessQuery {
                account: get("account"),
                subscription: get("subscription"),
                principal_type: get("principal_type"),
                level: get("level"),
                flag: get("flag"),
                flagged: q.get("flagged").is_some_and(|v| v == "true" || v == "1"),
                page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            }
        })
    };
    let data = Resource::new(query, list_access);
    let option = |value: String, label: String, current: &str| {
        let selected = value == current;
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <Layout title="Access">
            <h1>"Access"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let q = query();
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let prev = (v.page > 1).then(|| href(&AccessQuery { page: v.page - 1, ..q.clone() }));
                            let next = (v.page < v.pages).then(|| href(&AccessQuery { page: v.page + 1, ..q.clone() }));
                            let any = || option(String::new(), "any".into(), "");
                            view! {
                                <p class="muted">{format!("Who can do what to each AI account, in the snapshot of {} · ", v.snapshot_at)}
                                    <a href={format!("/snapshots/{}?kind=role_assignment", v.snapshot_id)}>"its role assignments"</a></p>
                                <Coverage graph=v.graph pim=v.pim/>
                                <form method="get" action="/access" class="form form-inline" data-testid="access-filters">
                                    <label for="a-account">"Account"</label>
                                    <select id="a-account" name="account">
                                        {any()}
                                        {v.accounts.iter().map(|(id, name)| option(id.clone(), name.clone(), &q.account)).collect_view()}
                                    </select>
                                    <label for="a-subscription">"Subscription"</label>
                                    <select id="a-subscription" name="subscription">
                                        {any()}
                                        {v.subscriptions.iter().map(|s| option(s.clone(), s.clone(), &q.subscription)).collect_view()}
                                    </select>
                                    <label for="a-type">"Principal"</label>
                                    <select id="a-type" name="principal_type">
                                        {any()}
                                        {v.principal_types.iter().map(|(k, label)| option(k.clone(), label.clone(), &q.principal_type)).collect_view()}
                                    </select>
                                    <label for="a-level">"Level"</label>
                                    <select id="a-level" name="level">
                                        {any()}
                                        {v.levels.iter().map(|(k, label)| option(k.clone(), label.clone(), &q.level)).collect_view()}
                                    </select>
                                    <label for="a-flag">"Flag"</label>
                                    <select id="a-flag" name="flag">
                                        {any()}
                                        {v.flags.iter().map(|(k, label)| option(k.clone(), label.clone(), &q.flag)).collect_view()}
                                    </select>
                                    <label class="check"><input type="checkbox" name="flagged" value="true" checked=q.flagged data-testid="flagged-only"/>" flagged only"</label>
                                    <button type="submit" class="btn btn-primary">"Apply"</button>
                                    <a class="btn btn-quiet" href="/access">"Clear"</a>
                                </form>
                                <p class="muted" data-testid="access-count">{format!("{} {}", v.total, if v.total == 1 { "principal on an account" } else { "principals on accounts" })}</p>
                                {if v.items.is_empty() {
                                    view! { <p class="panel empty-state">"No access matches these filters."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="access-table">
                                            <thead><tr>
                                                <th scope="col">"Account"</th>
                                                <th scope="col">"Principal"</th>
                                                <th scope="col">"Can"</th>
                                                <th scope="col">"Through"</th>
                                                <th scope="col">"Flags"</th>
                                            </tr></thead>
                                            <tbody>
                                                {v.items.into_iter().map(|item| { let flagged = !item.flags.is_empty(); view! {
                                                    <tr data-testid="access-row" class:flagged=flagged>
                                                        <td class="nowrap"><a href=item.account_href.clone() title=item.account_id.clone()>{item.account_name.clone()}</a></td>
                                                        <td>
                                                            <a href=principal_href(&item.principal.id) data-testid="principal-link">{item.principal.name.clone()}</a>
                                                            {(!item.principal.detail.is_empty()).then(|| view! { <span class="place muted">{item.principal.detail.clone()}</span> })}
                                                            <span class="place"><PrincipalBadges principal=item.principal.clone()/></span>
                                                        </td>
                                                        <td><Levels item=item.clone()/></td>
                                                        <td><Through item=item.clone()/></td>
                                                        <td><Flags item=item/></td>
                                                    </tr>
                                                }.into_any() }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                                <Pager page=v.page pages=v.pages prev next/>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
