// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() -> std::process::ExitCode {
    // The UI's files are embedded here, in the binary, and not in the library: tauri's macro
    // writes each file into OUT_DIR unless it is already there, without a lock, so two targets
    // expanding it at once (the library and its unit tests, built side by side by `cargo test`)
    // could embed a file the other was still writing. CI once built a window whose Timeline
    // chunk was cut short that way. The binary has no test target (Cargo.toml), so one build
    // expands the macro once.
    standby_app::run(tauri::generate_context!("../tauri.conf.json"))
}
