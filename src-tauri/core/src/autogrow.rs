//! Autogrow: when a volume's free space falls below a threshold, grow it by an increment, never
//! past an optional maximum (Frame's *Volumes > Autogrow settings*; docs/autogrow.md).
//!
//! Free space is only known inside the guest, so it comes from the account's guest agent
//! (docs/guest-agent.md); without one nothing is grown and the outcome says why. Sizes come from
//! the provider (discovery, then a fresh read right before growing). Each growth runs as a journaled
//! job of kind [`JOB_KIND`] whose target size is absolute and journaled, so a resumed or repeated
//! step can never grow a volume twice.
//!
//! "GB" means GiB (2^30 bytes) throughout, as Azure's `diskSizeGB` does; increments and maximums
//! are whole GiB so an Azure disk always gets a size it accepts.
//!
//! Azure grows an OS disk only while its VM is deallocated, and a data disk past 4,095 GiB only
//! while its VM is deallocated. Standby never powers a user's desktop off to grow it: such a
//! volume is reported *pending* (once, in the notification center) and grown at the first check
//! that finds its VM deallocated.

use serde::{Deserialize, Serialize};

use crate::accounts::{AccountError, AccountSettings, Accounts};
use crate::audit::{self, NewAuditEntry};
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::connect::{self, ConnectError};
use crate::disaster_recovery::Report;
use crate::guest::{self, Observed};
use crate::inventory::{self, DiscoveredResource, ResourceKind};
use crate::jobs::{JobContext, JobError, JobRecord, NotResumable, ProgressSink};
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::azure::{ArmClient, ArmError, ResourceId};
use crate::providers::prism::{PrismClient, PrismError};
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

/// The job kind a restart uses to find [`resume`].
pub const JOB_KIND: &str = "autogrow";
/// The policy kind (scope `""`) the settings are stored under.
pub const POLICY_KIND: &str = "autogrow";
/// Volumes waiting for their VM to be deallocated, one policy row per volume id (scope), so the
/// pending notification is posted once, not at every check.
pub const PENDING_KIND: &str = "autogrow.pending";

pub const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
/// Azure grows a data disk attached to a running VM only up to this size (GiB).
pub const AZURE_LIVE_RESIZE_MAX_GB: f64 = 4095.0;
/// A guest that reports a disk this much smaller than the provider does has not seen the last
/// growth yet; its free space is stale.
const STALE_TOLERANCE_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// An account's autogrow settings. The defaults are Frame's: off, grow by 10 GB when less than
/// 5 GB is free, no maximum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AutogrowSettings {
    pub enabled: bool,
    /// Grow when less than this many GiB are free (fractions allowed).
    pub threshold_gb: f64,
    /// Grow by this many GiB (whole: Azure sizes are whole GiB).
    pub increment_gb: u32,
    /// Never grow a volume past this many GiB; `None`: no limit.
    pub max_gb: Option<u32>,
}

impl Default for AutogrowSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            threshold_gb: 5.0,
            increment_gb: 10,
            max_gb: None,
        }
    }
}

/// A change of the settings: only what is named changes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, specta::Type)]
pub struct AutogrowChange {
    pub enabled: Option<bool>,
    pub threshold_gb: Option<f64>,
    pub increment_gb: Option<u32>,
    /// `Some(None)` removes the maximum.
    #[allow(clippy::option_option)]
    pub max_gb: Option<Option<u32>>,
}

impl AutogrowSettings {
    pub fn validate(&self) -> Result<(), AutogrowError> {
        let bad = |m: &str| Err(AutogrowError::Invalid(m.to_string()));
        if !self.threshold_gb.is_finite() || self.threshold_gb <= 0.0 {
            return bad(
                "the threshold must be more than 0 GB of free space (Frame's default is 5)",
            );
        }
        if self.increment_gb == 0 {
            return bad("the increment must be at least 1 GB (Frame's default is 10)");
        }
        if self.max_gb == Some(0) {
            return bad("the maximum size must be at least 1 GB; to have no maximum use --no-max");
        }
        Ok(())
    }

    pub fn apply(&self, change: &AutogrowChange) -> Self {
        Self {
            enabled: change.enabled.unwrap_or(self.enabled),
            threshold_gb: change.threshold_gb.unwrap_or(self.threshold_gb),
            increment_gb: change.increment_gb.unwrap_or(self.increment_gb),
            max_gb: change.max_gb.unwrap_or(self.max_gb),
        }
    }
}

/// What the rule says about one volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Grow from `from_bytes` to `to_bytes`.
    Grow { from_bytes: f64, to_bytes: f64 },
    /// Enough free space.
    Fine,
    /// It needs space but is already at (or past) the maximum.
    AtMaximum { size_bytes: f64, max_bytes: f64 },
    /// Free space is not known.
    Unknown { why: String },
}

/// The rule, pure: grow when `free` is below the threshold, to `size + increment` capped at the
/// maximum; never past the maximum, never shrink. It does not look at `enabled`.
pub fn decide(size_bytes: f64, free_bytes: Option<f64>, s: &AutogrowSettings) -> Decision {
    let Some(free) = free_bytes else {
        return Decision::Unknown {
            why: "the guest agent does not report this volume's free space".into(),
        };
    };
    if free >= s.threshold_gb * GIB {
        return Decision::Fine;
    }
    let wanted = size_bytes + f64::from(s.increment_gb) * GIB;
    match s.max_gb.map(|m| f64::from(m) * GIB) {
        Some(max) if size_bytes >= max => Decision::AtMaximum {
            size_bytes,
            max_bytes: max,
        },
        Some(max) => Decision::Grow {
            from_bytes: size_bytes,
            to_bytes: wanted.min(max),
        },
        None => Decision::Grow {
            from_bytes: size_bytes,
            to_bytes: wanted,
        },
    }
}

/// Why an Azure growth must wait for its VM to be deallocated, if it must (pure).
pub fn azure_must_wait(
    os_disk: bool,
    vm_power: Option<&str>,
    to_bytes: f64,
    attached: bool,
) -> Option<String> {
    if !attached || vm_power.is_some_and(|p| p.eq_ignore_ascii_case("deallocated")) {
        return None;
    }
    let state = vm_power.unwrap_or("in an unknown power state");
    if os_disk {
        return Some(format!(
            "its VM is {state}, and Azure grows an OS disk only while its VM is deallocated; Standby does not power a user's desktop off for autogrow, so it grows at the first check after the VM is deallocated"
        ));
    }
    if to_bytes > AZURE_LIVE_RESIZE_MAX_GB * GIB {
        return Some(format!(
            "its VM is {state}, and Azure grows a data disk past 4,095 GB only while its VM is deallocated; it grows at the first check after the VM is deallocated"
        ));
    }
    None
}

/// Sizes in words: "100 GB", "3.2 GB".
pub fn gb(bytes: f64) -> String {
    let g = bytes / GIB;
    if (g - g.round()).abs() < 0.05 {
        format!("{} GB", g.round())
    } else {
        format!("{g:.1} GB")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AutogrowError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("{0}")]
    Invalid(String),
    #[error("job {} is not an autogrow job that this version of Standby can resume: {}", .0.job, .0.reason)]
    NotResumable(#[from] NotResumable),
}

impl From<AutogrowError> for ApiError {
    fn from(e: AutogrowError) -> Self {
        match e {
            AutogrowError::Connect(e) => e.into(),
            AutogrowError::Account(e) => e.into(),
            AutogrowError::Catalog(e) => e.into(),
            AutogrowError::Job(e) => e.into(),
            other => ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// The account's settings (Frame's defaults when never set).
pub fn settings(
    catalog: &crate::catalog::Catalog,
    account_id: &str,
) -> Result<AutogrowSettings, CatalogError> {
    Ok(catalog
        .policy(account_id, POLICY_KIND, "")?
        .unwrap_or_default())
}

/// Changes an account's settings (checked first), records who did it, and returns them.
pub fn update(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account: &str,
    change: &AutogrowChange,
    actor: &str,
) -> Result<AutogrowSettings, AutogrowError> {
    let c = report.catalog.lock();
    let (acc, _) = Accounts { catalog: &c, store }.settings(account)?;
    let new = settings(&c, &acc.id)?.apply(change);
    new.validate()?;
    let now = report.clock.now();
    c.set_policy(&acc.id, POLICY_KIND, "", &new, &now.to_rfc3339())?;
    audit::record(
        &c,
        report.clock.as_ref(),
        &NewAuditEntry::new(actor, "autogrow.set")
            .account(acc.id.clone())
            .detail(serde_json::to_value(&new).expect("settings serialise")),
    )?;
    Ok(new)
}

/// A volume waiting for its VM to be deallocated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PendingGrowth {
    pub volume_name: String,
    pub to_bytes: f64,
    pub why: String,
    /// RFC 3339: when it was first found pending.
    pub since: String,
}

/// The volumes of an account waiting for their VM to be deallocated, by volume id.
pub fn pending(
    catalog: &crate::catalog::Catalog,
    account_id: &str,
) -> Result<Vec<(String, PendingGrowth)>, CatalogError> {
    catalog.policies(account_id, PENDING_KIND)
}

/// What a check did about one volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Nothing to do (or nothing possible: the decision says why).
    Nothing,
    Grown {
        job_id: String,
    },
    /// Needs to grow but must wait (an Azure VM that is not deallocated).
    Pending {
        why: String,
    },
    Failed {
        job_id: Option<String>,
        error: String,
    },
    Cancelled {
        job_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VolumeCheck {
    pub volume_id: String,
    pub name: String,
    pub kind: ResourceKind,
    pub size_bytes: f64,
    pub free_bytes: Option<f64>,
    pub decision: Decision,
    pub action: Action,
}

/// What one check of an account found and did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AutogrowOutcome {
    pub account_id: String,
    pub account_name: String,
    pub frame_account: String,
    pub settings: AutogrowSettings,
    /// Who reported free space (the guest agent's own words), when it was read.
    pub guest_source: Option<String>,
    /// Why nothing was checked, when nothing was (autogrow off, no guest agent, ...).
    pub not_checked: Option<String>,
    /// The account's volumes, when they had to be looked at. A check whose guest agent reports
    /// no volume short of space does not list them (it does not even ask the provider).
    pub volumes: Vec<VolumeCheck>,
    pub grown: u32,
    pub pending: u32,
    pub failed: u32,
    pub cancelled: bool,
}

/// Where a growth acts, resolved before the job is journaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
enum Target {
    PrismVm { vm_uuid: String },
    PrismVolumeGroup { vg_uuid: String },
    AzureDisk { disk_id: String },
}

/// What a growth job was asked: absolute sizes, so that running it again never grows twice.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct GrowParams {
    account_id: String,
    account_name: String,
    frame_account: String,
    volume_id: String,
    volume_name: String,
    target: Target,
    from_bytes: f64,
    to_bytes: f64,
    free_bytes: f64,
    threshold_gb: f64,
}

/// What the `grow` step did.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Started {
    /// The size found right before acting.
    found_bytes: f64,
    /// Already at (or past) the target: nothing was sent.
    already: bool,
    /// The Prism task to follow.
    task: Option<String>,
}

impl Started {
    /// At (or past) the target already: nothing is sent.
    fn reached(found_bytes: f64) -> Self {
        Started {
            found_bytes,
            already: true,
            task: None,
        }
    }

    /// The resize was sent; `task` is Prism's to follow (Azure answers at once).
    fn sent(found_bytes: f64, task: Option<String>) -> Self {
        Started {
            found_bytes,
            already: false,
            task,
        }
    }
}

enum Client {
    Prism(PrismClient),
    Azure(ArmClient),
}

/// Checks an account's volumes and grows those short of space. Cheap when nothing needs growing:
/// with autogrow off it reads only the catalog; otherwise it reads the guest agent once and asks
/// the provider nothing unless a volume is below the threshold. Growth failures are in the
/// outcome (and the notification center), not an `Err`: one volume's failure does not stop the
/// others.
pub async fn check_account(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    account: &str,
    frame_account: &str,
    actor: &str,
    cancel: CancelFlag,
) -> Result<AutogrowOutcome, AutogrowError> {
    let (acc, kind, settings) = {
        let c = report.catalog.lock();
        let (acc, kind) = Accounts { catalog: &c, store }.settings(account)?;
        let s = settings(&c, &acc.id)?;
        (acc, kind, s)
    };
    let mut out = AutogrowOutcome {
        account_id: acc.id.clone(),
        account_name: acc.name.clone(),
        frame_account: frame_account.to_string(),
        settings: settings.clone(),
        guest_source: None,
        not_checked: None,
        volumes: Vec::new(),
        grown: 0,
        pending: 0,
        failed: 0,
        cancelled: false,
    };
    if !settings.enabled {
        out.not_checked = Some(format!(
            "autogrow is off for {} (turn it on with `standbyctl autogrow set {} --on`)",
            acc.name, acc.name
        ));
        return Ok(out);
    }
    let observed = guest::read_for(report.catalog, &acc.id).await;
    let g = match &observed {
        Observed::Unknown(why) => {
            out.not_checked = Some(format!(
                "free space is unknown, so nothing was grown: {why}"
            ));
            return Ok(out);
        }
        Observed::Read(g) => g,
    };
    out.guest_source = Some(g.source.clone());
    // The cheap path: the guest's own figures say nothing could grow.
    let candidates = g.volumes.iter().any(|v| {
        matches!(
            decide(v.size_bytes.unwrap_or(0.0), v.free_bytes, &settings),
            Decision::Grow { .. }
        )
    });
    if !candidates {
        // Nothing is short of space, so nothing waits any more either.
        let c = report.catalog.lock();
        for (scope, _) in c.policies::<serde_json::Value>(&acc.id, PENDING_KIND)? {
            c.remove_policy(&acc.id, PENDING_KIND, &scope)?;
        }
        return Ok(out);
    }

    let resources = inventory::discover(
        report.catalog,
        store,
        &acc.id,
        frame_account,
        report.clock.clone(),
    )
    .await?;
    let client = {
        let c = report.catalog.lock();
        let accounts = Accounts { catalog: &c, store };
        match kind {
            AccountSettings::Ahv(_) => Client::Prism(connect::ahv(&accounts, &acc.id)?.client),
            AccountSettings::Azure(_) => {
                Client::Azure(connect::azure(&accounts, &acc.id, report.clock.clone())?.client)
            }
        }
    };
    let was_pending: Vec<(String, PendingGrowth)> = pending(&report.catalog.lock(), &acc.id)?;
    let mut still_pending = Vec::new();
    for r in resources.iter().filter(|r| r.kind.is_protected()) {
        if cancel.is_cancelled() {
            out.cancelled = true;
            break;
        }
        let gv = g.volume(r);
        let free = gv.and_then(|v| v.free_bytes);
        let decision = match gv.and_then(|v| v.size_bytes) {
            Some(guest_size) if guest_size + STALE_TOLERANCE_BYTES < r.size_bytes => {
                Decision::Unknown {
                    why: format!(
                        "the guest agent still reports {} for a {} volume: its free space is out of date (it has not seen the last growth yet)",
                        gb(guest_size),
                        gb(r.size_bytes)
                    ),
                }
            }
            _ if gv.is_none() => Decision::Unknown {
                why: format!("the guest agent ({}) does not know this volume", g.source),
            },
            _ => decide(r.size_bytes, free, &settings),
        };
        let mut check = VolumeCheck {
            volume_id: r.provider_id.clone(),
            name: r.name.clone(),
            kind: r.kind,
            size_bytes: r.size_bytes,
            free_bytes: free,
            decision: decision.clone(),
            action: Action::Nothing,
        };
        if let Decision::Grow {
            from_bytes,
            to_bytes,
        } = decision
        {
            let target = match target_of(&client, r) {
                Ok(t) => t,
                Err(why) => {
                    check.action = Action::Failed {
                        job_id: None,
                        error: why.0,
                    };
                    out.failed += 1;
                    out.volumes.push(check);
                    continue;
                }
            };
            let wait = match (&client, &target) {
                (Client::Azure(arm), Target::AzureDisk { .. }) => {
                    azure_wait_reason(arm, r, to_bytes).await
                }
                _ => None,
            };
            if let Some(why) = wait {
                note_pending(report, &acc.id, &was_pending, r, from_bytes, to_bytes, &why)?;
                still_pending.push(r.provider_id.clone());
                check.action = Action::Pending { why };
                out.pending += 1;
                out.volumes.push(check);
                continue;
            }
            let params = GrowParams {
                account_id: acc.id.clone(),
                account_name: acc.name.clone(),
                frame_account: frame_account.to_string(),
                volume_id: r.provider_id.clone(),
                volume_name: r.name.clone(),
                target,
                from_bytes,
                to_bytes,
                free_bytes: free.unwrap_or(0.0),
                threshold_gb: settings.threshold_gb,
            };
            check.action = grow(report, sink, &client, params, actor, cancel.clone()).await?;
            match &check.action {
                Action::Grown { .. } => out.grown += 1,
                Action::Failed { .. } => out.failed += 1,
                Action::Cancelled { .. } => out.cancelled = true,
                _ => {}
            }
        }
        out.volumes.push(check);
    }
    if !out.cancelled {
        let c = report.catalog.lock();
        for (id, _) in &was_pending {
            if !still_pending.contains(id) {
                c.remove_policy(&acc.id, PENDING_KIND, id)?;
            }
        }
    }
    Ok(out)
}

/// Where to grow `r`: a Prism VM's disk or volume group, or an Azure disk.
fn target_of(client: &Client, r: &DiscoveredResource) -> Result<Target, crate::error::Unknown> {
    Ok(match client {
        // Discovery gives a VM its own uuid as `vm_id`; a volume group has its VM's, or none.
        Client::Prism(_) if r.vm_id.as_deref() == Some(r.provider_id.as_str()) => Target::PrismVm {
            vm_uuid: r.provider_id.clone(),
        },
        Client::Prism(_) => Target::PrismVolumeGroup {
            vg_uuid: r.provider_id.clone(),
        },
        Client::Azure(_) => {
            ResourceId::parse(&r.provider_id).map_err(|e| {
                crate::error::Unknown(format!(
                    "{} has an id Standby cannot read ({e}); nothing was grown",
                    r.name
                ))
            })?;
            Target::AzureDisk {
                disk_id: r.provider_id.clone(),
            }
        }
    })
}

/// Whether an Azure growth must wait, with the VM's power state read now when discovery did not.
async fn azure_wait_reason(
    arm: &ArmClient,
    r: &DiscoveredResource,
    to_bytes: f64,
) -> Option<String> {
    // A disk attached to nothing grows at any time.
    let vm = r.vm_id.as_deref()?;
    // Discovery gives the sandbox, utility servers and desktops their VM's OS disk (and its power
    // state); profiles and personal drives are data disks.
    let os_disk = matches!(
        r.kind,
        ResourceKind::Sandbox | ResourceKind::UtilityServer | ResourceKind::PersistentDesktop
    );
    if !os_disk && to_bytes <= AZURE_LIVE_RESIZE_MAX_GB * GIB {
        return None;
    }
    let power = if os_disk {
        r.power_detail.clone()
    } else {
        match ResourceId::parse(vm) {
            Ok(id) => match arm.power_state(&id).await {
                Ok(p) => Some(p.as_str().to_string()),
                Err(e) => {
                    return Some(format!(
                        "the power state of its VM could not be read ({e}), and Azure grows it only while the VM is deallocated"
                    ))
                }
            },
            Err(_) => None,
        }
    };
    match power.filter(|p| !p.is_empty()) {
        Some(p) => azure_must_wait(os_disk, Some(&p), to_bytes, true),
        None => Some(
            "the power state of its VM is unknown, and Azure grows it only while the VM is deallocated"
                .to_string(),
        ),
    }
}

/// Records a volume as pending and tells the notification center the first time.
fn note_pending(
    report: &Report<'_>,
    account_id: &str,
    was: &[(String, PendingGrowth)],
    r: &DiscoveredResource,
    from_bytes: f64,
    to_bytes: f64,
    why: &str,
) -> Result<(), CatalogError> {
    if was.iter().any(|(id, _)| id == &r.provider_id) {
        return Ok(());
    }
    let now = report.clock.now().to_rfc3339();
    let p = PendingGrowth {
        volume_name: r.name.clone(),
        to_bytes,
        why: why.to_string(),
        since: now.clone(),
    };
    let c = report.catalog.lock();
    c.set_policy(account_id, PENDING_KIND, &r.provider_id, &p, &now)?;
    let note = NewNotification::new(
        NotificationLevel::Warning,
        format!("Autogrow of {} waits", r.name),
        format!(
            "{} should grow from {} to {}, but {why}.",
            r.name,
            gb(from_bytes),
            gb(to_bytes)
        ),
    )
    .account(account_id.to_string());
    report.announce_in(&c, &note);
    Ok(())
}

/// Journals a growth job (with its audit entry), runs it and announces its outcome.
async fn grow(
    report: &Report<'_>,
    sink: &dyn ProgressSink,
    client: &Client,
    p: GrowParams,
    actor: &str,
    cancel: CancelFlag,
) -> Result<Action, AutogrowError> {
    let jobs = report.jobs(sink);
    let value = serde_json::to_value(&p).expect("autogrow parameters serialise");
    let job = jobs.create(JOB_KIND, Some(&p.account_id), value)?;
    audit::record(
        &report.catalog.lock(),
        report.clock.as_ref(),
        &NewAuditEntry::new(actor, "autogrow")
            .account(p.account_id.clone())
            .job(job.id.clone())
            .detail(serde_json::json!({
                "frame_account": p.frame_account,
                "volume": p.volume_name,
                "volume_id": p.volume_id,
                "from_bytes": p.from_bytes,
                "to_bytes": p.to_bytes,
                "free_bytes": p.free_bytes,
                "threshold_gb": p.threshold_gb,
            })),
    )?;
    run(report, sink, client, &job, &p, cancel).await
}

/// Runs an `autogrow` job again after a crash, a kill or a cancel: done steps are replayed, and
/// the growth re-reads the size first, so it never grows twice.
pub async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<Action, AutogrowError> {
    let p: GrowParams = job.resumable_params(JOB_KIND)?;
    let client = {
        let c = report.catalog.lock();
        let accounts = Accounts { catalog: &c, store };
        match &p.target {
            Target::AzureDisk { .. } => Client::Azure(
                connect::azure(&accounts, &p.account_id, report.clock.clone())?.client,
            ),
            _ => Client::Prism(connect::ahv(&accounts, &p.account_id)?.client),
        }
    };
    run(report, sink, &client, job, &p, cancel).await
}

async fn run(
    report: &Report<'_>,
    sink: &dyn ProgressSink,
    client: &Client,
    job: &JobRecord,
    p: &GrowParams,
    cancel: CancelFlag,
) -> Result<Action, AutogrowError> {
    let jobs = report.jobs(sink);
    let result = jobs
        .run(job, cancel.clone(), async |ctx| {
            let started = ctx
                .step("grow", || async { grow_step(ctx, client, p).await })
                .await?;
            let size = ctx
                .step("confirm", || async {
                    confirm_step(ctx, client, p, &started, &cancel).await
                })
                .await?;
            Ok(serde_json::json!({ "size_bytes": size, "already": started.already }))
        })
        .await;
    announce(report, job, p, &result);
    Ok(match result {
        Ok(_) => Action::Grown {
            job_id: job.id.clone(),
        },
        Err(JobError::Cancelled) => Action::Cancelled {
            job_id: job.id.clone(),
        },
        Err(JobError::Catalog(e)) => return Err(e.into()),
        Err(e) => Action::Failed {
            job_id: Some(job.id.clone()),
            error: e.to_string(),
        },
    })
}

fn prism_failed(e: PrismError) -> JobError {
    match e {
        PrismError::Cancelled => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

fn arm_failed(e: ArmError) -> JobError {
    match e {
        ArmError::Cancelled(_) => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

fn operation(message: String) -> JobError {
    JobError::Operation(ApiError::new(ErrorCode::Conflict, message))
}

/// The one disk of a Prism VM: its address and size.
async fn prism_vm_disk(
    prism: &PrismClient,
    p: &GrowParams,
    vm_uuid: &str,
) -> Result<(crate::providers::prism::types::DiskAddress, f64), JobError> {
    let vm = prism.vm(vm_uuid).await.map_err(prism_failed)?;
    let disks: Vec<_> = vm.disks().collect();
    match disks.as_slice() {
        [d] => Ok((d.disk_address.clone(), d.size.unwrap_or(0) as f64)),
        _ => Err(operation(format!(
            "VM {} has {} disks; autogrow grows VMs with one disk, as Frame's are: grow it in Prism",
            p.volume_name,
            disks.len()
        ))),
    }
}

/// The one disk of a Prism volume group: its index and size.
async fn prism_vg_disk(
    prism: &PrismClient,
    p: &GrowParams,
    vg_uuid: &str,
) -> Result<(i64, f64), JobError> {
    let vg = prism.volume_group(vg_uuid).await.map_err(prism_failed)?;
    match vg.disk_list.as_slice() {
        [d] => Ok((d.index.unwrap_or(0), d.size_bytes().unwrap_or(0) as f64)),
        other => Err(operation(format!(
            "volume group {} has {} disks; autogrow grows volume groups with one disk, as Frame's are: grow it in Prism",
            p.volume_name,
            other.len()
        ))),
    }
}

/// Reads the size now and, unless it has reached the target already (a first attempt did it),
/// asks the provider for the target size. Never relative: repeating it cannot grow twice.
async fn grow_step(
    ctx: &JobContext<'_>,
    client: &Client,
    p: &GrowParams,
) -> Result<Started, JobError> {
    ctx.report(
        5.0,
        &format!("growing {} to {}", p.volume_name, gb(p.to_bytes)),
        None,
    )?;
    match (client, &p.target) {
        (Client::Prism(prism), Target::PrismVm { vm_uuid }) => {
            let (address, size) = prism_vm_disk(prism, p, vm_uuid).await?;
            if size >= p.to_bytes {
                return Ok(Started::reached(size));
            }
            let task = prism
                .resize_vm_disk(vm_uuid, &address, p.to_bytes as u64)
                .await
                .map_err(prism_failed)?;
            Ok(Started::sent(size, Some(task)))
        }
        (Client::Prism(prism), Target::PrismVolumeGroup { vg_uuid }) => {
            let (index, size) = prism_vg_disk(prism, p, vg_uuid).await?;
            if size >= p.to_bytes {
                return Ok(Started::reached(size));
            }
            let task = prism
                .resize_volume_group_disk(vg_uuid, index, p.to_bytes as u64)
                .await
                .map_err(prism_failed)?;
            Ok(Started::sent(size, Some(task)))
        }
        (Client::Azure(arm), Target::AzureDisk { disk_id }) => {
            let id = ResourceId::parse(disk_id)
                .map_err(|e| arm_failed(ArmError::decode("the volume's id", e)))?;
            let size = arm.get_disk(&id).await.map_err(arm_failed)?.size_bytes() as f64;
            if size >= p.to_bytes {
                return Ok(Started::reached(size));
            }
            // PATCH diskSizeGB is synchronous for a grow and the client reads the size back.
            let to_gb = (p.to_bytes / GIB).ceil() as u64;
            arm.resize_disk(&id, to_gb).await.map_err(arm_failed)?;
            Ok(Started::sent(size, None))
        }
        _ => Err(operation(format!(
            "the job's target for {} does not match its account's kind",
            p.volume_name
        ))),
    }
}

/// Follows the Prism task, then reads the size back: success only when the provider shows it.
async fn confirm_step(
    ctx: &JobContext<'_>,
    client: &Client,
    p: &GrowParams,
    started: &Started,
    cancel: &CancelFlag,
) -> Result<f64, JobError> {
    let size = match (client, &p.target) {
        (Client::Prism(prism), target) => {
            if let Some(task) = &started.task {
                ctx.report(30.0, &format!("Prism is growing {}", p.volume_name), None)?;
                let mut progress = |_: crate::providers::prism::TaskProgress| {};
                prism
                    .wait_task(task, &mut progress, cancel)
                    .await
                    .map_err(prism_failed)?;
            }
            match target {
                Target::PrismVm { vm_uuid } => prism_vm_disk(prism, p, vm_uuid).await?.1,
                Target::PrismVolumeGroup { vg_uuid } => prism_vg_disk(prism, p, vg_uuid).await?.1,
                Target::AzureDisk { .. } => unreachable!("checked by grow_step"),
            }
        }
        (Client::Azure(arm), Target::AzureDisk { disk_id }) => {
            let id = ResourceId::parse(disk_id)
                .map_err(|e| arm_failed(ArmError::decode("the volume's id", e)))?;
            arm.get_disk(&id).await.map_err(arm_failed)?.size_bytes() as f64
        }
        _ => unreachable!("checked by grow_step"),
    };
    if size < p.to_bytes {
        return Err(operation(format!(
            "{} is {} after the growth, not {}",
            p.volume_name,
            gb(size),
            gb(p.to_bytes)
        )));
    }
    ctx.report(100.0, &format!("{} is {}", p.volume_name, gb(size)), None)?;
    Ok(size)
}

fn announce(
    report: &Report<'_>,
    job: &JobRecord,
    p: &GrowParams,
    result: &Result<serde_json::Value, JobError>,
) {
    let (name, from, to) = (&p.volume_name, gb(p.from_bytes), gb(p.to_bytes));
    let why = format!(
        "{} free was below {}",
        gb(p.free_bytes),
        gb(p.threshold_gb * GIB)
    );
    let (level, body) = match result {
        Ok(_) => (
            NotificationLevel::Success,
            format!("Grew {name} from {from} to {to}: {why}."),
        ),
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            format!("Growing {name} from {from} to {to} was cancelled; the next check or `standbyctl jobs resume` finishes it."),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!(
                "Growing {name} from {from} to {to} ({why}) failed: {}. The next check tries again.",
                e.to_string().trim_end_matches('.')
            ),
        ),
    };
    let note = NewNotification::new(level, format!("Autogrow of {name}"), body)
        .account(p.account_id.clone())
        .job(job.id.clone());
    report.announce(&note);
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f64 = GIB;

    fn s(threshold: f64, increment: u32, max: Option<u32>) -> AutogrowSettings {
        AutogrowSettings {
            enabled: true,
            threshold_gb: threshold,
            increment_gb: increment,
            max_gb: max,
        }
    }

    #[test]
    fn defaults_are_frames_off_5_10_no_max() {
        let d = AutogrowSettings::default();
        assert_eq!(
            (d.enabled, d.threshold_gb, d.increment_gb, d.max_gb),
            (false, 5.0, 10, None)
        );
    }

    #[test]
    fn grows_by_the_increment_when_free_space_is_below_the_threshold() {
        assert_eq!(
            decide(100.0 * G, Some(3.2 * G), &s(5.0, 10, None)),
            Decision::Grow {
                from_bytes: 100.0 * G,
                to_bytes: 110.0 * G
            }
        );
    }

    #[test]
    fn at_or_above_the_threshold_is_fine() {
        assert_eq!(
            decide(100.0 * G, Some(5.0 * G), &s(5.0, 10, None)),
            Decision::Fine
        );
        assert_eq!(
            decide(100.0 * G, Some(50.0 * G), &s(5.0, 10, None)),
            Decision::Fine
        );
    }

    #[test]
    fn never_past_the_maximum_and_never_shrinks() {
        // Capped at the maximum.
        assert_eq!(
            decide(95.0 * G, Some(1.0 * G), &s(5.0, 10, Some(100))),
            Decision::Grow {
                from_bytes: 95.0 * G,
                to_bytes: 100.0 * G
            }
        );
        // At the maximum: nothing.
        assert_eq!(
            decide(100.0 * G, Some(1.0 * G), &s(5.0, 10, Some(100))),
            Decision::AtMaximum {
                size_bytes: 100.0 * G,
                max_bytes: 100.0 * G
            }
        );
        // Past a maximum set later: never shrunk to it.
        assert!(matches!(
            decide(120.0 * G, Some(1.0 * G), &s(5.0, 10, Some(100))),
            Decision::AtMaximum { .. }
        ));
    }

    #[test]
    fn unknown_free_space_is_not_guessed() {
        assert!(matches!(
            decide(100.0 * G, None, &s(5.0, 10, None)),
            Decision::Unknown { .. }
        ));
    }

    #[test]
    fn settings_are_checked_with_words_that_say_what_to_do() {
        assert!(s(5.0, 10, None).validate().is_ok());
        for bad in [
            s(0.0, 10, None),
            s(-1.0, 10, None),
            s(f64::NAN, 10, None),
            s(5.0, 0, None),
            s(5.0, 10, Some(0)),
        ] {
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("at least") || e.contains("more than"), "{e}");
        }
        let changed = AutogrowSettings::default().apply(&AutogrowChange {
            enabled: Some(true),
            max_gb: Some(Some(200)),
            ..Default::default()
        });
        assert_eq!(changed, s(5.0, 10, Some(200)));
        assert_eq!(
            changed
                .apply(&AutogrowChange {
                    max_gb: Some(None),
                    ..Default::default()
                })
                .max_gb,
            None
        );
    }

    #[test]
    fn azure_os_disks_wait_for_deallocation_data_disks_only_past_4095() {
        assert!(azure_must_wait(true, Some("running"), 138.0 * G, true).is_some());
        assert!(azure_must_wait(true, Some("stopped"), 138.0 * G, true).is_some());
        assert!(azure_must_wait(true, Some("deallocated"), 138.0 * G, true).is_none());
        assert!(azure_must_wait(false, Some("running"), 4095.0 * G, true).is_none());
        assert!(azure_must_wait(false, Some("running"), 4096.0 * G, true).is_some());
        assert!(azure_must_wait(false, None, 4096.0 * G, false).is_none());
    }

    #[test]
    fn sizes_read_as_whole_or_one_decimal_gb() {
        assert_eq!(gb(100.0 * G), "100 GB");
        assert_eq!(gb(3.2 * G), "3.2 GB");
    }
}
