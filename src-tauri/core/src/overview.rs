//! What the console shows at a glance: the Volumes table (every discovered volume with its last
//! backup, its newest replica, its free space and whether it is protected), the dashboard
//! (protection, ages, replication lag, next run, recent failures and skips per cloud account and
//! Frame account) and the secondary's headroom.
//!
//! The table and the dashboard come from the catalog only (the discovery cache of the `volumes`
//! table and the `backups`, `jobs`, `skips`, `schedules` and `dr_configs` tables), aggregated in
//! SQL (`catalog::overview`), so they answer at once on 5,000 volumes and 100,000 backups. Free
//! space and the secondary's headroom are live readings (the guest agent, Resource Manager or
//! Prism) and are asked for separately; a figure nobody reported is `unknown` with the reason,
//! never guessed.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::autogrow::{self, AutogrowSettings, PendingGrowth};
use crate::backup::{BackupKind, BackupSite, BackupState};
use crate::catalog::overview::{FailedJobRow, VolumeAggregate};
use crate::catalog::{provider_key, Catalog, CatalogError, SharedCatalog, SkipRecord};
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::{DrConfig, DrTarget, Report};
use crate::guest::{self, GuestVolume, Observed};
use crate::inventory::{DesktopState, PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED};
use crate::model::ProviderKind;
use crate::providers::azure::setup::DrNeeds;
use crate::providers::azure::ArmError;
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

/// Failed jobs and skipped volumes are counted over this many days.
pub const RECENT_DAYS: i64 = 7;
/// How many of the latest failed jobs and skips the dashboard lists.
pub const LATEST: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum OverviewError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error(transparent)]
    Prism(#[from] PrismError),
    #[error("no cloud account is named {0:?}: `standbyctl account list` shows them")]
    UnknownAccount(String),
    #[error("disaster recovery is not enabled for {0}, so it has no secondary: enable DR first (the Enable DR wizard or `standbyctl dr enable-ahv|enable-azure`)")]
    NoDr(String),
}

impl From<OverviewError> for ApiError {
    fn from(e: OverviewError) -> Self {
        match e {
            OverviewError::Catalog(e) => e.into(),
            OverviewError::Connect(e) => e.into(),
            OverviewError::Arm(e) => e.into(),
            OverviewError::Prism(e) => e.into(),
            OverviewError::UnknownAccount(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            OverviewError::NoDr(_) => ApiError::new(ErrorCode::Conflict, e.to_string()),
        }
    }
}

// ---- the Volumes table -------------------------------------------------------------------

/// The newest usable (available) primary backup of a volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct LastBackup {
    pub id: String,
    pub name: String,
    pub kind: BackupKind,
    /// RFC 3339.
    pub created_at: String,
}

/// The newest replica of a volume, whatever its state (a copy running shows its percentage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct LastReplica {
    pub id: String,
    pub state: BackupState,
    /// 0 to 100.
    pub percent: f64,
    /// RFC 3339.
    pub created_at: String,
}

/// Free space inside the volume, as the account's guest agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FreeSpace {
    Known {
        free_bytes: f64,
        /// Who reported it (the guest agent's own words).
        source: String,
    },
    /// No guest agent, it did not answer, or it does not know this volume (or its free space).
    Unknown { why: String },
}

/// Where a volume stands for disaster recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ProtectionState {
    /// Covered by the account's DR configuration and has a usable backup.
    Protected,
    /// Covered by DR, but no usable backup yet.
    NoBackup,
    /// A kind Standby protects, but the account's DR configuration does not cover its Frame
    /// account (it may still have backups taken by hand).
    NoDr,
    /// Never backed up (template images): `reason` says why.
    NotProtected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Protection {
    pub state: ProtectionState,
    pub covered_by_dr: bool,
    pub has_usable_backup: bool,
    /// Why it is not `protected`, in words an administrator can act on.
    pub reason: Option<String>,
}

/// Autogrow as it applies to one volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VolumeAutogrow {
    /// The account's autogrow is on and this kind of volume is one it grows.
    pub enabled: bool,
    /// Waiting for its VM to be deallocated before it can grow.
    pub pending: Option<PendingGrowth>,
}

/// One row of the Volumes table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VolumeRow {
    /// The provider's id: a VM uuid, a volume group uuid, an ARM disk id.
    pub volume_id: String,
    pub name: String,
    pub kind: ResourceKind,
    pub frame_account: String,
    pub owner: Option<String>,
    pub size_bytes: f64,
    pub desktop_state: Option<DesktopState>,
    pub power: Option<PowerState>,
    pub power_detail: Option<String>,
    /// AHV storage container or Azure region.
    pub location: String,
    /// RFC 3339: the discovery that last saw it.
    pub seen_at: String,
    /// `None` in the catalog-only listing ([`volume_rows`]); [`volume_overview`] always reads it.
    pub free_space: Option<FreeSpace>,
    pub last_backup: Option<LastBackup>,
    pub replica: Option<LastReplica>,
    pub autogrow: VolumeAutogrow,
    pub protection: Protection,
}

/// What the account's guest agent said, once for the whole table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GuestReading {
    Read { source: String },
    Unknown { why: String },
}

/// The Volumes table of one cloud account (one Frame account, or all it holds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VolumeOverview {
    /// When it was read (RFC 3339): ages in the table are measured from here.
    pub at: String,
    pub account_id: String,
    pub account_name: String,
    pub provider: ProviderKind,
    pub frame_account: Option<String>,
    pub dr: Option<DrConfig>,
    pub autogrow: AutogrowSettings,
    pub guest: GuestReading,
    /// By name. Empty until the account's resources have been discovered once.
    pub rows: Vec<VolumeRow>,
}

fn account_of(
    catalog: &Catalog,
    account: &str,
) -> Result<crate::model::CloudAccount, OverviewError> {
    catalog
        .find_account(account)?
        .map(|a| a.account)
        .ok_or_else(|| OverviewError::UnknownAccount(account.to_string()))
}

fn protection(kind: ResourceKind, dr: Option<&DrConfig>, frame: &str, usable: bool) -> Protection {
    if !kind.is_protected() {
        return Protection {
            state: ProtectionState::NotProtected,
            covered_by_dr: false,
            has_usable_backup: usable,
            reason: Some(TEMPLATE_NOT_PROTECTED.to_string()),
        };
    }
    let covered = dr.is_some_and(|d| d.frame_account.eq_ignore_ascii_case(frame));
    let (state, reason) = match (covered, usable) {
        (true, true) => (ProtectionState::Protected, None),
        (true, false) => (
            ProtectionState::NoBackup,
            Some("no usable backup yet: back it up now or wait for the next scheduled run".into()),
        ),
        (false, _) => (
            ProtectionState::NoDr,
            Some(match dr {
                Some(d) => format!(
                    "disaster recovery of this cloud account covers Frame account {}, not {frame}",
                    d.frame_account
                ),
                None => "disaster recovery is not enabled for this cloud account: enable DR to replicate its backups".into(),
            }),
        ),
    };
    Protection {
        state,
        covered_by_dr: covered,
        has_usable_backup: usable,
        reason,
    }
}

fn row_from(
    a: VolumeAggregate,
    dr: Option<&DrConfig>,
    autogrow_on: bool,
    pending: &HashMap<String, PendingGrowth>,
) -> VolumeRow {
    let r = a.resource;
    VolumeRow {
        protection: protection(r.kind, dr, &r.frame_account, a.backup.is_some()),
        autogrow: VolumeAutogrow {
            enabled: autogrow_on && r.kind.is_protected(),
            pending: pending.get(&provider_key(&r.provider_id)).cloned(),
        },
        last_backup: a.backup.map(|b| LastBackup {
            id: b.id,
            name: b.name,
            kind: b.kind,
            created_at: b.created_at,
        }),
        replica: a.replica.map(|x| LastReplica {
            id: x.id,
            state: x.state,
            percent: x.percent,
            created_at: x.created_at,
        }),
        free_space: None,
        volume_id: r.provider_id,
        name: r.name,
        kind: r.kind,
        frame_account: r.frame_account,
        owner: r.owner,
        size_bytes: r.size_bytes,
        desktop_state: r.desktop_state,
        power: r.power,
        power_detail: r.power_detail,
        location: r.location,
        seen_at: a.seen_at,
    }
}

/// The Volumes table from the catalog alone (free space not read): one SQL pass over the
/// discovery cache joined with each volume's newest backup and replica. `account` is an id or a
/// name.
pub fn volume_rows(
    catalog: &Catalog,
    account: &str,
    frame_account: Option<&str>,
) -> Result<Vec<VolumeRow>, OverviewError> {
    let acc = account_of(catalog, account)?;
    rows_of(catalog, &acc.id, frame_account)
}

fn rows_of(
    catalog: &Catalog,
    account_id: &str,
    frame_account: Option<&str>,
) -> Result<Vec<VolumeRow>, OverviewError> {
    let dr = catalog.dr_config(account_id)?;
    let autogrow_on = autogrow::settings(catalog, account_id)?.enabled;
    let pending: HashMap<String, PendingGrowth> = autogrow::pending(catalog, account_id)?
        .into_iter()
        .map(|(id, p)| (provider_key(&id), p))
        .collect();
    Ok(catalog
        .volume_aggregates(account_id, frame_account)?
        .into_iter()
        .map(|a| row_from(a, dr.as_ref(), autogrow_on, &pending))
        .collect())
}

/// Fills each row's free space from one reading of the guest agent. Volumes are matched as
/// [`guest::GuestReport::volume`] matches them (by provider id, else by name), through maps so
/// that 5,000 rows against 5,000 guest volumes stay linear.
pub fn fill_free_space(rows: &mut [VolumeRow], observed: &Observed) {
    let report = match observed {
        Observed::Unknown(why) => {
            for r in rows {
                r.free_space = Some(FreeSpace::Unknown { why: why.clone() });
            }
            return;
        }
        Observed::Read(g) => g,
    };
    let mut by_id: HashMap<String, &GuestVolume> = HashMap::new();
    let mut by_name: HashMap<String, &GuestVolume> = HashMap::new();
    for v in &report.volumes {
        by_id.entry(provider_key(&v.id)).or_insert(v);
        by_name.entry(v.name.to_lowercase()).or_insert(v);
    }
    for r in rows {
        let found = by_id
            .get(&provider_key(&r.volume_id))
            .or_else(|| by_name.get(&r.name.to_lowercase()));
        r.free_space = Some(match found.and_then(|v| v.free_bytes) {
            Some(free_bytes) => FreeSpace::Known {
                free_bytes,
                source: report.source.clone(),
            },
            None if found.is_some() => FreeSpace::Unknown {
                why: format!(
                    "the guest agent ({}) does not report the free space of {}",
                    report.source, r.name
                ),
            },
            None => FreeSpace::Unknown {
                why: format!(
                    "the guest agent ({}) does not know {}",
                    report.source, r.name
                ),
            },
        });
    }
}

/// The Volumes table with free space: the catalog's rows, then one reading of the account's
/// guest agent (no lock is held while it answers).
pub async fn volume_overview(
    catalog: &SharedCatalog,
    account: &str,
    frame_account: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<VolumeOverview, OverviewError> {
    let (acc, dr, settings, mut rows) = {
        let c = catalog.lock();
        let acc = account_of(&c, account)?;
        let dr = c.dr_config(&acc.id)?;
        let settings = autogrow::settings(&c, &acc.id)?;
        let rows = rows_of(&c, &acc.id, frame_account)?;
        (acc, dr, settings, rows)
    };
    let observed = guest::read_for(catalog, &acc.id).await;
    fill_free_space(&mut rows, &observed);
    Ok(VolumeOverview {
        guest: match &observed {
            Observed::Read(g) => GuestReading::Read {
                source: g.source.clone(),
            },
            Observed::Unknown(why) => GuestReading::Unknown { why: why.clone() },
        },
        at: now.to_rfc3339(),
        account_id: acc.id,
        account_name: acc.name,
        provider: acc.kind,
        frame_account: frame_account.map(str::to_string),
        dr,
        autogrow: settings,
        rows,
    })
}

// ---- the dashboard -----------------------------------------------------------------------

/// A point in time and how old it is at the dashboard's `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Age {
    /// RFC 3339.
    pub at: String,
    /// Seconds before the dashboard's `at` (negative when the catalog's time is ahead of it).
    pub age_secs: f64,
}

/// Protection of one kind of resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct KindProtection {
    pub kind: ResourceKind,
    pub total: u32,
    /// State `protected`.
    pub protected: u32,
    /// Any other state (for template images: all of them, never backed up).
    pub not_protected: u32,
    /// Of those not protected: covered by DR but without a usable backup yet.
    pub no_backup: u32,
    /// Of those not protected: not covered by DR.
    pub no_dr: u32,
}

/// The protected volume whose newest usable backup is the oldest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct WorstVolume {
    pub volume_id: String,
    pub name: String,
    pub kind: ResourceKind,
    pub last_backup: Age,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Replication {
    /// The dashboard's `at` minus when the oldest primary backup whose replica is not yet
    /// available was taken; `None` when no copy is running.
    pub lag_secs: Option<f64>,
    /// RFC 3339: that oldest backup.
    pub oldest_waiting_at: Option<String>,
    /// Replicas being created or copied.
    pub in_progress: u32,
    /// Replicas that failed in the last [`RECENT_DAYS`] days.
    pub failed_recently: u32,
}

/// One Frame account of a cloud account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FrameDashboard {
    pub frame_account: String,
    /// The account's DR configuration when it covers this Frame account.
    pub dr: Option<DrConfig>,
    /// Volumes as last discovered (template images included, as not protected).
    pub volumes: u32,
    pub protected: u32,
    pub not_protected: u32,
    /// By kind, in the order of `ResourceKind`; kinds with no volume are left out.
    pub by_kind: Vec<KindProtection>,
    /// The newest usable primary backup of any of its volumes.
    pub newest_backup: Option<Age>,
    /// The newest usable replica.
    pub newest_replica: Option<Age>,
    pub worst_volume: Option<WorstVolume>,
    /// Protected kinds with no usable backup at all.
    pub without_backup: u32,
    /// The first few of them, by name.
    pub without_backup_names: Vec<String>,
    pub replication: Replication,
}

/// The next scheduled backup of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct NextRun {
    /// RFC 3339, UTC.
    pub at: String,
    /// The same instant as the schedule's local wall time (`YYYY-MM-DD HH:MM TZ`).
    pub local: String,
    pub in_secs: f64,
    pub frame_account: String,
}

/// A job that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FailedJob {
    pub id: String,
    pub kind: String,
    /// The job that started it (a backup of many volumes runs one job per volume).
    pub parent_id: Option<String>,
    /// Why it failed (the error), else its last message.
    pub error: String,
    /// RFC 3339: when it started and when it ended.
    pub created_at: String,
    pub failed_at: String,
}

impl From<FailedJobRow> for FailedJob {
    fn from(j: FailedJobRow) -> Self {
        Self {
            error: j.error.filter(|e| !e.is_empty()).unwrap_or(j.message),
            id: j.id,
            kind: j.kind,
            parent_id: j.parent_id,
            created_at: j.created_at,
            failed_at: j.updated_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RecentFailures {
    /// In the last [`RECENT_DAYS`] days.
    pub count: u32,
    /// The latest [`LATEST`], newest first.
    pub latest: Vec<FailedJob>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RecentSkips {
    /// In the last [`RECENT_DAYS`] days.
    pub count: u32,
    /// The latest [`LATEST`], newest first.
    pub latest: Vec<SkipRecord>,
}

/// One cloud account on the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AccountDashboard {
    pub account_id: String,
    pub account_name: String,
    pub provider: ProviderKind,
    /// `None` with `no_next_run` saying why (no schedule, switched off).
    pub next_run: Option<NextRun>,
    pub no_next_run: Option<String>,
    pub failed_jobs: RecentFailures,
    pub skipped: RecentSkips,
    /// Every Frame account it has a DR configuration, a schedule or discovered volumes for.
    /// Empty when none: discover the account's resources first.
    pub frame_accounts: Vec<FrameDashboard>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Dashboard {
    /// RFC 3339: the instant every age is measured from.
    pub at: String,
    /// RFC 3339: recent failures and skips are those since this instant.
    pub recent_since: String,
    pub accounts: Vec<AccountDashboard>,
}

fn age(at: &str, now: DateTime<Utc>) -> Option<Age> {
    let t = DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc);
    Some(Age {
        at: at.to_string(),
        age_secs: secs(now - t),
    })
}

fn secs(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// The dashboard at `now`, from the catalog alone.
pub fn dashboard(catalog: &Catalog, now: DateTime<Utc>) -> Result<Dashboard, OverviewError> {
    let since = (now - chrono::Duration::days(RECENT_DAYS)).to_rfc3339();
    let mut accounts = Vec::new();
    for acc in catalog.list_accounts()? {
        accounts.push(account_dashboard(catalog, &acc, now, &since)?);
    }
    Ok(Dashboard {
        at: now.to_rfc3339(),
        recent_since: since,
        accounts,
    })
}

fn account_dashboard(
    c: &Catalog,
    acc: &crate::model::CloudAccount,
    now: DateTime<Utc>,
    since: &str,
) -> Result<AccountDashboard, OverviewError> {
    let dr = c.dr_config(&acc.id)?;
    let schedule = c.schedule(&acc.id)?;
    // Frame accounts are compared without case, as Frame names them.
    let mut frames: BTreeMap<String, String> = BTreeMap::new();
    let names = dr
        .iter()
        .map(|d| d.frame_account.clone())
        .chain(schedule.iter().map(|s| s.frame_account.clone()))
        .chain(c.discovered_frame_accounts(&acc.id)?);
    for f in names {
        frames.entry(f.to_lowercase()).or_insert(f);
    }
    let (next_run, no_next_run) = match &schedule {
        None => (
            None,
            Some("no backup schedule is set for this account".to_string()),
        ),
        Some(s) => match s.schedule.next_runs(now, 1).first() {
            Some(t) => {
                let policy = s.schedule.policy_at(*t);
                let tz = crate::schedule::parse_tz(&policy.time_zone).unwrap_or(chrono_tz::UTC);
                (
                    Some(NextRun {
                        at: crate::schedule::due_key(*t),
                        local: t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
                        in_secs: secs(*t - now),
                        frame_account: policy.frame_account.clone(),
                    }),
                    None,
                )
            }
            None => (
                None,
                Some("scheduled backups are switched off for this account".to_string()),
            ),
        },
    };
    let (failed, failed_latest) = c.failed_jobs_since(&acc.id, since, LATEST)?;
    let (skipped, skipped_latest) = c.skips_since(&acc.id, since, LATEST)?;
    let mut frame_accounts = Vec::new();
    for frame in frames.into_values() {
        frame_accounts.push(frame_dashboard(
            c,
            &acc.id,
            dr.as_ref(),
            &frame,
            now,
            since,
        )?);
    }
    Ok(AccountDashboard {
        account_id: acc.id.clone(),
        account_name: acc.name.clone(),
        provider: acc.kind,
        next_run,
        no_next_run,
        failed_jobs: RecentFailures {
            count: failed,
            latest: failed_latest.into_iter().map(FailedJob::from).collect(),
        },
        skipped: RecentSkips {
            count: skipped,
            latest: skipped_latest,
        },
        frame_accounts,
    })
}

const KINDS: [ResourceKind; 6] = [
    ResourceKind::Sandbox,
    ResourceKind::UtilityServer,
    ResourceKind::PersistentDesktop,
    ResourceKind::EnterpriseProfile,
    ResourceKind::PersonalDrive,
    ResourceKind::TemplateImage,
];

fn frame_dashboard(
    c: &Catalog,
    account_id: &str,
    dr: Option<&DrConfig>,
    frame: &str,
    now: DateTime<Utc>,
    since: &str,
) -> Result<FrameDashboard, OverviewError> {
    let rows = rows_of(c, account_id, Some(frame))?;
    let mut by_kind: HashMap<ResourceKind, KindProtection> = HashMap::new();
    let mut worst: Option<(&VolumeRow, &LastBackup)> = None;
    let mut without: Vec<&str> = Vec::new();
    for r in &rows {
        let k = by_kind.entry(r.kind).or_insert(KindProtection {
            kind: r.kind,
            total: 0,
            protected: 0,
            not_protected: 0,
            no_backup: 0,
            no_dr: 0,
        });
        k.total += 1;
        match r.protection.state {
            ProtectionState::Protected => k.protected += 1,
            ProtectionState::NoBackup => {
                k.not_protected += 1;
                k.no_backup += 1
            }
            ProtectionState::NoDr => {
                k.not_protected += 1;
                k.no_dr += 1
            }
            ProtectionState::NotProtected => k.not_protected += 1,
        }
        if !r.kind.is_protected() {
            continue;
        }
        match &r.last_backup {
            None => without.push(&r.name),
            Some(b) => {
                if worst.is_none_or(|(_, w)| b.created_at < w.created_at) {
                    worst = Some((r, b));
                }
            }
        }
    }
    let backlog = c.replication_backlog(account_id, frame)?;
    let newest = |site| -> Result<Option<Age>, OverviewError> {
        Ok(c.newest_usable_backup_at(account_id, frame, site)?
            .and_then(|at| age(&at, now)))
    };
    let by_kind: Vec<KindProtection> = KINDS.iter().filter_map(|k| by_kind.remove(k)).collect();
    Ok(FrameDashboard {
        frame_account: frame.to_string(),
        dr: dr
            .filter(|d| d.frame_account.eq_ignore_ascii_case(frame))
            .cloned(),
        volumes: rows.len() as u32,
        protected: by_kind.iter().map(|k| k.protected).sum(),
        not_protected: by_kind.iter().map(|k| k.not_protected).sum(),
        by_kind,
        newest_backup: newest(BackupSite::Primary)?,
        newest_replica: newest(BackupSite::Replica)?,
        worst_volume: worst.and_then(|(r, b)| {
            Some(WorstVolume {
                volume_id: r.volume_id.clone(),
                name: r.name.clone(),
                kind: r.kind,
                last_backup: age(&b.created_at, now)?,
            })
        }),
        without_backup: without.len() as u32,
        without_backup_names: without
            .iter()
            .take(LATEST as usize)
            .map(|s| s.to_string())
            .collect(),
        replication: Replication {
            lag_secs: backlog
                .oldest_waiting
                .as_deref()
                .and_then(|at| age(at, now))
                .map(|a| a.age_secs),
            oldest_waiting_at: backlog.oldest_waiting,
            in_progress: backlog.in_progress,
            failed_recently: c.failed_replicas_since(account_id, frame, since)?,
        },
    })
}

// ---- the secondary's headroom ------------------------------------------------------------

/// One quota counter of the Azure secondary region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct QuotaHeadroom {
    /// What an administrator reads (`snapshots`, `Total Regional vCPUs`).
    pub name: String,
    /// ARM's usage code.
    pub code: String,
    pub current: u32,
    pub limit: u32,
    /// `limit - current` (0 when already at or over the limit).
    pub headroom: u32,
    /// What the account's replicas and a restore there would add, when Standby estimates it
    /// (snapshots and disks); `None` for counters it does not (cores, VMs).
    pub needed: Option<u32>,
    pub ok: bool,
    pub message: Option<String>,
}

/// One storage container of the AHV secondary that receives replicas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ContainerHeadroom {
    /// The primary container mapped to it (`None` when no mapping names it).
    pub source: Option<String>,
    pub container: String,
    pub capacity_bytes: Option<f64>,
    /// `None` with `unknown` saying why when Prism does not report it.
    pub free_bytes: Option<f64>,
    pub unknown: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SecondaryHeadroom {
    Azure {
        region: String,
        /// Blocking problems the region check found (region unavailable, a counter missing).
        problems: Vec<String>,
        /// Replicas kept per volume assumed for `needed` (the schedule's number kept, else 1).
        replicas_assumed: u32,
        lines: Vec<QuotaHeadroom>,
    },
    Ahv {
        secondary_account_id: String,
        secondary_account_name: String,
        containers: Vec<ContainerHeadroom>,
    },
}

/// Usage counters of compute read besides the disk and snapshot counters the DR check weighs.
const COMPUTE_USAGES: [&str; 2] = ["cores", "virtualMachines"];

/// The secondary's room for more replicas and restores, read live: Azure's quota counters in
/// the secondary region (the Enable DR wizard's region check, plus cores and VMs), or the free
/// space of the AHV secondary's receiving containers as Prism reports it.
pub async fn secondary_headroom(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account: &str,
) -> Result<SecondaryHeadroom, OverviewError> {
    let (acc, dr, keep) = {
        let c = report.catalog.lock();
        let acc = account_of(&c, account)?;
        let dr = c.dr_config(&acc.id)?;
        let keep = c.schedule(&acc.id)?.map(|s| s.schedule.in_force.keep);
        (acc, dr, keep)
    };
    let Some(dr) = dr else {
        return Err(OverviewError::NoDr(acc.name));
    };
    match dr.target {
        DrTarget::Azure {
            secondary_region, ..
        } => {
            let (a, overrides) = {
                let c = report.catalog.lock();
                let accounts = Accounts { catalog: &c, store };
                let a = connect::azure(&accounts, &acc.id, report.clock.clone())?;
                let overrides = c.mapping_overrides(&a.account.id)?;
                (a, overrides)
            };
            let groups = &a.settings.resource_groups;
            let resources = a
                .client
                .discover(&dr.frame_account, groups, &overrides)
                .await?;
            let mut disks = Vec::new();
            for rg in groups {
                disks.extend(a.client.list_disks(rg).await?);
            }
            let replicas = keep.unwrap_or(1).max(1);
            let needs = DrNeeds::for_account(&resources, &disks, replicas);
            let check = a
                .client
                .check_dr_region(&a.settings.primary_region, &secondary_region, &needs)
                .await?;
            let mut lines: Vec<QuotaHeadroom> = Vec::new();
            if check.usable() {
                for u in a.client.usages(&secondary_region).await? {
                    if !COMPUTE_USAGES
                        .iter()
                        .any(|c| u.code().eq_ignore_ascii_case(c))
                    {
                        continue;
                    }
                    let (current, limit) = (clamp(u.current_value), clamp(u.limit));
                    lines.push(QuotaHeadroom {
                        name: u.label().to_string(),
                        code: u.code().to_string(),
                        current,
                        limit,
                        headroom: limit.saturating_sub(current),
                        needed: None,
                        ok: current <= limit,
                        message: None,
                    });
                }
            }
            lines.extend(check.quota.lines.into_iter().map(|l| QuotaHeadroom {
                headroom: l.limit.saturating_sub(l.current),
                needed: Some(l.needed),
                name: l.name,
                code: l.code,
                current: l.current,
                limit: l.limit,
                ok: l.ok,
                message: l.message,
            }));
            Ok(SecondaryHeadroom::Azure {
                region: check.secondary,
                problems: check.problems,
                replicas_assumed: replicas,
                lines,
            })
        }
        DrTarget::Ahv {
            secondary_account_id,
            secondary_account_name,
            mappings,
            ..
        } => {
            let secondary = {
                let c = report.catalog.lock();
                connect::ahv(&Accounts { catalog: &c, store }, &secondary_account_id)?
            };
            let found = secondary.client.storage_containers().await?;
            let mut containers = Vec::new();
            let wanted: Vec<(Option<String>, String)> = if mappings.is_empty() {
                found
                    .iter()
                    .filter(|c| !c.is_nutanix_managed.unwrap_or(false))
                    .map(|c| (None, c.name.clone()))
                    .collect()
            } else {
                mappings
                    .iter()
                    .map(|m| (Some(m.source.clone()), m.destination.clone()))
                    .collect()
            };
            for (source, name) in wanted {
                let c = found.iter().find(|c| c.name.eq_ignore_ascii_case(&name));
                let free = c.and_then(|c| c.free_bytes()).map(|b| b as f64);
                let unknown = match (c, free) {
                    (None, _) => Some(format!(
                        "{secondary_account_name} has no storage container named {name}: check the vStore mapping of the DR configuration"
                    )),
                    (Some(_), None) => Some(format!(
                        "Prism on {secondary_account_name} does not report the free space of {name}"
                    )),
                    _ => None,
                };
                containers.push(ContainerHeadroom {
                    source,
                    capacity_bytes: c.and_then(|c| c.capacity_bytes()).map(|b| b as f64),
                    container: name,
                    free_bytes: free,
                    unknown,
                });
            }
            Ok(SecondaryHeadroom::Ahv {
                secondary_account_id,
                secondary_account_name,
                containers,
            })
        }
    }
}

fn clamp(v: i64) -> u32 {
    v.clamp(0, u32::MAX as i64) as u32
}
