//! The exemptions list: Attest's exemptions filtered by state, category,
//! expiry and scope; Azure Policy's own exemptions from the newest
//! snapshot beside them; and, for admins, the longest expiry per severity.

use crate::{
    api::exemptions::{list_exemptions, SetExemptionLimit},
    components::{
        forms::successes,
        layout::Layout,
        notice::{action_outcome, ErrorPanel},
    },
    model::{ExemptionItem, ExemptionsQuery},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// An exemption state as a badge.
#[component]
pub fn ExemptionState(state: String, #[prop(optional)] drifted: bool) -> impl IntoView {
    let class = match state.as_str() {
        "approved" => "badge badge-good",
        "pending" => "badge badge-warn",
        "rejected" | "revoked" | "expired" => "badge badge-bad",
        _ => "badge",
    };
    let attr = state.clone();
    view! {
        <span class=class data-state=attr>{state}</span>
        {drifted.then(|| view! { " "<span class="badge badge-bad" title="A covered finding changed since approval">"drifted"</span> })}
    }
}

/// A table of exemptions, each linking to its page.
#[component]
pub fn ExemptionTable(items: Vec<ExemptionItem>, #[prop(into)] testid: String) -> impl IntoView {
    view! {
        <table class="table" data-testid=testid>
            <thead><tr>
                <th scope="col">"#"</th><th scope="col">"State"</th><th scope="col">"Category"</th>
                <th scope="col">"Scope"</th><th scope="col">"Controls"</th><th scope="col">"Severity"</th>
                <th scope="col">"Requested by"</th><th scope="col">"Expires"</th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|e| {
                    let href = format!("/exemptions/{}", e.id);
                    view! {
                        <tr data-testid="exemption-row" data-id=e.id.to_string()>
                            <td><a href=href>{format!("#{}", e.id)}</a></td>
                            <td><ExemptionState state=e.state.clone() drifted=e.drifted/></td>
                            <td>{e.category.clone()}</td>
                            <td><code class="wrap">{e.scope.clone()}</code></td>
                            <td>{e.controls.clone()}</td>
                            <td>{e.severity.clone()}</td>
                            <td>{e.requested_by.clone()}<br/><span class="muted">{e.requested_at.clone()}</span></td>
                            <td>{e.expires_on.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn Exemptions() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        query_map.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            ExemptionsQuery {
                state: get("state"),
                category: get("category"),
                expiring: get("expiring"),
                scope: get("scope"),
            }
        })
    };
    let set_limit = ServerAction::<SetExemptionLimit>::new();
    let limited = successes(set_limit.value());
    let data = Resource::new(move || (query(), limited.get()), |(q, _)| list_exemptions(q));
    view! {
        <Layout title="Exemptions">
            <h1>"Exemptions"</h1>
            <p class="muted">"Requests to exempt a scope from a control, decided by approvers. An approved exemption makes the findings it was approved against Exempt until it expires, is revoked, or a later snapshot shows a finding in another state (drift)."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let q = query();
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let count = v.items.len();
                            view! {
                                {v.may_request.then(|| view! { <p><a class="btn" href="/exemptions/new">"Request an exemption for a scope"</a></p> })}
                                <form method="get" action="/exemptions" class="form form-inline panel" data-testid="exemption-filters">
                                    <label for="f-state">"State"</label>
                                    <select id="f-state" name="state">
                                        {["", "pending", "approved", "rejected", "withdrawn", "expired", "revoked"].into_iter().map(|s| {
                                            let selected = s == q.state;
                                            view! { <option value=s selected=selected>{if s.is_empty() { "any" } else { s }}</option> }
                                        }).collect_view()}
                                    </select>
                                    <label for="f-category">"Category"</label>
                                    <select id="f-category" name="category">
                                        {["", "Waiver", "Mitigated"].into_iter().map(|s| {
                                            let selected = s == q.category;
                                            view! { <option value=s selected=selected>{if s.is_empty() { "any" } else { s }}</option> }
                                        }).collect_view()}
                                    </select>
                                    <label for="f-expiring">"Expiring within (days)"</label>
                                    <input id="f-expiring" name="expiring" type="number" min="0" max="3650" value=q.expiring.clone()/>
                                    <label for="f-scope">"Scope starts with"</label>
                                    <input id="f-scope" name="scope" maxlength="512" value=q.scope.clone() placeholder="/subscriptions/…"/>
                                    <button type="submit" class="btn btn-primary">"Filter"</button>
                                </form>
                                <p class="muted" data-testid="exemptions-count">{format!("{count} {}", if count == 1 { "exemption" } else { "exemptions" })}</p>
                                {if v.items.is_empty() {
                                    view! { <section class="panel empty-state"><p>"No exemption matches."</p></section> }.into_any()
                                } else {
                                    view! { <ExemptionTable items=v.items.clone() testid="exemptions-table"/> }.into_any()
                                }}
                                <section class="panel" data-testid="azure-exemptions">
                                    <h2>"Azure Policy exemptions"</h2>
                                    <p class="muted">{match &v.azure_snapshot {
                                        Some(s) => format!("Found in Azure by the newest snapshot ({s}). They apply to Azure's own assignments; approve them in Azure."),
                                        None => "No snapshot is stored yet.".to_string(),
                                    }}</p>
                                    {if v.azure.is_empty() {
                                        view! { <p class="muted">"None."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="table">
                                                <thead><tr><th scope="col">"Name"</th><th scope="col">"Category"</th><th scope="col">"Assignment"</th><th scope="col">"Expires"</th></tr></thead>
                                                <tbody>
                                                    {v.azure.iter().map(|a| view! {
                                                        <tr>
                                                            <td>{if a.display_name.is_empty() { a.name.clone() } else { a.display_name.clone() }}<br/><code class="muted wrap">{a.id.clone()}</code></td>
                                                            <td>{a.category.clone()}</td>
                                                            <td><code class="wrap">{a.policy_assignment_id.clone()}</code></td>
                                                            <td>{if a.expires_on.is_empty() { "never".to_string() } else { a.expires_on.clone() }}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                                <section class="panel" data-testid="exemption-limits">
                                    <h2>"Longest expiry"</h2>
                                    <ul>
                                        {v.limits.iter().map(|(s, d)| view! { <li>{format!("{s} severity: {d} days")}</li> }).collect_view()}
                                    </ul>
                                    {v.may_set_limits.then(|| view! {
                                        <ActionForm action=set_limit attr:class="form form-inline">
                                            <label for="limit-severity">"Severity"</label>
                                            <select id="limit-severity" name="severity">
                                                <option value="High">"High"</option>
                                                <option value="Medium">"Medium"</option>
                                                <option value="Low">"Low"</option>
                                            </select>
                                            <label for="limit-days">"Days"</label>
                                            <input id="limit-days" name="max_days" type="number" min="1" max="3650" required=true/>
                                            <button type="submit" class="btn">"Set"</button>
                                        </ActionForm>
                                        {action_outcome(set_limit.value(), "Saved.")}
                                    })}
                                </section>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
