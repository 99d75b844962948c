//! The subscription's resources as the lab keeps them. Keys are `{resource group}/{name}` in lower
//! case, because ARM compares resource ids case-insensitively.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub type Tags = BTreeMap<String, String>;

pub fn key(resource_group: &str, name: &str) -> String {
    format!(
        "{}/{}",
        resource_group.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
}

/// ARM's location names: "West Europe" and "westeurope" are the same place.
pub fn normalize_location(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResourceGroup {
    pub name: String,
    pub location: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disk {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub size_gb: u64,
    pub sku: String,
    pub tier: Option<String>,
    pub os_type: Option<String>,
    pub tags: Tags,
    /// The key of the VM it is attached to.
    pub managed_by: Option<String>,
    pub create_option: String,
    pub source_resource_id: Option<String>,
    pub source_unique_id: Option<String>,
    pub unique_id: String,
    pub time_created: DateTime<Utc>,
    /// Creation is long-running: `Updating` until then.
    pub ready_at: DateTime<Utc>,
    /// What the simulated guest agent reports as used (GB).
    pub used_gb: f64,
    /// Creation times of incremental snapshots taken of this disk (the 7-per-5-minutes rule).
    pub snapshot_times: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub size_gb: u64,
    pub incremental: bool,
    pub os_type: Option<String>,
    /// The SKU of the disk it was taken from (a disk restored from it gets the same).
    pub disk_sku: String,
    pub tags: Tags,
    pub create_option: String,
    pub source_resource_id: String,
    pub source_unique_id: Option<String>,
    pub copy_speed: Option<String>,
    pub unique_id: String,
    /// Incremental snapshots of one disk share a family, across regions.
    pub family_id: String,
    /// When the family member this is (or copies) was taken from the disk: copies of one disk
    /// must go in this order.
    pub taken_at: DateTime<Utc>,
    pub time_created: DateTime<Utc>,
    pub used_gb: f64,
    pub copy: Option<CopyState>,
}

/// A CopyStart in progress or finished. Progress is `copied_mib` at `since` plus the current rate
/// times the lab time elapsed; any change of rate (copy speed, a region down) first folds the
/// elapsed progress into `copied_mib` so the percentage never jumps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CopyState {
    pub source_key: String,
    pub source_location: String,
    pub total_mib: f64,
    pub copied_mib: f64,
    pub since: DateTime<Utc>,
    /// `provisionedBandwidthCopySpeed: Enhanced` doubles the speed.
    pub speed_factor: f64,
    /// Set by the "fail the next copy" fault: the copy fails when it reaches this percentage.
    pub fail_at_percent: Option<f64>,
    pub error: Option<CopyError>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CopyError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CopyStatus {
    InProgress(f64),
    Succeeded,
    Failed(CopyError),
}

impl CopyState {
    pub fn progress_mib(&self, now: DateTime<Utc>, rate_mib_s: f64) -> f64 {
        let secs = (now - self.since).num_milliseconds().max(0) as f64 / 1000.0;
        (self.copied_mib + secs * rate_mib_s * self.speed_factor).min(self.total_mib)
    }

    /// What `completionPercent` shows: frozen where a copy failed.
    pub fn percent(&self, now: DateTime<Utc>, rate_mib_s: f64) -> f64 {
        if self.total_mib <= 0.0 {
            return 100.0;
        }
        let raw = self.progress_mib(now, rate_mib_s) / self.total_mib * 100.0;
        match (self.error.is_some(), self.fail_at_percent) {
            (true, _) => self.copied_mib / self.total_mib * 100.0,
            (false, Some(f)) if raw >= f => f,
            _ => raw.min(100.0),
        }
    }

    pub fn status(&self, now: DateTime<Utc>, rate_mib_s: f64) -> CopyStatus {
        if let Some(e) = &self.error {
            return CopyStatus::Failed(e.clone());
        }
        let pct = if self.total_mib <= 0.0 {
            100.0
        } else {
            self.progress_mib(now, rate_mib_s) / self.total_mib * 100.0
        };
        if let Some(f) = self.fail_at_percent {
            if pct >= f {
                return CopyStatus::Failed(injected_copy_error());
            }
        }
        if pct >= 100.0 {
            CopyStatus::Succeeded
        } else {
            CopyStatus::InProgress(pct)
        }
    }

    /// Folds progress so far into `copied_mib` (before the rate changes) and makes failures stick.
    pub fn rebase(&mut self, now: DateTime<Utc>, rate_mib_s: f64) {
        if self.error.is_some() {
            return;
        }
        let status = self.status(now, rate_mib_s);
        match status {
            CopyStatus::Failed(e) => {
                self.copied_mib = self.total_mib * self.fail_at_percent.unwrap_or(0.0) / 100.0;
                self.error = Some(e);
            }
            _ => self.copied_mib = self.progress_mib(now, rate_mib_s),
        }
        self.since = now;
    }
}

pub fn injected_copy_error() -> CopyError {
    CopyError {
        code: "CopySourceNotFound".into(),
        message: "The background copy failed: the source snapshot could not be read (lab fault: fail the next copy).".into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Power {
    Running,
    Starting,
    Stopping,
    Stopped,
    Deallocating,
    Deallocated,
}

impl Power {
    pub fn code(self) -> &'static str {
        match self {
            Power::Running => "PowerState/running",
            Power::Starting => "PowerState/starting",
            Power::Stopping => "PowerState/stopping",
            Power::Stopped => "PowerState/stopped",
            Power::Deallocating => "PowerState/deallocating",
            Power::Deallocated => "PowerState/deallocated",
        }
    }
    pub fn display(self) -> &'static str {
        match self {
            Power::Running => "VM running",
            Power::Starting => "VM starting",
            Power::Stopping => "VM stopping",
            Power::Stopped => "VM stopped",
            Power::Deallocating => "VM deallocating",
            Power::Deallocated => "VM deallocated",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transition {
    pub to: Power,
    pub during: Power,
    pub until: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DataDisk {
    pub lun: u32,
    pub disk: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Vm {
    pub name: String,
    pub resource_group: String,
    pub location: String,
    pub vm_id: String,
    pub vm_size: String,
    pub vcpus: u64,
    pub tags: Tags,
    pub os_disk: String,
    pub data_disks: Vec<DataDisk>,
    pub power: Power,
    pub transition: Option<Transition>,
    /// The Frame user in session on this desktop (simulated; not an Azure property).
    pub session: Option<String>,
    pub time_created: DateTime<Utc>,
}

impl Vm {
    pub fn power_at(&self, now: DateTime<Utc>) -> Power {
        match &self.transition {
            Some(t) if now >= t.until => t.to,
            Some(t) => t.during,
            None => self.power,
        }
    }

    pub fn settle(&mut self, now: DateTime<Utc>) {
        if let Some(t) = &self.transition {
            if now >= t.until {
                self.power = t.to;
                self.transition = None;
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum OpTarget {
    /// Done when its end time passes.
    Timed,
    /// Follows the copy of this snapshot.
    Copy(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    pub id: String,
    pub location: String,
    pub started: DateTime<Utc>,
    pub ends: DateTime<Utc>,
    pub target: OpTarget,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AzureState {
    pub resource_groups: BTreeMap<String, ResourceGroup>,
    pub disks: BTreeMap<String, Disk>,
    pub snapshots: BTreeMap<String, Snapshot>,
    pub vms: BTreeMap<String, Vm>,
    pub operations: BTreeMap<String, Operation>,
    /// Signs access tokens; kept so tokens survive a restart with a state folder.
    pub token_key: String,
    /// How many of the next CopyStarts fail (the "fail the next copy" fault).
    pub fail_next_copies: u32,
    pub regions_down: Vec<String>,
    pub copy_speed_mib_per_sec: f64,
}
