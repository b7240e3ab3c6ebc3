//! One exemption: what it covers and why, who asked and who decided, its
//! whole history, the findings and evidence it was approved against, the
//! decision forms the viewer may use, and its Azure Policy export.

use crate::{
    api::exemptions::{exemption, DecideExemption},
    components::{
        forms::successes,
        layout::Layout,
        notice::{ErrorPanel, FormError},
    },
    pages::{exemptions::ExemptionState, findings::StateTag},
};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

#[component]
pub fn ExemptionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0));
    let decide = ServerAction::<DecideExemption>::new();
    let decided = successes(decide.value());
    let data = Resource::new(move || (id(), decided.get()), |(id, _)| exemption(id));
    let form = move |id: i64, decisions: &'static [(&'static str, &'static str)], testid: &'static str| {
        view! {
            <ActionForm action=decide attr:class="form" attr:data-testid=testid>
                <input type="hidden" name="id" value=id.to_string()/>
                <label for={format!("comment-{testid}")}>"Comment (required)"</label>
                <textarea id={format!("comment-{testid}")} name="comment" rows="2" maxlength="4000" required=true></textarea>
                <div class="form-inline">
                    {decisions.iter().map(|(value, label)| if *value == "revoke" {
                        view! { <ConfirmSubmit value=*value label=*label
                            question="Revoke it? It ends now, and the findings it covers are evaluated again and fail."/> }.into_any()
                    } else {
                        view! { <button type="submit" name="decision" value=*value class="btn" data-decision=*value>{*label}</button> }.into_any()
                    }).collect_view()}
                </div>
            </ActionForm>
        }
    };
    view! {
        <Layout title="Exemption">
            <p class="crumbs"><a href="/exemptions">"Exemptions"</a>" / exemption"</p>
            {move || match decide.value().get() {
                Some(Ok(state)) => view! { <p class="form-ok panel" role="status" data-testid="decided">{format!("Recorded; the request is {state}.")}</p> }.into_any(),
                Some(Err(e)) => view! { <FormError error=e/> }.into_any(),
                None => ().into_any(),
            }}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(e) => {
                            let id = e.item.id;
                            view! {
                                <h1>{format!("Exemption #{id}")}</h1>
                                <p data-testid="exemption-state">
                                    <ExemptionState state=e.item.state.clone() drifted=e.item.drifted/>
                                    <span class="muted">{format!(" {} · {} severity · {} of {} approvals", e.item.category, e.item.severity, e.approvers.len(), e.approvals_needed)}</span>
                                </p>
                                {e.item.drifted.then(|| view! {
                                    <p class="form-error panel" role="alert" data-testid="drift">{format!("Drift (seen {}): a covered finding is no longer in the state this exemption was approved against, so it no longer applies to it. File a new request to have the current state approved.", e.drifted_at)}</p>
                                })}
                                <section class="panel">
                                    <dl class="facts">
                                        <dt>"Scope"</dt><dd><code class="wrap">{e.item.scope.clone()}</code></dd>
                                        <dt>"Assignment"</dt><dd><code class="wrap">{e.assignment_id.clone()}</code></dd>
                                        <dt>"Controls"</dt><dd>{e.item.controls.clone()}</dd>
                                        <dt>"Justification"</dt><dd data-testid="justification">{e.justification.clone()}</dd>
                                        {(!e.compensating_controls.is_empty()).then(|| view! { <dt>"Compensating controls"</dt><dd>{e.compensating_controls.clone()}</dd> })}
                                        {(!e.ticket.is_empty()).then(|| view! { <dt>"Ticket"</dt><dd>{e.ticket.clone()}</dd> })}
                                        <dt>"Requested"</dt><dd>{format!("by {} on {}", e.item.requested_by, e.item.requested_at)}</dd>
                                        {(!e.approvers.is_empty()).then(|| view! { <dt>"Approved by"</dt><dd data-testid="approvers">{e.approvers.join(", ")}{(!e.approved_at.is_empty()).then(|| format!(" (approved {})", e.approved_at))}</dd> })}
                                        <dt>"Expires"</dt><dd>{e.item.expires_on.clone()}</dd>
                                        {e.finding_id.map(|f| view! { <dt>"Asked from"</dt><dd><a href={format!("/findings/{f}")}>{format!("finding {f}")}</a></dd> })}
                                    </dl>
                                </section>
                                {e.may_decide.then(|| view! {
                                    <section class="panel" data-testid="decide-panel">
                                        <h2>"Decide"</h2>
                                        <p class="muted">{if e.approvals_needed > 1 { "High severity: two distinct approvers are needed." } else { "One approval is needed." }}</p>
                                        {form(id, &[("approve", "Approve"), ("reject", "Reject")], "decide-form")}
                                    </section>
                                })}
                                {e.may_withdraw.then(|| view! {
                                    <section class="panel"><h2>"Withdraw"</h2>{form(id, &[("withdraw", "Withdraw the request")], "withdraw-form")}</section>
                                })}
                                {e.may_revoke.then(|| view! {
                                    <section class="panel"><h2>"Revoke"</h2><p class="muted">"The findings it covers are evaluated again at once."</p>{form(id, &[("revoke", "Revoke")], "revoke-form")}</section>
                                })}
                                <section class="panel">
                                    <h2>"History"</h2>
                                    <table class="table" data-testid="exemption-history">
                                        <thead><tr><th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"State"</th><th scope="col">"Comment"</th></tr></thead>
                                        <tbody>
                                            {e.history.iter().map(|h| view! {
                                                <tr>
                                                    <td>{h.at.clone()}</td>
                                                    <td>{h.actor.clone()}</td>
                                                    <td>{h.action.clone()}</td>
                                                    <td>{if h.from_state.is_empty() || h.from_state == h.to_state { h.to_state.clone() } else { format!("{} → {}", h.from_state, h.to_state) }}</td>
                                                    <td>{h.comment.clone()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                <section class="panel">
                                    <h2>"Approved against"</h2>
                                    {if e.bindings.is_empty() {
                                        view! { <p class="muted">"Not approved yet: on approval, the findings it covers are bound here with the hash of their state and evidence."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="table" data-testid="exemption-bindings">
                                                <thead><tr><th scope="col">"Finding"</th><th scope="col">"Resource"</th><th scope="col">"Control"</th><th scope="col">"State then"</th><th scope="col">"State now"</th><th scope="col">"Evidence (sha256)"</th></tr></thead>
                                                <tbody>
                                                    {e.bindings.iter().map(|b| view! {
                                                        <tr>
                                                            <td><a href={format!("/findings/{}", b.finding_id)}>{b.finding_id}</a></td>
                                                            <td><code class="wrap">{b.resource_id.clone()}</code></td>
                                                            <td>{b.control.clone()}{(!b.reference_id.is_empty()).then(|| format!(" ({})", b.reference_id))}</td>
                                                            <td><StateTag state=b.state.clone()/></td>
                                                            <td>{if b.now == "gone" { view! { <span class="muted">"no longer evaluated"</span> }.into_any() } else { view! { <StateTag state=b.now.clone()/> }.into_any() }}</td>
                                                            <td><code class="muted">{b.evidence_hash.clone()}</code></td>
                                                        </tr>
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                                {e.azure_arm.clone().map(|arm| view! {
                                    <section class="panel" data-testid="azure-export">
                                        <h2>"As an Azure Policy exemption"</h2>
                                        <p class="muted">"To record the approval in Azure too: the ARM resource, or the az command."</p>
                                        <pre class="code">{arm}</pre>
                                        <pre class="code">{e.azure_az.clone().unwrap_or_default()}</pre>
                                    </section>
                                })}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}

/// A submit button that asks first: the question, then the real submit
/// (named like the button) or a cancel.
#[component]
fn ConfirmSubmit(value: &'static str, label: &'static str, question: &'static str) -> impl IntoView {
    let asking = RwSignal::new(false);
    view! {
        <Show
            when=move || asking.get()
            fallback=move || view! { <button type="button" class="btn" data-decision=value on:click=move |_| asking.set(true)>{label}</button> }
        >
            <span class="confirm-ask" role="alertdialog">
                <span>{question}</span>
                <button type="submit" name="decision" value=value class="btn btn-danger" data-testid="confirm-yes">{format!("Yes, {}", label.to_lowercase())}</button>
                <button type="button" class="btn btn-quiet" data-testid="confirm-no" on:click=move |_| asking.set(false)>"Cancel"</button>
            </span>
        </Show>
    }
}
