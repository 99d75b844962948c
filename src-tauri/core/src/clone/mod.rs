//! Cloning persistent desktops from one AHV account to another (docs/restore.md, "Clone").
//!
//! [`plan`] is the pre-flight: the facts are gathered here (both clusters, the remote site, the
//! source protection domain, the guest agent) and [`plan::decide`] (pure) says what happens to each
//! desktop. [`run`] re-checks, then runs a journaled job of kind `clone`: power states journaled,
//! the source desktops powered off once their users have left (bounded wait), an out-of-band
//! snapshot of the source protection domain replicated to the destination, the source desktops on
//! again, and each desktop restored on the destination as a new VM. [`resume`] finishes a job a
//! crash interrupted without doing anything twice.

pub mod plan;
mod steps;

use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::audit::{self, NewAuditEntry};
use crate::cancel::CancelFlag;
use crate::catalog::CatalogError;
use crate::connect::{self, AhvAccount, ConnectError};
use crate::disaster_recovery::{DrTarget, Report};
use crate::guest;
use crate::inventory::ResourceKind;
use crate::jobs::{JobError, JobRecord, NotResumable, ProgressSink};
use crate::limits::Limits;
use crate::notifications::{NewNotification, NotificationLevel};
use crate::providers::prism::setup::protection_domain_name;
use crate::providers::prism::types::RemoteSiteStatus;
use crate::providers::prism::PrismError;
use crate::secrets::SecretStore;
use crate::{ApiError, ErrorCode};

pub use plan::{ClonePlan, CloneSide, DesktopAction, PlannedDesktop};

/// The job kind a restart uses to find [`resume`].
pub const JOB_KIND: &str = "clone";

/// How long a clone waits for users in session when the request does not say.
pub const DEFAULT_SESSION_TIMEOUT_SECS: u64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum CloneError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Prism(#[from] PrismError),
    /// The job ran and failed (or was cancelled); the job's record says the same.
    #[error("{0}")]
    Job(#[from] JobError),
    #[error("the clone from {source_account} to {destination} is blocked: {blockers}")]
    Blocked {
        source_account: String,
        destination: String,
        blockers: String,
    },
    #[error("job {} is not a clone job that this version of Standby can resume: {}", .0.job, .0.reason)]
    NotResumable(#[from] NotResumable),
}

impl From<CloneError> for ApiError {
    fn from(e: CloneError) -> Self {
        match e {
            CloneError::Connect(e) => e.into(),
            CloneError::Catalog(e) => e.into(),
            CloneError::Prism(e) => e.into(),
            CloneError::Job(e) => e.into(),
            CloneError::Blocked { .. } => ApiError::new(ErrorCode::Conflict, e.to_string()),
            other => ApiError::new(ErrorCode::InvalidInput, other.to_string()),
        }
    }
}

/// "Clone these desktops of that account to this one."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CloneRequest {
    /// Id or name of the source AHV cloud account.
    pub source_account: String,
    pub destination_account: String,
    /// The Frame account on the source.
    pub frame_account: String,
    /// The Frame account on the destination (the same name when `None`).
    pub destination_frame_account: Option<String>,
    /// Replace the desktop an owner already has in the destination instead of skipping them.
    pub replace_assigned: bool,
    /// Power the clones on when they are made (else they stay off).
    pub keep_running: bool,
    /// Desktop names or VM uuids; empty clones every persistent desktop with an owner.
    pub volumes: Vec<String>,
    /// How long to wait for users in session (default [`DEFAULT_SESSION_TIMEOUT_SECS`]).
    #[specta(type = Option<f64>)]
    pub session_timeout_secs: Option<u64>,
    /// Who asked (`window`, `standbyctl:alice`, ...), for the audit log.
    pub actor: String,
}

/// One desktop cloned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ClonedDesktop {
    pub source: String,
    pub owner: Option<String>,
    pub new_name: String,
    /// The new VM's uuid on the destination.
    pub new_uuid: String,
    /// The destination desktop it replaced (powered off and kept).
    pub replaced: Option<String>,
    pub powered_on: bool,
}

/// How a clone ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct CloneOutcome {
    pub job_id: String,
    pub plan: ClonePlan,
    pub cloned: Vec<ClonedDesktop>,
    /// Source desktops powered on again after the snapshot.
    pub source_powered_on: Vec<String>,
    /// The source snapshot the clones come from (`"{pd}:{id}"`), and its replica's id.
    pub snapshot: String,
    pub replica: String,
}

/// What the job journals: the request and the plan it was accepted with, so that a resumed job
/// acts on the same desktops with the same names.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CloneParams {
    request: CloneRequest,
    plan: ClonePlan,
}

/// The pre-flight of a clone: what will happen to each desktop, and every check with its result.
pub async fn plan(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: &CloneRequest,
) -> Result<ClonePlan, CloneError> {
    let facts = gather(report, store, req).await?;
    Ok(plan::decide(&facts))
}

fn accounts<T>(
    report: &Report<'_>,
    store: &dyn SecretStore,
    f: impl FnOnce(&Accounts<'_>) -> T,
) -> T {
    let c = report.catalog.lock();
    f(&Accounts { catalog: &c, store })
}

async fn gather(
    report: &Report<'_>,
    store: &dyn SecretStore,
    req: &CloneRequest,
) -> Result<plan::Facts, CloneError> {
    let src = accounts(report, store, |a| connect::ahv(a, &req.source_account))?;
    let dst = accounts(report, store, |a| connect::ahv(a, &req.destination_account));
    let dest_frame = req
        .destination_frame_account
        .clone()
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| req.frame_account.clone());
    let source = CloneSide {
        account_id: src.account.id.clone(),
        account_name: src.account.name.clone(),
        frame_account: req.frame_account.clone(),
    };
    let overrides = report.catalog.lock().mapping_overrides(&src.account.id)?;
    let resources = src
        .client
        .discover_account(&req.frame_account, &overrides)
        .await?;

    let same_cluster = dst.as_ref().is_ok_and(|d| d.account.id == src.account.id);
    let destination = match &dst {
        Ok(d) => {
            let side = CloneSide {
                account_id: d.account.id.clone(),
                account_name: d.account.name.clone(),
                frame_account: dest_frame.clone(),
            };
            let overrides = report.catalog.lock().mapping_overrides(&d.account.id)?;
            match d.client.discover_account(&dest_frame, &overrides).await {
                Ok(r) => Ok((side, r)),
                Err(e) => Err((
                    side,
                    format!("the destination's desktops could not be listed: {e}"),
                )),
            }
        }
        Err(e) => Err((
            CloneSide {
                account_id: String::new(),
                account_name: req.destination_account.clone(),
                frame_account: dest_frame.clone(),
            },
            format!("{e} (the destination must be an AHV cloud account: standbyctl account list)"),
        )),
    };

    // The DR configuration names the site and the protection domain when it replicates to this
    // destination; otherwise any site of the source that points at the destination's address will
    // do, with Standby's protection domain for the account.
    let dr = report.catalog.lock().dr_config(&src.account.id)?;
    let (dr_site, pd) = match dr {
        Some(c) if c.frame_account == req.frame_account => match c.target {
            DrTarget::Ahv {
                secondary_account_id,
                site_on_primary,
                protection_domain,
                ..
            } => (
                dst.as_ref()
                    .ok()
                    .filter(|d| d.account.id == secondary_account_id)
                    .map(|_| site_on_primary),
                protection_domain,
            ),
            DrTarget::Azure { .. } => (None, protection_domain_name(&req.frame_account)),
        },
        _ => (None, protection_domain_name(&req.frame_account)),
    };
    let site = match &dst {
        Ok(d) => find_site(&src, d, dr_site.as_deref()).await,
        Err(_) => Err("no destination cluster to replicate to".into()),
    };

    let (protection_domain_found, protected) = match src.client.protection_domain(&pd).await {
        Ok(p) => (
            Ok(()),
            p.vms
                .iter()
                .flat_map(|v| [v.vm_id.clone(), Some(v.vm_name.clone())])
                .flatten()
                .collect::<Vec<_>>(),
        ),
        Err(PrismError::NotFound { .. }) => (
            Err(crate::error::Unknown(format!(
                "{pd} is not on {}: enable disaster recovery for {} (standbyctl dr enable-ahv) so its desktops are protected",
                src.account.name, req.frame_account
            ))),
            vec![],
        ),
        Err(e) => (Err(format!("{pd} could not be read: {e}").into()), vec![]),
    };

    let observed = guest::read_for(report.catalog, &src.account.id).await;
    let desktops = resources
        .into_iter()
        .filter(|r| r.kind == ResourceKind::PersistentDesktop)
        .map(|r| plan::SourceDesktop {
            session: observed.session(&r),
            protected: protected
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&r.provider_id) || *p == r.name),
            resource: r,
        })
        .collect();

    Ok(plan::Facts {
        source,
        destination,
        same_cluster,
        site,
        protection_domain: pd,
        protection_domain_found,
        desktops,
        selection: req.volumes.clone(),
        replace_assigned: req.replace_assigned,
        keep_running: req.keep_running,
        prefix: format!("clone-{}-", report.clock.now().format("%Y%m%d%H%M%S")),
        session_timeout_secs: req
            .session_timeout_secs
            .unwrap_or(DEFAULT_SESSION_TIMEOUT_SECS),
    })
}

/// The remote site on the source that replicates to the destination: the DR configuration's
/// when it names one, else the first whose addresses include the destination cluster's.
async fn find_site(
    src: &AhvAccount,
    dst: &AhvAccount,
    named: Option<&str>,
) -> Result<plan::SiteFact, crate::error::Unknown> {
    let sites = src.client.remote_sites().await.map_err(|e| {
        format!(
            "the remote sites of {} could not be read: {e}",
            src.account.name
        )
    })?;
    let mut addresses = vec![dst.settings.address.clone()];
    if let Ok(info) = dst.client.cluster().await {
        addresses.extend(info.cluster_external_ipaddress);
    }
    let site = match named {
        Some(n) => sites.into_iter().find(|s| s.name == n),
        None => sites.into_iter().find(|s| {
            s.remote_ip_ports
                .keys()
                .any(|ip| addresses.iter().any(|a| a == ip))
        }),
    };
    let Some(s) = site else {
        return Err(crate::error::Unknown(format!(
            "no remote site on {} points at {}: join the clusters first (standbyctl dr enable-ahv)",
            src.account.name, dst.account.name
        )));
    };
    let status = s.status.clone();
    Ok(plan::SiteFact {
        established: status == Some(RemoteSiteStatus::RelationshipEstablished),
        status: status.map_or_else(|| "of unknown status".into(), |s| s.to_string()),
        mapped_containers: s.vstore_name_map.keys().cloned().collect(),
        name: s.name,
    })
}

/// Clones desktops: re-checks, journals a `clone` job, runs it, and reports the outcome.
pub async fn run(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    req: CloneRequest,
    cancel: CancelFlag,
) -> Result<CloneOutcome, CloneError> {
    let plan = plan(report, store, &req).await?;
    if !plan.can_run {
        return Err(CloneError::Blocked {
            source_account: plan.source.account_name.clone(),
            destination: plan.destination.account_name.clone(),
            blockers: plan.blockers(),
        });
    }
    let params = CloneParams { request: req, plan };
    let jobs = report.jobs(sink);
    let value = serde_json::to_value(&params).expect("clone parameters serialise");
    let job = jobs.create(JOB_KIND, Some(&params.plan.source.account_id), value)?;
    {
        let c = report.catalog.lock();
        let p = &params.plan;
        audit::record(
            &c,
            report.clock.as_ref(),
            &NewAuditEntry::new(params.request.actor.clone(), "clone")
                .account(p.source.account_id.clone())
                .job(job.id.clone())
                .detail(serde_json::json!({
                    "source": p.source,
                    "destination": p.destination,
                    "desktops": p.copied().map(|d| d.name.clone()).collect::<Vec<_>>(),
                    "replace_assigned": p.replace_assigned,
                    "keep_running": p.keep_running,
                })),
        )?;
    }
    let p = &params.plan;
    notify(
        report,
        &job.id,
        p,
        NotificationLevel::Info,
        format!(
            "Clone of {} desktops of {} ({}) to {} ({}) started.",
            p.copied().count(),
            p.source.frame_account,
            p.source.account_name,
            p.destination.frame_account,
            p.destination.account_name
        ),
    );
    execute(report, store, sink, limits, &job, &params, cancel).await
}

/// Runs a `clone` job again after a crash, a kill or a cancel: done steps are replayed from the
/// journal, the interrupted one runs again and finds what its first attempt did.
pub async fn resume(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    cancel: CancelFlag,
) -> Result<CloneOutcome, CloneError> {
    let params: CloneParams = job.resumable_params(JOB_KIND)?;
    execute(report, store, sink, limits, job, &params, cancel).await
}

async fn execute(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &Limits,
    job: &JobRecord,
    params: &CloneParams,
    cancel: CancelFlag,
) -> Result<CloneOutcome, CloneError> {
    let p = &params.plan;
    let src = accounts(report, store, |a| connect::ahv(a, &p.source.account_id))?;
    let dst = accounts(report, store, |a| {
        connect::ahv(a, &p.destination.account_id)
    })?;
    let jobs = report.jobs(sink);
    let env = steps::Env {
        report,
        src: &src.client,
        dst: &dst.client,
        plan: p,
        cancel: &cancel,
        limits,
    };
    let result = jobs
        .run(job, cancel.clone(), async |ctx| {
            let done = steps::steps(ctx, &env).await?;
            Ok(serde_json::to_value(done).expect("outcome serialises"))
        })
        .await;
    let (level, body) = match &result {
        Ok(v) => match serde_json::from_value::<steps::Done>(v.clone()) {
            Ok(done) => (NotificationLevel::Success, success_words(p, &done)),
            Err(e) => (
                NotificationLevel::Error,
                format!("Clone finished but its outcome cannot be read: {e}."),
            ),
        },
        Err(JobError::Cancelled) => (
            NotificationLevel::Warning,
            "Clone was cancelled before it finished: source desktops may be powered off; resume the job (`standbyctl jobs resume`) to finish it.".to_string(),
        ),
        Err(e) => (
            NotificationLevel::Error,
            format!(
                "Clone from {} to {} failed: {}. Source desktops Standby powered off were powered on again where they had been running; clones already made on {} are kept.",
                p.source.account_name,
                p.destination.account_name,
                e.to_string().trim_end_matches('.'),
                p.destination.account_name
            ),
        ),
    };
    notify(report, &job.id, p, level, body);
    let done: steps::Done = job.read_outcome(result?)?;
    Ok(CloneOutcome {
        job_id: job.id.clone(),
        plan: p.clone(),
        cloned: done.cloned,
        source_powered_on: done.source_powered_on,
        snapshot: done.snapshot,
        replica: done.replica,
    })
}

fn success_words(p: &ClonePlan, done: &steps::Done) -> String {
    let mut body = format!(
        "{} desktops of {} cloned to {} on {}: {}.",
        done.cloned.len(),
        p.source.frame_account,
        p.destination.frame_account,
        p.destination.account_name,
        done.cloned
            .iter()
            .map(|c| c.new_name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let replaced: Vec<String> = done
        .cloned
        .iter()
        .filter_map(|c| c.replaced.as_ref().map(|r| format!("{r} ({})", c.new_name)))
        .collect();
    if !replaced.is_empty() {
        body.push_str(&format!(
            " Replaced desktops are powered off and kept: {}; assign the clones in Frame, and delete the old desktops once the clones are confirmed good.",
            replaced.join(", ")
        ));
    }
    body.push_str(if p.keep_running {
        " The clones are running."
    } else {
        " The clones are powered off."
    });
    if !done.source_powered_on.is_empty() {
        body.push_str(&format!(
            " Running again on the source: {}.",
            done.source_powered_on.join(", ")
        ));
    }
    body
}

/// Posts to the notification center under the clone's title (its start, milestones, outcome).
fn notify(
    report: &Report<'_>,
    job_id: &str,
    p: &ClonePlan,
    level: NotificationLevel,
    body: String,
) {
    let note = NewNotification::new(
        level,
        format!(
            "Clone of {} to {}",
            p.source.frame_account, p.destination.account_name
        ),
        body,
    )
    .account(p.source.account_id.clone())
    .job(job_id.to_string());
    report.announce(&note);
}
