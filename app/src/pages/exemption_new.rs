//! Requesting an exemption for a scope (a resource, resource group or
//! subscription) from an assignment, rather than from one finding.

use crate::{
    api::exemptions::{assignment_choices, RequestExemption},
    components::{
        layout::Layout,
        notice::{ErrorPanel, FormError},
    },
};
use leptos::prelude::*;

/// The request fields every request has: category, justification,
/// compensating controls, ticket, expiry.
#[component]
pub fn RequestFields(#[prop(into)] prefix: String) -> impl IntoView {
    let id = |name: &str| format!("{prefix}-{name}");
    view! {
        <label for=id("category")>"Category"</label>
        <select id=id("category") name="category">
            <option value="Waiver">"Waiver: the risk is accepted"</option>
            <option value="Mitigated">"Mitigated: something else covers it"</option>
        </select>
        <label for=id("justification")>"Justification (required)"</label>
        <textarea id=id("justification") name="justification" rows="3" maxlength="4000" required=true></textarea>
        <label for=id("compensating")>"Compensating controls (required for Mitigated)"</label>
        <textarea id=id("compensating") name="compensating_controls" rows="2" maxlength="4000"></textarea>
        <label for=id("ticket")>"Ticket reference (optional)"</label>
        <input id=id("ticket") name="ticket" maxlength="200"/>
        <label for=id("expires")>"Expires on (required; at most the limit for the control's severity)"</label>
        <input id=id("expires") name="expires_on" type="date" required=true/>
    }
}

#[component]
pub fn NewExemption() -> impl IntoView {
    let request = ServerAction::<RequestExemption>::new();
    let request_form = crate::components::forms::cleared_on_success(request.value());
    let choices = Resource::new(|| (), |_| assignment_choices());
    view! {
        <Layout title="Request an exemption">
            <p class="crumbs"><a href="/exemptions">"Exemptions"</a>" / new"</p>
            <h1>"Request an exemption for a scope"</h1>
            <p class="muted">"It covers the current findings of the assignment within the scope; approvers over the scope decide. To exempt one finding, use the form on its page."</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match choices.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(list) => view! {
                            <ActionForm action=request node_ref=request_form attr:class="form panel" attr:data-testid="scope-request-form">
                                <label for="new-assignment">"Assignment"</label>
                                <select id="new-assignment" name="assignment">
                                    {list.into_iter().map(|a| view! { <option value=a.id.clone()>{a.title.clone()}</option> }).collect_view()}
                                </select>
                                <label for="new-scope">"Scope"</label>
                                <input id="new-scope" name="scope" maxlength="512" required=true placeholder="/subscriptions/<id>/resourceGroups/<name>"/>
                                <RequestFields prefix="new"/>
                                <button type="submit" class="btn btn-primary">"Request"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
            {move || match request.value().get() {
                Some(Ok(id)) => view! { <p class="form-ok" role="status">"Requested: "<a href={format!("/exemptions/{id}")}>{format!("exemption #{id}")}</a></p> }.into_any(),
                Some(Err(e)) => view! { <FormError error=e/> }.into_any(),
                None => ().into_any(),
            }}
        </Layout>
    }
}
