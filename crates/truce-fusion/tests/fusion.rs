//! Fusion against the bundled scenario: attribution from a located origin, correlation that
//! does not depend on batch order, and the simulator's three days fused and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use truce_core::assess::{Assessment, Engine};
use truce_core::observation::{Observation, Place, parse_feature};
use truce_fusion::{Ellipse, Fusion, IncidentState, Origin, suggest};
use truce_geo::{LonLat, azimuth_deg, destination};

fn engine() -> std::sync::Arc<Engine> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let agreement = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|d| panic!("{d:#?}"));
    std::sync::Arc::new(Engine::new(agreement).unwrap())
}

/// A point on the contact line and a point `d` metres off it on each side: (line, east, west).
fn either_side(engine: &Engine, d: f64) -> (LonLat, LonLat, LonLat) {
    let on = engine.line().nearest([38.0, 48.2]).point;
    (on, destination(on, 90.0, d), destination(on, 270.0, d))
}

fn origin(point: LonLat, semi_major_m: f64) -> Origin {
    Origin {
        point,
        ellipse: Ellipse {
            semi_major_m,
            semi_minor_m: semi_major_m / 3.0,
            azimuth_deg: 30.0,
        },
        used: vec![0, 1],
        rejected: Vec::new(),
    }
}

#[test]
fn a_located_origin_suggests_the_party_whose_area_holds_it() {
    let engine = engine();
    let (_, east, west) = either_side(&engine, 8_000.0);
    for p in [east, west] {
        let s = suggest(&engine, &origin(p, 1_100.0));
        let party = engine.party_at(p).expect("both sides are held");
        assert_eq!(s.party.as_deref(), Some(party));
        assert!(!s.straddles_line);
        let want = "-controlled area; ellipse 1.1 × 0.4 km";
        assert!(
            s.basis.starts_with("origin ") && s.basis.ends_with(&format!("in {party}{want}")),
            "{}",
            s.basis
        );
        println!("{}", s.basis);
    }
    // An ellipse that reaches the line suggests nobody.
    let (_, near, _) = either_side(&engine, 600.0);
    let s = suggest(&engine, &origin(near, 900.0));
    assert_eq!(s.party, None);
    assert!(s.straddles_line);
    assert!(
        s.basis.contains("straddles the line: no party suggested"),
        "{}",
        s.basis
    );
}

fn feature(
    id: &str,
    kind: &str,
    at: LonLat,
    time: &str,
    source: (&str, &str, &str),
    extra: &str,
) -> (Observation, Place) {
    let (sid, skind, grade) = source;
    let (rel, cred) = grade.split_at(1);
    let text = format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"{kind}","observed_at":"{time}","source":{{"id":"{sid}","kind":"{skind}","reliability":"{rel}","credibility":{cred}}}{extra}}}}}"#,
        at[0], at[1]
    );
    parse_feature(0, &text).unwrap_or_else(|r| panic!("{r:?}\n{text}"))
}

fn track(id: &str, ends: [LonLat; 2], times: [&str; 2]) -> (Observation, Place) {
    let text = format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"LineString","coordinates":[[{},{}],[{},{}]]}},"properties":{{"kind":"movement","observed_at":"{}","source":{{"id":"uav-2","kind":"drone","reliability":"B","credibility":2}},"timestamps":["{}","{}"]}}}}"#,
        ends[0][0], ends[0][1], ends[1][0], ends[1][1], times[0], times[0], times[1]
    );
    parse_feature(0, &text).unwrap_or_else(|r| panic!("{r:?}\n{text}"))
}

fn bearing(
    id: &str,
    kind: &str,
    observer: LonLat,
    target: LonLat,
    time: &str,
    sid: &str,
) -> (Observation, Place) {
    let az = azimuth_deg(observer, target);
    let extra = format!(r#","bearing":{{"azimuth_deg":{az},"error_deg":1.5,"max_range_m":12000}}"#);
    feature(id, kind, observer, time, (sid, "camera", "B2"), &extra)
}

/// A small scene: two fire missions (each fired from one side, landing on the other), a
/// battery seen twice, and a false allegation, with cameras, a drone and party desks.
fn scene(engine: &Engine) -> Vec<(u64, Observation, Place, Assessment)> {
    let (on, east, west) = either_side(engine, 6_000.0);
    let impact_w = destination(on, 270.0, 3_000.0);
    let impact_e = destination(on, 90.0, 2_500.0);
    let cam_a = destination(on, 200.0, 8_000.0);
    let cam_b = destination(on, 340.0, 8_000.0);
    let cam_c = destination(on, 160.0, 9_000.0);
    let r = r#","error_radius_m":50"#;
    let items = vec![
        // Mission 1 from the east at 20:00, landing west.
        bearing(
            "cam-a-1",
            "firing",
            cam_a,
            east,
            "2015-03-02T20:00:00Z",
            "cam-01",
        ),
        bearing(
            "cam-b-1",
            "firing",
            cam_b,
            east,
            "2015-03-02T20:00:01Z",
            "cam-02",
        ),
        bearing(
            "cam-c-1",
            "firing",
            cam_c,
            east,
            "2015-03-02T20:00:02Z",
            "cam-03",
        ),
        feature(
            "uav-1",
            "impact",
            impact_w,
            "2015-03-02T20:01:00Z",
            ("uav-1", "drone", "B2"),
            r,
        ),
        feature(
            "ua-1",
            "impact",
            destination(impact_w, 45.0, 900.0),
            "2015-03-02T20:05:00Z",
            ("jccc-ua", "party", "C3"),
            r#","error_radius_m":2000,"time_uncertainty_s":1800"#,
        ),
        // Mission 2 from the west at 22:00, landing east.
        bearing(
            "cam-a-2",
            "firing",
            cam_a,
            west,
            "2015-03-02T22:00:00Z",
            "cam-01",
        ),
        bearing(
            "cam-b-2",
            "firing",
            cam_b,
            west,
            "2015-03-02T22:00:03Z",
            "cam-02",
        ),
        feature(
            "aco-2",
            "explosion",
            impact_e,
            "2015-03-02T22:01:10Z",
            ("aco-01", "acoustic", "B3"),
            r#","error_radius_m":500,"time_uncertainty_s":76"#,
        ),
        feature(
            "uav-2",
            "impact",
            destination(impact_e, 10.0, 60.0),
            "2015-03-02T22:01:00Z",
            ("uav-2", "drone", "B2"),
            r,
        ),
        feature(
            "uav-3",
            "impact",
            destination(impact_e, 190.0, 40.0),
            "2015-03-02T22:01:20Z",
            ("uav-2", "drone", "B2"),
            r,
        ),
        // A battery seen on two sorties.
        feature(
            "uav-w1",
            "weapon_present",
            east,
            "2015-03-02T09:00:00Z",
            ("uav-1", "drone", "B2"),
            r#","error_radius_m":50,"weapon":{"class":"artillery_100mm","count":4}"#,
        ),
        feature(
            "uav-w2",
            "weapon_present",
            destination(east, 0.0, 200.0),
            "2015-03-02T15:00:00Z",
            ("uav-3", "drone", "B2"),
            r#","error_radius_m":50,"weapon":{"class":"artillery_100mm","count":3}"#,
        ),
        // A false allegation far away, the next morning.
        feature(
            "ru-9",
            "impact",
            destination(on, 45.0, 30_000.0),
            "2015-03-03T07:00:00Z",
            ("jccc-ru", "party", "C3"),
            r#","error_radius_m":2000"#,
        ),
        // A column crossing the line, filmed by a drone, and a party's complaint about it.
        track(
            "uav-t",
            [west, east],
            ["2015-03-02T11:00:00Z", "2015-03-02T11:30:00Z"],
        ),
        feature(
            "ru-t",
            "movement",
            destination(on, 90.0, 1_500.0),
            "2015-03-02T11:20:00Z",
            ("jccc-ru", "party", "C3"),
            r#","error_radius_m":2000,"time_uncertainty_s":1800"#,
        ),
        // Sensor health is not an event.
        feature(
            "health-1",
            "coverage",
            cam_c,
            "2015-03-02T12:00:00Z",
            ("ops", "other", "A1"),
            r#","coverage":{"sensor":"cam-03","status":"offline"}"#,
        ),
    ];
    items
        .into_iter()
        .enumerate()
        .map(|(i, (o, p))| {
            let a = engine.assess(i, &o, &p);
            (i as u64 + 100, o, p, a)
        })
        .collect()
}

/// Fisher–Yates with SplitMix64: a deterministic shuffle.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut s = seed;
    for i in (1..v.len()).rev() {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        v.swap(i, ((z ^ (z >> 31)) % (i as u64 + 1)) as usize);
    }
}

#[test]
fn a_scene_fuses_into_its_events_in_any_order() {
    let engine = engine();
    let batch = scene(&engine);
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(&batch);
    let incidents = fusion.incidents().to_vec();
    for i in &incidents {
        println!(
            "{} {:?} {:?} conf {:.2} {} {:?}",
            i.id,
            i.kinds,
            i.observation_seqs,
            i.confidence,
            i.state.as_str(),
            i.attribution.as_ref().map(|a| &a.basis)
        );
    }
    let groups: BTreeSet<Vec<u64>> = incidents
        .iter()
        .map(|i| i.observation_seqs.to_vec())
        .collect();
    let want: BTreeSet<Vec<u64>> = [
        vec![100, 101, 102],
        vec![103, 104],
        vec![105, 106],
        vec![107, 108, 109],
        vec![110, 111],
        vec![112],
        vec![113, 114],
    ]
    .into_iter()
    .collect();
    assert_eq!(groups, want);
    assert_eq!(fusion.skipped(), 1);

    let (_, east, west) = either_side(&engine, 6_000.0);
    let by_first = |s: u64| {
        incidents
            .iter()
            .find(|i| i.observation_seqs[0] == s)
            .unwrap()
    };
    for (first, truth) in [(100, east), (105, west)] {
        let inc = by_first(first);
        let origin = inc
            .origin
            .as_ref()
            .expect("two or more firing bearings fix an origin");
        assert!(truce_geo::distance_m(origin.point, truth) < 1.0);
        let party = engine.party_at(truth).map(str::to_string);
        assert_eq!(inc.attribution.as_ref().unwrap().party, party);
    }
    // Impacts never attribute; drones and a party desk: corroborated only by monitors.
    let landing = by_first(107);
    assert!(landing.attribution.is_none() && landing.origin.is_none());
    assert_eq!(
        landing.state,
        IncidentState::Corroborated,
        "drone and acoustic agree"
    );
    let alleged = by_first(103);
    assert_eq!(
        alleged.state,
        IncidentState::SingleSource,
        "a drone and an allegation"
    );
    // Two drones are two independent sources, the second discounted for the failure modes
    // one kind shares (truce_fusion::correlate::SAME_KIND_FACTOR).
    let w = 0.8 * 0.85;
    let two_drones = 1.0 - (1.0 - w) * (1.0 - truce_fusion::correlate::SAME_KIND_FACTOR * w);
    assert!((by_first(110).confidence - two_drones).abs() < 1e-9);
    assert_eq!(by_first(110).state, IncidentState::Corroborated);
    assert_eq!(by_first(110).independent_sources, 2);
    // Ids name the member that came first in canonical order (time, then seq).
    assert_eq!(
        by_first(107).id,
        "inc-108",
        "the drone saw it 10 s before the array heard it"
    );
    assert!(incidents.iter().all(|i| {
        i.observation_seqs
            .iter()
            .any(|s| i.id == format!("inc-{s}"))
    }));

    for seed in 0..20 {
        let mut shuffled = batch.clone();
        shuffle(&mut shuffled, seed);
        let mut f = Fusion::new(engine.clone());
        f.fuse(&shuffled);
        assert_eq!(f.incidents(), &incidents[..], "shuffle {seed}");
    }
}

#[test]
fn bearings_alone_fix_and_attribute_a_firing_position() {
    let engine = engine();
    let (on, east, _) = either_side(&engine, 5_000.0);
    let cams = [
        destination(on, 200.0, 8_000.0),
        destination(on, 340.0, 8_000.0),
    ];
    let batch: Vec<_> = cams
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let (o, p) = bearing(
                &format!("b{i}"),
                "firing",
                c,
                east,
                "2015-03-02T20:00:00Z",
                &format!("cam-0{i}"),
            );
            let a = engine.assess(i, &o, &p);
            (i as u64, o, p, a)
        })
        .collect();
    let mut f = Fusion::new(engine.clone());
    f.fuse(&batch);
    assert_eq!(f.incidents().len(), 1);
    let inc = &f.incidents()[0];
    assert!(truce_geo::distance_m(inc.location.unwrap(), east) < 1.0);
    let s = inc.attribution.as_ref().unwrap();
    assert_eq!(s.party.as_deref(), engine.party_at(east));
    println!("{}", s.basis);
}

#[test]
fn the_simulated_three_days_fuse_into_about_as_many_incidents_as_events() {
    let engine = engine();
    for seed in [1_u64, 2, 3] {
        let sim = truce_sim::simulate(
            engine.agreement(),
            3,
            seed,
            truce_sim::default_start(engine.agreement()),
        );
        let mut batch = Vec::new();
        let mut ids: BTreeMap<u64, String> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for feed in &sim.feeds {
            if sim
                .truth
                .feeds
                .iter()
                .any(|f| f.file_name == feed.file_name && f.repeats.is_some())
            {
                continue; // re-deliveries: the store counts them as duplicates
            }
            let records = truce_ingest::ingest_file(
                &feed.file_name,
                &feed.bytes,
                None,
                &truce_ingest::Options::default(),
            )
            .unwrap();
            for r in records {
                let Ok(obs) = r.result else { continue };
                let place = obs.validate().unwrap();
                let id = obs.display_id(0);
                if !seen.insert(id.clone()) {
                    continue;
                }
                let seq = batch.len() as u64;
                let a = engine.assess(seq as usize, &obs, &place);
                ids.insert(seq, id);
                batch.push((seq, obs, place, a));
            }
        }
        let mut fusion = Fusion::new(engine.clone());
        fusion.fuse(&batch);
        let incidents = fusion.incidents();

        // Which true event each observation belongs to.
        let mut event_of: BTreeMap<&str, &str> = BTreeMap::new();
        for e in &sim.truth.events {
            for o in &e.observation_ids {
                event_of.insert(o, &e.id);
            }
        }
        let observed: BTreeSet<&str> = sim
            .truth
            .events
            .iter()
            .filter(|e| !e.observation_ids.is_empty())
            .map(|e| e.id.as_str())
            .collect();
        // Each incident's majority event (None: mostly noise); an event is found when some
        // incident has it as majority; an incident is right when its majority is a real event
        // no earlier incident already took (one-to-one).
        let mut taken: BTreeSet<&str> = BTreeSet::new();
        let (mut right, mut pure_obs, mut total_obs) = (0, 0, 0);
        for inc in incidents {
            let mut votes: BTreeMap<Option<&str>, usize> = BTreeMap::new();
            for s in &inc.observation_seqs {
                *votes
                    .entry(event_of.get(ids[s].as_str()).copied())
                    .or_default() += 1;
            }
            let (major, n) = votes
                .iter()
                .max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k)))
                .map(|(k, n)| (*k, *n))
                .unwrap();
            pure_obs += n;
            total_obs += inc.observation_seqs.len();
            if let Some(ev) = major
                && taken.insert(ev)
            {
                right += 1;
            }
        }
        let precision = right as f64 / incidents.len() as f64;
        let recall = taken.len() as f64 / observed.len() as f64;
        let corroborated = incidents
            .iter()
            .filter(|i| i.state == IncidentState::Corroborated)
            .count();
        let attributed = incidents
            .iter()
            .filter(|i| i.attribution.as_ref().is_some_and(|a| a.party.is_some()))
            .count();
        println!(
            "seed {seed}: {} observations ({} coverage skipped) → {} incidents ({corroborated} corroborated, {attributed} attributed by bearings); \
             {} true events, {} observed; one-to-one matched {}: precision {precision:.2}, recall {recall:.2}; purity {:.2}",
            batch.len(),
            fusion.skipped(),
            incidents.len(),
            sim.truth.events.len(),
            observed.len(),
            taken.len(),
            pure_obs as f64 / total_obs as f64,
        );
        assert!(incidents.len() < batch.len(), "fusion merges something");
        assert!(
            incidents.len() >= observed.len() / 2,
            "fusion does not collapse everything"
        );
        assert!(recall > 0.5 && precision > 0.3, "loose sanity bounds");
    }
}

#[test]
fn weapon_sightings_join_by_class_and_compatible_counts() {
    let engine = engine();
    let (_, east, _) = either_side(&engine, 6_000.0);
    let near = destination(east, 90.0, 300.0);
    let weapons = |n: u32| {
        format!(r#","error_radius_m":50,"weapon":{{"class":"artillery_100mm","count":{n}}}"#)
    };
    let items = [
        feature(
            "w-4",
            "weapon_present",
            east,
            "2015-03-02T09:00:00Z",
            ("uav-1", "drone", "B2"),
            &weapons(4),
        ),
        // Three of the same four, seen again: one battery.
        feature(
            "w-3",
            "weapon_present",
            near,
            "2015-03-02T15:00:00Z",
            ("uav-2", "drone", "B2"),
            &weapons(3),
        ),
        // Twelve guns a few hundred metres on: another, bigger battery.
        feature(
            "w-12",
            "weapon_present",
            near,
            "2015-03-02T16:00:00Z",
            ("uav-3", "drone", "B2"),
            &weapons(12),
        ),
        // A team's CoT marker (count 1: "at least one") joins the battery it is at.
        feature(
            "w-1",
            "weapon_present",
            east,
            "2015-03-02T15:30:00Z",
            ("team-1", "ground_team", "A1"),
            &weapons(1),
        ),
    ];
    let batch: Vec<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, (o, p))| {
            let a = engine.assess(i, &o, &p);
            (i as u64, o, p, a)
        })
        .collect();
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(&batch);
    let groups: Vec<Vec<u64>> = fusion
        .incidents()
        .iter()
        .map(|i| i.observation_seqs.to_vec())
        .collect();
    assert_eq!(groups, [vec![0, 1, 3], vec![2]]);
}

#[test]
fn a_doubtful_report_alone_puts_no_incident_in_breach_until_another_source_corroborates() {
    let engine = engine();
    let (_, east, _) = either_side(&engine, 6_000.0);
    let near = destination(east, 45.0, 80.0);
    let spot = r#","error_radius_m":150"#;
    let items = [
        // "possible explosion heard, unconfirmed": the team's own doubt is credibility 4.
        feature(
            "doubt",
            "explosion",
            east,
            "2015-03-02T09:00:00Z",
            ("team-1", "ground_team", "B4"),
            spot,
        ),
        // Far away, another doubtful report nobody confirms.
        feature(
            "lone",
            "explosion",
            destination(east, 90.0, 9_000.0),
            "2015-03-02T11:00:00Z",
            ("team-3", "ground_team", "B4"),
            spot,
        ),
    ];
    let assess = |items: Vec<(Observation, Place)>, from: usize| -> Vec<_> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, (o, p))| {
                let a = engine.assess(from + i, &o, &p);
                (from as u64 + i as u64, o, p, a)
            })
            .collect()
    };
    let first = assess(items.to_vec(), 0);
    assert!(
        first.iter().all(|(_, _, _, a)| !a.breaches.is_empty()),
        "each report, alone, is assessed in breach of the agreement"
    );
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(&first);
    assert_eq!(fusion.incidents().len(), 2);
    for i in fusion.incidents() {
        assert!(i.breaches.is_empty(), "{}: {:?}", i.id, i.breaches);
        assert!(i.breach_parties.is_empty(), "{}", i.id);
        assert_eq!(i.state, IncidentState::SingleSource);
    }
    // A second team confirms the first: now the incident is in breach, with the doubtful
    // report's rules too; the lone one stays visible, out of breach.
    let confirm = feature(
        "sure",
        "explosion",
        near,
        "2015-03-02T09:00:30Z",
        ("team-2", "ground_team", "B2"),
        spot,
    );
    fusion.fuse(&assess(vec![confirm], 2));
    let by_id: BTreeMap<&str, _> = fusion
        .incidents()
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let confirmed = by_id["inc-0"];
    assert_eq!(confirmed.observation_seqs[..], [0, 2]);
    assert_eq!(confirmed.state, IncidentState::Corroborated);
    assert!(!confirmed.breaches.is_empty());
    assert!(by_id["inc-1"].breaches.is_empty());
}

#[test]
fn crater_analyses_combine_into_one_direction_and_disagreeing_ones_suggest_nobody() {
    use truce_fusion::attribute::fire_area_from_craters;
    let engine = engine();
    // A strike 5 km east of the line; fire from the west comes from across it.
    let (_, strike, _) = either_side(&engine, 5_000.0);
    let (_, far_west, _) = either_side(&engine, 0.0);
    let west_party = engine
        .party_at(destination(far_west, 270.0, 10_000.0))
        .unwrap();
    let strike_party = engine.party_at(strike).unwrap();
    assert_ne!(west_party, strike_party);
    let one = fire_area_from_craters(&engine, strike, &[(270.0, 27.0, Some(122))]).unwrap();
    assert!(
        one.basis.starts_with(
            "crater analysis: fire came from 270° ± 27° (122 mm), 1.0 km–21.0 km out:"
        ),
        "{}",
        one.basis
    );
    let three = fire_area_from_craters(
        &engine,
        strike,
        &[
            (270.0, 27.0, Some(122)),
            (250.0, 27.0, Some(122)),
            (290.0, 27.0, None),
        ],
    )
    .unwrap();
    assert_eq!(three.party.as_deref(), Some(west_party), "{}", three.basis);
    assert!(
        three
            .basis
            .contains("fire came from 270° ± 16° combined, 1.0 km–21.0 km out"),
        "{}",
        three.basis
    );
    // Three teams narrow the direction: the share from across the line only grows.
    let share = |basis: &str| -> f64 {
        let at = basis.rfind(&format!("% {west_party}")).unwrap();
        let digits: String = basis[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    assert!(
        share(&three.basis) >= share(&one.basis),
        "{}\n{}",
        one.basis,
        three.basis
    );
    // One team says the opposite: the analyses disagree and nobody is suggested.
    let split = fire_area_from_craters(
        &engine,
        strike,
        &[(270.0, 27.0, Some(122)), (90.0, 27.0, Some(122))],
    )
    .unwrap();
    assert_eq!(split.party, None);
    assert!(
        split.basis.contains("the analyses disagree"),
        "{}",
        split.basis
    );
    // A 120 mm mortar (≤ 8.2 km) and a 220 mm rocket (≥ 10 km) cannot both be right.
    let calibres = fire_area_from_craters(
        &engine,
        strike,
        &[(270.0, 27.0, Some(120)), (270.0, 27.0, Some(220))],
    )
    .unwrap();
    assert_eq!(calibres.party, None);
    assert!(
        calibres.basis.contains("no range in common"),
        "{}",
        calibres.basis
    );
}

/// A strike (an explosion 3 km west of the line at 20:01) and the firing 30 s before it 6 km
/// east, fused as entries 1 and 2, so that the strike is linked to the firing: the scene of
/// the link tests.
struct LinkedStrike {
    engine: std::sync::Arc<Engine>,
    fusion: Fusion,
    blast: LonLat,
    east: LonLat,
    strike: usize,
    firing: usize,
}

impl LinkedStrike {
    fn new() -> LinkedStrike {
        let engine = engine();
        let (on, east, _) = either_side(&engine, 6_000.0);
        let blast = destination(on, 270.0, 3_000.0);
        let mut scene = LinkedStrike {
            fusion: Fusion::new(engine.clone()),
            engine,
            blast,
            east,
            strike: 0,
            firing: 0,
        };
        scene.strike = scene.fuse(
            1,
            "explosion",
            blast,
            "2015-03-02T20:01:00Z",
            ("uav-1", "drone"),
        );
        scene.firing = scene.fuse(
            2,
            "firing",
            east,
            "2015-03-02T20:00:30Z",
            ("uav-2", "drone"),
        );
        scene
    }

    /// Fuses a report of `kind` at `at` and `time` by `source` (id, kind; graded B2) as entry
    /// `seq`; returns its incident.
    fn fuse(
        &mut self,
        seq: u64,
        kind: &str,
        at: LonLat,
        time: &str,
        source: (&str, &str),
    ) -> usize {
        let (o, p) = feature(
            &format!("{kind}-{seq}"),
            kind,
            at,
            time,
            (source.0, source.1, "B2"),
            r#","error_radius_m":50"#,
        );
        let a = self.engine.assess(seq as usize, &o, &p);
        self.fusion.fuse_one(seq, &o, &p, &a).expect("an event")
    }

    /// The incidents the strike is linked to (its firing).
    fn fired_by(&self) -> Vec<String> {
        let links = &self.fusion.incidents()[self.strike].links;
        links.iter().map(|l| l.incident.clone()).collect()
    }

    fn id(&self, k: usize) -> String {
        self.fusion.incidents()[k].id.clone()
    }
}

/// A firing that changes no strike's link leaves those strikes alone: a store rewrites every
/// incident fusion says changed, and on a busy front most strikes in a new firing's reach
/// (25 km, two minutes) keep the firing they had. One that does change a strike's link says
/// so for the strike and both firings.
#[test]
fn a_firing_that_changes_no_strikes_link_does_not_touch_those_strikes() {
    let mut scene = LinkedStrike::new();
    let (strike, first) = (scene.strike, scene.firing);
    let changed = scene.fusion.take_changed();
    assert!(
        changed.contains(&strike),
        "the strike found its firing: {changed:?}"
    );
    assert_eq!(scene.fired_by(), [scene.id(first)]);

    // Another firing in reach, but further from the strike in time: the link stays.
    let north = destination(scene.east, 0.0, 4_000.0);
    let later = scene.fuse(
        3,
        "firing",
        north,
        "2015-03-02T19:59:30Z",
        ("uav-3", "drone"),
    );
    assert_ne!(later, first, "a firing of its own");
    let changed = scene.fusion.take_changed();
    assert!(
        !changed.contains(&strike),
        "the strike kept its firing: {changed:?}"
    );
    assert!(!changed.contains(&first), "{changed:?}");
    assert_eq!(scene.fired_by(), [scene.id(first)]);

    // A firing closer in time takes the strike: the strike and the firing it left change.
    let south = destination(scene.east, 180.0, 4_000.0);
    let closer = scene.fuse(
        4,
        "firing",
        south,
        "2015-03-02T20:00:50Z",
        ("uav-4", "drone"),
    );
    let changed = scene.fusion.take_changed();
    assert!(changed.contains(&strike), "{changed:?}");
    assert!(changed.contains(&first), "{changed:?}");
    assert_eq!(scene.fired_by(), [scene.id(closer)]);
}

/// A strike that moves as reports join it, keeping its firing, moves in that firing's links
/// too: the firing shows where its strike is now, not where it was first seen.
#[test]
fn a_firing_shows_its_strike_where_the_strike_is_now() {
    let mut scene = LinkedStrike::new();
    let (strike, firing) = (scene.strike, scene.firing);
    let before = scene.fusion.incidents()[strike].location;
    let beside = destination(scene.blast, 0.0, 60.0);
    let joined = scene.fuse(
        3,
        "explosion",
        beside,
        "2015-03-02T20:01:05Z",
        ("cam-9", "camera"),
    );
    assert_eq!(joined, strike, "the second report joins the strike");
    let now = scene.fusion.incidents()[strike].location;
    assert_ne!(now, before, "the strike moved");
    let links = &scene.fusion.incidents()[firing].links;
    assert_eq!(links.len(), 1);
    assert_eq!(
        links[0].location, now,
        "the firing's link shows the strike's place now"
    );
    assert!(scene.fusion.take_changed().contains(&firing));
}
