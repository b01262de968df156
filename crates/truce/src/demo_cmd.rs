//! `truce demo [--out DIR]`: the whole pipeline on the embedded scenario, in one command.
//!
//! Loads the embedded donbas-2015 terms, simulates three days of multi-source reporting, writes
//! the feeds with the scenario's real FIRMS and UCDP extracts into `DIR/feeds`, ingests them all
//! into `DIR/truce.gpkg` (assessing as it stores), signing a checkpoint of the log after every
//! batch with `DIR/truce.gpkg.log.key` (made afresh each run, mode 0600; its verifier key goes to
//! `DIR/log.vkey`), and prints what came of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use truce_fusion::Fusion;
use truce_fusion::ledger::{Ledger, Lifecycle};
use truce_ingest::Options;
use truce_log::{KeyType, SignerKey};
use truce_service::view::IncidentView;
use truce_service::{Service, SystemClock};
use truce_store::{Backend, StoredCheckpoint, Summary};

use crate::Outcome;
use crate::ingest_cmd::{FileReport, ingest_path};

/// The simulator seed of the demo: fixed, so every run of the demo tells the same story.
const DEMO_SEED: u64 = 1;
const DEMO_DAYS: u32 = 3;
/// Rejected records listed in the summary (all are in the store).
const REJECTED_SHOWN: usize = 8;
/// Open verification tasks listed.
const TASKS_SHOWN: usize = 6;
/// The name of the demo log's key, and so the origin of its checkpoints.
const DEMO_LOG_NAME: &str = "truce.local/demo";
/// The store the demo writes in its directory.
const DB_FILE_NAME: &str = "truce.gpkg";

#[derive(Args)]
pub struct DemoArgs {
    /// Where to write the store, the feeds and the truth (replaced if present).
    #[arg(long, default_value = "truce-demo")]
    out: PathBuf,
    /// Sign the log with this key file instead of making `DIR/truce.gpkg.log.key`.
    #[arg(long = "log-key")]
    log_key: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<Outcome> {
    let out = &args.out;
    let feeds_dir = out.join("feeds");
    std::fs::create_dir_all(&feeds_dir)
        .with_context(|| format!("cannot create {}", feeds_dir.display()))?;
    let db = out.join(DB_FILE_NAME);
    for stale in [
        db.clone(),
        out.join("truce.gpkg-wal"),
        out.join("truce.gpkg-shm"),
    ] {
        match std::fs::remove_file(&stale) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot replace {}", stale.display())),
        }
    }

    let terms = crate::scenario::agreement()?;
    println!(
        "Truce demo: {} (version {}), {}",
        terms.id, terms.version, terms.title
    );
    println!("  terms sha256:{}", terms.hash);
    let start = truce_sim::default_start(&terms);
    let sim = crate::simulate_cmd::simulate(&terms, DEMO_DAYS, DEMO_SEED, start);
    crate::simulate_cmd::write(&sim, &feeds_dir)?;
    std::fs::rename(
        feeds_dir.join(truce_sim::TRUTH_FILE_NAME),
        out.join(truce_sim::TRUTH_FILE_NAME),
    )?;
    println!(
        "  simulated {DEMO_DAYS} days from {} (seed {DEMO_SEED}): {} true events, {} feeds",
        start.format("%Y-%m-%d %H:%M UTC"),
        sim.truth.events.len(),
        sim.feeds.len()
    );
    let mut files: Vec<PathBuf> = sim
        .feeds
        .iter()
        .map(|f| feeds_dir.join(&f.file_name))
        .collect();
    for (name, bytes) in crate::scenario::REAL_FEEDS {
        let path = feeds_dir.join(name);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        files.push(path);
    }

    let (log_key, vkey_file) = demo_log_key(out, args.log_key.as_deref())?;
    let mut svc = Service::open_with_terms(&db, &terms, log_key.clone(), Arc::new(SystemClock))?;
    // The simulated mission's teams and sensors (the same as scenarios/donbas-2015/mission.toml).
    svc.set_mission(&sim.mission)?;
    println!("\nIngested into {}", db.display());
    let options = Options::default();
    for path in &files {
        let report = ingest_path(&mut svc, path, None, &options)?;
        print_file(path, &report);
    }
    crate::print_warnings(&mut svc);
    // The folded ledger, so `truce serve` on the demo store starts without replaying it.
    svc.write_snapshot()?;
    let store = svc.store();
    let ledger = svc.ledger();
    let summary = store.summary(REJECTED_SHOWN)?;
    let checkpoint = store
        .latest_checkpoint()?
        .context("the demo signed no checkpoint")?;
    print!("{}", render(&summary, out, &db));
    print!("{}", render_incidents(ledger));
    print!(
        "{}",
        render_work(store, ledger, start.date_naive(), DEMO_DAYS)?
    );
    print!("{}", render_score(store, ledger.fusion(), &sim, out, &db)?);
    print!("{}", render_log(&checkpoint, &log_key, &vkey_file, &db));
    Ok(Outcome::Ok)
}

/// The key the demo's log signs with, and the file holding its verifier key: `--log-key` if
/// given (its verifier key written to `DIR/log.vkey`), else a new `DIR/truce.gpkg.log.key`. The store is
/// made afresh every run, so its key is too: signing a new history with an old log's key is
/// exactly the rewrite a witness refuses.
fn demo_log_key(out: &Path, explicit: Option<&Path>) -> Result<(SignerKey, PathBuf)> {
    let vkey_file = out.join("log.vkey");
    let key = match explicit {
        Some(path) => crate::log_cmd::read_log_key(path)?,
        None => {
            // Where every other command looks for the store's key, so that `truce decide`
            // and `truce ingest` on the demo's store need no --log-key.
            let path = crate::log_cmd::default_key_path(&out.join(DB_FILE_NAME));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot replace {}", path.display()));
                }
            }
            crate::log_cmd::create_key(&path, DEMO_LOG_NAME, KeyType::Ed25519)?
        }
    };
    std::fs::write(&vkey_file, format!("{}\n", key.verifier_key()))
        .with_context(|| format!("cannot write {}", vkey_file.display()))?;
    Ok((key, vkey_file))
}

fn render_log(c: &StoredCheckpoint, key: &SignerKey, vkey_file: &Path, db: &Path) -> String {
    let mut w = String::new();
    let _ = writeln!(
        w,
        "\nLog {}: {} entries, root {}",
        key.name(),
        c.size,
        c.root.to_base64()
    );
    let _ = writeln!(
        w,
        "  a checkpoint signed after every batch; verifier key (also in {}):",
        vkey_file.display()
    );
    let _ = writeln!(w, "  {}", key.verifier_key());
    let _ = writeln!(
        w,
        "  truce log verify --db {} --key {}",
        db.display(),
        vkey_file.display()
    );
    let _ = writeln!(
        w,
        "  truce log prove --db {} --seq 1 > proof.json",
        db.display()
    );
    w
}

fn print_file(path: &Path, r: &FileReport) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!(
        "  {name:<40} {:>7} accepted {:>5} duplicate {:>4} rejected",
        r.accepted, r.duplicates, r.rejected
    );
}

fn render(s: &Summary, out: &Path, db: &Path) -> String {
    let mut w = String::new();
    let _ = writeln!(
        w,
        "\nObservations: {} stored, {} duplicates dropped",
        s.observations, s.duplicates
    );
    let by_source: Vec<String> = s
        .observations_by_source_kind
        .iter()
        .map(|(k, n)| format!("{} {n}", k.as_str()))
        .collect();
    let _ = writeln!(w, "  by source kind: {}", by_source.join(" · "));
    let by_kind: Vec<String> = s
        .observations_by_kind
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(w, "  by kind:        {}", by_kind.join(" · "));
    let _ = writeln!(w, "\nBreaches: {}", s.breaches);
    for (rule, n) in &s.breaches_by_rule {
        let parties: Vec<String> = s
            .breaches_by_rule_and_party
            .get(rule)
            .map(|m| m.iter().map(|(p, n)| format!("{p} {n}")).collect())
            .unwrap_or_default();
        let _ = writeln!(w, "  {rule:<26} {n:>7}   ({})", parties.join(" · "));
    }
    let by_party: Vec<String> = s
        .breaches_by_party
        .iter()
        .map(|(p, n)| format!("{p} {n}"))
        .collect();
    let _ = writeln!(w, "  presumed party: {}", by_party.join(" · "));
    let _ = writeln!(
        w,
        "\nRejected records: {} (each kept with its raw text and reason)",
        s.rejected
    );
    for r in &s.first_rejected {
        let file = Path::new(&r.file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(w, "  {file} {}: {}", r.locator, r.reason);
    }
    if s.rejected as usize > s.first_rejected.len() {
        let _ = writeln!(
            w,
            "  … and {} more",
            s.rejected as usize - s.first_rejected.len()
        );
    }
    let _ = writeln!(w, "\nLook further:");
    let _ = writeln!(
        w,
        "  ogrinfo -al -so {}            # every layer, with counts",
        db.display()
    );
    let _ = writeln!(
        w,
        "  open {} in QGIS (Layer > Add Layer > Add Vector Layer)",
        db.display()
    );
    let _ = writeln!(
        w,
        "  {}/truth.json holds the simulated ground truth",
        out.display()
    );
    w
}

fn render_incidents(ledger: &Ledger) -> String {
    let incidents = ledger.incidents();
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_rule: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut origins = 0;
    for k in 0..incidents.len() {
        // The staff view every surface shows: official party first, else the suggested one.
        let v = IncidentView::of(ledger, k);
        *by_state.entry(v.state.clone()).or_default() += 1;
        origins += usize::from(v.origin.is_some());
        let party = v
            .attributed_party
            .clone()
            .or(v.suggested_party.clone())
            .unwrap_or_else(|| truce_store::UNATTRIBUTED.into());
        for rule in v.rules {
            *by_rule
                .entry(rule)
                .or_default()
                .entry(party.clone())
                .or_default() += 1;
        }
    }
    let mut w = String::new();
    let states: Vec<String> = Lifecycle::ALL
        .iter()
        .filter_map(|s| {
            by_state
                .get(s.as_str())
                .map(|n| format!("{} {n}", s.as_str()))
        })
        .collect();
    let _ = writeln!(
        w,
        "\nIncidents: {} fused from {} observations  ({})",
        incidents.len(),
        incidents
            .iter()
            .map(|i| i.observation_seqs.len())
            .sum::<usize>(),
        states.join(" · ")
    );
    let _ = writeln!(w, "  incidents in breach, by rule and presumed party:");
    for (rule, parties) in &by_rule {
        let n: usize = parties.values().sum();
        let parts: Vec<String> = parties.iter().map(|(p, k)| format!("{p} {k}")).collect();
        let _ = writeln!(w, "    {rule:<28} {n:>5}  ({})", parts.join(" · "));
    }
    let _ = writeln!(
        w,
        "  origins of fire triangulated from bearings: {origins}{}",
        incidents
            .iter()
            .find_map(|i| i.attribution.as_ref().filter(|s| s.party.is_some()))
            .map(|s| format!("; e.g. {}", s.basis))
            .unwrap_or_default()
    );
    let _ = writeln!(
        w,
        "  (presumed = suggested by the evidence; official only by an analyst's `truce decide … attribute`)"
    );
    w
}

/// Verification tasks and coverage.
fn render_work(
    store: &dyn Backend,
    ledger: &Ledger,
    start: chrono::NaiveDate,
    days: u32,
) -> Result<String> {
    let mut w = String::from("\n");
    let tasks = crate::mission_cmd::render_tasks(ledger, false, false)?;
    let lines: Vec<&str> = tasks.lines().collect();
    for l in lines.iter().take(TASKS_SHOWN + 2) {
        let _ = writeln!(w, "{l}");
    }
    if lines.len() > TASKS_SHOWN + 2 {
        let _ = writeln!(
            w,
            "  … {} more: truce tasks --db DIR/truce.gpkg",
            lines.len() - TASKS_SHOWN - 2
        );
    }
    let table = truce_service::reads::coverage_table(store, ledger, Some(start), Some(days))?;
    let _ = write!(w, "\n{}", crate::mission_cmd::render_coverage(&table));
    Ok(w)
}

/// Ours and the baseline's scores against the simulator's truth, side by side.
fn render_score(
    store: &dyn Backend,
    fusion: &Fusion,
    sim: &truce_sim::Simulation,
    out: &Path,
    db: &Path,
) -> Result<String> {
    let truth = truce_fusion::score::Truth::from_json(&sim.truth_json())
        .context("the simulator's truth does not parse")?;
    let batch = truce_service::reads::stored_batch(store)?;
    let both = crate::score_cmd::compare(&batch, fusion, &truth);
    Ok(format!(
        "\nScore against the simulated truth (ours: incidents with suggested parties; baseline: DBSCAN):\n{}  truce score --db {} --truth {} [--json]\n",
        crate::score_cmd::render(&both),
        db.display(),
        out.join(truce_sim::TRUTH_FILE_NAME).display()
    ))
}
