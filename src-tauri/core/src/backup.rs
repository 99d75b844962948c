//! Backing up one Azure volume now, as a job: an incremental snapshot in the disk's region and,
//! when disaster recovery is enabled for the account, its copy into the secondary region, followed
//! until the replica is usable.
//!
//! The job's steps are `snapshot`, then (with DR) `copy` and `follow`. Each is idempotent: the
//! snapshots are named after the job (`ctx.name_for`), a step looks for what a first attempt made
//! before making anything, and the catalog rows are found again by job, volume and site. What the
//! request resolved to (the disk's id and region, the replica's target) is journaled with the job,
//! so a resumed job acts on the same disk and the same site even if the inventory or the DR
//! configuration changed meanwhile.
//!
//! Not built here: AHV volumes, schedules, retention, restore.

use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::{DrTarget, Report};
use crate::inventory::{self, DiscoveredResource};
use crate::jobs::{JobContext, JobError, JobRecord, Jobs, ProgressSink};
use crate::notifications::{NewNotification, NotificationLevel, Notifier};
use crate::providers::azure::snapshots::{NewCopy, NewSnapshot};
use crate::providers::azure::{ids, ArmClient, ArmError, Progress, ResourceId, Tags, Watch};
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

/// The job kind a restart uses to find [`resume`].
pub const JOB_KIND: &str = "backup";

/// Why a backup exists. Only `manual` is made so far; the others are reserved for schedules,
/// post-session backups and the safety snapshot of a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    Manual,
    Scheduled,
    PostSession,
    Safety,
}

/// Where a backup lives: the volume's own region, or the DR secondary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupSite {
    Primary,
    Replica,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupState {
    Creating,
    /// Usable for a restore.
    Available,
    /// A replica whose copy is still running.
    Replicating,
    Failed,
}

macro_rules! text_enum {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            /// The value stored in the catalog (and accepted by its CHECK constraint).
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}

text_enum!(BackupKind { Manual = "manual", Scheduled = "scheduled", PostSession = "post_session", Safety = "safety" });
text_enum!(BackupSite { Primary = "primary", Replica = "replica" });
text_enum!(BackupState { Creating = "creating", Available = "available", Replicating = "replicating", Failed = "failed" });

/// One backup or replica, as the catalog holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Backup {
    pub id: String,
    /// The job that made it (`None` once the job's record is deleted).
    pub job_id: Option<String>,
    pub account_id: String,
    pub frame_account: String,
    /// The provider's id of the volume (an ARM disk id).
    pub volume_id: String,
    /// The disk's name.
    pub volume_name: String,
    /// The administrator's name for the backup.
    pub name: String,
    pub kind: BackupKind,
    pub site: BackupSite,
    /// The region it lives in.
    pub location: String,
    /// The snapshot's ARM id.
    pub provider_ref: Option<String>,
    pub state: BackupState,
    /// 0 to 100: a replica's copy; 100 once available.
    pub percent: f64,
    /// Of a replica: the primary backup it copies.
    pub replica_of: Option<String>,
    /// Why it failed, in the provider's words.
    pub error: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

/// "Back up this volume now."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct BackupRequest {
    /// The Azure cloud account (name or id).
    pub account: String,
    /// The Frame account the volume belongs to.
    pub frame_account: String,
    /// The disk's name or ARM id; a VM's name stands for its OS disk.
    pub volume: String,
    /// The administrator's name for the backup.
    pub name: String,
}

/// What a backup job was asked, and what the request resolved to when it was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct BackupParams {
    #[serde(flatten)]
    request: BackupRequest,
    account_id: String,
    account_name: String,
    volume_id: String,
    volume_name: String,
    location: String,
    /// Where the replica goes: `None` when DR was not enabled for the account.
    replica: Option<ReplicaTarget>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ReplicaTarget {
    region: String,
    resource_group: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Arm(#[from] ArmError),
    /// The job ran and failed (or was cancelled); the job's record says the same.
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("name the backup: the name is empty")]
    EmptyName,
    #[error("{volume:?} is not a volume of Frame account {frame_account:?} on {account}: name a disk (or a VM, for its OS disk) that `standbyctl inventory list {account} --frame-account {frame_account}` shows")]
    UnknownVolume {
        volume: String,
        frame_account: String,
        account: String,
    },
    #[error("{volume} is not backed up: {reason}")]
    NotProtected { volume: String, reason: String },
    #[error("job {job} is not a backup job that this version of Standby can resume: {reason}")]
    NotResumable { job: String, reason: String },
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Connect(e) => e.into(),
            BackupError::Catalog(e) => e.into(),
            BackupError::Arm(e) => e.into(),
            BackupError::Job(e) => e.into(),
            BackupError::UnknownVolume { .. } => ApiError::new(ErrorCode::NotFound, e.to_string()),
            other => ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// The volume an administrator named: a disk id, a disk name, or (for an OS disk) its VM's name.
fn find<'a>(resources: &'a [DiscoveredResource], volume: &str) -> Option<&'a DiscoveredResource> {
    let v = volume.trim();
    let disk_name = |r: &DiscoveredResource| {
        ResourceId::parse(&r.provider_id)
            .map(|id| id.name().to_string())
            .unwrap_or_default()
    };
    resources
        .iter()
        .find(|r| ids::same(&r.provider_id, v) || disk_name(r).eq_ignore_ascii_case(v))
        .or_else(|| resources.iter().find(|r| r.name.eq_ignore_ascii_case(v)))
}

/// Backs up one volume now: checks the request, journals a `backup` job, runs it, and reports
/// the outcome to the notification center. Returns the job's backups (primary, then replica).
pub async fn backup_now(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    req: BackupRequest,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let name = req.name.trim().to_string();
    if name.is_empty() {
        return Err(BackupError::EmptyName);
    }
    let clock = report.clock.clone();
    // Connecting first refuses an AHV account in words before discovery is attempted.
    let azure = {
        let c = report.catalog.lock();
        connect::azure(
            &Accounts { catalog: &c, store },
            &req.account,
            clock.clone(),
        )?
    };
    let resources = inventory::discover(
        report.catalog,
        store,
        &azure.account.id,
        &req.frame_account,
        clock.clone(),
    )
    .await?;
    let resource = find(&resources, &req.volume).ok_or_else(|| BackupError::UnknownVolume {
        volume: req.volume.clone(),
        frame_account: req.frame_account.clone(),
        account: azure.account.name.clone(),
    })?;
    let disk = ResourceId::parse(&resource.provider_id)
        .map_err(|e| ArmError::decode("a discovered disk id", e))?;
    if !resource.kind.is_protected() {
        return Err(BackupError::NotProtected {
            volume: disk.name().to_string(),
            reason: resource
                .not_protected_reason
                .clone()
                .unwrap_or_else(|| inventory::TEMPLATE_NOT_PROTECTED.to_string()),
        });
    }
    let dr = report.catalog.lock().dr_config(&azure.account.id)?;
    let replica = match dr {
        Some(c) => match c.target {
            DrTarget::Azure {
                secondary_region,
                secondary_resource_group,
            } => Some(ReplicaTarget {
                region: secondary_region,
                resource_group: secondary_resource_group,
            }),
            // An Azure account cannot hold an AHV target; if a hand-edited catalog says so,
            // there is nowhere to replicate to, and the notification will say "not replicated".
            DrTarget::Ahv { .. } => None,
        },
        None => None,
    };
    let params = BackupParams {
        request: BackupRequest { name, ..req },
        account_id: azure.account.id.clone(),
        account_name: azure.account.name.clone(),
        volume_id: disk.as_str().to_string(),
        volume_name: disk.name().to_string(),
        location: resource.location.clone(),
        replica,
    };
    let jobs = Jobs {
        catalog: report.catalog,
        clock,
        sink,
    };
    let value = serde_json::to_value(&params).expect("backup parameters serialise");
    let job = jobs.create(JOB_KIND, Some(&azure.account.id), value)?;
    run(report, sink, &azure.client, &job, &params, cancel).await
}

/// Runs a `backup` job again (after a crash, a kill or a cancel): done steps are replayed from the
/// journal, an unfinished one runs again and finds what its first attempt made.
pub async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let not = |reason: String| BackupError::NotResumable {
        job: job.id.clone(),
        reason,
    };
    if job.kind != JOB_KIND {
        return Err(not(format!("it is a {:?} job", job.kind)));
    }
    // Replaying a finished job would only announce its success a second time.
    if job.state == crate::jobs::JobState::Succeeded {
        return Err(not("it has already succeeded".into()));
    }
    let params: BackupParams =
        serde_json::from_value(job.params.clone()).map_err(|e| not(e.to_string()))?;
    let azure = {
        let c = report.catalog.lock();
        connect::azure(
            &Accounts { catalog: &c, store },
            &params.account_id,
            report.clock.clone(),
        )?
    };
    run(report, sink, &azure.client, job, &params, cancel).await
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
            kind: BackupKind::Manual,
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

async fn snapshot_step(ctx: &JobContext<'_>, env: &Env<'_>) -> Result<Made, JobError> {
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
    let existing = match env.arm.get_snapshot(&snap_id).await {
        Ok(s) => Some(s),
        Err(ArmError::Api { status: 404, .. }) => None,
        Err(e) => return Err(env.failed(&row.id, 0.0, e)),
    };
    let snap = match existing {
        Some(s)
            if s.source_resource_id()
                .is_some_and(|src| ids::same(src, disk.as_str()))
                && s.copy_state() == crate::providers::azure::snapshots::CopyState::Done =>
        {
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

async fn run(
    report: &Report<'_>,
    sink: &dyn ProgressSink,
    arm: &ArmClient,
    job: &JobRecord,
    p: &BackupParams,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let env = Env {
        report,
        arm: arm.watched(Watch::new().with_cancel(cancel.clone())),
        p,
        cancel: cancel.clone(),
    };
    let jobs = Jobs {
        catalog: report.catalog,
        clock: report.clock.clone(),
        sink,
    };
    let result = jobs
        .run(job, cancel, async |ctx| {
            let env = &env;
            let primary = ctx
                .step("snapshot", || async { snapshot_step(ctx, env).await })
                .await?;
            let mut made = vec![primary.backup_id.clone()];
            if let Some(target) = &p.replica {
                let replica = ctx
                    .step("copy", || async {
                        copy_step(ctx, env, target, &primary).await
                    })
                    .await?;
                ctx.step("follow", || async {
                    follow_step(ctx, env, target, &replica).await
                })
                .await?;
                made.push(replica.backup_id);
            }
            Ok(serde_json::json!({ "backups": made }))
        })
        .await;
    let rows: Vec<Backup> = {
        let c = report.catalog.lock();
        [BackupSite::Primary, BackupSite::Replica]
            .into_iter()
            .filter_map(|site| c.backup_of_job(&job.id, &p.volume_id, site).transpose())
            .collect::<Result<_, _>>()?
    };
    announce(report, job, p, &rows, &result);
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
    let catalog = report.catalog.lock();
    let notifier = Notifier {
        catalog: &catalog,
        clock: report.clock.as_ref(),
        sink: report.sink,
    };
    if let Err(e) = notifier.post(&note) {
        tracing::error!("a notification could not be recorded: {e}");
    }
}
