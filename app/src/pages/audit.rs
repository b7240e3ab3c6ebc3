//! The audit log, filtered and paged on the server, with a chain check
//! against the signed checkpoints, and the portal's public signing key.

use crate::{
    api::audit::{list_audit, signing_keys, VerifyAuditChain},
    components::{
        layout::{Layout, RolesOnly},
        notice::{ErrorPanel, FormError},
    },
    model::{AuditQuery, AuditVerification, ChainStatus, SigningInfo},
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
    let signing = Resource::new(|| (), |_| signing_keys());

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
                        Ok(v) => view! { <VerificationResult v/> }.into_any(),
                        Err(error) => view! { <FormError error/> }.into_any(),
                    })}
                </div>
            </section>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match signing.await {
                        Ok(info) => view! { <SigningKey info/> }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })}
            </Suspense>
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

/// What verifying found: the chain, then how far signed checkpoints vouch for it.
#[component]
fn VerificationResult(v: AuditVerification) -> impl IntoView {
    let anchored = match &v.latest {
        Some((size, at)) => format!(
            "Checked against {}; the newest, of {at}, covers entries 1–{size}{}.",
            match v.checkpoints {
                1 => "1 signed checkpoint".to_string(),
                n => format!("{n} signed checkpoints"),
            },
            match v.unanchored {
                0 => String::new(),
                1 => "; 1 newer entry awaits the next checkpoint".to_string(),
                n => format!("; {n} newer entries await the next checkpoint"),
            }
        ),
        None => {
            "No signed checkpoint yet: the next scheduled one, or `attest audit checkpoint`, anchors the chain.".into()
        }
    };
    view! {
        <div data-testid="chain-result">
            {match v.chain {
                ChainStatus::Intact { entries, .. } => view! {
                    <p class="form-ok" role="status">{format!("Intact: all {entries} entries follow from their predecessors.")}</p>
                    <p class="muted" data-testid="chain-anchors">{anchored}</p>
                }.into_any(),
                ChainStatus::Broken { seq, reason } => view! {
                    <p class="form-error" role="alert">{format!("Broken at entry {seq}: {reason}.")}</p>
                }.into_any(),
            }}
            {(!v.problems.is_empty()).then(|| view! {
                <div class="form-error" role="alert" data-testid="checkpoint-problems">
                    <p>"Checkpoints that do not verify (evidence of tampering unless a key was lost):"</p>
                    <ul>{v.problems.into_iter().map(|p| view! { <li>{p}</li> }).collect_view()}</ul>
                </div>
            })}
        </div>
    }
}

/// The public key that signs checkpoints (and evidence), to compare with
/// what a recipient was given, and the newest checkpoints.
#[component]
fn SigningKey(info: SigningInfo) -> impl IntoView {
    let (current, retired): (Vec<_>, Vec<_>) = info.keys.into_iter().partition(|k| k.current);
    view! {
        <section class="panel" data-testid="signing-key">
            <h2>"Signing key"</h2>
            <p class="muted">
                "Checkpoints of this log and evidence packages are signed with this Ed25519 key, kept outside the database. "
                "Checkpoints are C2SP signed notes for the origin "<code>{info.origin}</code>"."
            </p>
            {current.into_iter().map(|k| view! {
                <dl class="facts">
                    <dt>"Key"</dt><dd><code>{format!("{}+{}", k.name, k.id)}</code></dd>
                    <dt>"Fingerprint (SHA-256)"</dt><dd><code class="wrap" data-testid="key-fingerprint">{k.fingerprint}</code></dd>
                    <dt>"Public key (raw, base64)"</dt><dd><code class="wrap">{k.ed25519}</code></dd>
                    <dt>"Verifier key (signed-note)"</dt><dd><code class="wrap" data-testid="verifier-key">{k.verifier_key}</code></dd>
                </dl>
            }).collect_view()}
            {(!retired.is_empty()).then(|| view! {
                <h3>"Retired keys, still trusted"</h3>
                <ul>{retired.into_iter().map(|k| view! {
                    <li><code class="wrap">{k.verifier_key}</code>" — fingerprint "<code class="wrap">{k.fingerprint}</code></li>
                }).collect_view()}</ul>
            })}
            <h3>"Newest checkpoints"</h3>
            {if info.checkpoints.is_empty() {
                view! { <p class="muted" data-testid="no-checkpoints">"None signed yet."</p> }.into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="table" data-testid="checkpoints">
                            <thead><tr><th scope="col">"Entries"</th><th scope="col">"Signed"</th><th scope="col">"Key"</th><th scope="col">"Note"</th></tr></thead>
                            <tbody>
                                {info.checkpoints.into_iter().map(|c| view! {
                                    <tr>
                                        <td>{format!("1–{}", c.size)}</td><td class="nowrap">{c.at}</td><td><code>{c.key}</code></td>
                                        <td><details><summary>"Show"</summary><pre class="code">{c.note}</pre></details></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
