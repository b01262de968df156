//! `GET /api/reports` (the days a daily report covers, for the caller), `GET
//! /api/reports/daily/{day}` and `GET /api/reports/spot/{id}`: the report `truce report` makes,
//! for the caller's role as audience, at the latest signed checkpoint — the same function
//! (`truce_service::report::make_at`), so the files are byte-identical to the CLI's at that
//! size. Made on demand one at a time (a replay of the log to the checkpoint), kept by
//! (log size, subject, audience, language).

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use truce_service::access::{self, Role};
use truce_service::report::{self, Files, Lang, Subject};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{Action, Principal, require};
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::reactions::with_core;
use crate::state::{KEPT_REPORTS as KEPT, ReportKey as Key, Shared};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `en` (default), `uk` or `ru`.
    lang: Option<String>,
    /// `report.html` (default), `report.pdf`, `report.json`, or a figure as SVG or PNG:
    /// `map.svg`, `map.png`, `chart.svg`, `chart.png`, `chart-by-rule.svg`,
    /// `chart-by-rule.png`, `chart-by-sector.svg`, `chart-by-sector.png`.
    file: Option<String>,
}

/// The days with incidents in possible breach the caller may see, newest first.
#[derive(Serialize, ToSchema)]
pub struct ReportDays {
    /// `YYYY-MM-DD`, each with a daily report at `/api/reports/daily/{day}`.
    pub days: Vec<String>,
    /// The audience the caller's reports are made for: `public`, `party:ID` or `staff`.
    pub audience: String,
    /// Reports issued (`report` log entries) the caller may read: public ones, its own
    /// audience's, and every one for staff. Oldest first.
    pub issued: Vec<IssuedReport>,
}

/// A report the monitor issued: its log entry.
#[derive(Serialize, ToSchema)]
pub struct IssuedReport {
    /// The `report` entry's seq (`GET /api/log/proof/{seq}` proves it).
    pub seq: u64,
    /// `daily` or `spot`.
    pub kind: String,
    /// The day or the incident.
    pub subject: String,
    pub audience: String,
    pub lang: String,
    /// The log size and root (hex) it was made from.
    pub log_size: u64,
    pub root: String,
    /// File name → SHA-256 (hex).
    pub files: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/api/reports", tag = "reports",
    summary = "The days a daily report covers, as the caller's role sees them",
    responses(
        (status = 200, description = "Days, newest first", body = ReportDays),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
    ))]
pub async fn list_reports(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Json<ReportDays>> {
    require(&p, Action::ReadIncidents, "read reports")?;
    with_core(&state, move |core| {
        let ledger = core.svc.ledger();
        let mut days: Vec<String> = access::shown_incidents(ledger, &p.role)
            .iter()
            .map(|s| &ledger.incidents()[s.index])
            .filter(|i| !i.breaches.is_empty())
            .map(|i| i.start.date_naive().to_string())
            .collect();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        let audience = report::audience_name(&p.role);
        let mut issued = Vec::new();
        for (seq, body) in core
            .svc
            .store()
            .report_entries()
            .map_err(anyhow::Error::from)?
        {
            let r: truce_core::entry::ReportIssued = serde_json::from_slice(&body)
                .map_err(|e| anyhow::anyhow!("report entry {seq}: {e}"))?;
            if p.role.is_staff() || r.audience == "public" || r.audience == audience {
                issued.push(IssuedReport {
                    seq,
                    kind: r.kind,
                    subject: r.subject,
                    audience: r.audience,
                    lang: r.lang,
                    log_size: r.log_size,
                    root: r.root,
                    files: r.files,
                });
            }
        }
        Ok(Json(ReportDays {
            days,
            audience,
            issued,
        }))
    })
    .await
}

#[utoipa::path(get, path = "/api/reports/daily/{day}", tag = "reports",
    summary = "The daily report for the caller's role at the latest checkpoint",
    params(("day" = String, Path, description = "UTC day", example = "2023-10-23"), ReportQuery),
    responses(
        (status = 200, description = "The file; `X-Truce-Log-Size` and `ETag` (its SHA-256) say what it was made from"),
        (status = 400, description = "A bad day, language or file", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
    ))]
pub async fn daily(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(day): ApiPath<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    let day: NaiveDate = day
        .parse()
        .map_err(|_| ApiError::bad_request(format!("day {day:?}: use YYYY-MM-DD")))?;
    serve(state, p, Subject::Daily(day), q).await
}

#[utoipa::path(get, path = "/api/reports/{day}", tag = "reports",
    summary = "The daily report for the caller's role: the same as `/api/reports/daily/{day}` (the path the issue names)",
    params(("day" = String, Path, description = "UTC day", example = "2023-10-23"), ReportQuery),
    responses(
        (status = 200, description = "The file; `X-Truce-Log-Size` and `ETag` (its SHA-256) say what it was made from"),
        (status = 400, description = "A bad day, language or file", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
    ))]
pub async fn daily_short(
    state: State<Shared>,
    p: Extension<Principal>,
    day: ApiPath<String>,
    q: Query<ReportQuery>,
) -> ApiResult<Response> {
    daily(state, p, day, q).await
}

#[utoipa::path(get, path = "/api/reports/spot/{id}", tag = "reports",
    summary = "A spot report on one incident the caller may see, at the latest checkpoint",
    params(("id" = String, Path, description = "Incident id", example = "inc-21"), ReportQuery),
    responses(
        (status = 200, description = "The file; `X-Truce-Log-Size` and `ETag` (its SHA-256) say what it was made from"),
        (status = 400, description = "A bad language or file", body = crate::schemas::ErrorBody),
        (status = 403, description = "The role may not read incidents", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such incident, or not visible to the caller", body = crate::schemas::ErrorBody),
    ))]
pub async fn spot(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Response> {
    serve(state, p, Subject::Spot(id), q).await
}

async fn serve(
    state: Shared,
    p: Principal,
    subject: Subject,
    q: ReportQuery,
) -> ApiResult<Response> {
    require(&p, Action::ReadIncidents, "read reports")?;
    let lang = Lang::parse(q.lang.as_deref().unwrap_or("en")).map_err(ApiError::bad_request)?;
    let file = q.file.unwrap_or_else(|| "report.html".into());
    let Some(&(_, content_type)) = report::FILES.iter().find(|(name, _)| *name == file) else {
        let names: Vec<&str> = report::FILES.iter().map(|(name, _)| *name).collect();
        return Err(ApiError::bad_request(format!(
            "file {file:?}: use one of {}",
            names.join(", ")
        )));
    };
    // The latest checkpoint and the log's verifier key, from the service.
    let (size, verifier) = latest_basis(&state).await?;
    let subject_s = match &subject {
        Subject::Daily(d) => format!("daily/{d}"),
        Subject::Spot(id) => format!("spot/{id}"),
    };
    let key: Key = (
        size,
        subject_s,
        report::audience_name(&p.role),
        lang.as_str(),
    );
    let files = match cached(&state, &key) {
        Some(f) => f,
        None => {
            let _one = state.reports.making.lock().await;
            match cached(&state, &key) {
                Some(f) => f,
                None => {
                    let db = state.db.clone();
                    let role = p.role.clone();
                    let made = tokio::task::spawn_blocking(move || {
                        let store = truce_store::open(&db)?;
                        report::make_at(&*store, Some(size), &verifier, &subject, &role, lang)
                    })
                    .await
                    .map_err(|e| ApiError::from(anyhow::anyhow!("report worker failed: {e}")))?;
                    let (_, files) = made.map_err(|e| {
                        let text = e.to_string();
                        if text.contains("not shown to the audience") {
                            ApiError::not_found(text)
                        } else {
                            ApiError::from(e)
                        }
                    })?;
                    let files = Arc::new(files);
                    let mut made = state.reports.made.lock().expect("report cache");
                    if made.len() >= KEPT {
                        made.pop_front();
                    }
                    made.push_back((key, files.clone()));
                    files
                }
            }
        }
    };
    let bytes = files
        .get(&file)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("no {file} in this report")))?;
    let etag = format!("\"{}\"", truce_log::hash::sha256(&bytes).to_hex());
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&etag).expect("hex is a header value"),
    );
    h.insert(
        "x-truce-log-size",
        HeaderValue::from_str(&size.to_string()).expect("digits"),
    );
    // The report is self-contained: no script, styles inline, nothing fetched.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:"),
    );
    Ok(resp)
}

/// The size of the latest signed checkpoint and the log's verifier key: what a report is made at.
async fn latest_basis(state: &Shared) -> ApiResult<(u64, truce_log::VerifierKey)> {
    with_core(state, |core| {
        let size = core
            .svc
            .store()
            .latest_checkpoint()
            .map_err(anyhow::Error::from)?
            .map(|c| c.size)
            .ok_or_else(|| ApiError::not_found("the log has no signed checkpoint yet"))?;
        let key = core
            .svc
            .key()
            .map(|k| k.verifier_key())
            .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no log key"))?;
        Ok((size, key))
    })
    .await
}

fn cached(state: &Shared, key: &Key) -> Option<Arc<Files>> {
    let made = state.reports.made.lock().expect("report cache");
    made.iter().find(|(k, _)| k == key).map(|(_, f)| f.clone())
}

/// `truce serve --daily-report-at HH:MM[:SS] --reports-dir DIR`: when it is that time (UTC,
/// by the service's clock) the previous day's daily report is made for the public (English,
/// Ukrainian, Russian), each party (English) and staff (English) at the latest checkpoint,
/// written into `DIR/<day>/<audience>-<lang>/` and logged as `report` entries — what
/// `truce report daily --day <day> --audience … --lang …` would write and log.
#[derive(Debug, Clone)]
pub struct Nightly {
    pub at: chrono::NaiveTime,
    pub dir: std::path::PathBuf,
}

/// The audiences and languages a nightly report is made for.
fn nightly_editions(agreement: &truce_core::agreement::Agreement) -> Vec<(Role, Lang)> {
    let mut out = vec![
        (Role::Public, Lang::En),
        (Role::Public, Lang::Uk),
        (Role::Public, Lang::Ru),
    ];
    for p in &agreement.parties {
        out.push((Role::Party(p.id.clone()), Lang::En));
    }
    out.push((Role::Analyst, Lang::En));
    out
}

/// Runs until the service stops: sleeps to the next `at`, then makes and logs the reports.
pub async fn nightly(state: Shared, job: Nightly) {
    let mut stop = state.stop.subscribe();
    loop {
        let now = state.clock.now();
        let mut next = now.date_naive().and_time(job.at).and_utc();
        if next <= now {
            next += chrono::Duration::days(1);
        }
        let wait = (next - now).to_std().unwrap_or_default();
        let stopped = tokio::select! {
            _ = tokio::time::sleep(wait) => false,
            r = stop.wait_for(|s| *s) => { drop(r); true }
        };
        if stopped {
            return;
        }
        let day = next.date_naive() - chrono::Days::new(1);
        match make_nightly(&state, &job, day).await {
            Ok(n) => {
                tracing::info!(%day, reports = n, dir = %job.dir.display(), "daily reports made and logged")
            }
            Err(e) => tracing::error!(%day, error = %format!("{e:#}"), "daily reports failed"),
        }
    }
}

async fn make_nightly(state: &Shared, job: &Nightly, day: NaiveDate) -> anyhow::Result<usize> {
    let _one = state.reports.making.lock().await;
    let (size, verifier) = latest_basis(state)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.reason))?;
    let editions = nightly_editions(state.engine.agreement());
    let db = state.db.clone();
    let dir = job.dir.clone();
    let subject = Subject::Daily(day);
    let made = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<_>> {
        let store = truce_store::open(&db)?;
        let mut out = Vec::new();
        for (role, lang) in editions {
            let (basis, files) =
                report::make_at(&*store, Some(size), &verifier, &subject, &role, lang)?;
            let edition = dir.join(day.to_string()).join(format!(
                "{}-{}",
                report::audience_name(&role).replace(':', "-"),
                lang.as_str()
            ));
            std::fs::create_dir_all(&edition)?;
            for (name, bytes) in &files {
                std::fs::write(edition.join(name), bytes)?;
            }
            out.push(report::issued(&basis, &files, &subject, &role, lang));
        }
        Ok(out)
    })
    .await??;
    let n = made.len();
    with_core(state, move |core| {
        for issued in &made {
            core.svc.log_report(issued)?;
        }
        Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}", e.reason))?;
    Ok(n)
}
