//! Which VMs and volume groups of a cluster are a Frame account's persistent resources.
//!
//! Read from the `frame.*` tags Frame's convention puts in the `description` of VMs and volume
//! groups (`frame.account=acme-pd;frame.role=persistent-desktop;frame.owner=...`); where tags are
//! absent, from the `{account}-{kind}-{suffix}` names; and, last, from the administrator's
//! corrections ([`MappingOverride`]), which win. See docs/prism-client.md.

use std::collections::HashMap;

use super::client::PrismClient;
use super::error::PrismError;
use super::types::{StorageContainer, Vm, VmPowerState, VolumeGroup};
use crate::inventory::{
    DesktopState, DiscoveredResource, PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED,
};

pub const TAG_ACCOUNT: &str = "frame.account";
pub const TAG_ROLE: &str = "frame.role";
pub const TAG_OWNER: &str = "frame.owner";
pub const TAG_DESKTOP_STATE: &str = "frame.desktop-state";

pub use crate::inventory::MappingOverride;

/// `frame.*` pairs of a description; other text around them is ignored.
pub fn description_tags(description: &str) -> HashMap<String, String> {
    description
        .split(';')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            k.starts_with("frame.")
                .then(|| (k.to_ascii_lowercase(), v.trim().to_string()))
        })
        .collect()
}

/// The kind a Frame-style name implies (`acme-pd-desk-0001`), for entities without tags.
pub fn kind_from_name(account: &str, name: &str) -> Option<ResourceKind> {
    let rest = name.strip_prefix(account)?.strip_prefix('-')?;
    let word = rest.split('-').next()?;
    Some(match word {
        "sandbox" => ResourceKind::Sandbox,
        "util" | "utility" => ResourceKind::UtilityServer,
        "desk" | "desktop" => ResourceKind::PersistentDesktop,
        "profile" => ResourceKind::EnterpriseProfile,
        "pdrive" => ResourceKind::PersonalDrive,
        "template" => ResourceKind::TemplateImage,
        _ => return None,
    })
}

fn desktop_state(s: &str) -> Option<DesktopState> {
    match s.trim().to_ascii_lowercase().as_str() {
        "assigned" => Some(DesktopState::Assigned),
        "unassigned" => Some(DesktopState::Unassigned),
        "shadow" => Some(DesktopState::Shadow),
        _ => None,
    }
}

/// How an entity was recognised, before overrides.
struct Found {
    kind: ResourceKind,
    owner: Option<String>,
    desktop_state: Option<DesktopState>,
}

fn recognise(account: &str, name: &str, description: Option<&str>) -> Option<Found> {
    let tags = description_tags(description.unwrap_or_default());
    match tags.get(TAG_ACCOUNT) {
        Some(a) if a == account => Some(Found {
            kind: tags.get(TAG_ROLE).and_then(|r| ResourceKind::from_tag(r))?,
            owner: tags.get(TAG_OWNER).filter(|o| !o.is_empty()).cloned(),
            desktop_state: tags.get(TAG_DESKTOP_STATE).and_then(|s| desktop_state(s)),
        }),
        // Tagged for another account: not ours, whatever its name says.
        Some(_) => None,
        None => kind_from_name(account, name).map(|kind| Found {
            kind,
            owner: None,
            desktop_state: None,
        }),
    }
}

/// Pure discovery over listings already read (what [`PrismClient::discover_account`] does after
/// reading VMs, volume groups and containers).
pub fn discover(
    account: &str,
    vms: &[Vm],
    volume_groups: &[VolumeGroup],
    containers: &[StorageContainer],
    overrides: &[MappingOverride],
) -> Vec<DiscoveredResource> {
    let container_name = |uuid: Option<&str>| -> String {
        uuid.and_then(|u| {
            containers
                .iter()
                .find(|c| c.storage_container_uuid == u)
                .map(|c| c.name.clone())
        })
        .unwrap_or_default()
    };
    let by_id: HashMap<&str, &MappingOverride> = overrides
        .iter()
        .map(|o| (o.provider_id.as_str(), o))
        .collect();
    let vm_power: HashMap<&str, &Option<VmPowerState>> = vms
        .iter()
        .map(|v| (v.uuid.as_str(), &v.power_state))
        .collect();

    let mut out = Vec::new();
    for vm in vms {
        let disks: Vec<_> = vm.disks().collect();
        let size: u64 = disks.iter().filter_map(|d| d.size).sum();
        let location = container_name(
            disks
                .first()
                .and_then(|d| d.storage_container_uuid.as_deref())
                .or(vm.storage_container_uuid.as_deref()),
        );
        let (power, detail) = power(&vm.power_state);
        let found = recognise(account, &vm.name, vm.description.as_deref());
        push(
            &mut out,
            account,
            &by_id,
            found,
            DiscoveredResource {
                provider_id: vm.uuid.clone(),
                name: vm.name.clone(),
                kind: ResourceKind::Sandbox,
                frame_account: account.to_string(),
                owner: None,
                desktop_state: None,
                size_bytes: size as f64,
                vm_id: Some(vm.uuid.clone()),
                power,
                power_detail: detail,
                location,
                not_protected_reason: None,
            },
            vm.description.as_deref(),
        );
    }
    for vg in volume_groups {
        let size: u64 = vg.disk_list.iter().filter_map(|d| d.size_bytes()).sum();
        let location = container_name(
            vg.disk_list
                .first()
                .and_then(|d| d.storage_container_uuid.as_deref()),
        );
        let attached = vg.attachment_list.iter().find_map(|a| a.vm_uuid.clone());
        let (power, detail) = attached
            .as_deref()
            .and_then(|u| vm_power.get(u))
            .map(|p| power(p))
            .unwrap_or((None, None));
        let found = recognise(account, &vg.name, vg.description.as_deref());
        push(
            &mut out,
            account,
            &by_id,
            found,
            DiscoveredResource {
                provider_id: vg.uuid.clone(),
                name: vg.name.clone(),
                kind: ResourceKind::EnterpriseProfile,
                frame_account: account.to_string(),
                owner: None,
                desktop_state: None,
                size_bytes: size as f64,
                vm_id: attached,
                power,
                power_detail: detail,
                location,
                not_protected_reason: None,
            },
            vg.description.as_deref(),
        );
    }
    out
}

fn push(
    out: &mut Vec<DiscoveredResource>,
    account: &str,
    overrides: &HashMap<&str, &MappingOverride>,
    found: Option<Found>,
    mut r: DiscoveredResource,
    description: Option<&str>,
) {
    let o = overrides.get(r.provider_id.as_str());
    if o.is_some_and(|o| o.exclude) {
        return;
    }
    match found {
        Some(f) => {
            r.kind = f.kind;
            r.owner = f.owner;
            r.desktop_state = f.desktop_state;
        }
        None => {
            // An override may bring in an entity without tags, never one tagged for another account.
            let tagged_elsewhere = description_tags(description.unwrap_or_default())
                .get(TAG_ACCOUNT)
                .is_some_and(|a| a != account);
            match o.and_then(|o| o.kind) {
                Some(kind) if !tagged_elsewhere => r.kind = kind,
                _ => return,
            }
        }
    }
    if let Some(o) = o {
        if let Some(k) = o.kind {
            r.kind = k;
        }
        if let Some(owner) = &o.owner {
            r.owner = Some(owner.clone());
        }
    }
    if r.kind != ResourceKind::PersistentDesktop {
        r.desktop_state = None;
    }
    r.not_protected_reason = (!r.kind.is_protected()).then(|| TEMPLATE_NOT_PROTECTED.to_string());
    out.push(r);
}

fn power(p: &Option<VmPowerState>) -> (Option<PowerState>, Option<String>) {
    match p {
        None => (None, None),
        Some(VmPowerState::On) => (Some(PowerState::On), None),
        Some(VmPowerState::Off) => (Some(PowerState::Off), None),
        Some(other) => (Some(PowerState::Other), Some(other.to_string())),
    }
}

impl PrismClient {
    /// The account's persistent resources on this cluster (and its template images, marked not
    /// protected), with the administrator's corrections applied.
    pub async fn discover_account(
        &self,
        account: &str,
        overrides: &[MappingOverride],
    ) -> Result<Vec<DiscoveredResource>, PrismError> {
        let vms = self.vms().await?;
        let vgs = self.volume_groups().await?;
        let containers = self.storage_containers().await?;
        Ok(discover(account, &vms, &vgs, &containers, overrides))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(uuid: &str, name: &str, description: &str) -> Vm {
        Vm {
            uuid: uuid.into(),
            name: name.into(),
            description: Some(description.into()),
            power_state: Some(VmPowerState::from("off")),
            ..Vm::default()
        }
    }

    #[test]
    fn tags_then_names_then_overrides() {
        let vms = vec![
            vm(
                "1",
                "whatever",
                "managed by Frame; frame.account=acme;frame.role=persistent-desktop;frame.owner=a@x;frame.desktop-state=assigned",
            ),
            vm("2", "acme-util-01", ""),
            vm("3", "acme-template-w11", "frame.account=acme;frame.role=template-image"),
            vm("4", "acme-desk-0009", "frame.account=other;frame.role=persistent-desktop"),
            vm("5", "build-server", ""),
            vm("6", "acme-desk-0007", "frame.account=acme;frame.role=persistent-desktop"),
        ];
        let overrides = [
            MappingOverride {
                provider_id: "5".into(),
                kind: Some(ResourceKind::UtilityServer),
                owner: None,
                exclude: false,
            },
            MappingOverride {
                provider_id: "6".into(),
                kind: None,
                owner: Some("b@x".into()),
                exclude: false,
            },
            MappingOverride {
                provider_id: "2".into(),
                kind: None,
                owner: None,
                exclude: true,
            },
        ];
        let found = discover("acme", &vms, &[], &[], &overrides);
        let ids: Vec<&str> = found.iter().map(|r| r.provider_id.as_str()).collect();
        assert_eq!(ids, ["1", "3", "5", "6"]);
        assert_eq!(found[0].owner.as_deref(), Some("a@x"));
        assert_eq!(found[0].desktop_state, Some(DesktopState::Assigned));
        assert_eq!(
            found[1].not_protected_reason.as_deref(),
            Some(TEMPLATE_NOT_PROTECTED)
        );
        assert_eq!(found[2].kind, ResourceKind::UtilityServer);
        assert_eq!(found[3].owner.as_deref(), Some("b@x"));
        let without = discover("acme", &vms, &[], &[], &[]);
        assert!(without.iter().any(|r| r.provider_id == "2"
            && r.kind == ResourceKind::UtilityServer
            && r.owner.is_none()));
    }
}
