use std::sync::Arc;

use standby_core::accounts::{
    AccountChanges, AccountSettings, Accounts, NewAhvAccount, NewAzureAccount,
};
use standby_core::clock::SystemClock;
use standby_core::health::AccountHealth;
use standby_core::inventory::DiscoveredResource;
use standby_core::model::CloudAccount;
use standby_core::providers::tls::CertificateInfo;
use standby_core::secrets::Keyring;
use standby_core::ApiError;
use standby_core::ErrorCode;
use tauri::State;

use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn list_cloud_accounts(
    state: State<'_, AppState>,
) -> Result<Vec<CloudAccount>, ApiError> {
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

fn accounts_do<T>(
    state: &AppState,
    f: impl FnOnce(&Accounts<'_>) -> Result<T, standby_core::accounts::AccountError>,
) -> Result<T, ApiError> {
    let catalog = state.catalog.lock();
    let accounts = Accounts {
        catalog: &catalog,
        store: &Keyring,
    };
    Ok(f(&accounts)?)
}

/// An account's settings (address, user, regions, endpoints), never its secret: what the wizards
/// prefill and show.
#[tauri::command]
#[specta::specta]
pub async fn cloud_account_settings(
    state: State<'_, AppState>,
    id: String,
) -> Result<AccountSettings, ApiError> {
    accounts_do(&state, |a| a.settings(&id).map(|(_, s)| s))
}

/// Reads a cluster's certificate for the administrator to confirm before adding it.
#[tauri::command]
#[specta::specta]
pub async fn probe_certificate(address: String, port: u16) -> Result<CertificateInfo, ApiError> {
    standby_core::providers::tls::probe(address.trim(), port)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, e.to_string()))
}

#[tauri::command]
#[specta::specta]
pub async fn add_ahv_account(
    state: State<'_, AppState>,
    account: NewAhvAccount,
) -> Result<CloudAccount, ApiError> {
    accounts_do(&state, |a| a.add(account, chrono::Utc::now()))
}

#[tauri::command]
#[specta::specta]
pub async fn add_azure_account(
    state: State<'_, AppState>,
    account: NewAzureAccount,
) -> Result<CloudAccount, ApiError> {
    accounts_do(&state, |a| a.add(account, chrono::Utc::now()))
}

#[tauri::command]
#[specta::specta]
pub async fn edit_cloud_account(
    state: State<'_, AppState>,
    id: String,
    changes: AccountChanges,
) -> Result<CloudAccount, ApiError> {
    accounts_do(&state, |a| a.edit(&id, changes))
}

/// Removes the account and its keyring entries.
#[tauri::command]
#[specta::specta]
pub async fn remove_cloud_account(
    state: State<'_, AppState>,
    id: String,
) -> Result<CloudAccount, ApiError> {
    accounts_do(&state, |a| a.remove(&id))
}

/// The Frame account's persistent resources on a cloud account, as discovered (corrections
/// applied).
#[tauri::command]
#[specta::specta]
pub async fn discover_resources(
    state: State<'_, AppState>,
    account_id: String,
    frame_account: String,
) -> Result<Vec<DiscoveredResource>, ApiError> {
    let catalog = state.catalog.clone();
    Ok(standby_core::inventory::discover(
        &catalog,
        &Keyring,
        &account_id,
        frame_account.trim(),
        Arc::new(SystemClock),
    )
    .await?)
}
