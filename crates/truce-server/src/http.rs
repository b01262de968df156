//! The HTTP accept loop: every connection bounded before a request reaches the router.
//!
//! - at most `max_open_connections` open, and `max_connections_per_address` from one client
//!   address: one more is closed as soon as it is accepted, so a flood of half-open
//!   connections cannot take the process's file descriptors;
//! - a request's headers must arrive within `header_timeout` (hyper's header read timeout),
//!   which also closes a kept-alive connection left idle that long;
//! - a request's body within `body_timeout` (the gate in `crate::app`, 408);
//! - with TLS (`truce serve --tls-cert --tls-key`), the handshake within `header_timeout`
//!   too, after the connection has its place: a client that opens connections and never
//!   finishes a handshake holds a place for that long at most.
//!
//! Connections are served by hyper's HTTP/1.1 server with the router as the service; on
//! shutdown each finishes the request it is serving and closes, and [`serve`] returns when
//! the last has.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower_service::Service as _;

use crate::slots::{Slot, Slots};
use crate::state::Limits;
use crate::throttle::LogRate;

/// Refused connections are logged at most this often (a flood is counted, not written out).
static REFUSED_LOG: LogRate = LogRate::new(10, Duration::from_secs(60));

/// Serves `app` on `listener` until `stop` turns true, then lets open connections finish the
/// request they are serving and returns when all are closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    mut stop: watch::Receiver<bool>,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Slots::new(
        limits.max_open_connections,
        limits.max_connections_per_address,
        ("max_open_connections", "max_connections_per_address"),
    );
    // Each connection holds a sender: when the last is dropped, every connection is closed.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors or a connection reset before it was accepted: wait
                    // a little rather than spin.
                    if let Some(suppressed) = REFUSED_LOG.admit() {
                        tracing::warn!(error = %e, suppressed, "accepting a connection failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        let slot = match slots.take(peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                // Dropped here: closed at once.
                drop(stream);
                if let Some(suppressed) = REFUSED_LOG.admit() {
                    tracing::warn!(peer = %peer, suppressed, "connection refused: {why}");
                }
                continue;
            }
        };
        tokio::spawn(connection(
            stream,
            peer,
            app.clone(),
            limits.header_timeout,
            acceptor.clone(),
            stop.clone(),
            (slot, alive.clone()),
        ));
    }
    drop(alive);
    let _ = all_closed.recv().await;
    Ok(())
}

/// One connection, served until the client closes it, a limit closes it, or the service
/// stops (then after the request it is serving).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
    stop: watch::Receiver<bool>,
    _held: (Slot, mpsc::Sender<()>),
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return http1(stream, peer, app, header_timeout, stop).await;
    };
    match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => http1(tls, peer, app, header_timeout, stop).await,
        Ok(Err(e)) => {
            if let Some(suppressed) = REFUSED_LOG.admit() {
                tracing::warn!(peer = %peer, suppressed, "TLS handshake failed: {e}");
            }
        }
        Err(_) => {
            if let Some(suppressed) = REFUSED_LOG.admit() {
                tracing::warn!(peer = %peer, suppressed, "TLS handshake not done within header_timeout: closed");
            }
        }
    }
}

/// HTTP/1.1 over `io` (TCP, or TLS over TCP).
async fn http1<I>(
    io: I,
    peer: SocketAddr,
    app: Router,
    header_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            let mut response = app.call(req).await.unwrap_or_else(|e| match e {});
            // axum's method router adds `Allow` to whatever its fallback answers, and that is
            // outside every layer: the gate's 429 or 401 on a method the route does not take
            // would carry it. Only a 405 keeps it.
            if response.status() != hyper::StatusCode::METHOD_NOT_ALLOWED {
                response.headers_mut().remove(hyper::header::ALLOW);
            }
            Ok::<_, Infallible>(response)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(peer = %peer, error = %e, "connection closed");
    }
}

/// Resolves when the service stops.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
