//! Truce's embedded store: one SQLite file that is an OGC GeoPackage.
//!
//! The store keeps what the engine decided, in the engine's terms: the agreement in force (its
//! contact line, party areas, zones and storage sites as map layers), every accepted
//! observation with its assessment and breaches, every rejected record with its raw text and
//! reason, and — the source of truth the rest is derived from — the `entries` log: every
//! accepted input as canonical JSON, in order, append-only, numbered densely from 0: the leaves
//! of an RFC 6962 Merkle tree (`docs/log.md`) whose nodes the store writes with each batch and
//! whose checkpoints it keeps signed ([`Log`]; `GeoPackageStore::audit` checks the whole file
//! against the log).
//!
//! [`Store`] is the interface the engine and the ingest adapters speak; [`GeoPackageStore`] is
//! the embedded implementation, a single `.gpkg` file that opens directly in QGIS or with
//! `ogrinfo`. A PostgreSQL/PostGIS store for multi-user deployments will implement the same
//! trait. `docs/store.md` describes the file: every table and column, the geometry encoding,
//! the entry encoding, migrations, and how to open it.
//!
//! Each [`Store::append_batch`] is one transaction — its entries and their tree nodes
//! included: a batch is stored whole or not at all. An
//! observation already stored (same SHA-256 of its canonical JSON) is counted as a duplicate
//! and stored once, so ingesting a file twice changes nothing but the batch count.
//!
//! # Example
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use truce_core::{agreement, assess::Engine, observation::parse_collection};
//! use truce_store::{Accepted, Batch, GeoPackageStore, Store};
//!
//! let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
//! let toml = std::fs::read_to_string(dir.join("agreement.toml"))?;
//! let terms = agreement::load("agreement.toml", &toml, &mut |rel| {
//!     std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
//! })
//! .expect("the bundled terms load");
//! let engine = Engine::new(terms).expect("the bundled terms index");
//!
//! let file = std::env::temp_dir().join(format!("truce-store-doc-{}.gpkg", std::process::id()));
//! # let _ = std::fs::remove_file(&file);
//! let mut store = GeoPackageStore::open(&file)?;
//! let received_at = Utc.with_ymd_and_hms(2015, 3, 2, 12, 0, 0).unwrap();
//! store.put_agreement(engine.agreement(), received_at)?;
//!
//! let text = std::fs::read_to_string(dir.join("observations.geojson"))?;
//! let (good, _bad) = parse_collection(&text).expect("a FeatureCollection");
//! let assessments = engine.assess_batch(&good);
//! let accepted = good
//!     .into_iter()
//!     .zip(assessments)
//!     .map(|((index, observation, place), assessment)| Accepted {
//!         observation,
//!         place,
//!         assessment,
//!         locator: format!("feature {index}"),
//!     })
//!     .collect();
//! let batch = Batch {
//!     file: "observations.geojson".into(),
//!     format: "geojson".into(),
//!     agreement_hash: engine.agreement().hash.clone(),
//!     received_at,
//!     accepted,
//!     rejected: Vec::new(),
//! };
//! let first = store.append_batch(&batch)?;
//! let again = store.append_batch(&batch)?;
//! assert_eq!(again.accepted, 0);
//! assert_eq!(again.duplicates, first.accepted);
//! assert_eq!(store.summary(10)?.observations as usize, first.accepted);
//! # drop(store);
//! # for suffix in ["", "-wal", "-shm"] { let _ = std::fs::remove_file(format!("{}{suffix}", file.display())); }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agreement_layers;
mod append;
mod audit;
mod backend;
mod derived;
mod geometry;
mod geopackage;
mod log;
mod open;
mod postgres;
mod reads;
mod schema;
mod snapshots;
mod tokens;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;
use truce_core::agreement::Agreement;
use truce_core::assess::{Assessment, Breach, LineCrossing};
use truce_core::observation::{Observation, ObservationKind, Place, SourceKind};

pub use append::content as observation_content;
pub use audit::{AuditError, AuditSummary};
pub use backend::{Backend, is_postgres, open};
pub use derived::{DERIVED_TABLES, DerivedRows, IncidentRow, OriginRow, TaskRow, TransitionRow};
pub use geopackage::{GeoPackageStore, canonical_order};
pub use log::{Log, NodeError, StoredCheckpoint};
pub use postgres::{LEAD_LOCK, PgStore, WRITE_LOCK, shown_url};
pub use schema::{GPKG_APPLICATION_ID, GPKG_USER_VERSION};
pub use snapshots::LedgerSnapshot;
pub use tokens::TokenRow;

/// What the engine and the ingest adapters need of a store. Engine types in, engine types out:
/// no SQL crosses this boundary, so another backend (PostgreSQL/PostGIS) slots in unchanged.
pub trait Store {
    /// Makes `agreement` the terms in force. When its hash differs from the current one, the
    /// agreement is appended to the log as an entry and the map layers (contact line, party
    /// areas, zones, storage sites) are replaced by its; when it is already in force, nothing
    /// is written. `received_at` stamps the change.
    fn put_agreement(
        &mut self,
        agreement: &Agreement,
        received_at: DateTime<Utc>,
    ) -> Result<AgreementOutcome, StoreError>;

    /// Stores one ingested file in one transaction: every new observation (with its assessment
    /// and breaches) and every rejected record is appended to the log and stored; observations
    /// already stored are counted as duplicates. On error nothing of the batch is stored.
    fn append_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError>;

    /// Counts of what the store holds, with the first `rejected_shown` rejected records.
    fn summary(&self, rejected_shown: usize) -> Result<Summary, StoreError>;

    /// Up to `limit` stored observations whose entry seq is `from_seq` or later, in seq order:
    /// the read view for reports and the API. The next page starts at the last seq + 1.
    fn observations(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredObservation>, StoreError>;

    /// Up to `limit` log entries from seq `from_seq` on, in order: what a Merkle tree, a replay
    /// or an auditor reads.
    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;
}

/// One ingested file: what the adapters accepted (validated and assessed) and what they
/// rejected, with when it arrived and which terms it was assessed against.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The file as named to the user (used in messages and in rejected-record entries).
    pub file: String,
    /// The feed format, e.g. `geojson`, `firms`, `cot`.
    pub format: String,
    /// The hash of the agreement the engine assessed with; it must be the store's current one.
    pub agreement_hash: String,
    /// When the file was received: stamps the batch and its rejected records.
    pub received_at: DateTime<Utc>,
    pub accepted: Vec<Accepted>,
    pub rejected: Vec<RejectedRecord>,
}

/// One observation that passed validation, with the place it was validated to and its assessment.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub observation: Observation,
    pub place: Place,
    pub assessment: Assessment,
    /// Where it was in its file: `line 12`, `feature 3`, `event 4 (line 80)`.
    pub locator: String,
}

/// One source record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub locator: String,
    /// The record's text as it was in the file.
    pub raw: String,
    pub reason: String,
}

/// What [`Store::append_batch`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub batch_id: i64,
    /// Observations newly stored.
    pub accepted: usize,
    /// Observations already in the store (from an earlier batch or earlier in this one).
    pub duplicates: usize,
    /// Rejected records kept.
    pub rejected: usize,
    /// The first and last entry this batch appended to the log (observations first, in batch
    /// order, then rejected records); `None` when it appended nothing.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// For each accepted observation, in the batch's order: its entry seq, and whether this
    /// batch stored it (false: a duplicate of the entry named).
    pub placed: Vec<(u64, bool)>,
}

/// What [`Store::put_agreement`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementOutcome {
    /// The agreement was already in force: nothing was written.
    Unchanged,
    /// The agreement is now in force, logged at `entry_seq`, replacing `previous_hash`.
    Installed {
        entry_seq: u64,
        previous_hash: Option<String>,
    },
}

/// The party name [`Summary::breaches_by_party`] uses for breaches that name no party (an
/// impact alone does not show who fired).
pub const UNATTRIBUTED: &str = "unattributed";

/// Counts of what the store holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The agreement in force, if one was put.
    pub agreement: Option<AgreementInfo>,
    pub entries: u64,
    pub batches: u64,
    pub observations: u64,
    /// Observations received again after they were stored, over all batches.
    pub duplicates: u64,
    pub observations_by_kind: BTreeMap<ObservationKind, u64>,
    pub observations_by_source_kind: BTreeMap<SourceKind, u64>,
    pub breaches: u64,
    pub breaches_by_rule: BTreeMap<String, u64>,
    /// By presumed party; breaches naming none are counted under [`UNATTRIBUTED`].
    pub breaches_by_party: BTreeMap<String, u64>,
    /// Rule by rule, the presumed parties (unattributed as [`UNATTRIBUTED`]).
    pub breaches_by_rule_and_party: BTreeMap<String, BTreeMap<String, u64>>,
    pub rejected: u64,
    /// The first rejected records, oldest first, as many as were asked for.
    pub first_rejected: Vec<StoredRejected>,
}

/// An agreement as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementInfo {
    pub hash: String,
    pub id: String,
    pub version: u32,
    pub title: String,
    pub effective_at: DateTime<Utc>,
}

/// A rejected record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRejected {
    pub batch_id: i64,
    pub file: String,
    pub locator: String,
    pub raw: String,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    /// The log entry recording the rejection (shared by identical rejections of the same record).
    pub entry_seq: u64,
}

/// A stored observation with its assessment, as read back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredObservation {
    /// Its entry in the log (also its `fid` in the `observations` layer).
    pub seq: u64,
    pub batch_id: i64,
    pub locator: String,
    /// Lower-case hex SHA-256 of the observation's canonical JSON.
    pub content_sha256: String,
    pub observation: Observation,
    pub assessment: StoredAssessment,
}

/// An assessment as stored: the engine's [`Assessment`] less its display id, plus the terms it
/// was made under.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAssessment {
    pub agreement_hash: String,
    pub party_area: Option<String>,
    pub distance_to_line_m: f64,
    pub zones: Vec<String>,
    pub crossings: Vec<LineCrossing>,
    pub breaches: Vec<Breach>,
}

pub use truce_core::entry::{Entry, EntryKind};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, naming the store file and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot open the store: {what}: {source}", .path.display())]
    Open {
        path: PathBuf,
        what: &'static str,
        source: BoxError,
    },
    #[error(
        "{}: not a GeoPackage (application_id {application_id:#010x}, not 0x47504b47 \"GPKG\"); Truce does not write into another application's SQLite file: give a new file name",
        .path.display()
    )]
    NotGeoPackage { path: PathBuf, application_id: i32 },
    #[error(
        "{}: a GeoPackage, but not a Truce store (no truce_schema_version table); Truce does not add its tables to another GeoPackage: give a new file name",
        .path.display()
    )]
    NotTruceStore { path: PathBuf },
    #[error(
        "{}: written by a newer Truce (schema version {found}; this build knows up to {known}): upgrade Truce to open it",
        .path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("{}: schema migration {version} ({description}) failed, the file is unchanged: {source}", .path.display())]
    Migration {
        path: PathBuf,
        version: i64,
        description: &'static str,
        source: BoxError,
    },
    #[error(
        "{}: agreement {agreement}: its hash {hash} is not the SHA-256 of its canonical JSON ({computed}); load terms with truce_core::agreement::load",
        .path.display()
    )]
    AgreementHash {
        path: PathBuf,
        agreement: String,
        hash: String,
        computed: String,
    },
    #[error("{}: agreement {agreement}: {what} failed, the store is unchanged: {source}", .path.display())]
    Agreement {
        path: PathBuf,
        agreement: String,
        what: String,
        source: BoxError,
    },
    #[error(
        "{}: batch from {file} was assessed against agreement {batch_hash}, but the agreement in force is {current}: put the agreement the engine used (put_agreement) before its batches",
        .path.display()
    )]
    AgreementMismatch {
        path: PathBuf,
        file: String,
        batch_hash: String,
        current: String,
    },
    #[error("{}: batch from {file}: {what} failed, nothing of the batch was stored: {source}", .path.display())]
    Batch {
        path: PathBuf,
        file: String,
        what: String,
        source: BoxError,
    },
    #[error("{}: reading {what} failed: {source}", .path.display())]
    Read {
        path: PathBuf,
        what: String,
        source: BoxError,
    },
    #[error("{}: {what} is not as Truce wrote it: {reason}", .path.display())]
    Corrupt {
        path: PathBuf,
        what: String,
        reason: String,
    },
    /// A log operation that cannot be done as asked: a proof past the end of the log, a key
    /// that is not the log's, an entry too large for a tile bundle.
    #[error("{}: {reason}", .path.display())]
    LogRequest { path: PathBuf, reason: String },
    /// One write to the log's tables (a checkpoint, derived rows, a token) that was rolled
    /// back. Only that write: what the caller committed before it stays (the service says
    /// what, e.g. a batch committed without a checkpoint).
    #[error("{}: {what} failed; nothing of it was written: {source}", .path.display())]
    LogWrite {
        path: PathBuf,
        what: String,
        source: BoxError,
    },
}
