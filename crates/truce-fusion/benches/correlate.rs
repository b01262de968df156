//! Correlation throughput and memory at a million observations.
//!
//! `cargo bench -p truce-fusion --bench correlate [-- OBSERVATIONS [DAYS [fuse|ledger]]]`
//! (defaults 1,000,000, 60, both). The simulator runs DAYS days once (seed 1, all main feeds, re-deliveries left out,
//! as the store would); its valid observations are then repeated, each copy shifted DAYS days
//! later, until there are OBSERVATIONS — the same front, sensors and tempo over a longer
//! period, so incidents stay as dense in space and time as in the simulation. Each copy's ids
//! are made unique. Everything is assessed first (not timed), then timed:
//!
//! - `Fusion::fuse` of the whole batch (sorted into canonical order inside);
//! - the ledger's path, `Ledger::observe` one observation at a time in seq order, which is what
//!   ingest and `truce rebuild` do (incidents plus their lifecycle).
//!
//! Memory is read from `/proc/self/status`: resident set before each run and the peak (VmHWM)
//! after; the peak includes the input held in memory, so the input's own size is printed too.
//! Not a test: no assertion on time (`docs/benchmarks.md` records the numbers).

use std::time::Instant;

use chrono::Duration;
use truce_core::assess::{Assessment, Engine};
use truce_core::observation::{Observation, Place};
use truce_fusion::Fusion;
use truce_fusion::ledger::Ledger;

fn engine() -> std::sync::Arc<Engine> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let agreement = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|d| panic!("{d:#?}"));
    std::sync::Arc::new(Engine::new(agreement).unwrap())
}

/// (VmRSS, VmHWM) in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let target: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let days: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    // `fuse`, `ledger` or both: one per process gives each its own memory peak.
    let mode = args.get(2).map_or("both", String::as_str);
    let engine = engine();

    let t = Instant::now();
    let sim = truce_sim::simulate(
        engine.agreement(),
        days,
        1,
        truce_sim::default_start(engine.agreement()),
    );
    let mut base: Vec<Observation> = Vec::new();
    for feed in &sim.feeds {
        if sim
            .truth
            .feeds
            .iter()
            .any(|f| f.file_name == feed.file_name && f.repeats.is_some())
        {
            continue;
        }
        let records = truce_ingest::ingest_file(
            &feed.file_name,
            &feed.bytes,
            None,
            &truce_ingest::Options::default(),
        )
        .unwrap();
        base.extend(records.into_iter().filter_map(|r| r.result.ok()));
    }
    println!(
        "simulated {days} days: {} observations ({:.1} s)",
        base.len(),
        t.elapsed().as_secs_f64()
    );

    let (rss0, _) = memory();
    let t = Instant::now();
    let mut batch: Vec<(u64, Observation, Place, Assessment)> = Vec::with_capacity(target);
    'fill: for copy in 0.. {
        let shift = Duration::days(i64::from(days) * copy);
        for o in &base {
            if batch.len() == target {
                break 'fill;
            }
            let mut o = o.clone();
            o.id = o.id.map(|id| format!("{id}~{copy}"));
            o.properties.observed_at += shift;
            o.properties.timestamps.iter_mut().for_each(|t| *t += shift);
            if let Some(c) = o.properties.coverage.as_mut() {
                c.until = c.until.map(|u| u + shift);
            }
            let place = o.validate().unwrap();
            let seq = batch.len() as u64;
            let a = engine.assess(seq as usize, &o, &place);
            batch.push((seq, o, place, a));
        }
    }
    let (rss1, _) = memory();
    println!(
        "input: {} observations over {} days, assessed in {:.1} s; held in {:.0} MiB",
        batch.len(),
        (batch.len() as f64 / base.len() as f64 * f64::from(days)).round(),
        t.elapsed().as_secs_f64(),
        rss1 - rss0
    );

    if mode != "ledger" {
        fuse(&engine, &batch);
    }
    if mode != "fuse" {
        observe(&engine, &batch);
    }
}

fn fuse(engine: &std::sync::Arc<Engine>, batch: &[(u64, Observation, Place, Assessment)]) {
    let (before, _) = memory();
    let t = Instant::now();
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(batch);
    let secs = t.elapsed().as_secs_f64();
    let (after, peak) = memory();
    let largest = fusion
        .incidents()
        .iter()
        .map(|i| i.observation_seqs.len())
        .max()
        .unwrap_or(0);
    println!(
        "Fusion::fuse: {} incidents (largest {largest} observations) in {secs:.2} s = {:.0} observations/s; \
         resident {before:.0} → {after:.0} MiB (+{:.0}), peak {peak:.0} MiB",
        fusion.incidents().len(),
        batch.len() as f64 / secs,
        after - before,
    );
}

fn observe(engine: &std::sync::Arc<Engine>, batch: &[(u64, Observation, Place, Assessment)]) {
    let (before, _) = memory();
    let t = Instant::now();
    let mut ledger = Ledger::new(engine.clone());
    for (seq, o, p, a) in batch {
        ledger.observe(*seq, o, p, a);
    }
    let secs = t.elapsed().as_secs_f64();
    let (after, peak) = memory();
    println!(
        "Ledger::observe one by one: {} incidents in {secs:.2} s = {:.0} observations/s; \
         resident {before:.0} → {after:.0} MiB (+{:.0}), peak {peak:.0} MiB",
        ledger.incidents().len(),
        batch.len() as f64 / secs,
        after - before,
    );
}
