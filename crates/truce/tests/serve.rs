//! `truce serve` as its users meet it: every endpoint × every role (what is allowed and what
//! is refused, and that filtered lists leak nothing), an alert within a second of ingest, and
//! SIGTERM during a batch losing nothing.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn truce(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = truce(args);
    assert!(
        out.status.success(),
        "truce {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A running server; killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["serve", "--db", s(db), "--listen", "127.0.0.1:0"])
        .args(extra)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("truce serve: listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
    });
    Server { child, addr }
}

/// One HTTP/1.1 request; returns (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text[9..12].parse().unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

/// A GET's body as bytes (tiles are binary).
fn http_bytes(addr: &str, path: &str, token: Option<&str>) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
    assert!(
        !head.contains("transfer-encoding: chunked"),
        "{path}: {head}"
    );
    raw[split..].to_vec()
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// A demo store with tokens for every role and one published incident.
struct Fixture {
    dir: PathBuf,
    db: PathBuf,
    tokens: BTreeMap<&'static str, Option<String>>,
    published: String,
}

fn fixture(name: &str) -> Fixture {
    let dir = tempdir(name);
    ok(&["demo", "--out", s(&dir)]);
    let db = dir.join("truce.gpkg");
    let mut tokens = BTreeMap::new();
    for (role, who) in [
        ("admin", "admin-1"),
        ("analyst", "analyst-1"),
        ("team:team-1", "team-1"),
        ("party:UA", "ua-liaison"),
        ("party:RU", "ru-liaison"),
    ] {
        let secret = ok(&[
            "token",
            "create",
            "--db",
            s(&db),
            "--role",
            role,
            "--name",
            who,
        ]);
        tokens.insert(role, Some(secret.trim().to_string()));
    }
    tokens.insert("public", None);
    // Publish one incident in RU's area through the analyst's CLI.
    let listed = ok(&[
        "incidents",
        "--db",
        s(&db),
        "--json",
        "--limit",
        "100000",
        "--rule",
        "no-fire",
    ]);
    let published = listed
        .lines()
        .map(json_of)
        .find(|i| i["location"].is_array())
        .expect("a located no-fire incident")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for action in [["verify"], ["publish"]] {
        ok(&[
            "decide",
            "--db",
            s(&db),
            &published,
            action[0],
            "--actor",
            "analyst-1",
            "--reason",
            "test",
        ]);
    }
    Fixture {
        dir,
        db,
        tokens,
        published,
    }
}

#[test]
fn every_endpoint_for_every_role() {
    let f = fixture("matrix");
    let server = serve(&f.db, &[]);
    let a = &server.addr;
    let tok = |r: &str| f.tokens[r].clone();
    let analyst = tok("analyst");

    // What exists, seen by the analyst.
    let (_, all) = http(
        a,
        "GET",
        "/api/incidents?limit=1000",
        analyst.as_deref(),
        None,
    );
    let all = json_of(&all);
    let total = all["total"].as_u64().unwrap();
    assert!(total > 100, "{total}");
    let some_incident = all["incidents"][0]["id"].as_str().unwrap().to_string();
    let (_, tasks) = http(a, "GET", "/api/tasks", analyst.as_deref(), None);
    let tasks = json_of(&tasks);
    let team1_task = tasks["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["team"] == "team-1" && t["state"] == "assigned")
        .expect("team-1 has a task")["id"]
        .as_str()
        .unwrap()
        .to_string();

    // (method, path, body, expected status per role: admin, analyst, team, party UA, party RU, public)
    let obs_body = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"api-1","geometry":{"type":"Point","coordinates":[38.2,48.3]},"properties":{"kind":"damage","observed_at":"2015-03-03T10:00:00Z","source":{"id":"team-1","kind":"ground_team","reliability":"A","credibility":1}}}]}"#;
    let decide = r#"{"action":"verify","reason":"matrix"}"#;
    let outcome = r#"{"outcome":"inconclusive","remarks":"matrix"}"#;
    let allegation = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"alleged-1","geometry":{"type":"Point","coordinates":[38.3,48.4]},"properties":{"kind":"impact","observed_at":"2015-03-03T11:00:00Z","source":{"id":"x","kind":"party","reliability":"C","credibility":3}}}]}"#;
    let response = r#"{"response":"dispute","text":"not us"}"#;
    // An analyst sends a team to an untasked single-source incident.
    let untasked = all["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| {
            i["state"] == "single_source"
                && i["location"].is_array()
                && i["id"] != some_incident.as_str()
        })
        .expect("an untasked incident")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let task_body = format!(r#"{{"incident":"{untasked}","reason":"matrix"}}"#);
    let published = f.published.clone();
    let rows: Vec<(&str, String, Option<&str>, [u16; 6])> = vec![
        (
            "GET",
            "/healthz".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/metrics".into(),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/incidents".into(),
            None,
            [200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            format!("/api/incidents/{published}"),
            None,
            [200, 200, 403, 0, 0, 200],
        ),
        (
            "GET",
            format!("/api/incidents/{some_incident}"),
            None,
            [200, 200, 403, 0, 0, 404],
        ),
        (
            "GET",
            "/api/tasks".into(),
            None,
            [200, 200, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/api/stats".into(),
            None,
            [200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/log/checkpoint".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/log/proof/1".into(),
            None,
            [200, 200, 403, 200, 200, 403],
        ),
        (
            "POST",
            "/api/observations".into(),
            Some(obs_body),
            [200, 200, 200, 403, 403, 403],
        ),
        (
            "POST",
            format!("/api/incidents/{some_incident}/decisions"),
            Some(decide),
            [0, 0, 403, 403, 403, 403],
        ),
        (
            "POST",
            format!("/api/tasks/{team1_task}/outcome"),
            Some(outcome),
            [403, 403, 200, 403, 403, 403],
        ),
        (
            "GET",
            "/log/checkpoint".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/log/tile/0/000".into(),
            None,
            [200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/log/tile/entries/000".into(),
            None,
            [200, 200, 403, 200, 200, 403],
        ),
        (
            "GET",
            "/log/tile/9/999".into(),
            None,
            [404, 404, 404, 404, 404, 404],
        ),
        (
            "POST",
            "/api/tasks".into(),
            Some(task_body.as_str()),
            [0, 0, 403, 403, 403, 403],
        ),
        (
            "POST",
            "/api/allegations".into(),
            Some(allegation),
            [403, 403, 403, 200, 200, 403],
        ),
        (
            "POST",
            format!("/api/incidents/{published}/responses"),
            Some(response),
            [403, 403, 403, 0, 0, 403],
        ),
    ];
    let roles = [
        "admin",
        "analyst",
        "team:team-1",
        "party:UA",
        "party:RU",
        "public",
    ];
    let mut failures = Vec::new();
    for (method, path, body, expect) in &rows {
        for (i, role) in roles.iter().enumerate() {
            let (status, text) = http(a, method, path, tok(role).as_deref(), *body);
            let want = match expect[i] {
                // Depends on the data: decisions succeed once (200) then conflict (409) once
                // concluded; a party sees an incident (200) if it is in its area, else 404.
                0 if path.ends_with("/decisions") || path == "/api/tasks" => {
                    if [200, 409].contains(&status) {
                        continue;
                    }
                    200
                }
                0 => {
                    let party = role.strip_prefix("party:");
                    let inc = path.split('/').nth(3).unwrap();
                    let (_, b) = http(
                        a,
                        "GET",
                        &format!("/api/incidents/{inc}"),
                        analyst.as_deref(),
                        None,
                    );
                    let b = json_of(&b);
                    let sees = party.is_some_and(|p| {
                        b["party_area"].as_str() == Some(p)
                            || b["suggested_party"].as_str() == Some(p)
                            || b["attributed_party"].as_str() == Some(p)
                            || b["transitions"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|t| t["action"] == "dispute")
                    });
                    if sees { 200 } else { 404 }
                }
                w => w,
            };
            if status != want {
                failures.push(format!(
                    "{method} {path} as {role}: {status} (want {want}): {}",
                    &text[..text.len().min(200)]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let (_, tasked) = http(
        a,
        "GET",
        &format!("/api/incidents/{untasked}"),
        analyst.as_deref(),
        None,
    );
    let tasked = json_of(&tasked);
    assert_eq!(tasked["state"], "verification_tasked", "{tasked}");
    let step = tasked["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|t| t["action"] == "tasked")
        .unwrap()
        .clone();
    assert_eq!(step["actor"], "admin-1", "{step}");

    // The tiles served are the tiles `truce log export-tiles` writes.
    let tiles = f.dir.join("tiles");
    ok(&["log", "export-tiles", "--db", s(&f.db), "--out", s(&tiles)]);
    // Level 1 is a partial tile at this size (`tile/1/000.p/W`): take whatever was written.
    let partial = std::fs::read_dir(tiles.join("tile/1/000.p"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let partial = format!("tile/1/000.p/{}", partial.to_str().unwrap());
    for path in ["tile/0/000", "tile/entries/000", partial.as_str()] {
        let served = http_bytes(a, &format!("/log/{path}"), analyst.as_deref());
        assert_eq!(served, std::fs::read(tiles.join(path)).unwrap(), "{path}");
    }

    // Filtered lists leak nothing: the public's total is the published count, its locations
    // are coarse, and it sees no sources; a party sees only its own incidents, without sources.
    let (_, public) = http(a, "GET", "/api/incidents?limit=1000", None, None);
    let public = json_of(&public);
    assert_eq!(public["total"], 1, "{public}");
    let p0 = &public["incidents"][0];
    assert_eq!(p0["id"], published.as_str());
    assert!(
        p0.get("source_kinds").is_none() && p0.get("observation_seqs").is_none(),
        "{p0}"
    );
    assert_eq!(p0["location_precision_m"], 5000.0);
    let (_, full) = http(
        a,
        "GET",
        &format!("/api/incidents/{published}"),
        analyst.as_deref(),
        None,
    );
    let full = json_of(&full);
    assert_ne!(
        p0["location"], full["location"],
        "the public location is coarsened"
    );
    assert!(full["evidence"][0]["observation"]["properties"]["source"]["id"].is_string());
    assert!(full["evidence"][0]["inclusion_proof"].is_array());
    for party in ["UA", "RU"] {
        let t = tok(&format!("party:{party}"));
        let (_, list) = http(a, "GET", "/api/incidents?limit=1000", t.as_deref(), None);
        let list = json_of(&list);
        let n = list["total"].as_u64().unwrap();
        assert!(n > 0 && n < total, "{party}: {n} of {total}");
        for inc in list["incidents"].as_array().unwrap() {
            let mine = inc["party_area"] == party
                || inc["suggested_party"] == party
                || inc["attributed_party"] == party
                || inc["transitions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|t| t["action"] == "dispute");
            assert!(mine, "{party} sees {inc}");
            assert!(inc.get("observation_seqs").is_none(), "{inc}");
            for t in inc["transitions"].as_array().unwrap() {
                // Responses and alerts (who was told what) are shown with actor and reason.
                let shown = ["dispute", "alert", "delivered", "undelivered"];
                if !shown.iter().any(|a| t["action"] == *a) {
                    assert!(t.get("actor").is_none(), "{t}");
                }
            }
        }
        let (_, one) = http(
            a,
            "GET",
            &format!(
                "/api/incidents/{}",
                list["incidents"][0]["id"].as_str().unwrap()
            ),
            t.as_deref(),
            None,
        );
        let one = json_of(&one);
        for e in one["evidence"].as_array().unwrap() {
            assert!(
                e.get("observation").is_none(),
                "a party sees no source: {e}"
            );
        }
    }
    // A team sees its own tasks only.
    let (_, mine) = http(a, "GET", "/api/tasks", tok("team:team-1").as_deref(), None);
    for t in json_of(&mine)["tasks"].as_array().unwrap() {
        assert_eq!(t["team"], "team-1");
    }
    // A team posts only its own observations.
    let foreign = obs_body
        .replace("\"team-1\"", "\"team-2\"")
        .replace("api-1", "api-2");
    let (_, r) = http(
        a,
        "POST",
        "/api/observations",
        tok("team:team-1").as_deref(),
        Some(&foreign),
    );
    assert_eq!(json_of(&r)["results"][0]["status"], "rejected", "{r}");
    // A bad token is 401, not public.
    let (status, _) = http(a, "GET", "/api/incidents", Some("truce_bogus"), None);
    assert_eq!(status, 401);
    // A revoked token stops working within the cache time.
    let secret = ok(&[
        "token",
        "create",
        "--db",
        s(&f.db),
        "--role",
        "analyst",
        "--name",
        "leaver",
    ]);
    let secret = secret.trim();
    assert_eq!(http(a, "GET", "/metrics", Some(secret), None).0, 200);
    let listed = ok(&["token", "list", "--db", s(&f.db)]);
    let id = listed
        .lines()
        .find(|l| l.contains("leaver"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    ok(&["token", "revoke", "--db", s(&f.db), &id]);
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(http(a, "GET", "/metrics", Some(secret), None).0, 401);
    let _ = std::fs::remove_dir_all(&f.dir);
}

#[test]
fn a_breach_alert_reaches_its_party_within_a_second_and_sigterm_loses_nothing() {
    let f = fixture("alerts");
    let server = serve(&f.db, &[]);
    let a = server.addr.clone();
    let analyst = f.tokens["analyst"].clone().unwrap();
    let ru = f.tokens["party:RU"].clone().unwrap();

    // Subscribe as RU.
    let mut sse = TcpStream::connect(&a).unwrap();
    sse.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        sse,
        "GET /api/alerts/stream HTTP/1.1\r\nHost: {a}\r\nAuthorization: Bearer {ru}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(sse.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    std::thread::sleep(Duration::from_millis(200));

    // A heavy-weapon sighting deep in RU's area after the deadline: a high-severity breach.
    let body = json!({"type":"FeatureCollection","features":[{"type":"Feature","id":"alert-1",
        "geometry":{"type":"Point","coordinates":[38.8963838,48.3280667]},
        "properties":{"kind":"weapon_present","observed_at":"2015-03-07T08:00:00Z",
        "source":{"id":"uav-1","kind":"drone","reliability":"B","credibility":2},
        "weapon":{"class":"mlrs","count":4}}}]})
    .to_string();
    let sent = Instant::now();
    let (status, r) = http(&a, "POST", "/api/observations", Some(&analyst), Some(&body));
    assert_eq!(status, 200, "{r}");
    let incident = json_of(&r)["incidents"][0].as_str().unwrap().to_string();
    let mut got = None;
    while sent.elapsed() < Duration::from_secs(5) {
        line.clear();
        if reader.read_line(&mut line).is_err() {
            break;
        }
        if line.starts_with("data:") && line.contains(&incident) {
            got = Some(sent.elapsed());
            break;
        }
    }
    let took = got.unwrap_or_else(|| panic!("no alert for {incident} within 5 s"));
    assert!(took < Duration::from_secs(1), "alert after {took:?}");
    assert!(line.contains("\"party_area\":\"RU\""), "{line}");

    // SIGTERM while a large batch is being stored: the batch completes and is checkpointed.
    let features: Vec<Value> = (0..5000)
        .map(|i| {
            json!({"type":"Feature","id":format!("bulk-{i}"),
                "geometry":{"type":"Point","coordinates":[37.5 + (i % 100) as f64 * 0.01, 47.8 + (i / 100) as f64 * 0.01]},
                "properties":{"kind":"thermal_anomaly","observed_at":"2015-03-04T10:00:00Z",
                "source":{"id":"viirs","kind":"satellite","reliability":"B","credibility":3},"error_radius_m":375}})
        })
        .collect();
    let bulk = json!({"type":"FeatureCollection","features":features}).to_string();
    let pid = server.child.id().to_string();
    let a2 = a.clone();
    let poster = std::thread::spawn(move || {
        http(
            &a2,
            "POST",
            "/api/observations",
            Some(&analyst),
            Some(&bulk),
        )
    });
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (status, r) = poster.join().unwrap();
    assert_eq!(status, 200, "the request in flight finishes: {r}");
    assert_eq!(json_of(&r)["accepted"], 5000);
    let mut server = server;
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let conn = rusqlite::Connection::open(&f.db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM observations WHERE obs_id LIKE 'bulk-%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 5000);
    let verify = ok(&[
        "log",
        "verify",
        "--db",
        s(&f.db),
        "--key",
        s(&f.dir.join("log.vkey")),
    ]);
    assert!(verify.starts_with("OK"), "{verify}");
    assert!(
        !verify.contains("not yet signed"),
        "the last batch was checkpointed: {verify}"
    );
    let _ = std::fs::remove_dir_all(&f.dir);
}
