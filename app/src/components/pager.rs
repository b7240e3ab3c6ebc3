//! Previous / next links for a list paged on the server.

use leptos::prelude::*;

/// Nothing when everything fits on one page.
#[component]
pub fn Pager(page: i64, pages: i64, prev: Option<String>, next: Option<String>) -> impl IntoView {
    (pages > 1).then(|| {
        view! {
            <nav class="pager" aria-label="Pages">
                {prev.map(|h| view! { <a class="btn" href=h rel="prev">"← Previous"</a> })}
                <span class="muted">{format!("Page {page} of {pages}")}</span>
                {next.map(|h| view! { <a class="btn" href=h rel="next">"Next →"</a> })}
            </nav>
        }
    })
}
