//! The error every handler returns: a status and `{"error": reason}`, whatever went wrong —
//! a refused use case, a malformed request, a failed store. Below every handler module: it
//! imports nothing of the crate.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use truce_service::ServiceError;

/// An error as the API returns it: a status and `{"error": reason}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: String,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> ApiError {
        ApiError {
            status,
            reason: reason.into(),
        }
    }
    pub fn forbidden(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("this token's role may not {what}"),
        )
    }
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, what)
    }
    pub fn bad_request(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, what)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "request failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.reason })),
        )
            .into_response()
    }
}

/// A use case's refusal as the API answers it: 409 a state that does not allow it, 404 what
/// does not exist, 400 a wrong request, 500 a failed store.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::Refused(why) => ApiError::new(StatusCode::CONFLICT, why.to_string()),
            ServiceError::NotFound(why) => ApiError::not_found(why),
            ServiceError::Invalid(why) => ApiError::bad_request(why),
            ServiceError::Internal(e) => ApiError::from(e),
        }
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;
