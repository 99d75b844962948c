//! `standbyctl audit`: who asked Standby for what, newest first.

use clap::Args;
use standby_core::catalog::Catalog;
use standby_core::paths::DataPaths;

#[derive(Args)]
pub struct AuditArgs {
    /// How many entries, newest first.
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(a: AuditArgs, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?;
    let entries = catalog.audit_entries(a.limit)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("The audit log is empty: nothing has been asked of Standby yet.");
        return Ok(());
    }
    // Account names are looked up now; an entry about a removed account keeps its id.
    let accounts = catalog.list_accounts()?;
    for e in entries {
        let account = e.account_id.as_deref().map(|id| {
            accounts
                .iter()
                .find(|a| a.id == id)
                .map(|a| a.name.clone())
                .unwrap_or_else(|| id.to_string())
        });
        println!(
            "{}  {:<22} {:<16} {:<20} {}{}",
            e.at,
            e.actor,
            e.action,
            account.unwrap_or_else(|| "-".into()),
            e.detail,
            e.job_id.map(|j| format!("  job {j}")).unwrap_or_default()
        );
    }
    Ok(())
}

/// Who asks, for the audit log: `standbyctl:<OS user>` where the OS says.
pub fn actor() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("USERNAME")) {
        Ok(u) if !u.is_empty() => format!("standbyctl:{u}"),
        _ => "standbyctl".to_string(),
    }
}
