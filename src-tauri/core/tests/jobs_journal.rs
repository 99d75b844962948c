//! The job journal's promises, with the clock passed in and a tiny in-memory provider:
//! finished steps are never repeated, a step cut short by a crash finds what it made, and jobs
//! end succeeded, failed or cancelled with their words kept.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use standby_core::cancel::CancelFlag;
use standby_core::catalog::Catalog;
use standby_core::clock::ManualClock;
use standby_core::jobs::{JobError, JobProgress, JobState, Jobs, ProgressSink};
use standby_core::{ApiError, ErrorCode};

/// Snapshots by name, as a cluster or a region would hold them.
#[derive(Default)]
struct Provider {
    snapshots: Mutex<Vec<String>>,
    creates: AtomicUsize,
}

impl Provider {
    /// Idempotent by name, as every step must be.
    fn find_or_create(&self, name: &str) -> String {
        let mut s = self.snapshots.lock().unwrap();
        if !s.iter().any(|n| n == name) {
            self.creates.fetch_add(1, Ordering::SeqCst);
            s.push(name.to_string());
        }
        name.to_string()
    }
}

#[derive(Default)]
struct Seen(Mutex<Vec<JobProgress>>);
impl ProgressSink for Seen {
    fn progress(&self, p: &JobProgress) {
        self.0.lock().unwrap().push(p.clone());
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        chrono::Utc.with_ymd_and_hms(2026, 11, 22, 2, 0, 0).unwrap(),
    ))
}

#[tokio::test]
async fn a_job_runs_its_steps_once_and_records_its_outcome_and_progress() {
    let catalog = Catalog::in_memory().unwrap().shared();
    let seen = Seen::default();
    let jobs = Jobs {
        catalog: &catalog,
        clock: clock(),
        sink: &seen,
    };
    let provider = Provider::default();
    let job = jobs
        .create("backup", None, serde_json::json!({"volume": "desk-0001"}))
        .unwrap();
    assert_eq!(
        catalog.lock().job(&job.id).unwrap().unwrap().state,
        JobState::Queued
    );

    let outcome = jobs
        .run(&job, CancelFlag::new(), async |ctx| {
            let snap = ctx
                .step("snapshot", || async {
                    Ok(provider.find_or_create(&ctx.name_for("snap")))
                })
                .await?;
            ctx.report(50.0, "replicating", Some((1.0, 2.0)))?;
            let replica = ctx
                .step("replicate", || async { Ok(format!("{snap}-replica")) })
                .await?;
            Ok(serde_json::json!({ "snapshot": snap, "replica": replica }))
        })
        .await
        .unwrap();

    let done = catalog.lock().job(&job.id).unwrap().unwrap();
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.progress, 100.0);
    assert_eq!(done.outcome, Some(outcome.clone()));
    let snap = outcome["snapshot"].as_str().unwrap();
    assert!(
        snap.starts_with("standby-") && snap.ends_with("-snap"),
        "{snap}"
    );
    assert!(
        snap.contains(&job.id.replace('-', "")[..12]),
        "the name carries the job id: {snap}"
    );
    let steps = catalog.lock().job_steps(&job.id).unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.name.as_str(), s.done))
            .collect::<Vec<_>>(),
        [("snapshot", true), ("replicate", true)]
    );
    assert_eq!(seen.0.lock().unwrap().len(), 1);
    assert_eq!(seen.0.lock().unwrap()[0].percent, 50.0);
    assert_eq!(provider.creates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn after_a_crash_done_steps_are_replayed_and_the_interrupted_step_finds_its_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.sqlite3");
    let provider = Provider::default();
    let job_id;
    let first_step_runs = AtomicUsize::new(0);
    {
        // First run: step 1 finishes; step 2 makes its snapshot, then the process dies before
        // the journal records it done (simulated by stopping right there).
        let catalog = Catalog::open(&path).unwrap().shared();
        let jobs = Jobs {
            catalog: &catalog,
            clock: clock(),
            sink: &standby_core::jobs::NoProgress,
        };
        let job = jobs.create("backup", None, serde_json::json!({})).unwrap();
        job_id = job.id.clone();
        let _ = jobs
            .run(&job, CancelFlag::new(), async |ctx| {
                ctx.step("prepare", || async {
                    first_step_runs.fetch_add(1, Ordering::SeqCst);
                    Ok(7u32)
                })
                .await?;
                ctx.step("snapshot", || async {
                    provider.find_or_create(&ctx.name_for("snap"));
                    Err::<String, _>(JobError::Cancelled) // the "kill": no `done` is recorded
                })
                .await?;
                Ok(serde_json::Value::Null)
            })
            .await;
        // A real crash leaves the job running; put it back as the kill would have left it.
        let now = "2026-11-22T02:00:01+00:00";
        catalog
            .lock()
            .update_job(
                &job_id,
                &standby_core::jobs::JobUpdate {
                    state: JobState::Running,
                    progress: 10.0,
                    message: "snapshot",
                    outcome: None,
                    error: None,
                    at: now,
                },
            )
            .unwrap();
    }
    // Next start: the unfinished job is found and run again with the same body.
    let catalog = Catalog::open(&path).unwrap().shared();
    let unfinished = catalog.lock().unfinished_jobs().unwrap();
    assert_eq!(unfinished.len(), 1);
    assert_eq!(unfinished[0].id, job_id);
    let jobs = Jobs {
        catalog: &catalog,
        clock: clock(),
        sink: &standby_core::jobs::NoProgress,
    };
    let out = jobs
        .run(&unfinished[0], CancelFlag::new(), async |ctx| {
            let n: u32 = ctx
                .step("prepare", || async {
                    first_step_runs.fetch_add(1, Ordering::SeqCst);
                    Ok(99u32)
                })
                .await?;
            let snap = ctx
                .step("snapshot", || async {
                    Ok(provider.find_or_create(&ctx.name_for("snap")))
                })
                .await?;
            Ok(serde_json::json!({ "prepared": n, "snapshot": snap }))
        })
        .await
        .unwrap();
    assert_eq!(
        first_step_runs.load(Ordering::SeqCst),
        1,
        "a done step is not run again"
    );
    assert_eq!(out["prepared"], 7, "its recorded output is returned");
    assert_eq!(
        provider.creates.load(Ordering::SeqCst),
        1,
        "exactly one snapshot, not two"
    );
    assert_eq!(
        catalog.lock().job(&job_id).unwrap().unwrap().state,
        JobState::Succeeded
    );
    assert!(catalog.lock().unfinished_jobs().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_or_cancelled_job_says_so_and_stops_there() {
    let catalog = Catalog::in_memory().unwrap().shared();
    let jobs = Jobs {
        catalog: &catalog,
        clock: clock(),
        sink: &standby_core::jobs::NoProgress,
    };
    let later = AtomicUsize::new(0);

    let failing = jobs.create("restore", None, serde_json::json!({})).unwrap();
    let err = jobs
        .run(&failing, CancelFlag::new(), async |ctx| {
            ctx.step("power off", || async {
                Err::<(), _>(JobError::from(ApiError::new(
                    ErrorCode::Unavailable,
                    "the cluster did not answer",
                )))
            })
            .await?;
            ctx.step("restore", || async {
                later.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await?;
            Ok(serde_json::Value::Null)
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("did not answer"));
    let rec = catalog.lock().job(&failing.id).unwrap().unwrap();
    assert_eq!(rec.state, JobState::Failed);
    assert_eq!(rec.error.as_deref(), Some("the cluster did not answer"));

    let cancel = CancelFlag::new();
    let cancelled = jobs.create("backup", None, serde_json::json!({})).unwrap();
    let err = jobs
        .run(&cancelled, cancel.clone(), async |ctx| {
            ctx.step("first", || async {
                cancel.cancel();
                Ok(())
            })
            .await?;
            ctx.step("second", || async {
                later.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await?;
            Ok(serde_json::Value::Null)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Cancelled));
    assert_eq!(
        catalog.lock().job(&cancelled.id).unwrap().unwrap().state,
        JobState::Cancelled
    );
    assert_eq!(
        later.load(Ordering::SeqCst),
        0,
        "nothing ran after the failure or the cancellation"
    );
    assert!(
        catalog.lock().unfinished_jobs().unwrap().is_empty(),
        "ended jobs are not resumed"
    );
}

#[tokio::test]
async fn a_journal_written_by_other_steps_is_not_resumed_blindly() {
    let catalog = Catalog::in_memory().unwrap().shared();
    let jobs = Jobs {
        catalog: &catalog,
        clock: clock(),
        sink: &standby_core::jobs::NoProgress,
    };
    let job = jobs.create("backup", None, serde_json::json!({})).unwrap();
    let _ = jobs
        .run(&job, CancelFlag::new(), async |ctx| {
            ctx.step("snapshot", || async { Ok(1) }).await?;
            Ok(serde_json::Value::Null)
        })
        .await;
    let err = jobs
        .run(&job, CancelFlag::new(), async |ctx| {
            ctx.step("power off", || async { Ok(1) }).await?;
            Ok(serde_json::Value::Null)
        })
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::JournalMismatch { .. }), "{err}");
}
