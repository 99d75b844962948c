//! Restoring a volume from a backup (primary) or from its replica (secondary), on Azure and AHV
//! (docs/restore.md).
//!
//! [`plan`] is the pre-flight: it gathers the facts (the provider modules) and decides
//! ([`plan::decide`], pure) what will happen and whether it may. [`run`] re-checks, then runs a
//! journaled job of kind `restore`: a safety snapshot of the current disk first (a `safety`
//! backup, so a restore can be undone by restoring it), the desktop powered off (its prior state
//! journaled first), the disk replaced, the desktop powered on again if it was on. Each step is
//! idempotent (names carry the job id; states are read back before acting), so [`resume`] after
//! a crash finishes the job without doing anything twice.

mod ahv;
mod azure;
pub mod plan;

use serde::{Deserialize, Serialize};

use crate::audit::{self, NewAuditEntry};
use crate::backup::{Backup, BackupKind, BackupSite, BackupState};
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::connect::ConnectError;
use crate::disaster_recovery::Report;
use crate::jobs::{JobError, JobRecord, NotResumable, ProgressSink};
use crate::model::ProviderKind;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::azure::ArmError;
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

pub use plan::{CheckStatus, RestoreCheck, RestorePlan};

/// The job kind a restart uses to find [`resume`].
pub const JOB_KIND: &str = "restore";

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error(transparent)]
    Prism(#[from] PrismError),
    /// The job ran and failed (or was cancelled); the job's record says the same.
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("there is no backup {0:?}: list them with `standbyctl backup list`")]
    UnknownBackup(String),
    #[error("backup {id} cannot be restored: {reason}")]
    Unusable { id: String, reason: String },
    #[error("the restore of {volume} is blocked: {blockers}")]
    Blocked { volume: String, blockers: String },
    #[error("this restore replaces the disk of an assigned desktop: confirm by typing the volume's name, {volume:?} (`--confirm-volume {volume}`)")]
    ConfirmationNeeded { volume: String },
    #[error("job {} is not a restore job that this version of Standby can resume: {}", .0.job, .0.reason)]
    NotResumable(#[from] NotResumable),
}

impl From<RestoreError> for ApiError {
    fn from(e: RestoreError) -> Self {
        match e {
            RestoreError::Connect(e) => e.into(),
            RestoreError::Catalog(e) => e.into(),
            RestoreError::Arm(e) => e.into(),
            RestoreError::Prism(e) => e.into(),
            RestoreError::Job(e) => e.into(),
            RestoreError::UnknownBackup(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            RestoreError::Blocked { .. } => ApiError::new(ErrorCode::Conflict, e.to_string()),
            other => ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// "Restore this backup."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RestoreRequest {
    pub backup_id: String,
    /// The volume's name, typed by the administrator: required when the restore replaces an
    /// assigned desktop's disk.
    pub confirm_volume: Option<String>,
    /// Who asked (`window`, `standbyctl:alice`, ...), for the audit log.
    pub actor: String,
}

/// How a restore ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RestoreOutcome {
    pub job_id: String,
    pub plan: RestorePlan,
    /// The safety backup taken first (restore it to undo this restore).
    pub safety_backup: Option<Backup>,
    /// The volume's provider id after the restore (a new disk on Azure; the same uuid on AHV in
    /// place; the copy's uuid or name on the DR site).
    pub restored_volume: String,
    /// The disk that was replaced and kept (Azure).
    pub old_volume_kept: Option<String>,
    /// The VM was powered on again.
    pub powered_on: bool,
}

/// What the job journals: the backup and what the request resolved to when it was accepted, so
/// that a resumed job acts on the same volume.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RestoreParams {
    request: RestoreRequest,
    backup: Backup,
    plan: RestorePlan,
    target: Target,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
enum Target {
    Azure(azure::AzureTarget),
    Ahv(ahv::AhvTarget),
}

/// The pre-flight of restoring `backup_id`: what will happen, and every check with its result.
pub async fn plan(
    report: &Report<'_>,
    store: &dyn SecretStore,
    backup_id: &str,
) -> Result<RestorePlan, RestoreError> {
    Ok(gather(report, store, backup_id).await?.0)
}

async fn gather(
    report: &Report<'_>,
    store: &dyn SecretStore,
    backup_id: &str,
) -> Result<(RestorePlan, Backup, Option<Target>), RestoreError> {
    let backup = report
        .catalog
        .lock()
        .backup(backup_id.trim())?
        .ok_or_else(|| RestoreError::UnknownBackup(backup_id.to_string()))?;
    if backup.provider_ref.as_deref().unwrap_or("").is_empty() {
        return Err(RestoreError::Unusable {
            id: backup.id,
            reason: "it has no snapshot at the provider".into(),
        });
    }
    let kind = {
        let c = report.catalog.lock();
        crate::accounts::Accounts { catalog: &c, store }
            .settings(&backup.account_id)
            .map_err(ConnectError::from)?
            .0
            .kind
    };
    let (facts, target) = match kind {
        ProviderKind::Azure => {
            let (f, t) = azure::gather(report, store, &backup).await?;
            (f, t.map(Target::Azure))
        }
        ProviderKind::Ahv => {
            let (f, t) = ahv::gather(report, store, &backup).await?;
            (f, t.map(Target::Ahv))
        }
    };
    Ok((plan::decide(&facts), backup, target))
}

/// Restores a backup: re-checks, journals a `restore` job, runs it, and reports the outcome.
pub async fn run(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    req: RestoreRequest,
    cancel: CancelFlag,
) -> Result<RestoreOutcome, RestoreError> {
    let (plan, backup, target) = gather(report, store, &req.backup_id).await?;
    if !plan.can_run {
        return Err(RestoreError::Blocked {
            volume: plan.volume_name.clone(),
            blockers: plan.blockers(),
        });
    }
    let Some(target) = target else {
        return Err(RestoreError::Blocked {
            volume: plan.volume_name.clone(),
            blockers: "the volume to restore was not found".into(),
        });
    };
    if plan.replaces_assigned_desktop
        && req.confirm_volume.as_deref().map(str::trim) != Some(plan.volume_name.as_str())
    {
        return Err(RestoreError::ConfirmationNeeded {
            volume: plan.volume_name.clone(),
        });
    }
    let params = RestoreParams {
        request: req,
        backup,
        plan,
        target,
    };
    let jobs = report.jobs(sink);
    let value = serde_json::to_value(&params).expect("restore parameters serialise");
    let job = jobs.create(JOB_KIND, Some(&params.backup.account_id), value)?;
    {
        let c = report.catalog.lock();
        audit::record(
            &c,
            report.clock.as_ref(),
            &NewAuditEntry::new(params.request.actor.clone(), "restore")
                .account(params.backup.account_id.clone())
                .job(job.id.clone())
                .detail(serde_json::json!({
                    "backup_id": params.backup.id,
                    "backup_name": params.backup.name,
                    "site": params.backup.site.as_str(),
                    "volume": params.plan.volume_name,
                    "in_place": params.plan.in_place,
                })),
        )?;
    }
    notify(
        report,
        &job.id,
        &params,
        NotificationLevel::Info,
        format!(
            "Restore of {} from «{}» ({}, {}) started.",
            params.plan.volume_name,
            params.backup.name,
            params.backup.site.as_str(),
            params.backup.created_at
        ),
    );
    execute(report, store, sink, &job, &params, cancel).await
}

/// Runs a `restore` job again after a crash, a kill or a cancel: done steps are replayed from the
/// journal, the interrupted one runs again and finds what its first attempt did.
pub async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<RestoreOutcome, RestoreError> {
    let params: RestoreParams = job.resumable_params(JOB_KIND)?;
    execute(report, store, sink, job, &params, cancel).await
}

/// What the provider's job body hands back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Done {
    safety_backup_id: Option<String>,
    restored_volume: String,
    old_volume_kept: Option<String>,
    powered_on: bool,
}

async fn execute(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    job: &JobRecord,
    p: &RestoreParams,
    cancel: CancelFlag,
) -> Result<RestoreOutcome, RestoreError> {
    let jobs = report.jobs(sink);
    let result = match &p.target {
        Target::Azure(t) => {
            let arm = azure::connect(report, store, &p.backup.account_id)?;
            jobs.run(job, cancel.clone(), async |ctx| {
                let done = azure::steps(ctx, report, store, &arm, p, t, &cancel).await?;
                Ok(serde_json::to_value(done).expect("outcome serialises"))
            })
            .await
        }
        Target::Ahv(t) => {
            let prism = ahv::connect(report, store, &t.cluster_account_id)?;
            jobs.run(job, cancel.clone(), async |ctx| {
                let done = ahv::steps(ctx, report, store, &prism, p, t, &cancel).await?;
                Ok(serde_json::to_value(done).expect("outcome serialises"))
            })
            .await
        }
    };
    let safety =
        report
            .catalog
            .lock()
            .backup_of_job(&job.id, &current_volume(p), BackupSite::Primary)?;
    let (level, body) = match &result {
        Ok(v) => {
            let done: Done = job.read_outcome(v.clone())?;
            let mut body = if p.plan.in_place {
                format!(
                    "{} restored from «{}» taken {}.",
                    p.plan.volume_name, p.backup.name, p.backup.created_at
                )
            } else {
                format!(
                    "{} restored on the DR site {} as {}, powered off; the desktop on the primary was not touched.",
                    p.plan.volume_name, p.plan.restored_on, done.restored_volume
                )
            };
            if let Some(old) = &done.old_volume_kept {
                body.push_str(&format!(" The replaced disk {old} is kept (tagged standby.replaced-by) until you delete it."));
            }
            if safety.is_some() {
                body.push_str(" To undo, restore its safety backup.");
            }
            if done.powered_on {
                body.push_str(&format!(
                    " {} is running again.",
                    p.plan.vm.as_deref().unwrap_or("The desktop")
                ));
            }
            (NotificationLevel::Success, body)
        }
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            format!(
                "Restore of {} was cancelled before it finished: the desktop may be powered off; resume the job (`standbyctl jobs resume`) to finish it.",
                p.plan.volume_name
            ),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!(
                "Restore of {} failed: {}.{}",
                p.plan.volume_name,
                e.to_string().trim_end_matches('.'),
                if safety.as_ref().is_some_and(|s| s.state == BackupState::Available) {
                    " Its safety backup is available to undo whatever was changed."
                } else {
                    ""
                }
            ),
        ),
    };
    notify(report, &job.id, p, level, body);
    let v = result?;
    let done: Done = job.read_outcome(v)?;
    let safety_backup = match &done.safety_backup_id {
        Some(id) => report.catalog.lock().backup(id)?,
        None => None,
    };
    Ok(RestoreOutcome {
        job_id: job.id.clone(),
        plan: p.plan.clone(),
        safety_backup,
        restored_volume: done.restored_volume,
        old_volume_kept: done.old_volume_kept,
        powered_on: done.powered_on,
    })
}

/// The provider id of the volume as it was when the job was accepted (the safety row's).
fn current_volume(p: &RestoreParams) -> String {
    match &p.target {
        Target::Azure(t) => t.disk_id.clone(),
        Target::Ahv(t) => t.entity_uuid.clone(),
    }
}

fn notify(
    report: &Report<'_>,
    job_id: &str,
    p: &RestoreParams,
    level: NotificationLevel,
    body: String,
) {
    let note = NewNotification::new(level, format!("Restore of {}", p.plan.volume_name), body)
        .account(p.backup.account_id.clone())
        .job(job_id.to_string());
    report.announce(&note);
}

/// Records the safety backup's row (idempotent: found again by job, volume and site).
fn safety_row(
    report: &Report<'_>,
    job_id: &str,
    p: &RestoreParams,
    volume_id: &str,
    volume_name: &str,
    location: &str,
    provider_ref: &str,
) -> Result<Backup, CatalogError> {
    let c = report.catalog.lock();
    if let Some(b) = c.backup_of_job(job_id, volume_id, BackupSite::Primary)? {
        return Ok(b);
    }
    let now = report.clock.now().to_rfc3339();
    let b = Backup {
        id: uuid::Uuid::new_v4().to_string(),
        job_id: Some(job_id.to_string()),
        account_id: p.backup.account_id.clone(),
        frame_account: p.backup.frame_account.clone(),
        volume_id: volume_id.to_string(),
        volume_name: volume_name.to_string(),
        name: format!("before restoring «{}»", p.backup.name),
        kind: BackupKind::Safety,
        site: BackupSite::Primary,
        location: location.to_string(),
        provider_ref: Some(provider_ref.to_string()),
        state: BackupState::Creating,
        percent: 0.0,
        replica_of: None,
        error: None,
        created_at: now.clone(),
        updated_at: now,
    };
    c.insert_backup(&b)?;
    Ok(b)
}

/// A milestone in the notification center (the job's progress has every step; these are the
/// ones an administrator watches for).
fn milestone(report: &Report<'_>, job_id: &str, p: &RestoreParams, body: String) {
    notify(report, job_id, p, NotificationLevel::Info, body);
}

/// A provider failure as the job records it; a cancel is a cancel, not a failure.
fn arm_failed(e: ArmError) -> JobError {
    match e {
        ArmError::Cancelled(_) => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

fn prism_failed(e: PrismError) -> JobError {
    match e {
        PrismError::Cancelled => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}
