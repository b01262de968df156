//! `GET /api/alerts/stream`: alerts as Server-Sent Events, each subscriber told only what its
//! role is told ([`truce_service::alerts::told`]).
//!
//! A stream outlives the request that authenticated it, so it re-checks its token every
//! [`TOKEN_CACHE_TTL`] (through the cache every request uses): once the token is revoked the
//! stream sends a last `revoked` event and ends, within twice that time of the revocation.
//! It ends too when the service shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use truce_service::alerts::told;

use crate::auth::require;
use crate::auth::{Action, Principal, TOKEN_CACHE_TTL};
use crate::error::ApiError;
use crate::state::Shared;
use crate::throttle::LogRate;

/// Failed re-checks of a stream's token (a store that cannot be read) are logged at most this
/// often; the stream stays open until a check succeeds.
static RECHECK_FAILED_LOG: LogRate = LogRate::new(10, Duration::from_secs(60));

pub async fn stream(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    require(&p, Action::ReadAlerts, "subscribe to alerts")?;
    let role = p.role.clone();
    let mut stop = state.stop.subscribe();
    let stopping = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let revoked = Arc::new(AtomicBool::new(false));
    let ended = futures_util::future::select(
        Box::pin(stopping),
        Box::pin(until_revoked(state.clone(), p, revoked.clone())),
    );
    let events = BroadcastStream::new(state.alerts.subscribe()).filter_map(move |a| match a {
        Ok(alert) if told(&role, &alert) => Some(Ok(Event::default()
            .event(alert.kind)
            .id(alert.id.clone())
            .json_data(&alert)
            .unwrap_or_else(|_| Event::default().comment("unencodable alert")))),
        Ok(_) => None,
        // A subscriber too slow to keep up is told how many it missed.
        Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
            Some(Ok(Event::default().event("lagged").data(n.to_string())))
        }
    });
    // The stream ends when the service shuts down or the token is revoked; then, if revoked,
    // the subscriber is told why.
    let events = futures_util::StreamExt::take_until(events, ended);
    let farewell = futures_util::stream::once(async move { revoked.load(Ordering::Acquire) })
        .filter_map(|revoked| {
            revoked.then(|| {
                Ok(Event::default()
                    .event("revoked")
                    .data("this token was revoked; the stream ends"))
            })
        });
    let events = events.chain(farewell);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Resolves once `p`'s token is no longer live, setting `revoked`; never for the public.
async fn until_revoked(state: Shared, p: Principal, revoked: Arc<AtomicBool>) {
    if p.token_sha256.is_none() {
        return std::future::pending().await;
    }
    let mut tick = tokio::time::interval(TOKEN_CACHE_TTL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (s, q) = (state.clone(), p.clone());
        let live = tokio::task::spawn_blocking(move || s.still_live(&q))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        match live {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(token = ?p.token_id, name = %p.name, "alert stream closed: its token was revoked");
                revoked.store(true, Ordering::Release);
                return;
            }
            Err(e) => {
                if let Some(suppressed) = RECHECK_FAILED_LOG.admit() {
                    tracing::warn!(error = %format!("{e:#}"), suppressed, "re-checking an alert stream's token failed; it stays open until a check succeeds");
                }
            }
        }
    }
}
