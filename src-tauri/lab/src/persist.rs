//! The state folder: both simulators' state, the clock's offset from real time and the endpoints'
//! addresses in `lab-state.json`; certificates under `certs/`. Written atomically (temporary file
//! and rename) on shutdown and shortly after changes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub const STATE_FILE: &str = "lab-state.json";
const VERSION: u32 = 1;
/// Changes are saved this long after the last one (a burst of requests makes one write).
const DEBOUNCE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a lab state file: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path} was written by a newer lab (version {found}, this lab reads {VERSION})")]
    Version { path: PathBuf, found: u32 },
}

/// Where a cluster listened, so that a restart keeps its address (and its certificate's SAN).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedAddress {
    pub ip: IpAddr,
    pub port: u16,
    pub replication_ports: [u16; 2],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub version: u32,
    /// Simulated minus real time when saved (ms): a clock that was advanced stays ahead.
    pub clock_offset_ms: i64,
    pub clock_scale: f64,
    pub clusters: BTreeMap<String, SavedAddress>,
    pub prism: serde_json::Value,
    pub azure: serde_json::Value,
}

impl Saved {
    pub fn new(
        clock_offset_ms: i64,
        clock_scale: f64,
        clusters: BTreeMap<String, SavedAddress>,
        prism: serde_json::Value,
        azure: serde_json::Value,
    ) -> Self {
        Self {
            version: VERSION,
            clock_offset_ms,
            clock_scale,
            clusters,
            prism,
            azure,
        }
    }
}

pub fn certs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("certs")
}

pub fn load(dir: &Path) -> Result<Option<Saved>, PersistError> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PersistError::Read { path, source }),
    };
    let saved: Saved = serde_json::from_str(&text).map_err(|source| PersistError::Parse {
        path: path.clone(),
        source,
    })?;
    if saved.version > VERSION {
        return Err(PersistError::Version {
            path,
            found: saved.version,
        });
    }
    Ok(Some(saved))
}

pub fn save(dir: &Path, saved: &Saved) -> Result<(), PersistError> {
    let path = dir.join(STATE_FILE);
    let write_err = |source| PersistError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let text = serde_json::to_vec(saved).map_err(|e| write_err(std::io::Error::other(e)))?;
    std::fs::write(&tmp, text).map_err(write_err)?;
    std::fs::rename(&tmp, &path).map_err(write_err)?;
    Ok(())
}

/// Saves with `snapshot()` a short while after each `dirty.notify_one()` until cancelled.
pub fn spawn_saver(
    dir: PathBuf,
    snapshot: Arc<dyn Fn() -> Saved + Send + Sync>,
    dirty: Arc<Notify>,
    cancel: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = dirty.notified() => {}
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(DEBOUNCE) => {}
            }
            let saved = snapshot();
            let dir = dir.clone();
            match tokio::task::spawn_blocking(move || save(&dir, &saved)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "lab state not saved"),
                Err(e) => tracing::warn!(error = %e, "lab state save task failed"),
            }
        }
    });
}
