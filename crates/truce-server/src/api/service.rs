//! `GET /healthz` and `GET /metrics`: whether the service is up, and its counters.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use truce_service::view::{Health, Whoami};

use crate::auth::require;
use crate::auth::{Action, Principal};
use crate::error::ApiResult;
use crate::reactions::with_core;
use crate::state::Shared;

#[utoipa::path(get, path = "/healthz", tag = "service",
    summary = "Liveness, the log's size and the number of incidents",
    responses((status = 200, description = "The service is up", body = Health)))]
pub async fn healthz(State(state): State<Shared>) -> ApiResult<Json<Health>> {
    with_core(&state, |core| {
        let size = core.svc.store().log_size().map_err(anyhow::Error::from)?;
        Ok(Json(Health {
            status: "ok".into(),
            log_size: size,
            incidents: core.svc.ledger().incidents().len(),
        }))
    })
    .await
}

#[utoipa::path(get, path = "/api/whoami", tag = "service",
    summary = "Who the caller is: role and name, and the log's verifier key",
    description = "Any caller, with or without a token: the role the token names (`public` without one), its holder's name, and the log's verifier key as this server holds it. The web app asks it once to choose its views.",
    responses((status = 200, description = "The caller", body = Whoami)))]
pub async fn whoami(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Whoami>> {
    let log_key = with_core(&state, |core| {
        Ok(core.svc.key().map(|k| k.verifier_key().to_string()))
    })
    .await?;
    Ok(Json(Whoami {
        role: p.role.name(),
        name: p.name.clone(),
        log_key,
    }))
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    summary = "Prometheus metrics (staff)",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 403, description = "The role may not read metrics", body = crate::schemas::ErrorBody),
    ))]
pub async fn metrics(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    require(&p, Action::ReadMetrics, "read metrics")?;
    let (open, by_state) = with_core(&state, |core| {
        let counts = core.svc.ledger().count_by_state();
        let open = core
            .svc
            .ledger()
            .records()
            .iter()
            .filter(|r| !r.state.is_concluded())
            .count();
        Ok((open, counts))
    })
    .await?;
    let m = &state.metrics;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    };
    counter(
        "truce_http_requests_total",
        "HTTP requests received.",
        m.requests.load(Ordering::Relaxed),
    );
    counter(
        "truce_observations_stored_total",
        "Observations newly stored (API and CoT).",
        m.observations_stored.load(Ordering::Relaxed),
    );
    counter(
        "truce_observations_duplicate_total",
        "Observations received again.",
        m.observations_duplicate.load(Ordering::Relaxed),
    );
    counter(
        "truce_records_rejected_total",
        "Records rejected, with a reason kept.",
        m.records_rejected.load(Ordering::Relaxed),
    );
    counter(
        "truce_rejected_suppressed_total",
        "CoT rejections over a source's sample, counted in an aggregate record instead of kept one by one.",
        m.rejected_suppressed.load(Ordering::Relaxed),
    );
    counter(
        "truce_cot_events_total",
        "Cursor-on-Target events received.",
        m.cot_events.load(Ordering::Relaxed),
    );
    counter(
        "truce_alerts_total",
        "Alerts published.",
        m.alerts_sent.load(Ordering::Relaxed),
    );
    counter(
        "truce_webhooks_delivered_total",
        "Webhook deliveries answered 2xx.",
        m.webhooks_delivered.load(Ordering::Relaxed),
    );
    counter(
        "truce_webhooks_failed_total",
        "Webhook deliveries given up.",
        m.webhooks_failed.load(Ordering::Relaxed),
    );
    counter(
        "truce_rate_limited_total",
        "Requests refused by the rate limit.",
        m.rate_limited.load(Ordering::Relaxed),
    );
    out.push_str("# HELP truce_incidents_open Incidents not yet concluded.\n# TYPE truce_incidents_open gauge\n");
    out.push_str(&format!("truce_incidents_open {open}\n"));
    out.push_str(
        "# HELP truce_incidents Incidents by lifecycle state.\n# TYPE truce_incidents gauge\n",
    );
    for (s, n) in by_state {
        out.push_str(&format!(
            "truce_incidents{{state=\"{}\"}} {n}\n",
            s.as_str()
        ));
    }
    out.push_str("# HELP truce_http_request_duration_seconds Request latency.\n# TYPE truce_http_request_duration_seconds histogram\n");
    for (i, b) in crate::state::LATENCY_BUCKETS.iter().enumerate() {
        out.push_str(&format!(
            "truce_http_request_duration_seconds_bucket{{le=\"{b}\"}} {}\n",
            m.latency[i].load(Ordering::Relaxed)
        ));
    }
    let total = m.requests.load(Ordering::Relaxed);
    out.push_str(&format!(
        "truce_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}\ntruce_http_request_duration_seconds_sum {}\ntruce_http_request_duration_seconds_count {total}\n",
        m.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
    ));
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
