//! Restore on Azure: a new disk from the snapshot (copied back from the secondary region first
//! when the backup is a replica), put in place of the volume's disk on its VM (OS disk swap, or
//! data disk detach/attach) while the VM is deallocated.
//!
//! The old disk is kept, detached: its `frame.*` tags become `standby.was.frame.*` (so discovery
//! no longer counts it as the account's) and `standby.replaced-by` names the new disk, which is
//! how a later restore of an older backup of the same volume finds where the volume is now.

use serde::{Deserialize, Serialize};

use super::plan::{Facts, Presence, QuotaFact};
use super::{arm_failed, milestone, safety_row, Done, RestoreError, RestoreParams};
use crate::accounts::Accounts;
use crate::backup::{Backup, BackupSite, BackupState};
use crate::cancel::CancelFlag;
use crate::connect;
use crate::disaster_recovery::Report;
use crate::guest;
use crate::inventory::{self, DiscoveredResource, PowerState, ResourceKind};
use crate::jobs::{JobContext, JobError};
use crate::model::ProviderKind;
use crate::providers::azure::client::Repeat;
use crate::providers::azure::disks::NewDisk;
use crate::providers::azure::setup::disk_usage_code;
use crate::providers::azure::snapshots::{CopyState, NewCopy, NewSnapshot};
use crate::providers::azure::{
    ids, ArmClient, ArmError, PowerState as AzPower, Progress, ResourceId, Tags, Watch,
};
use crate::secrets::SecretStore;

/// Tag on a replaced disk naming the disk that took its place.
pub const REPLACED_BY: &str = "standby.replaced-by";

/// What the restore acts on, resolved when it was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AzureTarget {
    /// The volume's disk now (the one replaced).
    pub disk_id: String,
    pub location: String,
    pub vm_id: Option<String>,
    pub os_disk: bool,
    pub sku: Option<String>,
    pub tags: Tags,
    /// The snapshot restored from (in the secondary region for a replica).
    pub source_snapshot: String,
    pub replica: bool,
}

pub(super) fn connect(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account_id: &str,
) -> Result<ArmClient, RestoreError> {
    let c = report.catalog.lock();
    Ok(connect::azure(
        &Accounts { catalog: &c, store },
        account_id,
        report.clock.clone(),
    )?
    .client)
}

fn power_of(p: &AzPower) -> PowerState {
    match p {
        AzPower::Running | AzPower::Starting => PowerState::On,
        AzPower::Deallocated | AzPower::Stopped => PowerState::Off,
        _ => PowerState::Other,
    }
}

/// The resource the volume is now: the backup's disk, or the disk that replaced it (following
/// `standby.replaced-by` from one restore to the next).
async fn resolve(
    arm: &ArmClient,
    resources: &[DiscoveredResource],
    volume_id: &str,
) -> Result<DiscoveredResource, crate::error::Unknown> {
    let mut id = volume_id.to_string();
    for _ in 0..16 {
        if let Some(r) = resources.iter().find(|r| ids::same(&r.provider_id, &id)) {
            return Ok(r.clone());
        }
        let rid =
            ResourceId::parse(&id).map_err(|e| format!("the volume's id is not usable: {e}"))?;
        match arm.get_disk(&rid).await {
            Ok(d) => match crate::providers::azure::tag(&d.tags, REPLACED_BY) {
                Some(next) => id = next.to_string(),
                None => {
                    return Err(crate::error::Unknown(format!(
                        "disk {} is no longer one of the Frame account's volumes (check `standbyctl inventory list`)",
                        rid.name()
                    )))
                }
            },
            Err(ArmError::Api { status: 404, .. }) => {
                return Err(crate::error::Unknown(format!(
                    "disk {} no longer exists, and nothing records what replaced it",
                    rid.name()
                )))
            }
            Err(e) => return Err(crate::error::Unknown(format!("disk {} could not be read: {e}", rid.name()))),
        }
    }
    Err("the chain of replaced disks is too long to follow".into())
}

pub(super) async fn gather(
    report: &Report<'_>,
    store: &dyn SecretStore,
    b: &Backup,
) -> Result<(Facts, Option<AzureTarget>), RestoreError> {
    let az = {
        let c = report.catalog.lock();
        connect::azure(
            &Accounts { catalog: &c, store },
            &b.account_id,
            report.clock.clone(),
        )?
    };
    let arm = &az.client;
    let resources = inventory::discover(
        report.catalog,
        store,
        &b.account_id,
        &b.frame_account,
        report.clock.clone(),
    )
    .await?;
    let target = resolve(arm, &resources, &b.volume_id).await;
    let snap_ref = b.provider_ref.clone().unwrap_or_default();
    let (presence, provider_percent) = match ResourceId::parse(&snap_ref) {
        Err(e) => (
            Presence::Missing {
                why: format!("the snapshot id is not usable: {e}"),
            },
            None,
        ),
        Ok(id) => match arm.get_snapshot(&id).await {
            Ok(s) => {
                let pct = match s.copy_state() {
                    CopyState::Done => Some(100.0),
                    CopyState::Running(p) => Some(p),
                    CopyState::Failed { .. } => Some(0.0),
                };
                (
                    Presence::Present,
                    pct.filter(|_| b.site == BackupSite::Replica),
                )
            }
            Err(ArmError::Api { status: 404, .. }) => (
                Presence::Missing {
                    why: format!("snapshot {} was not found", id.name()),
                },
                None,
            ),
            Err(e) => (Presence::Unknown { why: e.to_string() }, None),
        },
    };
    let mut vm_name = None;
    let mut power = None;
    let mut quota = None;
    let mut session = guest::Session::Unknown {
        why: "the volume was not found".into(),
    };
    let mut out = None;
    let restored_on = match &target {
        Ok(r) => r.location.clone(),
        Err(_) => az.settings.primary_region.clone(),
    };
    if let Ok(r) = &target {
        let disk_id = ResourceId::parse(&r.provider_id)
            .map_err(|e| ArmError::decode("a discovered disk id", e))?;
        let disk = arm.get_disk(&disk_id).await?;
        let os_disk = matches!(
            r.kind,
            ResourceKind::Sandbox | ResourceKind::UtilityServer | ResourceKind::PersistentDesktop
        );
        if let Some(vm) = r.vm_id.as_deref().and_then(|v| ResourceId::parse(v).ok()) {
            vm_name = Some(vm.name().to_string());
            power = Some(match arm.power_state(&vm).await {
                Ok(p) => power_of(&p),
                Err(_) => PowerState::Other,
            });
        }
        session = guest::read_for(report.catalog, &b.account_id)
            .await
            .session(r);
        let sku = disk.sku_name().map(str::to_string);
        quota = Some(match sku.as_deref().and_then(disk_usage_code) {
            None => QuotaFact::Unknown {
                why: format!("the disk's SKU {sku:?} has no known usage counter"),
            },
            Some(code) => match arm.usages(&r.location).await {
                Ok(u) => match u.iter().find(|u| u.code().eq_ignore_ascii_case(code)) {
                    Some(u) => QuotaFact::Read {
                        label: u.label().to_string(),
                        region: r.location.clone(),
                        current: u.current_value,
                        limit: u.limit,
                    },
                    None => QuotaFact::Unknown {
                        why: format!("{} reports no {code} counter", r.location),
                    },
                },
                Err(e) => QuotaFact::Unknown { why: e.to_string() },
            },
        });
        out = Some(AzureTarget {
            disk_id: disk.id.clone(),
            location: r.location.clone(),
            vm_id: r.vm_id.clone(),
            os_disk,
            sku,
            tags: disk.tags.clone(),
            source_snapshot: snap_ref.clone(),
            replica: b.site == BackupSite::Replica,
        });
    }
    Ok((
        Facts {
            backup: b.clone(),
            provider: ProviderKind::Azure,
            account_name: az.account.name.clone(),
            target,
            vm_name,
            session,
            power,
            presence,
            provider_percent,
            quota,
            in_place: true,
            restored_on,
            copy_prefix: None,
        },
        out,
    ))
}

#[derive(Debug, Serialize, Deserialize)]
struct Made {
    backup_id: String,
    snapshot_id: String,
}

fn bad_id(what: &str, e: impl std::fmt::Display) -> JobError {
    JobError::Operation(ArmError::decode(what, e).into())
}

/// The new disk's name: the old one's, without an earlier restore's suffix, plus this job's.
fn new_disk_name(old: &str, job_id: &str) -> String {
    let short: String = job_id.chars().filter(|c| *c != '-').take(12).collect();
    let base = match old.rsplit_once("-r") {
        Some((b, s)) if s.len() == 12 && s.chars().all(|c| c.is_ascii_hexdigit()) => b,
        _ => old,
    };
    let base: String = base.chars().take(80 - 14).collect();
    format!("{base}-r{short}")
}

pub(super) async fn steps(
    ctx: &JobContext<'_>,
    report: &Report<'_>,
    _store: &dyn SecretStore,
    arm: &ArmClient,
    p: &RestoreParams,
    t: &AzureTarget,
    cancel: &CancelFlag,
) -> Result<Done, JobError> {
    let arm = &arm.watched(Watch::new().with_cancel(cancel.clone()));
    let disk = ResourceId::parse(&t.disk_id).map_err(|e| bad_id("the volume's disk id", e))?;
    let vm = match &t.vm_id {
        Some(v) => Some(ResourceId::parse(v).map_err(|e| bad_id("the VM's id", e))?),
        None => None,
    };
    let stamp = |extra: &[(&str, &str)]| -> Tags {
        let mut tags: Tags = [("standby.job".to_string(), ctx.id().to_string())].into();
        for (k, v) in extra {
            tags.insert(k.to_string(), v.to_string());
        }
        tags
    };

    // 1. The safety snapshot of the disk as it is now: the undo path.
    let safety: Made = ctx
        .step("safety", || async {
            let name = ctx.name_for("safety");
            let id = ResourceId::snapshot(arm.subscription_id(), disk.resource_group(), &name);
            let row = safety_row(
                report,
                ctx.id(),
                p,
                &t.disk_id,
                disk.name(),
                &t.location,
                id.as_str(),
            )?;
            ctx.report(3.0, &format!("safety snapshot of {}", disk.name()), None)?;
            let existing = match arm.get_snapshot(&id).await {
                Ok(s)
                    if s.source_resource_id()
                        .is_some_and(|s| ids::same(s, disk.as_str())) =>
                {
                    Some(s)
                }
                Ok(_) => {
                    return Err(JobError::Operation(
                        ArmError::OperationFailed {
                            what: format!("safety snapshot {name}"),
                            code: "SnapshotSourceMismatch".into(),
                            message: format!(
                            "a snapshot named {name} exists and is not of {}: delete or rename it",
                            disk.name()
                        ),
                        }
                        .into(),
                    ))
                }
                Err(ArmError::Api { status: 404, .. }) => None,
                Err(e) => return Err(arm_failed(e)),
            };
            let snap = match existing {
                Some(s) if s.copy_state() == CopyState::Done => s,
                _ => arm
                    .snapshot_disk(&NewSnapshot {
                        resource_group: disk.resource_group().to_string(),
                        name: name.clone(),
                        location: t.location.clone(),
                        disk: disk.clone(),
                        tags: stamp(&[
                            ("standby.backup", "safety"),
                            ("standby.volume", disk.name()),
                        ]),
                    })
                    .await
                    .map_err(arm_failed)?,
            };
            let sid = if snap.id.is_empty() {
                id.as_str().to_string()
            } else {
                snap.id.clone()
            };
            report.catalog.lock().update_backup(
                &row.id,
                BackupState::Available,
                100.0,
                Some(&sid),
                None,
                &report.clock.now().to_rfc3339(),
            )?;
            milestone(
                report,
                ctx.id(),
                p,
                format!(
                    "Safety snapshot {name} of {} taken: restoring it undoes this restore.",
                    disk.name()
                ),
            );
            Ok(Made {
                backup_id: row.id,
                snapshot_id: sid,
            })
        })
        .await?;
    ctx.report(15.0, "safety snapshot taken", None)?;

    // 2. A replica is copied back to the volume's region first: a disk is made only from a
    //    snapshot in its own region.
    let source: String = if t.replica {
        let copy: String = ctx
            .step("copy_back", || async {
                let src = ResourceId::parse(&t.source_snapshot)
                    .map_err(|e| bad_id("the replica's id", e))?;
                let name = ctx.name_for("back");
                let s = arm
                    .start_copy(&NewCopy {
                        resource_group: disk.resource_group().to_string(),
                        name: name.clone(),
                        location: t.location.clone(),
                        source: src,
                        tags: stamp(&[("standby.restore-copy", &p.backup.id)]),
                        enhanced_speed: false,
                    })
                    .await
                    .map_err(arm_failed)?;
                ctx.report(
                    18.0,
                    &format!("copying the replica back to {}", t.location),
                    None,
                )?;
                Ok(if s.id.is_empty() {
                    ResourceId::snapshot(arm.subscription_id(), disk.resource_group(), &name)
                        .as_str()
                        .to_string()
                } else {
                    s.id
                })
            })
            .await?;
        ctx.step("follow_back", || async {
            let id = ResourceId::parse(&copy).map_err(|e| bad_id("the copy's id", e))?;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
            let watcher = arm.watched(Watch::new().with_cancel(cancel.clone()).on_progress(
                move |p| {
                    if let Progress::Polling {
                        percent: Some(x), ..
                    } = p
                    {
                        let _ = tx.send(*x);
                    }
                },
            ));
            let step = format!("copying the replica back to {}", t.location);
            let follow = watcher.follow_copy(&id);
            tokio::pin!(follow);
            let r = loop {
                tokio::select! {
                    r = &mut follow => break r,
                    Some(pct) = rx.recv() => ctx.report(18.0 + 0.3 * pct, &step, None)?,
                }
            };
            r.map_err(arm_failed)?;
            Ok(())
        })
        .await?;
        copy
    } else {
        t.source_snapshot.clone()
    };

    // 3. Whether the VM was on is journaled before it is touched, so a resumed job powers it
    //    on again even though it finds it off.
    let was_on: bool = ctx
        .step("power_state", || async {
            match &vm {
                Some(vm) => Ok(arm.power_state(vm).await.map_err(arm_failed)?.is_on()),
                None => Ok(false),
            }
        })
        .await?;
    ctx.step("power_off", || async {
        if let Some(vm) = &vm {
            if arm.power_state(vm).await.map_err(arm_failed)? != AzPower::Deallocated {
                ctx.report(50.0, &format!("deallocating {}", vm.name()), None)?;
                arm.deallocate(vm).await.map_err(arm_failed)?;
            }
        }
        Ok(())
    })
    .await?;

    // 4. The new disk, named after the job (a repeated PUT of the same name is idempotent).
    let new_disk: String = ctx
        .step("disk", || async {
            let name = new_disk_name(disk.name(), ctx.id());
            ctx.report(60.0, &format!("creating disk {name}"), None)?;
            let src = ResourceId::parse(&source).map_err(|e| bad_id("the snapshot's id", e))?;
            let mut tags: Tags = t
                .tags
                .iter()
                .filter(|(k, _)| !k.starts_with("standby."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            tags.extend(stamp(&[("standby.restored-from", &p.backup.id)]));
            let d = arm
                .create_disk_from_snapshot(&NewDisk {
                    resource_group: disk.resource_group().to_string(),
                    name: name.clone(),
                    location: t.location.clone(),
                    source_snapshot: src,
                    sku: t.sku.clone(),
                    tags,
                })
                .await
                .map_err(arm_failed)?;
            Ok(if d.id.is_empty() {
                ResourceId::disk(arm.subscription_id(), disk.resource_group(), &name)
                    .as_str()
                    .to_string()
            } else {
                d.id
            })
        })
        .await?;
    let new_id = ResourceId::parse(&new_disk).map_err(|e| bad_id("the new disk's id", e))?;

    // 5. In place of the old one on its VM.
    ctx.step("swap", || async {
        if let Some(vm) = &vm {
            ctx.report(
                75.0,
                &format!("putting {} in place on {}", new_id.name(), vm.name()),
                None,
            )?;
            if t.os_disk {
                arm.swap_os_disk(vm, &new_id).await.map_err(arm_failed)?;
            } else {
                arm.attach_detach_data_disks(
                    vm,
                    std::slice::from_ref(&new_id),
                    std::slice::from_ref(&disk),
                )
                .await
                .map_err(arm_failed)?;
            }
        }
        Ok(())
    })
    .await?;
    milestone(
        report,
        ctx.id(),
        p,
        format!(
            "{} now holds the data of «{}»; the old disk {} is kept.",
            new_id.name(),
            p.backup.name,
            disk.name()
        ),
    );

    // 6. The old disk: kept, out of the account, pointing at its successor.
    ctx.step("retire_old", || async {
        let mut tags: Tags = Tags::new();
        for (k, v) in &t.tags {
            if k.starts_with("frame.") {
                tags.insert(format!("standby.was.{k}"), v.clone());
            } else {
                tags.insert(k.clone(), v.clone());
            }
        }
        tags.insert(REPLACED_BY.into(), new_id.as_str().to_string());
        tags.insert("standby.restore-job".into(), ctx.id().to_string());
        let url = arm.url(disk.as_str(), &arm.api_versions().disks, &[]);
        arm.send_and_follow(
            reqwest::Method::PATCH,
            url,
            Some(&serde_json::json!({ "tags": tags })),
            Repeat::Safe,
            &format!("tagging the replaced disk {}", disk.name()),
        )
        .await
        .map_err(arm_failed)?;
        Ok(())
    })
    .await?;

    // 7. The copied-back snapshot served its purpose (the replica itself stays).
    if t.replica {
        ctx.step("tidy", || async {
            let id = ResourceId::snapshot(
                arm.subscription_id(),
                disk.resource_group(),
                &ctx.name_for("back"),
            );
            match arm.delete_snapshot(&id).await {
                Ok(()) | Err(ArmError::Api { status: 404, .. }) => Ok(()),
                Err(e) => Err(arm_failed(e)),
            }
        })
        .await?;
    }

    // 8. On again if it was on.
    let powered_on: bool = ctx
        .step("power_on", || async {
            match (&vm, was_on) {
                (Some(vm), true) => {
                    ctx.report(90.0, &format!("starting {}", vm.name()), None)?;
                    arm.start(vm).await.map_err(arm_failed)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await?;
    Ok(Done {
        safety_backup_id: Some(safety.backup_id),
        restored_volume: new_disk,
        old_volume_kept: Some(disk.name().to_string()),
        powered_on,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_restored_disk_is_named_after_the_volume_and_the_job_without_piling_up_suffixes() {
        let job = "0123abcd-4567-89ef-0000-000000000000";
        let first = super::new_disk_name("acme-pd-desk-0001-osdisk", job);
        assert_eq!(first, "acme-pd-desk-0001-osdisk-r0123abcd4567");
        let second = super::new_disk_name(&first, "ffffffff-0000-0000-0000-000000000000");
        assert_eq!(second, "acme-pd-desk-0001-osdisk-rffffffff0000");
    }
}
