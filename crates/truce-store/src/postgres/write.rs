//! Writes to PostgreSQL: an agreement, a batch, a record, the derived rows — each one
//! transaction under the write lock, with the log's tree nodes.
//!
//! A batch goes in a few statements whatever its size: the stored copies of its observations
//! are looked up in one query, and the new entries, observations, breaches and rejected records
//! are each inserted from arrays (`UNNEST`), so the cost is in PostgreSQL, not in round trips.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use postgres::Transaction;
use truce_core::agreement::{Agreement, Severity, ZoneExtent};
use truce_core::canonical::to_canonical_json;
use truce_log::leaf_hash;

use super::PgStore;
use super::log::PgTree;
use crate::append::{content, reliability_str};
use crate::geometry;
use crate::geopackage::{Doing, Failed, count, hex, rejected_entry_body, sha256_hex, to_i64};
use crate::{
    AgreementOutcome, Batch, BatchOutcome, DerivedRows, EntryKind, IncidentRow, TaskRow,
    canonical_order,
};

/// Rows per array insert: bounds one statement's parameters (a few MB at most).
const CHUNK: usize = 5_000;

/// Appends entry `seq` (= `tree.size()`) to the log inside `tx`.
fn append_entry(
    tx: &mut Transaction<'_>,
    tree: &mut PgTree,
    kind: EntryKind,
    body: &[u8],
    sha256: &str,
) -> Result<u64, Failed> {
    truce_core::limits::check_entry(&format!("a {} entry", kind.as_str()), body.len()).map_err(
        |why| Failed {
            what: format!("appending a {} entry", kind.as_str()),
            source: why.into(),
        },
    )?;
    let seq = tree.size();
    tx.execute(
        "INSERT INTO entries (seq, kind, body, sha256) VALUES ($1, $2, $3, $4)",
        &[&to_i64(seq), &kind.as_str(), &body, &sha256],
    )
    .doing("appending the entry")?;
    tree.append(leaf_hash(body));
    Ok(seq)
}

/// An accepted observation, serialised and encoded before the transaction.
struct Row<'a> {
    index: usize,
    accepted: &'a crate::Accepted,
    body: String,
    digest: [u8; 32],
}

impl PgStore {
    pub(crate) fn write_agreement(
        &mut self,
        agreement: &Agreement,
        body: &str,
        received_at: &DateTime<Utc>,
    ) -> Result<AgreementOutcome, Failed> {
        let frontier = self.frontier.clone();
        let mut client = self.conn();
        let mut tx = client.transaction().doing("starting the transaction")?;
        let mut tree = Self::begin_write(&frontier, &mut tx)?;
        let previous_hash: Option<String> = tx
            .query_opt(
                "SELECT hash FROM agreements ORDER BY last_entry_seq DESC LIMIT 1",
                &[],
            )
            .doing("reading the agreement in force")?
            .map(|r| r.get(0));
        if previous_hash.as_deref() == Some(agreement.hash.as_str()) {
            return Ok(AgreementOutcome::Unchanged);
        }
        let entry_seq = append_entry(
            &mut tx,
            &mut tree,
            EntryKind::Agreement,
            body.as_bytes(),
            &agreement.hash,
        )?;
        tx.execute(
            "INSERT INTO agreements (hash, agreement_id, version, title, effective_at, first_entry_seq, \
             last_entry_seq, installed_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) \
             ON CONFLICT (hash) DO UPDATE SET last_entry_seq = excluded.last_entry_seq, \
             installed_at = excluded.installed_at",
            &[
                &agreement.hash,
                &agreement.id,
                &(agreement.version as i32),
                &agreement.title,
                &agreement.effective_at,
                &to_i64(entry_seq),
                received_at,
            ],
        )
        .doing("recording the agreement")?;
        replace_layers(&mut tx, agreement)?;
        let frontier = tree.write(&mut tx)?;
        tx.commit().doing("committing")?;
        drop(client);
        self.frontier = frontier;
        Ok(AgreementOutcome::Installed {
            entry_seq,
            previous_hash,
        })
    }

    pub(crate) fn write_record(&mut self, kind: EntryKind, body: &str) -> Result<u64, Failed> {
        let frontier = self.frontier.clone();
        let mut client = self.conn();
        let mut tx = client.transaction().doing("starting the transaction")?;
        let mut tree = Self::begin_write(&frontier, &mut tx)?;
        let seq = append_entry(
            &mut tx,
            &mut tree,
            kind,
            body.as_bytes(),
            &sha256_hex(body.as_bytes()),
        )?;
        let frontier = tree.write(&mut tx)?;
        tx.commit().doing("committing")?;
        drop(client);
        self.frontier = frontier;
        Ok(seq)
    }

    pub(crate) fn write_batch(&mut self, batch: &Batch) -> Result<BatchOutcome, Failed> {
        // Serialised before the lock is taken: the lock is held only for the inserts.
        let rows: Vec<Row<'_>> = canonical_order(&batch.accepted)
            .into_iter()
            .map(|index| {
                let accepted = &batch.accepted[index];
                let (body, digest) = content(&accepted.observation);
                Row {
                    index,
                    accepted,
                    body,
                    digest,
                }
            })
            .collect();
        let frontier = self.frontier.clone();
        let mut client = self.conn();
        let mut tx = client.transaction().doing("starting the transaction")?;
        let mut tree = Self::begin_write(&frontier, &mut tx)?;
        let batch_id: i64 = tx
            .query_one(
                "INSERT INTO batches (file, format, agreement_hash, received_at, accepted, duplicates, rejected) \
                 VALUES ($1, $2, $3, $4, 0, 0, 0) RETURNING id",
                &[&batch.file, &batch.format, &batch.agreement_hash, &batch.received_at],
            )
            .doing("recording the batch")?
            .get(0);

        // Which of them are stored already (by content), in one query.
        let digests: Vec<&[u8]> = rows.iter().map(|r| &r.digest[..]).collect();
        let mut stored: HashMap<[u8; 32], u64> = HashMap::new();
        for chunk in digests.chunks(CHUNK) {
            for r in tx
                .query(
                    "SELECT content_sha256, fid FROM observations WHERE content_sha256 = ANY($1)",
                    &[&chunk],
                )
                .doing("finding the stored copies of duplicates")?
            {
                let key: Vec<u8> = r.get(0);
                if let Ok(key) = <[u8; 32]>::try_from(key.as_slice()) {
                    stored.insert(key, r.get::<_, i64>(1) as u64);
                }
            }
        }
        let mut placed = vec![(0u64, false); batch.accepted.len()];
        let (mut accepted, mut duplicates) = (0usize, 0usize);
        let first_seq = tree.size();
        let mut new_rows: Vec<(u64, &Row<'_>)> = Vec::new();
        for row in &rows {
            if let Some(&seq) = stored.get(&row.digest) {
                placed[row.index] = (seq, false);
                duplicates += 1;
                continue;
            }
            let seq = tree.size();
            truce_core::limits::check_entry("an observation entry", row.body.len()).map_err(
                |why| Failed {
                    what: format!("storing the observation at {}", row.accepted.locator),
                    source: why.into(),
                },
            )?;
            tree.append(leaf_hash(row.body.as_bytes()));
            stored.insert(row.digest, seq);
            placed[row.index] = (seq, true);
            new_rows.push((seq, row));
            accepted += 1;
        }
        for chunk in new_rows.chunks(CHUNK) {
            insert_observations(&mut tx, chunk, batch_id)?;
        }

        // Rejected records: one entry per distinct rejection (same file, locator, reason, raw).
        let mut rejected_logged = 0usize;
        for r in &batch.rejected {
            let raw_sha256 = sha256_hex(r.raw.as_bytes());
            let body = rejected_entry_body(&batch.file, &r.locator, &r.reason, &raw_sha256);
            let entry_sha256 = sha256_hex(body.as_bytes());
            let logged: Option<i64> = tx
                .query_opt(
                    "SELECT entry_seq FROM rejected_records WHERE entry_sha256 = $1 LIMIT 1",
                    &[&entry_sha256],
                )
                .doing("looking up an earlier identical rejection")?
                .map(|r| r.get(0));
            let entry_seq = match logged {
                Some(seq) => seq,
                None => {
                    rejected_logged += 1;
                    to_i64(append_entry(
                        &mut tx,
                        &mut tree,
                        EntryKind::Rejected,
                        body.as_bytes(),
                        &entry_sha256,
                    )?)
                }
            };
            tx.execute(
                "INSERT INTO rejected_records (batch_id, file, locator, raw, raw_sha256, reason, received_at, \
                 entry_seq, entry_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &batch_id,
                    &batch.file,
                    &r.locator,
                    &r.raw,
                    &raw_sha256,
                    &r.reason,
                    &batch.received_at,
                    &entry_seq,
                    &entry_sha256,
                ],
            )
            .map_err(|source| Failed {
                what: format!("storing the rejected record at {} in rejected_records", r.locator),
                source: Box::new(source),
            })?;
        }
        let appended = accepted + rejected_logged;
        let (first, last) = if appended > 0 {
            (Some(first_seq), Some(first_seq + appended as u64 - 1))
        } else {
            (None, None)
        };
        tx.execute(
            "UPDATE batches SET accepted = $1, duplicates = $2, rejected = $3, first_entry_seq = $4, \
             last_entry_seq = $5 WHERE id = $6",
            &[
                &(count(accepted) as i32),
                &(count(duplicates) as i32),
                &(count(batch.rejected.len()) as i32),
                &first.map(to_i64),
                &last.map(to_i64),
                &batch_id,
            ],
        )
        .doing("counting the batch")?;
        let frontier = tree.write(&mut tx)?;
        tx.commit().doing("committing")?;
        drop(client);
        self.frontier = frontier;
        Ok(BatchOutcome {
            batch_id,
            accepted,
            duplicates,
            rejected: batch.rejected.len(),
            first_seq: first,
            last_seq: last,
            placed,
        })
    }

    pub(crate) fn write_derived_rows(&mut self, rows: &DerivedRows) -> Result<(), Failed> {
        let mut client = self.conn();
        let mut tx = client.transaction().doing("starting to write incidents")?;
        // Writers queue here as for the log: two processes' incidents never interleave.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::WRITE_LOCK])
            .doing("waiting for the write lock")?;
        if rows.replace_all {
            tx.batch_execute(
                "DELETE FROM incident_observations; DELETE FROM incident_transitions; \
                 DELETE FROM incidents; DELETE FROM tasks;",
            )
            .doing("emptying the derived tables")?;
        }
        for chunk in rows.incidents.chunks(CHUNK) {
            write_incidents(&mut tx, chunk)?;
        }
        for task in &rows.tasks {
            write_task(&mut tx, task)?;
        }
        // Never moved back by a replica with an older view, except by a rebuild.
        tx.execute(
            "INSERT INTO derived_state (name, through_seq) VALUES ('ledger', $1) \
             ON CONFLICT (name) DO UPDATE SET through_seq = CASE WHEN $2 THEN excluded.through_seq \
             ELSE GREATEST(derived_state.through_seq, excluded.through_seq) END",
            &[&rows.through_seq.map(to_i64), &rows.replace_all],
        )
        .doing("recording how far the derived tables reach")?;
        tx.commit().doing("committing the incidents")
    }
}

/// The entries, observation rows and breaches of `chunk` (new observations with their seqs).
fn insert_observations(
    tx: &mut Transaction<'_>,
    chunk: &[(u64, &Row<'_>)],
    batch_id: i64,
) -> Result<(), Failed> {
    let seqs: Vec<i64> = chunk.iter().map(|(s, _)| to_i64(*s)).collect();
    let bodies: Vec<&[u8]> = chunk.iter().map(|(_, r)| r.body.as_bytes()).collect();
    let hexes: Vec<String> = chunk.iter().map(|(_, r)| hex(&r.digest)).collect();
    tx.execute(
        "INSERT INTO entries (seq, kind, body, sha256) \
         SELECT s, 'observation', b, h FROM UNNEST($1::bigint[], $2::bytea[], $3::text[]) AS u(s, b, h) ORDER BY s",
        &[&seqs, &bodies, &hexes],
    )
    .doing("appending the observations' entries")?;

    let mut geom = Vec::with_capacity(chunk.len());
    let mut assessed: Vec<Option<Vec<u8>>> = Vec::with_capacity(chunk.len());
    let mut obs_id = Vec::with_capacity(chunk.len());
    let mut kind = Vec::with_capacity(chunk.len());
    let mut observed_at = Vec::with_capacity(chunk.len());
    let mut time_unc = Vec::with_capacity(chunk.len());
    let mut source_id = Vec::with_capacity(chunk.len());
    let mut source_kind = Vec::with_capacity(chunk.len());
    let mut reliability = Vec::with_capacity(chunk.len());
    let mut credibility: Vec<i32> = Vec::with_capacity(chunk.len());
    let mut error_radius = Vec::with_capacity(chunk.len());
    let mut bearing = Vec::with_capacity(chunk.len());
    let mut weapon_class = Vec::with_capacity(chunk.len());
    let mut weapon_count: Vec<Option<i32>> = Vec::with_capacity(chunk.len());
    let mut affiliation = Vec::with_capacity(chunk.len());
    let mut source_record = Vec::with_capacity(chunk.len());
    let mut remarks = Vec::with_capacity(chunk.len());
    let mut party_area = Vec::with_capacity(chunk.len());
    let mut distance = Vec::with_capacity(chunk.len());
    let mut zones = Vec::with_capacity(chunk.len());
    let mut crossings = Vec::with_capacity(chunk.len());
    let mut breach_count: Vec<i32> = Vec::with_capacity(chunk.len());
    let mut max_severity = Vec::with_capacity(chunk.len());
    let mut keys: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    let mut locator = Vec::with_capacity(chunk.len());
    // Breaches, flattened.
    let (mut b_obs, mut b_rule, mut b_sev, mut b_party, mut b_basis, mut b_detail, mut b_certain) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (seq, r) in chunk {
        let a = r.accepted;
        let o = &a.observation;
        let p = &o.properties;
        let g = geometry::place(&a.place);
        let at = geometry::point(a.place.assessed_point());
        assessed.push((at.blob != g.blob).then(|| at.wkb().to_vec()));
        geom.push(g.wkb().to_vec());
        obs_id.push(o.id.as_deref());
        kind.push(p.kind.as_str());
        observed_at.push(p.observed_at);
        time_unc.push(p.time_uncertainty_s);
        source_id.push(p.source.id.as_str());
        source_kind.push(p.source.kind.as_str());
        reliability.push(reliability_str(p.source.reliability));
        credibility.push(i32::from(p.source.credibility));
        error_radius.push(p.error_radius_m);
        bearing.push(p.bearing.as_ref().map(|b| b.azimuth_deg));
        weapon_class.push(p.weapon.as_ref().map(|w| w.class.as_str()));
        weapon_count.push(p.weapon.as_ref().map(|w| w.count as i32));
        affiliation.push(p.affiliation.as_deref());
        source_record.push(p.source_record.as_deref());
        remarks.push(p.remarks.as_str());
        let s = &a.assessment;
        party_area.push(s.party_area.as_deref());
        distance.push(s.distance_to_line_m);
        zones.push(s.zones.join(","));
        crossings.push((!s.crossings.is_empty()).then(|| to_canonical_json(&s.crossings)));
        breach_count.push(s.breaches.len() as i32);
        max_severity.push(s.breaches.iter().map(|b| b.severity).max().map(Severity::as_str));
        keys.push(&r.digest[..]);
        locator.push(a.locator.as_str());
        for b in &s.breaches {
            b_obs.push(to_i64(*seq));
            b_rule.push(b.rule.as_str());
            b_sev.push(b.severity.as_str());
            b_party.push(b.party.as_deref());
            b_basis.push(b.basis.as_str());
            b_detail.push(b.detail.as_str());
            b_certain.push(b.certain);
        }
    }
    tx.execute(
        "INSERT INTO observations (fid, geom, obs_id, kind, observed_at, time_uncertainty_s, source_id, \
         source_kind, reliability, credibility, error_radius_m, bearing_deg, weapon_class, weapon_count, \
         affiliation, source_record, remarks, party_area, distance_to_line_m, zones, crossings, \
         breach_count, max_severity, assessed_geom, content_sha256, batch_id, locator) \
         SELECT u.fid, ST_GeomFromWKB(u.geom, 4326), u.obs_id, u.kind, u.observed_at, u.tu, u.source_id, \
         u.source_kind, u.reliability, u.credibility, u.err, u.bearing, u.wclass, u.wcount, u.aff, \
         u.srec, u.remarks, u.party_area, u.dist, u.zones, u.crossings, u.bc, u.maxsev, \
         ST_GeomFromWKB(u.assessed, 4326), u.key, $26, u.locator \
         FROM UNNEST($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::timestamptz[], \
         $6::float8[], $7::text[], $8::text[], $9::text[], $10::int[], $11::float8[], $12::float8[], \
         $13::text[], $14::int[], $15::text[], $16::text[], $17::text[], $18::text[], $19::float8[], \
         $20::text[], $21::text[], $22::int[], $23::text[], $24::bytea[], $25::bytea[], $27::text[]) \
         AS u(fid, geom, obs_id, kind, observed_at, tu, source_id, source_kind, reliability, credibility, \
         err, bearing, wclass, wcount, aff, srec, remarks, party_area, dist, zones, crossings, bc, maxsev, \
         assessed, key, locator) ORDER BY u.fid",
        &[
            &seqs,
            &geom,
            &obs_id,
            &kind,
            &observed_at,
            &time_unc,
            &source_id,
            &source_kind,
            &reliability,
            &credibility,
            &error_radius,
            &bearing,
            &weapon_class,
            &weapon_count,
            &affiliation,
            &source_record,
            &remarks,
            &party_area,
            &distance,
            &zones,
            &crossings,
            &breach_count,
            &max_severity,
            &assessed,
            &keys,
            &batch_id,
            &locator,
        ],
    )
    .doing("storing the observations")?;
    if !b_obs.is_empty() {
        tx.execute(
            "INSERT INTO breaches (obs_fid, rule, severity, party, basis, detail, certain) \
             SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::bool[])",
            &[&b_obs, &b_rule, &b_sev, &b_party, &b_basis, &b_detail, &b_certain],
        )
        .doing("storing the breaches")?;
    }
    Ok(())
}

fn replace_layers(tx: &mut Transaction<'_>, a: &Agreement) -> Result<(), Failed> {
    tx.batch_execute(
        "DELETE FROM contact_line; DELETE FROM party_areas; DELETE FROM zones; DELETE FROM storage_sites;",
    )
    .doing("clearing the agreement's layers")?;
    let line = geometry::multi_line_string(&a.contact_line.lines);
    tx.execute(
        "INSERT INTO contact_line (geom, agreement_id, geometry_file, agreement_hash) \
         VALUES (ST_GeomFromWKB($1, 4326), $2, $3, $4)",
        &[&line.wkb(), &a.id, &a.contact_line.geometry_file, &a.hash],
    )
    .doing("writing the contact line")?;
    for party in &a.parties {
        let area = geometry::multi_polygon(&party.area);
        tx.execute(
            "INSERT INTO party_areas (geom, party, name, area_file, agreement_hash) \
             VALUES (ST_GeomFromWKB($1, 4326), $2, $3, $4, $5)",
            &[&area.wkb(), &party.id, &party.name, &party.area_file, &a.hash],
        )
        .map_err(|source| Failed {
            what: format!("writing the area of party {}", party.id),
            source: Box::new(source),
        })?;
    }
    for zone in &a.zones {
        let (geom, within_km, file) = match &zone.extent {
            ZoneExtent::Polygons { file, polygons } => (
                Some(geometry::multi_polygon(polygons).wkb().to_vec()),
                None,
                Some(file.as_str()),
            ),
            ZoneExtent::WithinKmOfLine { within_km } => (None, Some(*within_km), None),
        };
        let prohibits: Vec<&str> = zone.prohibits.iter().map(|p| p.as_str()).collect();
        tx.execute(
            "INSERT INTO zones (geom, zone_id, name, kind, prohibits, within_km, geometry_file, agreement_hash) \
             VALUES (ST_GeomFromWKB($1, 4326), $2, $3, $4, $5, $6, $7, $8)",
            &[
                &geom,
                &zone.id,
                &zone.name,
                &zone.kind.as_str(),
                &prohibits.join(","),
                &within_km,
                &file,
                &a.hash,
            ],
        )
        .map_err(|source| Failed {
            what: format!("writing zone {}", zone.id),
            source: Box::new(source),
        })?;
    }
    for site in &a.storage_sites {
        let point = geometry::point(site.location);
        let serials = (!site.serials.is_empty()).then(|| to_canonical_json(&site.serials));
        tx.execute(
            "INSERT INTO storage_sites (geom, site_id, name, party, radius_m, declared, serials, agreement_hash) \
             VALUES (ST_GeomFromWKB($1, 4326), $2, $3, $4, $5, $6, $7, $8)",
            &[
                &point.wkb(),
                &site.id,
                &site.name,
                &site.party,
                &site.radius_m,
                &to_canonical_json(&site.declared),
                &serials,
                &a.hash,
            ],
        )
        .map_err(|source| Failed {
            what: format!("writing storage site {}", site.id),
            source: Box::new(source),
        })?;
    }
    Ok(())
}

/// The incidents of `chunk` in three statements whatever their number: the rows (each replaced
/// only by one at least as new: replicas on one database each write the incidents their
/// entries touched, and one folded further must not be overwritten by an older view), then the
/// observations and transitions of those actually written.
fn write_incidents(tx: &mut Transaction<'_>, chunk: &[IncidentRow]) -> Result<(), Failed> {
    let n = chunk.len();
    let mut fid = Vec::with_capacity(n);
    let mut geom: Vec<Option<Vec<u8>>> = Vec::with_capacity(n);
    let (mut id, mut group, mut kinds, mut state, mut evidence) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut confidence, mut start, mut end, mut radius) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut source_kinds, mut count, mut rules, mut severity) = (
        Vec::with_capacity(n),
        Vec::<i32>::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut suggested, mut basis, mut attributed) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut olon, mut olat, mut major, mut minor, mut azimuth) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut last, mut updated, mut independent, mut links) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for inc in chunk {
        let o = inc.origin.as_ref();
        fid.push(to_i64(inc.first_seq));
        geom.push(inc.location.map(|p| geometry::point(p).wkb().to_vec()));
        id.push(inc.incident_id.as_str());
        group.push(inc.event_group.as_str());
        kinds.push(inc.kinds.join(","));
        state.push(inc.state.as_str());
        evidence.push(inc.evidence.as_str());
        confidence.push(inc.confidence);
        start.push(inc.start_at);
        end.push(inc.end_at);
        radius.push(inc.radius_m);
        source_kinds.push(inc.source_kinds.join(","));
        count.push(inc.observation_seqs.len() as i32);
        rules.push(inc.rules.join(","));
        severity.push(inc.max_severity.as_deref());
        suggested.push(inc.suggested_party.as_deref());
        basis.push(inc.suggestion_basis.as_deref());
        attributed.push(inc.attributed_party.as_deref());
        olon.push(o.map(|o| o.point[0]));
        olat.push(o.map(|o| o.point[1]));
        major.push(o.map(|o| o.semi_major_m));
        minor.push(o.map(|o| o.semi_minor_m));
        azimuth.push(o.map(|o| o.azimuth_deg));
        last.push(to_i64(
            *inc.observation_seqs.last().expect("an incident has observations"),
        ));
        updated.push(to_i64(inc.updated_seq));
        independent.push(inc.independent_sources.map(to_i64));
        links.push(inc.links_json.as_deref());
    }
    let written: Vec<i64> = tx
        .query(
            "INSERT INTO incidents (fid, geom, incident_id, event_group, kinds, state, evidence, \
             confidence, start_at, end_at, radius_m, source_kinds, observations, rules, max_severity, \
             suggested_party, suggestion_basis, attributed_party, origin_lon, origin_lat, \
             ellipse_semi_major_m, ellipse_semi_minor_m, ellipse_azimuth_deg, first_seq, last_seq, \
             updated_seq, independent_sources, links) \
             SELECT u.fid, ST_GeomFromWKB(u.geom, 4326), u.id, u.grp, u.kinds, u.state, u.evidence, \
             u.confidence, u.start_at, u.end_at, u.radius, u.source_kinds, u.n, u.rules, u.severity, \
             u.suggested, u.basis, u.attributed, u.olon, u.olat, u.major, u.minor, u.azimuth, u.fid, \
             u.last_seq, u.updated, u.independent, u.links \
             FROM UNNEST($1::bigint[], $2::bytea[], $3::text[], $4::text[], $5::text[], $6::text[], \
             $7::text[], $8::float8[], $9::timestamptz[], $10::timestamptz[], $11::float8[], $12::text[], \
             $13::int[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::float8[], \
             $20::float8[], $21::float8[], $22::float8[], $23::float8[], $24::bigint[], $25::bigint[], \
             $26::bigint[], $27::text[]) \
             AS u(fid, geom, id, grp, kinds, state, evidence, confidence, start_at, end_at, radius, \
             source_kinds, n, rules, severity, suggested, basis, attributed, olon, olat, major, minor, \
             azimuth, last_seq, updated, independent, links) \
             ON CONFLICT (fid) DO UPDATE SET geom = excluded.geom, incident_id = excluded.incident_id, \
             event_group = excluded.event_group, kinds = excluded.kinds, state = excluded.state, \
             evidence = excluded.evidence, confidence = excluded.confidence, start_at = excluded.start_at, \
             end_at = excluded.end_at, radius_m = excluded.radius_m, source_kinds = excluded.source_kinds, \
             observations = excluded.observations, rules = excluded.rules, max_severity = excluded.max_severity, \
             suggested_party = excluded.suggested_party, suggestion_basis = excluded.suggestion_basis, \
             attributed_party = excluded.attributed_party, origin_lon = excluded.origin_lon, \
             origin_lat = excluded.origin_lat, ellipse_semi_major_m = excluded.ellipse_semi_major_m, \
             ellipse_semi_minor_m = excluded.ellipse_semi_minor_m, ellipse_azimuth_deg = excluded.ellipse_azimuth_deg, \
             last_seq = excluded.last_seq, updated_seq = excluded.updated_seq, \
             independent_sources = excluded.independent_sources, links = excluded.links \
             WHERE incidents.updated_seq <= excluded.updated_seq RETURNING fid",
            &[
                &fid, &geom, &id, &group, &kinds, &state, &evidence, &confidence, &start, &end,
                &radius, &source_kinds, &count, &rules, &severity, &suggested, &basis, &attributed,
                &olon, &olat, &major, &minor, &azimuth, &last, &updated, &independent, &links,
            ],
        )
        .doing("writing the incidents")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if written.is_empty() {
        return Ok(());
    }
    let written_set: std::collections::HashSet<i64> = written.iter().copied().collect();
    tx.execute(
        "DELETE FROM incident_observations WHERE incident_fid = ANY($1)",
        &[&written],
    )
    .doing("clearing the incidents' observations")?;
    tx.execute(
        "DELETE FROM incident_transitions WHERE incident_fid = ANY($1)",
        &[&written],
    )
    .doing("clearing the incidents' transitions")?;
    let (mut link_inc, mut link_obs) = (Vec::new(), Vec::new());
    let (mut t_inc, mut t_ord, mut t_from, mut t_to, mut t_action, mut t_at, mut t_actor) =
        (vec![], Vec::<i32>::new(), vec![], vec![], vec![], vec![], vec![]);
    let (mut t_reason, mut t_seq) = (vec![], vec![]);
    for inc in chunk {
        let f = to_i64(inc.first_seq);
        if !written_set.contains(&f) {
            continue;
        }
        for &seq in &inc.observation_seqs {
            link_inc.push(f);
            link_obs.push(to_i64(seq));
        }
        for (i, t) in inc.transitions.iter().enumerate() {
            t_inc.push(f);
            t_ord.push(i as i32);
            t_from.push(t.from_state.as_deref());
            t_to.push(t.to_state.as_str());
            t_action.push(t.action.as_str());
            t_at.push(t.at);
            t_actor.push(t.actor.as_str());
            t_reason.push(t.reason.as_str());
            t_seq.push(to_i64(t.entry_seq));
        }
    }
    tx.execute(
        "INSERT INTO incident_observations (incident_fid, obs_fid) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
        &[&link_inc, &link_obs],
    )
    .doing("linking the incidents to their observations")?;
    if !t_inc.is_empty() {
        tx.execute(
            "INSERT INTO incident_transitions (incident_fid, ordinal, from_state, to_state, action, at, \
             actor, reason, entry_seq) SELECT * FROM UNNEST($1::bigint[], $2::int[], $3::text[], \
             $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::bigint[])",
            &[&t_inc, &t_ord, &t_from, &t_to, &t_action, &t_at, &t_actor, &t_reason, &t_seq],
        )
        .doing("writing the incidents' transitions")?;
    }
    Ok(())
}

fn write_task(tx: &mut Transaction<'_>, task: &TaskRow) -> Result<(), Failed> {
    tx.execute(
        "INSERT INTO tasks (fid, geom, task_id, incident_id, state, priority, team, distance_m, created_at, \
         created_seq, assigned_at, outcome, outcome_at, outcome_seq, note) \
         VALUES ($1, ST_GeomFromWKB($2, 4326), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (fid) DO UPDATE SET task_id = excluded.task_id, geom = excluded.geom, state = excluded.state, \
         priority = excluded.priority, team = excluded.team, distance_m = excluded.distance_m, \
         assigned_at = excluded.assigned_at, outcome = excluded.outcome, outcome_at = excluded.outcome_at, \
         outcome_seq = excluded.outcome_seq, note = excluded.note",
        &[
            &to_i64(task.fid),
            &geometry::point(task.location).wkb(),
            &task.task_id,
            &task.incident_id,
            &task.state,
            &task.priority,
            &task.team,
            &task.distance_m,
            &task.created_at,
            &to_i64(task.created_seq),
            &task.assigned_at,
            &task.outcome,
            &task.outcome_at,
            &task.outcome_seq.map(to_i64),
            &task.note,
        ],
    )
    .map_err(|source| Failed {
        what: format!("writing task {}", task.task_id),
        source: Box::new(source),
    })?;
    Ok(())
}
