//! The store's reads: the summary of what it holds, observations with their assessments and
//! breaches, and entries, each checked as it is parsed back (a value the store would not have
//! written is reported as corruption, naming the row).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use truce_core::agreement::Severity;
use truce_core::assess::{Breach, LineCrossing};
use truce_core::observation::{Observation, ObservationKind, SourceKind};

use crate::geopackage::{GeoPackageStore, count, hex, to_i64};
use crate::{
    AgreementInfo, Entry, EntryKind, StoreError, StoredAssessment, StoredObservation,
    StoredRejected, Summary, UNATTRIBUTED,
};

/// Observations stored, in all and by kind and by source kind.
#[derive(Default)]
struct ObservationCounts {
    total: u64,
    by_kind: BTreeMap<ObservationKind, u64>,
    by_source_kind: BTreeMap<SourceKind, u64>,
}

/// Breaches stored, in all and by rule, by party, and by rule and party.
#[derive(Default)]
struct BreachCounts {
    total: u64,
    by_rule: BTreeMap<String, u64>,
    by_party: BTreeMap<String, u64>,
    by_rule_and_party: BTreeMap<String, BTreeMap<String, u64>>,
}

/// An `observations` row joined with its `assessments` row.
type ObservationRow = (
    i64,
    i64,
    String,
    Vec<u8>,
    Vec<u8>,
    String,
    Option<String>,
    f64,
    String,
    Option<String>,
);

impl GeoPackageStore {
    /// What the store holds: the agreement in force, counts, and the first `rejected_shown`
    /// rejected records.
    pub(crate) fn read_summary(&self, rejected_shown: usize) -> Result<Summary, StoreError> {
        let agreement = self.agreement_info()?;
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
        let observations = self.observation_counts()?;
        let breaches = self.breach_counts()?;
        let rejected: i64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM rejected_records", [], |r| r.get(0))
            .map_err(self.read_failed("the rejected-record count"))?;
        let first_rejected = self.first_rejected(rejected_shown)?;

        Ok(Summary {
            agreement,
            entries: entries as u64,
            batches: batches as u64,
            observations: observations.total,
            duplicates: duplicates as u64,
            observations_by_kind: observations.by_kind,
            observations_by_source_kind: observations.by_source_kind,
            breaches: breaches.total,
            breaches_by_rule: breaches.by_rule,
            breaches_by_party: breaches.by_party,
            breaches_by_rule_and_party: breaches.by_rule_and_party,
            rejected: rejected as u64,
            first_rejected,
        })
    }

    /// The agreement in force (the last put), if any.
    fn agreement_info(&self) -> Result<Option<AgreementInfo>, StoreError> {
        self.conn
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
            .transpose()
    }

    fn observation_counts(&self) -> Result<ObservationCounts, StoreError> {
        let mut counts = ObservationCounts::default();
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
            counts.total += n;
            *counts.by_kind.entry(kind).or_insert(0) += n;
            *counts.by_source_kind.entry(source_kind).or_insert(0) += n;
        }
        Ok(counts)
    }

    fn breach_counts(&self) -> Result<BreachCounts, StoreError> {
        let mut counts = BreachCounts::default();
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
            counts.total += n;
            let party = party.unwrap_or_else(|| UNATTRIBUTED.to_string());
            *counts
                .by_rule_and_party
                .entry(rule.clone())
                .or_default()
                .entry(party.clone())
                .or_insert(0) += n;
            *counts.by_rule.entry(rule).or_insert(0) += n;
            *counts.by_party.entry(party).or_insert(0) += n;
        }
        Ok(counts)
    }

    /// The first `shown` rejected records, in the order they were stored.
    fn first_rejected(&self, shown: usize) -> Result<Vec<StoredRejected>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT batch_id, file, locator, raw, reason, received_at, entry_seq FROM rejected_records \
                 ORDER BY id LIMIT ?1",
            )
            .map_err(self.read_failed("rejected records"))?;
        let rows = stmt
            .query_map([count(shown)], |r| {
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
        rows.into_iter()
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
            .collect::<Result<Vec<_>, StoreError>>()
    }

    /// Observations from entry `from_seq` on, at most `limit`, each with its assessment and
    /// breaches.
    pub(crate) fn read_observations(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredObservation>, StoreError> {
        let rows = self.observation_rows(from_seq, limit)?;
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
            let observation: Observation = serde_json::from_slice(&body)
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
                content_sha256: hex(&content_sha256),
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
        self.attach_breaches(&mut out, &index)?;
        Ok(out)
    }

    fn observation_rows(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<ObservationRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.fid, o.batch_id, o.locator, o.content_sha256, e.body, b.agreement_hash, o.party_area, \
                 o.distance_to_line_m, o.zones, o.crossings \
                 FROM observations o JOIN entries e ON e.seq = o.fid JOIN batches b ON b.id = o.batch_id \
                 WHERE o.fid >= ?1 ORDER BY o.fid LIMIT ?2",
            )
            .map_err(self.read_failed("observations"))?;
        stmt.query_map(params![to_i64(from_seq), count(limit)], |r| {
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
        .map_err(self.read_failed("observations"))
    }

    /// Adds to `out` (whose positions by seq are in `index`) the breaches of its observations.
    fn attach_breaches(
        &self,
        out: &mut [StoredObservation],
        index: &HashMap<i64, usize>,
    ) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (out.first(), out.last()) else {
            return Ok(());
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
        Ok(())
    }

    /// Entries from `from_seq` on, at most `limit`.
    /// The `report` entries (reports issued), by seq: `(seq, body)`. Read through a partial
    /// index, so the log's observations are not scanned.
    pub fn report_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, body FROM entries WHERE kind = 'report' ORDER BY seq")
            .map_err(self.read_failed("entries"))?;
        stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
        })
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .map_err(self.read_failed("entries"))
    }

    pub(crate) fn read_entries(
        &self,
        from_seq: u64,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
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

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("time {s:?}: {e}"))
}

pub(crate) fn parse_severity(s: &str) -> Result<Severity, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown severity {s:?}"))
}

pub(crate) fn parse_source_kind(s: &str) -> Result<SourceKind, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("unknown source kind {s:?}"))
}

/// The `crossings` column: canonical JSON of the engine's [`LineCrossing`]s.
pub(crate) fn parse_crossings(text: &str) -> Result<Vec<LineCrossing>, String> {
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

pub(crate) fn split_list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use truce_core::canonical::to_canonical_json;

    use super::*;
    use crate::geopackage::gpkg_datetime;

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
