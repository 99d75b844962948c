//! `#[tauri::command]` adapters: each one calls `standby-core` and maps its error to `ApiError`.

use standby_core::model::{AppInfo, CloudAccount, LabStatus};
use standby_core::ApiError;
use tauri::State;

use crate::state::AppState;

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new().commands(tauri_specta::collect_commands![
        app_info,
        list_cloud_accounts
    ])
}

#[tauri::command]
#[specta::specta]
pub fn app_info(state: State<'_, AppState>) -> AppInfo {
    AppInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: state.paths.data_dir.display().to_string(),
        log_dir: state.paths.log_dir.display().to_string(),
        lab: match (&state.lab, &state.lab_error) {
            (Some(lab), _) => Some(LabStatus {
                control_url: Some(lab.control_url.to_string()),
                error: None,
            }),
            (None, Some(e)) => Some(LabStatus {
                control_url: None,
                error: Some(e.clone()),
            }),
            (None, None) => None,
        },
    }
}

#[tauri::command]
#[specta::specta]
pub fn list_cloud_accounts(state: State<'_, AppState>) -> Result<Vec<CloudAccount>, ApiError> {
    Ok(state.catalog.lock().list_accounts()?)
}
