//! Simulated Nutanix AHV clusters speaking the Prism Element REST API v2.0.
//!
//! Each cluster serves `/PrismGateway/services/rest/v2.0/...` and `/api/nutanix/v2.0/...` with HTTP
//! Basic auth and a `JSESSIONID` session cookie. The clusters share one state behind one lock, so
//! that the remote-site handshake and replication see the other side as it is. Everything that
//! depends on time reads the lab's clock and is brought up to date when state is read (see
//! `advance`); there is no background task. `docs/lab-prism.md` describes what is simulated.

mod advance;
mod api;
mod body;
mod control;
pub mod error;
mod inventory;
pub mod model;
mod protection;
mod remote_sites;
mod seeding;
mod tasks;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::clock::LabClock;
use model::LabState;

pub use seeding::{dr_account, MANAGEMENT_CONTAINER, SECONDARY_DEFAULT_CONTAINER};

/// The default lab's cluster names.
pub const PRIMARY_CLUSTER: &str = "ahv-primary";
pub const SECONDARY_CLUSTER: &str = "ahv-secondary";

pub struct ClusterSpec {
    pub name: String,
    pub username: String,
    pub password: String,
    /// The cluster's external IP as other clusters address it (the lab binds each cluster to its own loopback IP, e.g. 127.0.77.1)
    pub ip: IpAddr,
    /// Ports the simulated cluster listens on for replication (stand-ins for tcp/2009 and tcp/2020; the lab binds them and may have to pick others when busy)
    pub replication_ports: [u16; 2],
    /// Which Frame account (if any) is seeded on this cluster
    pub account: Option<crate::seed::Account>,
}

pub struct PrismLab {
    clock: LabClock,
    state: Mutex<LabState>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("saved Prism state does not parse: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("saved Prism state has cluster {0}, which this lab does not run")]
    UnknownCluster(String),
}

impl PrismLab {
    pub fn new(clock: LabClock, clusters: Vec<ClusterSpec>) -> Arc<Self> {
        let state = LabState {
            clusters: clusters.iter().map(seeding::cluster).collect(),
        };
        Arc::new(Self {
            clock,
            state: Mutex::new(state),
        })
    }

    /// The Prism Element API of cluster `index`: serves both `/PrismGateway/services/rest/v2.0/...` and `/api/nutanix/v2.0/...` (real PE answers both), with HTTP Basic auth (401 in Prism's shape on bad credentials) and a session cookie (`JSESSIONID`) that later requests may use instead of Basic.
    pub fn router(self: &Arc<Self>, index: usize) -> axum::Router {
        assert!(
            index < self.state.lock().clusters.len(),
            "no Prism cluster at index {index}"
        );
        api::router(self.clone(), index)
    }

    /// Test/demo controls, mounted by the lab under `/_lab/prism` on a separate loopback-only listener.
    pub fn control_router(self: &Arc<Self>) -> axum::Router {
        control::router(self.clone())
    }

    /// Take a cluster off the network (its remote sites become UNREACHABLE from the peer, replications to it stall) and back.
    pub fn set_reachable(&self, cluster: &str, reachable: bool) {
        let mut st = self.state.lock();
        let now = self.clock.now_usecs();
        // Progress made while the link was up is accounted before it changes.
        advance::run(&mut st, now);
        if let Some(c) = st.clusters.iter_mut().find(|c| c.name == cluster) {
            c.reachable = reachable;
        }
    }

    /// Whole state, for persistence across restarts and for assertions (serde, round-trips exactly).
    pub fn export_state(&self) -> Value {
        let mut st = self.state.lock();
        advance::run(&mut st, self.clock.now_usecs());
        serde_json::to_value(&*st).expect("lab state serializes")
    }

    /// Restores saved state. Each cluster keeps this run's network identity and credentials (the lab
    /// may have had to bind other ports), and remote sites that pointed at a cluster's old
    /// replication ports are moved to its new ones.
    pub fn import_state(&self, state: Value) -> anyhow::Result<()> {
        let saved: LabState = serde_json::from_value(state).map_err(ImportError::Parse)?;
        let mut st = self.state.lock();
        let mut moves: BTreeMap<(IpAddr, u16), u16> = BTreeMap::new();
        let mut next = Vec::with_capacity(st.clusters.len());
        for mut c in saved.clusters {
            let live = st
                .clusters
                .iter()
                .find(|l| l.name == c.name)
                .ok_or_else(|| ImportError::UnknownCluster(c.name.clone()))?;
            for (old, new) in c.replication_ports.iter().zip(live.replication_ports) {
                moves.insert((c.ip, *old), new);
            }
            if c.ip != live.ip {
                for old in c.replication_ports {
                    moves.insert((c.ip, old), live.replication_ports[0]);
                }
            }
            c.ip = live.ip;
            c.replication_ports = live.replication_ports;
            c.username = live.username.clone();
            c.password = live.password.clone();
            next.push(c);
        }
        for c in next.iter_mut() {
            for s in c.remote_sites.iter_mut() {
                s.remote_ip_ports = s
                    .remote_ip_ports
                    .iter()
                    .map(|(ip, port)| {
                        let new = ip
                            .parse::<IpAddr>()
                            .ok()
                            .and_then(|a| moves.get(&(a, *port)).copied())
                            .unwrap_or(*port);
                        (ip.clone(), new)
                    })
                    .collect();
            }
        }
        // Clusters absent from the saved state keep their fresh seed.
        for live in st.clusters.iter() {
            if !next.iter().any(|c| c.name == live.name) {
                next.push(live.clone());
            }
        }
        let order: Vec<String> = st.clusters.iter().map(|c| c.name.clone()).collect();
        next.sort_by_key(|c| order.iter().position(|n| *n == c.name));
        st.clusters = next;
        Ok(())
    }

    fn now_usecs(&self) -> i64 {
        self.clock.now_usecs()
    }

    /// Runs `f` on the state brought up to now.
    fn with_state<T>(&self, f: impl FnOnce(&mut LabState, i64) -> T) -> T {
        let mut st = self.state.lock();
        let now = self.now_usecs();
        advance::run(&mut st, now);
        f(&mut st, now)
    }
}

/// Prism's list answer: `{"metadata": {...}, "entities": [...]}`.
fn collection(entities: Vec<Value>) -> Value {
    let n = entities.len();
    json!({
        "metadata": {
            "grand_total_entities": n,
            "total_entities": n,
            "count": n,
            "start_index": 0,
            "end_index": n.saturating_sub(1),
        },
        "entities": entities,
    })
}
