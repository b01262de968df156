//! The log's Merkle tree and signed checkpoints in the store.
//!
//! The `entries` table is the log: entry `seq` is leaf `seq` of an RFC 6962 Merkle tree
//! (`truce-log`, `docs/log.md`) whose leaf hash is `SHA-256(0x00 ‖ body)` over the body bytes
//! exactly as stored. The store keeps the tree beside it:
//!
//! * `log_nodes (level, idx, hash)`: every complete-subtree hash, written in the same
//!   transaction as the entry that completes it (the batch's, or `put_agreement`'s), so that a
//!   proof reads `O(log n)` rows and an append never recomputes the tree. The store holds the
//!   tree's [`Frontier`] in memory, rebuilt from `log_nodes` on open; each write starts from a
//!   copy brought up to date with the file ([`sync_frontier`]), so that a second writer's
//!   appends or entries from before the tree existed are indexed before anything new.
//! * `log_checkpoints`: every checkpoint the log signed (C2SP `tlog-checkpoint` text, with its
//!   signature). The log's private key never enters the file: [`Log::sign_checkpoint`] is
//!   handed the key and the time by its caller.
//!
//! [`Log`] is what the command line's `truce log …` commands and a future service need, in
//! backend-neutral terms; [`crate::GeoPackageStore`] implements it here, and checks the whole
//! file against its log in `audit.rs`.

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use truce_log::tiles::{TileError, first_entry_needed};
use truce_log::{
    Checkpoint, Frontier, Hash, HashReader, Note, ProofError, SignerKey, StoredNode, TileFile,
    consistency_proof, inclusion_proof, tiles_for_update, verify_checkpoint,
};

use crate::geopackage::{Doing, Failed, gpkg_datetime, next_seq, to_i64};
use crate::{Entry, EntryKind, GeoPackageStore, StoreError};

/// What the tamper-evident log needs of a store, beside [`crate::Store`]: its size, entries,
/// proofs, signed checkpoints and static tiles. Hashes and keys are `truce-log`'s types; no
/// SQL crosses this boundary.
pub trait Log {
    /// Entries in the log's Merkle tree: all of `entries`, unless entries were removed behind
    /// the store's back (which [`crate::GeoPackageStore::audit`] reports).
    fn log_size(&self) -> Result<u64, StoreError>;

    /// Entry `seq` with its body exactly as stored (the bytes its leaf hash is of); `None` past
    /// the end of the log.
    fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError>;

    /// The RFC 6962 inclusion proof of entry `seq` in the tree of the first `size` entries.
    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError>;

    /// The RFC 6962 consistency proof from the tree of `old_size` entries to that of
    /// `new_size`.
    fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError>;

    /// Signs a checkpoint of the whole log with the log's key and records it; returns the signed
    /// checkpoint text. Its origin is the key's name; once a checkpoint exists, only the key that
    /// signed it (same name, same key id) is accepted: one log, one key. When the latest checkpoint already covers the whole log
    /// and verifies with this key, it is returned and nothing is written. `time_unix_s` stamps
    /// the record (the store reads no clock).
    fn sign_checkpoint(&mut self, key: &SignerKey, time_unix_s: u64) -> Result<String, StoreError>;

    /// The last checkpoint signed, if any.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The first checkpoint signed at exactly `size` entries, if any: what a report made "at
    /// size N" names (`truce report --at`).
    fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// The C2SP tlog-tiles files that appear or change when the log grows from `old_size` to
    /// `new_size` entries (`old_size = 0`: all of them up to `new_size`), entry bundles
    /// included. Reads the entries from the start of `old_size`'s partial bundle. Fails, naming
    /// the entry, if one is larger than the 65,535 bytes a bundle can hold.
    fn tiles(&self, old_size: u64, new_size: u64) -> Result<Vec<TileFile>, StoreError>;
}

/// A checkpoint as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Row id in `log_checkpoints`: checkpoints are numbered in the order they were signed.
    pub id: i64,
    pub size: u64,
    pub root: Hash,
    /// The signed note: checkpoint text, blank line, the log's signature line.
    pub text: String,
    pub created_at: DateTime<Utc>,
}

/// A stored tree node could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("log_nodes has no node at level {level}, index {index}")]
    Missing { level: u8, index: u64 },
    #[error("log_nodes node at level {level}, index {index} is {length_bytes} bytes, not 32")]
    Length {
        level: u8,
        index: u64,
        length_bytes: usize,
    },
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
}

/// `log_nodes` as the `truce-log` proof and tile code reads it: one indexed lookup per node.
pub(crate) struct NodeReader<'c>(pub(crate) &'c Connection);

impl HashReader for NodeReader<'_> {
    type Error = NodeError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, NodeError> {
        let hash: Option<Vec<u8>> = self
            .0
            .prepare_cached("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2")?
            .query_row(params![level, to_i64(index)], |r| r.get(0))
            .optional()?;
        let hash = hash.ok_or(NodeError::Missing { level, index })?;
        Hash::from_slice(&hash).map_err(|_| NodeError::Length {
            level,
            index,
            length_bytes: hash.len(),
        })
    }
}

/// Number of leaves in `log_nodes`: the entries the tree covers.
pub(crate) fn indexed_size(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = 0")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// The bytes of an entry body as stored. The store writes BLOBs; a body rewritten with SQL
/// string functions comes back as TEXT, whose bytes are hashed the same way.
pub(crate) fn stored_bytes(value: ValueRef<'_>) -> Option<&[u8]> {
    match value {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => Some(bytes),
        _ => None,
    }
}

/// Rows per `INSERT` when writing tree nodes: enough that the statement overhead vanishes,
/// few enough parameters (3 a row) for any SQLite.
const NODES_PER_INSERT: usize = 100;

/// Leaves appended to the tree within one write transaction. The nodes they complete are held
/// until [`TreeAppend::write`] puts them in `log_nodes` sorted by level and index — each level's
/// rows then go to the right edge of its part of the index, [`NODES_PER_INSERT`] to a
/// statement.
pub(crate) struct TreeAppend {
    frontier: Frontier,
    pending: Vec<StoredNode>,
}

impl TreeAppend {
    pub(crate) fn new(frontier: Frontier) -> TreeAppend {
        TreeAppend {
            frontier,
            pending: Vec::new(),
        }
    }

    /// Leaves in the tree, those not yet written included: the next entry's seq.
    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub(crate) fn append(&mut self, leaf: Hash) {
        let pending = &mut self.pending;
        self.frontier.append_with(leaf, |node| pending.push(node));
    }

    /// Writes the pending nodes; returns the tree's frontier, to keep once the transaction
    /// commits.
    pub(crate) fn write(mut self, conn: &Connection) -> rusqlite::Result<Frontier> {
        self.flush(conn)?;
        Ok(self.frontier)
    }

    fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.pending
            .sort_unstable_by_key(|node| (node.level, node.index));
        let mut rows = self.pending.chunks_exact(NODES_PER_INSERT);
        let mut insert = conn.prepare_cached(&insert_nodes_sql(NODES_PER_INSERT))?;
        for chunk in rows.by_ref() {
            insert.execute(rusqlite::params_from_iter(
                chunk.iter().flat_map(node_params),
            ))?;
        }
        let mut insert = conn.prepare_cached(&insert_nodes_sql(1))?;
        for node in rows.remainder() {
            insert.execute(node_params(node))?;
        }
        self.pending.clear();
        Ok(())
    }
}

fn insert_nodes_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)");
    sql.push_str(&", (?, ?, ?)".repeat(rows - 1));
    sql
}

fn node_params(node: &StoredNode) -> [rusqlite::types::Value; 3] {
    use rusqlite::types::Value;
    [
        Value::Integer(i64::from(node.level)),
        Value::Integer(to_i64(node.index)),
        Value::Blob(node.hash.as_bytes().to_vec()),
    ]
}

/// Entries hashed into the tree between writes of their nodes when catching up an older file:
/// bounds the nodes held in memory (about 100 bytes an entry).
const CATCH_UP_CHUNK: u64 = 1 << 16;

/// Starts a write: brings the tree to the one the file holds (another connection may have
/// appended since `frontier`), then to the entries — entries beyond it, in a file from before
/// the tree existed or appended by a writer that did not index them, are hashed in now. Runs
/// inside the caller's write transaction; the caller appends to the result and writes it
/// before committing.
///
/// Refuses when the tree or a signed checkpoint covers more entries than `entries` holds:
/// entries were deleted, and appending would put new entries where signed ones were.
pub(crate) fn sync_frontier(conn: &Connection, frontier: &Frontier) -> Result<TreeAppend, Failed> {
    let indexed = indexed_size(conn).doing("reading the size of the log's Merkle tree")?;
    let frontier = if frontier.size() == indexed {
        frontier.clone()
    } else {
        read_frontier(conn, indexed)?
    };
    let entries = next_seq(conn).doing("counting the entries")?;
    // The latest checkpoint is the largest: log_checkpoints never shrinks.
    let signed: i64 = conn
        .prepare_cached("SELECT size FROM log_checkpoints ORDER BY id DESC LIMIT 1")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .doing("reading the size of the latest checkpoint")?
        .unwrap_or(0);
    for (what, covered) in [
        ("log_nodes", indexed),
        ("a signed checkpoint", signed as u64),
    ] {
        if covered > entries {
            return Err(Failed {
                what: "checking the log against the entries".into(),
                source: format!(
                    "{what} covers {covered} entries but entries holds {entries}: entries were \
                     deleted; nothing more is appended until the file is restored (find what \
                     differs with `truce log verify`)"
                )
                .into(),
            });
        }
    }
    let mut tree = TreeAppend::new(frontier);
    catch_up(conn, &mut tree, entries)?;
    Ok(tree)
}

fn read_frontier(conn: &Connection, size: u64) -> Result<Frontier, Failed> {
    Frontier::from_reader(&NodeReader(conn), size).map_err(|e| Failed {
        what: "reading the right edge of the log's Merkle tree".into(),
        source: Box::new(e),
    })
}

/// Hashes entries `tree.size()..entries` into the tree.
fn catch_up(conn: &Connection, tree: &mut TreeAppend, entries: u64) -> Result<(), Failed> {
    let indexed = tree.size();
    if indexed >= entries {
        return Ok(());
    }
    let what = format!("indexing entries {indexed}..{entries} in the log's Merkle tree");
    let sql = |e: rusqlite::Error| Failed {
        what: what.clone(),
        source: Box::new(e),
    };
    let bad = |reason: String| Failed {
        what: what.clone(),
        source: reason.into(),
    };
    let mut stmt = conn
        .prepare_cached("SELECT seq, body FROM entries WHERE seq >= ?1 ORDER BY seq")
        .map_err(sql)?;
    let mut rows = stmt.query([to_i64(indexed)]).map_err(sql)?;
    while let Some(row) = rows.next().map_err(sql)? {
        let seq: i64 = row.get(0).map_err(sql)?;
        if seq as u64 != tree.size() {
            return Err(bad(format!(
                "entries jumps from seq {} to {seq}",
                tree.size().wrapping_sub(1)
            )));
        }
        let body = stored_bytes(row.get_ref(1).map_err(sql)?)
            .ok_or_else(|| bad(format!("entry {seq}: body is not bytes")))?;
        tree.append(truce_log::leaf_hash(body));
        if tree.size().is_multiple_of(CATCH_UP_CHUNK) {
            tree.flush(conn).map_err(sql)?;
        }
    }
    Ok(())
}

/// The frontier of a store being opened. Entries the tree does not cover yet are indexed in a
/// transaction of their own. Nothing else is checked here, so that a file whose entries were
/// deleted behind the store's back still opens for `truce log verify`; [`sync_frontier`]
/// refuses every write to it.
pub(crate) fn open_frontier(conn: &mut Connection) -> Result<Frontier, Failed> {
    let indexed = indexed_size(conn).doing("reading the size of the log's Merkle tree")?;
    let entries = next_seq(conn).doing("counting the entries")?;
    if indexed >= entries {
        return read_frontier(conn, indexed);
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .doing("locking the file to index its entries")?;
    let mut tree = TreeAppend::new(read_frontier(&tx, indexed)?);
    catch_up(&tx, &mut tree, entries)?;
    let frontier = tree
        .write(&tx)
        .doing("writing the log's Merkle tree nodes")?;
    tx.commit().doing("committing the log's Merkle tree")?;
    Ok(frontier)
}

/// Every stored checkpoint's row, in the order they were signed, as text (the audit parses it).
pub(crate) struct CheckpointRow {
    pub id: i64,
    pub size: i64,
    pub root: String,
    pub text: String,
    pub created_at: String,
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow {
        id: r.get(0)?,
        size: r.get(1)?,
        root: r.get(2)?,
        text: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub(crate) fn checkpoint_rows(conn: &Connection) -> rusqlite::Result<Vec<CheckpointRow>> {
    conn.prepare_cached("SELECT id, size, root, text, created_at FROM log_checkpoints ORDER BY id")?
        .query_map([], checkpoint_row)?
        .collect()
}

fn latest_checkpoint_row(conn: &Connection) -> rusqlite::Result<Option<CheckpointRow>> {
    conn.prepare_cached(
        "SELECT id, size, root, text, created_at FROM log_checkpoints ORDER BY id DESC LIMIT 1",
    )?
    .query_row([], checkpoint_row)
    .optional()
}

/// The log key that signed a stored checkpoint, as `name+keyid`: its origin, and the key id of
/// its signature by that name.
fn signer_of(text: &str) -> String {
    let origin = text.split('\n').next().unwrap_or_default();
    let key_id = Note::parse(text).ok().and_then(|note| {
        note.signatures
            .iter()
            .find(|s| s.key_name == origin)
            .map(|s| s.key_id)
    });
    match key_id {
        Some(id) => format!("{origin}+{id:08x}"),
        None => format!("{origin} (no signature by that name)"),
    }
}

impl GeoPackageStore {
    fn corrupt_entry(&self, seq: u64, reason: &str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what: format!("entry {seq}"),
            reason: reason.to_string(),
        }
    }

    fn request(&self, reason: String) -> StoreError {
        StoreError::LogRequest {
            path: self.path.clone(),
            reason,
        }
    }

    fn log_read_failed<E>(&self, what: String) -> impl FnOnce(E) -> StoreError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let path = self.path.clone();
        move |e| StoreError::Read {
            path,
            what,
            source: Box::new(e),
        }
    }

    /// Refuses a proof over a tree larger than the one stored.
    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        check_proof_size(&self.path, self.log_size()?, size)
    }

    fn proof_failed(&self, what: String, e: ProofError<NodeError>) -> StoreError {
        proof_failed(&self.path, what, e)
    }
}

/// Refuses a proof at `size` over a log of `log_size` entries (either engine).
pub(crate) fn check_proof_size(
    path: &std::path::Path,
    log_size: u64,
    size: u64,
) -> Result<(), StoreError> {
    if size > log_size {
        return Err(StoreError::LogRequest {
            path: path.to_path_buf(),
            reason: format!("the log has {log_size} entries, not {size}: no proof at size {size}"),
        });
    }
    Ok(())
}

/// A proof that could not be made, as the store reports it (either engine).
pub(crate) fn proof_failed<E: std::error::Error + Send + Sync + 'static>(
    path: &std::path::Path,
    what: String,
    e: ProofError<E>,
) -> StoreError {
    match e {
        ProofError::Read(source) => StoreError::Read {
            path: path.to_path_buf(),
            what,
            source: Box::new(source),
        },
        out_of_range => StoreError::LogRequest {
            path: path.to_path_buf(),
            reason: format!("{what}: {out_of_range}"),
        },
    }
}

/// A `log_checkpoints` row checked against its own signed text (either engine): the columns are
/// a copy of what the text says, and the text is what was signed.
pub(crate) fn checked_checkpoint(
    path: &std::path::Path,
    (id, size, root, text, created_at): (i64, i64, &str, String, DateTime<Utc>),
) -> Result<StoredCheckpoint, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        what: format!("checkpoint {id} in log_checkpoints"),
        reason,
    };
    let size = u64::try_from(size).map_err(|_| corrupt(format!("size {size}")))?;
    let root = Hash::from_base64(root).map_err(|e| corrupt(format!("root: {e}")))?;
    let signed = Note::parse(&text)
        .map_err(|e| e.to_string())
        .and_then(|note| Checkpoint::parse(&note.text).map_err(|e| e.to_string()))
        .map_err(|e| corrupt(format!("text is not a signed checkpoint: {e}")))?;
    if (signed.size, signed.root) != (size, root) {
        return Err(corrupt(format!(
            "its columns say size {size}, root {} but its signed text says size {}, root {}",
            root.to_base64(),
            signed.size,
            signed.root.to_base64()
        )));
    }
    Ok(StoredCheckpoint {
        id,
        size,
        root,
        text,
        created_at,
    })
}

impl Log for GeoPackageStore {
    fn log_size(&self) -> Result<u64, StoreError> {
        indexed_size(&self.conn).map_err(self.log_read_failed("the size of the log".into()))
    }

    fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        let what = || format!("entry {seq}");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, body, sha256 FROM entries WHERE seq = ?1")
            .map_err(self.log_read_failed(what()))?;
        let mut rows = stmt
            .query([to_i64(seq)])
            .map_err(self.log_read_failed(what()))?;
        let Some(row) = rows.next().map_err(self.log_read_failed(what()))? else {
            return Ok(None);
        };
        let (kind, sha256): (String, String) = (
            row.get(0).map_err(self.log_read_failed(what()))?,
            row.get(2).map_err(self.log_read_failed(what()))?,
        );
        let body = row.get_ref(1).map_err(self.log_read_failed(what()))?;
        let body = stored_bytes(body)
            .ok_or_else(|| self.corrupt_entry(seq, "its body is not bytes"))?
            .to_vec();
        let kind = EntryKind::parse(&kind)
            .ok_or_else(|| self.corrupt_entry(seq, &format!("unknown kind {kind:?}")))?;
        Ok(Some(Entry {
            seq,
            kind,
            body,
            sha256,
        }))
    }

    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        inclusion_proof(&NodeReader(&self.conn), seq, size).map_err(|e| {
            self.proof_failed(
                format!("the inclusion proof of entry {seq} at size {size}"),
                e,
            )
        })
    }

    fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new_size)?;
        consistency_proof(&NodeReader(&self.conn), old_size, new_size).map_err(|e| {
            self.proof_failed(
                format!("the consistency proof from size {old_size} to {new_size}"),
                e,
            )
        })
    }

    fn sign_checkpoint(&mut self, key: &SignerKey, time_unix_s: u64) -> Result<String, StoreError> {
        let failed = |path: &std::path::Path, f: Failed| StoreError::LogWrite {
            path: path.to_path_buf(),
            what: f.what,
            source: f.source,
        };
        let created_at = i64::try_from(time_unix_s)
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .ok_or_else(|| {
                self.request(format!(
                    "time {time_unix_s} s is not a date chrono can hold"
                ))
            })?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file to sign a checkpoint")
            .map_err(|f| failed(&self.path, f))?;
        let frontier = sync_frontier(&tx, &self.frontier)
            .and_then(|tree| tree.write(&tx).doing("writing the log's Merkle tree nodes"))
            .map_err(|f| failed(&self.path, f))?;
        let latest = latest_checkpoint_row(&tx)
            .doing("reading the latest checkpoint")
            .map_err(|f| failed(&self.path, f))?;
        if let Some(latest) = &latest {
            if let Some(reason) = wrong_key(&latest.text, latest.id, key) {
                return Err(StoreError::LogRequest {
                    path: self.path.clone(),
                    reason,
                });
            }
            let current = u64::try_from(latest.size).is_ok_and(|s| s == frontier.size())
                && verify_checkpoint(&latest.text, &key.verifier_key()).is_ok();
            if current {
                tx.commit()
                    .doing("committing")
                    .map_err(|f| failed(&self.path, f))?;
                self.frontier = frontier;
                return Ok(latest.text.clone());
            }
        }
        let checkpoint = Checkpoint::new(key.name(), frontier.size(), frontier.root());
        let text = checkpoint.sign(key).map_err(|e| StoreError::LogRequest {
            path: self.path.clone(),
            reason: format!("cannot sign with key {:?}: {e}", key.name()),
        })?;
        tx.prepare_cached(
            "INSERT INTO log_checkpoints (size, root, text, created_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(checkpoint.size),
                checkpoint.root.to_base64(),
                text,
                gpkg_datetime(&created_at)
            ])
        })
        .doing("recording the checkpoint")
        .and_then(|_| tx.commit().doing("committing the checkpoint"))
        .map_err(|f| failed(&self.path, f))?;
        self.frontier = frontier;
        Ok(text)
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let Some(row) = latest_checkpoint_row(&self.conn)
            .map_err(self.log_read_failed("the latest checkpoint".into()))?
        else {
            return Ok(None);
        };
        self.stored_checkpoint(row).map(Some)
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let size_i = i64::try_from(size).map_err(|_| self.request(format!("size {size}")))?;
        let row = self
            .conn
            .prepare_cached(
                "SELECT id, size, root, text, created_at FROM log_checkpoints WHERE size = ?1 ORDER BY id LIMIT 1",
            )
            .and_then(|mut st| st.query_row([size_i], checkpoint_row).optional())
            .map_err(self.log_read_failed(format!("the checkpoint at size {size}")))?;
        row.map(|r| self.stored_checkpoint(r)).transpose()
    }

    fn tiles(&self, old_size: u64, new_size: u64) -> Result<Vec<TileFile>, StoreError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(self.request(format!(
                "tiles from size {old_size} to {new_size}: a log never shrinks"
            )));
        }
        let first = first_entry_needed(old_size);
        let what = || format!("entries {first}..{new_size} for tiles");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, kind, body FROM entries WHERE seq >= ?1 AND seq < ?2 ORDER BY seq",
            )
            .map_err(self.log_read_failed(what()))?;
        let mut rows = stmt
            .query(params![to_i64(first), to_i64(new_size)])
            .map_err(self.log_read_failed(what()))?;
        let mut entries = Vec::new();
        while let Some(row) = rows.next().map_err(self.log_read_failed(what()))? {
            let seq = first + entries.len() as u64;
            let body = row.get_ref(2).map_err(self.log_read_failed(what()))?;
            let body = stored_bytes(body)
                .ok_or_else(|| self.corrupt_entry(seq, "its body is not bytes"))?;
            if body.len() > truce_log::tiles::MAX_ENTRY_SIZE_BYTES {
                let kind: String = row.get(1).map_err(self.log_read_failed(what()))?;
                return Err(self.request(format!(
                    "entry {seq} ({kind}) is {} bytes, more than the {} a C2SP tlog-tiles entry \
                     bundle can hold: this log cannot be published as tiles (`truce log prove` \
                     still proves every entry)",
                    body.len(),
                    truce_log::tiles::MAX_ENTRY_SIZE_BYTES
                )));
            }
            entries.push(body.to_vec());
        }
        tiles_for_update(&NodeReader(&self.conn), old_size, new_size, &entries).map_err(|e| match e
        {
            TileError::Read(source) => StoreError::Read {
                path: self.path.clone(),
                what: format!("the log's Merkle tree for tiles up to size {new_size}"),
                source: Box::new(source),
            },
            other => StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("the log up to size {new_size}"),
                reason: format!("{other} (find what differs with `truce log verify`)"),
            },
        })
    }
}

/// Why `key` may not sign after `latest`, if it may not. One log, one key: another key, even
/// of the same name, would be another log.
pub(crate) fn wrong_key(text: &str, id: i64, key: &SignerKey) -> Option<String> {
    let (signer, given) = (
        signer_of(text),
        format!("{}+{:08x}", key.name(), key.key_id()),
    );
    (signer != given).then(|| {
        format!(
            "this log is signed by the key {signer} (checkpoint {id}), but the key given is \
             {given}: sign with the log's own key"
        )
    })
}

impl GeoPackageStore {
    /// A checkpoint row checked against its own signed text.
    fn stored_checkpoint(&self, row: CheckpointRow) -> Result<StoredCheckpoint, StoreError> {
        let created_at = DateTime::parse_from_rfc3339(&row.created_at)
            .map_err(|e| StoreError::Corrupt {
                path: self.path.clone(),
                what: format!("checkpoint {} in log_checkpoints", row.id),
                reason: format!("created_at {:?}: {e}", row.created_at),
            })?
            .with_timezone(&Utc);
        checked_checkpoint(&self.path, (row.id, row.size, &row.root, row.text, created_at))
    }
}

impl GeoPackageStore {
    /// Refuses `key` when it is not the key this log's checkpoints are signed with: called
    /// before appending, so that an entry is never left unsigned for want of the right key.
    pub fn check_signer(&self, key: &SignerKey) -> Result<(), StoreError> {
        match self.latest_checkpoint()? {
            Some(latest) => match wrong_key(&latest.text, latest.id, key) {
                Some(reason) => Err(StoreError::LogRequest {
                    path: self.path.clone(),
                    reason,
                }),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }
}
