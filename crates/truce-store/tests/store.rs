//! The GeoPackage store on the donbas-2015 scenario: round trip, duplicates, rejected records,
//! the file's GeoPackage structure, all-or-nothing batches, migrations, agreement changes, and
//! the observations layer rebuilt from the entries log.

mod common;

use std::collections::BTreeMap;

use common::{ScratchFile, accepted, agreement_with, batch, engine, received_at, rejected};
use rusqlite::Connection;
use truce_core::canonical::to_canonical_json;
use truce_store::{
    AgreementOutcome, EntryKind, GPKG_APPLICATION_ID, GPKG_USER_VERSION, GeoPackageStore, Store,
    StoreError, UNATTRIBUTED,
};

/// Every stored observation, in seq order.
fn all_observations(store: &GeoPackageStore) -> Vec<truce_store::StoredObservation> {
    store.observations(0, usize::MAX).unwrap()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn a_batch_round_trips() {
    let file = ScratchFile::new("round-trip");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    let installed = store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    assert_eq!(
        installed,
        AgreementOutcome::Installed {
            entry_seq: 0,
            previous_hash: None
        }
    );

    let outcome = store
        .append_batch(&batch(
            &engine,
            "observations.geojson",
            input.clone(),
            rejected(),
        ))
        .unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.rejected),
        (input.len(), 0, 2)
    );
    assert_eq!(outcome.first_seq, Some(1), "entry 0 is the agreement");
    assert_eq!(
        outcome.last_seq,
        Some(input.len() as u64 + 2),
        "observations, then the two rejections"
    );

    let stored = all_observations(&store);
    assert_eq!(stored.len(), input.len());
    for (i, (s, a)) in stored.iter().zip(&input).enumerate() {
        assert_eq!(s.seq, i as u64 + 1);
        assert_eq!(s.batch_id, outcome.batch_id);
        assert_eq!(s.locator, a.locator);
        assert_eq!(s.observation, a.observation);
        let (got, want) = (&s.assessment, &a.assessment);
        assert_eq!(got.agreement_hash, engine.agreement().hash);
        assert_eq!(got.party_area, want.party_area, "{}", want.id);
        assert_eq!(
            got.distance_to_line_m, want.distance_to_line_m,
            "{}",
            want.id
        );
        assert_eq!(got.zones, want.zones, "{}", want.id);
        assert_eq!(got.crossings, want.crossings, "{}", want.id);
        assert_eq!(got.breaches, want.breaches, "{}", want.id);
    }
    assert!(
        stored.iter().any(|s| !s.assessment.crossings.is_empty()),
        "the scenario has a crossing track"
    );

    let summary = store.summary(10).unwrap();
    assert_eq!(
        summary.agreement.as_ref().unwrap().hash,
        engine.agreement().hash
    );
    assert_eq!(
        summary.agreement.as_ref().unwrap().effective_at,
        engine.agreement().effective_at
    );
    assert_eq!(summary.observations, input.len() as u64);
    assert_eq!(summary.entries, input.len() as u64 + 3);
    assert_eq!(summary.batches, 1);
    let mut by_kind = BTreeMap::new();
    let mut by_source_kind = BTreeMap::new();
    let mut by_rule = BTreeMap::new();
    let mut by_party = BTreeMap::new();
    let mut by_rule_and_party: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for a in &input {
        *by_kind.entry(a.observation.properties.kind).or_insert(0) += 1;
        *by_source_kind
            .entry(a.observation.properties.source.kind)
            .or_insert(0) += 1;
        for b in &a.assessment.breaches {
            *by_rule.entry(b.rule.clone()).or_insert(0) += 1;
            *by_party
                .entry(b.party.clone().unwrap_or_else(|| UNATTRIBUTED.into()))
                .or_insert(0) += 1;
            *by_rule_and_party
                .entry(b.rule.clone())
                .or_default()
                .entry(b.party.clone().unwrap_or_else(|| UNATTRIBUTED.into()))
                .or_insert(0) += 1;
        }
    }
    assert_eq!(summary.observations_by_kind, by_kind);
    assert_eq!(summary.observations_by_source_kind, by_source_kind);
    assert_eq!(summary.breaches_by_rule, by_rule);
    assert_eq!(summary.breaches_by_party, by_party);
    assert_eq!(summary.breaches_by_rule_and_party, by_rule_and_party);
    assert!(
        summary.breaches_by_party.contains_key(UNATTRIBUTED),
        "impacts attribute to no one"
    );
    assert_eq!(summary.breaches, by_rule.values().sum::<u64>());
}

#[test]
fn read_view_pages_by_seq() {
    let file = ScratchFile::new("pages");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(&engine, "a.geojson", input.clone(), Vec::new()))
        .unwrap();
    let mut seen = Vec::new();
    let mut from = 0;
    loop {
        let page = store.observations(from, 7).unwrap();
        let Some(last) = page.last() else { break };
        assert!(page.len() <= 7);
        from = last.seq + 1;
        seen.extend(page.into_iter().map(|s| s.observation));
    }
    assert_eq!(
        seen,
        input
            .iter()
            .map(|a| a.observation.clone())
            .collect::<Vec<_>>()
    );
    assert!(store.observations(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn duplicates_are_stored_once_within_and_across_batches() {
    let file = ScratchFile::new("duplicates");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();

    let mut with_repeats = input.clone();
    with_repeats.extend(input[..5].iter().cloned());
    let first = store
        .append_batch(&batch(&engine, "a.geojson", with_repeats, Vec::new()))
        .unwrap();
    assert_eq!((first.accepted, first.duplicates), (input.len(), 5));
    // Each record's place: the input is in store order, so record i is entry 1 + i; the five
    // repeats point at the entries of the records they repeat.
    let n = input.len();
    assert_eq!(first.placed.len(), n + 5);
    for (i, &(seq, new)) in first.placed.iter().enumerate() {
        let want = if i < n {
            (1 + i as u64, true)
        } else {
            (1 + (i - n) as u64, false)
        };
        assert_eq!((seq, new), want, "record {i}");
    }

    // The same records again, under another file name and locators: still the same content.
    let mut again = input.clone();
    again
        .iter_mut()
        .enumerate()
        .for_each(|(i, a)| a.locator = format!("line {}", i + 2));
    let second = store
        .append_batch(&batch(&engine, "copy.geojson", again, Vec::new()))
        .unwrap();
    assert_eq!((second.accepted, second.duplicates), (0, input.len()));
    assert_eq!((second.first_seq, second.last_seq), (None, None));
    assert_eq!(
        second.placed,
        (0..n).map(|i| (1 + i as u64, false)).collect::<Vec<_>>()
    );

    let summary = store.summary(0).unwrap();
    assert_eq!(summary.observations, input.len() as u64);
    assert_eq!(summary.duplicates, input.len() as u64 + 5);
    assert_eq!(summary.batches, 2);
    assert_eq!(summary.entries, input.len() as u64 + 1);
    drop(store);

    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM observations"),
        input.len() as i64
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM assessments"),
        input.len() as i64
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM rtree_observations_geom"),
        input.len() as i64
    );
    let breaches: usize = input.iter().map(|a| a.assessment.breaches.len()).sum();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM breaches"),
        breaches as i64
    );
    assert_eq!(
        count(&conn, "SELECT SUM(observations) FROM sources"),
        input.len() as i64
    );
    assert_eq!(
        count(&conn, "SELECT duplicates FROM batches WHERE id = 2"),
        input.len() as i64
    );
}

#[test]
fn rejected_records_are_kept_with_raw_text_and_reason() {
    let file = ScratchFile::new("rejected");
    let engine = engine();
    let bad = rejected();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    let first = store
        .append_batch(&batch(&engine, "feed.geojson", Vec::new(), bad.clone()))
        .unwrap();
    assert_eq!(
        (
            first.accepted,
            first.rejected,
            first.first_seq,
            first.last_seq
        ),
        (0, 2, Some(1), Some(2))
    );

    let summary = store.summary(1).unwrap();
    assert_eq!(summary.rejected, 2);
    assert_eq!(summary.first_rejected.len(), 1, "only as many as asked for");
    let shown = &summary.first_rejected[0];
    assert_eq!(
        (shown.file.as_str(), shown.locator.as_str()),
        ("feed.geojson", "feature 0")
    );
    assert_eq!(shown.raw, bad[0].raw);
    assert!(shown.reason.contains("latitude 98.1"), "{}", shown.reason);
    assert_eq!(shown.received_at, received_at());
    assert!(bad[1].reason.contains("colour"), "{}", bad[1].reason);

    let entries = store.entries(1, 10).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].kind, EntryKind::Rejected);
    let body: serde_json::Value = serde_json::from_slice(&entries[0].body).unwrap();
    assert_eq!(body["file"], "feed.geojson");
    assert_eq!(body["locator"], "feature 0");
    assert_eq!(body["reason"], bad[0].reason.as_str());
    assert_eq!(body["raw_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(
        to_canonical_json(&body).as_bytes(),
        entries[0].body,
        "the body is canonical JSON"
    );

    // The same file again: the batch keeps its own rejected rows, the log does not repeat itself.
    let second = store
        .append_batch(&batch(&engine, "feed.geojson", Vec::new(), bad))
        .unwrap();
    assert_eq!((second.rejected, second.first_seq), (2, None));
    let summary = store.summary(10).unwrap();
    assert_eq!(summary.rejected, 4);
    assert_eq!(summary.entries, 3);
    assert_eq!(
        summary.first_rejected[2].entry_seq,
        summary.first_rejected[0].entry_seq
    );
    assert_eq!(summary.first_rejected[2].batch_id, second.batch_id);
}

#[test]
fn the_file_is_a_geopackage() {
    let file = ScratchFile::new("structure");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(&engine, "a.geojson", input.clone(), rejected()))
        .unwrap();
    drop(store);

    let conn = Connection::open(file.path()).unwrap();
    let pragma = |name: &str| {
        conn.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))
            .unwrap()
    };
    assert_eq!(
        pragma("application_id"),
        rusqlite::types::Value::Integer(0x4750_4B47)
    );
    assert_eq!(GPKG_APPLICATION_ID, 0x4750_4B47);
    assert_eq!(
        pragma("user_version"),
        rusqlite::types::Value::Integer(10300)
    );
    assert_eq!(GPKG_USER_VERSION, 10300);
    assert_eq!(
        pragma("journal_mode"),
        rusqlite::types::Value::Text("wal".into())
    );
    assert_eq!(
        conn.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM pragma_foreign_key_check"),
        0
    );

    for table in [
        "gpkg_spatial_ref_sys",
        "gpkg_contents",
        "gpkg_geometry_columns",
        "gpkg_extensions",
    ] {
        assert_eq!(
            count(
                &conn,
                &format!(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
                )
            ),
            1,
            "{table}"
        );
    }
    let srs: Vec<(i64, String)> = conn
        .prepare("SELECT srs_id, organization FROM gpkg_spatial_ref_sys ORDER BY srs_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        srs,
        [
            (-1, "NONE".into()),
            (0, "NONE".into()),
            (4326, "EPSG".into())
        ]
    );

    let features = [
        ("observations", "GEOMETRY"),
        ("assessments", "POINT"),
        ("contact_line", "MULTILINESTRING"),
        ("party_areas", "MULTIPOLYGON"),
        ("zones", "MULTIPOLYGON"),
        ("storage_sites", "POINT"),
    ];
    for (table, geometry_type) in features {
        let (data_type, srs_id, min_x, max_y): (String, i64, Option<f64>, Option<f64>) = conn
            .query_row(
                "SELECT data_type, srs_id, min_x, max_y FROM gpkg_contents WHERE table_name = ?1",
                [table],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!((data_type.as_str(), srs_id), ("features", 4326), "{table}");
        let (lon, lat) = (min_x.unwrap(), max_y.unwrap());
        assert!(
            (20.0..45.0).contains(&lon) && (44.0..53.0).contains(&lat),
            "{table} extent {lon} {lat}"
        );
        let (column, ty, z, m): (String, String, i64, i64) = conn
            .query_row(
                "SELECT column_name, geometry_type_name, z, m FROM gpkg_geometry_columns WHERE table_name = ?1 AND srs_id = 4326",
                [table],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (column.as_str(), ty.as_str(), z, m),
            ("geom", geometry_type, 0, 0),
            "{table}"
        );
    }
    for table in [
        "breaches",
        "batches",
        "rejected_records",
        "sources",
        "agreements",
        "entries",
    ] {
        let data_type: String = conn
            .query_row(
                "SELECT data_type FROM gpkg_contents WHERE table_name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(data_type, "attributes", "{table}");
    }
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM gpkg_extensions WHERE table_name = 'observations' AND column_name = 'geom' AND extension_name = 'gpkg_rtree_index' AND scope = 'write-only'"
        ),
        1
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM rtree_observations_geom"),
        input.len() as i64
    );

    // Every observation's R-tree box is its envelope; a point's box is the point (to f32).
    let (x, y) = match &input[0].place {
        truce_core::observation::Place::Point([x, y]) => (*x, *y),
        other => panic!("the scenario starts with a point, found {other:?}"),
    };
    let (minx, maxy): (f64, f64) = conn
        .query_row(
            "SELECT minx, maxy FROM rtree_observations_geom WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(
        (minx - x).abs() < 1e-4 && (maxy - y).abs() < 1e-4,
        "{minx} {maxy} vs {x} {y}"
    );

    // Geometry BLOB of observation 1: GeoPackage header (LE, xy envelope, 4326) + WKB point.
    let blob: Vec<u8> = conn
        .query_row("SELECT geom FROM observations WHERE fid = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(&blob[..8], &[b'G', b'P', 0, 0b11, 0xE6, 0x10, 0, 0]);
    assert_eq!(&blob[40..45], &[1, 1, 0, 0, 0]);
    assert_eq!(f64::from_le_bytes(blob[45..53].try_into().unwrap()), x);
    assert_eq!(f64::from_le_bytes(blob[53..61].try_into().unwrap()), y);

    // Band zones have no polygon: a NULL geometry and their distance.
    let (geom_is_null, within_km): (bool, Option<f64>) = conn
        .query_row(
            "SELECT geom IS NULL, within_km FROM zones WHERE zone_id = 'security-zone'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((geom_is_null, within_km), (true, Some(15.0)));
    assert_eq!(
        count(
            &conn,
            "SELECT COUNT(*) FROM zones WHERE geom IS NOT NULL AND within_km IS NULL"
        ),
        3
    );
}

#[test]
fn the_assessed_point_is_where_the_engine_decided_the_party() {
    let file = ScratchFile::new("assessed-point");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(&engine, "a.geojson", input.clone(), Vec::new()))
        .unwrap();
    drop(store);
    let conn = Connection::open(file.path()).unwrap();
    let mut stmt = conn
        .prepare("SELECT geom, party_area FROM assessments ORDER BY fid")
        .unwrap();
    let rows: Vec<(Vec<u8>, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows.len(), input.len());
    for ((blob, party), a) in rows.iter().zip(&input) {
        let x = f64::from_le_bytes(blob[45..53].try_into().unwrap());
        let y = f64::from_le_bytes(blob[53..61].try_into().unwrap());
        assert_eq!(
            engine.party_at([x, y]).map(str::to_string),
            *party,
            "{}",
            a.assessment.id
        );
    }
}

#[test]
fn a_batch_that_fails_halfway_leaves_nothing() {
    let file = ScratchFile::new("halfway");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(
            &engine,
            "first.geojson",
            input[..10].to_vec(),
            Vec::new(),
        ))
        .unwrap();

    // Inject a failure from outside the store: a unique index that one breach row of the
    // batch violates, so the batch fails after its first observations, entries and breaches
    // were written.
    let outside = Connection::open(file.path()).unwrap();
    outside
        .execute_batch(
            "CREATE UNIQUE INDEX inject_failure ON breaches(rule) WHERE rule = 'injected-failure'",
        )
        .unwrap();
    let snapshot = |conn: &Connection| -> Vec<i64> {
        [
            "SELECT COUNT(*) FROM entries",
            "SELECT COUNT(*) FROM observations",
            "SELECT COUNT(*) FROM assessments",
            "SELECT COUNT(*) FROM breaches",
            "SELECT COUNT(*) FROM rtree_observations_geom",
            "SELECT COUNT(*) FROM batches",
            "SELECT COUNT(*) FROM rejected_records",
            "SELECT COALESCE(SUM(observations), 0) FROM sources",
            "SELECT CAST(max_x * 1e9 AS INTEGER) FROM gpkg_contents WHERE table_name = 'observations'",
        ]
        .iter()
        .map(|sql| count(conn, sql))
        .collect()
    };
    let before = snapshot(&outside);

    let mut poisoned = input[10..].to_vec();
    let victim = poisoned.len() / 2;
    let mut breach = input
        .iter()
        .flat_map(|a| a.assessment.breaches.clone())
        .next()
        .unwrap();
    breach.rule = "injected-failure".into();
    poisoned[victim]
        .assessment
        .breaches
        .extend([breach.clone(), breach]);
    let victim_id = poisoned[victim].observation.id.clone().unwrap();
    let err = store
        .append_batch(&batch(&engine, "second.geojson", poisoned, rejected()))
        .unwrap_err();
    assert!(matches!(err, StoreError::Batch { .. }), "{err:?}");
    let message = err.to_string();
    for part in [
        file.path().display().to_string(),
        "second.geojson".into(),
        victim_id,
        "breaches".into(),
        "UNIQUE constraint failed".into(),
        "nothing of the batch was stored".into(),
    ] {
        assert!(message.contains(&part), "{message:?} lacks {part:?}");
    }
    assert_eq!(snapshot(&outside), before);

    // Without the fault the same batch goes in, its entries following on densely.
    outside.execute_batch("DROP INDEX inject_failure").unwrap();
    let outcome = store
        .append_batch(&batch(
            &engine,
            "second.geojson",
            input[10..].to_vec(),
            rejected(),
        ))
        .unwrap();
    assert_eq!(outcome.first_seq, Some(11));
    assert_eq!(outcome.last_seq, Some(input.len() as u64 + 2));
    let seqs: Vec<u64> = store
        .entries(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (0..input.len() as u64 + 3).collect::<Vec<_>>());
}

#[test]
fn the_entries_log_is_append_only() {
    let file = ScratchFile::new("append-only");
    let engine = engine();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    drop(store);
    let conn = Connection::open(file.path()).unwrap();
    for sql in [
        "UPDATE entries SET body = x'00' WHERE seq = 0",
        "DELETE FROM entries WHERE seq = 0",
        "INSERT INTO entries (seq, kind, body, sha256) VALUES (5, 'rejected', x'00', '')",
    ] {
        let err = conn.execute(sql, []).unwrap_err().to_string();
        assert!(err.contains("entries is append-only"), "{sql}: {err}");
    }
}

#[test]
fn reopening_applies_migrations_once() {
    let file = ScratchFile::new("reopen");
    let engine = engine();
    let input = accepted(&engine);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    let version = store.schema_version().unwrap();
    assert!(version >= 1);
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(
            &engine,
            "a.geojson",
            input[..20].to_vec(),
            Vec::new(),
        ))
        .unwrap();
    drop(store);

    for _ in 0..2 {
        let store = GeoPackageStore::open(file.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), version);
        assert_eq!(store.summary(0).unwrap().observations, 20);
    }
    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM truce_schema_version"),
        version
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM gpkg_spatial_ref_sys"), 3);
    drop(conn);

    let mut store = GeoPackageStore::open(file.path()).unwrap();
    assert_eq!(
        store
            .put_agreement(engine.agreement(), received_at())
            .unwrap(),
        AgreementOutcome::Unchanged
    );
    let outcome = store
        .append_batch(&batch(&engine, "b.geojson", input.clone(), Vec::new()))
        .unwrap();
    assert_eq!(
        (outcome.accepted, outcome.duplicates, outcome.first_seq),
        (input.len() - 20, 20, Some(21))
    );
    drop(store);

    // A file from a newer Truce is refused, not downgraded.
    let conn = Connection::open(file.path()).unwrap();
    conn.execute(
        "INSERT INTO truce_schema_version VALUES (?1, 'from the future')",
        [version + 1],
    )
    .unwrap();
    drop(conn);
    let err = GeoPackageStore::open(file.path())
        .err()
        .expect("a newer schema is refused");
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
    assert!(err.to_string().contains("upgrade Truce"), "{err}");
}

#[test]
fn other_files_are_refused() {
    let plain = ScratchFile::new("plain-sqlite");
    Connection::open(plain.path())
        .unwrap()
        .execute_batch("CREATE TABLE notes (body TEXT)")
        .unwrap();
    let err = GeoPackageStore::open(plain.path()).err().unwrap();
    assert!(matches!(err, StoreError::NotGeoPackage { .. }), "{err}");

    let other_gpkg = ScratchFile::new("other-gpkg");
    Connection::open(other_gpkg.path())
        .unwrap()
        .execute_batch(
            "PRAGMA application_id = 1196444487; CREATE TABLE gpkg_contents (table_name TEXT)",
        )
        .unwrap();
    let err = GeoPackageStore::open(other_gpkg.path()).err().unwrap();
    assert!(matches!(err, StoreError::NotTruceStore { .. }), "{err}");

    let text = ScratchFile::new("text");
    std::fs::write(
        text.path(),
        "this is not a database, it is a rather long line of text for SQLite to read",
    )
    .unwrap();
    let err = GeoPackageStore::open(text.path()).err().unwrap();
    assert!(
        err.to_string()
            .starts_with(&text.path().display().to_string()),
        "{err}"
    );
}

#[test]
fn a_new_agreement_replaces_the_layers_and_is_logged() {
    let file = ScratchFile::new("agreements");
    let engine = engine();
    let old = engine.agreement().clone();
    let new = agreement_with(Some(("withdrawal_km = 25", "withdrawal_km = 24")));
    assert_ne!(old.hash, new.hash);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store.put_agreement(&old, received_at()).unwrap();
    assert_eq!(
        store.put_agreement(&new, received_at()).unwrap(),
        AgreementOutcome::Installed {
            entry_seq: 1,
            previous_hash: Some(old.hash.clone())
        }
    );
    // A batch assessed under the old terms no longer fits.
    let err = store
        .append_batch(&batch(
            &engine,
            "late.geojson",
            accepted(&engine),
            Vec::new(),
        ))
        .unwrap_err();
    assert!(matches!(err, StoreError::AgreementMismatch { .. }), "{err}");
    assert!(err.to_string().contains("late.geojson"), "{err}");
    // Going back to the old terms logs them again, so a replay knows which terms were in force.
    assert_eq!(
        store.put_agreement(&old, received_at()).unwrap(),
        AgreementOutcome::Installed {
            entry_seq: 2,
            previous_hash: Some(new.hash.clone())
        }
    );
    let entries = store.entries(0, 10).unwrap();
    assert_eq!(entries.len(), 3);
    assert!(entries.iter().all(|e| e.kind == EntryKind::Agreement));
    assert_eq!(entries[0].body, entries[2].body);
    assert_eq!(entries[0].body, old.canonical_json().as_bytes());
    assert_eq!(entries[1].sha256, new.hash);
    assert_eq!(store.summary(0).unwrap().agreement.unwrap().hash, old.hash);
    drop(store);

    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM agreements"), 2);
    for (table, rows) in [
        ("contact_line", 1),
        ("party_areas", 2),
        ("zones", 4),
        ("storage_sites", 5),
    ] {
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE agreement_hash = '{}'",
            old.hash
        );
        assert_eq!(count(&conn, &sql), rows, "{table}");
        assert_eq!(
            count(&conn, &format!("SELECT COUNT(*) FROM {table}")),
            rows,
            "{table}"
        );
    }

    // Terms whose hash does not match their content are refused.
    let mut forged = old.clone();
    forged.title = "something else".into();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    let err = store.put_agreement(&forged, received_at()).unwrap_err();
    assert!(matches!(err, StoreError::AgreementHash { .. }), "{err}");
}

#[test]
fn the_observations_layer_is_derivable_from_the_entries() {
    let file = ScratchFile::new("derivable");
    let engine = engine();
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();
    store
        .append_batch(&batch(&engine, "a.geojson", accepted(&engine), rejected()))
        .unwrap();

    // Replay: the agreement entry names the terms; each observation entry, assessed again
    // under them, gives the stored assessment.
    let entries = store.entries(0, usize::MAX).unwrap();
    assert_eq!(entries[0].kind, EntryKind::Agreement);
    assert_eq!(entries[0].sha256, engine.agreement().hash);
    let stored = all_observations(&store);
    let replayed: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Observation)
        .collect();
    assert_eq!(replayed.len(), stored.len());
    for (entry, s) in replayed.iter().zip(&stored) {
        assert_eq!(entry.seq, s.seq);
        assert_eq!(entry.sha256, s.content_sha256);
        let observation: truce_core::observation::Observation =
            serde_json::from_slice(&entry.body).unwrap();
        assert_eq!(
            to_canonical_json(&observation).as_bytes(),
            entry.body,
            "entry {}",
            entry.seq
        );
        let place = observation.validate().unwrap();
        let again = engine.assess(0, &observation, &place);
        assert_eq!(observation, s.observation);
        assert_eq!(again.party_area, s.assessment.party_area);
        assert_eq!(again.distance_to_line_m, s.assessment.distance_to_line_m);
        assert_eq!(again.zones, s.assessment.zones);
        assert_eq!(again.crossings, s.assessment.crossings);
        assert_eq!(again.breaches, s.assessment.breaches);
    }
    drop(store);

    // And the layer's columns are those of the entry's observation.
    let conn = Connection::open(file.path()).unwrap();
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM observations"),
        replayed.len() as i64
    );
    for entry in &replayed {
        let o: truce_core::observation::Observation = serde_json::from_slice(&entry.body).unwrap();
        let p = &o.properties;
        conn.query_row(
            "SELECT entry_seq, obs_id, kind, observed_at, source_id, source_kind, content_sha256 \
             FROM observations WHERE fid = ?1",
            [entry.seq as i64],
            |r| {
                assert_eq!(r.get::<_, i64>(0)?, entry.seq as i64);
                assert_eq!(r.get::<_, Option<String>>(1)?, o.id);
                assert_eq!(r.get::<_, String>(2)?, p.kind.as_str());
                let observed_at = p.observed_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
                assert_eq!(r.get::<_, String>(3)?, observed_at);
                assert_eq!(r.get::<_, String>(4)?, p.source.id);
                assert_eq!(r.get::<_, String>(5)?, p.source.kind.as_str());
                let sha: Vec<u8> = r.get(6)?;
                let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!((sha.len(), hex), (32, entry.sha256.clone()));
                Ok(())
            },
        )
        .unwrap();
    }
}

/// `n` distinct observations: the scenario's samples, each repeat with its own id and time.
fn many(engine: &truce_core::assess::Engine, n: usize) -> Vec<truce_store::Accepted> {
    let samples = accepted(engine);
    let shifted = (0..n)
        .map(|i| {
            let mut a = samples[i % samples.len()].clone();
            let o = &mut a.observation;
            o.id = Some(format!("{}-{i}", o.id.as_deref().unwrap()));
            o.properties.observed_at += chrono::Duration::seconds(i as i64);
            o.properties
                .timestamps
                .iter_mut()
                .for_each(|t| *t += chrono::Duration::seconds(i as i64));
            a.assessment = engine.assess(i, o, &a.place);
            a.locator = format!("feature {i}");
            a
        })
        .collect::<Vec<_>>();
    common::in_store_order(shifted)
}

#[test]
fn a_large_batch_is_stored_whole_or_not_at_all() {
    // Large enough to be prepared on a second thread, a chunk at a time.
    const N: usize = 3000;
    let file = ScratchFile::new("large");
    let engine = engine();
    let input = many(&engine, N);
    let mut store = GeoPackageStore::open(file.path()).unwrap();
    store
        .put_agreement(engine.agreement(), received_at())
        .unwrap();

    // A failure in a late chunk stops the preparing thread and leaves nothing.
    let outside = Connection::open(file.path()).unwrap();
    outside
        .execute_batch(
            "CREATE UNIQUE INDEX inject_failure ON breaches(rule) WHERE rule = 'injected-failure'",
        )
        .unwrap();
    let mut poisoned = input.clone();
    let mut breach = input
        .iter()
        .flat_map(|a| a.assessment.breaches.clone())
        .next()
        .unwrap();
    breach.rule = "injected-failure".into();
    poisoned[N - 10]
        .assessment
        .breaches
        .extend([breach.clone(), breach]);
    let locator = poisoned[N - 10].locator.clone();
    let err = store
        .append_batch(&batch(&engine, "large.geojson", poisoned, Vec::new()))
        .unwrap_err();
    assert!(err.to_string().contains(&format!("({locator})")), "{err}");
    assert_eq!(store.summary(0).unwrap().entries, 1);
    outside.execute_batch("DROP INDEX inject_failure").unwrap();

    // A duplicate across chunk boundaries is still one observation.
    let mut with_repeat = input.clone();
    with_repeat.push(input[5].clone());
    let outcome = store
        .append_batch(&batch(&engine, "large.geojson", with_repeat, Vec::new()))
        .unwrap();
    assert_eq!((outcome.accepted, outcome.duplicates), (N, 1));
    assert_eq!(
        (outcome.first_seq, outcome.last_seq),
        (Some(1), Some(N as u64))
    );
    let stored = all_observations(&store);
    assert_eq!(stored.len(), N);
    assert!(
        stored
            .iter()
            .zip(&input)
            .all(|(s, a)| s.observation == a.observation && s.locator == a.locator)
    );
    assert_eq!(
        count(&outside, "SELECT COUNT(*) FROM rtree_observations_geom"),
        N as i64
    );
}
