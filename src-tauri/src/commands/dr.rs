//! Disaster recovery: the backend of the Enable DR wizard.

use std::sync::Arc;

use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::{
    self, DrConfig, DrEnabled, EnableAhvDr, EnableAzureDr, Report,
};
use standby_core::secrets::Keyring;
use standby_core::ApiError;
use tauri::{AppHandle, State};

use super::notifications::WindowSink;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub fn dr_configs(state: State<'_, AppState>) -> Result<Vec<DrConfig>, ApiError> {
    Ok(state.catalog.lock().dr_configs()?)
}

#[tauri::command]
#[specta::specta]
pub async fn enable_dr_ahv(
    app: AppHandle,
    state: State<'_, AppState>,
    request: EnableAhvDr,
) -> Result<DrEnabled, ApiError> {
    let sink = WindowSink(app);
    Ok(disaster_recovery::enable_ahv(&report(&state, &sink), &Keyring, request).await?)
}

#[tauri::command]
#[specta::specta]
pub async fn enable_dr_azure(
    app: AppHandle,
    state: State<'_, AppState>,
    request: EnableAzureDr,
) -> Result<DrEnabled, ApiError> {
    let sink = WindowSink(app);
    Ok(disaster_recovery::enable_azure(&report(&state, &sink), &Keyring, request).await?)
}

/// Outcomes go to the catalog and, live, to the window.
fn report<'a>(state: &'a AppState, sink: &'a WindowSink) -> Report<'a> {
    Report {
        catalog: &state.catalog,
        clock: Arc::new(SystemClock),
        sink,
    }
}
