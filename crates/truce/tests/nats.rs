//! NATS JetStream from a forward base with a real `nats-server -js` (docs/nats.md): a stream of
//! records forwarded while the server, the consumer (`truce serve`) and the forwarder are each
//! killed (SIGKILL) and restarted in turn; then every record is stored exactly once and the
//! log verifies. 100,000 records (about 40 s in release on 2 cores); `TRUCE_NATS_RECORDS`
//! sets another count (`bench/nats/run.sh` prints the throughput).
//!
//! And `truce forward --cot-tcp`: CoT events a device sends over TCP to the forwarder are
//! stored at headquarters once, a malformed one is refused at the base, and events spooled
//! while the link is down survive the forwarder's SIGKILL.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-nats-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nats_server(port: u16, store: &Path, log: &Path) -> Proc {
    let child = Command::new("nats-server")
        .args([
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-sd",
            s(store),
        ])
        .stdout(Stdio::null())
        .stderr(appending(log))
        .spawn()
        .expect("nats-server must be installed (scripts/test installs Debian's nats-server)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    Proc(child)
}

/// Where a child's stderr goes: appended to `log`, so a restarted process adds to its story.
fn appending(log: &Path) -> Stdio {
    Stdio::from(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap(),
    )
}

/// `truce ARGS…` in the background, from the repository, stderr appended to `log`.
fn truce_bg(args: &[&str], log: &Path) -> Proc {
    Proc(
        Command::new(env!("CARGO_BIN_EXE_truce"))
            .args(args)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(appending(log))
            .spawn()
            .unwrap(),
    )
}

fn serve(db: &Path, url: &str, log: &Path) -> Proc {
    truce_bg(
        &[
            "serve",
            "--db",
            s(db),
            "--listen",
            "127.0.0.1:0",
            "--nats",
            url,
            "--stream",
            "TRUCE",
        ],
        log,
    )
}

fn forward(url: &str, spool: &Path, files: &[PathBuf], log: &Path) -> Proc {
    let mut args = vec![
        "forward",
        "--nats",
        url,
        "--subject",
        "truce.observations.base-3",
        "--spool",
        s(spool),
    ];
    args.extend(files.iter().map(|f| s(f)));
    truce_bg(&args, log)
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

/// Headquarters' store at `db`, under the bundled terms, with one seed observation.
fn hq_store(dir: &Path, db: &Path) {
    let seed = dir.join("seed.geojson");
    std::fs::write(&seed, r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"seed","geometry":{"type":"Point","coordinates":[38.0,48.0]},"properties":{"kind":"report","observed_at":"2015-01-01T00:00:00Z","source":{"id":"hq","kind":"other","reliability":"B","credibility":2}}}]}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["ingest", "--db", s(db), "--agreement"])
        .args(["scenarios/donbas-2015/agreement.toml", s(&seed)])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const STORED: &str = "SELECT count(*) FROM observations WHERE source_id = 'base-3'";

/// Waits (up to `secs`) until `f` holds, panicking with `what` and the logs otherwise.
fn wait(what: &str, secs: u64, logs: &Path, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        if Instant::now() > deadline {
            let mut all = String::new();
            for name in ["nats.log", "serve.log", "forward.log"] {
                let text = std::fs::read_to_string(logs.join(name)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                all.push_str(&format!(
                    "--- {name}\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            panic!("timed out waiting for {what}\n{all}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `files` GeoJSON files of `n` report observations in all, distinct by id and content.
fn feeds(dir: &Path, n: usize, files: usize) -> Vec<PathBuf> {
    let per = n.div_ceil(files);
    (0..files)
        .map(|f| {
            let mut body = String::from(r#"{"type":"FeatureCollection","features":["#);
            for i in f * per..((f + 1) * per).min(n) {
                if i > f * per {
                    body.push(',');
                }
                body.push_str(&format!(
                    r#"{{"type":"Feature","id":"n-{i}","geometry":{{"type":"Point","coordinates":[{:.4},{:.4}]}},"properties":{{"kind":"report","observed_at":"2015-03-{:02}T{:02}:{:02}:{:02}Z","source":{{"id":"base-3","kind":"ground_team","reliability":"B","credibility":2}}}}}}"#,
                    37.0 + (i % 500) as f64 * 0.004,
                    47.5 + (i / 500 % 400) as f64 * 0.002,
                    1 + i % 28,
                    i % 24,
                    i % 60,
                    i / 60 % 60
                ));
            }
            body.push_str("]}");
            let path = dir.join(format!("feed-{f}.geojson"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect()
}

#[test]
fn every_record_is_stored_once_across_killed_server_consumer_and_forwarder() {
    let n: usize = std::env::var("TRUCE_NATS_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempdir("kills");
    let db = dir.join("hq.gpkg");
    let spool = dir.join("base-3.spool");
    let (nats_log, serve_log, fwd_log) = (
        dir.join("nats.log"),
        dir.join("serve.log"),
        dir.join("forward.log"),
    );
    hq_store(&dir, &db);
    let files = feeds(&dir, n, 10);
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let js = dir.join("jetstream");
    let started = Instant::now();

    let mut server = nats_server(port, &js, &nats_log);
    let mut consumer = serve(&db, &url, &serve_log);
    let mut forwarder = forward(&url, &spool, &files, &fwd_log);
    let spooled = || count(&spool, "SELECT count(*) FROM spool");

    // 1. The forwarder, killed once it has spooled everything and JetStream has acked some:
    //    run again with the same files, it spools what was sent again (JetStream and the
    //    store drop those) and what was not.
    wait("the forwarder to publish a part", 120, &dir, || {
        let left = spooled();
        left > 0 && left < (n as i64) * 9 / 10
    });
    forwarder.kill();
    let left_at_kill = spooled();
    forwarder = forward(&url, &spool, &files, &fwd_log);

    // 2. The server, killed while the forwarder publishes and the consumer pulls, restarted
    //    on the same store directory.
    wait("the forwarder to publish again", 120, &dir, || {
        let left = spooled();
        left >= 0 && left < left_at_kill.max(1)
    });
    server.kill();
    std::thread::sleep(Duration::from_secs(2));
    server = nats_server(port, &js, &nats_log);

    // 3. The consumer, killed in the middle of storing, restarted.
    let before = count(&db, STORED);
    wait("the consumer to store more", 120, &dir, || {
        count(&db, STORED) > before
    });
    consumer.kill();
    consumer = serve(&db, &url, &serve_log);

    // The forwarder ends with an empty spool; the consumer stores everything.
    forwarder_succeeds(&mut forwarder.0, 180, &fwd_log);
    assert_eq!(spooled(), 0);
    wait("every record stored", 180, &dir, || {
        count(&db, STORED) >= n as i64
    });
    // Redeliveries still in flight would show as extra rows: give them time to arrive.
    std::thread::sleep(Duration::from_secs(3));
    let took = started.elapsed();
    let _ = Command::new("kill")
        .args(["-TERM", &consumer.0.id().to_string()])
        .status();
    let _ = consumer.0.wait();
    drop(consumer);
    drop(server);

    assert_eq!(
        count(&db, STORED),
        n as i64,
        "each record stored exactly once"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(DISTINCT obs_id) FROM observations WHERE source_id = 'base-3'"
        ),
        n as i64
    );
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_records"), 0);
    let verify = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(["log", "verify", "--db", s(&db)])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "log verify: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    eprintln!(
        "nats: {n} records forwarded and stored once in {:.1} s ({:.0} records/s) across three kills",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// SIGTERM, and the exit status (within 30 s).
fn terminate(mut p: Proc) -> std::process::ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &p.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -TERM failed");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = p.0.try_wait().unwrap() {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "not stopped within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One CoT event as a TAK device writes it (with its own XML declaration).
fn cot_event(uid: &str, time: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <event version=\"2.0\" uid=\"{uid}\" type=\"b-m-p-s-m\" how=\"h-g-i-g-o\" time=\"{time}\" \
         start=\"{time}\" stale=\"2030-01-01T00:00:00Z\"><point lat=\"48.01\" lon=\"37.77\" \
         hae=\"200\" ce=\"12\" le=\"9999999\"/><detail><contact callsign=\"BASE-3-OP\"/>\
         <remarks>impact crater</remarks></detail></event>"
    )
}

/// Sends `events` on one TCP connection as a device does, then closes it and waits for the
/// forwarder to close its side (it has read everything).
fn send_cot(addr: &str, events: &str) {
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.write_all(events.as_bytes()).unwrap();
    tcp.shutdown(std::net::Shutdown::Write).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = tcp.read_to_end(&mut Vec::new());
}

#[test]
fn cot_from_devices_at_a_forward_base_is_stored_once_across_a_killed_forwarder_and_link() {
    let started = Instant::now();
    let dir = tempdir("cot");
    let db = dir.join("hq.gpkg");
    let spool = dir.join("base-3.spool");
    let (nats_log, serve_log, fwd_log) = (
        dir.join("nats.log"),
        dir.join("serve.log"),
        dir.join("forward.log"),
    );
    hq_store(&dir, &db);
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let cot = format!("127.0.0.1:{}", free_port());
    let js = dir.join("jetstream");
    let tag = std::process::id();
    let time = "2026-01-02T03:04:05.678Z";
    let uid = |i: usize| format!("fwd-{tag}-{i}");
    const STORED_COT: &str = "SELECT count(*) FROM observations WHERE obs_id LIKE 'cot:fwd-%'";
    let spooled = || count(&spool, "SELECT count(*) FROM spool");

    let mut server = nats_server(port, &js, &nats_log);
    let consumer = serve(&db, &url, &serve_log);
    let cot_forwarder = || {
        truce_bg(
            &[
                "forward",
                "--nats",
                &url,
                "--subject",
                "truce.observations.base-3",
                "--spool",
                s(&spool),
                "--cot-tcp",
                &cot,
            ],
            &fwd_log,
        )
    };
    let forwarder = cot_forwarder();
    wait("the forwarder's CoT listener", 10, &dir, || {
        std::net::TcpStream::connect(&cot).is_ok()
    });

    // 1. Link up: 40 events and a malformed one (no time) in the middle, on one connection.
    let n = 40;
    let mut burst = String::new();
    for i in 0..n {
        burst.push_str(&cot_event(&uid(i), time));
        if i == n / 2 {
            burst.push_str(&format!(
                "<event version=\"2.0\" uid=\"fwd-{tag}-bad\" type=\"b-m-p-s-m\"><point lat=\"48\" lon=\"37\"/></event>"
            ));
        }
    }
    send_cot(&cot, &burst);
    wait("the events stored at headquarters", 30, &dir, || {
        count(&db, STORED_COT) >= n as i64
    });
    wait("the spool emptied", 10, &dir, || spooled() == 0);
    let log = std::fs::read_to_string(&fwd_log).unwrap();
    let rejected = log
        .lines()
        .find(|l| l.contains("CoT event rejected"))
        .unwrap_or_else(|| panic!("the malformed event was not reported:\n{log}"));
    assert!(
        rejected.contains("cot-tcp:127.0.0.1:") && rejected.contains("neither time nor start"),
        "the rejection names neither the connection's peer nor the reason: {rejected}"
    );

    // 2. Link down: 20 new events and 5 sent again (a device reconnecting), spooled — and
    //    the forwarder killed once they are on disk, before it could publish them.
    server.kill();
    let m = 20;
    let mut burst = String::new();
    for i in (n..n + m).chain(0..5) {
        burst.push_str(&cot_event(&uid(i), time));
    }
    send_cot(&cot, &burst);
    wait(
        "the events spooled while the link is down",
        10,
        &dir,
        || spooled() == (m + 5) as i64,
    );
    forwarder.kill();

    // 3. Link up again, the forwarder run again (no listener): it sends the spool and exits.
    server = nats_server(port, &js, &nats_log);
    let mut resend = forward(&url, &spool, &[], &fwd_log);
    forwarder_succeeds(&mut resend.0, 30, &fwd_log);
    assert_eq!(spooled(), 0);
    wait("every event stored", 30, &dir, || {
        count(&db, STORED_COT) >= (n + m) as i64
    });

    // 4. SIGTERM as soon as a device's event has been read: the forwarder spools it,
    //    publishes it, and exits 0 with an empty spool.
    let forwarder = cot_forwarder();
    wait("the forwarder's CoT listener again", 10, &dir, || {
        std::net::TcpStream::connect(&cot).is_ok()
    });
    send_cot(&cot, &cot_event(&uid(n + m), time));
    let status = terminate(forwarder);
    assert!(
        status.success(),
        "forwarder stopped by SIGTERM: {status}; {}",
        std::fs::read_to_string(&fwd_log).unwrap_or_default()
    );
    assert_eq!(spooled(), 0);
    let m = m + 1;
    wait("the last event stored", 30, &dir, || {
        count(&db, STORED_COT) >= (n + m) as i64
    });
    // A copy still in flight would show as an extra row: give it time to arrive.
    std::thread::sleep(Duration::from_secs(2));
    drop(consumer);
    drop(server);
    assert_eq!(
        count(&db, STORED_COT),
        (n + m) as i64,
        "each event stored exactly once"
    );
    for i in [0, n / 2, n - 1, n, n + m - 2, n + m - 1] {
        assert_eq!(
            count(
                &db,
                &format!(
                    "SELECT count(*) FROM observations WHERE obs_id = 'cot:{}:{time}'",
                    uid(i)
                )
            ),
            1,
            "event {i}"
        );
    }
    // The malformed event stayed at the base: headquarters holds no rejected record.
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_records"), 0);
    eprintln!(
        "nats cot: {} events from a device through a forward base, stored once across a link \
         down, a killed forwarder and a stopped one, in {:.1} s",
        n + m,
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits up to `secs` for the forwarder to exit, which it must do successfully (its log in the
/// message otherwise).
fn forwarder_succeeds(child: &mut std::process::Child, secs: u64, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "the forwarder did not finish");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "forwarder: {status}; {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}
