//! Appending a batch ([`crate::Store::append_batch`], the hot path `geopackage.rs` describes):
//! each accepted observation (its row, its entry in the log, its assessment and breaches) in
//! canonical order, prepared a chunk ahead on a second thread when the batch is large; the
//! R-tree index over them; each rejected record; the `sources` tally; and the batch's counts —
//! all in one transaction, with the log's tree nodes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use truce_core::agreement::Severity;
use truce_core::canonical::to_canonical_json;
use truce_core::observation::{Observation, Reliability, SourceKind};
use truce_log::{Hash, leaf_hash};

use crate::geometry::{self, Envelope, GpkgGeometry};
use crate::geopackage::{
    Doing, Failed, GeoPackageStore, append_entry, count, gpkg_datetime, hex, rejected_entry_body,
    sha256_hex, to_i64, touch,
};
use crate::log::{self, TreeAppend};
use crate::{Accepted, Batch, BatchOutcome, EntryKind, RejectedRecord};

/// Observations serialised and encoded per step of the pipeline that feeds the inserts: small
/// enough that the inserts start at once, large enough that handing a chunk over costs nothing.
/// A batch no larger is prepared in line, sparing a thread for a batch of a few records.
const PREPARE_CHUNK: usize = 1024;

/// Chunks prepared ahead of the inserts: bounds the memory a large file holds (a chunk is
/// about a MiB) while the preparing thread stays ahead.
const PREPARED_AHEAD: usize = 2;

/// Everything about one accepted observation that can be computed before touching the file.
struct Prepared<'a> {
    accepted: &'a Accepted,
    /// Canonical JSON: the entry body, and what `sha256` is of.
    body: String,
    /// SHA-256 of `body`: the `content_sha256` key (32 bytes) …
    digest: [u8; 32],
    /// … and the same in lower-case hex, the entry's `sha256` column.
    sha256: String,
    /// The body's RFC 6962 leaf hash in the log's Merkle tree.
    leaf: Hash,
    geom: GpkgGeometry,
    assessed_at: GpkgGeometry,
    /// Whether the point assessed is the geometry itself (a point observation): then the
    /// `assessed_geom` column is left NULL and the `assessments` view reads `geom`.
    assessed_is_geom: bool,
    observed_at: String,
    zones: String,
    crossings: Option<String>,
    max_severity: Option<&'static str>,
}

/// An observation's entry body (canonical JSON) and the SHA-256 of it that keys idempotency:
/// the store keeps one observation per digest. What a NATS message id is derived from
/// (`truce-server`'s `nats`), so that JetStream's de-duplication and the store's agree.
pub fn content(observation: &Observation) -> (String, [u8; 32]) {
    let body = to_canonical_json(observation);
    let digest: [u8; 32] = Sha256::digest(body.as_bytes()).into();
    (body, digest)
}

impl<'a> Prepared<'a> {
    fn new(accepted: &'a Accepted) -> Prepared<'a> {
        let (body, digest) = content(&accepted.observation);
        let sha256 = hex(&digest);
        let leaf = leaf_hash(body.as_bytes());
        let a = &accepted.assessment;
        let geom = geometry::place(&accepted.place);
        let assessed_at = geometry::point(accepted.place.assessed_point());
        Prepared {
            accepted,
            digest,
            sha256,
            leaf,
            body,
            assessed_is_geom: assessed_at.blob == geom.blob,
            geom,
            assessed_at,
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
    /// Appends `batch` in one transaction: the batch row, the observations, their R-tree
    /// index, the rejected records, the sources, the counts, the stamps and the tree nodes.
    pub(crate) fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, Failed> {
        let stamp = gpkg_datetime(&batch.received_at);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .doing("locking the file for writing")?;
        let mut tree = log::sync_frontier(&tx, &self.frontier)?;
        let mut seq = tree.size();
        let batch_id = record_batch(&tx, batch, &stamp)?;

        let mut progress = Progress::default();
        let mut sources = BTreeMap::new();
        let placed = Self::store_observations(
            &tx,
            &mut tree,
            batch,
            batch_id,
            &mut seq,
            &mut progress,
            &mut sources,
        )?;
        // The observations took seqs first_seq .. seq; index them in one statement.
        if let Some(first) = progress.first_seq {
            index_observations(&tx, first, seq - 1)?;
        }
        for r in &batch.rejected {
            if Self::store_rejected(&tx, &mut tree, batch, r, seq, batch_id, &stamp)? {
                progress.first_seq.get_or_insert(seq);
                seq += 1;
            }
        }
        record_sources(&tx, &sources)?;

        let last_seq = progress.first_seq.map(|_| seq - 1);
        count_batch(&tx, batch, batch_id, &progress, last_seq)?;
        stamp_tables(&tx, batch, &progress, &stamp)?;
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

    /// Stores the batch's observations in canonical order from entry `seq` on (advancing it),
    /// preparing them on a second thread when there are many. Returns each accepted
    /// observation's entry seq, and whether this batch stored it (false: a duplicate, and the
    /// seq is the stored copy's).
    fn store_observations<'b>(
        tx: &Transaction<'_>,
        tree: &mut TreeAppend,
        batch: &'b Batch,
        batch_id: i64,
        seq: &mut u64,
        progress: &mut Progress,
        sources: &mut BTreeMap<&'b str, SourceTally<'b>>,
    ) -> Result<Vec<(u64, bool)>, Failed> {
        // Each accepted observation's entry seq, and whether this batch stored it.
        let mut placed: Vec<(u64, bool)> = vec![(0, false); batch.accepted.len()];
        let mut insert = |chunk: &[(usize, Prepared<'b>)]| -> Result<(), Failed> {
            for (i, p) in chunk {
                if Self::store_observation(tx, tree, p, batch_id, progress, sources)? {
                    placed[*i] = (*seq, true);
                    *seq += 1;
                } else {
                    let at: i64 = tx
                        .prepare_cached("SELECT fid FROM observations WHERE content_sha256 = ?1")
                        .and_then(|mut s| s.query_row([&p.digest[..]], |r| r.get(0)))
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
        Ok(placed)
    }

    /// Stores an observation as the next entry (`tree.size()`) unless its content is stored
    /// already. Returns whether it took that seq.
    fn store_observation<'a>(
        tx: &Transaction<'_>,
        tree: &mut TreeAppend,
        p: &Prepared<'a>,
        batch_id: i64,
        progress: &mut Progress,
        sources: &mut BTreeMap<&'a str, SourceTally<'a>>,
    ) -> Result<bool, Failed> {
        let seq = tree.size();
        let inserted =
            insert_observation(tx, p, seq, batch_id).map_err(storing(p, "observations"))?;
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
        .map_err(storing(p, "entries"))?;
        let breaches = &p.accepted.assessment.breaches;
        if !breaches.is_empty() {
            insert_breaches(tx, p, seq)?;
            progress.breaches += breaches.len();
        }
        progress.accepted += 1;
        progress.first_seq.get_or_insert(seq);
        progress.geom_extent.merge(&p.geom.envelope);
        progress.point_extent.merge(&p.assessed_at.envelope);
        tally(sources, &p.accepted.observation, seq);
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
}

/// What storing `p` in `table` reports when it fails.
fn storing(p: &Prepared<'_>, table: &str) -> impl FnOnce(rusqlite::Error) -> Failed + use<> {
    let what = format!("storing {} in {table}", p.name());
    move |source| Failed {
        what,
        source: Box::new(source),
    }
}

/// The batch's row, counts zero until [`count_batch`]; returns its id.
fn record_batch(tx: &Transaction<'_>, batch: &Batch, stamp: &str) -> Result<i64, Failed> {
    tx.prepare_cached(
        "INSERT INTO batches (file, format, agreement_hash, received_at, accepted, duplicates, rejected) \
         VALUES (?1, ?2, ?3, ?4, 0, 0, 0)",
    )
    .and_then(|mut s| s.execute(params![batch.file, batch.format, batch.agreement_hash, stamp]))
    .doing("recording the batch")?;
    Ok(tx.last_insert_rowid())
}

/// The `observations` row of `p` as entry `seq` (its assessment included: the `assessments`
/// layer is a view over it): 0 rows when the same content is stored.
fn insert_observation(
    tx: &Transaction<'_>,
    p: &Prepared<'_>,
    seq: u64,
    batch_id: i64,
) -> rusqlite::Result<usize> {
    let o = &p.accepted.observation;
    let props = &o.properties;
    let a = &p.accepted.assessment;
    tx.prepare_cached(
        "INSERT INTO observations (fid, geom, entry_seq, obs_id, kind, observed_at, time_uncertainty_s, \
         source_id, source_kind, reliability, credibility, error_radius_m, bearing_deg, weapon_class, \
         weapon_count, affiliation, source_record, remarks, party_area, distance_to_line_m, zones, \
         crossings, breach_count, max_severity, assessed_geom, content_sha256, batch_id, locator) \
         VALUES (?1, ?2, ?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, \
         ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27) \
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
            p.crossings,
            count(a.breaches.len()),
            p.max_severity,
            (!p.assessed_is_geom).then_some(&p.assessed_at.blob),
            &p.digest[..],
            batch_id,
            p.accepted.locator,
        ])
    })
}

/// The `breaches` rows of `p`, stored as entry `seq`.
fn insert_breaches(tx: &Transaction<'_>, p: &Prepared<'_>, seq: u64) -> Result<(), Failed> {
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO breaches (obs_fid, rule, severity, party, basis, detail, certain) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(storing(p, "breaches"))?;
    for b in &p.accepted.assessment.breaches {
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
            .map_err(storing(p, "breaches"))?;
    }
    Ok(())
}

/// Counts observation `seq` to its source, which the batch last saw as `o` says.
fn tally<'a>(sources: &mut BTreeMap<&'a str, SourceTally<'a>>, o: &'a Observation, seq: u64) {
    let props = &o.properties;
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
}

/// Indexes observations `first ..= last` in the R-tree in one statement (the store's
/// connection runs without the triggers that would do it row by row).
fn index_observations(tx: &Transaction<'_>, first: u64, last: u64) -> Result<(), Failed> {
    tx.prepare_cached(
        "INSERT INTO rtree_observations_geom (id, minx, maxx, miny, maxy) \
         SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom) FROM observations \
         WHERE fid BETWEEN ?1 AND ?2 AND geom NOT NULL AND NOT ST_IsEmpty(geom)",
    )
    .and_then(|mut s| s.execute(params![to_i64(first), to_i64(last)]))
    .doing("indexing the observations in the R-tree")?;
    Ok(())
}

/// Adds the batch's tallies to the `sources` table.
fn record_sources(
    tx: &Transaction<'_>,
    sources: &BTreeMap<&str, SourceTally<'_>>,
) -> Result<(), Failed> {
    for (source_id, t) in sources {
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
    Ok(())
}

/// The batch row's counts and the entries it took (`last_seq` is none when it took none).
fn count_batch(
    tx: &Transaction<'_>,
    batch: &Batch,
    batch_id: i64,
    progress: &Progress,
    last_seq: Option<u64>,
) -> Result<(), Failed> {
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
    Ok(())
}

/// Widens the layers' extents and stamps `gpkg_contents.last_change` of each table the batch
/// wrote to.
fn stamp_tables(
    tx: &Transaction<'_>,
    batch: &Batch,
    progress: &Progress,
    stamp: &str,
) -> Result<(), Failed> {
    let mut touched = vec!["batches"];
    if progress.accepted > 0 {
        widen_extent(tx, "observations", &progress.geom_extent)
            .doing("widening the observations extent")?;
        widen_extent(tx, "assessments", &progress.point_extent)
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
        touch(tx, table, stamp).doing("stamping gpkg_contents.last_change")?;
    }
    Ok(())
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

pub(crate) fn reliability_str(r: Reliability) -> &'static str {
    match r {
        Reliability::A => "A",
        Reliability::B => "B",
        Reliability::C => "C",
        Reliability::D => "D",
        Reliability::E => "E",
        Reliability::F => "F",
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
