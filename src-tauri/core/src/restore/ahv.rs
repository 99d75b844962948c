//! Restore on AHV, from a protection-domain snapshot (`provider_ref = "{pd}:{snapshot_id}"`).
//!
//! A primary backup is restored in place (`restore_entities` with `replace: true`, same uuid),
//! with the VM powered off, after a safety snapshot of the protection domain. A replica lives on
//! the DR cluster: following Prism's DR model it is restored *there*, as a new entity named with
//! a prefix and left powered off; nothing on the primary is touched (the plan says so).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::plan::{Facts, Presence};
use super::{milestone, prism_failed, safety_row, Done, RestoreError, RestoreParams};
use crate::accounts::Accounts;
use crate::backup::{Backup, BackupSite, BackupState};
use crate::cancel::CancelFlag;
use crate::connect;
use crate::disaster_recovery::Report;
use crate::guest;
use crate::inventory::{self, PowerState, ResourceKind};
use crate::jobs::{JobContext, JobError};
use crate::model::ProviderKind;
use crate::providers::prism::types::{PowerTransition, VmPowerState};
use crate::providers::prism::{PrismClient, PrismError, RestoreSpec, RestoreStarted};
use crate::secrets::SecretStore;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct AhvTarget {
    /// The cloud account of the cluster where the restore runs (the one holding the snapshot).
    pub cluster_account_id: String,
    pub protection_domain: String,
    pub snapshot_id: String,
    /// The VM's or volume group's uuid on the primary.
    pub entity_uuid: String,
    /// Its name in the snapshot.
    pub entity_name: String,
    pub volume_group: bool,
    /// The VM powered off and on again (in place only).
    pub vm_uuid: Option<String>,
    pub in_place: bool,
    /// The restored copy's name prefix (on the DR site).
    pub prefix: Option<String>,
}

/// `"{pd}:{snapshot_id}"`.
pub fn split_ref(r: &str) -> Option<(&str, &str)> {
    r.rsplit_once(':')
        .filter(|(pd, id)| !pd.is_empty() && !id.is_empty())
}

pub(super) fn connect(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account: &str,
) -> Result<PrismClient, RestoreError> {
    let c = report.catalog.lock();
    Ok(connect::ahv(&Accounts { catalog: &c, store }, account)?.client)
}

pub(super) async fn gather(
    report: &Report<'_>,
    store: &dyn SecretStore,
    b: &Backup,
) -> Result<(Facts, Option<AhvTarget>), RestoreError> {
    let reference = b.provider_ref.clone().unwrap_or_default();
    let Some((pd, snapshot_id)) = split_ref(&reference) else {
        return Err(RestoreError::Unusable {
            id: b.id.clone(),
            reason: format!(
                "its snapshot reference {reference:?} is not \"protection-domain:snapshot-id\""
            ),
        });
    };
    let in_place = b.site == BackupSite::Primary;
    let (primary, holder) = {
        let c = report.catalog.lock();
        let accounts = Accounts { catalog: &c, store };
        let primary = connect::ahv(&accounts, &b.account_id)?;
        let holder = if in_place {
            None
        } else {
            Some(connect::ahv(&accounts, &b.location)?)
        };
        (primary, holder)
    };
    let holder_id = holder
        .as_ref()
        .map_or(primary.account.id.clone(), |h| h.account.id.clone());
    let holder_name = holder
        .as_ref()
        .map_or(primary.account.name.clone(), |h| h.account.name.clone());
    let holder_client = holder.as_ref().map_or(&primary.client, |h| &h.client);

    let resources = inventory::discover(
        report.catalog,
        store,
        &b.account_id,
        &b.frame_account,
        report.clock.clone(),
    )
    .await?;
    let target = resources
        .iter()
        .find(|r| r.provider_id.eq_ignore_ascii_case(&b.volume_id))
        .cloned()
        .ok_or_else(|| {
            crate::error::Unknown(format!(
                "{} ({}) is no longer one of the Frame account's volumes on {} (check `standbyctl inventory list`)",
                b.volume_name, b.volume_id, primary.account.name
            ))
        });

    // The snapshot, on the cluster that holds it, and the entity in it.
    let (presence, entity_name, volume_group) = match holder_client.snapshots(pd, &[]).await {
        Ok(list) => match list.into_iter().find(|s| s.snapshot_id == snapshot_id) {
            None => (
                Presence::Missing {
                    why: format!("snapshot {snapshot_id} of {pd} is not on {holder_name}"),
                },
                None,
                false,
            ),
            Some(s) => {
                let vm = s.vms.iter().find(|v| {
                    v.vm_id
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&b.volume_id))
                });
                let vg = s.volume_groups.iter().find(|g| {
                    g.volume_group_uuid
                        .as_deref()
                        .is_some_and(|u| u.eq_ignore_ascii_case(&b.volume_id))
                });
                match (vm, vg) {
                    (Some(v), _) => (Presence::Present, Some(v.vm_name.clone()), false),
                    (None, Some(g)) => (Presence::Present, Some(g.name.clone()), true),
                    // Older AOS lists entities by name only.
                    (None, None) => match s.vms.iter().find(|v| v.vm_name == b.volume_name) {
                        Some(v) => (Presence::Present, Some(v.vm_name.clone()), false),
                        None => match s.volume_groups.iter().find(|g| g.name == b.volume_name) {
                            Some(g) => (Presence::Present, Some(g.name.clone()), true),
                            None => (
                                Presence::Missing {
                                    why: format!(
                                        "snapshot {snapshot_id} does not hold {}",
                                        b.volume_name
                                    ),
                                },
                                None,
                                false,
                            ),
                        },
                    },
                }
            }
        },
        Err(PrismError::NotFound { .. }) => (
            Presence::Missing {
                why: format!("protection domain {pd} is not on {holder_name}"),
            },
            None,
            false,
        ),
        Err(e) => (Presence::Unknown { why: e.to_string() }, None, false),
    };

    let (mut vm_uuid, mut vm_name, mut power) = (None, None, None);
    let mut session = guest::Session::Unknown {
        why: "the volume was not found".into(),
    };
    if let Ok(r) = &target {
        let is_vm = matches!(
            r.kind,
            ResourceKind::Sandbox | ResourceKind::UtilityServer | ResourceKind::PersistentDesktop
        );
        vm_uuid = if is_vm {
            Some(r.provider_id.clone())
        } else {
            r.vm_id.clone()
        };
        vm_name = match &vm_uuid {
            Some(u) if is_vm => Some(r.name.clone()),
            Some(u) => Some(
                resources
                    .iter()
                    .find(|x| x.provider_id == *u)
                    .map(|x| x.name.clone())
                    .unwrap_or_else(|| u.clone()),
            ),
            None => None,
        };
        power = r.power;
        if vm_uuid.is_some() && power.is_none() {
            power = Some(PowerState::Other);
        }
        session = guest::read_for(report.catalog, &b.account_id)
            .await
            .session(r);
    }
    let prefix =
        (!in_place).then(|| format!("restored-{}-", report.clock.now().format("%Y%m%d%H%M")));
    let out = match (&target, &entity_name) {
        (Ok(r), Some(name)) => Some(AhvTarget {
            cluster_account_id: holder_id,
            protection_domain: pd.to_string(),
            snapshot_id: snapshot_id.to_string(),
            entity_uuid: r.provider_id.clone(),
            entity_name: name.clone(),
            volume_group,
            vm_uuid: if in_place { vm_uuid.clone() } else { None },
            in_place,
            prefix: prefix.clone(),
        }),
        _ => None,
    };
    Ok((
        Facts {
            backup: b.clone(),
            provider: ProviderKind::Ahv,
            account_name: primary.account.name.clone(),
            target,
            vm_name,
            session,
            power,
            presence,
            provider_percent: None,
            quota: None,
            in_place,
            restored_on: holder_name,
            copy_prefix: prefix,
        },
        out,
    ))
}

async fn wait(
    ctx: &JobContext<'_>,
    prism: &PrismClient,
    task: &str,
    from: f64,
    to: f64,
    what: &str,
    cancel: &CancelFlag,
) -> Result<(), JobError> {
    let mut reported: Option<JobError> = None;
    let mut progress = |t: crate::providers::prism::TaskProgress| {
        if reported.is_none() {
            if let Err(e) = ctx.report(
                from + (to - from) * f64::from(t.percent) / 100.0,
                what,
                None,
            ) {
                reported = Some(e);
            }
        }
    };
    prism
        .wait_task(task, &mut progress, cancel)
        .await
        .map_err(prism_failed)?;
    match reported {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Asks Prism to restore `spec` from the protection domain `pd` and follows the task it starts,
/// its progress reported across `percent`. False when Prism accepted the request without a task
/// to follow: the caller reads back what it made.
async fn restore_and_follow(
    ctx: &JobContext<'_>,
    prism: &PrismClient,
    pd: &str,
    spec: &RestoreSpec,
    percent: std::ops::Range<f64>,
    what: &str,
    cancel: &CancelFlag,
) -> Result<bool, JobError> {
    match prism
        .restore_entities(pd, spec)
        .await
        .map_err(prism_failed)?
    {
        RestoreStarted::Task(task) => {
            wait(ctx, prism, &task, percent.start, percent.end, what, cancel).await?;
            Ok(true)
        }
        RestoreStarted::Accepted => Ok(false),
    }
}

async fn is_on(prism: &PrismClient, uuid: &str) -> Result<bool, JobError> {
    let vm = prism.vm(uuid).await.map_err(prism_failed)?;
    Ok(vm.power_state == Some(VmPowerState::On))
}

pub(super) async fn steps(
    ctx: &JobContext<'_>,
    report: &Report<'_>,
    _store: &dyn SecretStore,
    prism: &PrismClient,
    p: &RestoreParams,
    t: &AhvTarget,
    cancel: &CancelFlag,
) -> Result<Done, JobError> {
    let pd = t.protection_domain.as_str();
    let spec = |replace: bool, prefix: Option<String>| RestoreSpec {
        snapshot_id: t.snapshot_id.clone(),
        vm_names: if t.volume_group {
            vec![]
        } else {
            vec![t.entity_name.clone()]
        },
        volume_group_uuids: if t.volume_group {
            vec![t.entity_uuid.clone()]
        } else {
            vec![]
        },
        replace,
        vm_name_prefix: if t.volume_group { None } else { prefix.clone() },
        vg_name_prefix: if t.volume_group { prefix } else { None },
    };

    if !t.in_place {
        // A copy on the DR cluster, found again by its name when a first attempt made it.
        let prefix = t.prefix.clone().unwrap_or_default();
        let name = format!("{prefix}{}", t.entity_name);
        let made: String = ctx
            .step("restore_copy", || async {
                let found = find_named(prism, &name, t.volume_group).await?;
                if let Some(u) = found {
                    return Ok(u);
                }
                ctx.report(10.0, &format!("restoring {name} on the DR cluster"), None)?;
                restore_and_follow(
                    ctx,
                    prism,
                    pd,
                    &spec(false, Some(prefix.clone())),
                    10.0..90.0,
                    &format!("restoring {name}"),
                    cancel,
                )
                .await?;
                settle_named(prism, &name, t.volume_group, cancel).await
            })
            .await?;
        return Ok(Done {
            safety_backup_id: None,
            restored_volume: format!("{name} ({made})"),
            old_volume_kept: None,
            powered_on: false,
        });
    }

    // 1. The safety snapshot: snapshots that exist now are journaled first, so a resumed step
    //    adopts the one its first attempt took instead of taking a second.
    let seen: Vec<String> = ctx
        .step("safety_seen", || async {
            Ok(prism
                .snapshots(pd, &[])
                .await
                .map_err(prism_failed)?
                .into_iter()
                .map(|s| s.snapshot_id)
                .collect())
        })
        .await?;
    let safety: String = ctx
        .step("safety", || async {
            let row = safety_row(
                report,
                ctx.id(),
                p,
                &t.entity_uuid,
                &p.plan.volume_name,
                &p.backup.location,
                &format!("{pd}:"),
            )?;
            ctx.report(3.0, &format!("safety snapshot of {pd}"), None)?;
            let fresh = |list: Vec<crate::providers::prism::types::DrSnapshot>| {
                list.into_iter()
                    .find(|s| !seen.contains(&s.snapshot_id) && !s.oob_schedule_ids.is_empty())
                    .map(|s| s.snapshot_id)
            };
            let mut id = fresh(prism.snapshots(pd, &[]).await.map_err(prism_failed)?);
            if id.is_none() {
                let taken = prism
                    .take_snapshot(pd, &[], None)
                    .await
                    .map_err(prism_failed)?;
                id = taken.snapshot.map(|s| s.snapshot_id);
                for _ in 0..60 {
                    if id.is_some() {
                        break;
                    }
                    if !cancel.sleep(Duration::from_millis(500)).await {
                        return Err(JobError::Cancelled);
                    }
                    id = fresh(prism.snapshots(pd, &[]).await.map_err(prism_failed)?);
                }
            }
            let Some(id) = id else {
                return Err(JobError::Operation(
                    PrismError::Decode {
                        context: "safety snapshot".into(),
                        message: format!(
                            "Prism accepted the snapshot of {pd} but it was not listed after 30 s"
                        ),
                    }
                    .into(),
                ));
            };
            report.catalog.lock().update_backup(
                &row.id,
                BackupState::Available,
                100.0,
                Some(&format!("{pd}:{id}")),
                None,
                &report.clock.now().to_rfc3339(),
            )?;
            milestone(
                report,
                ctx.id(),
                p,
                format!("Safety snapshot {id} of {pd} taken: restoring it undoes this restore."),
            );
            Ok(row.id)
        })
        .await?;
    ctx.report(20.0, "safety snapshot taken", None)?;

    // 2. Power: the prior state first, then off.
    let was_on: bool = ctx
        .step("power_state", || async {
            match &t.vm_uuid {
                Some(u) => is_on(prism, u).await,
                None => Ok(false),
            }
        })
        .await?;
    ctx.step("power_off", || async {
        if let Some(u) = &t.vm_uuid {
            if is_on(prism, u).await? {
                let task = prism
                    .set_power_state(u, PowerTransition::Off)
                    .await
                    .map_err(prism_failed)?;
                wait(
                    ctx,
                    prism,
                    &task,
                    25.0,
                    35.0,
                    "powering the desktop off",
                    cancel,
                )
                .await?;
            }
        }
        Ok(())
    })
    .await?;

    // 3. In place. Restoring the same snapshot again onto the same entity is the same result,
    //    so a step interrupted after Prism accepted it may run once more.
    ctx.step("restore", || async {
        ctx.report(40.0, &format!("restoring {} in place", t.entity_name), None)?;
        let followed = restore_and_follow(
            ctx,
            prism,
            pd,
            &spec(true, None),
            40.0..85.0,
            &format!("restoring {}", t.entity_name),
            cancel,
        )
        .await?;
        if !followed {
            // No task to follow: the entity must still be there, read back.
            if t.volume_group {
                prism
                    .volume_group(&t.entity_uuid)
                    .await
                    .map_err(prism_failed)?;
            } else {
                prism.vm(&t.entity_uuid).await.map_err(prism_failed)?;
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
            "{} restored in place from «{}».",
            t.entity_name, p.backup.name
        ),
    );

    // 4. On again if it was on.
    let powered_on: bool = ctx
        .step("power_on", || async {
            match (&t.vm_uuid, was_on) {
                (Some(u), true) => {
                    if !is_on(prism, u).await? {
                        let task = prism
                            .set_power_state(u, PowerTransition::On)
                            .await
                            .map_err(prism_failed)?;
                        wait(
                            ctx,
                            prism,
                            &task,
                            88.0,
                            98.0,
                            "powering the desktop on",
                            cancel,
                        )
                        .await?;
                    }
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await?;
    Ok(Done {
        safety_backup_id: Some(safety),
        restored_volume: t.entity_uuid.clone(),
        old_volume_kept: None,
        powered_on,
    })
}

/// The uuid of the VM or volume group named `name`, if one exists.
pub(crate) async fn find_named(
    prism: &PrismClient,
    name: &str,
    volume_group: bool,
) -> Result<Option<String>, JobError> {
    Ok(if volume_group {
        prism
            .volume_groups()
            .await
            .map_err(prism_failed)?
            .into_iter()
            .find(|g| g.name == name)
            .map(|g| g.uuid)
    } else {
        prism
            .vms()
            .await
            .map_err(prism_failed)?
            .into_iter()
            .find(|v| v.name == name)
            .map(|v| v.uuid)
    })
}

/// After a restore answered with a boolean (no task), the entity appears when Prism is done.
pub(crate) async fn settle_named(
    prism: &PrismClient,
    name: &str,
    volume_group: bool,
    cancel: &CancelFlag,
) -> Result<String, JobError> {
    for _ in 0..240 {
        if let Some(u) = find_named(prism, name, volume_group).await? {
            return Ok(u);
        }
        if !cancel.sleep(Duration::from_millis(500)).await {
            return Err(JobError::Cancelled);
        }
    }
    Err(JobError::Operation(
        PrismError::Decode {
            context: "restore_entities".into(),
            message: format!(
                "Prism accepted the restore but {name} did not appear within 2 minutes"
            ),
        }
        .into(),
    ))
}
