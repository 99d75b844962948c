//! Cloning persistent desktops from `acme-pd` on the lab's primary cluster to `acme-dr` on its
//! secondary: new desktops appear on the secondary and the source runs again; owners who already
//! have a desktop there are skipped, or replaced when asked; a user in session makes the clone
//! wait and then fail, leaving every desktop as it was; a failing restore task is a failure.

mod world;

use serde_json::json;
use standby_core::cancel::CancelFlag;
use standby_core::clone::{self, CloneError, CloneRequest, DesktopAction};
use standby_core::inventory::{DesktopState, DiscoveredResource, ResourceKind};
use standby_core::jobs::{JobState, NoProgress};
use standby_core::notifications::NotificationLevel;
use standby_core::providers::prism::types::VmPowerState;
use standby_core::restore::CheckStatus;
use world::{World, FRAME};

const DEST_FRAME: &str = "acme-dr";

fn request(volumes: &[&str]) -> CloneRequest {
    CloneRequest {
        source_account: "primary".into(),
        destination_account: "secondary".into(),
        frame_account: FRAME.into(),
        destination_frame_account: Some(DEST_FRAME.into()),
        replace_assigned: false,
        keep_running: false,
        volumes: volumes.iter().map(|v| v.to_string()).collect(),
        session_timeout_secs: None,
        actor: "test".into(),
    }
}

fn assigned(list: Vec<DiscoveredResource>) -> Vec<DiscoveredResource> {
    list.into_iter()
        .filter(|r| {
            r.kind == ResourceKind::PersistentDesktop
                && r.desktop_state == Some(DesktopState::Assigned)
                && r.owner.is_some()
        })
        .collect()
}

/// A lab with DR on, replication fast, and the assigned desktops of both accounts.
async fn world() -> (World, Vec<DiscoveredResource>, Vec<DiscoveredResource>) {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    // The whole protection domain is replicated: a fast link keeps the tests short.
    w.set_prism_bandwidth(200_000_000_000).await;
    w.speed_up(200.0);
    let source = assigned(w.resources("primary").await);
    let dest = assigned(w.resources_of("secondary", DEST_FRAME).await);
    (w, source, dest)
}

fn shares_owner(d: &DiscoveredResource, others: &[DiscoveredResource]) -> bool {
    others.iter().any(|o| {
        o.owner
            .as_deref()
            .zip(d.owner.as_deref())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
    })
}

/// Source desktops whose owner has no desktop on the destination, running with nobody in session.
async fn idle_running(
    w: &World,
    source: &[DiscoveredResource],
    dest: &[DiscoveredResource],
    n: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    for d in source.iter().filter(|d| !shares_owner(d, dest)) {
        if out.len() == n {
            break;
        }
        let guests = w.prism_guests().await;
        let (power, in_session) = guests.get(&d.name).cloned().unwrap_or_default();
        if power != "on" {
            continue;
        }
        if in_session {
            w.prism_session(&d.name, false).await;
        }
        out.push(d.name.clone());
    }
    assert_eq!(out.len(), n, "enough running desktops in the lab");
    out
}

async fn plan_clone(w: &World, req: &CloneRequest) -> Result<clone::ClonePlan, CloneError> {
    clone::plan(&w.report(), w.store.as_ref(), req).await
}

async fn run_clone(w: &World, req: CloneRequest) -> Result<clone::CloneOutcome, CloneError> {
    clone::run(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &standby_core::limits::Limits::default(),
        req,
        CancelFlag::new(),
    )
    .await
}

/// How many snapshots the source protection domain holds.
async fn pd_snapshots(w: &World) -> usize {
    let pd = standby_core::providers::prism::setup::protection_domain_name(FRAME);
    w.prism("primary").snapshots(&pd, &[]).await.unwrap().len()
}

async fn secondary_vms(w: &World) -> Vec<(String, String, bool)> {
    w.prism("secondary")
        .vms()
        .await
        .unwrap()
        .into_iter()
        .map(|v| (v.name, v.uuid, v.power_state == Some(VmPowerState::On)))
        .collect()
}

async fn power_of(w: &World, vm: &str) -> String {
    w.prism_guests()
        .await
        .get(vm)
        .cloned()
        .unwrap_or_default()
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn desktops_are_cloned_as_new_desktops_and_the_source_runs_again() {
    let (w, source, dest) = world().await;
    let picked = idle_running(&w, &source, &dest, 2).await;
    let mut req = request(&[&picked[0], &picked[1]]);
    req.keep_running = true;

    let plan = plan_clone(&w, &req).await.unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert_eq!(plan.remote_site.as_deref(), Some("secondary"));
    assert_eq!(plan.desktops.len(), 2);
    for d in &plan.desktops {
        assert!(matches!(d.action, DesktopAction::Clone { .. }), "{d:#?}");
        assert!(d.running);
    }
    let power = plan
        .checks
        .iter()
        .find(|c| c.name == "Desktop power")
        .unwrap();
    assert_eq!(power.status, CheckStatus::Warning);

    let out = run_clone(&w, req).await.unwrap();
    assert_eq!(out.cloned.len(), 2);
    assert_eq!(out.source_powered_on.len(), 2, "{out:#?}");
    let vms = secondary_vms(&w).await;
    for c in &out.cloned {
        assert!(c.new_name.starts_with("clone-") && c.new_name.ends_with(&c.source));
        let (_, uuid, on) = vms
            .iter()
            .find(|(n, _, _)| *n == c.new_name)
            .unwrap_or_else(|| panic!("{} on the secondary: {vms:?}", c.new_name));
        assert_eq!(uuid, &c.new_uuid);
        assert!(*on && c.powered_on, "keep running powers the clone on");
    }
    for name in &picked {
        assert_eq!(power_of(&w, name).await, "on", "{name} runs again");
    }
    let job = w.catalog.lock().job(&out.job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.kind, "clone");
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
    assert!(notes.iter().any(|n| n.body.contains("started")));
    let audit = w.catalog.lock().audit_entries(10).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "clone" && a.actor == "test"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_with_a_desktop_in_the_destination_is_skipped_unless_replace_is_on() {
    let (w, source, dest) = world().await;
    let shared = source
        .iter()
        .find(|d| shares_owner(d, &dest))
        .expect("the lab's acme-dr shares owners with acme-pd")
        .clone();
    let theirs = dest
        .iter()
        .find(|d| shares_owner(d, std::slice::from_ref(&shared)))
        .unwrap()
        .clone();
    let other = idle_running(&w, &source, &dest, 1).await.remove(0);
    if w.prism_guests()
        .await
        .get(&shared.name)
        .is_some_and(|g| g.1)
    {
        w.prism_session(&shared.name, false).await;
    }

    // Skipped: the other desktop alone is cloned.
    let req = request(&[&shared.name, &other]);
    let plan = plan_clone(&w, &req).await.unwrap();
    let d = plan
        .desktops
        .iter()
        .find(|d| d.name == shared.name)
        .unwrap();
    assert!(
        matches!(&d.action, DesktopAction::Skip { reason } if reason.contains(&theirs.name)),
        "{d:#?}"
    );
    let out = run_clone(&w, req).await.unwrap();
    assert_eq!(out.cloned.len(), 1);
    assert_eq!(out.cloned[0].source, other);
    assert!(
        !out.cloned[0].powered_on,
        "without keep running the clone stays off"
    );
    let vms = secondary_vms(&w).await;
    assert!(!vms
        .iter()
        .any(|(n, _, _)| n.starts_with("clone-") && n.ends_with(&shared.name)));
    assert!(vms
        .iter()
        .any(|(n, _, on)| *n == out.cloned[0].new_name && !on));

    // Replaced: the owner's desktop there is powered off and kept, the clone takes its place.
    let mut req = request(&[&shared.name]);
    req.replace_assigned = true;
    let plan = plan_clone(&w, &req).await.unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert!(matches!(
        &plan.desktops[0].action,
        DesktopAction::Replace { replaces, .. } if *replaces == theirs.name
    ));
    let out = run_clone(&w, req).await.unwrap();
    assert_eq!(
        out.cloned[0].replaced.as_deref(),
        Some(theirs.name.as_str())
    );
    let vms = secondary_vms(&w).await;
    let old = vms
        .iter()
        .find(|(n, _, _)| *n == theirs.name)
        .expect("the replaced desktop is kept");
    assert!(!old.2, "the replaced desktop is powered off");
    assert!(vms.iter().any(|(n, _, _)| *n == out.cloned[0].new_name));
    assert!(w.notes()[0].body.contains("kept"), "{:#?}", w.notes()[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_in_session_makes_the_clone_wait_then_fail_leaving_desktops_as_they_were() {
    let (w, source, dest) = world().await;
    let idle = idle_running(&w, &source, &dest, 1).await.remove(0);
    let busy = source
        .iter()
        .find(|d| d.name != idle && !shares_owner(d, &dest))
        .unwrap()
        .clone();
    w.open_prism_session(&busy.name).await;
    let before = pd_snapshots(&w).await;

    let mut req = request(&[&idle, &busy.name]);
    // Ten minutes of lab time: a few seconds at the lab's speed.
    req.session_timeout_secs = Some(600);
    let plan = plan_clone(&w, &req).await.unwrap();
    let sessions = plan
        .checks
        .iter()
        .find(|c| c.name.starts_with("Users in session"))
        .unwrap();
    assert_eq!(sessions.status, CheckStatus::Warning, "{sessions:#?}");
    let owner = busy.owner.clone().unwrap();
    assert!(sessions.message.contains(&owner), "{}", sessions.message);

    let started = w.clock.now();
    let e = run_clone(&w, req).await.unwrap_err();
    assert!(matches!(e, CloneError::Job(_)), "{e:?}");
    assert!(e.to_string().contains(&owner), "{e}");
    assert!(
        w.clock.now() - started >= chrono::Duration::seconds(600),
        "it waited"
    );
    assert_eq!(power_of(&w, &idle).await, "on", "powered on again");
    let g = w.prism_guests().await;
    assert_eq!(
        g.get(&busy.name).cloned(),
        Some(("on".to_string(), true)),
        "the user works on"
    );
    assert!(!secondary_vms(&w)
        .await
        .iter()
        .any(|(n, _, _)| n.starts_with("clone-")));
    assert_eq!(pd_snapshots(&w).await, before, "no snapshot was taken");
    w.assert_failure_noted("Clone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_restore_task_ends_the_clone_as_a_failure() {
    let (w, source, dest) = world().await;
    let picked = idle_running(&w, &source, &dest, 1).await.remove(0);
    w.control(
        reqwest::Method::POST,
        "prism/ahv-secondary/faults/tasks",
        Some(json!({"kind": "restore_entities", "count": 1, "error_code": 1203, "message": "simulated restore failure"})),
    )
    .await;
    let e = run_clone(&w, request(&[&picked])).await.unwrap_err();
    assert!(e.to_string().contains("simulated restore failure"), "{e}");
    assert_eq!(power_of(&w, &picked).await, "on", "the source runs again");
    let jobs = w.catalog.lock().recent_jobs(10).unwrap();
    let job = jobs.iter().find(|j| j.kind == "clone").unwrap();
    assert_eq!(job.state, JobState::Failed);
    let notes = w.assert_failure_noted("Clone");
    assert!(notes[0].body.contains("simulated restore failure"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_destination_that_is_not_ahv_blocks_the_plan() {
    let (w, _, _) = world().await;
    let mut req = request(&[]);
    req.destination_account = "azure".into();
    let plan = plan_clone(&w, &req).await.unwrap();
    assert!(!plan.can_run);
    let c = plan
        .checks
        .iter()
        .find(|c| c.name == "Destination account")
        .unwrap();
    assert_eq!(c.status, CheckStatus::Blocked);
    let e = run_clone(&w, req).await.unwrap_err();
    assert!(matches!(e, CloneError::Blocked { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clone_waits_for_the_protection_domain_turn_a_backup_holds() {
    let (w, source, dest) = world().await;
    let picked = idle_running(&w, &source, &dest, 1).await;
    let req = request(&[&picked[0]]);
    let limits = standby_core::limits::Limits::default();
    let pd = standby_core::providers::prism::setup::protection_domain_name(FRAME);
    let before = pd_snapshots(&w).await;
    // A backup of the same domain in this process holds its turn (from its mark to its snapshot).
    let turn = limits
        .protection_domain(&w.account_id("primary"), &pd, &CancelFlag::new())
        .await
        .unwrap();
    let report = w.report();
    let clone = clone::run(
        &report,
        w.store.as_ref(),
        &NoProgress,
        &limits,
        req,
        CancelFlag::new(),
    );
    tokio::pin!(clone);
    let waited = tokio::time::timeout(std::time::Duration::from_secs(3), &mut clone).await;
    assert!(
        waited.is_err(),
        "the clone finished while a backup held the domain: {waited:?}"
    );
    assert_eq!(
        pd_snapshots(&w).await,
        before,
        "no clone snapshot while the backup's turn is held"
    );
    drop(turn);
    let out = clone.await.unwrap();
    assert_eq!(out.cloned.len(), 1);
    assert_eq!(pd_snapshots(&w).await, before + 1);
}

/// A clone killed after asking Prism for its snapshot, while the cluster has not taken it yet
/// (the request pending as an out-of-band schedule), resumes by waiting for that request: one
/// snapshot, not two.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_clone_waits_for_the_snapshot_its_first_attempt_asked_for() {
    let (w, source, dest) = world().await;
    let picked = idle_running(&w, &source, &dest, 1).await;
    let pd = standby_core::providers::prism::setup::protection_domain_name(FRAME);
    let prism = w.prism("primary");
    let before = pd_snapshots(&w).await;
    // 600 simulated seconds before a requested snapshot exists: 3 s at the lab's speed.
    w.control(
        reqwest::Method::PUT,
        "prism/ahv-primary/settings",
        Some(json!({"oob_snapshot_delay_secs": 600})),
    )
    .await;
    let limits = standby_core::limits::Limits::default();
    let report = w.report();
    // Boxed, so that dropping it ends it (a `pin!`ned future lives to the end of the scope).
    let mut first = Box::pin(clone::run(
        &report,
        w.store.as_ref(),
        &NoProgress,
        &limits,
        request(&[&picked[0]]),
        CancelFlag::new(),
    ));
    // The first attempt runs until its request is pending, then dies as a killed process does:
    // its future is dropped with the job left running in the catalog.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        tokio::select! {
            out = &mut first => panic!("the clone ended before its snapshot existed: {out:?}"),
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {}
        }
        if !prism.oob_schedules(&pd).await.unwrap().is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no snapshot request");
    }
    drop(first);
    assert_eq!(
        pd_snapshots(&w).await,
        before,
        "the snapshot is still pending"
    );
    let job = w
        .catalog
        .lock()
        .unfinished_jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "clone")
        .expect("the killed clone's job is unfinished");
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(120),
        clone::resume(
            &report,
            w.store.as_ref(),
            &NoProgress,
            &limits,
            &job,
            CancelFlag::new(),
        ),
    )
    .await
    .unwrap_or_else(|_| {
        let steps = w.catalog.lock().job_steps(&job.id);
        panic!("the resumed clone did not end within 120 s; steps: {steps:?}")
    })
    .unwrap();
    assert_eq!(out.cloned.len(), 1);
    // Whatever else the cluster had to do, no second request was made.
    assert!(prism.oob_schedules(&pd).await.unwrap().is_empty());
    assert_eq!(
        pd_snapshots(&w).await,
        before + 1,
        "one snapshot for the clone, its first attempt's"
    );
}
