//! The seeded Frame account on Azure, from the same generator as the AHV clusters: each VM role is a
//! VM with an OS disk; enterprise profiles and personal drives are data disks attached to their
//! user's assigned desktop (unattached otherwise); the template image is a lone disk. Everything
//! carries the `frame.*` tags as ARM tags.

use chrono::{DateTime, Utc};

use super::model::{key, AzureState, DataDisk, Disk, Power, Tags, Vm};
use crate::config::AzureConfig;
use crate::seed::{self, DesktopState, Role};

pub struct VmSpec<'a> {
    pub resource_group: &'a str,
    pub name: &'a str,
    pub location: &'a str,
    pub size_gb: u64,
    pub used_gb: f64,
    pub running: bool,
    pub tags: Tags,
}

#[allow(clippy::too_many_arguments)]
fn disk(
    rg: &str,
    name: &str,
    location: &str,
    size_gb: u64,
    used_gb: f64,
    sku: &str,
    os: bool,
    tags: Tags,
    now: DateTime<Utc>,
) -> Disk {
    Disk {
        name: name.to_string(),
        resource_group: rg.to_string(),
        location: location.to_string(),
        size_gb,
        tier: sku
            .starts_with("Premium_")
            .then(|| super::views::premium_tier(size_gb).to_string()),
        sku: sku.to_string(),
        os_type: os.then(|| "Windows".to_string()),
        tags,
        managed_by: None,
        create_option: if os { "FromImage" } else { "Empty" }.to_string(),
        source_resource_id: None,
        source_unique_id: None,
        unique_id: uuid::Uuid::new_v4().to_string(),
        time_created: now,
        ready_at: now,
        used_gb,
        snapshot_times: Vec::new(),
    }
}

/// A VM and its OS disk (`{name}-osdisk`), both tagged alike. Returns the VM's key.
pub fn add_vm(st: &mut AzureState, spec: &VmSpec<'_>, now: DateTime<Utc>) -> String {
    let vm_key = key(spec.resource_group, spec.name);
    let os_name = format!("{}-osdisk", spec.name);
    let os_key = key(spec.resource_group, &os_name);
    let mut os = disk(
        spec.resource_group,
        &os_name,
        spec.location,
        spec.size_gb,
        spec.used_gb,
        "Premium_LRS",
        true,
        spec.tags.clone(),
        now,
    );
    os.managed_by = Some(vm_key.clone());
    st.disks.insert(os_key.clone(), os);
    st.vms.insert(
        vm_key.clone(),
        Vm {
            name: spec.name.to_string(),
            resource_group: spec.resource_group.to_string(),
            location: spec.location.to_string(),
            vm_id: uuid::Uuid::new_v4().to_string(),
            vm_size: "Standard_D4s_v3".into(),
            vcpus: 4,
            tags: spec.tags.clone(),
            os_disk: os_key,
            data_disks: Vec::new(),
            power: if spec.running {
                Power::Running
            } else {
                Power::Deallocated
            },
            transition: None,
            session: None,
            time_created: now,
        },
    );
    vm_key
}

pub fn seed(st: &mut AzureState, cfg: &AzureConfig, account: &seed::Account, now: DateTime<Utc>) {
    let rg = cfg.resource_group.as_str();
    let loc = cfg.primary_region.as_str();
    let tags_of = |r: &seed::Resource| -> Tags {
        r.tags(&account.name)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    };
    // Users' desktops, to attach their volumes to.
    let mut desktop_of = std::collections::HashMap::new();
    for r in &account.resources {
        match r.role {
            Role::TemplateImage => {
                let d = disk(
                    rg,
                    &r.name,
                    loc,
                    r.size_gib,
                    r.used_gib as f64,
                    "Premium_LRS",
                    true,
                    tags_of(r),
                    now,
                );
                st.disks.insert(key(rg, &r.name), d);
            }
            role if role.is_vm() => {
                let vm_key = add_vm(
                    st,
                    &VmSpec {
                        resource_group: rg,
                        name: &r.name,
                        location: loc,
                        size_gb: r.size_gib,
                        used_gb: r.used_gib as f64,
                        running: r.powered_on,
                        tags: tags_of(r),
                    },
                    now,
                );
                if let (Some(owner), Some(DesktopState::Assigned)) = (&r.owner, r.desktop_state) {
                    desktop_of.insert(owner.clone(), vm_key);
                }
            }
            _ => {}
        }
    }
    for r in account
        .resources
        .iter()
        .filter(|r| matches!(r.role, Role::EnterpriseProfile | Role::PersonalDrive))
    {
        let k = key(rg, &r.name);
        let mut d = disk(
            rg,
            &r.name,
            loc,
            r.size_gib,
            r.used_gib as f64,
            "StandardSSD_LRS",
            false,
            tags_of(r),
            now,
        );
        if let Some(vm_key) = r.owner.as_ref().and_then(|o| desktop_of.get(o)) {
            if let Some(vm) = st.vms.get_mut(vm_key) {
                let lun = vm.data_disks.len() as u32;
                vm.data_disks.push(DataDisk {
                    lun,
                    disk: k.clone(),
                });
                d.managed_by = Some(vm_key.clone());
            }
        }
        st.disks.insert(k, d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_account_follows_the_convention() {
        let cfg = AzureConfig::default();
        let account = seed::Account::small("acme-pd");
        let mut st = AzureState::default();
        seed(&mut st, &cfg, &account, Utc::now());
        let vms = account
            .resources
            .iter()
            .filter(|r| r.role.is_vm() && r.role != Role::TemplateImage)
            .count();
        assert_eq!(st.vms.len(), vms);
        let template = st
            .disks
            .values()
            .find(|d| d.tags.get(seed::TAG_ROLE).map(String::as_str) == Some("template-image"))
            .unwrap();
        assert!(template.managed_by.is_none());
        let attached = st
            .disks
            .values()
            .filter(|d| {
                d.tags.get(seed::TAG_ROLE).map(String::as_str) == Some("personal-drive")
                    && d.managed_by.is_some()
            })
            .count();
        assert!(
            attached > 0 && attached < account.users.len(),
            "assigned users' drives are attached, others not"
        );
        assert!(st
            .vms
            .values()
            .all(|v| v.tags.get(seed::TAG_ACCOUNT).map(String::as_str) == Some("acme-pd")));
    }
}
