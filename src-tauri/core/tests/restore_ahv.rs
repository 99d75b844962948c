//! Restoring an AHV volume against the in-process lab: a desktop restored in place from a
//! protection-domain snapshot (powered off and on again, a safety snapshot first, its contents
//! back to the snapshot's), a failing restore task that ends as a failure, and a replica
//! restored on the DR cluster as a prefixed copy, leaving the primary untouched.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use standby_core::accounts::{Accounts, NewAhvAccount};
use standby_core::backup::{Backup, BackupKind, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::Clock;
use standby_core::connect;
use standby_core::disaster_recovery::{self, DrTarget, EnableAhvDr, Report};
use standby_core::inventory::{self, DesktopState, DiscoveredResource, ResourceKind};
use standby_core::jobs::{JobState, NoProgress};
use standby_core::notifications::{NoSink, NotificationFilter, NotificationLevel};
use standby_core::providers::prism::setup::{RemoteSitePlan, SiteEnd, VstoreMapping};
use standby_core::providers::prism::PrismClient;
use standby_core::restore::{self, RestoreError, RestoreRequest};
use standby_core::secret::Secret;
use standby_core::secrets::MemoryStore;
use standby_lab::clock::LabClock;
use standby_lab::{Lab, LabConfig, LabHandle};

const FRAME: &str = "acme-pd";

struct LabTime(LabClock);
impl Clock for LabTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

struct World {
    lab: LabHandle,
    catalog: SharedCatalog,
    store: Arc<MemoryStore>,
    clock: Arc<dyn Clock>,
    primary_id: String,
    pd: String,
}

async fn control(
    lab: &LabHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}_lab/{path}", lab.control_url);
    let tls = standby_core::providers::tls::web_client_config(None).expect("tls");
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .unwrap();
    let mut req = http.request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

impl World {
    async fn new() -> Self {
        let lab = Lab::start(LabConfig::for_tests()).await.unwrap();
        let catalog = Catalog::in_memory().unwrap().shared();
        let store = Arc::new(MemoryStore::default());
        let clock: Arc<dyn Clock> = Arc::new(LabTime(lab.clock.clone()));
        let mut ids = Vec::new();
        {
            let c = catalog.lock();
            let accounts = Accounts {
                catalog: &c,
                store: store.as_ref(),
            };
            for (name, ep) in [("primary", &lab.prism[0]), ("secondary", &lab.prism[1])] {
                let a = accounts
                    .add(
                        NewAhvAccount {
                            name: name.into(),
                            address: ep.ip.to_string(),
                            port: Some(ep.port),
                            username: ep.username.clone(),
                            password: Secret::new(ep.password.clone()),
                            trusted_sha256: ep.certificate_sha256.clone(),
                        },
                        clock.now(),
                    )
                    .unwrap();
                let agent = format!("{}_lab/prism/{}/guest-agent", lab.control_url, ep.name);
                c.set_guest_agent(&a.id, Some(&agent), &clock.now().to_rfc3339())
                    .unwrap();
                ids.push(a.id);
            }
        }
        let (p, s) = (&lab.prism[0], &lab.prism[1]);
        let report = Report {
            catalog: &catalog,
            clock: clock.clone(),
            sink: &NoSink,
        };
        let enabled = disaster_recovery::enable_ahv(
            &report,
            store.as_ref(),
            EnableAhvDr {
                primary: "primary".into(),
                secondary: "secondary".into(),
                frame_account: FRAME.into(),
                plan: RemoteSitePlan {
                    primary: SiteEnd {
                        site_name: "primary".into(),
                        address: p.ip.to_string(),
                        port: p.replication_ports[1],
                    },
                    secondary: SiteEnd {
                        site_name: "secondary".into(),
                        address: s.ip.to_string(),
                        port: s.replication_ports[1],
                    },
                    mappings: vec![
                        VstoreMapping {
                            source: "default-container-77107".into(),
                            destination: "storage-container-112133".into(),
                        },
                        VstoreMapping {
                            source: "SelfServiceContainer".into(),
                            destination: "SelfServiceContainer".into(),
                        },
                    ],
                    reverse_mappings: vec![],
                    bandwidth_limit_bytes_per_sec: None,
                    compression: true,
                },
                primary_ports: Some(p.replication_ports.to_vec()),
                secondary_ports: Some(s.replication_ports.to_vec()),
            },
        )
        .await
        .expect("DR enabled");
        let DrTarget::Ahv {
            protection_domain, ..
        } = enabled.config.target
        else {
            panic!()
        };
        lab.clock.set_scale(200.0);
        Self {
            primary_id: ids[0].clone(),
            lab,
            catalog,
            store,
            clock,
            pd: protection_domain,
        }
    }

    fn report(&self) -> Report<'_> {
        Report {
            catalog: &self.catalog,
            clock: self.clock.clone(),
            sink: &NoSink,
        }
    }

    fn prism(&self, account: &str) -> PrismClient {
        let c = self.catalog.lock();
        connect::ahv(
            &Accounts {
                catalog: &c,
                store: self.store.as_ref(),
            },
            account,
        )
        .unwrap()
        .client
    }

    async fn desktop(&self, nth: usize) -> DiscoveredResource {
        let d = inventory::discover(
            &self.catalog,
            self.store.as_ref(),
            "primary",
            FRAME,
            self.clock.clone(),
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|r| {
            r.kind == ResourceKind::PersistentDesktop
                && r.desktop_state == Some(DesktopState::Assigned)
        })
        .nth(nth)
        .unwrap();
        let vm = json!({"vm": d.name});
        let g = control(
            &self.lab,
            reqwest::Method::GET,
            &format!("prism/ahv-primary/guest/{}", d.name),
            None,
        )
        .await;
        if g["in_session"] != json!(true) {
            control(
                &self.lab,
                reqwest::Method::POST,
                "prism/ahv-primary/sessions/open",
                Some(vm.clone()),
            )
            .await;
        }
        control(
            &self.lab,
            reqwest::Method::POST,
            "prism/ahv-primary/sessions/close",
            Some(vm),
        )
        .await;
        d
    }

    async fn generation(&self, cluster: &str, vm: &str) -> i64 {
        let g = control(
            &self.lab,
            reqwest::Method::GET,
            &format!("prism/{cluster}/guest/{vm}"),
            None,
        )
        .await;
        g["contents_generation"].as_i64().unwrap()
    }

    fn row(
        &self,
        d: &DiscoveredResource,
        site: BackupSite,
        location: &str,
        snapshot: &str,
    ) -> Backup {
        let now = self.clock.now().to_rfc3339();
        let b = Backup {
            id: uuid::Uuid::new_v4().to_string(),
            job_id: None,
            account_id: self.primary_id.clone(),
            frame_account: FRAME.into(),
            volume_id: d.provider_id.clone(),
            volume_name: d.name.clone(),
            name: "known good".into(),
            kind: BackupKind::Manual,
            site,
            location: location.into(),
            provider_ref: Some(format!("{}:{snapshot}", self.pd)),
            state: BackupState::Available,
            percent: 100.0,
            replica_of: None,
            error: None,
            created_at: now.clone(),
            updated_at: now,
        };
        self.catalog.lock().insert_backup(&b).unwrap();
        b
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
        control(
            &self.lab,
            reqwest::Method::PUT,
            "prism/ahv-primary/settings",
            Some(json!({"bandwidth_bytes_per_sec": 200_000_000_000u64})),
        )
        .await;
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
        restore::run(
            &self.report(),
            self.store.as_ref(),
            &NoProgress,
            RestoreRequest {
                backup_id: b.id.clone(),
                confirm_volume: confirm.map(str::to_string),
                actor: "test".into(),
            },
            CancelFlag::new(),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_desktop_is_restored_in_place_from_a_primary_snapshot() {
    let w = World::new().await;
    let desk = w.desktop(0).await;
    let before = w.generation("ahv-primary", &desk.name).await;
    let (snap, _) = w.snapshot(false).await;
    let b = w.row(&desk, BackupSite::Primary, "primary", &snap);
    // The user works on: the disk changes after the backup.
    let vm = json!({"vm": desk.name});
    control(
        &w.lab,
        reqwest::Method::POST,
        "prism/ahv-primary/sessions/open",
        Some(vm.clone()),
    )
    .await;
    control(
        &w.lab,
        reqwest::Method::POST,
        "prism/ahv-primary/sessions/close",
        Some(vm),
    )
    .await;
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
    let g = control(
        &w.lab,
        reqwest::Method::GET,
        &format!("prism/ahv-primary/guest/{}", desk.name),
        None,
    )
    .await;
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
    let w = World::new().await;
    let desk = w.desktop(1).await;
    let (snap, _) = w.snapshot(false).await;
    let b = w.row(&desk, BackupSite::Primary, "primary", &snap);
    control(
        &w.lab,
        reqwest::Method::POST,
        "prism/ahv-primary/faults/tasks",
        Some(json!({"kind": "restore_entities", "count": 1, "error_code": 1203, "message": "simulated restore failure"})),
    )
    .await;
    let e = w.restore(&b, Some(&desk.name)).await.unwrap_err();
    assert!(e.to_string().contains("simulated restore failure"), "{e}");
    let notes = w
        .catalog
        .lock()
        .list_notifications(&NotificationFilter::default())
        .unwrap();
    assert_eq!(notes[0].level, NotificationLevel::Error, "{notes:#?}");
    assert!(!notes
        .iter()
        .any(|n| n.level == NotificationLevel::Success && n.title.starts_with("Restore")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replica_is_restored_on_the_dr_cluster_as_a_copy() {
    let w = World::new().await;
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
    let g = control(
        &w.lab,
        reqwest::Method::GET,
        &format!("prism/ahv-primary/guest/{}", desk.name),
        None,
    )
    .await;
    assert_eq!(
        g["power_state"], "on",
        "the primary desktop was not touched"
    );
}
