//! One-time messages from the multipart form handlers to the page they
//! redirect to. The text travels in the session, never in the URL, so a
//! link cannot put words on a page; the page takes it once
//! (`app::api::session::take_flash`).

use app::model::Flash;
use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use tower_sessions::Session;

/// A message waiting in a response for [`store`] to keep in the session.
#[derive(Clone)]
struct Pending {
    page: String,
    flash: Flash,
}

/// A redirect to `to` that leaves `text` for the page `page` (the key its
/// `take_flash` call names).
pub fn redirect(to: &str, page: &str, error: bool, text: impl Into<String>) -> Response {
    let mut res = Redirect::to(to).into_response();
    res.extensions_mut().insert(Pending { page: page.to_string(), flash: Flash { error, text: text.into() } });
    res
}

/// Middleware on the form routes: keeps a pending message in the session.
pub async fn store(session: Session, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    if let Some(p) = res.extensions().get::<Pending>().cloned() {
        if let Err(e) = session.insert(&format!("flash:{}", p.page), p.flash).await {
            tracing::warn!(error = %e, "keeping a form's message in the session");
        }
    }
    res
}
