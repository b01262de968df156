//! `truce serve` as its users meet it: every endpoint × every role (what is allowed and what
//! is refused, and that filtered lists leak nothing), a log proof that shows an entry's bytes
//! only to a role that may read them, an alert within a second of ingest, and SIGTERM during a
//! batch losing nothing.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{Alerts, Demo, Server, get, get_json, http, json_of, ok, s, text, token, truce};
use serde_json::{Value, json};

/// A demo store with tokens for every role and one published incident.
fn fixture(name: &str) -> (Demo, String) {
    let demo = Demo::new("serve", name);
    // Publish one incident in RU's area through the analyst's CLI.
    let listed = ok(&[
        "incidents",
        "--db",
        s(&demo.db),
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
    demo.publish(&published, "analyst-1", "test");
    (demo, published)
}

#[test]
fn every_endpoint_for_every_role() {
    let (f, published) = fixture("matrix");
    let server = Server::start(&f.db, &[], None);
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
            "/api/whoami".into(),
            None,
            [200, 200, 200, 200, 200, 200],
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
            "/api/coverage".into(),
            None,
            [200, 200, 403, 200, 200, 200],
        ),
        (
            "GET",
            "/api/mission".into(),
            None,
            [200, 200, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/coverage?days=32".into(),
            None,
            [400, 400, 403, 400, 400, 400],
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
            [200, 200, 200, 200, 200, 200],
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
        let served = get(a, &format!("/log/{path}"), analyst.as_deref(), &[]);
        assert_eq!(served.status, 200, "{path}: {}", served.text());
        assert!(!served.chunked, "{path}: chunked");
        assert_eq!(
            served.body,
            std::fs::read(tiles.join(path)).unwrap(),
            "{path}"
        );
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

/// `GET /api/log/proof/{seq}` gives every role the hashes, and the entry's bytes only to a
/// role that may read that record (`truce_service::access::entry_body`): an observation names
/// its source, which the public, a team and a party may not know; a party's response is for
/// the parties that see its incident. A withheld document still proves the leaf is in the
/// log, for `truce log verify-entry` too.
#[test]
fn a_proof_shows_the_entry_only_to_a_role_that_may_read_it() {
    let (f, published) = fixture("proof-bodies");
    let server = Server::start(&f.db, &[], None);
    let a = &server.addr;
    let proof = |seq: u64, tok: Option<&str>| {
        let (status, body) = http(a, "GET", &format!("/api/log/proof/{seq}"), tok, None);
        assert_eq!(status, 200, "{body}");
        body
    };
    let analyst = f.token("analyst");
    let detail = common::get_json(a, &format!("/api/incidents/{published}"), Some(&analyst));
    let first = &detail["evidence"][0];
    let seq = first["seq"].as_u64().unwrap();
    let source = first["observation"]["properties"]["source"]["id"]
        .as_str()
        .expect("staff see the observation's source")
        .to_string();
    assert!(source.len() >= 3, "{source}");

    // Staff: the bytes, whose leaf hash is the one stated.
    let full = json_of(&proof(seq, Some(&analyst)));
    let bytes = B64.decode(full["entry"].as_str().unwrap()).unwrap();
    assert!(String::from_utf8_lossy(&bytes).contains(&source));
    assert!(full.get("withheld").is_none(), "{full}");

    // The public (no token, and a token of role public), a team and a party: the same
    // hashes, no bytes, the reason — and the source id nowhere in the reply.
    let public_token = token(&f.db, "public", "press-1");
    let vkey = common::get_json(a, "/api/whoami", None)["log_key"]
        .as_str()
        .unwrap()
        .to_string();
    for (who, tok) in [
        ("public", None),
        ("a public token", Some(public_token.as_str())),
        ("team-1", f.tokens["team:team-1"].as_deref()),
        ("party RU", f.tokens["party:RU"].as_deref()),
    ] {
        let body = proof(seq, tok);
        assert!(!body.contains(&source), "{who} got the source id: {body}");
        let doc = json_of(&body);
        assert!(doc.get("entry").is_none(), "{who}: {doc}");
        assert!(
            doc["withheld"]
                .as_str()
                .unwrap()
                .contains("names its source"),
            "{who}: {doc}"
        );
        for k in ["leaf_hash", "inclusion", "root", "tree_size", "checkpoint"] {
            assert_eq!(doc[k], full[k], "{who}: {k}");
        }
        // The withheld document still proves the leaf is in the log the key signed.
        let dir = f.dir.join(format!("withheld-{}", who.replace(' ', "-")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("proof.json"), &body).unwrap();
        std::fs::write(dir.join("checkpoint"), doc["checkpoint"].as_str().unwrap()).unwrap();
        let out = truce(&[
            "log",
            "verify-entry",
            "--checkpoint",
            s(&dir.join("checkpoint")),
            "--proof",
            s(&dir.join("proof.json")),
            "--key",
            &vkey,
        ]);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{who}: {err}");
        assert!(
            err.contains("withheld") && err.contains("OK: entry"),
            "{who}: {err}"
        );
        assert!(out.stdout.is_empty(), "{who}: {}", text(&out.stdout));
    }

    // A party's response: the parties that see its incident read it, the public does not.
    let ru = f.token("party:RU");
    let seen = common::get_json(a, "/api/incidents?limit=1", Some(&ru));
    let answered = seen["incidents"][0]["id"].as_str().unwrap();
    let (status, body) = http(
        a,
        "POST",
        &format!("/api/incidents/{answered}/responses"),
        Some(&ru),
        Some(r#"{"response":"dispute","text":"proof test"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let rseq = json_of(&body)["entry_seq"].as_u64().unwrap();
    for (who, tok, shown) in [
        ("party RU", Some(ru.as_str()), true),
        ("party UA", f.tokens["party:UA"].as_deref(), true),
        ("analyst", Some(analyst.as_str()), true),
        ("public", None, false),
    ] {
        let doc = json_of(&proof(rseq, tok));
        assert_eq!(doc.get("entry").is_some(), shown, "{who}: {doc}");
        if shown {
            let bytes = B64.decode(doc["entry"].as_str().unwrap()).unwrap();
            assert!(
                String::from_utf8_lossy(&bytes).contains("proof test"),
                "{who}"
            );
        }
    }
}

#[test]
fn a_breach_alert_reaches_its_party_within_a_second_and_sigterm_loses_nothing() {
    let (f, _) = fixture("alerts");
    let server = Server::start(&f.db, &[], None);
    let a = server.addr.clone();
    let analyst = f.tokens["analyst"].clone().unwrap();
    let ru = f.tokens["party:RU"].clone().unwrap();

    // Subscribe as RU.
    let mut stream = Alerts::subscribe(&a, &ru);
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
    let (line, took) = stream
        .first_data(sent, Duration::from_secs(5), |data| {
            data.contains(&incident)
        })
        .unwrap_or_else(|| panic!("no alert for {incident} within 5 s"));
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

    // The shutdown left a ledger snapshot of everything folded (issue 14): the next start
    // folds nothing and serves the same incidents as a replay from entry 0 (`truce incidents`
    // on a copy without the snapshot).
    let (size, log_size): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT size FROM ledger_snapshots), (SELECT COUNT(*) FROM entries)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        size, log_size,
        "the snapshot covers the whole log at shutdown"
    );
    drop(conn);
    let log = f.dir.join("restart.log");
    let again = Server::start_with_env(&f.db, &[], Some(&log), &[("TRUCE_LOG", "info")]);
    let served = get_json(
        &again.addr,
        "/api/incidents?limit=500",
        Some(&f.token("analyst")),
    );
    drop(again);
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("ledger restored from its snapshot"),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    let copy = f.dir.join("replayed.gpkg");
    std::fs::copy(&f.db, &copy).unwrap();
    std::fs::copy(
        f.dir.join("truce.gpkg.log.key"),
        f.dir.join("replayed.gpkg.log.key"),
    )
    .unwrap();
    rusqlite::Connection::open(&copy)
        .unwrap()
        .execute("DELETE FROM ledger_snapshots", [])
        .unwrap();
    let replayed = get_json(
        &Server::start(&copy, &[], Some(&f.dir.join("copy.log"))).addr,
        "/api/incidents?limit=500",
        Some(&f.token("analyst")),
    );
    assert!(
        served["total"].as_u64().is_some_and(|n| n > 4000),
        "{}",
        served["total"]
    );
    assert!(
        served == replayed,
        "a restart from the snapshot serves what a replay serves"
    );
    let _ = std::fs::remove_dir_all(&f.dir);
}
