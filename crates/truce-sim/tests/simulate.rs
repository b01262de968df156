//! The simulator on the bundled Minsk II scenario: determinism, every feed read back by the real
//! ingest adapters, the malformed records exactly the rejected ones, truth consistent with the
//! feeds and with the geometry of the terms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use truce_core::agreement::{Agreement, ZoneExtent, load, to_multipolygon};
use truce_geo::{AreaIndex, LineIndex, distance_m};
use truce_ingest::{Format, Locator, Options, Record, detect, ingest_file};
use truce_sim::{DEFAULT_DAYS, EventKind, FeedFormat, Simulation, default_start, simulate};

fn terms() -> &'static Agreement {
    static TERMS: OnceLock<Agreement> = OnceLock::new();
    TERMS.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap_or_else(|d| panic!("{d:#?}"))
    })
}

/// Seed 1, the default days, from the default start: the run the demo shows.
fn seed_one() -> &'static Simulation {
    static SIM: OnceLock<Simulation> = OnceLock::new();
    SIM.get_or_init(|| simulate(terms(), DEFAULT_DAYS, 1, default_start(terms())))
}

fn line() -> LineIndex {
    LineIndex::new(terms().contact_line.lines.clone()).unwrap()
}

fn format_of(f: FeedFormat) -> Format {
    match f {
        FeedFormat::GeoJson => Format::GeoJson,
        FeedFormat::Firms => Format::Firms,
        FeedFormat::Cot => Format::Cot,
    }
}

/// Each feed read by the ingest, by file name.
fn ingested(sim: &Simulation) -> BTreeMap<String, Vec<Record>> {
    sim.feeds
        .iter()
        .map(|f| {
            let records = ingest_file(
                &f.file_name,
                &f.bytes,
                Some(format_of(f.format)),
                &Options::default(),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", f.file_name));
            (f.file_name.clone(), records)
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let start = default_start(terms());
    let a = simulate(terms(), DEFAULT_DAYS, 1, start);
    assert_eq!(&a, seed_one());
    assert_eq!(a.truth_json(), seed_one().truth_json());
    let b = simulate(terms(), DEFAULT_DAYS, 2, start);
    let mut compared = 0;
    for x in &a.feeds {
        // A re-delivery is only written when there is something to repeat.
        let Some(y) = b.feeds.iter().find(|y| y.file_name == x.file_name) else {
            continue;
        };
        assert_ne!(
            x.bytes, y.bytes,
            "{} is the same for seeds 1 and 2",
            x.file_name
        );
        compared += 1;
    }
    assert!(compared >= 10, "{compared} files in common");
    assert_ne!(a.truth.events, b.truth.events);
}

#[test]
fn default_start_follows_the_last_deadline() {
    assert_eq!(
        default_start(terms()).to_rfc3339(),
        "2015-03-01T00:00:00+00:00"
    );
}

#[test]
fn every_feed_is_read_by_the_ingest_and_only_the_planted_records_are_rejected() {
    let sim = seed_one();
    let read = ingested(sim);
    for (feed, truth) in sim.feeds.iter().zip(&sim.truth.feeds) {
        assert_eq!(feed.file_name, truth.file_name);
        assert_eq!(
            detect(&feed.file_name, &feed.bytes),
            Some(format_of(feed.format)),
            "{}",
            feed.file_name
        );
        let records = &read[&feed.file_name];
        assert_eq!(
            records.len(),
            truth.records,
            "{}: record count",
            feed.file_name
        );
        let rejected: Vec<(Locator, &str)> = records
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.locator, e.as_str())))
            .collect();
        let expected: Vec<Locator> = truth
            .malformed
            .iter()
            .map(|m| match feed.format {
                FeedFormat::GeoJson => Locator::Feature(m.index),
                FeedFormat::Firms => Locator::Line(m.line),
                FeedFormat::Cot => Locator::Event {
                    index: m.index,
                    line: m.line,
                },
            })
            .collect();
        assert_eq!(
            rejected.iter().map(|r| r.0).collect::<Vec<_>>(),
            expected,
            "{}: {rejected:#?}",
            feed.file_name
        );
    }
    // Every main feed has at least one malformed record; re-deliveries have none.
    for truth in &sim.truth.feeds {
        assert_eq!(
            truth.malformed.is_empty(),
            truth.repeats.is_some(),
            "{}",
            truth.file_name
        );
    }
}

#[test]
fn the_rejections_say_what_is_wrong() {
    let sim = seed_one();
    let read = ingested(sim);
    let reasons: Vec<String> = read
        .values()
        .flatten()
        .filter_map(|r| r.result.clone().err())
        .collect();
    for wanted in [
        "is outside [-90, 90]",
        "\"n/a\" is not a number",
        "(a truncated row?)",
        "lat=\"48,",
        "truncated?",
        "weapon_present needs",
        "bearing.azimuth_deg",
        "expected f64",
        "input contains invalid characters",
        "unknown variant `down`",
        "invalid value: integer `-1`",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(wanted)),
            "no rejection mentions {wanted:?}: {reasons:#?}"
        );
    }
}

#[test]
fn ids_are_the_ingest_ids_and_truth_names_only_real_records() {
    let sim = seed_one();
    let read = ingested(sim);
    let repeats: BTreeMap<&str, &str> = sim
        .truth
        .feeds
        .iter()
        .filter_map(|f| f.repeats.as_deref().map(|r| (f.file_name.as_str(), r)))
        .collect();
    // Valid ids of the main feeds: unique across all of them (the store keys on them).
    let mut valid = BTreeSet::new();
    for (file, records) in &read {
        if repeats.contains_key(file.as_str()) {
            continue;
        }
        for r in records {
            if let Ok(o) = &r.result {
                assert!(
                    valid.insert(o.id.clone().unwrap()),
                    "{file}: id {:?} is not unique",
                    o.id
                );
            }
        }
    }
    let mut named = BTreeSet::new();
    for e in &sim.truth.events {
        for id in &e.observation_ids {
            assert!(valid.contains(id), "{}: {id} is not a valid record", e.id);
            named.insert(id.clone());
        }
    }
    for o in &sim.truth.outages {
        if let Some(id) = &o.observation_id {
            assert!(valid.contains(id), "outage {id} is not a valid record");
            named.insert(id.clone());
        }
    }
    let noise = valid.len() - named.len();
    let outage_records = sim
        .truth
        .outages
        .iter()
        .filter(|o| o.observation_id.is_some())
        .count();
    // The summary's noise counts the coverage records too.
    assert_eq!(
        noise,
        sim.truth.summary.noise_records - outage_records,
        "noise count"
    );
    // Re-deliveries: every record is byte for byte a valid record of the file it repeats.
    for (again, of) in repeats {
        let originals: BTreeMap<_, _> = read[of]
            .iter()
            .filter_map(|r| {
                r.result
                    .as_ref()
                    .ok()
                    .map(|o| (o.id.clone(), r.raw.clone()))
            })
            .collect();
        assert!(!read[again].is_empty(), "{again} is empty");
        for r in &read[again] {
            let o = r.result.as_ref().unwrap_or_else(|e| panic!("{again}: {e}"));
            assert_eq!(
                originals.get(&o.id),
                Some(&r.raw),
                "{again}: {:?} does not repeat {of}",
                o.id
            );
        }
    }
}

#[test]
fn heavy_weapons_are_inside_their_withdrawal_distance_after_the_deadline() {
    let line = line();
    for seed in 1..=5 {
        let sim = simulate(terms(), DEFAULT_DAYS, seed, default_start(terms()));
        let heavy: Vec<_> = sim
            .truth
            .events
            .iter()
            .filter(|e| e.kind == EventKind::HeavyWeapon)
            .collect();
        assert!(!heavy.is_empty(), "seed {seed}: no heavy-weapon event");
        for e in heavy {
            let w = e.weapon.as_ref().unwrap();
            let class = terms()
                .weapon_class(&w.class)
                .unwrap_or_else(|| panic!("{}: class {}", e.id, w.class));
            let d = line.distance_m(e.location);
            assert!(
                d < class.withdrawal_km * 1000.0,
                "{}: {d} m, limit {} km",
                e.id,
                class.withdrawal_km
            );
            assert!(
                e.time >= class.withdraw_by,
                "{}: before the {} deadline",
                e.id,
                class.id
            );
            assert!(e.violation && e.party.is_some(), "{}", e.id);
        }
    }
}

#[test]
fn crossing_tracks_cross_the_line() {
    let line = line();
    for seed in 1..=5 {
        let sim = simulate(terms(), DEFAULT_DAYS, seed, default_start(terms()));
        let crossings: Vec<_> = sim
            .truth
            .events
            .iter()
            .filter(|e| e.kind == EventKind::LineCrossing)
            .collect();
        assert!(!crossings.is_empty(), "seed {seed}: no crossing");
        for e in crossings {
            let hits = line.crossings(&e.track);
            assert_eq!(hits.len() % 2, 1, "{}: {} crossings", e.id, hits.len());
            assert!(distance_m(hits[0].point, e.location) < 1.0, "{}", e.id);
            assert_eq!(e.track.len(), e.track_times.len());
            assert!(e.track_times.windows(2).all(|w| w[0] <= w[1]), "{}", e.id);
        }
    }
}

#[test]
fn disengagement_breaches_are_inside_their_zone() {
    let zones: BTreeMap<&str, AreaIndex> = terms()
        .zones
        .iter()
        .filter_map(|z| match &z.extent {
            ZoneExtent::Polygons { polygons, .. } => {
                Some((z.id.as_str(), AreaIndex::new(to_multipolygon(polygons))))
            }
            ZoneExtent::WithinKmOfLine { .. } => None,
        })
        .collect();
    for seed in 1..=5 {
        let sim = simulate(terms(), DEFAULT_DAYS, seed, default_start(terms()));
        let breaches: Vec<_> = sim
            .truth
            .events
            .iter()
            .filter(|e| e.kind == EventKind::DisengagementBreach)
            .collect();
        assert!(!breaches.is_empty(), "seed {seed}: no breach");
        for e in breaches {
            let zone = e.zone.as_deref().unwrap();
            assert!(
                zones[zone].contains(e.location),
                "{}: not inside {zone}",
                e.id
            );
        }
    }
}

#[test]
fn fire_comes_from_one_side_and_lands_on_the_other() {
    let line = line();
    let areas: BTreeMap<&str, AreaIndex> = terms()
        .parties
        .iter()
        .map(|p| (p.id.as_str(), AreaIndex::new(to_multipolygon(&p.area))))
        .collect();
    let sim = seed_one();
    let by_id: BTreeMap<&str, _> = sim
        .truth
        .events
        .iter()
        .map(|e| (e.id.as_str(), e))
        .collect();
    let mut impacts = 0;
    for e in sim
        .truth
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Impact)
    {
        let firing = by_id[e.cause.as_deref().unwrap()];
        assert_eq!(firing.kind, EventKind::Firing);
        let firer = firing.party.as_deref().unwrap();
        assert_eq!(e.party.as_deref(), Some(firer));
        assert!(areas[firer].contains(firing.location), "{}", firing.id);
        assert!(
            !areas[firer].contains(e.location),
            "{} landed on its own side",
            e.id
        );
        let d = line.distance_m(firing.location);
        assert!(
            (3_000.0..=20_000.0).contains(&d),
            "{}: firing {d} m from the line",
            firing.id
        );
        assert!(e.time > firing.time);
        impacts += 1;
    }
    assert!(impacts > 10, "{impacts} impacts");
}

#[test]
fn counts_are_plausible_and_every_kind_appears() {
    for seed in 1..=5 {
        let sim = simulate(terms(), DEFAULT_DAYS, seed, default_start(terms()));
        let s = &sim.truth.summary;
        let total: usize = s.events_by_kind.values().sum();
        assert!((24..=200).contains(&total), "seed {seed}: {total} events");
        for kind in [
            "firing",
            "impact",
            "heavy_weapon",
            "disengagement_breach",
            "line_crossing",
            "access_denied",
            "storage_shortfall",
            "agricultural_fire",
            "quiet_period",
        ] {
            assert!(
                s.events_by_kind.contains_key(kind),
                "seed {seed}: no {kind}: {:?}",
                s.events_by_kind
            );
        }
        // Most violations are seen by something; some are missed, as in life.
        let violations = sim.truth.events.iter().filter(|e| e.violation).count();
        let seen = sim
            .truth
            .events
            .iter()
            .filter(|e| e.violation && !e.observation_ids.is_empty())
            .count();
        assert!(
            seen * 2 > violations,
            "seed {seed}: {seen} of {violations} violations observed"
        );
        assert!(
            s.duplicate_records > 0 && s.malformed_records >= 10 && s.noise_records > 0,
            "{s:?}"
        );
    }
}

#[test]
fn nothing_fires_during_a_quiet_period() {
    let sim = seed_one();
    let quiet: Vec<_> = sim
        .truth
        .events
        .iter()
        .filter(|e| e.kind == EventKind::QuietPeriod)
        .collect();
    for e in sim
        .truth
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Firing)
    {
        for q in &quiet {
            assert!(
                !(q.time <= e.time && e.time < q.end.unwrap()),
                "{} fires in {}",
                e.id,
                q.id
            );
        }
    }
}

#[test]
fn firms_files_are_written_as_the_download_tool_writes_them() {
    let sim = seed_one();
    let firms = sim
        .feeds
        .iter()
        .find(|f| f.file_name == "firms_viirs_snpp.csv")
        .unwrap();
    let text = std::str::from_utf8(&firms.bytes).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_t31,frp,daynight"
        )
    );
    let rows: Vec<Vec<&str>> = lines
        .map(|l| l.split(',').collect())
        .filter(|c: &Vec<&str>| c.len() == 14)
        .collect();
    assert!(rows.len() > 3, "{} rows", rows.len());
    for c in rows {
        let (scan, track): (f64, f64) = (c[3].parse().unwrap(), c[4].parse().unwrap());
        assert!(
            (0.38..=0.61).contains(&scan) && (0.35..=0.56).contains(&track),
            "{c:?}"
        );
        assert!(
            !c[6].starts_with('0'),
            "acq_time {} has a leading zero",
            c[6]
        );
        let hhmm: u32 = c[6].parse().unwrap();
        let utc_minutes = hhmm / 100 * 60 + hhmm % 100;
        // 08:35–11:45 by day, 22:05–01:05 by night (UTC), as real passes over the area.
        let day = (515..=705).contains(&utc_minutes);
        let night = utc_minutes >= 1325 || utc_minutes <= 65;
        assert!(day && c[13] == "D" || night && c[13] == "N", "{c:?}");
        assert_eq!((c[7], c[8], c[10]), ("N", "VIIRS", "2.0NRT"));
        assert!(["l", "n", "h"].contains(&c[9]));
    }
    // No NOAA-20 data before 2018; from 2018 there is.
    assert!(sim.feeds.iter().all(|f| !f.file_name.contains("noaa20")));
    let later = simulate(terms(), 2, 1, "2023-03-01T00:00:00Z".parse().unwrap());
    let noaa = later
        .feeds
        .iter()
        .find(|f| f.file_name == "firms_viirs_noaa20.csv")
        .unwrap();
    let read = ingest_file(
        "n20.csv",
        &noaa.bytes,
        Some(Format::Firms),
        &Options::default(),
    )
    .unwrap();
    let good: Vec<_> = read.iter().filter_map(|r| r.result.as_ref().ok()).collect();
    assert!(
        good.iter()
            .all(|o| o.id.as_deref().unwrap().starts_with("firms:noaa20:"))
    );
}

#[test]
fn bearings_point_at_what_they_observed() {
    let sim = seed_one();
    let read = ingested(sim);
    let by_id: BTreeMap<String, _> = read
        .values()
        .flatten()
        .filter_map(|r| r.result.as_ref().ok())
        .map(|o| (o.id.clone().unwrap(), o))
        .collect();
    let mut checked = 0;
    for e in &sim.truth.events {
        for id in &e.observation_ids {
            let o = by_id[id];
            let Some(b) = &o.properties.bearing else {
                continue;
            };
            let truce_core::observation::Geometry::Point { coordinates } = &o.geometry else {
                panic!()
            };
            let az = truce_geo::azimuth_deg([coordinates[0], coordinates[1]], e.location);
            let off = (b.azimuth_deg - az + 540.0).rem_euclid(360.0) - 180.0;
            // Within 5 sigma, or an acoustic echo (at most 20° plus noise).
            assert!(
                off.abs() <= 5.0 * b.error_deg || off.abs() <= 40.0,
                "{id}: {off}° off"
            );
            assert!(
                distance_m([coordinates[0], coordinates[1]], e.location) <= b.max_range_m.unwrap()
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked} bearings");
}

#[test]
fn the_engine_finds_the_breaches_the_drones_saw() {
    let engine = truce_core::assess::Engine::new(terms().clone()).unwrap();
    let mut checked = 0;
    for seed in 1..=3 {
        let sim = simulate(terms(), DEFAULT_DAYS, seed, default_start(terms()));
        let read = ingested(&sim);
        let drones: BTreeMap<String, _> = read["drones.geojson"]
            .iter()
            .filter_map(|r| r.result.as_ref().ok())
            .map(|o| (o.id.clone().unwrap(), o))
            .collect();
        for e in &sim.truth.events {
            let rule = match e.kind {
                EventKind::HeavyWeapon => "heavy-weapons",
                EventKind::DisengagementBreach => "disengagement",
                _ => continue,
            };
            for o in e.observation_ids.iter().filter_map(|id| drones.get(id)) {
                let seen_class = o.properties.weapon.as_ref().map(|w| w.class.as_str());
                if rule == "heavy-weapons"
                    && seen_class != e.weapon.as_ref().map(|w| w.class.as_str())
                {
                    continue; // the drone took it for another class
                }
                let a = engine.assess(0, o, &o.validate().unwrap());
                let breach = a.breaches.iter().find(|b| b.rule == rule);
                let breach = breach
                    .unwrap_or_else(|| panic!("{}: {:?} not flagged by {rule}: {a:?}", e.id, o.id));
                assert_eq!(breach.party, e.party, "{}: {:?}", e.id, o.id);
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} drone sightings of breaches");
}

#[test]
fn zero_days_is_an_empty_but_valid_simulation() {
    let sim = simulate(terms(), 0, 1, default_start(terms()));
    assert!(sim.truth.events.is_empty());
    for f in ingested(&sim).values() {
        assert!(f.is_empty());
    }
}

#[test]
fn summary_for_the_demo() {
    let sim = seed_one();
    println!(
        "{}",
        serde_json::to_string_pretty(&sim.truth.summary).unwrap()
    );
    for f in &sim.truth.feeds {
        println!(
            "{:32} {:8} {:4} records, malformed {:?}",
            f.file_name,
            f.format,
            f.records,
            f.malformed.iter().map(|m| &m.defect).collect::<Vec<_>>()
        );
    }
    assert_eq!(sim.truth.agreement_hash, terms().hash);
}
