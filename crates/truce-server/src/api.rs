//! The JSON REST API. Every handler names its [`Action`]; [`crate::auth`] decides.

use std::sync::atomic::Ordering;

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use truce_core::observation::{
    Observation, ObservationKind, Outcome, Reliability, SourceKind, TaskOutcome,
};
use truce_fusion::ledger::{Action as Decide, Decision, Ledger, Lifecycle, TaskState};
use truce_store::{EntryKind, Log, Store};
use utoipa::{IntoParams, ToSchema};

use crate::app::ApiError;
use crate::auth::{
    Action, Principal, Role, View, allowed, coarsen, incident_view, shown_incidents,
};
use crate::state::{Alert, Shared};

type ApiResult<T> = Result<T, ApiError>;

// Extractors whose rejections are `{"error": …}` like every other error of the API (axum's own
// answer in plain text), with axum's status: 400 a malformed query, path or JSON body, 413 a
// body over `max_body_bytes`, 415 a JSON body sent without `Content-Type: application/json`,
// 422 JSON of the wrong shape.

/// [`Query`], rejected as an [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// [`Path`], rejected as an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// [`Json`], rejected as an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> ApiResult<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e: JsonRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// The raw body, rejected as an [`ApiError`] (413 over `max_body_bytes`).
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> ApiResult<Self> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e: BytesRejection| ApiError::new(e.status(), e.body_text()))
    }
}

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/observations", post(post_observations))
        .route("/api/incidents", get(list_incidents))
        .route("/api/incidents/{id}", get(get_incident))
        .route("/api/incidents/{id}/decisions", post(post_decision))
        .route("/api/incidents/{id}/responses", post(post_response))
        .route("/api/tasks", get(list_tasks).post(post_task))
        .route("/api/tasks/{id}/outcome", post(post_outcome))
        .route("/api/allegations", post(post_allegation))
        .route("/api/stats", get(stats))
        .route("/api/log/checkpoint", get(checkpoint))
        .route("/api/log/proof/{seq}", get(proof))
        .route("/api/alerts/stream", get(crate::alerts::stream))
}

pub fn require(p: &Principal, action: Action, what: &str) -> ApiResult<()> {
    if allowed(&p.role, action) {
        Ok(())
    } else {
        Err(ApiError::forbidden(what))
    }
}

/// Runs `f` with the core locked, on a blocking thread.
pub async fn with_core<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&mut crate::state::Core) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let s = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut core = s.core();
        // Entries another process appended (`truce ingest`, `truce decide` from the CLI while
        // the server runs) are applied before the request sees the ledger — looked for at most
        // every `EXTERNAL_SYNC` (the server's own writes are applied as they are made).
        if core
            .synced_at
            .is_none_or(|t| t.elapsed() >= crate::state::EXTERNAL_SYNC)
        {
            let size = core.store.log_size().map_err(anyhow::Error::from)?;
            if core.ledger.through_seq().map_or(0, |t| t + 1) < size {
                let crate::state::Core { store, ledger, .. } = &mut *core;
                crate::replay::follow(store, ledger)?;
            }
            core.synced_at = Some(std::time::Instant::now());
        }
        f(&mut core)
    })
    .await
    .map_err(|e| ApiError::from(anyhow::anyhow!("worker failed: {e}")))?
}

#[utoipa::path(get, path = "/healthz", tag = "service",
    summary = "Liveness, the log's size and the number of incidents",
    responses((status = 200, description = "The service is up", body = crate::openapi::Health)))]
async fn healthz(State(state): State<Shared>) -> ApiResult<Json<Value>> {
    with_core(&state, |core| {
        let size = core.store.log_size().map_err(anyhow::Error::from)?;
        Ok(Json(json!({
            "status": "ok",
            "log_size": size,
            "incidents": core.ledger.incidents().len(),
        })))
    })
    .await
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    summary = "Prometheus metrics (staff)",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain"),
        (status = 403, description = "The role may not read metrics", body = crate::openapi::ErrorBody),
    ))]
async fn metrics(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    require(&p, Action::ReadMetrics, "read metrics")?;
    let (open, by_state) = with_core(&state, |core| {
        let counts = core.ledger.count_by_state();
        let open = core
            .ledger
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct IngestQuery {
    /// The body's format: `geojson` (default), `cot`, `csv`, `firms`, `ucdp`.
    #[param(value_type = Option<crate::openapi::IngestFormat>)]
    format: Option<String>,
}

#[utoipa::path(post, path = "/api/observations", tag = "observations",
    summary = "Post a batch of observations in a feed's format (staff, team)",
    description = "The body is read by the same adapter as `truce ingest` and stored as one batch (one transaction, one signed checkpoint). A record that cannot be read is rejected with its reason, not the request. A team token posts only its own findings (source id its team, kind `ground_team`); others are rejected.",
    params(IngestQuery),
    request_body(description = "GeoJSON FeatureCollection of observations (`format=geojson`, default; `schema/observation.schema.json`), or the text of a CoT, CSV, FIRMS or UCDP feed",
        content(
            (crate::openapi::FeatureCollection = "application/geo+json"),
            (crate::openapi::FeatureCollection = "application/json"),
            (String = "text/plain"),
        )),
    responses(
        (status = 200, description = "Stored: per-record results in order, counts, seqs, incidents touched", body = crate::openapi::IngestResult),
        (status = 400, description = "Unknown `format`, or a body the adapter cannot read at all", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not post observations", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes` or more than `max_batch_records` records", body = crate::openapi::ErrorBody),
    ))]
async fn post_observations(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<IngestQuery>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Value>> {
    require(&p, Action::PostObservations, "post observations")?;
    let format: truce_ingest::Format = q
        .format
        .as_deref()
        .unwrap_or("geojson")
        .parse()
        .map_err(|e: truce_ingest::ConfigError| ApiError::bad_request(e.to_string()))?;
    let mut records = read_records(format, &body)?;
    check_batch_size(&state, &records)?;
    if let Role::Team(team) = &p.role {
        // A team posts its own findings only.
        for r in &mut records {
            if let Ok(o) = &r.result
                && (o.properties.source.id != *team
                    || o.properties.source.kind != SourceKind::GroundTeam)
            {
                r.result = Err(format!(
                    "a team:{team} token posts only its own observations (source id {team}, kind ground_team)"
                ));
            }
        }
    }
    let label = format!("api:{}", p.name);
    let committed = ingest(&state, label, format.to_string(), records).await?;
    Ok(Json(committed))
}

/// Runs the pipeline for records that came over the network, counts them, and publishes
/// alerts. Shared with the CoT listeners.
pub async fn ingest(
    state: &Shared,
    label: String,
    format: String,
    records: Vec<truce_ingest::Record>,
) -> ApiResult<Value> {
    let s = state.clone();
    let (done, alerts) = with_core(state, move |core| {
        let crate::state::Core {
            store, ledger, key, ..
        } = core;
        let done =
            crate::pipeline::commit(store, ledger, key, &label, &format, records, Utc::now())
                .map_err(ApiError::from)?;
        let alerts = alerts_for(ledger, &done.incidents, "breach");
        Ok((done, alerts))
    })
    .await?;
    let m = &s.metrics;
    m.observations_stored
        .fetch_add(done.outcome.accepted as u64, Ordering::Relaxed);
    m.observations_duplicate
        .fetch_add(done.outcome.duplicates as u64, Ordering::Relaxed);
    m.records_rejected
        .fetch_add(done.outcome.rejected as u64, Ordering::Relaxed);
    crate::alerts::publish(&s, alerts).await;
    Ok(json!({
        "accepted": done.outcome.accepted,
        "duplicates": done.outcome.duplicates,
        "rejected": done.outcome.rejected,
        "first_seq": done.outcome.first_seq,
        "last_seq": done.outcome.last_seq,
        "results": done.results,
        "incidents": done.incidents,
    }))
}

/// Alerts about incidents (`crate::alerts::alerts_for`: severity, escalation, recipients).
pub fn alerts_for(ledger: &Ledger<'_>, ids: &[String], kind: &'static str) -> Vec<Alert> {
    crate::alerts::alerts_for(ledger, ids, kind)
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct IncidentQuery {
    /// `minlon,minlat,maxlon,maxlat` (degrees), on the location the caller sees.
    #[param(example = "37.5,47.8,38.5,48.6")]
    bbox: Option<String>,
    /// RFC 3339: incidents ending at or after.
    from: Option<DateTime<Utc>>,
    /// RFC 3339: incidents starting before.
    to: Option<DateTime<Utc>>,
    /// Whose area it is in, or who it is attributed to.
    party: Option<String>,
    /// Lifecycle state.
    #[param(value_type = Option<crate::openapi::LifecycleState>)]
    state: Option<String>,
    /// A rule of the agreement the incident breaches.
    rule: Option<String>,
    /// A kind of source among the incident's (not for the public).
    source_kind: Option<String>,
    /// Incidents per page: default 100, at most 1000 (larger is clamped, 0 is 1).
    #[param(minimum = 0, maximum = 1000, default = 100)]
    limit: Option<usize>,
    /// Incidents skipped (default 0).
    #[param(minimum = 0, default = 0)]
    offset: Option<usize>,
}

/// Default and largest page.
const PAGE_DEFAULT: usize = 100;
const PAGE_MAX: usize = 1000;

pub fn parse_bbox(s: &str) -> ApiResult<[f64; 4]> {
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::bad_request(format!(
                "bbox {s:?}: four numbers minlon,minlat,maxlon,maxlat"
            ))
        })?;
    match v[..] {
        [a, b, c, d] if a <= c && b <= d => Ok([a, b, c, d]),
        _ => Err(ApiError::bad_request(format!(
            "bbox {s:?}: four numbers minlon,minlat,maxlon,maxlat with min ≤ max"
        ))),
    }
}

/// The incidents `p` may see that match `q`, newest first: (index, view).
fn visible(ledger: &Ledger<'_>, p: &Principal, q: &IncidentQuery) -> ApiResult<Vec<(usize, View)>> {
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let state = q
        .state
        .as_deref()
        .map(|s| {
            Lifecycle::ALL
                .into_iter()
                .find(|l| l.as_str() == s)
                .ok_or_else(|| ApiError::bad_request(format!("unknown state {s:?}")))
        })
        .transpose()?;
    let mut out = Vec::new();
    for shown in shown_incidents(ledger, &p.role) {
        let (k, view) = (shown.index, shown.view);
        let (inc, rec) = (&ledger.incidents()[k], &ledger.records()[k]);
        if let Some([a, b, c, d]) = bbox
            && !shown
                .location
                .is_some_and(|l| l[0] >= a && l[0] <= c && l[1] >= b && l[1] <= d)
        {
            continue;
        }
        if q.from.is_some_and(|f| inc.end < f) || q.to.is_some_and(|t| inc.start >= t) {
            continue;
        }
        if state.is_some_and(|s| rec.state != s) {
            continue;
        }
        if q.rule.as_ref().is_some_and(|r| !inc.breaches.contains(r)) {
            continue;
        }
        if let Some(party) = &q.party {
            let official = rec.attributed_party.as_deref() == Some(party);
            let suggested = view != View::Public
                && truce_fusion::score::suggested_party(inc).as_deref() == Some(party);
            if !(shown.party_area == Some(party.as_str()) || official || suggested) {
                continue;
            }
        }
        if let Some(sk) = &q.source_kind
            && (view == View::Public || !inc.source_kinds.iter().any(|s| s.as_str() == sk))
        {
            continue;
        }
        out.push((k, view));
    }
    Ok(out)
}

/// An incident as `view` shows it.
pub fn incident_json(ledger: &Ledger<'_>, k: usize, view: View) -> Value {
    let engine = ledger.engine();
    let inc = &ledger.incidents()[k];
    let rec = &ledger.records()[k];
    match view {
        View::Public => json!({
            "id": inc.id,
            "state": rec.state.as_str(),
            "start": inc.start,
            "end": inc.end,
            "location": inc.location.map(coarsen),
            "location_precision_m": crate::auth::COARSE_CELL_M,
            "rules": inc.breaches,
            "attributed_party": rec.attributed_party,
        }),
        View::Party | View::Full => {
            let mut v = json!({
                "id": inc.id,
                "group": inc.group.name(),
                "state": rec.state.as_str(),
                "evidence": inc.state.as_str(),
                "confidence": inc.confidence,
                "start": inc.start,
                "end": inc.end,
                "location": inc.location,
                "radius_m": inc.radius_m,
                "party_area": inc.location.and_then(|l| engine.party_at(l)),
                "kinds": inc.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "source_kinds": inc.source_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
                "rules": inc.breaches,
                "suggested_party": truce_fusion::score::suggested_party(inc),
                "suggestion_basis": inc.attribution.as_ref().map(|s| s.basis.clone()),
                "attributed_party": rec.attributed_party,
                "origin": inc.origin.as_ref().map(|o| json!({
                    "point": o.point,
                    "ellipse_95": {"semi_major_m": o.ellipse.semi_major_m, "semi_minor_m": o.ellipse.semi_minor_m, "azimuth_deg": o.ellipse.azimuth_deg},
                })),
                "observations": inc.observation_seqs.len(),
            });
            if view == View::Full {
                v["observation_seqs"] = json!(inc.observation_seqs);
                v["transitions"] = json!(rec.transitions);
            } else {
                // No source or team identities: actors and reasons (which name sources, teams
                // and analysts) are left out, but for the parties' own responses.
                v["transitions"] = json!(
                    rec.transitions
                        .iter()
                        .map(|t| {
                            let mut step = json!({
                                "from": t.from.map(|s| s.as_str()),
                                "to": t.to.as_str(),
                                "action": t.action,
                                "at": t.at,
                                "entry_seq": t.entry_seq,
                            });
                            // Parties' responses are shown to the other party in full.
                            // So are alerts and their deliveries: who was told what, when.
                            if matches!(t.action.as_str(), "acknowledge" | "dispute")
                                || truce_fusion::ledger::ALERT_ACTIONS.contains(&t.action.as_str())
                            {
                                step["actor"] = json!(t.actor);
                                step["reason"] = json!(t.reason);
                            }
                            step
                        })
                        .collect::<Vec<_>>()
                );
            }
            v
        }
    }
}

#[utoipa::path(get, path = "/api/incidents", tag = "incidents",
    summary = "Incidents the caller may see, newest first, filtered and paged",
    params(IncidentQuery),
    responses(
        (status = 200, description = "A page of incidents as the caller's role sees them", body = crate::openapi::IncidentPage),
        (status = 400, description = "A malformed query parameter", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not read incidents", body = crate::openapi::ErrorBody),
    ))]
async fn list_incidents(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::ReadIncidents, "read incidents")?;
    let limit = q.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let offset = q.offset.unwrap_or(0);
    with_core(&state, move |core| {
        let ledger = &core.ledger;
        let shown = visible(ledger, &p, &q)?;
        let total = shown.len();
        let page: Vec<Value> = shown
            .iter()
            .skip(offset)
            .take(limit)
            .map(|&(k, v)| incident_json(ledger, k, v))
            .collect();
        let next = (offset + limit < total).then(|| offset + limit);
        Ok(Json(json!({
            "total": total,
            "limit": limit,
            "offset": offset,
            "next_offset": next,
            "incidents": page,
        })))
    })
    .await
}

fn find_visible(ledger: &Ledger<'_>, p: &Principal, id: &str) -> ApiResult<(usize, View)> {
    let k = ledger
        .find(id)
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    let inc = &ledger.incidents()[k];
    let party_at = inc.location.and_then(|l| ledger.engine().party_at(l));
    // Not visible is not found: a refusal would confirm it exists.
    let view = incident_view(&p.role, inc, &ledger.records()[k], party_at)
        .ok_or_else(|| ApiError::not_found(format!("no incident {id}")))?;
    Ok((k, view))
}

/// Most observations whose evidence and proofs an incident's page lists.
const EVIDENCE_MAX: usize = 200;

#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents",
    summary = "One incident, with its evidence chain and inclusion proofs (staff, party)",
    params(("id" = String, Path, description = "Incident id", example = "inc-21")),
    responses(
        (status = 200, description = "The incident as the caller's role sees it", body = crate::openapi::IncidentDetail),
        (status = 403, description = "The role may not read incidents", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such incident, or not visible to the caller", body = crate::openapi::ErrorBody),
    ))]
async fn get_incident(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::ReadIncidents, "read incidents")?;
    with_core(&state, move |core| {
        let (k, view) = find_visible(&core.ledger, &p, &id)?;
        let mut v = incident_json(&core.ledger, k, view);
        if view == View::Public {
            return Ok(Json(v));
        }
        let inc = &core.ledger.incidents()[k];
        let checkpoint = core.store.latest_checkpoint().map_err(anyhow::Error::from)?;
        let mut evidence = Vec::new();
        for &seq in inc.observation_seqs.iter().take(EVIDENCE_MAX) {
            let Some(o) = core
                .store
                .observations(seq, 1)
                .map_err(anyhow::Error::from)?
                .into_iter()
                .find(|o| o.seq == seq)
            else {
                continue;
            };
            let props = &o.observation.properties;
            let mut e = json!({
                "seq": seq,
                "kind": props.kind.as_str(),
                "observed_at": props.observed_at,
                "source_kind": props.source.kind.as_str(),
                "rules": o.assessment.breaches.iter().map(|b| b.rule.clone()).collect::<Vec<_>>(),
            });
            if view == View::Full {
                e["observation"] = serde_json::to_value(&o.observation).map_err(anyhow::Error::from)?;
                e["assessment"] = serde_json::to_value(&o.assessment).map_err(anyhow::Error::from)?;
            }
            if let Some(c) = &checkpoint
                && seq < c.size
            {
                let proof = core.store.inclusion_proof(seq, c.size).map_err(anyhow::Error::from)?;
                e["inclusion_proof"] = json!(proof.iter().map(|h| h.to_base64()).collect::<Vec<_>>());
            }
            evidence.push(e);
        }
        v["evidence"] = json!(evidence);
        v["log"] = json!({
            "checkpoint": checkpoint.as_ref().map(|c| c.text.clone()),
            "tree_size": checkpoint.as_ref().map(|c| c.size),
            "proofs_against": "the checkpoint above; GET /api/log/proof/{seq} gives the entry's bytes",
        });
        Ok(Json(v))
    })
    .await
}

/// An analyst's decision on an incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// `verify`, `attribute` (needs `party`), `publish` or `task` (send a ground team now).
    #[schema(value_type = crate::openapi::DecisionAction)]
    action: String,
    /// The party responsible (for `attribute`).
    #[serde(default)]
    party: Option<String>,
    /// Why: logged with the decision.
    reason: String,
}

#[utoipa::path(post, path = "/api/incidents/{id}/decisions", tag = "incidents",
    summary = "An analyst's decision: verify, attribute, publish or task (staff)",
    params(("id" = String, Path, description = "Incident id", example = "inc-21")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "Logged as a `decision` entry; the incident after it", body = crate::openapi::DecisionResult),
        (status = 400, description = "Unknown action, or malformed JSON", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not decide", body = crate::openapi::ErrorBody),
        (status = 409, description = "The incident's state does not allow the decision, or there is no such incident", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::openapi::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 422, description = "JSON that is not a decision", body = crate::openapi::ErrorBody),
    ))]
async fn post_decision(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::Decide, "decide on incidents")?;
    let action = match body.action.as_str() {
        "verify" => Decide::Verify,
        "attribute" => Decide::Attribute,
        "publish" => Decide::Publish,
        "task" => Decide::Task,
        other => {
            return Err(ApiError::bad_request(format!(
                "action {other:?}: verify, attribute, publish or task"
            )));
        }
    };
    decide_now(&state, &p, id, action, body.party, body.reason).await
}

/// Checks, logs and applies an analyst's decision; publishes its alert.
async fn decide_now(
    state: &Shared,
    p: &Principal,
    id: String,
    action: Decide,
    party: Option<String>,
    reason: String,
) -> ApiResult<Json<Value>> {
    let decision = Decision {
        incident: id,
        action,
        party,
        actor: p.name.clone(),
        reason,
        decided_at: Utc::now(),
    };
    let s = state.clone();
    let (v, alerts) = with_core(state, move |core| {
        core.ledger
            .check(&decision)
            .map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string()))?;
        let body = truce_core::canonical::to_canonical_json(&decision);
        let seq = core
            .store
            .append_record(EntryKind::Decision, &body)
            .map_err(anyhow::Error::from)?;
        crate::replay::follow(&mut core.store, &mut core.ledger)?;
        core.store
            .sign_checkpoint(&core.key, Utc::now().timestamp().max(0) as u64)
            .map_err(anyhow::Error::from)?;
        let k = core.ledger.find(&decision.incident).expect("checked");
        let alerts = alerts_for(
            &core.ledger,
            std::slice::from_ref(&decision.incident),
            "state",
        );
        Ok((
            json!({
                "incident": incident_json(&core.ledger, k, View::Full),
                "entry_seq": seq,
            }),
            alerts,
        ))
    })
    .await?;
    crate::alerts::publish(&s, alerts).await;
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/tasks", tag = "tasks",
    summary = "Verification tasks: staff every task; a team its assigned tasks",
    responses(
        (status = 200, description = "The tasks", body = crate::openapi::TaskList),
        (status = 403, description = "The role may not read tasks", body = crate::openapi::ErrorBody),
    ))]
async fn list_tasks(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::ReadTasks, "read tasks")?;
    with_core(&state, move |core| {
        let tasks: Vec<Value> = core
            .ledger
            .tasks()
            .iter()
            .filter(|t| match &p.role {
                Role::Team(team) => {
                    t.team.as_deref() == Some(team.as_str()) && t.state == TaskState::Assigned
                }
                _ => true,
            })
            .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
            .collect();
        Ok(Json(json!({ "total": tasks.len(), "tasks": tasks })))
    })
    .await
}

/// A ground team's outcome of its task.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    /// `confirmed`, `not_confirmed`, `inconclusive`, `access_denied`.
    #[schema(value_type = crate::openapi::OutcomeKind)]
    outcome: String,
    /// What was found: an observation kind (`impact`, `damage`, `weapon_present` needs
    /// `weapon` …); `access_denied` for that outcome; default `report`.
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    remarks: String,
    /// Where, `[lon, lat]` (default: the task's place).
    #[serde(default)]
    #[schema(min_items = 2, max_items = 2)]
    location: Option<[f64; 2]>,
    #[serde(default)]
    error_radius_m: Option<f64>,
    /// When (default: now).
    #[serde(default)]
    observed_at: Option<DateTime<Utc>>,
}

#[utoipa::path(post, path = "/api/tasks/{id}/outcome", tag = "tasks",
    summary = "A ground team's outcome of its task (team)",
    description = "Stored as the team's observation carrying `task_outcome`, which moves the incident.",
    params(("id" = String, Path, description = "Task id, `task-<incident id>`", example = "task-inc-21")),
    request_body = OutcomeBody,
    responses(
        (status = 200, description = "Stored as one batch", body = crate::openapi::IngestResult),
        (status = 400, description = "Unknown outcome or kind, or malformed JSON", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only a team token reports outcomes", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such task assigned to this team", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::openapi::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 422, description = "JSON that is not an outcome", body = crate::openapi::ErrorBody),
    ))]
async fn post_outcome(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(task): ApiPath<String>,
    ApiJson(body): ApiJson<OutcomeBody>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::PostOutcome, "report task outcomes")?;
    let Role::Team(team) = p.role.clone() else {
        return Err(ApiError::forbidden("report task outcomes"));
    };
    let outcome = Outcome::parse(&body.outcome).ok_or_else(|| {
        ApiError::bad_request(format!(
            "outcome {:?}: confirmed, not_confirmed, inconclusive or access_denied",
            body.outcome
        ))
    })?;
    let t2 = task.clone();
    let team2 = team.clone();
    let place = with_core(&state, move |core| {
        let t = core
            .ledger
            .tasks()
            .iter()
            .find(|t| t.id == t2 && t.team.as_deref() == Some(team2.as_str()))
            .ok_or_else(|| ApiError::not_found(format!("no task {t2} assigned to {team2}")))?;
        Ok(t.location)
    })
    .await?;
    let kind = match (outcome, body.kind.as_deref()) {
        (Outcome::AccessDenied, _) => ObservationKind::AccessDenied,
        (_, None) => ObservationKind::Report,
        (_, Some(k)) => serde_json::from_value(json!(k))
            .map_err(|_| ApiError::bad_request(format!("unknown observation kind {k:?}")))?,
    };
    let mut obs = Observation::new(
        kind,
        body.observed_at.unwrap_or_else(Utc::now),
        truce_core::observation::Source {
            id: team.clone(),
            kind: SourceKind::GroundTeam,
            reliability: Reliability::A,
            credibility: 1,
            party: None,
        },
        geojson_point(body.location.unwrap_or(place)),
    );
    obs.id = Some(format!("{team}-{task}-{}", Utc::now().timestamp_millis()));
    obs.properties.remarks = body.remarks;
    obs.properties.error_radius_m = body.error_radius_m.unwrap_or(0.0);
    obs.properties.task_outcome = Some(TaskOutcome {
        task: task.clone(),
        outcome,
    });
    let record = truce_ingest::Record {
        locator: truce_ingest::Locator::Feature(0),
        raw: truce_core::canonical::to_canonical_json(&obs),
        result: Ok(obs),
    };
    let v = ingest(
        &state,
        format!("api:{}", p.name),
        "api".into(),
        vec![record],
    )
    .await?;
    Ok(Json(v))
}

fn geojson_point(p: [f64; 2]) -> truce_core::observation::Geometry {
    truce_core::observation::Geometry::Point {
        coordinates: p.to_vec(),
    }
}

/// More than `max_batch_records` records in one request is 413.
fn check_batch_size(state: &Shared, records: &[truce_ingest::Record]) -> ApiResult<()> {
    if records.len() > state.limits.max_batch_records {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "{} records in one request; at most {} (max_batch_records): split the batch",
                records.len(),
                state.limits.max_batch_records
            ),
        ));
    }
    Ok(())
}

/// A request body read by a feed adapter: every record, read or with its reason.
fn read_records(format: truce_ingest::Format, body: &[u8]) -> ApiResult<Vec<truce_ingest::Record>> {
    let adapter = truce_ingest::adapter(format, &truce_ingest::Options::default());
    let records = adapter
        .read("request body", body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?
        .collect();
    Ok(records)
}

#[utoipa::path(post, path = "/api/allegations", tag = "parties",
    summary = "A party's allegations (party)",
    description = "Each feature is stored with its source set to the party (`kind: party`, graded F6 until corroborated).",
    request_body(description = "GeoJSON FeatureCollection of observations (`schema/observation.schema.json`)",
        content(
            (crate::openapi::FeatureCollection = "application/geo+json"),
            (crate::openapi::FeatureCollection = "application/json"),
        )),
    responses(
        (status = 200, description = "Stored as one batch", body = crate::openapi::IngestResult),
        (status = 400, description = "A body that is not GeoJSON", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only a party token posts allegations", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes` or more than `max_batch_records` records", body = crate::openapi::ErrorBody),
    ))]
async fn post_allegation(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<Value>> {
    require(&p, Action::PostAllegation, "post allegations")?;
    let Role::Party(party) = p.role.clone() else {
        return Err(ApiError::forbidden("post allegations"));
    };
    let mut records = read_records(truce_ingest::Format::GeoJson, &body)?;
    check_batch_size(&state, &records)?;
    for r in &mut records {
        if let Ok(o) = &mut r.result {
            // A party's word is an allegation: its source is the party, graded by the monitor
            // as "cannot be judged" until corroborated.
            o.properties.source = truce_core::observation::Source {
                id: p.name.clone(),
                kind: SourceKind::Party,
                reliability: Reliability::F,
                credibility: 6,
                party: Some(party.clone()),
            };
        }
    }
    let v = ingest(&state, format!("api:{}", p.name), "geojson".into(), records).await?;
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/stats", tag = "incidents",
    summary = "Counts by state and rule of the incidents the caller sees",
    responses(
        (status = 200, description = "Aggregates", body = crate::openapi::Stats),
        (status = 403, description = "The role may not read statistics", body = crate::openapi::ErrorBody),
    ))]
async fn stats(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::ReadStats, "read statistics")?;
    with_core(&state, move |core| {
        let shown = visible(&core.ledger, &p, &IncidentQuery::default())?;
        let mut by_state = std::collections::BTreeMap::<&str, usize>::new();
        let mut by_rule = std::collections::BTreeMap::<String, usize>::new();
        for &(k, _) in &shown {
            *by_state
                .entry(core.ledger.records()[k].state.as_str())
                .or_default() += 1;
            for r in &core.ledger.incidents()[k].breaches {
                *by_rule.entry(r.clone()).or_default() += 1;
            }
        }
        Ok(Json(
            json!({ "incidents": shown.len(), "by_state": by_state, "by_rule": by_rule }),
        ))
    })
    .await
}

#[utoipa::path(get, path = "/api/log/checkpoint", tag = "log",
    summary = "The latest signed checkpoint (C2SP signed note)",
    responses(
        (status = 200, description = "The checkpoint", body = String, content_type = "text/plain"),
        (status = 404, description = "The log has signed no checkpoint yet", body = crate::openapi::ErrorBody),
    ))]
async fn checkpoint(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    require(&p, Action::ReadLog, "read the log")?;
    let text = with_core(&state, |core| {
        core.store
            .latest_checkpoint()
            .map_err(anyhow::Error::from)?
            .map(|c| c.text)
            .ok_or_else(|| ApiError::not_found("the log has signed no checkpoint yet"))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ProofQuery {
    /// Also prove consistency from this older tree size.
    old_size: Option<u64>,
}

#[utoipa::path(get, path = "/api/log/proof/{seq}", tag = "log",
    summary = "An entry's bytes with its inclusion (and consistency) proof (staff, party)",
    params(("seq" = u64, Path, description = "The entry's seq in the log", example = 1), ProofQuery),
    responses(
        (status = 200, description = "The proof document, as `truce log prove`", body = crate::openapi::ProofDoc),
        (status = 400, description = "A malformed seq or old_size", body = crate::openapi::ErrorBody),
        (status = 403, description = "The public and teams may not read entries", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such entry, or no proof from old_size", body = crate::openapi::ErrorBody),
    ))]
async fn proof(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(seq): ApiPath<u64>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> ApiResult<Json<crate::proof::ProofDocument>> {
    require(&p, Action::ReadLog, "read the log")?;
    with_core(&state, move |core| {
        // Entries are evidence the public may not read: their bodies are for staff and parties.
        if matches!(p.role, Role::Public | Role::Team(_)) {
            return Err(ApiError::forbidden(
                "read log entries (a party or staff token may)",
            ));
        }
        crate::proof::prove(&core.store, "the store", seq, q.old_size)
            .map(Json)
            .map_err(|e| ApiError::not_found(format!("{e:#}")))
    })
    .await
}

/// A party's response to an incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResponseBody {
    /// `acknowledge` or `dispute`.
    #[schema(value_type = crate::openapi::ResponseKind)]
    response: String,
    /// The party's statement.
    text: String,
    /// Entry seqs of counter-evidence the party posted (`POST /api/allegations`).
    #[serde(default)]
    evidence: Vec<u64>,
}

#[utoipa::path(post, path = "/api/incidents/{id}/responses", tag = "parties",
    summary = "A party's response to an incident it sees (party)",
    params(("id" = String, Path, description = "Incident id", example = "inc-21")),
    request_body = ResponseBody,
    responses(
        (status = 200, description = "Logged as a `response` entry; the incident after it", body = crate::openapi::DecisionResult),
        (status = 400, description = "A response the ledger refuses, or malformed JSON", body = crate::openapi::ErrorBody),
        (status = 403, description = "Only a party token responds", body = crate::openapi::ErrorBody),
        (status = 404, description = "No such incident, or not visible to the party", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::openapi::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 422, description = "JSON that is not a response", body = crate::openapi::ErrorBody),
    ))]
async fn post_response(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResponseBody>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::PostResponse, "respond to incidents")?;
    let Role::Party(party) = p.role.clone() else {
        return Err(ApiError::forbidden("respond to incidents"));
    };
    let s = state.clone();
    let (v, alerts) = with_core(&state, move |core| {
        find_visible(&core.ledger, &p, &id)?;
        let response = truce_fusion::ledger::Response {
            incident: id.clone(),
            party,
            response: body.response,
            text: body.text,
            actor: p.name.clone(),
            evidence: body.evidence,
            responded_at: Utc::now(),
        };
        core.ledger
            .check_response(&response)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let entry = truce_core::canonical::to_canonical_json(&response);
        let seq = core
            .store
            .append_record(EntryKind::Response, &entry)
            .map_err(anyhow::Error::from)?;
        crate::replay::follow(&mut core.store, &mut core.ledger)?;
        core.store
            .sign_checkpoint(&core.key, Utc::now().timestamp().max(0) as u64)
            .map_err(anyhow::Error::from)?;
        let mut alerts = alerts_for(&core.ledger, std::slice::from_ref(&id), "response");
        for a in &mut alerts {
            a.entry_seq = seq;
        }
        let (k, view) = find_visible(&core.ledger, &p, &id)?;
        Ok((
            json!({ "incident": incident_json(&core.ledger, k, view), "entry_seq": seq }),
            alerts,
        ))
    })
    .await?;
    crate::alerts::publish(&s, alerts).await;
    Ok(Json(v))
}

/// An analyst's request to send a team.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TaskBody {
    /// The incident to verify.
    incident: String,
    /// Why: logged with the decision.
    reason: String,
}

#[utoipa::path(post, path = "/api/tasks", tag = "tasks",
    summary = "Send a ground team to an incident now, whatever the automatic thresholds say (staff); the same as the `task` decision",
    request_body = TaskBody,
    responses(
        (status = 200, description = "Logged as a `decision` entry; the incident after it", body = crate::openapi::DecisionResult),
        (status = 400, description = "Malformed JSON", body = crate::openapi::ErrorBody),
        (status = 403, description = "The role may not task teams", body = crate::openapi::ErrorBody),
        (status = 409, description = "Already tasked, concluded, unlocated, or no such incident", body = crate::openapi::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::openapi::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::openapi::ErrorBody),
        (status = 422, description = "JSON that is not a task request", body = crate::openapi::ErrorBody),
    ))]
async fn post_task(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiJson(body): ApiJson<TaskBody>,
) -> ApiResult<Json<Value>> {
    require(&p, Action::Decide, "task teams")?;
    decide_now(&state, &p, body.incident, Decide::Task, None, body.reason).await
}
