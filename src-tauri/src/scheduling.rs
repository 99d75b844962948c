//! The scheduler inside the app: while Standby runs (window open or in the tray) it runs the
//! schedules, post-session backups, retention and autogrow, as `standbyctl serve` does headless.
//!
//! It first takes the data folder's scheduler lock. When `standbyctl serve` holds it, the app
//! leaves the schedules and unfinished jobs to it, says so in the log, and tries again every
//! minute (it takes over when serve stops). The engine's futures are not `Send`, so the scheduler
//! runs on a thread of its own, driving Tauri's runtime with `block_on`.

use std::sync::Arc;
use std::time::Duration;

use standby_core::cancel::CancelFlag;
use standby_core::clock::{Clock, SystemClock};
use standby_core::disaster_recovery::Report;
use standby_core::jobs::NoProgress;
use standby_core::scheduler::{CoreBackups, Scheduler, SchedulerSettings, Sleep, TokioSleep};
use standby_core::scheduler_lock::{self, LockError};
use standby_core::secrets::Keyring;
use tauri::Manager;

pub fn start(app: tauri::AppHandle) {
    let (catalog, data_dir, limits) = {
        let state = app.state::<crate::state::AppState>();
        (
            state.catalog.clone(),
            state.paths.data_dir.clone(),
            state.limits.clone(),
        )
    };
    let spawned = std::thread::Builder::new()
        .name("scheduler".into())
        .spawn(move || {
            // Tauri's runtime, driven from this thread: the future need not be `Send`.
            tauri::async_runtime::block_on(async move {
                let clock: Arc<dyn Clock> = Arc::new(SystemClock);
                let mut told = false;
                let lock = loop {
                    let since = clock.now().to_rfc3339();
                    match scheduler_lock::try_acquire(&data_dir, "the Standby app", &since) {
                        Ok(l) => break l,
                        Err(e @ LockError::Held { .. }) => {
                            if !told {
                                tracing::warn!("schedules are left to the other scheduler: {e}");
                                told = true;
                            }
                            TokioSleep.sleep(Duration::from_secs(60)).await;
                        }
                        Err(e) => {
                            tracing::error!("the scheduler could not start: {e}");
                            return;
                        }
                    }
                };
                tracing::info!(lock = %lock.path().display(), "scheduler started");
                let sink = crate::commands::WindowSink(app.clone());
                let report = Report {
                    catalog: &catalog,
                    clock,
                    sink: &sink,
                };
                let backups = CoreBackups { limits };
                let scheduler = Scheduler {
                    report: &report,
                    store: &Keyring,
                    sink: &NoProgress,
                    backups: &backups,
                    sleep: &TokioSleep,
                    settings: SchedulerSettings::default(),
                };
                // Runs for the app's life; quitting ends the process (a backup it interrupts
                // is resumed at the next start).
                scheduler.run(CancelFlag::new(), &|_| {}).await;
                drop(lock);
            });
        });
    if let Err(e) = spawned {
        tracing::error!("the scheduler thread could not start: {e}");
    }
}
