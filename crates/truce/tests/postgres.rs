//! The PostgreSQL/PostGIS backend against the GeoPackage (issue 15, docs/deploy.md): the same
//! inputs through `truce` into both give the same log (roots, proofs, tiles) and the same
//! observation and incident tables row for row, read with the engines' own clients (`psql`,
//! `sqlite3`); `log verify`, `rebuild --check`, `prove` and `export-tiles` work on both; the
//! log's tables refuse changes; two writers at once keep the log dense and verifiable.
//!
//! Each test starts its own cluster on a free port with `scripts/pg-cluster` (Debian's
//! postgresql-15 and postgresql-15-postgis-3, which `scripts/test` installs); without them the
//! test fails, it does not skip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ok, root, s, tempdir, text, truce};

const AGREEMENT: &str = "scenarios/donbas-2015/agreement.toml";
const OBSERVATIONS: &str = "scenarios/donbas-2015/observations.geojson";
const UCDP: &str = "scenarios/donbas-2015/feeds/ucdp_ged_donbas_2015_2021.csv";

/// A PostgreSQL cluster of the test's own, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    url: String,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = Command::new(root().join("scripts/pg-cluster"))
            .args(["start", s(dir), &port.to_string()])
            .output()
            .expect("scripts/pg-cluster runs");
        assert!(
            out.status.success(),
            "PostgreSQL must be installed (scripts/test installs postgresql-15 and \
             postgresql-15-postgis-3): {}",
            text(&out.stderr)
        );
        Cluster {
            dir: dir.to_path_buf(),
            url: format!("postgres://postgres@127.0.0.1:{port}"),
        }
    }

    /// The URL of database `name` (created by `truce` on first use).
    fn db(&self, name: &str) -> String {
        format!("{}/{name}", self.url)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/pg-cluster"))
            .args(["stop", s(&self.dir)])
            .output();
    }
}

/// `psql -At` output of `sql` on `db`.
fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-F", "|", "-v", "ON_ERROR_STOP=1", db, "-c", sql])
        .output()
        .expect("psql (postgresql-client) is installed");
    assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// `sqlite3` output of `sql` on the GeoPackage `db`.
fn sqlite(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .args(["-separator", "|", s(db), sql])
        .output()
        .expect("sqlite3 is installed");
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// A partner CSV with two good rows and two bad ones (a latitude off the globe, a bad time).
fn partner_csv(dir: &Path) -> PathBuf {
    let csv = dir.join("partner.csv");
    std::fs::write(
        &csv,
        "id,kind,observed_at,lon,lat,source_id,source_kind,reliability,credibility\n\
         a1,impact,2015-03-01T10:00:00Z,38.0,48.0,team-1,ground_team,A,2\n\
         a2,impact,2015-03-01T11:00:00Z,38.0,98.0,team-1,ground_team,A,2\n\
         a3,explosion,not-a-time,38.0,48.0,team-1,ground_team,A,2\n\
         a4,firing,2015-03-01T12:00:00Z,38.2,48.1,team-1,ground_team,A,2\n",
    )
    .unwrap();
    csv
}

/// `truce ingest` into `db` (a file or a URL) signing with `key`; the exit code (2 when records
/// were rejected).
fn ingest(db: &str, key: &Path, files: &[&str]) -> i32 {
    let mut args = vec!["ingest", "--db", db, "--agreement", AGREEMENT, "--log-key", s(key)];
    args.extend_from_slice(files);
    let out = truce(&args);
    assert!(
        matches!(out.status.code(), Some(0 | 2)),
        "truce {args:?}: {}",
        text(&out.stderr)
    );
    out.status.code().unwrap()
}

/// A new log signing key in `dir` (`truce log keygen`).
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.log.key"));
    ok(&["log", "keygen", "--out", s(&path), &format!("truce.test/{name}")]);
    path
}

/// The checkpoint body (origin line left out: each store has its own key): size and root.
fn size_and_root(db: &str) -> String {
    let cp = ok(&["log", "checkpoint", "--db", db]);
    cp.lines().skip(1).take(2).collect::<Vec<_>>().join(" ")
}

// The incidents layer as text, the same columns from both engines: times as the GeoPackage
// writes them, numbers rounded past any difference in printing, the point as WKB hex.
const PG_INCIDENTS: &str = "SELECT fid, incident_id, state, evidence, kinds, \
    round(confidence::numeric, 9), \
    to_char(start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
    to_char(end_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), observations, rules, \
    coalesce(max_severity, ''), coalesce(suggested_party, ''), coalesce(suggestion_basis, ''), \
    coalesce(attributed_party, ''), upper(encode(ST_AsBinary(geom), 'hex')), first_seq, last_seq, \
    updated_seq, coalesce(independent_sources::text, ''), coalesce(links, '') \
    FROM incidents ORDER BY fid";
const GPKG_INCIDENTS: &str = "SELECT fid, incident_id, state, evidence, kinds, \
    printf('%.9f', confidence), start_at, end_at, observations, rules, coalesce(max_severity, ''), \
    coalesce(suggested_party, ''), coalesce(suggestion_basis, ''), coalesce(attributed_party, ''), \
    substr(hex(geom), 81), first_seq, last_seq, updated_seq, coalesce(independent_sources, ''), \
    coalesce(links, '') FROM incidents ORDER BY fid";

const PG_OBSERVATIONS: &str = "SELECT fid, coalesce(obs_id, ''), kind, \
    to_char(observed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), source_id, \
    source_kind, reliability, credibility, coalesce(party_area, ''), \
    round(distance_to_line_m::numeric, 3), zones, coalesce(crossings, ''), breach_count, \
    coalesce(max_severity, ''), upper(encode(ST_AsBinary(geom), 'hex')), \
    upper(encode(content_sha256, 'hex')), locator FROM observations ORDER BY fid";
const GPKG_OBSERVATIONS: &str = "SELECT fid, coalesce(obs_id, ''), kind, observed_at, source_id, \
    source_kind, reliability, credibility, coalesce(party_area, ''), \
    printf('%.3f', distance_to_line_m), zones, coalesce(crossings, ''), breach_count, \
    coalesce(max_severity, ''), substr(hex(geom), 81), hex(content_sha256), locator \
    FROM observations ORDER BY fid";

const BREACHES: &str = "SELECT obs_fid, rule, severity, coalesce(party, ''), basis, detail, \
    CASE WHEN certain THEN 1 ELSE 0 END FROM breaches ORDER BY obs_fid, rule, detail";
const REJECTED: &str = "SELECT file, locator, raw, reason, entry_seq, entry_sha256 \
    FROM rejected_records ORDER BY id";

#[test]
fn the_same_inputs_give_the_same_log_and_tables_on_postgres_and_geopackage() {
    let dir = tempdir("postgres", "same");
    let cluster = Cluster::start(&dir.join("pg"));
    let pg = cluster.db("mission");
    let gpkg = dir.join("mission.gpkg");
    let csv = partner_csv(&dir);
    // Twice each: duplicates are counted, not stored; identical rejections logged once.
    let (pg_key, gpkg_key) = (keygen(&dir, "pg"), keygen(&dir, "gpkg"));
    for (db, key) in [(pg.as_str(), &pg_key), (s(&gpkg), &gpkg_key)] {
        assert_eq!(ingest(db, key, &[OBSERVATIONS]), 0);
        assert_eq!(ingest(db, key, &[s(&csv), UCDP]), 2);
        assert_eq!(ingest(db, key, &[s(&csv)]), 2);
    }

    // One log: the same size and root, the same proofs, the same tiles.
    let (pg_root, gpkg_root) = (size_and_root(&pg), size_and_root(s(&gpkg)));
    assert_eq!(pg_root, gpkg_root);
    let entries: u64 = pg_root.split(' ').next().unwrap().parse().unwrap();
    assert!(entries > 1_500, "{pg_root}");
    for seq in ["0", "37", &(entries - 1).to_string()] {
        let proof = |db: &str| {
            let doc = common::json_of(&ok(&["log", "prove", "--db", db, "--seq", seq]));
            (doc["entry"].clone(), doc["inclusion_proof"].clone(), doc["leaf_index"].clone())
        };
        assert_eq!(proof(&pg), proof(s(&gpkg)), "entry {seq}");
    }
    for (db, out) in [(pg.as_str(), "tiles-pg"), (s(&gpkg), "tiles-gpkg")] {
        ok(&["log", "export-tiles", "--db", db, "--out", s(&dir.join(out))]);
    }
    let tile = |name: &str, rel: &str| std::fs::read(dir.join(name).join(rel)).unwrap();
    for rel in ["tile/0/000", "tile/entries/000", "tile/1/000.p/6"] {
        if dir.join("tiles-gpkg").join(rel).exists() {
            assert_eq!(tile("tiles-pg", rel), tile("tiles-gpkg", rel), "{rel}");
        }
    }

    // The same rows, read by each engine's own client.
    let rows = |pg_sql: &str, gpkg_sql: &str| (psql(&pg, pg_sql), sqlite(&gpkg, gpkg_sql));
    let (a, b) = rows(PG_OBSERVATIONS, GPKG_OBSERVATIONS);
    assert!(a.lines().count() > 1_500, "{} observations", a.lines().count());
    assert_eq!(a, b, "observations");
    let (a, b) = rows(BREACHES, BREACHES);
    assert!(a.lines().count() > 10, "{} breaches", a.lines().count());
    assert_eq!(a, b, "breaches");
    let (a, b) = rows(REJECTED, REJECTED);
    assert_eq!(a.lines().count(), 4, "two rejections, each kept twice: {a}");
    assert_eq!(a, b, "rejected records");
    let (a, b) = rows(PG_INCIDENTS, GPKG_INCIDENTS);
    assert!(a.lines().count() > 50, "{} incidents", a.lines().count());
    assert_eq!(a, b, "incidents");
    let (a, b) = rows(
        "SELECT incident_fid, obs_fid FROM incident_observations ORDER BY 1, 2",
        "SELECT incident_fid, obs_fid FROM incident_observations ORDER BY 1, 2",
    );
    assert_eq!(a, b, "incident_observations");

    // The commands that check a store work on PostgreSQL as on the file.
    let verified = ok(&["log", "verify", "--db", &pg, "--key", s(&pg_key)]);
    assert!(verified.starts_with(&format!("OK: {entries} entries")), "{verified}");
    assert!(verified.contains("signatures verify"), "{verified}");
    let rebuilt = ok(&["rebuild", "--db", &pg, "--check"]);
    assert!(!rebuilt.contains("differs"), "{rebuilt}");
    let listed = ok(&["incidents", "--db", &pg]);
    assert_eq!(listed, ok(&["incidents", "--db", s(&gpkg)]), "truce incidents");

    // QGIS opens the layers: geometry columns registered with SRID 4326 and a GiST index.
    let layers = psql(
        &pg,
        "SELECT f_table_name || ':' || type || ':' || srid FROM geometry_columns ORDER BY 1",
    );
    for layer in [
        "contact_line:MULTILINESTRING:4326",
        "incidents:POINT:4326",
        "observations:GEOMETRY:4326",
        "party_areas:MULTIPOLYGON:4326",
        "tasks:POINT:4326",
    ] {
        assert!(layers.contains(layer), "{layer} in {layers}");
    }
    let plan = psql(
        &pg,
        "SET enable_seqscan = off; EXPLAIN SELECT fid FROM observations \
         WHERE geom && ST_MakeEnvelope(37, 47, 38, 48, 4326)",
    );
    assert!(plan.contains("observations_geom"), "{plan}");

    // A decision goes through the same service on both: same state, same transition.
    for (db, key) in [(pg.as_str(), &pg_key), (s(&gpkg), &gpkg_key)] {
        ok(&[
            "decide", "--db", db, "--log-key", s(key), "--actor", "analyst-1", "--reason",
            "seen on the ground", "inc-3", "verify",
        ]);
    }
    let q = "SELECT state FROM incidents WHERE incident_id = 'inc-3'";
    assert_eq!(psql(&pg, q).trim(), "verified");
    assert_eq!(sqlite(&gpkg, q).trim(), "verified");
    let verified = ok(&["log", "verify", "--db", &pg, "--key", s(&pg_key)]);
    assert!(verified.starts_with(&format!("OK: {} entries", entries + 1)), "{verified}");
}

#[test]
fn the_log_tables_refuse_changes_and_two_writers_keep_one_log() {
    let dir = tempdir("postgres", "writers");
    let cluster = Cluster::start(&dir.join("pg"));
    let pg = cluster.db("writers");
    let key = keygen(&dir, "writers");
    assert_eq!(ingest(&pg, &key, &[OBSERVATIONS]), 0);

    // The log's tables are append-only, whoever connects.
    for sql in [
        "UPDATE entries SET body = 'x' WHERE seq = 1",
        "DELETE FROM entries WHERE seq = 1",
        "DELETE FROM log_nodes",
        "UPDATE log_checkpoints SET size = 0",
    ] {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &pg, "-c", sql])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{sql} was allowed");
        assert!(text(&out.stderr).contains("append-only"), "{sql}: {}", text(&out.stderr));
    }
    // A checkpoint with another root at a signed size is refused (a fork could not be signed).
    let out = Command::new("psql")
        .args([
            "-X", "-q", "-v", "ON_ERROR_STOP=1", &pg, "-c",
            "INSERT INTO log_checkpoints (size, root, text, created_at) \
             SELECT size, 'AAAA', text, now() FROM log_checkpoints ORDER BY id DESC LIMIT 1",
        ])
        .output()
        .unwrap();
    assert!(text(&out.stderr).contains("fork"), "{}", text(&out.stderr));

    // Two processes ingesting at once: the write lock queues them; one dense, verified log.
    let files: Vec<PathBuf> = (0..2)
        .map(|k| {
            let p = dir.join(format!("firms-{k}.csv"));
            let mut csv = String::from(
                "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_t31,frp,daynight\n",
            );
            for i in 0..3_000 {
                let lat = 47.0 + (i % 1000) as f64 * 0.002;
                let lon = 37.0 + k as f64 * 0.5 + (i / 1000) as f64 * 0.001;
                csv.push_str(&format!(
                    "{lat:.5},{lon:.5},330.1,0.41,0.45,2015-03-{:02},{},N,VIIRS,n,2.0NRT,290.2,3.1,D\n",
                    1 + i % 28,
                    1000 + i % 59
                ));
            }
            std::fs::write(&p, csv).unwrap();
            p
        })
        .collect();
    // Each writer signs with the log's key (one log, one key).
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            Command::new(env!("CARGO_BIN_EXE_truce"))
                .args(["ingest", "--db", &pg, "--agreement", AGREEMENT, "--log-key", s(&key), s(f)])
                .current_dir(root())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let c = c.wait_with_output().unwrap();
        assert!(c.status.success(), "{}", text(&c.stderr));
    }
    let seqs = psql(&pg, "SELECT COUNT(*), MIN(seq), MAX(seq) FROM entries");
    let n: Vec<i64> = seqs.trim().split('|').map(|x| x.parse().unwrap()).collect();
    assert_eq!((n[1], n[2]), (0, n[0] - 1), "dense seqs: {seqs}");
    assert_eq!(n[0], 45 + 6_000, "{seqs}");
    let verified = ok(&["log", "verify", "--db", &pg, "--key", s(&key)]);
    assert!(verified.starts_with(&format!("OK: {} entries", n[0])), "{verified}");
    assert!(verified.contains("signatures verify"), "{verified}");
}

/// POSTs `body` to `addr`'s `/api/observations`; the status, or None when the server is gone
/// (refused, reset, timed out): the caller then tries the other replica.
fn try_post(addr: &str, token: &str, body: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let req = format!(
        "POST /api/observations HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/geo+json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    reply.split(' ').nth(1)?.parse().ok()
}

#[test]
fn a_replica_takes_over_when_the_writer_is_killed_and_alerts_are_logged_once() {
    let dir = tempdir("postgres", "failover");
    let cluster = Cluster::start(&dir.join("pg"));
    let pg = cluster.db("failover");
    let key = keygen(&dir, "failover");
    assert_eq!(ingest(&pg, &key, &[OBSERVATIONS]), 0);
    let token = common::token(Path::new(&pg), "analyst", "failover-test");
    let serve = |name: &str| {
        common::Server::start(
            Path::new(&pg),
            &["--log-key", s(&key)],
            Some(&dir.join(format!("{name}.log"))),
        )
    };
    let (mut a, b) = (serve("a"), serve("b"));
    let addrs = [a.addr.clone(), b.addr.clone()];

    // A stream of POSTs, each a new construction in the disengagement area (a critical breach,
    // alerted); the writer is killed a third of the way through and the client moves on.
    let n = 60;
    let mut at = 0; // the replica the client is talking to
    let mut accepted = Vec::new();
    let mut failover = None;
    let mut killed_at = 0i64;
    for i in 0..n {
        if i == n / 3 {
            a.child.kill().unwrap(); // SIGKILL
            a.child.wait().unwrap();
            killed_at = psql(&pg, "SELECT MAX(seq) FROM entries").trim().parse().unwrap();
        }
        let body = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","id":"ha-{i}",
            "geometry":{{"type":"Point","coordinates":[39.4154811,48.6111027]}},
            "properties":{{"kind":"construction","observed_at":"2015-03-{:02}T{:02}:00:00Z",
            "source":{{"id":"team-3","kind":"ground_team","reliability":"A","credibility":1}}}}}}]}}"#,
            1 + i / 24,
            i % 24
        );
        let started = std::time::Instant::now();
        loop {
            match try_post(&addrs[at], &token, &body) {
                Some(200) => break,
                other => {
                    assert!(
                        started.elapsed() < std::time::Duration::from_secs(5),
                        "no replica accepted POST {i} within 5 s (last answer {other:?})"
                    );
                    at = 1 - at;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
            }
        }
        if i == n / 3 {
            failover = Some(started.elapsed());
        }
        accepted.push(format!("ha-{i}"));
    }
    let failover = failover.unwrap();
    eprintln!("failover: the first POST after the kill was accepted in {failover:?}");

    // Every POST that got 200 is in the log, once.
    let stored = psql(
        &pg,
        "SELECT obs_id, COUNT(*) FROM observations WHERE obs_id LIKE 'ha-%' GROUP BY obs_id ORDER BY obs_id",
    );
    let counts: std::collections::BTreeMap<String, u32> = stored
        .lines()
        .map(|l| {
            let (id, c) = l.split_once('|').unwrap();
            (id.to_string(), c.parse().unwrap())
        })
        .collect();
    for id in &accepted {
        assert_eq!(counts.get(id), Some(&1), "{id} stored once: {stored}");
    }
    // One root per signed size: the log never forked.
    let forks = psql(
        &pg,
        "SELECT size FROM log_checkpoints GROUP BY size HAVING COUNT(DISTINCT root) > 1",
    );
    assert!(forks.trim().is_empty(), "two roots at one size: {forks}");
    let verified = ok(&["log", "verify", "--db", &pg, "--key", s(&key)]);
    assert!(verified.starts_with("OK: "), "{verified}");

    // Alerts: the survivor leads (it logged alerts after the kill), and no alert is logged twice.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let alerts = psql(
        &pg,
        "SELECT a->>'id', a->>'cause_seq' FROM entries, \
         jsonb_array_elements(convert_from(body, 'UTF8')::jsonb -> 'alerts') a \
         WHERE kind = 'alert' ORDER BY 1",
    );
    let ids: Vec<&str> = alerts.lines().map(|l| l.split('|').next().unwrap()).collect();
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "an alert logged twice: {alerts}");
    let after_kill = alerts
        .lines()
        .filter(|l| l.split('|').nth(1).and_then(|c| c.parse::<i64>().ok()) > Some(killed_at))
        .count();
    assert!(after_kill > 0, "no alert logged for the entries after the kill: {alerts}");
    eprintln!("{} alerts logged, {after_kill} for entries after the kill", ids.len());
    assert!(b.log().contains("leading"), "the survivor took the lead: {}", b.log());

    // PostgreSQL itself restarts (a standby promoted looks the same to a replica): the
    // replica connects again and takes writes, without a restart of its own.
    let port = cluster.url.rsplit(':').next().unwrap().to_string();
    for cmd in [vec!["stop", s(&cluster.dir)], vec!["start", s(&cluster.dir), &port]] {
        let out = Command::new(root().join("scripts/pg-cluster")).args(&cmd).output().unwrap();
        assert!(out.status.success(), "pg-cluster {cmd:?}: {}", text(&out.stderr));
    }
    let body = r#"{"type":"FeatureCollection","features":[{"type":"Feature","id":"after-restart",
        "geometry":{"type":"Point","coordinates":[39.4154811,48.6111027]},
        "properties":{"kind":"construction","observed_at":"2015-03-09T10:00:00Z",
        "source":{"id":"team-3","kind":"ground_team","reliability":"A","credibility":1}}}]}"#;
    let started = std::time::Instant::now();
    while try_post(&addrs[1], &token, body) != Some(200) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the replica did not take writes again after PostgreSQL restarted: {}",
            b.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    eprintln!("writes taken again {:?} after PostgreSQL restarted", started.elapsed());
    let stored = psql(&pg, "SELECT COUNT(*) FROM observations WHERE obs_id = 'after-restart'");
    assert_eq!(stored.trim(), "1");
    drop(b);
}
