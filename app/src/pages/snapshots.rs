//! The snapshots list: what has been collected, when, from where, and
//! whether it is complete.

use crate::{
    api::snapshots::list_snapshots,
    components::{
        layout::Layout,
        notice::{ErrorPanel, StateBadge},
    },
};
use leptos::prelude::*;

#[component]
pub fn Snapshots() -> impl IntoView {
    let rows = Resource::new(|| (), |_| list_snapshots());
    view! {
        <Layout title="Snapshots">
            <h1>"Snapshots"</h1>
            <p class="muted">"Each snapshot is one immutable scan of an estate: "<code>"attest scan"</code>" stores one, or "<a href="/import">"import a file"</a>"."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <section class="panel empty-state"><p>"No snapshot has been stored yet."</p></section>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="snapshots-table">
                                <thead><tr>
                                    <th scope="col">"Scanned"</th><th scope="col">"Scope"</th><th scope="col">"Source"</th>
                                    <th scope="col">"Accounts"</th><th scope="col">"Deployments"</th><th scope="col">"Role assignments"</th>
                                    <th scope="col">"State"</th><th scope="col">"Stored"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|s| view! {
                                        <tr>
                                            <td class="nowrap"><a href={format!("/snapshots/{}", s.id)}>{s.finished_at}</a></td>
                                            <td>{s.scope}</td>
                                            <td>{s.source}</td>
                                            <td>{s.accounts}</td>
                                            <td>{s.deployments}</td>
                                            <td>{s.role_assignments}</td>
                                            <td><StateBadge good=!s.partial good_text="complete" bad_text="partial"/></td>
                                            <td class="muted">{format!("{} by {}", s.imported_at, s.imported_by)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
