//! The tables derived from the log by the ledger: `incidents`, `incident_observations`,
//! `incident_transitions` and `tasks` (migration 3, `docs/store.md`).
//!
//! They are written from a [`Ledger`] — incrementally (the incidents a batch touched) or all
//! at once (`truce rebuild`) — and every row is a function of the entries alone, so both ways
//! give the same tables. [`GeoPackageStore::derived_digests`] hashes each table's rows in a
//! fixed order (leaving out row ids, which only number rows) so the two can be compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use truce_core::agreement::Severity;
use truce_fusion::ledger::Ledger;

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

/// Which rows to write.
pub enum Which<'a> {
    /// Every table emptied and written again from the ledger.
    All,
    /// Only these incidents and tasks (indices into `Ledger::incidents` and `Ledger::tasks`).
    Touched {
        incidents: &'a [usize],
        tasks: &'a [usize],
    },
}

impl GeoPackageStore {
    /// Appends one decision, mission, response or alert entry (canonical JSON `body`) to the log in its own
    /// transaction with its tree nodes, and returns its seq. The caller signs a checkpoint.
    pub fn append_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, StoreError> {
        assert!(
            matches!(
                kind,
                EntryKind::Decision | EntryKind::Mission | EntryKind::Response | EntryKind::Alert
            ),
            "observations, agreements and rejections have their own writers"
        );
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

    /// Writes the ledger's state into the derived tables in one transaction, and records how
    /// far in the log they now reach.
    pub fn write_derived(
        &mut self,
        ledger: &Ledger<'_>,
        which: Which<'_>,
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StoreError::LogWrite {
                path: path.clone(),
                what: "locking the file to write incidents".into(),
                source: Box::new(e),
            })?;
        write(&tx, ledger, which)
            .and_then(|()| tx.commit().doing("committing the incidents"))
            .map_err(|f| StoreError::LogWrite {
                path,
                what: f.what,
                source: f.source,
            })
    }

    /// The log seq the derived tables were last brought up to (None: never written).
    pub fn derived_through(&self) -> Result<Option<u64>, StoreError> {
        self.conn
            .query_row(
                "SELECT through_seq FROM derived_state WHERE name = 'ledger'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .optional()
            .map(|v| v.flatten().map(|s| s as u64))
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

fn time(t: &DateTime<Utc>) -> String {
    gpkg_datetime(t)
}

fn write(tx: &Transaction<'_>, ledger: &Ledger<'_>, which: Which<'_>) -> Result<(), Failed> {
    let (all, all_tasks): (Vec<usize>, Vec<usize>);
    let (indices, task_indices) = match which {
        Which::All => {
            for (table, _) in DERIVED_TABLES {
                tx.execute(&format!("DELETE FROM {table}"), [])
                    .doing("emptying the derived tables")?;
            }
            all = (0..ledger.incidents().len()).collect();
            all_tasks = (0..ledger.tasks().len()).collect();
            (&all[..], &all_tasks[..])
        }
        Which::Touched { incidents, tasks } => (incidents, tasks),
    };
    let rules = &ledger.engine().agreement().rules;
    let severity_of = |rule: &str| -> Option<Severity> {
        rules.iter().find(|r| r.id == rule).map(|r| r.severity)
    };
    for &k in indices {
        let inc = &ledger.incidents()[k];
        let rec = &ledger.records()[k];
        let fid = to_i64(inc.observation_seqs[0]);
        for table in ["incident_observations", "incident_transitions"] {
            tx.prepare_cached(&format!("DELETE FROM {table} WHERE incident_fid = ?1"))
                .and_then(|mut s| s.execute([fid]))
                .doing("clearing an incident's rows")?;
        }
        let geom = inc.location.map(|p| geometry::point(p).blob);
        let kinds: Vec<&str> = inc.kinds.iter().map(|k| k.as_str()).collect();
        let sources: Vec<&str> = inc.source_kinds.iter().map(|k| k.as_str()).collect();
        let max_severity = inc.breaches.iter().filter_map(|r| severity_of(r)).max();
        let origin = inc.origin.as_ref();
        let suggestion = inc.attribution.as_ref();
        let last_seq = *inc.observation_seqs.last().expect("never empty");
        let updated = rec
            .transitions
            .iter()
            .map(|t| t.entry_seq)
            .chain([last_seq])
            .max()
            .expect("not empty");
        tx.prepare_cached(
            "INSERT OR REPLACE INTO incidents (fid, geom, incident_id, event_group, kinds, state, evidence, \
             confidence, start_at, end_at, radius_m, source_kinds, observations, rules, max_severity, \
             suggested_party, suggestion_basis, attributed_party, origin_lon, origin_lat, \
             ellipse_semi_major_m, ellipse_semi_minor_m, ellipse_azimuth_deg, first_seq, last_seq, updated_seq) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
             ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
        )
        .and_then(|mut s| {
            s.execute(params![
                fid,
                geom,
                inc.id,
                inc.group.name(),
                kinds.join(","),
                rec.state.as_str(),
                inc.state.as_str(),
                inc.confidence,
                time(&inc.start),
                time(&inc.end),
                inc.radius_m,
                sources.join(","),
                inc.observation_seqs.len() as i64,
                inc.breaches.join(","),
                max_severity.map(|s| s.as_str()),
                suggestion.and_then(|s| s.party.as_deref()),
                suggestion.map(|s| s.basis.as_str()),
                rec.attributed_party,
                origin.map(|o| o.point[0]),
                origin.map(|o| o.point[1]),
                origin.map(|o| o.ellipse.semi_major_m),
                origin.map(|o| o.ellipse.semi_minor_m),
                origin.map(|o| o.ellipse.azimuth_deg),
                fid,
                to_i64(last_seq),
                to_i64(updated),
            ])
        })
        .doing("writing an incident")?;
        let mut link = tx
            .prepare_cached(
                "INSERT INTO incident_observations (incident_fid, obs_fid) VALUES (?1, ?2)",
            )
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
        for (i, t) in rec.transitions.iter().enumerate() {
            step.execute(params![
                fid,
                i as i64,
                t.from.map(|s| s.as_str()),
                t.to.as_str(),
                t.action,
                time(&t.at),
                t.actor,
                t.reason,
                to_i64(t.entry_seq),
            ])
            .doing("writing a transition")?;
        }
    }
    write_tasks(tx, ledger, task_indices)?;
    tx.execute(
        "INSERT INTO derived_state (name, through_seq) VALUES ('ledger', ?1) \
         ON CONFLICT (name) DO UPDATE SET through_seq = excluded.through_seq",
        [ledger.through_seq().map(to_i64)],
    )
    .doing("recording how far the derived tables reach")?;
    Ok(())
}

fn write_tasks(tx: &Transaction<'_>, ledger: &Ledger<'_>, which: &[usize]) -> Result<(), Failed> {
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
    // Priority as one sortable number: severity rank, then confidence in thousandths.
    let rank = |s: &str| match s {
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        _ => 0,
    };
    for &t in which {
        let task = &ledger.tasks()[t];
        let priority = rank(&task.severity) * 1000 + (task.confidence * 1000.0).round() as i64;
        stmt.execute(params![
            t as i64 + 1,
            geometry::point(task.location).blob,
            task.id,
            task.incident,
            task.state.as_str(),
            priority,
            task.team,
            task.distance_m,
            time(&task.created_at),
            to_i64(task.created_seq),
            task.assigned_at.as_ref().map(time),
            task.outcome.map(|o| o.as_str()),
            task.outcome_at.as_ref().map(time),
            task.outcome_seq.map(to_i64),
            task.note,
        ])
        .doing("writing a task")?;
    }
    Ok(())
}
