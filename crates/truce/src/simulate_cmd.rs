//! `truce simulate --agreement FILE --days N --seed S --out DIR`: feeds in their native formats
//! plus `truth.json`, deterministic for a seed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::Args;
use truce_core::agreement::Agreement;
use truce_sim::Simulation;

use crate::Outcome;

#[derive(Args)]
pub struct SimulateArgs {
    /// The agreement to simulate under (default: the embedded donbas-2015 scenario).
    #[arg(long)]
    agreement: Option<String>,
    #[arg(long, default_value_t = truce_sim::DEFAULT_DAYS)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First simulated instant (RFC 3339); default: the first midnight after every deadline.
    #[arg(long)]
    start: Option<String>,
    /// Directory for the feeds and truth.json (created if missing).
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SimulateArgs) -> Result<Outcome> {
    let terms = match &args.agreement {
        Some(file) => crate::agreement_cmd::load(file)?,
        None => crate::scenario::agreement()?,
    };
    let start = match &args.start {
        Some(s) => DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--start {s:?}"))?
            .with_timezone(&Utc),
        None => truce_sim::default_start(&terms),
    };
    let sim = simulate(&terms, args.days, args.seed, start);
    write(&sim, &args.out)?;
    for feed in &sim.feeds {
        println!(
            "{:<40} {:<8} {:>9} bytes",
            args.out.join(&feed.file_name).display(),
            feed.format.as_str(),
            feed.bytes.len()
        );
    }
    println!(
        "{} true events in {}",
        sim.truth.events.len(),
        args.out.join(truce_sim::TRUTH_FILE_NAME).display()
    );
    Ok(Outcome::Ok)
}

pub fn simulate(terms: &Agreement, days: u32, seed: u64, start: DateTime<Utc>) -> Simulation {
    truce_sim::simulate(terms, days, seed, start)
}

/// Writes every feed and truth.json into `dir`.
pub fn write(sim: &Simulation, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for feed in &sim.feeds {
        let path = dir.join(&feed.file_name);
        std::fs::write(&path, &feed.bytes)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mission = dir.join(truce_sim::MISSION_FILE_NAME);
    std::fs::write(&mission, sim.mission_toml())
        .with_context(|| format!("cannot write {}", mission.display()))?;
    let truth = dir.join(truce_sim::TRUTH_FILE_NAME);
    std::fs::write(&truth, sim.truth_json())
        .with_context(|| format!("cannot write {}", truth.display()))?;
    Ok(())
}
