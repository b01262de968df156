//! One batch of records from an adapter to the store: validated, assessed under the terms in
//! force, laid out as a store batch, and — once stored — each record's fate. The CLI's
//! `truce ingest`, the HTTP API and the Cursor-on-Target listeners all come through here (by
//! [`crate::Service::ingest`]), so a record is treated the same whichever way it arrived.

use chrono::{DateTime, Utc};
use serde::Serialize;
use truce_core::assess::Engine;
use truce_ingest::Record;
use truce_store::{Accepted, Batch, BatchOutcome, RejectedRecord};
use utoipa::ToSchema;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct RecordResult {
    /// Where it was: `feature 3`, `line 12`, `event 4 (line 80)`.
    #[schema(example = "feature 0")]
    pub locator: String,
    /// Its id, as the ingest gives it (None when it had none or was rejected before one).
    pub id: Option<String>,
    /// `stored`, `duplicate` or `rejected`.
    #[schema(example = "stored")]
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
    /// The incidents this batch touched (ids).
    pub incidents: Vec<String>,
}

/// A batch's result as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IngestResult {
    /// Observations newly stored.
    pub accepted: usize,
    /// Observations already in the store.
    pub duplicates: usize,
    /// Records rejected (each kept with its reason).
    pub rejected: usize,
    /// The first and last log entry the batch appended.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Per record, in the request's order.
    pub results: Vec<RecordResult>,
    /// The incidents the batch made or changed.
    pub incidents: Vec<String>,
}

impl Committed {
    /// Nothing: an empty batch.
    pub fn empty() -> Committed {
        Committed {
            outcome: BatchOutcome {
                batch_id: 0,
                accepted: 0,
                duplicates: 0,
                rejected: 0,
                first_seq: None,
                last_seq: None,
                placed: Vec::new(),
            },
            results: Vec::new(),
            incidents: Vec::new(),
        }
    }

    pub fn view(&self) -> IngestResult {
        IngestResult {
            accepted: self.outcome.accepted,
            duplicates: self.outcome.duplicates,
            rejected: self.outcome.rejected,
            first_seq: self.outcome.first_seq,
            last_seq: self.outcome.last_seq,
            results: self.results.clone(),
            incidents: self.incidents.clone(),
        }
    }
}

/// Validates and assesses `records` into a store batch, with each record's result so far
/// (`stored` or `rejected`; seqs come with [`place`]). None for no records at all.
pub fn prepare(
    engine: &Engine,
    file: &str,
    format: &str,
    records: Vec<Record>,
    received_at: DateTime<Utc>,
) -> Option<(Batch, Vec<RecordResult>)> {
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
        return None;
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
    Some((batch, results))
}

/// Gives each stored record its seq, and marks those the store already held as duplicates.
pub fn place(results: &mut [RecordResult], outcome: &BatchOutcome) {
    let mut placed = outcome.placed.iter();
    for r in results.iter_mut().filter(|r| r.status == "stored") {
        let &(seq, new) = placed.next().expect("one place per accepted record");
        r.seq = Some(seq);
        if !new {
            r.status = "duplicate";
        }
    }
}
