//! [`GeoPackageStore`]: the [`Store`] as one SQLite file that is an OGC GeoPackage 1.3.
//!
//! The file holds GeoPackage's own tables (so QGIS and GDAL read it as map layers), Truce's
//! layers and tables, and the `entries` log (see [`crate::schema`] and `docs/store.md`). One
//! connection, in WAL mode so that readers (QGIS, `ogrinfo`) never block an ingest; every
//! change is one `BEGIN IMMEDIATE` transaction, committed without a per-row fsync
//! (`synchronous=NORMAL`: WAL syncs at checkpoints).
//!
//! The hot path is [`Store::append_batch`]: per observation it serialises the canonical JSON
//! once (the entry body, the `body` column, the `content_sha256` key and the entry's Merkle leaf
//! hash all come from it), encodes the geometry once with its envelope, and runs a handful of
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

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use truce_core::agreement::{Agreement, Severity, ZoneExtent};
use truce_core::assess::{Breach, LineCrossing};
use truce_core::canonical::{canonical_value, to_canonical_json};
use truce_core::observation::{Observation, ObservationKind, Reliability, SourceKind};
use truce_log::{Frontier, Hash, leaf_hash};

use crate::BoxError;
use crate::geometry::{self, Envelope, GpkgGeometry, HeaderExtent};
use crate::log::{self, TreeAppend};
use crate::schema::{GPKG_APPLICATION_ID, MIGRATIONS, VERSION_TABLE_SQL, latest_version};
use crate::{
    Accepted, AgreementInfo, AgreementOutcome, Batch, BatchOutcome, Entry, EntryKind,
    RejectedRecord, Store, StoreError, StoredAssessment, StoredObservation, StoredRejected,
    Summary, UNATTRIBUTED,
};

/// How long a write waits for another connection's lock (a second ingest, or QGIS reading
/// while a WAL checkpoint runs) before failing: long enough to ride out a checkpoint of a
/// large WAL, short enough that a stuck lock is reported rather than hung on.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite page cache, in KiB. The `content_sha256` unique index takes random inserts, about
/// 100 MiB of it at a million observations; with SQLite's default 2 MiB cache its pages keep
/// going back to the OS (measured at a million: a third more system time, 5% more CPU in all).
/// 64 MiB keeps its upper levels and the tables' right edges resident.
const PAGE_CACHE_KIB: i64 = 64 * 1024;

/// Observations serialised and encoded per step of the pipeline that feeds the inserts: small
/// enough that the inserts start at once, large enough that handing a chunk over costs nothing.
/// A batch no larger is prepared in line, sparing a thread for a batch of a few records.
const PREPARE_CHUNK: usize = 1024;

/// Chunks prepared ahead of the inserts: bounds the memory a large file holds (a chunk is
/// about a MiB) while the preparing thread stays ahead.
const PREPARED_AHEAD: usize = 2;

/// Prepared statements kept compiled: the batch path uses about a dozen, the reads a few more.
const STATEMENT_CACHE_CAPACITY: usize = 32;

/// The layers an agreement provides, replaced together.
const AGREEMENT_LAYERS: [&str; 4] = ["contact_line", "party_areas", "zones", "storage_sites"];

/// The Truce store in a GeoPackage file.
pub struct GeoPackageStore {
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

impl GeoPackageStore {
    /// Opens the store at `path`, creating a new GeoPackage if the file does not exist (or is
    /// empty), and applies any schema migrations the file lacks. Refuses an SQLite file that is
    /// not a GeoPackage, and a GeoPackage that is not a Truce store.
    pub fn open(path: impl AsRef<Path>) -> Result<GeoPackageStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let failed = |what: &'static str| {
            let path = path.clone();
            move |e: rusqlite::Error| StoreError::Open {
                path,
                what,
                source: Box::new(e),
            }
        };
        let mut conn = Connection::open(&path).map_err(failed("opening the SQLite file"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(failed("setting the busy timeout"))?;
        register_gpkg_functions(&conn)
            .map_err(failed("registering the GeoPackage ST_* functions"))?;
        let application_id: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(failed("reading the application id"))?;
        let (tables, truce): (i64, i64) = conn
            .query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE name = 'truce_schema_version') FROM sqlite_master",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(failed("listing the tables"))?;
        if tables > 0 && application_id != GPKG_APPLICATION_ID {
            return Err(StoreError::NotGeoPackage {
                path,
                application_id,
            });
        }
        if tables > 0 && truce == 0 {
            return Err(StoreError::NotTruceStore { path });
        }
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(failed("switching to WAL journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                path,
                what: "switching to WAL journal mode",
                source: format!("SQLite kept journal mode {mode:?}").into(),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(failed("setting synchronous=NORMAL"))?;
        conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
            .map_err(failed("sizing the page cache"))?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(failed("keeping statement journals in memory"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(failed("enforcing foreign keys"))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
        migrate(&mut conn, &path)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
            false,
        )
        .map_err(failed(
            "turning triggers off for the store's own connection",
        ))?;
        let frontier = log::open_frontier(&mut conn).map_err(|f| StoreError::Open {
            path: path.clone(),
            what: "building the log's Merkle tree over the entries",
            source: f.source,
        })?;
        Ok(GeoPackageStore {
            conn,
            path,
            frontier,
        })
    }

    /// The file this store is in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The Truce schema version of the file (the last migration applied).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM truce_schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(self.read_failed("the schema version"))
    }

    pub(crate) fn read_failed(&self, what: &str) -> impl FnOnce(rusqlite::Error) -> StoreError {
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
}

/// Applies every migration newer than the file's schema, in order, in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let failed = |what: &'static str| {
        move |e: rusqlite::Error| StoreError::Open {
            path: path.to_path_buf(),
            what,
            source: Box::new(e),
        }
    };
    // Foreign keys are off while migrating: SQLite's procedure for rebuilding a table that
    // others reference, as migration 3 does with `entries` (its rows are copied verbatim, so
    // every reference that held before holds after; a tampered file stays openable for audit).
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(failed("pausing foreign keys for the migrations"))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed("locking the file to check its schema"))?;
    tx.execute_batch(VERSION_TABLE_SQL)
        .map_err(failed("creating truce_schema_version"))?;
    let found: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM truce_schema_version",
            [],
            |r| r.get(0),
        )
        .map_err(failed("reading the schema version"))?;
    if found > latest_version() {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known: latest_version(),
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        tx.execute_batch(m.sql)
            .and_then(|()| {
                tx.execute(
                    "INSERT INTO truce_schema_version (version, description) VALUES (?1, ?2)",
                    params![m.version, m.description],
                )
            })
            .map_err(|e| StoreError::Migration {
                path: path.to_path_buf(),
                version: m.version,
                description: m.description,
                source: Box::new(e),
            })?;
    }
    tx.commit()
        .map_err(failed("committing the schema migrations"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(failed("enforcing foreign keys"))
}

/// One side of an envelope, as an `ST_Min*`/`ST_Max*` function returns it.
type EnvelopeSide = fn(&Envelope) -> f64;

/// Registers `ST_IsEmpty` and `ST_MinX` … `ST_MaxY`, which the GeoPackage R-tree triggers
/// call (and the store's own batch indexing). They read the envelope from the BLOB's header.
fn register_gpkg_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS;
    conn.create_scalar_function("ST_IsEmpty", 1, flags, |ctx| {
        Ok(header_extent(ctx)?.map(|h| h == HeaderExtent::Empty))
    })?;
    let sides: [(&str, EnvelopeSide); 4] = [
        ("ST_MinX", |e| e.min_x),
        ("ST_MaxX", |e| e.max_x),
        ("ST_MinY", |e| e.min_y),
        ("ST_MaxY", |e| e.max_y),
    ];
    for (name, side) in sides {
        conn.create_scalar_function(name, 1, flags, move |ctx| {
            Ok(match header_extent(ctx)? {
                Some(HeaderExtent::Envelope(e)) => Some(side(&e)),
                _ => None,
            })
        })?;
    }
    Ok(())
}

fn header_extent(ctx: &Context<'_>) -> rusqlite::Result<Option<HeaderExtent>> {
    match ctx.get_raw(0) {
        ValueRef::Null => Ok(None),
        ValueRef::Blob(blob) => geometry::header_extent(blob)
            .map(Some)
            .map_err(|reason| rusqlite::Error::UserFunctionError(reason.into())),
        _ => Err(rusqlite::Error::UserFunctionError(
            "ST_* functions take a GeoPackage geometry BLOB".into(),
        )),
    }
}

/// Lower-case hex SHA-256.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 0x0f)] as char);
    }
    s
}

/// A time as GeoPackage's DATETIME: ISO 8601 in UTC with milliseconds.
pub(crate) fn gpkg_datetime(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn reliability_str(r: Reliability) -> &'static str {
    match r {
        Reliability::A => "A",
        Reliability::B => "B",
        Reliability::C => "C",
        Reliability::D => "D",
        Reliability::E => "E",
        Reliability::F => "F",
    }
}

pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count or limit as SQLite's integer.
fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The next entry seq: dense from 0.
pub(crate) fn next_seq(conn: &Connection) -> rusqlite::Result<u64> {
    conn.prepare_cached("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries")?
        .query_row([], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

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
    tx.prepare_cached("INSERT INTO entries (seq, kind, body, sha256) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![to_i64(seq), kind.as_str(), body, sha256])?;
    tree.append(leaf);
    Ok(())
}

fn current_agreement(tx: &Connection) -> rusqlite::Result<Option<String>> {
    tx.prepare_cached("SELECT hash FROM agreements ORDER BY last_entry_seq DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()
}

/// Sets a layer's extent in `gpkg_contents` (NULL when empty) and stamps its last change.
fn set_extent(
    tx: &Transaction<'_>,
    table: &str,
    e: &Envelope,
    stamp: &str,
) -> rusqlite::Result<()> {
    let v = |x: f64| (!e.is_empty()).then_some(x);
    tx.prepare_cached(
        "UPDATE gpkg_contents SET min_x = ?1, max_x = ?2, min_y = ?3, max_y = ?4, last_change = ?5 WHERE table_name = ?6",
    )?
    .execute(params![v(e.min_x), v(e.max_x), v(e.min_y), v(e.max_y), stamp, table])
    .map(drop)
}

/// Widens a layer's extent in `gpkg_contents` to cover `e`.
fn widen_extent(tx: &Transaction<'_>, table: &str, e: &Envelope) -> rusqlite::Result<()> {
    if e.is_empty() {
        return Ok(());
    }
    tx.prepare_cached(
        "UPDATE gpkg_contents SET min_x = MIN(COALESCE(min_x, ?1), ?1), max_x = MAX(COALESCE(max_x, ?2), ?2), \
         min_y = MIN(COALESCE(min_y, ?3), ?3), max_y = MAX(COALESCE(max_y, ?4), ?4) WHERE table_name = ?5",
    )?
    .execute(params![e.min_x, e.max_x, e.min_y, e.max_y, table])
    .map(drop)
}

/// Stamps a table's `gpkg_contents.last_change`, never moving it back.
fn touch(tx: &Transaction<'_>, table: &str, stamp: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE gpkg_contents SET last_change = MAX(last_change, ?1) WHERE table_name = ?2",
    )?
    .execute(params![stamp, table])
    .map(drop)
}

/// The body of a `rejected` entry: canonical JSON of the file, the record's locator, the reason
/// and the SHA-256 of the raw record text (the text itself stays out of the log).
pub(crate) fn rejected_entry_body(
    file: &str,
    locator: &str,
    reason: &str,
    raw_sha256: &str,
) -> String {
    canonical_value(&serde_json::json!({
        "file": file,
        "locator": locator,
        "reason": reason,
        "raw_sha256": raw_sha256,
    }))
}

/// Everything about one accepted observation that can be computed before touching the file.
struct Prepared<'a> {
    accepted: &'a Accepted,
    /// Canonical JSON: the entry body, the `body` column, and what `sha256` is of.
    body: String,
    sha256: String,
    /// The body's RFC 6962 leaf hash in the log's Merkle tree.
    leaf: Hash,
    geom: GpkgGeometry,
    assessed_at: GpkgGeometry,
    observed_at: String,
    zones: String,
    crossings: Option<String>,
    max_severity: Option<&'static str>,
}

impl<'a> Prepared<'a> {
    fn new(accepted: &'a Accepted) -> Prepared<'a> {
        let body = to_canonical_json(&accepted.observation);
        let sha256 = sha256_hex(body.as_bytes());
        let leaf = leaf_hash(body.as_bytes());
        let a = &accepted.assessment;
        Prepared {
            accepted,
            sha256,
            leaf,
            body,
            geom: geometry::place(&accepted.place),
            assessed_at: geometry::point(accepted.place.assessed_point()),
            observed_at: gpkg_datetime(&accepted.observation.properties.observed_at),
            zones: a.zones.join(","),
            crossings: (!a.crossings.is_empty()).then(|| to_canonical_json(&a.crossings)),
            max_severity: a
                .breaches
                .iter()
                .map(|b| b.severity)
                .max()
                .map(Severity::as_str),
        }
    }

    fn name(&self) -> String {
        let o = &self.accepted.observation;
        match o.id.as_deref().or(o.properties.source_record.as_deref()) {
            Some(id) => format!("observation {id} ({})", self.accepted.locator),
            None => format!("observation at {}", self.accepted.locator),
        }
    }
}

/// Observations a batch stored per source, for the `sources` table.
struct SourceTally<'a> {
    kind: SourceKind,
    reliability: Reliability,
    party: Option<&'a str>,
    observations: i64,
    first_seq: u64,
    last_seq: u64,
}

/// What a batch has written so far.
#[derive(Default)]
struct Progress {
    accepted: usize,
    duplicates: usize,
    breaches: usize,
    first_seq: Option<u64>,
    geom_extent: Envelope,
    point_extent: Envelope,
}

impl GeoPackageStore {
    /// Stores an observation as the next entry (`tree.size()`) unless its content is stored
    /// already. Returns whether it took that seq.
    fn store_observation<'a>(
        tx: &Transaction<'_>,
        tree: &mut TreeAppend,
        p: &Prepared<'a>,
        batch_id: i64,
        agreement_hash: &str,
        progress: &mut Progress,
        sources: &mut BTreeMap<&'a str, SourceTally<'a>>,
    ) -> Result<bool, Failed> {
        let seq = tree.size();
        let o: &'a Observation = &p.accepted.observation;
        let props = &o.properties;
        let a = &p.accepted.assessment;
        let failed = |table: &str| {
            let what = format!("storing {} in {table}", p.name());
            move |source| Failed {
                what,
                source: Box::new(source),
            }
        };
        let inserted = tx
            .prepare_cached(
                "INSERT INTO observations (fid, geom, entry_seq, obs_id, kind, observed_at, time_uncertainty_s, \
                 source_id, source_kind, reliability, credibility, error_radius_m, bearing_deg, weapon_class, \
                 weapon_count, affiliation, source_record, remarks, party_area, distance_to_line_m, zones, \
                 breach_count, max_severity, content_sha256, batch_id, locator, body) \
                 VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
                 ?20, ?21, ?22, ?23, ?24, ?25, ?26) \
                 ON CONFLICT (content_sha256) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(seq),
                    p.geom.blob,
                    o.id,
                    props.kind.as_str(),
                    p.observed_at,
                    props.time_uncertainty_s,
                    props.source.id,
                    props.source.kind.as_str(),
                    reliability_str(props.source.reliability),
                    props.source.credibility,
                    props.error_radius_m,
                    props.bearing.as_ref().map(|b| b.azimuth_deg),
                    props.weapon.as_ref().map(|w| w.class.as_str()),
                    props.weapon.as_ref().map(|w| w.count),
                    props.affiliation,
                    props.source_record,
                    props.remarks,
                    a.party_area,
                    a.distance_to_line_m,
                    p.zones,
                    count(a.breaches.len()),
                    p.max_severity,
                    p.sha256,
                    batch_id,
                    p.accepted.locator,
                    p.body,
                ])
            })
            .map_err(failed("observations"))?;
        if inserted == 0 {
            progress.duplicates += 1;
            return Ok(false);
        }
        append_entry(
            tx,
            tree,
            seq,
            EntryKind::Observation,
            p.body.as_bytes(),
            &p.sha256,
            p.leaf,
        )
        .map_err(failed("entries"))?;
        tx.prepare_cached(
            "INSERT INTO assessments (fid, geom, obs_id, party_area, distance_to_line_m, zones, crossings, \
             breach_count, max_severity, agreement_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .and_then(|mut s| {
            s.execute(params![
                to_i64(seq),
                p.assessed_at.blob,
                o.id,
                a.party_area,
                a.distance_to_line_m,
                p.zones,
                p.crossings,
                count(a.breaches.len()),
                p.max_severity,
                agreement_hash,
            ])
        })
        .map_err(failed("assessments"))?;
        if !a.breaches.is_empty() {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO breaches (obs_fid, rule, severity, party, basis, detail, certain) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(failed("breaches"))?;
            for b in &a.breaches {
                insert
                    .execute(params![
                        to_i64(seq),
                        b.rule,
                        b.severity.as_str(),
                        b.party,
                        b.basis,
                        b.detail,
                        b.certain
                    ])
                    .map_err(failed("breaches"))?;
            }
            progress.breaches += a.breaches.len();
        }
        progress.accepted += 1;
        progress.first_seq.get_or_insert(seq);
        progress.geom_extent.merge(&p.geom.envelope);
        progress.point_extent.merge(&p.assessed_at.envelope);
        let tally = sources
            .entry(props.source.id.as_str())
            .or_insert(SourceTally {
                kind: props.source.kind,
                reliability: props.source.reliability,
                party: props.source.party.as_deref(),
                observations: 0,
                first_seq: seq,
                last_seq: seq,
            });
        tally.kind = props.source.kind;
        tally.reliability = props.source.reliability;
        tally.party = props.source.party.as_deref();
        tally.observations += 1;
        tally.last_seq = seq;
        Ok(true)
    }

    /// Keeps a rejected record; logs it as entry `seq` unless the same rejection (same file,
    /// locator, reason and raw text) is already logged. Returns whether it took `seq`.
    fn store_rejected(
        tx: &Transaction<'_>,
        tree: &mut TreeAppend,
        batch: &Batch,
        r: &RejectedRecord,
        seq: u64,
        batch_id: i64,
        stamp: &str,
    ) -> Result<bool, Failed> {
        let failed = |table: &str| {
            let what = format!("storing the rejected record at {} in {table}", r.locator);
            move |source| Failed {
                what,
                source: Box::new(source),
            }
        };
        let raw_sha256 = sha256_hex(r.raw.as_bytes());
        let body = rejected_entry_body(&batch.file, &r.locator, &r.reason, &raw_sha256);
        let entry_sha256 = sha256_hex(body.as_bytes());
        let logged: Option<i64> = tx
            .prepare_cached(
                "SELECT entry_seq FROM rejected_records WHERE entry_sha256 = ?1 LIMIT 1",
            )
            .and_then(|mut s| s.query_row([&entry_sha256], |row| row.get(0)).optional())
            .map_err(failed("rejected_records"))?;
        let entry_seq = match logged {
            Some(logged) => logged,
            None => {
                append_entry(
                    tx,
                    tree,
                    seq,
                    EntryKind::Rejected,
                    body.as_bytes(),
                    &entry_sha256,
                    leaf_hash(body.as_bytes()),
                )
                .map_err(failed("entries"))?;
                to_i64(seq)
            }
        };
        tx.prepare_cached(
            "INSERT INTO rejected_records (batch_id, file, locator, raw, raw_sha256, reason, received_at, \
             entry_seq, entry_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut s| {
            s.execute(params![
                batch_id,
                batch.file,
                r.locator,
                r.raw,
                raw_sha256,
                r.reason,
                stamp,
                entry_seq,
                entry_sha256
            ])
        })
        .map_err(failed("rejected_records"))?;
        Ok(logged.is_none())
    }

    fn write_batch<'b>(&mut self, batch: &'b Batch) -> Result<BatchOutcome, Failed> {
        let stamp = gpkg_datetime(&batch.received_at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file for writing")?;
        let mut tree = log::sync_frontier(&tx, &self.frontier)?;
        let mut seq = tree.size();
        tx.prepare_cached(
            "INSERT INTO batches (file, format, agreement_hash, received_at, accepted, duplicates, rejected) \
             VALUES (?1, ?2, ?3, ?4, 0, 0, 0)",
        )
        .and_then(|mut s| s.execute(params![batch.file, batch.format, batch.agreement_hash, stamp]))
        .doing("recording the batch")?;
        let batch_id = tx.last_insert_rowid();

        let mut progress = Progress::default();
        let mut sources = BTreeMap::new();
        // Each accepted observation's entry seq, and whether this batch stored it.
        let mut placed: Vec<(u64, bool)> = vec![(0, false); batch.accepted.len()];
        {
            let mut insert = |chunk: &[(usize, Prepared<'b>)]| -> Result<(), Failed> {
                for (i, p) in chunk {
                    let agreement = &batch.agreement_hash;
                    if Self::store_observation(
                        &tx,
                        &mut tree,
                        p,
                        batch_id,
                        agreement,
                        &mut progress,
                        &mut sources,
                    )? {
                        placed[*i] = (seq, true);
                        seq += 1;
                    } else {
                        let at: i64 = tx
                            .prepare_cached(
                                "SELECT fid FROM observations WHERE content_sha256 = ?1",
                            )
                            .and_then(|mut s| s.query_row([&p.sha256], |r| r.get(0)))
                            .doing("finding the stored copy of a duplicate")?;
                        placed[*i] = (at as u64, false);
                    }
                }
                Ok(())
            };
            let order = canonical_order(&batch.accepted);
            let prepare = |i: usize| (i, Prepared::new(&batch.accepted[i]));
            if batch.accepted.len() <= PREPARE_CHUNK {
                insert(&order.iter().map(|&i| prepare(i)).collect::<Vec<_>>())?;
            } else {
                // One thread serialises and encodes while this one inserts: the inserts are
                // the slower half, so they never wait after the first chunk.
                std::thread::scope(|scope| {
                    let (ready, prepared) = std::sync::mpsc::sync_channel(PREPARED_AHEAD);
                    scope.spawn(move || {
                        for chunk in order.chunks(PREPARE_CHUNK) {
                            let chunk: Vec<(usize, Prepared<'_>)> =
                                chunk.iter().map(|&i| prepare(i)).collect();
                            if ready.send(chunk).is_err() {
                                return; // the inserts failed and stopped listening
                            }
                        }
                    });
                    prepared.into_iter().try_for_each(|chunk| insert(&chunk))
                })?;
            }
        }

        // The observations took seqs first_seq .. seq; index them in one statement.
        if let Some(first) = progress.first_seq {
            tx.prepare_cached(
                "INSERT INTO rtree_observations_geom (id, minx, maxx, miny, maxy) \
                 SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom) FROM observations \
                 WHERE fid BETWEEN ?1 AND ?2 AND geom NOT NULL AND NOT ST_IsEmpty(geom)",
            )
            .and_then(|mut s| s.execute(params![to_i64(first), to_i64(seq - 1)]))
            .doing("indexing the observations in the R-tree")?;
        }

        for r in &batch.rejected {
            if Self::store_rejected(&tx, &mut tree, batch, r, seq, batch_id, &stamp)? {
                progress.first_seq.get_or_insert(seq);
                seq += 1;
            }
        }

        for (source_id, t) in &sources {
            tx.prepare_cached(
                "INSERT INTO sources (source_id, kind, reliability, party, observations, first_entry_seq, last_entry_seq) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (source_id) DO UPDATE SET kind = excluded.kind, reliability = excluded.reliability, \
                 party = excluded.party, observations = observations + excluded.observations, \
                 last_entry_seq = excluded.last_entry_seq",
            )
            .and_then(|mut s| {
                s.execute(params![
                    source_id,
                    t.kind.as_str(),
                    reliability_str(t.reliability),
                    t.party,
                    t.observations,
                    to_i64(t.first_seq),
                    to_i64(t.last_seq)
                ])
            })
            .map_err(|source| Failed { what: format!("recording source {source_id}"), source: Box::new(source) })?;
        }

        let last_seq = progress.first_seq.map(|_| seq - 1);
        tx.prepare_cached(
            "UPDATE batches SET accepted = ?1, duplicates = ?2, rejected = ?3, first_entry_seq = ?4, \
             last_entry_seq = ?5 WHERE id = ?6",
        )
        .and_then(|mut s| {
            s.execute(params![
                count(progress.accepted),
                count(progress.duplicates),
                count(batch.rejected.len()),
                progress.first_seq.map(to_i64),
                last_seq.map(to_i64),
                batch_id
            ])
        })
        .doing("counting the batch")?;

        let mut touched = vec!["batches"];
        if progress.accepted > 0 {
            widen_extent(&tx, "observations", &progress.geom_extent)
                .doing("widening the observations extent")?;
            widen_extent(&tx, "assessments", &progress.point_extent)
                .doing("widening the assessments extent")?;
            touched.extend(["observations", "assessments", "sources"]);
        }
        if progress.breaches > 0 {
            touched.push("breaches");
        }
        if !batch.rejected.is_empty() {
            touched.push("rejected_records");
        }
        if progress.first_seq.is_some() {
            touched.push("entries");
        }
        for table in touched {
            touch(&tx, table, &stamp).doing("stamping gpkg_contents.last_change")?;
        }
        let frontier = tree
            .write(&tx)
            .doing("writing the log's Merkle tree nodes")?;
        tx.commit().doing("committing")?;
        self.frontier = frontier;
        Ok(BatchOutcome {
            batch_id,
            accepted: progress.accepted,
            duplicates: progress.duplicates,
            rejected: batch.rejected.len(),
            first_seq: progress.first_seq,
            last_seq,
            placed,
        })
    }

    fn write_agreement(
        &mut self,
        agreement: &Agreement,
        body: &str,
        received_at: &DateTime<Utc>,
    ) -> Result<AgreementOutcome, Failed> {
        let stamp = gpkg_datetime(received_at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file for writing")?;
        let previous_hash = current_agreement(&tx).doing("reading the agreement in force")?;
        if previous_hash.as_deref() == Some(agreement.hash.as_str()) {
            return Ok(AgreementOutcome::Unchanged);
        }
        let mut tree = log::sync_frontier(&tx, &self.frontier)?;
        let entry_seq = tree.size();
        append_entry(
            &tx,
            &mut tree,
            entry_seq,
            EntryKind::Agreement,
            body.as_bytes(),
            &agreement.hash,
            leaf_hash(body.as_bytes()),
        )
        .doing("appending the agreement entry")?;
        tx.execute(
            "INSERT INTO agreements (hash, agreement_id, version, title, effective_at, first_entry_seq, \
             last_entry_seq, installed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) \
             ON CONFLICT (hash) DO UPDATE SET last_entry_seq = excluded.last_entry_seq, \
             installed_at = excluded.installed_at",
            params![
                agreement.hash,
                agreement.id,
                agreement.version,
                agreement.title,
                gpkg_datetime(&agreement.effective_at),
                to_i64(entry_seq),
                stamp
            ],
        )
        .doing("recording the agreement")?;
        replace_agreement_layers(&tx, agreement, &stamp)?;
        for table in ["agreements", "entries"] {
            touch(&tx, table, &stamp).doing("stamping gpkg_contents.last_change")?;
        }
        let frontier = tree
            .write(&tx)
            .doing("writing the log's Merkle tree nodes")?;
        tx.commit().doing("committing")?;
        self.frontier = frontier;
        Ok(AgreementOutcome::Installed {
            entry_seq,
            previous_hash,
        })
    }
}

/// Replaces the contact line, party areas, zones and storage sites by `a`'s.
fn replace_agreement_layers(
    tx: &Transaction<'_>,
    a: &Agreement,
    stamp: &str,
) -> Result<(), Failed> {
    for table in AGREEMENT_LAYERS {
        tx.execute(&format!("DELETE FROM {table}"), [])
            .map_err(|source| Failed {
                what: format!("clearing the {table} layer"),
                source: Box::new(source),
            })?;
    }

    let line = geometry::multi_line_string(&a.contact_line.lines);
    tx.execute(
        "INSERT INTO contact_line (geom, agreement_id, geometry_file, agreement_hash) VALUES (?1, ?2, ?3, ?4)",
        params![line.blob, a.id, a.contact_line.geometry_file, a.hash],
    )
    .doing("writing the contact line")?;
    set_extent(tx, "contact_line", &line.envelope, stamp)
        .doing("setting the contact_line extent")?;

    let mut extent = Envelope::EMPTY;
    for party in &a.parties {
        let area = geometry::multi_polygon(&party.area);
        extent.merge(&area.envelope);
        tx.execute(
            "INSERT INTO party_areas (geom, party, name, area_file, agreement_hash) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![area.blob, party.id, party.name, party.area_file, a.hash],
        )
        .map_err(|source| Failed { what: format!("writing the area of party {}", party.id), source: Box::new(source) })?;
    }
    set_extent(tx, "party_areas", &extent, stamp).doing("setting the party_areas extent")?;

    let mut extent = Envelope::EMPTY;
    for zone in &a.zones {
        let (geom, within_km, file) = match &zone.extent {
            ZoneExtent::Polygons { file, polygons } => {
                let g = geometry::multi_polygon(polygons);
                extent.merge(&g.envelope);
                (Some(g.blob), None, Some(file.as_str()))
            }
            ZoneExtent::WithinKmOfLine { within_km } => (None, Some(*within_km), None),
        };
        let prohibits: Vec<&str> = zone.prohibits.iter().map(|p| p.as_str()).collect();
        tx.execute(
            "INSERT INTO zones (geom, zone_id, name, kind, prohibits, within_km, geometry_file, agreement_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![geom, zone.id, zone.name, zone.kind.as_str(), prohibits.join(","), within_km, file, a.hash],
        )
        .map_err(|source| Failed { what: format!("writing zone {}", zone.id), source: Box::new(source) })?;
    }
    set_extent(tx, "zones", &extent, stamp).doing("setting the zones extent")?;

    let mut extent = Envelope::EMPTY;
    for site in &a.storage_sites {
        let point = geometry::point(site.location);
        extent.merge(&point.envelope);
        let serials = (!site.serials.is_empty()).then(|| to_canonical_json(&site.serials));
        tx.execute(
            "INSERT INTO storage_sites (geom, site_id, name, party, radius_m, declared, serials, agreement_hash) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                point.blob,
                site.id,
                site.name,
                site.party,
                site.radius_m,
                to_canonical_json(&site.declared),
                serials,
                a.hash
            ],
        )
        .map_err(|source| Failed { what: format!("writing storage site {}", site.id), source: Box::new(source) })?;
    }
    set_extent(tx, "storage_sites", &extent, stamp).doing("setting the storage_sites extent")
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("time {s:?}: {e}"))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown severity {s:?}"))
}

fn parse_source_kind(s: &str) -> Result<SourceKind, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown source kind {s:?}"))
}

/// The `crossings` column: canonical JSON of the engine's [`LineCrossing`]s.
fn parse_crossings(text: &str) -> Result<Vec<LineCrossing>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("crossings: {e}"))?;
    let bad =
        || format!("crossings: {text} is not [{{\"point\":[lon,lat],\"track_segment\":n}}, …]");
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|c| {
            let point = c.get("point").and_then(|p| p.as_array()).ok_or_else(bad)?;
            let (Some(lon), Some(lat)) = (
                point.first().and_then(|v| v.as_f64()),
                point.get(1).and_then(|v| v.as_f64()),
            ) else {
                return Err(bad());
            };
            let segment = c
                .get("track_segment")
                .and_then(|s| s.as_u64())
                .ok_or_else(bad)?;
            Ok(LineCrossing {
                point: [lon, lat],
                track_segment: usize::try_from(segment).map_err(|_| bad())?,
            })
        })
        .collect()
}

fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_string).collect()
    }
}

impl Store for GeoPackageStore {
    fn put_agreement(
        &mut self,
        agreement: &Agreement,
        received_at: DateTime<Utc>,
    ) -> Result<AgreementOutcome, StoreError> {
        let body = agreement.canonical_json();
        let computed = sha256_hex(body.as_bytes());
        if computed != agreement.hash {
            return Err(StoreError::AgreementHash {
                path: self.path.clone(),
                agreement: agreement.id.clone(),
                hash: agreement.hash.clone(),
                computed,
            });
        }
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
        if current.as_deref() != Some(batch.agreement_hash.as_str()) {
            return Err(StoreError::AgreementMismatch {
                path: self.path.clone(),
                file: batch.file.clone(),
                batch_hash: batch.agreement_hash.clone(),
                current: current.unwrap_or_else(|| "none (no agreement was put)".into()),
            });
        }
        self.write_batch(batch).map_err(|f| StoreError::Batch {
            path: self.path.clone(),
            file: batch.file.clone(),
            what: f.what,
            source: f.source,
        })
    }

    fn summary(&self, rejected_shown: usize) -> Result<Summary, StoreError> {
        let agreement = self
            .conn
            .query_row(
                "SELECT hash, agreement_id, version, title, effective_at FROM agreements \
                 ORDER BY last_entry_seq DESC LIMIT 1",
                [],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(self.read_failed("the agreement in force"))?
            .map(|(hash, id, version, title, effective_at)| {
                let effective_at = parse_time(&effective_at)
                    .map_err(|e| self.corrupt(format!("agreement {hash}"), e))?;
                Ok::<_, StoreError>(AgreementInfo {
                    hash,
                    id,
                    version,
                    title,
                    effective_at,
                })
            })
            .transpose()?;
        let entries: i64 = self
            .conn
            .query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })
            .map_err(self.read_failed("the entry count"))?;
        let (batches, duplicates): (i64, i64) = self
            .conn
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(duplicates), 0) FROM batches",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(self.read_failed("the batch counts"))?;

        let mut observations = 0;
        let mut observations_by_kind = BTreeMap::new();
        let mut observations_by_source_kind = BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, source_kind, COUNT(*) FROM observations GROUP BY kind, source_kind",
            )
            .map_err(self.read_failed("observation counts"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("observation counts"))?;
        for (kind, source_kind, n) in rows {
            let n = n as u64;
            let kind = ObservationKind::parse(&kind).ok_or_else(|| {
                self.corrupt("observations.kind".into(), format!("unknown kind {kind:?}"))
            })?;
            let source_kind = parse_source_kind(&source_kind)
                .map_err(|e| self.corrupt("observations.source_kind".into(), e))?;
            observations += n;
            *observations_by_kind.entry(kind).or_insert(0) += n;
            *observations_by_source_kind.entry(source_kind).or_insert(0) += n;
        }

        let mut breaches = 0;
        let mut breaches_by_rule = BTreeMap::new();
        let mut breaches_by_party = BTreeMap::new();
        let mut breaches_by_rule_and_party: BTreeMap<String, BTreeMap<String, u64>> =
            BTreeMap::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT rule, party, COUNT(*) FROM breaches GROUP BY rule, party")
            .map_err(self.read_failed("breach counts"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("breach counts"))?;
        for (rule, party, n) in rows {
            let n = n as u64;
            breaches += n;
            let party = party.unwrap_or_else(|| UNATTRIBUTED.to_string());
            *breaches_by_rule_and_party
                .entry(rule.clone())
                .or_default()
                .entry(party.clone())
                .or_insert(0) += n;
            *breaches_by_rule.entry(rule).or_insert(0) += n;
            *breaches_by_party.entry(party).or_insert(0) += n;
        }

        let rejected: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM rejected_records", [], |r| r.get(0))
            .map_err(self.read_failed("the rejected-record count"))?;
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT batch_id, file, locator, raw, reason, received_at, entry_seq FROM rejected_records \
                 ORDER BY id LIMIT ?1",
            )
            .map_err(self.read_failed("rejected records"))?;
        let rows = stmt
            .query_map([count(rejected_shown)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("rejected records"))?;
        let first_rejected = rows
            .into_iter()
            .map(
                |(batch_id, file, locator, raw, reason, received_at, entry_seq)| {
                    let received_at = parse_time(&received_at).map_err(|e| {
                        self.corrupt(format!("rejected record {file} {locator}"), e)
                    })?;
                    Ok(StoredRejected {
                        batch_id,
                        file,
                        locator,
                        raw,
                        reason,
                        received_at,
                        entry_seq: entry_seq as u64,
                    })
                },
            )
            .collect::<Result<Vec<_>, StoreError>>()?;

        Ok(Summary {
            agreement,
            entries: entries as u64,
            batches: batches as u64,
            observations,
            duplicates: duplicates as u64,
            observations_by_kind,
            observations_by_source_kind,
            breaches,
            breaches_by_rule,
            breaches_by_party,
            breaches_by_rule_and_party,
            rejected: rejected as u64,
            first_rejected,
        })
    }

    fn observations(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.fid, o.batch_id, o.locator, o.content_sha256, o.body, a.agreement_hash, a.party_area, \
                 a.distance_to_line_m, a.zones, a.crossings \
                 FROM observations o JOIN assessments a ON a.fid = o.fid \
                 WHERE o.fid >= ?1 ORDER BY o.fid LIMIT ?2",
            )
            .map_err(self.read_failed("observations"))?;
        type Row = (
            i64,
            i64,
            String,
            String,
            String,
            String,
            Option<String>,
            f64,
            String,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![to_i64(from_seq), count(limit)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("observations"))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for (
            fid,
            batch_id,
            locator,
            content_sha256,
            body,
            agreement_hash,
            party_area,
            distance,
            zones,
            crossings,
        ) in rows
        {
            let what = || format!("observation {fid}");
            let observation: Observation = serde_json::from_str(&body)
                .map_err(|e| self.corrupt(what(), format!("body: {e}")))?;
            let crossings = match crossings {
                Some(text) => parse_crossings(&text).map_err(|e| self.corrupt(what(), e))?,
                None => Vec::new(),
            };
            index.insert(fid, out.len());
            out.push(StoredObservation {
                seq: fid as u64,
                batch_id,
                locator,
                content_sha256,
                observation,
                assessment: StoredAssessment {
                    agreement_hash,
                    party_area,
                    distance_to_line_m: distance,
                    zones: split_list(&zones),
                    crossings,
                    breaches: Vec::new(),
                },
            });
        }
        let (Some(first), Some(last)) = (out.first(), out.last()) else {
            return Ok(out);
        };
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT obs_fid, rule, severity, party, basis, detail, certain FROM breaches \
                 WHERE obs_fid BETWEEN ?1 AND ?2 ORDER BY fid",
            )
            .map_err(self.read_failed("breaches"))?;
        type BreachRow = (i64, String, String, Option<String>, String, String, bool);
        let rows: Vec<BreachRow> = stmt
            .query_map(params![to_i64(first.seq), to_i64(last.seq)], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("breaches"))?;
        for (obs_fid, rule, severity, party, basis, detail, certain) in rows {
            let severity = parse_severity(&severity)
                .map_err(|e| self.corrupt(format!("breach of {obs_fid}"), e))?;
            let Some(&i) = index.get(&obs_fid) else {
                return Err(self.corrupt(
                    format!("breach of {obs_fid}"),
                    "names an observation that is not stored",
                ));
            };
            out[i].assessment.breaches.push(Breach {
                rule,
                severity,
                party,
                basis,
                detail,
                certain,
            });
        }
        Ok(out)
    }

    fn entries(&self, from_seq: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, kind, body, sha256 FROM entries WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(self.read_failed("entries"))?;
        let rows = stmt
            .query_map(params![to_i64(from_seq), count(limit)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
            .map_err(self.read_failed("entries"))?;
        rows.into_iter()
            .map(|(seq, kind, body, sha256)| {
                let kind = EntryKind::parse(&kind).ok_or_else(|| {
                    self.corrupt(format!("entry {seq}"), format!("unknown kind {kind:?}"))
                })?;
                Ok(Entry {
                    seq: seq as u64,
                    kind,
                    body,
                    sha256,
                })
            })
            .collect()
    }
}

/// The order a batch's observations take their entry seqs in: by time observed, then id, then
/// (for the rare ties) canonical JSON. It depends only on the observations, never on their
/// order in the file, so fusion replaying the log in seq order gives the same incidents for any
/// order of a batch (`docs/store.md`, *What is appended when*).
pub fn canonical_order(accepted: &[Accepted]) -> Vec<usize> {
    fn key(a: &Accepted) -> (DateTime<Utc>, Option<&str>) {
        (
            a.observation.properties.observed_at,
            a.observation.id.as_deref(),
        )
    }
    let mut order: Vec<usize> = (0..accepted.len()).collect();
    order.sort_by(|&x, &y| {
        let (a, b) = (&accepted[x], &accepted[y]);
        key(a)
            .cmp(&key(b))
            .then_with(|| to_canonical_json(&a.observation).cmp(&to_canonical_json(&b.observation)))
    });
    order
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

    #[test]
    fn datetimes_have_milliseconds_and_z() {
        let t = parse_time("2015-02-15T00:00:00.1234+02:00").unwrap();
        assert_eq!(gpkg_datetime(&t), "2015-02-14T22:00:00.123Z");
        assert_eq!(
            parse_time(&gpkg_datetime(&t)).unwrap().timestamp_millis(),
            t.timestamp_millis()
        );
    }

    #[test]
    fn crossings_round_trip() {
        let c = vec![LineCrossing {
            point: [38.5, 48.25],
            track_segment: 3,
        }];
        assert_eq!(parse_crossings(&to_canonical_json(&c)).unwrap(), c);
        assert!(
            parse_crossings("[{\"point\":[1]}]")
                .unwrap_err()
                .contains("track_segment")
        );
    }
}
