//! The body of a `clone` job. Every step is idempotent: power changes read the VM first, the
//! snapshot step adopts the out-of-band snapshot a first attempt took, or its request still
//! pending on the cluster (the snapshot and schedule ids seen before are journaled), the replica is recognised by its snapshot uuid, and a clone is found by its name
//! before it is restored.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::plan::{ClonePlan, DesktopAction, PlannedDesktop};
use super::ClonedDesktop;
use crate::cancel::CancelFlag;
use crate::disaster_recovery::Report;
use crate::guest::{self, Observed};
use crate::jobs::{JobContext, JobError};
use crate::notifications::NotificationLevel;
use crate::providers::prism::types::{DrSnapshot, PowerTransition, VmPowerState};
use crate::providers::prism::{PrismClient, PrismError, RestoreSpec, RestoreStarted};
use crate::{ApiError, ErrorCode};

/// The clone's source snapshot is only needed until its replica is restored; a week leaves room
/// for a slow link without letting clone snapshots pile up in the protection domain.
const SNAPSHOT_RETENTION_SECS: u64 = 7 * 24 * 3600;

/// The operation type of a `restore_entities` task.
const RESTORE_OPERATION: &str = "kRestoreEntities";

pub(super) struct Env<'a> {
    pub report: &'a Report<'a>,
    pub src: &'a PrismClient,
    pub dst: &'a PrismClient,
    pub plan: &'a ClonePlan,
    pub cancel: &'a CancelFlag,
    /// The protection domain's turn: a backup of the same domain in this process must not adopt
    /// the clone's short-lived snapshot as its own (see `backup::ahv`).
    pub limits: &'a crate::limits::Limits,
}

/// What the job hands back (its recorded outcome).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Done {
    pub cloned: Vec<ClonedDesktop>,
    pub source_powered_on: Vec<String>,
    pub snapshot: String,
    pub replica: String,
}

/// Power states before the clone touched anything, by VM uuid.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Power {
    source: BTreeMap<String, bool>,
    destination: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Taken {
    snapshot_id: String,
    snapshot_uuid: Option<String>,
}

fn op(e: PrismError) -> JobError {
    match e {
        PrismError::Cancelled => JobError::Cancelled,
        e => JobError::Operation(e.into()),
    }
}

fn failed(code: ErrorCode, message: String) -> JobError {
    JobError::Operation(ApiError::new(code, message))
}

async fn is_on(prism: &PrismClient, uuid: &str) -> Result<bool, JobError> {
    Ok(prism.vm(uuid).await.map_err(op)?.power_state == Some(VmPowerState::On))
}

/// Powers a VM on or off unless it is so already, following the task to its end; says whether
/// it changed anything.
async fn set_power(
    prism: &PrismClient,
    uuid: &str,
    on: bool,
    cancel: &CancelFlag,
) -> Result<bool, JobError> {
    // A transition a killed attempt asked for lands when its task ends: wait for it first.
    prism.settle_power(uuid, cancel).await.map_err(op)?;
    if is_on(prism, uuid).await? == on {
        return Ok(false);
    }
    let transition = if on {
        PowerTransition::On
    } else {
        PowerTransition::Off
    };
    let task = prism.set_power_state(uuid, transition).await.map_err(op)?;
    prism
        .wait_task(&task, &mut |_| {}, cancel)
        .await
        .map_err(op)?;
    Ok(true)
}

fn milestone(env: &Env<'_>, job_id: &str, body: String) {
    super::notify(env.report, job_id, env.plan, NotificationLevel::Info, body);
}

pub(super) async fn steps(ctx: &JobContext<'_>, env: &Env<'_>) -> Result<Done, JobError> {
    let p = env.plan;
    let copied: Vec<&PlannedDesktop> = p.copied().collect();

    // 1. Power states first, so that whatever happens next can be undone.
    let power: Power = ctx
        .step("power_states", || async {
            let mut out = Power::default();
            for d in &copied {
                out.source
                    .insert(d.uuid.clone(), is_on(env.src, &d.uuid).await?);
                if let DesktopAction::Replace { replaces_uuid, .. } = &d.action {
                    out.destination
                        .insert(replaces_uuid.clone(), is_on(env.dst, replaces_uuid).await?);
                }
            }
            Ok(out)
        })
        .await?;
    ctx.report(2.0, "power states recorded", None)?;

    // 2. Sessions end, desktops go off; the deadline is journaled so a resumed job keeps it.
    let deadline: String = ctx
        .step("session_deadline", || async {
            let secs = i64::try_from(p.session_timeout_secs).unwrap_or(i64::MAX / 2_000_000);
            Ok((env.report.clock.now() + chrono::Duration::seconds(secs)).to_rfc3339())
        })
        .await?;
    let quiesced = ctx
        .step("quiesce", || quiesce(ctx, env, &copied, &deadline))
        .await;
    if let Err(e) = quiesced {
        return Err(undo_power(env, &copied, &power, e).await);
    }
    milestone(
        env,
        ctx.id(),
        format!(
            "Nobody is in session on the {} desktops to clone; they are powered off.",
            copied.len()
        ),
    );

    // 3. One out-of-band snapshot of the protection domain, replicated to the destination.
    let turn = env
        .limits
        .protection_domain(&p.source.account_id, &p.protection_domain, env.cancel)
        .await
        .ok_or(JobError::Cancelled)?;
    let seen: Vec<String> = ctx
        .step("snapshot_seen", || async {
            Ok(env
                .src
                .snapshots(&p.protection_domain, &[])
                .await
                .map_err(op)?
                .into_iter()
                .map(|s| s.snapshot_id)
                .collect())
        })
        .await?;
    // The out-of-band requests already pending, journaled with the snapshots before ours: a
    // first attempt killed after asking finds its own request (pending, or by then a snapshot)
    // as the one new since, and waits for it instead of asking again.
    let pending: Vec<i64> = ctx
        .step("schedules_seen", || async {
            Ok(env
                .src
                .oob_schedules(&p.protection_domain)
                .await
                .map_err(op)?
                .into_iter()
                .filter_map(|s| s.schedule_id)
                .collect())
        })
        .await?;
    let taken = match ctx
        .step("snapshot", || snapshot(ctx, env, &seen, &pending))
        .await
    {
        Ok(t) => t,
        Err(e) => return Err(undo_power(env, &copied, &power, e).await),
    };
    drop(turn);

    // 4. The source desktops do not wait for the copy: the snapshot holds what is cloned.
    let source_powered_on: Vec<String> = ctx
        .step("source_power_on", || async {
            let mut on = Vec::new();
            for d in &copied {
                if power.source.get(&d.uuid).copied().unwrap_or(false) {
                    set_power(env.src, &d.uuid, true, env.cancel).await?;
                    on.push(d.name.clone());
                }
            }
            Ok(on)
        })
        .await?;
    milestone(
        env,
        ctx.id(),
        format!(
            "Snapshot {} of {} taken{}; replicating it to {}.",
            taken.snapshot_id,
            p.protection_domain,
            if source_powered_on.is_empty() {
                String::new()
            } else {
                format!("; running again: {}", source_powered_on.join(", "))
            },
            p.destination.account_name
        ),
    );
    ctx.report(30.0, "source desktops as they were", None)?;

    // 5. The replica lands on the destination under an id of its own.
    let replica: String = ctx
        .step("replicate", || replicate(ctx, env, &taken))
        .await?;
    ctx.report(
        60.0,
        &format!("replica on {}", p.destination.account_name),
        None,
    )?;

    // 6. Desktops being replaced are powered off and kept.
    for d in &copied {
        if let DesktopAction::Replace {
            replaces,
            replaces_uuid,
            ..
        } = &d.action
        {
            ctx.step(&format!("retire:{replaces}"), || async {
                ctx.report(62.0, &format!("powering {replaces} off (it is kept)"), None)?;
                set_power(env.dst, replaces_uuid, false, env.cancel).await
            })
            .await?;
        }
    }

    // 7. One restore per desktop, so that each is found again by its name after a crash.
    let mut made = Vec::new();
    for (i, d) in copied.iter().enumerate() {
        let at = 65.0 + 25.0 * i as f64 / copied.len().max(1) as f64;
        let uuid: String = ctx
            .step(&format!("restore:{}", d.name), || {
                restore_one(ctx, env, d, &replica, at)
            })
            .await?;
        made.push(uuid);
    }
    milestone(
        env,
        ctx.id(),
        format!(
            "{} desktops restored on {}.",
            made.len(),
            p.destination.account_name
        ),
    );

    // 8. The clones run only when asked to.
    let powered: Vec<String> = ctx
        .step("clone_power", || async {
            let mut on = Vec::new();
            if p.keep_running {
                for u in &made {
                    ctx.report(95.0, "powering the clones on", None)?;
                    set_power(env.dst, u, true, env.cancel).await?;
                    on.push(u.clone());
                }
            }
            Ok(on)
        })
        .await?;

    let cloned = copied
        .iter()
        .zip(&made)
        .map(|(d, u)| ClonedDesktop {
            source: d.name.clone(),
            owner: d.owner.clone(),
            new_name: d.new_name().unwrap_or_default().to_string(),
            new_uuid: u.clone(),
            replaced: match &d.action {
                DesktopAction::Replace { replaces, .. } => Some(replaces.clone()),
                _ => None,
            },
            powered_on: powered.contains(u),
        })
        .collect();
    Ok(Done {
        cloned,
        source_powered_on,
        snapshot: format!("{}:{}", p.protection_domain, taken.snapshot_id),
        replica,
    })
}

/// Before the snapshot exists, a failure leaves the source as it was: what was running is powered
/// on again (best effort; what could not be is logged and named in the error).
async fn undo_power(
    env: &Env<'_>,
    copied: &[&PlannedDesktop],
    power: &Power,
    e: JobError,
) -> JobError {
    if matches!(e, JobError::Cancelled) {
        return e;
    }
    let mut stuck = Vec::new();
    for d in copied {
        if power.source.get(&d.uuid).copied().unwrap_or(false) {
            if let Err(err) = set_power(env.src, &d.uuid, true, env.cancel).await {
                tracing::error!("{} could not be powered on again: {err}", d.name);
                stuck.push(d.name.clone());
            }
        }
    }
    if stuck.is_empty() {
        return e;
    }
    let mut api = ApiError::from(e);
    api.message = format!(
        "{}; and {} could not be powered on again: power them on in Prism",
        api.message.trim_end_matches('.'),
        stuck.join(", ")
    );
    JobError::Operation(api)
}

/// Who is in session on a desktop: `Ok(None)` nobody, `Ok(Some(user))`, `Err(why)` unknown.
fn session_on(observed: &Observed, d: &PlannedDesktop) -> Result<Option<String>, String> {
    match observed {
        Observed::Unknown(why) => Err(why.clone()),
        Observed::Read(g) => g
            .volumes
            .iter()
            .find(|v| v.id.eq_ignore_ascii_case(&d.uuid))
            .or_else(|| {
                g.volumes
                    .iter()
                    .find(|v| v.name.eq_ignore_ascii_case(&d.name))
            })
            .map(|v| v.session_user.clone())
            .ok_or_else(|| format!("the guest agent ({}) does not know it", g.source)),
    }
}

/// Powers off each running source desktop as soon as nobody is in session on it, polling the
/// guest agent until all are off or the deadline passes (then it fails naming who is still in).
async fn quiesce(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    copied: &[&PlannedDesktop],
    deadline: &str,
) -> Result<(), JobError> {
    let deadline =
        chrono::DateTime::parse_from_rfc3339(deadline).map_err(|e| JobError::Unreadable {
            job: ctx.id().to_string(),
            step: "session_deadline".into(),
            message: e.to_string(),
        })?;
    loop {
        let observed = guest::read_for(env.report.catalog, &env.plan.source.account_id).await;
        let mut waiting = Vec::new();
        for d in copied {
            if !is_on(env.src, &d.uuid).await? {
                continue;
            }
            match session_on(&observed, d) {
                Ok(None) => {
                    ctx.report(5.0, &format!("powering {} off", d.name), None)?;
                    set_power(env.src, &d.uuid, false, env.cancel).await?;
                }
                Ok(Some(user)) => waiting.push(format!("{user} on {}", d.name)),
                Err(why) => waiting.push(format!("unknown on {} ({why})", d.name)),
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if env.report.clock.now() >= deadline {
            return Err(failed(
                ErrorCode::Conflict,
                format!(
                    "users are still in session after waiting {} s: {}. Nothing was copied and the desktops Standby powered off are powered on again; ask these users to sign out, then clone again",
                    env.plan.session_timeout_secs,
                    waiting.join(", ")
                ),
            ));
        }
        ctx.report(
            8.0,
            &format!("waiting for sessions to end: {}", waiting.join(", ")),
            None,
        )?;
        if !env.cancel.sleep(Duration::from_secs(1)).await {
            return Err(JobError::Cancelled);
        }
    }
}

async fn snapshot(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    seen: &[String],
    pending_before: &[i64],
) -> Result<Taken, JobError> {
    let pd = &env.plan.protection_domain;
    let site = env.plan.remote_site.clone().ok_or_else(|| {
        failed(
            ErrorCode::Conflict,
            "the plan has no remote site to replicate to".into(),
        )
    })?;
    ctx.report(15.0, &format!("snapshot of {pd}"), None)?;
    // A first attempt's snapshot: new since the journaled list, out of band, bound for our site.
    let fresh = |list: Vec<DrSnapshot>| {
        list.into_iter().find(|s| {
            !seen.contains(&s.snapshot_id)
                && !s.oob_schedule_ids.is_empty()
                && (s.remote_site_names.is_empty() || s.remote_site_names.contains(&site))
        })
    };
    let mut snap = fresh(env.src.snapshots(pd, &[]).await.map_err(op)?);
    // Or its request, still pending on the cluster (Prism snapshots "a moment" after the call).
    let mut schedule = None;
    if snap.is_none() {
        schedule = env
            .src
            .oob_schedules(pd)
            .await
            .map_err(op)?
            .into_iter()
            .filter(|o| o.remote_site_names.is_empty() || o.remote_site_names.contains(&site))
            .filter_map(|o| o.schedule_id)
            .find(|id| !pending_before.contains(id));
    }
    if snap.is_none() && schedule.is_none() {
        let taken = env
            .src
            .take_snapshot(
                pd,
                std::slice::from_ref(&site),
                Some(SNAPSHOT_RETENTION_SECS),
            )
            .await
            .map_err(op)?;
        snap = taken.snapshot;
        schedule = taken.schedule_id;
    }
    let mut delay = Duration::from_millis(200);
    for _ in 0..60 {
        if snap.is_some() {
            break;
        }
        if !env.cancel.sleep(delay).await {
            return Err(JobError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
        snap = match schedule {
            Some(id) => env
                .src
                .snapshots(pd, &[id])
                .await
                .map_err(op)?
                .into_iter()
                .next(),
            None => fresh(env.src.snapshots(pd, &[]).await.map_err(op)?),
        };
    }
    let s = snap.ok_or_else(|| {
        failed(
            ErrorCode::Unavailable,
            format!("Prism accepted the snapshot of {pd} but did not list it: look at the protection domain's snapshots in Prism, then resume the job"),
        )
    })?;
    ctx.report(
        25.0,
        &format!("snapshot {} of {pd} taken", s.snapshot_id),
        None,
    )?;
    Ok(Taken {
        snapshot_id: s.snapshot_id,
        snapshot_uuid: s.snapshot_uuid,
    })
}

/// Follows the replication until the destination's protection domain of the same name holds the
/// snapshot (recognised by its uuid); returns the replica's id there.
async fn replicate(ctx: &JobContext<'_>, env: &Env<'_>, taken: &Taken) -> Result<String, JobError> {
    let pd = &env.plan.protection_domain;
    let site = env.plan.remote_site.as_deref().unwrap_or("the remote site");
    let Some(uuid) = taken.snapshot_uuid.as_deref() else {
        return Err(failed(
            ErrorCode::Unavailable,
            format!(
                "Prism gave snapshot {} no uuid, so its replica cannot be recognised on {}",
                taken.snapshot_id, env.plan.destination.account_name
            ),
        ));
    };
    let mut delay = Duration::from_millis(200);
    loop {
        match env.dst.snapshots(pd, &[]).await {
            Ok(list) => {
                if let Some(s) = list
                    .into_iter()
                    .find(|s| s.snapshot_uuid.as_deref() == Some(uuid))
                {
                    return Ok(s.snapshot_id);
                }
            }
            // The domain appears on the destination with the first replica.
            Err(PrismError::NotFound { .. }) => {}
            Err(e) => return Err(op(e)),
        }
        let replications = env.src.replications(pd).await.map_err(op)?;
        if let Some(r) = replications
            .iter()
            .find(|r| r.snapshot_id == taken.snapshot_id)
        {
            if r.aborted == Some(true) {
                return Err(failed(
                    ErrorCode::Unavailable,
                    format!(
                        "the replication of snapshot {} to {site} was aborted",
                        taken.snapshot_id
                    ),
                ));
            }
            let pct = r.completed_percentage.unwrap_or(0.0).clamp(0.0, 100.0);
            ctx.report(
                30.0 + pct * 0.3,
                &format!("replicating to {site}: {pct:.0}%"),
                None,
            )?;
        }
        if !env.cancel.sleep(delay).await {
            return Err(JobError::Cancelled);
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn vm_named(prism: &PrismClient, name: &str) -> Result<Option<String>, JobError> {
    Ok(prism
        .vms()
        .await
        .map_err(op)?
        .into_iter()
        .find(|v| v.name == name)
        .map(|v| v.uuid))
}

/// Restores one desktop from the replica as a new VM named with the plan's prefix (found by that
/// name first, so it is never made twice); returns its uuid.
async fn restore_one(
    ctx: &JobContext<'_>,
    env: &Env<'_>,
    d: &PlannedDesktop,
    replica: &str,
    at: f64,
) -> Result<String, JobError> {
    let name = d.new_name().unwrap_or_default().to_string();
    // A restore a killed attempt started makes its VM only when its task ends: wait for any
    // restore still running that names this clone (or the protection domain, for releases whose
    // task names only the domain), then look for the VM, so that it is never restored twice.
    env.dst
        .settle_tasks_of(&name, &[], env.cancel)
        .await
        .map_err(op)?;
    env.dst
        .settle_tasks_of(
            &env.plan.protection_domain,
            &[RESTORE_OPERATION],
            env.cancel,
        )
        .await
        .map_err(op)?;
    if let Some(u) = vm_named(env.dst, &name).await? {
        return Ok(u);
    }
    ctx.report(
        at,
        &format!("restoring {name} on {}", env.plan.destination.account_name),
        None,
    )?;
    let spec = RestoreSpec {
        snapshot_id: replica.to_string(),
        vm_names: vec![d.name.clone()],
        volume_group_uuids: vec![],
        replace: false,
        vm_name_prefix: Some(env.plan.name_prefix.clone()),
        vg_name_prefix: None,
    };
    match env
        .dst
        .restore_entities(&env.plan.protection_domain, &spec)
        .await
        .map_err(op)?
    {
        RestoreStarted::Task(task) => {
            env.dst
                .wait_task(&task, &mut |_| {}, env.cancel)
                .await
                .map_err(op)?;
        }
        RestoreStarted::Accepted => {}
    }
    // Without a task (older AOS) the VM appears when Prism is done.
    for _ in 0..240 {
        if let Some(u) = vm_named(env.dst, &name).await? {
            return Ok(u);
        }
        if !env.cancel.sleep(Duration::from_millis(500)).await {
            return Err(JobError::Cancelled);
        }
    }
    Err(failed(
        ErrorCode::Unavailable,
        format!("Prism accepted the restore of {name} but it did not appear within 2 minutes"),
    ))
}
