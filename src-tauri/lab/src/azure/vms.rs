//! Virtual machines: list, get, instance view, power operations (long-running), OS-disk swap and
//! data-disk attach/detach. The lab does not create or delete VMs: Frame owns them.

use axum::http::StatusCode;
use serde_json::Value;

use super::arm::Ctx;
use super::ids::{self, Kind};
use super::model::{key, DataDisk, OpTarget, Power, Transition};
use super::reply::{ArmError, ArmReply, ArmResult};
use super::{ops, validate, views};

/// A resource group's VMs, or the subscription's. `statusOnly=true` on the subscription's list
/// (`VirtualMachines_ListAll`; ComputeRP documents it there only) answers each VM's run-time
/// status, its instance view, instead of its model, in the same pages.
pub fn list(ctx: &mut Ctx<'_>, rg: Option<&str>, path: &str) -> ArmResult {
    let status_only = rg.is_none()
        && ctx
            .query
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("statusOnly") && v.eq_ignore_ascii_case("true"));
    let items: Vec<_> = ctx
        .st
        .vms
        .values()
        .filter(|x| rg.is_none_or(|rg| x.resource_group.eq_ignore_ascii_case(rg)))
        .collect();
    Ok(if status_only {
        ctx.page(items, |v| views::vm_status(ctx, v), path)
    } else {
        ctx.page(items, |v| views::vm(ctx, v, false), path)
    })
}

fn found(ctx: &Ctx<'_>, rg: &str, name: &str) -> Result<String, ArmError> {
    let k = key(rg, name);
    match ctx.st.vms.get(&k) {
        Some(vm) => {
            ctx.region_up(&vm.location)?;
            Ok(k)
        }
        None => Err(ArmError::not_found("virtualMachines", name, rg)),
    }
}

pub fn get(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let k = found(ctx, rg, name)?;
    let expand = ctx
        .query
        .get("$expand")
        .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"));
    Ok(ArmReply::ok(views::vm(ctx, &ctx.st.vms[&k], expand)))
}

pub fn instance_view(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let k = found(ctx, rg, name)?;
    Ok(ArmReply::ok(views::instance_view(ctx, &ctx.st.vms[&k])))
}

/// `deallocate`, `start`, `powerOff`: 202 and an operation that ends after the configured time.
pub fn power(ctx: &mut Ctx<'_>, rg: &str, name: &str, action: &str) -> ArmResult {
    let k = found(ctx, rg, name)?;
    let now = ctx.now;
    let d = ctx.lab.cfg.durations.clone();
    let (to, during, secs) = match action {
        "deallocate" => (Power::Deallocated, Power::Deallocating, d.deallocate_secs),
        "start" => (Power::Running, Power::Starting, d.start_secs),
        _ => (Power::Stopped, Power::Stopping, d.power_off_secs),
    };
    let vm = ctx.st.vms.get_mut(&k).expect("found above");
    vm.settle(now);
    let until = if vm.power_at(now) == to {
        now
    } else {
        // A new power operation replaces one in progress, as Azure preempts it.
        let until = now + chrono::Duration::seconds(secs);
        vm.transition = Some(Transition { to, during, until });
        until
    };
    if to != Power::Running {
        vm.session = None;
    }
    let location = vm.location.clone();
    let op = ops::create(ctx, &location, until, OpTarget::Timed);
    Ok(ops::with_headers(
        ctx,
        ArmReply::status(StatusCode::ACCEPTED, None),
        &location,
        &op,
    ))
}

/// Resolves a managed disk reference to its key; the disk must exist and be in the VM's region.
fn disk_ref(ctx: &Ctx<'_>, id: &str, vm_location: &str, target: &str) -> Result<String, ArmError> {
    let not_found = || {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Disk '{id}' was not found."),
        )
        .with_target(target)
    };
    let rid = ids::parse(id)
        .filter(|r| r.kind == Kind::Disks)
        .ok_or_else(not_found)?;
    let k = key(&rid.resource_group, &rid.name);
    let d = ctx.st.disks.get(&k).ok_or_else(not_found)?;
    if d.location != vm_location {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "Disk '{}' is in region '{}' but the VM is in '{vm_location}'.",
                d.name, d.location
            ),
        )
        .with_target(target));
    }
    Ok(k)
}

fn ensure_attachable(ctx: &Ctx<'_>, disk_key: &str, vm_key: &str) -> Result<(), ArmError> {
    let d = &ctx.st.disks[disk_key];
    match &d.managed_by {
        Some(owner) if owner != vm_key => Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Disk '{}' is already attached to VM '{}'. Detach it first.",
                d.name,
                owner.rsplit('/').next().unwrap_or(owner)
            ),
        )),
        _ if ctx.now < d.ready_at => Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Disk '{}' is still being created (provisioningState Updating).",
                d.name
            ),
        )),
        _ => Ok(()),
    }
}

/// Applies a new data-disk set (keys with LUNs) to a VM, releasing and claiming disks.
fn apply_data_disks(
    ctx: &mut Ctx<'_>,
    vm_key: &str,
    wanted: Vec<DataDisk>,
) -> Result<(), ArmError> {
    for dd in &wanted {
        ensure_attachable(ctx, &dd.disk, vm_key)?;
    }
    let old: Vec<String> = ctx.st.vms[vm_key]
        .data_disks
        .iter()
        .map(|d| d.disk.clone())
        .collect();
    for k in old {
        if !wanted.iter().any(|w| w.disk == k) {
            if let Some(d) = ctx.st.disks.get_mut(&k) {
                d.managed_by = None;
            }
        }
    }
    for w in &wanted {
        if let Some(d) = ctx.st.disks.get_mut(&w.disk) {
            d.managed_by = Some(vm_key.to_string());
        }
    }
    ctx.st.vms.get_mut(vm_key).expect("exists").data_disks = wanted;
    Ok(())
}

fn next_lun(used: &[DataDisk]) -> u32 {
    (0..)
        .find(|l| !used.iter().any(|d| d.lun == *l))
        .unwrap_or(0)
}

/// `POST .../attachDetachDataDisks` (`dataDisksToAttach[].diskId`, `dataDisksToDetach[].diskId`).
pub fn attach_detach(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value) -> ArmResult {
    let k = found(ctx, rg, name)?;
    let location = ctx.st.vms[&k].location.clone();
    let attach = body
        .get("dataDisksToAttach")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let detach = body
        .get("dataDisksToDetach")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if attach.is_empty() && detach.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidParameter",
            "At least one of 'dataDisksToAttach' or 'dataDisksToDetach' must be given.",
        ));
    }
    let mut wanted = ctx.st.vms[&k].data_disks.clone();
    for (i, d) in detach.iter().enumerate() {
        let path = format!("dataDisksToDetach[{i}].diskId");
        let id = validate::req_str(d, "diskId").map_err(|e| e.with_target(&path))?;
        let dk = disk_ref(ctx, id, &location, &path)?;
        if !wanted.iter().any(|w| w.disk == dk) {
            return Err(ArmError::bad_request(
                "InvalidParameter",
                format!("Data disk '{id}' is not attached to VM '{name}'."),
            )
            .with_target(&path));
        }
        wanted.retain(|w| w.disk != dk);
    }
    for (i, d) in attach.iter().enumerate() {
        let path = format!("dataDisksToAttach[{i}].diskId");
        let id = validate::req_str(d, "diskId").map_err(|e| e.with_target(&path))?;
        let dk = disk_ref(ctx, id, &location, &path)?;
        if wanted.iter().any(|w| w.disk == dk) {
            continue;
        }
        let lun = match validate::opt_u64(d, "lun")? {
            Some(l) => l as u32,
            None => next_lun(&wanted),
        };
        if wanted.iter().any(|w| w.lun == lun) {
            return Err(ArmError::conflict(
                "OperationNotAllowed",
                format!("LUN {lun} is already in use on VM '{name}'."),
            ));
        }
        wanted.push(DataDisk { lun, disk: dk });
    }
    apply_data_disks(ctx, &k, wanted)?;
    let profile = views::storage_profile(ctx, &ctx.st.vms[&k]);
    let now = ctx.now;
    let op = ops::create(ctx, &location, now, OpTarget::Timed);
    Ok(ops::with_headers(
        ctx,
        ArmReply::ok(profile),
        &location,
        &op,
    ))
}

/// PUT/PATCH of a VM: tags, size, OS-disk swap (deallocated only) and the data-disk list.
pub fn update(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value, put: bool) -> ArmResult {
    if !body.is_object() {
        return Err(ArmError::invalid_content(
            "",
            "The request body must be a JSON object",
        ));
    }
    let k = key(rg, name);
    if !ctx.st.vms.contains_key(&k) {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!("The Standby lab does not create virtual machines ('{name}' does not exist); Frame creates them."),
        ));
    }
    found(ctx, rg, name)?;
    let now = ctx.now;
    let vm_location = ctx.st.vms[&k].location.clone();
    if put {
        let loc = validate::opt_str(body, "location")?.ok_or_else(|| {
            ArmError::bad_request(
                "LocationRequired",
                "The location property is required for this definition.",
            )
            .with_target("location")
        })?;
        if super::model::normalize_location(loc) != vm_location {
            return Err(ArmError::bad_request(
                "InvalidParameter",
                format!("Changing property 'location' is not allowed (VM is in '{vm_location}')."),
            )
            .with_target("location"));
        }
    }
    let tags = validate::tags(body)?;
    let size = validate::opt_str(body, "properties.hardwareProfile.vmSize")?.map(str::to_string);
    let os_id = validate::opt_str(body, "properties.storageProfile.osDisk.managedDisk.id")?;
    let data = body
        .pointer("/properties/storageProfile/dataDisks")
        .filter(|v| !v.is_null());

    if let Some(id) = os_id {
        let dk = disk_ref(
            ctx,
            id,
            &vm_location,
            "properties.storageProfile.osDisk.managedDisk.id",
        )?;
        if dk != ctx.st.vms[&k].os_disk {
            if ctx.st.vms[&k].power_at(now) != Power::Deallocated {
                return Err(ArmError::conflict(
                    "OperationNotAllowed",
                    format!("Changing property 'osDisk.managedDisk.id' is not allowed while VM '{name}' is running: deallocate the VM first."),
                )
                .with_target("properties.storageProfile.osDisk.managedDisk.id"));
            }
            ensure_attachable(ctx, &dk, &k)?;
            let old = std::mem::replace(
                &mut ctx.st.vms.get_mut(&k).expect("exists").os_disk,
                dk.clone(),
            );
            if let Some(d) = ctx.st.disks.get_mut(&old) {
                d.managed_by = None;
            }
            if let Some(d) = ctx.st.disks.get_mut(&dk) {
                d.managed_by = Some(k.clone());
            }
        }
    }
    if let Some(list) = data {
        let Some(items) = list.as_array() else {
            return Err(ArmError::invalid_content(
                "properties.storageProfile.dataDisks",
                "Error converting value to type 'List<DataDisk>'",
            ));
        };
        let mut wanted = Vec::new();
        for (i, d) in items.iter().enumerate() {
            let path = format!("properties.storageProfile.dataDisks[{i}]");
            let lun = validate::opt_u64(d, "lun")
                .map_err(|e| e.with_target(&path))?
                .ok_or_else(|| ArmError::missing(&format!("{path}.lun")))?;
            validate::opt_enum(
                d,
                "createOption",
                &["Attach", "Empty", "FromImage", "Copy", "Restore"],
            )?;
            if d.get("toBeDetached").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let id = validate::req_str(d, "managedDisk.id")
                .map_err(|_| ArmError::missing(&format!("{path}.managedDisk.id")))?;
            let dk = disk_ref(ctx, id, &vm_location, &path)?;
            wanted.push(DataDisk {
                lun: lun as u32,
                disk: dk,
            });
        }
        apply_data_disks(ctx, &k, wanted)?;
    }
    let vm = ctx.st.vms.get_mut(&k).expect("exists");
    if let Some(t) = tags {
        vm.tags = t;
    }
    if let Some(s) = size {
        vm.vm_size = s;
    }
    let body = views::vm(ctx, &ctx.st.vms[&k], false);
    let op = ops::create(ctx, &vm_location, now, OpTarget::Timed);
    Ok(ops::with_headers(
        ctx,
        ArmReply::ok(body),
        &vm_location,
        &op,
    ))
}
