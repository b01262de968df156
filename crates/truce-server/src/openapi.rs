//! The API definition: an OpenAPI 3.1 document generated with `utoipa` from the handlers'
//! `#[utoipa::path]` annotations ([`crate::api`]), with the OGC API – Features paths of
//! [`crate::ogc::openapi_paths`] merged in, served at `GET /api/openapi.json`; and Swagger UI
//! (vendored in the binary, no download) at `/api/docs`. Reference: `docs/api.md`, *OpenAPI*.
//!
//! Handlers answer `Json<Value>`; the response bodies are described by the types of
//! [`schemas`], which mirror what the handlers build (tested against the live server by
//! schemathesis: `crates/truce/tests/openapi.rs`).

use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::ogc::OPENAPI_PATH;
use crate::state::Shared;

use crate::schemas::*;

/// Where Swagger UI is served.
pub const DOCS_PATH: &str = "/api/docs";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Truce",
        description = "Ceasefire monitoring: observations in, incidents with their lifecycle out, every input in a tamper-evident log; and the incidents, observations and terms in force as OGC API – Features.\n\nSend `Authorization: Bearer <token>` (`truce token create`; the scheme in any case); without a token the caller is the public, which sees published incidents only (at ~5 km), aggregates, the log's checkpoint and the terms. What each role may see and do is in `docs/api.md`. Errors are `{\"error\": reason}` (OGC API resources: `{\"code\", \"description\"}`) with the status: 400 bad query or body, 401 token, 403 role, 404 absent or not visible, 408 a body not sent within `body_timeout`, 409 a decision the state refuses, 413 body or batch too large, 415/422 JSON body of the wrong type or shape, 429 rate limit per address or caller (with `Retry-After`), 503 too many requests in flight.",
        license(name = "Apache-2.0 OR MIT", identifier = "Apache-2.0 OR MIT"),
    ),
    paths(
        crate::api::service::healthz,
        crate::api::service::metrics,
        crate::api::service::whoami,
        crate::api::observations::post_observations,
        crate::api::incidents::list_incidents,
        crate::api::incidents::get_incident,
        crate::api::incidents::post_decision,
        crate::api::incidents::post_response,
        crate::api::tasks::list_tasks,
        crate::api::tasks::post_task,
        crate::tlog::checkpoint,
        crate::tlog::tile,
        crate::api::tasks::post_outcome,
        crate::api::tasks::get_coverage,
        crate::api::tasks::get_mission,
        crate::api::observations::post_allegation,
        crate::api::incidents::stats,
        crate::api::log::checkpoint,
        crate::api::log::proof,
        crate::api::reports::list_reports,
        crate::api::reports::daily,
        crate::api::reports::daily_short,
        crate::api::reports::spot,
        alerts_stream,
        openapi_json,
    ),
    components(schemas(ErrorBody, IngestFormat, LifecycleState, truce_service::alerts::Alert)),
    tags(
        (name = "service", description = "Health, metrics and this definition"),
        (name = "observations", description = "Feeds in"),
        (name = "incidents", description = "Incidents, decisions and aggregates"),
        (name = "tasks", description = "Ground teams' verification tasks"),
        (name = "parties", description = "The parties' allegations and responses"),
        (name = "log", description = "The tamper-evident log: checkpoints and proofs"),
        (name = "alerts", description = "Server-Sent Events"),
        (name = "reports", description = "Daily and spot reports, made for the caller's role at the latest checkpoint"),
        (name = "OGC API – Features", description = "OGC API – Features – Part 1: Core (incidents, observations and the terms as map layers)"),
    ),
)]
struct ApiDoc;

/// Documents `GET /api/alerts/stream` (the handler is [`crate::api::alerts::stream`]).
#[utoipa::path(get, path = "/api/alerts/stream", tag = "alerts",
    summary = "Alerts as Server-Sent Events (staff, party)",
    description = "Events `breach` (an incident in breach of a high or critical rule, new or grown), `state` (an analyst's decision), `response` (a party's), each with a JSON `Alert`; `lagged` tells a slow subscriber how many it missed. Staff get all; a party those in its area or attributed to it, and every response. The stream stays open until the server shuts down or the token is revoked (re-checked every 2 s): then a last `revoked` event, and it ends.",
    responses(
        (status = 200, description = "An event stream", body = String, content_type = "text/event-stream"),
        (status = 403, description = "The role may not subscribe to alerts", body = ErrorBody),
    ))]
#[allow(dead_code)]
fn alerts_stream() {}

/// Documents `GET /api/openapi.json` (served by Swagger UI's router, [`routes`]).
#[utoipa::path(get, path = "/api/openapi.json", tag = "service",
    summary = "This API definition (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
#[allow(dead_code)]
fn openapi_json() {}

/// Responses any request may get from the gate (`crate::app`) before its handler runs, their
/// body the component `schema` (`ErrorBody`; on OGC API paths `OgcException`, which
/// `crate::ogc::exceptions` turns them into).
fn gate_responses(schema: &str) -> Value {
    let err = |d: &str| json!({ "description": d, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } });
    let mut too_many = err(
        "More than `requests_per_second` requests a second for this token (or address, for the public)",
    );
    too_many["headers"] = json!({ "Retry-After": { "description": "Seconds to wait", "schema": { "type": "integer", "minimum": 1 } } });
    json!({
        "401": err("An unknown or revoked token, or an `Authorization` header that is not `Bearer <token>`"),
        "429": too_many,
        "503": err("More than `max_connections` requests in flight; retry shortly"),
    })
}

/// The whole document: the REST API's paths from the annotations, the OGC API's, the bearer
/// security scheme (optional: no token is the public), and the gate's 401, 429 and 503 on
/// every operation.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serialises");
    let paths = doc["paths"].as_object_mut().expect("paths");
    let mut ogc_paths = Vec::new();
    if let Value::Object(ogc) = crate::ogc::openapi_paths() {
        ogc_paths.extend(ogc.keys().cloned());
        paths.extend(ogc);
    }
    let (gate, ogc_gate) = (gate_responses("ErrorBody"), gate_responses("OgcException"));
    for (path, item) in paths.iter_mut() {
        let gate = if ogc_paths.contains(path) {
            &ogc_gate
        } else {
            &gate
        };
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
                continue;
            };
            for (status, r) in gate.as_object().expect("object") {
                responses.entry(status.clone()).or_insert_with(|| r.clone());
            }
        }
    }
    let components = doc["components"].as_object_mut().expect("components");
    components
        .entry("schemas")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("schemas")
        .insert(
            "OgcException".into(),
            crate::ogc::openapi_exception_schema(),
        );
    components.insert(
        "securitySchemes".into(),
        json!({ "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from `truce token create --role ROLE`: admin, analyst, team:ID, party:ID. Optional: without one the caller is the public.",
        } }),
    );
    // `{}` first: every operation may be called without a token (as the public), and the
    // handler then answers what the public may see, or 403.
    doc["security"] = json!([{}, { "bearer": [] }]);
    doc
}

/// `GET /api/openapi.json` and Swagger UI at `/api/docs`.
pub fn routes() -> axum::Router<Shared> {
    SwaggerUi::new(DOCS_PATH)
        .external_url_unchecked(OPENAPI_PATH, document())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_3_1_with_every_route() {
        let d = document();
        assert_eq!(d["openapi"], "3.1.0");
        for p in [
            "/healthz",
            "/metrics",
            "/api/whoami",
            "/api/observations",
            "/api/incidents",
            "/api/incidents/{id}",
            "/api/incidents/{id}/decisions",
            "/api/incidents/{id}/responses",
            "/api/tasks",
            "/api/tasks/{id}/outcome",
            "/api/allegations",
            "/api/stats",
            "/api/log/checkpoint",
            "/api/log/proof/{seq}",
            "/api/alerts/stream",
            "/api/openapi.json",
            "/",
            "/conformance",
            "/collections",
            "/collections/{collectionId}",
            "/collections/{collectionId}/items",
            "/collections/{collectionId}/items/{featureId}",
        ] {
            assert!(d["paths"].get(p).is_some(), "{p} missing");
        }
        assert_eq!(
            d["paths"]["/api/incidents"]["get"]["responses"]["429"]["headers"]["Retry-After"]["schema"]
                ["type"],
            "integer"
        );
        assert!(d["components"]["schemas"]["OgcException"].is_object());
        assert!(d["components"]["schemas"]["DecisionBody"].is_object());
        assert_eq!(
            d["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
