//! The tables derived from the log by the ledger: `incidents`, `incident_observations`,
//! `incident_transitions` and `tasks` (migration 3, `docs/store.md`).
//!
//! They are written from plain rows ([`DerivedRows`]) that the service builds from the
//! ledger's views — incrementally (the incidents a batch touched) or all at once
//! (`truce rebuild`) — and every row is a function of the entries alone, so both ways give the
//! same tables. The store knows nothing of how incidents are fused: it keeps what it is given. [`GeoPackageStore::derived_digests`] hashes each table's rows in a
//! fixed order (leaving out row ids, which only number rows) so the two can be compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use truce_core::LonLat;

use crate::geometry;
use crate::geopackage::{Doing, Failed, gpkg_datetime, to_i64};
use crate::{EntryKind, GeoPackageStore, StoreError};

/// The derived tables, each with the order its rows are hashed in.
pub const DERIVED_TABLES: [(&str, &str); 4] = [
    ("incidents", "fid"),
    ("incident_observations", "incident_fid, obs_fid"),
    ("incident_transitions", "incident_fid, ordinal"),
    ("tasks", "task_id"),
];

/// One row of the `incidents` layer, with its links and history.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRow {
    pub incident_id: String,
    /// The seq of its first observation: the row's `fid` and `first_seq`.
    pub first_seq: u64,
    pub location: Option<LonLat>,
    pub event_group: String,
    pub kinds: Vec<String>,
    /// Lifecycle state (`single_source` … `published`).
    pub state: String,
    /// Fusion's evidence state (`single_source` or `corroborated`).
    pub evidence: String,
    pub confidence: f64,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub radius_m: Option<f64>,
    pub source_kinds: Vec<String>,
    /// Its observations' seqs, sorted.
    pub observation_seqs: Vec<u64>,
    pub rules: Vec<String>,
    pub max_severity: Option<String>,
    pub suggested_party: Option<String>,
    pub suggestion_basis: Option<String>,
    pub attributed_party: Option<String>,
    pub origin: Option<OriginRow>,
    /// The latest entry that changed it.
    pub updated_seq: u64,
    /// How many independent monitoring platforms reported it.
    pub independent_sources: Option<u64>,
    /// Its strike ↔ firing links as a JSON array (`[{"incident","location","party","basis"}]`).
    pub links_json: Option<String>,
    pub transitions: Vec<TransitionRow>,
}

/// A located origin of fire with its 95 % error ellipse.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OriginRow {
    pub point: LonLat,
    pub semi_major_m: f64,
    pub semi_minor_m: f64,
    pub azimuth_deg: f64,
}

/// One step of an incident's history.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    pub from_state: Option<String>,
    pub to_state: String,
    pub action: String,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub reason: String,
    pub entry_seq: u64,
}

/// One row of the `tasks` layer.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    /// 1 + the task's index in order of creation.
    pub fid: u64,
    pub location: LonLat,
    pub task_id: String,
    pub incident_id: String,
    pub state: String,
    /// One sortable number: severity rank × 1000 + confidence in thousandths.
    pub priority: i64,
    pub team: Option<String>,
    pub distance_m: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub created_seq: u64,
    pub assigned_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub outcome_at: Option<DateTime<Utc>>,
    pub outcome_seq: Option<u64>,
    pub note: String,
}

/// What to write into the derived tables in one transaction.
#[derive(Debug, Clone, Default)]
pub struct DerivedRows {
    /// Empty every table first (a rebuild), rather than replace these rows.
    pub replace_all: bool,
    pub incidents: Vec<IncidentRow>,
    pub tasks: Vec<TaskRow>,
    /// The last log entry the rows reflect.
    pub through_seq: Option<u64>,
}

impl GeoPackageStore {
    /// Appends one decision, mission, response, alert or report entry (canonical JSON `body`) to the log in its own
    /// transaction with its tree nodes, and returns its seq. The caller signs a checkpoint.
    pub fn append_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, StoreError> {
        crate::geopackage::assert_record_kind(kind);
        let path = self.path.clone();
        let failed = |f: Failed| StoreError::LogWrite {
            path: path.clone(),
            what: format!("appending a {} entry: {}", kind.as_str(), f.what),
            source: f.source,
        };
        self.write_record(kind, body).map_err(failed)
    }

    fn write_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, Failed> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file for writing")?;
        let mut tree = crate::log::sync_frontier(&tx, &self.frontier)?;
        let seq = tree.size();
        crate::geopackage::append_entry(
            &tx,
            &mut tree,
            seq,
            kind,
            body.as_bytes(),
            &crate::geopackage::sha256_hex(body.as_bytes()),
            truce_log::leaf_hash(body.as_bytes()),
        )
        .doing("appending the entry")?;
        let frontier = tree
            .write(&tx)
            .doing("writing the log's Merkle tree nodes")?;
        tx.commit().doing("committing")?;
        self.frontier = frontier;
        Ok(seq)
    }

    /// Writes `rows` into the derived tables in one transaction, and records how far in the
    /// log they now reach.
    pub fn write_derived(&mut self, rows: &DerivedRows) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::LogWrite {
                path: path.clone(),
                what: "locking the file to write incidents".into(),
                source: Box::new(e),
            })?;
        write(&tx, rows)
            .and_then(|()| tx.commit().doing("committing the incidents"))
            .map_err(|f| StoreError::LogWrite {
                path,
                what: f.what,
                source: f.source,
            })
    }

    /// The log seq the derived tables were last brought up to (None: never written).
    pub fn derived_through(&self) -> Result<Option<u64>, StoreError> {
        through(&self.conn)
            .map(|v| v.map(|s| s as u64))
            .map_err(self.read_failed("derived_state"))
    }

    /// SHA-256 of each derived table's rows in a fixed order (row ids left out), lower-case hex.
    pub fn derived_digests(&self) -> Result<BTreeMap<&'static str, String>, StoreError> {
        let mut out = BTreeMap::new();
        for (table, order) in DERIVED_TABLES {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .map_err(self.read_failed(table))?;
            let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let mut h = Sha256::new();
            let mut rows = stmt.query([]).map_err(self.read_failed(table))?;
            while let Some(row) = rows.next().map_err(self.read_failed(table))? {
                for (i, name) in names.iter().enumerate() {
                    if name == "id" {
                        continue;
                    }
                    let v = row.get_ref(i).map_err(self.read_failed(table))?;
                    match v {
                        ValueRef::Null => h.update([0]),
                        ValueRef::Integer(x) => {
                            h.update([1]);
                            h.update(x.to_be_bytes());
                        }
                        ValueRef::Real(x) => {
                            h.update([2]);
                            h.update(x.to_bits().to_be_bytes());
                        }
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            h.update([3]);
                            h.update((t.len() as u64).to_be_bytes());
                            h.update(t);
                        }
                    }
                }
                h.update([0xff]);
            }
            let digest: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            out.insert(table, digest);
        }
        Ok(out)
    }
}

/// The log seq the derived tables were last brought up to (None: never written).
fn through(conn: &rusqlite::Connection) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT through_seq FROM derived_state WHERE name = 'ledger'",
        [],
        |r| r.get::<_, Option<i64>>(0),
    )
    .optional()
    .map(Option::flatten)
}

fn time(t: &DateTime<Utc>) -> String {
    gpkg_datetime(t)
}

fn write(tx: &Transaction<'_>, rows: &DerivedRows) -> Result<(), Failed> {
    if rows.replace_all {
        for (table, _) in DERIVED_TABLES {
            tx.execute(&format!("DELETE FROM {table}"), [])
                .doing("emptying the derived tables")?;
        }
    }
    // An incident that started after the entry the tables last reached has no rows yet: its
    // links and transitions need no clearing (most of a large ingest's incidents are new).
    let before = through(tx).doing("reading how far the derived tables reach")?;
    for inc in &rows.incidents {
        let new = rows.replace_all || before.is_some_and(|t| to_i64(inc.first_seq) > t);
        write_incident(tx, inc, new)?;
    }
    write_tasks(tx, &rows.tasks)?;
    tx.execute(
        "INSERT INTO derived_state (name, through_seq) VALUES ('ledger', ?1) \
         ON CONFLICT (name) DO UPDATE SET through_seq = excluded.through_seq",
        [rows.through_seq.map(to_i64)],
    )
    .doing("recording how far the derived tables reach")?;
    Ok(())
}

/// Writes one incident's row, links and transitions; `new`: it has none in the tables yet.
fn write_incident(tx: &Transaction<'_>, inc: &IncidentRow, new: bool) -> Result<(), Failed> {
    let fid = to_i64(inc.first_seq);
    let tables: &[&str] = if new {
        &[]
    } else {
        &["incident_observations", "incident_transitions"]
    };
    for table in tables {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE incident_fid = ?1"))
            .and_then(|mut s| s.execute([fid]))
            .doing("clearing an incident's rows")?;
    }
    let geom = inc.location.map(|p| geometry::point(p).blob);
    let origin = inc.origin.as_ref();
    let last_seq = *inc
        .observation_seqs
        .last()
        .expect("an incident has observations");
    tx.prepare_cached(
        "INSERT OR REPLACE INTO incidents (fid, geom, incident_id, event_group, kinds, state, evidence, \
         confidence, start_at, end_at, radius_m, source_kinds, observations, rules, max_severity, \
         suggested_party, suggestion_basis, attributed_party, origin_lon, origin_lat, \
         ellipse_semi_major_m, ellipse_semi_minor_m, ellipse_azimuth_deg, first_seq, last_seq, updated_seq, \
         independent_sources, links) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
         ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
    )
    .and_then(|mut s| {
        s.execute(params![
            fid,
            geom,
            inc.incident_id,
            inc.event_group,
            inc.kinds.join(","),
            inc.state,
            inc.evidence,
            inc.confidence,
            time(&inc.start_at),
            time(&inc.end_at),
            inc.radius_m,
            inc.source_kinds.join(","),
            inc.observation_seqs.len() as i64,
            inc.rules.join(","),
            inc.max_severity,
            inc.suggested_party,
            inc.suggestion_basis,
            inc.attributed_party,
            origin.map(|o| o.point[0]),
            origin.map(|o| o.point[1]),
            origin.map(|o| o.semi_major_m),
            origin.map(|o| o.semi_minor_m),
            origin.map(|o| o.azimuth_deg),
            fid,
            to_i64(last_seq),
            to_i64(inc.updated_seq),
            inc.independent_sources.map(to_i64),
            inc.links_json,
        ])
    })
    .doing("writing an incident")?;
    let mut link = tx
        .prepare_cached("INSERT INTO incident_observations (incident_fid, obs_fid) VALUES (?1, ?2)")
        .doing("preparing the incident links")?;
    for &seq in &inc.observation_seqs {
        link.execute(params![fid, to_i64(seq)])
            .doing("linking an incident to its observations")?;
    }
    let mut step = tx
        .prepare_cached(
            "INSERT INTO incident_transitions (incident_fid, ordinal, from_state, to_state, action, at, \
             actor, reason, entry_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .doing("preparing the transitions")?;
    for (i, t) in inc.transitions.iter().enumerate() {
        step.execute(params![
            fid,
            i as i64,
            t.from_state,
            t.to_state,
            t.action,
            time(&t.at),
            t.actor,
            t.reason,
            to_i64(t.entry_seq),
        ])
        .doing("writing a transition")?;
    }
    Ok(())
}

fn write_tasks(tx: &Transaction<'_>, tasks: &[TaskRow]) -> Result<(), Failed> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO tasks (fid, geom, task_id, incident_id, state, priority, team, distance_m, created_at, \
             created_seq, assigned_at, outcome, outcome_at, outcome_seq, note) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
             ON CONFLICT (fid) DO UPDATE SET task_id = excluded.task_id, geom = excluded.geom, state = excluded.state, \
             priority = excluded.priority, team = excluded.team, distance_m = excluded.distance_m, \
             assigned_at = excluded.assigned_at, outcome = excluded.outcome, outcome_at = excluded.outcome_at, \
             outcome_seq = excluded.outcome_seq, note = excluded.note",
        )
        .doing("preparing the tasks")?;
    for task in tasks {
        stmt.execute(params![
            to_i64(task.fid),
            geometry::point(task.location).blob,
            task.task_id,
            task.incident_id,
            task.state,
            task.priority,
            task.team,
            task.distance_m,
            time(&task.created_at),
            to_i64(task.created_seq),
            task.assigned_at.as_ref().map(time),
            task.outcome,
            task.outcome_at.as_ref().map(time),
            task.outcome_seq.map(to_i64),
            task.note,
        ])
        .doing("writing a task")?;
    }
    Ok(())
}
