//! Backing up one Azure volume now, against the in-process lab: the snapshot in the primary
//! region named after the job, its replica followed to 100% in the secondary when DR is on, the
//! catalog rows, the job's record and the notification center; refusals that leave nothing
//! behind; a copy that fails; and a job killed mid-step and resumed that makes nothing twice.

mod azure_support;
mod world;

use azure_support::{client, dr_rg, rg, speed_up, PRIMARY, SECONDARY};
use standby_core::backup::{self, Backup, BackupError, BackupRequest, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::{DiscoveredResource, ResourceKind};
use standby_core::jobs::{JobError, JobState};
use standby_core::notifications::NotificationLevel;
use standby_core::providers::azure::snapshots::CopyState;
use standby_core::providers::azure::{normalize_location, ResourceId};
use world::{Options, Providers, Seen, World, FRAME};

/// The lab's subscription as account `azure` (no guest agent, no clusters), with DR to the
/// secondary region when `dr`.
async fn azure_world(dr: bool) -> World {
    let w = World::with(Options {
        providers: Providers::Azure,
        guest_agents: false,
        ..Options::default()
    })
    .await;
    if dr {
        w.enable_azure_dr().await;
    }
    w
}

impl World {
    async fn desktop(&self) -> DiscoveredResource {
        self.resources("azure")
            .await
            .into_iter()
            .find(|r| r.kind == ResourceKind::PersistentDesktop)
            .expect("a persistent desktop")
    }

    fn request(&self, volume: &str, name: &str) -> BackupRequest {
        BackupRequest {
            account: "azure".into(),
            frame_account: FRAME.into(),
            volume: volume.into(),
            name: name.into(),
            kind: backup::BackupKind::Manual,
        }
    }

    async fn backup(&self, volume: &str, name: &str) -> Result<Vec<Backup>, BackupError> {
        self.backup_now(self.request(volume, name), &Seen::new())
            .await
    }

    /// Names of the lab's snapshots in `group` made by `job` (its names carry the job id).
    async fn snapshots_of(&self, group: &str, job: &str) -> Vec<String> {
        let short: String = job.chars().filter(|c| *c != '-').take(12).collect();
        client(&self.lab)
            .list_snapshots(group)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .filter(|n| n.contains(&short))
            .collect()
    }
}

fn disk_name(r: &DiscoveredResource) -> String {
    ResourceId::parse(&r.provider_id)
        .unwrap()
        .name()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_disk_is_backed_up_and_replicated_when_dr_is_on() {
    let w = azure_world(true).await;
    let desk = w.desktop().await;
    speed_up(&w.lab, 500.0);
    let seen = Seen::new();
    // The VM's name stands for its OS disk.
    let rows = w
        .backup_now(w.request(&desk.name, "before the upgrade"), &seen)
        .await
        .unwrap();

    assert_eq!(rows.len(), 2, "{rows:#?}");
    let (primary, replica) = (&rows[0], &rows[1]);
    let job_id = primary.job_id.clone().unwrap();
    let short: String = job_id.chars().filter(|c| *c != '-').take(12).collect();
    assert_eq!(primary.site, BackupSite::Primary);
    assert_eq!(primary.state, BackupState::Available);
    assert_eq!(primary.name, "before the upgrade");
    assert_eq!(primary.volume_name, disk_name(&desk));
    assert!(primary.volume_name.ends_with("-osdisk"));
    assert_eq!(normalize_location(&primary.location), PRIMARY);
    assert!(primary
        .provider_ref
        .as_deref()
        .unwrap()
        .ends_with(&format!("standby-{short}-snap")));
    assert_eq!(replica.site, BackupSite::Replica);
    assert_eq!(replica.state, BackupState::Available);
    assert_eq!(replica.percent, 100.0);
    assert_eq!(replica.replica_of.as_deref(), Some(primary.id.as_str()));
    assert_eq!(normalize_location(&replica.location), SECONDARY);

    // What Azure (the lab) holds: the snapshot of that disk in the primary region, and a finished
    // copy of it in the secondary.
    let arm = client(&w.lab);
    let snap = arm
        .get_snapshot(&ResourceId::parse(primary.provider_ref.as_ref().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(normalize_location(&snap.location), PRIMARY);
    assert!(standby_core::providers::azure::ids::same(
        snap.source_resource_id().unwrap(),
        &desk.provider_id
    ));
    let copy = arm
        .get_snapshot(&ResourceId::parse(replica.provider_ref.as_ref().unwrap()).unwrap())
        .await
        .unwrap();
    assert_eq!(normalize_location(&copy.location), SECONDARY);
    assert_eq!(copy.copy_state(), CopyState::Done);
    assert_eq!(w.snapshots_of(&rg(&w.lab), &job_id).await.len(), 1);
    assert_eq!(w.snapshots_of(&dr_rg(&w.lab), &job_id).await.len(), 1);

    let job = w.catalog.lock().job(&job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.kind, "backup");
    assert_eq!(job.params["name"], "before the upgrade");
    let steps: Vec<String> = w
        .catalog
        .lock()
        .job_steps(&job_id)
        .unwrap()
        .into_iter()
        .filter(|s| s.done)
        .map(|s| s.name)
        .collect();
    assert_eq!(steps, ["snapshot", "copy", "follow"]);

    // Progress went through the sink, climbing, with the copy's percentage.
    let reports = seen.reports.lock().clone();
    assert!(reports.iter().any(|p| p.step.contains("replicating")));
    assert!(reports.windows(2).all(|w| w[0].percent <= w[1].percent));

    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
    assert_eq!(notes[0].job_id.as_deref(), Some(job_id.as_str()));
    assert!(
        notes[0].body.contains(&format!(
            "Backup «before the upgrade» of {} taken; replica in {SECONDARY} ready",
            primary.volume_name
        )),
        "{}",
        notes[0].body
    );

    // The catalog lists them by account and by volume (disk name or id).
    let account_id = w.account_id("azure");
    let c = w.catalog.lock();
    assert_eq!(c.list_backups(Some(&account_id), None).unwrap().len(), 2);
    assert_eq!(
        c.list_backups(None, Some(&desk.provider_id.to_uppercase()))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        c.list_backups(None, Some(&primary.volume_name))
            .unwrap()
            .len(),
        2
    );
    assert!(c
        .list_backups(None, Some("acme-pd-desk-none"))
        .unwrap()
        .is_empty());
    assert!(c.list_backups(Some("no-account"), None).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_dr_only_the_primary_backup_is_taken() {
    let w = azure_world(false).await;
    let desk = w.desktop().await;
    let rows = w
        .backup(&disk_name(&desk), "nightly by hand")
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(rows[0].site, BackupSite::Primary);
    assert_eq!(rows[0].state, BackupState::Available);
    let job_id = rows[0].job_id.clone().unwrap();
    assert_eq!(w.snapshots_of(&rg(&w.lab), &job_id).await.len(), 1);
    assert!(w.snapshots_of(&dr_rg(&w.lab), &job_id).await.is_empty());
    let steps = w.catalog.lock().job_steps(&job_id).unwrap();
    assert_eq!(steps.len(), 1);
    w.assert_latest_note(NotificationLevel::Success, "not replicated");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_image_an_unknown_volume_or_no_name_is_refused_leaving_nothing() {
    let w = azure_world(true).await;
    let template = w
        .resources("azure")
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::TemplateImage)
        .expect("the seed has a template image");
    let notes_before = w.notes().len();

    let e = w.backup(&disk_name(&template), "img").await.unwrap_err();
    assert!(matches!(e, BackupError::NotProtected { .. }), "{e:?}");
    assert!(e.to_string().contains("not backed up"), "{e}");

    let e = w.backup("acme-pd-desk-9999", "x").await.unwrap_err();
    assert!(matches!(e, BackupError::UnknownVolume { .. }), "{e:?}");
    assert!(e.to_string().contains("inventory list"), "{e}");
    let api: standby_core::ApiError = e.into();
    assert_eq!(api.code, standby_core::ErrorCode::NotFound);

    let desk = w.desktop().await;
    let e = w.backup(&desk.name, "  ").await.unwrap_err();
    assert!(matches!(e, BackupError::EmptyName), "{e:?}");

    // Nothing was made: no row, no job left behind, no snapshot, no notification.
    w.assert_no_backup_and_no_job_left();
    let made: Vec<String> = client(&w.lab)
        .list_snapshots(&rg(&w.lab))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .filter(|n| n.starts_with("standby-"))
        .collect();
    assert!(made.is_empty(), "{made:?}");
    assert_eq!(w.notes().len(), notes_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_copy_fails_the_job_and_the_replica_but_keeps_the_primary() {
    let w = azure_world(true).await;
    let desk = w.desktop().await;
    speed_up(&w.lab, 500.0);
    w.lab.azure_lab().fail_next_copies(1);
    let e = w.backup(&desk.name, "doomed copy").await.unwrap_err();
    assert!(
        matches!(e, BackupError::Job(JobError::Operation(_))),
        "{e:?}"
    );
    assert!(e.to_string().contains("CopySourceNotFound"), "{e}");

    let rows = w.catalog.lock().list_backups(None, None).unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let primary = rows.iter().find(|b| b.site == BackupSite::Primary).unwrap();
    let replica = rows.iter().find(|b| b.site == BackupSite::Replica).unwrap();
    assert_eq!(primary.state, BackupState::Available);
    assert_eq!(replica.state, BackupState::Failed);
    assert!(replica
        .error
        .as_deref()
        .unwrap()
        .contains("CopySourceNotFound"));
    assert!(replica.percent > 0.0 && replica.percent < 100.0);

    let job_id = primary.job_id.clone().unwrap();
    let job = w.catalog.lock().job(&job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error.unwrap().contains("CopySourceNotFound"));

    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Error, "{notes:#?}");
    assert!(notes[0].body.contains("CopySourceNotFound"));
    assert!(notes[0].body.contains("is available"), "{}", notes[0].body);
    assert!(
        !notes
            .iter()
            .any(|n| n.job_id.as_deref() == Some(job_id.as_str())
                && n.level == NotificationLevel::Success),
        "never a false success"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_mid_copy_and_cancelled_mid_follow_resumes_without_making_anything_twice() {
    let w = azure_world(true).await;
    let desk = w.desktop().await;

    // 1. The process dies inside the `copy` step, after Azure accepted the copy and before the
    //    step was recorded done (the lab's clock is frozen, so the copy does not progress).
    w.kill_backup_when(w.request(&desk.name, "survives a crash"), |p| {
        p.step.starts_with("copy to")
    })
    .await;
    let job = {
        let unfinished = w.catalog.lock().unfinished_jobs().unwrap();
        assert_eq!(unfinished.len(), 1);
        unfinished[0].clone()
    };
    assert_eq!(job.state, JobState::Running);
    w.assert_steps(&job.id, &[("snapshot", true), ("copy", false)]);
    assert_eq!(w.snapshots_of(&dr_rg(&w.lab), &job.id).await.len(), 1);

    // 2. Resumed: the copy step runs again and adopts the copy already started; then the job is
    //    cancelled while it follows the copy.
    let cancel = CancelFlag::new();
    let stop = cancel.clone();
    let sink = Seen::with(Box::new(move |p| {
        if p.step.starts_with("replicating") {
            stop.cancel();
        }
    }));
    let e = backup::resume(&w.report(), w.store.as_ref(), &sink, &job, cancel)
        .await
        .unwrap_err();
    assert!(matches!(e, BackupError::Job(JobError::Cancelled)), "{e:?}");
    let record = w.catalog.lock().job(&job.id).unwrap().unwrap();
    assert_eq!(record.state, JobState::Cancelled);
    let rows = w.catalog.lock().list_backups(None, None).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows
        .iter()
        .any(|b| b.site == BackupSite::Replica && b.state == BackupState::Replicating));
    assert_eq!(w.notes()[0].level, NotificationLevel::Warning);

    // 3. Resumed again, with time running: it finishes.
    speed_up(&w.lab, 500.0);
    let rows = w.resume_backup(&record).await.unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|b| b.state == BackupState::Available));
    assert_eq!(w.catalog.lock().list_backups(None, None).unwrap().len(), 2);
    assert_eq!(w.snapshots_of(&rg(&w.lab), &job.id).await.len(), 1);
    assert_eq!(w.snapshots_of(&dr_rg(&w.lab), &job.id).await.len(), 1);
    // Nothing else was snapshotted or copied, under any name.
    let lab_snapshots = azure_support::azure_state(&w.lab)["snapshots"]
        .as_object()
        .unwrap()
        .values()
        .filter(|s| s["name"].as_str().unwrap().starts_with("standby-"))
        .count();
    assert_eq!(lab_snapshots, 2);
    let record = w.catalog.lock().job(&job.id).unwrap().unwrap();
    assert_eq!(record.state, JobState::Succeeded);
    let steps = w.catalog.lock().job_steps(&job.id).unwrap();
    assert!(steps.iter().all(|s| s.done));
    assert_eq!(steps.len(), 3);
    assert_eq!(w.notes()[0].level, NotificationLevel::Success);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_killed_after_its_snapshot_was_taken_does_not_take_a_second_one() {
    let w = azure_world(false).await;
    let desk = w.desktop().await;
    // Dies inside the `snapshot` step: Azure made the snapshot, the journal does not say so.
    w.kill_backup_when(w.request(&desk.name, "crash after the snapshot"), |p| {
        p.step.ends_with("taken")
    })
    .await;
    let job = w.catalog.lock().unfinished_jobs().unwrap().remove(0);
    let steps = w.catalog.lock().job_steps(&job.id).unwrap();
    assert_eq!(steps.len(), 1);
    assert!(!steps[0].done);
    let before = client(&w.lab)
        .list_snapshots(&rg(&w.lab))
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name.starts_with("standby-"))
        .expect("the snapshot was made before the crash");

    // Time passes, so a second snapshot would be told apart by its creation time.
    azure_support::advance(&w.lab, 120);
    let rows = w.resume_backup(&job).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, BackupState::Available);
    let after: Vec<_> = client(&w.lab)
        .list_snapshots(&rg(&w.lab))
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.name.starts_with("standby-"))
        .collect();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].properties.unique_id, before.properties.unique_id);
    assert_eq!(
        after[0].properties.time_created, before.properties.time_created,
        "the snapshot was not taken again"
    );
    assert_eq!(w.catalog.lock().list_backups(None, None).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn at_start_a_killed_backup_is_finished_and_an_unknown_kind_is_left_alone() {
    let w = azure_world(false).await;
    let desk = w.desktop().await;
    w.kill_backup_when(
        w.request(&desk.name, "killed, then resumed at start"),
        |p| p.step.ends_with("taken"),
    )
    .await;
    // A job from a newer Standby that this one does not know.
    let foreign = standby_core::jobs::Jobs {
        catalog: &w.catalog,
        clock: w.clock.clone(),
        sink: &standby_core::jobs::NoProgress,
    }
    .create("teleport", None, serde_json::json!({}))
    .unwrap();
    assert_eq!(w.catalog.lock().unfinished_jobs().unwrap().len(), 2);

    let resumed = standby_core::resumption::resume_unfinished(
        &w.report(),
        w.store.as_ref(),
        &Seen::new(),
        &standby_core::limits::Limits::default(),
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert_eq!(resumed.len(), 2);
    let backup = resumed.iter().find(|r| r.kind == "backup").unwrap();
    assert!(backup.ok, "{backup:?}");
    let other = resumed.iter().find(|r| r.kind == "teleport").unwrap();
    assert!(!other.ok);
    assert!(other.detail.contains("does not know"), "{other:?}");
    let left = w.catalog.lock().unfinished_jobs().unwrap();
    assert_eq!(left.len(), 1, "only the unknown job is left unfinished");
    assert_eq!(left[0].id, foreign.id);
    assert_eq!(
        left[0].state,
        JobState::Queued,
        "left as it was, not guessed at"
    );
    let rows = w.catalog.lock().list_backups(None, None).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, BackupState::Available);
}
