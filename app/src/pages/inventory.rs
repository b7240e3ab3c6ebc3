//! A snapshot's inventory: one tab per resource kind, a text filter and
//! quick filters, sortable columns, paged on the server; links to each
//! resource and to the diff against another snapshot of the same scope.

use crate::{
    api::inventory::inventory,
    components::{
        layout::Layout,
        notice::{ErrorPanel, StateBadge},
        pager::Pager,
    },
    model::{InventoryQuery, SnapshotHeaderView, INVENTORY_FLAGS, INVENTORY_KINDS},
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

fn href(q: &InventoryQuery) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    url.append_pair("kind", &q.kind);
    for (k, v) in [("q", &q.q), ("flag", &q.flag), ("sort", &q.sort)] {
        if !v.is_empty() {
            url.append_pair(k, v);
        }
    }
    if q.desc {
        url.append_pair("desc", "1");
    }
    if q.page > 1 {
        url.append_pair("page", &q.page.to_string());
    }
    format!("/snapshots/{}?{}", q.snapshot, url.finish())
}

/// The heading every page about one snapshot shares.
#[component]
pub fn SnapshotHeading(header: SnapshotHeaderView) -> impl IntoView {
    let errors = header.errors.clone();
    view! {
        <p class="muted" data-testid="snapshot-heading">
            {format!("Scanned {} · {} · source: {} · {} accounts, {} deployments, {} role assignments · ",
                header.finished_at, header.scope, header.source, header.accounts, header.deployments, header.role_assignments)}
            <StateBadge good=!header.partial good_text="complete" bad_text="partial"/>
        </p>
        {(!errors.is_empty()).then(|| view! {
            <details class="panel warn" data-testid="collection-errors">
                <summary>{format!("{} requests failed during this scan; what they would have returned is missing", errors.len())}</summary>
                <ul class="plain">{errors.into_iter().map(|e| view! { <li><code>{e}</code></li> }).collect_view()}</ul>
            </details>
        })}
    }
}

#[component]
pub fn Inventory() -> impl IntoView {
    let params = use_params_map();
    let query_map = use_query_map();
    let query = move || {
        let snapshot = params.with(|p| p.get("id").unwrap_or_default());
        query_map.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            let kind = get("kind");
            InventoryQuery {
                snapshot,
                kind: if kind.is_empty() { "account".into() } else { kind },
                q: get("q"),
                flag: get("flag"),
                sort: get("sort"),
                desc: q.get("desc").is_some_and(|d| d == "1" || d == "true"),
                page: q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
            }
        })
    };
    let data = Resource::new(query, inventory);
    let imported = move || query_map.with(|q| q.get("imported"));

    view! {
        <Layout title="Snapshot inventory">
            <p class="crumbs"><a href="/snapshots">"Snapshots"</a>" / inventory"</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let q = query();
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let this = v.header.id.clone();
                            let kind = v.kind.clone();
                            let flags: Vec<_> = INVENTORY_FLAGS.iter().filter(|(_, _, k)| *k == kind).collect();
                            let tabs = INVENTORY_KINDS.iter().map(|(k, label)| {
                                let target = href(&InventoryQuery { snapshot: this.clone(), kind: k.to_string(), ..Default::default() });
                                let current = *k == kind;
                                view! { <a href=target class={if current { "tab current" } else { "tab" }} aria-current={current.then_some("page")}>{*label}</a> }
                            }).collect_view();
                            let headers = v.columns.iter().map(|c| match &c.sort {
                                Some(key) => {
                                    let active = q.sort == *key || (q.sort.is_empty() && key == "name");
                                    let target = href(&InventoryQuery { sort: key.clone(), desc: active && !q.desc, page: 1, ..q.clone() });
                                    let arrow = if active { if q.desc { " ▼" } else { " ▲" } } else { "" };
                                    view! { <th scope="col" aria-sort={if active { if q.desc { "descending" } else { "ascending" } } else { "none" }}><a href=target>{format!("{}{arrow}", c.label)}</a></th> }.into_any()
                                }
                                None => view! { <th scope="col">{c.label.clone()}</th> }.into_any(),
                            }).collect_view();
                            let prev = (v.page > 1).then(|| href(&InventoryQuery { page: v.page - 1, ..q.clone() }));
                            let next = (v.page < v.pages).then(|| href(&InventoryQuery { page: v.page + 1, ..q.clone() }));
                            let same_scope = v.same_scope.clone();
                            let this_for_diff = this.clone();
                            view! {
                                <h1>{format!("Snapshot of {}", v.header.finished_at)}</h1>
                                <SnapshotHeading header=v.header.clone()/>
                                {imported().map(|how| view! {
                                    <p class="form-ok panel" role="status" data-testid="imported">
                                        {if how == "new" { "Imported: the snapshot is stored." } else { "This snapshot was already stored; nothing was written." }}
                                    </p>
                                })}
                                {(!same_scope.is_empty()).then(|| view! {
                                    <form method="get" action="/diff" class="form form-inline" data-testid="compare-form">
                                        <label for="compare-from">"Compare with an earlier or later snapshot of this scope"</label>
                                        <select id="compare-from" name="from">
                                            {same_scope.into_iter().map(|(id, at)| view! { <option value=id>{at}</option> }).collect_view()}
                                        </select>
                                        <input type="hidden" name="to" value=this_for_diff/>
                                        <button type="submit" class="btn">"Show changes"</button>
                                    </form>
                                })}
                                <nav class="tabs" aria-label="Resource kinds">{tabs}</nav>
                                <form method="get" action={format!("/snapshots/{this}")} class="form form-inline" data-testid="inventory-filters">
                                    <input type="hidden" name="kind" value={kind.clone()}/>
                                    <label for="f-q">"Filter"</label>
                                    <input id="f-q" name="q" type="search" maxlength="200" placeholder="name, region, SKU, model…" value={q.q.clone()}/>
                                    {(!flags.is_empty()).then(|| view! {
                                        <label for="f-flag">"Only"</label>
                                        <select id="f-flag" name="flag">
                                            <option value="" selected={q.flag.is_empty()}>"all"</option>
                                            {flags.into_iter().map(|(f, label, _)| view! { <option value={*f} selected={q.flag == *f}>{*label}</option> }).collect_view()}
                                        </select>
                                    })}
                                    <button type="submit" class="btn btn-primary">"Apply"</button>
                                    <a class="btn btn-quiet" href={href(&InventoryQuery { snapshot: this.clone(), kind: kind.clone(), ..Default::default() })}>"Clear"</a>
                                </form>
                                <p class="muted" data-testid="inventory-count">{format!("{} {}", v.total, if v.total == 1 { "resource" } else { "resources" })}</p>
                                {if v.rows.is_empty() {
                                    view! { <p class="panel empty-state">"Nothing of this kind matches."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="inventory-table">
                                            <thead><tr>{headers}</tr></thead>
                                            <tbody>
                                                {v.rows.into_iter().map(|r| {
                                                    let mut cells = r.cells.into_iter();
                                                    let first = cells.next().unwrap_or_default();
                                                    view! {
                                                        <tr>
                                                            <td><a href=r.href>{first}</a></td>
                                                            {cells.map(|c| view! { <td>{c}</td> }).collect_view()}
                                                        </tr>
                                                    }
                                                }).collect_view()}
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
