//! Snapshots: `Copy` of a disk (incremental or full) in its region, `CopyStart` of an incremental
//! snapshot to the other region with progress on the lab clock, and the platform's limits.

use axum::http::StatusCode;
use serde_json::Value;

use super::arm::Ctx;
use super::ids::{self, Kind};
use super::model::{key, CopyError, CopyState, CopyStatus, OpTarget, Snapshot};
use super::reply::{ArmError, ArmReply, ArmResult};
use super::validate::{self, SNAPSHOT_SKUS};
use super::{ops, views};

pub fn list(ctx: &mut Ctx<'_>, rg: Option<&str>, path: &str) -> ArmResult {
    let items: Vec<_> = ctx
        .st
        .snapshots
        .values()
        .filter(|x| rg.is_none_or(|rg| x.resource_group.eq_ignore_ascii_case(rg)))
        .collect();
    Ok(ctx.page(items, |s| views::snapshot(ctx, s), path))
}

pub fn get(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let s = ctx
        .st
        .snapshots
        .get(&key(rg, name))
        .ok_or_else(|| ArmError::not_found("snapshots", name, rg))?;
    ctx.region_up(&s.location)?;
    Ok(ArmReply::ok(views::snapshot(ctx, s)))
}

pub fn patch(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value) -> ArmResult {
    let tags = validate::tags(body)?;
    let k = key(rg, name);
    let s = ctx
        .st
        .snapshots
        .get_mut(&k)
        .ok_or_else(|| ArmError::not_found("snapshots", name, rg))?;
    if let Some(t) = tags {
        s.tags = t;
    }
    Ok(ArmReply::ok(views::snapshot(ctx, &ctx.st.snapshots[&k])))
}

pub fn put(ctx: &mut Ctx<'_>, rg: &str, name: &str, body: &Value) -> ArmResult {
    let req = validate::creation(body, &SNAPSHOT_SKUS)?;
    let location = ctx.known_region(req.location, Kind::Snapshots)?;
    ctx.region_up(&location)?;
    let k = key(rg, name);
    if ctx.st.snapshots.contains_key(&k) {
        return patch(ctx, rg, name, body);
    }
    let src = req
        .source_resource_id
        .ok_or_else(|| ArmError::missing("properties.creationData.sourceResourceId"))?;
    let not_found = || {
        ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("Source resource '{src}' was not found."),
        )
        .with_target("properties.creationData.sourceResourceId")
    };
    let id = ids::parse(src).ok_or_else(not_found)?;
    let src_key = key(&id.resource_group, &id.name);
    let tags = validate::tags(body)?.unwrap_or_default();
    let now = ctx.now;
    let base = |family_id: String, incremental: bool| Snapshot {
        name: name.to_string(),
        resource_group: rg.to_string(),
        location: location.clone(),
        size_gb: 0,
        incremental,
        os_type: None,
        disk_sku: String::new(),
        tags: tags.clone(),
        create_option: req.create_option.to_string(),
        source_resource_id: src.to_string(),
        source_unique_id: None,
        copy_speed: req.copy_speed.map(str::to_string),
        unique_id: uuid::Uuid::new_v4().to_string(),
        family_id,
        taken_at: now,
        time_created: now,
        used_gb: 0.0,
        copy: None,
    };

    match req.create_option {
        "Copy" => {
            let incremental = req.incremental.unwrap_or(false);
            let snap = match id.kind {
                Kind::Disks => {
                    let d = ctx.st.disks.get(&src_key).ok_or_else(not_found)?;
                    same_region(src, &d.location, &location)?;
                    if incremental {
                        check_snapshot_rate(ctx, &src_key)?;
                    }
                    let d = &ctx.st.disks[&src_key];
                    Snapshot {
                        size_gb: d.size_gb,
                        os_type: d.os_type.clone(),
                        disk_sku: d.sku.clone(),
                        source_unique_id: Some(d.unique_id.clone()),
                        used_gb: d.used_gb,
                        ..base(d.unique_id.clone(), incremental)
                    }
                }
                Kind::Snapshots => {
                    let s = ctx.st.snapshots.get(&src_key).ok_or_else(not_found)?;
                    same_region(src, &s.location, &location)?;
                    Snapshot {
                        size_gb: s.size_gb,
                        os_type: s.os_type.clone(),
                        disk_sku: s.disk_sku.clone(),
                        source_unique_id: Some(s.unique_id.clone()),
                        used_gb: s.used_gb,
                        taken_at: s.taken_at,
                        ..base(s.family_id.clone(), incremental && s.incremental)
                    }
                }
                Kind::VirtualMachines => return Err(not_found()),
            };
            if snap.incremental {
                if let Some(d) = ctx.st.disks.get_mut(&src_key) {
                    d.snapshot_times.push(now);
                }
            }
            ctx.st.snapshots.insert(k.clone(), snap);
            Ok(ArmReply::ok(views::snapshot(ctx, &ctx.st.snapshots[&k])))
        }
        "CopyStart" => {
            if id.kind != Kind::Snapshots {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    "CopyStart requires a snapshot as the source (sourceResourceId of an incremental snapshot in another region).",
                )
                .with_target("properties.creationData.sourceResourceId"));
            }
            let s = ctx.st.snapshots.get(&src_key).ok_or_else(not_found)?.clone();
            if !s.incremental || req.incremental == Some(false) {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    "Only incremental snapshots can be copied to another region with createOption 'CopyStart'; set 'incremental' to true and use an incremental snapshot as the source.",
                )
                .with_target("properties.incremental"));
            }
            if s.location == location {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    format!("CopyStart copies a snapshot to another region, but the source is already in '{location}'. Use createOption 'Copy' within a region."),
                )
                .with_target("location"));
            }
            ctx.region_up(&s.location)?;
            check_copy_limits(ctx, &s, &location)?;
            let fail = if ctx.st.fail_next_copies > 0 {
                ctx.st.fail_next_copies -= 1;
                Some(50.0)
            } else {
                None
            };
            let enhanced = req
                .copy_speed
                .is_some_and(|c| c.eq_ignore_ascii_case("Enhanced"));
            let snap = Snapshot {
                size_gb: s.size_gb,
                os_type: s.os_type.clone(),
                disk_sku: s.disk_sku.clone(),
                source_unique_id: Some(s.unique_id.clone()),
                used_gb: s.used_gb,
                taken_at: s.taken_at,
                copy: Some(CopyState {
                    source_key: src_key.clone(),
                    source_location: s.location.clone(),
                    // Only the data in use is transferred (at least 1 GiB).
                    total_mib: s.used_gb.max(1.0) * 1024.0,
                    copied_mib: 0.0,
                    since: now,
                    speed_factor: if enhanced { 2.0 } else { 1.0 },
                    fail_at_percent: fail,
                    error: None,
                }),
                ..base(s.family_id.clone(), true)
            };
            ctx.st.snapshots.insert(k.clone(), snap);
            let body = views::snapshot(ctx, &ctx.st.snapshots[&k]);
            let op = ops::create(ctx, &location, now, OpTarget::Copy(k));
            Ok(ops::with_headers(
                ctx,
                ArmReply::status(StatusCode::ACCEPTED, Some(body)),
                &location,
                &op,
            ))
        }
        other => Err(ArmError::bad_request(
            "InvalidParameter",
            format!("createOption '{other}' is not supported by the Standby lab for snapshots; use 'Copy' or 'CopyStart'."),
        )
        .with_target("properties.creationData.createOption")),
    }
}

fn same_region(src: &str, src_loc: &str, location: &str) -> Result<(), ArmError> {
    if src_loc == location {
        return Ok(());
    }
    Err(ArmError::bad_request(
        "InvalidParameter",
        format!("The source resource '{src}' is in region '{src_loc}' but the snapshot is being created in '{location}'. Use createOption 'CopyStart' to copy an incremental snapshot to another region."),
    )
    .with_target("properties.creationData.sourceResourceId"))
}

/// At most N incremental snapshots per disk per window, and at most M per disk in all.
fn check_snapshot_rate(ctx: &mut Ctx<'_>, disk_key: &str) -> Result<(), ArmError> {
    let limits = ctx.settings.limits.clone();
    let now = ctx.now;
    let window = chrono::Duration::seconds(limits.snapshot_window_secs);
    let (disk_name, family, recent) = {
        let d = ctx
            .st
            .disks
            .get_mut(disk_key)
            .expect("checked by the caller");
        d.snapshot_times.retain(|t| *t + window > now);
        (
            d.name.clone(),
            d.unique_id.clone(),
            d.snapshot_times.clone(),
        )
    };
    if recent.len() >= limits.snapshots_per_disk_window {
        let oldest = recent.iter().min().copied().unwrap_or(now);
        let retry = ((oldest + window - now).num_seconds()).max(1);
        let mut e = ArmError::conflict(
            "OperationNotAllowed",
            format!(
                "Disk '{disk_name}' already has {} incremental snapshots created in the last {} minutes; at most {} can be created per disk in that time. Retry after {retry} seconds.",
                recent.len(),
                limits.snapshot_window_secs / 60,
                limits.snapshots_per_disk_window
            ),
        );
        e.headers.push(("retry-after", retry.to_string()));
        return Err(e);
    }
    let total = ctx
        .st
        .snapshots
        .values()
        .filter(|s| s.incremental && s.family_id == family && s.copy.is_none())
        .count();
    if total >= limits.snapshots_per_disk {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!("Disk '{disk_name}' has reached the maximum of {} incremental snapshots. Delete older snapshots before creating new ones.", limits.snapshots_per_disk),
        ));
    }
    Ok(())
}

/// One copy per disk at a time, copies of one disk in creation order, at most N copies in flight
/// per subscription and target region.
fn check_copy_limits(ctx: &Ctx<'_>, src: &Snapshot, target: &str) -> Result<(), ArmError> {
    let now = ctx.now;
    let mut in_region = 0;
    for s in ctx.st.snapshots.values() {
        let Some(c) = &s.copy else { continue };
        let rate = super::copy_rate(&ctx.st, &c.source_location, &s.location);
        let running = matches!(c.status(now, rate), CopyStatus::InProgress(_));
        if running && s.family_id == src.family_id {
            return Err(ArmError::conflict(
                "OperationNotAllowed",
                format!("Only one incremental snapshot of a disk can be copied at a time: snapshot '{}' of the same disk is still being copied. Retry after it completes.", s.name),
            ));
        }
        if running && s.location == target {
            in_region += 1;
        }
        if s.location == target && s.family_id == src.family_id && s.taken_at > src.taken_at {
            return Err(ArmError::conflict(
                "OperationNotAllowed",
                format!("Incremental snapshots of a disk must be copied in the order they were created: '{}' is newer than '{}' and has already been copied to '{target}'.", s.name, src.name),
            ));
        }
    }
    let limit = ctx.settings.limits.copies_in_flight_per_region;
    if in_region >= limit {
        return Err(ArmError::conflict(
            "OperationNotAllowed",
            format!("The subscription already has {in_region} snapshot copies in progress to region '{target}'; at most {limit} can run at the same time. Retry when some have completed."),
        ));
    }
    Ok(())
}

pub fn delete(ctx: &mut Ctx<'_>, rg: &str, name: &str) -> ArmResult {
    let k = key(rg, name);
    let Some(s) = ctx.st.snapshots.get(&k) else {
        return Ok(ArmReply::status(StatusCode::NO_CONTENT, None));
    };
    ctx.region_up(&s.location)?;
    let now = ctx.now;
    // Azure lets the source of a running copy be deleted; the copy then fails.
    super::rebase_copies(&mut ctx.st, now);
    for t in ctx.st.snapshots.values_mut() {
        if let Some(c) = t.copy.as_mut() {
            let unfinished = c.error.is_none() && c.copied_mib < c.total_mib;
            if c.source_key == k && unfinished {
                c.error = Some(CopyError {
                    code: "CopySourceNotFound".into(),
                    message: format!(
                        "The source snapshot '{name}' was deleted before the copy completed."
                    ),
                });
            }
        }
    }
    ctx.st.snapshots.remove(&k);
    Ok(ArmReply::status(StatusCode::OK, None))
}
