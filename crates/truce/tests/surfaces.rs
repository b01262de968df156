//! One story everywhere: for every incident of the demo, the CLI (`truce incidents --json`),
//! the REST API, OGC API – Features and the GeoPackage's `incidents` layer (what QGIS opens)
//! show the same state, rules, suggested and official party, confidence and location — they
//! are all one view (`truce_service::view::IncidentView`). And reactions follow the data: a
//! decision taken with `truce decide` from a shell while `truce serve` runs reaches the alert
//! stream and the party's webhook within a second, as one posted to the API does.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Alerts, Demo, Server, get_json, json_of, ok, s};
use serde_json::Value;

/// What every surface must agree on for one incident.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    state: String,
    rules: Vec<String>,
    suggested: Option<String>,
    official: Option<String>,
    confidence: Option<f64>,
    location: Option<[f64; 2]>,
    /// Independent monitoring platforms that reported it.
    sources: Option<u64>,
    /// The incidents at the other end of its strike ↔ firing links.
    links: Vec<String>,
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// The ids at the other end of a `links` array.
fn linked(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|l| l["incident"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn point(v: &Value) -> Option<[f64; 2]> {
    v.as_array()
        .map(|a| [a[0].as_f64().unwrap(), a[1].as_f64().unwrap()])
}

/// Facts from a JSON incident view (CLI `--json`, REST) whose location is `location`.
fn facts(v: &Value, location: Option<[f64; 2]>) -> Facts {
    Facts {
        state: v["state"].as_str().unwrap().to_string(),
        rules: strs(&v["rules"]),
        suggested: v["suggested_party"].as_str().map(str::to_string),
        official: v["attributed_party"].as_str().map(str::to_string),
        confidence: v["confidence"].as_f64(),
        location,
        sources: v["independent_sources"].as_u64(),
        links: linked(&v["links"]),
    }
}

/// The point of a GeoPackage geometry blob: its header (`GP`, version, flags, SRS id, an
/// envelope sized by the flags), then a WKB point.
fn gpkg_point(blob: &[u8]) -> [f64; 2] {
    assert_eq!(&blob[..2], b"GP", "a GeoPackage geometry");
    let flags = blob[3];
    let envelope = [0, 32, 48, 48, 64][usize::from((flags >> 1) & 0x07)];
    let wkb = &blob[8 + envelope..];
    let little = wkb[0] == 1;
    let f = |at: usize| {
        let b: [u8; 8] = wkb[at..at + 8].try_into().unwrap();
        if little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        }
    };
    [f(5), f(13)]
}

fn same_place(a: Option<[f64; 2]>, b: Option<[f64; 2]>) -> bool {
    match (a, b) {
        (None, None) => true,
        // The layer stores a GeoPackage point, the APIs a decimal: equal to ~1e-9 degrees.
        (Some(a), Some(b)) => (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9,
        _ => false,
    }
}

fn check(surface: &str, want: &BTreeMap<String, Facts>, got: &BTreeMap<String, Facts>) {
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "{surface}: the same incidents"
    );
    for (id, w) in want {
        let g = &got[id];
        assert!(
            w.state == g.state
                && w.rules == g.rules
                && w.suggested == g.suggested
                && w.official == g.official
                && w.confidence == g.confidence
                && w.sources == g.sources
                && w.links == g.links
                && same_place(w.location, g.location),
            "{surface} differs on {id}:\n  CLI  {w:?}\n  here {g:?}"
        );
    }
}

#[test]
fn cli_rest_ogc_and_the_layer_tell_one_story_for_every_incident() {
    let demo = Demo::new("surfaces", "story");
    // An official attribution, so that "official" is tested too.
    let listed = ok(&[
        "incidents",
        "--db",
        s(&demo.db),
        "--json",
        "--limit",
        "100000",
    ]);
    let cli: Vec<Value> = listed.lines().map(json_of).collect();
    let located = cli
        .iter()
        .find(|v| v["location"].is_array() && !strs(&v["rules"]).is_empty())
        .expect("a located incident in breach");
    let id = located["id"].as_str().unwrap().to_string();
    ok(&[
        "decide",
        "--db",
        s(&demo.db),
        &id,
        "attribute",
        "RU",
        "--actor",
        "analyst-1",
        "--reason",
        "crater analysis",
    ]);

    let cli: BTreeMap<String, Facts> = ok(&[
        "incidents",
        "--db",
        s(&demo.db),
        "--json",
        "--limit",
        "100000",
    ])
    .lines()
    .map(json_of)
    .map(|v| {
        (
            v["id"].as_str().unwrap().to_string(),
            facts(&v, point(&v["location"])),
        )
    })
    .collect();
    assert!(cli.len() > 100, "the demo has incidents: {}", cli.len());
    assert_eq!(cli[&id].official.as_deref(), Some("RU"));
    // Suggested parties exist to be compared (how many the evidence supports is fusion's
    // measure, `truce score`; here only that every surface shows the same one).
    let suggested = cli.values().filter(|f| f.suggested.is_some()).count();
    assert!(suggested >= 10, "suggested parties to compare: {suggested}");

    // The GeoPackage layer.
    let conn = rusqlite::Connection::open(&demo.db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT incident_id, state, rules, suggested_party, attributed_party, confidence, \
             geom, independent_sources, links FROM incidents",
        )
        .unwrap();
    let layer: BTreeMap<String, Facts> = stmt
        .query_map([], |r| {
            let rules: String = r.get(2)?;
            let geom: Option<Vec<u8>> = r.get(6)?;
            let links: Option<String> = r.get(8)?;
            Ok((
                r.get::<_, String>(0)?,
                Facts {
                    state: r.get(1)?,
                    rules: rules
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    suggested: r.get(3)?,
                    official: r.get(4)?,
                    confidence: r.get(5)?,
                    location: geom.as_deref().map(gpkg_point),
                    sources: r.get::<_, Option<i64>>(7)?.map(|n| n as u64),
                    links: links.map(|t| linked(&json_of(&t))).unwrap_or_default(),
                },
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    check("the incidents layer", &cli, &layer);

    let server = Server::start(&demo.db, &["--rate", "5000"], None);
    let analyst = demo.token("analyst");

    // REST, paged.
    let mut rest = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = get_json(
            &server.addr,
            &format!("/api/incidents?limit=1000&offset={offset}"),
            Some(&analyst),
        );
        for v in page["incidents"].as_array().unwrap() {
            rest.insert(
                v["id"].as_str().unwrap().to_string(),
                facts(v, point(&v["location"])),
            );
        }
        match page["next_offset"].as_u64() {
            Some(n) => offset = n,
            None => break,
        }
    }
    check("REST /api/incidents", &cli, &rest);
    let one = get_json(
        &server.addr,
        &format!("/api/incidents/{id}"),
        Some(&analyst),
    );
    assert_eq!(
        facts(&one, point(&one["location"])),
        cli[&id],
        "REST /api/incidents/{id}"
    );

    // OGC API – Features, paged by its `next` links.
    let mut ogc = BTreeMap::new();
    let mut path = "/collections/incidents/items?limit=1000".to_string();
    loop {
        let page = get_json(&server.addr, &path, Some(&analyst));
        for f in page["features"].as_array().unwrap() {
            let location = f["geometry"]["coordinates"]
                .as_array()
                .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()]);
            ogc.insert(
                f["id"].as_str().unwrap().to_string(),
                facts(&f["properties"], location),
            );
        }
        let next = page["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        match next {
            Some(href) => path = href[href.find("/collections").unwrap()..].to_string(),
            None => break,
        }
    }
    check("OGC API /collections/incidents/items", &cli, &ogc);
    drop(server);
    let _ = std::fs::remove_dir_all(&demo.dir);
}

/// A webhook receiver on a free port: every POST body it gets.
fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_ok()
                && let Ok(v) = serde_json::from_slice::<Value>(&body)
            {
                sink.lock().unwrap().push(v);
            }
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        }
    });
    (url, got)
}

#[test]
fn a_decision_from_the_shell_reaches_the_alert_stream_and_the_webhook_within_a_second() {
    let demo = Demo::new("surfaces", "shell");
    let (url, hooks) = receiver();
    let webhooks = demo.dir.join("webhooks.toml");
    std::fs::write(
        &webhooks,
        format!(
            "[[webhook]]\nparty = \"RU\"\nurl = \"{url}\"\nsecret_env = \"TRUCE_WEBHOOK_SECRET_RU\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_with_env(
        &demo.db,
        &["--webhooks", s(&webhooks)],
        None,
        &[("TRUCE_WEBHOOK_SECRET_RU", "ru-webhook-key-0123456789abcdef")],
    );
    let mut analyst_stream = Alerts::subscribe(&server.addr, &demo.token("analyst"));
    // An incident in RU's area that the analyst may verify.
    let listed = ok(&[
        "incidents",
        "--db",
        s(&demo.db),
        "--json",
        "--limit",
        "100000",
    ]);
    let target = listed
        .lines()
        .map(json_of)
        .find(|v| {
            v["party_area"] == "RU"
                && !strs(&v["rules"]).is_empty()
                && matches!(
                    v["state"].as_str(),
                    Some("single_source" | "corroborated" | "verification_tasked")
                )
        })
        .expect("an open incident in breach in RU's area");
    let id = target["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(300));

    // Another process — a shell — decides while the server runs.
    let sent = Instant::now();
    ok(&[
        "decide",
        "--db",
        s(&demo.db),
        &id,
        "verify",
        "--actor",
        "duty-analyst",
        "--reason",
        "imagery at 03:10",
    ]);
    let decided = sent.elapsed();
    let (alert, took) = analyst_stream
        .first(sent, Duration::from_secs(5), |a| {
            a["incident"] == id.as_str() && a["kind"] == "state"
        })
        .unwrap_or_else(|| panic!("no `state` alert for {id} on the stream within 5 s"));
    assert!(
        took < decided + Duration::from_secs(1),
        "the alert came {took:?} after the command started ({decided:?} to run it)"
    );
    assert_eq!(alert["state"], "verified");
    assert!(
        alert["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "RU"),
        "{alert}"
    );
    // The webhook: RU is a recipient, so it is POSTed there too.
    let hooked = loop {
        if let Some(v) = hooks
            .lock()
            .unwrap()
            .iter()
            .find(|v| v["incident"] == id.as_str() && v["kind"] == "state")
        {
            break Some(v.clone());
        }
        if sent.elapsed() > Duration::from_secs(5) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let hook_took = sent.elapsed();
    assert!(hooked.is_some(), "no webhook POST for {id} within 5 s");
    assert!(
        hook_took < decided + Duration::from_secs(1),
        "the webhook came {hook_took:?} after the command started ({decided:?} to run it)"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&demo.dir);
}
