//! One Azure subscription with two regions: the Entra token endpoint and Azure Resource Manager for
//! managed disks, incremental snapshots (with CopyStart copies between the regions), virtual
//! machines and usages, plus the lab's control routes for Azure (sessions, the simulated guest
//! agent, copy speed, copy failures, regions down).
//!
//! All state sits behind one lock; time-dependent state (copy progress, power transitions, token
//! expiry, operation status) is computed from the lab clock when it is read.

mod arm;
mod control;
mod disks;
pub mod ids;
pub mod model;
mod ops;
mod reply;
mod seeding;
mod snapshots;
mod token;
mod validate;
mod views;
mod vms;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Request;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use rand::Rng;

use crate::clock::LabClock;
use crate::config::{AzureConfig, AzureLimits};
use crate::seed;
use model::{AzureState, ResourceGroup};

pub use reply::{ArmError, ArmReply};

#[derive(Debug, thiserror::Error)]
pub enum AzureStateError {
    #[error("the saved Azure state does not parse: {0}")]
    Parse(#[from] serde_json::Error),
}

/// Settings that the control API may change while the lab runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    pub page_size: usize,
    pub limits: AzureLimits,
}

pub struct AzureLab {
    cfg: AzureConfig,
    clock: LabClock,
    state: Mutex<AzureState>,
    settings: Mutex<Settings>,
}

impl AzureLab {
    /// A subscription with the two regions' resource groups, seeded with `account` (if any) in the
    /// primary region.
    pub fn new(clock: LabClock, cfg: AzureConfig, account: Option<&seed::Account>) -> Arc<Self> {
        let mut state = AzureState {
            token_key: crate::tls::hex(&rand::rng().random::<[u8; 32]>()),
            copy_speed_mib_per_sec: cfg.copy_speed_mib_per_sec,
            ..AzureState::default()
        };
        for (rg, loc) in [
            (&cfg.resource_group, &cfg.primary_region),
            (&cfg.secondary_resource_group, &cfg.secondary_region),
        ] {
            state.resource_groups.insert(
                rg.to_ascii_lowercase(),
                ResourceGroup {
                    name: rg.clone(),
                    location: loc.clone(),
                },
            );
        }
        if let Some(account) = account {
            seeding::seed(&mut state, &cfg, account, clock.now());
        }
        Arc::new(Self {
            settings: Mutex::new(Settings {
                page_size: cfg.page_size.max(1),
                limits: cfg.limits.clone(),
            }),
            cfg,
            clock,
            state: Mutex::new(state),
        })
    }

    pub fn config(&self) -> &AzureConfig {
        &self.cfg
    }

    pub fn clock(&self) -> &LabClock {
        &self.clock
    }

    pub fn settings(&self) -> Settings {
        self.settings.lock().clone()
    }

    pub fn set_settings(&self, s: Settings) {
        *self.settings.lock() = Settings {
            page_size: s.page_size.max(1),
            ..s
        };
    }

    /// ARM (`https://management.azure.com` in production).
    pub fn arm_router(self: &Arc<Self>) -> Router {
        Router::new().fallback(arm_entry).with_state(self.clone())
    }

    /// The Entra token endpoint (`https://login.microsoftonline.com` in production).
    pub fn token_router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token_entry))
            .with_state(self.clone())
    }

    /// The lab's Azure control routes, mounted under `/_lab/azure`.
    pub fn control_router(self: &Arc<Self>) -> Router {
        control::router(self.clone())
    }

    pub fn export_state(&self) -> serde_json::Value {
        let now = self.clock.now();
        let mut st = self.state.lock();
        rebase_copies(&mut st, now);
        serde_json::to_value(&*st).unwrap_or_default()
    }

    pub fn import_state(&self, v: serde_json::Value) -> Result<(), AzureStateError> {
        let st: AzureState = serde_json::from_value(v)?;
        *self.state.lock() = st;
        Ok(())
    }

    /// Creates a resource group (conformance tests replay examples whose groups must exist).
    pub fn ensure_resource_group(&self, name: &str, location: &str) {
        self.state.lock().resource_groups.insert(
            name.to_ascii_lowercase(),
            ResourceGroup {
                name: name.to_string(),
                location: model::normalize_location(location),
            },
        );
    }

    /// A VM with an OS disk (and no data disks), as the seed makes them; for tests and demos that
    /// need one with a given name.
    pub fn add_vm(&self, resource_group: &str, name: &str, location: &str, running: bool) {
        let now = self.clock.now();
        let mut st = self.state.lock();
        seeding::add_vm(
            &mut st,
            &seeding::VmSpec {
                resource_group,
                name,
                location: &model::normalize_location(location),
                size_gb: 64,
                used_gb: 20.0,
                running,
                tags: Default::default(),
            },
            now,
        );
    }

    /// Takes a region down (requests for its resources answer 503; copies to or from it stall) or
    /// brings it back.
    pub fn set_region_down(&self, region: &str, down: bool) {
        let now = self.clock.now();
        let region = model::normalize_location(region);
        let mut st = self.state.lock();
        rebase_copies(&mut st, now);
        st.regions_down.retain(|r| r != &region);
        if down {
            st.regions_down.push(region);
        }
    }

    pub fn set_copy_speed(&self, mib_per_sec: f64) {
        let now = self.clock.now();
        let mut st = self.state.lock();
        rebase_copies(&mut st, now);
        st.copy_speed_mib_per_sec = mib_per_sec.max(0.0);
    }

    pub fn fail_next_copies(&self, count: u32) {
        self.state.lock().fail_next_copies = count;
    }
}

/// The speed a copy between these regions runs at now (nothing moves while either is down).
fn copy_rate(st: &AzureState, from: &str, to: &str) -> f64 {
    if st.regions_down.iter().any(|r| r == from || r == to) {
        0.0
    } else {
        st.copy_speed_mib_per_sec
    }
}

/// Folds every running copy's progress at `now` (before a rate change or a save).
fn rebase_copies(st: &mut AzureState, now: DateTime<Utc>) {
    let rates: Vec<(String, f64)> = st
        .snapshots
        .iter()
        .filter_map(|(k, s)| {
            s.copy
                .as_ref()
                .map(|c| (k.clone(), copy_rate(st, &c.source_location, &s.location)))
        })
        .collect();
    for (k, rate) in rates {
        if let Some(c) = st.snapshots.get_mut(&k).and_then(|s| s.copy.as_mut()) {
            c.rebase(now, rate);
        }
    }
}

async fn arm_entry(
    State(lab): State<Arc<AzureLab>>,
    req: Request<Body>,
) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, 16 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return reply::into_response(Err(ArmError::bad_request(
                "InvalidRequestContent",
                "The request content could not be read.",
            )))
        }
    };
    reply::into_response(arm::handle(&lab, &parts, &bytes))
}

async fn token_entry(
    State(lab): State<Arc<AzureLab>>,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let key = lab.state.lock().token_key.clone();
    token::token_endpoint(&key, &lab.cfg, &tenant, &body, lab.clock.now())
}
