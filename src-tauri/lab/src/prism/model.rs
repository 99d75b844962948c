//! The simulated clusters' whole state: plain data, serde round-trippable, with no behaviour beyond
//! look-ups. Behaviour lives in the modules named for what they simulate.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabState {
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub name: String,
    pub uuid: Uuid,
    pub cluster_id: i64,
    pub incarnation_id: i64,
    pub ip: IpAddr,
    pub replication_ports: [u16; 2],
    pub username: String,
    pub password: String,
    pub reachable: bool,
    pub host_uuid: Uuid,
    pub settings: Settings,
    pub containers: Vec<Container>,
    pub vms: Vec<Vm>,
    pub volume_groups: Vec<VolumeGroup>,
    pub remote_sites: Vec<RemoteSite>,
    pub protection_domains: Vec<ProtectionDomain>,
    pub replications: Vec<Replication>,
    pub tasks: Vec<Task>,
    pub counters: Counters,
    /// The Frame account seeded here, if any.
    pub account: Option<String>,
    /// `JSESSIONID` values handed out; not persisted: after a restart clients log in again, as
    /// they must after a real cluster's gateway restarts.
    #[serde(skip)]
    pub sessions: Vec<String>,
}

/// Knobs the control API turns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Replication throughput from this cluster, bytes per simulated second.
    pub bandwidth_bytes_per_sec: u64,
    /// What `latency_in_usecs` reports for an established link from this cluster.
    pub link_latency_usecs: u64,
    /// Added (real time) before every API answer of this cluster.
    pub api_latency_ms: u64,
    pub restore_answer: RestoreAnswer,
    /// Simulated seconds between an out-of-band snapshot request without a start time and its
    /// snapshot (0: at once). A real cluster takes a moment: a client that lost the request's
    /// answer meanwhile finds the schedule pending, not yet a snapshot.
    #[serde(default)]
    pub oob_snapshot_delay_secs: u64,
    /// Task kind (e.g. `set_power_state`) to the failures still to inject into the next tasks of it.
    pub task_faults: BTreeMap<String, TaskFault>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            // 100 MiB/s: a 60 GiB desktop replicates in about ten simulated minutes.
            bandwidth_bytes_per_sec: 100 * 1024 * 1024,
            link_latency_usecs: 420,
            api_latency_ms: 0,
            restore_answer: RestoreAnswer::Task,
            oob_snapshot_delay_secs: 0,
            task_faults: BTreeMap::new(),
        }
    }
}

/// How `restore_entities` answers: AOS releases differ, and clients must accept each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestoreAnswer {
    /// `{"task_uuid": "..."}` (recent AOS).
    Task,
    /// `{"value": true}` (the spec's `primitivedto<boolean>`, older AOS).
    Boolean,
    /// A bare JSON `true` (seen from some gateways).
    Bare,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFault {
    pub remaining: u32,
    pub error_code: i64,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub next_snapshot_id: u64,
    pub next_schedule_id: i64,
    pub next_replication_id: i64,
    pub logical_timestamp: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub uuid: Uuid,
    /// Prism's `id`: `{cluster uuid}::{container id}`.
    pub id: String,
    pub name: String,
    pub max_capacity: u64,
    /// Bytes used by things the lab does not model (images, system files).
    pub other_used_bytes: u64,
}

/// A virtual disk. `generation` stands for its contents: every write bumps it, and a restore sets it
/// back to the snapshot's, so a test can tell which data a disk holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    pub uuid: Uuid,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub container: String,
    pub generation: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    pub uuid: Uuid,
    pub name: String,
    pub description: String,
    pub power_on: bool,
    pub memory_mb: u64,
    pub num_vcpus: u64,
    pub disk: Disk,
    pub logical_timestamp: i64,
    pub guest: Guest,
}

/// What the simulated Frame guest agent knows about a VM (not part of the Prism API).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Guest {
    pub in_session: bool,
    pub session_user: Option<String>,
    pub session_started_usecs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeGroup {
    pub uuid: Uuid,
    pub name: String,
    pub description: String,
    pub disks: Vec<Disk>,
    pub attached_vm: Option<Uuid>,
    pub logical_timestamp: i64,
    pub modified_usecs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSite {
    pub uuid: Uuid,
    pub name: String,
    /// As sent: address text to port.
    pub remote_ip_ports: BTreeMap<String, u16>,
    pub vstore_name_map: BTreeMap<String, String>,
    pub bandwidth_policy: Option<serde_json::Value>,
    pub bandwidth_policy_enabled: bool,
    pub max_bps: Option<u64>,
    pub compression_enabled: bool,
    pub capabilities: Vec<String>,
    pub proxy_enabled: bool,
    pub ssh_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectionDomain {
    pub name: String,
    pub active: bool,
    pub annotations: Vec<String>,
    pub vms: Vec<ProtectedVm>,
    pub volume_groups: Vec<ProtectedVg>,
    pub cron_schedules: Vec<CronSchedule>,
    pub oob_schedules: Vec<OobSchedule>,
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedVm {
    pub uuid: Uuid,
    pub name: String,
    pub consistency_group: String,
    pub app_consistent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedVg {
    pub uuid: Uuid,
    pub name: String,
    pub consistency_group: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronSchedule {
    pub id: String,
    /// `MINUTELY`, `HOURLY`, `DAILY`, `WEEKLY`, `MONTHLY`.
    pub kind: String,
    pub every_nth: i64,
    pub user_start_time_usecs: i64,
    pub end_time_usecs: Option<i64>,
    pub timezone_offset: i64,
    pub values: Vec<i64>,
    pub app_consistent: bool,
    pub suspended: bool,
    pub retention: Retention,
    /// The last firing time already turned into a snapshot.
    pub last_fired_usecs: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub local_max_snapshots: Option<i64>,
    pub local_retention_period: Option<i64>,
    pub local_retention_type: Option<String>,
    /// Remote site name to the number of replicas kept there; its keys are where the schedule replicates.
    pub remote_max_snapshots: BTreeMap<String, i64>,
    pub remote_retention_period: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OobSchedule {
    pub id: i64,
    pub remote_site_names: Vec<String>,
    pub retention_secs: Option<i64>,
    pub start_usecs: i64,
    pub app_consistent: bool,
    pub fired: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub id: u64,
    pub uuid: Uuid,
    pub create_usecs: i64,
    pub expiry_usecs: Option<i64>,
    pub oob_schedule_id: Option<i64>,
    pub cron_schedule_id: Option<String>,
    /// Sites this snapshot is (to be) replicated to.
    pub remote_site_names: Vec<String>,
    pub replicated_to: Vec<String>,
    pub vms: Vec<SnapVm>,
    pub volume_groups: Vec<SnapVg>,
    /// Set on a replica: where it came from.
    pub origin: Option<Origin>,
}

impl Snapshot {
    /// What replication moves and what the snapshot holds: the written blocks, not the provisioned size.
    pub fn size_bytes(&self) -> u64 {
        self.vms.iter().map(|v| v.disk.used_bytes).sum::<u64>()
            + self
                .volume_groups
                .iter()
                .flat_map(|g| g.disks.iter())
                .map(|d| d.used_bytes)
                .sum::<u64>()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub cluster: String,
    pub snapshot_id: u64,
    /// This cluster's remote site that points back at the origin, if there is one.
    pub remote_site_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapVm {
    pub uuid: Uuid,
    pub name: String,
    pub description: String,
    pub memory_mb: u64,
    pub num_vcpus: u64,
    pub disk: Disk,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapVg {
    pub uuid: Uuid,
    pub name: String,
    pub description: String,
    pub disks: Vec<Disk>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Replication {
    pub id: i64,
    pub protection_domain: String,
    pub snapshot_id: u64,
    pub remote_site: String,
    pub created_usecs: i64,
    pub started_usecs: Option<i64>,
    pub total_bytes: u64,
    pub done_bytes: u64,
    /// Simulated time up to which `done_bytes` is accounted.
    pub as_of_usecs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub uuid: Uuid,
    /// The control API's name for the kind (`set_power_state`, `restore_entities`, ...).
    pub kind: String,
    pub operation_type: String,
    pub method_name: String,
    pub create_usecs: i64,
    pub start_usecs: i64,
    pub complete_usecs: i64,
    pub entities: Vec<TaskEntity>,
    pub failure: Option<TaskFailure>,
    pub effect: Option<Effect>,
    pub applied: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntity {
    pub id: String,
    pub name: String,
    pub entity_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskFailure {
    pub code: i64,
    pub detail: String,
}

/// What a task changes when it succeeds; applied when simulated time reaches its completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    SetPower {
        vm: Uuid,
        on: bool,
    },
    ResizeVmDisk {
        vm: Uuid,
        size_bytes: u64,
    },
    ResizeVgDisk {
        vg: Uuid,
        index: usize,
        size_bytes: u64,
    },
    CloneVg {
        source: SnapVg,
        new_uuid: Uuid,
        new_name: String,
    },
    Restore {
        vms: Vec<RestoreTarget<SnapVm>>,
        volume_groups: Vec<RestoreTarget<SnapVg>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreTarget<T> {
    pub image: T,
    /// `Some` replaces that entity in place; `None` creates `new_uuid` / `new_name`.
    pub replace: Option<Uuid>,
    pub new_uuid: Uuid,
    pub new_name: String,
}

impl Cluster {
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }
    pub fn container_uuid(&self, name: &str) -> Option<Uuid> {
        self.container(name).map(|c| c.uuid)
    }
    pub fn vm(&self, uuid: Uuid) -> Option<&Vm> {
        self.vms.iter().find(|v| v.uuid == uuid)
    }
    pub fn vm_mut(&mut self, uuid: Uuid) -> Option<&mut Vm> {
        self.vms.iter_mut().find(|v| v.uuid == uuid)
    }
    /// By uuid or, failing that, by name (the control API and `vm_names` address VMs by name).
    pub fn find_vm(&self, key: &str) -> Option<usize> {
        let by_uuid = Uuid::parse_str(key)
            .ok()
            .and_then(|u| self.vms.iter().position(|v| v.uuid == u));
        by_uuid.or_else(|| self.vms.iter().position(|v| v.name == key))
    }
    pub fn vg_mut(&mut self, uuid: Uuid) -> Option<&mut VolumeGroup> {
        self.volume_groups.iter_mut().find(|v| v.uuid == uuid)
    }
    pub fn find_vg(&self, key: &str) -> Option<usize> {
        let by_uuid = Uuid::parse_str(key)
            .ok()
            .and_then(|u| self.volume_groups.iter().position(|v| v.uuid == u));
        by_uuid.or_else(|| self.volume_groups.iter().position(|v| v.name == key))
    }
    pub fn pd(&self, name: &str) -> Option<&ProtectionDomain> {
        self.protection_domains.iter().find(|p| p.name == name)
    }
    pub fn pd_mut(&mut self, name: &str) -> Option<&mut ProtectionDomain> {
        self.protection_domains.iter_mut().find(|p| p.name == name)
    }
    pub fn site(&self, name: &str) -> Option<&RemoteSite> {
        self.remote_sites.iter().find(|s| s.name == name)
    }
    pub fn next_logical(&mut self) -> i64 {
        self.counters.logical_timestamp += 1;
        self.counters.logical_timestamp
    }
    pub fn disks(&self) -> impl Iterator<Item = &Disk> {
        self.vms
            .iter()
            .map(|v| &v.disk)
            .chain(self.volume_groups.iter().flat_map(|g| g.disks.iter()))
    }
}
