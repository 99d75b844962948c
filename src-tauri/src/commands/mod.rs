//! `#[tauri::command]` adapters, one module per area: each calls `standby-core` and maps its
//! error to `ApiError`.

mod accounts;
mod app;
mod dr;
mod export;
mod notifications;
mod operations;
mod overview;
mod policies;
mod timeline;

pub use notifications::WindowSink;

use standby_core::accounts::Accounts;
use standby_core::secrets::Keyring;
use standby_core::ApiError;

/// An account's id, from its id or name (the error says how to find it when there is none).
fn account_id(state: &crate::state::AppState, account: &str) -> Result<String, ApiError> {
    let c = state.catalog.lock();
    let (acc, _) = Accounts {
        catalog: &c,
        store: &Keyring,
    }
    .settings(account)?;
    Ok(acc.id)
}

pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(tauri_specta::collect_commands![
            app::app_info,
            accounts::list_cloud_accounts,
            accounts::test_cloud_account,
            accounts::probe_certificate,
            accounts::add_ahv_account,
            accounts::add_azure_account,
            accounts::edit_cloud_account,
            accounts::remove_cloud_account,
            accounts::discover_resources,
            accounts::cloud_account_settings,
            dr::dr_configs,
            dr::enable_dr_ahv,
            dr::enable_dr_azure,
            dr::list_dr_containers,
            dr::test_dr_connection,
            dr::check_dr_region,
            // policies (scheduled backups, retention, post-session backups, autogrow)
            policies::schedule_settings,
            policies::preview_schedule,
            policies::set_schedule,
            policies::preview_schedule_retention,
            policies::preview_retention,
            policies::apply_retention,
            policies::post_session_settings,
            policies::set_post_session,
            policies::autogrow_settings,
            policies::set_autogrow,
            policies::check_autogrow,
            // notifications (the notification center)
            notifications::list_notifications,
            notifications::unread_notification_count,
            notifications::mark_notifications_read,
            notifications::mark_all_notifications_read,
            // timeline and exports
            timeline::timeline,
            timeline::target_rpo,
            timeline::set_target_rpo,
            export::export_dr_config,
            export::export_dr_config_to,
            export::import_dr_config,
            export::import_dr_config_from,
            export::export_backup_report,
            export::export_backup_report_to,
            // overview (volumes table, dashboard)
            overview::volume_overview,
            overview::dashboard,
            overview::secondary_headroom,
            // operations (backups, backup all, restore, clone, jobs)
            operations::list_backups,
            operations::recent_jobs,
            operations::cancel_operation,
            operations::create_backup,
            operations::plan_backup_all,
            operations::backup_all,
            operations::plan_restore,
            operations::restore_backup,
            operations::plan_clone,
            operations::clone_volumes,
        ])
        .events(tauri_specta::collect_events![
            notifications::NotificationAdded,
            operations::JobProgressEvent,
        ])
}
