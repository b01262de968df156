//! OGC API – Features – Part 1: Core (OGC 17-069r4), with the GeoJSON and OpenAPI 3.0
//! conformance classes: the landing page, conformance, the collections and their items, so
//! QGIS, GDAL (`OAPIF:`) and OWSLib read Truce's incidents, observations and terms as map
//! layers. Reference: `docs/api.md`, section *OGC API – Features*.
//!
//! Every collection names the [`Action`] it needs; one the caller may not read is absent from
//! `/collections` and *not found* on access (a refusal would reveal it exists). Incidents are
//! shown exactly as the REST API shows them ([`incident_view`], `truce_service::view::IncidentView`): the public
//! sees published incidents only, at coarsened locations, and the spatial filter tests the
//! location the caller is shown. Filters run before counting and paging, so `numberMatched`
//! never counts what the caller may not see.
//!
//! Coordinates are CRS84 (longitude, latitude). `bbox` selects features whose geometry
//! intersects the box (planar in degrees, as the specification defines it; a box with
//! minlon > maxlon crosses the antimeridian). Features with a null geometry (a zone defined as
//! a band around the contact line; an incident of bearings that fix no point) are never
//! selected by a `bbox`. Observations are read through the [`Store`] trait and filtered here:
//! the store's R-tree is not used yet (a full scan of the layer per filtered request).
//!
//! Every error on these paths is an OGC API exception (`{"code", "description"}`), whoever
//! answers it: the handlers ([`OgcError`]), and — through [`exceptions`], a layer around the
//! whole router — the gate (401, 403, 429, 503), the router (404 a path that is no resource,
//! 405) and axum's extractors (400 a path that is not UTF-8).

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use truce_core::agreement::{Agreement, ZoneExtent};
use truce_core::observation::Geometry;
use truce_geo::LonLat;
use truce_service::snapshot::{Incidents, Item, Select};
use truce_store::{Store, StoredObservation};

use crate::auth::{Action, Principal, View, allowed};
use crate::error::ApiError;
use crate::reactions::with_core;
use crate::state::Shared;

/// The OGC API routes (landing page, conformance, collections, items), mounted at `/`.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/collections", get(collections))
        .route("/collections/{id}", get(collection))
        .route("/collections/{id}/items", get(items))
        .route("/collections/{id}/items/{fid}", get(item))
}

/// Conformance classes implemented.
pub const CONFORMANCE: [&str; 3] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
];

/// Where the API definition is linked from the landing page (`service-desc`).
pub const OPENAPI_PATH: &str = "/api/openapi.json";
const OPENAPI_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const GREGORIAN: &str = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian";

/// Default and largest page of items (a larger `limit` is clamped, as the specification allows).
pub const LIMIT_DEFAULT: usize = 100;
pub const LIMIT_MAX: usize = 1000;
/// Observations read from the store per query while scanning the layer.
const SCAN_CHUNK: usize = 2000;

/// The collections, in the order `/collections` lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coll {
    Incidents,
    Observations,
    Zones,
    ContactLine,
    PartyAreas,
    StorageSites,
}

impl Coll {
    const ALL: [Coll; 6] = [
        Coll::Incidents,
        Coll::Observations,
        Coll::Zones,
        Coll::ContactLine,
        Coll::PartyAreas,
        Coll::StorageSites,
    ];

    fn id(self) -> &'static str {
        match self {
            Coll::Incidents => "incidents",
            Coll::Observations => "observations",
            Coll::Zones => "zones",
            Coll::ContactLine => "contact_line",
            Coll::PartyAreas => "party_areas",
            Coll::StorageSites => "storage_sites",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Coll::Incidents => "Incidents",
            Coll::Observations => "Observations",
            Coll::Zones => "Zones",
            Coll::ContactLine => "Contact line",
            Coll::PartyAreas => "Party areas",
            Coll::StorageSites => "Storage sites",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Coll::Incidents => {
                "Incidents fused from observations, with their lifecycle, as your role sees them \
                 (the public: published incidents, located to a ~5 km cell). Feature id: the \
                 incident id; time: start to end."
            }
            Coll::Observations => {
                "Every stored observation with its assessment (staff only). Feature id: the \
                 observation's entry seq in the log; time: observed_at."
            }
            Coll::Zones => {
                "Zones of the terms in force. A zone defined as a band around the contact line \
                 has a null geometry and its width in within_km."
            }
            Coll::ContactLine => "The contact line of the terms in force.",
            Coll::PartyAreas => "The area each party controls, under the terms in force.",
            Coll::StorageSites => "Declared heavy-weapon storage sites of the terms in force.",
        }
    }

    fn action(self) -> Action {
        match self {
            Coll::Incidents => Action::ReadIncidents,
            Coll::Observations => Action::ReadObservations,
            _ => Action::ReadTerms,
        }
    }

    /// The collection `id` if the caller may read it; otherwise not found.
    fn readable(id: &str, p: &Principal) -> Result<Coll, OgcError> {
        Coll::ALL
            .into_iter()
            .find(|c| c.id() == id && allowed(&p.role, c.action()))
            .ok_or_else(|| OgcError::not_found(format!("no collection {id:?}")))
    }
}

/// An error as OGC API – Features returns it: `{"code", "description"}` with the status.
#[derive(Debug)]
pub struct OgcError(ApiError);

impl OgcError {
    fn bad(what: impl Into<String>) -> OgcError {
        OgcError(ApiError::bad_request(what))
    }
    fn not_found(what: impl Into<String>) -> OgcError {
        OgcError(ApiError::not_found(what))
    }
}

impl From<ApiError> for OgcError {
    fn from(e: ApiError) -> OgcError {
        OgcError(e)
    }
}

impl IntoResponse for OgcError {
    fn into_response(self) -> Response {
        exception(self.0.status, &self.0.reason)
    }
}

/// Marks a response that is already an OGC exception, so [`exceptions`] leaves it alone.
#[derive(Debug, Clone, Copy)]
struct IsException;

/// An OGC API exception: `{"code", "description"}` with the status.
fn exception(status: StatusCode, description: &str) -> Response {
    let mut r = json_response(
        status,
        JSON,
        &json!({ "code": exception_code(status), "description": description }),
    );
    r.extensions_mut().insert(IsException);
    r
}

/// The exception code for a status: OGC's own names where it has them (OWS Common's
/// `InvalidParameterValue`, `NotFound`, `ServerError`), else the status's reason phrase run
/// together (`Unauthorized`, `TooManyRequests`, `MethodNotAllowed`).
fn exception_code(status: StatusCode) -> String {
    match status {
        StatusCode::BAD_REQUEST => "InvalidParameterValue".into(),
        StatusCode::NOT_FOUND => "NotFound".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "ServerError".into(),
        s => s
            .canonical_reason()
            .map_or_else(|| "Error".into(), |r| r.replace([' ', '-'], "")),
    }
}

/// Whether `path` is one of OGC API – Features' resources (or under them).
fn is_ogc_path(path: &str) -> bool {
    path == "/"
        || path == "/collections"
        || path.starts_with("/collections/")
        || path.starts_with("/conformance")
}

/// The most of an error's body [`exceptions`] reads to find its reason: every error the
/// server makes is a sentence.
const ERROR_BODY_MAX_BYTES: usize = 16 << 10;

/// A layer around the whole router: an error on an OGC API path that is not an OGC exception
/// yet (the gate's `{"error": …}`, the router's empty 404 and 405, an extractor's plain text)
/// becomes one, its reason as the description; its status and headers (`Retry-After`,
/// `Allow`) stay.
pub async fn exceptions(req: Request, next: Next) -> Response {
    if !is_ogc_path(req.uri().path()) {
        return next.run(req).await;
    }
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<IsException>().is_some()
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, ERROR_BODY_MAX_BYTES)
        .await
        .unwrap_or_default();
    let said = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .or_else(|| {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            (!text.is_empty()).then_some(text)
        });
    let description = match (said, status) {
        (Some(said), _) => said,
        (None, StatusCode::NOT_FOUND) => format!("no resource at {path}"),
        (None, StatusCode::METHOD_NOT_ALLOWED) => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("GET");
            format!("{method} is not allowed on {path} (allowed: {allow})")
        }
        (None, s) => s.canonical_reason().unwrap_or("error").to_string(),
    };
    let rewritten = exception(status, &description);
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in rewritten.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(parts, Body::new(rewritten.into_body()))
}

type OgcResult = Result<Response, OgcError>;

fn json_response(status: StatusCode, content_type: &'static str, v: &Value) -> Response {
    let mut r = (status, v.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn ok(content_type: &'static str, v: &Value) -> OgcResult {
    Ok(json_response(StatusCode::OK, content_type, v))
}

/// `http://host:port` as the client addressed us (`X-Forwarded-Proto`/`-Host` behind a proxy).
fn base_url(headers: &HeaderMap) -> String {
    let get = |h: &str| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.split(',').next().unwrap_or("").trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let scheme = get("x-forwarded-proto").unwrap_or_else(|| "http".into());
    let host = get("x-forwarded-host")
        .or_else(|| get("host"))
        .unwrap_or_else(|| "localhost".into());
    format!("{scheme}://{host}")
}

fn link(href: String, rel: &str, kind: &str, title: &str) -> Value {
    json!({ "href": href, "rel": rel, "type": kind, "title": title })
}

/// Only `f=json` (or `geojson`) is served; any other query parameter is refused (400), as
/// `/req/core/query-param-unknown` asks.
fn check_params(params: &[(String, String)], allowed_names: &[&str]) -> Result<(), OgcError> {
    for (k, v) in params {
        if k == "f" {
            if !matches!(v.as_str(), "json" | "geojson") {
                return Err(OgcError::bad(format!(
                    "f={v}: only json (GeoJSON for items) is served"
                )));
            }
        } else if !allowed_names.contains(&k.as_str()) {
            return Err(OgcError::bad(format!(
                "unknown query parameter {k:?}{}",
                if allowed_names.is_empty() {
                    String::new()
                } else {
                    format!(" (this resource takes {} and f)", allowed_names.join(", "))
                }
            )));
        }
    }
    Ok(())
}

/// The landing page; a browser asking for `text/html` (and no `f=`) gets the web app instead
/// ([`crate::web`]), while API clients keep the OGC landing document.
async fn landing(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> OgcResult {
    if params.is_empty() && crate::web::wants_html(&headers) {
        return Ok(crate::web::index(&state, &headers));
    }
    check_params(&params, &[])?;
    let base = base_url(&headers);
    ok(
        JSON,
        &json!({
            "title": "Truce",
            "description": "Ceasefire monitoring: incidents, observations and the terms in force, as OGC API – Features (Part 1: Core, GeoJSON, OpenAPI 3.0). Send `Authorization: Bearer <token>` to see what your role may.",
            "links": [
                link(format!("{base}/"), "self", JSON, "This document"),
                link(format!("{base}{OPENAPI_PATH}"), "service-desc", OPENAPI_TYPE, "The API definition"),
                link(format!("{base}/conformance"), "conformance", JSON, "Conformance classes implemented"),
                link(format!("{base}/collections"), "data", JSON, "The collections"),
            ],
        }),
    )
}

async fn conformance(headers: HeaderMap, Query(params): Query<Vec<(String, String)>>) -> OgcResult {
    check_params(&params, &[])?;
    let base = base_url(&headers);
    ok(
        JSON,
        &json!({
            "conformsTo": CONFORMANCE,
            "links": [link(format!("{base}/conformance"), "self", JSON, "This document")],
        }),
    )
}

/// A collection's description; `extent` is the bbox and the time interval of what the caller
/// may see.
fn collection_json(base: &str, c: Coll, extent: (Option<[f64; 4]>, Option<Interval>)) -> Value {
    let href = format!("{base}/collections/{}", c.id());
    let mut extent_json = Map::new();
    if let Some(b) = extent.0 {
        extent_json.insert("spatial".into(), json!({ "bbox": [b], "crs": CRS84 }));
    }
    if let Some((s, e)) = extent.1 {
        extent_json.insert(
            "temporal".into(),
            json!({ "interval": [[s.map(rfc3339), e.map(rfc3339)]], "trs": GREGORIAN }),
        );
    }
    let mut v = json!({
        "id": c.id(),
        "title": c.title(),
        "description": c.description(),
        "itemType": "feature",
        "crs": [CRS84],
        "links": [
            link(href.clone(), "self", JSON, "This collection"),
            link(format!("{href}/items"), "items", GEOJSON, "Its features"),
        ],
    });
    if !extent_json.is_empty() {
        v["extent"] = Value::Object(extent_json);
    }
    v
}

async fn collections(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> OgcResult {
    check_params(&params, &[])?;
    let base = base_url(&headers);
    let mut out = Vec::new();
    for c in Coll::ALL {
        if allowed(&p.role, c.action()) {
            let extent = extent_of(&state, &p, c).await?;
            out.push(collection_json(&base, c, extent));
        }
    }
    ok(
        JSON,
        &json!({
            "links": [link(format!("{base}/collections"), "self", JSON, "The collections")],
            "collections": out,
        }),
    )
}

async fn collection(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> OgcResult {
    let c = Coll::readable(&id, &p)?;
    check_params(&params, &[])?;
    let extent = extent_of(&state, &p, c).await?;
    ok(JSON, &collection_json(&base_url(&headers), c, extent))
}

/// The OGC API paths as an OpenAPI 3.0 `paths` object, for whoever serves
/// [`OPENAPI_PATH`] to merge in (the `oas30` conformance class asks that the API definition
/// describe them). Query parameters are declared, so clients (GDAL) know `limit`'s maximum and
/// that no other parameter is accepted.
pub fn openapi_paths() -> Value {
    let json_ok = |what: &str, kind: &str| json!({ "200": { "description": what, "content": { kind: { "schema": { "type": "object" } } } } });
    let errors = json!({
        "400": { "description": "A query parameter is unknown or malformed", "content": { JSON: { "schema": { "$ref": "#/components/schemas/OgcException" } } } },
        "404": { "description": "No such collection or feature, or the caller's role may not read it", "content": { JSON: { "schema": { "$ref": "#/components/schemas/OgcException" } } } },
    });
    // Any other refusal (401, 403, 405, 429, 503 …) comes in the same format.
    let other = json!({ "description": "Any other error (an unknown token, a rate limit, a busy server …), as an OGC exception", "content": { JSON: { "schema": { "$ref": "#/components/schemas/OgcException" } } } });
    let with_errors = |ok: Value| {
        let mut r = ok;
        for (k, v) in errors.as_object().unwrap() {
            r[k] = v.clone();
        }
        r["default"] = other.clone();
        r
    };
    // Resources without a path parameter refuse unknown or malformed query parameters (400) only.
    let with_400 = |ok: Value| {
        let mut r = ok;
        r["400"] = errors["400"].clone();
        r["default"] = other.clone();
        r
    };
    let f = json!({ "name": "f", "in": "query", "required": false, "schema": { "type": "string", "enum": ["json", "geojson"] } });
    let collection_id = json!({ "name": "collectionId", "in": "path", "required": true,
        "schema": { "type": "string", "enum": Coll::ALL.iter().map(|c| c.id()).collect::<Vec<_>>() } });
    json!({
        "/": { "get": { "summary": "Landing page", "tags": ["OGC API – Features"], "parameters": [f], "responses": with_400(json_ok("Links to the API definition, conformance and collections", JSON)) } },
        "/conformance": { "get": { "summary": "Conformance classes", "tags": ["OGC API – Features"], "parameters": [f], "responses": with_400(json_ok("conformsTo", JSON)) } },
        "/collections": { "get": { "summary": "The collections the caller may read", "tags": ["OGC API – Features"], "parameters": [f], "responses": with_400(json_ok("Collections", JSON)) } },
        "/collections/{collectionId}": { "get": { "summary": "One collection", "tags": ["OGC API – Features"], "parameters": [collection_id, f], "responses": with_errors(json_ok("The collection", JSON)) } },
        "/collections/{collectionId}/items": { "get": {
            "summary": "Features of a collection, paged",
            "tags": ["OGC API – Features"],
            "parameters": [
                collection_id,
                { "name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
                  "schema": { "type": "array", "minItems": 4, "maxItems": 6, "items": { "type": "number" } } },
                { "name": "datetime", "in": "query", "required": false, "style": "form", "explode": false, "schema": { "type": "string" } },
                { "name": "limit", "in": "query", "required": false, "style": "form", "explode": false,
                  "schema": { "type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT } },
                { "name": "offset", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0, "default": 0 } },
                f,
            ],
            "responses": with_errors(json_ok("A FeatureCollection with numberMatched, numberReturned, timeStamp and next/prev links", GEOJSON)),
        } },
        "/collections/{collectionId}/items/{featureId}": { "get": {
            "summary": "One feature",
            "tags": ["OGC API – Features"],
            "parameters": [collection_id, { "name": "featureId", "in": "path", "required": true, "schema": { "type": "string" } }, f],
            "responses": with_errors(json_ok("A Feature", GEOJSON)),
        } },
    })
}

/// The error schema [`openapi_paths`] refers to, for `components.schemas.OgcException`.
pub fn openapi_exception_schema() -> Value {
    json!({
        "type": "object",
        "required": ["code"],
        "properties": { "code": { "type": "string" }, "description": { "type": "string" } },
    })
}

// ---------------------------------------------------------------------------------------------
// Features and filters

/// A time interval; None is an open end.
type Interval = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A feature's geometry, kept for the `bbox` test.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    None,
    Points(Vec<LonLat>),
    Lines(Vec<Vec<LonLat>>),
    /// Polygons, each exterior ring first.
    Polygons(Vec<Vec<Vec<LonLat>>>),
}

impl Shape {
    fn geojson(&self) -> Value {
        match self {
            Shape::None => Value::Null,
            Shape::Points(p) if p.len() == 1 => json!({"type": "Point", "coordinates": p[0]}),
            Shape::Points(p) => json!({"type": "MultiPoint", "coordinates": p}),
            Shape::Lines(l) if l.len() == 1 => json!({"type": "LineString", "coordinates": l[0]}),
            Shape::Lines(l) => json!({"type": "MultiLineString", "coordinates": l}),
            Shape::Polygons(p) => json!({"type": "MultiPolygon", "coordinates": p}),
        }
    }

    /// [minlon, minlat, maxlon, maxlat], None when empty.
    fn envelope(&self) -> Option<[f64; 4]> {
        let pts: Box<dyn Iterator<Item = &LonLat>> = match self {
            Shape::None => return None,
            Shape::Points(p) => Box::new(p.iter()),
            Shape::Lines(l) => Box::new(l.iter().flatten()),
            Shape::Polygons(p) => Box::new(p.iter().flat_map(|poly| poly.first()).flatten()),
        };
        pts.fold(None, |acc, q| Some(widen(acc, [q[0], q[1], q[0], q[1]])))
    }

    fn intersects(&self, b: &[f64; 4]) -> bool {
        let inside = |q: &LonLat| q[0] >= b[0] && q[0] <= b[2] && q[1] >= b[1] && q[1] <= b[3];
        let crosses = |line: &[LonLat]| {
            line.windows(2).any(|w| segment_meets_box(w[0], w[1], b))
                || (line.len() == 1 && inside(&line[0]))
        };
        match self {
            Shape::None => false,
            Shape::Points(p) => p.iter().any(inside),
            Shape::Lines(l) => l.iter().any(|line| crosses(line)),
            Shape::Polygons(polys) => polys.iter().any(|rings| {
                // An edge meets the box, or the box lies wholly inside the polygon.
                rings.iter().any(|r| crosses(r))
                    || in_polygon([(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0], rings)
            }),
        }
    }
}

fn widen(acc: Option<[f64; 4]>, b: [f64; 4]) -> [f64; 4] {
    match acc {
        None => b,
        Some(a) => [
            a[0].min(b[0]),
            a[1].min(b[1]),
            a[2].max(b[2]),
            a[3].max(b[3]),
        ],
    }
}

/// Whether the segment p–q meets the box (Liang–Barsky clipping).
fn segment_meets_box(p: LonLat, q: LonLat, b: &[f64; 4]) -> bool {
    let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (pk, qk) in [
        (-dx, p[0] - b[0]),
        (dx, b[2] - p[0]),
        (-dy, p[1] - b[1]),
        (dy, b[3] - p[1]),
    ] {
        if pk == 0.0 {
            if qk < 0.0 {
                return false;
            }
        } else {
            let t = qk / pk;
            if pk < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
            if t0 > t1 {
                return false;
            }
        }
    }
    true
}

/// Even-odd point in polygon (exterior ring and holes), planar.
fn in_polygon(pt: LonLat, rings: &[Vec<LonLat>]) -> bool {
    let mut inside = false;
    for ring in rings {
        for w in ring.windows(2) {
            let (a, c) = (w[0], w[1]);
            if (a[1] > pt[1]) != (c[1] > pt[1])
                && pt[0] < (c[0] - a[0]) * (pt[1] - a[1]) / (c[1] - a[1]) + a[0]
            {
                inside = !inside;
            }
        }
    }
    inside
}

/// The items query: `bbox`, `datetime`, `limit`, `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ItemsQuery {
    /// One box, or two when it crosses the antimeridian.
    bbox: Option<Vec<[f64; 4]>>,
    datetime: Option<Interval>,
    limit: usize,
    offset: usize,
}

impl ItemsQuery {
    pub(crate) fn parse(params: &[(String, String)]) -> Result<ItemsQuery, OgcError> {
        check_params(params, &["bbox", "datetime", "limit", "offset"])?;
        let mut q = ItemsQuery {
            limit: LIMIT_DEFAULT,
            ..ItemsQuery::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "bbox" => q.bbox = Some(parse_bbox(v)?),
                "datetime" => q.datetime = Some(parse_datetime(v)?),
                "limit" => {
                    let n: u64 = v.trim().parse().map_err(|_| {
                        OgcError::bad(format!("limit={v}: a whole number from 1 to {LIMIT_MAX}"))
                    })?;
                    q.limit = (n.min(LIMIT_MAX as u64) as usize).max(1);
                }
                "offset" => {
                    q.offset = v.trim().parse().map_err(|_| {
                        OgcError::bad(format!("offset={v}: a whole number, 0 or more"))
                    })?;
                }
                _ => {}
            }
        }
        Ok(q)
    }

    fn matches(&self, shape: &Shape, time: Interval) -> bool {
        if let Some(boxes) = &self.bbox
            && !boxes.iter().any(|b| shape.intersects(b))
        {
            return false;
        }
        if let Some((qs, qe)) = self.datetime {
            let (fs, fe) = time;
            // Intervals meet unless one ends before the other starts (ends included).
            if qe.zip(fs).is_some_and(|(qe, fs)| fs > qe)
                || qs.zip(fe).is_some_and(|(qs, fe)| fe < qs)
            {
                return false;
            }
        }
        true
    }
}

/// `minlon,minlat,maxlon,maxlat` or with heights `minlon,minlat,minh,maxlon,maxlat,maxh`.
fn parse_bbox(s: &str) -> Result<Vec<[f64; 4]>, OgcError> {
    let bad = |why: &str| {
        OgcError::bad(format!(
            "bbox={s}: {why}; expected minlon,minlat,maxlon,maxlat in degrees (CRS84)"
        ))
    };
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("not numbers"))?;
    let [w, south, e, north] = match v[..] {
        [a, b, c, d] => [a, b, c, d],
        [a, b, _, c, d, _] => [a, b, c, d],
        _ => return Err(bad(&format!("{} numbers", v.len()))),
    };
    if v.iter().any(|x| !x.is_finite())
        || !(-180.0..=180.0).contains(&w)
        || !(-180.0..=180.0).contains(&e)
        || !(-90.0..=90.0).contains(&south)
        || !(-90.0..=90.0).contains(&north)
    {
        return Err(bad("out of range"));
    }
    if south > north {
        return Err(bad("minlat is greater than maxlat"));
    }
    Ok(if w <= e {
        vec![[w, south, e, north]]
    } else {
        // Across the antimeridian.
        vec![[w, south, 180.0, north], [-180.0, south, e, north]]
    })
}

/// An instant or an interval `start/end`, either end `..` or empty when open. A date
/// (`2015-02-15`) is the whole UTC day.
fn parse_datetime(s: &str) -> Result<Interval, OgcError> {
    let bad = |why: String| {
        OgcError::bad(format!(
            "datetime={s}: {why}; expected an RFC 3339 date-time (2015-02-15T00:00:00Z), a date, \
             or an interval start/end with `..` for an open end"
        ))
    };
    let one = |t: &str, end: bool| -> Result<Option<DateTime<Utc>>, OgcError> {
        let t = t.trim();
        if t.is_empty() || t == ".." {
            return Ok(None);
        }
        if let Ok(d) = DateTime::parse_from_rfc3339(t) {
            return Ok(Some(d.with_timezone(&Utc)));
        }
        let d = NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map_err(|_| bad(format!("{t:?} is not a date-time")))?;
        let d = if end {
            d.and_hms_milli_opt(23, 59, 59, 999)
        } else {
            d.and_hms_opt(0, 0, 0)
        };
        Ok(d.map(|d| d.and_utc()))
    };
    match s.split_once('/') {
        None => {
            if s.trim().is_empty() || s.trim() == ".." {
                return Err(bad("an instant cannot be open".into()));
            }
            Ok((one(s, false)?, one(s, true)?))
        }
        Some((a, b)) => {
            let (start, end) = (one(a, false)?, one(b, true)?);
            if start.is_none() && end.is_none() {
                return Err(bad("both ends are open".into()));
            }
            if let (Some(x), Some(y)) = (start, end)
                && x > y
            {
                return Err(bad("the start is after the end".into()));
            }
            Ok((start, end))
        }
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// One feature: its id, geometry, properties, time.
struct Feature {
    id: Value,
    shape: Shape,
    properties: Value,
    time: Interval,
}

impl Feature {
    fn json(&self, base: &str, c: Coll, links: bool) -> Value {
        let mut v = json!({
            "type": "Feature",
            "id": self.id,
            "geometry": self.shape.geojson(),
            "properties": self.properties,
        });
        if links {
            let id = match &self.id {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let coll = format!("{base}/collections/{}", c.id());
            v["links"] = json!([
                link(
                    format!("{coll}/items/{}", encode(&id)),
                    "self",
                    GEOJSON,
                    "This feature"
                ),
                link(coll, "collection", JSON, "The collection it is in"),
            ]);
        }
        v
    }
}

// --- the terms ------------------------------------------------------------------------------

fn term_features(a: &Agreement, c: Coll) -> Vec<Feature> {
    let in_force = (Some(a.effective_at), None);
    match c {
        Coll::ContactLine => vec![Feature {
            id: json!("contact_line"),
            shape: Shape::Lines(a.contact_line.lines.clone()),
            properties: json!({
                "agreement_id": a.id,
                "agreement_title": a.title,
                "agreement_hash": a.hash,
                "effective_at": a.effective_at,
                "geometry_file": a.contact_line.geometry_file,
            }),
            time: in_force,
        }],
        Coll::PartyAreas => a
            .parties
            .iter()
            .map(|p| Feature {
                id: json!(p.id),
                shape: Shape::Polygons(p.area.clone()),
                properties: json!({
                    "party": p.id,
                    "name": p.name,
                    "area_file": p.area_file,
                    "agreement_hash": a.hash,
                }),
                time: in_force,
            })
            .collect(),
        Coll::Zones => a
            .zones
            .iter()
            .map(|z| {
                let (shape, within_km, file) = match &z.extent {
                    ZoneExtent::Polygons { file, polygons } => {
                        (Shape::Polygons(polygons.clone()), None, Some(file.clone()))
                    }
                    ZoneExtent::WithinKmOfLine { within_km } => (Shape::None, Some(*within_km), None),
                };
                Feature {
                    id: json!(z.id),
                    shape,
                    properties: json!({
                        "zone_id": z.id,
                        "name": z.name,
                        "kind": z.kind.as_str(),
                        "prohibits": z.prohibits.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","),
                        "within_km": within_km,
                        "geometry_file": file,
                        "agreement_hash": a.hash,
                    }),
                    time: in_force,
                }
            })
            .collect(),
        Coll::StorageSites => a
            .storage_sites
            .iter()
            .map(|s| Feature {
                id: json!(s.id),
                shape: Shape::Points(vec![s.location]),
                properties: json!({
                    "site_id": s.id,
                    "name": s.name,
                    "party": s.party,
                    "radius_m": s.radius_m,
                    "declared": s.declared,
                    "serials": s.serials,
                    "agreement_hash": a.hash,
                }),
                time: in_force,
            })
            .collect(),
        Coll::Incidents | Coll::Observations => Vec::new(),
    }
}

/// The envelope of the contact line widened by `km` (a band zone's extent, approximately).
fn band_envelope(a: &Agreement, km: f64) -> Option<[f64; 4]> {
    let e = Shape::Lines(a.contact_line.lines.clone()).envelope()?;
    let dlat = km / 111.0;
    let dlon = km / (111.0 * e[3].abs().max(e[1].abs()).to_radians().cos().max(0.01));
    Some([
        (e[0] - dlon).max(-180.0),
        (e[1] - dlat).max(-90.0),
        (e[2] + dlon).min(180.0),
        (e[3] + dlat).min(90.0),
    ])
}

// --- incidents ------------------------------------------------------------------------------

/// The incidents `p` may see, newest first as the REST API lists them, from the snapshot:
/// (incident, view, shape).
fn visible_incidents<'a>(snapshot: &'a Incidents, p: &Principal) -> Vec<(&'a Item, View, Shape)> {
    snapshot
        .shown(&p.role, &Select::default())
        .into_iter()
        .map(|(s, item)| {
            let shape = s.location.map_or(Shape::None, |l| Shape::Points(vec![l]));
            (item, s.view, shape)
        })
        .collect()
}

fn incident_feature(snapshot: &Incidents, item: &Item, view: View, shape: Shape) -> Feature {
    let inc = &item.incident;
    let mut properties =
        serde_json::to_value(snapshot.view(item, view)).expect("a view serialises");
    if let Value::Object(m) = &mut properties {
        // The location is the geometry.
        m.remove("location");
        m.remove("id");
    }
    Feature {
        id: json!(inc.id),
        shape,
        properties,
        time: (Some(inc.start), Some(inc.end)),
    }
}

// --- observations ---------------------------------------------------------------------------

fn observation_shape(g: &Geometry) -> Shape {
    let ll = |c: &Vec<f64>| [c[0], c.get(1).copied().unwrap_or(0.0)];
    match g {
        Geometry::Point { coordinates } => Shape::Points(vec![ll(coordinates)]),
        Geometry::LineString { coordinates } => {
            Shape::Lines(vec![coordinates.iter().map(ll).collect()])
        }
        Geometry::Polygon { coordinates } => Shape::Polygons(vec![
            coordinates
                .iter()
                .map(|r| r.iter().map(ll).collect())
                .collect(),
        ]),
    }
}

/// An observation's properties, flattened one level (`source.id` → `source_id`) so GIS
/// clients get plain columns, with its assessment beside them as in the GeoPackage layer.
fn observation_feature(o: &StoredObservation) -> Feature {
    let mut props = Map::new();
    props.insert("entry_seq".into(), json!(o.seq));
    props.insert("obs_id".into(), json!(o.observation.id));
    if let Ok(Value::Object(m)) = serde_json::to_value(&o.observation.properties) {
        for (k, v) in m {
            match v {
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        props.insert(format!("{k}_{k2}"), v2);
                    }
                }
                v => {
                    props.insert(k, v);
                }
            }
        }
    }
    let a = &o.assessment;
    props.insert("party_area".into(), json!(a.party_area));
    props.insert(
        "distance_to_line_m".into(),
        json!((a.distance_to_line_m * 10.0).round() / 10.0),
    );
    props.insert("zones".into(), json!(a.zones.join(",")));
    props.insert("breach_count".into(), json!(a.breaches.len()));
    props.insert(
        "max_severity".into(),
        json!(
            a.breaches
                .iter()
                .map(|b| b.severity)
                .max()
                .map(|s| s.as_str())
        ),
    );
    props.insert(
        "rules".into(),
        json!(
            a.breaches
                .iter()
                .map(|b| b.rule.as_str())
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    props.insert("breaches".into(), json!(a.breaches));
    props.insert("crossings".into(), json!(a.crossings));
    props.insert("agreement_hash".into(), json!(a.agreement_hash));
    props.insert("content_sha256".into(), json!(o.content_sha256));
    let t = o.observation.properties.observed_at;
    Feature {
        id: json!(o.seq),
        shape: observation_shape(&o.observation.geometry),
        properties: Value::Object(props),
        time: (Some(t), Some(t)),
    }
}

/// Every stored observation, in seq order, `SCAN_CHUNK` at a time.
fn scan_observations(
    store: &dyn Store,
    mut each: impl FnMut(&StoredObservation),
) -> Result<(), ApiError> {
    let mut from = 0;
    loop {
        let page = store
            .observations(from, SCAN_CHUNK)
            .map_err(anyhow::Error::from)?;
        for o in &page {
            each(o);
        }
        match page.last() {
            Some(last) if page.len() == SCAN_CHUNK => from = last.seq + 1,
            _ => return Ok(()),
        }
    }
}

// --- extents --------------------------------------------------------------------------------

async fn extent_of(
    state: &Shared,
    p: &Principal,
    c: Coll,
) -> Result<(Option<[f64; 4]>, Option<Interval>), OgcError> {
    fn fold(acc: &mut (Option<[f64; 4]>, Option<Interval>), shape: &Shape, (s, e): Interval) {
        if let Some(b) = shape.envelope() {
            acc.0 = Some(widen(acc.0, b));
        }
        // An open end (None) stays open.
        acc.1 = Some(match acc.1 {
            None => (s, e),
            Some((s0, e0)) => (
                s0.zip(s).map(|(a, b)| a.min(b)),
                e0.zip(e).map(|(a, b)| a.max(b)),
            ),
        });
    }
    let a = state.engine.agreement();
    match c {
        Coll::Incidents => {
            let snapshot = state.incidents();
            let mut acc = (None, None);
            for (item, _, shape) in visible_incidents(&snapshot, p) {
                let inc = &item.incident;
                fold(&mut acc, &shape, (Some(inc.start), Some(inc.end)));
            }
            Ok(acc)
        }
        Coll::Observations => Ok(with_core(state, move |core| {
            let mut acc = (None, None);
            scan_observations(core.svc.store(), |o| {
                let t = o.observation.properties.observed_at;
                fold(
                    &mut acc,
                    &observation_shape(&o.observation.geometry),
                    (Some(t), Some(t)),
                );
            })?;
            Ok(acc)
        })
        .await?),
        _ => {
            let mut acc = (None, None);
            for f in term_features(a, c) {
                fold(&mut acc, &f.shape, f.time);
            }
            if c == Coll::Zones {
                for z in &a.zones {
                    if let ZoneExtent::WithinKmOfLine { within_km } = z.extent
                        && let Some(b) = band_envelope(a, within_km)
                    {
                        acc.0 = Some(widen(acc.0, b));
                    }
                }
            }
            Ok(acc)
        }
    }
}

// --- items ----------------------------------------------------------------------------------

/// Percent-encodes a query value (keeps `,:/.-_~` readable).
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b",:/.-_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The items URL with `offset` (and `limit`) set and the other parameters kept.
fn page_url(
    base: &str,
    c: Coll,
    params: &[(String, String)],
    offset: usize,
    limit: usize,
) -> String {
    let mut q: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != "offset" && k != "limit")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    q.push(format!("limit={limit}"));
    if offset > 0 {
        q.push(format!("offset={offset}"));
    }
    format!("{base}/collections/{}/items?{}", c.id(), q.join("&"))
}

async fn items(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> OgcResult {
    let c = Coll::readable(&id, &p)?;
    let q = ItemsQuery::parse(&params)?;
    let base = base_url(&headers);
    let (limit, offset) = (q.limit, q.offset);
    let (matched, page): (usize, Vec<Value>) = match c {
        Coll::Incidents => {
            let snapshot = state.incidents();
            let shown: Vec<_> = visible_incidents(&snapshot, &p)
                .into_iter()
                .filter(|(item, _, shape)| {
                    let inc = &item.incident;
                    q.matches(shape, (Some(inc.start), Some(inc.end)))
                })
                .collect();
            let total = shown.len();
            let page = shown
                .into_iter()
                .skip(offset)
                .take(limit)
                .map(|(item, v, shape)| {
                    incident_feature(&snapshot, item, v, shape).json(&base, c, false)
                })
                .collect();
            (total, page)
        }
        Coll::Observations => {
            let (q, base) = (q.clone(), base.clone());
            with_core(&state, move |core| {
                let mut total = 0;
                let mut page = Vec::new();
                scan_observations(core.svc.store(), |o| {
                    let t = o.observation.properties.observed_at;
                    if !q.matches(
                        &observation_shape(&o.observation.geometry),
                        (Some(t), Some(t)),
                    ) {
                        return;
                    }
                    if total >= offset && total < offset.saturating_add(limit) {
                        page.push(observation_feature(o).json(&base, c, false));
                    }
                    total += 1;
                })?;
                Ok((total, page))
            })
            .await?
        }
        _ => {
            let shown: Vec<Feature> = term_features(state.engine.agreement(), c)
                .into_iter()
                .filter(|f| q.matches(&f.shape, f.time))
                .collect();
            let total = shown.len();
            let page = shown
                .iter()
                .skip(offset)
                .take(limit)
                .map(|f| f.json(&base, c, false))
                .collect();
            (total, page)
        }
    };
    let returned = page.len();
    let mut links = vec![
        link(
            page_url(&base, c, &params, offset, limit),
            "self",
            GEOJSON,
            "This page",
        ),
        link(
            format!("{base}/collections/{}", c.id()),
            "collection",
            JSON,
            "The collection",
        ),
    ];
    if offset.saturating_add(returned) < matched {
        links.push(link(
            page_url(&base, c, &params, offset.saturating_add(returned), limit),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            page_url(&base, c, &params, offset.saturating_sub(limit), limit),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    ok(
        GEOJSON,
        &json!({
            "type": "FeatureCollection",
            "features": page,
            "links": links,
            "timeStamp": rfc3339(state.clock.now()),
            "numberMatched": matched,
            "numberReturned": returned,
        }),
    )
}

async fn item(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((id, fid)): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> OgcResult {
    let c = Coll::readable(&id, &p)?;
    check_params(&params, &[])?;
    let base = base_url(&headers);
    let missing = || OgcError::not_found(format!("no feature {fid:?} in {}", c.id()));
    let feature = match c {
        Coll::Incidents => {
            let snapshot = state.incidents();
            // Not visible is not found, as in the REST API.
            visible_incidents(&snapshot, &p)
                .into_iter()
                .find(|(item, _, _)| item.incident.id == fid)
                .map(|(item, v, shape)| {
                    incident_feature(&snapshot, item, v, shape).json(&base, c, true)
                })
        }
        Coll::Observations => {
            let Ok(seq) = fid.parse::<u64>() else {
                return Err(missing());
            };
            let base = base.clone();
            with_core(&state, move |core| {
                let o = core
                    .svc
                    .store()
                    .observations(seq, 1)
                    .map_err(anyhow::Error::from)?
                    .into_iter()
                    .find(|o| o.seq == seq);
                Ok(o.map(|o| observation_feature(&o).json(&base, c, true)))
            })
            .await?
        }
        _ => term_features(state.engine.agreement(), c)
            .into_iter()
            .find(|f| f.id.as_str() == Some(fid.as_str()))
            .map(|f| f.json(&base, c, true)),
    };
    ok(GEOJSON, &feature.ok_or_else(missing)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parses_and_crosses_the_antimeridian() {
        assert_eq!(
            parse_bbox("38,48,39,49").unwrap(),
            vec![[38.0, 48.0, 39.0, 49.0]]
        );
        assert_eq!(
            parse_bbox("38,48,0,39,49,100").unwrap(),
            vec![[38.0, 48.0, 39.0, 49.0]]
        );
        assert_eq!(parse_bbox("170,0,-170,10").unwrap().len(), 2);
        for bad in ["", "1,2,3", "a,b,c,d", "0,10,1,5", "0,0,200,1", "0,0,1,NaN"] {
            assert!(parse_bbox(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn datetime_instants_intervals_and_open_ends() {
        let t = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        let i = parse_datetime("2015-02-15T00:00:00Z").unwrap();
        assert_eq!(i, (t("2015-02-15T00:00:00Z"), t("2015-02-15T00:00:00Z")));
        let i = parse_datetime("2015-02-15T00:00:00+02:00/..").unwrap();
        assert_eq!(i, (t("2015-02-14T22:00:00Z"), None));
        let i = parse_datetime("../2015-02-16").unwrap();
        assert_eq!(i, (None, t("2015-02-16T23:59:59.999Z")));
        let i = parse_datetime("/2015-02-16T00:00:00Z").unwrap();
        assert_eq!(i, (None, t("2015-02-16T00:00:00Z")));
        for bad in [
            "",
            "..",
            "../..",
            "yesterday",
            "2015-02-16/2015-02-15",
            "2015-02-15T00:00:00",
        ] {
            assert!(parse_datetime(bad).is_err(), "{bad}");
        }
        let q = ItemsQuery {
            datetime: Some(parse_datetime("2015-02-15T12:00:00Z").unwrap()),
            ..ItemsQuery::default()
        };
        let day = (t("2015-02-15T00:00:00Z"), t("2015-02-15T23:00:00Z"));
        assert!(q.matches(&Shape::None, day));
        assert!(q.matches(&Shape::None, (t("2015-02-15T12:00:00Z"), None)));
        assert!(!q.matches(&Shape::None, (t("2015-02-16T00:00:00Z"), None)));
        assert!(!q.matches(&Shape::None, (None, t("2015-02-15T11:59:59Z"))));
    }

    #[test]
    fn bbox_meets_lines_and_polygons_not_just_vertices() {
        let b = [0.0, 0.0, 1.0, 1.0];
        // A line crossing the box with both ends outside.
        assert!(Shape::Lines(vec![vec![[-1.0, 0.5], [2.0, 0.5]]]).intersects(&b));
        assert!(!Shape::Lines(vec![vec![[-1.0, 2.0], [2.0, 2.0]]]).intersects(&b));
        // A polygon holding the box entirely, and one beside it.
        let square = |x0: f64, y0: f64, s: f64| {
            vec![vec![
                [x0, y0],
                [x0 + s, y0],
                [x0 + s, y0 + s],
                [x0, y0 + s],
                [x0, y0],
            ]]
        };
        assert!(Shape::Polygons(vec![square(-5.0, -5.0, 10.0)]).intersects(&b));
        assert!(!Shape::Polygons(vec![square(2.0, 2.0, 1.0)]).intersects(&b));
        assert!(Shape::Points(vec![[1.0, 1.0]]).intersects(&b));
        assert!(!Shape::None.intersects(&b));
    }

    #[test]
    fn unknown_parameters_and_formats_are_refused() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(ItemsQuery::parse(&p("bbox", "1,1,2,2")).is_ok());
        assert!(ItemsQuery::parse(&p("f", "json")).is_ok());
        assert!(ItemsQuery::parse(&p("f", "html")).is_err());
        assert!(ItemsQuery::parse(&p("colour", "red")).is_err());
        assert!(ItemsQuery::parse(&p("limit", "-1")).is_err());
        assert_eq!(
            ItemsQuery::parse(&p("limit", "5000")).unwrap().limit,
            LIMIT_MAX
        );
        assert_eq!(ItemsQuery::parse(&p("limit", "0")).unwrap().limit, 1);
        assert_eq!(ItemsQuery::parse(&[]).unwrap().limit, LIMIT_DEFAULT);
    }

    #[test]
    fn openapi_paths_declare_every_route_and_the_limit() {
        let p = openapi_paths();
        for path in [
            "/",
            "/conformance",
            "/collections",
            "/collections/{collectionId}",
            "/collections/{collectionId}/items",
            "/collections/{collectionId}/items/{featureId}",
        ] {
            assert!(p[path]["get"].is_object(), "{path}");
        }
        let params = p["/collections/{collectionId}/items"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let limit = params.iter().find(|x| x["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["maximum"], LIMIT_MAX);
        assert_eq!(openapi_exception_schema()["required"], json!(["code"]));
    }

    #[test]
    fn page_links_keep_the_query() {
        let params = vec![
            ("bbox".to_string(), "38,48,39,49".to_string()),
            (
                "datetime".to_string(),
                "2015-02-15T00:00:00+02:00/..".to_string(),
            ),
            ("limit".to_string(), "2".to_string()),
        ];
        assert_eq!(
            page_url("http://h:1", Coll::Incidents, &params, 4, 2),
            "http://h:1/collections/incidents/items?bbox=38,48,39,49&datetime=2015-02-15T00:00:00%2B02:00/..&limit=2&offset=4"
        );
    }
}
