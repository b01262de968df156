//! The web app (`/`, `/app/`) in a real browser: Debian's `chromium` driven headless by
//! Selenium (`tests/dashboard/drive.py`) against `truce serve` on a demo store. Each role sees
//! only what the API gives it (counted against the API), an analyst's decision from the queue
//! is logged and shows on the incident page, proofs verify in the browser and a tampered one
//! fails, a party disputes, a team answers its task from its page, the public sees published
//! incidents only, live alerts arrive
//! without reload, a revoked token's page stops following the stream and returns to sign-in,
//! the period (dates, slider, *now*) filters the map and the queue as the API does, origins
//! of fire, strike–firing links and task destinations are drawn as the API gives them, and
//! the language switch changes every label. Screenshots of every view go
//! to `target/dashboard-screenshots/`.
//!
//! Needs `python3` with `selenium`, `chromium` and `chromium-driver`, and axe-core in
//! `tests/dashboard/node_modules` (`scripts/test` installs them all). A missing one fails the
//! test; it is never skipped.

mod common;

use std::process::Command;

use common::{Demo, Server, get, json_of, ok, root, s};

#[test]
fn the_app_is_served_with_a_strict_policy_and_the_landing_json_stays() {
    let demo = Demo::new("dashboard", "assets");
    let server = Server::start(&demo.db, &[], None);
    // A browser asking for `/` gets the app; an API client the OGC landing document.
    let page = get(
        &server.addr,
        "/",
        None,
        &["Accept: text/html,application/xhtml+xml"],
    );
    assert_eq!(page.status, 200);
    assert!(
        page.content_type.starts_with("text/html"),
        "{}",
        page.content_type
    );
    assert!(page.text().contains("/app/app.js"), "{}", page.text());
    let landing = get(&server.addr, "/", None, &["Accept: application/json"]);
    assert!(landing.json()["links"].is_array(), "{}", landing.text());
    let plain = get(&server.addr, "/", None, &[]);
    assert!(plain.json()["links"].is_array(), "{}", plain.text());
    // Assets: the vendored MapLibre with its licence, a CSP without inline script, ETag and 304.
    for path in [
        "/app/",
        "/app/app.js",
        "/app/vendor/maplibre-gl/maplibre-gl-csp.js",
        "/app/vendor/maplibre-gl/LICENSE.txt",
    ] {
        let r = get(&server.addr, path, None, &[]);
        assert_eq!(r.status, 200, "{path}");
        let csp = r.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self';") && !csp.contains("unsafe-eval"),
            "{path}: {csp}"
        );
        let tag = r.header("etag").expect("an ETag");
        let again = get(
            &server.addr,
            path,
            None,
            &[&format!("If-None-Match: {tag}")],
        );
        assert_eq!(again.status, 304, "{path}");
    }
    assert!(
        get(
            &server.addr,
            "/app/vendor/maplibre-gl/LICENSE.txt",
            None,
            &[]
        )
        .text()
        .contains("MapLibre contributors")
    );
    assert_eq!(get(&server.addr, "/app/nope.js", None, &[]).status, 404);
    // whoami names the role, and the log's verifier key.
    let me = common::get_json(&server.addr, "/api/whoami", Some(&demo.token("analyst")));
    assert_eq!(me["role"], "analyst");
    assert_eq!(me["name"], "analyst-1");
    assert!(
        me["log_key"]
            .as_str()
            .unwrap()
            .starts_with("truce.local/demo+"),
        "{me}"
    );
    let public = common::get_json(&server.addr, "/api/whoami", None);
    assert_eq!(public["role"], "public");
}

#[test]
fn every_role_in_a_real_browser() {
    let demo = Demo::new("dashboard", "browser");
    // One published no-fire incident, so the public has something to see.
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
    demo.publish(&published, "analyst-1", "dashboard test");
    let server = Server::start(
        &demo.db,
        &["--rate", "100000"],
        Some(&demo.dir.join("serve.log")),
    );
    // A liaison officer's token the test revokes while the page follows the alert stream.
    let revocable = common::token(&demo.db, "party:UA", "revoked-liaison");
    let listed = ok(&["token", "list", "--db", s(&demo.db)]);
    let revocable_id = listed
        .lines()
        .find(|l| l.contains("revoked-liaison"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the new token listed")
        .to_string();
    let shots = root().join("target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = root().join("tests/dashboard/drive.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(server.url())
        .arg(demo.token("analyst"))
        .arg(demo.token("party:RU"))
        .arg(&published)
        .arg(&shots)
        .arg(demo.token("team:team-1"))
        .arg(&revocable)
        .arg(env!("CARGO_BIN_EXE_truce"))
        .arg(&demo.db)
        .arg(&revocable_id)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): this test needs python3 with selenium, chromium and \
                 chromium-driver; scripts/test installs them"
            )
        });
    assert!(
        status.success(),
        "tests/dashboard/drive.py failed ({status}); see its output above; server log: {}",
        server.log()
    );
}

/// A deployment's online map style: served from another origin (a MapLibre style JSON with
/// CORS, as tile servers answer), named by `truce serve --map-style`; the app's config says so,
/// the pages' policy lets that origin in (and nothing else more), and in the browser the map
/// draws that style under the terms and incidents instead of the bundled basemap.
#[test]
fn an_online_map_style_is_drawn_under_the_terms() {
    use std::io::{Read, Write};
    let demo = Demo::new("dashboard", "style");
    let name = "truce-test-online-style";
    let style = format!(
        r##"{{"version":8,"name":"{name}","sources":{{}},"layers":[{{"id":"paper","type":"background","paint":{{"background-color":"#dfe9d8"}}}}]}}"##
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{style}",
                style.len()
            );
        }
    });
    let url = format!("{origin}/styles/test.json");
    let server = Server::start(&demo.db, &["--map-style", &url], None);
    let config = common::get_json(&server.addr, "/app/config.json", None);
    assert_eq!(config["map_style"], url.as_str());
    let page = get(&server.addr, "/app/", None, &[]);
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains(&format!("connect-src 'self' {origin};"))
            && csp.contains("script-src 'self';"),
        "{csp}"
    );
    // Without the option: no style, and the policy as before.
    let plain = Server::start(&demo.db, &[], None);
    assert!(common::get_json(&plain.addr, "/app/config.json", None)["map_style"].is_null());
    let bad = common::truce(&[
        "serve",
        "--db",
        s(&demo.db),
        "--map-style",
        "ftp://x/s.json",
    ]);
    assert!(
        !bad.status.success() && common::text(&bad.stderr).contains("--map-style"),
        "{}",
        common::text(&bad.stderr)
    );
    let shots = root().join("target/dashboard-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let status = Command::new("python3")
        .arg(root().join("tests/dashboard/style.py"))
        .arg(server.url())
        .arg(name)
        .arg(shots.join("online-style.png"))
        .status()
        .expect("python3 with selenium, chromium and chromium-driver (scripts/test installs them)");
    assert!(
        status.success(),
        "tests/dashboard/style.py failed ({status})"
    );
}
