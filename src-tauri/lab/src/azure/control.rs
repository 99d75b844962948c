//! `/_lab/azure/...`: the lab's own routes for Azure (never on ARM): user sessions, the simulated
//! guest agent's free space per disk, copy speed, failing copies, regions down, settings.
//!
//! In a real deployment free space comes from inside the guest (a guest agent or Frame's volume
//! statistics), not from any Azure API; the lab serves its simulated figures here only.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::model::{key, Power};
use super::{AzureLab, Settings};
use crate::seed::{Role, TAG_OWNER, TAG_ROLE};

pub fn router(lab: Arc<AzureLab>) -> Router {
    Router::new()
        .route("/state", get(state))
        .route("/sessions/open", post(open_session))
        .route("/sessions/close", post(close_session))
        .route("/guest/disks", get(guest_disks))
        .route("/guest-agent", get(guest_agent))
        .route("/disks/{name}/fill", post(fill_disk))
        .route("/copy-speed", put(copy_speed))
        .route("/copies/fail-next", post(fail_next))
        .route("/regions/{region}/down", post(region_down))
        .route("/regions/{region}/up", post(region_up))
        .route("/settings", get(get_settings).put(put_settings))
        .with_state(lab)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

async fn state(State(lab): State<Arc<AzureLab>>) -> Json<serde_json::Value> {
    Json(lab.export_state())
}

#[derive(Deserialize)]
struct SessionReq {
    user: String,
}

/// Finds the user's persistent desktop VM by its tags.
fn desktop_of(lab: &AzureLab, user: &str) -> Option<String> {
    let st = lab.state.lock();
    st.vms
        .iter()
        .find(|(_, v)| {
            v.tags.get(TAG_ROLE).map(String::as_str) == Some(Role::PersistentDesktop.as_str())
                && v.tags
                    .get(TAG_OWNER)
                    .is_some_and(|o| o.eq_ignore_ascii_case(user))
        })
        .map(|(k, _)| k.clone())
}

/// Opening a session starts the user's desktop at once (Frame boots it before the user connects).
async fn open_session(State(lab): State<Arc<AzureLab>>, Json(req): Json<SessionReq>) -> Response {
    let Some(k) = desktop_of(&lab, &req.user) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no desktop VM for user {}", req.user),
        );
    };
    let mut st = lab.state.lock();
    let vm = st.vms.get_mut(&k).expect("found above");
    vm.transition = None;
    vm.power = Power::Running;
    vm.session = Some(req.user.clone());
    Json(json!({"vm": vm.name, "user": req.user, "power": "running"})).into_response()
}

async fn close_session(State(lab): State<Arc<AzureLab>>, Json(req): Json<SessionReq>) -> Response {
    let Some(k) = desktop_of(&lab, &req.user) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no desktop VM for user {}", req.user),
        );
    };
    let mut st = lab.state.lock();
    let vm = st.vms.get_mut(&k).expect("found above");
    vm.session = None;
    Json(json!({"vm": vm.name, "user": req.user, "session": null})).into_response()
}

/// The simulated guest agent: size, used and free GB of every disk, with the VM it is in.
async fn guest_disks(State(lab): State<Arc<AzureLab>>) -> Json<serde_json::Value> {
    let st = lab.state.lock();
    let disks: Vec<_> = st
        .disks
        .values()
        .map(|d| {
            json!({
                "name": d.name,
                "resource_group": d.resource_group,
                "vm": d.managed_by.as_ref().and_then(|k| st.vms.get(k)).map(|v| v.name.clone()),
                "session": d.managed_by.as_ref().and_then(|k| st.vms.get(k)).and_then(|v| v.session.clone()),
                "size_gb": d.size_gb,
                "used_gb": d.used_gb,
                "free_gb": (d.size_gb as f64 - d.used_gb).max(0.0),
            })
        })
        .collect();
    Json(json!({"source": "standby-lab simulated guest agent", "disks": disks}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FillReq {
    resource_group: Option<String>,
    used_gb: Option<f64>,
    free_gb: Option<f64>,
}

async fn fill_disk(
    State(lab): State<Arc<AzureLab>>,
    Path(name): Path<String>,
    Json(req): Json<FillReq>,
) -> Response {
    let rg = req
        .resource_group
        .unwrap_or_else(|| lab.cfg.resource_group.clone());
    let mut st = lab.state.lock();
    let Some(d) = st.disks.get_mut(&key(&rg, &name)) else {
        return problem(StatusCode::NOT_FOUND, format!("no disk {name} in {rg}"));
    };
    let size = d.size_gb as f64;
    d.used_gb = match (req.used_gb, req.free_gb) {
        (Some(u), None) => u.clamp(0.0, size),
        (None, Some(f)) => (size - f).clamp(0.0, size),
        _ => {
            return problem(
                StatusCode::BAD_REQUEST,
                "give exactly one of used_gb or free_gb",
            )
        }
    };
    Json(json!({"name": d.name, "size_gb": d.size_gb, "used_gb": d.used_gb, "free_gb": size - d.used_gb}))
        .into_response()
}

#[derive(Deserialize)]
struct SpeedReq {
    mib_per_sec: f64,
}

async fn copy_speed(State(lab): State<Arc<AzureLab>>, Json(req): Json<SpeedReq>) -> Response {
    if !req.mib_per_sec.is_finite() || req.mib_per_sec < 0.0 {
        return problem(StatusCode::BAD_REQUEST, "mib_per_sec must be >= 0");
    }
    lab.set_copy_speed(req.mib_per_sec);
    Json(json!({"mib_per_sec": req.mib_per_sec})).into_response()
}

#[derive(Deserialize, Default)]
struct CountReq {
    #[serde(default = "one")]
    count: u32,
}
fn one() -> u32 {
    1
}

async fn fail_next(
    State(lab): State<Arc<AzureLab>>,
    body: Option<Json<CountReq>>,
) -> Json<serde_json::Value> {
    let count = body.map(|b| b.0.count).unwrap_or(1);
    lab.fail_next_copies(count);
    Json(json!({"fail_next_copies": count}))
}

async fn region_down(
    State(lab): State<Arc<AzureLab>>,
    Path(region): Path<String>,
) -> Json<serde_json::Value> {
    lab.set_region_down(&region, true);
    Json(json!({"region": region, "down": true}))
}

async fn region_up(
    State(lab): State<Arc<AzureLab>>,
    Path(region): Path<String>,
) -> Json<serde_json::Value> {
    lab.set_region_down(&region, false);
    Json(json!({"region": region, "down": false}))
}

async fn get_settings(State(lab): State<Arc<AzureLab>>) -> Json<Settings> {
    Json(lab.settings())
}

async fn put_settings(State(lab): State<Arc<AzureLab>>, Json(s): Json<Settings>) -> Json<Settings> {
    lab.set_settings(s);
    Json(lab.settings())
}

/// The guest-agent protocol Standby reads (docs/guest-agent.md), for every disk of the
/// subscription: its ARM id, free space, and the power and session of the VM it is attached to.
async fn guest_agent(State(lab): State<Arc<AzureLab>>) -> Json<serde_json::Value> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let now = lab.clock().now();
    let sub = lab.cfg.subscription_id.clone();
    let st = lab.state.lock();
    let volumes: Vec<_> = st
        .disks
        .values()
        .map(|d| {
            let vm = d.managed_by.as_ref().and_then(|k| st.vms.get(k));
            json!({
                "id": format!(
                    "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Compute/disks/{}",
                    d.resource_group, d.name
                ),
                "name": d.name,
                "vm": vm.map(|v| v.name.clone()),
                "power_on": vm.map(|v| v.power_at(now) == Power::Running),
                "session_user": vm.and_then(|v| v.session.clone()),
                "size_bytes": d.size_gb as f64 * GIB,
                "free_bytes": ((d.size_gb as f64 - d.used_gb).max(0.0) * GIB).round(),
            })
        })
        .collect();
    Json(json!({"source": "standby-lab simulated guest agent (Azure)", "volumes": volumes}))
}
