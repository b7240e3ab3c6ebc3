//! Frameworks: each requirement of a framework, the controls mapped to it,
//! and how the newest evaluated snapshot fares, linking to the resources.

use crate::{
    api::findings::framework,
    components::{layout::Layout, notice::ErrorPanel},
    model::FindingsQuery,
    pages::findings::href,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn Frameworks() -> impl IntoView {
    let query_map = use_query_map();
    let name = move || query_map.with(|q| q.get("name").unwrap_or_default());
    let data = Resource::new(name, framework);
    view! {
        <Layout title="Frameworks">
            <h1>"Frameworks"</h1>
            <p class="muted">"Attest's mapping of its controls to each framework's requirements; review it with your auditor."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let current = v.name.clone();
                            view! {
                                <form method="get" action="/frameworks" class="form form-inline" data-testid="framework-form">
                                    <label for="f-name">"Framework"</label>
                                    <select id="f-name" name="name">
                                        {v.frameworks.iter().map(|f| view! { <option value={f.clone()} selected={*f == current}>{f.clone()}</option> }).collect_view()}
                                    </select>
                                    <button type="submit" class="btn btn-primary">"Show"</button>
                                </form>
                                {(!v.evaluated).then(|| view! { <p class="panel empty-state">"No snapshot has been evaluated yet: the counts below are empty."</p> })}
                                <table class="table" data-testid="framework-table">
                                    <thead><tr>
                                        <th scope="col">"Requirement"</th><th scope="col">"Control"</th><th scope="col">"Severity"</th>
                                        <th scope="col">"Non-compliant"</th><th scope="col">"Compliant"</th><th scope="col">"Other"</th>
                                    </tr></thead>
                                    <tbody>
                                        {v.requirements.into_iter().map(|r| {
                                            let rows = r.controls.len();
                                            r.controls.into_iter().enumerate().map(|(i, c)| {
                                                let failing = href(&FindingsQuery { control: c.control.clone(), state: "NonCompliant".into(), ..Default::default() });
                                                let all = href(&FindingsQuery { control: c.control.clone(), ..Default::default() });
                                                view! {
                                                    <tr>
                                                        {(i == 0).then(|| view! { <th scope="row" rowspan={rows.to_string()}>{r.id.clone()}</th> })}
                                                        <td><a href=all>{c.title}</a></td>
                                                        <td>{c.severity}</td>
                                                        <td><a href=failing>{c.failing}</a></td>
                                                        <td>{c.passing}</td>
                                                        <td>{c.other}</td>
                                                    </tr>
                                                }
                                            }).collect_view()
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
