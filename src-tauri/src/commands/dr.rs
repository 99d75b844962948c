//! Disaster recovery: the backend of the Enable DR wizard.

use std::sync::Arc;

use serde::Serialize;
use standby_core::accounts::Accounts;
use standby_core::clock::SystemClock;
use standby_core::connect;
use standby_core::disaster_recovery::{
    self, DrConfig, DrEnabled, DrError, EnableAhvDr, EnableAzureDr, Report,
};
use standby_core::providers::azure::setup::{DrNeeds, RegionCheck};
use standby_core::providers::prism::setup::{
    self as prism_setup, BothClusterContainers, ConnectionTest, ConnectionTestSpec,
    RemoteSitesResult,
};
use standby_core::secrets::Keyring;
use standby_core::ApiError;
use tauri::{AppHandle, State};

use super::notifications::WindowSink;
use crate::state::AppState;

#[tauri::command]
#[specta::specta]
pub async fn dr_configs(state: State<'_, AppState>) -> Result<Vec<DrConfig>, ApiError> {
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

/// The storage containers of both clusters, for the vStore mapping table.
#[tauri::command]
#[specta::specta]
pub async fn list_dr_containers(
    state: State<'_, AppState>,
    primary: String,
    secondary: String,
) -> Result<BothClusterContainers, ApiError> {
    let (p, s) = two_clusters(&state, &primary, &secondary)?;
    Ok(prism_setup::list_containers(&p.client, &s.client).await?)
}

/// What *Test connection* did and found.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DrConnectionCheck {
    /// The remote site on each cluster, created or brought up to date from the plan.
    pub sites: RemoteSitesResult,
    pub test: ConnectionTest,
    /// The primary containers holding the Frame account's resources (each must be mapped).
    pub account_containers: Vec<String>,
}

/// *Test connection* of the AHV wizard: writes the remote sites of the plan on both clusters (a
/// site must exist before a cluster can report on it), then runs the same checks as Enable, in the
/// same order, so a passing test here is what Enable will find. Nothing is protected.
#[tauri::command]
#[specta::specta]
pub async fn test_dr_connection(
    state: State<'_, AppState>,
    request: EnableAhvDr,
) -> Result<DrConnectionCheck, ApiError> {
    let (p, s) = two_clusters(&state, &request.primary, &request.secondary)?;
    if p.account.id == s.account.id {
        return Err(DrError::SameAccount.into());
    }
    let overrides = state.catalog.lock().mapping_overrides(&p.account.id)?;
    let frame_account = request.frame_account.trim();
    let resources = p.client.discover_account(frame_account, &overrides).await?;
    if !resources.iter().any(|r| r.kind.is_protected()) {
        return Err(DrError::NothingToProtect {
            frame_account: frame_account.to_string(),
            account: p.account.name.clone(),
        }
        .into());
    }
    let sites = prism_setup::setup_remote_sites(&p.client, &s.client, &request.plan).await?;
    let mut spec = ConnectionTestSpec::new(
        &request.plan.secondary.site_name,
        &request.plan.primary.site_name,
    );
    if let Some(ports) = request.primary_ports {
        spec.primary_ports = ports;
    }
    if let Some(ports) = request.secondary_ports {
        spec.secondary_ports = ports;
    }
    spec.account_containers = prism_setup::account_containers(&resources);
    let test = prism_setup::test_connection(&p.client, &s.client, &spec).await?;
    Ok(DrConnectionCheck {
        sites,
        test,
        account_containers: spec.account_containers,
    })
}

/// The region step of the Azure wizard: is `secondary_region` usable, and how much quota headroom
/// is left there for this Frame account's replicas and restores.
#[tauri::command]
#[specta::specta]
pub async fn check_dr_region(
    state: State<'_, AppState>,
    account: String,
    frame_account: String,
    secondary_region: String,
    replicas_kept: u32,
) -> Result<RegionCheck, ApiError> {
    let clock = Arc::new(SystemClock);
    let a = {
        let c = state.catalog.lock();
        let accounts = Accounts {
            catalog: &c,
            store: &Keyring,
        };
        connect::azure(&accounts, &account, clock)?
    };
    let overrides = state.catalog.lock().mapping_overrides(&a.account.id)?;
    let groups = &a.settings.resource_groups;
    let resources = a
        .client
        .discover(frame_account.trim(), groups, &overrides)
        .await?;
    let mut disks = Vec::new();
    for rg in groups {
        disks.extend(a.client.list_disks(rg).await?);
    }
    let needs = DrNeeds::for_account(&resources, &disks, replicas_kept.max(1));
    Ok(a.client
        .check_dr_region(&a.settings.primary_region, &secondary_region, &needs)
        .await?)
}

/// Both AHV accounts, connected; no catalog lock is held afterwards.
fn two_clusters(
    state: &AppState,
    primary: &str,
    secondary: &str,
) -> Result<(connect::AhvAccount, connect::AhvAccount), ApiError> {
    let c = state.catalog.lock();
    let accounts = Accounts {
        catalog: &c,
        store: &Keyring,
    };
    Ok((
        connect::ahv(&accounts, primary)?,
        connect::ahv(&accounts, secondary)?,
    ))
}
