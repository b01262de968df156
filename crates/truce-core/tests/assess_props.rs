//! Property tests: assessments of random observations on the real scenario agree with
//! brute-force references — geodesic distance, party area, zones, and the withdrawal rule.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use truce_core::agreement::{Agreement, ZoneExtent, load, to_multipolygon};
use truce_core::assess::Engine;
use truce_core::observation::{
    Geometry, Observation, ObservationKind, Reliability, Source, SourceKind, WeaponSeen,
};
use truce_geo::reference;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
        let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
        let a = load("agreement.toml", &text, &mut |rel| {
            std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
        })
        .unwrap();
        Engine::new(a).unwrap()
    })
}

fn observation(
    kind: ObservationKind,
    at: [f64; 2],
    t: DateTime<Utc>,
    weapon: Option<WeaponSeen>,
) -> Observation {
    let source = Source {
        id: "s".into(),
        kind: SourceKind::Drone,
        reliability: Reliability::B,
        credibility: 2,
        party: None,
    };
    let mut o = Observation::new(
        kind,
        t,
        source,
        Geometry::Point {
            coordinates: at.to_vec(),
        },
    );
    o.id = Some("p".into());
    o.properties.weapon = weapon;
    o
}

/// Points over the scenario's region, out to a few hundred km from the line.
fn point() -> impl Strategy<Value = [f64; 2]> {
    (35.0f64..41.0, 46.5f64..50.0).prop_map(|(x, y)| [x, y])
}

fn class_ids(a: &Agreement) -> Vec<String> {
    a.weapon_classes.iter().map(|c| c.id.clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn distance_area_and_zones_match_brute_force(p in point()) {
        let e = engine();
        let a = e.agreement();
        let obs = observation(ObservationKind::Damage, p, a.effective_at, None);
        let place = obs.validate().unwrap();
        let got = e.assess(0, &obs, &place);

        let want_m = reference::distance_to_lines_m(&a.contact_line.lines, p);
        prop_assert!((got.distance_to_line_m - want_m).abs() <= 1.0, "distance {} vs reference {}", got.distance_to_line_m, want_m);

        let want_party = a.parties.iter().find(|party| reference::covers(&to_multipolygon(&party.area), p)).map(|party| party.id.clone());
        prop_assert_eq!(&got.party_area, &want_party);

        for zone in &a.zones {
            let inside = match &zone.extent {
                ZoneExtent::Polygons { polygons, .. } => reference::covers(&to_multipolygon(polygons), p),
                ZoneExtent::WithinKmOfLine { within_km } => want_m <= within_km * 1000.0,
            };
            // Band membership within a metre of its edge may go either way; skip that sliver.
            let near_band_edge = matches!(zone.extent, ZoneExtent::WithinKmOfLine { within_km } if (want_m - within_km * 1000.0).abs() < 1.0);
            if !near_band_edge {
                prop_assert_eq!(got.zones.contains(&zone.id), inside, "zone {}", zone.id);
            }
        }
        prop_assert!(got.breaches.is_empty(), "damage breaches nothing: {:?}", got.breaches);
    }

    #[test]
    fn withdrawal_breach_iff_inside_limit_after_deadline(p in point(), class_i in 0usize..3, days in -5i64..40, count in 1u32..10) {
        let e = engine();
        let a = e.agreement();
        let class = &a.weapon_classes[class_i % a.weapon_classes.len()];
        let t = a.effective_at + Duration::days(days);
        let obs = observation(ObservationKind::WeaponPresent, p, t, Some(WeaponSeen { class: class.id.clone(), count, serials: vec![] }));
        let place = obs.validate().unwrap();
        let got = e.assess(0, &obs, &place);
        let d = reference::distance_to_lines_m(&a.contact_line.lines, p);
        if (d - class.withdrawal_km * 1000.0).abs() < 1.0 {
            return Ok(()); // within a metre of the limit either answer is right
        }
        let want = t >= class.withdraw_by && d < class.withdrawal_km * 1000.0;
        let breach = got.breaches.iter().find(|b| b.rule == "heavy-weapons");
        prop_assert_eq!(breach.is_some(), want, "class {} at {} m on {}: {:?}", class.id, d, t, got.breaches);
        if let Some(b) = breach {
            prop_assert_eq!(&b.party, &got.party_area, "presumed party is the area's");
            let expected = format!("×{count}");
            prop_assert!(b.detail.contains(&expected));
        }
        prop_assert!(class_ids(a).contains(&class.id));
    }

    #[test]
    fn impacts_never_attribute(p in point(), days in 0i64..30) {
        let e = engine();
        let t = e.agreement().effective_at + Duration::days(days);
        let obs = observation(ObservationKind::Impact, p, t, None);
        let place = obs.validate().unwrap();
        let got = e.assess(0, &obs, &place);
        prop_assert!(got.breaches.iter().any(|b| b.rule == "no-fire"));
        prop_assert!(got.breaches.iter().all(|b| b.party.is_none()), "{:?}", got.breaches);
    }

    #[test]
    fn nothing_breaches_before_the_effective_time(p in point(), minutes in 1i64..100_000, kind_i in 0usize..14) {
        let e = engine();
        let t = e.agreement().effective_at - Duration::minutes(minutes);
        let kind = ObservationKind::ALL[kind_i];
        let weapon = Some(WeaponSeen { class: "mlrs".into(), count: 1, serials: vec![] });
        let mut obs = observation(kind, p, t, weapon);
        if kind == ObservationKind::StorageCheck {
            obs.properties.storage = Some(truce_core::observation::StorageCheck { site: "site-ru-rovenky".into(), counts: Default::default(), serials_seen: Default::default() });
        }
        if kind == ObservationKind::Coverage {
            obs.properties.coverage = Some(truce_core::observation::Coverage { sensor: "c".into(), status: truce_core::observation::SensorStatus::Offline, until: None });
        }
        let place = obs.validate().unwrap();
        prop_assert!(e.assess(0, &obs, &place).breaches.is_empty());
    }
}

#[test]
fn batch_equals_one_by_one_in_input_order() {
    let e = engine();
    let t = e.agreement().effective_at + Duration::days(20);
    let items: Vec<_> = (0..2000)
        .map(|i| {
            let p = [
                35.0 + (i % 97) as f64 * 0.06,
                46.6 + (i % 89) as f64 * 0.038,
            ];
            let mut o = observation(
                ObservationKind::WeaponPresent,
                p,
                t,
                Some(WeaponSeen {
                    class: "mlrs".into(),
                    count: 1,
                    serials: vec![],
                }),
            );
            o.id = Some(format!("b{i}"));
            let place = o.validate().unwrap();
            (i, o, place)
        })
        .collect();
    let batch = e.assess_batch(&items);
    for ((i, o, place), got) in items.iter().zip(&batch) {
        assert_eq!(got, &e.assess(*i, o, place));
    }
}
