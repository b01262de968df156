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
use axum::extract::Path;
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

/// The security headers every app answer carries.
fn secure(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
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

/// The asset at `path` (under `/app/`), or `None`.
pub fn asset(path: &str, headers: &HeaderMap) -> Option<Response> {
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
    secure(&mut r);
    Some(r)
}

/// The app's page (what `/` answers a browser).
pub fn index(headers: &HeaderMap) -> Response {
    asset("index.html", headers).expect("index.html is embedded")
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

async fn app_index(headers: HeaderMap) -> Response {
    index(&headers)
}

async fn app_asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    asset(&path, &headers).unwrap_or_else(|| {
        let mut r = (StatusCode::NOT_FOUND, "not found").into_response();
        secure(&mut r);
        r
    })
}

/// `/app/` and its assets; `/app` redirects to `/app/`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/app", get(|| async { Redirect::permanent(APP_PATH) }))
        .route("/app/", get(app_index))
        .route("/app/{*path}", get(app_asset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_have_etags_and_answer_304_when_fresh() {
        let none = HeaderMap::new();
        let r = asset("app.js", &none).unwrap();
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
            asset("app.js", &again).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        assert!(asset("../Cargo.toml", &none).is_none());
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
