use std::path::Path;

use tauri::{AppHandle, WebviewUrl, WebviewWindowBuilder};

/// The main window. Built here rather than in tauri.conf.json so that its webview data folder
/// follows `--data-dir`.
pub fn open_main(app: &AppHandle, webview_dir: &Path) -> tauri::Result<()> {
    let window = WebviewWindowBuilder::new(app, "main", WebviewUrl::default())
        .title("Standby")
        .inner_size(1280.0, 800.0)
        .min_inner_size(960.0, 600.0)
        .center()
        .data_directory(webview_dir.to_path_buf())
        .build()?;
    #[cfg(target_os = "linux")]
    crate::drawing::tune(&window);
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

/// `standby --blank-window`: a Tauri window on an empty page and nothing else (no catalog, lab,
/// scheduler, tray or single-instance hand-over), the baseline the window's performance benchmark
/// compares Standby's memory with (tests/benches/ui_perf.rs).
pub fn run_blank(
    context: tauri::Context<tauri::Wry>,
    webview_dir: &Path,
) -> std::process::ExitCode {
    let webview_dir = webview_dir.to_path_buf();
    let result = tauri::Builder::default()
        // A real, empty document served by the app, as any Tauri page is: WebKit shows
        // `about:blank` without starting a web process, which would make the baseline too light.
        .register_uri_scheme_protocol("blank", |_ctx, _request| {
            tauri::http::Response::builder()
                .header("content-type", "text/html")
                .body(
                    b"<!doctype html><html><head><title>Blank</title></head><body></body></html>"
                        .to_vec(),
                )
                .expect("a valid response")
        })
        .setup(move |app| {
            let blank = "blank://localhost/".parse().expect("a valid URL literal");
            WebviewWindowBuilder::new(app, "main", WebviewUrl::CustomProtocol(blank))
                .title("Standby (blank window)")
                .inner_size(1280.0, 800.0)
                .data_directory(webview_dir.clone())
                .build()?;
            Ok(())
        })
        .run(context);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("standby: the blank window could not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
