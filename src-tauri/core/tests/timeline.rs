//! The backup timeline against the in-process lab: real backups land in the primary and replica
//! lanes (a replica still copying shows its percent), scheduled runs to come follow the
//! schedule's wall clock across a daylight-saving change, a scheduled run's skipped volume shows
//! with its reason, gaps longer than the target RPO are reported (and shorter ones are not), and
//! an account with 100,000 backups is read by window only.

mod world;

use std::time::Duration;

use chrono::{DateTime, Utc};
use standby_core::backup::{BackupKind, BackupRequest, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::schedules::RunState;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::{JobProgress, NoProgress};
use standby_core::schedule::{parse_date, parse_time, Schedule, SchedulePolicy};
use standby_core::scheduler::{CoreBackups, Scheduler, SchedulerSettings};
use standby_core::timeline::{self, RpoSource, Timeline, TimelineQuery};
use world::{Options, Providers, Seen, World, FRAME};

fn query(
    account: &str,
    volume: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> TimelineQuery {
    TimelineQuery {
        account_id: account.into(),
        frame_account: None,
        volume: volume.map(str::to_string),
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        max_points: None,
        columns: None,
        backups_only: None,
    }
}

fn timeline_of(w: &World, q: &TimelineQuery) -> Timeline {
    timeline::timeline(&w.catalog.lock(), w.clock.now(), q).unwrap()
}

fn hours(h: i64) -> chrono::Duration {
    chrono::Duration::hours(h)
}

async fn azure_world(dr: bool, guest_agents: bool) -> World {
    let w = World::with(Options {
        providers: Providers::Azure,
        guest_agents,
        ..Options::default()
    })
    .await;
    if dr {
        w.enable_azure_dr().await;
    }
    w
}

fn request(volume: &str, name: &str) -> BackupRequest {
    BackupRequest {
        account: "azure".into(),
        frame_account: FRAME.into(),
        volume: volume.into(),
        name: name.into(),
        kind: BackupKind::Manual,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn real_backups_land_in_their_lanes_and_a_copying_replica_shows_its_percent() {
    let w = azure_world(true, false).await;
    let desk = w
        .resources("azure")
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .unwrap();
    let start = w.clock.now();

    w.speed_up(500.0);
    let done = w
        .backup_now(request(&desk.name, "complete"), &Seen::new())
        .await
        .unwrap();
    // The second backup's copy is stopped part-way: the job is cancelled while Azure reports
    // the copy between 0 and 100 percent (25 + 0.75 x copy in the job's own percentage).
    w.speed_up(20.0);
    let cancel = CancelFlag::new();
    let stop = cancel.clone();
    let sink = Seen::with(Box::new(move |p: &JobProgress| {
        if p.step.starts_with("replicating") && p.percent > 25.5 && p.percent < 99.0 {
            stop.cancel();
        }
    }));
    let _ = standby_core::backup::backup_now(
        &w.report(),
        w.store.as_ref(),
        &sink,
        request(&desk.name, "copying"),
        cancel,
    )
    .await;
    w.speed_up(0.0);
    let azure = w.account_id("azure");
    let rows = w.catalog.lock().list_backups(Some(&azure), None).unwrap();
    let copying = rows
        .iter()
        .find(|b| b.name == "copying" && b.site == BackupSite::Replica)
        .expect("the second backup's replica row");
    assert_eq!(copying.state, BackupState::Replicating, "{copying:?}");
    assert!(
        copying.percent > 0.0 && copying.percent < 100.0,
        "{copying:?}"
    );

    let end = w.clock.now() + hours(1);
    let t = timeline_of(
        &w,
        &query("azure", Some(&desk.provider_id), start - hours(1), end),
    );
    assert_eq!(t.primary.len(), 2, "{:#?}", t.primary);
    assert_eq!(t.replicas.len(), 2, "{:#?}", t.replicas);
    assert!(t.primary.iter().all(|p| p.site == BackupSite::Primary
        && p.volume_id == desk.provider_id
        && p.state == BackupState::Available));
    assert!(
        t.primary[0].created_at <= t.primary[1].created_at,
        "oldest first"
    );
    // Each point carries the id the restore commands take.
    for p in t.primary.iter().chain(&t.replicas) {
        assert!(rows.iter().any(|b| b.id == p.backup_id && b.name == p.name));
    }
    let complete = t.replicas.iter().find(|p| p.name == "complete").unwrap();
    assert_eq!(complete.state, BackupState::Available);
    assert_eq!(complete.percent, 100.0);
    let primary_of_complete = done.iter().find(|b| b.site == BackupSite::Primary).unwrap();
    assert_eq!(
        complete.replica_of.as_deref(),
        Some(primary_of_complete.id.as_str())
    );
    let in_progress = t.replicas.iter().find(|p| p.name == "copying").unwrap();
    assert_eq!(in_progress.state, BackupState::Replicating);
    assert_eq!(in_progress.percent, copying.percent);
    assert_eq!(t.points_left_out, 0);

    // The account view, capped: the newest point is kept and the others are counted.
    let mut capped = query("azure", None, start - hours(1), end);
    capped.max_points = Some(1);
    let t = timeline_of(&w, &capped);
    assert_eq!(t.primary.len() + t.replicas.len(), 1);
    assert_eq!(t.points_left_out, 3);
    // A window before the backups has none of them.
    let t = timeline_of(
        &w,
        &query("azure", None, start - hours(48), start - hours(24)),
    );
    assert!(t.primary.is_empty() && t.replicas.is_empty());
    // A window that ends before it starts is refused with what to do.
    let e = timeline::timeline(
        &w.catalog.lock(),
        w.clock.now(),
        &query("azure", None, end, start),
    )
    .unwrap_err();
    assert!(e.to_string().contains("swap"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gaps_longer_than_the_target_rpo_are_reported_and_shorter_ones_are_not() {
    let w = azure_world(false, false).await;
    let azure = w.account_id("azure");
    let desk = w
        .resources("azure")
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .unwrap();
    // No schedule, nothing set: a day.
    let rpo = timeline::target_rpo(&w.catalog.lock(), &azure, w.clock.now()).unwrap();
    assert_eq!((rpo.hours, rpo.source), (24, RpoSource::Default));
    let set =
        timeline::set_target_rpo(&w.catalog.lock(), w.clock.as_ref(), "azure", 12, "test").unwrap();
    assert_eq!((set.hours, set.source), (12, RpoSource::Set));
    let audit = w.catalog.lock().audit_entries(5).unwrap();
    assert_eq!(
        (audit[0].action.as_str(), audit[0].actor.as_str()),
        ("rpo.set", "test")
    );
    assert_eq!(audit[0].detail["hours"], 12);
    let e = timeline::set_target_rpo(&w.catalog.lock(), w.clock.as_ref(), "azure", 0, "test")
        .unwrap_err();
    assert!(e.to_string().contains("between 1 and"), "{e}");

    let start = w.clock.now();
    let backup = |name: &'static str| {
        let w = &w;
        let desk = desk.name.clone();
        async move {
            w.speed_up(500.0);
            w.backup_now(request(&desk, name), &NoProgress)
                .await
                .unwrap();
            w.speed_up(0.0);
        }
    };
    backup("first").await;
    w.lab.clock.advance(Duration::from_secs(2 * 3600));
    backup("two hours later").await;
    w.lab.clock.advance(Duration::from_secs(30 * 3600));
    backup("thirty hours later").await;
    w.lab.clock.advance(Duration::from_secs(3 * 3600));

    let window = |w: &World| query("azure", Some(&desk.provider_id), start, w.clock.now());
    let t = timeline_of(&w, &window(&w));
    assert_eq!(t.primary.len(), 3);
    assert_eq!(t.gaps.len(), 1, "only the 30-hour interval: {:#?}", t.gaps);
    let g = &t.gaps[0];
    assert!(g.hours > 30.0 && g.hours < 31.0, "{g:?}");
    assert!(!g.open);
    assert_eq!(g.from, t.primary[1].created_at);
    assert_eq!(g.to, t.primary[2].created_at);

    // Thirteen hours after the last backup the volume is behind now: an open gap.
    w.lab.clock.advance(Duration::from_secs(10 * 3600));
    let t = timeline_of(&w, &window(&w));
    assert_eq!(t.gaps.len(), 2, "{:#?}", t.gaps);
    let open = &t.gaps[1];
    assert!(
        open.open && open.hours > 12.9 && open.hours < 13.5,
        "{open:?}"
    );
    assert_eq!(open.to, t.now);
    // A window of the quiet hours only still knows the backups around it.
    let quiet = query(
        "azure",
        Some(&desk.provider_id),
        DateTime::parse_from_rfc3339(&t.primary[1].created_at)
            .unwrap()
            .with_timezone(&Utc)
            + hours(5),
        DateTime::parse_from_rfc3339(&t.primary[2].created_at)
            .unwrap()
            .with_timezone(&Utc)
            - hours(5),
    );
    let q = timeline_of(&w, &quiet);
    assert!(q.primary.is_empty());
    assert_eq!(q.gaps.len(), 1, "{:#?}", q.gaps);
    assert!(!q.gaps[0].open && q.gaps[0].hours > 30.0);
    // The account view reports the same gaps, longest first.
    let a = timeline_of(&w, &query("azure", None, start, w.clock.now()));
    assert!(a.gaps.len() >= 2);
    assert!(a.gaps.windows(2).all(|p| p[0].hours >= p[1].hours));
    // With a 48-hour RPO nothing is a gap.
    timeline::set_target_rpo(&w.catalog.lock(), w.clock.as_ref(), &azure, 48, "test").unwrap();
    assert!(timeline_of(&w, &window(&w)).gaps.is_empty());
}

fn paris_daily(first: &str, at: &str) -> SchedulePolicy {
    SchedulePolicy {
        frame_account: FRAME.into(),
        enabled: true,
        first_date: parse_date(first).unwrap(),
        first_time: parse_time(at).unwrap(),
        time_zone: "Europe/Paris".into(),
        every_days: 1,
        keep: 7,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upcoming_runs_follow_the_paris_wall_clock_across_the_spring_change() {
    let w = azure_world(false, false).await;
    let azure = w.account_id("azure");
    // The lab's clock is 2026-03-02 09:00 UTC; Paris moves to summer time on 2026-03-29.
    let now = w.clock.now();
    let s = Schedule::new(paris_daily("2026-03-27", "02:30"), now).unwrap();
    w.catalog
        .lock()
        .set_schedule(&azure, &s, &now.to_rfc3339())
        .unwrap();
    let utc = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let t = timeline_of(
        &w,
        &query(
            "azure",
            None,
            utc("2026-03-26T00:00:00Z"),
            utc("2026-03-31T00:00:00Z"),
        ),
    );
    let at: Vec<_> = t.upcoming.iter().map(|u| u.at.as_str()).collect();
    assert_eq!(
        at,
        [
            "2026-03-27T01:30:00Z", // 02:30 CET
            "2026-03-28T01:30:00Z",
            "2026-03-29T01:00:00Z", // 02:30 does not exist: at the jump, 03:00 CEST
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
    assert_eq!(t.upcoming[2].at_local, "2026-03-29 03:00 CEST");
    assert_eq!(t.upcoming[3].at_local, "2026-03-30 02:30 CEST");
    // The interval sets the default RPO.
    assert_eq!(
        (t.target_rpo.hours, t.target_rpo.source),
        (24, RpoSource::Schedule)
    );
    // Runs to come are never in the past: a window ending now has none.
    let t = timeline_of(&w, &query("azure", None, now - hours(48), now));
    assert!(t.upcoming.is_empty());
    // Another Frame account's view has none of this schedule's runs.
    let mut other = query(
        "azure",
        None,
        utc("2026-03-26T00:00:00Z"),
        utc("2026-03-31T00:00:00Z"),
    );
    other.frame_account = Some("someone-else".into());
    assert!(timeline_of(&w, &other).upcoming.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_run_shows_the_volume_it_skipped_and_why() {
    let w = azure_world(false, true).await;
    let azure = w.account_id("azure");
    let desk = w.assigned_desktop("azure", 0).await;
    w.azure_session(desk.owner.as_deref().unwrap(), true).await;
    let now = w.clock.now();
    let mut policy = paris_daily("2026-03-02", "10:30");
    policy.time_zone = "UTC".into();
    let s = Schedule::new(policy, now).unwrap();
    w.catalog
        .lock()
        .set_schedule(&azure, &s, &now.to_rfc3339())
        .unwrap();
    let (report, backups, sleep) = (w.report(), CoreBackups::default(), w.sleeper());
    let scheduler = Scheduler {
        report: &report,
        store: w.store.as_ref(),
        sink: &NoProgress,
        backups: &backups,
        sleep: &sleep,
        settings: SchedulerSettings::default(),
    };
    w.lab.clock.advance(Duration::from_secs(91 * 60));
    w.speed_up(500.0);
    scheduler.tick(CancelFlag::new()).await;
    w.speed_up(0.0);

    let t = timeline_of(&w, &query("azure", None, now, w.clock.now() + hours(1)));
    assert_eq!(t.runs.len(), 1, "{:#?}", t.runs);
    let run = &t.runs[0];
    assert_eq!(run.due_at, "2026-03-02T10:30:00Z");
    assert!(
        matches!(run.state, RunState::Succeeded | RunState::Partial),
        "{run:?}"
    );
    let skip = run
        .skipped
        .iter()
        .find(|s| s.volume_id == desk.provider_id)
        .unwrap_or_else(|| panic!("the desktop in session is listed: {run:#?}"));
    assert_eq!(skip.reason, "in_session");
    assert!(!skip.message.is_empty());
    // The run's backups are on the primary lane; the next run is on the lane to come.
    assert!(t.primary.iter().any(|p| p.kind == BackupKind::Scheduled));
    assert!(
        t.upcoming.is_empty(),
        "tomorrow's run is outside the window"
    );
    // The volume's own view keeps its skip; another volume's view does not show it.
    let mine = timeline_of(
        &w,
        &query("azure", Some(&desk.provider_id), now, w.clock.now()),
    );
    assert_eq!(mine.runs[0].skipped.len(), 1);
    assert!(mine.primary.is_empty(), "it was not backed up");
    let other = t
        .primary
        .iter()
        .find(|p| p.volume_id != desk.provider_id)
        .unwrap();
    let theirs = timeline_of(
        &w,
        &query("azure", Some(&other.volume_id), now, w.clock.now()),
    );
    assert!(theirs.runs[0]
        .skipped
        .iter()
        .all(|s| s.volume_id == other.volume_id));
}

/// 100,000 backups of one account (5,000 volumes, 20 each, one every ~26 minutes over a year):
/// the account view of one day and a volume's view of a year are read by window, quickly.
#[tokio::test(flavor = "multi_thread")]
async fn a_window_of_an_account_with_100000_backups_is_read_quickly() {
    let w = azure_world(false, false).await;
    let azure = w.account_id("azure");
    let base: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().unwrap();
    let rows: Vec<_> = (0..100_000u32)
        .map(|i| {
            let at = (base + chrono::Duration::seconds(i64::from(i) * 315)).to_rfc3339();
            standby_core::backup::Backup {
                id: format!("b{i:06}"),
                job_id: None,
                account_id: azure.clone(),
                frame_account: FRAME.into(),
                volume_id: format!("vol-{:04}", i % 5000),
                volume_name: format!("disk-{:04}", i % 5000),
                name: format!("backup {i}"),
                kind: BackupKind::Scheduled,
                site: BackupSite::Primary,
                location: "westeurope".into(),
                provider_ref: Some(format!("snap-{i}")),
                state: BackupState::Available,
                percent: 100.0,
                replica_of: None,
                error: None,
                created_at: at.clone(),
                updated_at: at,
            }
        })
        .collect();
    w.catalog.lock().insert_backups_once(&rows).unwrap();

    let day_from = base + chrono::Duration::days(200);
    let mut q = query("azure", None, day_from, day_from + hours(24));
    q.max_points = Some(2000);
    let started = std::time::Instant::now();
    let t = timeline_of(&w, &q);
    let account_view = started.elapsed();
    // 24 h / 315 s = 274 backups in the day.
    assert_eq!(t.primary.len(), 274);
    assert_eq!(t.points_left_out, 0);
    // Each volume is backed up every 5000 x 315 s (18 days): every volume is in a gap, the
    // longest are kept and the rest counted.
    assert_eq!(t.gaps.len(), timeline::MAX_ACCOUNT_GAPS);
    assert!(t.gaps_left_out > 0);

    let mut year = query(
        "azure",
        Some("vol-0042"),
        base,
        base + chrono::Duration::days(366),
    );
    year.max_points = Some(5);
    let started = std::time::Instant::now();
    let v = timeline_of(&w, &year);
    let volume_view = started.elapsed();
    assert_eq!(v.primary.len(), 5);
    assert_eq!(v.points_left_out, 15);
    // The whole year of the account as buckets for a chart 1,000 pixels wide: every backup
    // counted, none drawn one by one.
    let mut whole = query("azure", None, base, base + chrono::Duration::days(366));
    whole.max_points = Some(4000);
    whole.columns = Some(1000);
    whole.backups_only = Some(true);
    let started = std::time::Instant::now();
    let b = timeline_of(&w, &whole);
    let bucket_view = started.elapsed();
    assert!(b.primary.is_empty());
    assert_eq!(b.buckets.iter().map(|b| b.count).sum::<u32>(), 100_000);
    assert!(b.buckets.len() <= 1001, "{}", b.buckets.len());
    eprintln!(
        "100,000 backups: account day view {account_view:?}, volume year view {volume_view:?}, \
         account year in 1,000 columns {bucket_view:?}"
    );
    assert!(bucket_view < Duration::from_secs(5), "{bucket_view:?}");
    // Generous bounds for a debug build on a busy 2-core machine; the figures are printed.
    assert!(account_view < Duration::from_secs(5), "{account_view:?}");
    assert!(volume_view < Duration::from_secs(1), "{volume_view:?}");
}

/// A backup row for the bucket tests: `site` and `state` at `at`.
fn row(
    account: &str,
    id: &str,
    site: BackupSite,
    state: BackupState,
    at: &str,
) -> standby_core::backup::Backup {
    let at: DateTime<Utc> = at.parse().unwrap();
    standby_core::backup::Backup {
        id: id.into(),
        job_id: None,
        account_id: account.into(),
        frame_account: FRAME.into(),
        volume_id: "vol-1".into(),
        volume_name: "disk-1".into(),
        name: id.into(),
        kind: BackupKind::Scheduled,
        site,
        location: "westeurope".into(),
        provider_ref: None,
        state,
        percent: 100.0,
        replica_of: None,
        error: None,
        created_at: at.to_rfc3339(),
        updated_at: at.to_rfc3339(),
    }
}

/// More backups than `max_points` with `columns`: every backup is counted in the bucket of its
/// lane and column (columns of `span / columns`, `[start, end)`, aligned on the epoch), with the
/// worst state and the first and last instants; no point is returned and none is left out. At or
/// under `max_points`, the same window answers points.
#[tokio::test(flavor = "multi_thread")]
async fn a_crowded_window_comes_as_buckets_that_count_every_backup() {
    use standby_core::timeline::BucketLane;
    let w = azure_world(false, false).await;
    let azure = w.account_id("azure");
    let (p, r) = (BackupSite::Primary, BackupSite::Replica);
    let rows = vec![
        row(
            &azure,
            "p1",
            p,
            BackupState::Available,
            "2025-03-01T00:00:00Z",
        ),
        row(
            &azure,
            "p2",
            p,
            BackupState::Failed,
            "2025-03-01T00:59:59.999Z",
        ),
        row(
            &azure,
            "p3",
            p,
            BackupState::Creating,
            "2025-03-01T01:00:00Z",
        ),
        row(
            &azure,
            "p4",
            p,
            BackupState::Available,
            "2025-03-01T02:30:00Z",
        ),
        row(
            &azure,
            "p5",
            p,
            BackupState::Available,
            "2025-03-01T02:10:00Z",
        ),
        row(
            &azure,
            "r1",
            r,
            BackupState::Replicating,
            "2025-03-01T00:30:00Z",
        ),
        row(
            &azure,
            "r2",
            r,
            BackupState::Available,
            "2025-03-01T00:40:00Z",
        ),
        // Outside the window: not counted.
        row(&azure, "p0", p, BackupState::Failed, "2025-02-28T23:59:59Z"),
        row(&azure, "p9", p, BackupState::Failed, "2025-03-02T00:00:01Z"),
    ];
    let c = w.catalog.lock();
    c.insert_backups_once(&rows).unwrap();
    // p1 expires in the window (03:15), p4 after it (not in the expiry lane).
    c.set_backup_expiries(&[
        ("p1".into(), Some("2025-03-01T03:15:00+00:00".into())),
        ("r2".into(), Some("2025-03-01T03:45:00+00:00".into())),
        ("p4".into(), Some("2025-03-09T00:00:00+00:00".into())),
    ])
    .unwrap();
    drop(c);

    let from: DateTime<Utc> = "2025-03-01T00:00:00Z".parse().unwrap();
    let mut q = query("azure", None, from, from + hours(24));
    q.max_points = Some(6);
    // 24 columns over a day: one an hour.
    q.columns = Some(24);
    let t = timeline_of(&w, &q);
    assert!(t.primary.is_empty() && t.replicas.is_empty());
    assert_eq!(t.points_left_out, 0);
    let lane = |l: BucketLane| {
        t.buckets
            .iter()
            .filter(move |b| b.lane == l)
            .collect::<Vec<_>>()
    };
    let primary = lane(BucketLane::Primary);
    let replica = lane(BucketLane::Replica);
    let expiry = lane(BucketLane::Expiry);
    // Every backup of the window counted once in its site's lane.
    assert_eq!(primary.iter().map(|b| b.count).sum::<u32>(), 5);
    assert_eq!(replica.iter().map(|b| b.count).sum::<u32>(), 2);
    assert_eq!(primary.len(), 3, "{primary:#?}");

    // [00:00, 01:00): p1 and p2 (the last millisecond of the hour), failed the worst.
    let h0 = primary[0];
    assert_eq!(h0.start, "2025-03-01T00:00:00+00:00");
    assert_eq!(h0.end, "2025-03-01T01:00:00+00:00");
    assert_eq!(
        (h0.count, h0.available, h0.failed, h0.in_progress),
        (2, 1, 1, 0)
    );
    assert_eq!(h0.worst, BackupState::Failed);
    assert_eq!(h0.first, "2025-03-01T00:00:00+00:00");
    assert_eq!(h0.last, "2025-03-01T00:59:59.999+00:00");
    // [01:00, 02:00): p3 alone, starting exactly on the boundary: being taken.
    let h1 = primary[1];
    assert_eq!(h1.start, "2025-03-01T01:00:00+00:00");
    assert_eq!((h1.count, h1.in_progress), (1, 1));
    assert_eq!(h1.worst, BackupState::Creating);
    // [02:00, 03:00): p5 then p4, first and last in time order whatever the insert order.
    let h2 = primary[2];
    assert_eq!((h2.count, h2.available), (2, 2));
    assert_eq!(h2.worst, BackupState::Available);
    assert_eq!(h2.first, "2025-03-01T02:10:00+00:00");
    assert_eq!(h2.last, "2025-03-01T02:30:00+00:00");
    // The replicas: one copying, one done.
    assert_eq!(replica.len(), 1);
    assert_eq!(
        (
            replica[0].count,
            replica[0].in_progress,
            replica[0].available
        ),
        (2, 1, 1)
    );
    assert_eq!(replica[0].worst, BackupState::Replicating);
    // Expiries within the window, by expiry instant: p1 and r2 in [03:00, 04:00); p4's is after.
    assert_eq!(expiry.len(), 1);
    assert_eq!(expiry[0].start, "2025-03-01T03:00:00+00:00");
    assert_eq!(expiry[0].count, 2);
    assert_eq!(expiry[0].first, "2025-03-01T03:15:00+00:00");
    assert_eq!(expiry[0].last, "2025-03-01T03:45:00+00:00");

    // Not more than max_points: points, no buckets.
    q.max_points = Some(7);
    let t = timeline_of(&w, &q);
    assert!(t.buckets.is_empty());
    assert_eq!((t.primary.len(), t.replicas.len()), (5, 2));

    // Without columns, max_points caps the points as before (the newest kept).
    q.max_points = Some(6);
    q.columns = None;
    let t = timeline_of(&w, &q);
    assert!(t.buckets.is_empty());
    assert_eq!(t.points_left_out, 1);
}

/// `backups_only` leaves out the runs and gaps (a zoomed re-read), not the backups.
#[tokio::test(flavor = "multi_thread")]
async fn backups_only_leaves_the_gaps_and_runs_out() {
    let w = azure_world(false, false).await;
    let azure = w.account_id("azure");
    let old = "2025-03-01T00:00:00Z";
    w.catalog
        .lock()
        .insert_backups_once(&[row(
            &azure,
            "p1",
            BackupSite::Primary,
            BackupState::Available,
            old,
        )])
        .unwrap();
    let from: DateTime<Utc> = old.parse().unwrap();
    let mut q = query("azure", None, from - hours(1), w.clock.now());
    let t = timeline_of(&w, &q);
    // The only backup is far older than the RPO: an open gap to now.
    assert_eq!(t.gaps.len(), 1);
    assert!(t.gaps[0].open);
    q.backups_only = Some(true);
    let t = timeline_of(&w, &q);
    assert!(t.gaps.is_empty());
    assert_eq!(t.primary.len(), 1);
}
