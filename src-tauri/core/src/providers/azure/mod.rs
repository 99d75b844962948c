//! Azure Resource Manager: a typed, resilient client for the calls Standby needs (managed disks,
//! incremental snapshots and their cross-region copies, VMs and their power, usages), inventory
//! discovery by Frame's tags, and the checks behind the Azure DR wizard.
//!
//! There is no maintained Rust SDK for these: the client is written here, but token caching and
//! retries lean on small pieces (a tokio mutex, `backon`). See `docs/azure-client.md`.

pub mod client;
pub mod disks;
pub mod error;
pub mod ids;
pub mod inventory;
pub mod lro;
pub mod paging;
pub mod setup;
pub mod snapshots;
pub mod throttle;
pub mod token;
pub mod usages;
pub mod vms;
pub mod watch;

pub use client::{ApiVersions, ArmClient, ArmConfig, RetryPolicy};
pub use disks::Disk;
pub use error::ArmError;
pub use ids::ResourceId;
pub use inventory::MappingOverride;
pub use setup::{QuotaCheck, QuotaLine};
pub use snapshots::Snapshot;
pub use vms::{InstanceView, PowerState, VirtualMachine};
pub use watch::{CancelFlag, Progress, Watch};

/// ARM's provisioning states; values this code has not seen are kept as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ProvisioningState {
    Succeeded,
    Updating,
    Creating,
    Deleting,
    Failed,
    Canceled,
    #[default]
    Unknown,
    Other(String),
}

impl ProvisioningState {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "succeeded" => Self::Succeeded,
            "updating" => Self::Updating,
            "creating" => Self::Creating,
            "deleting" => Self::Deleting,
            "failed" => Self::Failed,
            "canceled" | "cancelled" => Self::Canceled,
            "" => Self::Unknown,
            _ => Self::Other(s.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Succeeded => "Succeeded",
            Self::Updating => "Updating",
            Self::Creating => "Creating",
            Self::Deleting => "Deleting",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
            Self::Unknown => "",
            Self::Other(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for ProvisioningState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Some API versions send numbers for enums (the examples show `"diskState": "0"`).
        let v = serde_json::Value::deserialize(d)?;
        Ok(match v {
            serde_json::Value::String(s) => Self::parse(&s),
            serde_json::Value::Null => Self::Unknown,
            other => Self::Other(other.to_string()),
        })
    }
}

impl serde::Serialize for ProvisioningState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// ARM tags. Keys compare case-insensitively in ARM; [`tag`] looks them up that way.
pub type Tags = std::collections::BTreeMap<String, String>;

pub fn tag<'a>(tags: &'a Tags, key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// `"West Europe"` and `"westeurope"` are the same region.
pub fn normalize_location(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}
