//! `standbyctl autogrow ...`: an account's autogrow settings, and a check that grows the volumes
//! running out of space (docs/autogrow.md).

use std::sync::Arc;

use anyhow::bail;
use clap::{ArgGroup, Args, Subcommand};
use standby_core::accounts::Accounts;
use standby_core::autogrow::{
    self, gb, Action, AutogrowChange, AutogrowOutcome, AutogrowSettings, Decision, GIB,
};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

use crate::progress::{cancel_on_ctrl_c, LineEvery, TerminalProgress};

#[derive(Subcommand)]
pub enum AutogrowCommand {
    /// Change an account's autogrow settings; only what you name changes. Defaults (Frame's):
    /// off, grow by 10 GB when less than 5 GB is free, no maximum. GB means GiB.
    Set(Set),
    /// Show an account's autogrow settings and the volumes waiting for their VM to be deallocated.
    Show {
        /// The cloud account (name or id).
        account: String,
        /// Print the settings and waiting volumes as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check the account's volumes now and grow those short of free space (free space comes
    /// from the account's guest agent). Exit status 1 when a growth failed or free space could
    /// not be read; volumes that must wait for their VM are not failures.
    Check(Check),
}

#[derive(Args)]
#[command(group(ArgGroup::new("switch").args(["on", "off"])))]
#[command(group(ArgGroup::new("maximum").args(["max_gb", "no_max"])))]
pub struct Set {
    /// The cloud account (name or id).
    account: String,
    /// Turn autogrow on.
    #[arg(long)]
    on: bool,
    /// Turn autogrow off.
    #[arg(long)]
    off: bool,
    /// Grow when less than this many GB are free (default 5).
    #[arg(long, value_name = "GB")]
    threshold_gb: Option<f64>,
    /// Grow by this many whole GB (default 10).
    #[arg(long, value_name = "GB")]
    increment_gb: Option<u32>,
    /// Never grow a volume past this many whole GB.
    #[arg(long, value_name = "GB")]
    max_gb: Option<u32>,
    /// Remove the maximum size.
    #[arg(long)]
    no_max: bool,
    /// Print the settings as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct Check {
    /// The cloud account (name or id).
    account: String,
    /// The Frame account whose volumes are checked.
    #[arg(long)]
    frame_account: String,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: AutogrowCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    let report = Report {
        catalog: &catalog,
        clock: Arc::new(SystemClock),
        sink: &NoSink,
    };
    match cmd {
        AutogrowCommand::Set(a) => {
            let change = AutogrowChange {
                enabled: if a.on {
                    Some(true)
                } else if a.off {
                    Some(false)
                } else {
                    None
                },
                threshold_gb: a.threshold_gb,
                increment_gb: a.increment_gb,
                max_gb: if a.no_max {
                    Some(None)
                } else {
                    a.max_gb.map(Some)
                },
            };
            let s = autogrow::update(
                &report,
                &Keyring,
                &a.account,
                &change,
                &crate::audit::actor(),
            )?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                print_settings(&a.account, &s);
            }
        }
        AutogrowCommand::Show { account, json } => {
            let c = catalog.lock();
            let (acc, _) = Accounts {
                catalog: &c,
                store: &Keyring,
            }
            .settings(&account)?;
            let s = autogrow::settings(&c, &acc.id)?;
            let pending = autogrow::pending(&c, &acc.id)?;
            if json {
                let pending: Vec<_> = pending
                    .into_iter()
                    .map(|(volume_id, p)| serde_json::json!({"volume_id": volume_id, "pending": p}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"account": acc.name, "settings": s, "pending": pending})
                    )?
                );
            } else {
                print_settings(&acc.name, &s);
                for (_, p) in pending {
                    println!(
                        "waiting: {} to {} since {}: {}",
                        p.volume_name,
                        gb(p.to_bytes),
                        p.since,
                        p.why
                    );
                }
            }
        }
        AutogrowCommand::Check(a) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            // A progress line per growth step.
            let terminal = TerminalProgress::new(LineEvery::Step);
            let cancel = CancelFlag::new();
            let out = rt.block_on(cancel_on_ctrl_c(
                &cancel,
                "cancelling: a growth under way is finished by `standbyctl jobs resume`",
                autogrow::check_account(
                    &report,
                    &Keyring,
                    terminal.sink(),
                    &a.account,
                    &a.frame_account,
                    &crate::audit::actor(),
                    cancel.clone(),
                ),
            ))?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print_outcome(&out);
            }
            if out.failed > 0 {
                bail!("{} volume(s) could not be grown", out.failed);
            }
            if out.cancelled {
                bail!("the check was cancelled");
            }
            if out.settings.enabled && out.guest_source.is_none() {
                bail!(
                    "{}",
                    out.not_checked
                        .as_deref()
                        .unwrap_or("free space could not be read")
                );
            }
        }
    }
    Ok(())
}

fn print_settings(account: &str, s: &AutogrowSettings) {
    println!(
        "autogrow for {account}: {}",
        if s.enabled { "on" } else { "off" }
    );
    println!(
        "  grow by {} GB when less than {} is free; {}",
        s.increment_gb,
        gb(s.threshold_gb * GIB),
        match s.max_gb {
            Some(m) => format!("never past {m} GB"),
            None => "no maximum size".to_string(),
        }
    );
}

fn print_outcome(o: &AutogrowOutcome) {
    if let Some(why) = &o.not_checked {
        println!("{why}");
        return;
    }
    if o.volumes.is_empty() {
        println!(
            "Nothing to grow: every volume the guest agent reports has at least {} free, or is at the maximum size.",
            gb(o.settings.threshold_gb * GIB)
        );
        return;
    }
    for v in &o.volumes {
        let free = v.free_bytes.map(gb).unwrap_or_else(|| "?".into());
        let what = match (&v.decision, &v.action) {
            (_, Action::Grown { .. }) => match &v.decision {
                Decision::Grow {
                    from_bytes,
                    to_bytes,
                } => {
                    format!("grown from {} to {}", gb(*from_bytes), gb(*to_bytes))
                }
                _ => "grown".into(),
            },
            (_, Action::Pending { why }) => format!("waiting: {why}"),
            (_, Action::Failed { error, .. }) => format!("FAILED: {error}"),
            (_, Action::Cancelled { .. }) => "cancelled".into(),
            (Decision::Fine, _) => "fine".into(),
            (Decision::AtMaximum { max_bytes, .. }, _) => {
                format!("short of space but at the maximum ({})", gb(*max_bytes))
            }
            (Decision::Unknown { why }, _) => format!("unknown: {why}"),
            (Decision::Grow { .. }, Action::Nothing) => "not grown".into(),
        };
        println!(
            "{:<28} {:>9} {:>9} free  {what}",
            v.name,
            gb(v.size_bytes),
            free
        );
    }
    println!(
        "{} grown, {} waiting, {} failed",
        o.grown, o.pending, o.failed
    );
}
