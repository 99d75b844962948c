//! Backing up many volumes of an account at once: by default every persistent desktop, or other
//! kinds, or an explicit list (a user's volumes after their session, for example).
//!
//! The run makes a plan (`plan.rs`: what is backed up, what is skipped and why), records the
//! request in the audit log, and, unless it is a dry run, journals a parent job of kind
//! `backup_all` whose first step is the plan. Skips go to the `skips` table.
//!
//! - Azure: one child job (kind `backup`, `parent_id` set) per eligible volume, its id derived
//!   from the parent's and the volume's (`jobs::child_id`), created when a worker takes the volume
//!   (an insert that keeps an existing row), so a parent resumed after a crash finds its children
//!   and never makes two. Children run concurrently: `Limits::workers` at a time, within the
//!   copy bounds per region and disk.
//! - AHV: Prism snapshots a whole protection domain, so the parent itself powers off the running
//!   desktops, takes one out-of-band snapshot for every eligible volume, powers them on again and
//!   follows the replication (`ahv::steps`); no child jobs.
//!
//! A resumed parent continues where its journal stops: Azure children that succeeded are not run
//! again, the others are resumed; desktops the plan saw running are powered on whatever happened.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use super::kept::Kept;
use super::plan::{self, BackupPlan, Observations, PlannedVolume, Selection};
use super::{ahv, azure, Backup, BackupError, BackupKind, BackupRequest};
use crate::accounts::{AccountSettings, Accounts};
use crate::audit::{self, NewAuditEntry};
use crate::cancel::CancelFlag;
use crate::catalog::SkipRecord;
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::Report;
use crate::inventory::{self, PowerState, ResourceKind};
use crate::jobs::{self as jobs_mod, JobError, JobRecord, JobState, NoProgress, ProgressSink};
use crate::limits::Limits;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::secrets::SecretStore;

pub const JOB_KIND: &str = "backup_all";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct BackupAllRequest {
    /// The cloud account (name or id).
    pub account: String,
    pub frame_account: String,
    pub kind: BackupKind,
    /// Empty: persistent desktops (or, with `volumes`, any protected kind).
    #[serde(default)]
    pub resource_kinds: Vec<ResourceKind>,
    /// Empty: every volume of those kinds. Names or provider ids.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// The backups' name; by default after the kind and the time.
    #[serde(default)]
    pub name: Option<String>,
    pub dry_run: bool,
    /// Who asked (`window`, `standbyctl:alice`, `scheduler`, `post-session`), for the audit log.
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VolumeFailure {
    pub volume_id: String,
    pub volume_name: String,
    /// The volume's child job, when there is one.
    pub job_id: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct BackupAllOutcome {
    /// The parent job (`None` for a dry run).
    pub job_id: Option<String>,
    pub plan: BackupPlan,
    pub backups: Vec<Backup>,
    pub failures: Vec<VolumeFailure>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AllParams {
    request: BackupAllRequest,
    account_id: String,
    account_name: String,
    name: String,
    ahv: bool,
}

fn default_name(kind: BackupKind, now: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "{} {}",
        kind.as_str().replace('_', "-"),
        now.format("%Y-%m-%d %H:%M")
    )
}

/// The guest agent's reading, indexed by volume. `Observed::session` and `free_bytes` scan the
/// whole report for each resource (ids parsed on every comparison): planning 1,000 desktops that
/// way took 2.5 s. The answers are the same: a resource's volume is found here by the same rule
/// (its id without case or leading slash, else its name) and asked of a report holding only it.
/// The index holds a hash of each key and the volume's place in the report, not copies of the
/// keys (2 MiB of strings at 5,000 volumes); a hash found is checked against the key itself, and
/// a mismatch (two keys with one hash) falls back to the scan.
struct GuestIndex<'a> {
    observed: &'a crate::guest::Observed,
    hasher: std::collections::hash_map::RandomState,
    by_id: std::collections::HashMap<u64, u32>,
    by_name: std::collections::HashMap<u64, u32>,
}

impl<'a> GuestIndex<'a> {
    fn key(id: &str) -> String {
        id.trim_matches('/').to_ascii_lowercase()
    }

    fn new(observed: &'a crate::guest::Observed) -> Self {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let (mut by_id, mut by_name) = (
            std::collections::HashMap::new(),
            std::collections::HashMap::new(),
        );
        if let crate::guest::Observed::Read(g) = observed {
            // The first of equal keys wins, as the scan finds the first.
            for (i, v) in g.volumes.iter().enumerate().rev() {
                by_id.insert(hasher.hash_one(Self::key(&v.id)), i as u32);
                by_name.insert(hasher.hash_one(v.name.to_ascii_lowercase()), i as u32);
            }
        }
        Self {
            observed,
            hasher,
            by_id,
            by_name,
        }
    }

    /// The first volume of the report whose id (else name) is `r`'s.
    fn find<'g>(
        &self,
        g: &'g crate::guest::GuestReport,
        r: &inventory::DiscoveredResource,
    ) -> Option<&'g crate::guest::GuestVolume> {
        use std::hash::BuildHasher;
        let id = Self::key(&r.provider_id);
        let name = r.name.to_ascii_lowercase();
        let by_id = |v: &&crate::guest::GuestVolume| Self::key(&v.id) == id;
        let by_name = |v: &&crate::guest::GuestVolume| v.name.to_ascii_lowercase() == name;
        let at = |i: &u32| g.volumes.get(*i as usize);
        let found_id = match self.by_id.get(&self.hasher.hash_one(&id)).and_then(at) {
            Some(v) if by_id(&v) => Some(v),
            Some(_) => g.volumes.iter().find(by_id),
            None => None,
        };
        found_id.or_else(
            || match self.by_name.get(&self.hasher.hash_one(&name)).and_then(at) {
                Some(v) if by_name(&v) => Some(v),
                Some(_) => g.volumes.iter().find(by_name),
                None => None,
            },
        )
    }

    /// The guest's view of `r`, as a reading that holds only its volume (or none).
    fn alone(&self, r: &inventory::DiscoveredResource) -> crate::guest::Observed {
        match self.observed {
            crate::guest::Observed::Unknown(why) => crate::guest::Observed::Unknown(why.clone()),
            crate::guest::Observed::Read(g) => {
                crate::guest::Observed::Read(crate::guest::GuestReport {
                    source: g.source.clone(),
                    volumes: self.find(g, r).cloned().into_iter().collect(),
                })
            }
        }
    }

    fn session(&self, r: &inventory::DiscoveredResource) -> crate::guest::Session {
        self.alone(r).session(r)
    }

    fn free_bytes(&self, r: &inventory::DiscoveredResource) -> Option<f64> {
        self.alone(r).free_bytes(r)
    }
}

/// The keys by which the guest's volumes are matched to the kept resources ([`GuestIndex`]'s:
/// the id without case or leading slash, the name without case), as hashes. A volume whose id
/// and name match no kept resource cannot answer for one, so a report of only the volumes that
/// match gives the index the same answers; a hash shared by two keys keeps a volume too many,
/// never one too few.
struct GuestKeys {
    hasher: std::collections::hash_map::RandomState,
    ids: std::collections::HashSet<u64>,
    names: std::collections::HashSet<u64>,
}

impl GuestKeys {
    /// `resources`: each one's provider id and name.
    fn of<'r>(resources: impl Iterator<Item = (String, &'r str)>) -> Self {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        let (mut ids, mut names) = (
            std::collections::HashSet::new(),
            std::collections::HashSet::new(),
        );
        for (id, name) in resources {
            ids.insert(hasher.hash_one(GuestIndex::key(&id)));
            names.insert(hasher.hash_one(name.to_ascii_lowercase()));
        }
        Self { hasher, ids, names }
    }

    fn may_match(&self, v: &crate::guest::GuestVolume) -> bool {
        use std::hash::BuildHasher;
        self.ids
            .contains(&self.hasher.hash_one(GuestIndex::key(&v.id)))
            || self
                .names
                .contains(&self.hasher.hash_one(v.name.to_ascii_lowercase()))
    }
}

/// How many power observations `make_plan` writes at a time.
const POWER_RECORDED_AT_ONCE: usize = 500;

/// How many kept resources `make_plan` plans at a time.
const PLANNED_AT_ONCE: usize = 500;

/// Discovers, observes and plans. Records what it saw of each volume's power (for the
/// "unchanged" rule of later scheduled runs) before planning with it. `largest_first`: the
/// eligible volumes in the order an Azure run should take them (see below).
async fn make_plan(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account_id: &str,
    req: &BackupAllRequest,
    largest_first: bool,
) -> Result<BackupPlan, BackupError> {
    let now = report.clock.now();
    // Only what the plan can take is kept of discovery, as it comes: the kinds asked for (and
    // templates, which the plan reports as skipped), or the volumes named. The others (profile
    // disks, personal drives, ...) are passed over as `plan::plan` would pass them over; what
    // was seen of every VM's power is recorded first (for the "unchanged" rule of later
    // scheduled runs), in batches as discovery goes.
    let kinds: &[ResourceKind] = if req.resource_kinds.is_empty() {
        &[ResourceKind::PersistentDesktop]
    } else {
        &req.resource_kinds
    };
    let wanted = |r: &inventory::DiscoveredResource| {
        if req.volumes.is_empty() {
            kinds.contains(&r.kind) || r.kind == ResourceKind::TemplateImage
        } else {
            // The resources `super::find` can answer with: a subset in the same order gives it
            // the same answers.
            req.volumes
                .iter()
                .any(|v| super::find(std::slice::from_ref(r), v).is_some())
        }
    };
    let mut kept = Kept::default();
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut recorded = Ok::<(), crate::catalog::CatalogError>(());
    let mut record = |seen: &mut Vec<(String, bool)>| {
        if recorded.is_ok() && !seen.is_empty() {
            recorded = report
                .catalog
                .lock()
                .record_power_seen(account_id, seen, now);
        }
        seen.clear();
    };
    let mut count = 0usize;
    inventory::discover_each(
        report.catalog,
        store,
        account_id,
        &req.frame_account,
        report.clock.clone(),
        &mut |r| {
            count += 1;
            match r.power {
                Some(PowerState::On) => seen.push((r.provider_id.clone(), true)),
                Some(PowerState::Off) => seen.push((r.provider_id.clone(), false)),
                _ => {}
            }
            if seen.len() >= POWER_RECORDED_AT_ONCE {
                record(&mut seen);
            }
            if wanted(&r) {
                kept.push(r);
            }
        },
    )
    .await?;
    record(&mut seen);
    recorded?;
    drop(seen);
    kept.sort();
    // Phase marks for the log (its lines carry the time): where a long run's start goes.
    tracing::debug!(
        resources = count,
        kept = kept.len(),
        "backup all: discovered"
    );
    // Only the report's volumes that can answer for a kept resource are kept of it (the
    // account's profile disks and personal drives are most of it).
    let keys = GuestKeys::of(kept.ids_and_names());
    let guest =
        crate::guest::read_for_kept(report.catalog, account_id, move |v| keys.may_match(v)).await;
    // Only the "unchanged" rule of scheduled runs reads what was seen of the volumes' power and
    // their last scheduled backups (one entry per volume of the account).
    let (activity, last_scheduled) = if req.kind == BackupKind::Scheduled {
        let c = report.catalog.lock();
        (
            c.volume_activity(account_id)?,
            c.last_scheduled_backups(account_id)?,
        )
    } else {
        Default::default()
    };
    tracing::debug!("backup all: guest agent read, power recorded");
    let guest = GuestIndex::new(&guest);
    let session = |r: &inventory::DiscoveredResource| guest.session(r);
    let selection = Selection {
        kind: req.kind,
        resource_kinds: &req.resource_kinds,
        volumes: &req.volumes,
        now,
    };
    let observations = Observations {
        session: &session,
        activity: &activity,
        last_scheduled: &last_scheduled,
    };
    // Every resource is planned on its own when no volumes are named, so the kept resources are
    // planned a few hundred at a time (and never all held as resources); named volumes are
    // looked for among all the kept ones (as many as were named).
    let at_once = if req.volumes.is_empty() {
        PLANNED_AT_ONCE
    } else {
        kept.len().max(1)
    };
    let plan = plan_kept(
        &kept,
        &req.frame_account,
        &selection,
        &observations,
        &guest,
        largest_first,
        at_once,
    );
    drop(kept);
    tracing::debug!(
        eligible = plan.eligible.len(),
        skipped = plan.skipped.len(),
        "backup all: planned"
    );
    Ok(plan)
}

/// Plans the kept resources `at_once` at a time, in their order, and (`largest_first`) puts the
/// eligible volumes in the order an Azure run takes them.
fn plan_kept(
    kept: &Kept,
    frame_account: &str,
    selection: &Selection<'_>,
    observations: &Observations<'_>,
    guest: &GuestIndex<'_>,
    largest_first: bool,
    at_once: usize,
) -> BackupPlan {
    let at_once = at_once.max(1);
    let mut plan = BackupPlan::default();
    // The data each eligible volume holds, beside `plan.eligible`, for its order below.
    let mut data: Vec<f64> = Vec::new();
    let mut from = 0;
    // Once at least: named volumes that were not found are skipped as such.
    while from == 0 || from < kept.len() {
        let resources = kept.resources(from, at_once, frame_account);
        from += at_once;
        let part = plan::plan(&resources, selection, observations);
        if largest_first {
            // Used space when the guest agent reports it, the disk's size otherwise.
            let used: std::collections::HashMap<&str, f64> = resources
                .iter()
                .map(|r| {
                    let used = guest
                        .free_bytes(r)
                        .map(|free| (r.size_bytes - free).max(0.0))
                        .unwrap_or(r.size_bytes);
                    (r.provider_id.as_str(), used)
                })
                .collect();
            data.extend(
                part.eligible
                    .iter()
                    .map(|v| used.get(v.volume_id.as_str()).copied().unwrap_or(0.0)),
            );
        }
        plan.eligible.extend(part.eligible);
        plan.skipped.extend(part.skipped);
    }
    if largest_first {
        // Azure: volumes are taken in the plan's order, and a volume's first replica copies all
        // its data across regions. The longest go first, so that the run does not end on a few
        // long ones started last while the other copy slots sit empty: desktops powered off
        // and on around their snapshot (two more operations, each waited for, and two more of
        // ARM's writes before their copy can start), then by the data they hold.
        let mut keyed: Vec<(f64, PlannedVolume)> = data.into_iter().zip(plan.eligible).collect();
        // Stable: equal sizes keep the plan's order.
        keyed.sort_by(|(da, a), (db, b)| {
            (b.power_cycle.cmp(&a.power_cycle)).then_with(|| db.total_cmp(da))
        });
        plan.eligible = keyed.into_iter().map(|(_, v)| v).collect();
    }
    plan
}

/// Plans and (unless `dry_run`) backs up. See the module's documentation.
pub async fn run(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: BackupAllRequest,
    cancel: CancelFlag,
) -> Result<BackupAllOutcome, BackupError> {
    run_inner(report, store, sink, limits, req, cancel, Rows::Loaded).await
}

/// As [`run`], but the outcome's `backups` stays empty and, once there is a job, so does its
/// plan's `eligible`: the rows (two per volume with DR) and the plan's volumes are not loaded,
/// so memory does not grow with the number of volumes. They are in the catalog
/// (`Catalog::backups_of_children(job_id)`, `standbyctl backup list --job`; the plan's volumes
/// page by page with [`planned_page`]); on success every eligible volume has its backup (and
/// replica). A dry run's outcome carries its whole plan (there is no job to keep it).
pub async fn run_without_rows(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: BackupAllRequest,
    cancel: CancelFlag,
) -> Result<BackupAllOutcome, BackupError> {
    run_inner(report, store, sink, limits, req, cancel, Rows::Left).await
}

/// Whether an outcome carries the backup rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Loaded,
    Left,
}

async fn run_inner(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: BackupAllRequest,
    cancel: CancelFlag,
    rows: Rows,
) -> Result<BackupAllOutcome, BackupError> {
    let (account, is_ahv) = {
        let c = report.catalog.lock();
        let (account, settings) = Accounts { catalog: &c, store }
            .settings(&req.account)
            .map_err(ConnectError::from)?;
        (account, matches!(settings, AccountSettings::Ahv(_)))
    };
    let name = req
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| default_name(req.kind, report.clock.now()));
    if is_ahv && !req.dry_run {
        // Refused before anything is planned or journaled: there is nothing to snapshot.
        let a = ahv::connect(store, report, &account.id)?;
        ahv::target_for(report, &a, &req.frame_account, &name, req.kind)?;
    }
    let plan = make_plan(report, store, &account.id, &req, !is_ahv).await?;
    let audit_detail = serde_json::json!({
        "frame_account": req.frame_account,
        "kind": req.kind,
        "resource_kinds": req.resource_kinds,
        "volumes": req.volumes.len(),
        "dry_run": req.dry_run,
        "eligible": plan.eligible.len(),
        "skipped": plan.skipped.len(),
    });
    if req.dry_run {
        let c = report.catalog.lock();
        audit::record(
            &c,
            report.clock.as_ref(),
            &NewAuditEntry::new(req.actor.clone(), "backup_all")
                .account(account.id.clone())
                .detail(audit_detail),
        )?;
        return Ok(BackupAllOutcome {
            job_id: None,
            plan,
            backups: Vec::new(),
            failures: Vec::new(),
        });
    }
    let params = AllParams {
        request: req.clone(),
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        name,
        ahv: is_ahv,
    };
    let jobs = report.jobs(sink);
    let job = jobs.create(
        JOB_KIND,
        Some(&account.id),
        serde_json::to_value(&params).expect("parameters serialise"),
    )?;
    {
        let c = report.catalog.lock();
        audit::record(
            &c,
            report.clock.as_ref(),
            &NewAuditEntry::new(req.actor.clone(), "backup_all")
                .account(account.id.clone())
                .job(job.id.clone())
                .detail(audit_detail),
        )?;
    }
    run_parent(
        report,
        store,
        sink,
        limits,
        &job,
        &params,
        Some(plan),
        cancel,
        rows,
    )
    .await
}

/// Runs a `backup_all` job again after a crash, a kill or a cancel.
pub async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<BackupAllOutcome, BackupError> {
    job.expect_kind(JOB_KIND)?;
    let fresh = report.catalog.lock().job_now(job)?;
    fresh.expect_unfinished()?;
    let params: AllParams = fresh.journaled_params()?;
    run_parent(
        report,
        store,
        sink,
        limits,
        &fresh,
        &params,
        None,
        cancel,
        Rows::Loaded,
    )
    .await
}

#[derive(Debug, Serialize, Deserialize)]
struct Tally {
    backed_up: usize,
    skipped: usize,
}

#[allow(clippy::too_many_arguments)]
async fn run_parent(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    p: &AllParams,
    fresh_plan: Option<BackupPlan>,
    cancel: CancelFlag,
    rows: Rows,
) -> Result<BackupAllOutcome, BackupError> {
    // Clients first: a refusal here leaves the job as it is, for a later resume.
    enum Client {
        Azure(connect::AzureAccount),
        Ahv(
            connect::AhvAccount,
            ahv::AhvTarget,
            Option<crate::providers::prism::PrismClient>,
        ),
    }
    let client = if p.ahv {
        let a = ahv::connect(store, report, &p.account_id)?;
        let t = ahv::target_for(
            report,
            &a,
            &p.request.frame_account,
            &p.name,
            p.request.kind,
        )?;
        let sec = ahv::connect(store, report, &t.secondary_account_id)
            .ok()
            .map(|s| s.client);
        Client::Ahv(a, t, sec)
    } else {
        let c = report.catalog.lock();
        Client::Azure(connect::azure(
            &Accounts { catalog: &c, store },
            &p.account_id,
            report.clock.clone(),
        )?)
    };
    let dr = report.catalog.lock().dr_config(&p.account_id)?;
    let jobs = report.jobs(sink);
    let failures = parking_lot::Mutex::new(Vec::<VolumeFailure>::new());
    // Azure: volumes whose backup in their own region is available (counted as children end,
    // so that the notification needs no list of every row).
    let primaries = AtomicUsize::new(0);
    // The plan and how many volumes it makes eligible, once the run has it: `eligible` may be
    // left in the catalog (an Azure run reads it a few hundred at a time as workers take them).
    let plan_cell = parking_lot::Mutex::new(None::<(BackupPlan, usize)>);
    let result = jobs
        .run(job, cancel.clone(), async |ctx| {
            let made = parking_lot::Mutex::new(None::<BackupPlan>);
            let journaled: JournaledPlan = ctx
                .step("plan", || async {
                    let plan = match fresh_plan {
                        Some(p) => p,
                        // Died before the plan was journaled: nothing acted yet, plan now.
                        None => make_plan(report, store, &p.account_id, &p.request, !p.ahv)
                            .await
                            .map_err(|e| JobError::Operation(e.into()))?,
                    };
                    let stored = store_plan(report, &job.id, &plan)?;
                    *made.lock() = Some(plan);
                    Ok(stored)
                })
                .await?;
            // `stored`: how many eligible volumes are in the catalog, for a run that reads them
            // from there rather than holding them.
            let (mut plan, stored) = match (made.into_inner(), journaled) {
                (Some(plan), JournaledPlan::Stored { .. }) if p.ahv => (plan, None),
                (
                    Some(mut plan),
                    JournaledPlan::Stored {
                        stored_eligible, ..
                    },
                ) => {
                    plan.eligible = Vec::new();
                    (plan, Some(stored_eligible))
                }
                (_, JournaledPlan::Whole(plan)) => (plan, None),
                (None, stored) if p.ahv => (read_plan(report, &job.id, &stored)?, None),
                (
                    None,
                    JournaledPlan::Stored {
                        stored_eligible,
                        stored_skipped,
                    },
                ) => (
                    BackupPlan {
                        eligible: Vec::new(),
                        skipped: plan_rows(report, &job.id, true, stored_skipped)?,
                    },
                    Some(stored_eligible),
                ),
            };
            let at = report.clock.now().to_rfc3339();
            let skips: Vec<SkipRecord> = plan
                .skipped
                .iter()
                .map(|s| SkipRecord {
                    job_id: Some(job.id.clone()),
                    account_id: p.account_id.clone(),
                    volume_id: s.volume_id.clone(),
                    volume_name: s.volume_name.clone(),
                    reason: s.reason.as_str().to_string(),
                    message: s.message.clone(),
                    at: at.clone(),
                })
                .collect();
            report.catalog.lock().record_skips(&skips)?;
            let total = stored.unwrap_or(plan.eligible.len());
            ctx.report(
                1.0,
                &format!(
                    "backing up {total} volumes ({} skipped)",
                    plan.skipped.len()
                ),
                None,
            )?;
            match &client {
                Client::Ahv(a, t, sec) => {
                    if total > 0 {
                        let env = ahv::Env {
                            report,
                            prism: &a.client,
                            secondary: sec.as_ref(),
                            limits,
                            target: t,
                            cancel: cancel.clone(),
                        };
                        let r = ahv::steps(ctx, &env, &plan.eligible).await;
                        if r.is_err() {
                            ahv::restore_power(&env, &plan.eligible).await;
                        }
                        r?;
                    }
                }
                Client::Azure(a) => {
                    use futures_util::stream::{FuturesUnordered, StreamExt};
                    let done = AtomicUsize::new(0);
                    let shared = Shared {
                        report,
                        limits,
                        job,
                        p,
                        account: a,
                        dr: dr.as_ref(),
                        done: &done,
                        primaries: &primaries,
                        total,
                        failures: &failures,
                    };
                    // A volume's future is made when a worker takes it, not up front: an
                    // unstarted future already takes the room of its whole state machine, so
                    // making them all first made memory grow with the number of volumes.
                    // Made by a plain call, not a closure's `async` block: the job's future
                    // stays `Send` (callers spawn it).
                    let mut waiting = match stored {
                        Some(count) => Waiting::Rows {
                            job_id: &job.id,
                            after: None,
                            page: Default::default(),
                            left: count,
                        },
                        None => Waiting::Here(std::mem::take(&mut plan.eligible).into_iter()),
                    };
                    let mut working = FuturesUnordered::new();
                    loop {
                        while working.len() < limits.workers() {
                            let Some(v) = waiting.next(report)? else {
                                break;
                            };
                            working.push(volume_task(ctx, &shared, v, cancel.clone()));
                        }
                        if working.next().await.is_none() {
                            break;
                        }
                    }
                    if cancel.is_cancelled() {
                        return Err(JobError::Cancelled);
                    }
                }
            }
            let failed = failures.lock().len();
            let tally = Tally {
                backed_up: total - failed,
                skipped: plan.skipped.len(),
            };
            *plan_cell.lock() = Some((plan, total));
            if failed > 0 {
                return Err(JobError::Operation(crate::ApiError::new(
                    crate::ErrorCode::Unavailable,
                    failure_summary(&failures.lock(), total),
                )));
            }
            Ok(serde_json::to_value(&tally).expect("tally serialises"))
        })
        .await;
    // The plan as journaled (also when the job stopped before reaching the end). Its eligible
    // volumes are read back for an outcome that carries them; an outcome without rows leaves
    // them in the catalog (`planned_page`).
    let (mut plan, eligible) = match plan_cell.into_inner() {
        Some((plan, total)) => (plan, total),
        None => {
            let plan = journaled_plan(report, &job.id).unwrap_or_default();
            let total = plan.eligible.len();
            (plan, total)
        }
    };
    let (mut backups, primaries) = if p.ahv {
        // The parent made the rows itself (one domain snapshot): counted from them.
        let made = report.catalog.lock().backups_of_job(&job.id)?;
        let primaries = made.iter().filter(|b| available_primary(b)).count();
        (made, primaries)
    } else if rows == Rows::Loaded {
        let made = report.catalog.lock().backups_of_children(&job.id)?;
        (made, primaries.into_inner())
    } else {
        (Vec::new(), primaries.into_inner())
    };
    if rows == Rows::Left {
        backups = Vec::new();
    }
    let failures = failures.into_inner();
    announce(
        report, job, p, &plan, eligible, primaries, &failures, &result,
    );
    result.map_err(BackupError::from)?;
    match rows {
        Rows::Loaded if plan.eligible.len() != eligible => {
            plan.eligible = plan_rows(report, &job.id, false, eligible)?;
        }
        Rows::Left => plan.eligible = Vec::new(),
        Rows::Loaded => {}
    }
    Ok(BackupAllOutcome {
        job_id: Some(job.id.clone()),
        plan,
        backups,
        failures,
    })
}

/// How many failures the job's error names one by one: the window shows the error as it is,
/// and an administrator should see which volumes failed and why without opening the job.
const NAMED_FAILURES: usize = 5;

/// The error of a run where some volumes failed: each failed volume with the provider's words,
/// up to [`NAMED_FAILURES`], then how many more (all of them are in the job's notification).
fn failure_summary(failures: &[VolumeFailure], total: usize) -> String {
    let named: Vec<String> = failures
        .iter()
        .take(NAMED_FAILURES)
        .map(|f| format!("{}: {}", f.volume_name, f.error))
        .collect();
    let more = failures.len().saturating_sub(NAMED_FAILURES);
    let rest = if more > 0 {
        format!("; and {more} more, listed in the job's notification")
    } else {
        String::new()
    };
    format!(
        "{} of {total} volumes were not backed up: {}{rest}. Resume the job to try them again",
        failures.len(),
        named.join("; ")
    )
}

struct Shared<'a> {
    report: &'a Report<'a>,
    limits: &'a Limits,
    job: &'a JobRecord,
    p: &'a AllParams,
    account: &'a connect::AzureAccount,
    dr: Option<&'a crate::disaster_recovery::DrConfig>,
    done: &'a AtomicUsize,
    primaries: &'a AtomicUsize,
    total: usize,
    failures: &'a parking_lot::Mutex<Vec<VolumeFailure>>,
}

async fn volume_task(
    ctx: &jobs_mod::JobContext<'_>,
    s: &Shared<'_>,
    v: PlannedVolume,
    cancel: CancelFlag,
) {
    let outcome = child(s.report, s.limits, s.job, s.p, s.account, s.dr, &v, cancel).await;
    let n = s.done.fetch_add(1, Ordering::SeqCst) + 1;
    let child_id = jobs_mod::child_id(&s.job.id, &v.volume_id);
    let primary = match &outcome {
        // A child succeeds only once its backup (and replica) is available.
        Ok(()) => true,
        // Stopped part-way: its backup may be there all the same.
        Err(_) => matches!(
            s.report.catalog.lock().backup_of_job(&child_id, &v.volume_id, super::BackupSite::Primary),
            Ok(Some(b)) if available_primary(&b)
        ),
    };
    if primary {
        s.primaries.fetch_add(1, Ordering::SeqCst);
    }
    match outcome {
        Ok(()) | Err(BackupError::Job(JobError::Cancelled)) => {}
        Err(e) => s.failures.lock().push(VolumeFailure {
            volume_id: v.volume_id,
            volume_name: v.volume_name,
            job_id: Some(child_id),
            error: e.to_string(),
        }),
    }
    let _ = ctx.report(
        1.0 + 99.0 * n as f64 / s.total.max(1) as f64,
        &format!("{n} of {} volumes done", s.total),
        None,
    );
}

fn journaled_plan(report: &Report<'_>, job_id: &str) -> Option<BackupPlan> {
    let steps = report.catalog.lock().job_steps(job_id).ok()?;
    let s = steps.into_iter().find(|s| s.name == "plan" && s.done)?;
    match serde_json::from_value(s.output?).ok()? {
        JournaledPlan::Whole(plan) => Some(plan),
        stored => read_plan(report, job_id, &stored).ok(),
    }
}

/// What the `plan` step journals.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum JournaledPlan {
    /// The plan is in the catalog's `backup_plan_entries`, this many rows of each.
    Stored {
        stored_eligible: usize,
        stored_skipped: usize,
    },
    /// The plan itself, as a Standby before catalog schema 9 journaled it: still read, so that
    /// its unfinished jobs resume.
    Whole(BackupPlan),
}

/// How many plan rows are written or read at a time.
const PLAN_ROWS_AT_ONCE: usize = 500;

/// Writes `plan` to the catalog (replacing what an earlier attempt of the step wrote), a few
/// hundred rows at a time, so that no copy of the whole plan as JSON is made.
fn store_plan(
    report: &Report<'_>,
    job_id: &str,
    plan: &BackupPlan,
) -> Result<JournaledPlan, JobError> {
    report.catalog.lock().clear_plan_entries(job_id)?;
    fn rows<T: Serialize>(
        report: &Report<'_>,
        job_id: &str,
        first: usize,
        skipped: bool,
        items: &[T],
    ) -> Result<(), JobError> {
        for (i, chunk) in items.chunks(PLAN_ROWS_AT_ONCE).enumerate() {
            let texts: Vec<String> = chunk
                .iter()
                .map(|e| serde_json::to_string(e).expect("a plan entry serialises"))
                .collect();
            report.catalog.lock().write_plan_entries(
                job_id,
                first + i * PLAN_ROWS_AT_ONCE,
                skipped,
                &texts,
            )?;
        }
        Ok(())
    }
    rows(report, job_id, 0, false, &plan.eligible)?;
    rows(report, job_id, plan.eligible.len(), true, &plan.skipped)?;
    Ok(JournaledPlan::Stored {
        stored_eligible: plan.eligible.len(),
        stored_skipped: plan.skipped.len(),
    })
}

/// The plan [`store_plan`] wrote, read back a few hundred rows at a time.
fn read_plan(
    report: &Report<'_>,
    job_id: &str,
    stored: &JournaledPlan,
) -> Result<BackupPlan, JobError> {
    match stored {
        JournaledPlan::Whole(plan) => Ok(plan.clone()),
        JournaledPlan::Stored {
            stored_eligible,
            stored_skipped,
        } => Ok(BackupPlan {
            eligible: plan_rows(report, job_id, false, *stored_eligible)?,
            skipped: plan_rows(report, job_id, true, *stored_skipped)?,
        }),
    }
}

fn unreadable_plan(job_id: &str, message: String) -> JobError {
    JobError::Unreadable {
        job: job_id.to_string(),
        step: "plan".to_string(),
        message,
    }
}

/// All of a job's eligible (or skipped) plan rows; `expected`: how many the step journaled.
fn plan_rows<T: serde::de::DeserializeOwned>(
    report: &Report<'_>,
    job_id: &str,
    skipped: bool,
    expected: usize,
) -> Result<Vec<T>, JobError> {
    let mut out = Vec::with_capacity(expected);
    let mut after = None;
    loop {
        let page = rows_after(report.catalog, job_id, skipped, after)?;
        let Some((last, _)) = page.last() else { break };
        after = Some(*last);
        out.extend(page.into_iter().map(|(_, v)| v));
    }
    if out.len() != expected {
        return Err(unreadable_plan(
            job_id,
            format!(
                "{expected} plan rows were journaled, {} are in the catalog",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// A page of a job's plan rows after `after` (their sequence numbers), in the plan's order.
fn rows_after<T: serde::de::DeserializeOwned>(
    catalog: &crate::catalog::SharedCatalog,
    job_id: &str,
    skipped: bool,
    after: Option<usize>,
) -> Result<Vec<(usize, T)>, JobError> {
    let page = catalog
        .lock()
        .plan_entries(job_id, skipped, after, PLAN_ROWS_AT_ONCE)?;
    page.into_iter()
        .map(|(seq, text)| {
            serde_json::from_str(&text)
                .map(|v| (seq, v))
                .map_err(|e| unreadable_plan(job_id, e.to_string()))
        })
        .collect()
}

/// A page of the volumes a `backup_all` job's plan made eligible, in the plan's order, after
/// `after` (the sequence number of the last one of the previous page; `None`: from the first).
/// For a caller of [`run_without_rows`], whose outcome leaves them in the catalog; an empty page
/// ends them.
pub fn planned_page(
    catalog: &crate::catalog::SharedCatalog,
    job_id: &str,
    after: Option<usize>,
) -> Result<Vec<(usize, PlannedVolume)>, BackupError> {
    Ok(rows_after(catalog, job_id, false, after)?)
}

/// The volumes an Azure run has yet to give its workers, in the plan's order: held, or read
/// from the catalog a page at a time.
enum Waiting<'a> {
    Here(std::vec::IntoIter<PlannedVolume>),
    Rows {
        job_id: &'a str,
        after: Option<usize>,
        page: std::collections::VecDeque<(usize, PlannedVolume)>,
        /// How many the journal says are still to come: fewer rows is a damaged journal.
        left: usize,
    },
}

impl Waiting<'_> {
    fn next(&mut self, report: &Report<'_>) -> Result<Option<PlannedVolume>, JobError> {
        match self {
            Self::Here(it) => Ok(it.next()),
            Self::Rows {
                job_id,
                after,
                page,
                left,
            } => {
                if *left == 0 {
                    return Ok(None);
                }
                if page.is_empty() {
                    *page = rows_after(report.catalog, job_id, false, *after)?.into();
                }
                let Some((seq, v)) = page.pop_front() else {
                    return Err(unreadable_plan(
                        job_id,
                        format!("{left} more plan rows were journaled than are in the catalog"),
                    ));
                };
                *after = Some(seq);
                *left -= 1;
                Ok(Some(v))
            }
        }
    }
}

/// One volume's child job: created (or found again) and run or resumed.
#[allow(clippy::too_many_arguments)]
async fn child(
    report: &Report<'_>,
    limits: &Limits,
    parent: &JobRecord,
    p: &AllParams,
    a: &connect::AzureAccount,
    dr: Option<&crate::disaster_recovery::DrConfig>,
    v: &PlannedVolume,
    cancel: CancelFlag,
) -> Result<(), BackupError> {
    let jobs = report.jobs(&NoProgress);
    let id = jobs_mod::child_id(&parent.id, &v.volume_id);
    let existing = report.catalog.lock().job(&id)?;
    let record = match existing {
        Some(j) if j.state == JobState::Succeeded => return Ok(()),
        Some(j) => j,
        None => {
            let request = BackupRequest {
                account: p.account_id.clone(),
                frame_account: p.request.frame_account.clone(),
                volume: v.volume_id.clone(),
                name: p.name.clone(),
                kind: p.request.kind,
            };
            let power = v.power_cycle.then(|| v.vm_id.clone()).flatten();
            let params =
                azure::params_for(&a.account, &v.volume_id, &v.location, dr, request, power)?;
            jobs.create_child(
                parent,
                &v.volume_id,
                super::JOB_KIND,
                serde_json::to_value(&params).expect("parameters serialise"),
            )?
        }
    };
    let params: azure::BackupParams = record.journaled_params()?;
    azure::run(
        report,
        &NoProgress,
        &a.client,
        limits,
        &record,
        &params,
        cancel,
        true,
    )
    .await?;
    Ok(())
}

fn available_primary(b: &Backup) -> bool {
    b.site == super::BackupSite::Primary && b.state == super::BackupState::Available
}

#[allow(clippy::too_many_arguments)]
fn announce(
    report: &Report<'_>,
    job: &JobRecord,
    p: &AllParams,
    plan: &BackupPlan,
    eligible: usize,
    primaries: usize,
    failures: &[VolumeFailure],
    result: &Result<serde_json::Value, JobError>,
) {
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &plan.skipped {
        *reasons.entry(s.reason.as_str()).or_default() += 1;
    }
    let skipped = if reasons.is_empty() {
        "none skipped".to_string()
    } else {
        let parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        format!("{} skipped ({})", plan.skipped.len(), parts.join(", "))
    };
    let what = format!("{} of {}", p.request.frame_account, p.account_name);
    let (level, body) = match result {
        Ok(_) => (
            NotificationLevel::Success,
            format!("Backup «{}» of {what}: {eligible} volumes backed up, {skipped}.", p.name),
        ),
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            format!("Backup «{}» of {what} was cancelled: {primaries} volumes backed up so far, {skipped}; the job can be resumed.", p.name),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!(
                "Backup «{}» of {what} did not complete: {}. {primaries} backups available, {} volumes failed, {skipped}.",
                p.name,
                e.to_string().trim_end_matches('.'),
                failures.len()
            ),
        ),
    };
    let note = NewNotification::new(level, format!("Backup of {what}"), body)
        .account(p.account_id.clone())
        .job(job.id.clone());
    report.announce(&note);
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_guest_index_answers_as_the_report_does_first_by_id_then_by_name() {
        use crate::guest::{GuestReport, GuestVolume, Observed};
        use crate::inventory::{DiscoveredResource, ResourceKind};
        let vol = |id: &str, name: &str, user: Option<&str>| GuestVolume {
            id: id.into(),
            name: name.into(),
            vm: None,
            power_on: Some(true),
            session_user: user.map(str::to_string),
            size_bytes: None,
            free_bytes: Some(1.0),
        };
        let observed = Observed::Read(GuestReport {
            source: "agent".into(),
            volumes: vec![
                vol("/Subs/S/Disks/A", "desk-a", Some("ann")),
                vol("subs/s/disks/a", "desk-a-again", Some("bob")),
                vol("/subs/s/disks/b", "Desk-B", None),
                vol("/subs/s/disks/c", "desk-b", Some("cy")),
                vol("/subs/s/disks/profile", "profile-a", Some("ann")),
            ],
        });
        let res = |id: &str, name: &str| DiscoveredResource {
            provider_id: id.into(),
            name: name.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 2.0,
            vm_id: None,
            power: None,
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        };
        let index = super::GuestIndex::new(&observed);
        let resources = [
            res("/subs/s/disks/a", "x"),
            res("/subs/s/disks/z", "desk-b"),
            res("/subs/s/disks/b", "nothing"),
            res("/subs/s/disks/y", "unknown"),
        ];
        // The report as `make_plan` keeps it: only volumes that may answer for these resources.
        let keys = super::GuestKeys::of(
            resources
                .iter()
                .map(|r| (r.provider_id.clone(), r.name.as_str())),
        );
        let Observed::Read(whole) = &observed else {
            unreachable!()
        };
        let kept = Observed::Read(GuestReport {
            source: whole.source.clone(),
            volumes: whole
                .volumes
                .iter()
                .filter(|v| keys.may_match(v))
                .cloned()
                .collect(),
        });
        let Observed::Read(k) = &kept else {
            unreachable!()
        };
        assert_eq!(
            k.volumes
                .iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>(),
            ["desk-a", "desk-a-again", "Desk-B", "desk-b"]
        );
        let kept_index = super::GuestIndex::new(&kept);
        for r in &resources {
            assert_eq!(index.session(r), observed.session(r), "{}", r.provider_id);
            assert_eq!(index.free_bytes(r), observed.free_bytes(r));
            assert_eq!(
                kept_index.session(r),
                observed.session(r),
                "{}",
                r.provider_id
            );
            assert_eq!(kept_index.free_bytes(r), observed.free_bytes(r));
        }
    }

    #[test]
    fn planning_the_kept_resources_by_parts_makes_the_plan_of_them_all_at_once() {
        use super::{plan_kept, BackupKind, BackupPlan, GuestIndex, Observations, Selection};
        use crate::guest::{GuestReport, GuestVolume, Observed, Session};
        use crate::inventory::{DiscoveredResource, PowerState, ResourceKind};
        use ResourceKind::*;
        let id = |n: &str| {
            format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{n}")
        };
        // name, kind, power, disk size, the guest's free bytes and user (None: not reported)
        type Row<'a> = (
            &'a str,
            ResourceKind,
            PowerState,
            f64,
            Option<(f64, Option<&'a str>)>,
        );
        let rows: [Row; 10] = [
            (
                "d-big-on",
                PersistentDesktop,
                PowerState::On,
                100.0,
                Some((10.0, None)),
            ),
            (
                "d-small-on",
                PersistentDesktop,
                PowerState::On,
                100.0,
                Some((90.0, None)),
            ),
            (
                "d-busy",
                PersistentDesktop,
                PowerState::On,
                100.0,
                Some((5.0, Some("ann"))),
            ),
            ("d-blind", PersistentDesktop, PowerState::On, 100.0, None),
            ("d-off-a", PersistentDesktop, PowerState::Off, 50.0, None),
            ("d-off-b", PersistentDesktop, PowerState::Off, 50.0, None),
            (
                "d-off-full",
                PersistentDesktop,
                PowerState::Off,
                80.0,
                Some((0.0, None)),
            ),
            ("d-moving", PersistentDesktop, PowerState::Other, 70.0, None),
            ("a-tpl", TemplateImage, PowerState::Off, 30.0, None),
            ("d-off-c", PersistentDesktop, PowerState::Off, 50.0, None),
        ];
        let resources: Vec<DiscoveredResource> = rows
            .iter()
            .map(|(n, kind, power, size, _)| DiscoveredResource {
                provider_id: id(n),
                name: n.to_string(),
                kind: *kind,
                frame_account: "acme".into(),
                owner: None,
                desktop_state: None,
                size_bytes: *size,
                vm_id: Some(format!("vm-{n}")),
                power: Some(*power),
                power_detail: Some("x".into()),
                location: "westeurope".into(),
                not_protected_reason: (*kind == TemplateImage)
                    .then(|| crate::inventory::TEMPLATE_NOT_PROTECTED.to_string()),
            })
            .collect();
        let observed = Observed::Read(GuestReport {
            source: "agent".into(),
            volumes: rows
                .iter()
                .filter_map(|(n, _, _, size, g)| {
                    g.map(|(free, user)| GuestVolume {
                        id: id(n),
                        name: n.to_string(),
                        vm: None,
                        power_on: Some(true),
                        session_user: user.map(str::to_string),
                        size_bytes: Some(*size),
                        free_bytes: Some(free),
                    })
                })
                .collect(),
        });
        let guest = GuestIndex::new(&observed);
        let session = |r: &DiscoveredResource| guest.session(r);
        let (activity, last) = Default::default();
        let observations = Observations {
            session: &session,
            activity: &activity,
            last_scheduled: &last,
        };
        let selection = Selection {
            kind: BackupKind::Manual,
            resource_kinds: &[],
            volumes: &[],
            now: "2026-11-23T10:00:00Z".parse().unwrap(),
        };
        let mut kept = super::Kept::default();
        for r in resources.clone() {
            kept.push(r);
        }
        kept.sort();
        let whole = plan_kept(&kept, "acme", &selection, &observations, &guest, true, 100);
        let names = |p: &BackupPlan| -> Vec<String> {
            p.eligible.iter().map(|v| v.volume_name.clone()).collect()
        };
        // Power-cycled first, then by the data held (the guest's used bytes, else the disk's
        // size), equal ones in discovery's order.
        assert_eq!(
            names(&whole),
            [
                "d-big-on",
                "d-small-on",
                "d-off-full",
                "d-off-a",
                "d-off-b",
                "d-off-c"
            ]
        );
        let skipped: Vec<&str> = whole
            .skipped
            .iter()
            .map(|v| v.volume_name.as_str())
            .collect();
        assert_eq!(skipped, ["d-blind", "d-busy", "d-moving", "a-tpl"]);
        assert!(matches!(
            guest.session(&resources[2]),
            Session::InSession { .. }
        ));
        for at_once in [1, 2, 3, 7] {
            let parts = plan_kept(
                &kept,
                "acme",
                &selection,
                &observations,
                &guest,
                true,
                at_once,
            );
            assert_eq!(parts, whole, "{at_once} at a time");
        }
        // AHV's order is discovery's.
        let ahv = plan_kept(&kept, "acme", &selection, &observations, &guest, false, 3);
        assert_eq!(
            names(&ahv),
            [
                "d-big-on",
                "d-off-a",
                "d-off-b",
                "d-off-c",
                "d-off-full",
                "d-small-on"
            ]
        );
        // Named volumes, one of them unknown: looked for among all the kept ones.
        let named = ["d-off-b".to_string(), "nobody".to_string()];
        let by_name = Selection {
            volumes: &named,
            ..selection
        };
        let plan = plan_kept(
            &kept,
            "acme",
            &by_name,
            &observations,
            &guest,
            true,
            kept.len(),
        );
        assert_eq!(plan.eligible.len(), 1);
        assert_eq!(plan.skipped.len(), 1);
    }

    #[test]
    fn a_plan_step_journaled_whole_by_an_earlier_standby_is_still_read() {
        use super::super::plan::{BackupPlan, PlannedVolume};
        let whole = BackupPlan {
            eligible: vec![PlannedVolume {
                volume_id: "/subscriptions/s/disks/d".into(),
                volume_name: "desk-1".into(),
                kind: crate::inventory::ResourceKind::PersistentDesktop,
                vm_id: None,
                location: "westeurope".into(),
                power_cycle: true,
            }],
            skipped: Vec::new(),
        };
        let old = serde_json::to_value(&whole).unwrap();
        match serde_json::from_value(old).unwrap() {
            super::JournaledPlan::Whole(p) => assert_eq!(p, whole),
            other => panic!("read as {other:?}"),
        }
        let new = serde_json::to_value(super::JournaledPlan::Stored {
            stored_eligible: 5002,
            stored_skipped: 3,
        })
        .unwrap();
        assert_eq!(
            new,
            serde_json::json!({"stored_eligible": 5002, "stored_skipped": 3})
        );
        assert!(matches!(
            serde_json::from_value(new).unwrap(),
            super::JournaledPlan::Stored {
                stored_eligible: 5002,
                stored_skipped: 3
            }
        ));
    }

    #[test]
    fn a_partial_failure_names_each_failed_volume_up_to_five_then_counts_the_rest() {
        let f = |i: usize| super::VolumeFailure {
            volume_id: format!("d{i}"),
            volume_name: format!("desk-{i}"),
            job_id: None,
            error: format!("error {i}"),
        };
        let two: Vec<_> = (1..=2).map(f).collect();
        assert_eq!(
            super::failure_summary(&two, 10),
            "2 of 10 volumes were not backed up: desk-1: error 1; desk-2: error 2. Resume the job to try them again"
        );
        let seven: Vec<_> = (1..=7).map(f).collect();
        let s = super::failure_summary(&seven, 10);
        assert!(
            s.starts_with("7 of 10 volumes were not backed up: desk-1: error 1;"),
            "{s}"
        );
        assert!(
            s.contains("desk-5: error 5; and 2 more, listed in the job's notification."),
            "{s}"
        );
        assert!(!s.contains("desk-6"), "{s}");
    }
}
