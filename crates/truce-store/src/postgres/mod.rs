//! [`PgStore`]: the store in a PostgreSQL/PostGIS database, for a mission that outgrows one
//! file — several analysts' servers on one database, GIS staff querying with SQL (`docs/deploy.md`,
//! the tables in `schema.rs`).
//!
//! The same semantics as the GeoPackage: the `entries` log append-only and dense from 0, each
//! write (a batch, an agreement, a record) one transaction with its Merkle tree nodes, signed
//! checkpoints recorded in `log_checkpoints`, idempotency by content (`content_sha256`),
//! rejected records kept, derived tables rebuildable from the log. Every write transaction
//! first takes a transaction-level advisory lock ([`WRITE_LOCK`]): writers on other
//! connections (other `truce` processes, other replicas) queue there, and each brings its copy
//! of the tree's frontier up to what the database holds before appending, so the log never
//! forks. A checkpoint at a size is refused by trigger when one with another root exists.
//!
//! The client is the synchronous `postgres` crate (sfackler's, over `tokio-postgres`): the
//! store's interface is synchronous, as SQLite's is. It drives its own small runtime, which
//! may not be entered from an async runtime's worker: every call into the client goes through
//! [`blocking`], which steps out of the worker (`tokio::task::block_in_place`) when there is one
//! (`truce serve` calls the store from its handlers, as it calls SQLite).

mod log;
mod schema;
mod write;

use std::cell::{RefCell, RefMut};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use postgres::{Client, NoTls};
use truce_core::agreement::Agreement;
use truce_core::assess::Breach;
use truce_core::observation::{Observation, ObservationKind};
use truce_log::{Frontier, Hash, SignerKey, VerifierKey};

use crate::geopackage::{Doing, Failed, count, hex, to_i64};
use crate::reads::{parse_crossings, parse_severity, parse_source_kind, split_list};
use crate::{
    AgreementInfo, AgreementOutcome, AuditError, AuditSummary, Backend, Batch, BatchOutcome,
    DerivedRows, Entry, EntryKind, LedgerSnapshot, Log, Store, StoreError, StoredAssessment,
    StoredObservation, StoredRejected, Summary, TokenRow, UNATTRIBUTED,
};

pub(crate) use schema::latest_version;

/// The advisory lock every write transaction takes first (`pg_advisory_xact_lock`): the ASCII
/// bytes "truce-lg". One writer appends at a time, whichever process or replica it is.
pub const WRITE_LOCK: i64 = 0x7472_7563_652d_6c67;

/// The session advisory lock the leading `truce serve` replica holds ([`Backend::lead`]): the
/// ASCII bytes "truce-ld".
pub const LEAD_LOCK: i64 = 0x7472_7563_652d_6c64;

/// A Truce store in a PostgreSQL database with PostGIS.
pub struct PgStore {
    /// `None` only while dropping (the connection is closed outside any async worker).
    client: RefCell<Option<Client>>,
    /// The URL as given, less any password: what messages name.
    path: PathBuf,
    /// The right edge of the log's tree as this connection last committed it.
    frontier: Frontier,
    /// This connection holds [`LEAD_LOCK`].
    leading: std::cell::Cell<bool>,
    /// The URL as given (password included), to reconnect after the connection is lost (the
    /// server restarted, a standby promoted). Never shown.
    url: String,
}

/// Runs `f`, which blocks on the PostgreSQL client, outside the async runtime's worker thread
/// it is called on, if any: tokio moves the worker's other tasks elsewhere meanwhile.
pub(crate) fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the connection blocks on the client's runtime too.
        let client = std::mem::replace(&mut self.client, RefCell::new(None));
        blocking(move || drop(client));
    }
}

impl<T> Doing<T> for Result<T, postgres::Error> {
    fn doing(self, what: &str) -> Result<T, Failed> {
        self.map_err(|source| Failed {
            what: what.to_string(),
            source: Box::new(source),
        })
    }
}

/// `url` with the password (between `user:` and `@`) left out, for messages.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}")
        }
        _ => url.to_string(),
    }
}

impl PgStore {
    /// Connects to the database `url` names (`postgres://user@host:port/dbname`, libpq's URL
    /// form), creating the database when it does not exist and the user may, and applies the
    /// migrations it lacks (PostGIS must be installed on the server; the first migration runs
    /// `CREATE EXTENSION IF NOT EXISTS postgis`, which needs a superuser or the extension
    /// already created by one).
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        blocking(|| PgStore::connect(url))
    }

    fn connect(url: &str) -> Result<PgStore, StoreError> {
        let path = PathBuf::from(shown_url(url));
        let opening = |what: &'static str| {
            let path = path.clone();
            move |e: postgres::Error| StoreError::Open {
                path,
                what,
                source: Box::new(e),
            }
        };
        let mut client = match session(url) {
            Ok(c) => c,
            Err(e) if e.code() == Some(&postgres::error::SqlState::INVALID_CATALOG_NAME) => {
                create_database(url).map_err(opening("creating the database"))?;
                session(url).map_err(opening("connecting"))?
            }
            Err(e) => return Err(opening("connecting")(e)),
        };
        migrate(&mut client, &path)?;
        let frontier = {
            let mut tx = client
                .transaction()
                .map_err(opening("reading the log's Merkle tree"))?;
            let f = log::read_frontier(&mut tx).map_err(|f| StoreError::Open {
                path: path.clone(),
                what: "reading the log's Merkle tree",
                source: f.source,
            })?;
            tx.commit().map_err(opening("reading the log's Merkle tree"))?;
            f
        };
        Ok(PgStore {
            client: RefCell::new(Some(client)),
            path,
            frontier,
            leading: std::cell::Cell::new(false),
            url: url.to_string(),
        })
    }

    pub(crate) fn read_failed(&self, what: &str) -> impl FnOnce(postgres::Error) -> StoreError {
        let (path, what) = (self.path.clone(), what.to_string());
        move |e| StoreError::Read {
            path,
            what,
            source: Box::new(e),
        }
    }

    pub(crate) fn corrupt(&self, what: String, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn log_write(&self, f: Failed) -> StoreError {
        StoreError::LogWrite {
            path: self.path.clone(),
            what: f.what,
            source: f.source,
        }
    }

    /// The connection, borrowed for one call; connected again first if it was lost (the call
    /// then fails or succeeds on the new one, and the next write syncs the tree anyway).
    pub(crate) fn conn(&self) -> RefMut<'_, Client> {
        let mut slot = self.client.borrow_mut();
        if slot.as_ref().is_some_and(Client::is_closed) {
            match session(&self.url) {
                Ok(fresh) => {
                    tracing::warn!(db = %self.path.display(), "the database connection was lost; connected again");
                    *slot = Some(fresh);
                    // The leader lock went with the old session.
                    self.leading.set(false);
                }
                Err(e) => tracing::warn!(db = %self.path.display(), error = %e, "the database connection was lost and cannot be made again yet"),
            }
        }
        RefMut::map(slot, |c| {
            c.as_mut().expect("the connection lives until the store is dropped")
        })
    }

    /// Runs `f` with the connection, outside any async worker ([`blocking`]).
    fn with<T>(&self, f: impl FnOnce(&mut Client) -> T) -> T {
        blocking(|| f(&mut self.conn()))
    }

    fn current_agreement(&self) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT hash FROM agreements ORDER BY last_entry_seq DESC LIMIT 1",
                &[],
            )
        })
        .map(|r| r.map(|r| r.get(0)))
        .map_err(self.read_failed("the agreement in force"))
    }
}

/// A session on `url`, PostgreSQL's notices ("already exists, skipping") kept out of the log.
fn session(url: &str) -> Result<Client, postgres::Error> {
    let mut client = Client::connect(url, NoTls)?;
    client.batch_execute("SET client_min_messages TO warning")?;
    Ok(client)
}

/// Creates the database `url` names, connecting to the `postgres` database of the same server.
fn create_database(url: &str) -> Result<(), postgres::Error> {
    let config: postgres::Config = url.parse()?;
    let name = config.get_dbname().unwrap_or("truce").to_string();
    let mut admin = config.clone();
    admin.dbname("postgres");
    let mut client = admin.connect(NoTls)?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    match client.batch_execute(&format!("CREATE DATABASE {quoted}")) {
        // Another process created it meanwhile.
        Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE) => Ok(()),
        other => other,
    }
}

/// Applies every migration newer than the database's, each in its own transaction under the
/// write lock (two processes opening a new database at once apply each once).
fn migrate(client: &mut Client, path: &Path) -> Result<(), StoreError> {
    let known = latest_version();
    for m in schema::PG_MIGRATIONS {
        let failed = |e: postgres::Error| StoreError::Migration {
            path: path.to_path_buf(),
            version: m.version,
            description: m.description,
            source: Box::new(e),
        };
        let mut tx = client.transaction().map_err(failed)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
            .map_err(failed)?;
        tx.batch_execute(schema::VERSION_TABLE_SQL).map_err(failed)?;
        let found: i64 = tx
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM truce_schema_version",
                &[],
            )
            .map_err(failed)?
            .get(0);
        if found > known {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        if found >= m.version {
            continue;
        }
        tx.batch_execute(m.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO truce_schema_version (version, description) VALUES ($1, $2)",
            &[&m.version, &m.description],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

impl Store for PgStore {
    fn put_agreement(
        &mut self,
        agreement: &Agreement,
        received_at: DateTime<Utc>,
    ) -> Result<AgreementOutcome, StoreError> {
        let body = crate::geopackage::checked_agreement_body(&self.path, agreement)?;
        blocking(|| self.write_agreement(agreement, &body, &received_at))
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
        let current = self.current_agreement()?;
        crate::geopackage::check_batch_agreement(&self.path, batch, current)?;
        blocking(|| self.write_batch(batch)).map_err(|f| StoreError::Batch {
            path: self.path.clone(),
            file: batch.file.clone(),
            what: f.what,
            source: f.source,
        })
    }

    fn summary(&self, rejected_shown: usize) -> Result<Summary, StoreError> {
        let agreement = self
            .with(|c| {
                c.query_opt(
                    "SELECT hash, agreement_id, version, title, effective_at FROM agreements \
                     ORDER BY last_entry_seq DESC LIMIT 1",
                    &[],
                )
            })
            .map_err(self.read_failed("the agreement in force"))?
            .map(|r| AgreementInfo {
                hash: r.get(0),
                id: r.get(1),
                version: r.get::<_, i32>(2) as u32,
                title: r.get(3),
                effective_at: r.get(4),
            });
        let counts = self
            .with(|c| {
                c.query_one(
                    "SELECT (SELECT COALESCE(MAX(seq) + 1, 0) FROM entries), \
                     (SELECT COUNT(*) FROM batches), \
                     (SELECT COALESCE(SUM(duplicates), 0)::bigint FROM batches), \
                     (SELECT COUNT(*) FROM rejected_records)",
                    &[],
                )
            })
            .map_err(self.read_failed("the store's counts"))?;
        let mut summary = Summary {
            agreement,
            entries: counts.get::<_, i64>(0) as u64,
            batches: counts.get::<_, i64>(1) as u64,
            observations: 0,
            duplicates: counts.get::<_, i64>(2) as u64,
            observations_by_kind: BTreeMap::new(),
            observations_by_source_kind: BTreeMap::new(),
            breaches: 0,
            breaches_by_rule: BTreeMap::new(),
            breaches_by_party: BTreeMap::new(),
            breaches_by_rule_and_party: BTreeMap::new(),
            rejected: counts.get::<_, i64>(3) as u64,
            first_rejected: Vec::new(),
        };
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT kind, source_kind, COUNT(*) FROM observations GROUP BY kind, source_kind",
                    &[],
                )
            })
            .map_err(self.read_failed("observation counts"))?;
        for r in rows {
            let (kind, source_kind, n): (String, String, i64) = (r.get(0), r.get(1), r.get(2));
            let kind = ObservationKind::parse(&kind).ok_or_else(|| {
                self.corrupt("observations.kind".into(), format!("unknown kind {kind:?}"))
            })?;
            let source_kind = parse_source_kind(&source_kind)
                .map_err(|e| self.corrupt("observations.source_kind".into(), e))?;
            summary.observations += n as u64;
            *summary.observations_by_kind.entry(kind).or_insert(0) += n as u64;
            *summary
                .observations_by_source_kind
                .entry(source_kind)
                .or_insert(0) += n as u64;
        }
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT rule, party, COUNT(*) FROM breaches GROUP BY rule, party",
                    &[],
                )
            })
            .map_err(self.read_failed("breach counts"))?;
        for r in rows {
            let (rule, party, n): (String, Option<String>, i64) = (r.get(0), r.get(1), r.get(2));
            let n = n as u64;
            let party = party.unwrap_or_else(|| UNATTRIBUTED.to_string());
            summary.breaches += n;
            *summary
                .breaches_by_rule_and_party
                .entry(rule.clone())
                .or_default()
                .entry(party.clone())
                .or_insert(0) += n;
            *summary.breaches_by_rule.entry(rule).or_insert(0) += n;
            *summary.breaches_by_party.entry(party).or_insert(0) += n;
        }
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT batch_id, file, locator, raw, reason, received_at, entry_seq \
                     FROM rejected_records ORDER BY id LIMIT $1",
                    &[&count(rejected_shown)],
                )
            })
            .map_err(self.read_failed("rejected records"))?;
        summary.first_rejected = rows
            .iter()
            .map(|r| StoredRejected {
                batch_id: r.get(0),
                file: r.get(1),
                locator: r.get(2),
                raw: r.get(3),
                reason: r.get(4),
                received_at: r.get(5),
                entry_seq: r.get::<_, i64>(6) as u64,
            })
            .collect();
        Ok(summary)
    }

    fn observations(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT o.fid, o.batch_id, o.locator, o.content_sha256, e.body, b.agreement_hash, \
                     o.party_area, o.distance_to_line_m, o.zones, o.crossings \
                     FROM observations o JOIN entries e ON e.seq = o.fid JOIN batches b ON b.id = o.batch_id \
                     WHERE o.fid >= $1 ORDER BY o.fid LIMIT $2",
                    &[&to_i64(from_seq), &count(limit)],
                )
            })
            .map_err(self.read_failed("observations"))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for r in rows {
            let fid: i64 = r.get(0);
            let what = || format!("observation {fid}");
            let body: Vec<u8> = r.get(4);
            let observation: Observation = serde_json::from_slice(&body)
                .map_err(|e| self.corrupt(what(), format!("body: {e}")))?;
            let crossings = match r.get::<_, Option<String>>(9) {
                Some(text) => parse_crossings(&text).map_err(|e| self.corrupt(what(), e))?,
                None => Vec::new(),
            };
            let zones: String = r.get(8);
            index.insert(fid, out.len());
            out.push(StoredObservation {
                seq: fid as u64,
                batch_id: r.get(1),
                locator: r.get(2),
                content_sha256: hex(&r.get::<_, Vec<u8>>(3)),
                observation,
                assessment: StoredAssessment {
                    agreement_hash: r.get(5),
                    party_area: r.get(6),
                    distance_to_line_m: r.get(7),
                    zones: split_list(&zones),
                    crossings,
                    breaches: Vec::new(),
                },
            });
        }
        let (Some(first), Some(last)) = (out.first(), out.last()) else {
            return Ok(out);
        };
        let (first, last) = (to_i64(first.seq), to_i64(last.seq));
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT obs_fid, rule, severity, party, basis, detail, certain FROM breaches \
                     WHERE obs_fid BETWEEN $1 AND $2 ORDER BY fid",
                    &[&first, &last],
                )
            })
            .map_err(self.read_failed("breaches"))?;
        for r in rows {
            let obs_fid: i64 = r.get(0);
            let severity = parse_severity(r.get(2))
                .map_err(|e| self.corrupt(format!("breach of {obs_fid}"), e))?;
            let Some(&i) = index.get(&obs_fid) else {
                return Err(self.corrupt(
                    format!("breach of {obs_fid}"),
                    "names an observation that is not stored",
                ));
            };
            out[i].assessment.breaches.push(Breach {
                rule: r.get(1),
                severity,
                party: r.get(3),
                basis: r.get(4),
                detail: r.get(5),
                certain: r.get(6),
            });
        }
        Ok(out)
    }

    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let rows = self
            .with(|c| {
                c.query(
                    "SELECT seq, kind, body, sha256 FROM entries WHERE seq >= $1 ORDER BY seq LIMIT $2",
                    &[&to_i64(from_seq), &count(limit)],
                )
            })
            .map_err(self.read_failed("entries"))?;
        rows.iter().map(|r| self.entry_of(r)).collect()
    }
}

impl PgStore {
    /// An `entries` row (seq, kind, body, sha256) as an [`Entry`].
    pub(crate) fn entry_of(&self, r: &postgres::Row) -> Result<Entry, StoreError> {
        let seq = r.get::<_, i64>(0) as u64;
        let kind: String = r.get(1);
        let kind = EntryKind::parse(&kind)
            .ok_or_else(|| self.corrupt(format!("entry {seq}"), format!("unknown kind {kind:?}")))?;
        Ok(Entry {
            seq,
            kind,
            body: r.get(2),
            sha256: r.get(3),
        })
    }
}

impl Backend for PgStore {
    fn path(&self) -> &Path {
        &self.path
    }

    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn schema_version(&self) -> Result<i64, StoreError> {
        self.with(|c| {
            c.query_one(
                "SELECT COALESCE(MAX(version), 0) FROM truce_schema_version",
                &[],
            )
        })
        .map(|r| r.get(0))
        .map_err(self.read_failed("truce_schema_version"))
    }

    fn check_signer(&self, key: &SignerKey) -> Result<(), StoreError> {
        match self.latest_checkpoint()? {
            Some(latest) => match crate::log::wrong_key(&latest.text, latest.id, key) {
                Some(reason) => Err(StoreError::LogRequest {
                    path: self.path.clone(),
                    reason,
                }),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    fn append_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, StoreError> {
        crate::geopackage::assert_record_kind(kind);
        blocking(|| self.write_record(kind, body)).map_err(|f| StoreError::LogWrite {
            path: self.path.clone(),
            what: format!("appending a {} entry: {}", kind.as_str(), f.what),
            source: f.source,
        })
    }

    fn write_derived(&mut self, rows: &DerivedRows) -> Result<(), StoreError> {
        blocking(|| self.write_derived_rows(rows)).map_err(|f| self.log_write(f))
    }

    fn derived_through(&self) -> Result<Option<u64>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT through_seq FROM derived_state WHERE name = 'ledger'",
                &[],
            )
        })
        .map(|r| r.and_then(|r| r.get::<_, Option<i64>>(0)).map(|s| s as u64))
        .map_err(self.read_failed("derived_state"))
    }

    fn derived_digests(&self) -> Result<BTreeMap<&'static str, String>, StoreError> {
        use sha2::{Digest, Sha256};
        let mut out = BTreeMap::new();
        for (table, order) in crate::DERIVED_TABLES {
            // Each row as text, ids left out: the same rows give the same digest.
            let sql = format!(
                "SELECT (to_jsonb(t) - 'id')::text FROM {table} t ORDER BY {order}"
            );
            let rows = self
                .with(|c| c.query(&sql, &[]))
                .map_err(self.read_failed(table))?;
            let mut h = Sha256::new();
            for r in rows {
                h.update(r.get::<_, String>(0).as_bytes());
                h.update([0xff]);
            }
            out.insert(table, hex(&h.finalize()));
        }
        Ok(out)
    }

    fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        self.root_at_size(size)
    }

    fn last_agreement_before(&self, size: u64) -> Result<Option<u64>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT seq FROM entries WHERE kind = 'agreement' AND seq < $1 ORDER BY seq DESC LIMIT 1",
                &[&to_i64(size)],
            )
        })
        .map(|r| r.map(|r| r.get::<_, i64>(0) as u64))
        .map_err(self.read_failed("the last agreement entry"))
    }

    fn put_ledger_snapshot(&mut self, size: u64, state: &[u8]) -> Result<(), StoreError> {
        use sha2::{Digest, Sha256};
        let root = self.root_at_size(size)?;
        let digest: [u8; 32] = Sha256::digest(state).into();
        let root = root.as_bytes().to_vec();
        self.with(|c| -> Result<(), Failed> {
            let mut tx = c.transaction().doing("starting the ledger snapshot")?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .doing("waiting for the write lock")?;
            tx.execute("DELETE FROM ledger_snapshots", &[])
                .doing("removing the older ledger snapshot")?;
            tx.execute(
                "INSERT INTO ledger_snapshots (size, root, sha256, state) VALUES ($1, $2, $3, $4)",
                &[&to_i64(size), &root, &&digest[..], &state],
            )
            .doing("writing the ledger snapshot")?;
            tx.commit().doing("committing the ledger snapshot")
        })
        .map_err(|f| self.log_write(f))
    }

    fn ledger_snapshot(&self) -> Result<Result<LedgerSnapshot, String>, StoreError> {
        let row = self
            .with(|c| {
                c.query_opt(
                    "SELECT size, root, sha256, state FROM ledger_snapshots ORDER BY size DESC LIMIT 1",
                    &[],
                )
            })
            .map_err(self.read_failed("ledger_snapshots"))?;
        let Some(row) = row else {
            return Ok(Err("no ledger snapshot".into()));
        };
        crate::snapshots::checked_snapshot(
            (row.get(0), row.get(1), row.get(2), row.get(3)),
            self.log_size()?,
            |n| self.root_at_size(n),
        )
    }

    fn report_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT seq, body FROM entries WHERE kind = 'report' ORDER BY seq",
                &[],
            )
        })
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
                .collect()
        })
        .map_err(self.read_failed("entries"))
    }

    fn create_token(
        &mut self,
        name: &str,
        role: &str,
        token_sha256: &str,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let at = crate::geopackage::gpkg_datetime(&at);
        self.with(|c| {
            c.query_one(
                "INSERT INTO api_tokens (name, role, token_sha256, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
                &[&name, &role, &token_sha256, &at],
            )
        })
        .map(|r| r.get(0))
        .map_err(|e| StoreError::LogWrite {
            path: self.path.clone(),
            what: "recording a token".into(),
            source: Box::new(e),
        })
    }

    fn revoke_token(&mut self, id: i64, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let at = crate::geopackage::gpkg_datetime(&at);
        self.with(|c| {
            c.execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &at],
            )
        })
        .map(|n| n == 1)
        .map_err(|e| StoreError::LogWrite {
            path: self.path.clone(),
            what: "revoking a token".into(),
            source: Box::new(e),
        })
    }

    fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.with(|c| {
            c.query(
                "SELECT id, name, role, token_sha256, created_at, revoked_at FROM api_tokens ORDER BY id",
                &[],
            )
        })
        .map(|rows| rows.iter().map(token_row).collect())
        .map_err(self.read_failed("api_tokens"))
    }

    fn live_token(&self, token_sha256: &str) -> Result<Option<TokenRow>, StoreError> {
        self.with(|c| {
            c.query_opt(
                "SELECT id, name, role, token_sha256, created_at, revoked_at FROM api_tokens \
                 WHERE token_sha256 = $1 AND revoked_at IS NULL",
                &[&token_sha256],
            )
        })
        .map(|r| r.as_ref().map(token_row))
        .map_err(self.read_failed("api_tokens"))
    }

    fn audit(&self, log_key: Option<&VerifierKey>) -> Result<AuditSummary, AuditError> {
        self.audit_log(log_key)
    }

    fn lead(&mut self) -> Result<bool, StoreError> {
        if !self.leading.get() {
            let got: bool = self
                .with(|c| c.query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK]))
                .map_err(self.read_failed("the leader lock"))?
                .get(0);
            self.leading.set(got);
        }
        Ok(self.leading.get())
    }
}

fn token_row(r: &postgres::Row) -> TokenRow {
    TokenRow {
        id: r.get(0),
        name: r.get(1),
        role: r.get(2),
        token_sha256: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
    }
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_url_is_shown_without_its_password() {
        assert_eq!(
            shown_url("postgres://truce:s3cret@db.hq:5432/mission"),
            "postgres://truce@db.hq:5432/mission"
        );
        assert_eq!(
            shown_url("postgres://truce@db.hq/mission"),
            "postgres://truce@db.hq/mission"
        );
        assert_eq!(shown_url("mission.gpkg"), "mission.gpkg");
    }
}
