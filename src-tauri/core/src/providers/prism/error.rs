//! What can go wrong talking to a Prism Element cluster, in words an administrator can act on.
//!
//! Prism's own message is kept wherever it gave one: real AOS error codes differ by backing
//! service and release, so the words are more useful than the numbers.

use std::time::Duration;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum PrismError {
    /// The cluster presents another certificate than the one the user confirmed. Nothing is sent
    /// to it until the user confirms the new one (a client built with `presented`).
    #[error(
        "the certificate of {host} has changed (trusted {expected}, presented {presented}): \
         confirm the new certificate before Standby talks to this cluster again"
    )]
    CertificateChanged {
        host: String,
        expected: String,
        presented: String,
    },
    #[error("Prism at {host} refused the user name or password: {message}")]
    Auth { host: String, message: String },
    #[error("{what} not found: {message}")]
    NotFound { what: String, message: String },
    /// Prism understood the request and refused it (400/409): its message says why.
    #[error("{message}")]
    Rejected {
        status: u16,
        code: Option<i64>,
        message: String,
    },
    /// 429, 503, connection refused: retrying later may help.
    #[error("Prism at {host} is unavailable: {message}")]
    Unavailable {
        host: String,
        message: String,
        retry_after: Option<Duration>,
        /// The HTTP status (429, 503); `None` when no connection could be made.
        status: Option<u16>,
    },
    /// 5xx other than 503: the cluster failed while handling the request.
    #[error("Prism at {host} failed: {message}")]
    Server {
        host: String,
        status: u16,
        message: String,
    },
    #[error("Prism at {host} did not answer within {secs} s")]
    Timeout { host: String, secs: u64 },
    /// The connection broke after the request may have been sent.
    #[error("the connection to Prism at {host} broke: {message}")]
    Connection { host: String, message: String },
    /// A change may or may not have happened and state could not tell (see docs/prism-client.md).
    #[error(
        "{operation}: the answer was lost and the cluster's state does not show whether it happened \
         ({cause}); check in Prism before trying again"
    )]
    OutcomeUnknown { operation: String, cause: String },
    #[error("task {task_uuid} ({operation}) {status}: {message}")]
    TaskFailed {
        task_uuid: String,
        operation: String,
        status: String,
        message: String,
    },
    #[error("task {task_uuid} did not finish within {secs} s")]
    TaskTimeout { task_uuid: String, secs: u64 },
    #[error("cancelled")]
    Cancelled,
    #[error("unexpected answer from Prism ({context}): {message}")]
    Decode { context: String, message: String },
    #[error("invalid Prism configuration: {0}")]
    Config(String),
}

impl PrismError {
    /// Worth another try of a read (and of a write that surely never reached the cluster).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Surely not carried out: nothing was sent (connection refused) or the cluster turned the
    /// request away before handling it (429). Only these make a write safe to send again.
    pub fn never_handled(&self) -> bool {
        matches!(
            self,
            Self::Unavailable {
                status: None | Some(429),
                ..
            }
        )
    }

    /// The request may have reached the cluster and been carried out (a lost answer, a timeout,
    /// a 5xx): a write must not simply be sent again, its effect must be looked for first.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Timeout { .. } | Self::Connection { .. } | Self::Server { .. } => true,
            Self::Unavailable { .. } => !self.never_handled(),
            _ => false,
        }
    }

    /// For a change that answers a task (power, resize, clone, restore): when the answer was lost,
    /// the caller is told so rather than given a guess; it reads the entity to decide.
    pub fn outcome_unknown(self, operation: impl Into<String>) -> Self {
        if matches!(self, Self::Timeout { .. } | Self::Connection { .. }) {
            Self::OutcomeUnknown {
                operation: operation.into(),
                cause: self.to_string(),
            }
        } else {
            self
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<PrismError> for ApiError {
    fn from(e: PrismError) -> Self {
        let code = match &e {
            PrismError::CertificateChanged { .. } | PrismError::Auth { .. } => {
                ErrorCode::InvalidInput
            }
            PrismError::Config(_) => ErrorCode::InvalidInput,
            PrismError::NotFound { .. } => ErrorCode::NotFound,
            PrismError::Rejected { status: 409, .. } => ErrorCode::Conflict,
            PrismError::Rejected { message, .. }
                if message.contains("already exists") || message.contains("already protected") =>
            {
                ErrorCode::Conflict
            }
            PrismError::Rejected { .. } => ErrorCode::InvalidInput,
            PrismError::Unavailable { .. }
            | PrismError::Server { .. }
            | PrismError::Timeout { .. }
            | PrismError::Connection { .. }
            | PrismError::OutcomeUnknown { .. }
            | PrismError::TaskFailed { .. }
            | PrismError::TaskTimeout { .. }
            | PrismError::Cancelled => ErrorCode::Unavailable,
            PrismError::Decode { .. } => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}
