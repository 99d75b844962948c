//! The notification center's commands and its live event.
//!
//! Commands that post a notification (through `standby_core::notifications::Notifier`) pass a
//! [`WindowSink`], or call [`notify`] after `Catalog::add_notification`, so the bell and the page
//! update without polling.

use serde::{Deserialize, Serialize};
use standby_core::notifications::{
    Notification, NotificationFilter, NotificationId, NotificationSink,
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
#[allow(
    dead_code,
    reason = "called by the job commands as they post notifications"
)]
pub fn notify(app: &tauri::AppHandle, n: &Notification) {
    if let Err(e) = NotificationAdded(n.clone()).emit(app) {
        tracing::warn!(
            id = n.id,
            "notification stored but not streamed to the window: {e}"
        );
    }
}

/// A [`NotificationSink`] for core code that posts while the window is open.
#[allow(
    dead_code,
    reason = "passed to the core's jobs by the commands that start them"
)]
pub struct WindowSink(pub tauri::AppHandle);

impl NotificationSink for WindowSink {
    fn added(&self, n: &Notification) {
        notify(&self.0, n);
    }
}

#[tauri::command]
#[specta::specta]
pub fn list_notifications(
    state: State<'_, AppState>,
    filter: NotificationFilter,
) -> Result<Vec<Notification>, ApiError> {
    Ok(state.catalog.lock().list_notifications(&filter)?)
}

#[tauri::command]
#[specta::specta]
pub fn unread_notification_count(state: State<'_, AppState>) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().unread_count()?)
}

/// Returns how many changed from unread to read.
#[tauri::command]
#[specta::specta]
pub fn mark_notifications_read(
    state: State<'_, AppState>,
    ids: Vec<NotificationId>,
) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().mark_read(&ids)?)
}

/// Returns how many changed from unread to read.
#[tauri::command]
#[specta::specta]
pub fn mark_all_notifications_read(state: State<'_, AppState>) -> Result<u32, ApiError> {
    Ok(state.catalog.lock().mark_all_read()?)
}
