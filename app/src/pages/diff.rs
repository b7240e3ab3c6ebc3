//! The difference between two snapshots of the same scope: resources added,
//! removed and changed, and for each change every property that differs.

use crate::{
    api::inventory::{diff, DIFF_LIMIT},
    components::{layout::Layout, notice::ErrorPanel},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Diff() -> impl IntoView {
    let query = use_query_map();
    let key = move || query.with(|q| (q.get("from").unwrap_or_default(), q.get("to").unwrap_or_default()));
    let data = Resource::new(key, |(from, to)| diff(from, to));
    view! {
        <Layout title="Changes between snapshots">
            <p class="crumbs"><a href="/snapshots">"Snapshots"</a>" / changes"</p>
            <h1>"Changes between snapshots"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(d) => {
                            let total = d.added + d.removed + d.changed;
                            let shown = d.changes.len() as i64;
                            view! {
                                <p class="muted">
                                    "From "<a href={format!("/snapshots/{}", d.from.id)}>{d.from.finished_at.clone()}</a>
                                    " to "<a href={format!("/snapshots/{}", d.to.id)}>{d.to.finished_at.clone()}</a>
                                    {format!(" · {}", d.to.scope)}
                                </p>
                                <ul class="stats" data-testid="diff-summary">
                                    <li><strong>{d.added}</strong>" added"</li>
                                    <li><strong>{d.removed}</strong>" removed"</li>
                                    <li><strong>{d.changed}</strong>" changed"</li>
                                </ul>
                                {(total > shown).then(|| view! {
                                    <p class="panel warn">{format!("Showing the first {DIFF_LIMIT} of {total} differences.")}</p>
                                })}
                                {if d.changes.is_empty() {
                                    view! { <p class="panel empty-state">"Nothing changed between these snapshots."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="diff-table">
                                            <thead><tr><th scope="col">"Change"</th><th scope="col">"Kind"</th><th scope="col">"Resource"</th><th scope="col">"Properties"</th></tr></thead>
                                            <tbody>
                                                {d.changes.into_iter().map(|c| view! {
                                                    <tr data-change={c.change.clone()}>
                                                        <td><span class={format!("badge change-{}", c.change)}>{c.change.clone()}</span></td>
                                                        <td>{c.kind_label}</td>
                                                        <td><a href=c.href><code class="wrap">{c.resource_id}</code></a></td>
                                                        <td>
                                                            {(!c.properties.is_empty()).then(|| view! {
                                                                <table class="props">
                                                                    <tbody>
                                                                        {c.properties.into_iter().map(|p| view! {
                                                                            <tr>
                                                                                <td><code>{p.path}</code></td>
                                                                                <td class="before">{p.before.unwrap_or_else(|| "(absent)".into())}</td>
                                                                                <td aria-hidden="true">"→"</td>
                                                                                <td class="after">{p.after.unwrap_or_else(|| "(absent)".into())}</td>
                                                                            </tr>
                                                                        }).collect_view()}
                                                                    </tbody>
                                                                </table>
                                                            })}
                                                        </td>
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
