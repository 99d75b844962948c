//! Autogrow against the in-process lab, on both providers: a disk filled past the threshold is
//! grown by the increment at the provider (a Prism VM disk and volume group; an Azure personal
//! drive online and the OS disk of a deallocated VM), with a notification and an audit entry;
//! never past the maximum; a running Azure VM's OS disk waits (reported once) and grows once its VM
//! is deallocated; without a guest agent nothing grows and the outcome says why; a failing Prism
//! task is a failure; a job killed mid-growth and resumed does not grow twice.

mod azure_support;
mod world;

use std::sync::Arc;

use azure_support::{disk_id, vm_id};
use serde_json::json;
use standby_core::autogrow::{self, Action, AutogrowChange, AutogrowOutcome, Decision, GIB};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::{DiscoveredResource, ResourceKind};
use standby_core::jobs::{JobState, NoProgress, ProgressSink};
use standby_core::notifications::NotificationLevel;
use world::{Options, Seen, World, FRAME};

const AHV: &str = "lab-ahv-primary";
const AZURE: &str = "lab-azure";
const CLUSTER: &str = "ahv-primary";

/// The lab's accounts registered as the app registers them (guest agents included).
async fn app_world() -> World {
    World::with(Options {
        as_the_app: true,
        ..Options::default()
    })
    .await
}

impl World {
    fn set(&self, account: &str, change: AutogrowChange) {
        autogrow::update(
            &self.report(),
            self.store.as_ref(),
            account,
            &change,
            "test",
        )
        .unwrap();
    }

    fn on(&self, account: &str, max_gb: Option<u32>) {
        self.set(
            account,
            AutogrowChange {
                enabled: Some(true),
                max_gb: Some(max_gb),
                ..Default::default()
            },
        );
    }

    async fn check(&self, account: &str) -> AutogrowOutcome {
        self.check_with(account, &NoProgress).await
    }

    async fn check_with(&self, account: &str, sink: &dyn ProgressSink) -> AutogrowOutcome {
        autogrow::check_account(
            &self.report(),
            self.store.as_ref(),
            sink,
            account,
            FRAME,
            "test",
            CancelFlag::new(),
        )
        .await
        .expect("the check runs")
    }

    /// The seed leaves some volumes nearly full, as a real account would have: a first check
    /// grows exactly those (or reports them waiting), so the tests' own fills are what follows.
    async fn settle(&self, account: &str) {
        let first = self.check(account).await;
        assert_eq!(first.failed, 0, "{first:#?}");
        for v in &first.volumes {
            let short = v.free_bytes.is_some_and(|f| f < 5.0 * GIB);
            match &v.action {
                Action::Grown { .. } | Action::Pending { .. } => {
                    assert!(short, "{} grew with room to spare: {v:#?}", v.name)
                }
                Action::Nothing => assert!(
                    !short || !matches!(v.decision, Decision::Grow { .. }),
                    "{v:#?}"
                ),
                other => panic!("{}: {other:?}", v.name),
            }
        }
    }

    fn autogrow_jobs(&self) -> Vec<standby_core::jobs::JobRecord> {
        self.catalog
            .lock()
            .recent_jobs(100)
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == autogrow::JOB_KIND)
            .collect()
    }

    /// Prism: the disk size of a VM or volume group, from the lab's Prism API view.
    async fn prism_size(&self, name: &str) -> f64 {
        self.resources(AHV)
            .await
            .into_iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .size_bytes
    }

    async fn prism_fill(&self, body: serde_json::Value) {
        self.control(
            reqwest::Method::POST,
            &format!("prism/{CLUSTER}/disks/fill"),
            Some(body),
        )
        .await;
    }

    async fn azure_size_gb(&self, disk: &str) -> u64 {
        azure_support::client(&self.lab)
            .get_disk(&disk_id(&self.lab, disk))
            .await
            .unwrap()
            .properties
            .disk_size_gb
            .unwrap()
    }

    async fn azure_fill_free(&self, disk: &str, free_gb: f64) {
        self.control(
            reqwest::Method::POST,
            &format!("azure/disks/{disk}/fill"),
            Some(json!({ "free_gb": free_gb })),
        )
        .await;
    }
}

fn volume<'a>(o: &'a AutogrowOutcome, name: &str) -> &'a autogrow::VolumeCheck {
    o.volumes
        .iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the outcome: {o:#?}"))
}

const G: f64 = GIB;

/// A volume at its maximum is not grown. A check whose guest figures show nothing that could grow
/// does not list volumes at all (it does not ask the provider); otherwise it says why.
fn assert_at_max(o: &AutogrowOutcome, name: &str) {
    assert_eq!(o.grown, 0, "{o:#?}");
    if let Some(v) = o.volumes.iter().find(|v| v.name == name) {
        assert!(matches!(v.decision, Decision::AtMaximum { .. }), "{v:#?}");
        assert_eq!(v.action, Action::Nothing);
    }
}

#[tokio::test]
async fn prism_vm_disk_and_volume_group_grow_by_the_increment_never_past_the_maximum() {
    let w = app_world().await;
    // Tasks take a few lab seconds: run the lab clock fast.
    w.lab.clock.set_scale(20.0);
    w.on(AHV, None);
    w.settle(AHV).await;
    // Every volume has room now: nothing grows, and the provider is not even asked.
    let quiet = w.check(AHV).await;
    assert_eq!(
        (quiet.grown, quiet.failed, quiet.pending),
        (0, 0, 0),
        "{quiet:#?}"
    );
    assert!(
        quiet.volumes.is_empty(),
        "a quiet check does not list volumes"
    );
    assert!(quiet.guest_source.is_some());

    let desk = "acme-pd-desk-0001";
    let drive = "acme-pd-pdrive-0001";
    let (desk_before, drive_before) = (w.prism_size(desk).await, w.prism_size(drive).await);
    w.prism_fill(json!({"vm": desk, "free_bytes": (3.2 * G) as u64}))
        .await;
    w.prism_fill(json!({"volume_group": drive, "free_bytes": (1.0 * G) as u64}))
        .await;

    let out = w.check(AHV).await;
    assert_eq!((out.grown, out.failed), (2, 0), "{out:#?}");
    assert!(matches!(volume(&out, desk).action, Action::Grown { .. }));
    assert_eq!(w.prism_size(desk).await, desk_before + 10.0 * G);
    assert_eq!(w.prism_size(drive).await, drive_before + 10.0 * G);
    let expected = format!(
        "Grew {desk} from {} to {}: 3.2 GB free was below 5 GB.",
        autogrow::gb(desk_before),
        autogrow::gb(desk_before + 10.0 * G)
    );
    let notes = w.notes();
    assert!(
        notes
            .iter()
            .any(|n| n.level == NotificationLevel::Success && n.body == expected),
        "{expected:?} not in {notes:#?}"
    );
    let jobs = w.autogrow_jobs();
    assert!(jobs.iter().all(|j| j.state == JobState::Succeeded));
    let audit = w.catalog.lock().audit_entries(500).unwrap();
    let grown: Vec<_> = audit.iter().filter(|e| e.action == "autogrow").collect();
    assert_eq!(grown.len(), jobs.len(), "one audit entry per growth");
    assert!(grown
        .iter()
        .any(|e| e.detail["volume"] == desk && e.job_id.is_some()));
    assert!(audit
        .iter()
        .any(|e| e.action == "autogrow.set" && e.actor == "test"));

    // The guest now sees the room: the next check grows nothing a second time.
    let again = w.check(AHV).await;
    assert_eq!(again.grown, 0, "{again:#?}");
    assert_eq!(w.prism_size(desk).await, desk_before + 10.0 * G);

    // A maximum 6 GB above the new size: the next growth is capped there, then nothing more.
    let max = ((desk_before + 10.0 * G) / G) as u32 + 6;
    w.on(AHV, Some(max));
    w.prism_fill(json!({"vm": desk, "free_bytes": G as u64}))
        .await;
    let capped = w.check(AHV).await;
    assert_eq!(capped.grown, 1, "{capped:#?}");
    assert_eq!(w.prism_size(desk).await, f64::from(max) * G);
    w.prism_fill(json!({"vm": desk, "free_bytes": G as u64}))
        .await;
    let at_max = w.check(AHV).await;
    assert_eq!(at_max.grown, 0);
    assert_at_max(&at_max, desk);
    assert_eq!(w.prism_size(desk).await, f64::from(max) * G);
    assert_eq!(
        w.autogrow_jobs().len(),
        jobs.len() + 1,
        "no job for a volume at its maximum"
    );
}

#[tokio::test]
async fn a_failing_prism_task_is_a_failure_not_a_success() {
    let w = app_world().await;
    w.lab.clock.set_scale(20.0);
    w.on(AHV, None);
    w.settle(AHV).await;
    let successes = w
        .notes()
        .iter()
        .filter(|n| n.level == NotificationLevel::Success)
        .count();
    let drive = "acme-pd-profile-0002";
    let before = w.prism_size(drive).await;
    w.control(
        reqwest::Method::POST,
        &format!("prism/{CLUSTER}/faults/tasks"),
        Some(json!({"kind": "vg_disk_update", "count": 1, "error_code": 1203, "message": "Storage pool is out of space"})),
    )
    .await;
    w.prism_fill(json!({"volume_group": drive, "free_bytes": G as u64}))
        .await;
    let out = w.check(AHV).await;
    assert_eq!((out.grown, out.failed), (0, 1), "{out:#?}");
    match &volume(&out, drive).action {
        Action::Failed { error, job_id } => {
            assert!(error.contains("Storage pool is out of space"), "{error}");
            let job = w
                .catalog
                .lock()
                .job(job_id.as_deref().unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(job.state, JobState::Failed);
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert_eq!(
        w.prism_size(drive).await,
        before,
        "a failed task changes nothing"
    );
    let notes = w.notes();
    assert!(notes.iter().any(|n| n.level == NotificationLevel::Error
        && n.body.contains(drive)
        && n.body.contains("out of space")));
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.level == NotificationLevel::Success)
            .count(),
        successes,
        "no success for the failed growth"
    );
}

#[tokio::test]
async fn without_a_guest_agent_or_with_autogrow_off_nothing_grows_and_the_outcome_says_why() {
    let w = app_world().await;
    let desk = "acme-pd-desk-0002";
    let before = w.prism_size(desk).await;
    w.prism_fill(json!({"vm": desk, "free_bytes": G as u64}))
        .await;

    // Off by default.
    let off = w.check(AHV).await;
    assert!(
        off.not_checked
            .as_deref()
            .unwrap()
            .contains("autogrow is off"),
        "{off:#?}"
    );

    w.on(AHV, None);
    let id = w
        .catalog
        .lock()
        .list_accounts()
        .unwrap()
        .into_iter()
        .find(|a| a.name == AHV)
        .unwrap()
        .id;
    w.catalog
        .lock()
        .set_guest_agent(&id, None, "2026-01-01T00:00:00Z")
        .unwrap();
    let out = w.check(AHV).await;
    assert_eq!((out.grown, out.failed), (0, 0));
    let why = out.not_checked.as_deref().unwrap();
    assert!(why.contains("no guest agent"), "{why}");
    assert!(out.guest_source.is_none());
    assert_eq!(w.prism_size(desk).await, before);
    assert!(w.autogrow_jobs().is_empty());
}

#[tokio::test]
async fn azure_data_disks_grow_online_os_disks_wait_for_deallocation() {
    let w = app_world().await;
    w.on(AZURE, None);
    w.settle(AZURE).await;
    let account_id = w.check(AZURE).await.account_id;
    // Running desktops the seed left short of space wait already: the test picks others.
    let waiting: Vec<String> = autogrow::pending(&w.catalog.lock(), &account_id)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let pend0 = waiting.len() as u32;
    let resources: Vec<DiscoveredResource> = w
        .resources(AZURE)
        .await
        .into_iter()
        .filter(|r| !waiting.contains(&r.provider_id))
        .collect();
    let running = azure_support::running_vms(&w.lab);
    let deallocated = azure_support::deallocated_vms(&w.lab);
    let vm_name = |r: &DiscoveredResource| {
        r.vm_id
            .as_deref()
            .and_then(|v| v.rsplit('/').next())
            .unwrap_or_default()
            .to_string()
    };
    // A personal drive attached to a running desktop: grows online.
    let drive = resources
        .iter()
        .find(|r| r.kind == ResourceKind::PersonalDrive && running.contains(&vm_name(r)))
        .expect("a personal drive on a running desktop");
    let drive_disk = drive.provider_id.rsplit('/').next().unwrap().to_string();
    // A running desktop's OS disk, and a deallocated one's.
    let hot = resources
        .iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop && running.contains(&r.name))
        .expect("a running desktop");
    let cold = resources
        .iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop && deallocated.contains(&r.name))
        .expect("a deallocated desktop");
    let hot_disk = format!("{}-osdisk", hot.name);
    let cold_disk = format!("{}-osdisk", cold.name);
    let sizes = (
        w.azure_size_gb(&drive_disk).await,
        w.azure_size_gb(&hot_disk).await,
        w.azure_size_gb(&cold_disk).await,
    );
    w.azure_fill_free(&drive_disk, 2.0).await;
    w.azure_fill_free(&hot_disk, 4.5).await;
    w.azure_fill_free(&cold_disk, 0.5).await;

    let out = w.check(AZURE).await;
    assert_eq!(
        (out.grown, out.pending, out.failed),
        (2, pend0 + 1, 0),
        "{out:#?}"
    );
    assert_eq!(w.azure_size_gb(&drive_disk).await, sizes.0 + 10);
    assert_eq!(w.azure_size_gb(&cold_disk).await, sizes.2 + 10);
    assert_eq!(
        w.azure_size_gb(&hot_disk).await,
        sizes.1,
        "not grown while running"
    );
    match &volume(&out, &hot.name).action {
        Action::Pending { why } => assert!(why.contains("deallocated"), "{why}"),
        other => panic!("expected pending, got {other:?}"),
    }
    assert_eq!(
        w.lab_power(&hot.name),
        "running",
        "the desktop was not powered off"
    );
    let waits = |w: &World| {
        w.notes()
            .iter()
            .filter(|n| n.level == NotificationLevel::Warning && n.title.contains(&hot.name))
            .count()
    };
    assert_eq!(waits(&w), 1);
    assert!(w.notes().iter().any(|n| n.body
        == format!(
            "Grew {drive_disk} from {} GB to {} GB: 2 GB free was below 5 GB.",
            sizes.0,
            sizes.0 + 10
        )));

    // Still running at the next check: still waiting, and said only once.
    let again = w.check(AZURE).await;
    assert_eq!((again.grown, again.pending), (0, pend0 + 1), "{again:#?}");
    assert_eq!(waits(&w), 1);
    let pending = autogrow::pending(&w.catalog.lock(), &account_id).unwrap();
    assert_eq!(pending.len() as u32, pend0 + 1);

    // Deallocated (by its user or Frame, not by Standby): the next check grows it.
    w.lab.clock.set_scale(100.0);
    azure_support::client(&w.lab)
        .deallocate(&vm_id(&w.lab, &hot.name))
        .await
        .unwrap();
    let later = w.check(AZURE).await;
    assert_eq!((later.grown, later.pending), (1, pend0), "{later:#?}");
    assert_eq!(w.azure_size_gb(&hot_disk).await, sizes.1 + 10);
    assert_eq!(
        autogrow::pending(&w.catalog.lock(), &account_id)
            .unwrap()
            .len() as u32,
        pend0
    );

    // A maximum below the current size: nothing grows, nothing shrinks.
    w.on(AZURE, Some(sizes.0 as u32));
    w.azure_fill_free(&drive_disk, 1.0).await;
    let capped = w.check(AZURE).await;
    assert_eq!(capped.grown, 0);
    assert_at_max(&capped, &drive_disk);
    assert_eq!(w.azure_size_gb(&drive_disk).await, sizes.0 + 10);
}

#[tokio::test]
async fn a_growth_killed_mid_step_and_resumed_grows_once() {
    let w = Arc::new(app_world().await);
    w.on(AZURE, None);
    w.settle(AZURE).await;
    let settled = w.autogrow_jobs().len();
    let disk = "acme-pd-pdrive-0003";
    let before = w.azure_size_gb(disk).await;
    w.azure_fill_free(disk, 1.0).await;
    let w2 = w.clone();
    let crashed = tokio::spawn(async move {
        // Dies at the first report of the growth.
        let killer = Seen::dying_at(|p| p.step.starts_with("growing"));
        w2.check_with(AZURE, &killer).await
    })
    .await;
    assert!(crashed.unwrap_err().is_panic(), "killed as planned");
    let jobs = w.autogrow_jobs();
    assert_eq!(jobs.len(), settled + 1);
    let killed = jobs
        .iter()
        .find(|j| j.state == JobState::Running)
        .expect("the killed job is left unfinished");
    // As if the killed attempt's PATCH had reached Azure before the process died.
    azure_support::client(&w.lab)
        .resize_disk(&disk_id(&w.lab, disk), before + 10)
        .await
        .unwrap();

    let resumed = standby_core::resumption::resume_unfinished(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &standby_core::limits::Limits::default(),
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert_eq!(resumed.len(), 1);
    assert!(resumed[0].ok, "{resumed:?}");
    assert_eq!(
        w.azure_size_gb(disk).await,
        before + 10,
        "grown once, not twice"
    );
    let job = w.catalog.lock().job(&killed.id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.outcome.unwrap()["already"], true);
    // And a new check finds nothing to do.
    let after = w.check(AZURE).await;
    assert_eq!(after.grown, 0, "{after:#?}");
}

impl World {
    fn lab_power(&self, vm: &str) -> String {
        azure_support::lab_power(&self.lab, vm)
    }
}
