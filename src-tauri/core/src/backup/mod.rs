//! Backups: one volume now (`backup_now`), or many at once (`all::run`), on Azure and AHV.
//!
//! - Azure (`azure.rs`): an incremental snapshot of the disk in its region, copied to the DR
//!   secondary region and followed until usable.
//! - AHV (`ahv.rs`): Prism snapshots a whole protection domain, so a backup is an out-of-band
//!   snapshot of the account's protection domain (made by enable DR), replicated to the remote
//!   site; the catalog gets one row per backed-up volume, all naming the same snapshot.
//! - Many volumes (`all.rs`, `plan.rs`): a plan of what is backed up and what is skipped and why,
//!   then a parent job that runs the backups within the bounds of `limits::Limits`.
//!
//! Every backup runs as a journaled job whose steps are idempotent: see docs/backups.md.

pub mod ahv;
pub mod all;
pub mod azure;
mod kept;
pub mod plan;

use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::Report;
use crate::inventory::{self, DiscoveredResource};
use crate::jobs::{JobError, JobRecord, JobState, Jobs, NotResumable, ProgressSink};
use crate::limits::Limits;
use crate::providers::azure::{ids, ArmError, ResourceId};
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

/// The job kind a restart uses to find [`resume`].
pub const JOB_KIND: &str = "backup";

/// Why a backup exists: asked for by hand, by a schedule, after a user's session ended, or as
/// the safety snapshot a restore takes first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    #[default]
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
    /// The provider's id of the volume: an ARM disk id, a VM uuid or a volume group uuid (AHV).
    pub volume_id: String,
    /// The disk's name (Azure), the VM's or volume group's name (AHV).
    pub volume_name: String,
    /// The administrator's name for the backup.
    pub name: String,
    pub kind: BackupKind,
    pub site: BackupSite,
    /// Azure: the region it lives in. AHV: the cloud account (cluster) that holds it.
    pub location: String,
    /// Azure: the snapshot's ARM id. AHV: `{protection domain}:{snapshot id}` on that cluster
    /// (one snapshot holds every volume of the domain backed up with it).
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
    /// The cloud account (name or id), Azure or AHV.
    pub account: String,
    /// The Frame account the volume belongs to.
    pub frame_account: String,
    /// Azure: the disk's name or ARM id; a VM's name stands for its OS disk. AHV: the VM's or
    /// volume group's name or uuid.
    pub volume: String,
    /// The administrator's name for the backup.
    pub name: String,
    /// Why it is taken (recorded with the backup).
    #[serde(default)]
    pub kind: BackupKind,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
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
    #[error("job {} is not a backup job that this version of Standby can resume: {}", .0.job, .0.reason)]
    NotResumable(#[from] NotResumable),
    #[error("{account} cannot be backed up yet: an AHV backup is a snapshot of the account's protection domain, which enabling disaster recovery creates; enable DR first (`standbyctl dr enable-ahv` or the Enable DR wizard)")]
    AhvWithoutDr { account: String },
    #[error("backing up every volume asks for confirmation: run it again with --yes (or look first with --dry-run)")]
    NotConfirmed,
}

impl From<BackupError> for ApiError {
    fn from(e: BackupError) -> Self {
        match e {
            BackupError::Connect(e) => e.into(),
            BackupError::Catalog(e) => e.into(),
            BackupError::Arm(e) => e.into(),
            BackupError::Prism(e) => e.into(),
            BackupError::Job(e) => e.into(),
            BackupError::AhvWithoutDr { .. } => ApiError::new(ErrorCode::Conflict, e.to_string()),
            BackupError::UnknownVolume { .. } => ApiError::new(ErrorCode::NotFound, e.to_string()),
            other => ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// The volume an administrator named: a provider id, a disk name, or a VM's or volume group's
/// name (on Azure a VM's name stands for its OS disk).
pub(crate) fn find<'a>(
    resources: &'a [DiscoveredResource],
    volume: &str,
) -> Option<&'a DiscoveredResource> {
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
/// the outcome to the notification center. Returns the job's backups (primaries, then replicas).
/// The bounds of [`Limits`] apply within this call only; use [`backup_now_with`] to share them.
pub async fn backup_now(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    req: BackupRequest,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    backup_now_with(report, store, sink, &Limits::default(), req, cancel).await
}

pub async fn backup_now_with(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: BackupRequest,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    let name = req.name.trim().to_string();
    if name.is_empty() {
        return Err(BackupError::EmptyName);
    }
    let req = BackupRequest { name, ..req };
    let is_ahv = {
        let c = report.catalog.lock();
        matches!(
            Accounts { catalog: &c, store }
                .settings(&req.account)
                .map_err(ConnectError::from)?
                .1,
            crate::accounts::AccountSettings::Ahv(_)
        )
    };
    if is_ahv {
        return ahv::backup_now(report, store, sink, limits, req, cancel).await;
    }
    let clock = report.clock.clone();
    // Connecting first refuses a broken account in words before discovery is attempted.
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
    if !resource.kind.is_protected() {
        return Err(not_protected(resource));
    }
    let dr = report.catalog.lock().dr_config(&azure.account.id)?;
    let params = azure::params_for(
        &azure.account,
        &resource.provider_id,
        &resource.location,
        dr.as_ref(),
        req,
        None,
    )?;
    let jobs = Jobs {
        catalog: report.catalog,
        clock,
        sink,
    };
    let value = serde_json::to_value(&params).expect("backup parameters serialise");
    let job = jobs.create(JOB_KIND, Some(&azure.account.id), value)?;
    azure::run(
        report,
        sink,
        &azure.client,
        limits,
        &job,
        &params,
        cancel,
        false,
    )
    .await
}

pub(crate) fn not_protected(resource: &DiscoveredResource) -> BackupError {
    let volume = ResourceId::parse(&resource.provider_id)
        .map(|id| id.name().to_string())
        .unwrap_or_else(|_| resource.name.clone());
    BackupError::NotProtected {
        volume,
        reason: resource
            .not_protected_reason
            .clone()
            .unwrap_or_else(|| inventory::TEMPLATE_NOT_PROTECTED.to_string()),
    }
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
    resume_with(report, store, sink, &Limits::default(), job, cancel).await
}

pub async fn resume_with(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<Vec<Backup>, BackupError> {
    job.expect_kind(JOB_KIND)?;
    // The record may be stale (read before a parent resumed this child): ask the catalog.
    let fresh = report.catalog.lock().job_now(job)?;
    if fresh.state == JobState::Succeeded && fresh.parent_id.is_some() {
        // Finished by its parent's resume: nothing to do, nothing to announce again.
        return Ok(report.catalog.lock().backups_of_job(&fresh.id)?);
    }
    fresh.expect_unfinished()?;
    let quiet = fresh.parent_id.is_some();
    if fresh.params.get("provider").and_then(|p| p.as_str()) == Some(ahv::PROVIDER) {
        return ahv::resume(report, store, sink, limits, &fresh, cancel).await;
    }
    let params: azure::BackupParams = fresh.journaled_params()?;
    let account = {
        let c = report.catalog.lock();
        connect::azure(
            &Accounts { catalog: &c, store },
            &params.account_id,
            report.clock.clone(),
        )?
    };
    azure::run(
        report,
        sink,
        &account.client,
        limits,
        &fresh,
        &params,
        cancel,
        quiet,
    )
    .await
}
