//! Alerts: published on a broadcast channel as they happen and streamed to each subscriber as
//! Server-Sent Events, filtered by role (`GET /api/alerts/stream`).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use crate::api::require;
use crate::app::ApiError;
use crate::auth::{Action, Principal, Role};
use crate::state::{Alert, Shared};

/// Sends alerts to every subscriber.
pub fn publish(state: &Shared, alerts: Vec<Alert>) {
    for a in alerts {
        state.metrics.alerts_sent.fetch_add(1, Ordering::Relaxed);
        // No subscriber is not an error: the alert is in the incident's record either way.
        let _ = state.alerts.send(a);
    }
}

/// Whether `role` is told of `alert`: staff of everything; a party of incidents in its area or
/// attributed to it (officially or as suggested).
pub fn told(role: &Role, alert: &Alert) -> bool {
    match role {
        Role::Admin | Role::Analyst => true,
        Role::Party(p) => {
            // A response is shown to both parties.
            alert.kind == "response"
                || alert.party_area.as_deref() == Some(p.as_str())
                || alert.party.as_deref() == Some(p.as_str())
        }
        Role::Team(_) | Role::Public => false,
    }
}

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
            .id(format!("{}:{}", alert.incident, alert.entry_seq))
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
