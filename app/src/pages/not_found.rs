//! The page for addresses that lead nowhere, served with status 404.

use crate::{components::layout::Layout, components::notice::ErrorPanel, model::AppError};
use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    let path = leptos_router::hooks::use_location().pathname.get_untracked();
    view! {
        <Layout title="Not found">
            <ErrorPanel error=AppError::NotFound(format!("the page {path}"))/>
        </Layout>
    }
}
