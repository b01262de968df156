//! [`GeoPackageStore`]: the [`Store`] as one SQLite file that is an OGC GeoPackage 1.3.
//!
//! The file holds GeoPackage's own tables (so QGIS and GDAL read it as map layers), Truce's
//! layers and tables, and the `entries` log (see [`crate::schema`] and `docs/store.md`). One
//! connection, in WAL mode so that readers (QGIS, `ogrinfo`) never block an ingest; every
//! change is one `BEGIN IMMEDIATE` transaction, committed without a per-row fsync
//! (`synchronous=NORMAL`: WAL syncs at checkpoints).
//!
//! The hot path is [`Store::append_batch`]: per observation it serialises the canonical JSON
//! once (the entry body, the `content_sha256` key and the entry's Merkle leaf hash all come
//! from it), encodes the geometry once with its envelope, and runs a handful of
//! cached prepared statements; the tree nodes the batch completes are written at its end
//! ([`crate::log`]). A second thread serialises and encodes a chunk ahead while this one
//! inserts, as SQLite's single writer requires.
//!
//! The store's own connection runs with triggers off (`SQLITE_DBCONFIG_ENABLE_TRIGGER`): the
//! GeoPackage R-tree triggers would update the index one row per statement, rewriting its
//! nodes each time, so the store instead indexes each batch's observations in one
//! `INSERT … SELECT` before the batch commits — the same rows the triggers would write, for
//! about half the cost (measured on the bench: 3.3 µs an observation against 7). The triggers stay in the file for every other writer (QGIS, GDAL), as do
//! the triggers that keep `entries` append-only; this connection keeps those rules by
//! construction (seq is taken as `MAX(seq) + 1` inside the write transaction, and nothing here
//! updates or deletes an entry).
//!
//! The code is split by concern. This file holds the store type, what a failed write step
//! reports, the helpers every part shares (entries, stamps, hashes) and the [`Store`]
//! implementation; `open.rs` opens the file and migrates its schema, `append.rs` appends a
//! batch (observations with their assessments and breaches, rejected records, sources),
//! `agreement_layers.rs` installs an agreement and its map layers, and `reads.rs` answers the
//! reads and the summary.

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use sha2::{Digest, Sha256};
use truce_core::agreement::Agreement;
use truce_core::canonical::canonical_value;
use truce_log::{Frontier, Hash};

use crate::BoxError;
use crate::log::TreeAppend;
use crate::{
    AgreementOutcome, Batch, BatchOutcome, Entry, EntryKind, Store, StoreError, StoredObservation,
    Summary,
};

pub use crate::append::canonical_order;

/// The Truce store in a GeoPackage file.
pub struct GeoPackageStore {
    /// Copies the WAL back into the file off the writer's path (`crate::open::Checkpointer`);
    /// declared first, so it stops before `conn` closes (whose close, the last, checkpoints
    /// and removes the WAL as before).
    pub(crate) _checkpointer: Option<crate::open::Checkpointer>,
    pub(crate) conn: Connection,
    pub(crate) path: PathBuf,
    /// The right edge of the log's Merkle tree as last committed by this connection; every
    /// write starts from a copy brought up to date with the file (`log::sync_frontier`) and
    /// keeps it only once the transaction commits.
    pub(crate) frontier: Frontier,
}

/// A write step that failed, and what it was doing.
pub(crate) struct Failed {
    pub(crate) what: String,
    pub(crate) source: BoxError,
}

pub(crate) trait Doing<T> {
    fn doing(self, what: &str) -> Result<T, Failed>;
}

impl<T> Doing<T> for rusqlite::Result<T> {
    fn doing(self, what: &str) -> Result<T, Failed> {
        self.map_err(|source| Failed {
            what: what.to_string(),
            source: Box::new(source),
        })
    }
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes` (a digest as the API and the log's text show it).
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

/// A time as GeoPackage's DATETIME: ISO 8601 in UTC with milliseconds.
pub(crate) fn gpkg_datetime(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count or limit as SQLite's integer.
pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The next entry seq: dense from 0.
pub(crate) fn next_seq(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

// Every entry the store appends fits a tile's entry bundle.
const _: () =
    assert!(truce_core::limits::MAX_ENTRY_BYTES <= truce_log::tiles::MAX_ENTRY_SIZE_BYTES);

/// Appends entry `seq`, and its leaf to the Merkle tree (whose nodes the caller writes before
/// committing); `leaf` is [`leaf_hash`]`(body)` and `tree` covers the `seq` entries before it.
pub(crate) fn append_entry(
    tx: &Transaction<'_>,
    tree: &mut TreeAppend,
    seq: u64,
    kind: EntryKind,
    body: &[u8],
    sha256: &str,
    leaf: Hash,
) -> rusqlite::Result<()> {
    debug_assert_eq!(tree.size(), seq, "the tree covers every entry before seq");
    // The last line of defence: an entry no tile could hold would break the published log
    // for good (it is append-only). Every use case checks before it gets here.
    truce_core::limits::check_entry(&format!("a {} entry", kind.as_str()), body.len())
        .map_err(|why| rusqlite::Error::ToSqlConversionFailure(why.into()))?;
    tx.prepare_cached("INSERT INTO entries (seq, kind, body, sha256) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![to_i64(seq), kind.as_str(), body, sha256])?;
    tree.append(leaf);
    Ok(())
}

/// The agreement's canonical JSON (its entry body), refused when its hash is not the SHA-256
/// of it (either engine).
pub(crate) fn checked_agreement_body(
    path: &std::path::Path,
    agreement: &Agreement,
) -> Result<String, StoreError> {
    let body = agreement.canonical_json();
    let computed = sha256_hex(body.as_bytes());
    if computed != agreement.hash {
        return Err(StoreError::AgreementHash {
            path: path.to_path_buf(),
            agreement: agreement.id.clone(),
            hash: agreement.hash.clone(),
            computed,
        });
    }
    Ok(body)
}

/// Refuses a batch assessed under other terms than `current`, the agreement in force (either
/// engine).
pub(crate) fn check_batch_agreement(
    path: &std::path::Path,
    batch: &Batch,
    current: Option<String>,
) -> Result<(), StoreError> {
    if current.as_deref() == Some(batch.agreement_hash.as_str()) {
        return Ok(());
    }
    Err(StoreError::AgreementMismatch {
        path: path.to_path_buf(),
        file: batch.file.clone(),
        batch_hash: batch.agreement_hash.clone(),
        current: current.unwrap_or_else(|| "none (no agreement was put)".into()),
    })
}

/// The kinds [`crate::Backend::append_record`] appends; observations, agreements and
/// rejections have their own writers.
pub(crate) fn assert_record_kind(kind: EntryKind) {
    assert!(
        matches!(
            kind,
            EntryKind::Decision
                | EntryKind::Mission
                | EntryKind::Response
                | EntryKind::Alert
                | EntryKind::Report
        ),
        "observations, agreements and rejections have their own writers"
    );
}

/// The hash of the agreement in force (the last put), if any.
pub(crate) fn current_agreement(tx: &Connection) -> rusqlite::Result<Option<String>> {
    tx.prepare_cached("SELECT hash FROM agreements ORDER BY last_entry_seq DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

/// Stamps a table's `gpkg_contents.last_change`, never moving it back.
pub(crate) fn touch(tx: &Transaction<'_>, table: &str, stamp: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE gpkg_contents SET last_change = MAX(last_change, ?1) WHERE table_name = ?2",
    )?
    .execute(params![stamp, table])
    .map(drop)
}

/// The body of a `rejected` entry: canonical JSON of the file, the record's locator, the reason
/// and the SHA-256 of the raw record text (the text itself stays out of the log); file and
/// locator cut to `MAX_ID_BYTES`, the reason to `MAX_REASON_BYTES`.
pub(crate) fn rejected_entry_body(
    file: &str,
    locator: &str,
    reason: &str,
    raw_sha256: &str,
) -> String {
    // A rejection is kept, not refused: what a sender controls is cut to its limit.
    use truce_core::limits::{MAX_ID_BYTES, MAX_REASON_BYTES, clip};
    let (file, locator, reason) = (
        clip(file, MAX_ID_BYTES),
        clip(locator, MAX_ID_BYTES),
        clip(reason, MAX_REASON_BYTES),
    );
    canonical_value(&serde_json::json!({
        "file": file,
        "locator": locator,
        "reason": reason,
        "raw_sha256": raw_sha256,
    }))
}

impl Store for GeoPackageStore {
    fn put_agreement(
        &mut self,
        agreement: &Agreement,
        received_at: DateTime<Utc>,
    ) -> Result<AgreementOutcome, StoreError> {
        let body = checked_agreement_body(&self.path, agreement)?;
        self.write_agreement(agreement, &body, &received_at)
            .map_err(|f| StoreError::Agreement {
                path: self.path.clone(),
                agreement: format!(
                    "{} v{} ({})",
                    agreement.id, agreement.version, agreement.hash
                ),
                what: f.what,
                source: f.source,
            })
    }

    fn append_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, StoreError> {
        let current =
            current_agreement(&self.conn).map_err(self.read_failed("the agreement in force"))?;
        check_batch_agreement(&self.path, batch, current)?;
        self.write_batch(batch).map_err(|f| StoreError::Batch {
            path: self.path.clone(),
            file: batch.file.clone(),
            what: f.what,
            source: f.source,
        })
    }

    fn summary(&self, rejected_shown: usize) -> Result<Summary, StoreError> {
        self.read_summary(rejected_shown)
    }

    fn observations(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        self.read_observations(from_seq, limit)
    }

    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.read_entries(from_seq, limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_matches_the_usual_spelling() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
