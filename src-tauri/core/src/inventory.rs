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
    let (target, overrides) = target(catalog, store, account, clock.clone())?;
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

/// How many resources [`discover_each`] writes aside at a time.
const STAGED_AT_ONCE: usize = 200;

/// Tells discoveries staged at the same time apart (see [`Catalog::stage_discovery`]).
///
/// [`Catalog::stage_discovery`]: crate::catalog::Catalog::stage_discovery
static NEXT_STAGE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// As [`discover`], handing each resource to `keep` as it is classified (in no particular
/// order; sort with [`sort`] what is kept), for a caller that needs only some of them: on Azure
/// no list of every resource of the account is held (disk list pages are classified as they
/// arrive). The catalog's discovery cache is written as they come, aside, and made the latest in
/// one transaction once discovery has ended (a reader never sees half of it); a discovery that
/// fails leaves the last one as it was. On AHV the resources come from one list made first.
pub async fn discover_each(
    catalog: &crate::catalog::SharedCatalog,
    store: &dyn crate::secrets::SecretStore,
    account: &str,
    frame_account: &str,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    keep: &mut (dyn FnMut(DiscoveredResource) + Send),
) -> Result<(), crate::connect::ConnectError> {
    let (target, overrides) = target(catalog, store, account, clock.clone())?;
    let stage = NEXT_STAGE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut batch: Vec<DiscoveredResource> = Vec::with_capacity(STAGED_AT_ONCE);
    // A cache that could not be written is logged (the listing is what matters to the caller)
    // and not made the latest; the next discovery writes it again.
    let mut staged = Ok::<(), crate::catalog::CatalogError>(());
    let mut flush = |batch: &mut Vec<DiscoveredResource>| {
        if staged.is_ok() && !batch.is_empty() {
            staged = catalog.lock().stage_discovery(stage, batch);
        }
        batch.clear();
    };
    let mut take = |r: DiscoveredResource| {
        batch.push(r.clone());
        if batch.len() >= STAGED_AT_ONCE {
            flush(&mut batch);
        }
        keep(r);
    };
    let found: Result<String, crate::connect::ConnectError> = match target {
        Target::Ahv(a) => match a.client.discover_account(frame_account, &overrides).await {
            Ok(all) => {
                all.into_iter().for_each(&mut take);
                Ok(a.account.id)
            }
            Err(e) => Err(e.into()),
        },
        Target::Azure(a) => a
            .client
            .discover_each(
                frame_account,
                &a.settings.resource_groups,
                &overrides,
                &mut take,
            )
            .await
            .map(|()| a.account.id)
            .map_err(Into::into),
    };
    flush(&mut batch);
    let account_id = match found {
        Ok(id) => id,
        Err(e) => {
            let _ = catalog.lock().discard_discovery(stage);
            return Err(e);
        }
    };
    let at = clock.now().to_rfc3339();
    let recorded = staged.and_then(|()| {
        catalog
            .lock()
            .commit_discovery(stage, &account_id, frame_account, &at)
    });
    if let Err(e) = recorded {
        let _ = catalog.lock().discard_discovery(stage);
        tracing::warn!("the discovery of {frame_account} could not be recorded: {e}");
    }
    Ok(())
}

/// The order discoveries list resources in: by kind, then name (stable).
pub fn sort(resources: &mut [DiscoveredResource]) {
    crate::providers::azure::inventory::sort(resources)
}

/// A resource's place in that order, for lists of something other than [`DiscoveredResource`].
pub fn order(kind: ResourceKind, name: &str) -> (u8, &str) {
    crate::providers::azure::inventory::order(kind, name)
}

enum Target {
    Ahv(crate::connect::AhvAccount),
    Azure(crate::connect::AzureAccount),
}

/// The account's client and the administrator's corrections. The catalog is locked only while
/// reading.
fn target(
    catalog: &crate::catalog::SharedCatalog,
    store: &dyn crate::secrets::SecretStore,
    account: &str,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
) -> Result<(Target, Vec<MappingOverride>), crate::connect::ConnectError> {
    let c = catalog.lock();
    let accounts = crate::accounts::Accounts { catalog: &c, store };
    let target = match accounts.settings(account)?.1 {
        crate::accounts::AccountSettings::Ahv(_) => {
            Target::Ahv(crate::connect::ahv(&accounts, account)?)
        }
        crate::accounts::AccountSettings::Azure(_) => {
            Target::Azure(crate::connect::azure(&accounts, account, clock)?)
        }
    };
    let id = match &target {
        Target::Ahv(a) => a.account.id.clone(),
        Target::Azure(a) => a.account.id.clone(),
    };
    let overrides = c
        .mapping_overrides(&id)
        .map_err(crate::accounts::AccountError::from)?;
    Ok((target, overrides))
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
