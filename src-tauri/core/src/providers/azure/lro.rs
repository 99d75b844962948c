//! Long-running operations: a 201/202 (or a 2xx carrying `Azure-AsyncOperation`) is followed to
//! its end by polling `Azure-AsyncOperation` if present, else `Location`, waiting `Retry-After`
//! within the policy's bounds. Only a terminal `Succeeded` (or `Location`'s final 200/204) counts
//! as success: anything else is an error, never a silent success. A monitor that stops answering
//! (5xx after the retries, no connection) makes the outcome `ArmError::Uncertain`. Monitors are
//! only ever polled at the configured ARM origin (the token goes with every poll).

use std::time::Duration;

use reqwest::Method;
use url::Url;

use super::client::{ArmClient, ArmResponse, Repeat};
use super::error::ArmError;
use super::throttle::parse_retry_after;
use super::watch::Progress;

/// The body `Azure-AsyncOperation` answers.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationStatus {
    pub name: Option<String>,
    pub status: String,
    pub percent_complete: Option<f64>,
    pub error: Option<OperationError>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct OperationError {
    pub code: Option<String>,
    pub message: Option<String>,
}

enum Monitor {
    AsyncOperation(Url),
    Location(Url),
}

fn monitor_of(r: &ArmResponse) -> Option<Monitor> {
    let url = |name: &str| r.header(name).and_then(|v| Url::parse(v).ok());
    if let Some(u) = url("azure-asyncoperation") {
        return Some(Monitor::AsyncOperation(u));
    }
    // A Location on a 200 is just where the resource is, not a monitor.
    if matches!(r.status, 201 | 202) {
        if let Some(u) = url("location") {
            return Some(Monitor::Location(u));
        }
    }
    None
}

/// The monitor did not answer (5xx after the retries, connection errors): the operation ARM
/// accepted may or may not have finished.
fn monitor_silent(e: &ArmError) -> bool {
    match e {
        ArmError::Transport { .. } => true,
        ArmError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

/// An accepted operation whose monitor stopped answering is `Uncertain`, never a failure (it may
/// have succeeded) nor "unavailable, send it again" (it may be running).
fn monitor_lost(what: &str, e: ArmError) -> ArmError {
    if monitor_silent(&e) {
        ArmError::Uncertain {
            what: what.to_string(),
            state: format!("ARM accepted it, then its operation monitor failed: {e}"),
        }
    } else {
        e
    }
}

impl ArmClient {
    fn poll_wait(&self, r: &ArmResponse) -> Duration {
        let p = self.policy();
        r.header("retry-after")
            .and_then(|v| parse_retry_after(v, self.clock().now()))
            .unwrap_or(p.poll_min)
            .clamp(p.poll_min, p.poll_max)
    }

    /// Follows `first` to the end of its operation. Returns the final answer of a `Location`
    /// monitor (which may carry the resource), or `None` when there was nothing to follow or the
    /// status endpoint carries no resource.
    pub async fn follow(
        &self,
        first: &ArmResponse,
        what: &str,
    ) -> Result<Option<ArmResponse>, ArmError> {
        let Some(monitor) = monitor_of(first) else {
            return Ok(None);
        };
        // The monitor carries the token on every poll: only ever to ARM itself.
        match &monitor {
            Monitor::AsyncOperation(u) | Monitor::Location(u) => self.check_origin(u)?,
        }
        let mut wait = self.poll_wait(first);
        for _ in 0..self.policy().max_polls {
            if !self.watch.cancel.sleep(wait).await {
                return Err(ArmError::Cancelled(what.to_string()));
            }
            match &monitor {
                Monitor::AsyncOperation(url) => {
                    let r = self
                        .send(Method::GET, url.clone(), None, Repeat::Safe)
                        .await
                        .map_err(|e| monitor_lost(what, e))?;
                    let st: OperationStatus = r.json("the operation status")?;
                    self.watch.report(Progress::Polling {
                        what: what.to_string(),
                        status: st.status.clone(),
                        percent: st.percent_complete,
                    });
                    match st.status.to_ascii_lowercase().as_str() {
                        "succeeded" => return Ok(None),
                        "failed" | "canceled" | "cancelled" => {
                            let e = st.error.unwrap_or_default();
                            return Err(ArmError::OperationFailed {
                                what: what.to_string(),
                                code: e.code.unwrap_or_else(|| st.status.clone()),
                                message: e.message.unwrap_or_else(|| {
                                    format!("the operation ended as {}", st.status)
                                }),
                            });
                        }
                        // InProgress, and states this code has not seen: keep polling.
                        _ => wait = self.poll_wait(&r),
                    }
                }
                Monitor::Location(url) => {
                    let r = match self
                        .send(Method::GET, url.clone(), None, Repeat::Safe)
                        .await
                    {
                        Ok(r) => r,
                        // A 5xx (after the retries) or no answer says nothing of the operation.
                        Err(e) if monitor_silent(&e) => return Err(monitor_lost(what, e)),
                        // The monitor answers the operation's own error when it failed.
                        Err(ArmError::Api { code, message, .. }) => {
                            return Err(ArmError::OperationFailed {
                                what: what.to_string(),
                                code,
                                message,
                            })
                        }
                        Err(e) => return Err(e),
                    };
                    let status = if r.status == 202 {
                        "InProgress"
                    } else {
                        "Succeeded"
                    };
                    self.watch.report(Progress::Polling {
                        what: what.to_string(),
                        status: status.into(),
                        percent: None,
                    });
                    if r.status != 202 {
                        return Ok(Some(r));
                    }
                    wait = self.poll_wait(&r);
                }
            }
        }
        Err(ArmError::OperationFailed {
            what: what.to_string(),
            code: "NotFinished".into(),
            message: format!(
                "still running after {} polls; check it in the Azure portal",
                self.policy().max_polls
            ),
        })
    }

    /// Sends and follows the operation it starts.
    pub async fn send_and_follow(
        &self,
        method: Method,
        url: Url,
        body: Option<&serde_json::Value>,
        repeat: Repeat,
        what: &str,
    ) -> Result<ArmResponse, ArmError> {
        let first = self.send(method, url, body, repeat).await?;
        self.follow(&first, what).await?;
        Ok(first)
    }
}
