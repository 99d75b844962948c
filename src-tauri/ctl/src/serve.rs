//! `standbyctl serve`: the scheduler without a window, for a server (see docs/schedules.md for a
//! systemd unit). Holds the data folder's scheduler lock for its whole life, finishes the jobs a
//! previous run left unfinished, then runs schedules, post-session backups, retention and
//! autogrow until SIGTERM or Ctrl-C.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use standby_core::cancel::CancelFlag;
use standby_core::catalog::Catalog;
use standby_core::clock::{Clock, SystemClock};
use standby_core::disaster_recovery::Report;
use standby_core::jobs::NoProgress;
use standby_core::notifications::NoSink;
use standby_core::paths::DataPaths;
use standby_core::scheduler::{CoreBackups, Event, Scheduler, SchedulerSettings, TokioSleep};
use standby_core::scheduler_lock::{self, LockError};
use standby_core::secrets::Keyring;

/// The exit status when another scheduler holds the lock (without --wait).
pub const EXIT_LOCKED: u8 = 3;

#[derive(Args)]
pub struct ServeArgs {
    /// When another scheduler (the app, or another `serve`) holds this data folder, wait for it
    /// to stop instead of exiting with status 3.
    #[arg(long)]
    wait: bool,
    /// Seconds between two looks at the schedules.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    tick_secs: u32,
    /// Seconds between two readings of the guest agents (post-session backups).
    #[arg(long, default_value_t = 60, value_name = "SECS")]
    sessions_every_secs: u32,
    /// Minutes between two autogrow checks of each account with autogrow on.
    #[arg(long, default_value_t = 15, value_name = "MINS")]
    autogrow_every_mins: u32,
}

/// Resolves at SIGTERM or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn run(args: ServeArgs, paths: &DataPaths) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let cancel = CancelFlag::new();
    rt.block_on(async {
        let stop = cancel.clone();
        let signal = tokio::spawn(async move {
            stop_signal().await;
            eprintln!("standbyctl serve: stopping (a running backup is left to be resumed at the next start)");
            tracing::info!("stop requested");
            stop.cancel();
        });
        let mut told = false;
        let lock = loop {
            match scheduler_lock::try_acquire(&paths.data_dir, "standbyctl serve", &clock.now().to_rfc3339()) {
                Ok(l) => break Some(l),
                Err(e @ LockError::Held { .. }) if args.wait => {
                    if !told {
                        eprintln!("standbyctl serve: {e}; waiting for it to stop");
                        tracing::info!("{e}; waiting");
                        told = true;
                    }
                    if !cancel.sleep(Duration::from_secs(5)).await {
                        break None;
                    }
                }
                Err(e @ LockError::Held { .. }) => {
                    eprintln!("standbyctl serve: {e}");
                    tracing::warn!("{e}");
                    std::process::exit(i32::from(EXIT_LOCKED));
                }
                Err(e) => return Err(anyhow::Error::from(standby_core::ApiError::from(e))),
            }
        };
        let Some(lock) = lock else {
            signal.abort();
            return Ok(());
        };
        eprintln!(
            "standbyctl serve: scheduler running on {} (lock {}); SIGTERM or Ctrl-C stops it",
            paths.data_dir.display(),
            lock.path().display()
        );
        tracing::info!(data_dir = %paths.data_dir.display(), "scheduler started");
        let catalog = Catalog::open(&paths.catalog)?.shared();
        let report = Report {
            catalog: &catalog,
            clock: clock.clone(),
            sink: &NoSink,
        };
        let backups = CoreBackups::default();
        let scheduler = Scheduler {
            report: &report,
            store: &Keyring,
            sink: &NoProgress,
            backups: &backups,
            sleep: &TokioSleep,
            settings: SchedulerSettings {
                tick_secs: args.tick_secs.max(1),
                sessions_every_secs: args.sessions_every_secs.max(1),
                autogrow_every_mins: args.autogrow_every_mins.max(1),
            },
        };
        let print = |e: &Event| {
            let line = serde_json::to_string(e).unwrap_or_else(|_| format!("{e:?}"));
            eprintln!("{} {line}", chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        };
        scheduler.run(cancel.clone(), &print).await;
        signal.abort();
        drop(lock);
        eprintln!("standbyctl serve: stopped");
        Ok(())
    })
}
