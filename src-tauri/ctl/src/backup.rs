//! `standbyctl backup ...`: back up one Azure volume now (replicated when DR is on), and list
//! the backups the catalog holds.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Args, Subcommand};
use standby_core::accounts::Accounts;
use standby_core::backup::{self, Backup, BackupRequest};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::jobs::{JobProgress, ProgressSink};
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum BackupCommand {
    /// Back up one volume now (Azure): an incremental snapshot in its region and, when disaster
    /// recovery is enabled for the account, a replica in the secondary region, followed until it
    /// is usable. Exits 1 if any part failed. Ctrl-C cancels (what was made is kept).
    Create(Create),
    /// List the backups and replicas in the catalog, newest first.
    List(List),
}

#[derive(Args)]
pub struct Create {
    /// The Azure cloud account (name or id).
    #[arg(long)]
    account: String,
    /// The Frame account the volume belongs to.
    #[arg(long)]
    frame_account: String,
    /// The disk's name or ARM id; a VM's name stands for its OS disk (see `standbyctl inventory list`).
    #[arg(long)]
    volume: String,
    /// Your name for the backup, e.g. "before the upgrade".
    #[arg(long)]
    name: String,
    /// Print the job's backups (primary, then replica) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct List {
    /// Only this cloud account's backups (name or id).
    #[arg(long)]
    account: Option<String>,
    /// Only this volume's backups (disk name or ARM id).
    #[arg(long)]
    volume: Option<String>,
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
}

/// Progress lines on a terminal, one per whole percent or new step, so a log stays readable.
struct Terminal {
    last: Mutex<(i64, String)>,
}

impl ProgressSink for Terminal {
    fn progress(&self, p: &JobProgress) {
        // A poisoned lock only means an earlier line failed to print: keep going.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let pct = p.percent.floor() as i64;
        if last.0 == pct && last.1 == p.step {
            return;
        }
        *last = (pct, p.step.clone());
        eprintln!("[{pct:>3}%] {}", p.step);
    }
}

pub fn run(cmd: BackupCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    match cmd {
        BackupCommand::List(a) => {
            let account_id = match &a.account {
                Some(name) => {
                    let c = catalog.lock();
                    let accounts = Accounts {
                        catalog: &c,
                        store: &Keyring,
                    };
                    Some(accounts.settings(name)?.0.id)
                }
                None => None,
            };
            let rows = catalog
                .lock()
                .list_backups(account_id.as_deref(), a.volume.as_deref())?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else if rows.is_empty() {
                println!("No backups yet: take one with `standbyctl backup create`.");
            } else {
                print_rows(&rows);
            }
            Ok(())
        }
        BackupCommand::Create(a) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let req = BackupRequest {
                account: a.account,
                frame_account: a.frame_account,
                volume: a.volume,
                name: a.name,
            };
            let report = Report {
                catalog: &catalog,
                clock: Arc::new(SystemClock),
                sink: &NoSink,
            };
            let terminal = Terminal {
                last: Mutex::new((-1, String::new())),
            };
            let quiet = standby_core::jobs::NoProgress;
            let sink: &dyn ProgressSink = if std::io::stderr().is_terminal() {
                &terminal
            } else {
                &quiet
            };
            let cancel = CancelFlag::new();
            let rows = rt
                .block_on(async {
                    let stop = cancel.clone();
                    let ctrl_c = tokio::spawn(async move {
                        if tokio::signal::ctrl_c().await.is_ok() {
                            eprintln!("cancelling: what was made so far is kept");
                            stop.cancel();
                        }
                    });
                    let out =
                        backup::backup_now(&report, &Keyring, sink, req, cancel.clone()).await;
                    ctrl_c.abort();
                    out
                })
                .context("the backup did not complete")?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                print_rows(&rows);
            }
            Ok(())
        }
    }
}

fn print_rows(rows: &[Backup]) {
    println!(
        "{:<25}  {:<7}  {:<11}  {:>4}  {:<14}  {:<28}  NAME",
        "CREATED", "SITE", "STATE", "%", "REGION", "VOLUME"
    );
    for b in rows {
        println!(
            "{:<25}  {:<7}  {:<11}  {:>4.0}  {:<14}  {:<28}  {}",
            b.created_at,
            b.site.as_str(),
            b.state.as_str(),
            b.percent,
            b.location,
            b.volume_name,
            b.name
        );
        if let Some(e) = &b.error {
            println!("    {e}");
        }
    }
}
