//! Reads over the store that several surfaces share: every stored observation with its
//! stored assessment (what `truce score` and coverage read), and the coverage table — per
//! sector of the line and day, observed and quiet versus not observed — with its view.

use anyhow::Result;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use truce_core::assess::Assessment;
use truce_core::observation::{Observation, ObservationKind, Place};
use truce_fusion::coverage::{self, Sectors};
use truce_fusion::ledger::Ledger;
use truce_store::Backend;
use utoipa::ToSchema;

use crate::access::Role;

/// Most days one coverage table may span: a month of sectors × days is a grid a page can
/// show and a request can compute under the service's lock in well under a second.
pub const MAX_COVERAGE_DAYS: u32 = 31;

/// Days the coverage table shows by default.
pub const DEFAULT_COVERAGE_DAYS: u32 = 7;

/// Observations read back from the store per page.
const PAGE: usize = 10_000;

/// An assessed observation as fusion takes it: (seq, observation, place, assessment), the
/// assessment's `id` being the observation's display id (the id the ingest gave it).
pub type Assessed = (u64, Observation, Place, Assessment);

/// Every stored observation with its stored assessment, in seq order.
pub fn stored_batch(store: &dyn Backend) -> Result<Vec<Assessed>> {
    stored_batch_until(store, u64::MAX)
}

/// [`stored_batch`] of the log's first `size` entries.
pub fn stored_batch_until(store: &dyn Backend, size: u64) -> Result<Vec<Assessed>> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        if from >= size {
            break;
        }
        let page = store.observations(from, PAGE)?;
        let Some(last) = page.last().map(|s| s.seq) else {
            break;
        };
        for s in page.into_iter().take_while(|s| s.seq < size) {
            let place = s
                .observation
                .validate()
                .map_err(|e| anyhow::anyhow!("stored observation {}: {e}", s.seq))?;
            let a = s.assessment;
            let assessment = Assessment {
                id: s.observation.display_id(s.seq as usize),
                party_area: a.party_area,
                distance_to_line_m: a.distance_to_line_m,
                zones: a.zones,
                crossings: a.crossings,
                breaches: a.breaches,
            };
            all.push((s.seq, s.observation, place, assessment));
        }
        from = last + 1;
    }
    Ok(all)
}

/// The sector × day table for the store (module doc of `truce_fusion::coverage`).
pub fn coverage_table(
    store: &dyn Backend,
    ledger: &Ledger,
    from: Option<NaiveDate>,
    days: Option<u32>,
) -> Result<Vec<coverage::SectorDay>> {
    coverage_table_until(store, ledger, from, days, u64::MAX)
}

/// [`coverage_table`] of the log's first `size` entries (a report made at that size).
pub fn coverage_table_until(
    store: &dyn Backend,
    ledger: &Ledger,
    from: Option<NaiveDate>,
    days: Option<u32>,
    size: u64,
) -> Result<Vec<coverage::SectorDay>> {
    let engine = ledger.engine();
    let sectors = Sectors::new(&engine.agreement().contact_line.lines)
        .map_err(|e| anyhow::anyhow!("the contact line cannot be cut into sectors: {e}"))?;
    let all = stored_batch_until(store, size)?;
    let outages = coverage::outages(all.iter().map(|(_, o, _, _)| o));
    let reports: Vec<_> = all
        .iter()
        .filter_map(|(_, o, p, _)| coverage::report(o, p))
        .collect();
    let times: Vec<DateTime<Utc>> = all
        .iter()
        .filter(|(_, o, _, _)| o.properties.kind != ObservationKind::Coverage)
        .filter(|(_, o, _, a)| {
            a.distance_to_line_m <= coverage::BAND_KM * 1000.0 || o.properties.bearing.is_some()
        })
        .map(|(_, o, _, _)| o.properties.observed_at)
        .collect();
    let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else {
        return Ok(Vec::new());
    };
    // By default the last week the store has observations for (a 3 a.m. question is about
    // the last few days, not the whole archive).
    let first_day = from.unwrap_or_else(|| {
        (last.date_naive() - chrono::Days::new(u64::from(DEFAULT_COVERAGE_DAYS - 1)))
            .max(first.date_naive())
    });
    let days = days.unwrap_or_else(|| {
        let span = (last.date_naive() - first_day).num_days() + 1;
        span.clamp(1, i64::from(DEFAULT_COVERAGE_DAYS)) as u32
    });
    let incidents: Vec<_> = ledger
        .incidents()
        .iter()
        .filter(|i| !i.breaches.is_empty())
        .filter_map(|i| i.location.map(|p| (p, i.start)))
        .collect();
    let sensors = ledger
        .mission()
        .map(|m| m.sensors.clone())
        .unwrap_or_default();
    Ok(coverage::coverage(
        &sectors, &sensors, &outages, &reports, &incidents, first_day, days,
    ))
}

/// The coverage table (`GET /api/coverage`): every sector of the line for every day shown,
/// sector by sector, day by day, as much of each cell as the reader's role may see
/// ([`coverage_for`]).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CoverageTable {
    /// The first day shown (none when the store has no observations).
    #[schema(value_type = Option<String>)]
    pub from: Option<NaiveDate>,
    pub days: u32,
    /// Sectors of the contact line, numbered from 0 along it.
    pub sectors: usize,
    pub cells: Vec<CoverageCell>,
}

impl CoverageTable {
    /// The whole table, every field of every cell (staff; `truce coverage --json`).
    pub fn of(table: &[coverage::SectorDay]) -> CoverageTable {
        Self::from_cells(table.iter().map(CoverageCell::from).collect())
    }

    fn from_cells(cells: Vec<CoverageCell>) -> CoverageTable {
        let from = cells.iter().map(|c| c.day).min();
        let days = from.map_or(0, |f| {
            cells
                .iter()
                .map(|c| (c.day - f).num_days() as u32 + 1)
                .max()
                .unwrap_or(0)
        });
        let sectors = cells.iter().map(|c| c.sector + 1).max().unwrap_or(0);
        CoverageTable {
            from,
            days,
            sectors,
            cells,
        }
    }
}

/// Whether anyone was looking at a sector that day, whatever was found: `observed` (a fixed
/// sensor reaching it was up at least [`coverage::QUIET_MIN_HOURS`], or a team or drone
/// reported from it), `partly_observed` (a sensor was up less than that) or `not_observed`.
pub fn observation(c: &coverage::SectorDay) -> &'static str {
    if c.watched_hours >= coverage::QUIET_MIN_HOURS || !c.mobile.is_empty() {
        "observed"
    } else if c.watched_hours > 0.0 {
        "partly_observed"
    } else {
        "not_observed"
    }
}

/// What `role` may read of the coverage table: the one function behind `GET /api/coverage`
/// and a report's coverage caveats ([`coverage_caveats`]).
///
/// Staff see every field. A party and the public see each sector and day with its
/// [`observation`] only — as the OSCE SMM's public daily reports said where its monitors were
/// not present or were restricted, so that "no incident" is not read as "quiet" — and never
/// the sensors, the teams or drones (their identities, and through them their positions),
/// the hours watched (a schedule to time a violation by), the count of incidents or the
/// four-valued `status`, whose `incidents` would tell of incidents not yet published.
pub fn coverage_for(role: &Role, table: &[coverage::SectorDay]) -> CoverageTable {
    if role.is_staff() {
        return CoverageTable::of(table);
    }
    CoverageTable::from_cells(
        table
            .iter()
            .map(|c| CoverageCell {
                sector: c.sector,
                from_km: c.from_km,
                to_km: c.to_km,
                day: c.day,
                observation: observation(c).to_string(),
                status: None,
                watched_hours: None,
                sensors: None,
                mobile: None,
                incidents: None,
            })
            .collect(),
    )
}

/// A report's coverage caveats for `role` on `day`: the sectors [`coverage_for`] gives that
/// role as `not_observed` or `partly_observed`, as `(from_km, to_km, observation)`.
pub fn coverage_caveats(
    role: &Role,
    table: &[coverage::SectorDay],
    day: NaiveDate,
) -> Vec<(f64, f64, String)> {
    coverage_for(role, table)
        .cells
        .into_iter()
        .filter(|c| c.day == day && c.observation != "observed")
        .map(|c| (c.from_km, c.to_km, c.observation))
        .collect()
}

/// One cell of the coverage table: a sector of the line on a UTC day. The fields after
/// `observation` are staff's only ([`coverage_for`]).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CoverageCell {
    /// The sector's number along the line, from 0.
    pub sector: usize,
    /// Where it starts and ends along the line, km.
    pub from_km: f64,
    pub to_km: f64,
    /// `YYYY-MM-DD` (UTC).
    #[schema(value_type = String)]
    pub day: NaiveDate,
    /// Whether anyone was looking, whatever was found: `observed`, `partly_observed` or
    /// `not_observed` (every role).
    pub observation: String,
    /// `incidents`, `observed_quiet`, `partly_observed` or `not_observed` (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Hours of the day at least one fixed sensor reaching the sector was up (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watched_hours: Option<f64>,
    /// The fixed sensors reaching it that were up some of the day (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensors: Option<Vec<String>>,
    /// The mobile sources (teams, drones) that reported from it that day (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mobile: Option<Vec<String>>,
    /// Incidents in breach starting that day in it, published or not (staff).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incidents: Option<usize>,
}

impl From<&coverage::SectorDay> for CoverageCell {
    fn from(c: &coverage::SectorDay) -> CoverageCell {
        CoverageCell {
            sector: c.sector,
            from_km: c.from_km,
            to_km: c.to_km,
            day: c.day,
            observation: observation(c).to_string(),
            status: Some(c.status.as_str().to_string()),
            watched_hours: Some(c.watched_hours),
            sensors: Some(c.sensors.clone()),
            mobile: Some(c.mobile.clone()),
            incidents: Some(c.incidents),
        }
    }
}
