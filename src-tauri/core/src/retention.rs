//! Retention: which backups to delete so that each volume keeps the number of backups its policy
//! sets, and deleting them (the snapshot at the provider, then the row).
//!
//! Counting. Backups are counted per volume, per site (primary and replica apart) and per kind:
//! scheduled backups against the count, post-session backups against the same count separately,
//! and manual and safety backups only when asked (`include_manual`). The count is the volume's
//! `retention` policy, else the account's, else (for scheduled and post-session backups) the
//! schedule's number retained; with none of them nothing is deleted.
//!
//! Never deleted, whatever the count: the newest usable backup of a volume at a site; a backup
//! whose copy to the secondary is still running (deleting the source makes the copy fail); the
//! newest replica and the primary it was copied from (the next incremental copy is computed
//! against them); a backup still being made; a failed one (left for the administrator to read).
//!
//! AHV: one protection-domain snapshot holds every volume of the domain, so several rows share a
//! `provider_ref` (`"{pd}:{snapshot_id}"`). A row can go on its own; the snapshot goes only with
//! its last row. The same grouping holds for Azure, where each snapshot has one row.
//!
//! `preview` says exactly what `apply` would delete and why each other backup is kept, before
//! anything is saved; `apply` saves the count given (if any), deletes, and reports.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::audit::{self, NewAuditEntry};
use crate::backup::{Backup, BackupKind, BackupSite, BackupState};
use crate::catalog::CatalogError;
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::{DrTarget, Report};
use crate::model::ProviderKind;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::azure::{ArmError, ResourceId};
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

/// The policy kind (`policies.kind`); scope `""` for the account, a volume id for one volume.
pub const POLICY_KIND: &str = "retention";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RetentionPolicy {
    /// Backups kept per volume, site and kind.
    pub keep: u32,
}

/// Why a backup is kept or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    /// Among the newest `keep` of its volume, site and kind.
    WithinCount,
    /// Older than the newest `keep`: deleted.
    BeyondCount,
    /// The newest usable backup of its volume at its site.
    NewestUsable,
    /// Its copy to the secondary is still running.
    CopySource,
    /// The newest replica, or the primary it was copied from: the next incremental copy needs it.
    IncrementalBase,
    /// Still being made.
    InProgress,
    /// Failed: not usable, left for the administrator to read.
    Failed,
    /// A manual or safety backup, and `include_manual` was not asked.
    Manual,
    /// No retention count applies to it.
    NoCount,
    /// Its deletion was refused or failed; tried again next time.
    DeleteFailed,
}

/// One backup's fate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Verdict {
    pub backup: Backup,
    pub delete: bool,
    pub why: Why,
    /// The reason in words.
    pub detail: String,
    /// When a kept backup is expected to be deleted (scheduled backups, from the schedule's next
    /// runs), RFC 3339.
    pub expires_at: Option<String>,
}

/// The count in force for a volume and kind, and where it comes from.
pub trait Counts {
    fn keep(&self, volume_id: &str, kind: BackupKind) -> Option<u32>;
    /// When the `n`-th next scheduled backup is due (1 = the next), if a schedule says.
    fn nth_next_run(&self, n: u32) -> Option<DateTime<Utc>>;
}

fn group_kind(k: BackupKind) -> u8 {
    match k {
        BackupKind::Scheduled => 0,
        BackupKind::PostSession => 1,
        BackupKind::Manual | BackupKind::Safety => 2,
    }
}

/// The verdict on every row of an account (pure: everything it needs is passed in). `rows` are
/// all the account's backups, any order.
pub fn decide(rows: &[Backup], counts: &dyn Counts, include_manual: bool) -> Vec<Verdict> {
    let mut sorted: Vec<&Backup> = rows.iter().collect();
    // Newest first; ties broken by id so the outcome never depends on the catalog's order.
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));

    let copying: HashSet<&str> = rows
        .iter()
        .filter(|b| b.site == BackupSite::Replica && b.state == BackupState::Replicating)
        .filter_map(|b| b.replica_of.as_deref())
        .collect();
    // The newest usable backup per (volume, site), any kind.
    let mut newest: HashMap<(&str, u8), &str> = HashMap::new();
    for b in &sorted {
        if b.state == BackupState::Available {
            newest
                .entry((b.volume_id.as_str(), b.site as u8))
                .or_insert(b.id.as_str());
        }
    }
    // The primaries the newest replicas were copied from.
    let bases: HashSet<&str> = sorted
        .iter()
        .filter(|b| {
            b.site == BackupSite::Replica
                && newest.get(&(b.volume_id.as_str(), b.site as u8)) == Some(&b.id.as_str())
        })
        .filter_map(|b| b.replica_of.as_deref())
        .collect();

    let mut rank: HashMap<(&str, u8, u8), u32> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for b in sorted {
        let verdict =
            |delete: bool, why: Why, detail: String, expires_at: Option<String>| Verdict {
                backup: b.clone(),
                delete,
                why,
                detail,
                expires_at,
            };
        match b.state {
            BackupState::Creating | BackupState::Replicating => {
                out.push(verdict(
                    false,
                    Why::InProgress,
                    "still being made".into(),
                    None,
                ));
                continue;
            }
            BackupState::Failed => {
                out.push(verdict(
                    false,
                    Why::Failed,
                    "failed: left for you to read and delete".into(),
                    None,
                ));
                continue;
            }
            BackupState::Available => {}
        }
        let manual = matches!(b.kind, BackupKind::Manual | BackupKind::Safety);
        // Every usable backup of its group counts toward the group's rank, protected or not.
        let r = {
            let e = rank
                .entry((b.volume_id.as_str(), b.site as u8, group_kind(b.kind)))
                .or_insert(0);
            *e += 1;
            *e
        };
        let protected = if newest.get(&(b.volume_id.as_str(), b.site as u8)) == Some(&b.id.as_str())
        {
            Some((
                if b.site == BackupSite::Replica {
                    Why::IncrementalBase
                } else {
                    Why::NewestUsable
                },
                if b.site == BackupSite::Replica {
                    "the newest replica: the next incremental copy is made against it".to_string()
                } else {
                    "the newest usable backup of this volume".to_string()
                },
            ))
        } else if copying.contains(b.id.as_str()) {
            Some((
                Why::CopySource,
                "its copy to the secondary is still running".into(),
            ))
        } else if bases.contains(b.id.as_str()) {
            Some((
                Why::IncrementalBase,
                "the source of the newest replica: the next incremental copy is made against it"
                    .into(),
            ))
        } else {
            None
        };
        if manual && !include_manual {
            let (why, detail) = protected.unwrap_or((
                Why::Manual,
                format!(
                    "a {} backup: deleted only when asked (--include-manual)",
                    b.kind.as_str()
                ),
            ));
            out.push(verdict(false, why, detail, None));
            continue;
        }
        let Some(keep) = counts.keep(&b.volume_id, b.kind) else {
            let (why, detail) =
                protected.unwrap_or((Why::NoCount, "no retention count applies to it".into()));
            out.push(verdict(false, why, detail, None));
            continue;
        };
        if r <= keep {
            // A scheduled backup ranked r of keep leaves after keep - r + 1 more scheduled runs.
            let expires = (b.kind == BackupKind::Scheduled && protected.is_none())
                .then(|| counts.nth_next_run(keep - r + 1))
                .flatten()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let (why, detail) = protected.unwrap_or((
                Why::WithinCount,
                format!(
                    "number {r} of the {keep} newest {} backups kept",
                    b.kind.as_str()
                ),
            ));
            out.push(verdict(false, why, detail, expires));
        } else if let Some((why, detail)) = protected {
            out.push(verdict(false, why, detail, None));
        } else {
            out.push(verdict(
                true,
                Why::BeyondCount,
                format!(
                    "number {r}: older than the {keep} newest {} backups kept",
                    b.kind.as_str()
                ),
                None,
            ));
        }
    }
    out
}

/// One snapshot at the provider that retention deletes: it goes only when every row that
/// references it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SnapshotDeletion {
    pub site: BackupSite,
    pub provider_ref: String,
    /// The rows removed with it.
    pub backup_ids: Vec<String>,
}

fn ref_key(s: &str) -> String {
    s.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// The snapshots to delete and the rows that are only forgotten (their snapshot is shared with a
/// row that stays).
pub fn snapshot_deletions(verdicts: &[Verdict]) -> (Vec<SnapshotDeletion>, Vec<String>) {
    let mut by_ref: BTreeMap<(u8, String), (String, Vec<&Verdict>)> = BTreeMap::new();
    let mut rows_only = Vec::new();
    for v in verdicts {
        match &v.backup.provider_ref {
            Some(r) if !r.trim().is_empty() => by_ref
                .entry((v.backup.site as u8, ref_key(r)))
                .or_insert_with(|| (r.clone(), Vec::new()))
                .1
                .push(v),
            _ => {
                if v.delete {
                    rows_only.push(v.backup.id.clone());
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((_, _), (r, vs)) in by_ref {
        let gone: Vec<String> = vs
            .iter()
            .filter(|v| v.delete)
            .map(|v| v.backup.id.clone())
            .collect();
        if gone.is_empty() {
            continue;
        }
        if gone.len() == vs.len() {
            out.push(SnapshotDeletion {
                site: vs[0].backup.site,
                provider_ref: r,
                backup_ids: gone,
            });
        } else {
            rows_only.extend(gone);
        }
    }
    (out, rows_only)
}

/// "What would retention do on this account (or this volume)?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct RetentionRequest {
    /// The cloud account (name or id).
    pub account: String,
    /// Only this volume (its id or name).
    pub volume: Option<String>,
    /// A new count: for the volume when one is named, else for the account. `preview` only
    /// shows its effect; `apply` saves it.
    pub keep: Option<u32>,
    #[serde(default)]
    pub include_manual: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RetentionPreview {
    pub account_id: String,
    pub account_name: String,
    /// Every backup in scope: what is deleted and why the others are kept.
    pub verdicts: Vec<Verdict>,
    /// The snapshots deleted at the provider.
    pub snapshots: Vec<SnapshotDeletion>,
    /// Rows removed whose snapshot stays (shared with a kept row).
    pub rows_only: Vec<String>,
}

impl RetentionPreview {
    pub fn deleted(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.delete)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RetentionOutcome {
    pub preview: RetentionPreview,
    /// Backups deleted (rows removed).
    pub deleted: Vec<String>,
    /// Deletions refused or failed (kept, tried again next time), with the provider's words.
    pub failed: Vec<(String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(
        "{0} has no backups of a volume named {1:?}: see `standbyctl backup list --account {0}`"
    )]
    UnknownVolume(String, String),
    #[error("the number of backups kept must be between 1 and {max}, not {0}: the newest backup is always kept", max = crate::schedule::MAX_KEEP)]
    Keep(u32),
}

impl From<RetentionError> for ApiError {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Catalog(e) => e.into(),
            RetentionError::Connect(e) => e.into(),
            RetentionError::UnknownVolume(..) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            RetentionError::Keep(_) => ApiError::new(ErrorCode::InvalidInput, e.to_string()),
        }
    }
}

/// The counts stored for an account, with an override being previewed.
struct StoredCounts {
    account: Option<u32>,
    volumes: HashMap<String, u32>,
    schedule_keep: Option<u32>,
    next_runs: Vec<DateTime<Utc>>,
}

impl Counts for StoredCounts {
    fn keep(&self, volume_id: &str, kind: BackupKind) -> Option<u32> {
        let set = self
            .volumes
            .iter()
            .find(|(v, _)| ref_key(v) == ref_key(volume_id))
            .map(|(_, k)| *k)
            .or(self.account);
        match kind {
            BackupKind::Scheduled | BackupKind::PostSession => set.or(self.schedule_keep),
            BackupKind::Manual | BackupKind::Safety => set,
        }
    }

    fn nth_next_run(&self, n: u32) -> Option<DateTime<Utc>> {
        self.next_runs
            .get(usize::try_from(n).ok()?.checked_sub(1)?)
            .copied()
    }
}

struct Scope {
    account_id: String,
    account_name: String,
    kind: ProviderKind,
    /// The volume id the request narrows to.
    volume_id: Option<String>,
}

fn scope(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: &RetentionRequest,
) -> Result<(Scope, Vec<Backup>), RetentionError> {
    if let Some(k) = req.keep {
        if k == 0 || k > crate::schedule::MAX_KEEP {
            return Err(RetentionError::Keep(k));
        }
    }
    let c = report.catalog.lock();
    let (account, _) = Accounts { catalog: &c, store }
        .settings(&req.account)
        .map_err(ConnectError::from)?;
    let rows = c.list_backups(Some(&account.id), None)?;
    let volume_id = match &req.volume {
        None => None,
        Some(v) => Some(
            rows.iter()
                .find(|b| {
                    ref_key(&b.volume_id) == ref_key(v)
                        || b.volume_name.eq_ignore_ascii_case(v.trim())
                })
                .map(|b| b.volume_id.clone())
                .ok_or_else(|| RetentionError::UnknownVolume(account.name.clone(), v.clone()))?,
        ),
    };
    Ok((
        Scope {
            account_id: account.id,
            account_name: account.name,
            kind: account.kind,
            volume_id,
        },
        rows,
    ))
}

fn counts(
    report: &Report<'_>,
    s: &Scope,
    req: &RetentionRequest,
) -> Result<StoredCounts, CatalogError> {
    let c = report.catalog.lock();
    let now = report.clock.now();
    let mut account = c
        .policy::<RetentionPolicy>(&s.account_id, POLICY_KIND, "")?
        .map(|p| p.keep);
    let mut volumes: HashMap<String, u32> = c
        .policies::<RetentionPolicy>(&s.account_id, POLICY_KIND)?
        .into_iter()
        .filter(|(scope, _)| !scope.is_empty())
        .map(|(scope, p)| (scope, p.keep))
        .collect();
    if let Some(k) = req.keep {
        match &s.volume_id {
            Some(v) => {
                volumes.insert(v.clone(), k);
            }
            None => account = Some(k),
        }
    }
    let schedule = c.schedule(&s.account_id)?.map(|st| st.schedule);
    let schedule_keep = schedule.as_ref().map(|sc| sc.policy_at(now).keep);
    let next_runs = schedule
        .map(|sc| sc.next_runs(now, crate::schedule::MAX_KEEP as usize + 1))
        .unwrap_or_default();
    Ok(StoredCounts {
        account,
        volumes,
        schedule_keep,
        next_runs,
    })
}

/// What `apply` with the same request would delete, and why every other backup is kept.
/// Changes nothing.
pub fn preview(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: &RetentionRequest,
) -> Result<RetentionPreview, RetentionError> {
    let (s, rows) = scope(report, store, req)?;
    Ok(preview_in(report, &s, req, &rows)?)
}

fn preview_in(
    report: &Report<'_>,
    s: &Scope,
    req: &RetentionRequest,
    rows: &[Backup],
) -> Result<RetentionPreview, CatalogError> {
    let counts = counts(report, s, req)?;
    let all = decide(rows, &counts, req.include_manual);
    // Narrowing to a volume: the other volumes' rows are kept as they are, but they still count
    // when deciding whether a shared AHV snapshot can go.
    let in_scope = |v: &Verdict| {
        s.volume_id
            .as_ref()
            .is_none_or(|id| ref_key(id) == ref_key(&v.backup.volume_id))
    };
    let scoped: Vec<Verdict> = all
        .into_iter()
        .map(|mut v| {
            if !in_scope(&v) {
                v.delete = false;
            }
            v
        })
        .collect();
    let (snapshots, rows_only) = snapshot_deletions(&scoped);
    Ok(RetentionPreview {
        account_id: s.account_id.clone(),
        account_name: s.account_name.clone(),
        verdicts: scoped.into_iter().filter(in_scope).collect(),
        snapshots,
        rows_only,
    })
}

/// The provider clients a deletion needs, made on first use.
struct Deleter<'a> {
    report: &'a Report<'a>,
    store: &'a dyn SecretStore,
    s: &'a Scope,
    azure: Option<crate::providers::azure::ArmClient>,
    prism: HashMap<u8, crate::providers::prism::PrismClient>,
}

impl Deleter<'_> {
    async fn delete(&mut self, d: &SnapshotDeletion) -> Result<(), crate::error::Unknown> {
        match self.s.kind {
            ProviderKind::Azure => {
                if self.azure.is_none() {
                    let c = self.report.catalog.lock();
                    let a = connect::azure(
                        &Accounts {
                            catalog: &c,
                            store: self.store,
                        },
                        &self.s.account_id,
                        self.report.clock.clone(),
                    )
                    .map_err(|e| e.to_string())?;
                    self.azure = Some(a.client);
                }
                let arm = self.azure.as_ref().expect("made above");
                let id = ResourceId::parse(&d.provider_ref).map_err(|e| e.to_string())?;
                match arm.delete_snapshot(&id).await {
                    Ok(()) | Err(ArmError::Api { status: 404, .. }) => Ok(()),
                    Err(e) => Err(crate::error::Unknown(e.to_string())),
                }
            }
            ProviderKind::Ahv => {
                let (pd, snap) = d.provider_ref.split_once(':').ok_or_else(|| {
                    format!(
                        "{:?} is not a protection-domain snapshot reference (pd:snapshot)",
                        d.provider_ref
                    )
                })?;
                if !self.prism.contains_key(&(d.site as u8)) {
                    let c = self.report.catalog.lock();
                    let account = match d.site {
                        BackupSite::Primary => self.s.account_id.clone(),
                        BackupSite::Replica => match c.dr_config(&self.s.account_id).map_err(|e| e.to_string())? {
                            Some(cfg) => match cfg.target {
                                DrTarget::Ahv { secondary_account_id, .. } => secondary_account_id,
                                DrTarget::Azure { .. } => return Err("the DR target of an AHV account is not an AHV cluster".into()),
                            },
                            None => return Err("disaster recovery is no longer configured: the secondary cluster holding this replica is unknown; delete it in Prism".into()),
                        },
                    };
                    let a = connect::ahv(
                        &Accounts {
                            catalog: &c,
                            store: self.store,
                        },
                        &account,
                    )
                    .map_err(|e| e.to_string())?;
                    self.prism.insert(d.site as u8, a.client);
                }
                let prism = &self.prism[&(d.site as u8)];
                match prism.delete_snapshot(pd, snap).await {
                    Ok(()) | Err(PrismError::NotFound { .. }) => Ok(()),
                    Err(e) => Err(crate::error::Unknown(e.to_string())),
                }
            }
        }
    }
}

/// Applies retention: saves the count given (if any), deletes what [`preview`] lists (the
/// snapshot first, then its rows; a refused deletion keeps its rows, to be tried next time), sets
/// the expiry of kept scheduled backups, and records the audit entry and a notification.
pub async fn apply(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: &RetentionRequest,
    actor: &str,
) -> Result<RetentionOutcome, RetentionError> {
    let (s, rows) = scope(report, store, req)?;
    if let Some(keep) = req.keep {
        let c = report.catalog.lock();
        c.set_policy(
            &s.account_id,
            POLICY_KIND,
            s.volume_id.as_deref().unwrap_or(""),
            &RetentionPolicy { keep },
            &report.clock.now().to_rfc3339(),
        )?;
    }
    let stored = RetentionRequest {
        keep: None,
        ..req.clone()
    };
    let mut preview = preview_in(report, &s, &stored, &rows)?;
    let mut deleter = Deleter {
        report,
        store,
        s: &s,
        azure: None,
        prism: HashMap::new(),
    };
    let mut deleted: Vec<String> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    for d in &preview.snapshots {
        match deleter.delete(d).await {
            Ok(()) => {
                report.catalog.lock().delete_backups(&d.backup_ids)?;
                deleted.extend(d.backup_ids.iter().cloned());
            }
            Err(e) => {
                tracing::warn!(snapshot = %d.provider_ref, "retention could not delete: {e}");
                failed.extend(d.backup_ids.iter().map(|id| (id.clone(), e.0.clone())));
            }
        }
    }
    if !preview.rows_only.is_empty() {
        report.catalog.lock().delete_backups(&preview.rows_only)?;
        deleted.extend(preview.rows_only.iter().cloned());
    }
    for v in &mut preview.verdicts {
        if let Some((_, e)) = failed.iter().find(|(id, _)| *id == v.backup.id) {
            v.delete = false;
            v.why = Why::DeleteFailed;
            v.detail = format!("could not be deleted (tried again next time): {e}");
        }
    }
    let expiries: Vec<(String, Option<String>)> = preview
        .verdicts
        .iter()
        .filter(|v| !v.delete)
        .map(|v| (v.backup.id.clone(), v.expires_at.clone()))
        .collect();
    report.catalog.lock().set_backup_expiries(&expiries)?;
    announce(report, &s, req, actor, &deleted, &failed, &preview);
    Ok(RetentionOutcome {
        preview,
        deleted,
        failed,
    })
}

fn announce(
    report: &Report<'_>,
    s: &Scope,
    req: &RetentionRequest,
    actor: &str,
    deleted: &[String],
    failed: &[(String, String)],
    preview: &RetentionPreview,
) {
    let c = report.catalog.lock();
    let entry = NewAuditEntry::new(actor, "retention.apply")
        .account(s.account_id.clone())
        .detail(serde_json::json!({
            "volume": req.volume,
            "keep": req.keep,
            "include_manual": req.include_manual,
            "deleted": deleted,
            "failed": failed.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        }));
    if let Err(e) = audit::record(&c, report.clock.as_ref(), &entry) {
        tracing::error!("the audit log could not be written: {e}");
    }
    // Nothing to say when nothing happened: a scheduler applying retention after every run
    // would otherwise fill the notification center.
    if deleted.is_empty() && failed.is_empty() {
        return;
    }
    let kept = preview.verdicts.iter().filter(|v| !v.delete).count();
    let snaps = preview.snapshots.len();
    let (level, body) = if failed.is_empty() {
        (
            NotificationLevel::Success,
            format!(
                "Retention deleted {} backups of {} ({snaps} snapshots); {kept} kept.",
                deleted.len(),
                s.account_name
            ),
        )
    } else {
        (
            NotificationLevel::Warning,
            format!(
                "Retention deleted {} backups of {}; {} could not be deleted and are kept, to be tried again next time: {}",
                deleted.len(),
                s.account_name,
                failed.len(),
                failed[0].1
            ),
        )
    };
    let note = NewNotification::new(level, format!("Retention on {}", s.account_name), body)
        .account(s.account_id.clone());
    report.announce_in(&c, &note);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Option<u32>, Vec<DateTime<Utc>>);

    impl Counts for Fixed {
        fn keep(&self, _: &str, kind: BackupKind) -> Option<u32> {
            match kind {
                BackupKind::Manual | BackupKind::Safety => self.0,
                _ => self.0,
            }
        }
        fn nth_next_run(&self, n: u32) -> Option<DateTime<Utc>> {
            self.1.get(n as usize - 1).copied()
        }
    }

    fn row(id: &str, vol: &str, day: u32, kind: BackupKind, site: BackupSite) -> Backup {
        Backup {
            id: id.into(),
            job_id: None,
            account_id: "a".into(),
            frame_account: "acme-pd".into(),
            volume_id: vol.into(),
            volume_name: vol.into(),
            name: id.into(),
            kind,
            site,
            location: "westeurope".into(),
            provider_ref: Some(format!("/subscriptions/s/snapshots/{id}")),
            state: BackupState::Available,
            percent: 100.0,
            replica_of: None,
            error: None,
            created_at: format!("2026-01-{day:02}T02:00:00Z"),
            updated_at: format!("2026-01-{day:02}T02:00:00Z"),
        }
    }

    fn sched(id: &str, day: u32) -> Backup {
        row(id, "v1", day, BackupKind::Scheduled, BackupSite::Primary)
    }

    fn deleted(v: &[Verdict]) -> Vec<&str> {
        let mut d: Vec<&str> = v
            .iter()
            .filter(|v| v.delete)
            .map(|v| v.backup.id.as_str())
            .collect();
        d.sort();
        d
    }

    fn why<'a>(v: &'a [Verdict], id: &str) -> &'a Verdict {
        v.iter().find(|v| v.backup.id == id).unwrap()
    }

    #[test]
    fn keeps_the_newest_n_per_volume_and_deletes_the_rest() {
        let rows: Vec<Backup> = (1..=5).map(|d| sched(&format!("s{d}"), d)).collect();
        let v = decide(&rows, &Fixed(Some(2), vec![]), false);
        assert_eq!(deleted(&v), ["s1", "s2", "s3"]);
        assert_eq!(why(&v, "s5").why, Why::NewestUsable);
        assert_eq!(why(&v, "s4").why, Why::WithinCount);
        assert_eq!(why(&v, "s1").why, Why::BeyondCount);
        // Another volume is counted on its own.
        let mut rows = rows;
        rows.push(row(
            "o1",
            "v2",
            1,
            BackupKind::Scheduled,
            BackupSite::Primary,
        ));
        let v = decide(&rows, &Fixed(Some(2), vec![]), false);
        assert!(!why(&v, "o1").delete);
    }

    #[test]
    fn without_a_count_nothing_is_deleted() {
        let rows: Vec<Backup> = (1..=5).map(|d| sched(&format!("s{d}"), d)).collect();
        let v = decide(&rows, &Fixed(None, vec![]), true);
        assert!(deleted(&v).is_empty());
        assert_eq!(why(&v, "s1").why, Why::NoCount);
    }

    #[test]
    fn manual_backups_are_touched_only_when_asked() {
        let mut rows: Vec<Backup> = (1..=3).map(|d| sched(&format!("s{d}"), d)).collect();
        rows.push(row("m1", "v1", 1, BackupKind::Manual, BackupSite::Primary));
        rows.push(row("m2", "v1", 2, BackupKind::Manual, BackupSite::Primary));
        rows.push(row("x1", "v1", 3, BackupKind::Safety, BackupSite::Primary));
        let v = decide(&rows, &Fixed(Some(1), vec![]), false);
        assert_eq!(deleted(&v), ["s1", "s2"]);
        assert_eq!(why(&v, "m1").why, Why::Manual);
        let v = decide(&rows, &Fixed(Some(1), vec![]), true);
        // Manual and safety count together, apart from the scheduled ones.
        assert_eq!(deleted(&v), ["m1", "m2", "s1", "s2"]);
    }

    #[test]
    fn the_newest_usable_backup_is_never_deleted() {
        // The newest scheduled backup failed and another is being made: the newest usable one
        // stays even though it is beyond the count... of one that only failures fill.
        let mut rows: Vec<Backup> = (1..=3).map(|d| sched(&format!("s{d}"), d)).collect();
        let mut f = sched("f4", 4);
        f.state = BackupState::Failed;
        let mut c = sched("c5", 5);
        c.state = BackupState::Creating;
        rows.push(f);
        rows.push(c);
        let v = decide(&rows, &Fixed(Some(1), vec![]), false);
        assert_eq!(deleted(&v), ["s1", "s2"]);
        assert_eq!(why(&v, "s3").why, Why::NewestUsable);
        assert_eq!(why(&v, "f4").why, Why::Failed);
        assert_eq!(why(&v, "c5").why, Why::InProgress);
        // Newest usable across kinds: a newer manual one does not strip the scheduled pool's
        // protection of its own count, but the newest overall is protected whatever its kind.
        let mut rows: Vec<Backup> = (1..=3).map(|d| sched(&format!("s{d}"), d)).collect();
        rows.push(row("m9", "v1", 9, BackupKind::Manual, BackupSite::Primary));
        let v = decide(&rows, &Fixed(Some(1), vec![]), true);
        assert_eq!(deleted(&v), ["s1", "s2"]);
        assert_eq!(why(&v, "m9").why, Why::NewestUsable);
    }

    #[test]
    fn copy_sources_and_the_incremental_base_are_kept() {
        let mut rows: Vec<Backup> = (1..=4).map(|d| sched(&format!("s{d}"), d)).collect();
        // s1's replica is the newest replica; s2's copy still runs.
        let mut r1 = row("r1", "v1", 1, BackupKind::Scheduled, BackupSite::Replica);
        r1.replica_of = Some("s1".into());
        let mut r2 = row("r2", "v1", 2, BackupKind::Scheduled, BackupSite::Replica);
        r2.replica_of = Some("s2".into());
        r2.state = BackupState::Replicating;
        let mut r0 = row("r0", "v1", 1, BackupKind::Scheduled, BackupSite::Replica);
        r0.created_at = "2025-12-31T02:00:00Z".into();
        rows.extend([r0, r1, r2]);
        let v = decide(&rows, &Fixed(Some(1), vec![]), false);
        assert_eq!(deleted(&v), ["r0", "s3"]);
        assert_eq!(why(&v, "s1").why, Why::IncrementalBase);
        assert_eq!(why(&v, "s2").why, Why::CopySource);
        assert_eq!(why(&v, "r1").why, Why::IncrementalBase);
        assert_eq!(why(&v, "r2").why, Why::InProgress);
    }

    #[test]
    fn a_shared_protection_domain_snapshot_goes_with_its_last_row() {
        let ahv = |id: &str, vol: &str, day: u32| {
            let mut b = row(id, vol, day, BackupKind::Scheduled, BackupSite::Primary);
            b.provider_ref = Some(format!("acme-pd-pd:snap-{day}"));
            b
        };
        // Two volumes in one domain, three snapshots; v2 keeps more than v1.
        let rows = vec![
            ahv("a1", "v1", 1),
            ahv("a2", "v1", 2),
            ahv("a3", "v1", 3),
            ahv("b1", "v2", 1),
            ahv("b2", "v2", 2),
            ahv("b3", "v2", 3),
        ];
        struct PerVolume;
        impl Counts for PerVolume {
            fn keep(&self, v: &str, _: BackupKind) -> Option<u32> {
                Some(if v == "v1" { 1 } else { 2 })
            }
            fn nth_next_run(&self, _: u32) -> Option<DateTime<Utc>> {
                None
            }
        }
        let v = decide(&rows, &PerVolume, false);
        assert_eq!(deleted(&v), ["a1", "a2", "b1"]);
        let (snaps, rows_only) = snapshot_deletions(&v);
        assert_eq!(snaps.len(), 1);
        assert_eq!(snaps[0].provider_ref, "acme-pd-pd:snap-1");
        let mut ids = snaps[0].backup_ids.clone();
        ids.sort();
        assert_eq!(ids, ["a1", "b1"]);
        // snap-2 stays (b2 keeps it): a2's row alone goes.
        assert_eq!(rows_only, ["a2"]);
    }

    #[test]
    fn kept_scheduled_backups_expire_with_the_schedules_next_runs() {
        let rows: Vec<Backup> = (1..=3).map(|d| sched(&format!("s{d}"), d)).collect();
        let runs: Vec<DateTime<Utc>> = (4..=8)
            .map(|d| format!("2026-01-{d:02}T02:00:00Z").parse().unwrap())
            .collect();
        let v = decide(&rows, &Fixed(Some(3), runs), false);
        assert!(deleted(&v).is_empty());
        // s2 is number 2 of 3: two more scheduled backups push it out.
        assert_eq!(
            why(&v, "s2").expires_at.as_deref(),
            Some("2026-01-05T02:00:00Z")
        );
        assert_eq!(
            why(&v, "s1").expires_at.as_deref(),
            Some("2026-01-04T02:00:00Z")
        );
        // The newest is protected: no expiry is promised.
        assert_eq!(why(&v, "s3").expires_at, None);
    }
}
