//! Prism Element v2.0 answers as Standby reads them: lenient on purpose.
//!
//! Shapes drift between AOS releases: every field has a default, optional fields are optional,
//! unknown fields are ignored and enum values Standby has not seen are kept as text (`Other`).
//! Times are epoch microseconds on the wire and `DateTime<Utc>` here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A list or map sent as `null` reads as empty (missing ones are `#[serde(default)]`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Epoch microseconds to a UTC time (out-of-range values read as absent).
pub fn from_usecs(usecs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(usecs)
}

/// Prism sends integers as numbers and, from some services, as strings.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_i64(d)?.and_then(|n| u64::try_from(n).ok()))
}

fn usecs_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(lenient_i64(d)?.and_then(from_usecs))
}

/// A string that may come as a number (snapshot ids are strings in the spec, numbers elsewhere).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Array(a) => a
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => Vec::new(),
    })
}

/// Declares a string enum whose unknown values are kept (`Other`), compared case-insensitively.
macro_rules! open_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($text) { return Self::$variant; })*
                Self::Other(s.to_string())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from(lenient_string(d)?.as_str()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

open_enum!(
    /// `status` of a remote site.
    RemoteSiteStatus {
        RelationshipEstablished = "RELATIONSHIP_ESTABLISHED",
        RelationshipNotEstablished = "RELATIONSHIP_NOT_ESTABLISHED",
        Unreachable = "UNREACHABLE",
        Handshaking = "HANDSHAKING",
        StretchUnhealthy = "STRETCH_UNHEALTHY",
        Deploying = "DEPLOYING",
    }
);

open_enum!(
    /// `progress_status` of an Ergon task.
    TaskStatus {
        Queued = "QUEUED",
        Running = "RUNNING",
        Succeeded = "SUCCEEDED",
        Failed = "FAILED",
        Aborted = "ABORTED",
    }
);

impl TaskStatus {
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Aborted)
    }
}

open_enum!(
    /// A VM's `power_state` (Prism answers lower case; some releases upper case).
    VmPowerState {
        On = "on",
        Off = "off",
        Paused = "paused",
        Suspended = "suspended",
        Unknown = "unknown",
    }
);

open_enum!(
    /// What `set_power_state` asks for.
    PowerTransition {
        On = "ON",
        Off = "OFF",
        PowerCycle = "POWERCYCLE",
        Reset = "RESET",
        Pause = "PAUSE",
        Suspend = "SUSPEND",
        Resume = "RESUME",
        AcpiShutdown = "ACPI_SHUTDOWN",
        AcpiReboot = "ACPI_REBOOT",
    }
);

open_enum!(
    /// A snapshot's `state`.
    SnapshotState {
        Available = "AVAILABLE",
        Expired = "EXPIRED",
    }
);

/// `{ "metadata": ..., "entities": [...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Collection<T> {
    pub entities: Vec<T>,
    pub metadata: serde_json::Value,
    /// Set by remote-site snapshot listings when a site could not be asked.
    pub error_info: Option<ErrorInfo>,
}

impl<T> Default for Collection<T> {
    fn default() -> Self {
        Self {
            entities: Vec::new(),
            metadata: serde_json::Value::Null,
            error_info: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorInfo {
    pub message: Option<String>,
}

/// Prism's error body: `{message, detailed_message, error_code: {code}}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub message: Option<String>,
    pub detailed_message: Option<String>,
    pub error_code: Option<ErrorCodeBody>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorCodeBody {
    #[serde(deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct StorageContainer {
    #[serde(alias = "uuid")]
    pub storage_container_uuid: String,
    pub id: Option<String>,
    pub name: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub max_capacity: Option<u64>,
    /// `storage.capacity_bytes`, `storage.free_bytes`, ...: strings on the wire.
    #[serde(deserialize_with = "nullable")]
    pub usage_stats: BTreeMap<String, serde_json::Value>,
    /// Remote site name to the remote container this one maps to.
    #[serde(deserialize_with = "nullable")]
    pub mapped_remote_containers: BTreeMap<String, String>,
    pub is_nutanix_managed: Option<bool>,
}

impl StorageContainer {
    fn stat(&self, key: &str) -> Option<u64> {
        match self.usage_stats.get(key)? {
            serde_json::Value::String(s) => s.parse().ok(),
            serde_json::Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }
    pub fn capacity_bytes(&self) -> Option<u64> {
        self.stat("storage.capacity_bytes").or(self.max_capacity)
    }
    pub fn free_bytes(&self) -> Option<u64> {
        self.stat("storage.user_free_bytes")
            .or_else(|| self.stat("storage.free_bytes"))
    }
    pub fn used_bytes(&self) -> Option<u64> {
        self.stat("storage.user_usage_bytes")
            .or_else(|| self.stat("storage.usage_bytes"))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Vm {
    pub uuid: String,
    pub name: String,
    pub description: Option<String>,
    pub power_state: Option<VmPowerState>,
    #[serde(deserialize_with = "lenient_u64")]
    pub memory_mb: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub num_vcpus: Option<u64>,
    pub host_uuid: Option<String>,
    pub storage_container_uuid: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub vm_logical_timestamp: Option<i64>,
    /// Present with `include_vm_disk_config=true`.
    #[serde(deserialize_with = "nullable")]
    pub vm_disk_info: Vec<VmDisk>,
}

impl Vm {
    /// The data disks (CD-ROMs left out): Frame's VMs have exactly one.
    pub fn disks(&self) -> impl Iterator<Item = &VmDisk> {
        self.vm_disk_info.iter().filter(|d| !d.is_cdrom())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VmDisk {
    pub disk_address: DiskAddress,
    pub is_cdrom: Option<bool>,
    #[serde(deserialize_with = "lenient_u64")]
    pub size: Option<u64>,
    pub storage_container_uuid: Option<String>,
}

impl VmDisk {
    pub fn is_cdrom(&self) -> bool {
        self.is_cdrom
            .or(self.disk_address.is_cdrom)
            .unwrap_or(false)
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct DiskAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_bus: Option<String>,
    #[serde(
        deserialize_with = "lenient_i64",
        skip_serializing_if = "Option::is_none"
    )]
    pub device_index: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmdisk_uuid: Option<String>,
    #[serde(skip_serializing)]
    pub ndfs_filepath: Option<String>,
    #[serde(skip_serializing)]
    pub is_cdrom: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VolumeGroup {
    pub uuid: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub disk_list: Vec<VgDisk>,
    #[serde(deserialize_with = "nullable")]
    pub attachment_list: Vec<VgAttachment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VgDisk {
    #[serde(deserialize_with = "lenient_i64")]
    pub index: Option<i64>,
    pub vmdisk_uuid: Option<String>,
    #[serde(deserialize_with = "lenient_u64")]
    pub vmdisk_size_bytes: Option<u64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub vmdisk_size_mb: Option<u64>,
    pub storage_container_uuid: Option<String>,
}

impl VgDisk {
    pub fn size_bytes(&self) -> Option<u64> {
        self.vmdisk_size_bytes
            .or(self.vmdisk_size_mb.map(|mb| mb.saturating_mul(1024 * 1024)))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VgAttachment {
    pub vm_uuid: Option<String>,
}

/// An answer that names a task: `{"task_uuid": "..."}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskRef {
    pub task_uuid: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Task {
    pub uuid: String,
    pub operation_type: Option<String>,
    pub progress_status: Option<TaskStatus>,
    #[serde(deserialize_with = "lenient_i64")]
    pub percentage_complete: Option<i64>,
    pub message: Option<String>,
    pub meta_response: Option<TaskMetaResponse>,
    #[serde(deserialize_with = "usecs_time")]
    pub create_time_usecs: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "usecs_time")]
    pub start_time_usecs: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "usecs_time")]
    pub complete_time_usecs: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub entity_list: Vec<TaskEntity>,
}

impl Task {
    pub fn status(&self) -> TaskStatus {
        self.progress_status
            .clone()
            .unwrap_or(TaskStatus::Other(String::new()))
    }

    /// The words Prism gave for a failure, the most specific first.
    pub fn failure_message(&self) -> String {
        let detail = self
            .meta_response
            .as_ref()
            .and_then(|m| m.error_detail.clone())
            .filter(|d| !d.is_empty());
        detail
            .or_else(|| self.message.clone().filter(|m| !m.is_empty()))
            .unwrap_or_else(|| "Prism gave no reason".to_string())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskMetaResponse {
    #[serde(deserialize_with = "lenient_i64")]
    pub error_code: Option<i64>,
    pub error_detail: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskEntity {
    pub entity_id: Option<String>,
    pub entity_name: Option<String>,
    pub entity_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TaskPollAnswer {
    #[serde(deserialize_with = "nullable")]
    pub completed_tasks_info: Vec<Task>,
    pub timed_out: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RemoteSite {
    pub uuid: Option<String>,
    pub name: String,
    /// Address to port (the port may come as text).
    #[serde(deserialize_with = "lenient_port_map")]
    pub remote_ip_ports: BTreeMap<String, u16>,
    /// Local container to remote container.
    #[serde(deserialize_with = "nullable")]
    pub vstore_name_map: BTreeMap<String, String>,
    pub bandwidth_policy: Option<BandwidthPolicy>,
    pub bandwidth_policy_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient_u64")]
    pub max_bps: Option<u64>,
    pub compression_enabled: Option<bool>,
    #[serde(deserialize_with = "nullable")]
    pub capabilities: Vec<String>,
    pub status: Option<RemoteSiteStatus>,
    #[serde(deserialize_with = "lenient_u64")]
    pub latency_in_usecs: Option<u64>,
    /// The spec's string map; the reason a link is down is in `status_detail` where the cluster gives one.
    #[serde(deserialize_with = "nullable")]
    pub stats: BTreeMap<String, serde_json::Value>,
}

impl RemoteSite {
    pub fn status_detail(&self) -> Option<String> {
        match self.stats.get("status_detail")? {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    }
}

fn lenient_port_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u16>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Object(m) => m
            .into_iter()
            .filter_map(|(k, v)| {
                let p = match v {
                    serde_json::Value::Number(n) => n.as_u64(),
                    serde_json::Value::String(s) => s.parse().ok(),
                    _ => None,
                }?;
                Some((k, u16::try_from(p).ok()?))
            })
            .collect(),
        _ => BTreeMap::new(),
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct BandwidthPolicy {
    pub policy_name: String,
    #[serde(
        deserialize_with = "lenient_u64",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_bandwidth_limit: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uuid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProtectionDomain {
    pub name: String,
    pub active: Option<bool>,
    #[serde(deserialize_with = "nullable")]
    pub vms: Vec<ProtectedVm>,
    #[serde(deserialize_with = "nullable")]
    pub volume_groups: Vec<ProtectedVolumeGroup>,
    #[serde(deserialize_with = "nullable")]
    pub cron_schedules: Vec<CronSchedule>,
    #[serde(deserialize_with = "nullable")]
    pub remote_site_names: Vec<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub pending_replication_count: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub ongoing_replication_count: Option<i64>,
    #[serde(deserialize_with = "usecs_time")]
    pub next_snapshot_time_usecs: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProtectedVm {
    pub vm_name: String,
    pub vm_id: Option<String>,
    pub consistency_group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProtectedVolumeGroup {
    pub name: String,
    pub volume_group_uuid: Option<String>,
    pub consistency_group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CronSchedule {
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient_i64")]
    pub every_nth: Option<i64>,
    #[serde(deserialize_with = "usecs_time")]
    pub user_start_time_in_usecs: Option<DateTime<Utc>>,
    pub retention_policy: Option<RetentionPolicy>,
    pub suspended: Option<bool>,
}

/// How many snapshots a schedule keeps, locally and on each remote site.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RetentionPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_max_snapshots: Option<i64>,
    /// Remote site name to the number of replicas kept there.
    #[serde(deserialize_with = "nullable")]
    pub remote_max_snapshots: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OobScheduleAnswer {
    #[serde(deserialize_with = "lenient_i64")]
    pub schedule_id: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub remote_site_names: Vec<String>,
    #[serde(deserialize_with = "usecs_time")]
    pub schedule_start_time_usecs: Option<DateTime<Utc>>,
}

/// `GET .../oob_schedules`: per protection domain, schedule id to schedule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OobScheduleList {
    pub pd_name: String,
    #[serde(deserialize_with = "nullable")]
    pub schedule_map: BTreeMap<String, OobScheduleAnswer>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DrSnapshot {
    #[serde(deserialize_with = "lenient_string")]
    pub snapshot_id: String,
    pub snapshot_uuid: Option<String>,
    pub protection_domain_name: Option<String>,
    #[serde(deserialize_with = "usecs_time")]
    pub snapshot_create_time_usecs: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "usecs_time")]
    pub snapshot_expiry_time_usecs: Option<DateTime<Utc>>,
    pub state: Option<SnapshotState>,
    #[serde(deserialize_with = "lenient_u64")]
    pub size_in_bytes: Option<u64>,
    #[serde(deserialize_with = "nullable")]
    pub remote_site_names: Vec<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub oob_schedule_ids: Vec<String>,
    pub located_remote_site_name: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub vms: Vec<ProtectedVm>,
    #[serde(deserialize_with = "nullable")]
    pub volume_groups: Vec<ProtectedVolumeGroup>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Replication {
    #[serde(deserialize_with = "lenient_string")]
    pub id: String,
    pub protection_domain_name: Option<String>,
    pub remote_site_name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub snapshot_id: String,
    #[serde(deserialize_with = "lenient_u64")]
    pub completed_bytes: Option<u64>,
    pub completed_percentage: Option<f64>,
    #[serde(deserialize_with = "lenient_u64")]
    pub replication_time_to_complete_secs: Option<u64>,
    #[serde(deserialize_with = "usecs_time")]
    pub start_replication_time_usecs: Option<DateTime<Utc>>,
    pub paused: Option<bool>,
    pub aborted: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ClusterInfo {
    pub uuid: Option<String>,
    pub name: String,
    pub cluster_external_ipaddress: Option<String>,
    pub version: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_volume_group_disk_size_saturates() {
        let d = VgDisk {
            vmdisk_size_mb: Some(u64::MAX / 1024),
            ..Default::default()
        };
        assert_eq!(d.size_bytes(), Some(u64::MAX));
        let d = VgDisk {
            vmdisk_size_mb: Some(10),
            ..Default::default()
        };
        assert_eq!(d.size_bytes(), Some(10 * 1024 * 1024));
    }

    #[test]
    fn unknown_enum_values_are_kept() {
        let s: RemoteSite = serde_json::from_str(
            r#"{"name":"x","status":"SOMETHING_NEW","remote_ip_ports":{"10.0.0.1":"2020"}}"#,
        )
        .unwrap();
        assert_eq!(
            s.status,
            Some(RemoteSiteStatus::Other("SOMETHING_NEW".into()))
        );
        assert_eq!(s.remote_ip_ports["10.0.0.1"], 2020);
        let s: RemoteSite =
            serde_json::from_str(r#"{"name":"x","status":"relationship_established"}"#).unwrap();
        assert_eq!(s.status, Some(RemoteSiteStatus::RelationshipEstablished));
    }

    #[test]
    fn times_are_epoch_microseconds() {
        let t: Task = serde_json::from_str(
            r#"{"uuid":"u","progress_status":"RUNNING","create_time_usecs":1772352000000000,"percentage_complete":"40"}"#,
        )
        .unwrap();
        assert_eq!(
            t.create_time_usecs.unwrap().to_rfc3339(),
            "2026-03-01T08:00:00+00:00"
        );
        assert_eq!(t.percentage_complete, Some(40));
        assert_eq!(t.status(), TaskStatus::Running);
    }

    #[test]
    fn null_lists_read_as_empty() {
        let pd: ProtectionDomain = serde_json::from_str(
            r#"{"name":"pd","vms":null,"remote_site_names":null,"cron_schedules":[{"id":1,"retention_policy":{"remote_max_snapshots":null}}]}"#,
        )
        .unwrap();
        assert!(pd.vms.is_empty() && pd.remote_site_names.is_empty());
        assert_eq!(pd.cron_schedules[0].id, "1");
    }

    #[test]
    fn snapshot_ids_may_be_numbers_or_strings() {
        let s: DrSnapshot =
            serde_json::from_str(r#"{"snapshot_id": 12, "oob_schedule_ids": [3]}"#).unwrap();
        assert_eq!(s.snapshot_id, "12");
        assert_eq!(s.oob_schedule_ids, vec!["3".to_string()]);
    }
}
