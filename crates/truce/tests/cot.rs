//! `truce serve --cot-tcp --cot-udp` end to end: a real CoT client (PyTAK, driven by
//! `tests/cot/send_markers.py`) sends markers over TCP and UDP to the running binary; the store
//! must hold them under their CoT ids, the malformed events as rejected records, and — after a
//! SIGTERM that lands while batches are open — every event that was sent. With `--cot-tasks`,
//! a team's device on the TCP listener gets its tasks and answers them.
//!
//! Needs python3 with PyTAK (`scripts/test` installs it). Without it the test fails, never
//! skips.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Server, http, ok, root, s, tempdir, text, truce};

/// A store with the Minsk II terms and the scenario's sample observations.
fn store(dir: &Path) -> PathBuf {
    let db = dir.join("truce.gpkg");
    let scenario = root().join("scenarios/donbas-2015");
    let out = truce(&[
        "ingest",
        "--db",
        s(&db),
        "--agreement",
        s(&scenario.join("agreement.toml")),
        s(&scenario.join("observations.geojson")),
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "truce ingest failed:\n{}",
        text(&out.stderr)
    );
    db
}

/// A running `truce serve` with CoT listeners (their addresses: TCP, UDP) and its log
/// (`TRUCE_LOG=info`) in `dir`.
fn serve(db: &Path, dir: &Path) -> (Server, SocketAddr, SocketAddr) {
    let server = Server::start_with_env(
        db,
        &["--cot-tcp", "127.0.0.1:0", "--cot-udp", "127.0.0.1:0"],
        Some(&dir.join("serve.log")),
        &[("TRUCE_LOG", "info")],
    );
    let addr = |prefix: &str| server.printed(prefix).parse::<SocketAddr>().unwrap();
    let http_addr = server.addr.parse::<SocketAddr>().unwrap();
    let (tcp, udp) = (
        addr("truce serve: CoT TCP on "),
        addr("truce serve: CoT UDP on "),
    );
    // Port 0 gave real ports.
    for a in [http_addr, tcp, udp] {
        assert_ne!(a.port(), 0);
    }
    let (_, health) = http(&server.addr, "GET", "/healthz", None, None);
    assert!(health.contains("\"status\":\"ok\""), "{health}");
    (server, tcp, udp)
}

/// SIGTERM, as systemd or `docker stop` sends, and wait for the exit.
fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill(1) could not be run");
    assert!(status.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            // Let the pipe reader take the last of the output.
            std::thread::sleep(Duration::from_millis(100));
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "truce serve did not stop within 30 s of SIGTERM:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sql_strings(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                r.get::<_, Option<rusqlite::types::Value>>(i)
                    .map(|v| match v {
                        None | Some(rusqlite::types::Value::Null) => String::new(),
                        Some(rusqlite::types::Value::Text(t)) => t,
                        Some(rusqlite::types::Value::Integer(i)) => i.to_string(),
                        Some(rusqlite::types::Value::Real(f)) => f.to_string(),
                        Some(rusqlite::types::Value::Blob(_)) => "<blob>".into(),
                    })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn stored_ids(db: &Path, like: &str) -> BTreeSet<String> {
    sql_strings(
        db,
        &format!("SELECT obs_id FROM observations WHERE obs_id LIKE '{like}'"),
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect()
}

/// Polls the store until `done` holds (the listeners commit every 200 ms).
fn wait_until(what: &str, server: &Server, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; the server's log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn python_with_pytak() {
    let out = Command::new("python3")
        .args(["-c", "import pytak"])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is required for this test and could not be run ({e}); scripts/test installs it")
        });
    assert!(
        out.status.success(),
        "PyTAK is required for this test (a real CoT client): python3 -m pip install pytak \
         (scripts/test installs it)\n{}",
        text(&out.stderr)
    );
}

/// One event as a TAK device writes it (with its own XML declaration).
fn event(uid: &str, cot_type: &str, time: &str, remarks: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <event version=\"2.0\" uid=\"{uid}\" type=\"{cot_type}\" how=\"h-g-i-g-o\" time=\"{time}\" \
         start=\"{time}\" stale=\"2030-01-01T00:00:00Z\"><point lat=\"48.01\" lon=\"37.77\" \
         hae=\"200\" ce=\"12\" le=\"9999999\"/><detail><contact callsign=\"MON-RAW\"/>\
         <remarks>{remarks}</remarks></detail></event>"
    )
}

#[test]
fn pytak_markers_over_tcp_and_udp_are_stored_and_malformed_events_rejected_on_an_open_stream() {
    python_with_pytak();
    let dir = tempdir("cot", "pytak");
    let db = store(&dir);
    let (server, tcp, udp) = serve(&db, &dir);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let tag = format!("{}-{nanos}", std::process::id());

    // The real client: 5 spot markers and an artillery marker over each transport, and two
    // malformed events written raw on the TCP connection, each followed by a valid one.
    let script = root().join("tests/cot/send_markers.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--tcp")
        .arg(format!("tcp://{tcp}"))
        .arg("--udp")
        .arg(format!("udp://{udp}"))
        .args(["--count", "5", "--tag", &tag])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "send_markers.py failed:\n{}",
        text(&out.stderr)
    );
    let sent: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let field = |m: &serde_json::Value, k: &str| m[k].as_str().unwrap_or("").to_string();
    let expect = |transport: &str, what: &str| -> Vec<serde_json::Value> {
        sent.iter()
            .filter(|m| field(m, "transport") == transport && field(m, "expect") == what)
            .cloned()
            .collect()
    };
    let (tcp_ok, udp_ok) = (expect("tcp", "stored"), expect("udp", "stored"));
    let tcp_bad = expect("tcp", "rejected");
    assert_eq!((tcp_ok.len(), udp_ok.len(), tcp_bad.len()), (8, 6, 2));
    let wanted: BTreeSet<String> = tcp_ok
        .iter()
        .chain(&udp_ok)
        .map(|m| field(m, "id"))
        .collect();

    let like = format!("cot:truce-test-{tag}-%");
    wait_until("the markers in the store", &server, || {
        stored_ids(&db, &like).len() >= wanted.len()
            && sql_strings(
                &db,
                &format!(
                    "SELECT count(*) FROM rejected_records WHERE raw LIKE '%truce-test-{tag}-%'"
                ),
            )[0][0]
                == "2"
    });
    // Every marker under its CoT id `cot:<uid>:<time>`, and nothing else of this run.
    assert_eq!(stored_ids(&db, &like), wanted);

    // What the adapter made of them: craters are impacts with the callsign as the source and
    // `ce` as the error radius; the artillery marker is a weapon sighting.
    for m in tcp_ok.iter().chain(&udp_ok) {
        let rows = sql_strings(
            &db,
            &format!(
                "SELECT o.kind, o.source_id, o.source_record, o.error_radius_m, o.weapon_class, b.file, b.format \
                 FROM observations o JOIN batches b ON b.id = o.batch_id WHERE o.obs_id = '{}'",
                field(m, "id")
            ),
        );
        let r = &rows[0];
        assert_eq!(r[2], field(m, "uid"), "source_record is the uid: {r:?}");
        assert_eq!(r[6], "cot");
        if field(m, "type") == "a-u-G-E-W-A" {
            assert_eq!(
                (r[0].as_str(), r[4].as_str()),
                ("weapon_present", "artillery_100mm_plus")
            );
            assert_eq!(r[3], "30");
        } else {
            assert_eq!(r[0], "impact", "{m}: {r:?}");
            assert!(r[1].starts_with("MON-"), "{r:?}");
        }
        let file = &r[5];
        match field(m, "transport").as_str() {
            "udp" => assert_eq!(file, "cot-udp"),
            _ => assert!(file.starts_with("cot-tcp:127.0.0.1:"), "{file}"),
        }
    }

    // The malformed events are rejected records with their raw text and a reason, on the
    // same connection (batch label) as the valid events before and after them.
    let rejected = sql_strings(
        &db,
        &format!(
            "SELECT file, locator, raw, reason FROM rejected_records \
             WHERE raw LIKE '%truce-test-{tag}-%' ORDER BY id"
        ),
    );
    let connection = sql_strings(
        &db,
        &format!(
            "SELECT DISTINCT b.file FROM observations o JOIN batches b ON b.id = o.batch_id \
             WHERE o.obs_id LIKE '{like}' AND b.file LIKE 'cot-tcp:%'"
        ),
    );
    assert_eq!(connection.len(), 1, "one TCP connection: {connection:?}");
    let broken = rejected
        .iter()
        .find(|r| r[2].contains(&format!("truce-test-{tag}-broken")))
        .expect("the broken-off event is a rejected record");
    assert_eq!(broken[0], connection[0][0]);
    assert!(broken[1].starts_with("event "), "{broken:?}");
    assert!(broken[3].contains("attribute"), "{broken:?}");
    let bad_lat = rejected
        .iter()
        .find(|r| r[2].contains(&format!("truce-test-{tag}-badlat")))
        .expect("the event with latitude 95.5 is a rejected record");
    assert_eq!(bad_lat[0], connection[0][0]);
    assert!(bad_lat[3].contains("latitude 95.5"), "{bad_lat:?}");
    for after in ["after-broken", "after-badlat"] {
        assert!(
            tcp_ok
                .iter()
                .any(|m| field(m, "uid") == format!("truce-test-{tag}-{after}")),
            "{after} was sent"
        );
    }

    // PyTAK's hello (a `t-x-d-d` TAK protocol message) is not a report: not stored.
    assert!(stored_ids(&db, "cot:takPing:%").is_empty());

    // Raw on one connection: an event over 64 KiB (max_cot_event_bytes), then a valid one and
    // its exact repeat (a TAK device re-sends unchanged markers), then one broken off by the
    // end of the stream.
    let time = "2026-01-02T03:04:05.678Z";
    let big = event(
        &format!("truce-test-{tag}-big"),
        "b-m-p-s-m",
        time,
        &"crater ".repeat(10_000),
    );
    let after = event(
        &format!("truce-test-{tag}-after-big"),
        "b-m-p-s-m",
        time,
        "impact",
    );
    let truncated = &after[..after.len() / 2].replace("after-big", "truncated");
    let mut s = TcpStream::connect(tcp).unwrap();
    for chunk in big.as_bytes().chunks(1000) {
        s.write_all(chunk).unwrap();
    }
    s.write_all(after.as_bytes()).unwrap();
    s.write_all(after.as_bytes()).unwrap();
    s.write_all(truncated.as_bytes()).unwrap();
    drop(s);
    let after_id = format!("cot:truce-test-{tag}-after-big:{time}");
    let oversize = || {
        sql_strings(
            &db,
            &format!(
                "SELECT reason, length(raw) FROM rejected_records WHERE raw LIKE '%truce-test-{tag}-big%'"
            ),
        )
    };
    let truncated_rows = || {
        sql_strings(
            &db,
            &format!(
                "SELECT reason FROM rejected_records WHERE raw LIKE '%truce-test-{tag}-truncated%'"
            ),
        )
    };
    wait_until("the raw events in the store", &server, || {
        stored_ids(&db, &after_id).len() == 1
            && oversize().len() == 1
            && truncated_rows().len() == 1
    });
    let o = &oversize()[0];
    assert!(o[0].contains("longer than 65536 bytes"), "{o:?}");
    assert!(
        o[1].parse::<usize>().unwrap() <= 8192,
        "raw kept short: {o:?}"
    );
    assert!(
        truncated_rows()[0][0].contains("truncated"),
        "{:?}",
        truncated_rows()
    );
    assert_eq!(
        sql_strings(
            &db,
            &format!("SELECT count(*) FROM observations WHERE obs_id = '{after_id}'")
        )[0][0],
        "1",
        "a repeated event is stored once"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_while_batches_are_open_loses_no_event() {
    let dir = tempdir("cot", "sigterm");
    let db = store(&dir);
    let (mut server, tcp_addr, udp_addr) = serve(&db, &dir);
    let tag = format!("{}-term", std::process::id());

    // A burst on one TCP connection and in UDP datagrams, then SIGTERM at once: well inside
    // the 200 ms a batch waits to fill, so the batches are open when the signal lands.
    let time = "2026-01-02T03:04:05.678Z";
    let mut ids = BTreeSet::new();
    let mut burst = String::new();
    for i in 0..40 {
        let uid = format!("truce-test-{tag}-tcp-{i}");
        burst.push_str(&event(&uid, "b-m-p-s-m", time, "impact crater"));
        ids.insert(format!("cot:{uid}:{time}"));
    }
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut tcp = TcpStream::connect(tcp_addr).unwrap();
    tcp.write_all(burst.as_bytes()).unwrap();
    for i in 0..10 {
        let uid = format!("truce-test-{tag}-udp-{i}");
        udp.send_to(event(&uid, "a-u-G-E-W-A", time, "").as_bytes(), udp_addr)
            .unwrap();
        ids.insert(format!("cot:{uid}:{time}"));
    }
    let status = terminate(&mut server);
    drop(tcp);
    let log = server.log();
    assert!(status.success(), "truce serve exited with {status}:\n{log}");
    assert!(
        server
            .stdout()
            .contains("truce serve: stopped; every accepted batch is committed"),
        "{log}"
    );
    // The signal found open batches: they were committed on the way out.
    assert!(
        log.contains("committing the open batch at shutdown"),
        "no batch was open at SIGTERM (the test sent too slowly?):\n{log}"
    );
    let stored = stored_ids(&db, &format!("cot:truce-test-{tag}-%"));
    let missing: Vec<_> = ids.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} of {} events lost at shutdown: {missing:?}\n{log}",
        missing.len(),
        ids.len()
    );
    // And the log still verifies: the batches were committed and checkpointed properly.
    ok(&["log", "verify", "--db", s(&db)]);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A CoT event from `callsign` at `[lon, lat]`, with `detail` inside `<detail>`.
fn device_event(uid: &str, kind: &str, callsign: &str, at: [f64; 2], detail: &str) -> String {
    let now = chrono::Utc::now();
    let t =
        |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid="{uid}" type="{kind}" how="h-g-i-g-o" time="{now}" start="{now}" stale="{stale}"><point lat="{lat}" lon="{lon}" hae="9999999" ce="15" le="9999999"/><detail><contact callsign="{callsign}"/>{detail}</detail></event>"#,
        now = t(now),
        stale = t(now + chrono::TimeDelta::minutes(5)),
        lon = at[0],
        lat = at[1],
    )
}

/// Reads task events from `stream` until `done` holds for those read so far (each one's text),
/// or `within` passes; answers them.
fn read_tasks(
    stream: &mut TcpStream,
    within: Duration,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    use std::io::Read;
    let deadline = Instant::now() + within;
    let mut buf = String::new();
    let mut events = Vec::new();
    let mut chunk = [0u8; 4096];
    while !done(&events) && Instant::now() < deadline {
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => panic!("the server closed the CoT connection"),
            Ok(n) => buf.push_str(std::str::from_utf8(&chunk[..n]).unwrap()),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("reading the CoT connection: {e}"),
        }
        while let Some(end) = buf.find("</event>") {
            let event: String = buf.drain(..end + "</event>".len()).collect();
            events.push(event.trim().to_string());
        }
    }
    events
}

/// The value of attribute `name` in the first `<element …>` of `xml`.
fn attr(xml: &str, element: &str, name: &str) -> String {
    let at = xml
        .find(&format!("<{element} "))
        .unwrap_or_else(|| panic!("no <{element}> in {xml}"));
    let tag = &xml[at..at + xml[at..].find('>').unwrap()];
    let start = tag
        .find(&format!(" {name}=\""))
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + name.len()
        + 3;
    tag[start..start + tag[start..].find('"').unwrap()].to_string()
}

/// `truce serve --cot-tcp --cot-tasks`: a team's device gets its open task over its CoT
/// connection when it shows its callsign — at the task's place, with its id and how to answer —
/// answers it with `<truce task outcome>` from the same connection, and gets the next task the
/// ledger assigns its team, without asking. Another team's tasks never reach it, and Truce's own
/// event echoed back (as a TAK server may) is not read as a report.
#[test]
fn assigned_tasks_reach_the_teams_tak_device_and_its_answer_comes_back() {
    let demo = common::Demo::new("cot", "tasks");
    let server = Server::start_with_env(
        &demo.db,
        &[
            "--cot-tcp",
            "127.0.0.1:0",
            "--cot-tasks",
            "--rate",
            "100000",
        ],
        Some(&demo.dir.join("serve.log")),
        &[("TRUCE_LOG", "info")],
    );
    let tcp = server
        .printed("truce serve: CoT TCP on ")
        .parse::<SocketAddr>()
        .unwrap();
    let analyst = demo.token("analyst");
    let tasks = |team: &str| -> Vec<serde_json::Value> {
        common::get_json(&server.addr, "/api/tasks", Some(&analyst))["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["team"] == team && t["state"] == "assigned")
            .cloned()
            .collect()
    };
    let open = tasks("team-1");
    assert_eq!(open.len(), 1, "the demo gives team-1 one task: {open:?}");
    let first = &open[0];
    let first_id = first["id"].as_str().unwrap();

    // The device connects and sends its position report: its team's open task comes back.
    let mut device = TcpStream::connect(tcp).unwrap();
    let base = [38.0, 48.0];
    device
        .write_all(device_event("ANDROID-t1", "a-f-G-U-C", "team-1", base, "").as_bytes())
        .unwrap();
    let got = read_tasks(&mut device, Duration::from_secs(10), |e| !e.is_empty());
    assert_eq!(got.len(), 1, "{got:?}\nserver log: {}", server.log());
    let event = &got[0];
    assert_eq!(attr(event, "event", "uid"), format!("truce:{first_id}"));
    assert_eq!(attr(event, "event", "type"), "b-m-p-w-GOTO");
    assert_eq!(attr(event, "dest", "callsign"), "team-1");
    assert_eq!(attr(event, "truce", "task"), first_id);
    assert_eq!(
        attr(event, "truce", "incident"),
        first["incident"].as_str().unwrap()
    );
    let (lon, lat): (f64, f64) = (
        attr(event, "point", "lon").parse().unwrap(),
        attr(event, "point", "lat").parse().unwrap(),
    );
    let place = [
        first["location"][0].as_f64().unwrap(),
        first["location"][1].as_f64().unwrap(),
    ];
    assert!(
        (lon - place[0]).abs() < 1e-5 && (lat - place[1]).abs() < 1e-5,
        "{event}"
    );
    assert!(
        event.contains("outcome=&quot;confirmed|not_confirmed|inconclusive|access_denied&quot;"),
        "{event}"
    );

    // A TAK server echoing Truce's event back: skipped, not a rejected record.
    device.write_all(event.as_bytes()).unwrap();

    // The team answers from the place; the ledger frees it and assigns it the next task,
    // which arrives on the same connection.
    let answer = device_event(
        "ANDROID-t1-report-1",
        "b-m-p-s-m",
        "team-1",
        place,
        &format!(
            r#"<truce task="{first_id}" outcome="inconclusive"/><remarks>Nothing to see from the road</remarks>"#
        ),
    );
    let sent = Instant::now();
    device.write_all(answer.as_bytes()).unwrap();
    let got = read_tasks(&mut device, Duration::from_secs(10), |e| !e.is_empty());
    let took = sent.elapsed();
    let done = common::get_json(
        &server.addr,
        &format!("/api/incidents/{}", first["incident"].as_str().unwrap()),
        Some(&analyst),
    );
    assert!(
        done["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["action"] == "outcome"),
        "the answer reached the incident: {done}\nserver log: {}",
        server.log()
    );
    let next = tasks("team-1");
    assert_eq!(next.len(), 1, "team-1 has its next task: {next:?}");
    let next_id = next[0]["id"].as_str().unwrap();
    assert_ne!(next_id, first_id);
    assert_eq!(got.len(), 1, "{got:?}\nserver log: {}", server.log());
    assert_eq!(attr(&got[0], "truce", "task"), next_id);
    assert!(took < Duration::from_secs(5), "the next task took {took:?}");
    eprintln!("the next task reached the device {took:?} after its answer");

    // Nothing else came: no other team's task, no second copy.
    let more = read_tasks(&mut device, Duration::from_millis(1500), |_| false);
    assert!(more.is_empty(), "{more:?}");
    // The echoed event was skipped: neither stored nor rejected.
    for table in ["rejected_records", "entries"] {
        let hits = sql_strings(
            &demo.db,
            &format!(
                "SELECT count(*) FROM {table} WHERE CAST({} AS TEXT) LIKE '%truce:task-%'",
                if table == "entries" { "body" } else { "raw" }
            ),
        );
        assert_eq!(hits[0][0], "0", "{table} holds Truce's own task event");
    }
}
