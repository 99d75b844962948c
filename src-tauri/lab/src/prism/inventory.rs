//! Storage containers, VMs and volume groups: how they read, and the calls that change them
//! (power, disk resize, volume group clone), each through a task.

use serde_json::{json, Value};
use uuid::Uuid;

use super::body;
use super::error::{PrismError, PrismResult};
use super::model::{Cluster, Disk, Effect, SnapVg, Vm, VolumeGroup};
use super::tasks::{self, NewTask};

const MIB: u64 = 1024 * 1024;

pub fn container_used(cl: &Cluster, name: &str) -> u64 {
    let live: u64 = cl
        .disks()
        .filter(|d| d.container == name)
        .map(|d| d.used_bytes)
        .sum();
    // Snapshots hold blocks that live disks have since overwritten; a fifth is a fair stand-in.
    let held: u64 = cl
        .protection_domains
        .iter()
        .flat_map(|p| p.snapshots.iter())
        .flat_map(|s| {
            s.vms
                .iter()
                .map(|v| &v.disk)
                .chain(s.volume_groups.iter().flat_map(|g| g.disks.iter()))
        })
        .filter(|d| d.container == name)
        .map(|d| d.used_bytes / 5)
        .sum();
    cl.container(name).map_or(0, |c| c.other_used_bytes) + live + held
}

pub fn render_container(cl: &Cluster, name: &str) -> Value {
    let c = cl.container(name).expect("container exists");
    let used = container_used(cl, name).min(c.max_capacity);
    let free = c.max_capacity - used;
    let mapped: serde_json::Map<String, Value> = cl
        .remote_sites
        .iter()
        .filter_map(|s| {
            s.vstore_name_map
                .get(name)
                .map(|r| (s.name.clone(), json!(r)))
        })
        .collect();
    json!({
        "id": c.id,
        "storage_container_uuid": c.uuid,
        "cluster_uuid": cl.uuid,
        "name": c.name,
        "max_capacity": c.max_capacity,
        "total_explicit_reserved_capacity": 0,
        "total_implicit_reserved_capacity": 0,
        "replication_factor": 2,
        "oplog_replication_factor": 2,
        "compression_enabled": true,
        "compression_delay_in_secs": 0,
        "on_disk_dedup": "OFF",
        "finger_print_on_write": "OFF",
        "erasure_code": "off",
        "is_nutanix_managed": name == super::seeding::MANAGEMENT_CONTAINER,
        "enable_software_encryption": false,
        "marked_for_removal": false,
        "nfs_whitelist": [],
        "nfs_whitelist_inherited": true,
        "vstore_name_list": [c.name],
        "mapped_remote_containers": mapped,
        "usage_stats": {
            "storage.capacity_bytes": c.max_capacity.to_string(),
            "storage.usage_bytes": used.to_string(),
            "storage.user_usage_bytes": used.to_string(),
            "storage.free_bytes": free.to_string(),
            "storage.user_free_bytes": free.to_string(),
            "storage.logical_usage_bytes": used.to_string(),
            "data_reduction.saving_ratio_ppm": "1000000",
        },
    })
}

pub fn containers(cl: &Cluster) -> Value {
    super::collection(
        cl.containers
            .iter()
            .map(|c| render_container(cl, &c.name))
            .collect(),
    )
}

pub fn container(cl: &Cluster, key: &str) -> PrismResult<Value> {
    let c = cl
        .containers
        .iter()
        .find(|c| c.uuid.to_string() == key || c.name == key)
        .ok_or_else(|| PrismError::not_found("Storage container", key))?;
    Ok(render_container(cl, &c.name))
}

fn render_disk(cl: &Cluster, d: &Disk, index: usize) -> Value {
    json!({
        "disk_address": {
            "device_bus": "SCSI",
            "device_index": index,
            "disk_label": format!("scsi.{index}"),
            "vmdisk_uuid": d.uuid,
            "ndfs_filepath": format!("/{}/.acropolis/vmdisk/{}", d.container, d.uuid),
            "is_cdrom": false,
        },
        "is_cdrom": false,
        "is_empty": false,
        "flash_mode_enabled": false,
        "is_scsi_passthrough": true,
        "is_thin_provisioned": false,
        "shared": false,
        "size": d.size_bytes,
        "storage_container_uuid": cl.container_uuid(&d.container),
    })
}

pub fn render_vm(cl: &Cluster, vm: &Vm, with_disks: bool) -> Value {
    let mut v = json!({
        "uuid": vm.uuid,
        "name": vm.name,
        "description": vm.description,
        "power_state": if vm.power_on { "on" } else { "off" },
        "memory_mb": vm.memory_mb,
        "num_vcpus": vm.num_vcpus,
        "num_cores_per_vcpu": 1,
        "vm_logical_timestamp": vm.logical_timestamp,
        "allow_live_migrate": true,
        "ha_priority": 0,
        "timezone": "UTC",
        "guest_os": "Windows 11",
        "storage_container_uuid": cl.container_uuid(&vm.disk.container),
        "vm_features": { "AGENT_VM": false },
    });
    let m = v.as_object_mut().expect("object");
    if vm.power_on {
        m.insert("host_uuid".into(), json!(cl.host_uuid));
    }
    if with_disks {
        m.insert("vm_disk_info".into(), json!([render_disk(cl, &vm.disk, 0)]));
    }
    v
}

fn flag(query: &[(String, String)], name: &str) -> bool {
    query
        .iter()
        .any(|(k, v)| k == name && v.eq_ignore_ascii_case("true"))
}

pub fn vms(cl: &Cluster, query: &[(String, String)]) -> Value {
    let disks = flag(query, "include_vm_disk_config");
    super::collection(cl.vms.iter().map(|v| render_vm(cl, v, disks)).collect())
}

pub fn vm_index(cl: &Cluster, key: &str) -> PrismResult<usize> {
    let uuid = Uuid::parse_str(key)
        .map_err(|_| PrismError::bad_request(format!("Invalid VM UUID '{key}'")))?;
    cl.vms
        .iter()
        .position(|v| v.uuid == uuid)
        .ok_or_else(|| PrismError::not_found("VM", key))
}

pub fn vm(cl: &Cluster, key: &str, query: &[(String, String)]) -> PrismResult<Value> {
    let i = vm_index(cl, key)?;
    Ok(render_vm(
        cl,
        &cl.vms[i],
        flag(query, "include_vm_disk_config"),
    ))
}

pub const TRANSITIONS: &[&str] = &[
    "ON",
    "OFF",
    "POWERCYCLE",
    "RESET",
    "PAUSE",
    "SUSPEND",
    "RESUME",
    "ACPI_SHUTDOWN",
    "ACPI_REBOOT",
];

pub fn set_power_state(cl: &mut Cluster, key: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = vm_index(cl, key)?;
    let m = body::object(req)?;
    let transition = body::enum_value("transition", &body::req_str(m, "transition")?, TRANSITIONS)?;
    let vm = &cl.vms[i];
    let on = !matches!(transition, "OFF" | "ACPI_SHUTDOWN" | "PAUSE" | "SUSPEND");
    let (uuid, name, was_on) = (vm.uuid, vm.name.clone(), vm.power_on);
    if !was_on
        && matches!(
            transition,
            "ACPI_SHUTDOWN" | "ACPI_REBOOT" | "RESET" | "PAUSE" | "SUSPEND"
        )
    {
        return Err(PrismError::invalid_state(format!(
            "VM {name} is powered off: {transition} needs a running VM"
        )));
    }
    let task = tasks::create(
        cl,
        now,
        NewTask {
            kind: "set_power_state",
            operation_type: "kVmSetPowerState",
            method_name: "VmSetPowerState",
            entities: vec![tasks::entity("VM", uuid, name)],
            run_usecs: if transition.starts_with("ACPI") {
                8_000_000
            } else {
                4_000_000
            },
            effect: Some(Effect::SetPower { vm: uuid, on }),
        },
    );
    Ok(json!({ "task_uuid": task }))
}

/// `PUT /vms/{uuid}/disks/update` (and the `vm_disks` of `PUT /vms/{uuid}`): grows a disk to
/// `vm_disk_create.size`; Acropolis cannot shrink a disk.
pub fn update_vm_disks(cl: &mut Cluster, key: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = vm_index(cl, key)?;
    let m = body::object(req)?;
    let disks = body::opt_array(m, "vm_disks")?.ok_or_else(|| body::missing("vm_disks"))?;
    let vm = &cl.vms[i];
    let mut new_size = None;
    for d in disks {
        let d = body::object(d)?;
        let addr = body::opt_object(d, "disk_address")?
            .ok_or_else(|| body::missing("vm_disks[].disk_address"))?;
        let vmdisk = body::opt_str(addr, "vmdisk_uuid")?;
        let index = body::opt_i64(addr, "device_index")?;
        if let Some(bus) = body::opt_str(addr, "device_bus")? {
            body::enum_value("device_bus", &bus, &["SCSI", "IDE", "PCI", "SATA", "SPAPR"])?;
        }
        let matches = match (&vmdisk, index) {
            (Some(u), _) => *u == vm.disk.uuid.to_string(),
            (None, Some(ix)) => ix == 0,
            (None, None) => {
                return Err(PrismError::bad_request(
                    "disk_address needs vmdisk_uuid or device_bus and device_index",
                ))
            }
        };
        if !matches {
            return Err(PrismError::not_found(
                "Virtual disk",
                &vmdisk.unwrap_or_else(|| format!("index {}", index.unwrap_or(-1))),
            ));
        }
        let create = body::opt_object(d, "vm_disk_create")?
            .ok_or_else(|| body::missing("vm_disks[].vm_disk_create"))?;
        let size =
            body::opt_u64(create, "size")?.ok_or_else(|| body::missing("vm_disk_create.size"))?;
        if size < vm.disk.size_bytes {
            return Err(PrismError::invalid_state(format!(
                "Cannot shrink disk {} of VM {} from {} to {} bytes",
                vm.disk.uuid, vm.name, vm.disk.size_bytes, size
            )));
        }
        new_size = Some(size);
    }
    let size = new_size.ok_or_else(|| body::missing("vm_disks"))?;
    let (uuid, name) = (vm.uuid, vm.name.clone());
    let task = tasks::create(
        cl,
        now,
        NewTask {
            kind: "vm_disk_update",
            operation_type: "kVmDiskUpdate",
            method_name: "VmDiskUpdate",
            entities: vec![tasks::entity("VM", uuid, name)],
            run_usecs: 3_000_000,
            effect: Some(Effect::ResizeVmDisk {
                vm: uuid,
                size_bytes: size,
            }),
        },
    );
    Ok(json!({ "task_uuid": task }))
}

pub fn render_vg(cl: &Cluster, g: &VolumeGroup) -> Value {
    json!({
        "uuid": g.uuid,
        "name": g.name,
        "description": g.description,
        "is_shared": false,
        "is_deleted": false,
        "flash_mode_enabled": false,
        "iscsi_target": format!("iqn.2010-06.com.nutanix:{}-{}", g.name, g.uuid),
        "logical_timestamp": g.logical_timestamp,
        "last_modified_timestamp_usecs": g.modified_usecs,
        "enabled_authentications": [],
        "attachment_list": g.attached_vm.iter().map(|u| json!({ "vm_uuid": u })).collect::<Vec<_>>(),
        "disk_list": g.disks.iter().enumerate().map(|(i, d)| json!({
            "index": i,
            "vmdisk_uuid": d.uuid,
            "vmdisk_size_bytes": d.size_bytes,
            "vmdisk_size_mb": d.size_bytes / MIB,
            "storage_container_uuid": cl.container_uuid(&d.container),
            "flash_mode_enabled": false,
        })).collect::<Vec<_>>(),
    })
}

pub fn vgs(cl: &Cluster) -> Value {
    super::collection(cl.volume_groups.iter().map(|g| render_vg(cl, g)).collect())
}

pub fn vg_index(cl: &Cluster, key: &str) -> PrismResult<usize> {
    let uuid = Uuid::parse_str(key)
        .map_err(|_| PrismError::bad_request(format!("Invalid volume group UUID '{key}'")))?;
    cl.volume_groups
        .iter()
        .position(|v| v.uuid == uuid)
        .ok_or_else(|| PrismError::not_found("Volume group", key))
}

pub fn vg(cl: &Cluster, key: &str) -> PrismResult<Value> {
    let i = vg_index(cl, key)?;
    Ok(render_vg(cl, &cl.volume_groups[i]))
}

pub fn snap_vg(g: &VolumeGroup) -> SnapVg {
    SnapVg {
        uuid: g.uuid,
        name: g.name.clone(),
        description: g.description.clone(),
        disks: g.disks.clone(),
    }
}

/// `POST /volume_groups/{uuid}/clone`: a new volume group on the same cluster with the source's
/// contents as of the request.
pub fn clone_vg(cl: &mut Cluster, key: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = vg_index(cl, key)?;
    let m = body::object(req)?;
    let src = &cl.volume_groups[i];
    let name = body::opt_str(m, "name")?.unwrap_or_else(|| format!("{}-clone", src.name));
    if cl.volume_groups.iter().any(|g| g.name == name) {
        return Err(PrismError::exists("Volume group", &name));
    }
    let new_uuid = match body::opt_str(m, "uuid")? {
        Some(u) => Uuid::parse_str(&u)
            .map_err(|_| PrismError::bad_request(format!("Invalid UUID '{u}' for field 'uuid'")))?,
        None => Uuid::new_v4(),
    };
    if cl.volume_groups.iter().any(|g| g.uuid == new_uuid) {
        return Err(PrismError::exists("Volume group", &new_uuid.to_string()));
    }
    let source = snap_vg(src);
    let run = 5_000_000 + (source.disks.len() as i64) * 1_000_000;
    let task = tasks::create(
        cl,
        now,
        NewTask {
            kind: "vg_clone",
            operation_type: "kVolumeGroupClone",
            method_name: "VolumeGroupClone",
            entities: vec![
                tasks::entity("VOLUME_GROUP", source.uuid, source.name.clone()),
                tasks::entity("VOLUME_GROUP", new_uuid, name.clone()),
            ],
            run_usecs: run,
            effect: Some(Effect::CloneVg {
                source,
                new_uuid,
                new_name: name,
            }),
        },
    );
    Ok(json!({ "task_uuid": task }))
}

/// `PUT /volume_groups/{uuid}/disks` with `index` and `upgrade_spec.size` (or `size_mb`): grows
/// the disk in place.
pub fn update_vg_disk(cl: &mut Cluster, key: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = vg_index(cl, key)?;
    let m = body::object(req)?;
    let index = body::opt_i64(m, "index")?.ok_or_else(|| body::missing("index"))?;
    let g = &cl.volume_groups[i];
    let disk = usize::try_from(index)
        .ok()
        .and_then(|ix| g.disks.get(ix))
        .ok_or_else(|| PrismError::not_found("Volume disk", &format!("index {index}")))?;
    let spec = body::opt_object(m, "upgrade_spec")?.ok_or_else(|| body::missing("upgrade_spec"))?;
    let size = match (
        body::opt_u64(spec, "size")?,
        body::opt_u64(spec, "size_mb")?,
    ) {
        (Some(b), _) => b,
        (None, Some(mb)) => mb * MIB,
        (None, None) => return Err(body::missing("upgrade_spec.size")),
    };
    if size < disk.size_bytes {
        return Err(PrismError::invalid_state(format!(
            "Cannot shrink disk {index} of volume group {} from {} to {size} bytes",
            g.name, disk.size_bytes
        )));
    }
    let (uuid, name) = (g.uuid, g.name.clone());
    let task = tasks::create(
        cl,
        now,
        NewTask {
            kind: "vg_disk_update",
            operation_type: "kVolumeGroupDiskUpdate",
            method_name: "VolumeGroupUpdateDisk",
            entities: vec![tasks::entity("VOLUME_GROUP", uuid, name)],
            run_usecs: 3_000_000,
            effect: Some(Effect::ResizeVgDisk {
                vg: uuid,
                index: index as usize,
                size_bytes: size,
            }),
        },
    );
    Ok(json!({ "task_uuid": task }))
}
