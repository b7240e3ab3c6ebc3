//! One resource of a snapshot: its typed view (what Attest reads from it)
//! and the raw ARM document exactly as collected.

use crate::{
    api::inventory::resource,
    components::{layout::Layout, notice::ErrorPanel},
    pages::inventory::SnapshotHeading,
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn ResourcePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let key = move || {
        (
            params.with(|p| p.get("id").unwrap_or_default()),
            query.with(|q| q.get("kind").unwrap_or_default()),
            query.with(|q| q.get("id").unwrap_or_default()),
        )
    };
    let data = Resource::new(key, |(snapshot, kind, id)| resource(snapshot, kind, id));
    let user = expect_context::<crate::UserResource>();
    view! {
        <Layout title="Resource">
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(r) => {
                            // Those who review access get a way to it from here.
                            let reviewer = user.await.ok().flatten().is_some_and(|u| u.may_read_audit());
                            let access = match r.kind.as_str() {
                                "account" => Some((crate::pages::access::href(&crate::model::AccessQuery { account: r.resource_id.to_lowercase(), ..Default::default() }), "Who has access to it")),
                                "role_assignment" if !r.principal_id.is_empty() => Some((crate::pages::access::principal_href(&r.principal_id), "Everything its principal can do")),
                                _ => None,
                            }.filter(|_| reviewer);
                            let back = format!("/snapshots/{}?kind={}", r.header.id, r.kind);
                            let name = r.resource_id.rsplit('/').next().unwrap_or(&r.resource_id).to_string();
                            view! {
                                <p class="crumbs">
                                    <a href="/snapshots">"Snapshots"</a>" / "
                                    <a href=back>{r.kind_label.clone()}</a>" / "{name.clone()}
                                </p>
                                <h1>{name}</h1>
                                <SnapshotHeading header=r.header.clone()/>
                                <p><code class="wrap" data-testid="resource-id">{r.resource_id.clone()}</code></p>
                                {r.account.clone().map(|(account, href)| view! { <p>"In account "<a href=href>{account}</a></p> })}
                                {access.map(|(href, label)| view! { <p><a href=href data-testid="access-link">{label}</a></p> })}
                                <section class="panel">
                                    <h2>"What Attest reads"</h2>
                                    <dl class="facts" data-testid="typed-view">
                                        {r.fields.into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
                                    </dl>
                                </section>
                                <section class="panel" data-testid="resource-findings">
                                    <h2>{format!("Findings ({})", r.findings_total)}</h2>
                                    {if r.findings.is_empty() {
                                        view! { <p class="muted">"No control applies to it in this snapshot's evaluation."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="table">
                                                <thead><tr><th scope="col">"State"</th><th scope="col">"Control"</th><th scope="col">"Resource"</th><th scope="col">"Change"</th></tr></thead>
                                                <tbody>
                                                    {r.findings.iter().map(|f| view! {
                                                        <tr>
                                                            <td><crate::pages::findings::StateTag state=f.state.clone()/></td>
                                                            <td><a href={format!("/findings/{}", f.id)}>{f.title.clone()}</a><span class="muted">{format!(" · {}", f.severity)}</span></td>
                                                            <td>{f.resource_name.clone()}</td>
                                                            <td>{f.delta.clone()}</td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                            {(r.findings_total > r.findings.len() as i64).then(|| view! { <p class="muted">{format!("The first {} of {}; ", r.findings.len(), r.findings_total)}<a href={format!("/findings?all=1&resource={}", r.resource_id.to_lowercase())}>"all of them in the findings list"</a></p> })}
                                        }.into_any()
                                    }}
                                </section>
                                <section class="panel">
                                    <h2>"ARM document as collected"</h2>
                                    <pre class="raw" data-testid="raw-document">{r.raw}</pre>
                                </section>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
