//! `truce score --db FILE --truth truth.json [--json]`: the store's incidents, and the
//! space-time DBSCAN baseline's clusters of the same observations, held against the
//! simulator's ground truth. The rule and the metrics are in `truce_fusion::score` and
//! `docs/fusion.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;
use truce_core::assess::Engine;
use truce_fusion::Fusion;
use truce_fusion::baseline;
use truce_fusion::score::{
    Claim, Evidence, Scores, Truth, claims_from_incidents, matching, restrict, score, table,
};

use crate::Outcome;
use truce_service::reads::{Assessed, stored_batch};

#[derive(Args)]
pub struct ScoreArgs {
    /// The store (a GeoPackage written by `truce ingest` or `truce demo`).
    #[arg(long)]
    db: PathBuf,
    /// The simulator's ground truth (`truth.json` of `truce simulate` or `truce demo`).
    #[arg(long)]
    truth: PathBuf,
    /// The agreement to fuse under (default: the store's agreement in force).
    #[arg(long)]
    agreement: Option<String>,
    /// Print `{"ours": {…}, "baseline": {…}}` instead of the table.
    #[arg(long)]
    json: bool,
    /// Also list, event by event, the incident it was matched to, the party stated and why,
    /// then every incident matched to no event (noise or a second incident of one event).
    #[arg(long, conflicts_with = "json")]
    explain: bool,
}

/// Ours and the baseline's scores.
#[derive(Serialize)]
pub(crate) struct Both {
    pub ours: Scores,
    pub baseline: Scores,
}

/// Scores `fusion`'s incidents and the baseline's clusters of `batch` against `truth`, both
/// restricted to the observations the truth speaks for (`Truth::scope`).
pub(crate) fn compare(batch: &[Assessed], fusion: &Fusion, truth: &Truth) -> Both {
    let (ours, theirs, truth) = claims(batch, fusion, truth);
    Both {
        ours: score(&ours, &truth),
        baseline: score(&theirs, &truth),
    }
}

/// Our claims, the baseline's, and the truth with attributable events marked.
fn claims(batch: &[Assessed], fusion: &Fusion, truth: &Truth) -> (Vec<Claim>, Vec<Claim>, Truth) {
    let ids: BTreeMap<u64, &str> = batch
        .iter()
        .map(|(s, _, _, a)| (*s, a.id.as_str()))
        .collect();
    let scope = truth.scope(batch.iter().map(|(_, o, _, a)| {
        (
            a.id.as_str(),
            o.properties.source.id.as_str(),
            o.properties.observed_at,
        )
    }));
    let id_of = |s: u64| ids.get(&s).map(|x| x.to_string());
    // Which events the stored evidence could attribute, where the truth does not say.
    let mut truth = truth.clone();
    truth.mark_attributable(
        &batch
            .iter()
            .map(|(_, o, p, a)| (a.id.clone(), Evidence::of(o, p)))
            .collect(),
    );
    let ours = restrict(claims_from_incidents(fusion.incidents(), id_of), &scope);
    let theirs = restrict(baseline::claims(batch, id_of), &scope);
    (ours, theirs, truth)
}

/// Event by event: the incident matched, the party it states and why; then the incidents
/// matched to nothing. What a reader needs to see why a number is what it is.
pub(crate) fn explain(batch: &[Assessed], fusion: &Fusion, truth: &Truth) -> String {
    let (ours, _, truth) = claims(batch, fusion, truth);
    let pairs = matching(&ours, &truth);
    let by_id: BTreeMap<&str, &truce_fusion::Incident> = fusion
        .incidents()
        .iter()
        .map(|i| (i.id.as_str(), &**i))
        .collect();
    let held: std::collections::BTreeSet<&str> = ours
        .iter()
        .flat_map(|c| c.observation_ids.iter().map(String::as_str))
        .collect();
    let mut w = String::from("\nEvents (true party → party stated; * attributable):\n");
    let mut events: Vec<usize> = (0..truth.events.len()).collect();
    events.sort_by_key(|&e| (truth.events[e].time, truth.events[e].id.clone()));
    for e in events {
        let ev = &truth.events[e];
        if !ev.observation_ids.iter().any(|o| held.contains(o.as_str())) {
            continue;
        }
        let star = if ev.attributable.unwrap_or(false) && ev.party.is_some() {
            "*"
        } else {
            " "
        };
        let party = |p: &Option<String>| p.clone().unwrap_or_else(|| "-".into());
        match pairs.iter().find(|&&(_, x, _)| x == e) {
            Some(&(c, _, d)) => {
                let claim = &ours[c];
                let inc = by_id.get(claim.id.as_str());
                let verdict = match (&ev.party, &claim.party) {
                    (Some(t), Some(p)) if t == p => "right",
                    (_, Some(_)) => "WRONG",
                    (Some(_), None) if star == "*" => "MISSED PARTY",
                    _ => "",
                };
                w.push_str(&format!(
                    "{star}{} {} {} {} → {} ({} obs, {} m{}) {} {}\n",
                    ev.id,
                    ev.time.format("%m-%d %H:%M:%S"),
                    ev.kind,
                    party(&ev.party),
                    claim.id,
                    claim.observation_ids.len(),
                    d.map_or("?".into(), |d| format!("{d:.0}")),
                    if claim.breach { ", breach" } else { "" },
                    party(&claim.party),
                    verdict
                ));
                if let Some(basis) = inc.and_then(|i| {
                    i.suggested
                        .as_ref()
                        .map(|s| s.basis.clone())
                        .or_else(|| i.fire_area.as_ref().map(|f| f.basis.clone()))
                }) {
                    w.push_str(&format!("      {basis}\n"));
                }
            }
            None => w.push_str(&format!(
                "{star}{} {} {} {} → MISSED ({} obs)\n",
                ev.id,
                ev.time.format("%m-%d %H:%M:%S"),
                ev.kind,
                party(&ev.party),
                ev.observation_ids.len()
            )),
        }
    }
    w.push_str("\nIncidents matched to no event:\n");
    for (c, claim) in ours.iter().enumerate() {
        if pairs.iter().any(|&(x, _, _)| x == c) {
            continue;
        }
        let inc = by_id.get(claim.id.as_str());
        w.push_str(&format!(
            "  {} {} ({} obs{}; {}): {}\n",
            claim.id,
            claim.start.format("%m-%d %H:%M:%S"),
            claim.observation_ids.len(),
            if claim.breach { ", breach" } else { "" },
            inc.map_or("", |i| i.state.as_str()),
            claim.observation_ids.join(" ")
        ));
    }
    w
}

/// The table, with a line on what was scored.
pub(crate) fn render(both: &Both) -> String {
    let mut w = table(&both.ours, &both.baseline);
    w.push_str(&format!(
        "  ({} true events, {} observable in the run; baseline: space-time DBSCAN {:.0} km / {:.0} min)\n  (attribution coverage: of the observable events the stored evidence could attribute; accuracy: of the parties stated)\n",
        both.ours.events,
        both.ours.events_observable,
        baseline::EPS_SPACE_M / 1000.0,
        baseline::EPS_TIME_S / 60.0
    ));
    w
}

pub fn run(args: ScoreArgs) -> Result<Outcome> {
    if !args.db.is_file() {
        bail!("{}: no such store", args.db.display());
    }
    let text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("cannot read {}", args.truth.display()))?;
    let truth = Truth::from_json(&text)
        .with_context(|| format!("{}: not a simulator truth.json", args.truth.display()))?;
    let store = truce_store::open(&args.db)?;
    let store = &*store;
    let engine = match &args.agreement {
        Some(file) => {
            Engine::new(crate::agreement_cmd::load(file)?).map_err(|e| anyhow::anyhow!(e))?
        }
        None => truce_service::engine_in_force(store)?,
    };
    let batch = stored_batch(store)?;
    // The log replayed as ingest and `truce rebuild` do (nothing is written here).
    let (ledger, _) = truce_service::replay(store, std::sync::Arc::new(engine))?;
    let both = compare(&batch, ledger.fusion(), &truth);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&both)?);
    } else {
        println!(
            "Score of {} against {}:",
            args.db.display(),
            args.truth.display()
        );
        print!("{}", render(&both));
        if args.explain {
            print!("{}", explain(&batch, ledger.fusion(), &truth));
        }
    }
    Ok(Outcome::Ok)
}
