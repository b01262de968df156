//! Alerts end to end, against the real binary: the agreement's escalation section decides who
//! is told and how severe (three fire incidents by one party in a day make the third
//! critical); per-party webhooks are signed with HMAC-SHA256 (checked here with the shared
//! key), retried after a 500, given up on a 401; the alert stream tells each party only what
//! it is a recipient of; and every alert and every delivery outcome is an `alert` entry in the
//! log, shown on the incident, with `truce log verify` and `truce rebuild` agreeing.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Alerts, Server, ok, root, s, tempdir, token};
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

const RU_KEY: &str = "ru-webhook-key-0123456789abcdef";
const UA_KEY: &str = "ua-webhook-key-0123456789abcdef";

/// One request the receiver got, and what it answered.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

/// A webhook receiver: `/ru` answers 500 to its first request and 200 after; `/ua` always 401.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::<Received>::new()));
    let log = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let target = line.split_whitespace().nth(1).unwrap_or("");
            assert!(
                !target.starts_with("/ua") || target == "/ua?token=not-logged",
                "{target}"
            );
            let path = target.split('?').next().unwrap().to_string();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let mut all = log.lock().unwrap();
            let answered = match path.as_str() {
                "/ua" => 401,
                _ if all.iter().any(|r: &Received| r.path == path) => 200,
                _ => 500,
            };
            all.push(Received {
                path,
                headers,
                body,
                answered,
            });
            drop(all);
            let _ = write!(
                stream,
                "HTTP/1.1 {answered} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (addr, got)
}

/// One request as `token`; the answer's body as JSON (or as a JSON string when it is not).
fn http(addr: &str, method: &str, path: &str, token: &str, body: &str) -> (u16, Value) {
    let (status, body) = common::http(addr, method, path, Some(token), Some(body));
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// The alerts read until one names `incident` (or 10 s pass).
fn alerts_until(stream: &mut Alerts, incident: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let named = stream.first(Instant::now(), Duration::from_secs(10), |v| {
        out.push(v.clone());
        v["incident"] == incident
    });
    if named.is_none() {
        panic!("no alert for {incident} within 10 s; got {out:?}");
    }
    out
}

fn feature(id: &str, kind: &str, at: &str, lonlat: [f64; 2], extra: Value) -> Value {
    let mut props = json!({"kind": kind, "observed_at": at,
        "source": {"id": "uav-1", "kind": "drone", "reliability": "B", "credibility": 2}});
    for (k, v) in extra.as_object().unwrap() {
        props[k] = v.clone();
    }
    json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": lonlat}, "properties": props})
}

/// A store in `dir` under the bundled terms (which have an [escalation] section), holding one
/// observation from before the ceasefire.
fn quiet_store(dir: &Path) -> PathBuf {
    let db = dir.join("truce.gpkg");
    let quiet = dir.join("quiet.geojson");
    std::fs::write(
        &quiet,
        json!({"type": "FeatureCollection", "features": [feature("quiet", "report",
            "2015-01-01T00:00:00Z", [38.0, 48.0], json!({}))]})
        .to_string(),
    )
    .unwrap();
    ok(&[
        "ingest",
        "--db",
        s(&db),
        "--agreement",
        "scenarios/donbas-2015/agreement.toml",
        s(&quiet),
    ]);
    db
}

fn post(addr: &str, token: &str, features: Vec<Value>) -> String {
    let body = json!({"type": "FeatureCollection", "features": features}).to_string();
    let (status, r) = http(addr, "POST", "/api/observations", token, &body);
    assert_eq!(status, 200, "{r}");
    r["incidents"][0].as_str().unwrap().to_string()
}

fn hmac_sha256(key: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what}: not within 20 s");
}

#[test]
fn escalated_signed_retried_and_logged() {
    let dir = tempdir("alerts", "escalated");
    let db = quiet_store(&dir);
    let analyst = token(&db, "analyst", "analyst-1");
    let ru = token(&db, "party:RU", "ru-liaison");
    let ua = token(&db, "party:UA", "ua-liaison");

    let (hook_addr, received) = receiver();
    let hooks = dir.join("webhooks.toml");
    std::fs::write(
        &hooks,
        format!(
            "[[webhook]]\nparty = \"RU\"\nurl = \"http://{hook_addr}/ru\"\nsecret_env = \"TRUCE_TEST_KEY_RU\"\n\n\
             [[webhook]]\nparty = \"UA\"\nurl = \"http://{hook_addr}/ua?token=not-logged\"\nsecret_env = \"TRUCE_TEST_KEY_UA\"\n"
        ),
    )
    .unwrap();
    let server = Server::start_with_env(
        &db,
        &["--webhooks", s(&hooks)],
        None,
        &[("TRUCE_TEST_KEY_RU", RU_KEY), ("TRUCE_TEST_KEY_UA", UA_KEY)],
    );
    let a = server.addr.clone();
    let mut ru_stream = Alerts::subscribe_with_timeout(&a, &ru, Duration::from_secs(10));
    let mut ua_stream = Alerts::subscribe_with_timeout(&a, &ua, Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(200));

    // 1. MLRS deep in RU's area after the deadline: a high breach; the parties involved (RU)
    // are told within 60 s; RU's receiver fails the first attempt, the retry is delivered.
    let mlrs = post(
        &a,
        &analyst,
        vec![feature(
            "mlrs-1",
            "weapon_present",
            "2015-03-07T08:00:00Z",
            [38.8963838, 48.3280667],
            json!({"weapon": {"class": "mlrs", "count": 4}}),
        )],
    );
    let seen = alerts_until(&mut ru_stream, &mlrs);
    let alert = seen.last().unwrap();
    assert_eq!(alert["severity"], "high", "{alert}");
    assert_eq!(alert["recipients"], json!(["RU"]), "{alert}");
    assert_eq!(alert["within_s"], 60, "{alert}");
    assert!(alert["log_seq"].is_u64(), "{alert}");
    let alert_id = alert["id"].as_str().unwrap().to_string();

    let ru_requests = wait_for("RU's webhook answered 200", || {
        let got = received.lock().unwrap();
        let ru: Vec<Received> = got.iter().filter(|r| r.path == "/ru").cloned().collect();
        ru.iter().any(|r| r.answered == 200).then_some(ru)
    });
    assert_eq!(ru_requests.len(), 2, "a 500, then the retry");
    assert_eq!(ru_requests[0].answered, 500);
    for (n, r) in ru_requests.iter().enumerate() {
        assert_eq!(r.headers["x-truce-alert-id"], alert_id);
        assert_eq!(r.headers["x-truce-attempt"], (n + 1).to_string());
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["x-truce-signature"],
            hmac_sha256(RU_KEY, &r.body),
            "the signature is the HMAC-SHA256 of the body under RU's key"
        );
        assert_ne!(r.headers["x-truce-signature"], hmac_sha256(UA_KEY, &r.body));
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], alert_id.as_str());
        assert_eq!(body["incident"], mlrs.as_str());
    }
    assert_eq!(
        ru_requests[0].body, ru_requests[1].body,
        "a retry sends the same bytes"
    );

    // The incident shows the alert and its delivery, to the analyst and to RU.
    let delivered = wait_for("the delivery on the incident", || {
        let (_, inc) = http(&a, "GET", &format!("/api/incidents/{mlrs}"), &analyst, "");
        inc["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["action"] == "delivered")
            .cloned()
    });
    let reason = delivered["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 200, 2 attempt(s)"), "{reason}");
    assert!(reason.contains("within the deadline"), "{reason}");
    assert_eq!(delivered["actor"], "webhook:RU");
    let (_, seen_by_ru) = http(&a, "GET", &format!("/api/incidents/{mlrs}"), &ru, "");
    let steps: Vec<&str> = seen_by_ru["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"alert") && steps.contains(&"delivered"),
        "{steps:?}"
    );
    let told = seen_by_ru["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["action"] == "alert")
        .unwrap();
    assert!(
        told["reason"]
            .as_str()
            .unwrap()
            .contains("told staff and RU"),
        "{told}"
    );

    // 2. Three fire incidents by RU within a day, far apart: the third is escalated to
    // critical, which the agreement tells both parties of.
    let fire: Vec<String> = [
        ("fire-1", "2015-03-08T01:00:00Z", [38.8963838, 48.3280667]),
        ("fire-2", "2015-03-08T05:00:00Z", [39.30, 48.05]),
        ("fire-3", "2015-03-08T09:00:00Z", [38.60, 47.95]),
    ]
    .into_iter()
    .map(|(id, at, p)| post(&a, &analyst, vec![feature(id, "firing", at, p, json!({}))]))
    .collect();
    assert_eq!(
        fire.iter().collect::<std::collections::BTreeSet<_>>().len(),
        3,
        "three separate incidents"
    );
    let to_ru = alerts_until(&mut ru_stream, &fire[2]);
    let by_incident = |v: &[Value], id: &str| v.iter().find(|a| a["incident"] == id).cloned();
    for id in &fire[..2] {
        let a = by_incident(&to_ru, id).unwrap_or_else(|| panic!("RU told of {id}: {to_ru:?}"));
        assert_eq!(a["severity"], "high", "{a}");
        assert!(a.get("escalated_from").is_none(), "{a}");
    }
    let third = by_incident(&to_ru, &fire[2]).unwrap();
    assert_eq!(third["severity"], "critical", "{third}");
    assert_eq!(third["escalated_from"], "high", "{third}");
    assert!(
        third["escalation"]
            .as_str()
            .unwrap()
            .contains("3 no-fire breaches by RU within 24 h"),
        "{third}"
    );
    assert_eq!(third["recipients"], json!(["RU", "UA"]), "{third}");
    // UA is told only of the critical one: none of RU's high breaches.
    let to_ua = alerts_until(&mut ua_stream, &fire[2]);
    assert_eq!(to_ua.len(), 1, "{to_ua:?}");

    // UA's receiver refuses (401): not retried, logged as failed with the status.
    let undelivered = wait_for("UA's failed delivery on the incident", || {
        let (_, inc) = http(&a, "GET", &format!("/api/incidents/{}", fire[2]), &ua, "");
        inc["transitions"]
            .as_array()?
            .iter()
            .find(|t| t["action"] == "undelivered")
            .cloned()
    });
    assert_eq!(undelivered["actor"], "webhook:UA");
    let reason = undelivered["reason"].as_str().unwrap();
    assert!(reason.contains("HTTP 401, 1 attempt(s)"), "{reason}");
    let ua_requests: Vec<Received> = received
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/ua")
        .cloned()
        .collect();
    assert_eq!(ua_requests.len(), 1, "a 401 is not retried");
    assert_eq!(
        ua_requests[0].headers["x-truce-signature"],
        hmac_sha256(UA_KEY, &ua_requests[0].body)
    );
    // Wait for RU's delivery of the third alert (its first attempt is answered 200 now).
    wait_for("RU's delivery of the critical alert", || {
        let (_, inc) = http(
            &a,
            "GET",
            &format!("/api/incidents/{}", fire[2]),
            &analyst,
            "",
        );
        inc["transitions"]
            .as_array()?
            .iter()
            .any(|t| t["action"] == "delivered")
            .then_some(())
    });

    // Stop the server (SIGTERM: outcomes still pending would be logged before it exits).
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let mut server = server;
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");

    // Every alert and every outcome is in the log as an `alert` entry.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut stmt = conn
        .prepare("SELECT body FROM entries WHERE kind = 'alert' ORDER BY seq")
        .unwrap();
    let bodies: Vec<Value> = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|b| serde_json::from_slice(&b.unwrap()).unwrap())
        .collect();
    let sent: Vec<&Value> = bodies
        .iter()
        .flat_map(|b| b["alerts"].as_array().into_iter().flatten())
        .collect();
    let deliveries: Vec<&Value> = bodies
        .iter()
        .flat_map(|b| b["deliveries"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(sent.len(), 4, "{bodies:?}");
    let first = sent.iter().find(|s| s["id"] == alert_id.as_str()).unwrap();
    assert_eq!(first["recipients"], json!(["RU"]));
    assert_eq!(first["webhooks"], json!(["RU"]));
    assert!(first["deadline"].is_string());
    let critical = sent
        .iter()
        .find(|s| s["incident"] == fire[2].as_str())
        .unwrap();
    assert_eq!(critical["severity"], "critical");
    assert_eq!(critical["escalated_from"], "high");
    assert_eq!(critical["webhooks"], json!(["RU", "UA"]));
    let ok_ru = deliveries
        .iter()
        .find(|d| d["alert"] == alert_id.as_str())
        .unwrap();
    assert_eq!(ok_ru["outcome"], "delivered");
    assert_eq!(ok_ru["status"], 200);
    assert_eq!(ok_ru["attempts"], 2);
    let failed_ua = deliveries.iter().find(|d| d["party"] == "UA").unwrap();
    assert_eq!(failed_ua["outcome"], "failed");
    assert_eq!(failed_ua["status"], 401);
    assert_eq!(
        failed_ua["endpoint"],
        format!("http://{hook_addr}/ua"),
        "the query string is not logged"
    );
    let text = bodies.iter().map(Value::to_string).collect::<String>();
    assert!(
        !text.contains(RU_KEY) && !text.contains("not-logged"),
        "no secret in the log"
    );
    drop(stmt);
    drop(conn);

    // The log verifies, and the incidents rebuilt from it alone match the tables.
    ok(&["log", "verify", "--db", s(&db)]);
    ok(&["rebuild", "--db", s(&db)]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_webhooks_file_is_refused_with_every_reason() {
    let dir = tempdir("alerts", "bad");
    let db = quiet_store(&dir);
    let hooks = dir.join("webhooks.toml");
    std::fs::write(
        &hooks,
        "[[webhook]]\nparty = \"XX\"\nurl = \"ftp://example.org/\"\nsecret_env = \"TRUCE_TEST_UNSET_VARIABLE\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["serve", "--db", s(&db), "--listen", "127.0.0.1:0"])
        .args(["--webhooks", s(&hooks)])
        .env_remove("TRUCE_TEST_UNSET_VARIABLE")
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no party \"XX\""), "{err}");
    assert!(err.contains("must start with http:// or https://"), "{err}");
    assert!(err.contains("TRUCE_TEST_UNSET_VARIABLE"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An `https://` webhook receiver: a rustls server with the fixture certificate `cert`
/// (`tests/tls/`), answering 200 to each POST; what it got, by path.
fn tls_receiver(cert: &str) -> (u16, Arc<Mutex<Vec<Received>>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = root().join("tests/tls");
    let certs = CertificateDer::pem_file_iter(dir.join(format!("{cert}.pem")))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join(format!("{cert}.key"))).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new(Vec::<Received>::new()));
    let log = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(tcp) = stream else { continue };
            tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, tcp);
            // A client that refuses the certificate ends the handshake: nothing to read.
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() || line.is_empty() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let mut headers = BTreeMap::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
            let len: usize = headers["content-length"].parse().unwrap();
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            drop(reader);
            log.lock().unwrap().push(Received {
                path,
                headers,
                body,
                answered: 200,
            });
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, got)
}

/// `https://` webhooks: delivered to a receiver whose certificate chains to `--webhook-ca`;
/// one whose certificate is from another CA is not sent the alert, and the outcome says why,
/// after one attempt (waiting does not make a certificate valid).
#[test]
fn https_webhooks_are_verified_against_the_configured_ca() {
    let dir = tempdir("alerts", "https");
    let db = quiet_store(&dir);
    let analyst = token(&db, "analyst", "analyst-1");
    let ru = token(&db, "party:RU", "ru-liaison");
    let (good, good_got) = tls_receiver("server");
    let (bad, bad_got) = tls_receiver("other-server");
    let hooks = dir.join("webhooks.toml");
    std::fs::write(
        &hooks,
        format!(
            "[[webhook]]\nparty = \"RU\"\nurl = \"https://localhost:{good}/ru\"\nsecret_env = \"TRUCE_TEST_KEY_RU\"\n\n\
             [[webhook]]\nparty = \"RU\"\nurl = \"https://127.0.0.1:{bad}/ru-untrusted\"\nsecret_env = \"TRUCE_TEST_KEY_RU\"\n"
        ),
    )
    .unwrap();
    let ca = root().join("tests/tls/ca.pem");
    let server = Server::start_with_env(
        &db,
        &["--webhooks", s(&hooks), "--webhook-ca", s(&ca)],
        None,
        &[("TRUCE_TEST_KEY_RU", RU_KEY)],
    );
    let a = server.addr.clone();
    let mlrs = post(
        &a,
        &analyst,
        vec![feature(
            "mlrs-1",
            "weapon_present",
            "2015-03-07T08:00:00Z",
            [38.8963838, 48.3280667],
            json!({"weapon": {"class": "mlrs", "count": 4}}),
        )],
    );
    let got = wait_for("the https delivery", || {
        let g = good_got.lock().unwrap();
        (!g.is_empty()).then(|| g.clone())
    });
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].path, "/ru");
    assert_eq!(
        got[0].headers["x-truce-signature"],
        hmac_sha256(RU_KEY, &got[0].body)
    );
    let transitions = wait_for("both outcomes on the incident", || {
        let (_, inc) = http(&a, "GET", &format!("/api/incidents/{mlrs}"), &ru, "");
        let t = inc["transitions"].as_array()?.clone();
        let has = |a: &str| t.iter().any(|x| x["action"] == a);
        (has("delivered") && has("undelivered")).then_some(t)
    });
    let undelivered = transitions
        .iter()
        .find(|t| t["action"] == "undelivered")
        .unwrap();
    let reason = undelivered["reason"].as_str().unwrap();
    assert!(reason.contains("1 attempt(s)"), "{reason}");
    assert!(reason.contains("certificate"), "{reason}");
    assert!(reason.contains("UnknownIssuer"), "{reason}");
    assert!(
        bad_got.lock().unwrap().is_empty(),
        "nothing sent to the untrusted receiver"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
