//! The HTTP service: routes, authentication, limits, metrics, and graceful shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{Action, Principal, allowed};
use crate::error::ApiError;
use crate::state::{Limits, Shared};

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub cot_tcp: Option<SocketAddr>,
    /// Send assigned tasks to the teams' devices on the CoT TCP listener (`crate::cot_tasks`).
    pub cot_tasks: bool,
    pub cot_udp: Option<SocketAddr>,
    /// The CoT listener over TLS with client certificates (`--cot-tls`), and its configuration
    /// (`crate::tls::server_config` with the client CA).
    pub cot_tls: Option<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// HTTPS on `listen` (`--tls-cert`, `--tls-key`): None serves plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub limits: Limits,
    /// Per-party webhook endpoints (`truce serve --webhooks FILE`, `crate::webhooks::load`).
    pub webhooks: Vec<crate::webhooks::Endpoint>,
    /// The nightly daily reports (`--daily-report-at`), if any.
    pub nightly: Option<crate::api::reports::Nightly>,
    /// A JetStream stream to consume observations from (`--nats`, `--stream`), if any.
    pub nats: Option<crate::nats::Inbound>,
}

/// Token buckets for the request rate limits, by caller (`ip:…` or `token:…`).
#[derive(Default)]
struct Buckets(HashMap<String, (f64, Instant)>);

impl Buckets {
    /// Takes one request from `key`'s bucket of `rate` a second (burst the same): `Ok` with
    /// how long to hold the request until the rate allows it (zero when a request was in the
    /// bucket), if that is at most `max_wait`; else `Err` with the seconds to wait. A held
    /// request has taken its place: the next one waits behind it.
    fn take(&mut self, key: String, rate: u32, max_wait: Duration) -> Result<Duration, u64> {
        let rate = f64::from(rate.max(1));
        let now = Instant::now();
        // Addresses come and go: full buckets are forgotten rather than kept for ever.
        if self.0.len() > 100_000 {
            self.0
                .retain(|_, (_, last)| now.duration_since(*last).as_secs_f64() < 1.0);
        }
        let (tokens, last) = self.0.entry(key).or_insert((rate, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        let wait = ((1.0 - *tokens) / rate).max(0.0);
        if wait <= max_wait.as_secs_f64() {
            *tokens -= 1.0;
            Ok(Duration::from_secs_f64(wait))
        } else {
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

/// What the gate shares between requests.
#[derive(Clone)]
struct Gate {
    state: Shared,
    buckets: Arc<Mutex<Buckets>>,
    inflight: Arc<Semaphore>,
}

impl Gate {
    /// 429 with `Retry-After` when `key` is over `rate` (`what` names the limit), unless the
    /// rate allows the request within `max_wait`: then it is held that long.
    // The refusal is the response sent as is, once per refused request: boxing it buys nothing.
    #[allow(clippy::result_large_err)]
    async fn rate_limit(
        &self,
        key: String,
        rate: u32,
        max_wait: Duration,
        what: &str,
    ) -> Result<(), Response> {
        let taken = self
            .buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take(key, rate, max_wait);
        let secs = match taken {
            Ok(wait) if wait.is_zero() => return Ok(()),
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                return Ok(());
            }
            Err(secs) => secs,
        };
        self.state
            .metrics
            .rate_limited
            .fetch_add(1, Ordering::Relaxed);
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("more than {rate} requests a second {what}"),
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        Err(r)
    }
}

/// Whether `v` is `<scheme> <credentials>` with `scheme` in any case (RFC 9110 §11.1): the
/// credentials.
fn credentials<'a>(v: &'a str, scheme: &str) -> Option<&'a str> {
    let (s, rest) = v.trim_start().split_once(' ')?;
    s.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The caller a request's `Authorization` names (none: the public; 401 a malformed header or
/// an unknown or revoked token).
async fn authenticate(state: &Shared, authorization: Option<&str>) -> Result<Principal, Response> {
    let Some(v) = authorization else {
        return Ok(Principal::public());
    };
    let Some(secret) = credentials(v, "Bearer") else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authorization must be `Bearer <token>`",
        )
        .into_response());
    };
    // A token seen in the last `TOKEN_CACHE_TTL` needs no blocking thread.
    let looked_up = match state.cached_principal(secret) {
        Some(hit) => Ok(Ok(hit)),
        None => {
            let (s, secret) = (state.clone(), secret.to_string());
            tokio::task::spawn_blocking(move || s.principal(&secret)).await
        }
    };
    match looked_up {
        Ok(Ok(Some(p))) => Ok(p),
        Ok(Ok(None)) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "unknown or revoked token").into_response())
        }
        Ok(Err(e)) => Err(ApiError::from(e).into_response()),
        Err(e) => Err(ApiError::from(anyhow::anyhow!(e)).into_response()),
    }
}

/// What a request with a body asks to do, decided from its method and path alone so that a
/// caller who may not do it is refused before its body is read (the handler checks again).
fn route_action(method: &Method, path: &str) -> Option<(Action, &'static str)> {
    if *method != Method::POST {
        return None;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["", "api", "observations"] => Some((Action::PostObservations, "post observations")),
        ["", "api", "allegations"] => Some((Action::PostAllegation, "post allegations")),
        ["", "api", "incidents", _, "decisions"] => Some((Action::Decide, "decide on incidents")),
        ["", "api", "incidents", _, "responses"] => {
            Some((Action::PostResponse, "respond to incidents"))
        }
        ["", "api", "tasks"] => Some((Action::Decide, "task teams")),
        ["", "api", "tasks", _, "outcome"] => Some((Action::PostOutcome, "report task outcomes")),
        _ => None,
    }
}

/// Reads a request's whole body within `body_timeout` (408) and `max_body_bytes` (413), so a
/// client trickling a body holds its place in flight for a bounded time.
async fn read_body(state: &Shared, req: Request) -> Result<Request, Response> {
    if req.body().size_hint().exact() == Some(0) {
        return Ok(req);
    }
    let limit = state.limits.max_body_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {limit} bytes (max_body_bytes)"),
        )
        .into_response()
    };
    if req.body().size_hint().lower() > limit as u64 {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let timeout = state.limits.body_timeout;
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
        Ok(Err(e)) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || e.to_string().contains("length limit");
            if over {
                Err(too_large())
            } else {
                Err(ApiError::bad_request(format!("reading the body: {e}")).into_response())
            }
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} s (body_timeout)",
                timeout.as_secs()
            ),
        )
        .into_response()),
    }
}

/// Every request passes here, cheapest check first and all before its body is read: the
/// address's rate limit, the bearer token (none: public; unknown or revoked: 401), the
/// caller's rate limit (a request just over it is held up to `rate_delay`, 429 beyond), the
/// role's right to the route (403); then a place in flight (503
/// beyond `max_connections`) and the body within `body_timeout` (408). Records metrics and
/// puts the [`Principal`] in the request.
async fn gate(
    State(gate): State<Gate>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let state = gate.state.clone();
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = match admit(&gate, peer, req).await {
        Ok((req, role, _permit)) => {
            let response = next.run(req).await;
            tracing::info!(%method, %path, role, status = response.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
            response
        }
        Err(refused) => refused,
    };
    state.metrics.observe_latency(started.elapsed());
    response
}

/// The gate's checks in order: the request with its body read and its caller, the caller's
/// role name and its place in flight; or the refusal.
async fn admit(
    gate: &Gate,
    peer: SocketAddr,
    mut req: Request,
) -> Result<(Request, String, OwnedSemaphorePermit), Response> {
    let state = &gate.state;
    gate.rate_limit(
        format!("addr:{}", peer.ip()),
        state.limits.requests_per_address_per_second,
        Duration::ZERO,
        "from this address (requests_per_address_per_second)",
    )
    .await?;
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("").to_string());
    let principal = authenticate(state, authorization.as_deref()).await?;
    let caller = principal
        .token_id
        .map_or_else(|| format!("ip:{}", peer.ip()), |id| format!("token:{id}"));
    gate.rate_limit(
        caller,
        state.limits.requests_per_second,
        state.limits.rate_delay,
        "for this token (requests_per_second)",
    )
    .await?;
    if let Some((action, what)) = route_action(req.method(), req.uri().path())
        && !allowed(&principal.role, action)
    {
        return Err(ApiError::forbidden(what).into_response());
    }
    let Ok(permit) = gate.inflight.clone().try_acquire_owned() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "more than {} requests in flight (max_connections); retry shortly",
                state.limits.max_connections
            ),
        )
        .into_response());
    };
    let role = principal.role.name();
    req.extensions_mut().insert(principal);
    let req = read_body(state, req).await?;
    Ok((req, role, permit))
}

/// The whole router.
pub fn router(state: Shared) -> Router {
    let gate_state = Gate {
        state: state.clone(),
        buckets: Arc::new(Mutex::new(Buckets::default())),
        inflight: Arc::new(Semaphore::new(state.limits.max_connections)),
    };
    Router::new()
        .merge(crate::api::routes())
        .merge(crate::ogc::routes())
        .merge(crate::openapi::routes())
        .merge(crate::tlog::routes())
        .merge(crate::web::routes())
        .layer(middleware::from_fn_with_state(gate_state, gate))
        // Outside the gate, so its refusals on OGC API paths are OGC exceptions too.
        .layer(middleware::from_fn(crate::ogc::exceptions))
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
    let nightly = config.nightly.clone().map(|job| {
        tracing::info!(at = %job.at, dir = %job.dir.display(), "daily reports");
        tokio::spawn(crate::api::reports::nightly(state.clone(), job))
    });
    let mut listeners = Vec::new();
    if let Some(addr) = config.cot_tcp {
        listeners.push(tokio::spawn(crate::cot::listen_tcp(
            state.clone(),
            addr,
            config.cot_tasks,
            stop_rx.clone(),
        )));
    }
    if let Some((addr, tls)) = config.cot_tls.clone() {
        listeners.push(tokio::spawn(crate::cot::listen_tls(
            state.clone(),
            addr,
            tls,
            config.cot_tasks,
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
    let nats = config.nats.clone().map(|inbound| {
        tokio::spawn(crate::nats::consume(
            state.clone(),
            inbound,
            stop_rx.clone(),
        ))
    });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, db = %state.db.display(), "serving");
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "truce serve: listening on {scheme}://{}",
        listener.local_addr()?
    );
    let app = router(state.clone());
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight requests and open batches");
        let _ = stop_tx.send(true);
    });
    crate::http::serve(
        listener,
        app,
        state.limits.clone(),
        config.tls.clone(),
        stop_rx.clone(),
    )
    .await
    .context("serving HTTP")?;
    let _ = follower.await;
    if let Some(n) = nightly {
        let _ = n.await;
    }
    // The batch being stored is committed and acknowledged before the consumer returns.
    if let Some(n) = nats {
        match n.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "NATS consumer"),
            Err(e) => tracing::error!(error = %e, "NATS consumer panicked"),
        }
    }
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
    // Everything folded, the last alerts' entries included, for the next start to begin from.
    crate::reactions::snapshot(&state, true).await;
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
