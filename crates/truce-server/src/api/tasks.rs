//! `GET /api/tasks`, `POST /api/tasks` (send a team now), `POST /api/tasks/{id}/outcome`
//! (a team's answer) and `GET /api/coverage` (where the mission was looking).

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use truce_core::observation::{ObservationKind, Outcome};
use truce_fusion::ledger::{Action as Decide, TaskState};
use truce_service::reads::{CoverageTable, MAX_COVERAGE_DAYS, coverage_for, coverage_table};
use truce_service::view::{Logged, MissionView, TaskList, TaskView};
use truce_service::{IngestResult, OutcomeReport};
use utoipa::{IntoParams, ToSchema};

use crate::api::incidents::decide_now;
use crate::auth::require;
use crate::auth::{Action, Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::reactions::with_core;
use crate::state::Shared;

#[utoipa::path(get, path = "/api/tasks", tag = "tasks",
    summary = "Verification tasks: staff every task; a team its assigned tasks",
    responses(
        (status = 200, description = "The tasks", body = TaskList),
        (status = 403, description = "The role may not read tasks", body = crate::schemas::ErrorBody),
    ))]
pub async fn list_tasks(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<TaskList>> {
    require(&p, Action::ReadTasks, "read tasks")?;
    with_core(&state, move |core| {
        let tasks: Vec<TaskView> = core
            .svc
            .ledger()
            .tasks()
            .iter()
            .filter(|t| match &p.role {
                Role::Team(team) => {
                    t.team.as_deref() == Some(team.as_str()) && t.state == TaskState::Assigned
                }
                _ => true,
            })
            .map(TaskView::from)
            .collect();
        Ok(Json(TaskList {
            total: tasks.len(),
            tasks,
        }))
    })
    .await
}

/// A ground team's outcome of its task.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeBody {
    /// `confirmed`, `not_confirmed`, `inconclusive`, `access_denied`.
    #[schema(value_type = crate::schemas::OutcomeKind)]
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
        (status = 200, description = "Stored as one batch", body = IngestResult),
        (status = 400, description = "Unknown outcome or kind, or malformed JSON", body = crate::schemas::ErrorBody),
        (status = 403, description = "Only a team token reports outcomes", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such task assigned to this team", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::schemas::ErrorBody),
        (status = 422, description = "JSON that is not an outcome", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_outcome(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(task): ApiPath<String>,
    ApiJson(body): ApiJson<OutcomeBody>,
) -> ApiResult<Json<IngestResult>> {
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
    let kind = body
        .kind
        .as_deref()
        .map(|k| {
            serde_json::from_value::<ObservationKind>(serde_json::Value::from(k))
                .map_err(|_| ApiError::bad_request(format!("unknown observation kind {k:?}")))
        })
        .transpose()?;
    let report = OutcomeReport {
        outcome,
        kind,
        remarks: body.remarks,
        location: body.location,
        error_radius_m: body.error_radius_m,
        observed_at: body.observed_at,
    };
    let label = format!("api:{}", p.name);
    let done = with_core(&state, move |core| {
        Ok(core.svc.task_outcome(&team, &task, &label, report)?)
    })
    .await?;
    Ok(Json(done.view()))
}

/// An analyst's request to send a team.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    /// The incident to verify.
    incident: String,
    /// Why: logged with the decision.
    reason: String,
}

#[utoipa::path(post, path = "/api/tasks", tag = "tasks",
    summary = "Send a ground team to an incident now, whatever the automatic thresholds say (staff); the same as the `task` decision",
    request_body = TaskBody,
    responses(
        (status = 200, description = "Logged as a `decision` entry; the incident after it", body = Logged),
        (status = 400, description = "Malformed JSON", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not task teams", body = crate::schemas::ErrorBody),
        (status = 409, description = "Already tasked, concluded, unlocated, or no such incident", body = crate::schemas::ErrorBody),
        (status = 413, description = "Body over `max_body_bytes`", body = crate::schemas::ErrorBody),
        (status = 408, description = "The body did not arrive within `body_timeout`", body = crate::schemas::ErrorBody),
        (status = 415, description = "Not `Content-Type: application/json`", body = crate::schemas::ErrorBody),
        (status = 422, description = "JSON that is not a task request", body = crate::schemas::ErrorBody),
    ))]
pub async fn post_task(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiJson(body): ApiJson<TaskBody>,
) -> ApiResult<Json<Logged>> {
    require(&p, Action::Decide, "task teams")?;
    decide_now(&state, &p, body.incident, Decide::Task, None, body.reason).await
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CoverageQuery {
    /// The first UTC day, `YYYY-MM-DD` (default: so the table ends on the last day with
    /// observations).
    #[param(value_type = Option<String>, example = "2015-03-01")]
    from: Option<NaiveDate>,
    /// Days from `from`, 1 to 31 (default 7, or fewer if the store holds fewer).
    days: Option<u32>,
}

#[utoipa::path(get, path = "/api/coverage", tag = "tasks",
    summary = "Where the mission was looking: per sector of the line and UTC day, observed / partly / not observed; staff also see what was found and by whom",
    params(CoverageQuery),
    responses(
        (status = 200, description = "The table as the caller's role may see it (`truce_service::reads::coverage_for`): staff every field, as `truce coverage --json`; a party and the public each sector's `observation` only", body = CoverageTable),
        (status = 400, description = "A malformed day, or days outside 1..=31", body = crate::schemas::ErrorBody),
        (status = 403, description = "A team does not read coverage", body = crate::schemas::ErrorBody),
    ))]
pub async fn get_coverage(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<CoverageQuery>,
) -> ApiResult<Json<CoverageTable>> {
    // Whoever reads incidents reads where nobody was looking; what of it is `coverage_for`'s.
    require(&p, Action::ReadIncidents, "read coverage")?;
    if let Some(d) = q.days
        && !(1..=MAX_COVERAGE_DAYS).contains(&d)
    {
        return Err(ApiError::bad_request(format!(
            "days must be 1 to {MAX_COVERAGE_DAYS}, not {d}"
        )));
    }
    with_core(&state, move |core| {
        let table = coverage_table(core.svc.store(), core.svc.ledger(), q.from, q.days)?;
        Ok(Json(coverage_for(&p.role, &table)))
    })
    .await
}

#[utoipa::path(get, path = "/api/mission", tag = "tasks",
    summary = "The mission in force: team bases and fixed sensors (staff only)",
    responses(
        (status = 200, description = "Teams with their bases and fixed sensors with their positions; empty lists before a mission is set", body = MissionView),
        (status = 403, description = "Only the monitor's staff read its own positions", body = crate::schemas::ErrorBody),
    ))]
pub async fn get_mission(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<MissionView>> {
    require(&p, Action::ReadMission, "read the mission")?;
    with_core(&state, move |core| {
        Ok(Json(MissionView::of(core.svc.ledger())))
    })
    .await
}
