//! [`Backend`]: everything the service and the commands need of a store, whichever engine
//! holds it — the embedded GeoPackage ([`crate::GeoPackageStore`]) or a PostgreSQL/PostGIS
//! database ([`crate::PgStore`]) — and [`open`], which picks the engine from what `--db` names:
//! `postgres://…` (or `postgresql://…`) is a database, anything else a GeoPackage file.
//!
//! The trait is [`Store`] (what ingest writes) and [`Log`] (the tamper-evident log) plus the
//! log's other writers (decision, response, alert, report entries), the tables derived from the
//! log, the ledger snapshot, API tokens and the audit. No SQL crosses it: both engines are held
//! to the same results by `tests/backends.rs` (same inputs, same log roots and rows).

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use truce_log::{Hash, SignerKey, VerifierKey};

use crate::{
    AuditError, AuditSummary, DerivedRows, EntryKind, LedgerSnapshot, Log, Store, StoreError,
    TokenRow,
};

/// A store on either engine: what `truce` and `truce serve` hold.
pub trait Backend: Store + Log + Send {
    /// What `--db` named: the GeoPackage's path, or the database URL without its password.
    fn path(&self) -> &Path;

    /// The engine, as `geopackage` or `postgres`, for messages and `truce log verify`.
    fn engine(&self) -> &'static str;

    /// The Truce schema version (the last migration applied).
    fn schema_version(&self) -> Result<i64, StoreError>;

    /// Refuses `key` when it is not the key this log's checkpoints are signed with.
    fn check_signer(&self, key: &SignerKey) -> Result<(), StoreError>;

    /// Appends one decision, mission, response, alert or report entry with its tree nodes in
    /// its own transaction; returns its seq. The caller signs a checkpoint.
    fn append_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, StoreError>;

    /// Writes `rows` into the derived tables in one transaction.
    fn write_derived(&mut self, rows: &DerivedRows) -> Result<(), StoreError>;

    /// The log seq the derived tables were last brought up to (None: never written).
    fn derived_through(&self) -> Result<Option<u64>, StoreError>;

    /// SHA-256 of each derived table's rows in a fixed order, lower-case hex (engine-specific
    /// encodings: compare a store with itself after a rebuild, not across engines).
    fn derived_digests(&self) -> Result<BTreeMap<&'static str, String>, StoreError>;

    /// The log's Merkle root over its first `size` entries.
    fn root_at(&self, size: u64) -> Result<Hash, StoreError>;

    /// The seq of the last `agreement` entry among the first `size` entries.
    fn last_agreement_before(&self, size: u64) -> Result<Option<u64>, StoreError>;

    /// Keeps `state` as the ledger folded through the first `size` entries.
    fn put_ledger_snapshot(&mut self, size: u64, state: &[u8]) -> Result<(), StoreError>;

    /// The newest ledger snapshot the log still stands behind (Ok(Err(why)) when unusable).
    fn ledger_snapshot(&self) -> Result<Result<LedgerSnapshot, String>, StoreError>;

    /// The `report` entries, by seq: `(seq, body)`.
    fn report_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;

    fn create_token(
        &mut self,
        name: &str,
        role: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError>;
    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError>;
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;
    fn live_token(&self, token_sha256: &str) -> Result<Option<TokenRow>, StoreError>;

    /// Whether this process leads the deployment: the one `truce serve` that logs alerts and
    /// calls webhooks, so that replicas on one database raise each alert once. A GeoPackage
    /// has one server: always. On PostgreSQL, the replica whose connection holds the session
    /// advisory lock [`crate::LEAD_LOCK`] (taken here when free; released by PostgreSQL when
    /// that connection ends, so another replica takes over when the leader dies).
    fn lead(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// Checks the whole store against its log (`truce log verify`).
    fn audit(&self, log_key: Option<&VerifierKey>) -> Result<AuditSummary, AuditError>;
}

/// Whether `db` names a PostgreSQL database rather than a GeoPackage file.
pub fn is_postgres(db: &Path) -> bool {
    db.to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// Opens the store `db` names (created if missing): a PostgreSQL database for a
/// `postgres://user@host/dbname` URL, else a GeoPackage file.
pub fn open(db: &Path) -> Result<Box<dyn Backend>, StoreError> {
    if is_postgres(db) {
        let url = db.to_str().expect("checked by is_postgres");
        Ok(Box::new(crate::PgStore::open(url)?))
    } else {
        Ok(Box::new(crate::GeoPackageStore::open(db)?))
    }
}

impl Backend for crate::GeoPackageStore {
    fn path(&self) -> &Path {
        crate::GeoPackageStore::path(self)
    }
    fn engine(&self) -> &'static str {
        "geopackage"
    }
    fn schema_version(&self) -> Result<i64, StoreError> {
        crate::GeoPackageStore::schema_version(self)
    }
    fn check_signer(&self, key: &SignerKey) -> Result<(), StoreError> {
        crate::GeoPackageStore::check_signer(self, key)
    }
    fn append_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, StoreError> {
        crate::GeoPackageStore::append_record(self, kind, body)
    }
    fn write_derived(&mut self, rows: &DerivedRows) -> Result<(), StoreError> {
        crate::GeoPackageStore::write_derived(self, rows)
    }
    fn derived_through(&self) -> Result<Option<u64>, StoreError> {
        crate::GeoPackageStore::derived_through(self)
    }
    fn derived_digests(&self) -> Result<BTreeMap<&'static str, String>, StoreError> {
        crate::GeoPackageStore::derived_digests(self)
    }
    fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        crate::GeoPackageStore::root_at(self, size)
    }
    fn last_agreement_before(&self, size: u64) -> Result<Option<u64>, StoreError> {
        crate::GeoPackageStore::last_agreement_before(self, size)
    }
    fn put_ledger_snapshot(&mut self, size: u64, state: &[u8]) -> Result<(), StoreError> {
        crate::GeoPackageStore::put_ledger_snapshot(self, size, state)
    }
    fn ledger_snapshot(&self) -> Result<Result<LedgerSnapshot, String>, StoreError> {
        crate::GeoPackageStore::ledger_snapshot(self)
    }
    fn report_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        crate::GeoPackageStore::report_entries(self)
    }
    fn create_token(
        &mut self,
        name: &str,
        role: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        crate::GeoPackageStore::create_token(self, name, role, token_sha256, at)
    }
    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        crate::GeoPackageStore::revoke_token(self, id, at)
    }
    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        crate::GeoPackageStore::tokens(self)
    }
    fn live_token(&self, token_sha256: &str) -> Result<Option<TokenRow>, StoreError> {
        crate::GeoPackageStore::live_token(self, token_sha256)
    }
    fn audit(&self, log_key: Option<&VerifierKey>) -> Result<AuditSummary, AuditError> {
        crate::GeoPackageStore::audit(self, log_key)
    }
}
