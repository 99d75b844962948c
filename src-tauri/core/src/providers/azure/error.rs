//! What can go wrong talking to Entra ID and ARM, with ARM's own codes and words kept, so that an
//! administrator reads "OperationNotAllowed: Only one incremental snapshot ..." rather than "409".

use std::time::Duration;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ArmError {
    /// Entra refused the credentials (or could not be asked).
    #[error("Azure sign-in failed: {explanation} ({code}: {description})")]
    Auth {
        /// Entra's `error` (`invalid_client`, ...).
        code: String,
        /// Our reading of it for an administrator.
        explanation: String,
        /// Entra's `error_description` (starts with `AADSTSnnnn:`).
        description: String,
        error_codes: Vec<u64>,
    },
    /// ARM answered with an error.
    #[error("Azure answered {status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        target: Option<String>,
        request_id: Option<String>,
        /// ARM's `Retry-After` on a refusal that passes with time (e.g. the 409 for more than 7
        /// incremental snapshots of a disk in 5 minutes): when to try again.
        retry_after: Option<Duration>,
    },
    /// 429 with a `Retry-After` longer than this client may wait (or retries ran out).
    #[error("Azure is throttling requests: retry after {} s ({message})", retry_after.as_secs())]
    Throttled {
        retry_after: Duration,
        message: String,
    },
    /// No answer (connection refused, dropped, timed out), after the retries that were safe.
    #[error("cannot reach {what}: {message}")]
    Transport { what: String, message: String },
    /// A long-running operation ended in failure.
    #[error("the Azure operation {what} failed: {code}: {message}")]
    OperationFailed {
        what: String,
        code: String,
        message: String,
    },
    /// A CopyStart copy reported `copyCompletionError`.
    #[error("the copy of snapshot {snapshot} failed at {percent:.0}%: {code}: {message}")]
    CopyFailed {
        snapshot: String,
        code: String,
        message: String,
        percent: f64,
    },
    /// An action was sent and its outcome is unknown (its answer was lost and the state read back
    /// does not show it took effect, or the state could not be read, or the operation's monitor
    /// stopped answering): it was not sent blindly again, and a caller must not either without
    /// looking first.
    #[error("{what}: Azure may or may not have done it ({state}); check it before trying again")]
    Uncertain { what: String, state: String },
    #[error("{0} was cancelled")]
    Cancelled(String),
    /// An answer did not have the shape the API documents.
    #[error("unexpected answer from Azure for {what}: {message}")]
    Decode { what: String, message: String },
    #[error("the Azure account settings are not usable: {0}")]
    Config(String),
    /// ARM (or something answering in its place) pointed a long-running operation monitor or a
    /// `nextLink` at another origin (scheme, host, port) than the configured ARM URL. The bearer
    /// token is never sent there.
    #[error("ARM pointed at {url}, which is not {arm_url}: refusing to send credentials there")]
    ForeignOrigin { url: String, arm_url: String },
}

impl ArmError {
    /// ARM's error code, when there is one (`OperationNotAllowed`, `CopySourceNotFound`, ...).
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Auth { code, .. }
            | Self::Api { code, .. }
            | Self::OperationFailed { code, .. }
            | Self::CopyFailed { code, .. } => Some(code),
            Self::Throttled { .. } => Some("TooManyRequests"),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A token ARM no longer accepts: worth one fresh token and one retry.
    pub fn is_stale_token(&self) -> bool {
        matches!(self, Self::Api { status: 401, code, .. }
            if code == "ExpiredAuthenticationToken" || code == "InvalidAuthenticationToken")
    }

    pub fn decode(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Decode {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

/// Reads an Entra error body (`error`, `error_description`, `error_codes`) into an `Auth` error
/// that says what to fix.
pub fn entra_error(status: u16, body: &[u8]) -> ArmError {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Entra {
        error: String,
        error_description: String,
        error_codes: Vec<u64>,
    }
    let e: Entra = serde_json::from_slice(body).unwrap_or_default();
    let has = |c: u64| e.error_codes.contains(&c);
    let explanation = if has(7000215) || has(7000222) {
        "the client secret is wrong or expired"
    } else if has(7000216) {
        "no client secret was given"
    } else if has(90002) || has(90072) || has(900023) {
        "unknown tenant: check the tenant id (and that it belongs to this cloud)"
    } else if has(700016) {
        "unknown client id: the application is not registered in this tenant"
    } else if has(500011) || has(1002012) {
        "the token audience (scope) is wrong for this cloud's Resource Manager"
    } else if e.error == "temporarily_unavailable" || status == 429 || status >= 500 {
        "the sign-in service is busy or unavailable; retry later"
    } else if e.error == "invalid_client" {
        "the client credentials were refused"
    } else {
        "the sign-in was refused"
    };
    ArmError::Auth {
        code: if e.error.is_empty() {
            format!("http_{status}")
        } else {
            e.error
        },
        explanation: explanation.to_string(),
        description: e.error_description,
        error_codes: e.error_codes,
    }
}

/// Reads an ARM error body in either shape: `{"error": {code, message, target, details}}` or the
/// bare `{code, message}` that throttling answers.
pub fn arm_error(status: u16, body: &[u8], request_id: Option<String>) -> ArmError {
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
        target: Option<String>,
        details: Vec<Inner>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Outer {
        error: Option<Inner>,
        code: Option<String>,
        message: Option<String>,
        target: Option<String>,
    }
    let o: Outer = serde_json::from_slice(body).unwrap_or_default();
    let (code, message, target, details) = match o.error {
        Some(i) => (i.code, i.message, i.target, i.details),
        None => (o.code, o.message, o.target, Vec::new()),
    };
    let mut message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status} without a body")
        } else {
            text.chars().take(300).collect()
        }
    });
    // Details often hold the actual reason (e.g. which property is invalid).
    for d in details {
        if let (Some(c), Some(m)) = (d.code, d.message) {
            message.push_str(&format!(" [{c}: {m}]"));
        }
    }
    ArmError::Api {
        status,
        code: code.unwrap_or_else(|| format!("Http{status}")),
        message,
        target,
        request_id,
        retry_after: None,
    }
}

impl From<ArmError> for ApiError {
    fn from(e: ArmError) -> Self {
        let code = match &e {
            ArmError::Auth { .. } | ArmError::Config(_) | ArmError::ForeignOrigin { .. } => {
                ErrorCode::InvalidInput
            }
            ArmError::Api { status, .. } => match status {
                404 => ErrorCode::NotFound,
                409 => ErrorCode::Conflict,
                400..=403 | 405..=408 | 410..=428 => ErrorCode::InvalidInput,
                _ => ErrorCode::Unavailable,
            },
            ArmError::Throttled { .. } | ArmError::Transport { .. } => ErrorCode::Unavailable,
            ArmError::OperationFailed { .. }
            | ArmError::CopyFailed { .. }
            | ArmError::Uncertain { .. } => ErrorCode::Conflict,
            ArmError::Cancelled(_) => ErrorCode::Conflict,
            ArmError::Decode { .. } => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_keep_code_and_message() {
        let e = arm_error(
            409,
            br#"{"error":{"code":"OperationNotAllowed","message":"Only one at a time","target":"x"}}"#,
            None,
        );
        assert_eq!(e.code(), Some("OperationNotAllowed"));
        assert!(e.to_string().contains("Only one at a time"));
        let e = arm_error(
            429,
            br#"{"code":"TooManyRequests","message":"slow down"}"#,
            None,
        );
        assert_eq!(e.code(), Some("TooManyRequests"));
        assert!(e.to_string().contains("slow down"));
        let e = arm_error(502, b"<html>bad gateway</html>", None);
        assert_eq!(e.code(), Some("Http502"));
        let api: ApiError = arm_error(
            404,
            br#"{"error":{"code":"ResourceNotFound","message":"m"}}"#,
            None,
        )
        .into();
        assert_eq!(api.code, ErrorCode::NotFound);
        assert!(api.message.contains("ResourceNotFound"));
    }

    #[test]
    fn entra_errors_say_what_to_fix() {
        let e = entra_error(
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#,
        );
        assert!(
            e.to_string()
                .contains("the client secret is wrong or expired"),
            "{e}"
        );
        let e = entra_error(400, br#"{"error":"invalid_request","error_codes":[90002]}"#);
        assert!(e.to_string().contains("unknown tenant"), "{e}");
    }
}
