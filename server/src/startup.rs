//! Building the application (the router and its middleware) and serving it.

use crate::{http, AppState, Config};
use app::{shell, ssr::ServerContext, App};
use attest_core::checkpoints::Notary;
use axum::{middleware, routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use sqlx::PgPool;
use std::{sync::Arc, time::Duration};
use tower::ServiceBuilder;
use tower_http::{
    compression::CompressionLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

pub const SESSION_COOKIE: &str = "attest_session";
/// Over https the cookie's name carries the `__Host-` prefix: browsers then
/// accept it only Secure, for `/`, from this host and never a parent domain,
/// so a sibling subdomain cannot plant or overwrite it.
pub const SESSION_COOKIE_HTTPS: &str = "__Host-attest_session";

/// The whole application: pages, server functions, REST API, health checks,
/// static files, and the middleware around them.
pub fn router(pool: PgPool, config: Arc<Config>, notary: Arc<Notary>) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("attest")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    let state = AppState { pool: pool.clone(), leptos_options, config: config.clone() };
    let context = ServerContext { pool: pool.clone(), notary };
    let provide = move || provide_context(context.clone());

    let sessions = SessionManagerLayer::new(PostgresStore::new(pool))
        .with_name(if config.https() { SESSION_COOKIE_HTTPS } else { SESSION_COOKIE })
        .with_path("/")
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(config.https())
        .with_expiry(Expiry::OnInactivity(time::Duration::minutes(config.session_idle_minutes as i64)));

    let https = config.https();
    Router::new()
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .nest("/api/v1", http::api_v1::router())
        // Its own limit applies (see http::limits), not axum's default.
        .route(
            http::upload::PATH,
            axum::routing::post(http::upload::upload_snapshot)
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(axum::middleware::from_fn(http::flash::store)),
        )
        .route(
            "/attest/finding/{id}",
            axum::routing::post(http::attest::attest_finding)
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(axum::middleware::from_fn(http::flash::store)),
        )
        .route(
            http::definitions::PATH,
            axum::routing::post(http::definitions::import_definition)
                .layer(axum::extract::DefaultBodyLimit::disable())
                .layer(axum::middleware::from_fn(http::flash::store)),
        )
        .leptos_routes_with_context(&state, generate_route_list(App), provide.clone(), {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(provide, shell))
        // Layers run outermost-last: request id, tracing, limits, headers,
        // CSRF, session, principal, then the sign-in redirect.
        .layer(middleware::from_fn(http::auth::page_guard))
        .layer(middleware::from_fn_with_state(state.clone(), http::auth::resolve_principal))
        .layer(sessions)
        .layer(middleware::from_fn(http::csrf::protect))
        .layer(middleware::from_fn_with_state(state.clone(), http::host::only_public_host))
        .layer(middleware::from_fn(move |req, next| http::security::headers(https, req, next)))
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(state.clone(), http::limits::body_limit))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_secs),
        ))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request.id = %id, http.method = %req.method(), http.path = %req.uri().path())
                }))
                .layer(PropagateRequestIdLayer::x_request_id()),
        )
        .with_state(state)
}

/// Serves until `shutdown` completes, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pool: PgPool,
    config: Arc<Config>,
    notary: Arc<Notary>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Aborted when serving ends or this future is dropped, so no task
    // outlives the server holding the pool.
    let _maintenance = AbortOnDrop(tokio::spawn(maintenance(pool.clone())));
    let _exemptions = AbortOnDrop(tokio::spawn(crate::jobs::exemptions(pool.clone(), config.clone())));
    let _checkpoints =
        AbortOnDrop(tokio::spawn(crate::jobs::checkpoints(pool.clone(), notary.clone(), config.clone())));
    let _access_index = AbortOnDrop(tokio::spawn(crate::jobs::access_index(pool.clone())));
    let _reviews = AbortOnDrop(tokio::spawn(crate::jobs::reviews(pool.clone(), config.clone())));
    let limits = crate::http::connections::Limits {
        max_connections: config.max_connections.max(1),
        per_client: (!config.trust_forwarded_for).then_some(config.max_connections_per_client.max(1)),
        header_timeout: Duration::from_secs(config.header_timeout_secs.max(1)),
    };
    let app = router(pool, config, notary);
    crate::http::connections::serve(listener, app, limits, shutdown).await
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Periodic housekeeping: expired sessions and old sign-in failures.
async fn maintenance(pool: PgPool) {
    let mut tick = tokio::time::interval(Duration::from_secs(600));
    loop {
        tick.tick().await;
        let sessions = sqlx::query("delete from tower_sessions.session where expiry_date < now()").execute(&pool).await;
        let failures =
            sqlx::query("delete from signin_failures where at < now() - interval '1 day'").execute(&pool).await;
        if let Err(e) = sessions.and(failures) {
            tracing::warn!(error = %e, "housekeeping failed; will retry");
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when
/// this is called, so a signal that arrives before serving starts is not lost.
pub fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutting down");
    })
}
