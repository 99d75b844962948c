//! One Azure volume's backup job: an incremental snapshot in the disk's region and, when disaster
//! recovery is enabled for the account, its copy into the secondary region, followed until the
//! replica is usable.
//!
//! The job's steps are `snapshot`, then (with DR) `copy` and `follow`. Each is idempotent: the
//! snapshots are named after the job (`ctx.name_for`), a step looks for what a first attempt made
//! before making anything, and the catalog rows are found again by job, volume and site. What the
//! request resolved to (the disk's id and region, the replica's target) is journaled with the job,
//! so a resumed job acts on the same disk and the same site even if the inventory or the DR
//! configuration changed meanwhile.
//!
//! A job started by a backup of many volumes may power-cycle the desktop: `power_cycle` (the VM,
//! journaled with the job's parameters when the plan saw it running, before anything acted) adds
//! `power_off` before the snapshot and `power_on` right after it; whatever ends the job, a desktop
//! that was on is started again.

use serde::{Deserialize, Serialize};

use super::{Backup, BackupError, BackupRequest, BackupSite, BackupState};
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::disaster_recovery::Report;
use crate::jobs::{JobContext, JobError, JobRecord, ProgressSink};
use crate::limits::Limits;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::azure::snapshots::{NewCopy, NewSnapshot};
use crate::providers::azure::{ids, ArmClient, ArmError, Progress, ResourceId, Tags, Watch};

/// What a backup job was asked, and what the request resolved to when it was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BackupParams {
    #[serde(flatten)]
    pub request: BackupRequest,
    pub account_id: String,
    pub account_name: String,
    pub volume_id: String,
    pub volume_name: String,
    pub location: String,
    /// Where the replica goes: `None` when DR was not enabled for the account.
    pub replica: Option<ReplicaTarget>,
    /// The VM (ARM id) to power off before the snapshot and on after: it was running when the
    /// plan was made.
    #[serde(default)]
    pub power_cycle: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReplicaTarget {
    pub region: String,
    pub resource_group: String,
}

/// What a backup of `resource` resolves to now: its disk and region and, with DR, the replica's
/// region and resource group. Journaled with the job, so a resume acts on the same.
pub(crate) fn params_for(
    account: &crate::model::CloudAccount,
    disk_id: &str,
    location: &str,
    dr: Option<&crate::disaster_recovery::DrConfig>,
    request: BackupRequest,
    power_cycle: Option<String>,
) -> Result<BackupParams, BackupError> {
    let disk =
        ResourceId::parse(disk_id).map_err(|e| ArmError::decode("a discovered disk id", e))?;
    let replica = match dr.map(|c| &c.target) {
        Some(crate::disaster_recovery::DrTarget::Azure {
            secondary_region,
            secondary_resource_group,
        }) => Some(ReplicaTarget {
            region: secondary_region.clone(),
            resource_group: secondary_resource_group.clone(),
        }),
        // An Azure account cannot hold an AHV target; if a hand-edited catalog says so, there
        // is nowhere to replicate to, and the notification will say "not replicated".
        _ => None,
    };
    Ok(BackupParams {
        request,
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        volume_id: disk.as_str().to_string(),
        volume_name: disk.name().to_string(),
        location: location.to_string(),
        replica,
        power_cycle,
    })
}

/// What a step made: the catalog row and the snapshot in Azure.
#[derive(Debug, Serialize, Deserialize)]
struct Made {
    backup_id: String,
    snapshot_id: String,
}

struct Env<'a> {
    report: &'a Report<'a>,
    arm: ArmClient,
    p: &'a BackupParams,
    cancel: CancelFlag,
    limits: &'a Limits,
}

impl Env<'_> {
    fn now(&self) -> String {
        self.report.clock.now().to_rfc3339()
    }

    fn tags(&self, job_id: &str) -> Tags {
        // Standby's own tags, not `frame.*`: a backup must never be mistaken for a Frame volume.
        Tags::from([
            ("standby.job".to_string(), job_id.to_string()),
            ("standby.backup".to_string(), self.p.request.name.clone()),
            ("standby.volume".to_string(), self.p.volume_name.clone()),
        ])
    }

    /// The job's row for `site`, made (in `state`) if a previous attempt did not make it.
    fn row(
        &self,
        job_id: &str,
        site: BackupSite,
        location: &str,
        provider_ref: &str,
        state: BackupState,
        replica_of: Option<&str>,
    ) -> Result<Backup, CatalogError> {
        let c = self.report.catalog.lock();
        if let Some(b) = c.backup_of_job(job_id, &self.p.volume_id, site)? {
            return Ok(b);
        }
        let now = self.now();
        let b = Backup {
            id: uuid::Uuid::new_v4().to_string(),
            job_id: Some(job_id.to_string()),
            account_id: self.p.account_id.clone(),
            frame_account: self.p.request.frame_account.clone(),
            volume_id: self.p.volume_id.clone(),
            volume_name: self.p.volume_name.clone(),
            name: self.p.request.name.clone(),
            kind: self.p.request.kind,
            site,
            location: location.to_string(),
            provider_ref: Some(provider_ref.to_string()),
            state,
            percent: 0.0,
            replica_of: replica_of.map(str::to_string),
            error: None,
            created_at: now.clone(),
            updated_at: now,
        };
        c.insert_backup(&b)?;
        Ok(b)
    }

    fn set(
        &self,
        id: &str,
        state: BackupState,
        percent: f64,
        provider_ref: Option<&str>,
        error: Option<&str>,
    ) -> Result<(), CatalogError> {
        self.report.catalog.lock().update_backup(
            id,
            state,
            percent,
            provider_ref,
            error,
            &self.now(),
        )
    }

    /// An Azure failure as the job records it. A cancel stops the job without marking anything
    /// failed: what was started stays as it is, for a resume to pick up.
    fn failed(&self, row: &str, percent: f64, e: ArmError) -> JobError {
        if let ArmError::Cancelled(_) = e {
            return JobError::Cancelled;
        }
        let message = e.to_string();
        if let Err(c) = self.set(row, BackupState::Failed, percent, None, Some(&message)) {
            tracing::error!("backup {row} could not be marked failed: {c}");
        }
        JobError::Operation(e.into())
    }
}

/// `retried`: the journal shows an earlier attempt of this step (which may have made the
/// snapshot before dying).
async fn snapshot_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    retried: bool,
) -> Result<Made, JobError> {
    let p = env.p;
    let disk = ResourceId::parse(&p.volume_id)
        .map_err(|e| JobError::Operation(ArmError::decode("the volume's id", e).into()))?;
    let snap_name = ctx.name_for("snap");
    let snap_id =
        ResourceId::snapshot(env.arm.subscription_id(), disk.resource_group(), &snap_name);
    let row = env.row(
        ctx.id(),
        BackupSite::Primary,
        &p.location,
        snap_id.as_str(),
        BackupState::Creating,
        None,
    )?;
    ctx.report(2.0, &format!("snapshot of {}", p.volume_name), None)?;
    // A first attempt may have made the snapshot before dying: look before making a second.
    // Nothing to look for on the step's first attempt (the name is this job's own).
    let existing = match retried {
        false => None,
        true => match env.arm.get_snapshot(&snap_id).await {
            Ok(s) => Some(s),
            Err(ArmError::Api { status: 404, .. }) => None,
            Err(e) => return Err(env.failed(&row.id, 0.0, e)),
        },
    };
    let snap = match existing {
        Some(s)
            if s.source_resource_id()
                .is_some_and(|src| ids::same(src, disk.as_str()))
                && s.copy_state() == crate::providers::azure::snapshots::CopyState::Done =>
        {
            env.arm.writes_skipped(1);
            s
        }
        Some(s)
            if !s
                .source_resource_id()
                .is_some_and(|src| ids::same(src, disk.as_str())) =>
        {
            let e = ArmError::OperationFailed {
                what: format!("snapshot {snap_name}"),
                code: "SnapshotSourceMismatch".into(),
                message: format!(
                    "a snapshot named {snap_name} already exists and is not of {}: it was not made by this job; rename or delete it",
                    p.volume_name
                ),
            };
            return Err(env.failed(&row.id, 0.0, e));
        }
        // Absent, or made but not finished: the same PUT again is idempotent in ARM.
        _ => env
            .arm
            .snapshot_disk(&NewSnapshot {
                resource_group: disk.resource_group().to_string(),
                name: snap_name.clone(),
                location: p.location.clone(),
                disk: disk.clone(),
                tags: env.tags(ctx.id()),
            })
            .await
            .map_err(|e| env.failed(&row.id, 0.0, e))?,
    };
    let id = if snap.id.is_empty() {
        snap_id.as_str().to_string()
    } else {
        snap.id.clone()
    };
    env.set(&row.id, BackupState::Available, 100.0, Some(&id), None)?;
    let percent = if p.replica.is_some() { 20.0 } else { 95.0 };
    ctx.report(percent, &format!("snapshot {snap_name} taken"), None)?;
    Ok(Made {
        backup_id: row.id,
        snapshot_id: id,
    })
}

async fn copy_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    target: &ReplicaTarget,
    primary: &Made,
) -> Result<Made, JobError> {
    let name = ctx.name_for("replica");
    let replica_id = ResourceId::snapshot(env.arm.subscription_id(), &target.resource_group, &name);
    let row = env.row(
        ctx.id(),
        BackupSite::Replica,
        &target.region,
        replica_id.as_str(),
        BackupState::Replicating,
        Some(&primary.backup_id),
    )?;
    let source = ResourceId::parse(&primary.snapshot_id)
        .map_err(|e| env.failed(&row.id, 0.0, ArmError::decode("the snapshot's id", e)))?;
    // start_copy accepts an existing snapshot of this name that copies the same source: a second
    // attempt of this step picks up the copy the first one started.
    let copy = env
        .arm
        .start_copy(&NewCopy {
            resource_group: target.resource_group.clone(),
            name: name.clone(),
            location: target.region.clone(),
            source,
            tags: env.tags(ctx.id()),
            enhanced_speed: false,
        })
        .await
        .map_err(|e| env.failed(&row.id, 0.0, e))?;
    let id = if copy.id.is_empty() {
        replica_id.as_str().to_string()
    } else {
        copy.id.clone()
    };
    ctx.report(25.0, &format!("copy to {} started", target.region), None)?;
    Ok(Made {
        backup_id: row.id,
        snapshot_id: id,
    })
}

async fn follow_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    target: &ReplicaTarget,
    replica: &Made,
) -> Result<(), JobError> {
    let id = ResourceId::parse(&replica.snapshot_id).map_err(|e| {
        env.failed(
            &replica.backup_id,
            0.0,
            ArmError::decode("the replica's id", e),
        )
    })?;
    // The client's progress callback must be 'static: it hands percentages over a channel, and
    // this task writes them to the catalog and the job's sink between polls.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let watcher =
        env.arm.watched(
            Watch::new()
                .with_cancel(env.cancel.clone())
                .on_progress(move |p| {
                    if let Progress::Polling {
                        percent: Some(x), ..
                    } = p
                    {
                        let _ = tx.send(*x);
                    }
                }),
        );
    let step = format!("replicating to {}", target.region);
    let mut last = 0.0;
    let on_percent = |pct: f64| -> Result<(), JobError> {
        env.report
            .catalog
            .lock()
            .update_backup_percent(&replica.backup_id, pct, &env.now())?;
        ctx.report(25.0 + 0.75 * pct, &step, None)
    };
    let follow = watcher.follow_copy(&id);
    tokio::pin!(follow);
    let result = loop {
        tokio::select! {
            r = &mut follow => break r,
            Some(pct) = rx.recv() => {
                last = pct;
                on_percent(pct)?;
            }
        }
    };
    while let Ok(pct) = rx.try_recv() {
        last = pct;
        on_percent(pct)?;
    }
    match result {
        Ok(snap) => {
            let id = (!snap.id.is_empty()).then_some(snap.id.as_str());
            env.set(&replica.backup_id, BackupState::Available, 100.0, id, None)?;
            Ok(())
        }
        Err(e @ ArmError::CopyFailed { percent, .. }) => {
            Err(env.failed(&replica.backup_id, percent, e))
        }
        Err(ArmError::Cancelled(_)) => Err(JobError::Cancelled),
        // Losing track of a copy is not the copy failing: the row stays `replicating` (it may
        // still finish in Azure) and the job reports what went wrong.
        Err(e) => {
            tracing::warn!(
                "following the copy of {} stopped at {last}%: {e}",
                id.name()
            );
            Err(JobError::Operation(e.into()))
        }
    }
}

async fn power_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    vm: &str,
    on: bool,
) -> Result<bool, JobError> {
    let id = ResourceId::parse(vm)
        .map_err(|e| JobError::Operation(ArmError::decode("the VM's id", e).into()))?;
    let word = if on { "starting" } else { "deallocating" };
    ctx.report(
        if on { 60.0 } else { 1.0 },
        &format!("{word} {}", id.name()),
        None,
    )?;
    let now_on = env.arm.power_state(&id).await.map_err(arm_job)?.is_on();
    // Already where it should be (a first attempt got there before dying): nothing to send.
    if now_on != on {
        if on {
            env.arm.start(&id).await.map_err(arm_job)?;
        } else {
            env.arm.deallocate(&id).await.map_err(arm_job)?;
        }
    } else {
        env.arm.writes_skipped(1);
    }
    Ok(now_on != on)
}

fn arm_job(e: ArmError) -> JobError {
    match e {
        ArmError::Cancelled(_) => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

/// Starts a desktop the job powered off, whatever stopped the job (cancel included): a crash
/// is covered by the resume, which runs `power_on` again.
async fn restore_power(arm: &ArmClient, vm: &str) {
    let Ok(id) = ResourceId::parse(vm) else {
        return;
    };
    match arm.power_state(&id).await {
        Ok(s) if s.is_on() => {}
        _ => {
            if let Err(e) = arm.start(&id).await {
                tracing::error!(
                    "{} could not be started again after its backup: {e}",
                    id.name()
                );
            }
        }
    }
}

/// Runs (or resumes) an Azure backup job. `quiet`: a child of a backup of many volumes, whose
/// parent reports the outcome once for all.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn run(
    report: &Report<'_>,
    sink: &dyn ProgressSink,
    arm: &ArmClient,
    limits: &Limits,
    job: &JobRecord,
    p: &BackupParams,
    cancel: CancelFlag,
    quiet: bool,
) -> Result<Vec<Backup>, BackupError> {
    let steps = report.catalog.lock().job_steps(&job.id)?;
    // The step is journaled as started before anything is sent: a journal without it means no
    // earlier attempt can have made the snapshot.
    let retried = steps.iter().any(|s| s.name == "snapshot");
    // One write per step still to do (deallocate, snapshot, start, `CopyStart`), sent as one
    // chain: the first goes when ARM's write budget can take them all (see
    // `throttle::WriteChain`), so the copy never waits for the budget in its copy slot.
    let cycled = p.power_cycle.is_some();
    let writes = [
        ("power_off", cycled),
        ("snapshot", true),
        ("power_on", cycled),
        ("copy", p.replica.is_some()),
    ]
    .into_iter()
    .filter(|(name, planned)| *planned && !steps.iter().any(|s| s.name == *name && s.done))
    .count() as u32;
    drop(steps);
    let arm_watched = arm.watched(Watch::new().with_cancel(cancel.clone()));
    let env = Env {
        report,
        arm: match writes {
            0 => arm_watched,
            n => arm_watched.chained(n),
        },
        p,
        cancel: cancel.clone(),
        limits,
    };
    let jobs = report.jobs(sink);
    let result = jobs
        .run(job, cancel.clone(), async |ctx| {
            let env = &env;
            if let Some(vm) = &p.power_cycle {
                ctx.step("power_off", || async {
                    power_step(ctx, env, vm, false).await
                })
                .await?;
            }
            let primary = ctx
                .step("snapshot", || async {
                    snapshot_step(ctx, env, retried).await
                })
                .await?;
            if let Some(vm) = &p.power_cycle {
                ctx.step("power_on", || async {
                    power_step(ctx, env, vm, true).await
                })
                .await?;
            }
            let mut made = vec![primary.backup_id.clone()];
            if let Some(target) = &p.replica {
                // One copy per disk at a time, in order, and a bounded number per region: the
                // slot is held from the copy's start until it is usable.
                let _slot = env
                    .limits
                    .copy_slot(&target.region, &p.volume_id, &env.cancel)
                    .await
                    .ok_or(JobError::Cancelled)?;
                let replica = ctx
                    .step("copy", || async {
                        copy_step(ctx, env, target, &primary).await
                    })
                    .await?;
                // The chain's last write went: what it still holds goes back to the others.
                env.arm.writes_skipped(u32::MAX);
                ctx.step("follow", || async {
                    follow_step(ctx, env, target, &replica).await
                })
                .await?;
                made.push(replica.backup_id);
            }
            Ok(serde_json::json!({ "backups": made }))
        })
        .await;
    if result.is_err() {
        if let Some(vm) = &p.power_cycle {
            restore_power(arm, vm).await;
        }
    }
    let rows: Vec<Backup> = {
        let c = report.catalog.lock();
        [BackupSite::Primary, BackupSite::Replica]
            .into_iter()
            .filter_map(|site| c.backup_of_job(&job.id, &p.volume_id, site).transpose())
            .collect::<Result<_, _>>()?
    };
    if !quiet {
        announce(report, job, p, &rows, &result);
    }
    result.map(|_| rows).map_err(BackupError::from)
}

/// The outcome in the notification center: success only when every step succeeded.
fn announce(
    report: &Report<'_>,
    job: &JobRecord,
    p: &BackupParams,
    rows: &[Backup],
    result: &Result<serde_json::Value, JobError>,
) {
    let (name, volume) = (&p.request.name, &p.volume_name);
    let primary = rows.iter().find(|b| b.site == BackupSite::Primary);
    let primary_kept = match primary {
        Some(b) if b.state == BackupState::Available => {
            format!(" The backup in {} is available.", b.location)
        }
        _ => String::new(),
    };
    let (level, body) = match result {
        Ok(_) => match &p.replica {
            Some(t) => (
                NotificationLevel::Success,
                format!(
                    "Backup «{name}» of {volume} taken; replica in {} ready.",
                    t.region
                ),
            ),
            None => (
                NotificationLevel::Success,
                format!(
                    "Backup «{name}» of {volume} taken in {}; not replicated: disaster recovery is not enabled for {}.",
                    p.location, p.account_name
                ),
            ),
        },
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            format!(
                "Backup «{name}» of {volume} was cancelled before it finished; what it made is kept and the job can be resumed.{primary_kept}"
            ),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!(
                "Backup «{name}» of {volume} failed: {}.{primary_kept}",
                e.to_string().trim_end_matches('.')
            ),
        ),
    };
    let note = NewNotification::new(level, format!("Backup of {volume}"), body)
        .account(p.account_id.clone())
        .job(job.id.clone());
    report.announce(&note);
}
