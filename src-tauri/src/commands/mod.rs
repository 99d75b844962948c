//! `#[tauri::command]` adapters, one module per area: each calls `standby-core` and maps its
//! error to `ApiError`.

mod accounts;
mod app;
mod dr;
mod notifications;

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
            dr::dr_configs,
            dr::enable_dr_ahv,
            dr::enable_dr_azure,
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
