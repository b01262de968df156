//! `truce serve` on a hostile network (issue 16): each limit that keeps an unauthenticated or
//! misbehaving client from stopping the service, filling the disk or breaking the log,
//! asserted by the fault it prevents. No assert here is about speed: a deadline is checked by
//! the connection being cut, never by how fast something answered.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
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
