//! The scheduler against the in-process lab: a schedule whose first run falls due triggers one
//! scheduled backup of the whole account, recorded once even when the scheduler restarts; the
//! next day's run applies retention (the older backups' snapshots deleted in Azure and in the
//! catalog); runs missed while no scheduler ran are caught up once.

mod world;

use standby_core::backup::{Backup, BackupKind, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::schedules::RunState;
use standby_core::disaster_recovery::Report;
use standby_core::jobs::NoProgress;
use standby_core::schedule::{parse_date, parse_time, Schedule, SchedulePolicy};
use standby_core::scheduler::{CoreBackups, Event, Scheduler, SchedulerSettings};
use world::{LabSleep, World, FRAME};

fn policy(first: &str, time: &str, keep: u32) -> SchedulePolicy {
    SchedulePolicy {
        frame_account: FRAME.into(),
        enabled: true,
        first_date: parse_date(first).unwrap(),
        first_time: parse_time(time).unwrap(),
        time_zone: "UTC".into(),
        every_days: 1,
        keep,
    }
}

fn ran(events: &[Event]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Ran { due_at, state, .. } => Some((due_at.clone(), state.clone())),
            _ => None,
        })
        .collect()
}

fn backup_all_jobs(w: &World) -> usize {
    w.catalog
        .lock()
        .recent_jobs(1000)
        .unwrap()
        .iter()
        .filter(|j| j.kind == "backup_all")
        .count()
}

/// The Azure snapshot a backup names (the last part of its ARM id).
fn snapshot_name(b: &Backup) -> &str {
    b.provider_ref
        .as_deref()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
}

/// A scheduler with the product's backups and default settings, on this world's lab clock.
fn scheduler<'a>(
    w: &'a World,
    report: &'a Report<'a>,
    backups: &'a CoreBackups,
    sleep: &'a LabSleep,
) -> Scheduler<'a> {
    Scheduler {
        report,
        store: w.store.as_ref(),
        sink: &NoProgress,
        backups,
        sleep,
        settings: SchedulerSettings::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_run_backs_up_once_across_a_restart_and_the_next_applies_retention() {
    let w = World::small(3).await;
    let azure = w.account_id("azure");
    let (report, backups, sleep) = (w.report(), CoreBackups::default(), w.sleeper());
    let scheduler = scheduler(&w, &report, &backups, &sleep);
    // 09:00 in the lab: a daily schedule at 09:30 from today, keeping one.
    let now = w.clock.now();
    let s = Schedule::new(policy("2026-03-02", "09:30", 1), now).unwrap();
    w.catalog
        .lock()
        .set_schedule(&azure, &s, &now.to_rfc3339())
        .unwrap();

    assert!(
        ran(&scheduler.tick(CancelFlag::new()).await).is_empty(),
        "nothing is due at 09:00"
    );
    assert!(w
        .catalog
        .lock()
        .schedule_runs(&azure, 10)
        .unwrap()
        .is_empty());

    w.lab.clock.advance(std::time::Duration::from_secs(31 * 60));
    w.lab.clock.set_scale(500.0); // power transitions take lab seconds
    let events = scheduler.tick(CancelFlag::new()).await;
    w.lab.clock.set_scale(0.0);
    let got = ran(&events);
    assert_eq!(got.len(), 1, "{events:?}");
    assert_eq!(got[0].0, "2026-03-02T09:30:00Z");
    let runs = w.catalog.lock().schedule_runs(&azure, 10).unwrap();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(
        matches!(run.state, RunState::Succeeded | RunState::Partial),
        "{run:?}"
    );
    let job = w
        .catalog
        .lock()
        .job(run.job_id.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(job.kind, "backup_all");
    let day1: Vec<_> = w
        .catalog
        .lock()
        .list_backups(Some(&azure), None)
        .unwrap()
        .into_iter()
        .filter(|b| b.kind == BackupKind::Scheduled && b.state == BackupState::Available)
        .collect();
    assert!(
        day1.len() >= 3,
        "profiles, drives and servers at least: {day1:?}"
    );
    assert!(run.detail.as_ref().unwrap()["backed_up"].as_u64().unwrap() >= 3);
    let audit = w.catalog.lock().audit_entries(50).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "backup_all" && a.actor == "scheduler"));

    // A restart: a new scheduler finds the run recorded and does not run it again.
    let again = Scheduler {
        report: &report,
        store: w.store.as_ref(),
        sink: &NoProgress,
        backups: &backups,
        sleep: &sleep,
        settings: SchedulerSettings::default(),
    };
    let started = again.start(CancelFlag::new()).await;
    assert!(
        !started.iter().any(|e| matches!(e, Event::Settled { .. })),
        "{started:?}"
    );
    assert!(ran(&again.tick(CancelFlag::new()).await).is_empty());
    assert_eq!(backup_all_jobs(&w), 1);
    assert_eq!(w.catalog.lock().schedule_runs(&azure, 10).unwrap().len(), 1);

    // The next day: the run keeps one backup per volume, so yesterday's go, in Azure too.
    let names_before = w.azure_snapshot_names().await;
    for b in &day1 {
        let name = snapshot_name(b);
        assert!(
            names_before.contains(name),
            "{name} exists before retention"
        );
    }
    w.lab.clock.advance(std::time::Duration::from_secs(86_400));
    w.lab.clock.set_scale(500.0);
    let events = again.tick(CancelFlag::new()).await;
    w.lab.clock.set_scale(0.0);
    assert_eq!(ran(&events).len(), 1, "{events:?}");
    let deleted = events
        .iter()
        .find_map(|e| match e {
            Event::RetentionApplied {
                deleted, failed, ..
            } => Some((*deleted, *failed)),
            _ => None,
        })
        .expect("retention ran after the scheduled run");
    assert!(deleted.0 > 0 && deleted.1 == 0, "{events:?}");
    let after = w.catalog.lock().list_backups(Some(&azure), None).unwrap();
    let names_after = w.azure_snapshot_names().await;
    let mut gone = 0;
    for b in &day1 {
        let name = snapshot_name(b);
        let row_kept = after.iter().any(|a| a.id == b.id);
        // A volume backed up again today lost yesterday's backup; one skipped today keeps it
        // (the newest usable backup is never deleted). Catalog and Azure agree either way.
        assert_eq!(
            row_kept,
            names_after.contains(name),
            "{name}: row and snapshot agree"
        );
        let newer = after.iter().any(|a| {
            a.volume_id == b.volume_id
                && a.site == BackupSite::Primary
                && a.kind == BackupKind::Scheduled
                && a.created_at > b.created_at
        });
        assert_eq!(
            row_kept, !newer,
            "{name}: kept exactly when it is still the newest"
        );
        if !row_kept {
            gone += 1;
        }
    }
    assert_eq!(gone, deleted.0);
    // Kept scheduled backups carry their expected expiry (the next run's day).
    let retention = w
        .catalog
        .lock()
        .audit_entries(50)
        .unwrap()
        .into_iter()
        .find(|a| a.action == "retention.apply")
        .expect("retention is audited");
    assert_eq!(retention.actor, "scheduler");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_missed_while_nothing_ran_are_caught_up_once() {
    let w = World::small(2).await;
    let azure = w.account_id("azure");
    let (report, backups, sleep) = (w.report(), CoreBackups::default(), w.sleeper());
    let scheduler = scheduler(&w, &report, &backups, &sleep);
    // Set a week ago, daily at 02:00; the lab is at 2026-03-02 09:00 and nothing ran since.
    let set_at = "2026-02-25T00:00:00Z".parse().unwrap();
    let s = Schedule::new(policy("2026-02-25", "02:00", 3), set_at).unwrap();
    w.catalog
        .lock()
        .set_schedule(&azure, &s, "2026-02-25T00:00:00Z")
        .unwrap();
    w.lab.clock.set_scale(500.0);
    let events = scheduler.tick(CancelFlag::new()).await;
    w.lab.clock.set_scale(0.0);
    assert_eq!(
        ran(&events).into_iter().map(|r| r.0).collect::<Vec<_>>(),
        ["2026-03-02T02:00:00Z"],
        "only the latest is run: {events:?}"
    );
    let missed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Missed { due_at, .. } => Some(due_at.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        missed,
        [
            "2026-02-25T02:00:00Z",
            "2026-02-26T02:00:00Z",
            "2026-02-27T02:00:00Z",
            "2026-02-28T02:00:00Z",
            "2026-03-01T02:00:00Z",
        ]
    );
    let runs = w.catalog.lock().schedule_runs(&azure, 20).unwrap();
    assert_eq!(runs.len(), 6);
    assert_eq!(
        runs.iter().filter(|r| r.state == RunState::Missed).count(),
        5
    );
    assert_eq!(backup_all_jobs(&w), 1);
    // Looking again changes nothing: caught up once, not once per missed day.
    let events = scheduler.tick(CancelFlag::new()).await;
    assert!(ran(&events).is_empty() && !events.iter().any(|e| matches!(e, Event::Missed { .. })));
    assert_eq!(backup_all_jobs(&w), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_claimed_by_a_scheduler_that_stopped_before_its_job_is_run_at_the_next_start() {
    let w = World::small(2).await;
    let azure = w.account_id("azure");
    let (report, backups, sleep) = (w.report(), CoreBackups::default(), w.sleeper());
    // Set yesterday, daily at 02:00; the lab is at 09:00, so today's run is due.
    let set_at = "2026-03-01T00:00:00Z".parse().unwrap();
    let s = Schedule::new(policy("2026-03-02", "02:00", 3), set_at).unwrap();
    w.catalog
        .lock()
        .set_schedule(&azure, &s, "2026-03-01T00:00:00Z")
        .unwrap();
    // The previous scheduler claimed it and died before the backup's job was created.
    assert!(w
        .catalog
        .lock()
        .claim_schedule_run(
            &azure,
            "2026-03-02T02:00:00Z",
            RunState::Running,
            None,
            "2026-03-02T02:00:01Z"
        )
        .unwrap());

    let scheduler = scheduler(&w, &report, &backups, &sleep);
    let started = scheduler.start(CancelFlag::new()).await;
    assert!(
        started.iter().any(
            |e| matches!(e, Event::Released { due_at, .. } if due_at == "2026-03-02T02:00:00Z")
        ),
        "{started:?}"
    );
    assert!(
        !started.iter().any(|e| matches!(e, Event::Settled { .. })),
        "the run is not recorded as failed: {started:?}"
    );
    w.lab.clock.set_scale(500.0);
    let events = scheduler.tick(CancelFlag::new()).await;
    w.lab.clock.set_scale(0.0);
    assert_eq!(
        ran(&events).into_iter().map(|r| r.0).collect::<Vec<_>>(),
        ["2026-03-02T02:00:00Z"],
        "{events:?}"
    );
    assert_eq!(backup_all_jobs(&w), 1, "run once");
    let runs = w.catalog.lock().schedule_runs(&azure, 10).unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0].job_id.is_some(), "{runs:?}");
}
