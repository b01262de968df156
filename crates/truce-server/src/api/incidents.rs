//! Incidents: `GET /api/incidents` (filtered, paged), `GET /api/incidents/{id}` (with its
//! evidence chain and proofs), `GET /api/stats`, and the writes on one incident — an
//! analyst's decision, a party's response.

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use truce_fusion::ledger::{Action as Decide, Ledger};
use truce_service::view::{IncidentDetail, IncidentPage, IncidentView, Logged, Stats, parse_state};
use truce_service::{DecisionRequest, ResponseRequest};
use utoipa::{IntoParams, ToSchema};

use crate::auth::require;
use crate::auth::{Action, Principal, Role, View, incident_view, shown_incidents};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::reactions::with_core;
use crate::state::Shared;

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
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
    #[param(value_type = Option<crate::schemas::LifecycleState>)]
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
fn visible(ledger: &Ledger, p: &Principal, q: &IncidentQuery) -> ApiResult<Vec<(usize, View)>> {
    let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
    let state = q
        .state
        .as_deref()
        .map(|s| {
            parse_state(s).ok_or_else(|| ApiError::bad_request(format!("unknown state {s:?}")))
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
            let suggested =
                view != View::Public && inc.suggested.as_ref().is_some_and(|s| s.party == *party);
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

#[utoipa::path(get, path = "/api/incidents", tag = "incidents",
    summary = "Incidents the caller may see, newest first, filtered and paged",
    params(IncidentQuery),
    responses(
        (status = 200, description = "A page of incidents as the caller's role sees them", body = IncidentPage),
        (status = 400, description = "A malformed query parameter", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
    ))]
pub async fn list_incidents(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<Json<IncidentPage>> {
    require(&p, Action::ReadIncidents, "read incidents")?;
    let limit = q.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let offset = q.offset.unwrap_or(0);
    with_core(&state, move |core| {
        let ledger = core.svc.ledger();
        let shown = visible(ledger, &p, &q)?;
        let total = shown.len();
        let incidents = shown
            .iter()
            .skip(offset)
            .take(limit)
            .map(|&(k, v)| IncidentView::shown(ledger, k, v))
            .collect();
        Ok(Json(IncidentPage {
            total,
            limit,
            offset,
            next_offset: offset.checked_add(limit).filter(|&next| next < total),
            incidents,
        }))
    })
    .await
}

fn find_visible(ledger: &Ledger, p: &Principal, id: &str) -> ApiResult<(usize, View)> {
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

#[utoipa::path(get, path = "/api/incidents/{id}", tag = "incidents",
    summary = "One incident, with its evidence chain and inclusion proofs (staff, party)",
    params(("id" = String, Path, description = "Incident id", example = "inc-21")),
    responses(
        (status = 200, description = "The incident as the caller's role sees it", body = IncidentDetail),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such incident, or not visible to the caller", body = crate::schemas::ErrorBody),
    ))]
pub async fn get_incident(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<IncidentDetail>> {
    require(&p, Action::ReadIncidents, "read incidents")?;
    with_core(&state, move |core| {
        let (k, view) = find_visible(core.svc.ledger(), &p, &id)?;
        Ok(Json(core.svc.incident_detail(k, view)?))
    })
    .await
}

/// An analyst's decision on an incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// `verify`, `attribute` (needs `party`), `publish` or `task` (send a ground team now).
    #[schema(value_type = crate::schemas::DecisionAction)]
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
        (status = 200, description = "Logged as a `decision` entry; the incident after it", body = Logged),
        (status = 400, description = "Unknown action, or malformed JSON", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not decide", body = crate::schemas::ErrorBody),
        (status = 409, description = "The incident's state does not allow the decision, or there is no such incident", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::schemas::ErrorBody),
        (status = 422, description = "JSON that is not a decision", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_decision(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> ApiResult<Json<Logged>> {
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

/// An analyst's decision through the service: refused (409) when the incident's state does
/// not allow it, else logged; its alert follows from the fold ([`with_core`]).
pub async fn decide_now(
    state: &Shared,
    p: &Principal,
    incident: String,
    action: Decide,
    party: Option<String>,
    reason: String,
) -> ApiResult<Json<Logged>> {
    let req = DecisionRequest {
        incident,
        action,
        party,
        actor: p.name.clone(),
        reason,
    };
    with_core(state, move |core| {
        let done = core.svc.decide(req)?;
        Ok(Json(Logged {
            incident: IncidentView::of(core.svc.ledger(), done.incident),
            entry_seq: done.seq,
        }))
    })
    .await
}

#[utoipa::path(get, path = "/api/stats", tag = "incidents",
    summary = "Counts by state and rule of the incidents the caller sees",
    responses(
        (status = 200, description = "Aggregates", body = Stats),
        (status = 403, description = "The role may not read statistics", body = crate::schemas::ErrorBody),
    ))]
pub async fn stats(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<Stats>> {
    require(&p, Action::ReadStats, "read statistics")?;
    with_core(&state, move |core| {
        let ledger = core.svc.ledger();
        let shown = visible(ledger, &p, &IncidentQuery::default())?;
        Ok(Json(Stats::of(ledger, shown.into_iter().map(|(k, _)| k))))
    })
    .await
}

/// A party's response to an incident.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseBody {
    /// `acknowledge` or `dispute`.
    #[schema(value_type = crate::schemas::ResponseKind)]
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
        (status = 200, description = "Logged as a `response` entry; the incident after it", body = Logged),
        (status = 400, description = "A response the ledger refuses, or malformed JSON", body = crate::schemas::ErrorBody),
        (status = 403, description = "Only a party token responds", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such incident, or not visible to the party", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::schemas::ErrorBody),
        (status = 422, description = "JSON that is not a response", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_response(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ResponseBody>,
) -> ApiResult<Json<Logged>> {
    require(&p, Action::PostResponse, "respond to incidents")?;
    let Role::Party(party) = p.role.clone() else {
        return Err(ApiError::forbidden("respond to incidents"));
    };
    with_core(&state, move |core| {
        find_visible(core.svc.ledger(), &p, &id)?;
        let seq = core.svc.respond(ResponseRequest {
            incident: id.clone(),
            party,
            response: body.response,
            text: body.text,
            actor: p.name.clone(),
            evidence: body.evidence,
        })?;
        let (k, view) = find_visible(core.svc.ledger(), &p, &id)?;
        Ok(Json(Logged {
            incident: IncidentView::shown(core.svc.ledger(), k, view),
            entry_seq: seq,
        }))
    })
    .await
}
