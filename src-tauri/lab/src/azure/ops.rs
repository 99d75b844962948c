//! Long-running operations (the `Azure-AsyncOperation` and `Location` status endpoints) and
//! per-region usages.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::arm::Ctx;
use super::model::{normalize_location, CopyStatus, OpTarget, Operation, Power};
use super::reply::{arm_time, ArmError, ArmReply, ArmResult};

/// Finished operations are forgotten after a day of lab time.
const KEEP_FINISHED_SECS: i64 = 86_400;

pub fn create(ctx: &mut Ctx<'_>, location: &str, ends: DateTime<Utc>, target: OpTarget) -> String {
    let now = ctx.now;
    ctx.st
        .operations
        .retain(|_, op| op.ends + chrono::Duration::seconds(KEEP_FINISHED_SECS) > now);
    let id = uuid::Uuid::new_v4().to_string();
    ctx.st.operations.insert(
        id.clone(),
        Operation {
            id: id.clone(),
            location: location.to_string(),
            started: now,
            ends,
            target,
        },
    );
    id
}

/// 202-style headers that point at the operation: poll `Azure-AsyncOperation` (or `Location`),
/// waiting `Retry-After` seconds.
pub fn with_headers(ctx: &Ctx<'_>, reply: ArmReply, location: &str, op: &str) -> ArmReply {
    let url = format!(
        "{}/subscriptions/{}/providers/Microsoft.Compute/locations/{}/operations/{}?api-version={}",
        ctx.base,
        ctx.sub(),
        location,
        op,
        ctx.api_version
    );
    reply
        .header("azure-asyncoperation", url.clone())
        .header("location", format!("{url}&monitor=true"))
        .header("retry-after", ctx.lab.cfg.retry_after_secs.to_string())
}

enum OpStatus {
    InProgress,
    Succeeded,
    Failed(ArmError),
}

fn op_status(ctx: &Ctx<'_>, op: &Operation) -> OpStatus {
    match &op.target {
        OpTarget::Timed => {
            if ctx.now >= op.ends {
                OpStatus::Succeeded
            } else {
                OpStatus::InProgress
            }
        }
        OpTarget::Copy(key) => match ctx.st.snapshots.get(key) {
            None => OpStatus::Failed(ArmError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                "The snapshot being copied was deleted.",
            )),
            Some(s) => match &s.copy {
                None => OpStatus::Succeeded,
                Some(c) => {
                    let rate = super::copy_rate(&ctx.st, &c.source_location, &s.location);
                    match c.status(ctx.now, rate) {
                        CopyStatus::InProgress(_) => OpStatus::InProgress,
                        CopyStatus::Succeeded => OpStatus::Succeeded,
                        CopyStatus::Failed(e) => OpStatus::Failed(ArmError::new(
                            StatusCode::CONFLICT,
                            &e.code,
                            e.message,
                        )),
                    }
                }
            },
        },
    }
}

pub fn status(ctx: &mut Ctx<'_>, location: &str, id: &str) -> ArmResult {
    let location = normalize_location(location);
    let Some(op) = ctx
        .st
        .operations
        .get(id)
        .filter(|op| op.location == location)
        .cloned()
    else {
        return Err(ArmError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("The operation '{id}' was not found in location '{location}'."),
        ));
    };
    let monitor = ctx
        .query
        .get("monitor")
        .is_some_and(|m| m.eq_ignore_ascii_case("true"));
    let status = op_status(ctx, &op);
    if monitor {
        // `Location` semantics: 202 while running, then the outcome itself.
        return match status {
            OpStatus::InProgress => Ok(with_headers(
                ctx,
                ArmReply::status(StatusCode::ACCEPTED, None),
                &location,
                id,
            )),
            OpStatus::Succeeded => Ok(ArmReply::status(StatusCode::OK, None)),
            OpStatus::Failed(e) => Err(e),
        };
    }
    let mut body = json!({
        "name": op.id,
        "startTime": arm_time(op.started),
    });
    match status {
        OpStatus::InProgress => {
            body["status"] = json!("InProgress");
            let reply =
                ArmReply::ok(body).header("retry-after", ctx.lab.cfg.retry_after_secs.to_string());
            return Ok(reply);
        }
        OpStatus::Succeeded => {
            body["status"] = json!("Succeeded");
            body["endTime"] = json!(arm_time(op.ends.min(ctx.now).max(op.started)));
        }
        OpStatus::Failed(e) => {
            body["status"] = json!("Failed");
            body["endTime"] = json!(arm_time(ctx.now));
            body["error"] = json!({"code": e.code, "message": e.message});
        }
    }
    Ok(ArmReply::ok(body))
}

fn usage(name: &str, localized: &str, current: u64, limit: u64) -> Value {
    json!({
        "unit": "Count",
        "currentValue": current,
        "limit": limit,
        "name": {"value": name, "localizedValue": localized},
    })
}

/// `GET .../locations/{loc}/usages`: the counters a DR plan compares against (regional vCPUs, VMs,
/// managed disks per storage type, snapshots).
pub fn usages(ctx: &mut Ctx<'_>, location: &str, path: &str) -> ArmResult {
    let loc = ctx.known_region(location, super::ids::Kind::Disks)?;
    ctx.region_up(&loc)?;
    let limits = ctx.settings.limits.clone();
    let now = ctx.now;
    let vms: Vec<_> = ctx.st.vms.values().filter(|v| v.location == loc).collect();
    let cores: u64 = vms
        .iter()
        .filter(|v| v.power_at(now) != Power::Deallocated)
        .map(|v| v.vcpus)
        .sum();
    let vm_count = vms.len() as u64;
    let count_sku = |prefix: &str| {
        ctx.st
            .disks
            .values()
            .filter(|d| d.location == loc && d.sku.starts_with(prefix))
            .count() as u64
    };
    let premium = count_sku("Premium_");
    let standard_ssd = count_sku("StandardSSD_");
    let standard = count_sku("Standard_");
    let snapshots = ctx
        .st
        .snapshots
        .values()
        .filter(|s| s.location == loc)
        .count() as u64;
    let items = [
        usage("cores", "Total Regional vCPUs", cores, limits.cores),
        usage(
            "virtualMachines",
            "Virtual Machines",
            vm_count,
            limits.virtual_machines,
        ),
        usage(
            "standardDSv3Family",
            "Standard DSv3 Family vCPUs",
            cores,
            limits.cores,
        ),
        usage(
            "StandardDiskCount",
            "Standard Storage Managed Disks",
            standard,
            limits.disks_per_sku,
        ),
        usage(
            "PremiumDiskCount",
            "Premium Storage Managed Disks",
            premium,
            limits.disks_per_sku,
        ),
        usage(
            "StandardSSDDiskCount",
            "StandardSSDStorageDisks",
            standard_ssd,
            limits.disks_per_sku,
        ),
        usage(
            "StandardSnapshotCount",
            "StandardStorageSnapshots",
            snapshots,
            limits.snapshots,
        ),
        usage(
            "PremiumSnapshotCount",
            "PremiumStorageSnapshots",
            0,
            limits.snapshots,
        ),
    ];
    Ok(ctx.page(items.iter().collect(), |u: &Value| u.clone(), path))
}
