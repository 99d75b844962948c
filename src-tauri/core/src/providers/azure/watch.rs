//! How a caller follows and stops a call: progress reports (polling, throttling waits, retries)
//! and a cancel flag checked before every request and during every wait.

use std::sync::Arc;
use std::time::Duration;

pub use crate::cancel::CancelFlag;

/// What a long call reports while it runs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// A long-running operation or a copy was polled.
    Polling {
        what: String,
        status: String,
        percent: Option<f64>,
    },
    /// ARM answered 429: waiting `wait` before trying again.
    Throttled { wait: Duration, message: String },
    /// `x-ms-ratelimit-remaining-*` is low: slowing down before the next request.
    Slowing { delay: Duration, remaining: u64 },
    /// A request failed in a way that is safe to repeat.
    Retrying {
        attempt: usize,
        wait: Duration,
        reason: String,
    },
}

type Sink = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A progress sink and a cancel flag, carried by an [`ArmClient`](super::ArmClient) (see
/// `ArmClient::watched`).
#[derive(Clone, Default)]
pub struct Watch {
    sink: Option<Sink>,
    pub cancel: CancelFlag,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("sink", &self.sink.is_some())
            .field("cancelled", &self.cancel.is_cancelled())
            .finish()
    }
}

impl Watch {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn on_progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.sink = Some(Arc::new(f));
        self
    }
    pub fn with_cancel(mut self, cancel: CancelFlag) -> Self {
        self.cancel = cancel;
        self
    }
    pub fn report(&self, p: Progress) {
        tracing::debug!(?p, "azure progress");
        if let Some(s) = &self.sink {
            s(&p);
        }
    }
}
