//! `standbyctl dr ...`: enable disaster recovery for a Frame account, and show what is enabled.

use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use standby_core::accounts::{AccountSettings, Accounts};
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::{
    self, DrEnabled, DrTarget, EnableAhvDr, EnableAzureDr, Report,
};
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::providers::prism::setup::{RemoteSitePlan, SiteEnd, VstoreMapping};
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum DrCommand {
    /// AHV: join two clusters with remote sites (both directions), test the connection, protect
    /// the Frame account's resources, and record the configuration.
    EnableAhv(EnableAhv),
    /// Azure: check the secondary region and its quota, and record the configuration.
    EnableAzure(EnableAzure),
    /// Show the disaster-recovery configuration of every account.
    Show {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct EnableAhv {
    /// The primary AHV cloud account (name or id).
    #[arg(long)]
    primary: String,
    /// The secondary AHV cloud account.
    #[arg(long)]
    secondary: String,
    /// The Frame account whose persistent resources are protected.
    #[arg(long)]
    frame_account: String,
    /// vStore mapping SOURCE=DESTINATION (primary container = secondary container); repeat for
    /// each container that holds the account's resources. Several sources may share a destination.
    #[arg(long = "map", value_name = "SOURCE=DESTINATION", required = true)]
    mappings: Vec<String>,
    /// The primary's address as the secondary reaches it (default: the account's address).
    #[arg(long)]
    primary_address: Option<String>,
    /// The secondary's address as the primary reaches it (default: the account's address).
    #[arg(long)]
    secondary_address: Option<String>,
    /// The port the secondary's remote site uses to reach the primary.
    #[arg(long, default_value_t = 2020)]
    primary_replication_port: u16,
    /// The port the primary's remote site uses to reach the secondary.
    #[arg(long, default_value_t = 2020)]
    secondary_replication_port: u16,
    /// Ports checked for reachability on the primary (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = [2009u16, 2020])]
    primary_check_ports: Vec<u16>,
    /// Ports checked for reachability on the secondary (comma separated).
    #[arg(long, value_delimiter = ',', default_values_t = [2009u16, 2020])]
    secondary_check_ports: Vec<u16>,
    /// Limit replication bandwidth (megabits per second).
    #[arg(long)]
    bandwidth_limit_mbps: Option<u64>,
    /// Send replication data uncompressed.
    #[arg(long)]
    no_compression: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct EnableAzure {
    /// The Azure cloud account (name or id).
    #[arg(long)]
    account: String,
    #[arg(long)]
    frame_account: String,
    /// Another region of the same subscription, e.g. northeurope.
    #[arg(long)]
    secondary_region: String,
    /// Resource group in the secondary region that receives the replicas.
    #[arg(long)]
    secondary_resource_group: String,
    /// Replicas kept per resource (for the quota estimate).
    #[arg(long, default_value_t = 7)]
    replicas_kept: u32,
    #[arg(long)]
    json: bool,
}

fn mapping(s: &str) -> anyhow::Result<VstoreMapping> {
    let Some((source, destination)) = s.split_once('=') else {
        bail!("--map {s:?}: write it as SOURCE=DESTINATION, e.g. --map default-container-77107=storage-container-112133");
    };
    Ok(VstoreMapping {
        source: source.trim().to_string(),
        destination: destination.trim().to_string(),
    })
}

fn ahv_address(catalog: &Catalog, name: &str) -> anyhow::Result<(String, String)> {
    let accounts = Accounts {
        catalog,
        store: &Keyring,
    };
    match accounts.settings(name)? {
        (a, AccountSettings::Ahv(s)) => Ok((a.name, s.address)),
        (a, _) => bail!(
            "{} is an Azure account: choose an AHV cloud account",
            a.name
        ),
    }
}

pub fn run(cmd: DrCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog: SharedCatalog = Catalog::open(&paths.catalog)?.shared();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cmd {
        DrCommand::Show { json } => {
            let configs = catalog.lock().dr_configs()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&configs)?);
                return Ok(());
            }
            if configs.is_empty() {
                println!("Disaster recovery is not enabled for any account: see `standbyctl dr enable-ahv --help` or `enable-azure --help`.");
            }
            for c in configs {
                let to = match &c.target {
                    DrTarget::Ahv {
                        secondary_account_name,
                        protection_domain,
                        ..
                    } => {
                        format!("{secondary_account_name} (protection domain {protection_domain})")
                    }
                    DrTarget::Azure {
                        secondary_region,
                        secondary_resource_group,
                    } => {
                        format!("{secondary_region} ({secondary_resource_group})")
                    }
                };
                println!(
                    "{:<16} on {:<24} -> {}   since {}",
                    c.frame_account, c.account_name, to, c.enabled_at
                );
            }
            Ok(())
        }
        DrCommand::EnableAhv(a) => {
            let mappings = a
                .mappings
                .iter()
                .map(|m| mapping(m))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let ((p_name, p_addr), (s_name, s_addr)) = {
                let c = catalog.lock();
                (ahv_address(&c, &a.primary)?, ahv_address(&c, &a.secondary)?)
            };
            let plan = RemoteSitePlan {
                primary: SiteEnd {
                    site_name: p_name,
                    address: a.primary_address.unwrap_or(p_addr),
                    port: a.primary_replication_port,
                },
                secondary: SiteEnd {
                    site_name: s_name,
                    address: a.secondary_address.unwrap_or(s_addr),
                    port: a.secondary_replication_port,
                },
                mappings,
                reverse_mappings: Vec::new(),
                bandwidth_limit_bytes_per_sec: a.bandwidth_limit_mbps.map(|m| m * 1_000_000 / 8),
                compression: !a.no_compression,
            };
            let req = EnableAhvDr {
                primary: a.primary,
                secondary: a.secondary,
                frame_account: a.frame_account,
                plan,
                primary_ports: Some(a.primary_check_ports),
                secondary_ports: Some(a.secondary_check_ports),
            };
            let report = Report {
                catalog: &catalog,
                clock: Arc::new(SystemClock),
                sink: &NoSink,
            };
            let done = rt
                .block_on(disaster_recovery::enable_ahv(&report, &Keyring, req))
                .context("disaster recovery was not enabled")?;
            print_enabled(&done, a.json)
        }
        DrCommand::EnableAzure(a) => {
            let req = EnableAzureDr {
                account: a.account,
                frame_account: a.frame_account,
                secondary_region: a.secondary_region,
                secondary_resource_group: a.secondary_resource_group,
                replicas_kept: a.replicas_kept,
            };
            let report = Report {
                catalog: &catalog,
                clock: Arc::new(SystemClock),
                sink: &NoSink,
            };
            let done = rt
                .block_on(disaster_recovery::enable_azure(&report, &Keyring, req))
                .context("disaster recovery was not enabled")?;
            print_enabled(&done, a.json)
        }
    }
}

fn print_enabled(done: &DrEnabled, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(done)?);
        return Ok(());
    }
    for c in &done.checks {
        println!(
            "{} {:<28} {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    for w in &done.warnings {
        println!("warning: {w}");
    }
    println!(
        "Disaster recovery enabled for {} on {}: {} resources protected.",
        done.config.frame_account, done.config.account_name, done.protected_resources
    );
    Ok(())
}
