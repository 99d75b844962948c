//! `standbyctl clone plan|run`: copy persistent desktops from one AHV account to another.

use std::sync::Arc;

use clap::{Args, Subcommand};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::clone::{self, CloneError, ClonePlan, CloneRequest, DesktopAction};
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

use crate::progress::{cancel_on_ctrl_c, LineEvery, TerminalProgress, RESUME_LATER};

/// Exit status of `clone plan` when a check blocks, and of `clone run` when it was refused before
/// anything was done.
pub const EXIT_BLOCKED: u8 = 3;

#[derive(Subcommand)]
pub enum CloneCommand {
    /// Show what cloning would do to each desktop (clone, replace, skip and why), the power
    /// actions, and every prerequisite with its result. Exit status: 0 when it may run, 3 when
    /// a check blocks it, 1 when the plan could not be made.
    Plan(CloneArgs),
    /// Clone: the source desktops are powered off once their users have signed out (the clone
    /// waits up to --session-timeout), one snapshot of the source protection domain is
    /// replicated to the destination cluster, the source desktops run again, and each desktop
    /// is restored on the destination as a new VM named clone-<time>-<name>. Exit status: 0
    /// cloned, 3 refused before anything was done (a check blocks), 1 failed or cancelled (a
    /// cancelled job is finished with `standbyctl jobs resume`). Ctrl-C cancels between steps.
    Run(CloneArgs),
}

#[derive(Args)]
#[command(after_help = "\
Prerequisites: both accounts are AHV clusters joined by a remote site (standbyctl dr enable-ahv
makes one), and the source Frame account's desktops are protected by its protection domain.
Desktops without an owner (unassigned, shadow) are never cloned. An owner who already has an
assigned desktop in the destination is skipped unless --replace-assigned: that desktop is then
powered off and kept (Standby never deletes it) and the clone is the one to assign in Frame.

Example:
  standbyctl clone plan primary secondary --frame-account acme-pd --dest-frame-account acme-dr \\
      --volumes acme-pd-desk-0004,acme-pd-desk-0005
  standbyctl clone run  primary secondary --frame-account acme-pd --dest-frame-account acme-dr \\
      --volumes acme-pd-desk-0004,acme-pd-desk-0005 --keep-running")]
pub struct CloneArgs {
    /// The source AHV cloud account (name or id, `standbyctl account list`).
    source_account: String,
    /// The destination AHV cloud account.
    dest_account: String,
    /// The Frame account on the source cluster.
    #[arg(long, value_name = "NAME")]
    frame_account: String,
    /// The Frame account on the destination (default: the same name as --frame-account).
    #[arg(long, value_name = "NAME")]
    dest_frame_account: Option<String>,
    /// Replace the assigned desktop an owner already has in the destination (it is powered off
    /// and kept) instead of skipping that owner.
    #[arg(long)]
    replace_assigned: bool,
    /// Power the clones on when they are made (default: they stay powered off). Source desktops
    /// that were running always run again.
    #[arg(long)]
    keep_running: bool,
    /// Only these desktops (names or VM uuids, comma-separated); default: every persistent
    /// desktop of the Frame account.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    volumes: Vec<String>,
    /// How long to wait for users in session before giving up, in minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    session_timeout: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl CloneArgs {
    fn request(&self) -> CloneRequest {
        CloneRequest {
            source_account: self.source_account.clone(),
            destination_account: self.dest_account.clone(),
            frame_account: self.frame_account.clone(),
            destination_frame_account: self.dest_frame_account.clone(),
            replace_assigned: self.replace_assigned,
            keep_running: self.keep_running,
            volumes: self
                .volumes
                .iter()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect(),
            session_timeout_secs: Some(self.session_timeout.saturating_mul(60)),
            actor: match std::env::var("USER") {
                Ok(u) if !u.is_empty() => format!("standbyctl:{u}"),
                _ => "standbyctl".to_string(),
            },
        }
    }
}

/// Progress on standard error: one line each time the job moves to something new.
fn show(p: &ClonePlan) {
    println!(
        "Clone {} ({}) to {} ({}) through {} [{}]",
        p.source.frame_account,
        p.source.account_name,
        p.destination.frame_account,
        p.destination.account_name,
        p.remote_site.as_deref().unwrap_or("no remote site"),
        p.protection_domain
    );
    for d in &p.desktops {
        let what = match &d.action {
            DesktopAction::Clone { new_name } => format!("clone as {new_name}"),
            DesktopAction::Replace {
                new_name, replaces, ..
            } => format!("clone as {new_name}, replacing {replaces}"),
            DesktopAction::Skip { reason } => format!("skip: {reason}"),
        };
        println!(
            "  {:<24} {:<32} {what}",
            d.name,
            d.owner.as_deref().unwrap_or("(no owner)")
        );
        for step in &d.power {
            println!("  {:<24} {:<32}   - {step}", "", "");
        }
    }
    crate::restore::print_steps_and_checks(&p.steps, &p.checks, "", 30);
}

pub fn run(cmd: CloneCommand, paths: &DataPaths) -> anyhow::Result<std::process::ExitCode> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = Report {
        catalog: &catalog,
        clock: Arc::new(SystemClock),
        sink: &NoSink,
    };
    let blocked = std::process::ExitCode::from(EXIT_BLOCKED);
    match cmd {
        CloneCommand::Plan(a) => {
            let plan = rt.block_on(clone::plan(&report, &Keyring, &a.request()))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&plan)?);
            } else {
                show(&plan);
            }
            Ok(if plan.can_run {
                std::process::ExitCode::SUCCESS
            } else {
                blocked
            })
        }
        CloneCommand::Run(a) => {
            let terminal = TerminalProgress::new(LineEvery::StepOf("clone"));
            let cancel = CancelFlag::new();
            let out = rt.block_on(cancel_on_ctrl_c(
                &cancel,
                RESUME_LATER,
                clone::run(
                    &report,
                    &Keyring,
                    terminal.sink(),
                    &standby_core::limits::Limits::default(),
                    a.request(),
                    cancel.clone(),
                ),
            ));
            match out {
                Ok(o) => {
                    if a.json {
                        println!("{}", serde_json::to_string_pretty(&o)?);
                    } else {
                        for c in &o.cloned {
                            println!(
                                "{} -> {} ({}){}{}",
                                c.source,
                                c.new_name,
                                if c.powered_on {
                                    "running"
                                } else {
                                    "powered off"
                                },
                                c.replaced
                                    .as_deref()
                                    .map(|r| format!(", replaces {r} (kept, powered off)"))
                                    .unwrap_or_default(),
                                c.owner
                                    .as_deref()
                                    .map(|o| format!(", for {o}"))
                                    .unwrap_or_default()
                            );
                        }
                    }
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err(e @ CloneError::Blocked { .. }) => {
                    eprintln!("standbyctl: {e}");
                    Ok(blocked)
                }
                Err(e) => Err(anyhow::Error::new(e).context("the clone did not complete")),
            }
        }
    }
}
