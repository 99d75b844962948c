//! `standbyctl`: Standby without a window, for automation, cron and servers.

use clap::{Parser, Subcommand};

mod account;
mod audit;
mod autogrow;
mod backup;
mod clone;
mod dr;
mod heap;
mod inventory;
mod jobs;
mod lab;
mod notifications;
mod post_session;
mod progress;
mod restore;
mod retention;
mod schedule;
mod serve;

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
    /// The audit log: who asked Standby for what, newest first.
    Audit(audit::AuditArgs),
    /// Autogrow: grow volumes that run short of free space (settings, show, check now).
    #[command(subcommand)]
    Autogrow(autogrow::AutogrowCommand),
    /// Backups: back up one volume now (replicated when DR is on), list backups.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Clone persistent desktops from one AHV account to another: `plan` shows what would happen, `run` does it.
    #[command(subcommand)]
    Clone(clone::CloneCommand),
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
    /// Post-session backups: after a user's session closes, per kind of resource.
    #[command(subcommand)]
    PostSession(post_session::PostSessionCommand),
    /// Retention: preview and apply how many backups each volume keeps.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Restore a volume from a backup or a replica: `plan` shows what would happen, `run` does it.
    #[command(subcommand)]
    Restore(restore::RestoreCommand),
    /// Backup schedules: set one per account, show the next runs.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Run the scheduler headless (schedules, post-session backups, retention, autogrow) until
    /// SIGTERM or Ctrl-C. Exits 3 if another scheduler holds this data folder (see --wait).
    Serve(serve::ServeArgs),
    /// Show where Standby keeps its data and logs.
    Paths,
}

fn main() -> std::process::ExitCode {
    heap::one_arena();
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
    // Every command: a long one (backup all, jobs resume, serve) is why, a short one pays a
    // sleeping thread.
    let _give_back = heap::GiveBack::start();
    tracing::info!(command = ?std::env::args().skip(1).filter(|a| !a.starts_with('-')).take(2).collect::<Vec<_>>(), "standbyctl");
    let result = match cli.command {
        Command::Account(cmd) => account::run(cmd, &paths),
        Command::Audit(args) => audit::run(args, &paths),
        Command::Autogrow(cmd) => autogrow::run(cmd, &paths),
        Command::Backup(cmd) => backup::run(cmd, &paths),
        Command::Clone(cmd) => {
            return clone::run(cmd, &paths).unwrap_or_else(|e| {
                eprintln!("standbyctl: {e:#}");
                std::process::ExitCode::FAILURE
            })
        }
        Command::Dr(cmd) => dr::run(cmd, &paths),
        Command::Inventory(cmd) => inventory::run(cmd, &paths),
        Command::Jobs(cmd) => jobs::run(cmd, &paths),
        Command::Lab(cmd) => lab::run(cmd, &paths),
        Command::Notifications(args) => notifications::run(args, &paths),
        Command::PostSession(cmd) => post_session::run(cmd, &paths),
        Command::Retention(cmd) => retention::run(cmd, &paths),
        Command::Restore(cmd) => {
            return restore::run(cmd, &paths).unwrap_or_else(|e| {
                eprintln!("standbyctl: {e:#}");
                std::process::ExitCode::FAILURE
            })
        }
        Command::Schedule(cmd) => schedule::run(cmd, &paths),
        Command::Serve(args) => serve::run(args, &paths),
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
