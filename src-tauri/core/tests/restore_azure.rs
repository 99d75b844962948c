//! Restoring an Azure volume against the in-process lab: from a primary backup and from a
//! replica (disk swapped, VM running again, a safety backup recorded), undone by restoring the
//! safety backup; refused while a user is in session or while the replica is incomplete, or
//! without the typed confirmation; a fault mid-way ends as a failure; a cancelled job resumes
//! and completes once.

mod azure_support;
mod world;

use azure_support::{client, dr_rg, lab_power, rg, PRIMARY, SECONDARY};
use standby_core::backup::{Backup, BackupKind, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::DiscoveredResource;
use standby_core::jobs::{JobError, JobState};
use standby_core::notifications::NotificationLevel;
use standby_core::providers::azure::snapshots::{NewCopy, NewSnapshot};
use standby_core::providers::azure::{ids, ResourceId};
use standby_core::restore::{self, CheckStatus, RestoreError};
use world::{Options, Providers, Seen, World};

/// The lab's subscription as account `azure` with its guest agent (no clusters), lab time sped up.
async fn azure_world() -> World {
    let w = World::with(Options {
        providers: Providers::Azure,
        ..Options::default()
    })
    .await;
    w.speed_up(500.0);
    w
}

impl World {
    /// An assigned desktop, running, with nobody in session.
    async fn running_desktop(&self, nth: usize) -> DiscoveredResource {
        let desk = self.assigned_desktop("azure", nth).await;
        let user = desk.owner.clone().unwrap();
        self.azure_session(&user, true).await;
        self.azure_session(&user, false).await;
        desk
    }

    fn row(
        &self,
        r: &DiscoveredResource,
        site: BackupSite,
        location: &str,
        snap: &str,
        replica_of: Option<&str>,
    ) -> Backup {
        let name = ResourceId::parse(&r.provider_id)
            .unwrap()
            .name()
            .to_string();
        self.known_good(
            "azure",
            (&r.provider_id, &name),
            site,
            location,
            snap.into(),
            replica_of,
        )
    }

    /// A primary backup of the disk, made with the product's client, recorded as `backup` does.
    async fn backup(&self, r: &DiscoveredResource, name: &str) -> Backup {
        let arm = client(&self.lab);
        let disk = ResourceId::parse(&r.provider_id).unwrap();
        let snap = arm
            .snapshot_disk(&NewSnapshot {
                resource_group: rg(&self.lab),
                name: name.into(),
                location: PRIMARY.into(),
                disk,
                tags: Default::default(),
            })
            .await
            .unwrap();
        self.row(r, BackupSite::Primary, PRIMARY, &snap.id, None)
    }

    async fn replica(&self, r: &DiscoveredResource, primary: &Backup, name: &str) -> Backup {
        let arm = client(&self.lab);
        let source = ResourceId::parse(primary.provider_ref.as_ref().unwrap()).unwrap();
        let copy = arm
            .start_copy(&NewCopy {
                resource_group: dr_rg(&self.lab),
                name: name.into(),
                location: SECONDARY.into(),
                source,
                tags: Default::default(),
                enhanced_speed: false,
            })
            .await
            .unwrap();
        let id = ResourceId::parse(&copy.id).unwrap();
        arm.follow_copy(&id).await.unwrap();
        self.row(
            r,
            BackupSite::Replica,
            SECONDARY,
            id.as_str(),
            Some(&primary.id),
        )
    }

    async fn os_disk_of(&self, vm: &str) -> String {
        let arm = client(&self.lab);
        let v = arm
            .get_vm(&azure_support::vm_id(&self.lab, vm))
            .await
            .unwrap();
        v.storage().os_disk_id().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_primary_backup_is_restored_in_place_and_undone_by_its_safety_backup() {
    let w = azure_world().await;
    let desk = w.running_desktop(0).await;
    let old_disk = desk.provider_id.clone();
    let b = w.backup(&desk, "known-good").await;

    let plan = restore::plan(&w.report(), w.store.as_ref(), &b.id)
        .await
        .unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert!(plan.replaces_assigned_desktop);
    assert!(plan.powers_off && plan.powers_on_after);
    assert_eq!(plan.vm.as_deref(), Some(desk.name.as_str()));
    assert!(
        plan.checks
            .iter()
            .any(|c| c.name == "Quota" && c.status == CheckStatus::Ok),
        "{:#?}",
        plan.checks
    );

    // Without the typed name, nothing happens.
    let e = w
        .restore(&b, None, &Seen::new(), CancelFlag::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e, RestoreError::ConfirmationNeeded { .. }),
        "{e:?}"
    );
    assert!(w.catalog.lock().unfinished_jobs().unwrap().is_empty());

    let out = w
        .restore(&b, Some(&desk.name), &Seen::new(), CancelFlag::new())
        .await
        .unwrap();
    assert!(out.powered_on);
    let now_disk = w.os_disk_of(&desk.name).await;
    assert!(ids::same(&now_disk, &out.restored_volume));
    assert!(!ids::same(&now_disk, &old_disk), "the disk was swapped");
    assert_eq!(
        lab_power(&w.lab, &desk.name),
        "running",
        "on again as it was"
    );
    let safety = out.safety_backup.clone().expect("a safety backup");
    assert_eq!(safety.kind, BackupKind::Safety);
    assert_eq!(safety.state, BackupState::Available);
    assert!(ids::same(&safety.volume_id, &old_disk));
    let job = w.catalog.lock().job(&out.job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.kind, "restore");
    // The old disk is kept, out of the account, pointing at its successor.
    let old = client(&w.lab)
        .get_disk(&ResourceId::parse(&old_disk).unwrap())
        .await
        .unwrap();
    assert!(ids::same(
        old.tags.get("standby.replaced-by").unwrap(),
        &now_disk
    ));
    assert!(!old.tags.contains_key("frame.account"));
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
    assert!(notes.iter().any(|n| n.body.contains("Safety snapshot")));
    assert!(notes.iter().any(|n| n.body.contains("started")));
    let audit = w.catalog.lock().audit_entries(10).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "restore" && a.job_id.as_deref() == Some(out.job_id.as_str())));

    // Undo: restoring the safety backup finds the volume through the replaced disk.
    let undo_plan = restore::plan(&w.report(), w.store.as_ref(), &safety.id)
        .await
        .unwrap();
    assert!(undo_plan.can_run, "{:#?}", undo_plan.checks);
    assert_eq!(undo_plan.vm.as_deref(), Some(desk.name.as_str()));
    let undo = w
        .restore(&safety, Some(&desk.name), &Seen::new(), CancelFlag::new())
        .await
        .unwrap();
    let after_undo = w.os_disk_of(&desk.name).await;
    assert!(ids::same(&after_undo, &undo.restored_volume));
    let made_from = client(&w.lab)
        .get_disk(&ResourceId::parse(&after_undo).unwrap())
        .await
        .unwrap();
    assert!(ids::same(
        made_from
            .properties
            .creation_data
            .unwrap()
            .source_resource_id
            .as_deref()
            .unwrap(),
        safety.provider_ref.as_deref().unwrap()
    ));
    assert_eq!(lab_power(&w.lab, &desk.name), "running");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_is_copied_back_and_restored_in_the_primary_region() {
    let w = azure_world().await;
    let desk = w.running_desktop(1).await;
    let b = w.backup(&desk, "p1").await;
    let r = w.replica(&desk, &b, "p1-replica").await;
    let plan = restore::plan(&w.report(), w.store.as_ref(), &r.id)
        .await
        .unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert!(
        plan.steps.iter().any(|s| s.starts_with("Copy the replica")),
        "{:?}",
        plan.steps
    );
    let out = w
        .restore(&r, Some(&desk.name), &Seen::new(), CancelFlag::new())
        .await
        .unwrap();
    let now_disk = w.os_disk_of(&desk.name).await;
    assert!(ids::same(&now_disk, &out.restored_volume));
    let d = client(&w.lab)
        .get_disk(&ResourceId::parse(&now_disk).unwrap())
        .await
        .unwrap();
    assert_eq!(
        standby_core::providers::azure::normalize_location(&d.location),
        PRIMARY
    );
    assert_eq!(lab_power(&w.lab, &desk.name), "running");
    assert!(out.safety_backup.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_in_session_or_an_incomplete_replica_blocks_the_restore() {
    let w = azure_world().await;
    let desk = w.running_desktop(2).await;
    let b = w.backup(&desk, "p2").await;
    let user = desk.owner.clone().unwrap();
    w.azure_session(&user, true).await;
    let plan = restore::plan(&w.report(), w.store.as_ref(), &b.id)
        .await
        .unwrap();
    assert!(!plan.can_run);
    let session = plan
        .checks
        .iter()
        .find(|c| c.name == "User in session")
        .unwrap();
    assert_eq!(session.status, CheckStatus::Blocked);
    assert!(session.message.contains(&user), "{}", session.message);
    let e = w
        .restore(&b, Some(&desk.name), &Seen::new(), CancelFlag::new())
        .await
        .unwrap_err();
    assert!(matches!(e, RestoreError::Blocked { .. }), "{e:?}");
    assert!(w.catalog.lock().unfinished_jobs().unwrap().is_empty());
    assert_eq!(
        lab_power(&w.lab, &desk.name),
        "running",
        "nothing was touched"
    );

    // A replica still copying.
    w.azure_session(&user, false).await;
    let mut r = w.row(
        &desk,
        BackupSite::Replica,
        SECONDARY,
        b.provider_ref.as_deref().unwrap(),
        Some(&b.id),
    );
    w.catalog
        .lock()
        .update_backup(
            &r.id,
            BackupState::Replicating,
            40.0,
            None,
            None,
            &w.clock.now().to_rfc3339(),
        )
        .unwrap();
    r.state = BackupState::Replicating;
    let plan = restore::plan(&w.report(), w.store.as_ref(), &r.id)
        .await
        .unwrap();
    let check = plan.checks.iter().find(|c| c.name == "Backup").unwrap();
    assert_eq!(check.status, CheckStatus::Blocked);
    assert!(check.message.contains("40%"), "{}", check.message);
    let e = w
        .restore(&r, Some(&desk.name), &Seen::new(), CancelFlag::new())
        .await
        .unwrap_err();
    assert!(matches!(e, RestoreError::Blocked { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fault_mid_restore_is_a_failure_never_a_success() {
    let w = azure_world().await;
    let desk = w.running_desktop(3).await;
    let b = w.backup(&desk, "p3").await;
    let lab = w.lab.azure_lab().clone();
    let sink = Seen::with(Box::new(move |p| {
        if p.step.starts_with("creating disk") {
            lab.set_region_down(PRIMARY, true);
        }
    }));
    let e = w
        .restore(&b, Some(&desk.name), &sink, CancelFlag::new())
        .await
        .unwrap_err();
    assert!(
        matches!(e, RestoreError::Job(JobError::Operation(_))),
        "{e:?}"
    );
    w.lab.azure_lab().set_region_down(PRIMARY, false);
    let jobs = w.catalog.lock().recent_jobs(10).unwrap();
    let job = jobs.iter().find(|j| j.kind == "restore").unwrap();
    assert_eq!(job.state, JobState::Failed);
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Error, "{notes:#?}");
    assert!(
        notes[0].body.contains("safety backup is available"),
        "{}",
        notes[0].body
    );
    assert!(!notes
        .iter()
        .any(|n| n.level == NotificationLevel::Success
            && n.job_id.as_deref() == Some(job.id.as_str())));
    assert!(
        ids::same(&w.os_disk_of(&desk.name).await, &desk.provider_id),
        "the old disk is still in place"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_restore_resumes_and_completes_once() {
    let w = azure_world().await;
    let desk = w.running_desktop(4).await;
    let b = w.backup(&desk, "p4").await;
    let cancel = CancelFlag::new();
    let stop = cancel.clone();
    let sink = Seen::with(Box::new(move |p| {
        if p.step.starts_with("deallocating") {
            stop.cancel();
        }
    }));
    let e = w
        .restore(&b, Some(&desk.name), &sink, cancel)
        .await
        .unwrap_err();
    assert!(matches!(e, RestoreError::Job(JobError::Cancelled)), "{e:?}");
    let job = w
        .catalog
        .lock()
        .recent_jobs(10)
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "restore")
        .unwrap();
    assert_eq!(job.state, JobState::Cancelled);

    // `standbyctl jobs resume` and the app at start resume what was left; a cancelled job is
    // resumed on demand, by its kind's resume.
    let out = restore::resume(
        &w.report(),
        w.store.as_ref(),
        &Seen::new(),
        &job,
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert!(out.powered_on);
    let record = w.catalog.lock().job(&job.id).unwrap().unwrap();
    assert_eq!(record.state, JobState::Succeeded);
    assert_eq!(
        lab_power(&w.lab, &desk.name),
        "running",
        "powered on again: it was on before"
    );
    let now_disk = w.os_disk_of(&desk.name).await;
    assert!(!ids::same(&now_disk, &desk.provider_id));
    // Exactly one safety snapshot and one new disk for this job.
    let short: String = job.id.chars().filter(|c| *c != '-').take(12).collect();
    let arm = client(&w.lab);
    let snaps = arm.list_snapshots(&rg(&w.lab)).await.unwrap();
    assert_eq!(snaps.iter().filter(|s| s.name.contains(&short)).count(), 1);
    let disks = arm.list_disks(&rg(&w.lab)).await.unwrap();
    assert_eq!(
        disks
            .iter()
            .filter(|d| d.name.ends_with(&format!("-r{short}")))
            .count(),
        1
    );
    let safety_rows = w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .into_iter()
        .filter(|b| b.kind == BackupKind::Safety)
        .count();
    assert_eq!(safety_rows, 1);
}
