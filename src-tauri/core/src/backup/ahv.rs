//! AHV backups. Prism snapshots a whole protection domain, so an AHV backup is an out-of-band
//! snapshot of the account's protection domain (the one enabling DR created), replicated to the
//! remote site on the primary that points at the secondary. The catalog gets one row per volume
//! backed up, all sharing `provider_ref = "{pd}:{snapshot id}"`; the replica rows name the
//! snapshot id the secondary cluster gave it (found there by `snapshot_uuid`).
//!
//! Steps: `power_off` (when the plan saw desktops running), `mark`, `snapshot`, `power_on`, then
//! with DR `replicate`. Recognising the job's own snapshot after a crash: `mark` journals the
//! snapshot ids and pending out-of-band schedules of the domain before anything is asked, and
//! the job holds the domain's turn (`Limits::protection_domain`) from `mark` until its snapshot is
//! found, so a snapshot with an out-of-band schedule that was not there at `mark` is this job's.
//! A second Standby process snapshotting the same domain at the same moment is not guarded
//! against (one Standby per account is the supported setup).

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::plan::PlannedVolume;
use super::{Backup, BackupError, BackupKind, BackupRequest, BackupSite, BackupState};
use crate::accounts::Accounts;
use crate::cancel::CancelFlag;
use crate::connect::{self, AhvAccount};
use crate::disaster_recovery::{DrTarget, Report};
use crate::inventory::{self, ResourceKind};
use crate::jobs::{JobContext, JobError, JobRecord, ProgressSink};
use crate::limits::Limits;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::prism::types::{PowerTransition, VmPowerState};
use crate::providers::prism::{PrismClient, PrismError};
use crate::secrets::SecretStore;

/// Marks an AHV job's parameters (Azure ones predate the field).
pub const PROVIDER: &str = "ahv";

/// Where an account's AHV backups go.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AhvTarget {
    pub account_id: String,
    pub account_name: String,
    pub frame_account: String,
    pub name: String,
    pub kind: BackupKind,
    pub protection_domain: String,
    /// The remote site on the primary that points at the secondary.
    pub site: String,
    pub secondary_account_id: String,
    pub secondary_account_name: String,
}

/// A single-volume AHV backup job's parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AhvParams {
    provider: String,
    request: BackupRequest,
    target: AhvTarget,
    volumes: Vec<PlannedVolume>,
}

/// The account's target, or the refusal an admin can act on: no DR, no protection domain.
pub(crate) fn target_for(
    report: &Report<'_>,
    account: &AhvAccount,
    frame_account: &str,
    name: &str,
    kind: BackupKind,
) -> Result<AhvTarget, BackupError> {
    let dr = report.catalog.lock().dr_config(&account.account.id)?;
    match dr.map(|c| c.target) {
        Some(DrTarget::Ahv {
            protection_domain,
            site_on_primary,
            secondary_account_id,
            secondary_account_name,
            ..
        }) => Ok(AhvTarget {
            account_id: account.account.id.clone(),
            account_name: account.account.name.clone(),
            frame_account: frame_account.to_string(),
            name: name.to_string(),
            kind,
            protection_domain,
            site: site_on_primary,
            secondary_account_id,
            secondary_account_name,
        }),
        _ => Err(BackupError::AhvWithoutDr {
            account: account.account.name.clone(),
        }),
    }
}

pub(crate) fn connect(
    store: &dyn SecretStore,
    report: &Report<'_>,
    id: &str,
) -> Result<AhvAccount, BackupError> {
    let c = report.catalog.lock();
    Ok(connect::ahv(&Accounts { catalog: &c, store }, id)?)
}

pub(crate) async fn backup_now(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: BackupRequest,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let account = connect(store, report, &req.account)?;
    let target = target_for(report, &account, &req.frame_account, &req.name, req.kind)?;
    let resources = inventory::discover(
        report.catalog,
        store,
        &account.account.id,
        &req.frame_account,
        report.clock.clone(),
    )
    .await?;
    let resource =
        super::find(&resources, &req.volume).ok_or_else(|| BackupError::UnknownVolume {
            volume: req.volume.clone(),
            frame_account: req.frame_account.clone(),
            account: account.account.name.clone(),
        })?;
    if !resource.kind.is_protected() {
        return Err(super::not_protected(resource));
    }
    let volume = PlannedVolume {
        volume_id: resource.provider_id.clone(),
        volume_name: resource.name.clone(),
        kind: resource.kind,
        vm_id: resource.vm_id.clone(),
        location: resource.location.clone(),
        // A backup asked for one volume takes it as it is: the power rule is backup-all's.
        power_cycle: false,
    };
    let params = AhvParams {
        provider: PROVIDER.into(),
        request: req,
        target,
        volumes: vec![volume],
    };
    let jobs = report.jobs(sink);
    let job = jobs.create(
        super::JOB_KIND,
        Some(&account.account.id),
        serde_json::to_value(&params).expect("backup parameters serialise"),
    )?;
    run(
        report,
        store,
        sink,
        limits,
        &account.client,
        &job,
        &params,
        cancel,
    )
    .await
}

pub(crate) async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let params: AhvParams = job.journaled_params()?;
    let account = connect(store, report, &params.target.account_id)?;
    run(
        report,
        store,
        sink,
        limits,
        &account.client,
        job,
        &params,
        cancel,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn run(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    prism: &PrismClient,
    job: &JobRecord,
    p: &AhvParams,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let secondary = connect(store, report, &p.target.secondary_account_id)
        .map(|a| a.client)
        .ok();
    let jobs = report.jobs(sink);
    let env = Env {
        report,
        prism,
        secondary: secondary.as_ref(),
        limits,
        target: &p.target,
        cancel: cancel.clone(),
    };
    let result = jobs
        .run(job, cancel.clone(), async |ctx| {
            steps(ctx, &env, &p.volumes).await?;
            Ok(serde_json::json!({ "volumes": p.volumes.len() }))
        })
        .await;
    if result.is_err() {
        restore_power(&env, &p.volumes).await;
    }
    let rows = report.catalog.lock().backups_of_job(&job.id)?;
    announce(report, job, &p.target, &p.volumes, &rows, &result);
    result.map(|_| rows).map_err(BackupError::from)
}

pub(crate) struct Env<'a> {
    pub report: &'a Report<'a>,
    pub prism: &'a PrismClient,
    pub secondary: Option<&'a PrismClient>,
    pub limits: &'a Limits,
    pub target: &'a AhvTarget,
    pub cancel: CancelFlag,
}

#[derive(Debug, Serialize, Deserialize)]
struct Mark {
    snapshots: BTreeSet<String>,
    schedules: BTreeSet<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Taken {
    pub snapshot_id: String,
    pub snapshot_uuid: Option<String>,
}

fn op(e: PrismError) -> JobError {
    match e {
        PrismError::Cancelled => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

fn vm_of(v: &PlannedVolume) -> &str {
    v.vm_id.as_deref().unwrap_or(&v.volume_id)
}

/// The steps of an AHV backup of `volumes` (one, or all a plan chose), inside a running job.
pub(crate) async fn steps(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    volumes: &[PlannedVolume],
) -> Result<(), JobError> {
    let cycled: Vec<&PlannedVolume> = volumes
        .iter()
        .filter(|v| v.power_cycle && v.kind == ResourceKind::PersistentDesktop)
        .collect();
    if !cycled.is_empty() {
        ctx.step("power_off", || async {
            power_all(ctx, env, &cycled, false).await
        })
        .await?;
    }
    let taken = {
        let pd = &env.target.protection_domain;
        let _turn = env
            .limits
            .protection_domain(&env.target.account_id, pd, &env.cancel)
            .await
            .ok_or(JobError::Cancelled)?;
        let mark: Mark = ctx
            .step("mark", || async {
                let snapshots = env.prism.snapshots(pd, &[]).await.map_err(op)?;
                let schedules = env.prism.oob_schedules(pd).await.map_err(op)?;
                Ok(Mark {
                    snapshots: snapshots.into_iter().map(|s| s.snapshot_id).collect(),
                    schedules: schedules
                        .into_iter()
                        .filter_map(|s| s.schedule_id)
                        .collect(),
                })
            })
            .await?;
        ctx.step("snapshot", || async {
            snapshot_step(ctx, env, volumes, &mark).await
        })
        .await?
    };
    if !cycled.is_empty() {
        ctx.step("power_on", || async {
            power_all(ctx, env, &cycled, true).await
        })
        .await?;
    }
    if env.secondary.is_some() || !env.target.site.is_empty() {
        ctx.step("replicate", || async {
            replicate_step(ctx, env, &taken).await
        })
        .await?;
    }
    Ok(())
}

/// Powers the desktops off (ACPI shutdown, then a hard off if the guest does not comply) or on,
/// a bounded number of Prism tasks at a time. A VM already where it should be is left alone.
async fn power_all(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    vms: &[&PlannedVolume],
    on: bool,
) -> Result<u32, JobError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let word = if on { "powering on" } else { "powering off" };
    ctx.report(
        if on { 50.0 } else { 1.0 },
        &format!("{word} {} desktops", vms.len()),
        None,
    )?;
    // Futures made by a plain call, not a closure's `async` block: the job's future stays `Send`.
    let futures: Vec<_> = vms.iter().map(|v| power_one(env, vm_of(v), on)).collect();
    let changed = stream::iter(futures)
        .buffer_unordered(env.limits.prism_tasks_per_cluster())
        .try_fold(0u32, |n, changed| async move { Ok(n + u32::from(changed)) })
        .await?;
    Ok(changed)
}

async fn power_one(env: &Env<'_>, vm: &str, on: bool) -> Result<bool, JobError> {
    // A transition a killed attempt asked for lands when its task ends, whatever was decided
    // since: wait for it, then decide from the power state the VM will keep.
    env.prism.settle_power(vm, &env.cancel).await.map_err(op)?;
    let state = env.prism.vm(vm).await.map_err(op)?.power_state;
    let is_on = matches!(state, Some(VmPowerState::On));
    if is_on == on {
        return Ok(false);
    }
    let transitions: &[PowerTransition] = if on {
        &[PowerTransition::On]
    } else {
        &[PowerTransition::AcpiShutdown, PowerTransition::Off]
    };
    let mut last = None;
    for t in transitions {
        let _slot = env
            .limits
            .prism_task(&env.target.account_id, &env.cancel)
            .await
            .ok_or(JobError::Cancelled)?;
        let task = env.prism.set_power_state(vm, t.clone()).await.map_err(op)?;
        match env.prism.wait_task(&task, &mut |_| {}, &env.cancel).await {
            Ok(_) => return Ok(true),
            Err(PrismError::Cancelled) => return Err(JobError::Cancelled),
            Err(e) => last = Some(e),
        }
    }
    Err(op(last.expect("at least one transition was tried")))
}

/// Best effort after a failure or a cancel: desktops the plan saw on are started again.
pub(crate) async fn restore_power(env: &Env<'_>, volumes: &[PlannedVolume]) {
    let calm = Env {
        cancel: CancelFlag::new(),
        ..*env
    };
    for v in volumes.iter().filter(|v| v.power_cycle) {
        if let Err(e) = power_one(&calm, vm_of(v), true).await {
            tracing::error!(
                "{} could not be powered on again after its backup: {e}",
                v.volume_name
            );
        }
    }
}

fn row(
    env: &Env<'_>,
    job: &str,
    v: &PlannedVolume,
    site: BackupSite,
    location: &str,
    replica_of: Option<String>,
    now: &str,
) -> Backup {
    Backup {
        id: uuid::Uuid::new_v4().to_string(),
        job_id: Some(job.to_string()),
        account_id: env.target.account_id.clone(),
        frame_account: env.target.frame_account.clone(),
        volume_id: v.volume_id.clone(),
        volume_name: v.volume_name.clone(),
        name: env.target.name.clone(),
        kind: env.target.kind,
        site,
        location: location.to_string(),
        provider_ref: None,
        state: if site == BackupSite::Primary {
            BackupState::Creating
        } else {
            BackupState::Replicating
        },
        percent: 0.0,
        replica_of,
        error: None,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    }
}

async fn snapshot_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    volumes: &[PlannedVolume],
    mark: &Mark,
) -> Result<Taken, JobError> {
    let pd = &env.target.protection_domain;
    let now = env.report.clock.now().to_rfc3339();
    let rows: Vec<Backup> = volumes
        .iter()
        .map(|v| {
            row(
                env,
                ctx.id(),
                v,
                BackupSite::Primary,
                &env.target.account_name,
                None,
                &now,
            )
        })
        .collect();
    env.report.catalog.lock().insert_backups_once(&rows)?;
    ctx.report(5.0, &format!("snapshot of protection domain {pd}"), None)?;
    let fail = |e: PrismError| -> JobError {
        if !matches!(e, PrismError::Cancelled) {
            let _ = env.report.catalog.lock().update_job_backups(
                ctx.id(),
                BackupSite::Primary,
                BackupState::Failed,
                0.0,
                None,
                Some(&e.to_string()),
                &env.report.clock.now().to_rfc3339(),
            );
        }
        op(e)
    };
    // A first attempt may have asked already: its snapshot, or its pending schedule, is new
    // since `mark`.
    let listed = env.prism.snapshots(pd, &[]).await.map_err(fail)?;
    let mut found = listed
        .into_iter()
        .find(|s| !mark.snapshots.contains(&s.snapshot_id) && !s.oob_schedule_ids.is_empty());
    let mut schedule = None;
    if found.is_none() {
        let pending = env.prism.oob_schedules(pd).await.map_err(fail)?;
        schedule = pending
            .into_iter()
            .filter_map(|o| o.schedule_id)
            .find(|id| !mark.schedules.contains(id));
    }
    if found.is_none() && schedule.is_none() {
        let sites = vec![env.target.site.clone()];
        let oob = env
            .prism
            .take_snapshot(pd, &sites, None)
            .await
            .map_err(fail)?;
        found = oob.snapshot;
        schedule = oob.schedule_id;
    }
    let mut delay = Duration::from_millis(200);
    let snap = loop {
        if let Some(s) = found.take() {
            break s;
        }
        let Some(id) = schedule else {
            return Err(fail(PrismError::Decode {
                context: "oob_schedules".into(),
                message: "Prism answered neither a snapshot nor a schedule id".into(),
            }));
        };
        if !env.cancel.sleep(delay).await {
            return Err(JobError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
        found = env
            .prism
            .snapshots(pd, &[id])
            .await
            .map_err(fail)?
            .into_iter()
            .next();
    };
    let reference = format!("{pd}:{}", snap.snapshot_id);
    env.report.catalog.lock().update_job_backups(
        ctx.id(),
        BackupSite::Primary,
        BackupState::Available,
        100.0,
        Some(&reference),
        None,
        &env.report.clock.now().to_rfc3339(),
    )?;
    ctx.report(
        40.0,
        &format!("snapshot {} of {pd} taken", snap.snapshot_id),
        None,
    )?;
    Ok(Taken {
        snapshot_id: snap.snapshot_id,
        snapshot_uuid: snap.snapshot_uuid,
    })
}

/// Follows the snapshot's replication to the remote site until the secondary holds it.
async fn replicate_step(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    taken: &Taken,
) -> Result<(), JobError> {
    let pd = &env.target.protection_domain;
    let now = env.report.clock.now().to_rfc3339();
    let primaries = env.report.catalog.lock().backups_of_job(ctx.id())?;
    let rows: Vec<Backup> = primaries
        .iter()
        .filter(|b| b.site == BackupSite::Primary)
        .map(|b| {
            let v = PlannedVolume {
                volume_id: b.volume_id.clone(),
                volume_name: b.volume_name.clone(),
                kind: ResourceKind::PersistentDesktop,
                vm_id: None,
                location: String::new(),
                power_cycle: false,
            };
            row(
                env,
                ctx.id(),
                &v,
                BackupSite::Replica,
                &env.target.secondary_account_name,
                Some(b.id.clone()),
                &now,
            )
        })
        .collect();
    env.report.catalog.lock().insert_backups_once(&rows)?;
    let step = format!("replicating to {}", env.target.site);
    let mut delay = Duration::from_millis(200);
    loop {
        // Landed: the secondary's domain of the same name holds it under an id of its own.
        let landed = match env.secondary {
            Some(sec) => match sec.snapshots(pd, &[]).await {
                Ok(list) => list.into_iter().find(|s| {
                    taken.snapshot_uuid.is_some() && s.snapshot_uuid == taken.snapshot_uuid
                }),
                // The domain appears on the secondary with the first replica.
                Err(PrismError::NotFound { .. }) => None,
                Err(e) => return Err(op(e)),
            },
            None => env
                .prism
                .remote_site_snapshots(&env.target.site)
                .await
                .map_err(op)?
                .snapshots
                .into_iter()
                .find(|s| taken.snapshot_uuid.is_some() && s.snapshot_uuid == taken.snapshot_uuid),
        };
        if let Some(s) = landed {
            let reference = format!("{pd}:{}", s.snapshot_id);
            env.report.catalog.lock().update_job_backups(
                ctx.id(),
                BackupSite::Replica,
                BackupState::Available,
                100.0,
                Some(&reference),
                None,
                &env.report.clock.now().to_rfc3339(),
            )?;
            ctx.report(
                100.0,
                &format!("replica on {} ready", env.target.secondary_account_name),
                None,
            )?;
            return Ok(());
        }
        let replications = env.prism.replications(pd).await.map_err(op)?;
        if let Some(r) = replications
            .iter()
            .find(|r| r.snapshot_id == taken.snapshot_id)
        {
            if r.aborted == Some(true) {
                let message = format!(
                    "the replication of snapshot {} to {} was aborted",
                    taken.snapshot_id, env.target.site
                );
                env.report.catalog.lock().update_job_backups(
                    ctx.id(),
                    BackupSite::Replica,
                    BackupState::Failed,
                    r.completed_percentage.unwrap_or(0.0),
                    None,
                    Some(&message),
                    &env.report.clock.now().to_rfc3339(),
                )?;
                return Err(JobError::Operation(crate::ApiError::new(
                    crate::ErrorCode::Unavailable,
                    message,
                )));
            }
            let pct = r.completed_percentage.unwrap_or(0.0).clamp(0.0, 99.0);
            let at = env.report.clock.now().to_rfc3339();
            let c = env.report.catalog.lock();
            for b in &rows {
                c.update_backup_percent(&b.id, pct, &at)?;
            }
            drop(c);
            ctx.report(50.0 + pct / 2.0, &step, None)?;
        }
        if !env.cancel.sleep(delay).await {
            return Err(JobError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn announce(
    report: &Report<'_>,
    job: &JobRecord,
    t: &AhvTarget,
    volumes: &[PlannedVolume],
    rows: &[Backup],
    result: &Result<serde_json::Value, JobError>,
) {
    let what = match volumes {
        [one] => one.volume_name.clone(),
        many => format!("{} volumes", many.len()),
    };
    let name = &t.name;
    let kept = rows
        .iter()
        .any(|b| b.site == BackupSite::Primary && b.state == BackupState::Available);
    let kept = if kept {
        format!(" The snapshot on {} is available.", t.account_name)
    } else {
        String::new()
    };
    let (level, body) = match result {
        Ok(_) => (
            NotificationLevel::Success,
            format!(
                "Backup «{name}» of {what} taken (snapshot of {}); replica on {} ready.",
                t.protection_domain, t.secondary_account_name
            ),
        ),
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            format!("Backup «{name}» of {what} was cancelled before it finished; what it made is kept and the job can be resumed.{kept}"),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!("Backup «{name}» of {what} failed: {}.{kept}", e.to_string().trim_end_matches('.')),
        ),
    };
    let note = NewNotification::new(level, format!("Backup of {what}"), body)
        .account(t.account_id.clone())
        .job(job.id.clone());
    report.announce(&note);
}
