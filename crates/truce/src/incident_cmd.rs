//! `truce incidents`, `truce decide` and `truce rebuild`: the analyst's side of the ledger.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::Utc;
use clap::{Args, ValueEnum};
use truce_fusion::ledger::{Action, Decision, Ledger, Lifecycle};
use truce_store::{EntryKind, GeoPackageStore, Log, Store, Which};

use crate::Outcome;
use truce_server::replay::{catch_up, engine_in_force, follow, open_ledger};

#[derive(Args)]
pub struct IncidentsArgs {
    /// The GeoPackage store.
    #[arg(long)]
    db: PathBuf,
    /// Only incidents in this state (single_source, corroborated, verification_tasked,
    /// verified, not_confirmed, inconclusive, published).
    #[arg(long)]
    state: Option<String>,
    /// Only incidents with a breach of this rule.
    #[arg(long)]
    rule: Option<String>,
    /// Print one JSON object per incident instead of a table.
    #[arg(long)]
    json: bool,
    /// Show at most this many (newest first).
    #[arg(long, default_value_t = 50)]
    limit: usize,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DecideAction {
    Verify,
    Attribute,
    Publish,
    /// Send a ground team now, whatever the automatic thresholds say.
    Task,
}

#[derive(Args)]
pub struct DecideArgs {
    /// The GeoPackage store.
    #[arg(long)]
    db: PathBuf,
    /// The incident (`inc-57` or `57`).
    incident: String,
    /// verify | attribute PARTY | publish | task
    #[arg(value_enum)]
    action: DecideAction,
    /// For `attribute`: the party (an id of the agreement in force).
    party: Option<String>,
    /// Who decides (recorded in the log).
    #[arg(long)]
    actor: String,
    /// Why (recorded in the log).
    #[arg(long)]
    reason: String,
    /// The log's signing key file (default: `<db>.log.key` beside the store).
    #[arg(long)]
    log_key: Option<PathBuf>,
}

#[derive(Args)]
pub struct RebuildArgs {
    /// The GeoPackage store.
    #[arg(long)]
    db: PathBuf,
    /// Exit 1 when a rebuilt table differs from what was there (it is rewritten either way).
    #[arg(long)]
    check: bool,
}

fn incident_id(s: &str) -> String {
    if s.starts_with("inc-") {
        s.to_string()
    } else {
        format!("inc-{s}")
    }
}

pub fn incidents(args: IncidentsArgs) -> Result<Outcome> {
    let mut store = GeoPackageStore::open(&args.db)?;
    let engine = engine_in_force(&store)?;
    let ledger = open_ledger(&mut store, &engine)?;
    let want: Option<Lifecycle> = args
        .state
        .as_deref()
        .map(|s| {
            Lifecycle::ALL
                .into_iter()
                .find(|l| l.as_str() == s)
                .with_context(|| format!("unknown state {s:?}"))
        })
        .transpose()?;
    let mut shown: Vec<usize> = (0..ledger.incidents().len())
        .filter(|&k| want.is_none_or(|w| ledger.records()[k].state == w))
        .filter(|&k| {
            args.rule
                .as_ref()
                .is_none_or(|r| ledger.incidents()[k].breaches.contains(r))
        })
        .collect();
    let total = shown.len();
    shown.sort_by_key(|&k| std::cmp::Reverse((ledger.incidents()[k].start, k)));
    shown.truncate(args.limit);
    if args.json {
        for &k in &shown {
            println!("{}", serde_json::to_string(&incident_json(&ledger, k))?);
        }
        return Ok(Outcome::Ok);
    }
    println!(
        "{total} incidents{}; newest {} shown",
        want.map(|w| format!(" {}", w.as_str())).unwrap_or_default(),
        shown.len()
    );
    println!(
        "{:<12} {:<20} {:<17} {:<15} {:>5} {:<22} {:<24} party",
        "incident", "state", "start (UTC)", "group", "conf", "where", "rules"
    );
    for &k in &shown {
        let inc = &ledger.incidents()[k];
        let rec = &ledger.records()[k];
        let place = inc
            .location
            .map(|p| format!("{:.4}, {:.4}", p[1], p[0]))
            .unwrap_or_else(|| "(bearings only)".into());
        let party = match (&rec.attributed_party, &inc.attribution) {
            (Some(p), _) => format!("{p} (official)"),
            (None, Some(s)) => s
                .party
                .as_ref()
                .map(|p| format!("{p}? (suggested)"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        println!(
            "{:<12} {:<20} {:<17} {:<15} {:>5.2} {:<22} {:<24} {}",
            inc.id,
            rec.state.as_str(),
            inc.start.format("%Y-%m-%d %H:%M"),
            inc.group.name(),
            inc.confidence,
            place,
            inc.breaches.join(","),
            party
        );
    }
    Ok(Outcome::Ok)
}

fn incident_json(ledger: &Ledger<'_>, k: usize) -> serde_json::Value {
    let inc = &ledger.incidents()[k];
    let rec = &ledger.records()[k];
    serde_json::json!({
        "id": inc.id,
        "group": inc.group.name(),
        "state": rec.state.as_str(),
        "evidence": inc.state.as_str(),
        "confidence": inc.confidence,
        "start": inc.start,
        "end": inc.end,
        "location": inc.location,
        "radius_m": inc.radius_m,
        "kinds": inc.kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "source_kinds": inc.source_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        "observation_seqs": inc.observation_seqs,
        "rules": inc.breaches,
        "suggested_party": inc.attribution.as_ref().and_then(|s| s.party.clone()),
        "suggestion_basis": inc.attribution.as_ref().map(|s| s.basis.clone()),
        "attributed_party": rec.attributed_party,
        "transitions": rec.transitions,
    })
}

pub fn decide(args: DecideArgs) -> Result<Outcome> {
    let mut store = GeoPackageStore::open(&args.db)?;
    let log_key = crate::log_cmd::log_signer_key(&args.db, args.log_key.as_deref())?;
    store.check_signer(&log_key)?;
    let engine = engine_in_force(&store)?;
    let mut ledger = open_ledger(&mut store, &engine)?;
    let action = match args.action {
        DecideAction::Verify => Action::Verify,
        DecideAction::Attribute => Action::Attribute,
        DecideAction::Publish => Action::Publish,
        DecideAction::Task => Action::Task,
    };
    let decision = Decision {
        incident: incident_id(&args.incident),
        action,
        party: args.party.clone(),
        actor: args.actor.clone(),
        reason: args.reason.clone(),
        decided_at: Utc::now(),
    };
    let k = ledger
        .check(&decision)
        .with_context(|| format!("{}: refused, nothing was logged", args.db.display()))?;
    let before = ledger.records()[k].state;
    let body = truce_core::canonical::to_canonical_json(&decision);
    let seq = store.append_record(EntryKind::Decision, &body)?;
    follow(&mut store, &mut ledger)?;
    store.sign_checkpoint(&log_key, crate::log_cmd::now_unix_s()?)?;
    let after = ledger.records()[k].state;
    let what = match (&decision.action, &decision.party) {
        (Action::Attribute, Some(p)) => format!("attributed to {p}"),
        _ if before != after => format!("{} → {}", before.as_str(), after.as_str()),
        _ => decision.action.as_str().to_string(),
    };
    println!(
        "{}: {what}, by {} (log entry {seq}; checkpoint signed)",
        decision.incident, decision.actor
    );
    Ok(Outcome::Ok)
}

pub fn rebuild(args: RebuildArgs) -> Result<Outcome> {
    let mut store = GeoPackageStore::open(&args.db)?;
    let engine = engine_in_force(&store)?;
    let before = store.derived_digests()?;

    // Assessments: re-made from the entries under the terms in force, compared with the
    // stored ones (those made under earlier terms are counted, not re-made).
    let (mut same, mut differ, mut earlier) = (0u64, Vec::new(), 0u64);
    let mut from = 0;
    loop {
        let page = store.observations(from, 10_000)?;
        let Some(last) = page.last().map(|o| o.seq) else {
            break;
        };
        for o in page {
            if o.assessment.agreement_hash != engine.agreement().hash {
                earlier += 1;
                continue;
            }
            let place = o
                .observation
                .validate()
                .map_err(|r| anyhow::anyhow!("observation {}: {}", o.seq, r.0))?;
            let a = engine.assess(o.seq as usize, &o.observation, &place);
            let s = &o.assessment;
            if a.party_area == s.party_area
                && a.distance_to_line_m == s.distance_to_line_m
                && a.zones == s.zones
                && a.crossings == s.crossings
                && a.breaches == s.breaches
            {
                same += 1;
            } else {
                differ.push(o.seq);
            }
        }
        from = last + 1;
    }

    let mut ledger = Ledger::new(&engine);
    let refused = catch_up(&store, &mut ledger)?;
    for r in &refused.0 {
        eprintln!("warning: {r}");
    }
    store.write_derived(&ledger, Which::All)?;
    let after = store.derived_digests()?;
    println!(
        "{}: replayed {} log entries",
        args.db.display(),
        ledger.through_seq().map_or(0, |s| s + 1)
    );
    println!(
        "  assessments: {same} re-made and equal, {} differ{}{}",
        differ.len(),
        if differ.is_empty() {
            String::new()
        } else {
            format!(
                " (observations {})",
                differ
                    .iter()
                    .take(10)
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        if earlier > 0 {
            format!(", {earlier} made under earlier terms")
        } else {
            String::new()
        }
    );
    let mut changed = 0;
    for (table, digest) in &after {
        let was = before.get(table);
        let verdict = if was == Some(digest) {
            "identical"
        } else {
            changed += 1;
            "REWRITTEN (differed)"
        };
        println!("  {table:<22} {verdict}  sha256 {}", &digest[..16]);
    }
    let counts = ledger.count_by_state();
    let states: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    println!(
        "  incidents: {} ({})",
        ledger.incidents().len(),
        states.join(", ")
    );
    if args.check && (changed > 0 || !differ.is_empty()) {
        anyhow::bail!(
            "{changed} derived tables and {} assessments differed from the log's replay",
            differ.len()
        );
    }
    Ok(Outcome::Ok)
}
