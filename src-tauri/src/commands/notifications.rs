//! The notification center's commands and its live event.
//!
//! Commands that post a notification (through `standby_core::notifications::Notifier`) pass a
//! [`WindowSink`], or call [`notify`] after `Catalog::add_notification`, so the bell and the page
//! update without polling.

use serde::{Deserialize, Serialize};
use standby_core::notifications::{
    Notification, NotificationFilter, NotificationId, NotificationLevel, NotificationSink,
};
use standby_core::ApiError;
use tauri::State;
use tauri_specta::Event;

use crate::state::AppState;

/// Emitted once a notification is stored; the payload is the notification as the list shows it.
/// Event name: `notification-added`.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct NotificationAdded(pub Notification);

/// Tells the window about a stored notification. The catalog already has it, so a window that
/// misses the event (hidden, reloading) still lists it on its next read: a failed emit is logged,
/// never returned.
pub fn notify(app: &tauri::AppHandle, n: &Notification) {
    if let Err(e) = NotificationAdded(n.clone()).emit(app) {
        tracing::warn!(
            id = n.id,
            "notification stored but not streamed to the window: {e}"
        );
    }
}

/// A [`NotificationSink`] for core code that posts while the window is open.
pub struct WindowSink(pub tauri::AppHandle);

impl NotificationSink for WindowSink {
    fn added(&self, n: &Notification) {
        notify(&self.0, n);
        if ends_a_job(n) {
            tell_the_desktop_if_hidden(&self.0, n);
        }
    }
}

/// A job's outcome (success, warning or failure), as opposed to its start and milestones.
fn ends_a_job(n: &Notification) -> bool {
    n.job_id.is_some() && !matches!(n.level, NotificationLevel::Info)
}

/// Whether the administrator can see the window: shown and not minimised.
fn window_seen(app: &tauri::AppHandle) -> bool {
    use tauri::Manager;
    app.get_webview_window("main")
        .is_some_and(|w| w.is_visible().unwrap_or(false) && !w.is_minimized().unwrap_or(false))
}

/// An OS notification, for a job that ends while Standby sits in the tray. Decided and sent
/// from a thread of its own: the sink runs while its caller holds the catalog's lock, and asking
/// the window whether it is visible waits for the main thread, which may itself be waiting for
/// that lock in a command. The desktop's notification service answers over D-Bus; where there is
/// none the outcome is still in the notification center, so a failure is only logged.
fn tell_the_desktop_if_hidden(app: &tauri::AppHandle, n: &Notification) {
    let (app, title, body) = (app.clone(), n.title.clone(), n.body.clone());
    let spawned = std::thread::Builder::new()
        .name("os-notification".into())
        .spawn(move || {
            if window_seen(&app) {
                return;
            }
            if let Err(e) = notify_rust::Notification::new()
                .appname("Standby")
                .summary(&title)
                .body(&body)
                .show()
            {
                tracing::info!("no desktop notification for «{title}»: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("no desktop notification: {e}");
    }
}

#[tauri::command]
#[specta::specta]
pub async fn list_notifications(
    state: State<'_, AppState>,
    filter: NotificationFilter,
) -> Result<Vec<Notification>, ApiError> {
    Ok(state.catalog.lock().list_notifications(&filter)?)
}

#[tauri::command]
#[specta::specta]
pub async fn unread_notification_count(state: State<'_, AppState>) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().unread_count()?)
}

/// Returns how many changed from unread to read.
#[tauri::command]
#[specta::specta]
pub async fn mark_notifications_read(
    state: State<'_, AppState>,
    ids: Vec<NotificationId>,
) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().mark_read(&ids)?)
}

/// Returns how many changed from unread to read.
#[tauri::command]
#[specta::specta]
pub async fn mark_all_notifications_read(state: State<'_, AppState>) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().mark_all_read()?)
}
