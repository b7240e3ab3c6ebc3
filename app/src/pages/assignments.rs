//! Control assignments (admins): each control's effect, enforcement mode,
//! excluded scopes and parameters. Saving a change evaluates the newest
//! snapshot of every scope again.

use crate::{
    api::assignments::{list_assignments, UpdateAssignment},
    components::{
        forms::successes,
        layout::{Layout, RolesOnly},
        notice::{action_outcome, ErrorPanel},
    },
};
use leptos::prelude::*;

#[component]
pub fn Assignments() -> impl IntoView {
    let update = ServerAction::<UpdateAssignment>::new();
    let saved = successes(update.value());
    let rows = Resource::new(move || saved.get(), |_| list_assignments());
    let flash = Resource::new(|| (), |_| crate::api::session::take_flash("assignments".into()));
    view! {
        <Layout title="Assignments">
            <h1>"Control assignments"</h1>
            <RolesOnly>
            <p class="muted">"Every control applies at the tenant root unless changed here. Set the effect to Disabled to switch a control off; excluded scopes (notScopes) leave resources out of evaluation; DoNotEnforce still evaluates. Saving evaluates the newest snapshot of every scope again."</p>
            {action_outcome(update.value(), "Saved; the newest snapshots were evaluated again.")}
            // The import form's outcome, left in the session by its handler;
            // after an error the form stays open to try again.
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let flash = flash.await.ok().flatten();
                    let open = flash.as_ref().is_some_and(|f| f.error);
                    view! {
                        {flash.map(|f| if f.error {
                            view! { <p class="form-error panel" role="alert" data-testid="import-error">{f.text}</p> }.into_any()
                        } else {
                            view! { <p class="form-ok panel" role="status" data-testid="import-ok">{f.text}</p> }.into_any()
                        })}
                    <details class="panel" data-testid="import-panel" open=open>
                        <summary>"Import an Azure Policy definition"</summary>
                        <p class="muted">"A definition or initiative file exactly as Azure publishes it (Azure's built-ins, or your own). Import an initiative's definitions before the initiative. Assigned at the tenant root, it is evaluated with Attest's controls, and the newest snapshot of every scope is evaluated again at once. Importing the same name again replaces the definition."</p>
                        <form method="post" action="/admin/definitions" enctype="multipart/form-data" class="form" data-testid="import-form">
                            <label for="import-file">"Definition or initiative (.json)"</label>
                            <input id="import-file" type="file" name="file" accept=".json,application/json" required/>
                            <label for="import-parameters">"Assignment parameters (JSON; required for parameters without a default)"</label>
                            <textarea id="import-parameters" name="parameters" rows="3" maxlength="16384" placeholder="{\"effect\": \"Audit\"}"></textarea>
                            <label class="check"><input type="checkbox" name="assign" value="1" checked/>" Assign at the tenant root"</label>
                            <button type="submit" class="btn btn-primary">"Import"</button>
                        </form>
                    </details>
                    }
                })}
            </Suspense>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match rows.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="assignments-table">
                                <thead><tr>
                                    <th scope="col">"Control"</th><th scope="col">"Severity"</th><th scope="col">"Scope"</th>
                                    <th scope="col">"Effect"</th><th scope="col">"Enforcement"</th><th scope="col">"Change"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|a| {
                                        let slug = a.control.clone();
                                        let (effect_id, mode_id, not_id, params_id) = (
                                            format!("effect-{slug}"), format!("mode-{slug}"), format!("not-{slug}"), format!("params-{slug}"),
                                        );
                                        let effect = a.effect.clone();
                                        let mode = a.enforcement_mode.clone();
                                        view! {
                                            <tr data-testid="assignment-row" data-control=slug>
                                                <td>{a.display_name.clone()}<br/><code class="muted">{a.control.clone()}</code></td>
                                                <td>{a.severity.clone()}</td>
                                                <td><code>{a.scope.clone()}</code>{(!a.not_scopes.is_empty()).then(|| view! { <br/><span class="muted">{format!("except {}", a.not_scopes.replace('\n', ", "))}</span> })}</td>
                                                <td>{a.effect.clone()}</td>
                                                <td>{a.enforcement_mode.clone()}</td>
                                                <td>
                                                    <details>
                                                        <summary>"Change"</summary>
                                                        <ActionForm action=update attr:class="form">
                                                            <input type="hidden" name="id" value={a.id.clone()}/>
                                                            <label for={effect_id.clone()}>"Effect"</label>
                                                            <select id=effect_id name="effect">
                                                                {a.allowed_effects.iter().map(|e| view! { <option value={e.clone()} selected={*e == effect}>{e.clone()}</option> }).collect_view()}
                                                            </select>
                                                            <label for={mode_id.clone()}>"Enforcement"</label>
                                                            <select id=mode_id name="enforcement_mode">
                                                                {["Default", "DoNotEnforce"].into_iter().map(|m| view! { <option value=m selected={m == mode}>{m}</option> }).collect_view()}
                                                            </select>
                                                            <label for={not_id.clone()}>"Excluded scopes, one per line"</label>
                                                            <textarea id=not_id name="not_scopes" rows="2" maxlength="20000">{a.not_scopes.clone()}</textarea>
                                                            <label for={params_id.clone()}>"Other parameters (JSON)"</label>
                                                            <textarea id=params_id name="parameters" rows="3" maxlength="16384">{a.parameters.clone()}</textarea>
                                                            <button type="submit" class="btn btn-primary">"Save and evaluate"</button>
                                                        </ActionForm>
                                                    </details>
                                                </td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                    }
                })}
            </Suspense>
            </RolesOnly>
        </Layout>
    }
}
