//! `GET /api/log/checkpoint` and `GET /api/log/proof/{seq}`: the signed checkpoint, and an
//! entry with its inclusion (and consistency) proof.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::require;
use crate::auth::{Action, Principal};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use crate::reactions::with_core;
use crate::state::Shared;
use truce_service::access::entry_body;

#[utoipa::path(get, path = "/api/log/checkpoint", tag = "log",
    summary = "The latest signed checkpoint (C2SP signed note)",
    responses(
        (status = 200, description = "The checkpoint", body = String, content_type = "text/plain"),
        (status = 404, description = "The log has signed no checkpoint yet", body = crate::schemas::ErrorBody),
    ))]
pub async fn checkpoint(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
) -> ApiResult<Response> {
    checkpoint_text(&state, &p).await
}

/// The latest signed checkpoint as `text/plain` (here and at `/log/checkpoint`, `crate::tlog`).
pub async fn checkpoint_text(state: &Shared, p: &Principal) -> ApiResult<Response> {
    require(p, Action::ReadLog, "read the log")?;
    let text = with_core(state, |core| {
        core.svc
            .store()
            .latest_checkpoint()
            .map_err(anyhow::Error::from)?
            .map(|c| c.text)
            .ok_or_else(|| ApiError::not_found("the log has signed no checkpoint yet"))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProofQuery {
    /// Also prove consistency from this older tree size.
    old_size: Option<u64>,
}

#[utoipa::path(get, path = "/api/log/proof/{seq}", tag = "log",
    summary = "An entry's inclusion (and consistency) proof, with its bytes where the role may read them (any)",
    description = "Everyone gets the hashes (leaf hash, inclusion path, signed checkpoint). The entry's bytes (`entry`) only where the caller's role may read that record (`truce_service::access::entry_body`): staff every entry; a party the terms and the responses on incidents it sees; a team and the public the terms. Otherwise `entry` is left out and `withheld` says why.",
    params(("seq" = u64, Path, description = "The entry's seq in the log", example = 1), ProofQuery),
    responses(
        (status = 200, description = "The proof document, as `truce log prove` (without `entry` where withheld)", body = crate::proof::ProofDocument),
        (status = 400, description = "A malformed seq or old_size", body = crate::schemas::ErrorBody),
        (status = 404, description = "No such entry, or no proof from old_size", body = crate::schemas::ErrorBody),
    ))]
pub async fn proof(
    State(state): State<Shared>,
    Extension(p): Extension<Principal>,
    ApiPath(seq): ApiPath<u64>,
    ApiQuery(q): ApiQuery<ProofQuery>,
) -> ApiResult<Json<crate::proof::ProofDocument>> {
    require(&p, Action::ReadLog, "read the log")?;
    with_core(&state, move |core| {
        let doc = crate::proof::prove(core.svc.store(), "the store", seq, q.old_size)
            .map_err(|e| ApiError::not_found(format!("{e:#}")))?;
        // `prove` found the entry, so it is there.
        let entry = core
            .svc
            .store()
            .entry(seq)
            .map_err(anyhow::Error::from)?
            .ok_or_else(|| ApiError::not_found(format!("no entry {seq}")))?;
        Ok(Json(match entry_body(&p.role, core.svc.ledger(), &entry) {
            Ok(()) => doc,
            Err(why) => doc.withhold(why),
        }))
    })
    .await
}
