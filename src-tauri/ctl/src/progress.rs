//! A job run from a terminal: its progress lines on stderr, and Ctrl-C to cancel it.

use std::future::Future;
use std::io::IsTerminal;
use std::sync::Mutex;

use standby_core::cancel::CancelFlag;
use standby_core::jobs::{JobProgress, NoProgress, ProgressSink};

/// When a new progress line is printed, and how it reads.
#[derive(Debug, Clone, Copy)]
pub enum LineEvery {
    /// `[ 42%] step`, one per whole percent or new step: a long copy shows that it moves, and a
    /// log stays readable.
    Percent,
    /// `[ 42%] step`, one per new step.
    Step,
    /// `clone  42%  step`, one per new step, naming the operation.
    StepOf(&'static str),
}

/// Progress lines on stderr, for an administrator watching a job.
pub struct TerminalProgress {
    every: LineEvery,
    /// The whole percent and the step of the last line printed.
    last: Mutex<(i64, String)>,
}

impl TerminalProgress {
    pub fn new(every: LineEvery) -> Self {
        TerminalProgress {
            every,
            last: Mutex::new((-1, String::new())),
        }
    }

    /// This printer when stderr is a terminal; nothing printed when it is a file or a pipe.
    pub fn sink(&self) -> &dyn ProgressSink {
        if std::io::stderr().is_terminal() {
            self
        } else {
            &NoProgress
        }
    }
}

impl ProgressSink for TerminalProgress {
    fn progress(&self, p: &JobProgress) {
        // A poisoned lock only means an earlier line failed to print: keep going.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let pct = p.percent.floor() as i64;
        let new_percent = matches!(self.every, LineEvery::Percent) && last.0 != pct;
        if !new_percent && last.1 == p.step {
            return;
        }
        *last = (pct, p.step.clone());
        match self.every {
            LineEvery::Percent => eprintln!("[{pct:>3}%] {}", p.step),
            LineEvery::Step => eprintln!("[{:>3.0}%] {}", p.percent, p.step),
            LineEvery::StepOf(what) => eprintln!("{what} {:>3.0}%  {}", p.percent, p.step),
        }
    }
}

/// The Ctrl-C notice of a job that stops after its current step and that
/// `standbyctl jobs resume` finishes.
pub const RESUME_LATER: &str =
    "cancelling after the current step: resume with `standbyctl jobs resume`";

/// Runs `work` (a job given `cancel`) until it ends; Ctrl-C meanwhile prints `notice` (what
/// becomes of the job) and cancels it, so the job stops between steps and records that it was
/// cancelled instead of being killed mid-step.
pub async fn cancel_on_ctrl_c<T>(
    cancel: &CancelFlag,
    notice: &'static str,
    work: impl Future<Output = T>,
) -> T {
    let stop = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("{notice}");
            stop.cancel();
        }
    });
    let out = work.await;
    ctrl_c.abort();
    out
}
