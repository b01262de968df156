//! `truce incidents`, `truce decide` and `truce rebuild`: the analyst's side of the ledger.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use truce_fusion::ledger::Action;
use truce_service::DecisionRequest;
use truce_service::view::{IncidentView, parse_state};

use crate::Outcome;

#[derive(Args)]
pub struct IncidentsArgs {
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
    /// The store: a GeoPackage file, or a PostgreSQL database as `postgres://user@host/dbname`.
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
    let svc = crate::open_service(&args.db)?;
    let ledger = svc.ledger();
    let want = args
        .state
        .as_deref()
        .map(|s| parse_state(s).with_context(|| format!("unknown state {s:?}")))
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
    // The staff view, the same every surface shows (`truce_service::view`).
    let views: Vec<IncidentView> = shown.iter().map(|&k| IncidentView::of(ledger, k)).collect();
    if args.json {
        for v in &views {
            println!("{}", serde_json::to_string(v)?);
        }
        return Ok(Outcome::Ok);
    }
    println!(
        "{total} incidents{}; newest {} shown",
        want.map(|w| format!(" {}", w.as_str())).unwrap_or_default(),
        views.len()
    );
    println!(
        "{:<12} {:<20} {:<17} {:<15} {:>5} {:<22} {:<24} party",
        "incident", "state", "start (UTC)", "group", "conf", "where", "rules"
    );
    for v in &views {
        let place = v
            .location
            .map(|p| format!("{:.4}, {:.4}", p[1], p[0]))
            .unwrap_or_else(|| "(bearings only)".into());
        println!(
            "{:<12} {:<20} {:<17} {:<15} {:>5.2} {:<22} {:<24} {}",
            v.id,
            v.state,
            v.start.format("%Y-%m-%d %H:%M"),
            v.group.as_deref().unwrap_or_default(),
            v.confidence.unwrap_or_default(),
            place,
            v.rules.join(","),
            v.party_label()
        );
    }
    Ok(Outcome::Ok)
}

pub fn decide(args: DecideArgs) -> Result<Outcome> {
    let mut svc = crate::open_service_for_writing(&args.db, args.log_key.as_deref())?;
    let action = match args.action {
        DecideAction::Verify => Action::Verify,
        DecideAction::Attribute => Action::Attribute,
        DecideAction::Publish => Action::Publish,
        DecideAction::Task => Action::Task,
    };
    let req = DecisionRequest {
        incident: incident_id(&args.incident),
        action,
        party: args.party.clone(),
        actor: args.actor.clone(),
        reason: args.reason.clone(),
    };
    let done = match svc.decide(req.clone()) {
        Ok(d) => d,
        Err(truce_service::ServiceError::Refused(why)) => {
            return Err(anyhow::Error::new(why).context(format!(
                "{}: refused, nothing was logged",
                args.db.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let what = match (&req.action, &req.party) {
        (Action::Attribute, Some(p)) => format!("attributed to {p}"),
        _ if done.before != done.after => {
            format!("{} → {}", done.before.as_str(), done.after.as_str())
        }
        _ => req.action.as_str().to_string(),
    };
    println!(
        "{}: {what}, by {} (log entry {}; checkpoint signed)",
        req.incident, req.actor, done.seq
    );
    Ok(Outcome::Ok)
}

pub fn rebuild(args: RebuildArgs) -> Result<Outcome> {
    // One replay from entry 0 into fresh tables, compared with what was there.
    let (svc, rebuilt) = truce_service::Service::open_rebuilt(
        &args.db,
        std::sync::Arc::new(truce_service::SystemClock),
    )?;
    let engine = svc.engine().clone();
    let store = svc.store();
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

    for r in &rebuilt.refused {
        eprintln!("warning: {r}");
    }
    println!(
        "{}: replayed {} log entries",
        args.db.display(),
        rebuilt.entries
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
    let changed = rebuilt.rewritten.len();
    for (table, digest) in &rebuilt.digests {
        let verdict = if rebuilt.rewritten.contains(table) {
            "REWRITTEN (differed)"
        } else {
            "identical"
        };
        println!("  {table:<22} {verdict}  sha256 {}", &digest[..16]);
    }
    let snapshot_differs = match rebuilt.snapshot {
        Some((size, identical)) => {
            let verdict = if identical {
                "identical"
            } else {
                "REWRITTEN (differed)"
            };
            println!("  ledger snapshot at size {size}: {verdict}");
            !identical
        }
        None => false,
    };
    let ledger = svc.ledger();
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
    if args.check && (changed > 0 || !differ.is_empty() || snapshot_differs) {
        anyhow::bail!(
            "{changed} derived tables, {} assessments and {} ledger snapshot differed from the log's replay",
            differ.len(),
            usize::from(snapshot_differs)
        );
    }
    Ok(Outcome::Ok)
}
