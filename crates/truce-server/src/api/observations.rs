//! `POST /api/observations` (a batch in any feed format) and `POST /api/allegations` (a
//! party's word): read by the same adapters as `truce ingest`, stored by the same use case.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::Deserialize;
use truce_core::observation::SourceKind;
use truce_service::{Committed, IngestResult};
use utoipa::IntoParams;

use crate::auth::require;
use crate::auth::{Action, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiBytes, ApiQuery, require_json};
use crate::reactions::with_core;
use crate::state::Shared;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// The body's format: `geojson` (default), `cot`, `csv`, `firms`, `ucdp`.
    #[param(value_type = Option<crate::schemas::IngestFormat>)]
    format: Option<String>,
}

#[utoipa::path(post, path = "/api/observations", tag = "observations",
    summary = "Post a batch of observations in a feed's format (staff, team)",
    description = "The body is read by the same adapter as `truce ingest` and stored as one batch (one transaction, one signed checkpoint). A record that cannot be read is rejected with its reason, not the request. A team token posts only its own findings (source id its team, kind `ground_team`); others are rejected.",
    params(IngestQuery),
    request_body(description = "GeoJSON FeatureCollection of observations (`format=geojson`, default; `schema/observation.schema.json`), or the text of a CoT, CSV, FIRMS or UCDP feed",
        content(
            (crate::schemas::FeatureCollection = "application/geo+json"),
            (crate::schemas::FeatureCollection = "application/json"),
            (String = "text/plain"),
        )),
    responses(
        (status = 200, description = "Stored: per-record results in order, counts, seqs, incidents touched", body = IngestResult),
        (status = 400, description = "Unknown `format`, or a body the adapter cannot read at all", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not post observations", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes` or more than `max_batch_records` records", body = crate::schemas::ErrorBody),
        (status = 415, description = "A GeoJSON body (`format=geojson`) not sent as `application/json` or `application/geo+json`", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_observations(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<IngestQuery>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<IngestResult>> {
    require(&p, Action::PostObservations, "post observations")?;
    let format: truce_ingest::Format = q
        .format
        .as_deref()
        .unwrap_or("geojson")
        .parse()
        .map_err(|e: truce_ingest::ConfigError| ApiError::bad_request(e.to_string()))?;
    if format == truce_ingest::Format::GeoJson {
        require_json(&headers)?;
    }
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
    Ok(Json(
        ingest(&state, label, format.to_string(), records).await?,
    ))
}

/// Stores a batch of records that came over the network (through [`crate::ingest`]'s worker,
/// which folds one request's batch while it stores the next, and logs the alerts it calls
/// for), counts them, and sends those alerts and the tasks it assigned. Shared with the CoT
/// listeners.
pub async fn ingest(
    state: &Shared,
    label: String,
    format: String,
    records: Vec<truce_ingest::Record>,
) -> ApiResult<IngestResult> {
    let stored = crate::ingest::store(state, label, format, records).await?;
    crate::alerts::send(state, stored.alerts, stored.logged);
    for t in stored.tasks {
        // No device listening is not an error: it gets its open tasks when it connects.
        let _ = state.tasks.send(t);
    }
    count(state, &stored.committed);
    Ok(stored.committed.view())
}

/// Adds a batch's counts to the metrics.
fn count(state: &Shared, done: &Committed) {
    let m = &state.metrics;
    m.observations_stored
        .fetch_add(done.outcome.accepted as u64, Ordering::Relaxed);
    m.observations_duplicate
        .fetch_add(done.outcome.duplicates as u64, Ordering::Relaxed);
    m.records_rejected
        .fetch_add(done.outcome.rejected as u64, Ordering::Relaxed);
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
            (crate::schemas::FeatureCollection = "application/geo+json"),
            (crate::schemas::FeatureCollection = "application/json"),
        )),
    responses(
        (status = 200, description = "Stored as one batch", body = IngestResult),
        (status = 400, description = "A body that is not GeoJSON", body = crate::schemas::ErrorBody),
        (status = 403, description = "Only a party token posts allegations", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes` or more than `max_batch_records` records", body = crate::schemas::ErrorBody),
        (status = 415, description = "Not sent as `application/json` or `application/geo+json`", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_allegation(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<IngestResult>> {
    require(&p, Action::PostAllegation, "post allegations")?;
    require_json(&headers)?;
    let Role::Party(party) = p.role.clone() else {
        return Err(ApiError::forbidden("post allegations"));
    };
    let records = read_records(truce_ingest::Format::GeoJson, &body)?;
    check_batch_size(&state, &records)?;
    let (actor, label) = (p.name.clone(), format!("api:{}", p.name));
    let done = with_core(&state, move |core| {
        Ok(core.svc.allege(&party, &actor, &label, records)?)
    })
    .await?;
    count(&state, &done);
    Ok(Json(done.view()))
}
