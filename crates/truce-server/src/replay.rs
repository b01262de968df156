//! The log replayed through the engine: the ledger every command that reads or changes
//! incidents starts from, and the derived tables kept in step with it.
//!
//! Observations are re-read from their entries (canonical JSON), validated and assessed again
//! under the terms in force, so what a party re-running the engine on the entries alone gets
//! is what the monitor gets (ARCHITECTURE.md, invariant 1).

use anyhow::{Context, Result};
use truce_core::agreement::Agreement;
use truce_core::assess::Engine;
use truce_core::mission::Mission;
use truce_core::observation::Observation;
use truce_fusion::ledger::{Decision, Ledger};
use truce_store::{EntryKind, GeoPackageStore, Log, Store, Which};

/// Entries read per page.
const PAGE: usize = 10_000;

/// The terms in force: the body of the last `agreement` entry.
pub fn engine_in_force(store: &GeoPackageStore) -> Result<Engine> {
    let size = store.log_size()?;
    let mut seq = size;
    while seq > 0 {
        seq -= 1;
        let entry = store
            .entry(seq)?
            .with_context(|| format!("log entry {seq} is missing"))?;
        if entry.kind == EntryKind::Agreement {
            let text = std::str::from_utf8(&entry.body)
                .with_context(|| format!("agreement entry {seq} is not UTF-8"))?;
            let terms = Agreement::from_canonical_json(text)
                .map_err(|e| anyhow::anyhow!("agreement entry {seq}: {e}"))?;
            return Engine::new(terms).map_err(|e| anyhow::anyhow!("agreement entry {seq}: {e}"));
        }
    }
    anyhow::bail!(
        "the store holds no agreement: ingest something first (truce ingest --agreement …)"
    )
}

/// What a replay met that it could not apply (each named by its entry).
#[derive(Debug, Default)]
pub struct Refused(pub Vec<String>);

/// Applies every entry after the ledger's last one, in seq order. Returns what was refused.
pub fn catch_up(store: &GeoPackageStore, ledger: &mut Ledger<'_>) -> Result<Refused> {
    let engine = ledger.engine();
    let mut refused = Refused::default();
    let mut from = ledger.through_seq().map_or(0, |s| s + 1);
    loop {
        let page = store.entries(from, PAGE)?;
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        for e in page {
            match e.kind {
                EntryKind::Observation => {
                    let obs: Observation = serde_json::from_slice(&e.body)
                        .with_context(|| format!("observation entry {}", e.seq))?;
                    let place = obs.validate().map_err(|r| {
                        anyhow::anyhow!("observation entry {}: no longer valid: {}", e.seq, r.0)
                    })?;
                    let a = engine.assess(e.seq as usize, &obs, &place);
                    ledger.observe(e.seq, &obs, &place, &a);
                }
                EntryKind::Decision => {
                    let d: Decision = serde_json::from_slice(&e.body)
                        .with_context(|| format!("decision entry {}", e.seq))?;
                    if let Err(why) = ledger.decide(e.seq, &d) {
                        refused.0.push(format!("decision entry {}: {why}", e.seq));
                    }
                }
                EntryKind::Mission => {
                    let text = std::str::from_utf8(&e.body)
                        .with_context(|| format!("mission entry {} is not UTF-8", e.seq))?;
                    let mission = Mission::from_canonical_json(text)
                        .map_err(|why| anyhow::anyhow!("mission entry {}: {why}", e.seq))?;
                    ledger.set_mission(e.seq, mission);
                }
                EntryKind::Response => {
                    let r: truce_fusion::ledger::Response = serde_json::from_slice(&e.body)
                        .with_context(|| format!("response entry {}", e.seq))?;
                    if let Err(why) = ledger.respond(e.seq, &r) {
                        refused.0.push(format!("response entry {}: {why}", e.seq));
                    }
                }
                EntryKind::Alert => {
                    // Alerts change no incident's state: one that cannot be read is noted and
                    // skipped, never a reason to stop the replay.
                    match serde_json::from_slice::<truce_fusion::ledger::AlertRecord>(&e.body) {
                        Ok(a) => ledger.alerted(e.seq, &a),
                        Err(why) => {
                            refused.0.push(format!("alert entry {}: {why}", e.seq));
                            ledger.skip(e.seq);
                        }
                    }
                }
                EntryKind::Agreement | EntryKind::Rejected => ledger.skip(e.seq),
            }
        }
        from = last + 1;
    }
    Ok(refused)
}

/// A ledger of the whole log, with the derived tables brought up to it: written whole when
/// they were behind (a store from before incidents, a batch whose incidents were not written
/// because the process was killed, new terms), else left as they are.
pub fn open_ledger<'e>(store: &mut GeoPackageStore, engine: &'e Engine) -> Result<Ledger<'e>> {
    let mut ledger = Ledger::new(engine);
    let refused = catch_up(store, &mut ledger)?;
    for r in &refused.0 {
        eprintln!("warning: {r}");
    }
    ledger.take_touched();
    ledger.take_touched_tasks();
    if store.derived_through()? != ledger.through_seq() {
        store.write_derived(&ledger, Which::All)?;
    }
    Ok(ledger)
}

/// After new entries: apply them and write the incidents they touched; returns those
/// incidents (indices into `Ledger::incidents`).
pub fn follow(store: &mut GeoPackageStore, ledger: &mut Ledger<'_>) -> Result<Vec<usize>> {
    let refused = catch_up(store, ledger)?;
    for r in &refused.0 {
        eprintln!("warning: {r}");
    }
    let incidents = ledger.take_touched();
    let tasks = ledger.take_touched_tasks();
    store.write_derived(
        ledger,
        Which::Touched {
            incidents: &incidents,
            tasks: &tasks,
        },
    )?;
    Ok(incidents)
}
