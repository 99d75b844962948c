use std::sync::Arc;

use standby_core::clock::SystemClock;
use standby_core::health::AccountHealth;
use standby_core::model::CloudAccount;
use standby_core::secrets::Keyring;
use standby_core::ApiError;
use tauri::State;

use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub fn list_cloud_accounts(state: State<'_, AppState>) -> Result<Vec<CloudAccount>, ApiError> {
    Ok(state.catalog.lock().list_accounts()?)
}

/// Reaches the account and checks its certificate, credentials and rights.
#[tauri::command]
#[specta::specta]
pub async fn test_cloud_account(
    state: State<'_, AppState>,
    id: String,
) -> Result<AccountHealth, ApiError> {
    let catalog = state.catalog.clone();
    Ok(standby_core::health::test_account(&catalog, &Keyring, &id, Arc::new(SystemClock)).await?)
}
