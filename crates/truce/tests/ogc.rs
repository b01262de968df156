//! OGC API – Features read by real clients: the `truce` binary serves a demo store, and GDAL
//! (`ogrinfo OAPIF:`), OWSLib (`tests/ogc/owslib_check.py`) and plain HTTP read it as the public,
//! an analyst, a party and a team. Every count is checked against what the store or the CLI
//! says (sqlite, `truce incidents --json`, GDAL reading the GeoPackage itself, the REST API).
//!
//! Needs `ogrinfo` (gdal-bin), `python3` and OWSLib (`pip install owslib`): `scripts/test`
//! installs them. A missing client fails the test; it is never skipped.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Demo, Reply, Server, ok, root, s, text};
use serde_json::Value;

/// Runs an external client; a missing program fails loudly.
fn client(program: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program} ({e}): this test needs GDAL's ogrinfo (Debian gdal-bin), \
                 python3 and OWSLib (pip install owslib); scripts/test installs them"
            )
        });
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A GET as a GeoJSON client asks (`path` may be a full `http://addr/...` link).
fn get(server: &Server, path: &str, token: Option<&str>) -> Reply {
    let path = path.strip_prefix(&server.url()).unwrap_or(path);
    let reply = common::get(
        &server.addr,
        path,
        token,
        &["Accept: application/geo+json, application/json"],
    );
    assert!(!reply.chunked, "chunked replies are not expected");
    reply
}

fn get_ok(server: &Server, path: &str, token: Option<&str>) -> Value {
    let r = get(server, path, token);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r.json()
}

fn link(doc: &Value, rel: &str) -> Option<String> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .map(|l| l["href"].as_str().unwrap().to_string())
}

fn ids(doc: &Value) -> Vec<String> {
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| match &f["id"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

fn collection_ids(doc: &Value) -> Vec<String> {
    doc["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

fn point(v: &Value) -> [f64; 2] {
    [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()]
}

/// `POINT (x y)` lines of ogrinfo's feature dump.
fn ogr_points(out: &str) -> Vec<[f64; 2]> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("POINT ("))
        .map(|l| {
            let v: Vec<f64> = l
                .trim_end_matches(')')
                .split(' ')
                .map(|x| x.parse().unwrap())
                .collect();
            [v[0], v[1]]
        })
        .collect()
}

/// Values of a string field in ogrinfo's feature dump (`  name (String) = value`).
fn ogr_field(out: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name} (String) = ");
    out.lines()
        .filter_map(|l| l.trim().strip_prefix(prefix.as_str()))
        .map(str::to_string)
        .collect()
}

fn ogr_count(out: &str, layer: &str) -> usize {
    out.matches(&format!("OGRFeature({layer}):")).count()
}

/// Equal to ogrinfo's printing precision.
fn near(a: [f64; 2], b: [f64; 2]) -> bool {
    (a[0] - b[0]).abs() < 1e-9 && (a[1] - b[1]).abs() < 1e-9
}

const BBOX: [f64; 4] = [38.0, 48.0, 38.5, 48.5];

fn in_box(p: [f64; 2], b: [f64; 4]) -> bool {
    p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]
}

#[test]
fn ogc_api_features_serves_each_role_what_it_may_see_to_gdal_owslib_and_http() {
    let demo = Demo::new("ogc", "serve");
    let (dir, db) = (demo.dir.clone(), demo.db.clone());

    // Every incident as the CLI lists it (newest first); publish one with a location.
    let listed: Vec<Value> = ok(&["incidents", "--db", s(&db), "--json", "--limit", "1000000"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let total_incidents: i64 = query(&db, "SELECT COUNT(*) FROM incidents");
    assert_eq!(listed.len() as i64, total_incidents);
    assert!(total_incidents > 100, "{total_incidents} incidents");
    let published = listed
        .iter()
        .find(|i| i["location"].is_array() && in_box(point(&i["location"]), BBOX))
        .expect("an incident with a location in the box");
    let published_id = published["id"].as_str().unwrap().to_string();
    let published_at = point(&published["location"]);
    demo.publish(&published_id, "test", "checked on the ground");
    let unpublished_id = listed
        .iter()
        .find(|i| i["id"] != published_id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let analyst = demo.token("analyst");
    let party = demo.token("party:RU");
    let team = demo.token("team:team-1");

    let server = Server::start(&db, &["--rate", "5000"], Some(&dir.join("serve.log")));
    let url = server.url();
    let an = Some(analyst.as_str());

    // --- Landing page, conformance, collections per role -------------------------------------
    let r = get(&server, "/", None);
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/json")
    );
    let landing = r.json();
    assert_eq!(link(&landing, "self").unwrap(), format!("{url}/"));
    assert_eq!(
        link(&landing, "conformance").unwrap(),
        format!("{url}/conformance")
    );
    assert_eq!(
        link(&landing, "data").unwrap(),
        format!("{url}/collections")
    );
    let desc = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .unwrap();
    assert_eq!(desc["href"], format!("{url}/api/openapi.json"));
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    let conf = get_ok(&server, "/conformance", None);
    for c in ["core", "geojson", "oas30"] {
        let uri = format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}");
        assert!(
            conf["conformsTo"]
                .as_array()
                .unwrap()
                .contains(&Value::from(uri))
        );
    }
    let terms = ["zones", "contact_line", "party_areas", "storage_sites"];
    let public_colls = collection_ids(&get_ok(&server, "/collections", None));
    assert_eq!(public_colls, [&["incidents"][..], &terms].concat());
    let analyst_colls = collection_ids(&get_ok(&server, "/collections", an));
    assert_eq!(
        analyst_colls,
        [&["incidents", "observations"][..], &terms].concat()
    );
    let team_colls = collection_ids(&get_ok(&server, "/collections", Some(&team)));
    assert_eq!(team_colls, terms, "a team reads the terms only");
    // What a role may not read is not found, not forbidden.
    for path in [
        "/collections/observations",
        "/collections/observations/items",
        "/collections/observations/items/1",
    ] {
        let r = get(&server, path, None);
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert_eq!(r.json()["code"], "NotFound");
    }
    assert_eq!(
        get(&server, "/collections/incidents/items", Some(&team)).status,
        404
    );
    assert_eq!(get(&server, "/collections/nothing", an).status, 404);
    let coll = get_ok(&server, "/collections/incidents", an);
    assert_eq!(
        link(&coll, "items").unwrap(),
        format!("{url}/collections/incidents/items")
    );
    assert_eq!(
        coll["extent"]["spatial"]["crs"],
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    );

    // --- Items: counts per role equal the store, the CLI and the REST API ---------------------
    let r = get(&server, "/collections/incidents/items?f=json", an);
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (200, "application/geo+json")
    );
    let page = r.json();
    assert_eq!(page["type"], "FeatureCollection");
    assert_eq!(page["numberMatched"], total_incidents);
    assert_eq!(page["numberReturned"], 100, "default limit");
    assert!(page["timeStamp"].as_str().unwrap().ends_with('Z'));
    for (who, tok) in [
        ("public", None),
        ("analyst", an),
        ("party:RU", Some(party.as_str())),
    ] {
        let ogc = get_ok(&server, "/collections/incidents/items?limit=1", tok);
        let rest = get_ok(&server, "/api/incidents?limit=1", tok);
        assert_eq!(
            ogc["numberMatched"], rest["total"],
            "{who}: OGC and REST counts differ"
        );
    }
    let public = get_ok(&server, "/collections/incidents/items", None);
    assert_eq!(
        public["numberMatched"], 1,
        "the public sees the published incident only"
    );
    assert_eq!(ids(&public), std::slice::from_ref(&published_id));
    let coarse = truce_server::auth::coarsen(published_at);
    assert_eq!(
        point(&public["features"][0]["geometry"]["coordinates"]),
        coarse
    );
    assert_ne!(coarse, published_at, "the public location is coarsened");
    assert!(
        public["features"][0]["properties"]
            .get("observation_seqs")
            .is_none()
    );
    let one = get(
        &server,
        &format!("/collections/incidents/items/{published_id}"),
        None,
    );
    assert_eq!(
        (one.status, one.content_type.as_str()),
        (200, "application/geo+json")
    );
    assert_eq!(point(&one.json()["geometry"]["coordinates"]), coarse);
    assert_eq!(
        get(
            &server,
            &format!("/collections/incidents/items/{unpublished_id}"),
            None
        )
        .status,
        404,
        "an unpublished incident is not found for the public"
    );
    let full = get_ok(
        &server,
        &format!("/collections/incidents/items/{published_id}"),
        an,
    );
    assert_eq!(point(&full["geometry"]["coordinates"]), published_at);
    assert_eq!(full["properties"]["state"], "published");
    assert_eq!(
        link(&full, "collection").unwrap(),
        format!("{url}/collections/incidents")
    );

    // bbox and datetime against the CLI's list.
    let bbox = "38,48,38.5,48.5";
    let in_bbox = listed
        .iter()
        .filter(|i| i["location"].is_array() && in_box(point(&i["location"]), BBOX))
        .count();
    assert!(in_bbox > 4, "{in_bbox} incidents in the box");
    let page = get_ok(
        &server,
        &format!("/collections/incidents/items?bbox={bbox}&limit=1000"),
        an,
    );
    assert_eq!(page["numberMatched"], in_bbox);
    for f in page["features"].as_array().unwrap() {
        assert!(in_box(point(&f["geometry"]["coordinates"]), BBOX));
    }
    let (from, to) = ("2023-09-01T00:00:00Z", "2023-09-15T00:00:00Z");
    let during = listed
        .iter()
        .filter(|i| i["end"].as_str().unwrap() >= from && i["start"].as_str().unwrap() <= to)
        .count();
    assert!(during > 0);
    let page = get_ok(
        &server,
        &format!("/collections/incidents/items?datetime={from}/{to}&limit=1"),
        an,
    );
    assert_eq!(page["numberMatched"], during);
    let after = listed
        .iter()
        .filter(|i| i["end"].as_str().unwrap() >= from)
        .count();
    let page = get_ok(
        &server,
        &format!("/collections/incidents/items?datetime={from}/..&limit=1"),
        an,
    );
    assert_eq!(page["numberMatched"], after);

    // Paging: limit=2, follow next, back with prev; every page through to the end.
    let p1 = get_ok(
        &server,
        &format!("/collections/incidents/items?bbox={bbox}&limit=2"),
        an,
    );
    assert_eq!(p1["numberReturned"], 2);
    assert!(link(&p1, "prev").is_none());
    let next = link(&p1, "next").expect("a next link");
    assert!(
        next.starts_with(&url)
            && next.contains("offset=2")
            && next.contains("bbox=38,48,38.5,48.5"),
        "{next}"
    );
    let p2 = get_ok(&server, &next, an);
    assert_eq!(p2["numberMatched"], in_bbox);
    assert_eq!(p2["numberReturned"], 2);
    assert!(
        ids(&p1).iter().all(|i| !ids(&p2).contains(i)),
        "pages overlap"
    );
    assert_eq!(
        ids(&get_ok(&server, &link(&p2, "prev").unwrap(), an)),
        ids(&p1)
    );
    let mut seen = Vec::new();
    let mut next = Some("/collections/incidents/items?limit=1000".to_string());
    while let Some(n) = next {
        let p = get_ok(&server, &n, an);
        seen.extend(ids(&p));
        next = link(&p, "next");
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len() as i64,
        total_incidents,
        "paging visits every incident once"
    );
    let big = get_ok(&server, "/collections/observations/items?limit=5000", an);
    assert_eq!(big["numberReturned"], 1000, "limit is clamped to 1000");

    // Observations: counts from sqlite; one feature's coordinates from its stored body.
    let total_obs: i64 = query(&db, "SELECT COUNT(*) FROM observations");
    let page = get_ok(&server, "/collections/observations/items?limit=1", an);
    assert_eq!(page["numberMatched"], total_obs);
    let first_seq: i64 = query(&db, "SELECT MIN(fid) FROM observations");
    let body: String = query(
        &db,
        &format!("SELECT CAST(body AS TEXT) FROM entries WHERE seq = {first_seq}"),
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    let obs = get_ok(
        &server,
        &format!("/collections/observations/items/{first_seq}"),
        an,
    );
    assert_eq!(obs["id"], first_seq);
    assert_eq!(
        obs["geometry"]["coordinates"],
        body["geometry"]["coordinates"]
    );
    assert_eq!(
        obs["properties"]["source_id"],
        body["properties"]["source"]["id"]
    );
    let in_month: i64 = query(
        &db,
        "SELECT COUNT(*) FROM observations WHERE observed_at >= '2023-09-01T00:00:00.000Z' \
         AND observed_at <= '2023-09-15T00:00:00.000Z'",
    );
    let page = get_ok(
        &server,
        &format!("/collections/observations/items?datetime={from}/{to}&limit=1"),
        an,
    );
    assert_eq!(page["numberMatched"], in_month);
    // GDAL reading the GeoPackage itself (exact intersection) is the reference for the bbox.
    let gpkg = text(
        &client(
            "ogrinfo",
            &[
                "-ro",
                "-q",
                s(&db),
                "observations",
                "-spat",
                "38",
                "48",
                "38.5",
                "48.5",
            ],
            &[],
        )
        .stdout,
    );
    let obs_in_bbox = ogr_count(&gpkg, "observations");
    assert!(obs_in_bbox > 100, "{obs_in_bbox}");
    let page = get_ok(
        &server,
        &format!("/collections/observations/items?bbox={bbox}&limit=1"),
        an,
    );
    assert_eq!(page["numberMatched"], obs_in_bbox);

    // Zones: the band around the line has no polygon.
    let zones = get_ok(&server, "/collections/zones/items", None);
    let band = zones["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "security-zone")
        .unwrap();
    assert!(band["geometry"].is_null());
    assert_eq!(band["properties"]["within_km"], 15.0);
    let zone_count: i64 = query(&db, "SELECT COUNT(*) FROM zones");
    assert_eq!(zones["numberMatched"], zone_count);

    // Errors.
    for bad in [
        "/collections/incidents/items?bbox=1,2,3",
        "/collections/incidents/items?bbox=38,49,39,48",
        "/collections/incidents/items?datetime=yesterday",
        "/collections/incidents/items?datetime=2023-09-15T00:00:00Z/2023-09-01T00:00:00Z",
        "/collections/incidents/items?limit=ten",
        "/collections/incidents/items?colour=red",
        "/collections/incidents/items?f=html",
        "/collections?bbox=1,2,3,4",
    ] {
        let r = get(&server, bad, an);
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (400, "application/json"),
            "{bad}: {}",
            r.text()
        );
        assert_eq!(r.json()["code"], "InvalidParameterValue", "{bad}");
    }

    // --- GDAL ---------------------------------------------------------------------------------
    let version = text(&client("ogrinfo", &["--version"], &[]).stdout);
    assert!(version.starts_with("GDAL "), "{version}");
    let oapif = format!("OAPIF:{url}");
    let header = format!("Authorization: Bearer {analyst}");
    let as_analyst = [("GDAL_HTTP_HEADERS", header.as_str())];
    let listing = text(&client("ogrinfo", &["-ro", &oapif], &[]).stdout);
    for c in &public_colls {
        assert!(listing.contains(&format!(": {c} (title:")), "{listing}");
    }
    assert!(
        !listing.contains("observations"),
        "the public does not see observations: {listing}"
    );
    let listing = text(&client("ogrinfo", &["-ro", &oapif], &as_analyst).stdout);
    assert!(
        listing.contains(": observations (title: Observations)"),
        "{listing}"
    );

    // The public reads one incident, at its coarsened place.
    let dump = text(&client("ogrinfo", &["-ro", "-q", &oapif, "incidents"], &[]).stdout);
    assert_eq!(ogr_count(&dump, "incidents"), 1, "{dump}");
    assert_eq!(ogr_field(&dump, "id"), std::slice::from_ref(&published_id));
    let p = ogr_points(&dump)[0];
    assert!(near(p, coarse), "{p:?} vs {coarse:?}");

    // An analyst reads incidents and observations in the box, paging 1000 at a time.
    let spat = ["-spat", "38", "48", "38.5", "48.5"];
    let dump = text(
        &client(
            "ogrinfo",
            &[
                &["-ro", "-q", "-oo", "PAGE_SIZE=1000", &oapif, "incidents"][..],
                &spat,
            ]
            .concat(),
            &as_analyst,
        )
        .stdout,
    );
    assert_eq!(ogr_count(&dump, "incidents"), in_bbox);
    assert!(ogr_points(&dump).iter().all(|p| in_box(*p, BBOX)));
    assert!(
        ogr_points(&dump).iter().any(|p| near(*p, published_at)),
        "analysts see full locations"
    );
    let dump = text(
        &client(
            "ogrinfo",
            &[
                &["-ro", "-q", "-oo", "PAGE_SIZE=1000", &oapif, "observations"][..],
                &spat,
            ]
            .concat(),
            &as_analyst,
        )
        .stdout,
    );
    assert_eq!(ogr_count(&dump, "observations"), obs_in_bbox);
    // The same count with GDAL's default page size of 10 (it follows the next links).
    let summary = text(
        &client(
            "ogrinfo",
            &[&["-ro", "-so", &oapif, "observations"][..], &spat].concat(),
            &as_analyst,
        )
        .stdout,
    );
    assert!(
        summary.contains(&format!("Feature Count: {obs_in_bbox}")),
        "{summary}"
    );

    // Zones in a box around the Zolote disengagement area: as GDAL finds them in the GeoPackage.
    let zspat = ["-spat", "38.4", "48.6", "38.6", "48.8"];
    let from_gpkg = ogr_field(
        &text(
            &client(
                "ogrinfo",
                &[&["-ro", "-q", s(&db), "zones"][..], &zspat].concat(),
                &[],
            )
            .stdout,
        ),
        "zone_id",
    );
    let from_api = ogr_field(
        &text(
            &client(
                "ogrinfo",
                &[&["-ro", "-q", &oapif, "zones"][..], &zspat].concat(),
                &[],
            )
            .stdout,
        ),
        "zone_id",
    );
    assert!(!from_gpkg.is_empty(), "the box should hold a zone");
    assert_eq!(from_api, from_gpkg);

    // --- OWSLib -------------------------------------------------------------------------------
    let script = root().join("tests/ogc/owslib_check.py");
    let run = |tok: Option<&str>| -> Value {
        let mut args = vec![s(&script).to_string(), url.clone(), bbox.to_string()];
        args.extend(tok.map(str::to_string));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = client("python3", &args, &[]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let py = run(None);
    assert_eq!(py["collections"], serde_json::json!(public_colls));
    assert_eq!(
        py["landing_links"],
        serde_json::json!(["conformance", "data", "self", "service-desc"])
    );
    assert_eq!(py["incidents_bbox"]["numberMatched"], 1);
    assert_eq!(
        py["incidents_bbox"]["page1"],
        serde_json::json!([published_id])
    );
    assert_eq!(py["zones"]["security-zone"]["geometry"], Value::Null);
    assert_eq!(py["zones"]["security-zone"]["within_km"], 15.0);
    assert!(py.get("observations_bbox").is_none());
    let py = run(an);
    assert_eq!(py["collections"], serde_json::json!(analyst_colls));
    assert_eq!(py["incidents_bbox"]["numberMatched"], in_bbox);
    assert_eq!(py["incidents_bbox"]["numberReturned"], 2);
    assert_eq!(py["incidents_bbox"]["page1"], serde_json::json!(ids(&p1)));
    assert_eq!(py["incidents_bbox"]["page2"], serde_json::json!(ids(&p2)));
    assert_eq!(py["observations_bbox"]["numberMatched"], obs_in_bbox);
    let seq = py["observation_item"]["id"].as_i64().unwrap();
    let body: String = query(
        &db,
        &format!("SELECT CAST(body AS TEXT) FROM entries WHERE seq = {seq}"),
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        py["observation_item"]["coordinates"],
        body["geometry"]["coordinates"]
    );
    assert!(in_box(point(&body["geometry"]["coordinates"]), BBOX));

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// GDAL 3.6 asks OGC API – Features for 10 features a request whatever the API document
/// declares (`limit`'s maximum is there for clients that read it), so reading the demo's
/// ~4,800 incidents takes ~480 requests, faster than the default 200 a second per token. With
/// the server's default limits, an analyst's GDAL still reads the whole collection — twice in
/// a row, the second time starting with the token's bucket spent: requests over the rate are
/// held until it allows them (`rate_delay`), not refused.
#[test]
fn gdal_reads_a_whole_collection_under_the_default_rate_limit() {
    let demo = Demo::new("ogc", "gdal-whole");
    let server = Server::start(&demo.db, &[], None);
    let analyst = demo.token("analyst");
    let first = get_ok(
        &server,
        "/collections/incidents/items?limit=1",
        Some(&analyst),
    );
    let matched = first["numberMatched"].as_u64().expect("numberMatched") as usize;
    assert!(matched > 4_000, "the demo has ~4,800 incidents: {matched}");
    let oapif = format!("OAPIF:{}", server.url());
    let header = format!("Authorization: Bearer {analyst}");
    for round in ["first", "second"] {
        let out = client(
            "ogrinfo",
            &["-ro", "-q", &oapif, "incidents"],
            &[("GDAL_HTTP_HEADERS", header.as_str())],
        );
        let dump = text(&out.stdout);
        assert_eq!(
            ogr_count(&dump, "incidents"),
            matched,
            "{round} read: GDAL read part of the collection: {}",
            text(&out.stderr)
        );
        let ids = ogr_field(&dump, "id");
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), matched, "{round} read: every incident once");
    }
}
