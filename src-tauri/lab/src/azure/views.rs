//! Resources rendered as ARM returns them (DiskRP 2025-01-02, ComputeRP 2025-04-01 shapes).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::arm::Ctx;
use super::ids::Kind;
use super::model::{CopyStatus, Disk, Power, Snapshot, Vm};
use super::reply::arm_time;

const GIB: u64 = 1 << 30;

fn sku_tier(sku: &str) -> &'static str {
    if sku.starts_with("Premium") {
        "Premium"
    } else if sku.starts_with("Ultra") {
        "Ultra"
    } else {
        "Standard"
    }
}

/// The default performance tier of a Premium SSD of this size.
pub fn premium_tier(size_gb: u64) -> &'static str {
    const TIERS: [(u64, &str); 12] = [
        (4, "P1"),
        (8, "P2"),
        (16, "P3"),
        (32, "P4"),
        (64, "P6"),
        (128, "P10"),
        (256, "P15"),
        (512, "P20"),
        (1024, "P30"),
        (2048, "P40"),
        (4096, "P50"),
        (8192, "P60"),
    ];
    TIERS
        .iter()
        .find(|(max, _)| size_gb <= *max)
        .map(|(_, t)| *t)
        .unwrap_or("P80")
}

pub fn disk(ctx: &Ctx<'_>, d: &Disk) -> Value {
    let ready = ctx.now >= d.ready_at;
    let mut creation = json!({ "createOption": d.create_option });
    if let Some(s) = &d.source_resource_id {
        creation["sourceResourceId"] = json!(s);
    }
    if let Some(u) = &d.source_unique_id {
        creation["sourceUniqueId"] = json!(u);
    }
    let mut props = json!({
        "hyperVGeneration": "V2",
        "creationData": creation,
        "diskSizeGB": d.size_gb,
        "diskSizeBytes": d.size_gb * GIB,
        "uniqueId": d.unique_id,
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "networkAccessPolicy": "AllowAll",
        "publicNetworkAccess": "Enabled",
        "timeCreated": arm_time(d.time_created),
        "provisioningState": if ready { "Succeeded" } else { "Updating" },
        "diskState": if d.managed_by.is_some() { "Attached" } else { "Unattached" },
        "diskIOPSReadWrite": 500,
        "diskMBpsReadWrite": 100,
    });
    if let Some(os) = &d.os_type {
        props["osType"] = json!(os);
    }
    if let Some(t) = &d.tier {
        props["tier"] = json!(t);
    }
    let mut v = json!({
        "id": ctx.id(&d.resource_group, Kind::Disks, &d.name),
        "name": d.name,
        "type": "Microsoft.Compute/disks",
        "location": d.location,
        "tags": d.tags,
        "sku": {"name": d.sku, "tier": sku_tier(&d.sku)},
        "properties": props,
    });
    if let Some(vm) = d.managed_by.as_ref().and_then(|k| ctx.st.vms.get(k)) {
        v["managedBy"] = json!(ctx.id(&vm.resource_group, Kind::VirtualMachines, &vm.name));
    }
    v
}

pub fn snapshot(ctx: &Ctx<'_>, s: &Snapshot) -> Value {
    let mut creation = json!({
        "createOption": s.create_option,
        "sourceResourceId": s.source_resource_id,
    });
    if let Some(u) = &s.source_unique_id {
        creation["sourceUniqueId"] = json!(u);
    }
    if let Some(c) = &s.copy_speed {
        creation["provisionedBandwidthCopySpeed"] = json!(c);
    }
    let mut props = json!({
        "hyperVGeneration": "V2",
        "creationData": creation,
        "diskSizeGB": s.size_gb,
        "diskSizeBytes": s.size_gb * GIB,
        "uniqueId": s.unique_id,
        "incremental": s.incremental,
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "networkAccessPolicy": "AllowAll",
        "publicNetworkAccess": "Enabled",
        "diskState": "Unattached",
        "timeCreated": arm_time(s.time_created),
        "provisioningState": "Succeeded",
    });
    if s.incremental {
        props["incrementalSnapshotFamilyId"] = json!(s.family_id);
    }
    if let Some(os) = &s.os_type {
        props["osType"] = json!(os);
    }
    if let Some(c) = &s.copy {
        let rate = super::copy_rate(&ctx.st, &c.source_location, &s.location);
        match c.status(ctx.now, rate) {
            CopyStatus::InProgress(p) => {
                props["provisioningState"] = json!("Updating");
                props["completionPercent"] = json!(round2(p));
            }
            CopyStatus::Succeeded => props["completionPercent"] = json!(100.0),
            CopyStatus::Failed(e) => {
                props["provisioningState"] = json!("Failed");
                props["completionPercent"] = json!(round2(c.percent(ctx.now, rate)));
                props["copyCompletionError"] =
                    json!({"errorCode": e.code, "errorMessage": e.message});
            }
        }
    }
    json!({
        "id": ctx.id(&s.resource_group, Kind::Snapshots, &s.name),
        "name": s.name,
        "type": "Microsoft.Compute/snapshots",
        "location": s.location,
        "tags": s.tags,
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": props,
    })
}

fn round2(p: f64) -> f64 {
    (p * 100.0).floor() / 100.0
}

fn managed_disk_ref(ctx: &Ctx<'_>, key: &str) -> (String, Value) {
    match ctx.st.disks.get(key) {
        Some(d) => (
            d.name.clone(),
            json!({
                "storageAccountType": d.sku,
                "id": ctx.id(&d.resource_group, Kind::Disks, &d.name),
            }),
        ),
        None => (key.rsplit('/').next().unwrap_or(key).to_string(), json!({})),
    }
}

fn disk_size(ctx: &Ctx<'_>, key: &str) -> u64 {
    ctx.st.disks.get(key).map(|d| d.size_gb).unwrap_or(0)
}

pub fn storage_profile(ctx: &Ctx<'_>, vm: &Vm) -> Value {
    let (os_name, os_ref) = managed_disk_ref(ctx, &vm.os_disk);
    let os_type = ctx
        .st
        .disks
        .get(&vm.os_disk)
        .and_then(|d| d.os_type.clone())
        .unwrap_or_else(|| "Windows".into());
    let data: Vec<Value> = vm
        .data_disks
        .iter()
        .map(|dd| {
            let (name, r) = managed_disk_ref(ctx, &dd.disk);
            json!({
                "lun": dd.lun,
                "name": name,
                "createOption": "Attach",
                "caching": "None",
                "managedDisk": r,
                "diskSizeGB": disk_size(ctx, &dd.disk),
                "toBeDetached": false,
            })
        })
        .collect();
    json!({
        "osDisk": {
            "osType": os_type,
            "name": os_name,
            "createOption": "Attach",
            "caching": "ReadWrite",
            "managedDisk": os_ref,
            "diskSizeGB": disk_size(ctx, &vm.os_disk),
        },
        "dataDisks": data,
    })
}

pub fn vm(ctx: &Ctx<'_>, vm: &Vm, with_instance_view: bool) -> Value {
    let mut props = json!({
        "vmId": vm.vm_id,
        "hardwareProfile": {"vmSize": vm.vm_size},
        "storageProfile": storage_profile(ctx, vm),
        "networkProfile": {"networkInterfaces": [{
            "id": format!("/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/networkInterfaces/{}-nic", ctx.sub(), vm.resource_group, vm.name),
        }]},
        "diagnosticsProfile": {"bootDiagnostics": {"enabled": true}},
        "provisioningState": "Succeeded",
        "timeCreated": arm_time(vm.time_created),
    });
    if with_instance_view {
        props["instanceView"] = instance_view(ctx, vm);
    }
    json!({
        "id": ctx.id(&vm.resource_group, Kind::VirtualMachines, &vm.name),
        "name": vm.name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "tags": vm.tags,
        "properties": props,
    })
}

/// A VM in a `statusOnly=true` list: who it is and its instance view, not its model.
pub fn vm_status(ctx: &Ctx<'_>, vm: &Vm) -> Value {
    json!({
        "id": ctx.id(&vm.resource_group, Kind::VirtualMachines, &vm.name),
        "name": vm.name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vm.location,
        "properties": {"instanceView": instance_view(ctx, vm)},
    })
}

fn status(code: &str, display: &str, time: Option<DateTime<Utc>>) -> Value {
    let mut s = json!({"code": code, "level": "Info", "displayStatus": display});
    if let Some(t) = time {
        s["time"] = json!(arm_time(t));
    }
    s
}

pub fn instance_view(ctx: &Ctx<'_>, vm: &Vm) -> Value {
    let power = vm.power_at(ctx.now);
    let mut disks = vec![vm.os_disk.clone()];
    disks.extend(vm.data_disks.iter().map(|d| d.disk.clone()));
    let disks: Vec<Value> = disks
        .iter()
        .map(|k| {
            let (name, _) = managed_disk_ref(ctx, k);
            json!({"name": name, "statuses": [status("ProvisioningState/succeeded", "Provisioning succeeded", Some(vm.time_created))]})
        })
        .collect();
    let mut v = json!({
        "computerName": vm.name,
        "osName": "Windows 11 Enterprise multi-session",
        "osVersion": "10.0.22631",
        "hyperVGeneration": "V2",
        "disks": disks,
        "statuses": [
            status("ProvisioningState/succeeded", "Provisioning succeeded", Some(vm.time_created)),
            status(power.code(), power.display(), None),
        ],
    });
    if power == Power::Running {
        v["vmAgent"] = json!({
            "vmAgentVersion": "2.7.41491.1102",
            "statuses": [status("ProvisioningState/succeeded", "Ready", Some(ctx.now))],
        });
    }
    v
}
