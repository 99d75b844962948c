//! Export and import of an account's DR configuration (JSON, no secrets) and the backup report
//! (CSV), through native file dialogs (`rfd`).
//!
//! Each dialog command has a `..._to` / `..._from` twin that takes the path instead: the
//! end-to-end tests drive those, since a native dialog is outside the web view a WebDriver sees.
//!
//! The dialogs use rfd's GTK 3 backend, the toolkit Tauri itself runs on Linux, as Tauri's own
//! dialog plugin does: the dialog is created on the main thread (where Tauri's GTK loop runs) and
//! awaited on another, so the window keeps drawing while it is open.

use std::path::{Path, PathBuf};

use serde::Serialize;
use standby_core::catalog::SharedCatalog;
use standby_core::clock::{Clock, SystemClock};
use standby_core::dr_export::{self, ImportOutcome};
use standby_core::{ApiError, ErrorCode};
use tauri::{AppHandle, State};

use super::timeline::off_main_thread;
use crate::state::AppState;

/// Who the audit log names for changes made in the window.
const ACTOR: &str = "window";

/// A DR configuration read from a file and applied.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct DrImport {
    /// The file read.
    pub path: String,
    pub outcome: ImportOutcome,
}

/// A backup report written.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct BackupReportWritten {
    pub path: String,
    /// Backups listed (one row each).
    pub rows: u32,
}

enum Dialog {
    Save { file_name: String },
    Open,
}

/// Shows a native file dialog and returns the path chosen, `None` when the administrator
/// cancelled.
async fn file_dialog(
    app: &AppHandle,
    title: &str,
    filter: (&str, &str),
    kind: Dialog,
) -> Result<Option<PathBuf>, ApiError> {
    let (tx, mut rx) = tauri::async_runtime::channel(1);
    let (title, name, ext) = (
        title.to_string(),
        filter.0.to_string(),
        filter.1.to_string(),
    );
    app.run_on_main_thread(move || {
        let dialog = rfd::AsyncFileDialog::new()
            .set_title(title)
            .add_filter(name, &[ext]);
        let chosen = match kind {
            Dialog::Save { file_name } => {
                futures_boxed(dialog.set_file_name(file_name).save_file())
            }
            Dialog::Open => futures_boxed(dialog.pick_file()),
        };
        // Awaited off the main thread: GTK answers on its loop, which must keep running.
        std::thread::spawn(move || {
            let picked = tauri::async_runtime::block_on(chosen);
            let _ = tx.blocking_send(picked.map(|f| f.path().to_path_buf()));
        });
    })
    .map_err(|e| {
        ApiError::new(
            ErrorCode::Internal,
            format!("the file dialog could not be opened: {e}"),
        )
    })?;
    rx.recv().await.ok_or_else(|| {
        ApiError::new(
            ErrorCode::Internal,
            "the file dialog closed without an answer; try again",
        )
    })
}

type PickFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<rfd::FileHandle>> + Send>>;

fn futures_boxed(
    f: impl std::future::Future<Output = Option<rfd::FileHandle>> + Send + 'static,
) -> PickFuture {
    Box::pin(f)
}

fn path_text(p: &Path) -> String {
    p.display().to_string()
}

/// A file name for the save dialog: the account's name, made safe for any file system.
fn suggested(catalog: &SharedCatalog, account: &str, suffix: &str) -> String {
    let name = catalog
        .lock()
        .find_account(account)
        .ok()
        .flatten()
        .map_or_else(|| account.to_string(), |a| a.account.name);
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{safe}-{suffix}")
}

// ---- DR configuration ---------------------------------------------------------------------

/// Exports an account's DR configuration to a file the administrator picks; the path written,
/// `None` when they cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_dr_config(
    app: AppHandle,
    state: State<'_, AppState>,
    account: String,
) -> Result<Option<String>, ApiError> {
    let file_name = suggested(&state.catalog, &account, "dr-config.json");
    let Some(path) = file_dialog(
        &app,
        "Export DR configuration",
        ("JSON", "json"),
        Dialog::Save { file_name },
    )
    .await?
    else {
        return Ok(None);
    };
    export_dr(state.catalog.clone(), account, path)
        .await
        .map(Some)
}

/// [`export_dr_config`] to a path given (tests, automation).
#[tauri::command]
#[specta::specta]
pub async fn export_dr_config_to(
    state: State<'_, AppState>,
    account: String,
    path: String,
) -> Result<String, ApiError> {
    export_dr(state.catalog.clone(), account, PathBuf::from(path)).await
}

async fn export_dr(
    catalog: SharedCatalog,
    account: String,
    path: PathBuf,
) -> Result<String, ApiError> {
    off_main_thread(move || {
        let c = catalog.lock();
        dr_export::export_to(&c, &account, SystemClock.now(), &path)?;
        Ok(path_text(&path))
    })
    .await
}

/// Imports a DR configuration from a file the administrator picks onto an account: the
/// policies are applied; DR itself is never enabled here (the outcome says what the Enable DR
/// wizard should do). `None` when they cancelled.
#[tauri::command]
#[specta::specta]
pub async fn import_dr_config(
    app: AppHandle,
    state: State<'_, AppState>,
    account: String,
) -> Result<Option<DrImport>, ApiError> {
    let Some(path) = file_dialog(
        &app,
        "Import DR configuration",
        ("JSON", "json"),
        Dialog::Open,
    )
    .await?
    else {
        return Ok(None);
    };
    import_dr(state.catalog.clone(), account, path)
        .await
        .map(Some)
}

/// [`import_dr_config`] from a path given (tests, automation).
#[tauri::command]
#[specta::specta]
pub async fn import_dr_config_from(
    state: State<'_, AppState>,
    account: String,
    path: String,
) -> Result<DrImport, ApiError> {
    import_dr(state.catalog.clone(), account, PathBuf::from(path)).await
}

async fn import_dr(
    catalog: SharedCatalog,
    account: String,
    path: PathBuf,
) -> Result<DrImport, ApiError> {
    off_main_thread(move || {
        let c = catalog.lock();
        let outcome = dr_export::import_from(&c, &SystemClock, &account, &path, ACTOR)?;
        Ok(DrImport {
            path: path_text(&path),
            outcome,
        })
    })
    .await
}

// ---- backup report ------------------------------------------------------------------------

/// Writes the CSV report of an account's backups (optionally one volume's, by id or name) to a
/// file the administrator picks; `None` when they cancelled.
#[tauri::command]
#[specta::specta]
pub async fn export_backup_report(
    app: AppHandle,
    state: State<'_, AppState>,
    account: String,
    volume: Option<String>,
) -> Result<Option<BackupReportWritten>, ApiError> {
    let file_name = suggested(&state.catalog, &account, "backups.csv");
    let Some(path) = file_dialog(
        &app,
        "Export backup report",
        ("CSV", "csv"),
        Dialog::Save { file_name },
    )
    .await?
    else {
        return Ok(None);
    };
    report(state.catalog.clone(), account, volume, path)
        .await
        .map(Some)
}

/// [`export_backup_report`] to a path given (tests, automation).
#[tauri::command]
#[specta::specta]
pub async fn export_backup_report_to(
    state: State<'_, AppState>,
    account: String,
    volume: Option<String>,
    path: String,
) -> Result<BackupReportWritten, ApiError> {
    report(state.catalog.clone(), account, volume, PathBuf::from(path)).await
}

async fn report(
    catalog: SharedCatalog,
    account: String,
    volume: Option<String>,
    path: PathBuf,
) -> Result<BackupReportWritten, ApiError> {
    off_main_thread(move || {
        let c = catalog.lock();
        let rows = dr_export::backup_report_to(&c, &account, volume.as_deref(), &path)?;
        Ok(BackupReportWritten {
            path: path_text(&path),
            rows: u32::try_from(rows).unwrap_or(u32::MAX),
        })
    })
    .await
}
