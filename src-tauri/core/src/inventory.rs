//! An account's persistent resources as discovered on its infrastructure, whatever the provider.
//!
//! Discovery reads the `frame.*` naming/tagging convention (docs/inventory.md); the administrator
//! can correct a mapping, and template images are listed as not protected, with the reason.

use serde::{Deserialize, Serialize};

/// The Frame words for what Standby protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Sandbox,
    UtilityServer,
    PersistentDesktop,
    EnterpriseProfile,
    PersonalDrive,
    /// Not part of a Frame account: listed, never backed up.
    TemplateImage,
}

impl ResourceKind {
    /// The value of the `frame.role` tag.
    pub fn from_tag(role: &str) -> Option<Self> {
        Some(match role.trim().to_ascii_lowercase().as_str() {
            "sandbox" => Self::Sandbox,
            "utility-server" => Self::UtilityServer,
            "persistent-desktop" => Self::PersistentDesktop,
            "enterprise-profile" => Self::EnterpriseProfile,
            "personal-drive" => Self::PersonalDrive,
            "template-image" => Self::TemplateImage,
            _ => return None,
        })
    }

    pub fn is_protected(self) -> bool {
        self != Self::TemplateImage
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DesktopState {
    Assigned,
    Unassigned,
    Shadow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    On,
    Off,
    /// Anything the API reports that is neither (kept as seen in `power_detail`).
    Other,
}

/// One persistent resource (or a template image) of a Frame account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DiscoveredResource {
    /// The provider's id: a VM uuid (AHV VM disks), a volume group uuid, an ARM disk id.
    pub provider_id: String,
    pub name: String,
    pub kind: ResourceKind,
    /// The Frame account it belongs to (`frame.account`).
    pub frame_account: String,
    pub owner: Option<String>,
    pub desktop_state: Option<DesktopState>,
    /// Bytes, as f64 for the UI (exact up to 8 PiB).
    pub size_bytes: f64,
    /// The VM it belongs to or is attached to, when there is one (provider id).
    pub vm_id: Option<String>,
    pub power: Option<PowerState>,
    pub power_detail: Option<String>,
    /// Where it lives: AHV storage container or Azure region.
    pub location: String,
    /// Why it is not protected, when it is not (template images).
    pub not_protected_reason: Option<String>,
}

pub const TEMPLATE_NOT_PROTECTED: &str =
    "Template images are not part of a Frame account and are not backed up; back them up separately.";

/// An administrator's correction of what discovery found (or did not find), by provider id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct MappingOverride {
    /// AHV: VM uuid or volume group uuid. Azure: the disk's ARM id, or a VM's (then it applies to
    /// the VM's OS disk).
    pub provider_id: String,
    /// What it is; also brings an untagged resource into the account.
    pub kind: Option<ResourceKind>,
    pub owner: Option<String>,
    /// Leave it out of the account (never backed up).
    pub exclude: bool,
}

/// Discovers the Frame account's resources on a stored cloud account, applying the
/// administrator's stored corrections. The catalog is locked only while reading.
pub async fn discover(
    catalog: &crate::catalog::SharedCatalog,
    store: &dyn crate::secrets::SecretStore,
    account: &str,
    frame_account: &str,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> Result<Vec<DiscoveredResource>, crate::connect::ConnectError> {
    enum Target {
        Ahv(crate::connect::AhvAccount),
        Azure(crate::connect::AzureAccount),
    }
    let (target, overrides) = {
        let c = catalog.lock();
        let accounts = crate::accounts::Accounts { catalog: &c, store };
        let target = match accounts.settings(account)?.1 {
            crate::accounts::AccountSettings::Ahv(_) => {
                Target::Ahv(crate::connect::ahv(&accounts, account)?)
            }
            crate::accounts::AccountSettings::Azure(_) => {
                Target::Azure(crate::connect::azure(&accounts, account, clock.clone())?)
            }
        };
        let id = match &target {
            Target::Ahv(a) => a.account.id.clone(),
            Target::Azure(a) => a.account.id.clone(),
        };
        let overrides = c
            .mapping_overrides(&id)
            .map_err(crate::accounts::AccountError::from)?;
        (target, overrides)
    };
    let (account_id, found) = match target {
        Target::Ahv(a) => (
            a.account.id,
            a.client.discover_account(frame_account, &overrides).await?,
        ),
        Target::Azure(a) => (
            a.account.id,
            a.client
                .discover(frame_account, &a.settings.resource_groups, &overrides)
                .await?,
        ),
    };
    // The listing is what matters to the caller; a cache that could not be written is logged, and
    // the next discovery writes it again.
    let at = clock.now().to_rfc3339();
    if let Err(e) = catalog
        .lock()
        .record_discovery(&account_id, frame_account, &found, &at)
    {
        tracing::warn!("the discovery of {frame_account} could not be recorded: {e}");
    }
    Ok(found)
}

#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    #[error("unknown kind {0:?}: use sandbox, utility-server, persistent-desktop, enterprise-profile, personal-drive or template-image")]
    UnknownKind(String),
    #[error("say what to correct: a kind, an owner, or exclude")]
    Empty,
}

impl From<CorrectionError> for crate::ApiError {
    fn from(e: CorrectionError) -> Self {
        crate::ApiError::new(crate::ErrorCode::InvalidInput, e.to_string())
    }
}

impl MappingOverride {
    /// A correction as an administrator states it (`kind` in the tag's words), checked.
    pub fn from_request(
        provider_id: String,
        kind: Option<&str>,
        owner: Option<String>,
        exclude: bool,
    ) -> Result<Self, CorrectionError> {
        let kind = match kind {
            Some(k) => Some(
                ResourceKind::from_tag(k)
                    .ok_or_else(|| CorrectionError::UnknownKind(k.to_string()))?,
            ),
            None => None,
        };
        let owner = owner
            .map(|o| o.trim().to_string())
            .filter(|o| !o.is_empty());
        if kind.is_none() && owner.is_none() && !exclude {
            return Err(CorrectionError::Empty);
        }
        Ok(Self {
            provider_id,
            kind,
            owner,
            exclude,
        })
    }
}
