//! The dashboard: what the portal holds today, and nothing it does not.

use crate::{
    api::dashboard::dashboard_summary,
    components::{layout::Layout, notice::ErrorPanel},
};
use leptos::prelude::*;

#[component]
pub fn Dashboard() -> impl IntoView {
    let summary = Resource::new(|| (), |_| dashboard_summary());
    view! {
        <Layout title="Dashboard">
            <h1>"Dashboard"</h1>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match summary.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(s) => view! {
                            <section class="panel empty-state" data-testid="estate-status">
                                <h2>"Estate"</h2>
                                {if s.snapshots == 0 {
                                    view! {
                                        <p>"No snapshot of an Azure estate has been imported yet, so there are no findings to report."</p>
                                        <p class="muted">"Compliance figures appear here once a scan or an uploaded snapshot is stored."</p>
                                    }.into_any()
                                } else {
                                    view! {
                                        <p>{format!("{} snapshot{} stored.", s.snapshots, if s.snapshots == 1 { "" } else { "s" })}</p>
                                        <p class="muted">"Findings appear here once controls are evaluated against them."</p>
                                    }.into_any()
                                }}
                            </section>
                            <section class="cards" aria-label="Portal">
                                <div class="card">
                                    <span class="card-figure" data-testid="users-count">{s.users}</span>
                                    <span class="card-label">"accounts"</span>
                                    <span class="card-note muted">{format!("{} disabled", s.disabled_users)}</span>
                                </div>
                                <div class="card">
                                    <span class="card-figure">{s.active_tokens}</span>
                                    <span class="card-label">"active API tokens"</span>
                                </div>
                                <div class="card">
                                    <span class="card-figure">{s.audit_entries}</span>
                                    <span class="card-label">"audit-log entries"</span>
                                    <span class="card-note muted">{s.last_audit_at.map(|t| format!("latest {t}")).unwrap_or_else(|| "none yet".into())}</span>
                                </div>
                            </section>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
