//! The harness every adapter's tests go through.
//!
//! [`ingest`] reads a file with one adapter and checks what must hold for every format and every
//! input, good or bad, before the test looks at the particulars:
//!
//! - the adapter says it is the format asked for;
//! - records come in file order, each with raw text (at most `MAX_RAW_BYTES`);
//! - every observation passes `validate()`, has an `id` and a `source_record`, and no two share
//!   an id;
//! - reading the same bytes again gives the same records, ids included (the store's idempotency);
//! - the observations, written as a FeatureCollection, read back through truce-core's
//!   `parse_collection` unchanged and without rejections (adapters produce the documented form).

use std::path::Path;

use truce_core::observation::{Observation, parse_collection};
use truce_ingest::{Fatal, Format, Locator, MAX_RAW_BYTES, Options, Record, adapter};

/// A fixture's bytes, from `tests/fixtures/` (tests never read anything outside the crate).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one adapter made of one file.
#[derive(Debug)]
pub struct Run {
    pub records: Vec<Record>,
}

/// Reads `bytes` as `format` with default options, checks the invariants, and returns the
/// records. Panics (failing the test) if the file is fatal.
pub fn ingest(format: Format, name: &str, bytes: &[u8]) -> Run {
    ingest_with(format, &Options::default(), name, bytes)
}

/// [`ingest`] with options.
pub fn ingest_with(format: Format, options: &Options, name: &str, bytes: &[u8]) -> Run {
    let read = || -> Result<Vec<Record>, Fatal> {
        let adapter = adapter(format, options);
        assert_eq!(adapter.format(), format);
        Ok(adapter.read(name, bytes)?.collect())
    };
    let records = read().unwrap_or_else(|fatal| panic!("{name}: unexpected fatal error: {fatal}"));
    check_invariants(name, &records);
    assert_eq!(
        read().unwrap(),
        records,
        "{name}: a second read gave different records"
    );
    Run { records }
}

/// The whole-file error `format` gives for `bytes`.
pub fn fatal(format: Format, name: &str, bytes: &[u8]) -> Fatal {
    match adapter(format, &Options::default()).read(name, bytes) {
        Ok(records) => panic!(
            "{name}: expected a fatal error, got {} records",
            records.count()
        ),
        Err(fatal) => fatal,
    }
}

/// A comparable position: the line (or feature index), then the event index.
fn position(locator: &Locator) -> (u64, u64) {
    match *locator {
        Locator::Line(line) => (line, 0),
        Locator::Feature(index) => (index as u64, 0),
        Locator::Event { index, line } => (line, index as u64),
    }
}

fn check_invariants(name: &str, records: &[Record]) {
    for pair in records.windows(2) {
        assert!(
            position(&pair[0].locator) < position(&pair[1].locator),
            "{name}: records out of order: {} then {}",
            pair[0].locator,
            pair[1].locator
        );
    }
    let mut ids = std::collections::HashSet::new();
    let mut good = Vec::new();
    for record in records {
        let at = format!("{name} {}", record.locator);
        assert!(record.raw.len() <= MAX_RAW_BYTES, "{at}: raw text too long");
        let Ok(obs) = &record.result else { continue };
        assert!(!record.raw.trim().is_empty(), "{at}: no raw text");
        if let Err(e) = obs.validate() {
            panic!("{at}: produced an invalid observation: {e}");
        }
        let id = obs.id.as_deref().unwrap_or_else(|| panic!("{at}: no id"));
        assert!(!id.is_empty(), "{at}: empty id");
        assert!(ids.insert(id.to_string()), "{at}: id {id} used twice");
        let source_record = obs.properties.source_record.as_deref();
        assert!(
            source_record.is_some_and(|s| !s.is_empty()),
            "{at}: no source_record"
        );
        good.push(obs.clone());
    }
    let collection = serde_json::json!({ "type": "FeatureCollection", "features": good });
    let (back, rejected) = parse_collection(&collection.to_string()).expect("a FeatureCollection");
    assert!(
        rejected.is_empty(),
        "{name}: the JSON form rejects what the adapter produced: {rejected:?}"
    );
    let back: Vec<Observation> = back.into_iter().map(|(_, obs, _)| obs).collect();
    assert_eq!(
        back, good,
        "{name}: observations change through their JSON form"
    );
}

impl Run {
    pub fn good(&self) -> Vec<&Observation> {
        self.records
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .collect()
    }

    /// The rejected records as (locator, reason).
    pub fn rejected(&self) -> Vec<(Locator, &str)> {
        self.records
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.locator, e.as_str())))
            .collect()
    }

    pub fn record(&self, locator: Locator) -> &Record {
        self.records
            .iter()
            .find(|r| r.locator == locator)
            .unwrap_or_else(|| panic!("no record at {locator}; have {:?}", self.locators()))
    }

    fn locators(&self) -> Vec<String> {
        self.records.iter().map(|r| r.locator.to_string()).collect()
    }

    /// The observation at `locator`, which must have been accepted.
    pub fn observation(&self, locator: Locator) -> &Observation {
        match &self.record(locator).result {
            Ok(obs) => obs,
            Err(reason) => panic!("{locator} was rejected: {reason}"),
        }
    }

    /// Asserts the record at `locator` was rejected with a reason containing every one of
    /// `parts`, and returns the record.
    pub fn assert_rejected(&self, locator: Locator, parts: &[&str]) -> &Record {
        let record = self.record(locator);
        match &record.result {
            Ok(obs) => panic!(
                "{locator} was accepted as {:?}, expected a rejection",
                obs.id
            ),
            Err(reason) => {
                for part in parts {
                    assert!(
                        reason.contains(part),
                        "{locator}: reason {reason:?} does not mention {part:?}"
                    );
                }
            }
        }
        record
    }

    /// Asserts exactly `good` records were accepted and `bad` rejected.
    pub fn assert_counts(&self, good: usize, bad: usize) {
        assert_eq!(
            (self.good().len(), self.rejected().len()),
            (good, bad),
            "(accepted, rejected); rejections: {:#?}",
            self.rejected()
        );
    }
}

/// The 1-based line on which `needle` first occurs in `bytes`.
pub fn line_of(bytes: &[u8], needle: &str) -> u64 {
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("{needle:?} not in the file"));
    1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64
}
