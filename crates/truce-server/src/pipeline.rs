//! One batch of records, from an adapter to the log and the ledger: validate, assess, store
//! (one transaction), sign a checkpoint, bring the incidents level. The CLI's `truce ingest`,
//! the HTTP API and the Cursor-on-Target listeners all come through here, so a record is
//! treated the same whichever way it arrived.

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use truce_fusion::ledger::Ledger;
use truce_ingest::Record;
use truce_log::SignerKey;
use truce_store::{Accepted, Batch, BatchOutcome, GeoPackageStore, Log, RejectedRecord, Store};

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordResult {
    /// Where it was: `feature 3`, `line 12`, `event 4 (line 80)`.
    pub locator: String,
    /// Its id, as the ingest gives it (None when it had none or was rejected before one).
    pub id: Option<String>,
    /// `stored`, `duplicate` or `rejected`.
    pub status: &'static str,
    /// Its entry in the log (stored or duplicate).
    pub seq: Option<u64>,
    /// Why it was rejected.
    pub reason: Option<String>,
}

/// What one batch did.
#[derive(Debug, Clone)]
pub struct Committed {
    pub outcome: BatchOutcome,
    /// In the records' order.
    pub results: Vec<RecordResult>,
    /// The incidents this batch touched (ids), for alerts.
    pub incidents: Vec<String>,
}

/// Validates, assesses and stores `records` as one batch (`file` and `format` name it in the
/// store), signs a checkpoint at `now_unix_s`, and lets the ledger follow. An empty batch does
/// nothing.
pub fn commit(
    store: &mut GeoPackageStore,
    ledger: &mut Ledger<'_>,
    key: &SignerKey,
    file: &str,
    format: &str,
    records: Vec<Record>,
    received_at: DateTime<Utc>,
) -> Result<Committed> {
    let engine = ledger.engine();
    let mut valid = Vec::with_capacity(records.len());
    let mut locators = Vec::with_capacity(records.len());
    let mut rejected = Vec::new();
    let mut results = Vec::with_capacity(records.len());
    for (i, r) in records.into_iter().enumerate() {
        let locator = r.locator.to_string();
        match r
            .result
            .and_then(|o| o.validate().map(|p| (o, p)).map_err(|e| e.0))
        {
            Ok((o, place)) => {
                results.push(RecordResult {
                    locator: locator.clone(),
                    id: Some(o.display_id(i)),
                    status: "stored",
                    seq: None,
                    reason: None,
                });
                locators.push(locator);
                valid.push((i, o, place));
            }
            Err(reason) => {
                results.push(RecordResult {
                    locator: locator.clone(),
                    id: None,
                    status: "rejected",
                    seq: None,
                    reason: Some(reason.clone()),
                });
                rejected.push(RejectedRecord {
                    locator,
                    raw: r.raw,
                    reason,
                });
            }
        }
    }
    if valid.is_empty() && rejected.is_empty() {
        return Ok(Committed {
            outcome: BatchOutcome {
                batch_id: 0,
                accepted: 0,
                duplicates: 0,
                rejected: 0,
                first_seq: None,
                last_seq: None,
                placed: Vec::new(),
            },
            results,
            incidents: Vec::new(),
        });
    }
    let assessments = engine.assess_batch(&valid);
    let accepted = valid
        .into_iter()
        .zip(assessments)
        .zip(locators)
        .map(
            |(((_, observation, place), assessment), locator)| Accepted {
                observation,
                place,
                assessment,
                locator,
            },
        )
        .collect();
    let batch = Batch {
        file: file.to_string(),
        format: format.to_string(),
        agreement_hash: engine.agreement().hash.clone(),
        received_at,
        accepted,
        rejected,
    };
    let outcome = store.append_batch(&batch)?;
    store.sign_checkpoint(key, received_at.timestamp().max(0) as u64)?;
    // The batch is committed; its incidents follow in a transaction of their own (a kill in
    // between leaves them behind the log, and the next command that opens the ledger
    // rewrites them).
    let touched = crate::replay::follow(store, ledger)?;
    let mut placed = outcome.placed.iter();
    for r in results.iter_mut().filter(|r| r.status == "stored") {
        let &(seq, new) = placed.next().expect("one place per accepted record");
        r.seq = Some(seq);
        if !new {
            r.status = "duplicate";
        }
    }
    let incidents = touched
        .iter()
        .map(|&k| ledger.incidents()[k].id.clone())
        .collect();
    Ok(Committed {
        outcome,
        results,
        incidents,
    })
}
