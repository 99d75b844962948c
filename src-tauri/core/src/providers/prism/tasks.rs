//! Ergon tasks: every change Prism makes (power, resize, clone, restore) is one. Waiting for a
//! task polls with capped exponential backoff, reports progress, can be cancelled, and treats
//! FAILED and ABORTED as errors carrying Prism's words.

use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::types::{Task, TaskPollAnswer, TaskStatus};

/// Stops a wait early: the same flag the Azure client and jobs use.
pub use crate::cancel::CancelFlag as Cancellation;

/// What a waiting caller is told after each poll.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct TaskProgress {
    pub task_uuid: String,
    pub status: String,
    pub percent: u8,
    pub operation: Option<String>,
}

/// How long and how often to poll a task.
#[derive(Debug, Clone)]
pub struct WaitPolicy {
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Give up (the task keeps running on the cluster) after this long.
    pub deadline: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            deadline: Duration::from_secs(3600),
        }
    }
}

impl PrismClient {
    pub async fn task(&self, uuid: &str) -> Result<Task, PrismError> {
        self.get(&format!("tasks/{uuid}"), &[]).await
    }

    /// `POST /tasks/poll`: the completed ones among `uuids`, waiting up to `timeout_secs` on the
    /// cluster. A read, so it is retried like one.
    pub async fn poll_tasks(
        &self,
        uuids: &[String],
        timeout_secs: u64,
    ) -> Result<TaskPollAnswer, PrismError> {
        let body = json!({ "completed_tasks": uuids, "timeout_interval": timeout_secs });
        let v = self
            .read_waiting(
                Method::POST,
                "tasks/poll",
                &[],
                Some(&body),
                Duration::from_secs(timeout_secs),
            )
            .await?;
        decode(v, "tasks/poll")
    }

    /// Follows a task to its end. Success returns the final task; FAILED/ABORTED return
    /// `TaskFailed` with Prism's message, so a failed change never reads as done.
    pub async fn wait_task(
        &self,
        uuid: &str,
        progress: &mut (dyn FnMut(TaskProgress) + Send),
        cancel: &Cancellation,
    ) -> Result<Task, PrismError> {
        self.wait_task_with(uuid, &WaitPolicy::default(), progress, cancel)
            .await
    }

    pub async fn wait_task_with(
        &self,
        uuid: &str,
        policy: &WaitPolicy,
        progress: &mut (dyn FnMut(TaskProgress) + Send),
        cancel: &Cancellation,
    ) -> Result<Task, PrismError> {
        let started = tokio::time::Instant::now();
        let mut delay = policy.first_delay;
        let mut last: Option<(TaskStatus, u8)> = None;
        loop {
            if cancel.is_cancelled() {
                return Err(PrismError::Cancelled);
            }
            let task = match self.task(uuid).await {
                Ok(t) => t,
                // The task runs on the cluster whatever happens to this connection: a gateway
                // that is briefly away is waited for, up to the deadline.
                Err(e)
                    if (e.is_transient()
                        || matches!(
                            e,
                            PrismError::Connection { .. } | PrismError::Timeout { .. }
                        ))
                        && started.elapsed() < policy.deadline =>
                {
                    tracing::debug!(task = uuid, error = %e, "task status unavailable; waiting");
                    if !cancel.sleep(delay).await {
                        return Err(PrismError::Cancelled);
                    }
                    delay = (delay * 2).min(policy.max_delay);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = task.status();
            let percent = task.percentage_complete.unwrap_or(0).clamp(0, 100) as u8;
            if last.as_ref() != Some(&(status.clone(), percent)) {
                progress(TaskProgress {
                    task_uuid: uuid.to_string(),
                    status: status.to_string(),
                    percent,
                    operation: task.operation_type.clone(),
                });
                last = Some((status.clone(), percent));
            }
            match status {
                TaskStatus::Succeeded => return Ok(task),
                TaskStatus::Failed | TaskStatus::Aborted => {
                    return Err(PrismError::TaskFailed {
                        task_uuid: uuid.to_string(),
                        operation: task.operation_type.clone().unwrap_or_default(),
                        status: status.to_string(),
                        message: task.failure_message(),
                    })
                }
                _ => {}
            }
            if started.elapsed() >= policy.deadline {
                return Err(PrismError::TaskTimeout {
                    task_uuid: uuid.to_string(),
                    secs: policy.deadline.as_secs(),
                });
            }
            if !cancel.sleep(delay).await {
                return Err(PrismError::Cancelled);
            }
            delay = (delay * 2).min(policy.max_delay);
        }
    }
}
