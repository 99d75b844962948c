//! Inventory discovery on Azure: an account's persistent resources from its resource groups'
//! disks and VMs, by Frame's `frame.*` ARM tags, with the administrator's corrections applied.
//!
//! A resource is the managed disk that holds it: the OS disk of the sandbox, utility servers and
//! persistent desktops (power state from the VM's instance view), the data disks of enterprise
//! profiles and personal drives. A disk without `frame.*` tags inherits its VM's when it is that
//! VM's OS disk (a deployment that tags only VMs). See `docs/azure-client.md`.

use std::collections::HashMap;

use super::client::ArmClient;
use super::disks::Disk;
use super::error::ArmError;
use super::ids::{self, ResourceId};
use super::vms::{PowerState as AzPower, VirtualMachine};
use super::{tag, Tags};
use crate::inventory::{
    DesktopState, DiscoveredResource, PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED,
};

pub const TAG_ACCOUNT: &str = "frame.account";
pub const TAG_ROLE: &str = "frame.role";
pub const TAG_OWNER: &str = "frame.owner";
pub const TAG_DESKTOP_STATE: &str = "frame.desktop-state";

pub use crate::inventory::MappingOverride;

fn desktop_state(s: &str) -> Option<DesktopState> {
    match s.trim().to_ascii_lowercase().as_str() {
        "assigned" => Some(DesktopState::Assigned),
        "unassigned" => Some(DesktopState::Unassigned),
        "shadow" => Some(DesktopState::Shadow),
        _ => None,
    }
}

fn power_of(p: &AzPower) -> PowerState {
    match p {
        AzPower::Running => PowerState::On,
        AzPower::Deallocated | AzPower::Stopped => PowerState::Off,
        _ => PowerState::Other,
    }
}

fn is_vm_kind(k: ResourceKind) -> bool {
    matches!(
        k,
        ResourceKind::Sandbox | ResourceKind::UtilityServer | ResourceKind::PersistentDesktop
    )
}

/// The pure part of discovery: disks, VMs and their power states in, resources out.
pub fn classify(
    account: &str,
    disks: &[Disk],
    vms: &[VirtualMachine],
    power: &HashMap<String, AzPower>,
    overrides: &[MappingOverride],
) -> Vec<DiscoveredResource> {
    let vm_by_id: HashMap<String, &VirtualMachine> = vms
        .iter()
        .filter_map(|v| ResourceId::parse(&v.id).ok().map(|id| (id.key(), v)))
        .collect();
    let key_of = |s: &str| ResourceId::parse(s).map(|i| i.key()).ok();
    let mut out = Vec::new();
    for d in disks {
        if key_of(&d.id).is_none() {
            continue;
        }
        let vm = d
            .managed_by
            .as_deref()
            .and_then(key_of)
            .and_then(|k| vm_by_id.get(&k).copied());
        let is_os_disk = vm.is_some_and(|v| {
            v.storage()
                .os_disk_id()
                .is_some_and(|os| ids::same(os, &d.id))
        });
        let own_role = tag(&d.tags, TAG_ROLE).is_some();
        let tags: &Tags = match (own_role, vm) {
            (false, Some(v)) if is_os_disk => &v.tags,
            _ => &d.tags,
        };
        let ov = overrides.iter().find(|o| {
            ids::same(&o.provider_id, &d.id)
                || (is_os_disk && vm.is_some_and(|v| ids::same(&o.provider_id, &v.id)))
        });
        if ov.is_some_and(|o| o.exclude) {
            continue;
        }
        let in_account = tag(tags, TAG_ACCOUNT).is_some_and(|a| a.eq_ignore_ascii_case(account));
        let kind = ov.and_then(|o| o.kind).or_else(|| {
            in_account.then(|| tag(tags, TAG_ROLE).and_then(ResourceKind::from_tag))?
        });
        let Some(kind) = kind else { continue };
        if !in_account && ov.and_then(|o| o.kind).is_none() {
            continue;
        }
        let owner = ov
            .and_then(|o| o.owner.clone())
            .or_else(|| tag(tags, TAG_OWNER).map(str::to_string));
        let (power, power_detail) = match vm {
            Some(v) if is_os_disk && is_vm_kind(kind) => {
                let p = ResourceId::parse(&v.id)
                    .ok()
                    .and_then(|i| power.get(&i.key()));
                (p.map(power_of), p.map(|p| p.as_str().to_string()))
            }
            _ => (None, None),
        };
        out.push(DiscoveredResource {
            provider_id: d.id.clone(),
            name: if is_os_disk && is_vm_kind(kind) {
                vm.map(|v| v.name.clone()).unwrap_or_else(|| d.name.clone())
            } else {
                d.name.clone()
            },
            kind,
            // Only this account's resources come out (an override may bring in a disk tagged otherwise).
            frame_account: account.to_string(),
            owner,
            desktop_state: (kind == ResourceKind::PersistentDesktop)
                .then(|| tag(tags, TAG_DESKTOP_STATE).and_then(desktop_state))
                .flatten(),
            size_bytes: d.size_bytes() as f64,
            vm_id: d.managed_by.clone(),
            power,
            power_detail,
            location: super::normalize_location(&d.location),
            not_protected_reason: (!kind.is_protected())
                .then(|| TEMPLATE_NOT_PROTECTED.to_string()),
        });
    }
    out.sort_by(|a, b| (kind_rank(a.kind), &a.name).cmp(&(kind_rank(b.kind), &b.name)));
    out
}

fn kind_rank(k: ResourceKind) -> u8 {
    match k {
        ResourceKind::Sandbox => 0,
        ResourceKind::UtilityServer => 1,
        ResourceKind::PersistentDesktop => 2,
        ResourceKind::EnterpriseProfile => 3,
        ResourceKind::PersonalDrive => 4,
        ResourceKind::TemplateImage => 5,
    }
}

/// How many instance views are read at once.
const PARALLEL_READS: usize = 8;

impl ArmClient {
    /// Lists the resource groups' disks and VMs, reads the power state of the account's VMs and
    /// classifies (see [`classify`]).
    pub async fn discover(
        &self,
        account: &str,
        resource_groups: &[String],
        overrides: &[MappingOverride],
    ) -> Result<Vec<DiscoveredResource>, ArmError> {
        let mut disks = Vec::new();
        let mut vms = Vec::new();
        for rg in resource_groups {
            disks.extend(self.list_disks(rg).await?);
            vms.extend(self.list_vms(rg).await?);
        }
        let wanted: Vec<ResourceId> = vms
            .iter()
            .filter(|v| {
                tag(&v.tags, TAG_ACCOUNT).is_some_and(|a| a.eq_ignore_ascii_case(account))
                    || overrides.iter().any(|o| ids::same(&o.provider_id, &v.id))
                    || disks.iter().any(|d| {
                        d.managed_by.as_deref().is_some_and(|m| ids::same(m, &v.id))
                            && tag(&d.tags, TAG_ACCOUNT)
                                .is_some_and(|a| a.eq_ignore_ascii_case(account))
                    })
            })
            .filter_map(|v| v.resource_id().ok())
            .collect();
        let mut power = HashMap::new();
        for chunk in wanted.chunks(PARALLEL_READS) {
            let mut set = tokio::task::JoinSet::new();
            for id in chunk {
                let c = self.clone();
                let id = id.clone();
                set.spawn(async move {
                    let p = c.power_state(&id).await;
                    (id, p)
                });
            }
            while let Some(joined) = set.join_next().await {
                let (id, p) = joined.map_err(|e| ArmError::decode("an instance view", e))?;
                power.insert(id.key(), p?);
            }
        }
        Ok(classify(account, &disks, &vms, &power, overrides))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(name: &str, tags: &[(&str, &str)], managed_by: Option<&str>) -> Disk {
        let mut d = Disk {
            id: format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{name}"),
            name: name.into(),
            location: "West Europe".into(),
            managed_by: managed_by.map(|v| {
                format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{v}")
            }),
            ..Disk::default()
        };
        d.properties.disk_size_gb = Some(64);
        d.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        d
    }

    fn vm(name: &str, os: &str, tags: &[(&str, &str)]) -> VirtualMachine {
        serde_json::from_value(serde_json::json!({
            // ARM answers may lack the leading slash and differ in case.
            "id": format!("SUBSCRIPTIONS/s/resourcegroups/RG/providers/Microsoft.Compute/virtualMachines/{name}"),
            "name": name,
            "location": "westeurope",
            "tags": tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tags>(),
            "properties": {"storageProfile": {"osDisk": {"managedDisk": {
                "id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{os}")
            }}}},
        }))
        .unwrap()
    }

    #[test]
    fn an_untagged_os_disk_takes_its_vms_tags_and_overrides_bring_in_untagged_disks() {
        let vms = [vm(
            "desk-1",
            "desk-1-os",
            &[
                ("Frame.Account", "acme"),
                ("frame.role", "persistent-desktop"),
                ("frame.owner", "a@x"),
                ("frame.desktop-state", "assigned"),
            ],
        )];
        let disks = [
            disk("desk-1-os", &[], Some("desk-1")),
            disk("stray", &[], None),
            disk(
                "tpl",
                &[("frame.account", "acme"), ("frame.role", "template-image")],
                None,
            ),
            disk(
                "other",
                &[("frame.account", "zeta"), ("frame.role", "sandbox")],
                None,
            ),
        ];
        let power: HashMap<String, AzPower> = [(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/desk-1"
                .to_string(),
            AzPower::Deallocated,
        )]
        .into();
        let found = classify("acme", &disks, &vms, &power, &[]);
        assert_eq!(found.len(), 2);
        let desk = &found[0];
        assert_eq!(
            (desk.kind, desk.name.as_str()),
            (ResourceKind::PersistentDesktop, "desk-1")
        );
        assert_eq!(desk.owner.as_deref(), Some("a@x"));
        assert_eq!(desk.desktop_state, Some(DesktopState::Assigned));
        assert_eq!(desk.power, Some(PowerState::Off));
        assert_eq!(desk.location, "westeurope");
        assert_eq!(desk.size_bytes, (64u64 << 30) as f64);
        assert_eq!(
            found[1].not_protected_reason.as_deref(),
            Some(TEMPLATE_NOT_PROTECTED)
        );

        let overrides = [MappingOverride {
            provider_id:
                "subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/STRAY".into(),
            kind: Some(ResourceKind::PersonalDrive),
            owner: Some("b@x".into()),
            exclude: false,
        }];
        let found = classify("acme", &disks, &vms, &power, &overrides);
        let stray = found.iter().find(|r| r.name == "stray").unwrap();
        assert_eq!(stray.kind, ResourceKind::PersonalDrive);
        assert_eq!(stray.frame_account, "acme");
    }
}
