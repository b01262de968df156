//! `truce mission set`, `truce tasks` and `truce coverage`: the mission's own resources, the
//! ground teams' work, and where the mission was looking.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use truce_core::mission::Mission;
use truce_fusion::coverage::{self, Status};
use truce_fusion::ledger::{Ledger, TaskState};
use truce_service::reads::{CoverageCell, coverage_table};
use truce_service::view::TaskView;

use crate::Outcome;

#[derive(Subcommand)]
pub enum MissionCommand {
    /// Put a mission file (teams with bases, fixed sensors) in force: logged as an entry.
    Set {
        /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
            let mut svc = crate::open_service_for_writing(&db, log_key.as_deref())?;
            let seq = svc.set_mission(&mission)?;
            describe(&mission);
            println!("in force from log entry {seq}; checkpoint signed");
            Ok(Outcome::Ok)
        }
    }
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
    let svc = crate::open_service(&args.db)?;
    print!("{}", render_tasks(svc.ledger(), args.all, args.json)?);
    Ok(Outcome::Ok)
}

pub fn render_tasks(ledger: &Ledger, all: bool, json: bool) -> Result<String> {
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
            writeln!(w, "{}", serde_json::to_string(&TaskView::from(t))?)?;
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
    let svc = crate::open_service(&args.db)?;
    let table = coverage_table(svc.store(), svc.ledger(), args.from, args.days)?;
    if args.json {
        for c in &table {
            println!("{}", serde_json::to_string(&CoverageCell::from(c))?);
        }
    } else {
        print!("{}", render_coverage(&table));
    }
    Ok(Outcome::Ok)
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
