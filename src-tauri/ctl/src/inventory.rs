//! `standbyctl inventory`: the persistent resources of a Frame account, as discovered.

use std::sync::Arc;

use clap::Args;
use standby_core::accounts::{AccountSettings, Accounts};
use standby_core::catalog::Catalog;
use standby_core::clock::SystemClock;
use standby_core::connect;
use standby_core::inventory::DiscoveredResource;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

#[derive(Args)]
pub struct InventoryArgs {
    /// The cloud account (name or id).
    account: String,
    /// The Frame account whose resources to list.
    #[arg(long)]
    frame_account: String,
    #[arg(long)]
    json: bool,
}

pub fn run(args: InventoryArgs, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?;
    let accounts = Accounts {
        catalog: &catalog,
        store: &Keyring,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let resources: Vec<DiscoveredResource> = match accounts.settings(&args.account)?.1 {
        AccountSettings::Ahv(_) => {
            let a = connect::ahv(&accounts, &args.account)?;
            rt.block_on(a.client.discover_account(&args.frame_account, &[]))?
        }
        AccountSettings::Azure(s) => {
            let a = connect::azure(&accounts, &args.account, Arc::new(SystemClock))?;
            rt.block_on(
                a.client
                    .discover(&args.frame_account, &s.resource_groups, &[]),
            )?
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&resources)?);
        return Ok(());
    }
    if resources.is_empty() {
        println!(
            "No resource of Frame account {:?} found on {}.",
            args.frame_account, args.account
        );
    }
    for r in &resources {
        println!(
            "{:<28} {:<20} {:>8.0} GiB  {:<32} {}",
            r.name,
            format!("{:?}", r.kind),
            r.size_bytes / (1u64 << 30) as f64,
            r.owner.as_deref().unwrap_or("-"),
            r.not_protected_reason.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
