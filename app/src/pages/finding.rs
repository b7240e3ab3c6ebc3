//! One finding, by its stable id: why it has its state (the conditions and
//! values that decided), the raw evidence, its history across every
//! evaluation, and how to fix it. `?evaluation=` or `?snapshot=` shows it as
//! a past evaluation saw it; without them it is shown as it is now.

use crate::{
    api::{exemptions::RequestExemption, findings::finding},
    components::{
        layout::Layout,
        notice::{flash_for, ErrorPanel, FlashNote, FormError},
    },
    pages::{exemption_new::RequestFields, findings::StateTag},
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn FindingPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0));
    let query = use_query_map();
    let at = move || {
        query.with(|q| {
            // A malformed evaluation id is passed on as -1, which the server
            // names as not existing, rather than silently showing "now".
            let evaluation = q.get("evaluation").map(|e| e.trim().parse::<i64>().unwrap_or(-1));
            (q.get("snapshot"), evaluation)
        })
    };
    let data = Resource::new(move || (id(), at()), |(id, (snapshot, evaluation))| finding(id, snapshot, evaluation));
    let user = expect_context::<crate::UserResource>();
    let flash = flash_for(move || format!("finding:{}", id()));
    let request = ServerAction::<RequestExemption>::new();
    let request_form = crate::components::forms::cleared_on_success(request.value());
    view! {
        <Layout title="Finding">
            <p class="crumbs"><a href="/findings">"Findings"</a>" / finding"</p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let may_attest = user.await.ok().flatten().is_some_and(|u| u.may_read_audit());
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(f) => view! {
                            <h1>{f.item.title.clone()}</h1>
                            <p>
                                <StateTag state=f.item.state.clone()/>
                                <span class="muted">{format!(" {} severity · {} · effect {} · {} since {}", f.item.severity, f.item.area, f.effect, f.item.delta, f.item.first_seen)}</span>
                            </p>
                            {f.past.then(|| view! {
                                <p class="panel notice" data-testid="finding-past">{format!("As evaluation {} saw it (snapshot of {}). ", f.evaluation_id, f.history.iter().find(|h| h.evaluation_id == f.evaluation_id).map(|h| h.snapshot_at.clone()).unwrap_or_default())}<a href={format!("/findings/{}", f.item.id)}>"See it as it is now"</a></p>
                            })}
                            {(!f.present).then(|| view! {
                                <p class="panel notice" data-testid="finding-gone">{format!("No longer evaluated since evaluation {}: its resource or its assignment is gone. This is its last state.", f.evaluation_id)}</p>
                            })}
                            {f.exemption.clone().map(|(id, category)| view! {
                                <p class="panel" data-testid="finding-exemption">"Exempt by "<a href={format!("/exemptions/{id}")}>{format!("exemption #{id}")}</a>{format!(" ({category}); underneath, the evaluation below still holds.")}</p>
                            })}
                            <p>"Resource: "{match f.resource_href.clone() {
                                Some(h) => view! { <a href=h data-testid="finding-resource"><code>{f.item.resource_id.clone()}</code></a> }.into_any(),
                                None => view! { <code>{f.item.resource_id.clone()}</code> }.into_any(),
                            }}</p>
                            <section class="panel">
                                <h2>"Why"</h2>
                                <p>{f.rationale.clone()}</p>
                                {f.message.clone().map(|m| view! { <p class="muted">{m}</p> })}
                                {if f.reasons.is_empty() {
                                    view! { <p class="muted">"No condition was recorded."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="finding-reasons">
                                            <thead><tr><th scope="col">"Condition"</th><th scope="col">"Path"</th><th scope="col">"Operator"</th><th scope="col">"Expected"</th><th scope="col">"Actual"</th><th scope="col">"Held"</th></tr></thead>
                                            <tbody>
                                                {f.reasons.iter().map(|r| view! {
                                                    <tr>
                                                        <td><code>{r.operand.clone()}</code></td>
                                                        <td><code>{r.path.clone()}</code></td>
                                                        <td>{r.operator.clone()}</td>
                                                        <td><code>{r.expected.clone()}</code></td>
                                                        <td><code data-testid="reason-actual">{r.actual.clone()}</code></td>
                                                        <td>{if r.held { "yes" } else { "no" }}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            </section>
                            <FlashNote flash testid="attest"/>
                            {(f.effect == "manual" && !f.past && f.present).then(|| view! {
                                <section class="panel" data-testid="attest-panel">
                                    <h2>"Attestation"</h2>
                                    <p class="muted">"Attest cannot check this control itself. An auditor states whether the resource meets it, with a note and the evidence attached; the statement holds until a later snapshot shows the resource changed."</p>
                                    {if may_attest {
                                        view! {
                                            <form method="post" action={format!("/attest/finding/{}", f.item.id)} enctype="multipart/form-data" class="form" data-testid="attest-form">
                                                <label for="attest-state">"The resource is"</label>
                                                <select id="attest-state" name="state">
                                                    <option value="Compliant">"Compliant"</option>
                                                    <option value="NonCompliant">"NonCompliant"</option>
                                                </select>
                                                <label for="attest-note">"Note (required)"</label>
                                                <textarea id="attest-note" name="note" rows="3" maxlength="4000" required=true></textarea>
                                                <label for="attest-file">"Evidence file (required, at most 5 MiB)"</label>
                                                <input id="attest-file" name="file" type="file" required=true/>
                                                <button type="submit" class="btn btn-primary">"Attest"</button>
                                            </form>
                                        }.into_any()
                                    } else {
                                        view! { <p class="muted">"Only auditors attest controls."</p> }.into_any()
                                    }}
                                </section>
                            })}
                            {(!f.requests.is_empty()).then(|| view! {
                                <p class="muted" data-testid="finding-requests">"Exemption requests covering it: "
                                    {f.requests.iter().map(|(id, state)| view! { <a href={format!("/exemptions/{id}")}>{format!("#{id} ({state})")}</a>" " }).collect_view()}
                                </p>
                            })}
                            {(f.may_request && !f.past && f.present && f.item.state != "Compliant" && f.item.state != "Exempt").then(|| {
                                let finding_id = f.item.id.to_string();
                                view! {
                                    <details class="panel" data-testid="request-panel">
                                        <summary>"Request an exemption"</summary>
                                        <p class="muted">"Exempts this resource from this control until the expiry, once approved by an approver over its scope (two for high severity). It holds while the finding stays as it is now."</p>
                                        <ActionForm action=request node_ref=request_form attr:class="form" attr:data-testid="request-form">
                                            <input type="hidden" name="finding" value=finding_id/>
                                            <RequestFields prefix="req"/>
                                            <button type="submit" class="btn btn-primary">"Request"</button>
                                        </ActionForm>
                                        {move || match request.value().get() {
                                            Some(Ok(id)) => view! { <p class="form-ok" role="status" data-testid="requested">"Requested: "<a href={format!("/exemptions/{id}")}>{format!("exemption #{id}")}</a>"; an approver over the scope decides."</p> }.into_any(),
                                            Some(Err(e)) => view! { <FormError error=e/> }.into_any(),
                                            None => ().into_any(),
                                        }}
                                    </details>
                                }
                            })}
                            <section class="panel">
                                <h2>"Remediation"</h2>
                                {f.remediation_az.clone().map(|az| view! { <h3>"Azure CLI"</h3><pre class="code">{az}</pre> })}
                                {f.remediation_arm.clone().map(|arm| view! { <h3>"ARM"</h3><pre class="code">{arm}</pre> })}
                            </section>
                            <section class="panel">
                                <h2>"History"</h2>
                                <table class="table" data-testid="finding-history">
                                    <thead><tr><th scope="col">"Snapshot"</th><th scope="col">"Evaluated"</th><th scope="col">"Why"</th><th scope="col">"State"</th><th scope="col">"Change"</th></tr></thead>
                                    <tbody>
                                        {let shown = f.evaluation_id; let fid = f.item.id; f.history.iter().rev().map(move |h| view! {
                                            <tr class:current=h.evaluation_id == shown>
                                                <td><a href={format!("/findings/{fid}?evaluation={}", h.evaluation_id)}>{h.snapshot_at.clone()}</a></td>
                                                <td>{h.evaluated_at.clone()}</td>
                                                <td>{h.reason.clone()}</td>
                                                <td><StateTag state=h.state.clone()/></td>
                                                <td>{h.delta.clone()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            <section class="panel">
                                <h2>"Frameworks"</h2>
                                <ul>{f.frameworks.iter().map(|(fw, ids)| view! { <li><strong>{fw.clone()}</strong>" "{ids.clone()}</li> }).collect_view()}</ul>
                            </section>
                            <details class="panel">
                                <summary>{format!("Raw evidence (sha256 {})", f.evidence_hash)}</summary>
                                <pre class="code" data-testid="finding-evidence">{f.evidence_raw.clone()}</pre>
                            </details>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
