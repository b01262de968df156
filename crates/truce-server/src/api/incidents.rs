//! Incidents: `GET /api/incidents` (filtered, paged), `GET /api/incidents/{id}` (with its
//! evidence chain and proofs), `GET /api/stats`, and the writes on one incident — an
//! analyst's decision, a party's response.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use truce_fusion::Incident;
use truce_fusion::ledger::{Action as Decide, Ledger, Lifecycle, Record};
use truce_service::snapshot::{Incidents, Item, Select};
use truce_service::view::{
    IncidentDetail, IncidentPage, IncidentView, Logged, SerialisedIncidentPage, Stats, parse_state,
};
use truce_service::{DecisionRequest, ResponseRequest};
use utoipa::{IntoParams, ToSchema};

use crate::auth::require;
use crate::auth::{Action, Principal, Role, Shown, View, incident_view};
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

/// An incident query's filters, parsed.
pub(crate) struct Filter {
    bbox: Option<[f64; 4]>,
    state: Option<Lifecycle>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    party: Option<String>,
    rule: Option<String>,
    source_kind: Option<String>,
}

impl Filter {
    pub(crate) fn parse(q: &IncidentQuery) -> ApiResult<Filter> {
        let bbox = q.bbox.as_deref().map(parse_bbox).transpose()?;
        let state = q
            .state
            .as_deref()
            .map(|s| {
                parse_state(s).ok_or_else(|| ApiError::bad_request(format!("unknown state {s:?}")))
            })
            .transpose()?;
        Ok(Filter {
            bbox,
            state,
            from: q.from,
            to: q.to,
            party: q.party.clone(),
            rule: q.rule.clone(),
            source_kind: q.source_kind.clone(),
        })
    }

    /// What the snapshot's indexes can narrow: the place and the start.
    fn select(&self) -> Select {
        Select {
            bbox: self.bbox,
            start_before: self.to,
        }
    }

    /// Whether an incident the caller sees (`shown`) matches.
    fn matches(&self, shown: &Shown<'_>, inc: &Incident, rec: &Record) -> bool {
        let view = shown.view;
        if let Some([a, b, c, d]) = self.bbox
            && !shown
                .location
                .is_some_and(|l| l[0] >= a && l[0] <= c && l[1] >= b && l[1] <= d)
        {
            return false;
        }
        if self.from.is_some_and(|f| inc.end < f) || self.to.is_some_and(|t| inc.start >= t) {
            return false;
        }
        if self.state.is_some_and(|s| rec.state != s) {
            return false;
        }
        if self
            .rule
            .as_ref()
            .is_some_and(|r| !inc.breaches.contains(r))
        {
            return false;
        }
        if let Some(party) = &self.party {
            let official = rec.attributed_party.as_deref() == Some(party);
            let suggested =
                view != View::Public && inc.suggested.as_ref().is_some_and(|s| s.party == *party);
            if !(shown.party_area == Some(party.as_str()) || official || suggested) {
                return false;
            }
        }
        if let Some(sk) = &self.source_kind
            && (view == View::Public || !inc.source_kinds.iter().any(|s| s.as_str() == sk))
        {
            return false;
        }
        true
    }
}

/// The incidents `p` may see that match `q`, newest first, from the snapshot.
fn visible<'a>(
    snapshot: &'a Incidents,
    p: &Principal,
    q: &IncidentQuery,
) -> ApiResult<Vec<(Shown<'a>, &'a Item)>> {
    let filter = Filter::parse(q)?;
    let mut shown = snapshot.shown(&p.role, &filter.select());
    shown.retain(|(s, item)| filter.matches(s, &item.incident, &item.record));
    Ok(shown)
}

/// A page of the incidents `p` may see that match `q`, read from the snapshot with each view
/// serialised once: what `GET /api/incidents` answers (the JSON of an [`IncidentPage`]).
fn page(snapshot: &Incidents, p: &Principal, q: &IncidentQuery) -> ApiResult<Vec<u8>> {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let offset = q.offset.unwrap_or(0);
    let shown = visible(snapshot, p, q)?;
    let total = shown.len();
    let incidents = shown
        .iter()
        .skip(offset)
        .take(limit)
        .map(|(s, item)| snapshot.json(item, s.view))
        .collect();
    let page = SerialisedIncidentPage {
        total,
        limit,
        offset,
        next_offset: offset.checked_add(limit).filter(|&next| next < total),
        incidents,
    };
    serde_json::to_vec(&page).map_err(|e| ApiError::from(anyhow::anyhow!(e)))
}

/// The same page read from the live ledger, as the list was answered before the snapshot
/// (under the core's lock): what the snapshot is tested against.
#[cfg(test)]
fn page_from_ledger(ledger: &Ledger, p: &Principal, q: &IncidentQuery) -> ApiResult<IncidentPage> {
    let limit = q.limit.unwrap_or(PAGE_DEFAULT).clamp(1, PAGE_MAX);
    let offset = q.offset.unwrap_or(0);
    let filter = Filter::parse(q)?;
    let shown: Vec<_> = crate::auth::shown_incidents(ledger, &p.role)
        .into_iter()
        .filter(|s| filter.matches(s, &ledger.incidents()[s.index], &ledger.records()[s.index]))
        .collect();
    let total = shown.len();
    let incidents = shown
        .iter()
        .skip(offset)
        .take(limit)
        .map(|s| IncidentView::shown(ledger, s.index, s.view))
        .collect();
    Ok(IncidentPage {
        total,
        limit,
        offset,
        next_offset: offset.checked_add(limit).filter(|&next| next < total),
        incidents,
    })
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
) -> ApiResult<Response> {
    require(&p, Action::ReadIncidents, "read incidents")?;
    // From the snapshot: no lock, no store; others' entries reach it within
    // `crate::reactions::EXTERNAL_SYNC`, the caller's own writes before they were answered.
    let body = page(&state.incidents(), &p, &q)?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
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
    let snapshot = state.incidents();
    let shown = visible(&snapshot, &p, &IncidentQuery::default())?;
    Ok(Json(
        snapshot.stats(shown.into_iter().map(|(_, item)| item)),
    ))
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

#[cfg(test)]
mod tests {
    //! The list read from the snapshot equals the list read from the live ledger under the
    //! lock (the path it replaced), for every role and filter, before and after writes — the
    //! writer's own (read at once: no wait) and another process's (once followed).

    use std::path::PathBuf;
    use std::sync::Arc;

    use truce_core::entry::Action as Decide;
    use truce_log::{KeyType, SignerKey};
    use truce_service::{FixedClock, Service};

    use super::*;
    use crate::auth::shown_incidents;
    use crate::state::{AppState, Limits};

    fn terms() -> truce_core::agreement::Agreement {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap()
    }

    /// A simulated day of feeds (seed `seed`) as adapter records, by file.
    fn feeds(
        terms: &truce_core::agreement::Agreement,
        seed: u64,
    ) -> Vec<(String, String, Vec<truce_ingest::Record>)> {
        let sim = truce_sim::simulate(terms, 1, seed, truce_sim::default_start(terms));
        let options = truce_ingest::Options::default();
        sim.feeds
            .iter()
            .map(|feed| {
                let format = truce_ingest::detect(&feed.file_name, &feed.bytes).unwrap();
                let records = truce_ingest::adapter(format, &options)
                    .read(&feed.file_name, &feed.bytes)
                    .unwrap()
                    .collect();
                (
                    format!("{seed}-{}", feed.file_name),
                    format.to_string(),
                    records,
                )
            })
            .collect()
    }

    fn caller(role: &str) -> Principal {
        Principal {
            token_id: Some(1),
            token_sha256: None,
            name: role.into(),
            role: Role::parse(role).unwrap(),
        }
    }

    fn query(f: impl FnOnce(&mut IncidentQuery)) -> IncidentQuery {
        let mut q = IncidentQuery::default();
        f(&mut q);
        q
    }

    /// Every role and a spread of filters: the snapshot's bytes are the ledger's page's.
    fn same_lists(state: &Shared, what: &str) -> usize {
        let snapshot = state.incidents();
        let core = state.core();
        let ledger = core.svc.ledger();
        assert_eq!(snapshot.through_seq(), ledger.through_seq(), "{what}");
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let queries = [
            query(|_| {}),
            query(|q| q.bbox = Some("37.5,47.8,38.5,48.5".into())),
            query(|q| {
                q.bbox = Some("37.5,47.8,38.5,48.5".into());
                q.limit = Some(50);
                q.offset = Some(20);
            }),
            query(|q| q.bbox = Some("38.0,48.0,38.0,48.0".into())),
            query(|q| {
                q.from = Some(t("2015-02-16T06:00:00Z"));
                q.to = Some(t("2015-02-16T18:00:00Z"));
                q.bbox = Some("37.0,47.0,39.5,49.0".into());
            }),
            query(|q| q.to = Some(t("2015-02-16T12:00:00Z"))),
            query(|q| q.state = Some("verified".into())),
            query(|q| q.state = Some("published".into())),
            query(|q| q.state = Some("corroborated".into())),
            query(|q| q.party = Some("UA".into())),
            query(|q| q.party = Some("RU".into())),
            query(|q| q.source_kind = Some("sensor".into())),
            query(|q| q.rule = Some("heavy-weapons-withdrawal".into())),
            query(|q| q.limit = Some(1000)),
        ];
        let mut seen = 0;
        for role in [
            "analyst", "admin", "party:UA", "party:RU", "party:XX", "public",
        ] {
            let p = caller(role);
            for q in &queries {
                let expected =
                    serde_json::to_vec(&page_from_ledger(ledger, &p, q).unwrap()).unwrap();
                let served = page(&snapshot, &p, q).unwrap();
                assert!(
                    served == expected,
                    "{what}: {role} {:?} {:?} {:?} {:?}: the snapshot's list differs from the ledger's",
                    q.bbox,
                    q.from,
                    q.to,
                    q.state
                );
                seen += 1;
            }
            let shown = visible(&snapshot, &p, &IncidentQuery::default()).unwrap();
            let from_ledger: Vec<usize> = shown_incidents(ledger, &p.role)
                .into_iter()
                .map(|s| s.index)
                .collect();
            let counted = snapshot.stats(shown.iter().map(|(_, item)| *item));
            assert_eq!(
                counted,
                Stats::of(ledger, from_ledger),
                "{what}: {role} stats"
            );
        }
        seen
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_snapshot_lists_what_the_ledger_does_and_a_writer_reads_its_write_at_once() {
        let dir =
            std::env::temp_dir().join(format!("truce-server-snapshot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("s.gpkg");
        let terms = terms();
        let key = SignerKey::from_seed("truce.test/snapshot", KeyType::Ed25519, [9; 32]).unwrap();
        let clock = Arc::new(FixedClock::new("2015-03-05T09:00:00Z".parse().unwrap()));
        {
            let mut svc =
                Service::open_with_terms(&db, &terms, key.clone(), clock.clone()).unwrap();
            for (file, format, records) in feeds(&terms, 3) {
                svc.ingest(&file, &format, records).unwrap();
            }
        }
        let state =
            AppState::open(db.clone(), key.clone(), Limits::default(), clock.clone()).unwrap();
        assert!(!state.incidents().is_empty());
        same_lists(&state, "opened");

        // Observations posted all at once (the handler's path: `crate::ingest`'s worker folds
        // one request's batch while it stores the next), each read at once when answered.
        let before = state.incidents().len();
        let posts: Vec<_> = feeds(&terms, 4)
            .into_iter()
            .map(|(file, format, records)| {
                let state = state.clone();
                tokio::spawn(async move {
                    let said = crate::api::observations::ingest(&state, file, format, records)
                        .await
                        .unwrap();
                    let shown = state.incidents();
                    assert!(shown.through_seq() >= said.last_seq, "read at once");
                    let ids: std::collections::BTreeSet<&str> = (0..shown.len())
                        .map(|k| shown.item(k).incident.id.as_str())
                        .collect();
                    for id in &said.incidents {
                        assert!(ids.contains(id.as_str()), "{id} listed when answered");
                    }
                    said.accepted
                })
            })
            .collect();
        assert!(posts.len() > 1, "several requests at once");
        let mut accepted = 0;
        for post in posts {
            accepted += post.await.unwrap();
        }
        assert!(accepted > 0);
        {
            // Once the worker gives the core back, the derived tables are level with the
            // ledger: a rebuild from the log rewrites nothing.
            let mut core = state.core();
            assert!(core.svc.rebuild().unwrap().rewritten.is_empty());
        }
        assert!(
            state.incidents().len() > before,
            "the new day's incidents are listed"
        );
        same_lists(&state, "after posting observations");

        // A decision, read at once: the incident is listed as verified.
        let id = state.incidents().item(0).incident.id.clone();
        let logged = decide_now(
            &state,
            &caller("analyst"),
            id.clone(),
            Decide::Verify,
            None,
            "imagery".into(),
        )
        .await
        .unwrap();
        assert_eq!(logged.incident.state, "verified");
        let verified = page(
            &state.incidents(),
            &caller("analyst"),
            &query(|q| q.state = Some("verified".into())),
        )
        .unwrap();
        assert!(
            String::from_utf8(verified)
                .unwrap()
                .contains(&format!("\"id\":\"{id}\"")),
            "the writer's decision is in the next list"
        );
        let logged = decide_now(
            &state,
            &caller("analyst"),
            id.clone(),
            Decide::Publish,
            None,
            "report".into(),
        )
        .await
        .unwrap();
        assert_eq!(logged.incident.state, "published");
        same_lists(&state, "after a decision");

        // Another process's decision reaches the snapshot once the log is followed.
        let second = state.incidents().item(1).incident.id.clone();
        let mut other = Service::open(&db, clock.clone())
            .unwrap()
            .with_key(key.clone())
            .unwrap();
        other
            .decide(truce_service::DecisionRequest {
                incident: second,
                action: Decide::Verify,
                party: None,
                actor: "analyst-2".into(),
                reason: "call with the team".into(),
            })
            .unwrap();
        tokio::time::sleep(crate::reactions::EXTERNAL_SYNC).await;
        with_core(&state, |_| Ok(())).await.unwrap();
        assert!(same_lists(&state, "after another process's decision") > 0);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
