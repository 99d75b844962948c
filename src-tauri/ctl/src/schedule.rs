//! `standbyctl schedule ...`: an account's backup schedule (set, show).

use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;
use standby_core::catalog::Catalog;
use standby_core::clock::{Clock, SystemClock};
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::schedule::{parse_date, parse_time, parse_tz, SchedulePolicy};
use standby_core::scheduler;
use standby_core::secrets::Keyring;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// Set an account's backup schedule. A change to a schedule in force takes effect the next
    /// day (in the schedule's time zone); the first schedule, and --off, take effect at once.
    /// Options left out keep their current value.
    Set {
        /// The cloud account (name or id).
        account: String,
        /// The Frame account whose volumes are backed up.
        #[arg(long)]
        frame_account: Option<String>,
        /// Local time of every backup, HH:MM (e.g. 02:00).
        #[arg(long, value_name = "HH:MM")]
        first: Option<String>,
        /// Date of the first backup, YYYY-MM-DD (default: today in the time zone).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// IANA time zone, e.g. Europe/Amsterdam, America/New_York, UTC.
        #[arg(long)]
        time_zone: Option<String>,
        /// Days between two backups (1 = daily).
        #[arg(long, value_name = "N")]
        every_days: Option<u32>,
        /// Scheduled backups kept per volume and site; older ones are deleted after each run.
        #[arg(long, value_name = "N")]
        keep: Option<u32>,
        /// Switch the schedule off (at once).
        #[arg(long, conflicts_with = "on")]
        off: bool,
        /// Switch a schedule that was off on again.
        #[arg(long)]
        on: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show an account's schedule, the change waiting for the next day, the next runs and the
    /// latest ones.
    Show {
        account: String,
        /// How many next runs to list.
        #[arg(long, default_value_t = 5)]
        next: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: ScheduleCommand, paths: &DataPaths) -> anyhow::Result<()> {
    let catalog = Catalog::open(&paths.catalog)?.shared();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let report = Report {
        catalog: &catalog,
        clock: clock.clone(),
        sink: &NoSink,
    };
    match cmd {
        ScheduleCommand::Set {
            account,
            frame_account,
            first,
            from,
            time_zone,
            every_days,
            keep,
            off,
            on,
            json,
        } => {
            let current = scheduler::show_schedule(&report, &Keyring, &account, 0)
                .ok()
                .map(|v| {
                    v.schedule
                        .pending
                        .map(|p| p.policy)
                        .unwrap_or(v.schedule.in_force)
                });
            let need = |what: &str| {
                anyhow::anyhow!("{account} has no schedule yet: give --{what} (see --help)")
            };
            let time_zone = match time_zone {
                Some(t) => t,
                None => current
                    .as_ref()
                    .map(|c| c.time_zone.clone())
                    .ok_or_else(|| need("time-zone"))?,
            };
            let tz = parse_tz(&time_zone)?;
            let policy = SchedulePolicy {
                frame_account: match frame_account {
                    Some(f) => f,
                    None => current
                        .as_ref()
                        .map(|c| c.frame_account.clone())
                        .ok_or_else(|| need("frame-account"))?,
                },
                enabled: if off {
                    false
                } else {
                    on || current.as_ref().is_none_or(|c| c.enabled)
                },
                first_date: match from {
                    Some(d) => parse_date(&d)?,
                    None => match &current {
                        Some(c) => c.first_date,
                        None => clock.now().with_timezone(&tz).date_naive(),
                    },
                },
                first_time: match first {
                    Some(t) => parse_time(&t)?,
                    None => current
                        .as_ref()
                        .map(|c| c.first_time)
                        .ok_or_else(|| need("first"))?,
                },
                time_zone,
                every_days: match every_days {
                    Some(n) => n,
                    None => current.as_ref().map(|c| c.every_days).unwrap_or(1),
                },
                keep: match keep {
                    Some(n) => n,
                    None => current
                        .as_ref()
                        .map(|c| c.keep)
                        .ok_or_else(|| need("keep"))?,
                },
            };
            let actor = crate::audit::actor();
            scheduler::set_schedule(&report, &Keyring, &account, policy, &actor)
                .map_err(standby_core::ApiError::from)
                .context("the schedule was not saved")?;
            show(&report, &account, 5, json)
        }
        ScheduleCommand::Show {
            account,
            next,
            json,
        } => show(&report, &account, next, json),
    }
}

fn show(report: &Report<'_>, account: &str, next: usize, json: bool) -> anyhow::Result<()> {
    let v = scheduler::show_schedule(report, &Keyring, account, next)
        .map_err(standby_core::ApiError::from)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let describe = |p: &SchedulePolicy| {
        format!(
            "{} at {} ({}), every {} day{} from {}, keeping {}, Frame account {}",
            if p.enabled { "on" } else { "OFF" },
            p.first_time.format("%H:%M"),
            p.time_zone,
            p.every_days,
            if p.every_days == 1 { "" } else { "s" },
            p.first_date,
            p.keep,
            p.frame_account
        )
    };
    println!("{}: {}", v.account_name, describe(&v.schedule.in_force));
    if let Some(p) = &v.schedule.pending {
        println!(
            "  changes on {} to: {}",
            p.effective_date,
            describe(&p.policy)
        );
    }
    if v.next.is_empty() {
        println!("  no run ahead");
    } else {
        println!("  next runs:");
        for (utc, local) in v.next.iter().zip(&v.next_local) {
            println!("    {local}  ({utc})");
        }
    }
    if !v.runs.is_empty() {
        println!("  latest runs:");
        for r in &v.runs {
            println!(
                "    {}  {:<9}  {}{}",
                r.due_at,
                r.state.as_str(),
                r.job_id
                    .as_deref()
                    .map(|j| format!("job {j}"))
                    .unwrap_or_default(),
                r.detail
                    .as_ref()
                    .and_then(|d| d["message"].as_str())
                    .map(|m| format!("  {m}"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}
