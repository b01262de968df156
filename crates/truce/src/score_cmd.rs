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
use truce_fusion::score::{Evidence, Scores, Truth, claims_from_incidents, restrict, score, table};
use truce_store::GeoPackageStore;

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
    let truth = &truth;
    let ours = restrict(claims_from_incidents(fusion.incidents(), id_of), &scope);
    let theirs = restrict(baseline::claims(batch, id_of), &scope);
    Both {
        ours: score(&ours, truth),
        baseline: score(&theirs, truth),
    }
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
    let store = GeoPackageStore::open(&args.db)?;
    let engine = match &args.agreement {
        Some(file) => {
            Engine::new(crate::agreement_cmd::load(file)?).map_err(|e| anyhow::anyhow!(e))?
        }
        None => truce_service::engine_in_force(&store)?,
    };
    let batch = stored_batch(&store)?;
    // The log replayed as ingest and `truce rebuild` do (nothing is written here).
    let (ledger, _) = truce_service::replay(&store, std::sync::Arc::new(engine))?;
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
    }
    Ok(Outcome::Ok)
}
