//! The one error type that crosses a boundary (IPC, `--json` output): `{code, message}`.
//!
//! Inside the crate each module has its own `thiserror` enum; they convert into `ApiError` at the
//! edge, choosing a code the front end can act on and keeping the words an administrator can read.

use serde::{Deserialize, Serialize};

/// What kind of failure this is, so that callers can decide what to offer (retry, fix input, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request itself is wrong: the message says what to change.
    InvalidInput,
    NotFound,
    /// The request conflicts with the current state (e.g. a name already taken).
    Conflict,
    /// A local resource (data folder, catalog, keyring) could not be used.
    Storage,
    /// A remote system did not answer or refused; retrying later may help.
    Unavailable,
    /// A bug: the message says what happened; the log has the details.
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Why a fact could not be established, in the words an administrator reads. Plans gather facts
/// (a target disk, a remote site, a protection domain) and report a missing one as a check's
/// result instead of failing on it; this carries the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unknown(pub String);

impl From<String> for Unknown {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Unknown {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<Unknown> for String {
    fn from(u: Unknown) -> Self {
        u.0
    }
}
