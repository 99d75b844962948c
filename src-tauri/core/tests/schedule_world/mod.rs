//! What the scheduler, retention and post-session tests share: a small lab (a few users, so a
//! backup of the whole account takes seconds), its subscription and clusters as cloud accounts
//! with their guest agents, the lab's clock as Standby's, a `Sleep` that moves that clock instead
//! of waiting, and the lab's control API.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use standby_core::accounts::{Accounts, NewAhvAccount, NewAzureAccount};
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::Clock;
use standby_core::disaster_recovery::Report;
use standby_core::notifications::NoSink;
use standby_core::scheduler::{BoxFuture, Sleep};
use standby_core::secret::Secret;
use standby_core::secrets::MemoryStore;
use standby_lab::clock::LabClock;
use standby_lab::seed::SeedSize;
use standby_lab::{Lab, LabConfig, LabHandle};

pub const FRAME: &str = "acme-pd";

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

pub struct World {
    pub lab: LabHandle,
    pub catalog: SharedCatalog,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<dyn Clock>,
    pub data: tempfile::TempDir,
}

impl World {
    pub async fn new(users: usize) -> Self {
        let cfg = LabConfig {
            seed: SeedSize::Users(users),
            ..LabConfig::for_tests()
        };
        let lab = Lab::start(cfg).await.expect("the lab starts");
        let data = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(&data.path().join("standby.sqlite3"))
            .unwrap()
            .shared();
        let store = Arc::new(MemoryStore::default());
        let clock: Arc<dyn Clock> = Arc::new(LabTime(lab.clock.clone()));
        let w = Self {
            lab,
            catalog,
            store,
            clock,
            data,
        };
        let at = w.clock.now().to_rfc3339();
        let c = w.catalog.lock();
        let accounts = Accounts {
            catalog: &c,
            store: w.store.as_ref(),
        };
        for (name, p) in [("primary", &w.lab.prism[0]), ("secondary", &w.lab.prism[1])] {
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
                    w.clock.now(),
                )
                .unwrap();
            let url = format!("{}_lab/prism/{}/guest-agent", w.lab.control_url, p.name);
            c.set_guest_agent(&a.id, Some(&url), &at).unwrap();
        }
        let a = &w.lab.azure;
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
                w.clock.now(),
            )
            .unwrap();
        let url = format!("{}_lab/azure/guest-agent", w.lab.control_url);
        c.set_guest_agent(&acc.id, Some(&url), &at).unwrap();
        drop(c);
        w
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

    pub fn sleeper(&self) -> LabSleep {
        LabSleep(self.lab.clock.clone())
    }

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

    /// The lab's Azure snapshots by name, with the ARM id each answers to.
    pub async fn azure_snapshot_names(&self) -> std::collections::BTreeSet<String> {
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
}
