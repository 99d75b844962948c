//! `#[tauri::command]` adapters, one module per area: each calls `standby-core` and maps its
//! error to `ApiError`.

mod accounts;
mod app;
mod dr;
mod notifications;
mod policies;

pub use notifications::WindowSink;

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
        ])
        .events(tauri_specta::collect_events![
            notifications::NotificationAdded,
        ])
}
