//! TLS against the real binary with real clients: CoT over TLS with client certificates
//! (`truce serve --cot-tls`, driven by `openssl s_client`), HTTPS on `--listen` (driven by
//! `curl --cacert`), and the handshake deadline. The certificates are the fixtures in
//! `tests/tls/` (made by `tests/tls/gen.sh`).

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Demo, Server, root, s};

fn fixture(name: &str) -> PathBuf {
    root().join("tests/tls").join(name)
}

fn tool(name: &str) -> String {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is needed by this test and is not installed (scripts/test installs it)"
    );
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

/// `truce serve` on the demo with CoT over TLS (and so HTTPS on --listen).
fn serve_tls(demo: &Demo, log: &Path, extra: &[&str]) -> (Server, SocketAddr) {
    let (cert, key, ca) = (
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem"),
    );
    let mut args = vec![
        "--tls-cert",
        s(&cert),
        "--tls-key",
        s(&key),
        "--cot-tls",
        "127.0.0.1:0",
        "--cot-client-ca",
        s(&ca),
        "--cot-event-timeout",
        "3",
        "--header-timeout",
        "3",
    ];
    args.extend_from_slice(extra);
    let server = Server::start(&demo.db, &args, Some(log));
    let cot: SocketAddr = server.printed("truce serve: CoT TLS on").parse().unwrap();
    (server, cot)
}

/// Sends `payload` over TLS with `openssl s_client` presenting `client` (a fixture name, or
/// none) and closes; returns what the server sent back (with -quiet: its bytes only).
fn s_client(cot: SocketAddr, client: Option<&str>, payload: &str, linger: Duration) -> String {
    let openssl = tool("openssl");
    let mut cmd = Command::new(openssl);
    cmd.args([
        "s_client",
        "-connect",
        &cot.to_string(),
        "-quiet",
        "-no_ign_eof",
    ])
    .args(["-CAfile", s(&fixture("ca.pem"))]);
    let (cert, key);
    if let Some(c) = client {
        cert = fixture(&format!("{c}.pem"));
        key = fixture(&format!("{c}.key"));
        cmd.args(["-cert", s(&cert), "-key", s(&key)]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(payload.as_bytes());
    let _ = stdin.flush();
    // Time for the server to answer (tasks) before stdin closes and s_client hangs up.
    std::thread::sleep(linger);
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut out = String::new();
    let _ = child.stdout.take().unwrap().read_to_string(&mut out);
    let _ = child.wait();
    out
}

/// A CoT event; with `callsign`, as a TAK device names itself (`<contact callsign>`).
fn event(uid: &str, callsign: Option<&str>) -> String {
    let contact = callsign
        .map(|c| format!(r#"<contact callsign="{c}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" uid="{uid}" type="b-m-p-s-m" time="2023-09-01T10:00:00Z" start="2023-09-01T10:00:00Z" stale="2023-09-01T11:00:00Z" how="h-g-i-g-o"><point lat="48.0" lon="38.0" hae="0" ce="50" le="50"/><detail>{contact}<remarks>crater</remarks></detail></event>"#
    )
}

fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> Vec<T> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The source of CoT event `uid` once stored (waits up to `limit`).
fn source_of(db: &Path, uid: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let got: Vec<String> = query(
            db,
            &format!("SELECT source_id FROM observations WHERE obs_id LIKE 'cot:{uid}:%'"),
        );
        if let Some(s) = got.into_iter().next() {
            return Some(s);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether the server's log shows `text` within 5 s.
fn log_shows(server: &Server, text: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.log().contains(text) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn rejected_reasons(db: &Path) -> Vec<String> {
    query(db, "SELECT reason FROM rejected_records")
}

#[test]
fn cot_over_tls_is_the_certificates_team_and_refuses_others() {
    let demo = Demo::new("tls", "cot");
    let log = demo.dir.join("serve.log");
    let (server, cot) = serve_tls(&demo, &log, &[]);
    let db = demo.db.clone();
    let linger = Duration::from_millis(300);

    // team-1's certificate (CN team-1); the event names no callsign: it is team-1's.
    s_client(cot, Some("team-1"), &event("tls-a", None), linger);
    assert_eq!(
        source_of(&db, "tls-a", Duration::from_secs(10)).as_deref(),
        Some("team-1"),
        "log: {}",
        server.log()
    );
    // team-2's (URI SAN urn:truce:team:team-2, CN "device 7"): its own callsign is stored as
    // team-2's; one claiming team-1's callsign is refused with the reason.
    let both = format!(
        "{}{}",
        event("tls-b", Some("team-2")),
        event("tls-c", Some("team-1"))
    );
    s_client(cot, Some("team-2"), &both, linger);
    assert_eq!(
        source_of(&db, "tls-b", Duration::from_secs(10)).as_deref(),
        Some("team-2")
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rejected_reasons(&db)
        .iter()
        .any(|r| r.contains("not the team \"team-2\""))
    {
        assert!(
            Instant::now() < deadline,
            "no rejection of tls-c: {:?}",
            rejected_reasons(&db)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(source_of(&db, "tls-c", Duration::ZERO), None);

    // No certificate, one from another CA (even naming team-1), one naming no team: refused,
    // nothing stored.
    s_client(cot, None, &event("tls-d", None), linger);
    s_client(cot, Some("other-team-1"), &event("tls-e", None), linger);
    s_client(cot, Some("stranger"), &event("tls-f", None), linger);
    for uid in ["tls-d", "tls-e", "tls-f"] {
        assert_eq!(
            source_of(&db, uid, Duration::from_secs(3)),
            None,
            "{uid} was stored"
        );
    }
    let said = server.log();
    assert!(said.contains("names no team of the mission"), "{said}");
    assert!(
        said.contains("team-99"),
        "the names it gave are logged: {said}"
    );
    assert!(said.contains("TLS handshake failed"), "{said}");

    // A client that connects and never starts the handshake is closed at the deadline
    // (cot_event_timeout, 3 s here).
    let mut idle = TcpStream::connect(cot).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let opened = Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed without an answer");
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(13),
        "closed after {took:?}"
    );
    // The line is written just after the socket is closed: waited for.
    assert!(
        log_shows(&server, "TLS handshake not done within cot_event_timeout"),
        "{}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn a_tls_team_gets_its_tasks_on_its_connection() {
    let demo = Demo::new("tls", "tasks");
    let log = demo.dir.join("serve.log");
    let (server, cot) = serve_tls(&demo, &log, &["--cot-tasks"]);
    // The demo assigns team-1 one task; its certificate alone says whose the connection is:
    // the task comes back without a position report.
    let got = s_client(cot, Some("team-1"), "", Duration::from_secs(2));
    assert!(
        got.contains("b-m-p-w-GOTO") && got.contains("callsign=\"team-1\""),
        "no task event for team-1: {got:?}; log: {}",
        server.log()
    );
    // team-2 has none in the demo, and an event claiming team-1's callsign does not bring it
    // team-1's: nothing of team-1's reaches it.
    let got = s_client(
        cot,
        Some("team-2"),
        &event("tls-claim", Some("team-1")),
        Duration::from_secs(2),
    );
    assert!(!got.contains("team-1"), "{got:?}");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn https_serves_the_api_and_the_alert_stream() {
    let demo = Demo::new("tls", "https");
    let log = demo.dir.join("serve.log");
    let (server, _) = serve_tls(&demo, &log, &[]);
    assert!(
        server
            .stdout()
            .contains(&format!("listening on https://{}", server.addr)),
        "{}",
        server.stdout()
    );
    let port = server.addr.rsplit(':').next().unwrap();
    let curl = tool("curl");
    let ca = fixture("ca.pem");
    let url = |path: &str| format!("https://localhost:{port}{path}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let analyst = demo.token("analyst");
    let out = Command::new(&curl)
        .args(["-sS", "--cacert", s(&ca), "--resolve", &resolve])
        .args(["-H", &format!("Authorization: Bearer {analyst}")])
        .arg(url("/api/incidents"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(body.is_array() || body.get("incidents").is_some(), "{body}");
    // The alert stream: its head arrives over TLS, and it stays open (curl stops it).
    let out = Command::new(&curl)
        .args(["-sS", "-i", "-N", "--max-time", "3", "--cacert", s(&ca)])
        .args(["--resolve", &resolve])
        .args(["-H", &format!("Authorization: Bearer {analyst}")])
        .arg(url("/api/alerts/stream"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");
    assert_eq!(
        out.status.code(),
        Some(28),
        "curl timed out on the open stream"
    );
    // A client that does not trust the CA (curl's own roots) is refused by curl.
    let out = Command::new(&curl)
        .args(["-sS", "--resolve", &resolve])
        .arg(url("/api/incidents"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    // Plain HTTP on the HTTPS port gets no API answer, and a client that never finishes
    // its handshake is closed at header_timeout (3 s).
    let mut plain = TcpStream::connect(&server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let opened = Instant::now();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    let took = opened.elapsed();
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(13),
        "closed after {took:?}"
    );
    // The line is written just after the socket is closed: waited for.
    assert!(
        log_shows(&server, "TLS handshake not done within header_timeout"),
        "{}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}

#[test]
fn tls_options_are_checked_before_serving() {
    let demo = Demo::new("tls", "options");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_truce"))
            .args(["serve", "--db", s(&demo.db), "--listen", "127.0.0.1:0"])
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
    };
    // --cot-tls without a client CA.
    let out = run(&[
        "--tls-cert",
        s(&fixture("server.pem")),
        "--tls-key",
        s(&fixture("server.key")),
        "--cot-tls",
        "127.0.0.1:0",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--cot-client-ca"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A key that is not the certificate's.
    let out = run(&[
        "--tls-cert",
        s(&fixture("server.pem")),
        "--tls-key",
        s(&fixture("team-1.key")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not go with the certificate"), "{err}");
    // A certificate file that holds no certificate.
    let out = run(&[
        "--tls-cert",
        s(&fixture("gen.sh")),
        "--tls-key",
        s(&fixture("server.key")),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("holds no certificate"), "{err}");
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// A real ClientHello: the first TLS record `openssl s_client` sends, caught on a local
/// listener (the handshake goes no further).
fn client_hello() -> Vec<u8> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut child = Command::new(tool("openssl"))
        .args(["s_client", "-connect", &addr.to_string(), "-quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // A record: type, version (2 bytes), length (2 bytes), then the body.
    let mut head = [0u8; 5];
    conn.read_exact(&mut head).unwrap();
    assert_eq!(head[0], 22, "a handshake record");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([head[3], head[4]]))];
    conn.read_exact(&mut body).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    [head.to_vec(), body].concat()
}

#[test]
fn a_tls_handshake_trickled_a_byte_a_second_is_cut_at_the_deadline_and_blocks_no_one() {
    let demo = Demo::new("tls", "trickle");
    let log = demo.dir.join("serve.log");
    let (server, cot) = serve_tls(&demo, &log, &[]);
    let hello = client_hello();

    // A real ClientHello, one byte a second: each byte is progress, but the handshake's
    // deadline (cot_event_timeout, 3 s here) runs from the connection, not the last byte.
    let trickler = std::thread::spawn(move || {
        let mut conn = TcpStream::connect(cot).unwrap();
        let opened = Instant::now();
        for b in &hello {
            if conn.write_all(std::slice::from_ref(b)).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
            if opened.elapsed() > Duration::from_secs(15) {
                break;
            }
        }
        // Closed by the server: a read sees the end (or a reset), not an answer.
        conn.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).unwrap_or(0);
        (opened.elapsed(), n)
    });

    // Meanwhile another team's client connects, hands shakes and is stored.
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    s_client(
        cot,
        Some("team-1"),
        &event("tls-trickle", None),
        Duration::from_millis(300),
    );
    assert_eq!(
        source_of(&demo.db, "tls-trickle", Duration::from_secs(10)).as_deref(),
        Some("team-1"),
        "log: {}",
        server.log()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the other client took {:?}",
        started.elapsed()
    );

    let (took, n) = trickler.join().unwrap();
    assert_eq!(n, 0, "the trickled handshake got an answer");
    // Cut at the deadline (3 s), well before the ClientHello's hundreds of bytes were sent.
    assert!(
        took >= Duration::from_millis(2_500) && took < Duration::from_secs(10),
        "the trickled handshake ended after {took:?}"
    );
    assert!(
        log_shows(&server, "TLS handshake not done within cot_event_timeout"),
        "{}",
        server.log()
    );
    let _ = std::fs::remove_dir_all(&demo.dir);
}
