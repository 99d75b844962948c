//! `standbyctl retention ...`: what retention would delete, and deleting it.

use std::sync::Arc;

use clap::{Args, Subcommand};
use standby_core::catalog::Catalog;
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::retention::{self, RetentionPreview, RetentionRequest};
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// List exactly what `apply` would delete with these options, and why every other backup is
    /// kept. Changes nothing.
    Preview(Opts),
    /// Save --keep (if given) and delete what `preview` lists: the snapshot at the provider, then
    /// its row. A deletion the provider refuses is kept and tried again next time (exit 1).
    Apply(Opts),
}

#[derive(Args)]
pub struct Opts {
    /// The cloud account (name or id).
    account: String,
    /// Only this volume (its name or provider id).
    #[arg(long)]
    volume: Option<String>,
    /// Backups kept per volume, site and kind: for --volume when given, else for the account.
    #[arg(long, value_name = "N")]
    keep: Option<u32>,
    /// Count manual and safety backups too (left alone otherwise).
    #[arg(long)]
    include_manual: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: RetentionCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?.shared();
    let report = Report {
        catalog: &catalog,
        clock: Arc::new(SystemClock),
        sink: &NoSink,
    };
    let (apply, o) = match cmd {
        RetentionCommand::Preview(o) => (false, o),
        RetentionCommand::Apply(o) => (true, o),
    };
    let req = RetentionRequest {
        account: o.account,
        volume: o.volume,
        keep: o.keep,
        include_manual: o.include_manual,
    };
    if !apply {
        let p =
            retention::preview(&report, &Keyring, &req).map_err(standby_core::ApiError::from)?;
        if o.json {
            println!("{}", serde_json::to_string_pretty(&p)?);
        } else {
            print(&p);
        }
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let actor = crate::audit::actor();
    let out = rt
        .block_on(retention::apply(&report, &Keyring, &req, &actor))
        .map_err(standby_core::ApiError::from)?;
    if o.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print(&out.preview);
        println!("{} deleted.", out.deleted.len());
        for (id, e) in &out.failed {
            println!("not deleted {id}: {e}");
        }
    }
    if !out.failed.is_empty() {
        anyhow::bail!(
            "{} backups could not be deleted; they are kept and retention tries them again next time",
            out.failed.len()
        );
    }
    Ok(())
}

fn print(p: &RetentionPreview) {
    println!(
        "{:<6}  {:<25}  {:<7}  {:<12}  {:<28}  WHY",
        "", "CREATED", "SITE", "KIND", "VOLUME"
    );
    for v in &p.verdicts {
        println!(
            "{:<6}  {:<25}  {:<7}  {:<12}  {:<28}  {}",
            if v.delete { "DELETE" } else { "keep" },
            v.backup.created_at,
            v.backup.site.as_str(),
            v.backup.kind.as_str(),
            v.backup.volume_name,
            v.detail
        );
    }
    let n = p.deleted().count();
    println!(
        "{n} backups to delete ({} snapshots at the provider), {} kept.",
        p.snapshots.len(),
        p.verdicts.len() - n
    );
}
