//! The findings list: the newest evaluation's findings, filtered by state,
//! severity, control, framework and resource, grouped by control and paged
//! on the server.

use crate::{
    api::findings::list_findings,
    components::{layout::Layout, notice::ErrorPanel, pager::Pager},
    model::FindingsQuery,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The filters of `q` that are set, as URL query pairs.
fn filters(q: &FindingsQuery) -> form_urlencoded::Serializer<'static, String> {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("state", &q.state),
        ("severity", &q.severity),
        ("control", &q.control),
        ("framework", &q.framework),
        ("area", &q.area),
        ("subscription", &q.subscription),
        ("resource", &q.resource),
    ] {
        if !v.is_empty() {
            url.append_pair(k, v);
        }
    }
    url
}

/// The list's URL for `q`.
pub fn href(q: &FindingsQuery) -> String {
    let mut url = filters(q);
    if q.all {
        url.append_pair("all", "1");
    }
    if !q.sort.is_empty() && q.sort != "resource" {
        url.append_pair("sort", &q.sort);
    }
    if q.page > 1 {
        url.append_pair("page", &q.page.to_string());
    }
    format!("/findings?{}", url.finish())
}

/// The same filters as `q`, as the CSV export of `GET /api/v1/findings.csv`
/// (every matching finding, not one page).
fn csv_href(q: &FindingsQuery, failing_only: bool) -> String {
    let mut url = filters(q);
    if failing_only {
        url.append_pair("failing", "1");
    }
    format!("/api/v1/findings.csv?{}", url.finish())
}

/// A column heading that sorts each control's findings by it: a link to
/// the same list in that order, or the reverse when it is already so (state
/// sorts one way). `aria-sort` tells assistive technology which it is.
#[component]
fn SortHeader(label: &'static str, key: &'static str, q: FindingsQuery) -> impl IntoView {
    let current = if q.sort.is_empty() { "resource" } else { q.sort.as_str() };
    let desc = format!("-{key}");
    let (aria, arrow, next) = if current == key {
        ("ascending", " ▲", if key == "state" { key.to_string() } else { desc })
    } else if current == desc {
        ("descending", " ▼", key.to_string())
    } else {
        ("none", "", key.to_string())
    };
    let link = href(&FindingsQuery { sort: next, page: 1, ..q });
    view! {
        <th scope="col" aria-sort=aria>
            <a href=link class="sort" data-testid=format!("sort-{key}")>{label}<span aria-hidden="true">{arrow}</span></a>
        </th>
    }
}

/// A state as a badge: red for failing, green for passing, grey otherwise.
#[component]
pub fn StateTag(state: String) -> impl IntoView {
    let class = match state.as_str() {
        "NonCompliant" | "Error" => "badge badge-bad",
        "Compliant" => "badge badge-good",
        _ => "badge",
    };
    let attr = state.clone();
    view! { <span class=class data-state=attr>{state}</span> }
}

#[component]
pub fn Findings() -> impl IntoView {
    let query_map = use_query_map();
    let query = move || {
        query_map.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            FindingsQuery {
                state: get("state"),
                severity: get("severity"),
                control: get("control"),
                framework: get("framework"),
                area: get("area"),
                subscription: get("subscription"),
                resource: get("resource"),
                page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
                all: q.get("all").is_some_and(|v| v == "1"),
                sort: get("sort"),
            }
        })
    };
    let data = Resource::new(query, list_findings);
    let option = |value: String, label: String, current: String| {
        let selected = value == current;
        view! { <option value=value selected=selected>{label}</option> }
    };
    view! {
        <Layout title="Findings">
            <h1>"Findings"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let q = query();
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) if v.snapshot_id.is_none() => view! {
                            <section class="panel empty-state"><p>"No snapshot has been evaluated yet. Import one, or run "<code>"attest scan"</code>"; it is evaluated as it is stored."</p></section>
                        }.into_any(),
                        Ok(v) => {
                            let prev = (v.page > 1).then(|| href(&FindingsQuery { page: v.page - 1, ..q.clone() }));
                            let next = (v.page < v.pages).then(|| href(&FindingsQuery { page: v.page + 1, ..q.clone() }));
                            // One collapsible group per control, headed by
                            // how many of its findings match.
                            let counts: std::collections::HashMap<String, i64> = v.group_counts.iter().cloned().collect();
                            let mut groups: Vec<(String, Vec<crate::model::FindingItem>)> = Vec::new();
                            for f in v.items {
                                match groups.last_mut() {
                                    Some((c, items)) if *c == f.control => items.push(f),
                                    _ => groups.push((f.control.clone(), vec![f])),
                                }
                            }
                            let rows = groups.into_iter().map(|(control, items)| {
                                let open = RwSignal::new(true);
                                let n = counts.get(&control).copied().unwrap_or(items.len() as i64);
                                let head = items[0].clone();
                                view! {
                                    <tbody class="finding-group" class:collapsed=move || !open.get() data-testid="finding-group">
                                        <tr class="group-row">
                                            <th colspan="5" scope="colgroup">
                                                <button type="button" class="group-toggle" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                                                    <span aria-hidden="true">{move || if open.get() { "▾ " } else { "▸ " }}</span>
                                                    {head.title.clone()}
                                                </button>
                                                <span class="muted" data-testid="group-count">{format!(" · {} · {} · {n} {}", head.area, head.severity, if n == 1 { "finding" } else { "findings" })}</span>
                                            </th>
                                        </tr>
                                        {items.into_iter().map(|f| {
                                            let place = [f.account.clone(), f.subscription.clone()].into_iter().filter(|s| !s.is_empty() && *s != f.resource_name).collect::<Vec<_>>().join(" · ");
                                            view! {
                                                <tr data-testid="finding-row" class="finding-row">
                                                    <td><StateTag state=f.state.clone()/></td>
                                                    <td>
                                                        <a href={format!("/findings/{}", f.id)} title={f.resource_id.clone()}>{f.resource_name.clone()}</a>
                                                        <span class="place muted" data-testid="finding-place">{place}</span>
                                                    </td>
                                                    <td class="muted">{f.resource_type.rsplit('/').next().unwrap_or_default().to_string()}</td>
                                                    <td>{f.delta.clone()}</td>
                                                    <td class="muted nowrap">{f.first_seen.clone()}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                }
                            }).collect_view();
                            view! {
                                <p class="muted">{format!("Evaluated snapshot of {}", v.snapshot_at.clone().unwrap_or_default())}
                                    " · "<a href={format!("/snapshots/{}", v.snapshot_id.clone().unwrap_or_default())}>"inventory"</a></p>
                                <form method="get" action="/findings" class="form form-inline" data-testid="finding-filters">
                                    <label for="f-state">"State"</label>
                                    <select id="f-state" name="state">
                                        {option(String::new(), "any".into(), q.state.clone())}
                                        {["NonCompliant", "Compliant", "Error", "Exempt", "Unknown"].into_iter().map(|s| option(s.into(), s.into(), q.state.clone())).collect_view()}
                                    </select>
                                    <label for="f-severity">"Severity"</label>
                                    <select id="f-severity" name="severity">
                                        {option(String::new(), "any".into(), q.severity.clone())}
                                        {["High", "Medium", "Low"].into_iter().map(|s| option(s.into(), s.into(), q.severity.clone())).collect_view()}
                                    </select>
                                    <label for="f-control">"Control"</label>
                                    <select id="f-control" name="control">
                                        {option(String::new(), "any".into(), q.control.clone())}
                                        {v.controls.into_iter().map(|(name, title)| option(name, title, q.control.clone())).collect_view()}
                                    </select>
                                    <label for="f-framework">"Framework"</label>
                                    <select id="f-framework" name="framework">
                                        {option(String::new(), "any".into(), q.framework.clone())}
                                        {v.frameworks.into_iter().map(|f| option(f.clone(), f, q.framework.clone())).collect_view()}
                                    </select>
                                    <label for="f-area">"Area"</label>
                                    <select id="f-area" name="area">
                                        {option(String::new(), "any".into(), q.area.clone())}
                                        {v.areas.into_iter().map(|a| option(a.clone(), a, q.area.clone())).collect_view()}
                                    </select>
                                    <label for="f-subscription">"Subscription"</label>
                                    <select id="f-subscription" name="subscription">
                                        {option(String::new(), "any".into(), q.subscription.clone())}
                                        {v.subscriptions.into_iter().map(|s| option(s.clone(), s, q.subscription.clone())).collect_view()}
                                    </select>
                                    <label for="f-resource">"Resource"</label>
                                    <input id="f-resource" name="resource" type="search" maxlength="200" placeholder="name or /id, its start" value={q.resource.clone()}/>
                                    {q.all.then(|| view! { <input type="hidden" name="all" value="1"/> })}
                                    {(!q.sort.is_empty()).then(|| view! { <input type="hidden" name="sort" value=q.sort.clone()/> })}
                                    <button type="submit" class="btn btn-primary">"Apply"</button>
                                    <a class="btn btn-quiet" href="/findings">"Clear"</a>
                                </form>
                                <p class="muted" data-testid="findings-count">
                                    {format!("{} {}", v.total, if v.total == 1 { "finding" } else { "findings" })}
                                    {if v.failing_only {
                                        view! { " that fail (NonCompliant or Error) · "<a href={href(&FindingsQuery { all: true, page: 1, ..q.clone() })} data-testid="show-all">"show every state"</a> }.into_any()
                                    } else if q.all {
                                        view! { " in every state · "<a href={href(&FindingsQuery { all: false, page: 1, ..q.clone() })} data-testid="show-failing">"show what fails only"</a> }.into_any()
                                    } else {
                                        ().into_any()
                                    }}
                                    " · "<a href={csv_href(&q, v.failing_only)} data-testid="findings-csv" download="findings.csv">"download as CSV"</a>
                                </p>
                                {if v.total == 0 {
                                    view! { <p class="panel empty-state">"No finding matches these filters."</p> }.into_any()
                                } else if v.page > v.pages {
                                    view! { <p class="panel empty-state" data-testid="past-last-page">{format!("Page {} is past the last page ({}). ", v.page, v.pages)}<a href={href(&FindingsQuery { page: 1, ..q.clone() })}>"Back to the first page"</a></p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="findings-table">
                                            <thead><tr>
                                                <SortHeader label="State" key="state" q=q.clone()/>
                                                <SortHeader label="Resource" key="resource" q=q.clone()/>
                                                <th scope="col">"Type"</th><th scope="col">"Change"</th>
                                                <SortHeader label="First seen" key="first_seen" q=q.clone()/>
                                            </tr></thead>
                                            {rows}
                                        </table>
                                    }.into_any()
                                }}
                                <Pager page=v.page pages=v.pages prev next/>
                                {(v.exempt_total > 0).then(|| view! {
                                    <section class="panel" data-testid="exempt-findings">
                                        <h2>{format!("Exempted ({})", v.exempt_total)}</h2>
                                        <p class="muted">"Findings an approved exemption covers; "<a href={href(&FindingsQuery { state: "Exempt".into(), page: 1, ..q.clone() })}>"list them all"</a>"."</p>
                                        <table class="table">
                                            <thead><tr><th scope="col">"Control"</th><th scope="col">"Resource"</th><th scope="col">"Exemption"</th></tr></thead>
                                            <tbody>
                                                {v.exempt.iter().map(|f| view! {
                                                    <tr data-testid="exempt-row">
                                                        <td>{f.title.clone()}</td>
                                                        <td><a href={format!("/findings/{}", f.id)} title={f.resource_id.clone()}>{f.resource_name.clone()}</a></td>
                                                        <td>{f.exemption_id.map(|e| view! { <a href={format!("/exemptions/{e}")}>{format!("#{e}")}</a> })}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    </section>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
