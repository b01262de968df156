//! OGC API – Features Part 1 (Core, GeoJSON, OpenAPI 3.0): being written.

use axum::Router;

use crate::state::Shared;

/// The OGC API routes (landing page, conformance, collections, items), mounted at `/`.
pub fn routes() -> Router<Shared> {
    Router::new()
}
