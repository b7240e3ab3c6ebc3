//! Accepting connections: at most so many open, a share of them per client
//! address, and a time limit on reading each request's headers — which is
//! also how long an idle keep-alive connection stays open.
//!
//! `axum::serve` has none of these: its request timeout starts once the
//! headers are in, so a client sending a request line byte by byte, or
//! nothing at all, holds its connection (and a file descriptor) forever,
//! and one client with 20,000 of them starved the server of descriptors
//! until `/readyz` stopped answering. Here a connection over the caps is
//! closed as soon as it is accepted, so the backlog keeps moving and other
//! clients (a load balancer's probes among them) are still served.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 to the portal only over TLS, which a
//! reverse proxy in front terminates; cleartext HTTP/2 would need its own
//! idle limits.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;

/// How many connections may be open, and for how long without a request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections from one client address (`None`: no share, for a
    /// server behind a reverse proxy, whose connections all come from it).
    pub per_client: Option<usize>,
    /// Time to send a request's headers, counted from the connection's
    /// opening or from the previous response: the header-read and the idle
    /// keep-alive timeout.
    pub header_timeout: Duration,
}

/// The open connections, per client address.
#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// One connection's place among the open ones, given back when dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    client: IpAddr,
}

impl Slot {
    /// A place for a connection from `client`, unless a cap is reached.
    fn take(open: &Arc<Mutex<Open>>, client: IpAddr, limits: &Limits) -> Option<Slot> {
        let mut o = open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = o.by_client.get(&client).copied().unwrap_or(0);
        if o.total >= limits.max_connections || limits.per_client.is_some_and(|share| mine >= share) {
            return None;
        }
        o.total += 1;
        *o.by_client.entry(client).or_default() += 1;
        Some(Slot { open: Arc::clone(open), client })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self.open.lock().unwrap_or_else(|e| e.into_inner());
        o.total -= 1;
        if let Some(n) = o.by_client.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                o.by_client.remove(&self.client);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes,
/// then lets every open connection finish its request in flight.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let open = Arc::new(Mutex::new(Open::default()));
    let (stop, stopping) = watch::channel(());
    // When a refusal was last logged: once per 10 s is enough to notice.
    let mut refused_logged: Option<std::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it
                    // was accepted: pause rather than spin, and go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = Slot::take(&open, peer.ip(), &limits) else {
            // Closed at once: the client is told by the reset, and the
            // descriptor is free again.
            if refused_logged.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(client = %peer.ip(), "connection refused: too many open connections");
                refused_logged = Some(std::time::Instant::now());
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                // What `into_make_service_with_connect_info` would insert.
                req.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(req)
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(client = %peer, error = %e, "connection ended with an error");
                    }
                }
                _ = stopping.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    // Every connection holds a receiver: closed once the last one ends.
    drop(stopping);
    let _ = stop.send(());
    stop.closed().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_its_share_and_the_total_is_capped() {
        let open = Arc::new(Mutex::new(Open::default()));
        let limits = Limits { max_connections: 3, per_client: Some(2), header_timeout: Duration::from_secs(1) };
        let a: IpAddr = [192, 0, 2, 1].into();
        let b: IpAddr = [192, 0, 2, 2].into();
        let a1 = Slot::take(&open, a, &limits).unwrap();
        let _a2 = Slot::take(&open, a, &limits).unwrap();
        assert!(Slot::take(&open, a, &limits).is_none(), "a's share is 2");
        let _b1 = Slot::take(&open, b, &limits).unwrap();
        assert!(Slot::take(&open, b, &limits).is_none(), "3 in all");
        drop(a1);
        assert!(Slot::take(&open, a, &limits).is_some(), "a closed one: its place is free again");
        let unlimited = Limits { per_client: None, ..limits };
        let open = Arc::new(Mutex::new(Open::default()));
        let held: Vec<Slot> = (0..3).map(|_| Slot::take(&open, a, &unlimited).unwrap()).collect();
        assert_eq!(held.len(), 3);
        assert!(Slot::take(&open, b, &unlimited).is_none());
    }
}
