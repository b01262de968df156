//! Verification tasks: which incidents need a team (on real incidents fused from observations
//! under the bundled terms), priority order, nearest-free-team assignment with distances
//! worked out by hand, access denials keeping a place off the plan, and outcomes.

use std::collections::BTreeSet;
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::agreement::Severity;
use truce_core::assess::Engine;
use truce_core::mission::Team;
use truce_core::observation::{Observation, Outcome, Place, SourceKind, parse_feature};
use truce_fusion::tasks::{
    ACCESS_DENIAL_RADIUS_M, ACCESS_DENIAL_WINDOW_S, Priority, TASK_MIN_CONFIDENCE, TaskRequest,
    Verdict, assign, denial, request, task_id, verdict,
};
use truce_fusion::{EventGroup, Fusion, Incident};
use truce_geo::{LonLat, destination, distance_m};

fn engine() -> std::sync::Arc<Engine> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    let agreement = truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap_or_else(|d| panic!("{d:#?}"));
    std::sync::Arc::new(Engine::new(agreement).unwrap())
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn obs(kind: &str, at: LonLat, time: &str, source: (&str, &str, &str)) -> (Observation, Place) {
    let (id, skind, grade) = source;
    let (rel, cred) = grade.split_at(1);
    let text = format!(
        r#"{{"type":"Feature","id":"{id}-{time}","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"{kind}","observed_at":"{time}","error_radius_m":50,"source":{{"id":"{id}","kind":"{skind}","reliability":"{rel}","credibility":{cred}}}}}}}"#,
        at[0], at[1]
    );
    parse_feature(0, &text).unwrap_or_else(|r| panic!("{r:?}"))
}

/// The incidents of these observations, fused under the bundled terms.
fn fuse(engine: &std::sync::Arc<Engine>, items: Vec<(Observation, Place)>) -> Vec<Incident> {
    let batch: Vec<_> = items
        .into_iter()
        .enumerate()
        .map(|(i, (o, p))| {
            let a = engine.assess(i, &o, &p);
            (i as u64 + 1, o, p, a)
        })
        .collect();
    let mut fusion = Fusion::new(engine.clone());
    fusion.fuse(&batch);
    fusion.incidents().iter().map(|i| (**i).clone()).collect()
}

#[test]
fn which_incidents_need_a_team() {
    let engine = engine();
    let terms = engine.agreement();
    let on = engine.line().nearest([38.0, 48.2]).point;
    let near = destination(on, 90.0, 3_000.0);
    let far = destination(on, 90.0, 60_000.0);
    let incidents = fuse(
        &engine,
        vec![
            // A shelling seen by a camera: no-fire (high), A2 0.81.
            obs(
                "impact",
                near,
                "2015-03-02T20:00:00Z",
                ("cam-01", "camera", "A2"),
            ),
            // A shelling 30 km away from a party's desk alone, a day later: D3 0.28.
            obs(
                "impact",
                destination(near, 0.0, 30_000.0),
                "2015-03-03T20:00:00Z",
                ("jccc-ua", "party", "D3"),
            ),
            // A hotspot far from the line: breaches nothing.
            obs(
                "thermal_anomaly",
                far,
                "2015-03-02T10:00:00Z",
                ("viirs-snpp", "satellite", "B2"),
            ),
        ],
    );
    assert_eq!(incidents.len(), 3, "{incidents:#?}");
    let by_start = |s: &str| {
        incidents
            .iter()
            .find(|i| i.start <= t(s) && t(s) <= i.end)
            .unwrap()
    };
    let shelling = by_start("2015-03-02T20:00:00Z");
    assert!(shelling.breaches.contains(&"no-fire".to_string()));
    let r = request(shelling, terms).unwrap();
    assert_eq!(r.task, task_id(&shelling.id));
    assert_eq!(r.task, format!("task-{}", shelling.id));
    assert_eq!(r.location, shelling.location.unwrap());
    assert_eq!(
        r.priority,
        Priority {
            severity: Severity::High,
            confidence_permille: (shelling.confidence * 1000.0).round() as u16,
            since: shelling.start,
        }
    );

    let allegation = by_start("2015-03-03T20:00:00Z");
    assert!(allegation.confidence < TASK_MIN_CONFIDENCE);
    assert_eq!(
        request(allegation, terms).unwrap_err(),
        format!("confidence {:.2} is below 0.5", allegation.confidence)
    );
    let field_fire = by_start("2015-03-02T10:00:00Z");
    assert_eq!(
        request(field_fire, terms).unwrap_err(),
        "no breach of severity high or above (breaches: none)"
    );

    // The other tests, on edited copies of the real incident.
    let mut low = shelling.clone();
    low.breaches = vec!["thermal-in-security-zone".into(), "air-exclusion".into()];
    assert_eq!(
        request(&low, terms).unwrap_err(),
        "no breach of severity high or above (breaches: thermal-in-security-zone, air-exclusion)"
    );
    let mut seen = shelling.clone();
    seen.source_kinds.push(SourceKind::GroundTeam);
    assert_eq!(
        request(&seen, terms).unwrap_err(),
        "a ground team has already reported it"
    );
    let mut unlocated = shelling.clone();
    unlocated.location = None;
    assert_eq!(
        request(&unlocated, terms).unwrap_err(),
        "not located: its bearings do not fix a point"
    );
    let mut column = shelling.clone();
    column.group = EventGroup::Track;
    assert!(
        request(&column, terms)
            .unwrap_err()
            .contains("nothing for a team")
    );
    let mut denied = shelling.clone();
    denied.group = EventGroup::AccessDenied;
    assert_eq!(
        request(&denied, terms).unwrap_err(),
        "it is a team's own report"
    );
    let mut critical = shelling.clone();
    critical.breaches.push("no-crossing".into());
    assert_eq!(
        request(&critical, terms).unwrap().priority.severity,
        Severity::Critical
    );
}

#[test]
fn priority_is_severity_then_confidence_then_age() {
    let p = |severity, confidence_permille, since: &str| Priority {
        severity,
        confidence_permille,
        since: t(since),
    };
    let old = "2015-03-01T00:00:00Z";
    let new = "2015-03-02T00:00:00Z";
    assert!(p(Severity::Critical, 500, new) > p(Severity::High, 990, old));
    assert!(p(Severity::High, 810, new) > p(Severity::High, 680, old));
    assert!(p(Severity::High, 680, old) > p(Severity::High, 680, new));
}

/// Four teams on a meridian, 0.1° of latitude apart.
fn teams() -> Vec<Team> {
    (1..=4)
        .map(|i| Team {
            id: format!("team-{i}"),
            name: format!("Team {i}"),
            base: [38.0, 48.0 + 0.1 * f64::from(i)],
        })
        .collect()
}

fn req(incident: &str, location: LonLat, severity: Severity, permille: u16) -> TaskRequest {
    TaskRequest {
        task: task_id(incident),
        incident: incident.into(),
        location,
        priority: Priority {
            severity,
            confidence_permille: permille,
            since: t("2015-03-02T06:00:00Z"),
        },
    }
}

#[test]
fn highest_priority_first_each_to_the_nearest_free_team() {
    let teams = teams();
    // Both places are nearest team-2 (48.2); the critical one gets it, the other goes to the
    // next nearest free team: from 48.23, team-3 at 48.3 (0.07°) beats team-1 at 48.1 (0.13°).
    let a = [38.0, 48.23];
    let b = [38.0, 48.21];
    let requests = vec![
        req("inc-1", a, Severity::High, 900),
        req("inc-2", b, Severity::Critical, 500),
    ];
    let plan = assign(
        &requests,
        &teams,
        &BTreeSet::new(),
        &[],
        t("2015-03-02T12:00:00Z"),
    );
    let got: Vec<(&str, &str)> = plan
        .assigned
        .iter()
        .map(|x| (x.task.as_str(), x.team.as_str()))
        .collect();
    assert_eq!(got, [("task-inc-2", "team-2"), ("task-inc-1", "team-3")]);
    assert_eq!(plan.assigned[0].incident, "inc-2");
    // 0.01° and 0.07° of latitude at 48.2° N: about 1.11 km and 7.78 km.
    assert!((plan.assigned[0].distance_m - 1_112.0).abs() < 5.0);
    assert_eq!(
        plan.assigned[1].distance_m,
        distance_m([38.0, 48.3], a),
        "geodesic distance from the base"
    );
    assert!((plan.assigned[1].distance_m - 7_783.0).abs() < 10.0);
    assert!(plan.unassigned.is_empty());

    // Busy teams are skipped; with every team busy, the task says so.
    let busy: BTreeSet<String> = ["team-2".to_string(), "team-3".to_string()].into();
    let plan = assign(
        &requests[..1],
        &teams,
        &busy,
        &[],
        t("2015-03-02T12:00:00Z"),
    );
    assert_eq!(plan.assigned[0].team, "team-1");
    let all: BTreeSet<String> = teams.iter().map(|t| t.id.clone()).collect();
    let plan = assign(&requests, &teams, &all, &[], t("2015-03-02T12:00:00Z"));
    assert!(plan.assigned.is_empty());
    assert_eq!(plan.unassigned.len(), 2);
    assert_eq!(plan.unassigned[0].task, "task-inc-2", "priority order");
    assert_eq!(plan.unassigned[0].reason, "no free team: all 4 are busy");
    let plan = assign(
        &requests,
        &[],
        &BTreeSet::new(),
        &[],
        t("2015-03-02T12:00:00Z"),
    );
    assert_eq!(plan.unassigned[1].reason, "the mission has no teams");
    // Five tasks, four teams: the lowest priority waits.
    let many: Vec<TaskRequest> = (0..5u16)
        .map(|i| req(&format!("inc-{i}"), [38.0, 48.25], Severity::High, 600 + i))
        .collect();
    let plan = assign(
        &many,
        &teams,
        &BTreeSet::new(),
        &[],
        t("2015-03-02T12:00:00Z"),
    );
    assert_eq!(plan.assigned.len(), 4);
    assert_eq!(plan.assigned[0].task, "task-inc-4");
    assert_eq!(plan.unassigned[0].task, "task-inc-0");
}

#[test]
fn recent_denials_nearby_keep_a_place_off_the_plan() {
    let teams = teams();
    let place = [38.0, 48.25];
    let requests = vec![req("inc-1", place, Severity::High, 900)];
    let checkpoint = destination(place, 90.0, 3_200.0);
    let denied_at = t("2015-03-02T10:00:00Z");
    let denials = [(checkpoint, denied_at)];

    let now = t("2015-03-02T18:00:00Z");
    let plan = assign(&requests, &teams, &BTreeSet::new(), &denials, now);
    assert!(plan.assigned.is_empty());
    assert_eq!(
        plan.unassigned[0].reason,
        "access denied 3.2 km away at 2015-03-02T10:00Z; retry after 2015-03-03T10:00Z"
    );
    // The window ends 24 h after the denial; a denial not yet made does not count.
    let retry = denied_at + TimeDelta::seconds(ACCESS_DENIAL_WINDOW_S);
    for now in [retry, t("2015-03-02T09:59:59Z")] {
        let plan = assign(&requests, &teams, &BTreeSet::new(), &denials, now);
        assert_eq!(plan.assigned.len(), 1, "{now}");
    }
    let plan = assign(
        &requests,
        &teams,
        &BTreeSet::new(),
        &denials,
        retry - TimeDelta::seconds(1),
    );
    assert!(plan.assigned.is_empty());
    // Beyond the radius: assigned.
    let far = [(
        destination(place, 90.0, ACCESS_DENIAL_RADIUS_M + 10.0),
        denied_at,
    )];
    let plan = assign(&requests, &teams, &BTreeSet::new(), &far, now);
    assert_eq!(plan.assigned.len(), 1);
    // The latest denial in range is the one named; a denied task uses no team.
    let two = [
        (checkpoint, denied_at),
        (destination(place, 0.0, 450.0), t("2015-03-02T11:30:15Z")),
    ];
    let other = req("inc-2", [38.0, 48.1], Severity::High, 100);
    let plan = assign(
        &[requests[0].clone(), other],
        &teams[..1],
        &BTreeSet::new(),
        &two,
        now,
    );
    assert_eq!(
        plan.unassigned[0].reason,
        "access denied 450 m away at 2015-03-02T11:30:15Z; retry after 2015-03-03T11:30:15Z"
    );
    assert_eq!(plan.assigned[0].task, "task-inc-2");
    assert_eq!(plan.assigned[0].team, "team-1");
}

#[test]
fn outcomes_and_denials() {
    assert_eq!(verdict(Outcome::Confirmed), Some(Verdict::Verified));
    assert_eq!(verdict(Outcome::NotConfirmed), Some(Verdict::NotConfirmed));
    assert_eq!(verdict(Outcome::Inconclusive), Some(Verdict::Inconclusive));
    assert_eq!(verdict(Outcome::AccessDenied), None, "the task stays open");
    assert_eq!(Verdict::NotConfirmed.as_str(), "not_confirmed");

    let at = [38.1, 48.3];
    let (o, p) = obs(
        "access_denied",
        at,
        "2015-03-02T10:00:00Z",
        ("team-2", "ground_team", "A2"),
    );
    assert_eq!(denial(&o, &p), Some((at, t("2015-03-02T10:00:00Z"))));
    let (o, p) = obs(
        "access_denied",
        at,
        "2015-03-02T10:00:00Z",
        ("jccc-ua", "party", "D3"),
    );
    assert_eq!(
        denial(&o, &p),
        None,
        "a party's complaint is not the mission's"
    );
    let (o, p) = obs(
        "impact",
        at,
        "2015-03-02T10:00:00Z",
        ("team-2", "ground_team", "A2"),
    );
    assert_eq!(denial(&o, &p), None);
}
