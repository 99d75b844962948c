//! `standbyctl jobs ...`: what ran, and picking up what a previous run left unfinished.

use std::sync::Arc;

use clap::Subcommand;
use standby_core::cancel::CancelFlag;
use standby_core::catalog::Catalog;
use standby_core::clock::SystemClock;
use standby_core::disaster_recovery::Report;
use standby_core::jobs::NoProgress;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// The newest jobs first, with their state and progress.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Run again every job a previous run left unfinished (it stopped, crashed or was killed):
    /// steps already done are not repeated. Exits with status 1 when one of them fails.
    Resume {
        /// A backup of many volumes: how many volumes to work on at once (as `backup all
        /// --workers`).
        #[arg(long, default_value_t = standby_core::limits::DEFAULT_WORKERS)]
        workers: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: JobsCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?.shared();
    match cmd {
        JobsCommand::List { limit, json } => {
            let jobs = catalog.lock().recent_jobs(limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&jobs)?);
                return Ok(());
            }
            if jobs.is_empty() {
                println!("No jobs yet.");
            }
            for j in jobs {
                println!(
                    "{}  {:<8} {:<10} {:>5.1}%  {}{}",
                    j.created_at,
                    j.kind,
                    format!("{:?}", j.state).to_lowercase(),
                    j.progress,
                    j.message,
                    j.error.map(|e| format!(": {e}")).unwrap_or_default()
                );
            }
        }
        JobsCommand::Resume { workers, json } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let report = Report {
                catalog: &catalog,
                clock: Arc::new(SystemClock),
                sink: &NoSink,
            };
            let resumed = rt.block_on(standby_core::resumption::resume_unfinished(
                &report,
                &Keyring,
                &NoProgress,
                &standby_core::limits::Limits::new(
                    standby_core::limits::DEFAULT_COPIES_PER_REGION,
                    standby_core::limits::DEFAULT_PRISM_TASKS_PER_CLUSTER,
                    workers,
                ),
                CancelFlag::new(),
            ))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&resumed)?);
            } else if resumed.is_empty() {
                println!("No unfinished job.");
            }
            if !json {
                for r in &resumed {
                    println!(
                        "{} {:<8} {}  {}",
                        if r.ok { "ok  " } else { "FAIL" },
                        r.kind,
                        r.job_id,
                        r.detail
                    );
                }
            }
            if resumed.iter().any(|r| !r.ok) {
                anyhow::bail!("not every unfinished job could be finished");
            }
        }
    }
    Ok(())
}
