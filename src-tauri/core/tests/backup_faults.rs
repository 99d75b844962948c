//! `backup all` of a few volumes while the lab's endpoints misbehave: ARM throttling with
//! `Retry-After`, 503s and dropped connections on Azure; 503s and dropped connections on Prism
//! during the snapshot and the replication. A fault the clients' retries absorb must end in
//! exactly one backup and one usable replica per volume (no duplicate snapshot at the provider);
//! a fault that outlasts the retries must end as a failure in the provider's words, with no
//! success notification; either way, every desktop that was running runs again.
//!
//! Faults are set from the job's own progress reports (the first report of the backing-up phase,
//! or the first of the AHV snapshot), so that they hit the backup and not the discovery before it.

mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use standby_core::backup::all::{self, BackupAllOutcome, BackupAllRequest};
use standby_core::backup::plan::PlannedVolume;
use standby_core::backup::{BackupError, BackupKind, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::{JobProgress, NoProgress};
use standby_core::limits::Limits;
use standby_core::notifications::NotificationLevel;
use standby_core::providers::prism::PrismError;
use standby_lab::faults::{FaultSpec, RateLimit, ARM};
use world::{Seen, World, FRAME};

fn request(account: &str, volumes: Vec<String>, dry_run: bool) -> BackupAllRequest {
    BackupAllRequest {
        account: account.into(),
        frame_account: FRAME.into(),
        kind: BackupKind::Manual,
        resource_kinds: Vec::new(),
        volumes,
        name: Some("through faults".into()),
        dry_run,
        actor: "test".into(),
    }
}

/// The eligible persistent desktops of `account` (a dry run's plan).
async fn eligible(w: &World, account: &str) -> Vec<PlannedVolume> {
    all::run(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &Limits::default(),
        request(account, Vec::new(), true),
        CancelFlag::new(),
    )
    .await
    .unwrap()
    .plan
    .eligible
    .into_iter()
    .filter(|v| v.kind == ResourceKind::PersistentDesktop)
    .collect()
}

/// `running` desktops that Standby has to power off and on again, then others up to `n`.
async fn pick(w: &World, account: &str, running: usize, n: usize) -> Vec<String> {
    let all = eligible(w, account).await;
    let mut chosen: Vec<String> = all
        .iter()
        .filter(|v| v.power_cycle)
        .take(running)
        .map(|v| v.volume_id.clone())
        .collect();
    assert_eq!(chosen.len(), running, "enough running desktops: {all:#?}");
    chosen.extend(
        all.iter()
            .filter(|v| !v.power_cycle)
            .take(n - running)
            .map(|v| v.volume_id.clone()),
    );
    assert_eq!(chosen.len(), n, "enough eligible desktops");
    chosen
}

/// Sets `spec` on `target` at the first progress report whose step `when` matches, once.
fn inject_at(w: &World, when: fn(&str) -> bool, target: &str, spec: FaultSpec) -> Seen {
    let faults = w.lab.faults().clone();
    let target = target.to_string();
    let done = AtomicBool::new(false);
    Seen::with(Box::new(move |p: &JobProgress| {
        if when(&p.step) && !done.swap(true, Ordering::SeqCst) {
            faults.set(&target, spec.clone()).unwrap();
        }
    }))
}

fn backing_up(step: &str) -> bool {
    step.starts_with("backing up")
}

async fn run_all(
    w: &World,
    account: &str,
    volumes: Vec<String>,
    sink: &Seen,
) -> Result<BackupAllOutcome, BackupError> {
    all::run(
        &w.report(),
        w.store.as_ref(),
        sink,
        &Limits::new(100, 4, 4),
        request(account, volumes, false),
        CancelFlag::new(),
    )
    .await
}

/// The fault on `target` was used up: the requests it was meant for did meet it.
fn assert_consumed(w: &World, target: &str) {
    let left = w.lab.faults().get(target).unwrap();
    assert_eq!((left.fail_next, left.drop_next), (0, 0), "{left:?}");
}

/// Every volume has exactly one usable backup and one usable replica in the outcome and in the
/// catalog; returns the primaries' provider references.
/// One backup and one replica per volume in the catalog, and no more snapshots in the lab than
/// that: a retried step made nothing twice.
fn assert_complete_once(w: &World, out: &BackupAllOutcome, volumes: &[String]) {
    assert_one_of_each(w, out, volumes);
    assert_eq!(
        standby_snapshots(w),
        2 * volumes.len(),
        "no duplicate snapshot"
    );
}

fn assert_one_of_each(w: &World, out: &BackupAllOutcome, volumes: &[String]) -> Vec<String> {
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    let mut per_volume = BTreeMap::<String, (usize, usize)>::new();
    for b in w.catalog.lock().list_backups(None, None).unwrap() {
        assert_eq!(b.state, BackupState::Available, "{b:#?}");
        let e = per_volume.entry(b.volume_id.clone()).or_default();
        match b.site {
            BackupSite::Primary => e.0 += 1,
            BackupSite::Replica => e.1 += 1,
        }
    }
    let wanted: BTreeSet<&String> = volumes.iter().collect();
    assert_eq!(per_volume.keys().collect::<BTreeSet<_>>(), wanted);
    assert!(per_volume.values().all(|c| *c == (1, 1)), "{per_volume:?}");
    assert_eq!(out.backups.len(), 2 * volumes.len());
    out.backups
        .iter()
        .filter(|b| b.site == BackupSite::Primary)
        .map(|b| b.provider_ref.clone().expect("a snapshot reference"))
        .collect()
}

fn assert_success_noted(w: &World) {
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
}

/// The run failed in words that carry `says`, the newest notification is an error that says
/// it too, and no notification announces a backup that succeeded.
fn assert_honest_failure(w: &World, e: &BackupError, says: &str) {
    assert!(
        e.to_string().to_lowercase().contains(&says.to_lowercase()),
        "{e}"
    );
    let notes = w.assert_failure_noted("Backup of");
    assert!(
        notes[0].body.to_lowercase().contains(&says.to_lowercase()),
        "{}",
        notes[0].body
    );
}

// ---------------------------------------------------------------- Azure

/// The lab's Azure VMs that run (or are starting).
fn azure_running(w: &World) -> BTreeSet<String> {
    let st = w.lab.azure_lab().export_state();
    st["vms"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| {
            let settled = v["transition"].is_null();
            (settled && v["power"] == "running") || (!settled && v["transition"]["to"] == "running")
        })
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect()
}

/// Snapshots Standby made in the lab's subscription.
fn standby_snapshots(w: &World) -> usize {
    w.lab.azure_lab().export_state()["snapshots"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["name"].as_str().unwrap().starts_with("standby-"))
        .count()
}

async fn azure_world() -> World {
    let w = World::new().await;
    w.enable_azure_dr().await;
    w
}

/// Lines the ARM client logged when it retried a request (`tracing`, captured process-wide:
/// the tests of this file that look at them look for words only their own fault produces).
fn retries_logged() -> &'static Mutex<Vec<String>> {
    static LOG: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let writer = move || Capture(sink.clone());
        let _ = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .try_init();
        log
    })
}

fn throttled() -> bool {
    retries_logged()
        .lock()
        .iter()
        .any(|l| l.contains("Azure is throttling requests"))
}

struct Capture(Arc<Mutex<Vec<String>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let line = String::from_utf8_lossy(buf);
        if line.contains("will be retried") {
            self.0.lock().push(line.into_owned());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_throttling_with_retry_after_still_gives_one_backup_and_one_replica_per_volume() {
    let log = retries_logged();
    let w = azure_world().await;
    let volumes = pick(&w, "azure", 1, 3).await;
    let running_before = azure_running(&w);
    w.speed_up(500.0);
    // While the lab clock stands still the window never ends: past 4 requests every one is
    // throttled (Retry-After 1 s), until the clock runs again and the limit is lifted.
    let faults = w.lab.faults().clone();
    let clock = w.lab.clock.clone();
    let done = AtomicBool::new(false);
    let sink = Seen::with(Box::new(move |p: &JobProgress| {
        if backing_up(&p.step) && !done.swap(true, Ordering::SeqCst) {
            clock.set_scale(0.0);
            faults
                .set(
                    ARM,
                    FaultSpec {
                        rate_limit: Some(RateLimit {
                            requests: 4,
                            window_secs: 1,
                        }),
                        ..FaultSpec::default()
                    },
                )
                .unwrap();
            let (faults, clock) = (faults.clone(), clock.clone());
            std::thread::spawn(move || {
                // Until a throttled request was seen (at most 20 s), then 1 s more, so that
                // requests meet the 429 more than once.
                for _ in 0..200 {
                    if throttled() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                std::thread::sleep(Duration::from_millis(1_000));
                faults.set(ARM, FaultSpec::default()).unwrap();
                clock.set_scale(500.0);
            });
        }
    }));
    let out = run_all(&w, "azure", volumes.clone(), &sink).await.unwrap();
    assert!(throttled(), "ARM did throttle the run: {:#?}", log.lock());
    assert_complete_once(&w, &out, &volumes);
    assert_eq!(azure_running(&w), running_before, "no desktop left off");
    assert_success_noted(&w);
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_503s_and_dropped_connections_are_retried_to_one_backup_and_one_replica_per_volume() {
    let w = azure_world().await;
    // Desktops that are off: every request of their backups is safe to repeat (no POST).
    let volumes = pick(&w, "azure", 0, 3).await;
    let running_before = azure_running(&w);
    w.speed_up(500.0);
    let sink = inject_at(
        &w,
        backing_up,
        ARM,
        FaultSpec {
            fail_next: 2,
            drop_next: 2,
            ..FaultSpec::default()
        },
    );
    let out = run_all(&w, "azure", volumes.clone(), &sink).await.unwrap();
    assert_consumed(&w, ARM);
    assert_complete_once(&w, &out, &volumes);
    assert_eq!(azure_running(&w), running_before);
    assert_success_noted(&w);
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_faults_on_a_run_that_powers_desktops_off_end_in_success_or_an_honest_failure() {
    let w = azure_world().await;
    let volumes = pick(&w, "azure", 2, 3).await;
    let running_before = azure_running(&w);
    w.speed_up(500.0);
    let sink = inject_at(
        &w,
        backing_up,
        ARM,
        FaultSpec {
            fail_next: 1,
            drop_next: 1,
            ..FaultSpec::default()
        },
    );
    let r = run_all(&w, "azure", volumes.clone(), &sink).await;
    assert_consumed(&w, ARM);
    match r {
        Ok(out) => {
            assert_one_of_each(&w, &out, &volumes);
            assert_eq!(standby_snapshots(&w), 2 * volumes.len());
            assert_success_noted(&w);
        }
        Err(e) => {
            // A POST (deallocate, start) is not repeated blindly: the volume it belonged to may
            // fail, in ARM's words or the transport's, and the others still finish.
            assert!(matches!(e, BackupError::Job(_)), "{e:?}");
            w.assert_failure_noted("Backup of");
            let rows = w.catalog.lock().list_backups(None, None).unwrap();
            let mut primaries = BTreeMap::<String, usize>::new();
            for b in rows.iter().filter(|b| b.site == BackupSite::Primary) {
                *primaries.entry(b.volume_id.clone()).or_default() += 1;
            }
            assert!(primaries.values().all(|n| *n <= 1), "{primaries:?}");
            assert!(standby_snapshots(&w) <= 2 * volumes.len());
        }
    }
    assert_eq!(azure_running(&w), running_before, "no desktop left off");
}

#[tokio::test(flavor = "multi_thread")]
async fn arm_503s_that_outlast_the_retries_fail_the_run_in_arms_words() {
    let w = azure_world().await;
    let volumes = pick(&w, "azure", 0, 2).await;
    let running_before = azure_running(&w);
    w.speed_up(500.0);
    let sink = inject_at(
        &w,
        backing_up,
        ARM,
        FaultSpec {
            fail_next: 1_000,
            ..FaultSpec::default()
        },
    );
    let e = run_all(&w, "azure", volumes.clone(), &sink)
        .await
        .unwrap_err();
    w.lab.faults().set(ARM, FaultSpec::default()).unwrap();
    assert!(matches!(e, BackupError::Job(_)), "{e:?}");
    assert!(e.to_string().contains("2 of 2"), "{e}");
    assert_honest_failure(&w, &e, "ServiceUnavailable");
    assert!(!w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .iter()
        .any(|b| b.state == BackupState::Available));
    assert_eq!(standby_snapshots(&w), 0);
    assert_eq!(azure_running(&w), running_before);
}

// ---------------------------------------------------------------- AHV

/// The primary cluster's VMs that are on.
async fn prism_on(w: &World) -> BTreeSet<String> {
    w.prism_guests()
        .await
        .into_iter()
        .filter(|(_, (p, _))| p == "on")
        .map(|(n, _)| n)
        .collect()
}

/// The snapshots of `pd` on a cluster (none before the domain reached the secondary).
async fn pd_snapshots(w: &World, account: &str, pd: &str) -> BTreeSet<String> {
    match w.prism(account).snapshots(pd, &[]).await {
        Ok(l) => l.into_iter().map(|s| s.snapshot_id).collect(),
        Err(PrismError::NotFound { .. }) => BTreeSet::new(),
        Err(e) => panic!("{e}"),
    }
}

fn prism_target(w: &World) -> String {
    format!("prism:{}", w.lab.prism[0].name)
}

fn snapshot_taken(step: &str) -> bool {
    step.starts_with("snapshot of protection domain")
}

#[tokio::test(flavor = "multi_thread")]
async fn prism_503s_and_dropped_connections_still_give_one_snapshot_and_one_replica() {
    let w = World::new().await;
    let pd = w.enable_ahv_dr().await;
    let volumes = pick(&w, "primary", 1, 3).await;
    let on_before = prism_on(&w).await;
    let before = pd_snapshots(&w, "primary", &pd).await;
    let replicas_before = pd_snapshots(&w, "secondary", &pd).await;
    w.speed_up(500.0);
    // One dropped connection and two 503s when the snapshot is about to be taken, two 503s again
    // when its replication is followed: fewer than the reads' retries.
    let faults = w.lab.faults().clone();
    let target = prism_target(&w);
    let seen = Mutex::new(BTreeSet::<&'static str>::new());
    let sink = Seen::with(Box::new(move |p: &JobProgress| {
        let (key, spec) = if snapshot_taken(&p.step) {
            (
                "snapshot",
                FaultSpec {
                    drop_next: 1,
                    fail_next: 2,
                    ..FaultSpec::default()
                },
            )
        } else if p.step.starts_with("replicating to") {
            (
                "replicate",
                FaultSpec {
                    fail_next: 2,
                    ..FaultSpec::default()
                },
            )
        } else {
            return;
        };
        if seen.lock().insert(key) {
            faults.set(&target, spec).unwrap();
        }
    }));
    let out = run_all(&w, "primary", volumes.clone(), &sink)
        .await
        .unwrap();
    assert_consumed(&w, &prism_target(&w));
    let refs: BTreeSet<String> = assert_one_of_each(&w, &out, &volumes).into_iter().collect();
    assert_eq!(refs.len(), 1, "one protection-domain snapshot: {refs:?}");
    let after = pd_snapshots(&w, "primary", &pd).await;
    let new: Vec<_> = after.difference(&before).collect();
    assert_eq!(
        new.len(),
        1,
        "exactly one new snapshot on the primary: {new:?}"
    );
    assert_eq!(refs.into_iter().next().unwrap(), format!("{pd}:{}", new[0]));
    let replicas = pd_snapshots(&w, "secondary", &pd).await;
    assert_eq!(replicas.difference(&replicas_before).count(), 1);
    assert_eq!(prism_on(&w).await, on_before, "no desktop left off");
    assert_success_noted(&w);
}

#[tokio::test(flavor = "multi_thread")]
async fn prism_503s_that_outlast_the_retries_fail_the_run_and_power_the_desktops_on_again() {
    let w = World::new().await;
    let pd = w.enable_ahv_dr().await;
    let volumes = pick(&w, "primary", 2, 3).await;
    let on_before = prism_on(&w).await;
    let before = pd_snapshots(&w, "primary", &pd).await;
    w.speed_up(500.0);
    // The desktops are off by then; the first read of the snapshot step and its four retries
    // all meet a 503, and Prism answers again for what follows (powering them on).
    let sink = inject_at(
        &w,
        snapshot_taken,
        &prism_target(&w),
        FaultSpec {
            fail_next: 5,
            ..FaultSpec::default()
        },
    );
    let e = run_all(&w, "primary", volumes.clone(), &sink)
        .await
        .unwrap_err();
    assert_consumed(&w, &prism_target(&w));
    assert_honest_failure(&w, &e, "unavailable");
    let rows = w.catalog.lock().list_backups(None, None).unwrap();
    assert_eq!(rows.len(), volumes.len(), "{rows:#?}");
    assert!(rows
        .iter()
        .all(|b| b.state == BackupState::Failed && b.site == BackupSite::Primary));
    assert!(rows.iter().all(|b| b
        .error
        .as_deref()
        .is_some_and(|e| e.contains("unavailable"))));
    assert_eq!(
        pd_snapshots(&w, "primary", &pd).await,
        before,
        "no snapshot"
    );
    assert_eq!(prism_on(&w).await, on_before, "no desktop left off");
}
