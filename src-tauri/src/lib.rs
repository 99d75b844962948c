//! The desktop shell: window, tray, and `#[tauri::command]` adapters over `standby-core`.
//! No business logic lives here.

mod cli;
mod commands;
mod drawing;
pub mod lab;
mod scheduling;
mod state;
mod tray;
mod window;

use clap::Parser;
use tauri::Manager;

pub use commands::specta_builder;

/// Writes the TypeScript bindings for every command and event to `path`.
pub fn export_bindings(path: &std::path::Path) -> Result<(), specta_typescript::Error> {
    specta_builder().export(
        specta_typescript::Typescript::default()
            .header("// Generated from the Rust command and event types by tauri-specta. Do not edit:\n// `STANDBY_UPDATE_BINDINGS=1 cargo test -p standby --test bindings` rewrites it.\n"),
        path,
    )
}

/// The app; `context` is `tauri::generate_context!()`, made by the binary (see `main.rs`).
pub fn run(context: tauri::Context<tauri::Wry>) -> std::process::ExitCode {
    let args = cli::Args::parse();
    let paths = match standby_core::paths::DataPaths::resolve(args.data_dir.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("standby: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let _log = match standby_core::logging::init(&paths.log_dir, "standby", true) {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("standby: logs go to stderr only: {e}");
            None
        }
    };
    tracing::info!(data_dir = %paths.data_dir.display(), version = env!("CARGO_PKG_VERSION"), "starting");
    if args.blank_window {
        return window::run_blank(context, &paths.data_dir.join("webview"));
    }
    let mut state = match state::AppState::open(paths) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("standby: {e}");
            return std::process::ExitCode::from(2);
        }
    };

    if args.lab {
        state.start_lab();
    }

    // The webview's own storage (the theme choice) lives in Standby's data folder too, so that
    // --data-dir really isolates a run.
    let webview_dir = state.paths.data_dir.join("webview");
    let builder = specta_builder();
    let result = tauri::Builder::default()
        // Must be the first plugin: a second launch hands over and exits before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tracing::info!("second launch: focusing the running window");
            tray::show_main_window(app);
        }))
        .manage(state)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            window::open_main(app.handle(), &webview_dir)?;
            // The scheduler finishes unfinished jobs first, then runs the schedules.
            scheduling::start(app.handle().clone());
            tray::install(app.handle())?;
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the window keeps Standby in the tray, where schedules keep running;
            // Quit in the tray menu ends it.
            if let tauri::WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == "main"
                    && !window.app_handle().state::<state::AppState>().quitting()
                {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .run(context);
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("the window could not start: {e}");
            eprintln!("standby: the window could not start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
