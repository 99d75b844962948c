//! Restoring an AHV volume against the in-process lab: a desktop restored in place from a
//! protection-domain snapshot (powered off and on again, a safety snapshot first, its contents
//! back to the snapshot's), a failing restore task that ends as a failure, and a replica
//! restored on the DR cluster as a prefixed copy, leaving the primary untouched.

mod world;

use std::ops::Deref;
use std::time::Duration;

use serde_json::{json, Value};
use standby_core::backup::{Backup, BackupKind, BackupSite};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::DiscoveredResource;
use standby_core::jobs::{JobState, NoProgress};
use standby_core::restore::{self, RestoreError};
use world::{Options, Providers, World};

/// The shared lab with its two clusters as accounts (no Azure), DR on between them, lab time
/// sped up, and the protection domain DR made.
struct Dr {
    world: World,
    pd: String,
}

impl Deref for Dr {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl Dr {
    async fn new() -> Self {
        let world = World::with(Options {
            providers: Providers::Ahv,
            ..Options::default()
        })
        .await;
        let pd = world.enable_ahv_dr().await;
        world.speed_up(200.0);
        Self { world, pd }
    }

    async fn guest(&self, cluster: &str, vm: &str) -> Value {
        self.control(
            reqwest::Method::GET,
            &format!("prism/{cluster}/guest/{vm}"),
            None,
        )
        .await
    }

    /// An assigned desktop of the primary, running, with nobody in session.
    async fn desktop(&self, nth: usize) -> DiscoveredResource {
        let d = self.assigned_desktop("primary", nth).await;
        if self.guest("ahv-primary", &d.name).await["in_session"] != json!(true) {
            self.prism_session(&d.name, true).await;
        }
        self.prism_session(&d.name, false).await;
        d
    }

    async fn generation(&self, cluster: &str, vm: &str) -> i64 {
        self.guest(cluster, vm).await["contents_generation"]
            .as_i64()
            .unwrap()
    }

    fn row(
        &self,
        d: &DiscoveredResource,
        site: BackupSite,
        location: &str,
        snapshot: &str,
    ) -> Backup {
        self.known_good(
            "primary",
            (&d.provider_id, &d.name),
            site,
            location,
            format!("{}:{snapshot}", self.pd),
            None,
        )
    }

    /// A snapshot of the DR protection domain on the primary, replicated to the secondary when
    /// `replicate`; returns its id (and the secondary's id of its replica).
    async fn snapshot(&self, replicate: bool) -> (String, Option<String>) {
        let p = self.prism("primary");
        let sites = if replicate {
            vec!["secondary".to_string()]
        } else {
            vec![]
        };
        // The whole account is replicated: a fast link keeps the test short.
        self.set_prism_bandwidth(200_000_000_000).await;
        let taken = p.take_snapshot(&self.pd, &sites, None).await.unwrap();
        let snap = taken.snapshot.expect("listed at once");
        if !replicate {
            return (snap.snapshot_id, None);
        }
        let s = self.prism("secondary");
        for _ in 0..600 {
            if let Ok(list) = s.snapshots(&self.pd, &[]).await {
                if let Some(r) = list
                    .iter()
                    .find(|r| r.snapshot_uuid.is_some() && r.snapshot_uuid == snap.snapshot_uuid)
                {
                    return (snap.snapshot_id, Some(r.snapshot_id.clone()));
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let reps = self.prism("primary").replications(&self.pd).await;
        let on_s = s.snapshots(&self.pd, &[]).await.map(|l| {
            l.into_iter()
                .map(|x| (x.snapshot_id, x.snapshot_uuid))
                .collect::<Vec<_>>()
        });
        panic!(
            "the replica never landed: {:?} / {reps:?} / {on_s:?}",
            snap.snapshot_uuid
        );
    }

    async fn restore(
        &self,
        b: &Backup,
        confirm: Option<&str>,
    ) -> Result<restore::RestoreOutcome, RestoreError> {
        self.world
            .restore(b, confirm, &NoProgress, CancelFlag::new())
            .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_is_restored_in_place_from_a_primary_snapshot() {
    let w = Dr::new().await;
    let desk = w.desktop(0).await;
    let before = w.generation("ahv-primary", &desk.name).await;
    let (snap, _) = w.snapshot(false).await;
    let b = w.row(&desk, BackupSite::Primary, "primary", &snap);
    // The user works on: the disk changes after the backup.
    w.prism_session(&desk.name, true).await;
    w.prism_session(&desk.name, false).await;
    assert_ne!(w.generation("ahv-primary", &desk.name).await, before);

    let plan = restore::plan(&w.report(), w.store.as_ref(), &b.id)
        .await
        .unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert!(
        plan.in_place && plan.powers_off && plan.powers_on_after && plan.replaces_assigned_desktop
    );
    let out = w.restore(&b, Some(&desk.name)).await.unwrap();
    assert!(out.powered_on);
    assert_eq!(
        out.restored_volume, desk.provider_id,
        "same uuid: restored in place"
    );
    assert_eq!(
        w.generation("ahv-primary", &desk.name).await,
        before,
        "the backup's contents are back"
    );
    let g = w.guest("ahv-primary", &desk.name).await;
    assert_eq!(g["power_state"], "on");
    let safety = out.safety_backup.unwrap();
    assert_eq!(safety.kind, BackupKind::Safety);
    assert!(safety
        .provider_ref
        .as_deref()
        .unwrap()
        .starts_with(&format!("{}:", w.pd)));
    assert_ne!(
        safety.provider_ref.as_deref().unwrap(),
        format!("{}:", w.pd)
    );
    let job = w.catalog.lock().job(&out.job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_restore_task_ends_as_a_failure() {
    let w = Dr::new().await;
    let desk = w.desktop(1).await;
    let (snap, _) = w.snapshot(false).await;
    let b = w.row(&desk, BackupSite::Primary, "primary", &snap);
    w.control(
        reqwest::Method::POST,
        "prism/ahv-primary/faults/tasks",
        Some(json!({"kind": "restore_entities", "count": 1, "error_code": 1203, "message": "simulated restore failure"})),
    )
    .await;
    let e = w.restore(&b, Some(&desk.name)).await.unwrap_err();
    assert!(e.to_string().contains("simulated restore failure"), "{e}");
    w.assert_failure_noted("Restore");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_is_restored_on_the_dr_cluster_as_a_copy() {
    let w = Dr::new().await;
    let desk = w.desktop(2).await;
    let (_, replica) = w.snapshot(true).await;
    let b = w.row(&desk, BackupSite::Replica, "secondary", &replica.unwrap());
    let plan = restore::plan(&w.report(), w.store.as_ref(), &b.id)
        .await
        .unwrap();
    assert!(plan.can_run, "{:#?}", plan.checks);
    assert!(!plan.in_place && !plan.powers_off && !plan.replaces_assigned_desktop);
    assert_eq!(plan.restored_on, "secondary");
    let out = w.restore(&b, None).await.unwrap();
    assert!(out.safety_backup.is_none());
    let s = w.prism("secondary");
    let copy = s
        .vms()
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name.starts_with("restored-") && v.name.ends_with(&desk.name))
        .expect("the copy on the DR cluster");
    assert_ne!(
        copy.power_state.map(|p| p.to_string()).as_deref(),
        Some("on")
    );
    let g = w.guest("ahv-primary", &desk.name).await;
    assert_eq!(
        g["power_state"], "on",
        "the primary desktop was not touched"
    );
}
