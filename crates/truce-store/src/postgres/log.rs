//! The log's Merkle tree and checkpoints in PostgreSQL: the same tables and rules as the
//! GeoPackage's (`crate::log`), read through `postgres` rather than SQLite.

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use postgres::GenericClient;
use truce_log::tiles::{TileError, first_entry_needed};
use truce_log::{
    Checkpoint, Frontier, Hash, HashReader, SignerKey, StoredNode, TileFile,
    VerifierKey, consistency_proof, inclusion_proof, leaf_hash, tiles_for_update, tree_root,
    verify_checkpoint,
};

use super::{PgStore, WRITE_LOCK};
use crate::geopackage::{Doing, Failed, to_i64};
use crate::{AuditError, AuditSummary, Entry, Log, StoreError, StoredCheckpoint};

/// A stored tree node could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PgNodeError {
    #[error("log_nodes has no node at level {level}, index {index}")]
    Missing { level: u8, index: u64 },
    #[error("log_nodes node at level {level}, index {index} is {length_bytes} bytes, not 32")]
    Length {
        level: u8,
        index: u64,
        length_bytes: usize,
    },
    #[error(transparent)]
    Pg(#[from] postgres::Error),
}

/// `log_nodes` as the proof and tile code reads it: one indexed lookup per node.
pub(crate) struct PgNodes<'c, C: GenericClient>(pub(crate) RefCell<&'c mut C>);

impl<C: GenericClient> HashReader for PgNodes<'_, C> {
    type Error = PgNodeError;

    fn node(&self, level: u8, index: u64) -> Result<Hash, PgNodeError> {
        let row = self.0.borrow_mut().query_opt(
            "SELECT hash FROM log_nodes WHERE level = $1 AND idx = $2",
            &[&i16::from(level), &to_i64(index)],
        )?;
        let hash: Vec<u8> = row
            .ok_or(PgNodeError::Missing { level, index })?
            .get(0);
        Hash::from_slice(&hash).map_err(|_| PgNodeError::Length {
            level,
            index,
            length_bytes: hash.len(),
        })
    }
}

fn sizes<C: GenericClient>(c: &mut C) -> Result<(u64, u64, u64), Failed> {
    let r = c
        .query_one(
            "SELECT (SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = 0), \
             (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries), \
             (SELECT COALESCE(MAX(size), 0) FROM log_checkpoints)",
            &[],
        )
        .doing("reading the sizes of the log, its tree and its checkpoints")?;
    Ok((
        r.get::<_, i64>(0) as u64,
        r.get::<_, i64>(1) as u64,
        r.get::<_, i64>(2) as u64,
    ))
}

/// The tree's frontier as the database holds it, refusing a database whose entries and tree
/// disagree (every writer writes both in one transaction).
pub(crate) fn read_frontier<C: GenericClient>(c: &mut C) -> Result<Frontier, Failed> {
    let (indexed, entries, signed) = sizes(c)?;
    check_sizes(indexed, entries, signed)?;
    Frontier::from_reader(&PgNodes(RefCell::new(c)), indexed).map_err(|e| Failed {
        what: "reading the right edge of the log's Merkle tree".into(),
        source: Box::new(e),
    })
}

fn check_sizes(indexed: u64, entries: u64, signed: u64) -> Result<(), Failed> {
    for (what, covered) in [("log_nodes", indexed), ("a signed checkpoint", signed)] {
        if covered > entries {
            return Err(Failed {
                what: "checking the log against the entries".into(),
                source: format!(
                    "{what} covers {covered} entries but entries holds {entries}: entries were \
                     deleted; nothing more is appended until the database is restored (find what \
                     differs with `truce log verify`)"
                )
                .into(),
            });
        }
    }
    if indexed < entries {
        return Err(Failed {
            what: "checking the log against the entries".into(),
            source: format!(
                "entries holds {entries} entries but log_nodes covers only {indexed}: entries \
                 were written without their tree nodes (by hand?); nothing more is appended"
            )
            .into(),
        });
    }
    Ok(())
}

/// Leaves appended within one write transaction, with the nodes they complete.
pub(crate) struct PgTree {
    frontier: Frontier,
    pending: Vec<StoredNode>,
}

impl PgTree {
    pub(crate) fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub(crate) fn append(&mut self, leaf: Hash) {
        let pending = &mut self.pending;
        self.frontier.append_with(leaf, |node| pending.push(node));
    }

    /// Writes the pending nodes in one statement; returns the frontier to keep once the
    /// transaction commits.
    pub(crate) fn write<C: GenericClient>(self, c: &mut C) -> Result<Frontier, Failed> {
        if !self.pending.is_empty() {
            let levels: Vec<i16> = self.pending.iter().map(|n| i16::from(n.level)).collect();
            let idx: Vec<i64> = self.pending.iter().map(|n| to_i64(n.index)).collect();
            let hashes: Vec<&[u8]> = self.pending.iter().map(|n| n.hash.as_bytes().as_slice()).collect();
            c.execute(
                "INSERT INTO log_nodes (level, idx, hash) \
                 SELECT * FROM UNNEST($1::smallint[], $2::bigint[], $3::bytea[]) ORDER BY 1, 2",
                &[&levels, &idx, &hashes],
            )
            .doing("writing the log's Merkle tree nodes")?;
        }
        Ok(self.frontier)
    }
}

impl PgStore {
    /// Starts a write inside `tx`: takes the write lock, then brings the tree to what the
    /// database holds (another process may have appended since this one last wrote).
    pub(crate) fn begin_write<C: GenericClient>(
        frontier: &Frontier,
        tx: &mut C,
    ) -> Result<PgTree, Failed> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .doing("waiting for the write lock")?;
        let (indexed, entries, signed) = sizes(tx)?;
        check_sizes(indexed, entries, signed)?;
        let frontier = if frontier.size() == indexed {
            frontier.clone()
        } else {
            Frontier::from_reader(&PgNodes(RefCell::new(tx)), indexed).map_err(|e| Failed {
                what: "reading the right edge of the log's Merkle tree".into(),
                source: Box::new(e),
            })?
        };
        Ok(PgTree {
            frontier,
            pending: Vec::new(),
        })
    }

    fn request(&self, reason: String) -> StoreError {
        StoreError::LogRequest {
            path: self.path.clone(),
            reason,
        }
    }

    fn check_size(&self, size: u64) -> Result<(), StoreError> {
        crate::log::check_proof_size(&self.path, self.log_size()?, size)
    }

    pub(crate) fn root_at_size(&self, size: u64) -> Result<Hash, StoreError> {
        let log_size = self.log_size()?;
        if size > log_size {
            return Err(self.request(format!(
                "no root at size {size}: the log holds {log_size} entries"
            )));
        }
        self.with(|c| tree_root(&PgNodes(RefCell::new(c)), size))
            .map_err(|e| StoreError::Read {
                path: self.path.clone(),
                what: format!("the log's root at size {size}"),
                source: Box::new(e),
            })
    }

    fn checkpoint_of(&self, r: &postgres::Row) -> Result<StoredCheckpoint, StoreError> {
        let root: String = r.get(2);
        crate::log::checked_checkpoint(&self.path, (r.get(0), r.get(1), &root, r.get(3), r.get(4)))
    }

    /// `truce log verify` on PostgreSQL: every entry re-hashed into the tree and compared
    /// with every stored node; every checkpoint's root compared with the recomputed root at
    /// its size and its signature verified (with `log_key`); every observation row's content
    /// key and every rejected record's entry hash compared with its entry.
    pub(crate) fn audit_log(&self, log_key: Option<&VerifierKey>) -> Result<AuditSummary, AuditError> {
        use sha2::{Digest, Sha256};
        let mismatch = |seq: u64, what: String| AuditError::Mismatch {
            path: self.path.clone(),
            seq,
            differences: vec![what],
        };
        let mut frontier = Frontier::new();
        let mut nodes = std::collections::HashMap::new();
        let mut roots = std::collections::HashMap::new();
        let checkpoints: Vec<StoredCheckpoint> = self
            .with(|c| {
                c.query(
                    "SELECT id, size, root, text, created_at FROM log_checkpoints ORDER BY id",
                    &[],
                )
            })
            .map_err(self.read_failed("log_checkpoints"))?
            .iter()
            .map(|r| self.checkpoint_of(r))
            .collect::<Result<_, _>>()?;
        let wanted: std::collections::HashSet<u64> = checkpoints.iter().map(|c| c.size).collect();
        if wanted.contains(&0) {
            roots.insert(0, frontier.root());
        }
        let (mut observation_rows, mut rejected_rows) = (0u64, 0u64);
        let mut from = 0u64;
        loop {
            let page = crate::Store::entries(self, from, 10_000)?;
            let Some(last) = page.last() else { break };
            from = last.seq + 1;
            for e in &page {
                if e.seq != frontier.size() {
                    return Err(mismatch(frontier.size(), format!("entry {} is missing", frontier.size())));
                }
                let digest = crate::geopackage::hex(&Sha256::digest(&e.body));
                if digest != e.sha256 {
                    return Err(mismatch(e.seq, format!("sha256 column {} ≠ SHA-256 of the body {digest}", e.sha256)));
                }
                frontier.append_with(leaf_hash(&e.body), |n| {
                    nodes.insert((n.level, n.index), n.hash);
                });
                if wanted.contains(&frontier.size()) {
                    roots.insert(frontier.size(), frontier.root());
                }
            }
            // Observation rows and rejected records of this page against their entries.
            let (first, last) = (to_i64(page[0].seq), to_i64(last.seq));
            let rows = self
                .with(|c| {
                    c.query(
                        "SELECT o.fid, o.content_sha256, e.kind, e.body FROM observations o \
                         LEFT JOIN entries e ON e.seq = o.fid WHERE o.fid BETWEEN $1 AND $2",
                        &[&first, &last],
                    )
                })
                .map_err(self.read_failed("observations"))?;
            for r in rows {
                let (fid, key, kind, body): (i64, Vec<u8>, Option<String>, Option<Vec<u8>>) =
                    (r.get(0), r.get(1), r.get(2), r.get(3));
                let seq = fid as u64;
                if kind.as_deref() != Some("observation") {
                    return Err(mismatch(seq, format!("observation row {fid} has no observation entry")));
                }
                if Sha256::digest(body.unwrap_or_default()).as_slice() != key.as_slice() {
                    return Err(mismatch(seq, format!("observation row {fid}: content_sha256 is not the SHA-256 of its entry")));
                }
                observation_rows += 1;
            }
            let n: i64 = self
                .with(|c| {
                    c.query_one(
                        "SELECT COUNT(*) FROM entries e WHERE e.kind = 'observation' AND e.seq BETWEEN $1 AND $2 \
                         AND NOT EXISTS (SELECT 1 FROM observations o WHERE o.fid = e.seq)",
                        &[&first, &last],
                    )
                })
                .map_err(self.read_failed("observations"))?
                .get(0);
            if n > 0 {
                return Err(mismatch(page[0].seq, format!("{n} observation entries between seq {first} and {last} have no observation row")));
            }
            let rows = self
                .with(|c| {
                    c.query(
                        "SELECT r.entry_seq, r.entry_sha256, e.sha256 FROM rejected_records r \
                         LEFT JOIN entries e ON e.seq = r.entry_seq WHERE r.entry_seq BETWEEN $1 AND $2",
                        &[&first, &last],
                    )
                })
                .map_err(self.read_failed("rejected_records"))?;
            for r in rows {
                let (seq, want, got): (i64, String, Option<String>) = (r.get(0), r.get(1), r.get(2));
                if got.as_deref() != Some(want.as_str()) {
                    return Err(mismatch(seq as u64, format!("rejected record at entry {seq}: entry_sha256 {want} is not that entry's")));
                }
                rejected_rows += 1;
            }
        }
        let entries = frontier.size();
        // Every stored node against the recomputed one.
        let stored = self
            .with(|c| c.query("SELECT level, idx, hash FROM log_nodes", &[]))
            .map_err(self.read_failed("log_nodes"))?;
        if stored.len() != nodes.len() {
            return Err(mismatch(entries, format!("log_nodes holds {} nodes; the entries make {}", stored.len(), nodes.len())));
        }
        for r in &stored {
            let (level, idx, hash): (i16, i64, Vec<u8>) = (r.get(0), r.get(1), r.get(2));
            match nodes.get(&(level as u8, idx as u64)) {
                Some(h) if h.as_bytes().as_slice() == hash.as_slice() => {}
                _ => {
                    let first = (idx as u64) << level;
                    return Err(mismatch(first, format!("log_nodes level {level} index {idx} is not the hash of its entries")));
                }
            }
        }
        for cp in &checkpoints {
            match roots.get(&cp.size) {
                Some(root) if *root == cp.root => {}
                Some(_) => return Err(mismatch(cp.size.saturating_sub(1), format!("checkpoint {} at size {}: its root is not the entries' root", cp.id, cp.size))),
                None => return Err(mismatch(entries, format!("checkpoint {} covers {} entries; the log holds {entries}", cp.id, cp.size))),
            }
            if let Some(key) = log_key {
                verify_checkpoint(&cp.text, key).map_err(|e| {
                    mismatch(cp.size.saturating_sub(1), format!("checkpoint {}: its signature does not verify with the log's key: {e}", cp.id))
                })?;
            }
        }
        Ok(AuditSummary {
            entries,
            root: frontier.root(),
            nodes: stored.len() as u64,
            observation_rows,
            rejected_rows,
            checkpoints: checkpoints.len() as u64,
            latest_checkpoint_size: checkpoints.last().map(|c| c.size),
            signatures_checked_with: log_key.cloned(),
        })
    }
}

impl Log for PgStore {
    fn log_size(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            c.query_one(
                "SELECT COALESCE(MAX(idx) + 1, 0) FROM log_nodes WHERE level = 0",
                &[],
            )
        })
        .map(|r| r.get::<_, i64>(0) as u64)
        .map_err(self.read_failed("the size of the log"))
    }

    fn entry(&self, seq: u64) -> Result<Option<Entry>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT seq, kind, body, sha256 FROM entries WHERE seq = $1",
                &[&to_i64(seq)],
            )
        })
        .map_err(self.read_failed(&format!("entry {seq}")))?
        .map(|r| self.entry_of(&r))
        .transpose()
    }

    fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(size)?;
        self.with(|c| inclusion_proof(&PgNodes(RefCell::new(c)), seq, size))
            .map_err(|e| {
                crate::log::proof_failed(
                    &self.path,
                    format!("the inclusion proof of entry {seq} at size {size}"),
                    e,
                )
            })
    }

    fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        self.check_size(new_size)?;
        self.with(|c| consistency_proof(&PgNodes(RefCell::new(c)), old_size, new_size))
            .map_err(|e| {
                crate::log::proof_failed(
                    &self.path,
                    format!("the consistency proof from size {old_size} to {new_size}"),
                    e,
                )
            })
    }

    fn sign_checkpoint(&mut self, key: &SignerKey, time_unix_s: u64) -> Result<String, StoreError> {
        super::blocking(|| self.sign(key, time_unix_s))
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT id, size, root, text, created_at FROM log_checkpoints ORDER BY id DESC LIMIT 1",
                &[],
            )
        })
        .map_err(self.read_failed("the latest checkpoint"))?
        .map(|r| self.checkpoint_of(&r))
        .transpose()
    }

    fn checkpoint_at(&self, size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        let size_i = i64::try_from(size).map_err(|_| self.request(format!("size {size}")))?;
        self.with(|c| {
            c.query_opt(
                "SELECT id, size, root, text, created_at FROM log_checkpoints WHERE size = $1 ORDER BY id LIMIT 1",
                &[&size_i],
            )
        })
        .map_err(self.read_failed(&format!("the checkpoint at size {size}")))?
        .map(|r| self.checkpoint_of(&r))
        .transpose()
    }

    fn tiles(&self, old_size: u64, new_size: u64) -> Result<Vec<TileFile>, StoreError> {
        self.check_size(new_size)?;
        if old_size > new_size {
            return Err(self.request(format!(
                "tiles from size {old_size} to {new_size}: a log never shrinks"
            )));
        }
        let first = first_entry_needed(old_size);
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT seq, kind, body FROM entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                    &[&to_i64(first), &to_i64(new_size)],
                )
            })
            .map_err(self.read_failed(&format!("entries {first}..{new_size} for tiles")))?;
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let (seq, kind, body): (i64, String, Vec<u8>) = (r.get(0), r.get(1), r.get(2));
            if body.len() > truce_log::tiles::MAX_ENTRY_SIZE_BYTES {
                return Err(self.request(format!(
                    "entry {seq} ({kind}) is {} bytes, more than the {} a C2SP tlog-tiles entry \
                     bundle can hold: this log cannot be published as tiles (`truce log prove` \
                     still proves every entry)",
                    body.len(),
                    truce_log::tiles::MAX_ENTRY_SIZE_BYTES
                )));
            }
            entries.push(body);
        }
        self.with(|c| tiles_for_update(&PgNodes(RefCell::new(c)), old_size, new_size, &entries))
            .map_err(|e| match e {
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

impl PgStore {
    /// [`Log::sign_checkpoint`], on the connection.
    fn sign(&mut self, key: &SignerKey, time_unix_s: u64) -> Result<String, StoreError> {
        let created_at = i64::try_from(time_unix_s)
            .ok()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .ok_or_else(|| {
                self.request(format!(
                    "time {time_unix_s} s is not a date chrono can hold"
                ))
            })?;
        let path = self.path.clone();
        let frontier = self.frontier.clone();
        let mut client = self.conn();
        let mut tx = client
            .transaction()
            .doing("starting to sign a checkpoint")
            .map_err(|f| log_write(&path, f))?;
        let frontier = Self::begin_write(&frontier, &mut tx)
            .and_then(|tree| tree.write(&mut tx))
            .map_err(|f| log_write(&path, f))?;
        let latest = tx
            .query_opt(
                "SELECT id, size, root, text, created_at FROM log_checkpoints ORDER BY id DESC LIMIT 1",
                &[],
            )
            .doing("reading the latest checkpoint")
            .map_err(|f| log_write(&path, f))?;
        if let Some(latest) = &latest {
            let (id, size, text): (i64, i64, String) = (latest.get(0), latest.get(1), latest.get(3));
            if let Some(reason) = crate::log::wrong_key(&text, id, key) {
                return Err(StoreError::LogRequest { path, reason });
            }
            if u64::try_from(size).is_ok_and(|s| s == frontier.size())
                && verify_checkpoint(&text, &key.verifier_key()).is_ok()
            {
                tx.commit().doing("committing").map_err(|f| log_write(&path, f))?;
                drop(client);
                self.frontier = frontier;
                return Ok(text);
            }
        }
        let checkpoint = Checkpoint::new(key.name(), frontier.size(), frontier.root());
        let text = checkpoint.sign(key).map_err(|e| StoreError::LogRequest {
            path: path.clone(),
            reason: format!("cannot sign with key {:?}: {e}", key.name()),
        })?;
        tx.execute(
            "INSERT INTO log_checkpoints (size, root, text, created_at) VALUES ($1, $2, $3, $4)",
            &[
                &to_i64(checkpoint.size),
                &checkpoint.root.to_base64(),
                &text,
                &created_at,
            ],
        )
        .doing("recording the checkpoint")
        .and_then(|_| tx.commit().doing("committing the checkpoint"))
        .map_err(|f| log_write(&path, f))?;
        drop(client);
        self.frontier = frontier;
        Ok(text)
    }
}

fn log_write(path: &std::path::Path, f: Failed) -> StoreError {
    StoreError::LogWrite {
        path: path.to_path_buf(),
        what: f.what,
        source: f.source,
    }
}
