//! `truce ingest` as a user runs it: per-file counts, exit codes, duplicates, and a process
//! killed mid-ingest that loses no committed batch and resumes cleanly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const AGREEMENT: &str = "scenarios/donbas-2015/agreement.toml";

fn truce(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_truce"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("truce-ingest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn count(db: &Path, sql: &str) -> i64 {
    try_count(db, sql).unwrap()
}

/// None while the store is still being created by another process.
fn try_count(db: &Path, sql: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row(sql, [], |r| r.get(0)).ok()
}

/// A synthetic FIRMS export of `rows` distinct hotspots over the Donbas.
fn firms_file(path: &Path, rows: usize) {
    let mut s = String::from(
        "latitude,longitude,brightness,scan,track,acq_date,acq_time,satellite,instrument,confidence,version,bright_t31,frp,daynight\n",
    );
    for i in 0..rows {
        let lat = 47.0 + (i % 1000) as f64 * 0.002;
        let lon = 37.0 + (i / 1000) as f64 * 0.001;
        s.push_str(&format!(
            "{lat:.5},{lon:.5},330.1,0.41,0.45,2015-03-{:02},{},N,VIIRS,n,2.0NRT,290.2,3.1,D\n",
            1 + i % 28,
            1000 + i % 59
        ));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn ingest_counts_accepted_duplicates_and_rejected() {
    let dir = tempdir("counts");
    let db = dir.join("t.gpkg");
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
    let args = [
        "ingest",
        "--db",
        db.to_str().unwrap(),
        "--agreement",
        AGREEMENT,
        csv.to_str().unwrap(),
    ];
    let out = truce(&args);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("partner.csv: 2 accepted, 0 duplicate, 2 rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("line 3:"), "{stdout}");
    assert!(stdout.contains("line 4:"), "{stdout}");
    assert_eq!(count(&db, "SELECT count(*) FROM rejected_records"), 2);
    let raw: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT raw FROM rejected_records ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(raw.contains("38.0,98.0"), "raw text kept: {raw}");

    // The same file again: nothing new, duplicates counted, rejections still reported.
    let out = truce(&args);
    assert!(
        text(&out.stdout).contains("partner.csv: 0 accepted, 2 duplicate, 2 rejected"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(count(&db, "SELECT count(*) FROM observations"), 2);

    // A fatal error: an unreadable file exits 1 and says which.
    let out = truce(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        "--agreement",
        AGREEMENT,
        "no/such.csv",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read no/such.csv"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn killed_ingest_loses_no_committed_batch_and_resumes() {
    let dir = tempdir("kill");
    let db = dir.join("t.gpkg");
    let feed = dir.join("big_firms.csv");
    const ROWS: usize = 120_000;
    firms_file(&feed, ROWS);
    let mut child = Command::new(env!("CARGO_BIN_EXE_truce"))
        .args([
            "ingest",
            "--db",
            db.to_str().unwrap(),
            "--agreement",
            AGREEMENT,
            feed.to_str().unwrap(),
        ])
        .current_dir(root())
        .spawn()
        .unwrap();
    // Wait until at least one batch is committed, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if db.exists() && try_count(&db, "SELECT count(*) FROM batches").unwrap_or(0) >= 1 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest finished before it could be killed; make the file larger"
        );
        assert!(
            Instant::now() < deadline,
            "no batch committed within 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let batches = count(&db, "SELECT count(*) FROM batches");
    let stored = count(&db, "SELECT count(*) FROM observations");
    let accepted_in_batches = count(&db, "SELECT coalesce(sum(accepted), 0) FROM batches");
    assert!(
        stored > 0 && (stored as usize) < ROWS,
        "killed mid-file: {stored} of {ROWS} stored"
    );
    assert_eq!(
        stored, accepted_in_batches,
        "every committed batch is complete, nothing half-written"
    );
    assert_eq!(
        stored as usize % 10_000,
        0,
        "only whole batches of 10,000 were committed ({batches} batches)"
    );
    drop(conn);

    // Re-run: the store opens cleanly, the rest goes in, what was committed counts as duplicates.
    let out = truce(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        "--agreement",
        AGREEMENT,
        feed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let expect = format!(
        "{} accepted, {stored} duplicate, 0 rejected",
        ROWS as i64 - stored
    );
    assert!(
        text(&out.stdout).contains(&expect),
        "{} lacks {expect}",
        text(&out.stdout)
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM observations") as usize,
        ROWS
    );
}
