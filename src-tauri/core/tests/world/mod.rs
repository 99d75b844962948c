//! What every lab-backed engine test shares: a lab started in-process, its clusters and its
//! subscription as cloud accounts (with their guest agents unless a test wants them absent), the
//! lab's clock as Standby's, a `Sleep` that moves that clock instead of waiting, DR enabled on
//! either provider when a test asks, and the lab's control API (sessions, power, faults, fills).
//!
//! `World::new()` is the whole lab with both providers; `World::with(Options)` states the few
//! differences a test relies on (seed size, which provider, no guest agent, an on-disk catalog,
//! accounts registered as the app registers them).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};
use standby_core::accounts::{Accounts, NewAhvAccount, NewAzureAccount};
use standby_core::backup::{
    self, Backup, BackupError, BackupKind, BackupRequest, BackupSite, BackupState,
};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::Clock;
use standby_core::disaster_recovery::{self, DrTarget, EnableAhvDr, EnableAzureDr, Report};
use standby_core::inventory::{self, DesktopState, DiscoveredResource, ResourceKind};
use standby_core::jobs::{JobProgress, ProgressSink};
use standby_core::lab_registration::{self, LabCluster, LabSubscription};
use standby_core::notifications::{NoSink, Notification, NotificationFilter, NotificationLevel};
use standby_core::providers::prism::setup::{RemoteSitePlan, SiteEnd, VstoreMapping};
use standby_core::providers::prism::PrismClient;
use standby_core::restore::{self, RestoreError, RestoreOutcome, RestoreRequest};
use standby_core::scheduler::{BoxFuture, Sleep};
use standby_core::secret::Secret;
use standby_core::secrets::MemoryStore;
use standby_lab::clock::LabClock;
use standby_lab::seed::SeedSize;
use standby_lab::{Lab, LabConfig, LabHandle};

pub const FRAME: &str = "acme-pd";

/// The lab's clock seen through the product's `Clock`.
pub struct LabTime(pub LabClock);

impl Clock for LabTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

/// Sleeping moves the lab's clock: a scheduler's tick of 30 s passes at once.
pub struct LabSleep(pub LabClock);

impl Sleep for LabSleep {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        self.0.advance(d);
        Box::pin(tokio::task::yield_now())
    }
}

type Hook = Box<dyn Fn(&JobProgress) + Send + Sync>;

/// Records every progress report; `hook` acts on them (cancels, or simulates a crash).
pub struct Seen {
    pub reports: Mutex<Vec<JobProgress>>,
    hook: Hook,
}

impl Seen {
    pub fn new() -> Self {
        Self::with(Box::new(|_| {}))
    }

    pub fn with(hook: Hook) -> Self {
        Self {
            reports: Mutex::new(Vec::new()),
            hook,
        }
    }

    /// "Dies" (a panic, as a kill would stop the process: nothing after it runs, the journal
    /// keeps what it had) at the first report that `when` matches.
    pub fn dying_at(when: fn(&JobProgress) -> bool) -> Self {
        Self::with(Box::new(move |p| {
            if when(p) {
                panic!("simulated crash at {:?}", p.step);
            }
        }))
    }
}

impl Default for Seen {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressSink for Seen {
    fn progress(&self, p: &JobProgress) {
        self.reports.lock().push(p.clone());
        (self.hook)(p);
    }
}

/// Which of the lab's providers become cloud accounts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Providers {
    /// Clusters `primary` and `secondary`, subscription `azure`.
    Both,
    /// Clusters `primary` and `secondary` only.
    Ahv,
    /// Subscription `azure` only.
    Azure,
}

pub struct Options {
    /// The lab's seed: `None` keeps `LabConfig::for_tests()`'s.
    pub users: Option<usize>,
    pub providers: Providers,
    /// Each account's guest agent registered (the lab's simulated one).
    pub guest_agents: bool,
    /// The catalog in a file of a temporary folder rather than in memory.
    pub on_disk: bool,
    /// Accounts added through `lab_registration` as the app does (names `lab-ahv-primary`,
    /// `lab-azure`, ...) instead of `primary`, `secondary` and `azure`.
    pub as_the_app: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            users: None,
            providers: Providers::Both,
            guest_agents: true,
            on_disk: false,
            as_the_app: false,
        }
    }
}

pub struct World {
    pub lab: LabHandle,
    pub catalog: SharedCatalog,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<dyn Clock>,
    /// Holds the on-disk catalog's folder for the test's lifetime.
    pub data: Option<tempfile::TempDir>,
}

impl World {
    pub async fn new() -> Self {
        Self::with(Options::default()).await
    }

    /// A lab seeded with `users` users (a backup of the whole account takes seconds), both
    /// providers with guest agents, the catalog on disk.
    pub async fn small(users: usize) -> Self {
        Self::with(Options {
            users: Some(users),
            on_disk: true,
            ..Options::default()
        })
        .await
    }

    pub async fn with(o: Options) -> Self {
        let mut cfg = LabConfig::for_tests();
        if let Some(n) = o.users {
            cfg.seed = SeedSize::Users(n);
        }
        let lab = Lab::start(cfg).await.expect("the lab starts");
        let (catalog, data) = if o.on_disk {
            let data = tempfile::tempdir().unwrap();
            let catalog = Catalog::open(&data.path().join("standby.sqlite3")).unwrap();
            (catalog.shared(), Some(data))
        } else {
            (Catalog::in_memory().unwrap().shared(), None)
        };
        let store = Arc::new(MemoryStore::default());
        let clock: Arc<dyn Clock> = Arc::new(LabTime(lab.clock.clone()));
        let w = Self {
            lab,
            catalog,
            store,
            clock,
            data,
        };
        if o.as_the_app {
            w.register_as_the_app();
        } else {
            w.add_accounts(o.providers, o.guest_agents);
        }
        w
    }

    fn add_accounts(&self, providers: Providers, guest_agents: bool) {
        let at = self.clock.now().to_rfc3339();
        let c = self.catalog.lock();
        let accounts = Accounts {
            catalog: &c,
            store: self.store.as_ref(),
        };
        if providers != Providers::Azure {
            for (name, p) in [
                ("primary", &self.lab.prism[0]),
                ("secondary", &self.lab.prism[1]),
            ] {
                let a = accounts
                    .add(
                        NewAhvAccount {
                            name: name.into(),
                            address: p.ip.to_string(),
                            port: Some(p.port),
                            username: p.username.clone(),
                            password: Secret::new(p.password.clone()),
                            trusted_sha256: p.certificate_sha256.clone(),
                        },
                        self.clock.now(),
                    )
                    .unwrap();
                if guest_agents {
                    let url = format!("{}_lab/prism/{}/guest-agent", self.lab.control_url, p.name);
                    c.set_guest_agent(&a.id, Some(&url), &at).unwrap();
                }
            }
        }
        if providers != Providers::Ahv {
            let a = &self.lab.azure;
            let acc = accounts
                .add(
                    NewAzureAccount {
                        name: "azure".into(),
                        tenant_id: a.tenant_id.clone(),
                        client_id: a.client_id.clone(),
                        client_secret: Secret::new(a.client_secret.clone()),
                        subscription_id: a.subscription_id.clone(),
                        resource_groups: vec![a.resource_group.clone()],
                        primary_region: a.primary_region.clone(),
                        arm_url: Some(a.arm_url.to_string()),
                        authority_url: Some(a.authority_url.to_string()),
                        extra_ca_pem: Some(a.ca_certificate_pem.clone()),
                    },
                    self.clock.now(),
                )
                .unwrap();
            if guest_agents {
                let url = format!("{}_lab/azure/guest-agent", self.lab.control_url);
                c.set_guest_agent(&acc.id, Some(&url), &at).unwrap();
            }
        }
    }

    /// The lab's accounts registered as the app registers them (guest agents included).
    fn register_as_the_app(&self) {
        let lab = &self.lab;
        let control_base = format!("{}/_lab/", lab.control_url.as_str().trim_end_matches('/'));
        let clusters = lab
            .prism
            .iter()
            .map(|p| LabCluster {
                name: p.name.clone(),
                address: p.ip.to_string(),
                port: p.port,
                username: p.username.clone(),
                password: Secret::new(p.password.clone()),
                certificate_sha256: p.certificate_sha256.clone(),
                guest_agent_url: format!("{control_base}prism/{}/guest-agent", p.name),
            })
            .collect();
        let a = &lab.azure;
        let subscription = LabSubscription {
            tenant_id: a.tenant_id.clone(),
            client_id: a.client_id.clone(),
            client_secret: Secret::new(a.client_secret.clone()),
            subscription_id: a.subscription_id.clone(),
            resource_groups: vec![a.resource_group.clone()],
            primary_region: a.primary_region.clone(),
            arm_url: a.arm_url.to_string(),
            authority_url: a.authority_url.to_string(),
            ca_certificate_pem: a.ca_certificate_pem.clone(),
            guest_agent_url: format!("{control_base}azure/guest-agent"),
        };
        let c = self.catalog.lock();
        lab_registration::register(
            &Accounts {
                catalog: &c,
                store: self.store.as_ref(),
            },
            clusters,
            subscription,
            self.clock.now(),
        )
        .unwrap();
    }

    pub fn account_id(&self, name: &str) -> String {
        let c = self.catalog.lock();
        Accounts {
            catalog: &c,
            store: self.store.as_ref(),
        }
        .settings(name)
        .unwrap()
        .0
        .id
    }

    pub fn report(&self) -> Report<'_> {
        Report {
            catalog: &self.catalog,
            clock: self.clock.clone(),
            sink: &NoSink,
        }
    }

    /// The product's Prism client for an AHV account, as `connect` makes it.
    pub fn prism(&self, account: &str) -> PrismClient {
        let c = self.catalog.lock();
        standby_core::connect::ahv(
            &Accounts {
                catalog: &c,
                store: self.store.as_ref(),
            },
            account,
        )
        .unwrap()
        .client
    }

    /// DR from `primary` to `secondary`; returns the protection domain it made.
    pub async fn enable_ahv_dr(&self) -> String {
        let (p, s) = (&self.lab.prism[0], &self.lab.prism[1]);
        let plan = RemoteSitePlan {
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
            reverse_mappings: Vec::new(),
            bandwidth_limit_bytes_per_sec: None,
            compression: true,
        };
        let enabled = disaster_recovery::enable_ahv(
            &self.report(),
            self.store.as_ref(),
            EnableAhvDr {
                primary: "primary".into(),
                secondary: "secondary".into(),
                frame_account: FRAME.into(),
                plan,
                primary_ports: Some(p.replication_ports.to_vec()),
                secondary_ports: Some(s.replication_ports.to_vec()),
            },
        )
        .await
        .expect("AHV DR enabled");
        // Replicating the whole domain at the default 100 MiB per lab second takes minutes of
        // real time even sped up: a faster link keeps the tests short.
        self.set_prism_bandwidth(50u64 * 1024 * 1024 * 1024).await;
        let DrTarget::Ahv {
            protection_domain, ..
        } = enabled.config.target
        else {
            panic!("AHV DR has an AHV target: {:?}", enabled.config.target)
        };
        protection_domain
    }

    /// The primary cluster's replication link, in bytes per lab second.
    pub async fn set_prism_bandwidth(&self, bytes_per_sec: u64) {
        let cluster = self.lab.prism[0].name.clone();
        self.control(
            reqwest::Method::PUT,
            &format!("prism/{cluster}/settings"),
            Some(json!({ "bandwidth_bytes_per_sec": bytes_per_sec })),
        )
        .await;
    }

    pub async fn enable_azure_dr(&self) {
        disaster_recovery::enable_azure(
            &self.report(),
            self.store.as_ref(),
            EnableAzureDr {
                account: "azure".into(),
                frame_account: FRAME.into(),
                secondary_region: self.lab.azure.secondary_region.clone(),
                secondary_resource_group: self.lab.azure.secondary_resource_group.clone(),
                replicas_kept: 7,
            },
        )
        .await
        .expect("Azure DR enabled");
    }

    pub async fn resources(&self, account: &str) -> Vec<DiscoveredResource> {
        self.resources_of(account, FRAME).await
    }

    pub async fn resources_of(&self, account: &str, frame: &str) -> Vec<DiscoveredResource> {
        inventory::discover(
            &self.catalog,
            self.store.as_ref(),
            account,
            frame,
            self.clock.clone(),
        )
        .await
        .unwrap()
    }

    pub fn notes(&self) -> Vec<Notification> {
        self.catalog
            .lock()
            .list_notifications(&NotificationFilter::default())
            .unwrap()
    }

    /// Lab time runs `scale` times faster than real time (0 freezes it).
    pub fn speed_up(&self, scale: f64) {
        self.lab.clock.set_scale(scale);
    }

    pub fn sleeper(&self) -> LabSleep {
        LabSleep(self.lab.clock.clone())
    }

    /// `/_lab/{path}` on the control API; a failure status fails the test.
    pub async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let tls = standby_core::providers::tls::web_client_config(None).expect("tls");
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .unwrap();
        let url = format!("{}_lab/{path}", self.lab.control_url);
        let mut req = client.request(method, &url);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("control request");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{url}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Opens (`true`) or closes a session of `vm` on the primary cluster's guest agent.
    pub async fn prism_session(&self, vm: &str, open: bool) {
        let cluster = self.lab.prism[0].name.clone();
        self.session(&format!("prism/{cluster}"), open, json!({ "vm": vm }))
            .await;
    }

    pub async fn open_prism_session(&self, vm: &str) {
        self.prism_session(vm, true).await;
    }

    /// Opens (`true`) or closes `user`'s session on the Azure guest agent.
    pub async fn azure_session(&self, user: &str, open: bool) {
        self.session("azure", open, json!({ "user": user })).await;
    }

    async fn session(&self, agent: &str, open: bool, who: Value) {
        let verb = if open { "open" } else { "close" };
        self.control(
            reqwest::Method::POST,
            &format!("{agent}/sessions/{verb}"),
            Some(who),
        )
        .await;
    }

    /// The `nth` persistent desktop of `account` that is assigned to a user.
    pub async fn assigned_desktop(&self, account: &str, nth: usize) -> DiscoveredResource {
        self.resources(account)
            .await
            .into_iter()
            .filter(|r| {
                r.kind == ResourceKind::PersistentDesktop
                    && r.desktop_state == Some(DesktopState::Assigned)
            })
            .nth(nth)
            .expect("an assigned desktop")
    }

    /// Nothing was recorded: no backup row, no job left unfinished.
    pub fn assert_no_backup_and_no_job_left(&self) {
        assert!(self
            .catalog
            .lock()
            .list_backups(None, None)
            .unwrap()
            .is_empty());
        assert!(self.catalog.lock().unfinished_jobs().unwrap().is_empty());
    }

    /// The newest notification has `level` and its body says `says`.
    pub fn assert_latest_note(&self, level: NotificationLevel, says: &str) {
        let notes = self.notes();
        assert_eq!(notes[0].level, level, "{notes:#?}");
        assert!(notes[0].body.contains(says), "{}", notes[0].body);
    }

    /// The primary cluster's VMs as its guest agent sees them: name to (power_state, in_session).
    pub async fn prism_guests(&self) -> BTreeMap<String, (String, bool)> {
        let cluster = self.lab.prism[0].name.clone();
        let v = self
            .control(
                reqwest::Method::GET,
                &format!("prism/{cluster}/guests"),
                None,
            )
            .await;
        let list = v
            .as_array()
            .cloned()
            .or_else(|| v["guests"].as_array().cloned())
            .unwrap_or_default();
        list.iter()
            .map(|g| {
                (
                    g["vm_name"].as_str().unwrap_or_default().to_string(),
                    (
                        g["power_state"].as_str().unwrap_or_default().to_string(),
                        g["in_session"].as_bool().unwrap_or(false),
                    ),
                )
            })
            .collect()
    }

    /// The lab's Azure snapshots by name.
    pub async fn azure_snapshot_names(&self) -> BTreeSet<String> {
        let s = self
            .control(reqwest::Method::GET, "azure/state", None)
            .await;
        s["snapshots"]
            .as_object()
            .map(|m| {
                m.values()
                    .filter_map(|v| v["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `backup::backup_now` with this world's catalog, store and clock.
    pub async fn backup_now(
        &self,
        req: BackupRequest,
        sink: &dyn ProgressSink,
    ) -> Result<Vec<Backup>, BackupError> {
        backup::backup_now(
            &self.report(),
            self.store.as_ref(),
            sink,
            req,
            CancelFlag::new(),
        )
        .await
    }

    /// Runs a backup whose process "dies" at the first progress report that `when` matches
    /// (see `Seen::dying_at`), and checks that it did.
    pub async fn kill_backup_when(&self, req: BackupRequest, when: fn(&JobProgress) -> bool) {
        let (catalog, store, clock) =
            (self.catalog.clone(), self.store.clone(), self.clock.clone());
        let crashed = tokio::spawn(async move {
            let report = Report {
                catalog: &catalog,
                clock,
                sink: &NoSink,
            };
            let sink = Seen::dying_at(when);
            backup::backup_now(&report, store.as_ref(), &sink, req, CancelFlag::new()).await
        })
        .await;
        assert!(
            crashed.unwrap_err().is_panic(),
            "the job was killed as planned"
        );
    }

    /// Resumes a backup job left unfinished, as `standbyctl jobs resume` would.
    pub async fn resume_backup(
        &self,
        job: &standby_core::jobs::JobRecord,
    ) -> Result<Vec<Backup>, BackupError> {
        backup::resume(
            &self.report(),
            self.store.as_ref(),
            &Seen::new(),
            job,
            CancelFlag::new(),
        )
        .await
    }

    /// Records a finished manual backup named "known good" of `volume` (id, name) in the catalog,
    /// as `backup` would have left it, for tests that start from an existing backup.
    pub fn known_good(
        &self,
        account: &str,
        volume: (&str, &str),
        site: BackupSite,
        location: &str,
        provider_ref: String,
        replica_of: Option<&str>,
    ) -> Backup {
        let now = self.clock.now().to_rfc3339();
        let b = Backup {
            id: uuid::Uuid::new_v4().to_string(),
            job_id: None,
            account_id: self.account_id(account),
            frame_account: FRAME.into(),
            volume_id: volume.0.into(),
            volume_name: volume.1.into(),
            name: "known good".into(),
            kind: BackupKind::Manual,
            site,
            location: location.into(),
            provider_ref: Some(provider_ref),
            state: BackupState::Available,
            percent: 100.0,
            replica_of: replica_of.map(str::to_string),
            error: None,
            created_at: now.clone(),
            updated_at: now,
        };
        self.catalog.lock().insert_backup(&b).unwrap();
        b
    }

    /// Restores backup `b`, `confirm` being the volume name the user typed (if any).
    pub async fn restore(
        &self,
        b: &Backup,
        confirm: Option<&str>,
        sink: &dyn ProgressSink,
        cancel: CancelFlag,
    ) -> Result<RestoreOutcome, RestoreError> {
        restore::run(
            &self.report(),
            self.store.as_ref(),
            sink,
            RestoreRequest {
                backup_id: b.id.clone(),
                confirm_volume: confirm.map(str::to_string),
                actor: "test".into(),
            },
            cancel,
        )
        .await
    }

    /// A job's journal, step by step: (name, done).
    pub fn assert_steps(&self, job_id: &str, expected: &[(&str, bool)]) {
        let steps = self.catalog.lock().job_steps(job_id).unwrap();
        assert_eq!(
            steps
                .iter()
                .map(|s| (s.name.as_str(), s.done))
                .collect::<Vec<_>>(),
            expected
        );
    }

    /// The newest notification is an error and none announces a success titled `what...`;
    /// returns them all.
    pub fn assert_failure_noted(&self, what: &str) -> Vec<Notification> {
        let notes = self.notes();
        assert_eq!(notes[0].level, NotificationLevel::Error, "{notes:#?}");
        assert!(!notes
            .iter()
            .any(|n| n.level == NotificationLevel::Success && n.title.starts_with(what)));
        notes
    }
}
