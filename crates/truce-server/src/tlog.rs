//! The log as C2SP tlog-tiles under `/log/` (`docs/log.md`): `/log/checkpoint` and
//! `/log/tile/…`, so a party can mirror and verify the log with any tlog-tiles client. Hash
//! tiles are public (hashes reveal nothing); entry bundles hold the entries themselves —
//! observations with their sources — and are served to staff and parties, as proofs are.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::require;
use crate::auth::{Action, Principal, Role};
use crate::error::ApiError;
use crate::reactions::with_core;
use crate::state::Shared;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/{*path}", get(tile))
}

#[utoipa::path(get, path = "/log/checkpoint", tag = "log", operation_id = "tlog_checkpoint",
    summary = "The latest signed checkpoint, at the tlog-tiles location (C2SP signed note)",
    responses(
        (status = 200, description = "The checkpoint", content_type = "text/plain", body = String),
        (status = 404, description = "No checkpoint signed yet", body = crate::schemas::ErrorBody),
    ))]
pub async fn checkpoint(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    crate::api::log::checkpoint_text(&state, &p).await
}

#[utoipa::path(get, path = "/log/{path}", tag = "log", operation_id = "tlog_tile",
    summary = "A tile of the log (`tile/L/N[.p/W]`: hashes, public) or an entry bundle (`tile/entries/N[.p/W]`: staff and parties)",
    params(("path" = String, Path, description = "The tile's path under /log/", example = "tile/0/000")),
    responses(
        (status = 200, description = "The tile's bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 403, description = "An entry bundle, for a role that may not read entries", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such tile at the latest checkpoint", body = crate::schemas::ErrorBody),
    ))]
pub async fn tile(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    require(&p, Action::ReadLog, "read the log")?;
    if path.starts_with("tile/entries/") && matches!(p.role, Role::Public | Role::Team(_)) {
        return Err(ApiError::forbidden(
            "read log entries (a party or staff token may)",
        ));
    }
    let bytes = with_core(&state, move |core| {
        let size = core
            .svc
            .store()
            .latest_checkpoint()
            .map_err(anyhow::Error::from)?
            .map(|c| c.size)
            .ok_or_else(|| ApiError::not_found("the log has signed no checkpoint yet"))?;
        let cache = &core.tiles;
        let mut cached = cache.0.lock().unwrap_or_else(|e| e.into_inner());
        if cached.as_ref().is_none_or(|(s, _)| *s != size) {
            let tiles = core
                .svc
                .store()
                .tiles(0, size)
                .map_err(anyhow::Error::from)?;
            *cached = Some((size, tiles.into_iter().map(|t| (t.path, t.bytes)).collect()));
        }
        cached
            .as_ref()
            .and_then(|(_, m)| m.get(&path).cloned())
            .ok_or_else(|| ApiError::not_found(format!("no tile {path} at size {size}")))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}
