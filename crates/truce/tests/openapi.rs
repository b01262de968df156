//! The OpenAPI document and Swagger UI of a real `truce serve`: the document names every route
//! the router has, is valid OpenAPI 3.1 (`openapi-spec-validator`), and schemathesis, run against
//! the live server on a demo store as an analyst, a party and the public, finds no server error
//! and no response that the document does not describe (status, content type, body, headers).
//!
//! Needs `python3`, `openapi-spec-validator` and `schemathesis` (PyPI): `scripts/test` installs
//! them. A missing one fails the test; it is never skipped.

mod common;

use std::process::Command;
use std::time::Instant;

use common::{Demo, Server, ok, root, s};
use serde_json::Value;

/// A GET as the public: (status, content type, body).
fn get(server: &Server, path: &str) -> (u16, String, String) {
    let reply = common::get(&server.addr, path, None, &[]);
    let body = reply.text();
    (reply.status, reply.content_type, body)
}

/// Runs `tests/openapi/check.py`; a missing python3 or package fails loudly.
fn check(args: &[&str]) {
    let script = root().join("tests/openapi/check.py");
    let started = Instant::now();
    let status = Command::new("python3")
        .arg(&script)
        .args(args)
        .status()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run python3 ({e}): this test needs python3 with openapi-spec-validator \
                 and schemathesis (pip install openapi-spec-validator schemathesis); \
                 scripts/test installs them"
            )
        });
    assert!(
        status.success(),
        "check.py {} failed ({status}); see its output above",
        args[0]
    );
    eprintln!("check.py {} took {:.1?}", args[0], started.elapsed());
}

/// Every route of the router (`crate::api::routes`, `crate::ogc::routes`, the document itself),
/// in the document's spelling of path parameters, with its methods.
const ROUTES: [(&str, &[&str]); 30] = [
    ("/healthz", &["get"]),
    ("/metrics", &["get"]),
    ("/api/whoami", &["get"]),
    ("/api/observations", &["post"]),
    ("/api/incidents", &["get"]),
    ("/api/incidents/{id}", &["get"]),
    ("/api/incidents/{id}/decisions", &["post"]),
    ("/api/incidents/{id}/responses", &["post"]),
    ("/api/tasks", &["get", "post"]),
    ("/log/checkpoint", &["get"]),
    ("/log/{path}", &["get"]),
    ("/api/tasks/{id}/outcome", &["post"]),
    ("/api/coverage", &["get"]),
    ("/api/mission", &["get"]),
    ("/api/allegations", &["post"]),
    ("/api/stats", &["get"]),
    ("/api/log/checkpoint", &["get"]),
    ("/api/log/proof/{seq}", &["get"]),
    ("/api/alerts/stream", &["get"]),
    ("/api/reports", &["get"]),
    ("/api/reports/daily/{day}", &["get"]),
    ("/api/reports/{day}", &["get"]),
    ("/api/reports/spot/{id}", &["get"]),
    ("/api/openapi.json", &["get"]),
    ("/", &["get"]),
    ("/conformance", &["get"]),
    ("/collections", &["get"]),
    ("/collections/{collectionId}", &["get"]),
    ("/collections/{collectionId}/items", &["get"]),
    ("/collections/{collectionId}/items/{featureId}", &["get"]),
];

#[test]
fn openapi_document_swagger_ui_and_schemathesis() {
    let demo = Demo::new("openapi", "schemathesis");
    let (dir, db) = (demo.dir.clone(), demo.db.clone());
    let analyst = demo.token("analyst");
    let party = demo.token("party:RU");
    // schemathesis sends a few thousand requests as fast as it can: no rate limit here.
    let server = Server::start(&db, &["--rate", "100000"], Some(&dir.join("serve.log")));

    // The document, where the OGC landing page's service-desc link says it is.
    let (status, _, body) = get(&server, "/");
    assert_eq!(status, 200, "{body}");
    let landing: Value = serde_json::from_str(&body).unwrap();
    let desc = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .expect("a service-desc link");
    assert_eq!(desc["href"], format!("{}/api/openapi.json", server.url()));
    let (status, content_type, body) = get(&server, "/api/openapi.json");
    assert_eq!(status, 200, "{body}");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    // Every route, and nothing else.
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in ROUTES {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not in the document"));
        for m in methods {
            let op = &item[*m];
            assert!(op.is_object(), "{m} {path} is not in the document");
            // The gate's answers are on every operation; bodies of errors are described.
            for status in ["401", "429", "503"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{m} {path}: no {status}"
                );
            }
        }
    }
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut expected: Vec<&str> = ROUTES.iter().map(|r| r.0).collect();
    expected.sort();
    assert_eq!(
        documented, expected,
        "the document has routes the router has not"
    );

    // Parameters of the list and the items, the bearer scheme (optional), the error bodies.
    let names = |path: &str| -> Vec<String> {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    for p in [
        "bbox",
        "from",
        "to",
        "party",
        "state",
        "rule",
        "source_kind",
        "limit",
        "offset",
    ] {
        assert!(
            names("/api/incidents").iter().any(|n| n == p),
            "/api/incidents: no {p}"
        );
    }
    for p in ["bbox", "datetime", "limit", "offset", "f"] {
        assert!(
            names("/collections/{collectionId}/items")
                .iter()
                .any(|n| n == p),
            "items: no {p}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["security"][0], serde_json::json!({}));
    assert_eq!(
        doc["components"]["schemas"]["ErrorBody"]["required"],
        serde_json::json!(["error"])
    );
    assert!(
        doc["paths"]["/api/incidents/{id}/decisions"]["post"]["requestBody"]["content"]
            ["application/json"]
            .is_object()
    );

    // Swagger UI, vendored: served from the binary, pointed at the document.
    let (status, content_type, body) = get(&server, "/api/docs/");
    assert_eq!(status, 200, "{body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("swagger-ui"), "{body}");
    let (status, _, body) = get(&server, "/api/docs/swagger-initializer.js");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/api/openapi.json"), "{body}");

    // Valid OpenAPI 3.1, then schemathesis against the live server.
    check(&["validate", &server.url()]);
    check(&[
        "fuzz",
        &server.url(),
        &analyst,
        &party,
        s(&dir.join("schemathesis-report")),
    ]);

    // The server took it all and its log still verifies (POSTed batches were committed whole).
    let (status, _, body) = get(&server, "/healthz");
    assert_eq!(status, 200, "{body}\n{}", server.log());
    drop(server);
    ok(&["log", "verify", "--db", s(&db)]);
    let _ = std::fs::remove_dir_all(&dir);
}
