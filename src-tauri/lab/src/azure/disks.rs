//! Managed disks: list (paged), get, create (`Empty`, or `Copy` from a snapshot or disk in the same
//! region), update (grow, tier, tags) and delete.

use axum::http::StatusCode;
use serde_json::Value;

use super::arm::Ctx;
use super::ids::{self, Kind};
use super::model::{key, CopyStatus, Disk, OpTarget, Power};
use super::reply::{ArmError, ArmReply, ArmResult};
use super::validate::{self, DISK_SKUS};
use super::{ops, views};

/// Azure cannot grow a disk across this boundary while it is attached to a running VM.
const LIVE_RESIZE_MAX_GB: u64 = 4095;

pub fn list(ctx: &mut Ctx<'_>, rg: Option<&str>, path: &str) -> ArmResult {
    let items: Vec<_> = ctx
        .st
        .disks
        .values()
        .filter(|x| rg.is_none_or(|rg| x.resource_group.eq_ignore_ascii_case(rg)))
        .collect();
    Ok(ctx.page(items, |d| views::disk(ctx, d), path))
}

fn find<'a>(ctx: &'a Ctx<'_>, rg: &str, name: &str) -> Result<&'a Disk, ArmError> {
    ctx.st
        .disks
        .get(&key(rg, name))
        .ok_or_else(|| ArmError::not_found("disks", name, rg))
}

pub fn get(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let d = find(ctx, rg, name)?;
    ctx.region_up(&d.location)?;
    Ok(ArmReply::ok(views::disk(ctx, d)))
}

pub fn put(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value) -> ArmResult {
    let req = validate::creation(body, &DISK_SKUS)?;
    let location = ctx.known_region(req.location, Kind::Disks)?;
    ctx.region_up(&location)?;
    let k = key(rg, name);
    if ctx.st.disks.contains_key(&k) {
        // A PUT on an existing disk updates what may change.
        return patch(ctx, rg, name, body);
    }
    let sku = validate::opt_enum(body, "sku.name", &DISK_SKUS)?
        .map(|s| validate::canonical(s, &DISK_SKUS).to_string());
    let tags = validate::tags(body)?.unwrap_or_default();
    let os_type = validate::opt_enum(body, "properties.osType", &validate::OS_TYPES)?
        .map(|o| validate::canonical(o, &validate::OS_TYPES).to_string());
    let now = ctx.now;
    let (size_gb, os_type, sku, used_gb, source_unique_id, ready_secs) = match req.create_option {
        "Empty" => {
            let size = req.size_gb.ok_or_else(|| {
                ArmError::bad_request(
                    "InvalidParameter",
                    "Required parameter 'diskSizeGB' is missing (null). It is required when createOption is 'Empty'.",
                )
                .with_target("properties.diskSizeGB")
            })?;
            (size, os_type, sku.unwrap_or_else(|| "Premium_LRS".into()), 0.0, None, 0)
        }
        "Copy" => {
            let src = req
                .source_resource_id
                .ok_or_else(|| ArmError::missing("properties.creationData.sourceResourceId"))?;
            let bad_source = || {
                ArmError::new(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("Source resource '{src}' was not found."),
                )
                .with_target("properties.creationData.sourceResourceId")
            };
            let id = ids::parse(src).ok_or_else(bad_source)?;
            let src_key = key(&id.resource_group, &id.name);
            let (src_loc, size, os, src_sku, used, uid) = match id.kind {
                Kind::Snapshots => {
                    let s = ctx.st.snapshots.get(&src_key).ok_or_else(bad_source)?;
                    if let Some(c) = &s.copy {
                        let rate = super::copy_rate(&ctx.st, &c.source_location, &s.location);
                        if c.status(now, rate) != CopyStatus::Succeeded {
                            return Err(ArmError::conflict(
                                "OperationNotAllowed",
                                format!("Snapshot '{}' cannot be used as a source: its background copy has not completed (completionPercent < 100) or has failed.", s.name),
                            ));
                        }
                    }
                    (s.location.clone(), s.size_gb, s.os_type.clone(), s.disk_sku.clone(), s.used_gb, s.unique_id.clone())
                }
                Kind::Disks => {
                    let d = ctx.st.disks.get(&src_key).ok_or_else(bad_source)?;
                    (d.location.clone(), d.size_gb, d.os_type.clone(), d.sku.clone(), d.used_gb, d.unique_id.clone())
                }
                Kind::VirtualMachines => return Err(bad_source()),
            };
            if src_loc != location {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    format!("The source resource '{src}' is in region '{src_loc}', but the disk is being created in '{location}'. Copy requires a source in the same region."),
                )
                .with_target("properties.creationData.sourceResourceId"));
            }
            let size = match req.size_gb {
                Some(s) if s < size => {
                    return Err(ArmError::bad_request(
                        "BadRequest",
                        format!("The specified disk size {s} GB is smaller than the size of the source ({size} GB)."),
                    )
                    .with_target("properties.diskSizeGB"))
                }
                Some(s) => s,
                None => size,
            };
            (size, os_type.or(os), sku.unwrap_or(src_sku), used, Some(uid), ctx.lab.cfg.durations.disk_create_secs)
        }
        other => {
            return Err(ArmError::bad_request(
                "InvalidParameter",
                format!("createOption '{other}' is not supported by the Standby lab for disks; use 'Copy' or 'Empty'."),
            )
            .with_target("properties.creationData.createOption"))
        }
    };
    let ready_at = now + chrono::Duration::seconds(ready_secs);
    let disk = Disk {
        name: name.to_string(),
        resource_group: rg.to_string(),
        location: location.clone(),
        size_gb,
        tier: sku
            .starts_with("Premium_")
            .then(|| views::premium_tier(size_gb).to_string()),
        sku,
        os_type,
        tags,
        managed_by: None,
        create_option: req.create_option.to_string(),
        source_resource_id: req.source_resource_id.map(str::to_string),
        source_unique_id,
        unique_id: uuid::Uuid::new_v4().to_string(),
        time_created: now,
        ready_at,
        used_gb,
        snapshot_times: Vec::new(),
    };
    ctx.st.disks.insert(k.clone(), disk);
    let body = views::disk(ctx, &ctx.st.disks[&k]);
    if ready_secs == 0 {
        return Ok(ArmReply::ok(body));
    }
    let op = ops::create(ctx, &location, ready_at, OpTarget::Timed);
    Ok(ops::with_headers(
        ctx,
        ArmReply::status(StatusCode::ACCEPTED, Some(body)),
        &location,
        &op,
    ))
}

pub fn patch(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value) -> ArmResult {
    if !body.is_object() {
        return Err(ArmError::invalid_content(
            "",
            "The request body must be a JSON object",
        ));
    }
    let size = validate::opt_u64(body, "properties.diskSizeGB")?;
    let tier = validate::opt_str(body, "properties.tier")?.map(str::to_string);
    let tags = validate::tags(body)?;
    let sku = validate::opt_enum(body, "sku.name", &DISK_SKUS)?
        .map(|s| validate::canonical(s, &DISK_SKUS).to_string());
    let k = key(rg, name);
    let d = find(ctx, rg, name)?;
    ctx.region_up(&d.location)?;
    if let Some(new) = size {
        if new < d.size_gb {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("Disk '{name}' cannot be shrunk: the requested size {new} GB is smaller than the current size {} GB. Disks can only grow.", d.size_gb),
            )
            .with_target("properties.diskSizeGB"));
        }
        if new > d.size_gb {
            if let Some(vm) = d.managed_by.as_ref().and_then(|v| ctx.st.vms.get(v)) {
                let deallocated = vm.power_at(ctx.now) == Power::Deallocated;
                let is_os = vm.os_disk == k;
                if !deallocated && (is_os || new > LIVE_RESIZE_MAX_GB) {
                    return Err(ArmError::conflict(
                        "OperationNotAllowed",
                        format!("Disk resizing is allowed only when creating a VM or when the VM is deallocated. Disk '{name}' is attached to VM '{}', which is not deallocated.", vm.name),
                    ));
                }
            }
        }
    }
    let d = ctx.st.disks.get_mut(&k).expect("found above");
    if let Some(new) = size {
        // Only a tier that was the old size's default follows the size.
        if d.tier.as_deref() == Some(views::premium_tier(d.size_gb)) {
            d.tier = Some(views::premium_tier(new).to_string());
        }
        d.size_gb = new;
    }
    if let Some(t) = tier {
        d.tier = Some(t);
    }
    if let Some(t) = tags {
        d.tags = t;
    }
    if let Some(s) = sku {
        d.sku = s;
    }
    Ok(ArmReply::ok(views::disk(ctx, &ctx.st.disks[&k])))
}

pub fn delete(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let k = key(rg, name);
    let Some(d) = ctx.st.disks.get(&k) else {
        return Ok(ArmReply::status(StatusCode::NO_CONTENT, None));
    };
    ctx.region_up(&d.location)?;
    if let Some(vm) = d.managed_by.as_ref().and_then(|v| ctx.st.vms.get(v)) {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Disk {name} is attached to VM {}.",
                ctx.id(&vm.resource_group, Kind::VirtualMachines, &vm.name)
            ),
        ));
    }
    ctx.st.disks.remove(&k);
    Ok(ArmReply::status(StatusCode::OK, None))
}
