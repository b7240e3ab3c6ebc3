//! A campaign's review screen: its progress, filters, a bulk decision over
//! the filtered selection, each item with its flags and a decision form,
//! certification once nothing is open, and the CSV and `az` exports.

use crate::{
    api::reviews::{review, CertifyReview, DecideBulk, DecideItem},
    components::{
        forms::successes,
        layout::Layout,
        notice::{ErrorPanel, FormError},
    },
    model::{decision_label, principal_kind_label, ReviewItemView, ReviewQuery, REVIEW_DECISIONS},
    pages::{
        access::{principal_href, scope_label},
        reviews::Progress,
    },
};
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

fn href(q: &ReviewQuery) -> String {
    let mut url = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [("flagged", &q.flagged), ("status", &q.status), ("principal_type", &q.principal_type)] {
        if !v.is_empty() {
            url.append_pair(k, v);
        }
    }
    format!("/reviews/{}?{}", q.id, url.finish())
}

/// One item's decision, suggestion and who decided.
#[component]
fn DecisionCell(item: ReviewItemView) -> AnyView {
    let decided = !item.decision.is_empty();
    view! {
        <div data-testid="item-decision" data-decision=item.decision.clone()>
            {if decided {
                let class = match item.decision.as_str() { "keep" => "badge badge-good", "revoke" => "badge badge-bad", _ => "badge badge-warn" };
                view! { <span class=class>{decision_label(&item.decision)}</span> }.into_any()
            } else {
                view! { <span class="badge">"Undecided"</span> }.into_any()
            }}
            {(!item.new_role.is_empty() || !item.new_scope.is_empty()).then(|| view! {
                <span class="place">{format!("to {}{}", if item.new_role.is_empty() { item.role.clone() } else { item.new_role.clone() },
                    if item.new_scope.is_empty() { String::new() } else { format!(" at {}", scope_label(&item.new_scope)) })}</span>
            })}
            {item.not_reviewed.then(|| view! { " "<span class="badge badge-warn" data-testid="not-reviewed" title="Decided by the campaign's due date, not by a reviewer">"not reviewed"</span> })}
            {decided.then(|| view! { <span class="place muted">{format!("{} · {} · {}", item.decided_by, item.decided_at, item.comment)}</span> })}
            {(!decided && !item.suggested.is_empty()).then(|| view! {
                <span class="place" data-testid="suggestion">{format!("Suggested: {} (certified in campaign #{}; unchanged since)", decision_label(&item.suggested), item.suggested_from.unwrap_or_default())}</span>
            })}
        </div>
    }
    .into_any()
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    let params = use_params_map();
    let query_map = use_query_map();
    let query = move || {
        let id = params.with(|p| p.get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0));
        query_map.with(|q| {
            let get = |k: &str| q.get(k).unwrap_or_default();
            ReviewQuery { id, flagged: get("flagged"), status: get("status"), principal_type: get("principal_type") }
        })
    };
    let decide = ServerAction::<DecideItem>::new();
    let bulk = ServerAction::<DecideBulk>::new();
    let certify = ServerAction::<CertifyReview>::new();
    let (d, b, c) = (successes(decide.value()), successes(bulk.value()), successes(certify.value()));
    let data = Resource::new(move || (query(), d.get(), b.get(), c.get()), |(q, ..)| review(q));
    let option = |value: &str, label: &str, current: &str| {
        view! { <option value=value.to_string() selected={value == current}>{label.to_string()}</option> }
    };
    view! {
        <Layout title="Access review">
            <p class="crumbs"><a href="/reviews">"Access reviews"</a>" / campaign"</p>
            {move || match (decide.value().get(), bulk.value().get(), certify.value().get()) {
                (Some(Err(e)), _, _) | (_, Some(Err(e)), _) | (_, _, Some(Err(e))) => view! { <FormError error=e/> }.into_any(),
                (_, Some(Ok(n)), _) => view! { <p class="form-ok panel" role="status" data-testid="bulk-done">{format!("Decided {n} {}.", if n == 1 { "item" } else { "items" })}</p> }.into_any(),
                _ => ().into_any(),
            }}
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let q = query();
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => {
                            let s = v.summary.clone();
                            let id = s.id;
                            let certified = !s.certified_at.is_empty();
                            let open = s.items - s.decided;
                            let shown = v.items.len();
                            view! {
                                <h1 data-testid="review-name">{s.name.clone()}</h1>
                                <p class="muted">{format!("Campaign #{id} over {} · started {} by {} · ", scope_label(&s.scope), s.created_at, s.created_by)}
                                    <a href=format!("/snapshots/{}", s.snapshot_id)>"its snapshot"</a></p>
                                <p><Progress summary=s.clone()/>{format!(" · {} flagged", s.flagged)}</p>
                                {(!s.due_at.is_empty() && s.certified_at.is_empty()).then(|| view! {
                                    <p class=if s.overdue { "panel warn" } else { "muted" } data-testid="review-due">{format!("{} {}; then it will {}.", if s.overdue { "Overdue since" } else { "Due" }, s.due_at, s.on_due.to_lowercase())}</p>
                                })}
                                {(!s.gaps.is_empty()).then(|| view! {
                                    <p class="panel warn" data-testid="review-gaps">{format!("Incomplete: this snapshot did not read {}; what they would show (deleted principals and guests, activated versus standing access) is missing from this review.",
                                        s.gaps.iter().map(|g| if g == "graph" { "Microsoft Graph" } else { "PIM" }).collect::<Vec<_>>().join(" or "))}</p>
                                })}
                                <p data-testid="review-exports">"Export: "
                                    <a href=format!("/api/v1/reviews/{id}/export?format=csv") download=format!("review-{id}.csv") data-testid="export-csv">"items and decisions (CSV)"</a>" · "
                                    <a href=format!("/api/v1/reviews/{id}/export?format=az") download=format!("review-{id}.sh") data-testid="export-az">"the az commands that carry them out"</a></p>
                                {if certified {
                                    let how = if s.closed_at_due { "panel warn" } else { "panel form-ok" };
                                    view! { <p class=how data-testid="certified">{format!("Certified by {} at {}: {} The campaign is read-only.", s.certified_by, s.certified_at, s.certify_comment.trim_end_matches('.').to_string() + ".")}</p> }.into_any()
                                } else if open > 0 {
                                    view! { <p class="muted" data-testid="certify-blocked">{format!("{open} {} still undecided; certify once every item is decided.", if open == 1 { "item is" } else { "items are" })}</p> }.into_any()
                                } else {
                                    view! {
                                        <section class="panel">
                                            <h2>"Certify"</h2>
                                            <ActionForm action=certify attr:class="form" attr:data-testid="certify-form">
                                                <input type="hidden" name="campaign" value=id.to_string()/>
                                                <label for="certify-comment">"Statement (required)"</label>
                                                <textarea id="certify-comment" name="comment" rows="2" maxlength="2000" required=true></textarea>
                                                <div><button type="submit" class="btn btn-primary">"Certify this review"</button></div>
                                            </ActionForm>
                                        </section>
                                    }.into_any()
                                }}
                                <form method="get" action=format!("/reviews/{id}") class="form form-inline" data-testid="review-filters">
                                    <label for="rf-flagged">"Items"</label>
                                    <select id="rf-flagged" name="flagged">
                                        {option("", "all", &q.flagged)}{option("flagged", "flagged", &q.flagged)}{option("unflagged", "not flagged", &q.flagged)}
                                    </select>
                                    <label for="rf-status">"Status"</label>
                                    <select id="rf-status" name="status">
                                        {option("", "any", &q.status)}{option("open", "undecided", &q.status)}{option("suggested", "undecided, with a suggestion", &q.status)}{option("decided", "decided", &q.status)}
                                    </select>
                                    <label for="rf-type">"Principal"</label>
                                    <select id="rf-type" name="principal_type">
                                        {option("", "any", &q.principal_type)}
                                        {["user", "group", "service_principal", "device", "other"].into_iter().map(|k| option(k, principal_kind_label(k), &q.principal_type)).collect_view()}
                                    </select>
                                    <button type="submit" class="btn">"Apply"</button>
                                    <a class="btn btn-quiet" href=href(&ReviewQuery { id, ..Default::default() })>"Clear"</a>
                                </form>
                                {(!certified && shown > 0).then(|| view! {
                                    <ActionForm action=bulk attr:class="form form-inline panel" attr:data-testid="bulk-form">
                                        <input type="hidden" name="campaign" value=id.to_string()/>
                                        <input type="hidden" name="flagged" value=q.flagged.clone()/>
                                        <input type="hidden" name="status" value=q.status.clone()/>
                                        <input type="hidden" name="principal_type" value=q.principal_type.clone()/>
                                        <label for="bulk-decision">{format!("All {shown} shown:")}</label>
                                        <select id="bulk-decision" name="decision">
                                            <option value="keep">"Keep"</option>
                                            <option value="revoke">"Revoke"</option>
                                            <option value="dont_know">"Don't know"</option>
                                            <option value="out_of_scope">"Out of scope"</option>
                                            <option value="suggested">"Confirm each suggestion"</option>
                                        </select>
                                        <label for="bulk-comment">"Comment"</label>
                                        <input id="bulk-comment" name="comment" required=true maxlength="2000"/>
                                        <button type="submit" class="btn btn-primary">"Decide them"</button>
                                    </ActionForm>
                                })}
                                {if v.items.is_empty() {
                                    view! { <p class="panel empty-state">"No item matches these filters."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="table" data-testid="review-items">
                                            <thead><tr><th scope="col">"Principal"</th><th scope="col">"Role and scope"</th><th scope="col">"Accounts"</th><th scope="col">"Flags"</th><th scope="col">"Decision"</th></tr></thead>
                                            <tbody>
                                                {v.items.into_iter().map(|item| {
                                                    let flagged = !item.flags.is_empty();
                                                    let form_id = format!("decide-{}", item.id);
                                                    view! {
                                                        <tr data-testid="review-item" class:flagged=flagged>
                                                            <td><a href=principal_href(&item.principal)>{item.principal_name.clone()}</a>
                                                                <span class="place muted">{principal_kind_label(&item.principal_kind)}</span></td>
                                                            <td><a href=item.assignment_href.clone() title=item.assignment.clone()>{item.role.clone()}</a>
                                                                <span class="place muted" title=item.scope.clone()>{format!("at {} · {}", scope_label(&item.scope), item.level_label)}</span></td>
                                                            <td>{item.accounts.join(", ")}</td>
                                                            <td>{if item.flags.is_empty() { view! { <span class="muted">"none"</span> }.into_any() } else {
                                                                view! { <ul class="plain">{item.flags.iter().map(|(check, label)| view! { <li data-testid="item-flag" data-check=check.clone()><span class="badge badge-warn">{label.clone()}</span></li> }).collect_view()}</ul> }.into_any()
                                                            }}</td>
                                                            <td>
                                                                <DecisionCell item=item.clone()/>
                                                                {(!certified).then(|| view! {
                                                                    <details class="decide">
                                                                        <summary>{if item.decision.is_empty() { "Decide" } else { "Change the decision" }}</summary>
                                                                        <ActionForm action=decide attr:class="form" attr:data-testid="decide-form">
                                                                            <input type="hidden" name="campaign" value=id.to_string()/>
                                                                            <input type="hidden" name="item" value=item.id.to_string()/>
                                                                            <label for=format!("{form_id}-d")>"Decision"</label>
                                                                            <select id=format!("{form_id}-d") name="decision">
                                                                                {REVIEW_DECISIONS.iter().map(|(v, l)| view! { <option value=*v selected={*v == item.suggested}>{*l}</option> }).collect_view()}
                                                                            </select>
                                                                            <label for=format!("{form_id}-r")>"Narrower role (for a change)"</label>
                                                                            <input id=format!("{form_id}-r") name="role" maxlength="200" placeholder="Cognitive Services OpenAI User"/>
                                                                            <label for=format!("{form_id}-s")>"Narrower scope (for a change)"</label>
                                                                            <input id=format!("{form_id}-s") name="scope" maxlength="1024" placeholder=item.scope.clone()/>
                                                                            <label for=format!("{form_id}-c")>{if flagged { "Justification (required; this item is flagged)" } else { "Comment (required)" }}</label>
                                                                            <textarea id=format!("{form_id}-c") name="comment" rows="2" maxlength="2000" required=true></textarea>
                                                                            <div><button type="submit" class="btn btn-primary">"Record"</button></div>
                                                                        </ActionForm>
                                                                    </details>
                                                                })}
                                                            </td>
                                                        </tr>
                                                    }.into_any()
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Suspense>
        </Layout>
    }
}
