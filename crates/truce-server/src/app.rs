//! The HTTP service: routes, authentication, limits, metrics, and graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::state::{Limits, Shared};

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub cot_tcp: Option<SocketAddr>,
    pub cot_udp: Option<SocketAddr>,
    pub limits: Limits,
    /// Per-party webhook endpoints (`truce serve --webhooks FILE`, `crate::webhooks::load`).
    pub webhooks: Vec<crate::webhooks::Endpoint>,
}

/// Per-caller token buckets for the request rate limit.
#[derive(Default)]
struct Buckets(HashMap<String, (f64, Instant)>);

/// Authenticates the bearer token (none: public; unknown or revoked: 401), applies the rate
/// limit and the in-flight limit, records metrics, and puts the [`Principal`] in the request.
async fn gate(
    State((state, buckets, inflight)): State<(Shared, Arc<Mutex<Buckets>>, Arc<Semaphore>)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let Ok(_permit) = inflight.try_acquire() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "more than {} requests in flight (max_connections); retry shortly",
                state.limits.max_connections
            ),
        )
        .into_response();
    };
    let principal = match req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
    {
        None => Principal::public(),
        Some(v) => {
            let Some(secret) = v.strip_prefix("Bearer ") else {
                return ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "Authorization must be `Bearer <token>`",
                )
                .into_response();
            };
            let s = state.clone();
            let secret = secret.trim().to_string();
            match tokio::task::spawn_blocking(move || s.principal(&secret)).await {
                Ok(Ok(Some(p))) => p,
                Ok(Ok(None)) => {
                    return ApiError::new(StatusCode::UNAUTHORIZED, "unknown or revoked token")
                        .into_response();
                }
                Ok(Err(e)) => return ApiError::from(e).into_response(),
                Err(e) => return ApiError::from(anyhow::anyhow!(e)).into_response(),
            }
        }
    };
    let caller = principal
        .token_id
        .map_or_else(|| format!("ip:{}", peer.ip()), |id| format!("token:{id}"));
    let rate = f64::from(state.limits.requests_per_second);
    let wait = {
        let mut b = buckets.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let (tokens, last) = b.0.entry(caller).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            None
        } else {
            Some(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        }
    };
    if let Some(secs) = wait {
        state.metrics.rate_limited.fetch_add(1, Ordering::Relaxed);
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "more than {} requests a second for this token (requests_per_second)",
                state.limits.requests_per_second
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return r;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let role = principal.role.name();
    req.extensions_mut().insert(principal);
    let response = next.run(req).await;
    let took = started.elapsed();
    state.metrics.observe_latency(took);
    tracing::info!(%method, %path, role, status = response.status().as_u16(), micros = took.as_micros() as u64, "request");
    response
}

/// The whole router.
pub fn router(state: Shared) -> Router {
    let buckets = Arc::new(Mutex::new(Buckets::default()));
    let inflight = Arc::new(Semaphore::new(state.limits.max_connections));
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::ogc::routes())
        .merge(crate::openapi::routes())
        .merge(crate::tlog::routes())
        .merge(crate::web::routes())
        .layer(middleware::from_fn_with_state(
            (state.clone(), buckets, inflight),
            gate,
        ))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .with_state(state)
}

/// Serves until SIGINT or SIGTERM: then stops accepting, lets in-flight requests finish (a
/// batch being stored commits and is checkpointed: writes run to completion on their own
/// threads), stops the CoT listeners after their open batch, and returns.
pub async fn serve(state: Shared, config: Config) -> Result<()> {
    let mut webhooks = None;
    if !config.webhooks.is_empty() {
        let hooks = crate::webhooks::Webhooks::start(&state, config.webhooks.clone());
        for e in &config.webhooks {
            tracing::info!(party = %e.party, endpoint = %e.shown, "webhook");
        }
        if state.webhooks.set(hooks.clone()).is_err() {
            anyhow::bail!("webhooks were already started on this state");
        }
        webhooks = Some(hooks);
    }
    let stop_rx = state.stop.subscribe();
    let stop_tx = state.stop.clone();
    // Entries other processes append (a `truce decide` from a shell) are folded and alerted
    // even when no request comes.
    let follower = tokio::spawn(crate::reactions::follow_log(state.clone()));
    let mut listeners = Vec::new();
    if let Some(addr) = config.cot_tcp {
        listeners.push(tokio::spawn(crate::cot::listen_tcp(
            state.clone(),
            addr,
            stop_rx.clone(),
        )));
    }
    if let Some(addr) = config.cot_udp {
        listeners.push(tokio::spawn(crate::cot::listen_udp(
            state.clone(),
            addr,
            stop_rx.clone(),
        )));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, db = %state.db.display(), "serving");
    println!(
        "truce serve: listening on http://{}",
        listener.local_addr()?
    );
    let app = router(state.clone());
    let mut http_stop = stop_rx.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests and open batches");
        let _ = stop_tx.send(true);
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = http_stop.wait_for(|s| *s).await;
    })
    .await
    .context("serving HTTP")?;
    let _ = follower.await;
    for l in listeners {
        match l.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "CoT listener"),
            Err(e) => tracing::error!(error = %e, "CoT listener panicked"),
        }
    }
    // The last alerts are published: deliveries waiting to retry give up, and every outcome
    // is logged before the process exits.
    if let Some(hooks) = webhooks {
        hooks.finish().await;
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
