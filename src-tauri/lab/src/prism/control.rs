//! The lab's own controls for the simulated clusters (mounted under `/_lab/prism`): sessions, the
//! simulated Frame guest agent, disk filling, bandwidth, latency, fault injection, and state.
//! Not part of any Nutanix API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::model::{Cluster, LabState, RestoreAnswer, TaskFault, Vm};
use super::PrismLab;
use crate::seed;

const GIB: u64 = 1024 * 1024 * 1024;
/// What a closed session leaves written on the desktop's disk.
const SESSION_WRITE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("no cluster named {0}")]
    NoCluster(String),
    #[error("{0} not found on cluster {1}")]
    NotFound(String, String),
    #[error("{0}")]
    Invalid(String),
}

impl IntoResponse for ControlError {
    fn into_response(self) -> Response {
        let status = match self {
            ControlError::NoCluster(_) | ControlError::NotFound(..) => StatusCode::NOT_FOUND,
            ControlError::Invalid(_) => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

type Ctl = Result<Json<Value>, ControlError>;

pub fn router(lab: Arc<PrismLab>) -> Router {
    Router::new()
        .route("/", get(clusters))
        .route("/state", get(state))
        .route("/{cluster}", get(cluster_state))
        .route("/{cluster}/settings", get(settings).put(put_settings))
        .route("/{cluster}/faults/tasks", post(fail_tasks))
        .route("/{cluster}/sessions/open", post(open_session))
        .route("/{cluster}/sessions/close", post(close_session))
        .route("/{cluster}/disks/fill", post(fill_disk))
        .route("/{cluster}/guests", get(guests))
        .route("/{cluster}/guest/{vm}", get(guest))
        .route("/{cluster}/guest-agent", get(guest_agent))
        .with_state(lab)
}

fn cluster_ix(st: &LabState, name: &str) -> Result<usize, ControlError> {
    st.clusters
        .iter()
        .position(|c| c.name == name)
        .ok_or_else(|| ControlError::NoCluster(name.to_string()))
}

async fn clusters(State(lab): State<Arc<PrismLab>>) -> Json<Value> {
    lab.with_state(|st, _| {
        Json(json!(st
            .clusters
            .iter()
            .map(|c| json!({
                "name": c.name,
                "uuid": c.uuid,
                "ip": c.ip.to_string(),
                "replication_ports": c.replication_ports,
                "reachable": c.reachable,
                "account": c.account,
                "vms": c.vms.len(),
                "volume_groups": c.volume_groups.len(),
            }))
            .collect::<Vec<_>>()))
    })
}

async fn state(State(lab): State<Arc<PrismLab>>) -> Json<Value> {
    Json(lab.export_state())
}

async fn cluster_state(State(lab): State<Arc<PrismLab>>, Path(name): Path<String>) -> Ctl {
    lab.with_state(|st, _| {
        let i = cluster_ix(st, &name)?;
        Ok(Json(
            serde_json::to_value(&st.clusters[i]).expect("serializes"),
        ))
    })
}

fn render_settings(c: &Cluster) -> Value {
    json!({
        "reachable": c.reachable,
        "bandwidth_bytes_per_sec": c.settings.bandwidth_bytes_per_sec,
        "link_latency_usecs": c.settings.link_latency_usecs,
        "api_latency_ms": c.settings.api_latency_ms,
        "restore_answer": c.settings.restore_answer,
        "oob_snapshot_delay_secs": c.settings.oob_snapshot_delay_secs,
        "task_faults": c.settings.task_faults,
    })
}

async fn settings(State(lab): State<Arc<PrismLab>>, Path(name): Path<String>) -> Ctl {
    lab.with_state(|st, _| Ok(Json(render_settings(&st.clusters[cluster_ix(st, &name)?]))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsPatch {
    reachable: Option<bool>,
    bandwidth_bytes_per_sec: Option<u64>,
    link_latency_usecs: Option<u64>,
    api_latency_ms: Option<u64>,
    restore_answer: Option<RestoreAnswer>,
    oob_snapshot_delay_secs: Option<u64>,
}

async fn put_settings(
    State(lab): State<Arc<PrismLab>>,
    Path(name): Path<String>,
    Json(p): Json<SettingsPatch>,
) -> Ctl {
    // `with_state` has brought replication up to now, so a new bandwidth applies from now on.
    lab.with_state(|st, _| {
        let i = cluster_ix(st, &name)?;
        let c = &mut st.clusters[i];
        if let Some(r) = p.reachable {
            c.reachable = r;
        }
        if let Some(b) = p.bandwidth_bytes_per_sec {
            c.settings.bandwidth_bytes_per_sec = b;
        }
        if let Some(l) = p.link_latency_usecs {
            c.settings.link_latency_usecs = l;
        }
        if let Some(l) = p.api_latency_ms {
            c.settings.api_latency_ms = l;
        }
        if let Some(r) = p.restore_answer {
            c.settings.restore_answer = r;
        }
        if let Some(d) = p.oob_snapshot_delay_secs {
            c.settings.oob_snapshot_delay_secs = d;
        }
        Ok(Json(render_settings(c)))
    })
}

const TASK_KINDS: &[&str] = &[
    "set_power_state",
    "vm_disk_update",
    "vg_disk_update",
    "vg_clone",
    "restore_entities",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailTasks {
    kind: String,
    #[serde(default = "one")]
    count: u32,
    error_code: Option<i64>,
    message: Option<String>,
}

fn one() -> u32 {
    1
}

async fn fail_tasks(
    State(lab): State<Arc<PrismLab>>,
    Path(name): Path<String>,
    Json(f): Json<FailTasks>,
) -> Ctl {
    if !TASK_KINDS.contains(&f.kind.as_str()) {
        return Err(ControlError::Invalid(format!(
            "unknown task kind {}: use one of {}",
            f.kind,
            TASK_KINDS.join(", ")
        )));
    }
    lab.with_state(|st, _| {
        let i = cluster_ix(st, &name)?;
        let c = &mut st.clusters[i];
        if f.count == 0 {
            c.settings.task_faults.remove(&f.kind);
        } else {
            c.settings.task_faults.insert(
                f.kind.clone(),
                TaskFault {
                    remaining: f.count,
                    error_code: f.error_code.unwrap_or(1203),
                    message: f.message.clone().unwrap_or_else(|| {
                        format!("Injected failure ({}) from the lab's control API", f.kind)
                    }),
                },
            );
        }
        Ok(Json(render_settings(c)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionReq {
    email: Option<String>,
    vm: Option<String>,
}

/// The user's assigned persistent desktop (by the Frame tags in its description), or the named VM.
fn session_vm(c: &Cluster, r: &SessionReq) -> Result<usize, ControlError> {
    match (&r.email, &r.vm) {
        (_, Some(vm)) => c
            .find_vm(vm)
            .ok_or_else(|| ControlError::NotFound(format!("VM {vm}"), c.name.clone())),
        (Some(email), None) => c
            .vms
            .iter()
            .position(|v| {
                let tags = seed::decode_description(&v.description);
                let has = |k: &str, val: &str| tags.iter().any(|(tk, tv)| tk == k && tv == val);
                has(seed::TAG_OWNER, email)
                    && has(seed::TAG_ROLE, seed::Role::PersistentDesktop.as_str())
                    && has(
                        seed::TAG_DESKTOP_STATE,
                        seed::DesktopState::Assigned.as_str(),
                    )
            })
            .ok_or_else(|| {
                ControlError::NotFound(format!("an assigned desktop of {email}"), c.name.clone())
            }),
        (None, None) => Err(ControlError::Invalid("give email or vm".into())),
    }
}

fn render_guest(v: &Vm) -> Value {
    json!({
        "vm_uuid": v.uuid,
        "vm_name": v.name,
        "power_state": if v.power_on { "on" } else { "off" },
        "in_session": v.guest.in_session,
        "session_user": v.guest.session_user,
        "session_started_usecs": v.guest.session_started_usecs,
        "disk_size_bytes": v.disk.size_bytes,
        "used_bytes": v.disk.used_bytes,
        "free_bytes": v.disk.size_bytes.saturating_sub(v.disk.used_bytes),
        "contents_generation": v.disk.generation,
        "simulated": true,
    })
}

async fn open_session(
    State(lab): State<Arc<PrismLab>>,
    Path(name): Path<String>,
    Json(r): Json<SessionReq>,
) -> Ctl {
    lab.with_state(|st, now| {
        let i = cluster_ix(st, &name)?;
        let c = &mut st.clusters[i];
        let i = session_vm(c, &r)?;
        let ts = c.next_logical();
        let v = &mut c.vms[i];
        if v.guest.in_session {
            return Err(ControlError::Invalid(format!(
                "{} already has a session",
                v.name
            )));
        }
        // Frame starts a stopped desktop for its user.
        if !v.power_on {
            v.power_on = true;
            v.logical_timestamp = ts;
        }
        let user = r.email.clone().or_else(|| {
            seed::decode_description(&v.description)
                .into_iter()
                .find(|(k, _)| k == seed::TAG_OWNER)
                .map(|(_, val)| val)
        });
        v.guest.in_session = true;
        v.guest.session_user = user;
        v.guest.session_started_usecs = Some(now);
        Ok(Json(render_guest(v)))
    })
}

async fn close_session(
    State(lab): State<Arc<PrismLab>>,
    Path(name): Path<String>,
    Json(r): Json<SessionReq>,
) -> Ctl {
    lab.with_state(|st, _| {
        let i = cluster_ix(st, &name)?;
        let c = &mut st.clusters[i];
        let i = session_vm(c, &r)?;
        let v = &mut c.vms[i];
        if !v.guest.in_session {
            return Err(ControlError::Invalid(format!("{} has no session", v.name)));
        }
        v.guest = Default::default();
        // The user worked: the disk's contents changed.
        v.disk.generation += 1;
        v.disk.used_bytes = (v.disk.used_bytes + SESSION_WRITE_BYTES).min(v.disk.size_bytes);
        Ok(Json(render_guest(v)))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FillReq {
    vm: Option<String>,
    volume_group: Option<String>,
    used_bytes: Option<u64>,
    used_gib: Option<u64>,
    free_bytes: Option<u64>,
}

async fn fill_disk(
    State(lab): State<Arc<PrismLab>>,
    Path(name): Path<String>,
    Json(r): Json<FillReq>,
) -> Ctl {
    lab.with_state(|st, _| {
        let i = cluster_ix(st, &name)?;
        let c = &mut st.clusters[i];
        let cname = c.name.clone();
        let disk = match (&r.vm, &r.volume_group) {
            (Some(vm), None) => {
                let i = c
                    .find_vm(vm)
                    .ok_or_else(|| ControlError::NotFound(format!("VM {vm}"), cname.clone()))?;
                &mut c.vms[i].disk
            }
            (None, Some(vg)) => {
                let i = c.find_vg(vg).ok_or_else(|| {
                    ControlError::NotFound(format!("volume group {vg}"), cname.clone())
                })?;
                c.volume_groups[i].disks.first_mut().ok_or_else(|| {
                    ControlError::Invalid(format!("volume group {vg} has no disk"))
                })?
            }
            _ => {
                return Err(ControlError::Invalid(
                    "give exactly one of vm or volume_group".into(),
                ))
            }
        };
        let used = match (r.used_bytes, r.used_gib, r.free_bytes) {
            (Some(b), None, None) => b,
            (None, Some(g), None) => g * GIB,
            (None, None, Some(f)) => disk.size_bytes.saturating_sub(f),
            _ => {
                return Err(ControlError::Invalid(
                    "give exactly one of used_bytes, used_gib or free_bytes".into(),
                ))
            }
        };
        if used > disk.size_bytes {
            return Err(ControlError::Invalid(format!(
                "used {used} exceeds the disk's size {}",
                disk.size_bytes
            )));
        }
        disk.used_bytes = used;
        disk.generation += 1;
        Ok(Json(json!({
            "disk_uuid": disk.uuid,
            "size_bytes": disk.size_bytes,
            "used_bytes": disk.used_bytes,
            "free_bytes": disk.size_bytes - disk.used_bytes,
            "contents_generation": disk.generation,
        })))
    })
}

async fn guests(State(lab): State<Arc<PrismLab>>, Path(name): Path<String>) -> Ctl {
    lab.with_state(|st, _| {
        let c = &st.clusters[cluster_ix(st, &name)?];
        Ok(Json(json!(c
            .vms
            .iter()
            .map(render_guest)
            .collect::<Vec<_>>())))
    })
}

async fn guest(State(lab): State<Arc<PrismLab>>, Path((name, vm)): Path<(String, String)>) -> Ctl {
    lab.with_state(|st, _| {
        let c = &st.clusters[cluster_ix(st, &name)?];
        let i = c
            .find_vm(&vm)
            .ok_or_else(|| ControlError::NotFound(format!("VM {vm}"), c.name.clone()))?;
        Ok(Json(render_guest(&c.vms[i])))
    })
}

/// The guest-agent protocol Standby reads (docs/guest-agent.md): every VM's and volume group's
/// disk with its free space, power and the user in session on the VM it is part of.
async fn guest_agent(State(lab): State<Arc<PrismLab>>, Path(name): Path<String>) -> Ctl {
    lab.with_state(|st, _| {
        let c = &st.clusters[cluster_ix(st, &name)?];
        let session = |v: &Vm| {
            v.guest
                .in_session
                .then(|| v.guest.session_user.clone())
                .flatten()
        };
        let mut volumes: Vec<Value> = c
            .vms
            .iter()
            .map(|v| {
                json!({
                    "id": v.uuid.to_string(),
                    "name": v.name,
                    "vm": v.name,
                    "power_on": v.power_on,
                    "session_user": session(v),
                    "size_bytes": v.disk.size_bytes,
                    "free_bytes": v.disk.size_bytes.saturating_sub(v.disk.used_bytes),
                })
            })
            .collect();
        for g in &c.volume_groups {
            let vm = g
                .attached_vm
                .and_then(|u| c.vms.iter().find(|v| v.uuid == u));
            let (size, used) = g
                .disks
                .first()
                .map(|d| (d.size_bytes, d.used_bytes))
                .unwrap_or((0, 0));
            volumes.push(json!({
                "id": g.uuid.to_string(),
                "name": g.name,
                "vm": vm.map(|v| v.name.clone()),
                "power_on": vm.map(|v| v.power_on),
                "session_user": vm.and_then(session),
                "size_bytes": size,
                "free_bytes": size.saturating_sub(used),
            }));
        }
        Ok(Json(json!({
            "source": format!("standby-lab simulated guest agent on {}", c.name),
            "volumes": volumes,
        })))
    })
}
