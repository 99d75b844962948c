//! `standbyctl inventory ...`: the persistent resources of a Frame account as discovered, and the
//! administrator's corrections to that discovery.

use std::sync::Arc;

use anyhow::bail;
use clap::Subcommand;
use standby_core::accounts::Accounts;
use standby_core::catalog::Catalog;
use standby_core::clock::SystemClock;
use standby_core::inventory::{self, MappingOverride};
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum InventoryCommand {
    /// List the Frame account's resources on a cloud account (corrections applied).
    List {
        /// The cloud account (name or id).
        account: String,
        #[arg(long)]
        frame_account: String,
        #[arg(long)]
        json: bool,
    },
    /// Correct what discovery found for one VM, volume group or disk (by its provider id, as
    /// `list --json` shows it): its kind, its owner, or leave it out.
    Correct {
        account: String,
        /// VM or volume group uuid (AHV), disk or VM resource id (Azure).
        provider_id: String,
        /// sandbox, utility-server, persistent-desktop, enterprise-profile, personal-drive, template-image
        #[arg(long)]
        kind: Option<String>,
        /// The user's e-mail.
        #[arg(long)]
        owner: Option<String>,
        /// Leave it out of the account (never backed up).
        #[arg(long)]
        exclude: bool,
    },
    /// Remove a correction.
    Clear {
        account: String,
        provider_id: String,
    },
    /// List the corrections of a cloud account.
    Corrections {
        account: String,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: InventoryCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?.shared();
    match cmd {
        InventoryCommand::List {
            account,
            frame_account,
            json,
        } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let resources = rt.block_on(inventory::discover(
                &catalog,
                &Keyring,
                &account,
                &frame_account,
                Arc::new(SystemClock),
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&resources)?);
                return Ok(());
            }
            if resources.is_empty() {
                println!("No resource of Frame account {frame_account:?} found on {account}.");
            }
            for r in &resources {
                println!(
                    "{:<28} {:<20} {:>6.0} GiB  {:<32} {}",
                    r.name,
                    format!("{:?}", r.kind),
                    r.size_bytes / (1u64 << 30) as f64,
                    r.owner.as_deref().unwrap_or("-"),
                    r.not_protected_reason.as_deref().unwrap_or("")
                );
            }
        }
        InventoryCommand::Correct {
            account,
            provider_id,
            kind,
            owner,
            exclude,
        } => {
            let o = MappingOverride::from_request(provider_id, kind.as_deref(), owner, exclude)?;
            let c = catalog.lock();
            let (a, _) = Accounts {
                catalog: &c,
                store: &Keyring,
            }
            .settings(&account)?;
            c.set_mapping_override(&a.id, &o, chrono::Utc::now())?;
            println!("corrected {} on {}", o.provider_id, a.name);
        }
        InventoryCommand::Clear {
            account,
            provider_id,
        } => {
            let c = catalog.lock();
            let (a, _) = Accounts {
                catalog: &c,
                store: &Keyring,
            }
            .settings(&account)?;
            if !c.remove_mapping_override(&a.id, &provider_id)? {
                bail!("{} has no correction for {provider_id}", a.name);
            }
            println!("cleared the correction of {provider_id} on {}", a.name);
        }
        InventoryCommand::Corrections { account, json } => {
            let c = catalog.lock();
            let (a, _) = Accounts {
                catalog: &c,
                store: &Keyring,
            }
            .settings(&account)?;
            let list = c.mapping_overrides(&a.id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("{} has no corrections.", a.name);
            }
            if !json {
                for o in list {
                    println!(
                        "{:<40} kind={:<20} owner={:<28} {}",
                        o.provider_id,
                        o.kind
                            .map(|k| format!("{k:?}"))
                            .unwrap_or_else(|| "-".into()),
                        o.owner.as_deref().unwrap_or("-"),
                        if o.exclude { "excluded" } else { "" }
                    );
                }
            }
        }
    }
    Ok(())
}
