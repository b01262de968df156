//! `truce serve` on a hostile network (issue 16): each limit that keeps an unauthenticated or
//! misbehaving client from stopping the service, filling the disk or breaking the log,
//! asserted by the fault it prevents. No assert here is about speed: a deadline is checked by
//! the connection being cut, never by how fast something answered.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::{Demo, Server, get, http};

/// Writes `request` on a new connection and reads until the server closes it or `wait` passes
/// without a byte: what came back.
fn raw(addr: &str, request: &[u8], wait: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    stream.write_all(request).unwrap();
    read_all(&mut stream)
}

/// What `stream` sends until it closes or its read timeout passes without a byte.
fn read_all(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed `stream` (EOF or reset) within its read timeout.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn status_of(reply: &str) -> u16 {
    reply
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP reply: {reply:?}"))
}

#[test]
fn a_slow_body_gets_408_and_does_not_block_an_authenticated_request() {
    let demo = Demo::new("hardening", "slow-body");
    let server = Server::start(&demo.db, &["--body-timeout", "2"], None);
    let a = server.addr.as_str();
    let team = demo.token("team:team-1");
    // Twenty clients start a batch and never finish it.
    let mut slow: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut c = TcpStream::connect(a).unwrap();
            write!(
                c,
                "POST /api/observations HTTP/1.1\r\nHost: {a}\r\nAuthorization: Bearer {team}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{\"type\":"
            )
            .unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c
        })
        .collect();
    // Meanwhile an analyst is served.
    let (status, body) = http(
        a,
        "GET",
        "/api/incidents",
        Some(&demo.token("analyst")),
        None,
    );
    assert_eq!(status, 200, "{body}");
    for c in &mut slow {
        let reply = read_all(c);
        assert_eq!(status_of(&reply), 408, "{reply}");
        assert!(reply.contains("body_timeout"), "{reply}");
    }
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn a_post_the_caller_may_not_make_is_refused_before_its_body_is_sent() {
    let demo = Demo::new("hardening", "refused-early");
    let server = Server::start(&demo.db, &[], None);
    let a = server.addr.as_str();
    let team = demo.token("team:team-1");
    for (auth, path, expect) in [
        ("", "/api/incidents/inc-1/decisions", 403),
        ("", "/api/observations", 403),
        ("", "/api/tasks", 403),
        (
            "Authorization: Bearer truce_bogus\r\n",
            "/api/observations",
            401,
        ),
        (
            &format!("Authorization: Bearer {team}\r\n") as &str,
            "/api/incidents/inc-1/decisions",
            403,
        ),
    ] {
        // Headers announcing 10 MB, and not a byte of the body: the answer comes anyway.
        let reply = raw(
            a,
            format!(
                "POST {path} HTTP/1.1\r\nHost: {a}\r\n{auth}Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n"
            )
            .as_bytes(),
            Duration::from_secs(10),
        );
        assert!(!reply.is_empty(), "POST {path}: no answer before the body");
        assert_eq!(status_of(&reply), expect, "POST {path} ({auth}): {reply}");
    }
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn connections_from_one_address_are_capped_and_idle_ones_time_out() {
    let demo = Demo::new("hardening", "conn-cap");
    let server = Server::start(
        &demo.db,
        &[
            "--max-connections-per-address",
            "8",
            "--header-timeout",
            "2",
        ],
        None,
    );
    let a = server.addr.as_str();
    let held: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(a).unwrap()).collect();
    // The ninth is closed as soon as it is accepted: no answer to its request.
    std::thread::sleep(Duration::from_millis(300));
    let reply = raw(
        a,
        format!("GET /healthz HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes(),
        Duration::from_secs(1),
    );
    assert!(reply.is_empty(), "a ninth connection was served: {reply:?}");
    // The idle ones are closed by the header timeout, which frees their places.
    for mut c in held {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        assert!(closed_by_server(&mut c), "an idle connection was kept");
    }
    let (status, _) = http(a, "GET", "/healthz", None, None);
    assert_eq!(status, 200);
    // Headers trickled a byte a while are cut off too.
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\n").unwrap();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        let _ = c.write_all(b"X");
    }
    assert!(closed_by_server(&mut c), "a trickled header was kept open");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn small_faults_bearer_in_any_case_offset_max_and_415() {
    let demo = Demo::new("hardening", "small");
    let server = Server::start(&demo.db, &[], None);
    let a = server.addr.as_str();
    let analyst = demo.token("analyst");
    // The scheme is case-insensitive (RFC 9110 §11.1).
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = get(
            a,
            "/metrics",
            None,
            &[&format!("Authorization: {scheme} {analyst}")],
        );
        assert_eq!(r.status, 200, "{scheme}: {}", r.text());
    }
    let r = get(
        a,
        "/metrics",
        None,
        &[&format!("Authorization: Basic {analyst}")],
    );
    assert_eq!(r.status, 401);
    // The largest offset does not wrap into a next page.
    let max = u64::MAX;
    let page = common::get_json(a, &format!("/api/incidents?offset={max}"), Some(&analyst));
    assert_eq!(page["incidents"].as_array().unwrap().len(), 0, "{page}");
    assert!(page["next_offset"].is_null(), "{page}");
    let r = get(
        a,
        &format!("/collections/incidents/items?offset={max}"),
        Some(&analyst),
        &[],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    assert_eq!(items["features"].as_array().unwrap().len(), 0);
    assert!(
        !items["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "next"),
        "{items}"
    );
    // A JSON body without a JSON content type is 415, on every route that reads one.
    let body = "{\"type\":\"FeatureCollection\",\"features\":[]}";
    for (path, token, ctype) in [
        ("/api/observations", analyst.clone(), ""),
        (
            "/api/observations",
            analyst.clone(),
            "Content-Type: text/plain\r\n",
        ),
        (
            "/api/allegations",
            demo.token("party:UA"),
            "Content-Type: application/x-www-form-urlencoded\r\n",
        ),
        ("/api/incidents/inc-1/decisions", analyst.clone(), ""),
    ] {
        let reply = raw(
            a,
            format!(
                "POST {path} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
            Duration::from_secs(30),
        );
        assert_eq!(status_of(&reply), 415, "POST {path} {ctype:?}: {reply}");
    }
    // geo+json is JSON.
    let reply = raw(
        a,
        format!(
            "POST /api/observations HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\nAuthorization: Bearer {analyst}\r\nContent-Type: application/geo+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
        Duration::from_secs(30),
    );
    assert_eq!(status_of(&reply), 200, "{reply}");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// C2SP tlog-tiles' index encoding: 3-digit groups, all but the last prefixed with `x`.
fn tile_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// Every entry bundle of the log at its checkpoint answers 200 for `token`. The server may
/// append (an alert for a decision made from a shell) while the bundles are read; a sweep that
/// meets a partial bundle gone because the log grew is made again at the new size.
fn every_entry_bundle_answers(a: &str, token: &str) {
    let size_now = || {
        let checkpoint = get(a, "/log/checkpoint", None, &[]);
        assert_eq!(checkpoint.status, 200, "{}", checkpoint.text());
        checkpoint
            .text()
            .lines()
            .nth(1)
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    'sweep: for _ in 0..5 {
        let size = size_now();
        for n in 0..size.div_ceil(256) {
            let width = (size - n * 256).min(256);
            let path = if width == 256 {
                format!("/log/tile/entries/{}", tile_index(n))
            } else {
                format!("/log/tile/entries/{}.p/{width}", tile_index(n))
            };
            let r = get(a, &path, Some(token), &[]);
            if r.status == 404 && width < 256 && size_now() != size {
                continue 'sweep;
            }
            assert_eq!(r.status, 200, "{path}: {}", r.text());
        }
        return;
    }
    panic!("the log kept growing through five sweeps of its entry bundles");
}

/// One GeoJSON observation feature with `id`, `remarks` and `geometry`.
fn feature(id: &str, geometry: &str) -> String {
    format!(
        r#"{{"type":"Feature","id":"{id}","geometry":{geometry},"properties":{{"kind":"explosion","observed_at":"2023-09-01T10:00:00Z","source":{{"id":"probe","kind":"open_source","reliability":"C","credibility":3}},"error_radius_m":100}}}}"#
    )
}

#[test]
fn oversized_entries_are_refused_on_every_path_and_tiles_keep_answering() {
    let demo = Demo::new("hardening", "oversized");
    let server = Server::start(&demo.db, &["--cot-tcp", "127.0.0.1:0"], None);
    let a = server.addr.as_str();
    let analyst = demo.token("analyst");
    // A 1 MB id, a 200,000-vertex polygon, a track whose entry no tile could hold; one good.
    let ring: Vec<String> = (0..200_000)
        .map(|i| {
            let t = f64::from(i) / 200_000.0 * std::f64::consts::TAU;
            format!("[{:.6},{:.6}]", 38.0 + 0.1 * t.cos(), 48.0 + 0.1 * t.sin())
        })
        .chain(std::iter::once("[38.100000,48.000000]".to_string()))
        .collect();
    let track: Vec<String> = (0..5_000)
        .map(|i| format!("[{:.6},48.0]", 38.0 + f64::from(i) * 1e-5))
        .collect();
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{},{},{},{}]}}"#,
        feature(
            &"x".repeat(1 << 20),
            r#"{"type":"Point","coordinates":[38.0,48.0]}"#
        ),
        feature(
            "huge-area",
            &format!(
                r#"{{"type":"Polygon","coordinates":[[{}]]}}"#,
                ring.join(",")
            )
        ),
        feature(
            "long-track",
            &format!(
                r#"{{"type":"LineString","coordinates":[{}]}}"#,
                track.join(",")
            )
        ),
        feature("fine", r#"{"type":"Point","coordinates":[38.0,48.0]}"#),
    );
    let (status, reply) = http(a, "POST", "/api/observations", Some(&analyst), Some(&body));
    assert_eq!(status, 200, "{reply}");
    let results = common::json_of(&reply)["results"].clone();
    let reasons: Vec<String> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(reasons[0].contains("MAX_ID_BYTES"), "{reasons:?}");
    assert!(reasons[1].contains("MAX_AREA_VERTICES"), "{reasons:?}");
    assert!(reasons[2].contains("MAX_ENTRY_BYTES"), "{reasons:?}");
    assert_eq!(results[3]["status"], "stored", "{results}");
    // A CoT event of 58 KB: a long uid, callsign and remarks.
    let cot: std::net::SocketAddr = server.printed("truce serve: CoT TCP on").parse().unwrap();
    let mut c = TcpStream::connect(cot).unwrap();
    let uid = "u".repeat(20_000);
    let remarks = "r".repeat(30_000);
    write!(
        c,
        r#"<?xml version="1.0"?><event version="2.0" uid="{uid}" type="b-r-f-h-c" time="2023-09-01T10:00:00Z" start="2023-09-01T10:00:00Z" stale="2023-09-01T11:00:00Z" how="h-g-i-g-o"><point lat="48.0" lon="38.0" hae="0" ce="50" le="50"/><detail><contact callsign="{}"/><remarks>{remarks}</remarks></detail></event>"#,
        "c".repeat(8_000)
    )
    .unwrap();
    drop(c);
    // A party's response of 70,000 characters, an analyst's reason of 2 KB.
    let listed = common::ok(&[
        "incidents",
        "--db",
        common::s(&demo.db),
        "--json",
        "--limit",
        "100000",
    ]);
    let incident = listed
        .lines()
        .map(common::json_of)
        .find(|i| i["location"].is_array())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let text = "t".repeat(70_000);
    let (status, reply) = http(
        a,
        "POST",
        &format!("/api/incidents/{incident}/decisions"),
        Some(&analyst),
        Some(&format!(
            r#"{{"action":"verify","reason":"{}"}}"#,
            "w".repeat(2048)
        )),
    );
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("MAX_REASON_BYTES"), "{reply}");
    demo.publish(&incident, "analyst-1", "test");
    let mut refused_response = false;
    for party in ["party:UA", "party:RU"] {
        let (status, reply) = http(
            a,
            "POST",
            &format!("/api/incidents/{incident}/responses"),
            Some(&demo.token(party)),
            Some(&format!(r#"{{"response":"dispute","text":"{text}"}}"#)),
        );
        if status == 404 {
            continue; // not this party's incident
        }
        assert_eq!(status, 400, "{reply}");
        assert!(reply.contains("MAX_TEXT_BYTES"), "{reply}");
        refused_response = true;
    }
    assert!(refused_response, "no party could see {incident}");
    // The CoT event was rejected for its size.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let db = rejected_reasons(&demo.db);
        if db
            .iter()
            .any(|r| r.contains("MAX_ENTRY_BYTES") || r.contains("MAX_ID_BYTES"))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no rejection of the 58 KB CoT event: {db:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    every_entry_bundle_answers(a, &analyst);
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// The reasons of the store's rejected records.
fn rejected_reasons(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT reason FROM rejected_records").unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Rows of `table` in the store (a WHERE clause may follow the name).
fn rows(db: &std::path::Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

/// Stops `server` with SIGTERM and waits for it (the CoT listeners commit their open batches
/// and the sampler's aggregates).
fn terminate(mut server: Server) {
    let pid = server.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.child.wait().unwrap();
    assert!(status.success(), "truce serve exited {status}");
}

/// The most rejected records one source can add per window: those kept and one aggregate
/// (`truce_server::cot::REJECTED_KEPT_PER_SOURCE`).
const SAMPLING_BOUND: i64 = 20 + 1;

#[test]
fn a_udp_flood_of_garbage_grows_the_store_by_at_most_the_sample() {
    let demo = Demo::new("hardening", "udp-flood");
    let log = demo.dir.join("serve.log");
    let server = Server::start(&demo.db, &["--cot-udp", "127.0.0.1:0"], Some(&log));
    let cot: std::net::SocketAddr = server.printed("truce serve: CoT UDP on").parse().unwrap();
    let (rejected_before, entries_before) = (
        rows(&demo.db, "rejected_records"),
        rows(&demo.db, "entries WHERE kind = 'rejected'"),
    );
    // The probe's flood: 100 datagrams of `<event>` repeated, 63 KB each.
    let garbage = "<event>".repeat(9_000);
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..100 {
        socket.send_to(garbage.as_bytes(), cot).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Let the listener read and store what arrived, then stop it: the aggregate is stored.
    std::thread::sleep(Duration::from_secs(3));
    let metrics = get(&server.addr, "/metrics", Some(&demo.token("analyst")), &[]).text();
    terminate(server);
    let added = rows(&demo.db, "rejected_records") - rejected_before;
    assert!(
        (2..=SAMPLING_BOUND).contains(&added),
        "{added} rejected records for one flooding source"
    );
    let logged = rows(&demo.db, "entries WHERE kind = 'rejected'") - entries_before;
    assert!(
        logged <= SAMPLING_BOUND,
        "{logged} rejected entries in the log"
    );
    let reasons = rejected_reasons(&demo.db);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("more rejected records from 127.0.0.1")),
        "no aggregate record: {reasons:?}"
    );
    let suppressed: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("truce_rejected_suppressed_total "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(suppressed > 0, "{metrics}");
    // The server's log is rate-limited the same way.
    let warnings = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| l.contains("rejected"))
        .count();
    assert!(warnings <= 40, "{warnings} log lines about rejections");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// A TCP connection to `to` from the loopback address `from` (`127.0.0.x`): another client
/// host, as far as the server can tell.
fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(format!("{from}:0").parse().unwrap())
            .unwrap_or_else(|e| panic!("cannot bind a client socket to {from}: {e}"));
        let stream = socket.connect(to).await.unwrap();
        let stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
    })
}

/// One CoT event as a TAK device writes it.
fn cot_event(uid: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" uid="{uid}" type="b-m-p-s-m" time="2023-09-01T10:00:00Z" start="2023-09-01T10:00:00Z" stale="2023-09-01T11:00:00Z" how="h-g-i-g-o"><point lat="48.0" lon="38.0" hae="0" ce="50" le="50"/><detail><remarks>crater</remarks></detail></event>"#
    )
}

/// Waits up to `limit` for the observation of CoT event `uid` (`cot:UID:TIME`) in the store.
fn stored_within(db: &std::path::Path, uid: &str, limit: Duration) -> bool {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if rows(db, &format!("observations WHERE obs_id LIKE 'cot:{uid}:%'")) == 1 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The listener's overall cap (`truce_server::cot::MAX_CONNECTIONS`): the probe's 256 slow
/// connections took every place.
const COT_MAX_CONNECTIONS: usize = 256;

#[test]
fn slow_cot_connections_from_one_address_do_not_lock_out_a_tak_client() {
    let demo = Demo::new("hardening", "cot-slowloris");
    let log = demo.dir.join("serve.log");
    let server = Server::start(
        &demo.db,
        &["--cot-tcp", "127.0.0.1:0", "--cot-event-timeout", "3"],
        Some(&log),
    );
    let cot: SocketAddr = server.printed("truce serve: CoT TCP on").parse().unwrap();
    // The probe's slowloris from one host, with more connections than the listener has
    // places: half begin an event and trickle its start tag, half trickle junk, a byte a
    // second each.
    let slow: Vec<TcpStream> = (0..COT_MAX_CONNECTIONS + 44)
        .map(|i| {
            let mut c = TcpStream::connect(cot).unwrap();
            let first: &[u8] = if i % 2 == 0 {
                b"<event uid=\"slow\" "
            } else {
                b"x"
            };
            let _ = c.write_all(first);
            c
        })
        .collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let trickler = {
        let writers: Vec<TcpStream> = slow.iter().map(|c| c.try_clone().unwrap()).collect();
        let stop = stop.clone();
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for mut w in &writers {
                    let _ = w.write_all(b"a");
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    // A TAK client on another host is served meanwhile: its event is stored, and its
    // connection, idle longer than the event timeout, still takes its next event.
    let mut tak = connect_from("127.0.0.2", cot);
    tak.write_all(cot_event("tak-other-host-1").as_bytes())
        .unwrap();
    assert!(
        stored_within(&demo.db, "tak-other-host-1", Duration::from_secs(15)),
        "a TAK client on another host was locked out by slow connections; log:\n{}",
        server.log()
    );
    // The slow connections are cut once an event has taken longer than the timeout, though
    // each still sends a byte a second.
    for (i, mut c) in slow.into_iter().enumerate() {
        c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        assert!(
            closed_by_server(&mut c),
            "slow connection {i} was kept open; log:\n{}",
            server.log()
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    trickler.join().unwrap();
    tak.write_all(cot_event("tak-other-host-2").as_bytes())
        .unwrap();
    assert!(
        stored_within(&demo.db, "tak-other-host-2", Duration::from_secs(15)),
        "an idle TAK connection was cut by the event timeout; log:\n{}",
        server.log()
    );
    // Their places are free again: a TAK client on the slow host is served too.
    let mut same = TcpStream::connect(cot).unwrap();
    same.write_all(cot_event("tak-same-host").as_bytes())
        .unwrap();
    assert!(
        stored_within(&demo.db, "tak-same-host", Duration::from_secs(15)),
        "the slow host's places were not given back; log:\n{}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn an_alert_stream_ends_when_its_token_is_revoked() {
    let demo = Demo::new("hardening", "sse-revoked");
    let server = Server::start(&demo.db, &[], None);
    let a = server.addr.as_str();
    let analyst = demo.token("analyst");
    let secret = common::token(&demo.db, "party:RU", "ru-leaver");
    let id = common::ok(&["token", "list", "--db", common::s(&demo.db)])
        .lines()
        .find(|l| l.contains("ru-leaver"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .expect("the new token listed");
    let mut stream = common::Alerts::subscribe_with_timeout(a, &secret, Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(200));
    // A heavy-weapon sighting deep in RU's area: RU is told while its token is live.
    let breach = |id: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"{id}","geometry":{{"type":"Point","coordinates":[38.8963838,48.3280667]}},"properties":{{"kind":"weapon_present","observed_at":"2015-03-07T08:00:00Z","source":{{"id":"uav-1","kind":"drone","reliability":"B","credibility":2}},"weapon":{{"class":"mlrs","count":4}}}}}}]}}"#
        )
    };
    let sent = std::time::Instant::now();
    let (status, r) = http(
        a,
        "POST",
        "/api/observations",
        Some(&analyst),
        Some(&breach("revoked-sse-1")),
    );
    assert_eq!(status, 200, "{r}");
    assert!(
        stream
            .first_data(sent, Duration::from_secs(10), |d| d
                .contains("\"kind\":\"breach\""))
            .is_some(),
        "no alert reached the live token's stream"
    );
    // Revoked (from a shell, as an administrator would): the stream is told and ends, though
    // the service keeps running and alerts keep coming.
    common::ok(&["token", "revoke", "--db", common::s(&demo.db), &id]);
    let revoked = std::time::Instant::now();
    let (status, r) = http(
        a,
        "POST",
        "/api/observations",
        Some(&analyst),
        Some(&breach("revoked-sse-2")),
    );
    assert_eq!(status, 200, "{r}");
    // It ends within twice the token cache's time (2 s); 20 s leaves room for a loaded
    // machine, and before the change it never ended.
    let (rest, _) = stream
        .until_end(revoked, Duration::from_secs(20))
        .expect("the revoked token's alert stream stayed open");
    assert!(rest.contains("event: revoked"), "{rest}");
    assert_eq!(
        http(a, "GET", "/api/alerts/stream", Some(&secret), None).0,
        401
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// Asserts `reply` is an OGC API exception with `status` and `code`.
fn assert_ogc_exception(what: &str, reply: &common::Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.text());
    assert!(
        reply.content_type.starts_with("application/json"),
        "{what}: content type {:?}",
        reply.content_type
    );
    let v = reply.json();
    assert_eq!(v["code"], code, "{what}: {v}");
    assert!(
        v["description"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: no description: {v}"
    );
    assert!(v.get("error").is_none(), "{what}: {v}");
}

#[test]
fn ogc_errors_are_ogc_exceptions_whoever_answers_them() {
    let demo = Demo::new("hardening", "ogc-exceptions");
    // One request a second per caller, so the rate limit can be met.
    let server = Server::start(&demo.db, &["--rate", "1"], None);
    let a = server.addr.as_str();
    let pause = || std::thread::sleep(Duration::from_millis(1_100));
    // The gate: an unknown token.
    let reply = get(a, "/collections", Some("truce_bogus"), &[]);
    assert_ogc_exception("an unknown token", &reply, 401, "Unauthorized");
    // The gate: the caller's rate.
    let analyst = demo.token("analyst");
    let first = get(a, "/collections/zones", Some(&analyst), &[]);
    assert_eq!(first.status, 200, "{}", first.text());
    let reply = get(a, "/collections/zones/items", Some(&analyst), &[]);
    assert_ogc_exception("over the rate", &reply, 429, "TooManyRequests");
    assert!(reply.header("retry-after").is_some(), "{}", reply.head);
    // The router: a path that is no resource, and a method it does not take.
    let reply = get(a, "/collections/zones/items/x/y", None, &[]);
    assert_ogc_exception("no such path", &reply, 404, "NotFound");
    pause();
    let reply = common::request(a, "POST", "/collections", None, &[], Some("{}"));
    assert_ogc_exception("POST /collections", &reply, 405, "MethodNotAllowed");
    pause();
    // An extractor: a feature id that is not UTF-8.
    let reply = get(a, "/collections/zones/items/%FF", None, &[]);
    assert_ogc_exception(
        "a path that is not UTF-8",
        &reply,
        400,
        "InvalidParameterValue",
    );
    pause();
    // The handlers' own, as before.
    let reply = get(a, "/collections/zones/items?limit=abc", None, &[]);
    assert_ogc_exception("limit=abc", &reply, 400, "InvalidParameterValue");
    // The REST API keeps its own error format.
    let (status, body) = http(a, "GET", "/api/incidents", Some("truce_bogus"), None);
    assert_eq!(status, 401);
    assert!(body.contains("\"error\""), "{body}");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// What one `truce ingest` on a full disk left: its exit code, output and error, and the
/// store's entries and the size its latest checkpoint covers.
struct FullDisk {
    size_kib: u32,
    code: Option<i32>,
    stdout: String,
    stderr: String,
    entries: i64,
    covered: i64,
}

/// Copies `store.gpkg` (and its key) from `dir` onto a tmpfs of `size_kib` KiB mounted in a
/// private user and mount namespace (`unshare`: no root needed), ingests `big.geojson` into it
/// with the Minsk II terms, and copies the store back to `dir/out-SIZE`.
fn ingest_on_a_full_disk(dir: &std::path::Path, size_kib: u32) -> (FullDisk, std::path::PathBuf) {
    let out = dir.join(format!("out-{size_kib}"));
    let mnt = dir.join("mnt");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    let script = r#"set -u
mount -t tmpfs -o "size=${SIZE}k" tmpfs "$MNT" || exit 97
cp "$DIR/store.gpkg" "$DIR/store.gpkg.log.key" "$MNT/" || exit 98
"$TRUCE" ingest --db "$MNT/store.gpkg" --agreement "$TERMS" "$DIR/big.geojson" >"$OUT/stdout" 2>"$OUT/stderr"
echo $? >"$OUT/code"
cp "$MNT"/store.gpkg* "$OUT/"
"#;
    let status = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", script])
        .env("SIZE", size_kib.to_string())
        .env("MNT", &mnt)
        .env("DIR", dir)
        .env("OUT", &out)
        .env("TRUCE", env!("CARGO_BIN_EXE_truce"))
        .env(
            "TERMS",
            common::root().join("scenarios/donbas-2015/agreement.toml"),
        )
        .status()
        .unwrap_or_else(|e| {
            panic!("this test needs unshare(1) from util-linux to make a small filesystem: {e}")
        });
    assert!(
        status.success(),
        "could not mount a {size_kib} KiB tmpfs in a user namespace (unshare exit {status}); \
         this test needs unprivileged user namespaces (kernel.unprivileged_userns_clone=1) or root"
    );
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let db = out.join("store.gpkg");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let entries: i64 = conn
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap();
    let covered: i64 = conn
        .query_row("SELECT max(size) FROM log_checkpoints", [], |r| r.get(0))
        .unwrap();
    let found = FullDisk {
        size_kib,
        code: read("code").trim().parse().ok(),
        stdout: read("stdout"),
        stderr: read("stderr"),
        entries,
        covered,
    };
    (found, db)
}

#[test]
fn a_full_disk_during_ingest_is_reported_as_it_left_the_store() {
    let dir = common::tempdir("hardening", "disk-full");
    let scenario = common::root().join("scenarios/donbas-2015");
    let db = dir.join("store.gpkg");
    common::ok(&[
        "ingest",
        "--db",
        common::s(&db),
        "--agreement",
        common::s(&scenario.join("agreement.toml")),
        common::s(&scenario.join("observations.geojson")),
    ]);
    let before = rows(&db, "entries");
    // Three batches of 10,000 observations: about 12 MB of GeoJSON, some 10 MB a batch in
    // the store.
    let features: Vec<String> = (0..25_000)
        .map(|i| {
            format!(
                r#"{{"type":"Feature","id":"bulk-{i}","geometry":{{"type":"Point","coordinates":[{},{}]}},"properties":{{"kind":"thermal_anomaly","observed_at":"2015-03-04T10:00:00Z","source":{{"id":"viirs","kind":"satellite","reliability":"B","credibility":3}},"error_radius_m":375}}}}"#,
                37.5 + f64::from(i % 200) * 0.005,
                47.8 + f64::from(i / 200) * 0.005
            )
        })
        .collect();
    std::fs::write(
        dir.join("big.geojson"),
        format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        ),
    )
    .unwrap();
    // Disks that fill at every step of the ingest: in a batch, in its checkpoint, later.
    let mut uncovered = None;
    let mut check = |r: &FullDisk, copy: std::path::PathBuf| {
        let case = format!(
            "{} KiB: exit {:?}, {} entries, checkpoint covers {}\nstdout: {}\nstderr: {}",
            r.size_kib, r.code, r.entries, r.covered, r.stdout, r.stderr
        );
        assert!(matches!(r.code, Some(0 | 1)), "{case}");
        assert!(
            !r.stderr.contains("unchanged") || r.entries == before,
            "says unchanged, but the store changed: {case}"
        );
        if r.entries > r.covered {
            // The probe's case: a batch committed whose checkpoint could not be signed.
            assert!(r.stderr.contains("no checkpoint covers"), "{case}");
            assert!(
                r.stderr
                    .contains(&format!("–{}) are committed", r.entries - 1)),
                "the committed seqs are not the store's: {case}"
            );
            assert!(
                r.stdout
                    .contains(&format!("{} entries; the latest checkpoint", r.entries))
                    && r.stdout
                        .contains(&format!("covers the first {}", r.covered)),
                "the summary claims a checkpoint over entries it does not cover: {case}"
            );
            uncovered.get_or_insert(copy);
        } else if r.code == Some(1) {
            assert!(
                r.stderr.contains("nothing of the batch was stored")
                    || r.stderr.contains("incidents could not be written"),
                "{case}"
            );
        }
    };
    let mut first_commit = (None, None); // (largest size storing nothing, smallest storing a batch)
    for size_mib in (8..=44).step_by(4) {
        let (r, copy) = ingest_on_a_full_disk(&dir, size_mib * 1024);
        if r.entries == before {
            first_commit.0 = Some(r.size_kib);
        } else if first_commit.1.is_none() {
            first_commit.1 = Some(r.size_kib);
        }
        check(&r, copy);
    }
    // A batch committed without its checkpoint happens on a disk that holds the batch and not
    // one page more: a window a few KiB wide. Find the size at which the first batch just
    // commits, to a page, and try it.
    let (Some(mut lo), Some(mut hi)) = first_commit else {
        panic!(
            "no disk size between 8 and 44 MiB both stored nothing and stored a batch: {first_commit:?}"
        )
    };
    while hi - lo > 4 {
        let mid = (lo + hi) / 2;
        let (r, copy) = ingest_on_a_full_disk(&dir, mid);
        if r.entries == before {
            lo = mid;
        } else {
            hi = mid;
        }
        let met = r.entries > r.covered;
        check(&r, copy);
        if met {
            break;
        }
    }
    let uncovered = uncovered.expect(
        "no disk size left a batch committed without its checkpoint: adjust the sizes so the \
         probe's case is met",
    );
    // As the message says: the next `truce ingest` (on a disk with room) covers them, and
    // the log verifies.
    common::ok(&[
        "ingest",
        "--db",
        common::s(&uncovered),
        "--agreement",
        common::s(&scenario.join("agreement.toml")),
        common::s(&scenario.join("observations.geojson")),
    ]);
    let entries = rows(&uncovered, "entries");
    let covered = rows(
        &uncovered,
        "log_checkpoints WHERE size = (SELECT count(*) FROM entries)",
    );
    assert!(covered >= 1, "no checkpoint covers all {entries} entries");
    common::ok(&["log", "verify", "--db", common::s(&uncovered)]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A 429 from the gate on a method the route does not take carries no `Allow` (axum's method
/// router adds it to whatever its fallback answers; only a 405 keeps it).
#[test]
fn a_429_carries_no_allow_header() {
    let demo = Demo::new("hardening", "no-allow-on-429");
    let server = Server::start(&demo.db, &["--rate", "1"], None);
    let a = server.addr.as_str();
    let first = common::request(a, "POST", "/api/incidents", None, &[], Some("{}"));
    let second = common::request(a, "POST", "/api/incidents", None, &[], Some("{}"));
    let (over, other) = if second.status == 429 {
        (second, first)
    } else {
        (first, second)
    };
    assert_eq!(over.status, 429, "{}", over.head);
    assert!(over.header("allow").is_none(), "{}", over.head);
    assert!(over.header("retry-after").is_some(), "{}", over.head);
    // The 405 keeps it (a public POST may be refused before, 403, without one).
    assert!([403, 405].contains(&other.status), "{}", other.head);
    assert_eq!(
        other.header("allow").is_some(),
        other.status == 405,
        "{}",
        other.head
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// Per-connection CoT log lines (opened, ended) are rate-limited like the other lines a client
/// can cause: a client reconnecting in a loop writes at most 60 a minute, not two each.
#[test]
fn cot_connection_log_lines_are_rate_limited() {
    let demo = Demo::new("hardening", "cot-connection-log");
    let log = demo.dir.join("serve.log");
    // The per-address cap is lifted: 150 connections closed at once can still be open on the
    // server's side when the last one arrives, and this test is about the log lines.
    let server = Server::start(
        &demo.db,
        &[
            "--cot-tcp",
            "127.0.0.1:0",
            "--cot-max-connections-per-address",
            "1000",
        ],
        Some(&log),
    );
    let cot: SocketAddr = server.printed("truce serve: CoT TCP on").parse().unwrap();
    for _ in 0..150 {
        drop(TcpStream::connect(cot).unwrap());
    }
    // Connections are accepted in order: once this one's event is stored, every one before
    // it was accepted (and, without the limit, logged).
    let mut last = TcpStream::connect(cot).unwrap();
    last.write_all(cot_event("after-reconnects").as_bytes())
        .unwrap();
    assert!(
        stored_within(&demo.db, "after-reconnects", Duration::from_secs(15)),
        "log:\n{}",
        server.log()
    );
    let said = server.log();
    let lines = said
        .lines()
        .filter(|l| l.contains("CoT connection"))
        .count();
    assert!(
        (10..=60).contains(&lines),
        "{lines} connection lines for 151 connections"
    );
    assert!(said.contains("suppressed"), "{said}");
    let _ = std::fs::remove_dir_all(&demo.dir);
}
