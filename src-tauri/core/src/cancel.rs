//! Stopping long work: a flag that every call holding a clone checks before each request and
//! during each wait, so that a cancelled job stops at once rather than at the end of a wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// Set once to stop every call that holds a clone; waits end at once rather than at their term.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<(AtomicBool, Notify)>);

impl CancelFlag {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }
    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }
    /// Sleeps for `d`; returns `false` if cancelled before (or while) waiting.
    pub async fn sleep(&self, d: Duration) -> bool {
        let notified = self.0 .1.notified();
        if self.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => !self.is_cancelled(),
            _ = notified => false,
        }
    }
}
