use std::path::Path;

use tauri::{AppHandle, WebviewUrl, WebviewWindowBuilder};

/// The main window. Built here rather than in tauri.conf.json so that its webview data folder
/// follows `--data-dir`.
pub fn open_main(app: &AppHandle, webview_dir: &Path) -> tauri::Result<()> {
    WebviewWindowBuilder::new(app, "main", WebviewUrl::default())
        .title("Standby")
        .inner_size(1280.0, 800.0)
        .min_inner_size(960.0, 600.0)
        .center()
        .data_directory(webview_dir.to_path_buf())
        .build()?;
    Ok(())
}
