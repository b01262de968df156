//! The monitors' web app (`docs/dashboard.md`): plain ES modules and the vendored MapLibre GL JS,
//! embedded in the binary at build time from `crates/truce-server/web/`, served at `/app/` (and
//! at `/` to browsers, [`crate::ogc`]'s landing page). Nothing is fetched from the internet at
//! build or run time. Every asset has a strong `ETag` (its SHA-256) and answers `304` to a
//! matching `If-None-Match`; every answer carries a strict Content-Security-Policy: scripts,
//! styles, workers and requests from this origin only, no inline script, no frames.
//!
//! The app reads only the API (`crate::api`, `crate::ogc`) with the token the user pasted, so it
//! sees exactly what the token's role may: it holds no role rule of its own.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use crate::state::Shared;

/// Where the app is mounted.
pub const APP_PATH: &str = "/app/";

/// The policy on every asset. MapLibre's CSP build runs its worker from a same-origin script
/// (`worker-src 'self'`, no `blob:`); its map canvas reads images from `data:`/`blob:` URLs it
/// makes itself. `style-src` allows inline `style` attributes because MapLibre positions its
/// controls and markers with them; no inline script is allowed anywhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; connect-src 'self'; worker-src 'self'; child-src 'self'; \
    font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The policy with `origins` also allowed to be fetched and shown (an online map style's).
pub fn csp(origins: &[String]) -> String {
    if origins.is_empty() {
        return CSP.to_string();
    }
    let extra = origins.join(" ");
    CSP.replace("img-src 'self'", &format!("img-src 'self' {extra}"))
        .replace("connect-src 'self'", &format!("connect-src 'self' {extra}"))
}

/// The embedded files: path under `/app/`, content type, bytes.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../web/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/api.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/i18n.js"),
    ),
    (
        "proof.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/proof.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/map.js"),
    ),
    (
        "vendor/maplibre-gl/maplibre-gl-csp.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/vendor/maplibre-gl/maplibre-gl-csp.js"),
    ),
    (
        "vendor/maplibre-gl/maplibre-gl-csp-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../web/vendor/maplibre-gl/maplibre-gl-csp-worker.js"),
    ),
    (
        "vendor/maplibre-gl/maplibre-gl.css",
        "text/css; charset=utf-8",
        include_bytes!("../web/vendor/maplibre-gl/maplibre-gl.css"),
    ),
    (
        "basemap/land.geojson",
        "application/geo+json",
        include_bytes!("../web/basemap/land.geojson"),
    ),
    (
        "basemap/admin1.geojson",
        "application/geo+json",
        include_bytes!("../web/basemap/admin1.geojson"),
    ),
    (
        "basemap/places.geojson",
        "application/geo+json",
        include_bytes!("../web/basemap/places.geojson"),
    ),
    (
        "basemap/README.md",
        "text/markdown; charset=utf-8",
        include_bytes!("../web/basemap/README.md"),
    ),
    (
        "vendor/maplibre-gl/LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../web/vendor/maplibre-gl/LICENSE.txt"),
    ),
];

/// Each asset's strong ETag, computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, _, bytes)| {
                let d = Sha256::digest(bytes);
                format!(
                    "\"{}\"",
                    d[..16]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<String>()
                )
            })
            .collect()
    })
}

/// The embedded paths (for tests and the docs).
pub fn asset_paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(p, _, _)| *p)
}

/// The origins an online map style adds to the policy, if one is set.
fn map_origins(state: &Shared) -> &[String] {
    state.map_style.get().map_or(&[], |m| m.origins.as_slice())
}

/// The security headers every app answer carries; `origins`: an online map style's.
fn secure(r: &mut Response, origins: &[String]) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp(origins)).expect("origins parsed as URIs are header text"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// The asset at `path` (under `/app/`), or `None`; `origins` as for [`csp`].
pub fn asset(path: &str, headers: &HeaderMap, origins: &[String]) -> Option<Response> {
    let k = ASSETS.iter().position(|(p, _, _)| *p == path)?;
    let (_, kind, bytes) = ASSETS[k];
    let tag = &etags()[k];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, kind)], bytes).into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(tag).expect("hex is a header value"),
    );
    // Revalidated on every load (cheap: a 304), so a new binary's app is seen at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(&mut r, origins);
    Some(r)
}

/// The app's page (what `/` answers a browser).
pub fn index(state: &Shared, headers: &HeaderMap) -> Response {
    asset("index.html", headers, map_origins(state)).expect("index.html is embedded")
}

/// Whether a request for `/` comes from a browser wanting a page rather than a client wanting
/// the OGC landing document: it accepts `text/html` and asks for no `f=`.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|m| m.split(';').next().unwrap_or("").trim() == "text/html")
        })
}

async fn app_index(State(state): State<Shared>, headers: HeaderMap) -> Response {
    index(&state, &headers)
}

async fn app_asset(
    State(state): State<Shared>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    asset(&path, &headers, map_origins(&state)).unwrap_or_else(|| {
        let mut r = (StatusCode::NOT_FOUND, "not found").into_response();
        secure(&mut r, &[]);
        r
    })
}

/// What the app needs to know of the deployment before it draws: the online map style, if any
/// (`{"map_style": URL}` or `{"map_style": null}`: the bundled basemap).
async fn app_config(State(state): State<Shared>) -> Response {
    let style = state.map_style.get().map(|m| m.url.clone());
    let mut r = axum::Json(serde_json::json!({ "map_style": style })).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(&mut r, map_origins(&state));
    r
}

/// `/app/` and its assets; `/app` redirects to `/app/`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent(APP_PATH) }))
        .route("/app/", get(app_index))
        .route("/app/config.json", get(app_config))
        .route("/app/{*path}", get(app_asset))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::MapStyle;

    #[test]
    fn assets_have_etags_and_answer_304_when_fresh() {
        let none = HeaderMap::new();
        let r = asset("app.js", &none, &[]).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let tag = r.headers()[header::ETAG].clone();
        assert!(
            r.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(
            asset("app.js", &again, &[]).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        assert!(asset("../Cargo.toml", &none, &[]).is_none());
    }

    #[test]
    fn an_online_style_opens_the_policy_to_its_origins_only() {
        let m = MapStyle::new(
            "https://tiles.example.org:8443/styles/basic.json?key=1",
            &[
                "https://fonts.example.net".into(),
                "https://tiles.example.org:8443".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            m.origins,
            [
                "https://tiles.example.org:8443",
                "https://fonts.example.net"
            ]
        );
        let p = csp(&m.origins);
        assert!(p.contains(
            "connect-src 'self' https://tiles.example.org:8443 https://fonts.example.net;"
        ));
        assert!(p.contains(
            "img-src 'self' https://tiles.example.org:8443 https://fonts.example.net data: blob:;"
        ));
        assert!(
            p.contains("script-src 'self';"),
            "scripts stay our own: {p}"
        );
        assert_eq!(csp(&[]), CSP);
        for bad in [
            "ftp://x.org/s.json",
            "/styles/s.json",
            "https://user:pw@x.org/s.json",
            "not a url",
        ] {
            assert!(MapStyle::new(bad, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn browsers_get_the_page_and_clients_the_json() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml,*/*;q=0.8"),
        );
        assert!(wants_html(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_html(&h));
        assert!(!wants_html(&HeaderMap::new()));
    }

    #[test]
    fn every_module_the_page_imports_is_embedded() {
        let paths: Vec<&str> = asset_paths().collect();
        for (_, _, bytes) in ASSETS.iter().filter(|(p, _, _)| !p.starts_with("vendor/")) {
            let text = String::from_utf8_lossy(bytes);
            for part in text.split("from './").skip(1) {
                let name = part.split('\'').next().unwrap();
                assert!(paths.contains(&name), "{name} is imported but not embedded");
            }
        }
    }
}
