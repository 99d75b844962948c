use std::path::PathBuf;

/// Standby's window. For automation and servers use `standbyctl`.
#[derive(Debug, clap::Parser)]
#[command(name = "standby", version, about)]
pub struct Args {
    /// Data folder (catalog, logs); defaults to the platform's app data folder.
    #[arg(long, env = "STANDBY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Start the lab (simulated AHV clusters and Azure regions on loopback) and register it as
    /// cloud accounts.
    #[arg(long, env = "STANDBY_LAB")]
    pub lab: bool,

    /// Open one window on an empty page and nothing else (no catalog, lab, scheduler or tray).
    #[arg(
        long,
        hide_short_help = true,
        long_help = "Open one window on an empty page (an empty HTML document the app serves) \
                     and nothing else: no catalog, lab, scheduler or tray. It is the memory \
                     baseline of the window's performance benchmark (tests/benches/ui_perf.rs, \
                     docs/console.md): what a blank Tauri window costs on this machine."
    )]
    pub blank_window: bool,
}
