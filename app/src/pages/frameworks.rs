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
                                <section class="panel" data-testid="framework-scores">
                                    <h2>"Regulatory compliance"</h2>
                                    <p class="muted">"A requirement fails when a control mapped to it has a failing finding, passes when its controls were assessed and nothing fails, and is not assessed otherwise (nothing collected, or a manual control not attested yet). The score is passing over assessed."</p>
                                    <table class="table">
                                        <thead><tr><th scope="col">"Framework"</th><th scope="col">"Passing"</th><th scope="col">"Failing"</th><th scope="col">"Not assessed"</th><th scope="col">"Score"</th></tr></thead>
                                        <tbody>
                                            {v.scores.iter().map(|s| {
                                                let link = format!("/frameworks?name={}", s.name.replace(' ', "%20").replace('&', "%26").replace('/', "%2F"));
                                                let pct = s.percent.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "not assessed".into());
                                                let width = s.percent.map(|p| format!("{:.0}", p.max(1.0))).unwrap_or_else(|| "0".into());
                                                view! {
                                                    <tr class:current={s.name == current} data-testid="framework-score">
                                                        <th scope="row"><a href=link>{s.name.clone()}</a></th>
                                                        <td>{s.passing}</td>
                                                        <td>{s.failing}</td>
                                                        <td>{s.not_assessed}</td>
                                                        <td class="score">
                                                            <svg class="bar-track score-track" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar-good" x="0" y="0" height="10" width=width rx="2"/></svg>
                                                            <span>{pct}</span>
                                                        </td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                <h2>{format!("{current}: requirements")}</h2>
                                <table class="table" data-testid="framework-table">
                                    <thead><tr>
                                        <th scope="col">"Requirement"</th><th scope="col">"Status"</th><th scope="col">"Control"</th><th scope="col">"Severity"</th>
                                        <th scope="col">"Non-compliant"</th><th scope="col">"Compliant"</th><th scope="col">"Other"</th>
                                    </tr></thead>
                                    <tbody>
                                        {v.requirements.into_iter().map(|r| {
                                            let rows = r.controls.len();
                                            r.controls.into_iter().enumerate().map(|(i, c)| {
                                                let failing = href(&FindingsQuery { control: c.control.clone(), state: "NonCompliant".into(), ..Default::default() });
                                                let all = href(&FindingsQuery { control: c.control.clone(), all: true, ..Default::default() });
                                                let status = match r.state.as_str() { "Failing" => ("badge badge-bad", "failing"), "Passing" => ("badge badge-good", "passing"), _ => ("badge", "not assessed") };
                                                view! {
                                                    <tr>
                                                        {(i == 0).then(|| view! { <th scope="row" rowspan={rows.to_string()}>{r.id.clone()}</th><td rowspan={rows.to_string()}><span class=status.0 data-testid="requirement-state">{status.1}</span></td> })}
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
