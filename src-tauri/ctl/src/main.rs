//! `standbyctl`: Standby without a window, for automation, cron and servers.

use clap::{Parser, Subcommand};

mod account;
mod backup;
mod dr;
mod inventory;
mod jobs;
mod lab;
mod notifications;

#[derive(Parser)]
#[command(
    name = "standbyctl",
    version,
    about = "Standby from the command line: protect Frame accounts on Nutanix AHV and Azure without a window",
    long_about = None,
    after_help = "Data lives in the data folder (--data-dir, or STANDBY_DATA_DIR). Secrets are never taken as arguments."
)]
struct Cli {
    /// Data folder (catalog, logs); defaults to the platform's app data folder.
    #[arg(long, global = true, env = "STANDBY_DATA_DIR", value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cloud accounts: list, probe a certificate, add, remove.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Backups: back up one volume now (replicated when DR is on), list backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Disaster recovery: enable it for a Frame account, show what is enabled.
    #[command(subcommand)]
    Dr(dr::DrCommand),
    /// The persistent resources of a Frame account, and corrections to their discovery.
    #[command(subcommand)]
    Inventory(inventory::InventoryCommand),
    /// The notification center: every operation's outcome, newest first.
    Notifications(notifications::NotificationsArgs),
    /// Jobs: list them, and finish what a previous run left unfinished.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Run the lab: simulated AHV clusters, an Azure subscription and its token endpoint on loopback.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Show where Standby keeps its data and logs.
    Paths,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let paths = match standby_core::paths::DataPaths::resolve(cli.data_dir.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("standbyctl: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let _log = standby_core::logging::init(&paths.log_dir, "standbyctl", false)
        .map_err(|e| eprintln!("standbyctl: no log file: {e}"))
        .ok();
    tracing::info!(command = ?std::env::args().skip(1).filter(|a| !a.starts_with('-')).take(2).collect::<Vec<_>>(), "standbyctl");
    let result = match cli.command {
        Command::Account(cmd) => account::run(cmd, &paths),
        Command::Backup(cmd) => backup::run(cmd, &paths),
        Command::Dr(cmd) => dr::run(cmd, &paths),
        Command::Inventory(cmd) => inventory::run(cmd, &paths),
        Command::Jobs(cmd) => jobs::run(cmd, &paths),
        Command::Lab(cmd) => lab::run(cmd, &paths),
        Command::Notifications(args) => notifications::run(args, &paths),
        Command::Paths => {
            println!("data folder: {}", paths.data_dir.display());
            println!("logs:        {}", paths.log_dir.display());
            Ok(())
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("standbyctl: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
