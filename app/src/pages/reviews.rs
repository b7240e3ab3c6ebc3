//! Access review campaigns: start one over a scope of the newest snapshot,
//! and every campaign with its progress and whether it is certified.

use crate::{
    api::reviews::{list_reviews, CreateReview},
    components::{
        layout::Layout,
        notice::{ErrorPanel, FormError},
    },
    model::ReviewSummary,
};
use leptos::prelude::*;

/// How far a campaign has come, as a bar and in words.
#[component]
pub fn Progress(summary: ReviewSummary) -> impl IntoView {
    let pct = if summary.items == 0 { 100 } else { summary.decided * 100 / summary.items };
    view! {
        <span class="progress-line" data-testid="review-progress">
            <progress max=summary.items.max(1).to_string() value=summary.decided.to_string() aria-label="Items decided"></progress>
            <span class="muted">{format!(" {} of {} decided ({pct}%)", summary.decided, summary.items)}</span>
        </span>
    }
}

#[component]
pub fn Reviews() -> impl IntoView {
    let create = ServerAction::<CreateReview>::new();
    let data = Resource::new(|| (), |_| list_reviews());
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            let navigate = leptos_router::hooks::use_navigate();
            navigate(&format!("/reviews/{id}"), Default::default());
        }
    });
    view! {
        <Layout title="Access reviews">
            <h1>"Access reviews"</h1>
            <p class="muted">"A campaign covers the role assignments that give access to the AI accounts in a scope, as of the newest snapshot: each is kept, revoked or changed, then the whole certified. "
                <a href="/access">"Who has access now"</a></p>
            <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        Ok(v) => view! {
                            <section class="panel">
                                <h2>"Start a campaign"</h2>
                                <ActionForm action=create attr:class="form" attr:data-testid="review-create">
                                    <label for="r-name">"Name"</label>
                                    <input id="r-name" name="name" required=true maxlength="200" placeholder="Q4 access review"/>
                                    <label for="r-scope">"Scope"</label>
                                    <select id="r-scope" name="scope">
                                        {v.scopes.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                                    </select>
                                    <label for="r-due">"Due date " <span class="muted">"(optional)"</span></label>
                                    <input id="r-due" name="due" type="date"/>
                                    <label for="r-on-due">"At the due date"</label>
                                    <select id="r-on-due" name="on_due">
                                        {crate::model::ON_DUE.into_iter().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                                    </select>
                                    <p class="muted">"Reviewers are reminded three days before; at the date, what is still undecided is decided this way, marked as not reviewed, and the campaign is closed."</p>
                                    <div><button type="submit" class="btn btn-primary">"Start the campaign"</button></div>
                                </ActionForm>
                                {move || match create.value().get() {
                                    Some(Err(e)) => view! { <FormError error=e/> }.into_any(),
                                    _ => ().into_any(),
                                }}
                            </section>
                            {if v.reviews.is_empty() {
                                view! { <p class="panel empty-state">"No campaign yet."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="table" data-testid="reviews-table">
                                        <thead><tr><th scope="col">"Campaign"</th><th scope="col">"Scope"</th><th scope="col">"Progress"</th><th scope="col">"Status"</th><th scope="col">"Started"</th></tr></thead>
                                        <tbody>
                                            {v.reviews.into_iter().map(|r| view! {
                                                <tr data-testid="review-row">
                                                    <td><a href=format!("/reviews/{}", r.id)>{r.name.clone()}</a>
                                                        <span class="place muted">{format!("#{} · {} flagged", r.id, r.flagged)}</span></td>
                                                    <td><code class="wrap">{r.scope.clone()}</code></td>
                                                    <td><Progress summary=r.clone()/></td>
                                                    <td>{if r.closed_at_due {
                                                        view! { <span class="badge badge-warn" title=r.certify_comment.clone()>"closed at its due date"</span> }.into_any()
                                                    } else if r.overdue {
                                                        view! { <span class="badge badge-bad" title=format!("due {}", r.due_at)>"overdue"</span> }.into_any()
                                                    } else if r.certified_at.is_empty() {
                                                        view! { <span class="badge badge-warn">"open"</span>
                                                                {(!r.due_at.is_empty()).then(|| view! { <span class="place muted">{format!("due {}", r.due_at)}</span> })} }.into_any()
                                                    } else {
                                                        view! { <span class="badge badge-good" title=format!("by {} at {}", r.certified_by, r.certified_at)>"certified"</span> }.into_any()
                                                    }}</td>
                                                    <td class="muted">{format!("{} by {}", r.created_at, r.created_by)}</td>
                                                </tr>
                                            }.into_any()).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        }.into_any(),
                    }
                })}
            </Suspense>
        </Layout>
    }
}
