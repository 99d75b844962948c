//! The scheduler: runs each account's scheduled backups when they are due, watches sessions for
//! post-session backups, applies retention after each scheduled run, and (every few minutes)
//! runs the autogrow check. It runs inside the app while it sits in the tray, or headless as
//! `standbyctl serve`; either way it holds the data folder's scheduler lock (`scheduler_lock`)
//! so that two never start the same run.
//!
//! Time is passed in (a [`Clock`]) and waiting goes through a [`Sleep`], so tests drive a
//! scheduler through days of schedule without waiting.
//!
//! A run is claimed in `schedule_runs` (keyed by account and due instant) before its backup
//! starts: a scheduler restarted mid-run finds the claim, finishes the interrupted job through
//! `resumption::resume_unfinished` and records its outcome, and never starts the run again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::backup::BackupKind;
use crate::cancel::CancelFlag;
use crate::catalog::schedules::RunState;
use crate::catalog::CatalogError;
use crate::disaster_recovery::Report;
use crate::inventory::ResourceKind;
use crate::jobs::{JobState, ProgressSink};
use crate::notifications::{NewNotification, NotificationLevel};
use crate::schedule::due_key;
use crate::secrets::SecretStore;
use crate::ApiError;

/// Not `Send`: the backup engine's futures are not (its journaled steps borrow across awaits), so a
/// scheduler runs on a thread of its own (the app) or the main one (`standbyctl serve`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Waiting, passed in: real time in production, a clock moved by hand in tests.
pub trait Sleep: Send + Sync {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()>;
}

/// Real waiting.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The actor the audit log and notifications name for what the scheduler starts.
pub const ACTOR: &str = "scheduler";

/// How often the scheduler looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SchedulerSettings {
    /// Seconds between two looks at the schedules.
    pub tick_secs: u32,
    /// Seconds between two readings of the guest agents for post-session backups.
    pub sessions_every_secs: u32,
    /// Minutes between two autogrow checks of each account.
    pub autogrow_every_mins: u32,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            tick_secs: 30,
            sessions_every_secs: 60,
            autogrow_every_mins: 15,
        }
    }
}

/// A backup of many volumes, as the scheduler and the post-session watcher ask for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupAllAsk {
    pub account_id: String,
    pub frame_account: String,
    pub kind: BackupKind,
    /// Only these volumes (provider ids); `None`: every protected volume.
    pub volumes: Option<Vec<String>>,
    pub name: String,
    pub actor: String,
}

/// How a backup of many volumes ended, read back from its job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupAllDone {
    pub job_id: Option<String>,
    /// The job succeeded: every volume not skipped was backed up.
    pub ok: bool,
    pub backed_up: usize,
    pub skipped: usize,
    pub failed: usize,
    /// The outcome in words.
    pub detail: String,
}

/// Backing up many volumes: [`CoreBackups`] (`backup::all`) in production.
pub trait BackupAll: Send + Sync {
    /// Runs the backup; `Ok` with the job it ran (whatever its outcome), `Err` when it was
    /// refused before any job was made.
    fn backup_all<'a>(
        &'a self,
        report: &'a Report<'a>,
        store: &'a dyn SecretStore,
        sink: &'a dyn ProgressSink,
        ask: BackupAllAsk,
        cancel: CancelFlag,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>>;

    /// The process's limits, which the jobs resumed at start respect too.
    fn limits(&self) -> &crate::limits::Limits;
}

/// `backup::all::run` within the process's limits (copies per region, Prism tasks, workers).
#[derive(Default)]
pub struct CoreBackups {
    /// Shared with whatever else runs in the process (the window's own operations).
    pub limits: std::sync::Arc<crate::limits::Limits>,
}

/// What scheduled backups cover: every protected kind of resource.
pub const SCHEDULED_KINDS: [ResourceKind; 5] = [
    ResourceKind::Sandbox,
    ResourceKind::UtilityServer,
    ResourceKind::PersistentDesktop,
    ResourceKind::EnterpriseProfile,
    ResourceKind::PersonalDrive,
];

impl BackupAll for CoreBackups {
    fn limits(&self) -> &crate::limits::Limits {
        &self.limits
    }

    fn backup_all<'a>(
        &'a self,
        report: &'a Report<'a>,
        store: &'a dyn SecretStore,
        sink: &'a dyn ProgressSink,
        ask: BackupAllAsk,
        cancel: CancelFlag,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async move {
            let name = ask.name.clone();
            let req = crate::backup::all::BackupAllRequest {
                account: ask.account_id.clone(),
                frame_account: ask.frame_account,
                kind: ask.kind,
                resource_kinds: match &ask.volumes {
                    Some(_) => Vec::new(),
                    None => SCHEDULED_KINDS.to_vec(),
                },
                volumes: ask.volumes.unwrap_or_default(),
                name: Some(ask.name),
                dry_run: false,
                actor: ask.actor,
            };
            match crate::backup::all::run(report, store, sink, &self.limits, req, cancel).await {
                Ok(out) => Ok(out.job_id),
                Err(e) => match job_named(report, &name) {
                    // The job ran and failed (or some volumes did): its record says how.
                    Some(id) => Ok(Some(id)),
                    None => Err(e.into()),
                },
            }
        })
    }
}

/// The newest job whose backups carry `name` (how a run finds its job when the call that made
/// it did not return it).
pub fn job_named(report: &Report<'_>, name: &str) -> Option<String> {
    let jobs = report.catalog.lock().recent_jobs(500).ok()?;
    jobs.into_iter()
        .find(|j| j.params.get("name").and_then(|n| n.as_str()) == Some(name))
        .map(|j| j.id)
}

/// How a backup-all job ended, once it has (`None` while it is unfinished or unknown).
pub fn done_from_job(report: &Report<'_>, job_id: &str) -> Option<BackupAllDone> {
    let c = report.catalog.lock();
    let job = c.job(job_id).ok().flatten()?;
    let ok = match job.state {
        JobState::Succeeded => true,
        JobState::Failed | JobState::Cancelled => false,
        JobState::Queued | JobState::Running => return None,
    };
    let mut rows = c.backups_of_job(job_id).unwrap_or_default();
    rows.extend(c.backups_of_children(job_id).unwrap_or_default());
    let backed_up: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|b| {
            b.site == crate::backup::BackupSite::Primary
                && b.state == crate::backup::BackupState::Available
        })
        .map(|b| b.volume_id.as_str())
        .collect();
    let skipped = c.skips_of_job(job_id).map(|s| s.len()).unwrap_or(0);
    let eligible = c
        .job_steps(job_id)
        .ok()
        .and_then(|steps| steps.into_iter().find(|s| s.name == "plan" && s.done))
        .and_then(|s| s.output)
        .and_then(|o| {
            o.get("eligible")
                .and_then(|e| e.as_array())
                .map(|a| a.len())
                // Catalog schema 9 on: the plan's rows are in `backup_plan_entries`, the step
                // journals their counts (`backup::all`).
                .or_else(|| o.get("stored_eligible")?.as_u64().map(|n| n as usize))
        })
        .unwrap_or(backed_up.len());
    Some(BackupAllDone {
        job_id: Some(job.id.clone()),
        ok,
        backed_up: backed_up.len(),
        skipped,
        failed: eligible.saturating_sub(backed_up.len()),
        detail: job.error.clone().unwrap_or(job.message.clone()),
    })
}

/// What the scheduler does with one account at one tick (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    Missed {
        account_id: String,
        due_at: String,
    },
    Ran {
        account_id: String,
        due_at: String,
        state: String,
        job_id: Option<String>,
    },
    /// A run claimed by an earlier scheduler that stopped before its backup had a job: the claim
    /// is withdrawn and the run is caught up like a missed one.
    Released {
        account_id: String,
        due_at: String,
    },
    /// A run claimed by an earlier scheduler that stopped mid-run, settled from its job.
    Settled {
        account_id: String,
        due_at: String,
        state: String,
    },
    RetentionApplied {
        account_id: String,
        deleted: usize,
        failed: usize,
    },
    PostSession {
        account_id: String,
        user: String,
        job_id: Option<String>,
    },
    Autogrow {
        account_id: String,
        grown: u32,
    },
    Error {
        account_id: Option<String>,
        message: String,
    },
}

pub struct Scheduler<'a> {
    pub report: &'a Report<'a>,
    pub store: &'a dyn SecretStore,
    pub sink: &'a dyn ProgressSink,
    pub backups: &'a dyn BackupAll,
    pub sleep: &'a dyn Sleep,
    pub settings: SchedulerSettings,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn run_state(done: &BackupAllDone) -> RunState {
    if !done.ok && done.backed_up == 0 {
        RunState::Failed
    } else if !done.ok || done.skipped > 0 || done.failed > 0 {
        RunState::Partial
    } else {
        RunState::Succeeded
    }
}

fn run_detail(done: &BackupAllDone) -> serde_json::Value {
    serde_json::json!({
        "backed_up": done.backed_up,
        "skipped": done.skipped,
        "failed": done.failed,
        "message": done.detail,
    })
}

/// The name a scheduled backup carries (also how a claimed run finds its job after a crash).
pub fn run_name(due: &str) -> String {
    format!("Scheduled backup due {due}")
}

impl Scheduler<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.report.clock.now()
    }

    fn stamp(&self) -> String {
        self.now().to_rfc3339()
    }

    /// At start: finishes the jobs a previous run left unfinished, then settles the schedule
    /// runs it had claimed from how their jobs ended.
    pub async fn start(&self, cancel: CancelFlag) -> Vec<Event> {
        let mut events = Vec::new();
        match crate::resumption::resume_unfinished(
            self.report,
            self.store,
            self.sink,
            self.backups.limits(),
            cancel.clone(),
        )
        .await
        {
            Ok(done) => {
                for r in done.iter().filter(|r| !r.ok) {
                    tracing::warn!(job = %r.job_id, "an unfinished job could not be finished: {}", r.detail);
                }
            }
            Err(e) => events.push(Event::Error {
                account_id: None,
                message: format!("unfinished jobs could not be read: {e}"),
            }),
        }
        let running = match self.report.catalog.lock().running_schedule_runs() {
            Ok(r) => r,
            Err(e) => {
                events.push(Event::Error {
                    account_id: None,
                    message: e.to_string(),
                });
                return events;
            }
        };
        for run in running {
            let job_id = run
                .job_id
                .clone()
                .or_else(|| job_named(self.report, &run_name(&run.due_at)));
            let Some(job) = job_id.as_deref() else {
                // No job: nothing was backed up for this run, so it is run again rather than
                // recorded as failed.
                match self
                    .report
                    .catalog
                    .lock()
                    .release_schedule_run(&run.account_id, &run.due_at)
                {
                    Ok(_) => events.push(Event::Released {
                        account_id: run.account_id,
                        due_at: run.due_at,
                    }),
                    Err(e) => events.push(Event::Error {
                        account_id: Some(run.account_id),
                        message: e.to_string(),
                    }),
                }
                continue;
            };
            let done = done_from_job(self.report, job);
            let (state, detail) = match done {
                Some(d) => (run_state(&d), run_detail(&d)),
                None => (
                    RunState::Failed,
                    serde_json::json!({"message": "the scheduler stopped before this run's backup finished, and its job could not be finished: see the job list"}),
                ),
            };
            let at = self.stamp();
            if let Err(e) = self.report.catalog.lock().update_schedule_run(
                &run.account_id,
                &run.due_at,
                state,
                job_id.as_deref(),
                Some(&detail),
                &at,
            ) {
                events.push(Event::Error {
                    account_id: Some(run.account_id.clone()),
                    message: e.to_string(),
                });
                continue;
            }
            events.push(Event::Settled {
                account_id: run.account_id,
                due_at: run.due_at,
                state: state.as_str().into(),
            });
        }
        events
    }

    /// One look at every schedule: records missed runs, runs the due one, applies retention.
    pub async fn tick(&self, cancel: CancelFlag) -> Vec<Event> {
        let mut events = Vec::new();
        let schedules = match self.report.catalog.lock().schedules() {
            Ok(s) => s,
            Err(e) => {
                return vec![Event::Error {
                    account_id: None,
                    message: e.to_string(),
                }]
            }
        };
        for stored in schedules {
            if cancel.is_cancelled() {
                break;
            }
            if let Err(e) = self
                .account_tick(
                    &stored.account_id,
                    &stored.schedule,
                    &mut events,
                    cancel.clone(),
                )
                .await
            {
                events.push(Event::Error {
                    account_id: Some(stored.account_id.clone()),
                    message: e.to_string(),
                });
            }
        }
        events
    }

    async fn account_tick(
        &self,
        account_id: &str,
        schedule: &crate::schedule::Schedule,
        events: &mut Vec<Event>,
        cancel: CancelFlag,
    ) -> Result<(), CatalogError> {
        let now = self.now();
        let last = self
            .report
            .catalog
            .lock()
            .last_run_due(account_id)?
            .and_then(|s| parse_time(&s));
        let plan = schedule.plan(last, now);
        for missed in &plan.missed {
            let due = due_key(*missed);
            let detail = serde_json::json!({"message": "due while no scheduler was running; a later run was caught up instead"});
            if self.report.catalog.lock().claim_schedule_run(
                account_id,
                &due,
                RunState::Missed,
                Some(&detail),
                &self.stamp(),
            )? {
                events.push(Event::Missed {
                    account_id: account_id.into(),
                    due_at: due,
                });
            }
        }
        let Some(run) = plan.run else {
            return Ok(());
        };
        let due = due_key(run);
        // The claim is the idempotency: whoever inserts the row runs it, once.
        if !self.report.catalog.lock().claim_schedule_run(
            account_id,
            &due,
            RunState::Running,
            None,
            &self.stamp(),
        )? {
            return Ok(());
        }
        let policy = schedule.policy_at(run).clone();
        let ask = BackupAllAsk {
            account_id: account_id.into(),
            frame_account: policy.frame_account.clone(),
            kind: BackupKind::Scheduled,
            volumes: None,
            name: run_name(&due),
            actor: ACTOR.into(),
        };
        tracing::info!(account = account_id, due = %due, "scheduled backup starts");
        let result = self
            .backups
            .backup_all(self.report, self.store, self.sink, ask, cancel.clone())
            .await;
        let done = match &result {
            Ok(Some(job)) => done_from_job(self.report, job),
            _ => None,
        };
        let (state, job_id, detail) = match (&result, &done) {
            (_, Some(d)) => (run_state(d), d.job_id.clone(), run_detail(d)),
            (Ok(job), None) => (
                RunState::Failed,
                job.clone(),
                serde_json::json!({"message": "the backup's job did not finish: see the job list"}),
            ),
            (Err(e), None) => (
                RunState::Failed,
                None,
                serde_json::json!({"message": e.message}),
            ),
        };
        self.report.catalog.lock().update_schedule_run(
            account_id,
            &due,
            state,
            job_id.as_deref(),
            Some(&detail),
            &self.stamp(),
        )?;
        if let Err(e) = &result {
            // backup::all announces the jobs it ran; a refusal before any job is ours to say.
            self.notify(
                account_id,
                job_id.as_deref(),
                NotificationLevel::Error,
                format!("The scheduled backup due {due} did not run: {}", e.message),
            );
        }
        events.push(Event::Ran {
            account_id: account_id.into(),
            due_at: due,
            state: state.as_str().into(),
            job_id,
        });
        // Retention after each scheduled run, even a partial one: the count protects the
        // newest usable backups whatever this run made.
        let req = crate::retention::RetentionRequest {
            account: account_id.into(),
            volume: None,
            keep: None,
            include_manual: false,
        };
        match crate::retention::apply(self.report, self.store, &req, ACTOR).await {
            Ok(out) => events.push(Event::RetentionApplied {
                account_id: account_id.into(),
                deleted: out.deleted.len(),
                failed: out.failed.len(),
            }),
            Err(e) => events.push(Event::Error {
                account_id: Some(account_id.into()),
                message: format!("retention: {e}"),
            }),
        }
        Ok(())
    }

    fn notify(
        &self,
        account_id: &str,
        job_id: Option<&str>,
        level: NotificationLevel,
        body: String,
    ) {
        let mut note = NewNotification::new(level, "Scheduled backup", body).account(account_id);
        if let Some(j) = job_id {
            note = note.job(j);
        }
        self.report.announce(&note);
    }

    /// Runs until cancelled: [`start`](Self::start), then a tick every `tick_secs`, the session
    /// watch every `sessions_every_secs` and autogrow every `autogrow_every_mins`. Events go to
    /// the log and to `on_event`.
    pub async fn run(&self, cancel: CancelFlag, on_event: &(dyn Fn(&Event) + Send + Sync)) {
        let emit = |events: Vec<Event>| {
            for e in &events {
                match e {
                    Event::Error { .. } => tracing::warn!(event = ?e, "scheduler"),
                    _ => tracing::info!(event = ?e, "scheduler"),
                }
                on_event(e);
            }
        };
        emit(self.start(cancel.clone()).await);
        let mut watch = crate::post_session::SessionWatch::default();
        let mut last_sessions: Option<DateTime<Utc>> = None;
        let mut last_autogrow: HashMap<String, DateTime<Utc>> = HashMap::new();
        while !cancel.is_cancelled() {
            emit(self.tick(cancel.clone()).await);
            let now = self.now();
            let sessions_due = last_sessions.is_none_or(|t| {
                now - t >= chrono::Duration::seconds(i64::from(self.settings.sessions_every_secs))
            });
            if sessions_due && !cancel.is_cancelled() {
                last_sessions = Some(now);
                emit(
                    watch
                        .poll(
                            self.report,
                            self.store,
                            self.sink,
                            self.backups,
                            cancel.clone(),
                        )
                        .await,
                );
            }
            if !cancel.is_cancelled() {
                emit(self.autogrow(&mut last_autogrow, cancel.clone()).await);
            }
            if cancel.is_cancelled() {
                break;
            }
            // Wake early on cancel: a stop must not wait a whole tick.
            let nap = self.sleep.sleep(Duration::from_secs(u64::from(
                self.settings.tick_secs.max(1),
            )));
            tokio::select! {
                _ = nap => {}
                _ = stopped(&cancel) => break,
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// The autogrow check of each account whose autogrow is on, every `autogrow_every_mins`.
    async fn autogrow(
        &self,
        last: &mut HashMap<String, DateTime<Utc>>,
        cancel: CancelFlag,
    ) -> Vec<Event> {
        let now = self.now();
        let every = chrono::Duration::minutes(i64::from(self.settings.autogrow_every_mins.max(1)));
        let targets: Vec<(String, String)> = {
            let c = self.report.catalog.lock();
            let Ok(accounts) = c.list_accounts() else {
                return Vec::new();
            };
            accounts
                .into_iter()
                .filter(|a| crate::autogrow::settings(&c, &a.id).is_ok_and(|s| s.enabled))
                .filter_map(|a| {
                    let frame = frame_account_of(&c, &a.id)?;
                    Some((a.id, frame))
                })
                .collect()
        };
        let mut events = Vec::new();
        for (account_id, frame) in targets {
            if last.get(&account_id).is_some_and(|t| now - *t < every) || cancel.is_cancelled() {
                continue;
            }
            last.insert(account_id.clone(), now);
            match crate::autogrow::check_account(
                self.report,
                self.store,
                self.sink,
                &account_id,
                &frame,
                ACTOR,
                cancel.clone(),
            )
            .await
            {
                Ok(o) => events.push(Event::Autogrow {
                    account_id,
                    grown: o.grown,
                }),
                Err(e) => events.push(Event::Error {
                    account_id: Some(account_id),
                    message: format!("autogrow: {e}"),
                }),
            }
        }
        events
    }
}

/// The Frame account an account's automatic work is for: its schedule's, else its post-session
/// setting's, else its disaster recovery's.
pub fn frame_account_of(c: &crate::catalog::Catalog, account_id: &str) -> Option<String> {
    if let Ok(Some(s)) = c.schedule(account_id) {
        return Some(s.frame_account);
    }
    if let Ok(Some(p)) = crate::post_session::target(c, account_id) {
        return Some(p);
    }
    c.dr_config(account_id)
        .ok()
        .flatten()
        .map(|d| d.frame_account)
}

/// Resolves once `cancel` is set (checked a few times a second: a stop need not be instant).
async fn stopped(cancel: &CancelFlag) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An account's schedule as the window and `standbyctl schedule show` present it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleView {
    pub account_id: String,
    pub account_name: String,
    pub schedule: crate::schedule::Schedule,
    /// The next runs (RFC 3339, UTC).
    pub next: Vec<String>,
    /// The same instants as local wall times of the schedule in force at each (`YYYY-MM-DD HH:MM TZ`).
    pub next_local: Vec<String>,
    /// The latest runs recorded, newest first.
    pub runs: Vec<crate::catalog::schedules::ScheduleRun>,
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleSetError {
    #[error(transparent)]
    Account(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    #[error("{0} has no schedule yet")]
    NoSchedule(String),
}

impl From<ScheduleSetError> for ApiError {
    fn from(e: ScheduleSetError) -> Self {
        match e {
            ScheduleSetError::Account(e) => e.into(),
            ScheduleSetError::Catalog(e) => e.into(),
            ScheduleSetError::Schedule(e) => e.into(),
            ScheduleSetError::NoSchedule(_) => {
                ApiError::new(crate::ErrorCode::NotFound, e.to_string())
            }
        }
    }
}

/// Saves a schedule for an account (the next-day rule applies to a change of one in force),
/// records who did it, and returns what is now stored.
pub fn set_schedule(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account: &str,
    policy: crate::schedule::SchedulePolicy,
    actor: &str,
) -> Result<crate::schedule::Schedule, ScheduleSetError> {
    let c = report.catalog.lock();
    let (acc, _) = crate::accounts::Accounts { catalog: &c, store }.settings(account)?;
    let now = report.clock.now();
    let schedule = match c.schedule(&acc.id)? {
        Some(old) => old.schedule.change(policy.clone(), now)?,
        None => crate::schedule::Schedule::new(policy.clone(), now)?,
    };
    c.set_schedule(&acc.id, &schedule, &now.to_rfc3339())?;
    crate::audit::record(
        &c,
        report.clock.as_ref(),
        &crate::audit::NewAuditEntry::new(actor, "schedule.set")
            .account(acc.id.clone())
            .detail(serde_json::to_value(&policy).expect("a policy serialises")),
    )?;
    Ok(schedule)
}

/// An account's schedule, its next `n` runs and its latest runs.
pub fn show_schedule(
    report: &Report<'_>,
    store: &dyn SecretStore,
    account: &str,
    n: usize,
) -> Result<ScheduleView, ScheduleSetError> {
    let c = report.catalog.lock();
    let (acc, _) = crate::accounts::Accounts { catalog: &c, store }.settings(account)?;
    let stored = c
        .schedule(&acc.id)?
        .ok_or_else(|| ScheduleSetError::NoSchedule(acc.name.clone()))?;
    let now = report.clock.now();
    let next = stored.schedule.next_runs(now, n);
    let next_local = next
        .iter()
        .map(|t| {
            let tz = crate::schedule::parse_tz(&stored.schedule.policy_at(*t).time_zone)
                .unwrap_or(chrono_tz::UTC);
            t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string()
        })
        .collect();
    Ok(ScheduleView {
        account_id: acc.id.clone(),
        account_name: acc.name,
        next: next.into_iter().map(due_key).collect(),
        next_local,
        runs: c.schedule_runs(&acc.id, 10)?,
        schedule: stored.schedule,
    })
}
