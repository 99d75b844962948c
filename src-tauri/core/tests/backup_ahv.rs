//! AHV backups against the in-process lab: a snapshot of the account's protection domain, one
//! catalog row per volume naming it, and the replica followed until the secondary cluster holds
//! it; refused in words without DR; a job killed inside its snapshot step takes no second one.

mod world;

use standby_core::backup::{BackupError, BackupKind, BackupRequest, BackupSite, BackupState};
use standby_core::inventory::ResourceKind;
use standby_core::jobs::{JobState, NoProgress};
use standby_core::notifications::NotificationLevel;
use world::{World, FRAME};

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
    let e = w.backup_now(request(&desk), &NoProgress).await.unwrap_err();
    assert!(matches!(e, BackupError::AhvWithoutDr { .. }), "{e:?}");
    assert!(e.to_string().contains("enable DR first"), "{e}");
    w.assert_no_backup_and_no_job_left();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_is_backed_up_by_a_protection_domain_snapshot_and_its_replica_is_usable() {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    let desk = desktop(&w).await;
    w.speed_up(500.0);
    let rows = w.backup_now(request(&desk), &NoProgress).await.unwrap();
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
    let acc = w.prism("primary");
    let snaps = acc.snapshots(pd, &[]).await.unwrap();
    let ours = snaps
        .iter()
        .find(|s| s.snapshot_id == snap)
        .expect("the snapshot exists");
    let sec = w.prism("secondary");
    let remote = sec.snapshots(pd, &[]).await.unwrap();
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
    w.assert_latest_note(NotificationLevel::Success, "replica on secondary ready");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_after_its_snapshot_was_taken_takes_no_second_one() {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    let desk = desktop(&w).await;
    w.kill_backup_when(request(&desk), |p| p.step.contains("taken"))
        .await;
    let job = w.catalog.lock().unfinished_jobs().unwrap().remove(0);
    w.assert_steps(&job.id, &[("mark", true), ("snapshot", false)]);
    let acc = w.prism("primary");
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
    assert_eq!(oob(&acc.snapshots(&pd, &[]).await.unwrap()), 1);

    w.speed_up(500.0);
    let rows = w.resume_backup(&job).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|b| b.state == BackupState::Available),
        "{rows:#?}"
    );
    assert_eq!(
        oob(&acc.snapshots(&pd, &[]).await.unwrap()),
        1,
        "no second snapshot"
    );
}
