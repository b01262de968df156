//! Opening a [`GeoPackageStore`]: the connection and its settings (WAL, page cache, busy
//! timeout, the GeoPackage `ST_*` functions the R-tree triggers call), refusing files that are
//! not Truce stores, and applying the schema migrations a file lacks.

use std::path::Path;
use std::time::Duration;

use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::StoreError;
use crate::geometry::{self, Envelope, HeaderExtent};
use crate::geopackage::GeoPackageStore;
use crate::log;
use crate::schema::{GPKG_APPLICATION_ID, MIGRATIONS, VERSION_TABLE_SQL, latest_version};

/// How long a write waits for another connection's lock (a second ingest, or QGIS reading
/// while a WAL checkpoint runs) before failing: long enough to ride out a checkpoint of a
/// large WAL, short enough that a stuck lock is reported rather than hung on.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite page cache, in KiB. The `content_sha256` unique index takes random inserts, about
/// 100 MiB of it at a million observations; with SQLite's default 2 MiB cache its pages keep
/// going back to the OS (measured at a million: a third more system time, 5% more CPU in all).
/// 64 MiB keeps its upper levels and the tables' right edges resident.
const PAGE_CACHE_KIB: i64 = 64 * 1024;

/// WAL pages before SQLite copies them back into the file (its default is 1,000, 4 MB). A
/// 10,000-observation batch writes ~5 MB, so at the default every commit ran a checkpoint
/// inline, copying the tables' right-edge pages that the next batch rewrites anyway; at 32 MB a
/// checkpoint comes every few batches and copies each such page once (issue 14). Readers are
/// unaffected; the WAL file grows to about this size between checkpoints.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 8192;

/// How often [`Checkpointer`] copies what the WAL holds back into the file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Runs SQLite's PASSIVE checkpoint every [`CHECKPOINT_EVERY`] on a connection and thread of
/// its own, so the copying of WAL pages into the file, and its fsync, happen beside the
/// writer rather than inside one of its commits (issue 14: the inline auto-checkpoint was
/// ~15 % of the storing thread). A PASSIVE checkpoint takes no lock a writer or reader waits
/// for, and does nothing when the WAL holds nothing new; the writer's own auto-checkpoint
/// ([`WAL_AUTOCHECKPOINT_PAGES`]) stays, finding little left to copy. Stopped (and joined)
/// when dropped. None when the second connection cannot be opened: the writer checkpoints
/// alone, as before.
pub(crate) struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("truce-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // Busy (another checkpoint running) or failed: the next round, or the
                    // writer's own, does it.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Prepared statements kept compiled: the batch path uses about a dozen, the reads a few more.
const STATEMENT_CACHE_CAPACITY: usize = 32;

impl GeoPackageStore {
    /// Opens the store at `path`, creating a new GeoPackage if the file does not exist (or is
    /// empty), and applies any schema migrations the file lacks. Refuses an SQLite file that is
    /// not a GeoPackage, and a GeoPackage that is not a Truce store.
    pub fn open(path: impl AsRef<Path>) -> Result<GeoPackageStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(failed(&path, "opening the SQLite file"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(failed(&path, "setting the busy timeout"))?;
        register_gpkg_functions(&conn)
            .map_err(failed(&path, "registering the GeoPackage ST_* functions"))?;
        refuse_other_files(&conn, &path)?;
        configure(&conn, &path)?;
        migrate(&mut conn, &path)?;
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_TRIGGER,
            false,
        )
        .map_err(failed(
            &path,
            "turning triggers off for the store's own connection",
        ))?;
        let frontier = log::open_frontier(&mut conn).map_err(|f| StoreError::Open {
            path: path.clone(),
            what: "building the log's Merkle tree over the entries",
            source: f.source,
        })?;
        let checkpointer = Checkpointer::start(&path);
        Ok(GeoPackageStore {
            conn,
            path,
            frontier,
            _checkpointer: checkpointer,
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

/// What [`GeoPackageStore::open`] reports when step `what` fails.
fn failed(path: &Path, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + use<> {
    let path = path.to_path_buf();
    move |e: rusqlite::Error| StoreError::Open {
        path,
        what,
        source: Box::new(e),
    }
}

/// Refuses an SQLite file with tables that is not a GeoPackage, and a GeoPackage without the
/// Truce schema (an empty file becomes a store).
fn refuse_other_files(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(failed(path, "reading the application id"))?;
    let (tables, truce): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE name = 'truce_schema_version') FROM sqlite_master",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(failed(path, "listing the tables"))?;
    if tables > 0 && application_id != GPKG_APPLICATION_ID {
        return Err(StoreError::NotGeoPackage {
            path: path.to_path_buf(),
            application_id,
        });
    }
    if tables > 0 && truce == 0 {
        return Err(StoreError::NotTruceStore {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// WAL journal, `synchronous=NORMAL`, the page cache, in-memory statement journals, foreign
/// keys enforced, and the statement cache.
fn configure(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(failed(path, "switching to WAL journal mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.to_path_buf(),
            what: "switching to WAL journal mode",
            source: format!("SQLite kept journal mode {mode:?}").into(),
        });
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(failed(path, "setting synchronous=NORMAL"))?;
    conn.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)
        .map_err(failed(path, "sizing the page cache"))?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(failed(path, "spacing WAL checkpoints"))?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(failed(path, "keeping statement journals in memory"))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(failed(path, "enforcing foreign keys"))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: what a write leaves in the WAL is copied back into the file beside the
    /// writer, which no longer has to do it in one of its commits. The writer's own
    /// auto-checkpoint is turned off here: the file grows only if the checkpointer copies.
    #[test]
    fn the_wal_is_copied_into_the_file_while_the_writer_does_not() {
        let dir = std::env::temp_dir().join(format!("truce-checkpointer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.gpkg");
        let store = GeoPackageStore::open(&path).unwrap();
        store
            .conn
            .pragma_update(None, "wal_autocheckpoint", 0)
            .unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        // Let the checkpointer copy what opening the store wrote.
        std::thread::sleep(CHECKPOINT_EVERY * 3);
        let before = size();
        store
            .conn
            .execute_batch(
                "CREATE TABLE scratch (x BLOB);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO scratch SELECT randomblob(1024) FROM n;",
            )
            .unwrap();
        let wal = std::fs::metadata(dir.join("s.gpkg-wal")).unwrap().len();
        assert!(
            wal > 2_000_000,
            "the rows are in the WAL first: {wal} bytes"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while size() < before + 2_000_000 && std::time::Instant::now() < deadline {
            std::thread::sleep(CHECKPOINT_EVERY);
        }
        assert!(
            size() >= before + 2_000_000,
            "the file grew from {before} to {} bytes",
            size()
        );
        drop(store);
        assert!(
            !dir.join("s.gpkg-wal").exists(),
            "the last connection to close removes the WAL"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
