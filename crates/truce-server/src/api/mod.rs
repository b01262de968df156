//! The JSON REST API, one file per concern. Every handler names its [`Action`] and
//! `require`s it (`crate::auth::require`) ([`crate::auth`] decides), calls one use case or view of the service through
//! [`crate::reactions::with_core`], and answers a typed view of `truce_service::view` — no
//! use-case logic and no hand-built JSON here.

pub mod alerts;
pub mod incidents;
pub mod log;
pub mod observations;
pub mod reports;
pub mod service;
pub mod tasks;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(service::healthz))
        .route("/metrics", get(service::metrics))
        .route("/api/whoami", get(service::whoami))
        .route("/api/observations", post(observations::post_observations))
        .route("/api/incidents", get(incidents::list_incidents))
        .route("/api/incidents/{id}", get(incidents::get_incident))
        .route(
            "/api/incidents/{id}/decisions",
            post(incidents::post_decision),
        )
        .route(
            "/api/incidents/{id}/responses",
            post(incidents::post_response),
        )
        .route("/api/tasks", get(tasks::list_tasks).post(tasks::post_task))
        .route("/api/tasks/{id}/outcome", post(tasks::post_outcome))
        .route("/api/coverage", get(tasks::get_coverage))
        .route("/api/mission", get(tasks::get_mission))
        .route("/api/allegations", post(observations::post_allegation))
        .route("/api/stats", get(incidents::stats))
        .route("/api/log/checkpoint", get(log::checkpoint))
        .route("/api/log/proof/{seq}", get(log::proof))
        .route("/api/alerts/stream", get(alerts::stream))
        .route("/api/reports", get(reports::list_reports))
        .route("/api/reports/daily/{day}", get(reports::daily))
        .route("/api/reports/{day}", get(reports::daily_short))
        .route("/api/reports/spot/{id}", get(reports::spot))
}
