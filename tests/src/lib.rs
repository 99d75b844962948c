//! Support for the end-to-end tests: the real `standby` binary under tauri-driver and
//! WebKitWebDriver, driven over WebDriver. `./test` builds the app, installs the drivers and runs
//! these under Xvfb inside a private D-Bus session.

pub mod driver;
pub mod ipc;
pub mod lab_control;
pub mod perf;
pub mod screens;
