//! The service's use cases on a real GeoPackage store with a fixed clock: each appends, signs
//! and folds once; refusals log nothing; times come from the injected clock; every folded
//! entry — the service's own or another process's — reaches the reactions feed; the
//! `incidents` layer says what the views say.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use truce_core::entry::{Action, EntryKind};
use truce_log::{KeyType, SignerKey};
use truce_service::view::IncidentView;
use truce_service::{DecisionRequest, FixedClock, Service, ServiceError};

fn terms() -> truce_core::agreement::Agreement {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/donbas-2015");
    let text = std::fs::read_to_string(dir.join("agreement.toml")).unwrap();
    truce_core::agreement::load("agreement.toml", &text, &mut |rel| {
        std::fs::read(dir.join(rel)).map_err(|e| e.to_string())
    })
    .unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-service-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// A store holding a simulated day (seed 3) with its mission, through the service.
fn scenario(dir: &Path, clock: Arc<FixedClock>) -> (Service, SignerKey) {
    let terms = terms();
    let key = SignerKey::from_seed("truce.test/service", KeyType::Ed25519, [7; 32]).unwrap();
    let db = dir.join("s.gpkg");
    let mut svc = Service::open_with_terms(&db, &terms, key.clone(), clock)
        .unwrap()
        .with_reactions();
    let sim = truce_sim::simulate(&terms, 1, 3, truce_sim::default_start(&terms));
    svc.set_mission(&sim.mission).unwrap();
    ingest_feeds(&mut svc, &sim.feeds);
    (svc, key)
}

/// Ingests simulated feeds through the service, each as the adapter its name and bytes pick.
fn ingest_feeds(svc: &mut Service, feeds: &[truce_sim::Feed]) {
    let options = truce_ingest::Options::default();
    for feed in feeds {
        let format = truce_ingest::detect(&feed.file_name, &feed.bytes).unwrap();
        let records: Vec<_> = truce_ingest::adapter(format, &options)
            .read(&feed.file_name, &feed.bytes)
            .unwrap()
            .collect();
        svc.ingest(&feed.file_name, &format.to_string(), records)
            .unwrap();
    }
}

#[test]
fn decisions_take_the_clocks_time_refusals_log_nothing_and_every_fold_is_fed_to_reactions() {
    let dir = tempdir("decide");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let (mut svc, key) = scenario(&dir, clock.clone());
    assert!(!svc.ledger().incidents().is_empty());
    let applied = svc.take_applied();
    assert!(
        applied
            .iter()
            .any(|a| a.kind == EntryKind::Observation && !a.incidents.is_empty()),
        "ingest folds observations into incidents and feeds them to reactions"
    );

    // A refused decision (publish before verification) logs nothing and folds nothing.
    let size = svc.store().log_size().unwrap();
    let id = svc.ledger().incidents()[0].id.clone();
    let refused = svc.decide(DecisionRequest {
        incident: id.clone(),
        action: Action::Publish,
        party: None,
        actor: "analyst".into(),
        reason: "too early".into(),
    });
    assert!(
        matches!(refused, Err(ServiceError::Refused(_))),
        "{refused:?}"
    );
    assert_eq!(svc.store().log_size().unwrap(), size);
    assert!(svc.take_applied().is_empty());

    // A verification at the clock's time: one entry, one checkpoint, one fold.
    clock.advance(TimeDelta::minutes(5));
    let done = svc
        .decide(DecisionRequest {
            incident: id.clone(),
            action: Action::Verify,
            party: None,
            actor: "analyst".into(),
            reason: "imagery".into(),
        })
        .unwrap();
    assert_eq!(done.seq, size);
    assert_eq!(done.after.as_str(), "verified");
    let checkpoint = svc.store().latest_checkpoint().unwrap().unwrap();
    assert_eq!(checkpoint.size, size + 1, "signed after the decision");
    let step = svc.ledger().records()[done.incident]
        .transitions
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        step.at,
        t("2015-03-05T09:05:00Z"),
        "timed by the injected clock"
    );
    let applied = svc.take_applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].kind, EntryKind::Decision);
    assert_eq!(applied[0].incidents, vec![id.clone()]);
    let alerts = truce_service::alerts::for_applied(svc.ledger(), &applied);
    assert!(alerts.iter().all(|a| a.kind == "state" && a.incident == id));

    // Another process decides on the same store: `sync` folds it and feeds it to reactions.
    let db = dir.join("s.gpkg");
    let mut other = Service::open(&db, clock.clone())
        .unwrap()
        .with_key(key)
        .unwrap();
    let second = other.ledger().incidents()[1].id.clone();
    other
        .decide(DecisionRequest {
            incident: second.clone(),
            action: Action::Verify,
            party: None,
            actor: "analyst-2".into(),
            reason: "call with the team".into(),
        })
        .unwrap();
    assert_eq!(svc.sync().unwrap(), 1);
    let applied = svc.take_applied();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].incidents, vec![second.clone()]);
    let k = svc.ledger().find(&second).unwrap();
    assert_eq!(svc.ledger().records()[k].state.as_str(), "verified");
}

#[test]
fn the_incidents_layer_says_what_the_views_say_and_a_rebuild_changes_nothing() {
    let dir = tempdir("layer");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let (mut svc, _) = scenario(&dir, clock);
    let conn = rusqlite::Connection::open(dir.join("s.gpkg")).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT incident_id, state, rules, confidence, suggested_party, attributed_party, \
             suggestion_basis FROM incidents",
        )
        .unwrap();
    type Row = (
        String,
        String,
        String,
        f64,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
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
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let ledger = svc.ledger();
    assert_eq!(rows.len(), ledger.incidents().len());
    let mut suggested = 0;
    for (id, state, rules, confidence, party, official, basis) in rows {
        let v = IncidentView::of(ledger, ledger.find(&id).unwrap());
        assert_eq!(state, v.state, "{id}");
        assert_eq!(rules, v.rules.join(","), "{id}");
        assert_eq!(Some(confidence), v.confidence, "{id}");
        assert_eq!(party, v.suggested_party, "{id}");
        assert_eq!(official, v.attributed_party, "{id}");
        assert_eq!(basis, v.suggestion_basis, "{id}");
        suggested += usize::from(party.is_some());
    }
    assert!(
        suggested > 0,
        "some incidents name a suggested party in the layer"
    );
    drop(stmt);
    drop(conn);
    let rebuilt = svc.rebuild().unwrap();
    assert!(rebuilt.rewritten.is_empty(), "{:?}", rebuilt.rewritten);
}

/// Issue 14: a restart starts from the ledger snapshot and folds only the entries after it,
/// and ends in exactly the state a replay of the whole log gives — incidents, records, tasks
/// and every byte of the folded state. A snapshot whose bytes were changed, or one folded
/// under other terms, is not used: the log is replayed instead, to the same state.
#[test]
fn a_restart_from_a_snapshot_and_a_full_replay_give_the_same_state() {
    let dir = tempdir("snapshot");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let terms = terms();
    let key = SignerKey::from_seed("truce.test/service", KeyType::Ed25519, [7; 32]).unwrap();
    let db = dir.join("s.gpkg");
    let mut svc = Service::open_with_terms(&db, &terms, key.clone(), clock.clone()).unwrap();
    let sim = truce_sim::simulate(&terms, 1, 3, truce_sim::default_start(&terms));
    svc.set_mission(&sim.mission).unwrap();
    let (first, rest) = sim.feeds.split_at(sim.feeds.len() / 2);
    ingest_feeds(&mut svc, first);
    // Mid-stream, with tasks open and incidents still growing.
    assert!(svc.write_snapshot().unwrap());
    assert!(!svc.write_snapshot().unwrap(), "one snapshot per size");
    ingest_feeds(&mut svc, rest);
    let snapped = svc.snapshot_size();
    // Decisions after the snapshot: the restart must fold them too.
    let id = svc.ledger().incidents()[0].id.clone();
    for (action, party) in [(Action::Verify, None), (Action::Attribute, Some("RU"))] {
        svc.decide(DecisionRequest {
            incident: id.clone(),
            action,
            party: party.map(str::to_string),
            actor: "analyst".into(),
            reason: "imagery".into(),
        })
        .unwrap();
    }
    let size = svc.store().log_size().unwrap();
    assert!(snapped > 0 && snapped < size, "{snapped} of {size}");
    drop(svc);

    let same_as_replay = |svc: &Service| {
        let (replayed, _) = truce_service::replay(svc.store(), svc.engine().clone()).unwrap();
        assert_eq!(svc.ledger().through_seq(), Some(size - 1));
        assert_eq!(svc.ledger().incidents(), replayed.incidents());
        assert_eq!(svc.ledger().records(), replayed.records());
        assert_eq!(svc.ledger().tasks(), replayed.tasks());
        assert!(
            svc.ledger().snapshot() == replayed.snapshot(),
            "the folded state differs from the replay's"
        );
    };
    let restored = Service::open(&db, clock.clone()).unwrap();
    assert_eq!(
        restored.snapshot_size(),
        snapped,
        "restarted from the snapshot"
    );
    same_as_replay(&restored);
    let (rebuilt_svc, rebuilt) = Service::open_rebuilt(&db, clock.clone()).unwrap();
    assert_eq!(
        rebuilt.snapshot,
        Some((snapped, true)),
        "rebuild checks the snapshot"
    );
    assert!(rebuilt.rewritten.is_empty(), "{:?}", rebuilt.rewritten);
    assert_eq!(rebuilt_svc.snapshot_size(), size, "and writes a fresh one");
    drop((restored, rebuilt_svc));

    // One byte of the snapshot changed: the store says so and the log is replayed.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE ledger_snapshots SET state = substr(state, 1, 100) || x'00' || substr(state, 102)",
        [],
    )
    .unwrap();
    drop(conn);
    let why = truce_store::GeoPackageStore::open(&db)
        .unwrap()
        .ledger_snapshot()
        .unwrap()
        .unwrap_err();
    assert!(why.contains("SHA-256"), "{why}");
    let replayed = Service::open(&db, clock.clone()).unwrap();
    assert_eq!(
        replayed.snapshot_size(),
        0,
        "not restored from changed bytes"
    );
    same_as_replay(&replayed);

    // A snapshot folded under other terms is refused by the ledger, with the reason.
    let state = replayed.ledger().snapshot();
    let mut other = terms.clone();
    other.hash = "0".repeat(64);
    let other = Arc::new(truce_core::assess::Engine::new(other).unwrap());
    let Err(err) = truce_fusion::ledger::Ledger::from_snapshot(other, &state) else {
        panic!("a snapshot under other terms was restored")
    };
    assert!(err.contains("not those in force"), "{err}");
    let Err(err) = truce_fusion::ledger::Ledger::from_snapshot(
        replayed.engine().clone(),
        &state[..state.len() / 2],
    ) else {
        panic!("half a snapshot was restored")
    };
    assert!(
        err.contains("shorter than its first frame") || err.contains("does not decompress"),
        "{err}"
    );
    // After its format number and the first frame's length, the bytes are two standard LZ4
    // frames (each its magic number first).
    let first = u64::from_le_bytes(state[4..12].try_into().unwrap()) as usize;
    assert_eq!(state[12..16], 0x184D_2204u32.to_le_bytes(), "an LZ4 frame");
    assert_eq!(
        state[12 + first..16 + first],
        0x184D_2204u32.to_le_bytes(),
        "a second LZ4 frame"
    );
}

#[test]
fn a_response_cites_only_observations_in_the_log_as_its_evidence() {
    let dir = tempdir("respond");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let (mut svc, _key) = scenario(&dir, clock);
    let size = svc.store().log_size().unwrap();
    let incident = svc.ledger().incidents()[0].id.clone();
    let observation = (0..size)
        .find(|&s| svc.store().entry(s).unwrap().unwrap().kind == EntryKind::Observation)
        .unwrap();
    let not_evidence = (0..size)
        .find(|&s| svc.store().entry(s).unwrap().unwrap().kind != EntryKind::Observation)
        .unwrap();
    let request = |evidence: Vec<u64>| truce_service::ResponseRequest {
        incident: incident.clone(),
        party: "RU".into(),
        response: "dispute".into(),
        text: "not us".into(),
        actor: "RU liaison".into(),
        evidence,
    };
    for (evidence, says) in [
        (vec![size + 5], "is not in the log"),
        (vec![observation, not_evidence], "not an observation"),
        (vec![observation; 65], "MAX_RESPONSE_EVIDENCE"),
    ] {
        let refused = svc.respond(request(evidence)).unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Invalid(m) if m.contains(says)),
            "{refused}"
        );
        assert_eq!(
            svc.store().log_size().unwrap(),
            size,
            "a refusal logs nothing"
        );
    }
    let seq = svc.respond(request(vec![observation])).unwrap();
    let body = svc.store().entry(seq).unwrap().unwrap().body;
    let entry: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(entry["evidence"], serde_json::json!([observation]));
}

/// Issue 14: `ingest_batches` folds each batch on a second thread while the next is stored.
/// Batch for batch it must say and leave what `ingest` one batch at a time does — the same
/// outcome, per-record results and incidents touched, handed over in order; the same
/// reactions; the same derived tables and folded state — and a rebuild from the log changes
/// nothing.
#[test]
fn batches_folded_while_the_next_is_stored_end_as_one_batch_at_a_time_does() {
    let terms = terms();
    let key = SignerKey::from_seed("truce.test/service", KeyType::Ed25519, [7; 32]).unwrap();
    let sim = truce_sim::simulate(&terms, 1, 3, truce_sim::default_start(&terms));
    let options = truce_ingest::Options::default();
    // Each feed's records in batches of 7, so a feed is several batches and a batch ends
    // mid-incident.
    let feeds: Vec<(String, String, Vec<Vec<truce_ingest::Record>>)> = sim
        .feeds
        .iter()
        .map(|feed| {
            let format = truce_ingest::detect(&feed.file_name, &feed.bytes).unwrap();
            let adapter = truce_ingest::adapter(format, &options);
            let mut records = adapter
                .read(&feed.file_name, &feed.bytes)
                .unwrap()
                .peekable();
            let mut batches = Vec::new();
            while records.peek().is_some() {
                batches.push(records.by_ref().take(7).collect::<Vec<_>>());
            }
            (feed.file_name.clone(), format.to_string(), batches)
        })
        .collect();
    assert!(
        feeds.iter().any(|(_, _, b)| b.len() > 2),
        "some feed spans several batches"
    );
    let open = |name: &str| {
        let dir = tempdir(name);
        let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
        let mut svc = Service::open_with_terms(&dir.join("s.gpkg"), &terms, key.clone(), clock)
            .unwrap()
            .with_reactions();
        svc.set_mission(&sim.mission).unwrap();
        svc.take_applied();
        svc
    };
    let mut one = open("one-at-a-time");
    let mut each_said = Vec::new();
    for (file, format, batches) in &feeds {
        for batch in batches {
            each_said.push(one.ingest(file, format, batch.clone()).unwrap());
        }
    }
    let mut piped = open("pipelined");
    let mut piped_said = Vec::new();
    for (file, format, batches) in &feeds {
        piped
            .ingest_batches(file, format, batches.iter().cloned(), |c| {
                piped_said.push(c)
            })
            .unwrap();
    }
    assert_eq!(piped_said.len(), each_said.len(), "one hand-over per batch");
    assert!(each_said.iter().any(|c| !c.incidents.is_empty()));
    for (i, (a, b)) in each_said.iter().zip(&piped_said).enumerate() {
        assert_eq!(a.outcome, b.outcome, "batch {i}");
        assert_eq!(a.results, b.results, "batch {i}");
        assert_eq!(a.incidents, b.incidents, "batch {i}");
    }
    assert_eq!(one.take_applied(), piped.take_applied());
    assert_eq!(
        one.store().derived_digests().unwrap(),
        piped.store().derived_digests().unwrap()
    );
    assert_eq!(one.ledger().snapshot(), piped.ledger().snapshot());
    assert!(piped.rebuild().unwrap().rewritten.is_empty());
}

/// Issue 14: when a batch cannot be stored, `ingest_batches` stops there, and the batch that
/// was folding meanwhile still has its incidents written and is handed over: every batch
/// handed over is in the log with its incidents, nothing after the failed one is stored, and
/// the derived tables stay level with what was folded (a rebuild changes nothing). Another
/// connection holding the file's write lock past the store's busy timeout (10 s) makes the
/// third batch fail.
#[test]
fn a_batch_that_cannot_be_stored_stops_the_rest_and_the_one_folding_is_still_written() {
    let terms = terms();
    let key = SignerKey::from_seed("truce.test/service", KeyType::Ed25519, [7; 32]).unwrap();
    let dir = tempdir("stopped");
    let db = dir.join("s.gpkg");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let mut svc = Service::open_with_terms(&db, &terms, key, clock).unwrap();
    let sim = truce_sim::simulate(&terms, 1, 3, truce_sim::default_start(&terms));
    let options = truce_ingest::Options::default();
    let feed = sim
        .feeds
        .iter()
        .max_by_key(|f| f.bytes.len())
        .expect("a feed");
    let format = truce_ingest::detect(&feed.file_name, &feed.bytes).unwrap();
    let adapter = truce_ingest::adapter(format, &options);
    let records: Vec<_> = adapter
        .read(&feed.file_name, &feed.bytes)
        .unwrap()
        .collect();
    let batches: Vec<Vec<truce_ingest::Record>> = records.chunks(3).map(<[_]>::to_vec).collect();
    assert!(batches.len() >= 4, "{} batches", batches.len());
    let mut said = Vec::new();
    let mut holder = None;
    let result = svc.ingest_batches(
        &feed.file_name,
        &format.to_string(),
        batches.into_iter(),
        |c| {
            said.push(c);
            if said.len() == 1 {
                // Batch 2 is stored by now; batch 3 will find the file locked.
                let (locked, held) = std::sync::mpsc::channel();
                let db = db.clone();
                holder = Some(std::thread::spawn(move || {
                    let conn = rusqlite::Connection::open(&db).unwrap();
                    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                    locked.send(()).unwrap();
                    std::thread::sleep(std::time::Duration::from_secs(11));
                    conn.execute_batch("COMMIT").unwrap();
                }));
                held.recv().unwrap();
            }
        },
    );
    holder.unwrap().join().unwrap();
    let err = format!(
        "{:#}",
        result.expect_err("the third batch could not be stored")
    );
    assert!(err.contains("lock"), "{err}");
    assert_eq!(
        said.len(),
        2,
        "the batch folding when the third failed is handed over"
    );
    let last = said[1].outcome.last_seq.expect("batch 2 appended entries");
    assert_eq!(
        svc.store().log_size().unwrap(),
        last + 1,
        "nothing after batch 2"
    );
    assert_eq!(svc.store().derived_through().unwrap(), Some(last));
    for c in &said {
        assert!(
            c.results
                .iter()
                .all(|r| r.seq.is_some() || r.status == "rejected")
        );
    }
    assert!(svc.rebuild().unwrap().rewritten.is_empty());
}

/// Issue 14: the start times alert escalation counts (`Ledger::repeats`: incidents breaching a
/// repeated rule, by party) are kept as incidents change, entry by entry — new incidents,
/// joins that move a start or add a breach, links that change a suggestion, attributions that
/// change the party — and counted again after a snapshot restore. Every count, for every
/// incident's window, equals a count over every incident.
#[test]
fn repeat_counts_kept_as_incidents_change_equal_a_count_over_every_incident() {
    let dir = tempdir("repeats");
    let clock = Arc::new(FixedClock::new(t("2015-03-05T09:00:00Z")));
    let (mut svc, _) = scenario(&dir, clock);
    // Attributions give no-fire breaches a party (this day's fusion suggests none for them),
    // and one is attributed again, to the other party: it must move between the counts.
    let breaching: Vec<String> = svc
        .ledger()
        .incidents()
        .iter()
        .filter(|i| i.breaches.iter().any(|b| b == "no-fire"))
        .map(|i| i.id.clone())
        .take(4)
        .collect();
    assert_eq!(breaching.len(), 4, "the scenario has no-fire breaches");
    let decide = |svc: &mut Service, id: &str, action: Action, party: Option<&str>| {
        svc.decide(DecisionRequest {
            incident: id.to_string(),
            action,
            party: party.map(str::to_string),
            actor: "analyst".into(),
            reason: "crater analysis".into(),
        })
        .unwrap();
    };
    for (i, id) in breaching.iter().enumerate() {
        decide(&mut svc, id, Action::Verify, None);
        let party = if i < 3 { "RU" } else { "UA" };
        decide(&mut svc, id, Action::Attribute, Some(party));
    }
    decide(&mut svc, &breaching[0], Action::Attribute, Some("UA"));
    let check = |ledger: &truce_fusion::ledger::Ledger| -> usize {
        let terms = ledger.engine().agreement();
        let repeats = &terms.escalation.as_ref().unwrap().repeat;
        let party = |k: usize| {
            truce_fusion::repeats::party_of(&ledger.incidents()[k], &ledger.records()[k])
                .map(str::to_string)
        };
        let mut most = 0;
        for r in repeats {
            for (k, inc) in ledger.incidents().iter().enumerate() {
                let Some(p) = party(k) else { continue };
                let from = inc.start - TimeDelta::hours(i64::from(r.within_h));
                let all = (0..ledger.incidents().len())
                    .filter(|&j| {
                        let other = &ledger.incidents()[j];
                        other.breaches.contains(&r.rule)
                            && party(j).as_deref() == Some(p.as_str())
                            && other.start >= from
                            && other.start <= inc.start
                    })
                    .count();
                let kept = ledger.repeats().count(&r.rule, &p, from, inc.start);
                assert_eq!(kept, Some(all), "{} {} {p}", inc.id, r.rule);
                most = most.max(all);
            }
        }
        most
    };
    let most = check(svc.ledger());
    assert!(
        most >= 2,
        "some party breaches the repeated rule more than once: {most}"
    );
    let restored = truce_fusion::ledger::Ledger::from_snapshot(
        svc.ledger().engine().clone(),
        &svc.ledger().snapshot(),
    )
    .unwrap();
    assert_eq!(check(&restored), most);
}
