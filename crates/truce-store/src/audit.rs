//! The store checked against its log, trusting nothing but the entries: what
//! `truce log verify` runs.
//!
//! [`GeoPackageStore::audit`] reads the entries in order and recomputes the Merkle tree from
//! their bodies from scratch (a fresh [`Frontier`], not `log_nodes`), and at each seq checks:
//!
//! * the entry's `sha256` column against its body;
//! * every tree node the entry completes against the one stored in `log_nodes`;
//! * for an observation, its `observations` row: the positions of the geometry, `kind`,
//!   `observed_at`, `source_id` and `content_sha256` re-derived from the entry's
//!   canonical JSON;
//! * for a rejected record, each `rejected_records` row logged by it: the entry body re-derived
//!   from the row's file, locator, reason and raw text;
//! * every stored checkpoint of that size: its root against the recomputed root, after its
//!   signature (with the log's verifier key, when given), its origin and its columns were
//!   checked against its signed text.
//!
//! It stops at the first seq where anything differs and names everything that differs there;
//! what lies past the entries (a checkpoint or nodes covering entries that are gone, rows
//! without an entry) is reported at the first missing seq.
//!
//! What it cannot see alone: a log rewritten from scratch and re-signed with the log's key
//! verifies here; the parties' witnesses, which remember the checkpoints they cosigned, catch
//! that (`docs/log.md`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use rusqlite::OptionalExtension;
use rusqlite::types::Value;
use truce_core::observation::Observation;
use truce_log::{
    Checkpoint, Frontier, Hash, Note, StoredNode, VerifierKey, empty_root, leaf_hash,
    verify_checkpoint,
};

use crate::geometry::{Shape, read_shape};
use crate::geopackage::{gpkg_datetime, hex, rejected_entry_body, sha256_hex};
use crate::log::{checkpoint_rows, stored_bytes};
use crate::{GeoPackageStore, StoreError};

/// What a successful audit checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSummary {
    /// Entries read, seq 0 to `entries - 1`.
    pub entries: u64,
    /// The root recomputed over all of them.
    pub root: Hash,
    /// Stored tree nodes compared (all of `log_nodes`).
    pub nodes: u64,
    pub observation_rows: u64,
    pub rejected_rows: u64,
    /// Checkpoints whose root was compared with the recomputed root at their size.
    pub checkpoints: u64,
    /// The size of the last checkpoint signed, if any.
    pub latest_checkpoint_size: Option<u64>,
    /// The key every checkpoint's signature was verified with; `None` when none was given and
    /// signatures were not checked.
    pub signatures_checked_with: Option<VerifierKey>,
}

/// The audit could not run, or the store does not match its log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The first seq at which anything differs, and everything that differs there.
    #[error(
        "{}: the log does not verify: first difference at seq {seq}: {}",
        .path.display(),
        .differences.join("; ")
    )]
    Mismatch {
        path: PathBuf,
        seq: u64,
        differences: Vec<String>,
    },
}

/// Differences found so far, by the seq they are reported at.
#[derive(Default)]
struct Findings(BTreeMap<u64, Vec<String>>);

impl Findings {
    fn add(&mut self, seq: u64, what: String) {
        self.0.entry(seq).or_default().push(what);
    }

    /// The first seq with a difference, if it is at or before `seq`.
    fn first_up_to(&mut self, seq: u64) -> Option<(u64, Vec<String>)> {
        let (&first, _) = self.0.first_key_value()?;
        (first <= seq).then(|| self.0.pop_first().expect("a first key"))
    }
}

/// A stored checkpoint as its signed text states it, for comparing with the recomputed tree.
struct SignedCheckpoint {
    label: String,
    size: u64,
    root: Hash,
}

/// One `observations` row's key columns, as stored (any SQLite type).
struct ObservationRow {
    fid: i64,
    geom: Value,
    kind: Value,
    observed_at: Value,
    source_id: Value,
    content_sha256: Value,
}

/// One `rejected_records` row, as stored.
struct RejectedRow {
    id: i64,
    entry_seq: i64,
    file: Value,
    locator: Value,
    raw: Value,
    raw_sha256: Value,
    reason: Value,
    entry_sha256: Value,
}

/// A stored value as a message shows it.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Integer(n) => n.to_string(),
        Value::Real(x) => x.to_string(),
        Value::Text(s) => format!("{s:?}"),
        Value::Blob(b) => format!("a {}-byte BLOB", b.len()),
    }
}

/// The bytes of a TEXT or BLOB value.
fn bytes_of(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Text(s) => Some(s.as_bytes()),
        Value::Blob(b) => Some(b),
        _ => None,
    }
}

fn is_text(v: &Value, expected: &str) -> bool {
    matches!(v, Value::Text(s) if s == expected)
}

/// `x` as the log's JSON gives it back: printed as canonical JSON prints a number, then parsed.
/// serde_json's default parser may land an ulp away from the nearest `f64`, so a row's exact
/// coordinate is compared after the same print-and-parse that the entry's went through.
fn as_logged(x: f64) -> f64 {
    serde_json::to_string(&x)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(x)
}

fn position(p: [f64; 2]) -> String {
    format!("[{}, {}]", p[0], p[1])
}

/// What differs between a stored geometry and the entry's, position by position.
fn compare_shapes(stored: &Shape, logged: &Shape) -> Option<String> {
    if stored.wkb_type != logged.wkb_type {
        return Some(format!(
            "the geometry is a {} but the entry's is a {}",
            stored.type_name(),
            logged.type_name()
        ));
    }
    if stored.parts.len() != logged.parts.len() {
        return Some(format!(
            "the geometry has {} rings but the entry's has {}",
            stored.parts.len(),
            logged.parts.len()
        ));
    }
    let mut index = 0;
    for (s, l) in stored.parts.iter().zip(&logged.parts) {
        if s.len() != l.len() {
            return Some(format!(
                "the geometry has {} positions where the entry's has {}",
                s.len(),
                l.len()
            ));
        }
        for (a, b) in s.iter().zip(l) {
            if [as_logged(a[0]), as_logged(a[1])] != *b {
                return Some(format!(
                    "geometry position {index} is {} but the entry has {}",
                    position(*a),
                    position(*b)
                ));
            }
            index += 1;
        }
    }
    None
}

impl GeoPackageStore {
    /// Checks the whole store against its log (see the module documentation), verifying every
    /// checkpoint's signature with `log_key` when one is given. `Ok` says what was checked;
    /// [`AuditError::Mismatch`] names the first seq that differs and what differs there.
    pub fn audit(&self, log_key: Option<&VerifierKey>) -> Result<AuditSummary, AuditError> {
        let conn = &self.conn;
        let read = |what: &'static str| {
            let path = self.path.clone();
            move |e: rusqlite::Error| {
                AuditError::Store(StoreError::Read {
                    path,
                    what: what.into(),
                    source: Box::new(e),
                })
            }
        };
        let mismatch = |(seq, differences): (u64, Vec<String>)| AuditError::Mismatch {
            path: self.path.clone(),
            seq,
            differences,
        };
        let mut findings = Findings::default();

        let rows = checkpoint_rows(conn).map_err(read("log_checkpoints"))?;
        let checkpoints = check_checkpoints(&rows, log_key, &mut findings);
        let mut by_size: BTreeMap<u64, Vec<&SignedCheckpoint>> = BTreeMap::new();
        for c in &checkpoints {
            by_size.entry(c.size).or_default().push(c);
        }
        for c in by_size.get(&0).into_iter().flatten() {
            if c.root != empty_root() {
                findings.add(
                    0,
                    format!(
                        "{} is of the empty log but its root is not the empty tree's",
                        c.label
                    ),
                );
            }
        }

        let mut entries_stmt = conn
            .prepare("SELECT seq, kind, body, sha256 FROM entries ORDER BY seq")
            .map_err(read("entries"))?;
        let mut entries = entries_stmt.query([]).map_err(read("entries"))?;
        let mut observations_stmt = conn
            .prepare(
                "SELECT fid, geom, kind, observed_at, source_id, content_sha256 \
                 FROM observations ORDER BY fid",
            )
            .map_err(read("observations"))?;
        let mut observations = observations_stmt
            .query([])
            .and_then(|rows| Cursor::new(rows, observation_row, |o| o.fid))
            .map_err(read("observations"))?;
        let mut rejected_stmt = conn
            .prepare(
                "SELECT id, entry_seq, file, locator, raw, raw_sha256, reason, entry_sha256 \
                 FROM rejected_records ORDER BY entry_seq, id",
            )
            .map_err(read("rejected_records"))?;
        let mut rejected = rejected_stmt
            .query([])
            .and_then(|rows| Cursor::new(rows, rejected_row, |r| r.entry_seq))
            .map_err(read("rejected_records"))?;
        let mut node_stmt = conn
            .prepare("SELECT hash FROM log_nodes WHERE level = ?1 AND idx = ?2")
            .map_err(read("log_nodes"))?;

        let mut frontier = Frontier::new();
        let mut completed: Vec<StoredNode> = Vec::new();
        let (mut observation_rows, mut rejected_rows) = (0u64, 0u64);
        while let Some(row) = entries.next().map_err(read("entries"))? {
            let s = frontier.size();
            let stored_seq: i64 = row.get(0).map_err(read("entries"))?;
            if stored_seq != s as i64 {
                findings.add(
                    s,
                    format!("entry {s} is missing: entries goes on at seq {stored_seq}"),
                );
                return Err(mismatch(findings.first_up_to(s).expect("just added")));
            }
            let kind: Value = row.get(1).map_err(read("entries"))?;
            let body = stored_bytes(row.get_ref(2).map_err(read("entries"))?)
                .unwrap_or_default()
                .to_vec();
            let sha256: Value = row.get(3).map_err(read("entries"))?;
            let body_sha256 = sha256_hex(&body);
            if !is_text(&sha256, &body_sha256) {
                findings.add(
                    s,
                    format!(
                        "entries.sha256 is {} but the body hashes to {body_sha256}",
                        show(&sha256)
                    ),
                );
            }

            completed.clear();
            frontier.append_with(leaf_hash(&body), |node| completed.push(node));
            let mut differing = Vec::new();
            for node in &completed {
                let stored: Option<Vec<u8>> = node_stmt
                    .query_row(rusqlite::params![node.level, node.index as i64], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(read("log_nodes"))?;
                let stored = match stored {
                    None => "missing".to_string(),
                    Some(hash) if hash == node.hash.as_bytes() => continue,
                    Some(hash) => Hash::from_slice(&hash)
                        .map(|h| h.to_base64())
                        .unwrap_or_else(|_| format!("{} bytes long", hash.len())),
                };
                differing.push(format!(
                    "log node (level {}, index {}) is {stored} in log_nodes but the entries give {}",
                    node.level,
                    node.index,
                    node.hash.to_base64()
                ));
            }
            if let Some(first) = differing.first() {
                findings.add(
                    s,
                    match differing.len() - 1 {
                        0 => first.clone(),
                        more => format!("{first} (and {more} more nodes above it)"),
                    },
                );
            }

            let kind = match &kind {
                Value::Text(k) => k.as_str(),
                other => {
                    findings.add(s, format!("entries.kind is {}", show(other)));
                    ""
                }
            };
            let rows = observations.take(s).map_err(read("observations"))?;
            if kind == "observation" && rows.is_empty() {
                findings.add(s, "no observations row for this observation entry".into());
            }
            for o in &rows {
                observation_rows += 1;
                if o.fid != s as i64 || kind != "observation" {
                    findings.add(
                        s,
                        format!("observations has row {} for this {kind} entry", o.fid),
                    );
                } else {
                    check_observation(o, &body, &body_sha256, &mut |d| findings.add(s, d));
                }
            }
            let logged_by = rejected.take(s).map_err(read("rejected_records"))?;
            if kind == "rejected" && logged_by.is_empty() {
                findings.add(s, "no rejected_records row for this rejected entry".into());
            }
            for r in &logged_by {
                rejected_rows += 1;
                if kind != "rejected" {
                    findings.add(
                        s,
                        format!("rejected_records row {} points at this {kind} entry", r.id),
                    );
                } else {
                    check_rejected(r, &body, &body_sha256, &mut |d| findings.add(s, d));
                }
            }

            for c in by_size.get(&(s + 1)).into_iter().flatten() {
                if c.root != frontier.root() {
                    findings.add(
                        s,
                        format!(
                            "{} signs root {} but the entries give {} at size {}: an entry at or \
                             before seq {s} differs from what was signed",
                            c.label,
                            c.root.to_base64(),
                            frontier.root().to_base64(),
                            c.size
                        ),
                    );
                }
            }
            if let Some(first) = findings.first_up_to(s) {
                return Err(mismatch(first));
            }
        }

        // What lies past the last entry.
        let n = frontier.size();
        for c in by_size.range(n + 1..).flat_map(|(_, cs)| cs) {
            findings.add(
                n,
                format!(
                    "{} covers {} entries but entries holds only {n}: entries {n}..{} are missing",
                    c.label,
                    c.size,
                    c.size - 1
                ),
            );
        }
        let stored_nodes: i64 = conn
            .query_row("SELECT COUNT(*) FROM log_nodes", [], |r| r.get(0))
            .map_err(read("log_nodes"))?;
        let expected_nodes = 2 * n - u64::from(n.count_ones());
        if stored_nodes as u64 != expected_nodes {
            findings.add(
                n,
                format!(
                    "log_nodes holds {stored_nodes} nodes but {n} entries make {expected_nodes}: \
                     the others cover entries that are not in entries"
                ),
            );
        }
        if let Some(o) = observations.next.take() {
            findings.add(
                o.fid.max(0) as u64,
                format!("observations row {} has no entry", o.fid),
            );
        }
        if let Some(r) = rejected.next.take() {
            findings.add(
                r.entry_seq.max(0) as u64,
                format!(
                    "rejected_records row {} points at entry {}, which is not in entries",
                    r.id, r.entry_seq
                ),
            );
        }
        if let Some(first) = findings.first_up_to(u64::MAX) {
            return Err(mismatch(first));
        }
        Ok(AuditSummary {
            entries: n,
            root: frontier.root(),
            nodes: expected_nodes,
            observation_rows,
            rejected_rows,
            checkpoints: checkpoints.len() as u64,
            latest_checkpoint_size: checkpoints.last().map(|c| c.size),
            signatures_checked_with: log_key.cloned(),
        })
    }
}

/// Checks each stored checkpoint on its own — its text, its signature, its columns, its origin,
/// that no checkpoint is smaller than an earlier one — and returns what each one's signed text
/// states, for comparing with the tree. A problem is reported at the last seq the checkpoint
/// covers (at seq 0 for a checkpoint of the empty log).
fn check_checkpoints(
    rows: &[crate::log::CheckpointRow],
    log_key: Option<&VerifierKey>,
    findings: &mut Findings,
) -> Vec<SignedCheckpoint> {
    let mut out = Vec::with_capacity(rows.len());
    let mut origin: Option<(String, i64)> = None;
    let mut largest: Option<(u64, i64)> = None;
    for row in rows {
        let label = format!("checkpoint {} (signed {})", row.id, row.created_at);
        let column_size = u64::try_from(row.size).unwrap_or(0);
        let signed = Note::parse(&row.text)
            .map_err(|e| e.to_string())
            .and_then(|note| Checkpoint::parse(&note.text).map_err(|e| e.to_string()));
        let checkpoint = match signed {
            Ok(c) => c,
            Err(e) => {
                findings.add(
                    column_size.saturating_sub(1),
                    format!("{label}: its text is not a signed checkpoint: {e}"),
                );
                continue;
            }
        };
        let at = checkpoint.size.saturating_sub(1);
        if let Some(key) = log_key
            && let Err(e) = verify_checkpoint(&row.text, key)
        {
            findings.add(at, format!("{label}: {e} (log key {key})"));
        }
        if row.size != checkpoint.size as i64 || row.root != checkpoint.root.to_base64() {
            findings.add(
                at,
                format!(
                    "{label}: its columns say size {}, root {} but its signed text says size {}, \
                     root {}",
                    row.size,
                    row.root,
                    checkpoint.size,
                    checkpoint.root.to_base64()
                ),
            );
        }
        match &origin {
            None => origin = Some((checkpoint.origin.clone(), row.id)),
            Some((first, id)) if *first != checkpoint.origin => findings.add(
                at,
                format!(
                    "{label} is of the log {:?}, but checkpoint {id} is of {first:?}",
                    checkpoint.origin
                ),
            ),
            Some(_) => {}
        }
        if let Some((size, id)) = largest
            && checkpoint.size < size
        {
            findings.add(
                checkpoint.size,
                format!(
                    "{label} covers {} entries, fewer than checkpoint {id} ({size}): the log shrank",
                    checkpoint.size
                ),
            );
        }
        if largest.is_none_or(|(size, _)| checkpoint.size >= size) {
            largest = Some((checkpoint.size, row.id));
        }
        out.push(SignedCheckpoint {
            label: format!("{label}, size {}", checkpoint.size),
            size: checkpoint.size,
            root: checkpoint.root,
        });
    }
    out
}

/// Compares an `observations` row with its entry's canonical JSON.
fn check_observation(
    row: &ObservationRow,
    body: &[u8],
    body_sha256: &str,
    differ: &mut dyn FnMut(String),
) {
    let prefix = format!("observations row {}", row.fid);
    if bytes_of(&row.content_sha256).map(hex).as_deref() != Some(body_sha256) {
        differ(format!(
            "{prefix}: content_sha256 is {} but the entry body hashes to {body_sha256}",
            match &row.content_sha256 {
                Value::Blob(b) => format!("{} ({} bytes)", hex(b), b.len()),
                other => show(other),
            }
        ));
    }
    let observation: Observation = match serde_json::from_slice(body) {
        Ok(o) => o,
        Err(e) => return differ(format!("the entry is not an observation: {e}")),
    };
    let place = match observation.validate() {
        Ok(place) => place,
        Err(e) => return differ(format!("the entry is not a valid observation: {}", e.0)),
    };
    let stored = match &row.geom {
        Value::Blob(blob) => read_shape(blob),
        other => Err(format!("it is {}", show(other))),
    };
    match stored {
        Ok(shape) => {
            if let Some(d) = compare_shapes(&shape, &Shape::of(&place)) {
                differ(format!("{prefix}: {d}"));
            }
        }
        Err(e) => differ(format!("{prefix}: the geometry cannot be read: {e}")),
    }
    let props = &observation.properties;
    for (column, value, expected) in [
        ("kind", &row.kind, props.kind.as_str().to_string()),
        (
            "observed_at",
            &row.observed_at,
            gpkg_datetime(&props.observed_at),
        ),
        ("source_id", &row.source_id, props.source.id.clone()),
    ] {
        if !is_text(value, &expected) {
            differ(format!(
                "{prefix}: {column} is {} but the entry has {expected:?}",
                show(value)
            ));
        }
    }
}

/// Compares a `rejected_records` row with the entry that logs it.
fn check_rejected(
    row: &RejectedRow,
    body: &[u8],
    body_sha256: &str,
    differ: &mut dyn FnMut(String),
) {
    let prefix = format!("rejected_records row {}", row.id);
    let text = |v: &Value| match v {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    };
    let (Some(file), Some(locator), Some(raw), Some(reason)) = (
        text(&row.file),
        text(&row.locator),
        text(&row.raw),
        text(&row.reason),
    ) else {
        return differ(format!(
            "{prefix}: file, locator, raw and reason must be text"
        ));
    };
    let raw_sha256 = sha256_hex(raw.as_bytes());
    if !is_text(&row.raw_sha256, &raw_sha256) {
        differ(format!(
            "{prefix}: raw_sha256 is {} but its raw text hashes to {raw_sha256}",
            show(&row.raw_sha256)
        ));
    }
    if rejected_entry_body(&file, &locator, &reason, &raw_sha256).as_bytes() != body {
        differ(format!(
            "{prefix}: its file, locator, reason and raw text ({file} {locator}) do not give the \
             entry body"
        ));
    }
    if !is_text(&row.entry_sha256, body_sha256) {
        differ(format!(
            "{prefix}: entry_sha256 is {} but the entry body hashes to {body_sha256}",
            show(&row.entry_sha256)
        ));
    }
}

/// Rows in the order of a key (an entry seq), read one row ahead, so that they can be merged
/// with the entries.
struct Cursor<'s, T> {
    rows: rusqlite::Rows<'s>,
    read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    key: fn(&T) -> i64,
    next: Option<T>,
}

impl<'s, T> Cursor<'s, T> {
    fn new(
        mut rows: rusqlite::Rows<'s>,
        read: fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
        key: fn(&T) -> i64,
    ) -> rusqlite::Result<Self> {
        let next = rows.next()?.map(read).transpose()?;
        Ok(Self {
            rows,
            read,
            key,
            next,
        })
    }

    /// Every row whose key is `seq` or less (a row keyed below every seq included).
    fn take(&mut self, seq: u64) -> rusqlite::Result<Vec<T>> {
        let mut taken = Vec::new();
        while self
            .next
            .as_ref()
            .is_some_and(|row| (self.key)(row) <= seq as i64)
        {
            taken.extend(self.next.take());
            self.next = self.rows.next()?.map(self.read).transpose()?;
        }
        Ok(taken)
    }
}

fn observation_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ObservationRow> {
    Ok(ObservationRow {
        fid: r.get(0)?,
        geom: r.get(1)?,
        kind: r.get(2)?,
        observed_at: r.get(3)?,
        source_id: r.get(4)?,
        content_sha256: r.get(5)?,
    })
}

fn rejected_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RejectedRow> {
    Ok(RejectedRow {
        id: r.get(0)?,
        entry_seq: r.get(1)?,
        file: r.get(2)?,
        locator: r.get(3)?,
        raw: r.get(4)?,
        raw_sha256: r.get(5)?,
        reason: r.get(6)?,
        entry_sha256: r.get(7)?,
    })
}
