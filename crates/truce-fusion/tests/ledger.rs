//! The ledger's lifecycle: detection, corroboration, analysts' decisions and their refusals,
//! and a replay that gives the same state.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use truce_core::assess::Engine;
use truce_core::observation::{Observation, Place, parse_feature};
use truce_fusion::ledger::{Action, Decision, DecisionError, Ledger, Lifecycle, TaskState};
use truce_geo::{LonLat, destination};

fn engine() -> std::sync::Arc<Engine> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let agreement = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|d| panic!("{d:#?}"));
    std::sync::Arc::new(Engine::new(agreement).unwrap())
}

fn point(
    id: &str,
    kind: &str,
    at: LonLat,
    time: &str,
    source: (&str, &str, &str),
) -> (Observation, Place) {
    let (sid, skind, grade) = source;
    let (rel, cred) = grade.split_at(1);
    let text = format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"{kind}","observed_at":"{time}","source":{{"id":"{sid}","kind":"{skind}","reliability":"{rel}","credibility":{cred}}},"error_radius_m":100,"time_uncertainty_s":60}}}}"#,
        at[0], at[1]
    );
    parse_feature(0, &text).unwrap_or_else(|r| panic!("{r:?}"))
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn decision(incident: &str, action: Action, party: Option<&str>) -> Decision {
    Decision {
        incident: incident.into(),
        action,
        party: party.map(str::to_string),
        actor: "analyst-1".into(),
        reason: "reviewed".into(),
        decided_at: t("2015-03-03T08:00:00Z"),
    }
}

/// Entry seqs 10.. : a drone sees an impact (enough to task a team), an acoustic array hears
/// it, and far away a party alleges an impact nobody else saw (too weak to task).
fn feed(engine: &Engine, ledger: &mut Ledger) {
    let on = engine.line().nearest([38.0, 48.2]).point;
    let here = destination(on, 270.0, 3_000.0);
    let there = destination(on, 270.0, 40_000.0);
    let items = [
        point(
            "uav-1",
            "impact",
            here,
            "2015-03-02T20:01:00Z",
            ("uav-1", "drone", "B2"),
        ),
        point(
            "aco-1",
            "explosion",
            destination(here, 30.0, 80.0),
            "2015-03-02T20:01:30Z",
            ("aco-01", "acoustic", "B2"),
        ),
        point(
            "ua-1",
            "impact",
            there,
            "2015-03-02T21:00:00Z",
            ("jccc-ua", "party", "C3"),
        ),
    ];
    for (i, (o, p)) in items.iter().enumerate() {
        let seq = 10 + i as u64;
        let a = engine.assess(seq as usize, o, p);
        ledger.observe(seq, o, p, &a);
    }
}

#[test]
fn corroboration_and_decisions_move_an_incident_through_its_lifecycle() {
    let engine = engine();
    let mut ledger = Ledger::new(engine.clone());
    feed(&engine, &mut ledger);
    assert_eq!(ledger.incidents().len(), 2);
    let (a, b) = (
        ledger.find("inc-10").unwrap(),
        ledger.find("inc-12").unwrap(),
    );
    // Only the exact id names an incident: not another spelling of its number.
    for other in ["inc-010", "inc-+10", "inc-11", "task-inc-10", "10", ""] {
        assert_eq!(ledger.find(other), None, "{other}");
    }
    // The same lookup after a restart from the snapshot (the index is rebuilt from the ids).
    let restored = Ledger::from_snapshot(engine.clone(), &ledger.snapshot()).unwrap();
    assert_eq!(
        (restored.find("inc-10"), restored.find("inc-12")),
        (Some(a), Some(b))
    );
    assert_eq!(ledger.records()[a].state, Lifecycle::VerificationTasked);
    assert_eq!(ledger.records()[b].state, Lifecycle::SingleSource);
    let steps = &ledger.records()[a].transitions;
    let summary: Vec<(&str, u64)> = steps
        .iter()
        .map(|s| (s.action.as_str(), s.entry_seq))
        .collect();
    assert_eq!(
        summary,
        [("detected", 10), ("tasked", 10), ("corroborated", 11)]
    );
    assert!(
        steps[1]
            .reason
            .starts_with("task-inc-10: high breach, confidence 0.68"),
        "{}",
        steps[1].reason
    );
    assert_eq!(steps[2].at, t("2015-03-02T20:01:30Z"));
    assert_eq!(
        steps[2].to,
        Lifecycle::VerificationTasked,
        "corroboration does not undo tasking"
    );
    assert!(
        steps[2].reason.starts_with("drone + acoustic"),
        "{}",
        steps[2].reason
    );
    assert_eq!(ledger.take_touched(), vec![a, b]);
    // No mission file: the task waits, and says why.
    assert_eq!(ledger.tasks().len(), 1);
    assert_eq!(ledger.tasks()[0].state, TaskState::Pending);
    assert!(ledger.tasks()[0].note.starts_with("no mission file"));

    // Refusals change nothing.
    let refuse = |ledger: &Ledger, d: Decision| ledger.check(&d).unwrap_err();
    assert!(matches!(
        refuse(&ledger, decision("inc-10", Action::Publish, None)),
        DecisionError::NotNow {
            state: "verification_tasked",
            ..
        }
    ));
    assert!(matches!(
        refuse(&ledger, decision("inc-99", Action::Verify, None)),
        DecisionError::UnknownIncident(_)
    ));
    assert!(matches!(
        refuse(&ledger, decision("inc-10", Action::Attribute, Some("XX"))),
        DecisionError::UnknownParty { .. }
    ));
    assert!(matches!(
        refuse(&ledger, decision("inc-10", Action::Attribute, None)),
        DecisionError::UnknownParty { .. }
    ));
    assert!(matches!(
        refuse(&ledger, decision("inc-10", Action::Verify, Some("UA"))),
        DecisionError::PartyNotExpected("verify")
    ));
    let mut unsigned = decision("inc-10", Action::Verify, None);
    unsigned.reason = " ".into();
    assert_eq!(refuse(&ledger, unsigned), DecisionError::Unsigned);

    // An analyst sends a team to the allegation nobody else saw (below the automatic
    // thresholds); a second request is refused while the task is open.
    ledger
        .decide(19, &decision("inc-12", Action::Task, None))
        .unwrap();
    assert_eq!(ledger.records()[b].state, Lifecycle::VerificationTasked);
    let step = ledger.records()[b].transitions.last().unwrap();
    assert_eq!(
        (step.action.as_str(), step.actor.as_str()),
        ("tasked", "analyst-1")
    );
    assert_eq!(ledger.tasks()[1].id, "task-inc-12");
    assert!(matches!(
        ledger.check(&decision("inc-12", Action::Task, None)),
        Err(DecisionError::NotNow { .. })
    ));

    // Verify, attribute, publish; then a published incident is final.
    ledger
        .decide(20, &decision("inc-10", Action::Verify, None))
        .unwrap();
    ledger
        .decide(21, &decision("inc-10", Action::Attribute, Some("RU")))
        .unwrap();
    ledger
        .decide(22, &decision("inc-10", Action::Publish, None))
        .unwrap();
    let r = &ledger.records()[a];
    assert_eq!(r.state, Lifecycle::Published);
    assert_eq!(r.attributed_party.as_deref(), Some("RU"));
    let actions: Vec<&str> = r.transitions.iter().map(|t| t.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "detected",
            "tasked",
            "corroborated",
            "verify",
            "attribute",
            "publish"
        ]
    );
    assert_eq!(r.transitions[4].from, Some(Lifecycle::Verified));
    assert_eq!(r.transitions[4].to, Lifecycle::Verified);
    assert!(r.transitions[4].reason.starts_with("attributed to RU"));
    // The analyst's verification closed the team's task.
    assert_eq!(ledger.tasks()[0].state, TaskState::Done);
    assert_eq!(ledger.tasks()[0].note, "closed: verified by analyst-1");
    assert!(
        ledger
            .decide(23, &decision("inc-10", Action::Attribute, Some("UA")))
            .is_err()
    );
    assert!(
        ledger
            .decide(24, &decision("inc-10", Action::Verify, None))
            .is_err()
    );
    assert_eq!(ledger.records()[a].attributed_party.as_deref(), Some("RU"));
    assert_eq!(ledger.through_seq(), Some(24));
    let counts = ledger.count_by_state();
    assert_eq!(counts.get(&Lifecycle::Published), Some(&1));
    assert_eq!(counts.get(&Lifecycle::VerificationTasked), Some(&1));

    // A replay of the same entries is the same state.
    let mut again = Ledger::new(engine.clone());
    feed(&engine, &mut again);
    again
        .decide(19, &decision("inc-12", Action::Task, None))
        .unwrap();
    again
        .decide(20, &decision("inc-10", Action::Verify, None))
        .unwrap();
    again
        .decide(21, &decision("inc-10", Action::Attribute, Some("RU")))
        .unwrap();
    again
        .decide(22, &decision("inc-10", Action::Publish, None))
        .unwrap();
    assert_eq!(again.records(), ledger.records());
    assert_eq!(again.incidents(), ledger.incidents());
}

#[test]
fn a_decision_round_trips_through_its_canonical_entry() {
    let d = decision("inc-10", Action::Attribute, Some("UA"));
    let body = truce_core::canonical::to_canonical_json(&d);
    assert_eq!(
        body,
        r#"{"action":"attribute","actor":"analyst-1","decided_at":"2015-03-03T08:00:00Z","incident":"inc-10","party":"UA","reason":"reviewed"}"#
    );
    let back: Decision = serde_json::from_str(&body).unwrap();
    assert_eq!(back, d);
    assert!(serde_json::from_str::<Decision>(r#"{"incident":"inc-1","action":"verify","actor":"a","reason":"r","decided_at":"2015-03-03T08:00:00Z","extra":1}"#).is_err());
}

/// Issue 14 (memory): the first step of every incident a feed detects says the same words;
/// they are held once — as folded, and as read back from a snapshot — and still read and
/// serialise as plain strings.
#[test]
fn detected_steps_of_one_feed_share_their_words() {
    let engine = engine();
    let mut ledger = Ledger::new(engine.clone());
    let on = engine.line().nearest([38.0, 48.2]).point;
    for i in 0..3u64 {
        let (o, p) = point(
            &format!("hot-{i}"),
            "thermal_anomaly",
            destination(on, 270.0, 3_000.0 + 30_000.0 * i as f64),
            &format!("2015-03-0{}T01:00:00Z", i + 1),
            ("viirs-snpp", "satellite", "B2"),
        );
        let a = engine.assess(i as usize, &o, &p);
        ledger.observe(20 + i, &o, &p, &a);
    }
    assert_eq!(ledger.incidents().len(), 3, "three places, three incidents");
    let snapshot = ledger.snapshot();
    let restored = Ledger::from_snapshot(engine.clone(), &snapshot).unwrap();
    assert_eq!(
        restored.snapshot(),
        snapshot,
        "read back, it serialises the same"
    );
    for l in [&ledger, &restored] {
        let first: Vec<_> = l.records().iter().map(|r| &r.transitions[0]).collect();
        assert_eq!(first[0].action, "detected");
        assert_eq!(first[0].actor, "truce");
        assert_eq!(
            first[0].reason.as_str(),
            "thermal_anomaly from viirs-snpp (satellite)"
        );
        for t in &first[1..] {
            assert!(t.action.is_shared_with(&first[0].action));
            assert!(t.actor.is_shared_with(&first[0].actor));
            assert!(t.reason.is_shared_with(&first[0].reason));
        }
    }
    let json = serde_json::to_value(&ledger.records()[0].transitions[0]).unwrap();
    assert_eq!(
        json["reason"],
        "thermal_anomaly from viirs-snpp (satellite)"
    );
}

/// A snapshot is two LZ4 frames after its format and the first frame's length; one cut short
/// or with a wrong length is refused with the reason (the server then replays the log), never
/// read as a smaller ledger.
#[test]
fn a_snapshot_cut_or_mislabelled_is_refused() {
    let engine = engine();
    let mut ledger = Ledger::new(engine.clone());
    feed(&engine, &mut ledger);
    let bytes = ledger.snapshot();
    assert_eq!(
        u32::from_le_bytes(bytes[..4].try_into().unwrap()),
        truce_fusion::ledger::SNAPSHOT_FORMAT
    );
    let first = u64::from_le_bytes(bytes[4..12].try_into().unwrap()) as usize;
    assert!(12 + first < bytes.len(), "a second frame follows the first");
    let restored = Ledger::from_snapshot(engine.clone(), &bytes).unwrap();
    assert_eq!(restored.snapshot(), bytes);
    assert_eq!(restored.incidents().len(), ledger.incidents().len());

    let refused = |bytes: &[u8]| match Ledger::from_snapshot(engine.clone(), bytes) {
        Ok(_) => panic!("a damaged snapshot restored"),
        Err(why) => why,
    };
    assert!(refused(&bytes[..10]).contains("cut short"));
    assert!(refused(&bytes[..12 + first - 1]).contains("shorter than its first frame"));
    // The second frame missing, or the split in the wrong place.
    let why = refused(&bytes[..12 + first]);
    assert!(
        why.contains("does not decompress") || why.contains("does not decode"),
        "{why}"
    );
    let mut moved = bytes.clone();
    moved[4..12].copy_from_slice(&(first as u64 - 1).to_le_bytes());
    let why = refused(&moved);
    assert!(
        why.contains("does not decompress") || why.contains("does not decode"),
        "{why}"
    );
}
