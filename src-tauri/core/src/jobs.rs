//! Jobs: every long operation runs as a job journaled step by step in the catalog before it acts.
//!
//! A job's body is a sequence of [`JobContext::step`]s. Each step is recorded as *started* before
//! it runs and *done* (with its output) after. When a job is run again (the app or `standbyctl
//! serve` restarts after a crash or a kill), steps already done are not repeated: their recorded
//! output is returned. A step that was started but not finished runs again, so every step must be
//! idempotent: it looks for what a first attempt may have made (snapshot names carry the job id, see
//! [`JobContext::name_for`]) before making anything. Progress goes to a sink passed in; a
//! [`CancelFlag`] stops the job between and during steps.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::cancel::CancelFlag;
use crate::catalog::{CatalogError, SharedCatalog};
use crate::clock::Clock;
use crate::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobRecord {
    pub id: String,
    /// What the job does (`backup`, `restore`, ...): how a restart finds its body.
    pub kind: String,
    pub account_id: Option<String>,
    /// What it was asked to do, enough to run it again after a restart.
    pub params: serde_json::Value,
    pub state: JobState,
    /// 0 to 100.
    pub progress: f64,
    pub message: String,
    pub outcome: Option<serde_json::Value>,
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// The job that started this one (a backup of many volumes runs one child job per volume).
    #[serde(default)]
    pub parent_id: Option<String>,
}

/// Why a journaled job cannot be run again as the kind of job its caller runs. Each operation's
/// error says it in its own words (`job … is not a restore job that … can resume: {reason}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {job} cannot be resumed: {reason}")]
pub struct NotResumable {
    pub job: String,
    pub reason: String,
}

impl JobRecord {
    fn not_resumable(&self, reason: String) -> NotResumable {
        NotResumable {
            job: self.id.clone(),
            reason,
        }
    }

    /// Refuses a job of another kind than `kind`.
    pub fn expect_kind(&self, kind: &str) -> Result<(), NotResumable> {
        if self.kind != kind {
            return Err(self.not_resumable(format!("it is a {:?} job", self.kind)));
        }
        Ok(())
    }

    /// Refuses a job that has already succeeded: replaying it would only announce its success a
    /// second time.
    pub fn expect_unfinished(&self) -> Result<(), NotResumable> {
        if self.state == JobState::Succeeded {
            return Err(self.not_resumable("it has already succeeded".into()));
        }
        Ok(())
    }

    /// The parameters the job was journaled with, read back as `P`.
    pub fn journaled_params<P: DeserializeOwned>(&self) -> Result<P, NotResumable> {
        serde_json::from_value(self.params.clone()).map_err(|e| self.not_resumable(e.to_string()))
    }

    /// What the job's body returned ([`Jobs::run`]'s value), read back as `T`.
    pub fn read_outcome<T: DeserializeOwned>(
        &self,
        outcome: serde_json::Value,
    ) -> Result<T, JobError> {
        serde_json::from_value(outcome).map_err(|e| JobError::Unreadable {
            job: self.id.clone(),
            step: "outcome".into(),
            message: e.to_string(),
        })
    }

    /// The parameters of a `kind` job that can be resumed: not another kind, not succeeded, and
    /// journaled with parameters this version reads.
    pub fn resumable_params<P: DeserializeOwned>(&self, kind: &str) -> Result<P, NotResumable> {
        self.expect_kind(kind)?;
        self.expect_unfinished()?;
        self.journaled_params()
    }
}

/// A change of a job's row.
#[derive(Debug, Clone, Copy)]
pub struct JobUpdate<'a> {
    pub state: JobState,
    pub progress: f64,
    pub message: &'a str,
    pub outcome: Option<&'a serde_json::Value>,
    pub error: Option<&'a str>,
    /// RFC 3339.
    pub at: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub seq: u32,
    pub name: String,
    pub done: bool,
    pub output: Option<serde_json::Value>,
}

/// One progress report of a running job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobProgress {
    pub job_id: String,
    pub percent: f64,
    pub step: String,
    /// Bytes done and in all, where the provider says.
    pub bytes: Option<(f64, f64)>,
}

pub trait ProgressSink: Send + Sync {
    fn progress(&self, p: &JobProgress);
}

/// For jobs nobody watches live: the catalog still has their progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn progress(&self, _: &JobProgress) {}
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("cancelled")]
    Cancelled,
    /// The operation failed; the message is the provider's or the engine's, in its words.
    #[error("{}", .0.message)]
    Operation(ApiError),
    #[error("the journal of job {job} says step {seq} is {recorded:?}, but this version of Standby runs {running:?} there: the job was started by another version and cannot be resumed safely")]
    JournalMismatch {
        job: String,
        seq: u32,
        recorded: String,
        running: String,
    },
    #[error(
        "the journal of job {job} holds an output of step {step:?} that cannot be read: {message}"
    )]
    Unreadable {
        job: String,
        step: String,
        message: String,
    },
}

impl From<ApiError> for JobError {
    fn from(e: ApiError) -> Self {
        JobError::Operation(e)
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Operation(e) => e,
            JobError::Catalog(e) => e.into(),
            JobError::Cancelled => ApiError::new(crate::ErrorCode::Conflict, "cancelled"),
            other => ApiError::new(crate::ErrorCode::Internal, other.to_string()),
        }
    }
}

/// What a job's body works with.
pub struct JobContext<'a> {
    job: &'a JobRecord,
    catalog: &'a SharedCatalog,
    clock: &'a dyn Clock,
    sink: &'a dyn ProgressSink,
    cancel: CancelFlag,
    next: AtomicU32,
}

impl JobContext<'_> {
    pub fn id(&self) -> &str {
        &self.job.id
    }

    pub fn params(&self) -> &serde_json::Value {
        &self.job.params
    }

    pub fn cancel_flag(&self) -> &CancelFlag {
        &self.cancel
    }

    /// A name for something the job creates (a snapshot, a disk) that says which job made it, so
    /// that a step run again after a crash finds what its first attempt created instead of making
    /// a second one. Short enough for Prism's and Azure's name limits.
    pub fn name_for(&self, what: &str) -> String {
        let short: String = self.job.id.chars().filter(|c| *c != '-').take(12).collect();
        format!("standby-{short}-{what}")
    }

    /// Runs `f` as the next step, unless the journal says it is done already, in which case its
    /// recorded output is returned without running it.
    pub async fn step<T, F, Fut>(&self, name: &str, f: F) -> Result<T, JobError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, JobError>>,
    {
        let seq = self.next.fetch_add(1, Ordering::SeqCst);
        if self.cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        let recorded = self
            .catalog
            .lock()
            .job_steps(&self.job.id)?
            .into_iter()
            .find(|s| s.seq == seq);
        if let Some(r) = &recorded {
            if r.name != name {
                return Err(JobError::JournalMismatch {
                    job: self.job.id.clone(),
                    seq,
                    recorded: r.name.clone(),
                    running: name.to_string(),
                });
            }
            if r.done {
                let output = r.output.clone().unwrap_or(serde_json::Value::Null);
                return serde_json::from_value(output).map_err(|e| JobError::Unreadable {
                    job: self.job.id.clone(),
                    step: name.to_string(),
                    message: e.to_string(),
                });
            }
        }
        let now = self.clock.now().to_rfc3339();
        self.catalog
            .lock()
            .start_step(&self.job.id, seq, name, &now)?;
        let out = f().await?;
        let value = serde_json::to_value(&out).map_err(|e| JobError::Unreadable {
            job: self.job.id.clone(),
            step: name.to_string(),
            message: e.to_string(),
        })?;
        let now = self.clock.now().to_rfc3339();
        self.catalog
            .lock()
            .finish_step(&self.job.id, seq, &value, &now)?;
        Ok(out)
    }

    /// Records and reports progress (0 to 100) with what the job is doing.
    pub fn report(
        &self,
        percent: f64,
        step: &str,
        bytes: Option<(f64, f64)>,
    ) -> Result<(), JobError> {
        let percent = percent.clamp(0.0, 100.0);
        let now = self.clock.now().to_rfc3339();
        self.catalog.lock().update_job(
            &self.job.id,
            &JobUpdate {
                state: JobState::Running,
                progress: percent,
                message: step,
                outcome: None,
                error: None,
                at: &now,
            },
        )?;
        self.sink.progress(&JobProgress {
            job_id: self.job.id.clone(),
            percent,
            step: step.to_string(),
            bytes,
        });
        Ok(())
    }
}

/// Creates and runs jobs against one catalog.
pub struct Jobs<'a> {
    pub catalog: &'a SharedCatalog,
    pub clock: Arc<dyn Clock>,
    pub sink: &'a dyn ProgressSink,
}

impl Jobs<'_> {
    /// Journals a new job (queued) before anything is done for it.
    pub fn create(
        &self,
        kind: &str,
        account_id: Option<&str>,
        params: serde_json::Value,
    ) -> Result<JobRecord, JobError> {
        let job = JobRecord {
            id: uuid::Uuid::new_v4().to_string(),
            kind: kind.to_string(),
            account_id: account_id.map(str::to_string),
            params,
            state: JobState::Queued,
            progress: 0.0,
            message: String::new(),
            outcome: None,
            error: None,
            created_at: self.clock.now().to_rfc3339(),
            parent_id: None,
        };
        self.catalog.lock().insert_job(&job)?;
        Ok(job)
    }

    /// Journals a child job of `parent` under a deterministic id (see [`child_id`]): asked again
    /// (a parent resumed after a crash while it was creating its children), it returns the child
    /// already journaled instead of adding a second one.
    pub fn create_child(
        &self,
        parent: &JobRecord,
        key: &str,
        kind: &str,
        params: serde_json::Value,
    ) -> Result<JobRecord, JobError> {
        let job = JobRecord {
            id: child_id(&parent.id, key),
            kind: kind.to_string(),
            account_id: parent.account_id.clone(),
            params,
            state: JobState::Queued,
            progress: 0.0,
            message: String::new(),
            outcome: None,
            error: None,
            created_at: self.clock.now().to_rfc3339(),
            parent_id: Some(parent.id.clone()),
        };
        let c = self.catalog.lock();
        c.insert_job_once(&job)?;
        Ok(c.job(&job.id)?.unwrap_or(job))
    }

    /// Runs (or resumes) `job` with `body`, and records how it ended: succeeded with the body's
    /// outcome, cancelled, or failed with the error's words.
    pub async fn run<F>(
        &self,
        job: &JobRecord,
        cancel: CancelFlag,
        body: F,
    ) -> Result<serde_json::Value, JobError>
    where
        F: AsyncFnOnce(&JobContext<'_>) -> Result<serde_json::Value, JobError>,
    {
        let now = self.clock.now().to_rfc3339();
        self.catalog.lock().update_job(
            &job.id,
            &JobUpdate {
                state: JobState::Running,
                progress: job.progress,
                message: &job.message,
                outcome: None,
                error: None,
                at: &now,
            },
        )?;
        let ctx = JobContext {
            job,
            catalog: self.catalog,
            clock: self.clock.as_ref(),
            sink: self.sink,
            cancel,
            next: AtomicU32::new(0),
        };
        let result = body(&ctx).await;
        let now = self.clock.now().to_rfc3339();
        let c = self.catalog.lock();
        let (state, progress, message, outcome, error) = match &result {
            Ok(outcome) => (JobState::Succeeded, 100.0, "done", Some(outcome), None),
            Err(JobError::Cancelled) => {
                (JobState::Cancelled, job.progress, "cancelled", None, None)
            }
            Err(e) => (
                JobState::Failed,
                job.progress,
                "failed",
                None,
                Some(e.to_string()),
            ),
        };
        c.update_job(
            &job.id,
            &JobUpdate {
                state,
                progress,
                message,
                outcome,
                error: error.as_deref(),
                at: &now,
            },
        )?;
        result
    }
}

/// The id of `parent`'s child for `key` (e.g. a volume id): the same every time it is computed,
/// so a parent that creates its children again after a crash finds the ones it made.
pub fn child_id(parent: &str, key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{parent}\n{key}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}
