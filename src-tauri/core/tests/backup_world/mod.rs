//! What the AHV and backup-all tests share: a lab, its two clusters and its subscription as
//! cloud accounts (with their guest agents), DR enabled on both providers, and the lab's control
//! API (sessions, power, faults).
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{json, Value};
use standby_core::accounts::{Accounts, NewAhvAccount, NewAzureAccount};
use standby_core::catalog::{Catalog, SharedCatalog};
use standby_core::clock::Clock;
use standby_core::disaster_recovery::{self, EnableAhvDr, EnableAzureDr, Report};
use standby_core::inventory::{self, DiscoveredResource};
use standby_core::notifications::{NoSink, Notification, NotificationFilter};
use standby_core::providers::prism::setup::{RemoteSitePlan, SiteEnd, VstoreMapping};
use standby_core::secret::Secret;
use standby_core::secrets::MemoryStore;
use standby_lab::clock::LabClock;
use standby_lab::{Lab, LabConfig, LabHandle};

pub const FRAME: &str = "acme-pd";

pub struct LabTime(pub LabClock);

impl Clock for LabTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

pub struct World {
    pub lab: LabHandle,
    pub catalog: SharedCatalog,
    pub store: Arc<MemoryStore>,
    pub clock: Arc<dyn Clock>,
}

impl World {
    pub async fn new() -> Self {
        let lab = Lab::start(LabConfig::for_tests())
            .await
            .expect("the lab starts");
        let catalog = Catalog::in_memory().unwrap().shared();
        let store = Arc::new(MemoryStore::default());
        let clock: Arc<dyn Clock> = Arc::new(LabTime(lab.clock.clone()));
        let w = Self {
            lab,
            catalog,
            store,
            clock,
        };
        let at = w.clock.now().to_rfc3339();
        for (name, p) in [("primary", &w.lab.prism[0]), ("secondary", &w.lab.prism[1])] {
            let c = w.catalog.lock();
            let a = Accounts {
                catalog: &c,
                store: w.store.as_ref(),
            }
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
        let c = w.catalog.lock();
        let acc = Accounts {
            catalog: &c,
            store: w.store.as_ref(),
        }
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

    pub async fn enable_ahv_dr(&self) {
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
        disaster_recovery::enable_ahv(
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
        let cluster = p.name.clone();
        self.control(
            reqwest::Method::PUT,
            &format!("prism/{cluster}/settings"),
            Some(json!({ "bandwidth_bytes_per_sec": 50u64 * 1024 * 1024 * 1024 })),
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
        inventory::discover(
            &self.catalog,
            self.store.as_ref(),
            account,
            FRAME,
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

    pub fn speed_up(&self, scale: f64) {
        self.lab.clock.set_scale(scale);
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

    pub async fn open_prism_session(&self, vm: &str) {
        let cluster = self.lab.prism[0].name.clone();
        self.control(
            reqwest::Method::POST,
            &format!("prism/{cluster}/sessions/open"),
            Some(json!({ "vm": vm })),
        )
        .await;
    }

    /// The primary cluster's VMs as its guest agent sees them: name to (power_state, in_session).
    pub async fn prism_guests(&self) -> std::collections::BTreeMap<String, (String, bool)> {
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
}
