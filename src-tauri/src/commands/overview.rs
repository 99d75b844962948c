//! The Volumes table, the Disaster recovery page's resource list and the dashboard: thin adapters
//! over `standby_core::overview`. Every figure comes from the engine (the catalog, the guest
//! agent, Resource Manager or Prism); the front end only lays it out.

use std::sync::Arc;

use standby_core::clock::{Clock, SystemClock};
use standby_core::disaster_recovery::Report;
use standby_core::overview::{self, Dashboard, SecondaryHeadroom, VolumeOverview};
use standby_core::secrets::Keyring;
use standby_core::{ApiError, ErrorCode};
use tauri::{AppHandle, State};

use super::notifications::WindowSink;
use crate::state::AppState;

/// The Volumes table of a cloud account (id or name): one Frame account, or every one it holds
/// when `frame_account` is null. Reads the account's guest agent once for free space.
#[tauri::command]
#[specta::specta]
pub async fn volume_overview(
    state: State<'_, AppState>,
    account: String,
    frame_account: Option<String>,
) -> Result<VolumeOverview, ApiError> {
    let frame = frame_account
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    Ok(overview::volume_overview(&state.catalog, account.trim(), frame, SystemClock.now()).await?)
}

/// Protection at a glance, for every cloud account, from the catalog alone. Off the window's
/// thread: on a large catalog it takes a noticeable fraction of a second.
#[tauri::command]
#[specta::specta]
pub async fn dashboard(state: State<'_, AppState>) -> Result<Dashboard, ApiError> {
    let catalog = state.catalog.clone();
    let now = SystemClock.now();
    tauri::async_runtime::spawn_blocking(move || {
        overview::dashboard(&catalog.lock(), now).map_err(ApiError::from)
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("the dashboard failed: {e}")))?
}

/// The secondary's quota headroom (Azure) or receiving containers' free space (AHV), read live.
#[tauri::command]
#[specta::specta]
pub async fn secondary_headroom(
    app: AppHandle,
    state: State<'_, AppState>,
    account: String,
) -> Result<SecondaryHeadroom, ApiError> {
    let sink = WindowSink(app);
    let report = Report {
        catalog: &state.catalog,
        clock: Arc::new(SystemClock),
        sink: &sink,
    };
    Ok(overview::secondary_headroom(&report, &Keyring, account.trim()).await?)
}
