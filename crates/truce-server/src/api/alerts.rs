//! `GET /api/alerts/stream`: alerts as Server-Sent Events, each subscriber told only what its
//! role is told ([`truce_service::alerts::told`]).

use std::convert::Infallible;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use truce_service::alerts::told;

use crate::auth::require;
use crate::auth::{Action, Principal};
use crate::error::ApiError;
use crate::state::Shared;

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
    // The stream ends when the service shuts down.
    let events = futures_util::StreamExt::take_until(events, Box::pin(stopping));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
