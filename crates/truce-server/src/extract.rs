//! Extractors whose rejections are `{"error": …}` like every other error of the API (axum's
//! own answer is plain text), with axum's status: 400 a malformed query, path or JSON body,
//! 413 a body over `max_body_bytes`, 415 a JSON body sent without `Content-Type:
//! application/json`, 422 JSON of the wrong shape.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// [`Query`], rejected as an [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// [`Path`], rejected as an [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// [`Json`], rejected as an [`ApiError`].
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> ApiResult<Self> {
        Json::<T>::from_request(req, state)
            .await
            .map(|Json(v)| ApiJson(v))
            .map_err(|e: JsonRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// The raw body, rejected as an [`ApiError`] (413 over `max_body_bytes`).
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = ApiError;
    async fn from_request(req: axum::extract::Request, state: &S) -> ApiResult<Self> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e: BytesRejection| ApiError::new(e.status(), e.body_text()))
    }
}

/// 415 unless `headers` say the body is JSON (`application/json`, `application/geo+json` or
/// any `application/*+json`), as [`ApiJson`] requires: for bodies read as GeoJSON by an
/// adapter rather than by [`ApiJson`].
pub fn require_json(headers: &axum::http::HeaderMap) -> ApiResult<()> {
    let mime = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if json {
        Ok(())
    } else {
        Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a GeoJSON body needs `Content-Type: application/json` or `application/geo+json`",
        ))
    }
}
