//! The audit log, filtered and paged on the server, with a chain check.

use crate::{
    api::audit::{list_audit, VerifyAuditChain},
    components::{
        layout::{Layout, RolesOnly},
        notice::{ErrorPanel, FormError},
    },
    model::{AuditQuery, ChainStatus},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditLog() -> impl IntoView {
    let params = use_query_map();
    let query = move || {
        params.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            AuditQuery {
                actor: get("actor"),
                action: get("action"),
                object: get("object"),
                since: get("since"),
                until: get("until"),
                before: q.get("before").and_then(|b| b.parse().ok()),
            }
        })
    };
    let page = Resource::new(query, list_audit);
    let verify = ServerAction::<VerifyAuditChain>::new();

    view! {
        <Layout title="Audit log">
            <h1>"Audit log"</h1>
            <RolesOnly roles=&["admin", "auditor"]>
            <section class="panel">
                <form method="get" action="/admin/audit" class="form form-inline" data-testid="audit-filters">
                    <label for="f-actor">"Actor"</label>
                    <input id="f-actor" name="actor" type="text" maxlength="256" value=move || query().actor/>
                    <label for="f-action">"Action starts with"</label>
                    <input id="f-action" name="action" type="text" maxlength="256" placeholder="user." value=move || query().action/>
                    <label for="f-object">"Object"</label>
                    <input id="f-object" name="object" type="text" maxlength="256" placeholder="user:alice" value=move || query().object/>
                    <label for="f-since">"From"</label>
                    <input id="f-since" name="since" type="date" value=move || query().since/>
                    <label for="f-until">"To"</label>
                    <input id="f-until" name="until" type="date" value=move || query().until/>
                    <button type="submit" class="btn btn-primary">"Filter"</button>
                    <a class="btn btn-quiet" href="/admin/audit">"Clear"</a>
                </form>
                <div class="chain">
                    <ActionForm action=verify>
                        <button type="submit" class="btn" data-testid="verify-chain">"Verify the chain"</button>
                    </ActionForm>
                    {move || verify.value().get().map(|r| match r {
                        Ok(ChainStatus::Intact { entries, .. }) => view! { <p class="form-ok" role="status">{format!("Intact: all {entries} entries follow from their predecessors.")}</p> }.into_any(),
                        Ok(ChainStatus::Broken { seq, reason }) => view! { <p class="form-error" role="alert">{format!("Broken at entry {seq}: {reason}.")}</p> }.into_any(),
                        Err(error) => view! { <FormError error/> }.into_any(),
                    })}
                </div>
            </section>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(p) if p.entries.is_empty() => view! { <p class="panel empty-state">"No entries match these filters."</p> }.into_any(),
                        Ok(p) => {
                            let next = p.next_before.map(|b| {
                                let q = query();
                                let mut url = form_urlencoded::Serializer::new(String::new());
                                for (k, v) in [("actor", &q.actor), ("action", &q.action), ("object", &q.object), ("since", &q.since), ("until", &q.until)] {
                                    if !v.is_empty() {
                                        url.append_pair(k, v);
                                    }
                                }
                                url.append_pair("before", &b.to_string());
                                format!("/admin/audit?{}", url.finish())
                            });
                            view! {
                                <table class="table" data-testid="audit-table">
                                    <thead><tr><th scope="col">"#"</th><th scope="col">"Time"</th><th scope="col">"Actor"</th><th scope="col">"Action"</th><th scope="col">"Object"</th><th scope="col">"Details"</th><th scope="col">"Hash"</th></tr></thead>
                                    <tbody>
                                        {p.entries.into_iter().map(|e| view! {
                                            <tr>
                                                <td>{e.seq}</td><td class="nowrap">{e.at}</td><td>{e.actor}</td>
                                                <td><code>{e.action}</code></td><td>{e.object}</td>
                                                <td><code class="details">{e.details}</code></td><td><code>{e.hash}</code></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {next.map(|href| view! { <p><a class="btn" href=href>"Older entries →"</a></p> })}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
            </RolesOnly>
        </Layout>
    }
}
