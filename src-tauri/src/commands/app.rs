use standby_core::model::{AppInfo, LabStatus};
use tauri::State;

use crate::state::AppState;

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
