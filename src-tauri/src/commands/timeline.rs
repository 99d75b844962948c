//! The backup timeline and the account's target RPO. The timeline is read off the main thread:
//! on an account with 100,000 backups it must never freeze the window.

use standby_core::clock::{Clock, SystemClock};
use standby_core::timeline::{self, TargetRpo, Timeline, TimelineQuery};
use standby_core::{ApiError, ErrorCode};
use tauri::State;

use crate::state::AppState;

/// Who the audit log names for changes made in the window.
const ACTOR: &str = "window";

/// Runs catalog work on a blocking thread of the async runtime.
pub(super) async fn off_main_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the work stopped: {e}")))?
}

/// The timeline of an account or one of its volumes over a window. Each point carries the
/// `backup_id` the restore commands take.
#[tauri::command]
#[specta::specta]
pub async fn timeline(
    state: State<'_, AppState>,
    query: TimelineQuery,
) -> Result<Timeline, ApiError> {
    let catalog = state.catalog.clone();
    off_main_thread(move || {
        let c = catalog.lock();
        Ok(timeline::timeline(&c, SystemClock.now(), &query)?)
    })
    .await
}

/// An account's target RPO and where it comes from (set, the schedule's interval, or a day).
#[tauri::command]
#[specta::specta]
pub fn target_rpo(state: State<'_, AppState>, account: String) -> Result<TargetRpo, ApiError> {
    let c = state.catalog.lock();
    Ok(timeline::target_rpo_of(&c, &account, SystemClock.now())?)
}

/// Sets an account's target RPO in hours (recorded in the audit log).
#[tauri::command]
#[specta::specta]
pub fn set_target_rpo(
    state: State<'_, AppState>,
    account: String,
    hours: u32,
) -> Result<TargetRpo, ApiError> {
    let c = state.catalog.lock();
    Ok(timeline::set_target_rpo(
        &c,
        &SystemClock,
        &account,
        hours,
        ACTOR,
    )?)
}
