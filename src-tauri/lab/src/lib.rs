//! The lab: stateful simulators of the APIs Standby speaks, served on loopback.
//!
//! It is part of the product (the embedded default for a new user, a demo, a rehearsal space), not a
//! test double: the product reaches it through the very same HTTP clients it uses for real clusters
//! and subscriptions; only the base URLs and trusted certificates differ.
//!
//! [`Lab::start`] serves, on the current tokio runtime: each AHV cluster's Prism Element API over
//! HTTPS with its own self-signed certificate (plus its two replication ports), ARM and the Entra
//! token endpoint over HTTPS with certificates from a lab CA, and the control API over plain HTTP.
//! See `docs/lab.md`.

pub mod azure;
pub mod clock;
pub mod config;
pub mod control;
pub mod faults;
pub mod persist;
pub mod prism;
pub mod seed;
pub mod serve;
pub mod tls;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::Layer;

pub use config::LabConfig;

use clock::LabClock;
use faults::{FaultError, FaultLayer, Faults};
use persist::{PersistError, Saved, SavedAddress};
use tls::{CertPair, LabCa, SwappableCert, TlsError};

/// The documented addresses of the default run (`fixed_addresses`).
pub const FIXED_CLUSTER_IPS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(127, 0, 77, 1), Ipv4Addr::new(127, 0, 77, 2)];
pub const FIXED_PRISM_PORT: u16 = 9440;
pub const FIXED_REPLICATION_PORTS: [u16; 2] = [2009, 2020];
pub const FIXED_ARM: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 77, 10), 8443);
pub const FIXED_TOKEN: (Ipv4Addr, u16) = (Ipv4Addr::new(127, 0, 77, 11), 8443);
pub const FIXED_CONTROL: (Ipv4Addr, u16) = (Ipv4Addr::LOCALHOST, 7780);

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("no cluster named {0:?}")]
    UnknownCluster(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Persist(#[from] PersistError),
    #[error(transparent)]
    Fault(#[from] FaultError),
    #[error("cannot listen on {what}: {source}")]
    Bind {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("saved state for {what} does not load: {message}")]
    Import { what: &'static str, message: String },
}

/// One AHV cluster as the product registers it.
#[derive(Debug, Clone, Serialize)]
pub struct PrismEndpoint {
    pub name: String,
    /// `https://ip:port` (the API is under `/PrismGateway/services/rest/v2.0`).
    #[serde(serialize_with = "url_str")]
    pub base_url: url::Url,
    pub ip: IpAddr,
    pub port: u16,
    pub username: String,
    pub password: String,
    /// At start; after a rotation ask [`LabHandle::prism_certificate`] or `GET /_lab/endpoints`.
    pub certificate_pem: String,
    /// Lower-case hex SHA-256 of the DER certificate.
    pub certificate_sha256: String,
    pub replication_ports: [u16; 2],
}

/// The Azure cloud account as the product registers it.
#[derive(Debug, Clone, Serialize)]
pub struct AzureEndpoint {
    /// Stands for `https://management.azure.com`.
    #[serde(serialize_with = "url_str")]
    pub arm_url: url::Url,
    /// Stands for `https://login.microsoftonline.com`: tokens from `{authority}/{tenant}/oauth2/v2.0/token`.
    #[serde(serialize_with = "url_str")]
    pub authority_url: url::Url,
    pub tenant_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub secondary_resource_group: String,
    pub primary_region: String,
    pub secondary_region: String,
    /// The lab CA that issued the ARM and token endpoints' certificates: trust it as an extra root.
    pub ca_certificate_pem: String,
}

fn url_str<S: serde::Serializer>(u: &url::Url, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(u.as_str())
}

struct Cluster {
    name: String,
    ip: IpAddr,
    port: u16,
    replication_ports: [u16; 2],
    cert: Arc<SwappableCert>,
}

/// What the control API and the handle share.
pub(crate) struct Core {
    pub clock: LabClock,
    pub faults: Arc<Faults>,
    pub prism: Arc<prism::PrismLab>,
    pub azure: Arc<azure::AzureLab>,
    pub dirty: Arc<Notify>,
    clusters: Vec<Cluster>,
    certs_dir: Option<PathBuf>,
    /// User name, then each cluster's password in cluster order.
    prism_user: (String, Vec<String>),
    azure_endpoint: AzureEndpoint,
    control_url: url::Url,
}

impl Core {
    pub fn set_down(&self, target: &str, down: bool) -> Result<(), FaultError> {
        self.faults.set_down(target, down)?;
        if let Some(cluster) = target.strip_prefix("prism:") {
            self.prism.set_reachable(cluster, !down);
        }
        Ok(())
    }

    fn cluster(&self, name: &str) -> Result<&Cluster, LabError> {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| LabError::UnknownCluster(name.to_string()))
    }

    /// A new key and self-signed certificate, served from the next handshake on.
    pub fn rotate_certificate(&self, cluster: &str) -> Result<CertPair, LabError> {
        let c = self.cluster(cluster)?;
        let pair = tls::self_signed_for_ip(c.ip, &c.name)?;
        c.cert.swap(pair.clone())?;
        if let Some(dir) = &self.certs_dir {
            pair.save(dir, &cert_stem(&c.name))?;
        }
        self.dirty.notify_one();
        Ok(pair)
    }

    fn prism_endpoints(&self) -> Vec<PrismEndpoint> {
        self.clusters
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pair = c.cert.pair();
                PrismEndpoint {
                    name: c.name.clone(),
                    base_url: serve::socket_url("https", (c.ip, c.port).into()),
                    ip: c.ip,
                    port: c.port,
                    username: self.prism_user.0.clone(),
                    password: self.prism_user.1[i.min(self.prism_user.1.len() - 1)].clone(),
                    certificate_sha256: pair.sha256_hex(),
                    certificate_pem: pair.cert_pem,
                    replication_ports: c.replication_ports,
                }
            })
            .collect()
    }

    pub fn endpoints_json(&self) -> serde_json::Value {
        serde_json::json!({
            "prism": self.prism_endpoints(),
            "azure": self.azure_endpoint,
            "control_url": self.control_url.as_str(),
        })
    }

    pub fn state_json(&self) -> serde_json::Value {
        serde_json::json!({
            "clock": {"now": self.clock.now(), "scale": self.clock.scale()},
            "faults": self.faults.all(),
            "endpoints": self.endpoints_json(),
            "prism": self.prism.export_state(),
            "azure": self.azure.export_state(),
        })
    }

    fn saved(&self) -> Saved {
        let offset = (self.clock.now() - LabClock::system().now()).num_milliseconds();
        let clusters = self
            .clusters
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    SavedAddress {
                        ip: c.ip,
                        port: c.port,
                        replication_ports: c.replication_ports,
                    },
                )
            })
            .collect();
        Saved::new(
            offset,
            self.clock.scale(),
            clusters,
            self.prism.export_state(),
            self.azure.export_state(),
        )
    }
}

fn cert_stem(cluster: &str) -> String {
    format!("prism-{cluster}")
}

fn load_or_make(
    dir: Option<&Path>,
    stem: &str,
    make: impl FnOnce() -> Result<CertPair, TlsError>,
) -> Result<CertPair, TlsError> {
    if let Some(d) = dir {
        if let Some(p) = CertPair::load(d, stem)? {
            return Ok(p);
        }
    }
    let p = make()?;
    if let Some(d) = dir {
        p.save(d, stem)?;
    }
    Ok(p)
}

async fn bind(what: &str, ip: IpAddr, port: u16) -> Result<tokio::net::TcpListener, LabError> {
    serve::bind_loopback(ip, port)
        .await
        .map_err(|source| LabError::Bind {
            what: what.to_string(),
            source,
        })
}

fn local_port(l: &tokio::net::TcpListener) -> u16 {
    l.local_addr().map(|a| a.port()).unwrap_or(0)
}

/// The lab, started.
pub struct Lab;

impl Lab {
    /// Starts every endpoint on the current tokio runtime and returns once they all listen.
    pub async fn start(config: LabConfig) -> Result<LabHandle, LabError> {
        let state_dir = config.state_dir.clone();
        let saved = match &state_dir {
            Some(d) => persist::load(d)?,
            None => None,
        };
        let clock = match config.clock.clone() {
            Some(c) => c,
            None => {
                let c = LabClock::system();
                if let Some(s) = &saved {
                    if s.clock_offset_ms > 0 {
                        c.advance(Duration::from_millis(s.clock_offset_ms as u64));
                    }
                    if s.clock_scale.is_finite() && s.clock_scale >= 0.0 {
                        c.set_scale(s.clock_scale);
                    }
                }
                c
            }
        };
        let certs_dir = state_dir.as_deref().map(persist::certs_dir);
        let ca_pair = load_or_make(certs_dir.as_deref(), "lab-ca", || {
            Ok(LabCa::generate()?.pair)
        })?;
        let ca = LabCa::from_pair(ca_pair)?;

        // Clusters: their own loopback address each, the saved one first so certificates match.
        let names = [
            config.prism.primary_name.clone(),
            config.prism.secondary_name.clone(),
        ];
        let mut clusters = Vec::new();
        let mut listeners = Vec::new();
        for (i, name) in names.iter().enumerate() {
            // The documented addresses win when asked for (a fallback port chosen once must not
            // stick); otherwise a restart reuses the saved address.
            let (ip, port, repl) = match saved.as_ref().and_then(|s| s.clusters.get(name)) {
                _ if config.fixed_addresses => (
                    IpAddr::V4(FIXED_CLUSTER_IPS[i]),
                    FIXED_PRISM_PORT,
                    FIXED_REPLICATION_PORTS,
                ),
                Some(a) => (a.ip, a.port, a.replication_ports),
                None => (serve::random_loopback_ip(), 0, [0, 0]),
            };
            let https = bind(&format!("cluster {name}"), ip, port).await?;
            let ip = https.local_addr().map(|a| a.ip()).unwrap_or(ip);
            let r0 = bind(&format!("cluster {name} replication"), ip, repl[0]).await?;
            let r1 = bind(&format!("cluster {name} replication"), ip, repl[1]).await?;
            let replication_ports = [local_port(&r0), local_port(&r1)];
            let pair = load_or_make(certs_dir.as_deref(), &cert_stem(name), || {
                tls::self_signed_for_ip(ip, name)
            })?;
            clusters.push(Cluster {
                name: name.clone(),
                ip,
                port: local_port(&https),
                replication_ports,
                cert: SwappableCert::new(pair)?,
            });
            listeners.push((https, r0, r1));
        }

        let (arm_ip, arm_port, token_ip, token_port, control_ip, control_port) =
            if config.fixed_addresses {
                (
                    IpAddr::V4(FIXED_ARM.0),
                    FIXED_ARM.1,
                    IpAddr::V4(FIXED_TOKEN.0),
                    FIXED_TOKEN.1,
                    IpAddr::V4(FIXED_CONTROL.0),
                    FIXED_CONTROL.1,
                )
            } else {
                let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
                (lo, 0, lo, 0, lo, 0)
            };
        let arm_l = bind("ARM", arm_ip, arm_port).await?;
        let token_l = bind("the token endpoint", token_ip, token_port).await?;
        let control_l = bind("the control API", control_ip, control_port).await?;
        let arm_addr = arm_l.local_addr().map_err(|source| LabError::Bind {
            what: "ARM".into(),
            source,
        })?;
        let token_addr = token_l.local_addr().map_err(|source| LabError::Bind {
            what: "token".into(),
            source,
        })?;
        let control_addr = control_l.local_addr().map_err(|source| LabError::Bind {
            what: "control".into(),
            source,
        })?;
        let hosts = |ip: IpAddr| vec![ip.to_string(), "localhost".to_string()];
        let arm_cert = SwappableCert::new(ca.issue(&hosts(arm_addr.ip()))?)?;
        let token_cert = SwappableCert::new(ca.issue(&hosts(token_addr.ip()))?)?;

        // Simulators.
        let account = seed::Account::sized(config::PRIMARY_ACCOUNT, config.seed);
        let specs = clusters
            .iter()
            .enumerate()
            .map(|(i, c)| prism::ClusterSpec {
                name: c.name.clone(),
                username: config.prism.username.clone(),
                password: if i == 0 {
                    config.prism.password.clone()
                } else {
                    config.prism.secondary_password.clone()
                },
                ip: c.ip,
                replication_ports: c.replication_ports,
                // The secondary holds a smaller second account, `acme-dr`, built by the Prism
                // simulator from the primary's (some users work in both).
                account: Some(if i == 0 {
                    account.clone()
                } else {
                    prism::dr_account(&account)
                }),
            })
            .collect();
        let prism_lab = prism::PrismLab::new(clock.clone(), specs);
        let azure_lab = azure::AzureLab::new(clock.clone(), config.azure.clone(), Some(&account));
        if let Some(s) = &saved {
            prism_lab
                .import_state(s.prism.clone())
                .map_err(|e| LabError::Import {
                    what: "Prism",
                    message: format!("{e:#}"),
                })?;
            azure_lab
                .import_state(s.azure.clone())
                .map_err(|e| LabError::Import {
                    what: "Azure",
                    message: e.to_string(),
                })?;
        }

        let faults = Faults::new(clock.clone(), config.azure.subscription_id.clone());
        let azure_endpoint = AzureEndpoint {
            arm_url: serve::socket_url("https", arm_addr),
            authority_url: serve::socket_url("https", token_addr),
            tenant_id: config.azure.tenant_id.clone(),
            client_id: config.azure.client_id.clone(),
            client_secret: config.azure.client_secret.clone(),
            subscription_id: config.azure.subscription_id.clone(),
            resource_group: config.azure.resource_group.clone(),
            secondary_resource_group: config.azure.secondary_resource_group.clone(),
            primary_region: config.azure.primary_region.clone(),
            secondary_region: config.azure.secondary_region.clone(),
            ca_certificate_pem: ca.pair.cert_pem.clone(),
        };
        let dirty = Arc::new(Notify::new());
        let core = Arc::new(Core {
            clock: clock.clone(),
            faults: faults.clone(),
            prism: prism_lab.clone(),
            azure: azure_lab.clone(),
            dirty: dirty.clone(),
            clusters,
            certs_dir,
            prism_user: (
                config.prism.username.clone(),
                vec![
                    config.prism.password.clone(),
                    config.prism.secondary_password.clone(),
                ],
            ),
            azure_endpoint: azure_endpoint.clone(),
            control_url: serve::socket_url("http", control_addr),
        });

        // Serving.
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let on_write: Arc<dyn Fn() + Send + Sync> = {
            let dirty = dirty.clone();
            Arc::new(move || dirty.notify_one())
        };
        for (i, (https, r0, r1)) in listeners.into_iter().enumerate() {
            let c = &core.clusters[i];
            let target = faults::prism_target(&c.name);
            let svc = FaultLayer::new(faults.clone(), &target)
                .on_write(on_write.clone())
                .layer(prism_lab.router(i));
            let down = faults.down_watch(&target);
            serve::spawn_https(
                https,
                tls::server_config(c.cert.clone())?,
                svc,
                down.clone(),
                cancel.clone(),
                &tracker,
            );
            serve::spawn_accept_and_close(r0, down.clone(), cancel.clone(), &tracker);
            serve::spawn_accept_and_close(r1, down, cancel.clone(), &tracker);
        }
        for (listener, target, router, cert) in [
            (arm_l, faults::ARM, azure_lab.arm_router(), arm_cert),
            (token_l, faults::TOKEN, azure_lab.token_router(), token_cert),
        ] {
            let svc = FaultLayer::new(faults.clone(), target)
                .on_write(on_write.clone())
                .layer(router);
            let down = faults.down_watch(target);
            serve::spawn_https(
                listener,
                tls::server_config(cert)?,
                svc,
                down,
                cancel.clone(),
                &tracker,
            );
        }
        serve::spawn_control(
            control_l,
            control::router(core.clone()),
            cancel.clone(),
            &tracker,
        );
        if let Some(dir) = &state_dir {
            let snap_core = core.clone();
            persist::spawn_saver(
                dir.clone(),
                Arc::new(move || snap_core.saved()),
                dirty.clone(),
                cancel.clone(),
                &tracker,
            );
            // A first save makes the folder complete (state, addresses) even if nothing changes.
            persist::save(dir, &core.saved())?;
        }

        Ok(LabHandle {
            prism: core.prism_endpoints(),
            azure: azure_endpoint,
            control_url: core.control_url.clone(),
            clock,
            state_dir,
            core,
            cancel,
            tracker,
        })
    }
}

/// A running lab. Dropping it stops the endpoints without saving; [`LabHandle::shutdown`] saves.
pub struct LabHandle {
    pub prism: Vec<PrismEndpoint>,
    pub azure: AzureEndpoint,
    /// `http://127.0.0.1:port/` (routes under `/_lab`).
    pub control_url: url::Url,
    pub clock: LabClock,
    pub state_dir: Option<PathBuf>,
    core: Arc<Core>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl LabHandle {
    /// Stops every listener, lets open connections finish briefly, and saves the state.
    pub async fn shutdown(self) -> Result<(), LabError> {
        self.cancel.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
        self.save_now()
    }

    /// Writes the state folder now (no-op without one).
    pub fn save_now(&self) -> Result<(), LabError> {
        if let Some(dir) = &self.state_dir {
            persist::save(dir, &self.core.saved())?;
        }
        Ok(())
    }

    pub fn faults(&self) -> &Arc<Faults> {
        &self.core.faults
    }

    pub fn azure_lab(&self) -> &Arc<azure::AzureLab> {
        &self.core.azure
    }

    pub fn prism_lab(&self) -> &Arc<prism::PrismLab> {
        &self.core.prism
    }

    /// Takes an endpoint (`prism:<cluster>`, `azure:arm`, `azure:token`) down or brings it back.
    pub fn set_down(&self, target: &str, down: bool) -> Result<(), LabError> {
        Ok(self.core.set_down(target, down)?)
    }

    /// The certificate a cluster serves now.
    pub fn prism_certificate(&self, cluster: &str) -> Result<CertPair, LabError> {
        Ok(self.core.cluster(cluster)?.cert.pair())
    }

    pub fn rotate_certificate(&self, cluster: &str) -> Result<CertPair, LabError> {
        self.core.rotate_certificate(cluster)
    }

    /// Everything, as `GET /_lab/state` answers.
    pub fn state(&self) -> serde_json::Value {
        self.core.state_json()
    }

    /// The endpoints and credentials, as `GET /_lab/endpoints` answers.
    pub fn endpoints(&self) -> serde_json::Value {
        self.core.endpoints_json()
    }

    /// Where the lab CA's PEM is kept (with a state folder), for users who configure trust by file.
    pub fn ca_certificate_path(&self) -> Option<PathBuf> {
        self.state_dir
            .as_deref()
            .map(|d| persist::certs_dir(d).join("lab-ca.pem"))
    }
}

impl Drop for LabHandle {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}
