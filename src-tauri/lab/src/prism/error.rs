//! Prism's error answers: `{"message", "detailed_message", "error_code": {"code", "help_url"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Error codes the lab uses. Real Prism codes depend on the backing service (Acropolis, Cerebro,
/// Ergon); these stay stable so that tests and clients can tell the cases apart.
pub mod code {
    pub const INVALID_ARGUMENT: i64 = 1100;
    pub const NOT_FOUND: i64 = 1101;
    pub const ALREADY_EXISTS: i64 = 1102;
    pub const INVALID_STATE: i64 = 1103;
    pub const UNAUTHORIZED: i64 = 1401;
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status}: {message}")]
pub struct PrismError {
    pub status: StatusCode,
    pub code: i64,
    pub message: String,
    pub detail: String,
}

impl PrismError {
    pub fn new(status: StatusCode, code: i64, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            status,
            code,
            detail: message.clone(),
            message,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, message)
    }
    pub fn not_found(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            code::NOT_FOUND,
            format!("{kind} {id} does not exist"),
        )
    }
    pub fn exists(kind: &str, id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            code::ALREADY_EXISTS,
            format!("{kind} {id} already exists"),
        )
    }
    /// The request is well formed but the entity's state forbids it (VM on, snapshot in flight...).
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_STATE, message)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHORIZED,
            "Authentication failed: invalid user name or password",
        )
    }
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
    pub fn body(&self) -> serde_json::Value {
        json!({
            "message": self.message,
            "detailed_message": self.detail,
            "error_code": { "code": self.code, "help_url": "http://my.nutanix.com" },
        })
    }
}

impl IntoResponse for PrismError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"Prism Gateway\""),
            );
        }
        r
    }
}

pub type PrismResult<T> = Result<T, PrismError>;
