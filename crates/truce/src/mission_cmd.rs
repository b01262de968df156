//! `truce mission set`, `truce tasks` and `truce coverage`: the mission's own resources, the
//! ground teams' work, and where the mission was looking.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use truce_core::mission::Mission;
use truce_core::observation::ObservationKind;
use truce_fusion::coverage::{self, Sectors, Status};
use truce_fusion::ledger::{Ledger, TaskState};
use truce_store::{EntryKind, GeoPackageStore, Log};

use crate::Outcome;
use truce_server::replay::{engine_in_force, follow, open_ledger};

/// Days `truce coverage` shows by default.
const DEFAULT_DAYS: u32 = 7;

#[derive(Subcommand)]
pub enum MissionCommand {
    /// Put a mission file (teams with bases, fixed sensors) in force: logged as an entry.
    Set {
        /// The GeoPackage store.
        #[arg(long)]
        db: PathBuf,
        /// The mission file (TOML; docs/mission.md).
        file: PathBuf,
        /// The log's signing key file (default: `<db>.log.key` beside the store).
        #[arg(long)]
        log_key: Option<PathBuf>,
    },
    /// Check a mission file and describe it.
    Check { file: PathBuf },
}

#[derive(Args)]
pub struct TasksArgs {
    /// The GeoPackage store.
    #[arg(long)]
    db: PathBuf,
    /// Also list finished tasks.
    #[arg(long)]
    all: bool,
    /// One JSON object per task.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CoverageArgs {
    /// The GeoPackage store.
    #[arg(long)]
    db: PathBuf,
    /// First UTC day (default: a week before the last observation's day).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// How many days (default: through the last observation's day, at most 7).
    #[arg(long)]
    days: Option<u32>,
    /// One JSON object per sector-day.
    #[arg(long)]
    json: bool,
}

pub fn load(file: &PathBuf) -> Result<Mission> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    truce_core::mission::load(&file.display().to_string(), &text).map_err(|diags| {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("{}", lines.join("\n"))
    })
}

pub fn run(cmd: MissionCommand) -> Result<Outcome> {
    match cmd {
        MissionCommand::Check { file } => {
            let m = load(&file)?;
            describe(&m);
            Ok(Outcome::Ok)
        }
        MissionCommand::Set { db, file, log_key } => {
            let mission = load(&file)?;
            let mut store = GeoPackageStore::open(&db)?;
            let key = crate::log_cmd::log_signer_key(&db, log_key.as_deref())?;
            store.check_signer(&key)?;
            let engine = engine_in_force(&store)?;
            let mut ledger = open_ledger(&mut store, &engine)?;
            let seq = put(&mut store, &mut ledger, &mission)?;
            store.sign_checkpoint(&key, crate::log_cmd::now_unix_s()?)?;
            describe(&mission);
            println!("in force from log entry {seq}; checkpoint signed");
            Ok(Outcome::Ok)
        }
    }
}

/// Appends the mission as an entry and lets the ledger follow (pending tasks may now go to
/// teams). The caller signs a checkpoint.
pub fn put(store: &mut GeoPackageStore, ledger: &mut Ledger<'_>, mission: &Mission) -> Result<u64> {
    let seq = store.append_record(EntryKind::Mission, &mission.canonical_json())?;
    follow(store, ledger)?;
    Ok(seq)
}

fn describe(m: &Mission) {
    println!(
        "mission {} v{}: {} teams, {} fixed sensors (hash {})",
        m.id,
        m.version,
        m.teams.len(),
        m.sensors.len(),
        &m.hash[..16]
    );
    for t in &m.teams {
        println!(
            "  team {:<8} {:<28} base {:.4}, {:.4}",
            t.id, t.name, t.base[1], t.base[0]
        );
    }
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &m.sensors {
        *kinds.entry(s.kind.as_str()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
    println!("  sensors: {}", kinds.join(", "));
}

pub fn tasks(args: TasksArgs) -> Result<Outcome> {
    let mut store = GeoPackageStore::open(&args.db)?;
    let engine = engine_in_force(&store)?;
    let ledger = open_ledger(&mut store, &engine)?;
    print!("{}", render_tasks(&ledger, args.all, args.json)?);
    Ok(Outcome::Ok)
}

pub fn render_tasks(ledger: &Ledger<'_>, all: bool, json: bool) -> Result<String> {
    use std::fmt::Write;
    let mut w = String::new();
    let mut shown: Vec<_> = ledger
        .tasks()
        .iter()
        .filter(|t| all || t.state != TaskState::Done)
        .collect();
    // Most urgent first: assigned, then pending by priority.
    shown.sort_by(|a, b| {
        a.state
            .cmp(&b.state)
            .reverse()
            .then(b.priority.cmp(&a.priority))
            .then(a.id.cmp(&b.id))
    });
    if json {
        for t in shown {
            writeln!(w, "{}", serde_json::to_string(t)?)?;
        }
        return Ok(w);
    }
    let open = ledger
        .tasks()
        .iter()
        .filter(|t| t.state != TaskState::Done)
        .count();
    writeln!(
        w,
        "{} verification tasks, {open} open{}",
        ledger.tasks().len(),
        if ledger.mission().is_none() {
            " (no mission file in force: `truce mission set` gives them teams)"
        } else {
            ""
        }
    )?;
    if shown.is_empty() {
        return Ok(w);
    }
    writeln!(
        w,
        "  {:<16} {:<9} {:<8} {:>7} {:<8} {:>5} {:<17} note",
        "task", "state", "team", "km", "severity", "conf", "created (UTC)"
    )?;
    for t in shown {
        writeln!(
            w,
            "  {:<16} {:<9} {:<8} {:>7} {:<8} {:>5.2} {:<17} {}",
            t.id,
            t.state.as_str(),
            t.team.as_deref().unwrap_or("-"),
            t.distance_m
                .map(|d| format!("{:.1}", d / 1000.0))
                .unwrap_or_else(|| "-".into()),
            t.severity,
            t.confidence,
            t.created_at.format("%Y-%m-%d %H:%M"),
            t.note
        )?;
    }
    Ok(w)
}

pub fn coverage(args: CoverageArgs) -> Result<Outcome> {
    let mut store = GeoPackageStore::open(&args.db)?;
    let engine = engine_in_force(&store)?;
    let ledger = open_ledger(&mut store, &engine)?;
    let table = coverage_table(&store, &ledger, args.from, args.days)?;
    if args.json {
        for c in &table {
            println!(
                "{}",
                serde_json::json!({
                    "sector": c.sector, "from_km": c.from_km, "to_km": c.to_km,
                    "day": c.day.to_string(), "status": c.status.as_str(),
                    "watched_hours": c.watched_hours, "sensors": c.sensors,
                    "mobile": c.mobile, "incidents": c.incidents,
                })
            );
        }
    } else {
        print!("{}", render_coverage(&table));
    }
    Ok(Outcome::Ok)
}

/// The sector × day table for the store (module doc of `truce_fusion::coverage`).
pub fn coverage_table(
    store: &GeoPackageStore,
    ledger: &Ledger<'_>,
    from: Option<NaiveDate>,
    days: Option<u32>,
) -> Result<Vec<coverage::SectorDay>> {
    let engine = ledger.engine();
    let sectors = Sectors::new(&engine.agreement().contact_line.lines)
        .map_err(|e| anyhow::anyhow!("the contact line cannot be cut into sectors: {e}"))?;
    let all = crate::stored::stored_batch(store)?;
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
        (last.date_naive() - chrono::Days::new(u64::from(DEFAULT_DAYS - 1))).max(first.date_naive())
    });
    let days = days.unwrap_or_else(|| {
        let span = (last.date_naive() - first_day).num_days() + 1;
        span.clamp(1, i64::from(DEFAULT_DAYS)) as u32
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

pub fn render_coverage(table: &[coverage::SectorDay]) -> String {
    use std::fmt::Write;
    let mut w = String::new();
    let mut days: Vec<NaiveDate> = table.iter().map(|c| c.day).collect();
    days.dedup();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for c in table {
        *by_status.entry(c.status.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by_status.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let _ = writeln!(
        w,
        "Coverage by sector of the line and UTC day (! incidents  . observed, quiet  \
         ~ partly observed  ? not observed): {}",
        counts.join(" · ")
    );
    let _ = write!(w, "  {:<14}", "sector (km)");
    for d in &days {
        let _ = write!(w, " {}", d.format("%m-%d"));
    }
    w.push('\n');
    let mut sectors: Vec<(usize, f64, f64)> = table
        .iter()
        .map(|c| (c.sector, c.from_km, c.to_km))
        .collect();
    sectors.sort_by_key(|s| s.0);
    sectors.dedup_by_key(|s| s.0);
    for (i, from, to) in sectors {
        let _ = write!(w, "  {:>3} {:>4.0}–{:<4.0} ", i, from, to);
        for d in &days {
            let mark = table
                .iter()
                .find(|c| c.sector == i && c.day == *d)
                .map_or(' ', |c| match c.status {
                    Status::Incidents => '!',
                    Status::ObservedQuiet => '.',
                    Status::PartlyObserved => '~',
                    Status::NotObserved => '?',
                });
            let _ = write!(w, "   {mark}  ");
        }
        w.push('\n');
    }
    w
}
