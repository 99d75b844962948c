//! A power transition asked by a process that was then killed still lands when its Prism task
//! ends, after the process is gone. A resumed AHV `backup all` must not decide from a power state
//! that such a task is about to change: found by `crash_backup_all_ahv` (desktops left off after
//! kills during the power-off), replayed here step by step on the lab's frozen clock.
//!
//! The dead attempt's requests are sent by the test itself: an `OFF` that completes before the
//! resumed job looks (so the desktop reads off), and an `ACPI_SHUTDOWN` sent just before it
//! completes, still running when the job powers the desktop on again. Without waiting for pending
//! transitions, the job's `ON` (5 lab seconds) ends before the stale shutdown (9), which then
//! leaves the desktop off.

mod world;

use std::time::Duration;

use standby_core::backup::all::{self, BackupAllRequest};
use standby_core::backup::BackupKind;
use standby_core::cancel::CancelFlag;
use standby_core::disaster_recovery::Report;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::JobState;
use standby_core::limits::Limits;
use standby_core::notifications::NoSink;
use standby_core::providers::prism::types::{PowerTransition, VmPowerState};
use world::{Options, Providers, Seen, World, FRAME};

fn request(volume: &str) -> BackupAllRequest {
    BackupAllRequest {
        account: "primary".into(),
        frame_account: FRAME.into(),
        kind: BackupKind::Manual,
        resource_kinds: Vec::new(),
        volumes: vec![volume.to_string()],
        name: Some("after a kill".into()),
        dry_run: false,
        actor: "test".into(),
    }
}

async fn is_on(w: &World, vm: &str) -> bool {
    w.prism("primary").vm(vm).await.unwrap().power_state == Some(VmPowerState::On)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_backup_waits_for_power_tasks_a_killed_attempt_left_running() {
    let w = World::with(Options {
        providers: Providers::Ahv,
        ..Options::default()
    })
    .await;
    w.enable_ahv_dr().await;
    w.set_prism_bandwidth(2 << 40).await;
    // A running desktop nobody is using: the backup powers it off and on again.
    let guests = w.prism_guests().await;
    let desk = w
        .resources("primary")
        .await
        .into_iter()
        .find(|r| {
            r.kind == ResourceKind::PersistentDesktop
                && guests
                    .get(&r.name)
                    .is_some_and(|(power, session)| power == "on" && !session)
        })
        .expect("a running desktop with nobody in session");
    let vm = desk.vm_id.clone().unwrap_or(desk.provider_id.clone());

    // The first attempt dies as it starts powering the desktop off.
    let (catalog, store, clock) = (w.catalog.clone(), w.store.clone(), w.clock.clone());
    let req = request(&desk.name);
    let crashed = tokio::spawn(async move {
        let report = Report {
            catalog: &catalog,
            clock,
            sink: &NoSink,
        };
        let sink = Seen::dying_at(|p| p.step.starts_with("powering off"));
        all::run(
            &report,
            store.as_ref(),
            &sink,
            &Limits::default(),
            req,
            CancelFlag::new(),
        )
        .await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic(), "the job was killed");
    let job = w.catalog.lock().unfinished_jobs().unwrap().remove(0);

    // What the dead attempts had asked: an OFF (done at 5 s) and, at 4.9 s, an ACPI shutdown
    // (done at 13.9 s). At 5.6 s the desktop reads off while the shutdown is still running.
    let prism = w.prism("primary");
    prism
        .set_power_state(&vm, PowerTransition::Off)
        .await
        .unwrap();
    w.lab.clock.advance(Duration::from_millis(4_900));
    assert!(is_on(&w, &vm).await);
    prism
        .set_power_state(&vm, PowerTransition::AcpiShutdown)
        .await
        .unwrap();
    w.lab.clock.advance(Duration::from_millis(700));
    assert!(!is_on(&w, &vm).await, "the OFF has landed");

    w.speed_up(10.0);
    let outcome = all::resume(
        &w.report(),
        w.store.as_ref(),
        &Seen::new(),
        &Limits::default(),
        &job,
        CancelFlag::new(),
    )
    .await
    .expect("the resumed backup succeeds");
    assert_eq!(outcome.backups.len(), 2, "{:#?}", outcome.backups);
    let job = w.catalog.lock().job(&job.id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);

    // Whatever was still pending has landed by now: the desktop runs, as it did before.
    w.speed_up(0.0);
    w.lab.clock.advance(Duration::from_secs(30));
    assert!(
        is_on(&w, &vm).await,
        "{} was left off by a shutdown the killed attempt had asked for",
        desk.name
    );
}
