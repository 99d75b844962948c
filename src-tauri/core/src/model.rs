//! The words of the product, as types that cross the IPC boundary.

use serde::{Deserialize, Serialize};

/// Which infrastructure a cloud account is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// One Nutanix Prism Element cluster.
    Ahv,
    /// One Azure subscription (tenant, app registration, resource groups).
    Azure,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Ahv => "ahv",
            ProviderKind::Azure => "azure",
        }
    }
}

/// A cloud account as the console lists it. Secrets are never part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CloudAccount {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    /// Prism address or ARM endpoint, for display.
    pub endpoint: String,
    /// RFC 3339.
    pub created_at: String,
}

/// What the shell shows about the installation itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct AppInfo {
    pub version: String,
    pub data_dir: String,
    pub log_dir: String,
    /// Present when Standby was started with the lab (`--lab`).
    pub lab: Option<LabStatus>,
}

/// The embedded lab: where its control API listens, or why it did not start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct LabStatus {
    pub control_url: Option<String>,
    pub error: Option<crate::ApiError>,
}

/// One line of a check list (Test connection, an account's test): what was checked, whether it
/// passed, and what to do about it when it did not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}
