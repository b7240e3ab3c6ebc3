//! The approvals queue: pending requests the signed-in approver may decide
//! (within their scopes, not their own, not approved by them already).

use crate::{
    api::exemptions::approvals_queue,
    components::{layout::Layout, notice::ErrorPanel},
    pages::exemptions::ExemptionTable,
};
use leptos::prelude::*;

#[component]
pub fn Approvals() -> impl IntoView {
    let data = Resource::new(|| (), |_| approvals_queue());
    view! {
        <Layout title="Approvals">
            <h1>"Approvals"</h1>
            <p class="muted">"Requests awaiting your decision. Nobody decides their own request; high-severity controls need two distinct approvers."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(items) if items.is_empty() => view! { <section class="panel empty-state"><p data-testid="queue-empty">"Nothing awaits your decision."</p></section> }.into_any(),
                        Ok(items) => view! { <ExemptionTable items testid="approvals-table"/> }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
