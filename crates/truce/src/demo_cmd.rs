//! `truce demo [--out DIR]`: the whole pipeline on the embedded scenario, in one command.
//!
//! Loads the embedded donbas-2015 terms, simulates three days of multi-source reporting, writes
//! the feeds with the scenario's real FIRMS and UCDP extracts into `DIR/feeds`, ingests them all
//! into `DIR/truce.gpkg` (assessing as it stores), signing a checkpoint of the log after every
//! batch with `DIR/log.key` (made afresh each run, mode 0600; its verifier key goes to
//! `DIR/log.vkey`), and prints what came of it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use truce_core::assess::{Assessment, Engine};
use truce_fusion::Fusion;
use truce_ingest::Options;
use truce_log::{KeyType, SignerKey};
use truce_store::{GeoPackageStore, Log, Store, StoredCheckpoint, Summary};

use crate::Outcome;
use crate::ingest_cmd::{FileReport, ingest_path, install};

/// The simulator seed of the demo: fixed, so every run of the demo tells the same story.
const DEMO_SEED: u64 = 1;
const DEMO_DAYS: u32 = 3;
/// Rejected records listed in the summary (all are in the store).
const REJECTED_SHOWN: usize = 8;
/// The name of the demo log's key, and so the origin of its checkpoints.
const DEMO_LOG_NAME: &str = "truce.local/demo";

#[derive(Args)]
pub struct DemoArgs {
    /// Where to write the store, the feeds and the truth (replaced if present).
    #[arg(long, default_value = "truce-demo")]
    out: PathBuf,
    /// Sign the log with this key file instead of making `DIR/log.key`.
    #[arg(long = "log-key")]
    log_key: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<Outcome> {
    let out = &args.out;
    let feeds_dir = out.join("feeds");
    std::fs::create_dir_all(&feeds_dir)
        .with_context(|| format!("cannot create {}", feeds_dir.display()))?;
    let db = out.join("truce.gpkg");
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
    let mut store = GeoPackageStore::open(&db)?;
    let engine = install(&mut store, terms, &log_key)?;
    println!("\nIngested into {}", db.display());
    let options = Options::default();
    for path in &files {
        let report = ingest_path(&mut store, &engine, &log_key, path, None, &options)?;
        print_file(path, &report);
    }
    let summary = store.summary(REJECTED_SHOWN)?;
    let checkpoint = store
        .latest_checkpoint()?
        .context("the demo signed no checkpoint")?;
    print!("{}", render(&summary, out, &db));
    print!("{}", render_incidents(&fuse_stored(&store, &engine)?));
    print!("{}", render_log(&checkpoint, &log_key, &vkey_file, &db));
    Ok(Outcome::Ok)
}

/// The key the demo's log signs with, and the file holding its verifier key: `--log-key` if
/// given (its verifier key written to `DIR/log.vkey`), else a new `DIR/log.key`. The store is
/// made afresh every run, so its key is too: signing a new history with an old log's key is
/// exactly the rewrite a witness refuses.
fn demo_log_key(out: &Path, explicit: Option<&Path>) -> Result<(SignerKey, PathBuf)> {
    let vkey_file = out.join("log.vkey");
    let key = match explicit {
        Some(path) => crate::log_cmd::read_log_key(path)?,
        None => {
            let path = out.join("log.key");
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

/// Observations read back from the store per page.
const FUSION_PAGE: usize = 10_000;

/// Fuses every stored observation at once (order-independent within one call), as the store
/// holds them: fusion works from the record, not from what the ingest happened to keep.
fn fuse_stored<'e>(store: &GeoPackageStore, engine: &'e Engine) -> Result<Fusion<'e>> {
    let mut all = Vec::new();
    let mut from = 0;
    loop {
        let page = store.observations(from, FUSION_PAGE)?;
        let Some(last) = page.last().map(|s| s.seq) else {
            break;
        };
        for s in page {
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
    let mut fusion = Fusion::new(engine);
    fusion.fuse(&all);
    Ok(fusion)
}

fn render_incidents(fusion: &Fusion<'_>) -> String {
    let incidents = fusion.incidents();
    let mut by_state: BTreeMap<&str, usize> = BTreeMap::new();
    let mut suggested: BTreeMap<String, usize> = BTreeMap::new();
    let mut origins = 0;
    for i in incidents {
        *by_state.entry(i.state.as_str()).or_default() += 1;
        origins += usize::from(i.origin.is_some());
        if let Some(s) = &i.attribution {
            *suggested
                .entry(
                    s.party
                        .clone()
                        .unwrap_or_else(|| "none (ellipse on the line)".into()),
                )
                .or_default() += 1;
        }
    }
    let mut w = String::new();
    let states: Vec<String> = by_state.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        w,
        "\nIncidents (fusion, first part of issue 5): {}  ({})",
        incidents.len(),
        states.join(" · ")
    );
    let parties: Vec<String> = suggested.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(
        w,
        "  origins of fire triangulated from bearings: {origins}; suggested attribution: {}",
        if parties.is_empty() {
            "none".to_string()
        } else {
            parties.join(" · ")
        }
    );
    if let Some(example) = incidents
        .iter()
        .find_map(|i| i.attribution.as_ref().filter(|s| s.party.is_some()))
    {
        let _ = writeln!(w, "  e.g. {}", example.basis);
    }
    let _ = writeln!(
        w,
        "  (suggestions only: an attribution becomes official by an analyst's decision)"
    );
    w
}
