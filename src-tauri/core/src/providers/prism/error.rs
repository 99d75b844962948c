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
    /// Never retryable as such: a caller sending it again could do it twice (a second snapshot,
    /// a second clone). `check` names what to look at before deciding.
    #[error(
        "{operation}: the cluster may or may not have done it ({cause}): check {check} before \
         trying again"
    )]
    OutcomeUnknown {
        operation: String,
        /// What to look at in Prism to find out (`the power state of VM …`).
        check: String,
        /// Why it is unknown: the write's failure, and the failed read-back if there was one.
        cause: String,
    },
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

    /// For the failure of a write that is not read back here (power, resize, clone, restore: they
    /// answer a task): every ambiguous failure (lost answer, timeout, 5xx, a 503 on the write)
    /// becomes `OutcomeUnknown`, so that no caller takes it for "unavailable, try again"; the
    /// caller reads `check` to decide. Other errors are returned as they are.
    pub fn outcome_unknown(self, operation: impl Into<String>, check: impl Into<String>) -> Self {
        if self.is_ambiguous() {
            Self::OutcomeUnknown {
                operation: operation.into(),
                check: check.into(),
                cause: self.to_string(),
            }
        } else {
            self
        }
    }

    /// A write failed ambiguously (`self`) and reading state back to find out failed too
    /// (`read`): the outcome is unknown, with both errors. Returning the read's error alone
    /// would invite a retry that could do the change twice.
    pub fn read_back_failed(
        self,
        operation: impl Into<String>,
        check: impl Into<String>,
        read: PrismError,
    ) -> Self {
        Self::OutcomeUnknown {
            operation: operation.into(),
            check: check.into(),
            cause: format!("{self}; reading the state back then failed: {read}"),
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
            // As ARM's `Uncertain`: not "try again later" but "look first".
            PrismError::OutcomeUnknown { .. } => ErrorCode::Conflict,
            PrismError::Unavailable { .. }
            | PrismError::Server { .. }
            | PrismError::Timeout { .. }
            | PrismError::Connection { .. }
            | PrismError::TaskFailed { .. }
            | PrismError::TaskTimeout { .. }
            | PrismError::Cancelled => ErrorCode::Unavailable,
            PrismError::Decode { .. } => ErrorCode::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> String {
        "10.0.0.5:9440".into()
    }

    #[test]
    fn every_ambiguous_failure_of_a_task_write_is_an_unknown_outcome_never_retryable() {
        let ambiguous = [
            PrismError::Timeout {
                host: host(),
                secs: 30,
            },
            PrismError::Connection {
                host: host(),
                message: "reset".into(),
            },
            PrismError::Server {
                host: host(),
                status: 500,
                message: "boom".into(),
            },
            PrismError::Unavailable {
                host: host(),
                message: "Service unavailable".into(),
                retry_after: None,
                status: Some(503),
            },
        ];
        for e in ambiguous {
            let shown = e.to_string();
            let u = e.outcome_unknown("power off of VM v1", "the power state of VM v1");
            assert!(matches!(u, PrismError::OutcomeUnknown { .. }), "{u:?}");
            assert!(!u.is_transient());
            let text = u.to_string();
            assert!(text.contains(&shown), "{text}");
            assert!(
                text.contains("may or may not have done it")
                    && text.contains("check the power state of VM v1 before trying again"),
                "{text}"
            );
            let api = ApiError::from(u);
            assert_eq!(api.code, ErrorCode::Conflict, "{}", api.message);
        }
        // Surely not handled, or refused: returned as they are.
        let refused = PrismError::Unavailable {
            host: host(),
            message: "cannot connect".into(),
            retry_after: None,
            status: None,
        };
        assert!(matches!(
            refused.outcome_unknown("x", "y"),
            PrismError::Unavailable { status: None, .. }
        ));
        let rejected = PrismError::Rejected {
            status: 400,
            code: None,
            message: "no".into(),
        };
        assert!(matches!(
            rejected.outcome_unknown("x", "y"),
            PrismError::Rejected { .. }
        ));
    }

    #[test]
    fn a_failed_read_back_keeps_both_errors() {
        let write = PrismError::Timeout {
            host: host(),
            secs: 30,
        };
        let read = PrismError::Unavailable {
            host: host(),
            message: "gateway down".into(),
            retry_after: None,
            status: Some(503),
        };
        let e = write.read_back_failed("snapshot of pd", "the snapshots of pd", read);
        let text = e.to_string();
        assert!(text.contains("did not answer within 30 s"), "{text}");
        assert!(text.contains("gateway down"), "{text}");
        assert_eq!(ApiError::from(e).code, ErrorCode::Conflict);
    }
}
