//! AHV backups against the in-process lab: a snapshot of the account's protection domain, one
//! catalog row per volume naming it, and the replica followed until the secondary cluster holds
//! it; refused in words without DR; a job killed inside its snapshot step takes no second one.

mod backup_world;

use backup_world::{World, FRAME};
use standby_core::backup::{self, BackupError, BackupKind, BackupRequest, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::{JobProgress, JobState, NoProgress, ProgressSink};
use standby_core::notifications::NotificationLevel;

fn request(volume: &str) -> BackupRequest {
    BackupRequest {
        account: "primary".into(),
        frame_account: FRAME.into(),
        volume: volume.into(),
        name: "before the upgrade".into(),
        kind: BackupKind::Manual,
    }
}

async fn desktop(w: &World) -> String {
    w.resources("primary")
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .expect("a persistent desktop")
        .name
}

#[tokio::test(flavor = "multi_thread")]
async fn without_dr_an_ahv_backup_is_refused_with_what_to_do() {
    let w = World::new().await;
    let desk = desktop(&w).await;
    let e = backup::backup_now(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        request(&desk),
        CancelFlag::new(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, BackupError::AhvWithoutDr { .. }), "{e:?}");
    assert!(e.to_string().contains("enable DR first"), "{e}");
    assert!(w.catalog.lock().unfinished_jobs().unwrap().is_empty());
    assert!(w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_is_backed_up_by_a_protection_domain_snapshot_and_its_replica_is_usable() {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    let desk = desktop(&w).await;
    w.speed_up(500.0);
    let rows = backup::backup_now(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        request(&desk),
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let primary = rows.iter().find(|b| b.site == BackupSite::Primary).unwrap();
    let replica = rows.iter().find(|b| b.site == BackupSite::Replica).unwrap();
    assert_eq!(primary.state, BackupState::Available);
    assert_eq!(primary.kind, BackupKind::Manual);
    assert_eq!(primary.location, "primary");
    assert_eq!(primary.volume_name, desk);
    let pref = primary.provider_ref.clone().unwrap();
    let (pd, snap) = pref.split_once(':').unwrap();
    assert!(pd.contains(FRAME) || !pd.is_empty(), "{pref}");
    assert_eq!(replica.state, BackupState::Available);
    assert_eq!(replica.percent, 100.0);
    assert_eq!(replica.location, "secondary");
    assert_eq!(replica.replica_of.as_deref(), Some(primary.id.as_str()));
    let rref = replica.provider_ref.clone().unwrap();
    assert!(rref.starts_with(&format!("{pd}:")), "{rref}");

    // What the clusters hold: the snapshot on the primary, and one of the same uuid on the
    // secondary under the id the replica row names.
    let acc = standby_core::connect::ahv(
        &standby_core::accounts::Accounts {
            catalog: &w.catalog.lock(),
            store: w.store.as_ref(),
        },
        "primary",
    )
    .unwrap();
    let snaps = acc.client.snapshots(pd, &[]).await.unwrap();
    let ours = snaps
        .iter()
        .find(|s| s.snapshot_id == snap)
        .expect("the snapshot exists");
    let sec = standby_core::connect::ahv(
        &standby_core::accounts::Accounts {
            catalog: &w.catalog.lock(),
            store: w.store.as_ref(),
        },
        "secondary",
    )
    .unwrap();
    let remote = sec.client.snapshots(pd, &[]).await.unwrap();
    let landed = remote
        .iter()
        .find(|s| s.snapshot_uuid == ours.snapshot_uuid)
        .expect("replicated to the secondary");
    assert_eq!(rref, format!("{pd}:{}", landed.snapshot_id));
    assert_eq!(
        snaps
            .iter()
            .filter(|s| !s.oob_schedule_ids.is_empty())
            .count(),
        1
    );

    let job = w
        .catalog
        .lock()
        .job(primary.job_id.as_deref().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
    assert!(
        notes[0].body.contains("replica on secondary ready"),
        "{}",
        notes[0].body
    );
}

struct DieAt(fn(&JobProgress) -> bool);

impl ProgressSink for DieAt {
    fn progress(&self, p: &JobProgress) {
        if (self.0)(p) {
            panic!("simulated crash at {:?}", p.step);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_after_its_snapshot_was_taken_takes_no_second_one() {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    let desk = desktop(&w).await;
    let (catalog, store, clock) = (w.catalog.clone(), w.store.clone(), w.clock.clone());
    let req = request(&desk);
    let crashed = tokio::spawn(async move {
        let report = standby_core::disaster_recovery::Report {
            catalog: &catalog,
            clock,
            sink: &standby_core::notifications::NoSink,
        };
        let sink = DieAt(|p| p.step.contains("taken"));
        backup::backup_now(&report, store.as_ref(), &sink, req, CancelFlag::new()).await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic());
    let job = w.catalog.lock().unfinished_jobs().unwrap().remove(0);
    let steps = w.catalog.lock().job_steps(&job.id).unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.name.as_str(), s.done))
            .collect::<Vec<_>>(),
        [("mark", true), ("snapshot", false)]
    );
    let acc = standby_core::connect::ahv(
        &standby_core::accounts::Accounts {
            catalog: &w.catalog.lock(),
            store: w.store.as_ref(),
        },
        "primary",
    )
    .unwrap();
    let primary_id = w.account_id("primary");
    let dr = w.catalog.lock().dr_config(&primary_id).unwrap().unwrap();
    let pd = match dr.target {
        standby_core::disaster_recovery::DrTarget::Ahv {
            protection_domain, ..
        } => protection_domain,
        _ => unreachable!(),
    };
    let oob = |l: &Vec<standby_core::providers::prism::types::DrSnapshot>| {
        l.iter().filter(|s| !s.oob_schedule_ids.is_empty()).count()
    };
    assert_eq!(oob(&acc.client.snapshots(&pd, &[]).await.unwrap()), 1);

    w.speed_up(500.0);
    let rows = backup::resume(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &job,
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|b| b.state == BackupState::Available),
        "{rows:#?}"
    );
    assert_eq!(
        oob(&acc.client.snapshots(&pd, &[]).await.unwrap()),
        1,
        "no second snapshot"
    );
}
