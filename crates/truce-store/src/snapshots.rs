//! Snapshots of the folded ledger (`ledger_snapshots`, migration 8): bytes the fusion crate
//! writes and reads (`truce_fusion::ledger::Ledger::snapshot`), kept here against the log they
//! were folded from. One is kept — the newest — and it is read only when the log's root at its
//! size is still the root it was made under and its bytes still hash to what was written.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use truce_log::Hash;
use truce_log::tree_root;

use crate::geopackage::{Doing, to_i64};
use crate::log::NodeReader;
use crate::{GeoPackageStore, Log, StoreError};

/// `ledger_snapshots` as read: size, root, SHA-256, state.
pub(crate) type SnapshotRow = (i64, Vec<u8>, Vec<u8>, Vec<u8>);

/// A ledger snapshot as stored, checked against the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSnapshot {
    /// The entries folded into it: seqs `0..size`.
    pub size: u64,
    /// The bytes, as written.
    pub state: Vec<u8>,
}

impl GeoPackageStore {
    /// The log's Merkle root over its first `size` entries (RFC 6962), from the stored tree.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        if size > self.log_size()? {
            return Err(StoreError::LogRequest {
                path: self.path.clone(),
                reason: format!(
                    "no root at size {size}: the log holds {} entries",
                    self.log_size()?
                ),
            });
        }
        tree_root(&NodeReader(&self.conn), size).map_err(|e| StoreError::Read {
            path: self.path.clone(),
            what: format!("the log's root at size {size}"),
            source: Box::new(e),
        })
    }

    /// The seq of the last `agreement` entry among the first `size` entries (the terms in
    /// force at that size), by its index.
    pub fn last_agreement_before(&self, size: u64) -> Result<Option<u64>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT seq FROM entries WHERE kind = 'agreement' AND seq < ?1 \
                 ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([to_i64(size)], |r| r.get::<_, i64>(0))
                    .optional()
            })
            .map(|s| s.map(|s| s as u64))
            .map_err(self.read_failed("the last agreement entry"))
    }

    /// Keeps `state` as the ledger folded through the first `size` entries, in place of any
    /// older snapshot, with the log's root at that size and the bytes' SHA-256.
    pub fn put_ledger_snapshot(&mut self, size: u64, state: &[u8]) -> Result<(), StoreError> {
        let root = self.root_at(size)?;
        let digest: [u8; 32] = Sha256::digest(state).into();
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file to write a ledger snapshot");
        tx.and_then(|tx| {
            tx.execute("DELETE FROM ledger_snapshots", [])
                .doing("removing the older ledger snapshot")?;
            tx.execute(
                "INSERT INTO ledger_snapshots (size, root, sha256, state) VALUES (?1, ?2, ?3, ?4)",
                params![to_i64(size), root.as_bytes().as_slice(), &digest[..], state],
            )
            .doing("writing the ledger snapshot")?;
            tx.commit().doing("committing the ledger snapshot")
        })
        .map_err(|f| StoreError::LogWrite {
            path,
            what: f.what,
            source: f.source,
        })
    }

    /// The newest ledger snapshot, when there is one the log still stands behind: Ok(Err(why))
    /// names why the one there cannot be used (made from another log, bytes changed, past the
    /// end of the log), so the caller can say so and replay instead.
    pub fn ledger_snapshot(&self) -> Result<Result<LedgerSnapshot, String>, StoreError> {
        let row: Option<(i64, Vec<u8>, Vec<u8>, i64)> = self
            .conn
            .query_row(
                "SELECT size, CAST(root AS BLOB), CAST(sha256 AS BLOB), octet_length(state) \
                 FROM ledger_snapshots ORDER BY size DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.read_failed("ledger_snapshots"))?;
        let Some((size, root, digest, len)) = row else {
            return Ok(Err("no ledger snapshot".into()));
        };
        // Read into one buffer of its size: a query's value is SQLite's copy, copied again
        // (at a million incidents, 127 MB twice — a tenth of a restart).
        let mut state = vec![0; usize::try_from(len).unwrap_or(0)];
        let mut blob = self
            .conn
            .blob_open(rusqlite::MAIN_DB, "ledger_snapshots", "state", size, true)
            .map_err(self.read_failed("ledger_snapshots"))?;
        std::io::Read::read_exact(&mut blob, &mut state).map_err(|e| StoreError::Read {
            path: self.path.clone(),
            what: "ledger_snapshots".into(),
            source: Box::new(e),
        })?;
        checked_snapshot((size, root, digest, state), self.log_size()?, |n| {
            self.root_at(n)
        })
    }
}

/// A stored ledger snapshot `(size, root, sha256, state)` checked against the log (either
/// engine): Ok(Err(why)) when it cannot be used — past the end of a log of `log_size` entries,
/// made from another log (the root at its size differs), or not the bytes written.
pub(crate) fn checked_snapshot(
    (size, root, digest, state): SnapshotRow,
    log_size: u64,
    root_at: impl FnOnce(u64) -> Result<Hash, StoreError>,
) -> Result<Result<LedgerSnapshot, String>, StoreError> {
    let size = size as u64;
    if size > log_size {
        return Ok(Err(format!(
            "the ledger snapshot at size {size} is past the end of the log ({log_size} entries)"
        )));
    }
    if root_at(size)?.as_bytes().as_slice() != root.as_slice() {
        return Ok(Err(format!(
            "the ledger snapshot at size {size} was made from another log (its root differs)"
        )));
    }
    if Sha256::digest(&state).as_slice() != digest.as_slice() {
        return Ok(Err(format!(
            "the ledger snapshot at size {size} is not the bytes written (SHA-256 differs)"
        )));
    }
    Ok(Ok(LedgerSnapshot { size, state }))
}
