//! Backup and volume policies: the scheduled backups of an account (with their next runs and the
//! retention a change of the number kept would apply), post-session backups per resource kind,
//! and autogrow. Everything the window shows about these comes from the engine: the next run times
//! and the backups a count would delete are computed here, never by the front end.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use standby_core::audit::{self, NewAuditEntry};
use standby_core::autogrow::{
    self, AutogrowChange, AutogrowOutcome, AutogrowSettings, PendingGrowth,
};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::schedules::RunState;
use standby_core::clock::{Clock, SystemClock};
use standby_core::disaster_recovery::Report;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::NoProgress;
use standby_core::post_session::{self, PostSessionSettings};
use standby_core::retention::{
    self, RetentionOutcome, RetentionPolicy, RetentionPreview, RetentionRequest,
};
use standby_core::schedule::{Schedule, SchedulePolicy};
use standby_core::scheduler::{self, ScheduleSetError, ScheduleView};
use standby_core::secrets::Keyring;
use standby_core::{ApiError, ErrorCode};
use tauri::{AppHandle, State};

use super::account_id;
use super::notifications::WindowSink;
use crate::state::AppState;

/// Who the audit log names for changes made in the window.
const ACTOR: &str = "window";
/// The window shows the next five runs of a schedule.
const NEXT_RUNS: usize = 5;

fn report<'a>(
    state: &'a AppState,
    sink: &'a dyn standby_core::notifications::NotificationSink,
) -> Report<'a> {
    Report {
        catalog: &state.catalog,
        clock: Arc::new(SystemClock),
        sink,
    }
}

// ---- scheduled backups -------------------------------------------------------------------

/// An account's schedule as the window shows it: the engine's `ScheduleView` with each run's
/// detail read out (the engine keeps it as free JSON, which has no TypeScript type).
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ScheduleSettings {
    pub account_id: String,
    pub account_name: String,
    pub schedule: Schedule,
    /// The next five runs (RFC 3339, UTC).
    pub next: Vec<String>,
    /// The same instants as wall times of the schedule in force at each (`YYYY-MM-DD HH:MM TZ`).
    pub next_local: Vec<String>,
    /// The latest runs recorded, newest first.
    pub runs: Vec<ScheduleRunSummary>,
}

/// One recorded run of a schedule.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ScheduleRunSummary {
    pub due_at: String,
    pub state: RunState,
    pub job_id: Option<String>,
    /// What happened, in the engine's words.
    pub message: Option<String>,
    pub backed_up: Option<u32>,
    pub skipped: Option<u32>,
    pub failed: Option<u32>,
}

impl From<ScheduleView> for ScheduleSettings {
    fn from(v: ScheduleView) -> Self {
        let runs = v
            .runs
            .into_iter()
            .map(|r| {
                let field = |k: &str| r.detail.as_ref().and_then(|d| d.get(k));
                let count = |k: &str| {
                    field(k)
                        .and_then(|n| n.as_u64())
                        .map(|n| n.min(u32::MAX as u64) as u32)
                };
                ScheduleRunSummary {
                    message: field("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string),
                    backed_up: count("backed_up"),
                    skipped: count("skipped"),
                    failed: count("failed"),
                    due_at: r.due_at,
                    state: r.state,
                    job_id: r.job_id,
                }
            })
            .collect();
        Self {
            account_id: v.account_id,
            account_name: v.account_name,
            schedule: v.schedule,
            next: v.next,
            next_local: v.next_local,
            runs,
        }
    }
}

/// An account's schedule with its next five runs and latest runs; `None` when it has none yet.
#[tauri::command]
#[specta::specta]
pub async fn schedule_settings(
    state: State<'_, AppState>,
    account: String,
) -> Result<Option<ScheduleSettings>, ApiError> {
    let sink = standby_core::notifications::NoSink;
    match scheduler::show_schedule(&report(&state, &sink), &Keyring, &account, NEXT_RUNS) {
        Ok(v) => Ok(Some(v.into())),
        Err(ScheduleSetError::NoSchedule(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What saving a schedule now would store, and its next runs: a preview, nothing is saved.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct SchedulePreview {
    /// The schedule as it would be stored (with the change waiting for the next day when the
    /// next-day rule applies).
    pub schedule: Schedule,
    /// The next runs (RFC 3339, UTC).
    pub next: Vec<String>,
    /// The same instants as wall times of the schedule in force at each (`YYYY-MM-DD HH:MM TZ`).
    pub next_local: Vec<String>,
}

/// The next five runs of a schedule before it is saved, by the same rules the scheduler follows
/// (`Schedule::change` for an account that has one, so the next-day rule shows).
#[tauri::command]
#[specta::specta]
pub async fn preview_schedule(
    state: State<'_, AppState>,
    account: String,
    policy: SchedulePolicy,
) -> Result<SchedulePreview, ApiError> {
    let id = account_id(&state, &account)?;
    let now = SystemClock.now();
    let stored = state.catalog.lock().schedule(&id)?;
    let schedule = match stored {
        Some(old) => old.schedule.change(policy, now)?,
        None => Schedule::new(policy, now)?,
    };
    let next = schedule.next_runs(now, NEXT_RUNS);
    let next_local = next
        .iter()
        .map(
            |t| match standby_core::schedule::parse_tz(&schedule.policy_at(*t).time_zone) {
                Ok(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
                // Unreachable: both policies were checked above; UTC keeps the instant right.
                Err(_) => t.format("%Y-%m-%d %H:%M UTC").to_string(),
            },
        )
        .collect();
    Ok(SchedulePreview {
        next: next
            .into_iter()
            .map(standby_core::schedule::due_key)
            .collect(),
        next_local,
        schedule,
    })
}

/// Saves a schedule (the next-day rule applies to a change of one in force) and returns it as
/// the window shows it.
#[tauri::command]
#[specta::specta]
pub async fn set_schedule(
    state: State<'_, AppState>,
    account: String,
    policy: SchedulePolicy,
) -> Result<ScheduleSettings, ApiError> {
    let sink = standby_core::notifications::NoSink;
    let r = report(&state, &sink);
    scheduler::set_schedule(&r, &Keyring, &account, policy, ACTOR)?;
    Ok(scheduler::show_schedule(&r, &Keyring, &account, NEXT_RUNS)?.into())
}

// ---- retention ---------------------------------------------------------------------------

/// What a change of the schedule's number retained would delete.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct ScheduleRetentionPreview {
    /// The verdict on every backup of the account with the new count.
    pub preview: RetentionPreview,
    /// An account-wide retention count (set with `standbyctl retention apply --keep`): it governs
    /// instead of the schedule's number retained, so a change of the latter deletes nothing and
    /// `preview` shows the counts in force.
    pub account_count: Option<u32>,
}

/// The backups a schedule's new number retained would delete. The schedule's number applies to
/// volumes with no retention count of their own or of the account, which is what the engine's
/// preview with an account count shows; when the account has its own count, the schedule's does
/// not matter and the preview is of the counts in force.
#[tauri::command]
#[specta::specta]
pub async fn preview_schedule_retention(
    state: State<'_, AppState>,
    account: String,
    keep: u32,
) -> Result<ScheduleRetentionPreview, ApiError> {
    let id = account_id(&state, &account)?;
    let account_count = state
        .catalog
        .lock()
        .policy::<RetentionPolicy>(&id, retention::POLICY_KIND, "")?
        .map(|p| p.keep);
    let req = RetentionRequest {
        account: id,
        volume: None,
        keep: if account_count.is_some() {
            None
        } else {
            Some(keep)
        },
        include_manual: false,
    };
    let sink = standby_core::notifications::NoSink;
    let preview = retention::preview(&report(&state, &sink), &Keyring, &req)?;
    Ok(ScheduleRetentionPreview {
        preview,
        account_count,
    })
}

/// What retention would delete with this request (a new count is only previewed).
#[tauri::command]
#[specta::specta]
pub async fn preview_retention(
    state: State<'_, AppState>,
    request: RetentionRequest,
) -> Result<RetentionPreview, ApiError> {
    let sink = standby_core::notifications::NoSink;
    Ok(retention::preview(
        &report(&state, &sink),
        &Keyring,
        &request,
    )?)
}

/// Applies retention: saves the count given (if any) and deletes what the preview lists.
/// Deletions a provider refuses are in the outcome's `failed`, tried again at the next run.
#[tauri::command]
#[specta::specta]
pub async fn apply_retention(
    app: AppHandle,
    state: State<'_, AppState>,
    request: RetentionRequest,
) -> Result<RetentionOutcome, ApiError> {
    let sink = WindowSink(app);
    Ok(retention::apply(&report(&state, &sink), &Keyring, &request, ACTOR).await?)
}

// ---- post-session backups ----------------------------------------------------------------

#[tauri::command]
#[specta::specta]
pub async fn post_session_settings(
    state: State<'_, AppState>,
    account: String,
) -> Result<PostSessionSettings, ApiError> {
    let id = account_id(&state, &account)?;
    Ok(post_session::settings(&state.catalog.lock(), &id)?)
}

/// Post-session settings as the window sets them: every kind at once.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct PostSessionChange {
    /// The Frame account whose sessions are watched (kept as stored when `None`).
    pub frame_account: Option<String>,
    /// The kinds backed up after a session; the others are switched off.
    pub enabled: Vec<ResourceKind>,
}

/// Saves the post-session switches of every kind and records who did it.
#[tauri::command]
#[specta::specta]
pub async fn set_post_session(
    state: State<'_, AppState>,
    account: String,
    change: PostSessionChange,
) -> Result<PostSessionSettings, ApiError> {
    let id = account_id(&state, &account)?;
    let c = state.catalog.lock();
    let frame_account = change
        .frame_account
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty());
    if frame_account.is_none()
        && !change.enabled.is_empty()
        && post_session::target(&c, &id)?.is_none()
    {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            "name the Frame account whose sessions are watched: post-session backups need it",
        ));
    }
    let changes: Vec<(ResourceKind, bool)> = post_session::KINDS
        .into_iter()
        .map(|k| (k, change.enabled.contains(&k)))
        .collect();
    let now = SystemClock.now();
    let settings = post_session::set(&c, &id, frame_account, &changes, &now.to_rfc3339())?;
    audit::record(
        &c,
        &SystemClock,
        &NewAuditEntry::new(ACTOR, "post_session.set")
            .account(id)
            .detail(
                serde_json::to_value(&settings)
                    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?,
            ),
    )?;
    Ok(settings)
}

// ---- autogrow ----------------------------------------------------------------------------

/// An account's autogrow settings and the volumes waiting for their VM to be deallocated.
#[derive(Debug, Clone, Serialize, specta::Type)]
pub struct AutogrowView {
    pub settings: AutogrowSettings,
    pub pending: Vec<PendingGrowth>,
}

#[tauri::command]
#[specta::specta]
pub async fn autogrow_settings(
    state: State<'_, AppState>,
    account: String,
) -> Result<AutogrowView, ApiError> {
    let id = account_id(&state, &account)?;
    let c = state.catalog.lock();
    Ok(AutogrowView {
        settings: autogrow::settings(&c, &id)?,
        pending: autogrow::pending(&c, &id)?
            .into_iter()
            .map(|(_, p)| p)
            .collect(),
    })
}

/// Saves the whole settings form (checked by the engine, audited as `autogrow.set`).
#[tauri::command]
#[specta::specta]
pub async fn set_autogrow(
    state: State<'_, AppState>,
    account: String,
    settings: AutogrowSettings,
) -> Result<AutogrowSettings, ApiError> {
    // A whole form, so every field is named; `max_gb: Some(None)` removes the maximum.
    let change = AutogrowChange {
        enabled: Some(settings.enabled),
        threshold_gb: Some(settings.threshold_gb),
        increment_gb: Some(settings.increment_gb),
        max_gb: Some(settings.max_gb),
    };
    let sink = standby_core::notifications::NoSink;
    Ok(autogrow::update(
        &report(&state, &sink),
        &Keyring,
        &account,
        &change,
        ACTOR,
    )?)
}

/// Checks the Frame account's volumes now and grows those short of space (each growth a job,
/// reported to the notification center).
#[tauri::command]
#[specta::specta]
pub async fn check_autogrow(
    app: AppHandle,
    state: State<'_, AppState>,
    account: String,
    frame_account: String,
) -> Result<AutogrowOutcome, ApiError> {
    let sink = WindowSink(app);
    Ok(autogrow::check_account(
        &report(&state, &sink),
        &Keyring,
        &NoProgress,
        &account,
        frame_account.trim(),
        ACTOR,
        CancelFlag::new(),
    )
    .await?)
}
