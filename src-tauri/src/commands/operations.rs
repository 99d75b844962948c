//! The long operations the window starts: back up a volume, back up all volumes, restore, clone,
//! with their pre-flight plans, their backups and jobs.
//!
//! Each start command takes a `ticket` chosen by the window. Progress reports carry it (as
//! [`JobProgressEvent`]) so that the dialog that started an operation follows its own job, and
//! `cancel_operation(ticket)` stops it. A command resolves when the engine's job has ended, with
//! the engine's outcome or its error: the window never reports a success the engine did not.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use standby_core::backup::all::{self as backup_all, BackupAllOutcome, BackupAllRequest};
use standby_core::backup::{self, Backup, BackupRequest};
use standby_core::cancel::CancelFlag;
use standby_core::clock::SystemClock;
use standby_core::clone::{self, CloneOutcome, ClonePlan, CloneRequest};
use standby_core::disaster_recovery::Report;
use standby_core::jobs::{JobProgress, JobRecord, JobState, ProgressSink};
use standby_core::restore::{self, RestoreOutcome, RestorePlan, RestoreRequest};
use standby_core::secrets::Keyring;
use standby_core::{ApiError, ErrorCode};
use tauri::{AppHandle, State};
use tauri_specta::Event;

use super::notifications::WindowSink;
use crate::state::AppState;

/// Who the audit log names for what the window asks.
const ACTOR: &str = "window";

/// A running job's progress. Event name: `job-progress-event`.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct JobProgressEvent {
    /// The ticket of the window's request that started it; `None` for jobs the scheduler runs.
    pub ticket: Option<String>,
    pub progress: JobProgress,
}

/// Streams a job's progress to the window. A missed event costs nothing: the job's row in the
/// catalog has the same progress.
pub struct WindowProgress {
    pub app: AppHandle,
    pub ticket: Option<String>,
}

impl ProgressSink for WindowProgress {
    fn progress(&self, p: &JobProgress) {
        let event = JobProgressEvent {
            ticket: self.ticket.clone(),
            progress: p.clone(),
        };
        if let Err(e) = event.emit(&self.app) {
            tracing::debug!(job = %p.job_id, "progress not streamed to the window: {e}");
        }
    }
}

/// A started operation: its cancel flag is registered under its ticket until it ends, and what
/// it tells (notifications, progress with the ticket) goes to the window.
struct Running<'a> {
    state: &'a AppState,
    ticket: String,
    cancel: CancelFlag,
    sink: Option<WindowSink>,
    progress: Option<WindowProgress>,
}

impl<'a> Running<'a> {
    /// Registers `ticket` and points the operation's notifications and progress at the window.
    fn for_window(state: &'a AppState, ticket: &str, app: AppHandle) -> Result<Self, ApiError> {
        let mut running = Self::start(state, ticket)?;
        running.sink = Some(WindowSink(app.clone()));
        running.progress = Some(WindowProgress {
            app,
            ticket: Some(running.ticket.clone()),
        });
        Ok(running)
    }

    fn report(&self) -> Report<'_> {
        Report {
            catalog: &self.state.catalog,
            clock: Arc::new(SystemClock),
            sink: match &self.sink {
                Some(s) => s,
                None => &standby_core::notifications::NoSink,
            },
        }
    }

    fn progress(&self) -> &dyn ProgressSink {
        match &self.progress {
            Some(p) => p,
            None => &standby_core::jobs::NoProgress,
        }
    }

    fn start(state: &'a AppState, ticket: &str) -> Result<Self, ApiError> {
        let ticket = ticket.trim().to_string();
        if ticket.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                "an operation needs a ticket (any unique text) to follow and cancel it",
            ));
        }
        let cancel = CancelFlag::new();
        let mut running = state.operations.lock();
        if running.contains_key(&ticket) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("an operation with ticket {ticket} is already running; use a new ticket"),
            ));
        }
        running.insert(ticket.clone(), cancel.clone());
        drop(running);
        Ok(Self {
            state,
            ticket,
            cancel,
            sink: None,
            progress: None,
        })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.state.operations.lock().remove(&self.ticket);
    }
}

fn report<'a>(state: &'a AppState, sink: &'a WindowSink) -> Report<'a> {
    Report {
        catalog: &state.catalog,
        clock: Arc::new(SystemClock),
        sink,
    }
}

/// Stops the operation started with `ticket`. Returns false when none is running under it (it
/// has ended already). The job stops at its next step or wait; what it did is kept and its
/// outcome says it was cancelled.
#[tauri::command]
#[specta::specta]
pub fn cancel_operation(state: State<'_, AppState>, ticket: String) -> bool {
    match state.operations.lock().get(ticket.trim()) {
        Some(flag) => {
            flag.cancel();
            true
        }
        None => false,
    }
}

/// The backups of an account, newest first; of one volume (its provider id or name) when given.
#[tauri::command]
#[specta::specta]
pub async fn list_backups(
    state: State<'_, AppState>,
    account: String,
    volume: Option<String>,
) -> Result<Vec<Backup>, ApiError> {
    let id = super::account_id(&state, &account)?;
    let volume = volume.as_deref().map(str::trim).filter(|v| !v.is_empty());
    Ok(state.catalog.lock().list_backups(Some(&id), volume)?)
}

/// One job as the window lists it: without its parameters and outcome, which can be large.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct JobSummary {
    pub id: String,
    pub kind: String,
    pub account_id: Option<String>,
    pub state: JobState,
    pub progress: f64,
    pub message: String,
    pub error: Option<String>,
    pub created_at: String,
    pub parent_id: Option<String>,
}

impl From<JobRecord> for JobSummary {
    fn from(j: JobRecord) -> Self {
        Self {
            id: j.id,
            kind: j.kind,
            account_id: j.account_id,
            state: j.state,
            progress: j.progress,
            message: j.message,
            error: j.error,
            created_at: j.created_at,
            parent_id: j.parent_id,
        }
    }
}

/// The latest jobs (top-level ones: a backup of many volumes counts once), those still running
/// first, then the newest.
#[tauri::command]
#[specta::specta]
pub async fn recent_jobs(
    state: State<'_, AppState>,
    limit: u32,
) -> Result<Vec<JobSummary>, ApiError> {
    Ok(state
        .catalog
        .lock()
        .recent_top_level_jobs(limit.clamp(1, 500))?
        .into_iter()
        .map(JobSummary::from)
        .collect())
}

/// Backs up one volume now; resolves with its backups (the primary, then the replica when DR is
/// on) once the job has ended.
#[tauri::command]
#[specta::specta]
pub async fn create_backup(
    app: AppHandle,
    state: State<'_, AppState>,
    ticket: String,
    request: BackupRequest,
) -> Result<Vec<Backup>, ApiError> {
    let running = Running::for_window(&state, &ticket, app)?;
    Ok(backup::backup_now_with(
        &running.report(),
        &Keyring,
        running.progress(),
        &state.limits,
        request,
        running.cancel.clone(),
    )
    .await?)
}

/// What *Backup all volumes* would do: every volume it would back up and each skip with its
/// reason. Nothing is changed.
#[tauri::command]
#[specta::specta]
pub async fn plan_backup_all(
    app: AppHandle,
    state: State<'_, AppState>,
    request: BackupAllRequest,
) -> Result<BackupAllOutcome, ApiError> {
    let sink = WindowSink(app);
    let request = BackupAllRequest {
        dry_run: true,
        actor: ACTOR.into(),
        ..request
    };
    Ok(backup_all::run(
        &report(&state, &sink),
        &Keyring,
        &standby_core::jobs::NoProgress,
        &state.limits,
        request,
        CancelFlag::new(),
    )
    .await?)
}

/// Backs up every volume the plan lists (the window asked for confirmation first).
#[tauri::command]
#[specta::specta]
pub async fn backup_all(
    app: AppHandle,
    state: State<'_, AppState>,
    ticket: String,
    request: BackupAllRequest,
) -> Result<BackupAllOutcome, ApiError> {
    let running = Running::for_window(&state, &ticket, app)?;
    let request = BackupAllRequest {
        dry_run: false,
        actor: ACTOR.into(),
        ..request
    };
    Ok(backup_all::run(
        &running.report(),
        &Keyring,
        running.progress(),
        &state.limits,
        request,
        running.cancel.clone(),
    )
    .await?)
}

/// The pre-flight of restoring a backup or replica: what will be restored, from which site, what
/// it powers off, what blocks it and why, and the safety snapshot it takes first.
#[tauri::command]
#[specta::specta]
pub async fn plan_restore(
    app: AppHandle,
    state: State<'_, AppState>,
    backup_id: String,
) -> Result<RestorePlan, ApiError> {
    let sink = WindowSink(app);
    Ok(restore::plan(&report(&state, &sink), &Keyring, &backup_id).await?)
}

/// Restores a backup; resolves once the volume is back (or the job failed or was cancelled).
#[tauri::command]
#[specta::specta]
pub async fn restore_backup(
    app: AppHandle,
    state: State<'_, AppState>,
    ticket: String,
    backup_id: String,
    confirm_volume: Option<String>,
) -> Result<RestoreOutcome, ApiError> {
    let running = Running::for_window(&state, &ticket, app)?;
    let request = RestoreRequest {
        backup_id,
        confirm_volume,
        actor: ACTOR.into(),
    };
    Ok(restore::run(
        &running.report(),
        &Keyring,
        running.progress(),
        request,
        running.cancel.clone(),
    )
    .await?)
}

/// The pre-flight of a clone: each desktop's fate and every prerequisite with its result.
#[tauri::command]
#[specta::specta]
pub async fn plan_clone(
    app: AppHandle,
    state: State<'_, AppState>,
    request: CloneRequest,
) -> Result<ClonePlan, ApiError> {
    let sink = WindowSink(app);
    let request = CloneRequest {
        actor: ACTOR.into(),
        ..request
    };
    Ok(clone::plan(&report(&state, &sink), &Keyring, &request).await?)
}

/// Clones desktops to another AHV account; resolves when the clone job has ended.
#[tauri::command]
#[specta::specta]
pub async fn clone_volumes(
    app: AppHandle,
    state: State<'_, AppState>,
    ticket: String,
    request: CloneRequest,
) -> Result<CloneOutcome, ApiError> {
    let running = Running::for_window(&state, &ticket, app)?;
    let request = CloneRequest {
        actor: ACTOR.into(),
        ..request
    };
    Ok(clone::run(
        &running.report(),
        &Keyring,
        running.progress(),
        &state.limits,
        request,
        running.cancel.clone(),
    )
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tempfile::TempDir, AppState) {
        let dir = tempfile::tempdir().unwrap();
        let paths = standby_core::paths::DataPaths::resolve(Some(dir.path())).unwrap();
        (dir, AppState::open(paths).unwrap())
    }

    #[test]
    fn a_ticket_is_cancellable_while_its_operation_runs_and_forgotten_after() {
        let (_dir, state) = state();
        let running = Running::start(&state, " t-1 ").unwrap();
        assert!(!running.cancel.is_cancelled());
        let flag = state.operations.lock().get("t-1").cloned().unwrap();
        flag.cancel();
        assert!(
            running.cancel.is_cancelled(),
            "cancel reaches the job's flag"
        );
        drop(running);
        assert!(
            state.operations.lock().is_empty(),
            "the ticket ends with its operation"
        );
    }

    #[test]
    fn a_ticket_in_use_or_empty_is_refused_with_what_to_do() {
        let (_dir, state) = state();
        let _running = Running::start(&state, "t-1").unwrap();
        let again = Running::start(&state, "t-1").err().unwrap();
        assert_eq!(again.code, ErrorCode::Conflict);
        assert!(
            again.message.contains("use a new ticket"),
            "{}",
            again.message
        );
        let empty = Running::start(&state, "  ").err().unwrap();
        assert_eq!(empty.code, ErrorCode::InvalidInput);
    }
}
