//! Per-region usages (`.../locations/{loc}/usages`): what counts against the subscription's limits
//! there (vCPUs, VMs, managed disks per storage type, snapshots).

use serde::{Deserialize, Serialize};

use super::client::ArmClient;
use super::disks::lenient_string;
use super::error::ArmError;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UsageName {
    pub value: Option<String>,
    pub localized_value: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Usage {
    #[serde(deserialize_with = "lenient_string")]
    pub unit: Option<String>,
    pub current_value: i64,
    pub limit: i64,
    pub name: UsageName,
}

impl Usage {
    /// The counter's code (`StandardSnapshotCount`, `PremiumDiskCount`, `cores`, ...).
    pub fn code(&self) -> &str {
        self.name.value.as_deref().unwrap_or("")
    }
    pub fn label(&self) -> &str {
        self.name
            .localized_value
            .as_deref()
            .or(self.name.value.as_deref())
            .unwrap_or("")
    }
}

impl ArmClient {
    pub async fn usages(&self, location: &str) -> Result<Vec<Usage>, ArmError> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/usages",
            self.subscription_id(),
            super::normalize_location(location)
        );
        let url = self.url(&path, &self.api_versions().compute, &[]);
        self.list_all(url, "the usages").await
    }
}
