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
}
