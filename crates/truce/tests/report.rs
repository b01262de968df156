//! `truce report`: a report is a pure function of the log at a checkpoint (made again at the
//! same size, every file is byte-identical), its SHA-256s are logged as a `report` entry, and
//! an audience sees exactly what the API shows its role: a public report holds no source id,
//! no unpublished incident, and each incident as the public API gives it.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{Demo, Server, get, get_json, json_of, ok, s, truce};
use serde_json::Value;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        out.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path()).unwrap(),
        );
    }
    out
}

/// A PNG's width, height and RGBA pixels, after checking its signature and IHDR.
fn decode_png(name: &str, bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{name} has no PNG signature"
    );
    assert_eq!(
        &bytes[12..16],
        b"IHDR",
        "{name}: IHDR is not the first chunk"
    );
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap_or_else(|e| panic!("{name} does not decode: {e}"));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (w, h), "{name}: IHDR and frame");
    assert_eq!(info.color_type, png::ColorType::Rgba, "{name}");
    buf.truncate(info.buffer_size());
    (w, h, buf)
}

/// How many pixels of `rgba` (width `w`) inside `rows` × `cols` satisfy `keep`.
fn count_pixels(
    rgba: &[u8],
    w: u32,
    rows: std::ops::Range<u32>,
    cols: std::ops::Range<u32>,
    keep: impl Fn(&[u8]) -> bool,
) -> usize {
    let mut n = 0;
    for y in rows {
        for x in cols.clone() {
            let i = ((y * w + x) * 4) as usize;
            if let Some(p) = rgba.get(i..i + 4) {
                n += usize::from(keep(p));
            }
        }
    }
    n
}

/// Dark enough to be text (black, anti-aliased) and no colour a chart bar is drawn in.
fn dark(p: &[u8]) -> bool {
    p[0] < 100 && p[1] < 100 && p[2] < 100
}

fn report_json(dir: &Path) -> Value {
    json_of(&std::fs::read_to_string(dir.join("report.json")).unwrap())
}

/// The number after `prefix` on the line of `out` that has it.
fn number_after(out: &str, prefix: &str) -> u64 {
    let at = out
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix:?} in:\n{out}"));
    out[at + prefix.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Lower-case hex SHA-256, as a `report` entry writes each file's.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The text of a PDF, as Poppler's `pdftotext` reads it.
fn pdf_text(pdf: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is needed; scripts/test installs it");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn reports_are_reproducible_logged_and_filtered_by_audience() {
    let demo = Demo::new("truce-report", "audiences");
    let db = s(&demo.db);

    // The day with most incidents in breach; publish two of them.
    let lines = ok(&["incidents", "--db", db, "--json", "--limit", "100000"]);
    let mut by_day: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for l in lines.lines() {
        let v = json_of(l);
        if v["rules"].as_array().is_some_and(|r| !r.is_empty()) {
            by_day
                .entry(v["start"].as_str().unwrap()[..10].to_string())
                .or_default()
                .push(v["id"].as_str().unwrap().to_string());
        }
    }
    let (day, ids) = by_day
        .iter()
        .max_by_key(|(d, ids)| (ids.len(), std::cmp::Reverse((*d).clone())))
        .unwrap();
    assert!(
        ids.len() >= 4,
        "the demo's busiest day has {} incidents",
        ids.len()
    );
    let published: BTreeSet<String> = ids.iter().take(2).cloned().collect();
    for id in &published {
        demo.publish(id, "analyst-1", "confirmed by two patrols");
    }

    // Staff, logged.
    let staff = demo.dir.join("staff");
    let out = ok(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--audience",
        "staff",
        "--out",
        s(&staff),
    ]);
    let size = number_after(&out, "made from log size ");
    let seq = number_after(&out, "logged as entry ");
    assert_eq!(
        seq, size,
        "the report entry follows the checkpoint it was made at"
    );
    let staff_files = files(&staff);
    for f in [
        "report.html",
        "report.pdf",
        "report.json",
        "map.svg",
        "chart.svg",
        "chart-by-rule.svg",
        "chart-by-sector.svg",
        "map.png",
        "chart.png",
        "chart-by-rule.png",
        "chart-by-sector.png",
    ] {
        assert!(staff_files.contains_key(f), "no {f} in {staff_files:?}");
    }
    // The figures as PNG: 2 pixels a figure unit (the map is 800 × 520 units, a chart
    // 800 × 220), the contact line drawn in its colour, the y-axis labels drawn as text.
    let (w, h, map) = decode_png("map.png", &staff_files["map.png"]);
    assert_eq!((w, h), (1600, 1040), "map.png's size");
    let line = count_pixels(&map, w, 0..h, 0..w, |p| p[..3] == [0xb0, 0x00, 0x1e]);
    assert!(
        line > 1000,
        "map.png has {line} pixels of the contact line's colour"
    );
    for chart in ["chart.png", "chart-by-rule.png", "chart-by-sector.png"] {
        let (w, h, px) = decode_png(chart, &staff_files[chart]);
        assert_eq!((w, h), (1600, 440), "{chart}'s size");
        // Left of the y axis (40 units) there is nothing but its labels: text.
        let labels = count_pixels(&px, w, 0..h, 0..70, dark);
        assert!(
            labels > 30,
            "{chart}: {labels} dark pixels of y-axis labels"
        );
    }
    let pdf = &staff_files["report.pdf"];
    assert!(pdf.starts_with(b"%PDF-") && pdf.ends_with(b"%%EOF\n") || pdf.ends_with(b"%%EOF"));
    let pdf_raw = String::from_utf8_lossy(pdf);
    for needle in [
        "/FontFile2",
        "/ToUnicode",
        "/Identity-H",
        "+DejaVuSans",
        "/FlateDecode",
    ] {
        assert!(pdf_raw.contains(needle), "the PDF lacks {needle}");
    }
    let staff_ids: BTreeSet<String> = report_json(&staff)["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        staff_ids,
        ids.iter().cloned().collect::<BTreeSet<_>>(),
        "staff see every incident in breach of the day"
    );

    // Logging the report left the incidents and tasks level with the log.
    // (`--check` exits 1 when a rebuilt table differs from what was there.)
    ok(&["rebuild", "--db", db, "--check"]);

    // The report entry holds each file's SHA-256 and what it was made from.
    let conn = rusqlite::Connection::open(&demo.db).unwrap();
    let (kind, body): (String, String) = conn
        .query_row(
            "SELECT kind, CAST(body AS TEXT) FROM entries WHERE seq = ?1",
            [seq as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(kind, "report");
    let entry = json_of(&body);
    assert_eq!(entry["log_size"], size);
    assert_eq!(entry["audience"], "staff");
    assert_eq!(entry["subject"], day.as_str());
    for (name, bytes) in &staff_files {
        let hex = sha256_hex(bytes);
        assert_eq!(
            entry["files"][name],
            hex.as_str(),
            "{name}'s hash in the log"
        );
    }

    // Made again at that size from the store, with the verifier key only: byte-identical.
    let vkey = std::fs::read_to_string(demo.dir.join("log.vkey")).unwrap();
    let again = demo.dir.join("staff-again");
    ok(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--audience",
        "staff",
        "--at",
        &size.to_string(),
        "--key",
        vkey.trim(),
        "--no-log",
        "--out",
        s(&again),
    ]);
    assert_eq!(
        files(&again),
        staff_files,
        "the same report at the same size"
    );
    // A wrong key does not make a report.
    let other = demo.dir.join("other.key");
    ok(&["log", "keygen", "someone.else", "--out", s(&other)]);
    let wrong = truce(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--at",
        &size.to_string(),
        "--no-log",
        "--log-key",
        s(&other),
        "--out",
        s(&demo.dir.join("wrong")),
    ]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("does not verify"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    // Public, in Ukrainian: published incidents only, as the public API shows them, and no
    // source id anywhere in any file.
    let public = demo.dir.join("public");
    ok(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--audience",
        "public",
        "--lang",
        "uk",
        "--out",
        s(&public),
    ]);
    let pj = report_json(&public);
    let public_ids: BTreeSet<String> = pj["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        public_ids, published,
        "the public sees the published incidents only"
    );
    let html = String::from_utf8(files(&public)["report.html"].clone()).unwrap();
    assert!(html.contains("Щоденний звіт"), "the Ukrainian title");
    // The PDF, read back by Poppler: real Ukrainian text (not boxes), every section, the
    // published incidents and none other, the log size; and its pages render.
    let text = pdf_text(&public.join("report.pdf"))
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let words: BTreeSet<&str> = text.split(' ').collect();
    for needle in [
        "Щоденний звіт",
        "Підсумок",
        "Карта",
        "Інциденти",
        "Застереження щодо покриття",
        "Як перевірити цей звіт",
        &format!("{}: 2", day),
    ] {
        assert!(
            text.contains(needle),
            "the public PDF lacks {needle:?}:\n{text}"
        );
    }
    for id in &published {
        assert!(words.contains(id.as_str()), "the public PDF lacks {id}");
    }
    for id in staff_ids.difference(&published) {
        assert!(!words.contains(id.as_str()), "the public PDF names {id}");
    }
    let pages = public.join("page");
    let rendered = std::process::Command::new("pdftoppm")
        .args(["-r", "40", "-png"])
        .arg(public.join("report.pdf"))
        .arg(&pages)
        .status()
        .expect("pdftoppm (poppler-utils; scripts/test installs it)");
    assert!(rendered.success());
    assert!(public.join("page-1.png").exists() || public.join("page-01.png").exists());
    let sources: Vec<String> = conn
        .prepare("SELECT DISTINCT source_id FROM observations")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(sources.len() > 10 && sources.iter().any(|s| s == "team-1"));
    for (name, bytes) in files(&public) {
        let text = String::from_utf8_lossy(&bytes);
        for src in &sources {
            assert!(
                !text.contains(src.as_str()),
                "{name} names the source {src}"
            );
        }
        for id in staff_ids.difference(&published) {
            assert!(
                !text.contains(&format!("{id}<")) && !text.contains(&format!("\"{id}\"")),
                "{name} names the unpublished {id}"
            );
        }
    }
    let server = Server::start(&demo.db, &["--rate", "5000"], None);
    let api = get_json(&server.addr, "/api/incidents?limit=1000", None);
    let api_by_id: BTreeMap<&str, &Value> = api["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap(), v))
        .collect();
    for v in pj["incidents"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        assert_eq!(
            Some(&v),
            api_by_id.get(id),
            "{id}: the report and the public API"
        );
    }

    // Served: the same function at the server's latest checkpoint, byte for byte the CLI's.
    let days = get_json(&server.addr, "/api/reports", None);
    assert_eq!(days["audience"], "public");
    let public_days: Vec<&str> = days["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(
        public_days,
        vec![day.as_str()],
        "the public sees the published day only"
    );
    // Issued: the public report logged above, not the staff one.
    let issued: Vec<(String, u64)> = days["issued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["audience"].as_str().unwrap().to_string(),
                r["seq"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(issued.len(), 1, "{issued:?}");
    assert_eq!(issued[0].0, "public");
    let staff_issued = get_json(&server.addr, "/api/reports", Some(&demo.token("analyst")));
    assert_eq!(staff_issued["issued"].as_array().unwrap().len(), 2);
    assert_eq!(staff_issued["issued"][0]["seq"], seq);
    let served = get(
        &server.addr,
        &format!("/api/reports/daily/{day}?lang=uk"),
        None,
        &[],
    );
    assert_eq!(served.status, 200, "{}", served.text());
    assert!(served.content_type.starts_with("text/html"));
    let served_size = served.header("x-truce-log-size").unwrap();
    let cli = demo.dir.join("public-cli");
    ok(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--audience",
        "public",
        "--lang",
        "uk",
        "--at",
        &served_size,
        "--no-log",
        "--out",
        s(&cli),
    ]);
    assert_eq!(
        served.body,
        files(&cli)["report.html"],
        "GET /api/reports/daily/{day} and truce report at size {served_size}"
    );
    let party = get(
        &server.addr,
        &format!("/api/reports/daily/{day}?file=report.json"),
        Some(&demo.token("party:UA")),
        &[],
    );
    assert_eq!(party.status, 200, "{}", party.text());
    assert_eq!(party.json()["audience"], "party:UA");
    // Each file served for the public, in Ukrainian, is the CLI's byte for byte.
    let cli_files = files(&cli);
    let served_as_cli = |path: &str, name: &str, content_type: &str| {
        let served = get(&server.addr, path, None, &[]);
        assert_eq!(served.status, 200, "{path}: {}", served.text());
        assert_eq!(served.content_type, content_type, "{path}");
        assert_eq!(served.body, cli_files[name], "{path}");
        served
    };
    served_as_cli(
        &format!("/api/reports/daily/{day}?lang=uk&file=report.pdf"),
        "report.pdf",
        "application/pdf",
    );
    let served_png = served_as_cli(
        &format!("/api/reports/daily/{day}?lang=uk&file=chart-by-sector.png"),
        "chart-by-sector.png",
        "image/png",
    );
    // `/api/reports/{day}`, the path the issue names, is the same report.
    served_as_cli(
        &format!("/api/reports/{day}?lang=uk&file=report.pdf"),
        "report.pdf",
        "application/pdf",
    );
    // The legend over the bars (its first 20 units) is Ukrainian text drawn from the font's
    // Cyrillic outlines: its swatches are coloured, so the dark pixels there are letters.
    let (w, _, px) = decode_png("chart-by-sector.png", &served_png.body);
    let legend = count_pixels(&px, w, 0..40, 100..w, dark);
    assert!(legend > 200, "{legend} dark pixels of the Ukrainian legend");
    let bad = get(
        &server.addr,
        &format!("/api/reports/daily/{day}?file=../x"),
        None,
        &[],
    );
    assert_eq!(bad.status, 400, "{}", bad.text());

    // A spot report on an unpublished incident is refused for the public, made for staff.
    let spot_public = get(
        &server.addr,
        &format!(
            "/api/reports/spot/{}",
            staff_ids.difference(&published).next().unwrap()
        ),
        None,
        &[],
    );
    assert_eq!(spot_public.status, 404, "{}", spot_public.text());
    let hidden = staff_ids.difference(&published).next().unwrap();
    let refused = truce(&[
        "report",
        "spot",
        "--db",
        db,
        "--incident",
        hidden,
        "--no-log",
        "--out",
        s(&demo.dir.join("spot-public")),
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not shown to the audience public"));
    let spot = demo.dir.join("spot-staff");
    ok(&[
        "report",
        "spot",
        "--db",
        db,
        "--incident",
        hidden,
        "--audience",
        "staff",
        "--lang",
        "ru",
        "--out",
        s(&spot),
    ]);
    let sj = report_json(&spot);
    assert_eq!(sj["incidents"][0]["id"], hidden.as_str());
    assert!(
        String::from_utf8(files(&spot)["report.html"].clone())
            .unwrap()
            .contains("Оперативное сообщение")
    );
    // Russian as real text in the PDF too (a font without Cyrillic would give boxes).
    let text = pdf_text(&spot.join("report.pdf"));
    for words in ["Оперативное сообщение", "История", hidden.as_str()] {
        assert!(
            text.contains(words),
            "{words:?} not in the Russian spot PDF"
        );
    }
}

/// `truce serve --daily-report-at`: at that time the previous day's report is written for
/// every edition and each one logged with its files' SHA-256.
#[test]
fn serve_makes_and_logs_the_nightly_reports() {
    let demo = Demo::new("truce-report", "nightly");
    let dir = demo.dir.join("nightly");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%H:%M:%S")
        .to_string();
    let conn = rusqlite::Connection::open(&demo.db).unwrap();
    let reports = |conn: &rusqlite::Connection| -> Vec<Value> {
        conn.prepare("SELECT CAST(body AS TEXT) FROM entries WHERE kind = 'report' ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|b| json_of(&b.unwrap()))
            .collect()
    };
    assert!(reports(&conn).is_empty());
    let server = Server::start(
        &demo.db,
        &["--daily-report-at", &at, "--reports-dir", s(&dir)],
        None,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let logged = loop {
        let r = reports(&conn);
        if r.len() >= 6 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    drop(server);
    // Public in three languages, each party, staff.
    let editions: BTreeSet<(String, String)> = logged
        .iter()
        .map(|e| {
            (
                e["audience"].as_str().unwrap().to_string(),
                e["lang"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("public", "en"),
        ("public", "uk"),
        ("public", "ru"),
        ("party:RU", "en"),
        ("party:UA", "en"),
        ("staff", "en"),
    ]
    .iter()
    .map(|(a, l)| (a.to_string(), l.to_string()))
    .collect();
    assert_eq!(editions, want, "{logged:?}");
    for e in &logged {
        let day = e["subject"].as_str().unwrap();
        let edition = dir.join(day).join(format!(
            "{}-{}",
            e["audience"].as_str().unwrap().replace(':', "-"),
            e["lang"].as_str().unwrap()
        ));
        let written = files(&edition);
        assert_eq!(written.len(), 11, "{}", edition.display());
        for (name, bytes) in &written {
            let hex = sha256_hex(bytes);
            assert_eq!(
                e["files"][name],
                hex.as_str(),
                "{}/{name}",
                edition.display()
            );
        }
    }
    ok(&["log", "verify", "--db", s(&demo.db)]);
}

/// What a daily report's numbers must be, worked out from the incidents a role is given by
/// another surface: the incidents in possible breach that began on `day` (by id), the counts
/// by rule and presumed party (suggested and official apart), and each day's count.
struct Expected {
    incidents: BTreeMap<String, Value>,
    by_rule_suggested: BTreeMap<String, BTreeMap<String, u64>>,
    by_rule_official: BTreeMap<String, BTreeMap<String, u64>>,
    per_day: BTreeMap<String, u64>,
}

fn expected(views: &[Value], day: &str) -> Expected {
    let mut e = Expected {
        incidents: BTreeMap::new(),
        by_rule_suggested: BTreeMap::new(),
        by_rule_official: BTreeMap::new(),
        per_day: BTreeMap::new(),
    };
    for v in views {
        let rules: Vec<&str> = v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        if rules.is_empty() {
            continue;
        }
        let start = &v["start"].as_str().unwrap()[..10];
        *e.per_day.entry(start.to_string()).or_default() += 1;
        if start != day {
            continue;
        }
        e.incidents
            .insert(v["id"].as_str().unwrap().to_string(), v.clone());
        for r in rules {
            for (field, map) in [
                ("suggested_party", &mut e.by_rule_suggested),
                ("attributed_party", &mut e.by_rule_official),
            ] {
                let party = v[field].as_str().unwrap_or("none").to_string();
                *map.entry(r.to_string())
                    .or_default()
                    .entry(party)
                    .or_default() += 1;
            }
        }
    }
    e
}

/// Holds a report's `report.json` to what `expected` worked out from another surface.
fn check_numbers(who: &str, report: &Value, e: &Expected) {
    let got: BTreeMap<String, Value> = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v.clone()))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        e.incidents.keys().collect::<Vec<_>>(),
        "{who}: the incidents listed"
    );
    for (id, v) in &got {
        assert_eq!(Some(v), e.incidents.get(id), "{who}: {id} as listed");
    }
    let counts = |m: &Value| -> BTreeMap<String, BTreeMap<String, u64>> {
        serde_json::from_value(m.clone()).unwrap()
    };
    assert_eq!(
        counts(&report["by_rule_suggested"]),
        e.by_rule_suggested,
        "{who}: by rule and party suggested by evidence"
    );
    assert_eq!(
        counts(&report["by_rule_official"]),
        e.by_rule_official,
        "{who}: by rule and party attributed by analysts"
    );
    // Every day of the chart: its count, whatever the areas it is split by.
    let per_day = report["per_day"].as_object().unwrap();
    assert_eq!(per_day.len(), 31, "{who}: 30 days and the day");
    for (d, by_area) in per_day {
        let n: u64 = by_area
            .as_object()
            .unwrap()
            .values()
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(
            n,
            e.per_day.get(d).copied().unwrap_or(0),
            "{who}: incidents in possible breach that began on {d}"
        );
    }
    // The sector chart places each of the day's incidents once.
    let placed: u64 = report["by_sector"]
        .as_array()
        .unwrap()
        .iter()
        .chain(std::iter::once(&report["by_sector_no_place"]))
        .map(|s| {
            [
                "explosions_impacts",
                "firing_launches",
                "other",
                "kind_not_shown",
            ]
            .iter()
            .map(|k| s[*k].as_u64().unwrap())
            .sum::<u64>()
        })
        .sum();
    assert_eq!(placed, e.incidents.len() as u64, "{who}: the sector chart");
}

/// One definition of each fact: a staff report's numbers are what `truce incidents --json`
/// (the staff's view) gives for that day, and a party's what the REST API gives that party —
/// the incidents listed (each exactly as given), the counts by rule and presumed party, each
/// day's count; and the sector chart counts by kind, as the incidents' kinds say.
#[test]
fn a_reports_numbers_are_what_the_cli_and_the_api_give_that_role() {
    let demo = Demo::new("truce-report", "numbers");
    let db = s(&demo.db);
    let views = |out: &str| -> Vec<Value> { out.lines().map(json_of).collect() };
    let all = views(&ok(&[
        "incidents",
        "--db",
        db,
        "--json",
        "--limit",
        "100000",
    ]));
    let mut by_day: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for v in &all {
        if v["rules"].as_array().is_some_and(|r| !r.is_empty()) {
            by_day
                .entry(v["start"].as_str().unwrap()[..10].to_string())
                .or_default()
                .push(v);
        }
    }
    let (day, on_day) = by_day
        .iter()
        .max_by_key(|(d, ids)| (ids.len(), std::cmp::Reverse((*d).clone())))
        .unwrap();
    // An official attribution, so the two columns of presumed parties differ.
    let attributed = on_day
        .iter()
        .find(|v| v["suggested_party"].is_string())
        .expect("an incident the evidence suggests a party for")["id"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [vec!["verify"], vec!["attribute", "RU"]] {
        let mut a = vec![
            "decide",
            "--db",
            db,
            &attributed,
            "--actor",
            "analyst-1",
            "--reason",
            "two patrols and the crater analysis",
        ];
        a.splice(4..4, args);
        ok(&a);
    }
    let all = views(&ok(&[
        "incidents",
        "--db",
        db,
        "--json",
        "--limit",
        "100000",
    ]));
    let staff_expected = expected(&all, day);
    assert!(staff_expected.incidents.len() >= 4);
    assert_eq!(
        staff_expected.incidents[&attributed]["attributed_party"],
        "RU"
    );
    assert!(
        staff_expected
            .by_rule_official
            .values()
            .any(|m| m.contains_key("RU")),
        "the attribution is counted"
    );

    let staff = demo.dir.join("numbers-staff");
    ok(&[
        "report",
        "daily",
        "--db",
        db,
        "--day",
        day,
        "--audience",
        "staff",
        "--no-log",
        "--out",
        s(&staff),
    ]);
    let sj = report_json(&staff);
    check_numbers("staff", &sj, &staff_expected);
    // By kind: the staff is shown kinds, so none is "not shown", and the day holds both
    // explosions (or impacts) and firing.
    let total = |k: &str| -> u64 {
        sj["by_sector"]
            .as_array()
            .unwrap()
            .iter()
            .chain(std::iter::once(&sj["by_sector_no_place"]))
            .map(|s| s[k].as_u64().unwrap())
            .sum()
    };
    let kinds_of = |want: &dyn Fn(&[&str]) -> bool| -> u64 {
        staff_expected
            .incidents
            .values()
            .filter(|v| {
                let k: Vec<&str> = v["kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect();
                want(&k)
            })
            .count() as u64
    };
    let strikes = kinds_of(&|k| k.contains(&"explosion") || k.contains(&"impact"));
    let firing =
        kinds_of(&|k| k.contains(&"firing") && !k.contains(&"explosion") && !k.contains(&"impact"));
    assert!(
        strikes > 0 && firing > 0,
        "{strikes} strikes, {firing} firing"
    );
    assert_eq!(total("explosions_impacts"), strikes);
    assert_eq!(total("firing_launches"), firing);
    assert_eq!(
        total("other"),
        staff_expected.incidents.len() as u64 - strikes - firing
    );
    assert_eq!(total("kind_not_shown"), 0);

    // A party: its report against the REST API with its token, page by page.
    let server = Server::start(&demo.db, &["--rate", "5000"], None);
    for party in ["party:UA", "party:RU"] {
        let token = demo.token(party);
        let mut given = Vec::new();
        let mut offset = 0;
        loop {
            let page = get_json(
                &server.addr,
                &format!("/api/incidents?limit=1000&offset={offset}"),
                Some(&token),
            );
            given.extend(page["incidents"].as_array().unwrap().iter().cloned());
            match page["next_offset"].as_u64() {
                Some(n) => offset = n,
                None => break,
            }
        }
        let party_expected = expected(&given, day);
        let out = demo
            .dir
            .join(format!("numbers-{}", party.replace(':', "-")));
        ok(&[
            "report",
            "daily",
            "--db",
            db,
            "--day",
            day,
            "--audience",
            party,
            "--no-log",
            "--out",
            s(&out),
        ]);
        let pj = report_json(&out);
        check_numbers(party, &pj, &party_expected);
        // A party is shown no source and no observation seq, in the report as in the API.
        let text = std::fs::read_to_string(out.join("report.json")).unwrap();
        assert!(
            !text.contains("observation_seqs"),
            "{party}: observation seqs"
        );
    }
    // A party that is shown at least one of the day's incidents makes the comparison bite.
    let ua = report_json(&demo.dir.join("numbers-party-UA"));
    let ru = report_json(&demo.dir.join("numbers-party-RU"));
    assert!(
        ua["incidents"].as_array().unwrap().len() + ru["incidents"].as_array().unwrap().len() > 0,
        "the parties are shown none of the day's incidents"
    );
}

/// A spot report's map is an inset of its incident: for staff the observations of its
/// evidence chain (each seq, bearings as rays) and the origin of fire with its ellipse; for a
/// party the origin but no observation; for the public neither. Made again, byte-identical.
#[test]
fn a_spot_report_maps_its_incident_for_each_audience() {
    let demo = Demo::new("truce-report", "spot");
    let db = s(&demo.db);
    let all: Vec<Value> = ok(&["incidents", "--db", db, "--json", "--limit", "100000"])
        .lines()
        .map(json_of)
        .collect();
    let inc = all
        .iter()
        .find(|v| v["origin"].is_object() && v["rules"].as_array().is_some_and(|r| !r.is_empty()))
        .expect("an incident with an origin of fire");
    let id = inc["id"].as_str().unwrap();
    let seqs: Vec<u64> = inc["observation_seqs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert!(seqs.len() >= 2, "{id}: bearings from two places at least");
    let spot = |audience: &str, name: &str| {
        let out = demo.dir.join(name);
        let r = truce(&[
            "report",
            "spot",
            "--db",
            db,
            "--incident",
            id,
            "--audience",
            audience,
            "--no-log",
            "--out",
            s(&out),
        ]);
        r.status.success().then_some(out)
    };

    let staff = spot("staff", "spot-staff").expect("the staff's spot report");
    let map = std::fs::read_to_string(staff.join("map.svg")).unwrap();
    let sj = report_json(&staff);
    let evidence: Vec<u64> = sj["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(evidence, seqs, "the evidence chain drawn is the incident's");
    for e in sj["evidence"].as_array().unwrap() {
        let seq = e["seq"].as_u64().unwrap();
        assert!(
            map.contains(&format!("<title>seq {seq} ")),
            "no observation {seq} on the map"
        );
        if let Some(b) = e["bearing_deg"].as_f64() {
            assert!(
                map.contains(&format!("{b:.1}°</title>")),
                "no bearing ray for {seq}"
            );
        }
    }
    assert!(map.contains("<ellipse"), "the origin's ellipse");
    assert!(
        map.contains(&format!("<title>{id}</title>")),
        "the incident"
    );
    assert!(map.contains("km</text>"), "a scale bar");
    // An inset: the whole contact line is hundreds of km, the inset's scale bar a few.
    let km: u64 = map
        .split("km</text>")
        .next()
        .unwrap()
        .rsplit('>')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(km <= 20, "a scale bar of {km} km is no inset");
    let text = pdf_text(&staff.join("report.pdf"));
    for needle in [
        "origin of fire",
        "observations (seq) and bearings",
        "Evidence",
    ] {
        assert!(
            text.contains(needle),
            "the staff's spot PDF lacks {needle:?}"
        );
    }
    assert!(
        std::process::Command::new("pdftoppm")
            .args(["-r", "40", "-png", "-f", "1", "-l", "1"])
            .arg(staff.join("report.pdf"))
            .arg(staff.join("page"))
            .status()
            .unwrap()
            .success()
    );
    let again = spot("staff", "spot-staff-again").unwrap();
    for f in ["report.pdf", "report.html", "map.svg", "report.json"] {
        assert_eq!(
            std::fs::read(staff.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f} made again"
        );
    }

    // A party shown the incident: the origin, not the observations.
    let party = ["party:UA", "party:RU"]
        .iter()
        .find_map(|p| spot(p, &format!("spot-{}", p.replace(':', "-"))))
        .expect("a party shown the incident");
    let map = std::fs::read_to_string(party.join("map.svg")).unwrap();
    assert!(map.contains("<ellipse"), "a party is shown the origin");
    assert!(
        !map.contains("<title>seq "),
        "a party is shown no observation"
    );
    assert!(report_json(&party).get("evidence").is_none());

    // The public, once published: neither.
    demo.publish(id, "analyst-1", "two bearings and a crater");
    let public = spot("public", "spot-public").expect("the public's spot report");
    let map = std::fs::read_to_string(public.join("map.svg")).unwrap();
    assert!(!map.contains("<ellipse"), "the public is shown no origin");
    assert!(
        !map.contains("<title>seq "),
        "the public is shown no observation"
    );
    assert!(report_json(&public).get("evidence").is_none());
}

/// A report's coverage caveats are what `GET /api/coverage` gives its audience for that day
/// (one function, `reads::coverage_for`): for the public and a party each sector's
/// `observation` only — no sensor, team, hours or incident count — and for staff everything.
#[test]
fn coverage_caveats_are_what_the_api_gives_each_role() {
    let demo = Demo::new("truce-report", "coverage");
    let db = s(&demo.db);
    let day = "2015-03-01";
    let server = Server::start(&demo.db, &["--rate", "5000"], None);
    let admin = demo.token("admin");
    let party = demo.token("party:UA");
    let path = format!("/api/coverage?from={day}&days=1");
    let before = get_json(&server.addr, &path, Some(&admin));
    let sensors: BTreeSet<String> = before["cells"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["sensors"].as_array().unwrap().iter())
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(
        sensors.len() >= 2,
        "the demo's sensors that day: {sensors:?}"
    );
    // Half the sensors down all day, the others from 08:00: sectors only the first reach are
    // not observed, the others partly observed (unless a team or drone reported from them).
    let features: Vec<String> = sensors
        .iter()
        .enumerate()
        .map(|(i, sensor)| {
            let from = if i % 2 == 0 { "00:00" } else { "08:00" };
            format!(
                r#"{{"type":"Feature","id":"down-{sensor}","geometry":{{"type":"Point","coordinates":[38.0,48.0]}},"properties":{{"kind":"coverage","observed_at":"{day}T{from}:00Z","source":{{"id":"{sensor}","kind":"camera","reliability":"A","credibility":1}},"coverage":{{"sensor":"{sensor}","status":"offline","until":"2015-03-02T00:00:00Z"}}}}}}"#
            )
        })
        .collect();
    let body = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    );
    let (status, reply) = common::http(
        &server.addr,
        "POST",
        "/api/observations",
        Some(&admin),
        Some(&body),
    );
    assert_eq!(status, 200, "{reply}");

    let mut seen = BTreeMap::new();
    for (audience, token) in [
        ("public", None),
        ("party:UA", Some(party.as_str())),
        ("staff", Some(admin.as_str())),
    ] {
        let api = get_json(&server.addr, &path, token);
        let cells = api["cells"].as_array().unwrap();
        assert!(!cells.is_empty(), "{audience}: {api}");
        for c in cells {
            let keys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
            if audience == "staff" {
                for k in ["status", "sensors", "mobile", "watched_hours", "incidents"] {
                    assert!(keys.contains(k), "staff's cell lacks {k}: {c}");
                }
            } else {
                assert_eq!(
                    keys,
                    BTreeSet::from(["sector", "from_km", "to_km", "day", "observation"]),
                    "{audience}'s cell: sector and observation only"
                );
            }
        }
        let expected: Vec<Value> = cells
            .iter()
            .filter(|c| c["day"] == day && c["observation"] != "observed")
            .map(|c| serde_json::json!([c["from_km"], c["to_km"], c["observation"]]))
            .collect();
        let out = demo.dir.join(format!("cov-{}", audience.replace(':', "-")));
        ok(&[
            "report",
            "daily",
            "--db",
            db,
            "--day",
            day,
            "--audience",
            audience,
            "--no-log",
            "--out",
            s(&out),
        ]);
        let caveats = report_json(&out)["coverage_caveats"].clone();
        assert_eq!(
            caveats,
            Value::Array(expected.clone()),
            "{audience}'s report and GET {path}"
        );
        seen.insert(audience, expected);
    }
    let public: BTreeSet<&str> = seen["public"]
        .iter()
        .map(|c| c[2].as_str().unwrap())
        .collect();
    assert!(
        public.contains("not_observed"),
        "a sector no sensor watched is a caveat: {:?}",
        seen["public"]
    );
    assert_eq!(
        seen["public"], seen["party:UA"],
        "the same coverage for both"
    );
}
