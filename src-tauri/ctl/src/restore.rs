//! `standbyctl restore plan|run`: the restore pre-flight, and the restore itself.

use std::sync::Arc;

use clap::{Args, Subcommand};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::restore::{
    self, CheckStatus, RestoreCheck, RestoreError, RestorePlan, RestoreRequest,
};
use standby_core::secrets::Keyring;

use crate::progress::{cancel_on_ctrl_c, LineEvery, TerminalProgress, RESUME_LATER};

/// Exit status of `restore plan` when a check blocks, and of `restore run` when it was refused
/// before anything was done (blocked, or the confirmation missing).
pub const EXIT_BLOCKED: u8 = 3;

#[derive(Subcommand)]
pub enum RestoreCommand {
    /// Show exactly what restoring a backup would do, and every check with its result. Exit
    /// status: 0 when it may run, 3 when a check blocks it, 1 when the plan could not be made.
    Plan(PlanArgs),
    /// Restore a backup (a primary backup or a replica; ids from `standbyctl backup list`): a
    /// safety snapshot of the current disk first (restore it to undo), the desktop powered off
    /// and on again, the disk replaced. Exit status: 0 restored, 3 refused before anything was
    /// done (a check blocks, or --confirm-volume is missing), 1 failed or cancelled (the job can
    /// be resumed with `standbyctl jobs resume`). Ctrl-C cancels between steps.
    Run(RunArgs),
}

#[derive(Args)]
pub struct PlanArgs {
    /// The backup's id (`standbyctl backup list --json`).
    backup_id: String,
    /// Print the plan as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// The backup's id (`standbyctl backup list --json`).
    backup_id: String,
    /// The volume's name, as `restore plan` shows it: required when the restore replaces the
    /// disk of an assigned desktop (or a user's profile or personal drive).
    #[arg(long, value_name = "NAME")]
    confirm_volume: Option<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

/// A pre-flight's steps, numbered (each line starting with `indent`), then its checks with
/// their outcome, names padded to `name_width`: a restore plan's and a clone plan's.
pub fn print_steps_and_checks(
    steps: &[String],
    checks: &[RestoreCheck],
    indent: &str,
    name_width: usize,
) {
    for (i, s) in steps.iter().enumerate() {
        println!("{indent}{}. {s}", i + 1);
    }
    for c in checks {
        let mark = match c.status {
            CheckStatus::Ok => "ok     ",
            CheckStatus::Warning => "warning",
            CheckStatus::Blocked => "BLOCKED",
        };
        println!("{mark} {:<name_width$} {}", c.name, c.message);
    }
}

fn print_plan(p: &RestorePlan) {
    println!(
        "Restore {} ({}) from «{}», {} copy in {}, taken {}",
        p.volume_name,
        p.account_name,
        p.backup_name,
        p.site.as_str(),
        p.from_location,
        p.point_in_time
    );
    print_steps_and_checks(&p.steps, &p.checks, "  ", 24);
    if p.replaces_assigned_desktop {
        println!(
            "This replaces an assigned desktop's disk: run with --confirm-volume {}",
            p.volume_name
        );
    }
}

pub fn run(cmd: RestoreCommand, paths: &DataPaths) -> anyhow::Result<std::process::ExitCode> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = Report {
        catalog: &catalog,
        clock: Arc::new(SystemClock),
        sink: &NoSink,
    };
    match cmd {
        RestoreCommand::Plan(a) => {
            let plan = rt.block_on(restore::plan(&report, &Keyring, &a.backup_id))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                print_plan(&plan);
            }
            Ok(if plan.can_run {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::from(EXIT_BLOCKED)
            })
        }
        RestoreCommand::Run(a) => {
            let terminal = TerminalProgress::new(LineEvery::Percent);
            let actor = match std::env::var("USER") {
                Ok(u) if !u.is_empty() => format!("standbyctl:{u}"),
                _ => "standbyctl".to_string(),
            };
            let req = RestoreRequest {
                backup_id: a.backup_id,
                confirm_volume: a.confirm_volume,
                actor,
            };
            let cancel = CancelFlag::new();
            let out = rt.block_on(cancel_on_ctrl_c(
                &cancel,
                RESUME_LATER,
                restore::run(&report, &Keyring, terminal.sink(), req, cancel.clone()),
            ));
            match out {
                Ok(o) => {
                    if a.json {
                        println!("{}", serde_json::to_string_pretty(&o)?);
                    } else {
                        println!("Restored {}: now {}", o.plan.volume_name, o.restored_volume);
                        if let Some(s) = &o.safety_backup {
                            println!(
                                "Undo: standbyctl restore run {} --confirm-volume {}",
                                s.id, o.plan.volume_name
                            );
                        }
                    }
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err(
                    e @ (RestoreError::Blocked { .. } | RestoreError::ConfirmationNeeded { .. }),
                ) => {
                    eprintln!("standbyctl: {e}");
                    Ok(std::process::ExitCode::from(EXIT_BLOCKED))
                }
                Err(e) => Err(anyhow::Error::new(e).context("the restore did not complete")),
            }
        }
    }
}
