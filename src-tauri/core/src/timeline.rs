//! The backup timeline of a volume or of a whole account: what the window draws on its time axis,
//! computed here from the catalog so that nothing it shows is invented by the front end.
//!
//! Lanes: primary backups, secondary replicas (with the copy's progress), scheduled runs to come
//! (from the account's schedule, by the same rules as the scheduler, daylight saving included),
//! past runs with the volumes they skipped and why, and gaps: intervals between two consecutive
//! usable primary backups of a volume longer than the account's target RPO.
//!
//! Only the window `[from, to]` is read (a range on `created_at`), so an account with 100,000
//! backups is not read whole; the caller may cap the points, and is told how many it did not get.
//!
//! Gaps. For each volume, the usable (available) primary backups in the window, the newest one
//! before it and the oldest one after it are put in order; every interval between two
//! consecutive ones longer than the RPO is a gap. When a volume's newest usable backup is older
//! than the RPO and nothing came after it, the gap runs to `now` and is `open`: the volume is not
//! protected as the administrator wants right now. A volume that never had a usable backup has no
//! gap here (it has no timeline yet; the dashboard lists it as unprotected). The account view
//! keeps the longest gaps only, and says how many it left out.
//!
//! The target RPO is a per-account policy (kind [`RPO_KIND`], scope `""`); without one it is the
//! schedule's interval (when a schedule is on), else a day.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{self, NewAuditEntry};
use crate::backup::{BackupKind, BackupSite, BackupState};
use crate::catalog::schedules::RunState;
use crate::catalog::timeline::{WindowBackup, WindowFilter};
use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;
use crate::{ApiError, ErrorCode};

/// The policy kind (`policies.kind`, scope `""`) of the target RPO.
pub const RPO_KIND: &str = "rpo";
/// The longest target RPO accepted: a year (longer is more likely a typo than a policy).
pub const MAX_RPO_HOURS: u32 = 24 * 366;
/// Without a policy or a schedule: a backup a day.
pub const DEFAULT_RPO_HOURS: u32 = 24;
/// The account view reports this many gaps at most, the longest.
pub const MAX_ACCOUNT_GAPS: usize = 100;
/// Scheduled runs to come listed at most (a daily schedule over more than two years).
pub const MAX_UPCOMING: usize = 1000;
/// Past runs read at most (newest first).
const MAX_PAST_RUNS: u32 = 5000;

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(
        "no cloud account is named {0:?} or has that id: pick one from the list of cloud accounts"
    )]
    NoAccount(String),
    #[error("{field} must be an instant such as 2026-11-22T10:00:00Z, not {value:?}")]
    Instant { field: &'static str, value: String },
    #[error("the window ends ({to}) before it starts ({from}): swap the two")]
    Window { from: String, to: String },
    #[error("the target RPO must be between 1 and {MAX_RPO_HOURS} hours, not {0}")]
    Rpo(u32),
}

impl From<TimelineError> for ApiError {
    fn from(e: TimelineError) -> Self {
        match e {
            TimelineError::Catalog(e) => e.into(),
            TimelineError::NoAccount(_) => ApiError::new(ErrorCode::NotFound, e.to_string()),
            _ => ApiError::new(ErrorCode::InvalidInput, e.to_string()),
        }
    }
}

// ---- target RPO ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct RpoPolicy {
    hours: u32,
}

/// Where an account's target RPO comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RpoSource {
    /// Set by an administrator.
    Set,
    /// The interval of the account's schedule (none set).
    Schedule,
    /// A day: no target set and no schedule on.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct TargetRpo {
    pub account_id: String,
    pub hours: u32,
    pub source: RpoSource,
}

fn account_id(c: &Catalog, account: &str) -> Result<String, TimelineError> {
    Ok(c.find_account(account)?
        .ok_or_else(|| TimelineError::NoAccount(account.to_string()))?
        .account
        .id)
}

/// An account's target RPO (`account_id` is its id): the one set, else the schedule's interval
/// as it stands at `now`, else a day.
pub fn target_rpo(
    c: &Catalog,
    account_id: &str,
    now: DateTime<Utc>,
) -> Result<TargetRpo, CatalogError> {
    let (hours, source) = if let Some(p) = c.policy::<RpoPolicy>(account_id, RPO_KIND, "")? {
        (p.hours, RpoSource::Set)
    } else {
        match c.schedule(account_id)? {
            Some(s) if s.schedule.policy_at(now).enabled => (
                s.schedule.policy_at(now).every_days.saturating_mul(24),
                RpoSource::Schedule,
            ),
            _ => (DEFAULT_RPO_HOURS, RpoSource::Default),
        }
    };
    Ok(TargetRpo {
        account_id: account_id.to_string(),
        hours,
        source,
    })
}

/// The target RPO of an account given by id or name.
pub fn target_rpo_of(
    c: &Catalog,
    account: &str,
    now: DateTime<Utc>,
) -> Result<TargetRpo, TimelineError> {
    let id = account_id(c, account)?;
    Ok(target_rpo(c, &id, now)?)
}

/// Sets an account's target RPO (checked first) and records who did it.
pub fn set_target_rpo(
    c: &Catalog,
    clock: &dyn Clock,
    account: &str,
    hours: u32,
    actor: &str,
) -> Result<TargetRpo, TimelineError> {
    if hours == 0 || hours > MAX_RPO_HOURS {
        return Err(TimelineError::Rpo(hours));
    }
    let id = account_id(c, account)?;
    let now = clock.now();
    c.set_policy(&id, RPO_KIND, "", &RpoPolicy { hours }, &now.to_rfc3339())?;
    audit::record(
        c,
        clock,
        &NewAuditEntry::new(actor, "rpo.set")
            .account(id.clone())
            .detail(serde_json::json!({ "hours": hours })),
    )?;
    Ok(target_rpo(c, &id, now)?)
}

// ---- the timeline -------------------------------------------------------------------------

/// What the window asks for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, specta::Type)]
pub struct TimelineQuery {
    /// The cloud account, by id or name.
    pub account_id: String,
    /// Only this Frame account's backups and runs.
    pub frame_account: Option<String>,
    /// One volume (its provider id, as backups carry it); `None`: the whole account.
    pub volume: Option<String>,
    /// The window, RFC 3339.
    pub from: String,
    pub to: String,
    /// At most this many backup points (both lanes together, the newest kept); `None`: all.
    /// With `columns`, the threshold above which the backups come as buckets instead.
    pub max_points: Option<u32>,
    /// The chart's width in pixels. When the window holds more backups than `max_points`, they
    /// come as [`TimelineBucket`]s instead of points, none left out: the time axis cut into
    /// columns of `(to - from) / columns` (at least a millisecond, aligned on the Unix epoch so
    /// that a column keeps its bounds when the window pans), one bucket per lane and column that
    /// holds any. `None`: points only, capped by `max_points`.
    pub columns: Option<u32>,
    /// `Some(true)`: the backups only (points or buckets); the runs, the runs to come and the
    /// gaps are left empty. For re-reading the zoomed part of a window already read whole.
    pub backups_only: Option<bool>,
}

/// Columns accepted at most (a very wide screen); more are read as this many.
pub const MAX_COLUMNS: u32 = 10_000;

/// The lane a bucket is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum BucketLane {
    /// Primary backups, by `created_at`.
    Primary,
    /// Secondary replicas, by `created_at`.
    Replica,
    /// The backups and replicas of the window whose `expires_at` falls in the window, by
    /// `expires_at`.
    Expiry,
}

/// The backups of one lane in one column of the time axis, counted: what the chart draws when
/// a mark per backup would be more than the screen can show. Nothing is left out: each backup
/// of the window is in exactly one bucket of its lane (and one of the expiry lane when it
/// expires within the window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct TimelineBucket {
    pub lane: BucketLane,
    /// The column's bounds, `[start, end)` (RFC 3339).
    pub start: String,
    pub end: String,
    /// The oldest and newest instant counted in it (created, or expiring for the expiry lane),
    /// as the catalog holds them: zooming to `[first, last]` shows each of its backups.
    pub first: String,
    pub last: String,
    pub count: u32,
    pub available: u32,
    /// Being taken, or (a replica) being copied.
    pub in_progress: u32,
    pub failed: u32,
    /// The worst state counted: failed, then being taken, then being copied, then available.
    pub worst: BackupState,
}

/// One backup or replica on the axis. `backup_id` is what the restore commands take.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct TimelinePoint {
    pub backup_id: String,
    pub name: String,
    pub kind: BackupKind,
    pub site: BackupSite,
    pub state: BackupState,
    /// RFC 3339.
    pub created_at: String,
    /// When retention is expected to delete it (RFC 3339), when it is known.
    pub expires_at: Option<String>,
    pub volume_id: String,
    pub volume_name: String,
    /// 0 to 100: a replica's copy; 100 once available.
    pub percent: f64,
    /// Of a replica: the primary backup it copies.
    pub replica_of: Option<String>,
    /// Why it failed, in the provider's words.
    pub error: Option<String>,
}

/// A scheduled run to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct UpcomingRun {
    /// RFC 3339, UTC.
    pub at: String,
    /// The wall time in the schedule's time zone (`YYYY-MM-DD HH:MM TZ`).
    pub at_local: String,
}

/// A volume a run left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
pub struct SkippedVolume {
    pub volume_id: String,
    pub volume_name: String,
    /// The reason's code (`in_session`, `unchanged`, ...).
    pub reason: String,
    pub message: String,
}

/// A run of the schedule that happened (or was missed).
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct PastRun {
    /// RFC 3339, UTC.
    pub due_at: String,
    pub state: RunState,
    pub job_id: Option<String>,
    /// What happened, in the engine's words.
    pub message: Option<String>,
    /// The volumes it skipped (of the one volume asked for, in the volume view).
    pub skipped: Vec<SkippedVolume>,
}

/// An interval without a usable primary backup longer than the target RPO.
#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct Gap {
    pub volume_id: String,
    pub volume_name: String,
    /// The usable backup it starts after (RFC 3339).
    pub from: String,
    /// The next usable backup, or `now` when there is none yet (`open`).
    pub to: String,
    pub hours: f64,
    /// No usable backup since `from`: the volume is behind its RPO now.
    pub open: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, specta::Type)]
pub struct Timeline {
    pub account_id: String,
    pub account_name: String,
    pub frame_account: Option<String>,
    pub volume: Option<String>,
    /// The window as read (RFC 3339) and the instant the timeline was computed at.
    pub from: String,
    pub to: String,
    pub now: String,
    pub target_rpo: TargetRpo,
    /// Oldest first.
    pub primary: Vec<TimelinePoint>,
    /// Oldest first.
    pub replicas: Vec<TimelinePoint>,
    /// Backups in the window not returned because of `max_points` (the oldest ones); 0 when
    /// they come as buckets.
    pub points_left_out: u32,
    /// When the window held more backups than `max_points` and `columns` was given: all of
    /// them, counted per lane and column (lane by lane, oldest first); `primary` and `replicas`
    /// are then empty. Otherwise empty.
    pub buckets: Vec<TimelineBucket>,
    pub upcoming: Vec<UpcomingRun>,
    pub upcoming_left_out: u32,
    /// Oldest first.
    pub runs: Vec<PastRun>,
    /// Volume view: every gap, oldest first. Account view: the longest first, at most
    /// [`MAX_ACCOUNT_GAPS`].
    pub gaps: Vec<Gap>,
    pub gaps_left_out: u32,
}

fn instant(field: &'static str, value: &str) -> Result<DateTime<Utc>, TimelineError> {
    DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| TimelineError::Instant {
            field,
            value: value.to_string(),
        })
}

fn point(w: WindowBackup) -> TimelinePoint {
    let b = w.backup;
    TimelinePoint {
        backup_id: b.id,
        name: b.name,
        kind: b.kind,
        site: b.site,
        state: b.state,
        created_at: b.created_at,
        expires_at: w.expires_at,
        volume_id: b.volume_id,
        volume_name: b.volume_name,
        percent: b.percent,
        replica_of: b.replica_of,
        error: b.error,
    }
}

/// The timeline of an account or one of its volumes over `[from, to]`, as it stands at `now`.
pub fn timeline(
    c: &Catalog,
    now: DateTime<Utc>,
    q: &TimelineQuery,
) -> Result<Timeline, TimelineError> {
    let from_t = instant("from", &q.from)?;
    let to_t = instant("to", &q.to)?;
    if to_t < from_t {
        return Err(TimelineError::Window {
            from: q.from.clone(),
            to: q.to.clone(),
        });
    }
    let account = c
        .find_account(&q.account_id)?
        .ok_or_else(|| TimelineError::NoAccount(q.account_id.clone()))?
        .account;
    let frame_account = q
        .frame_account
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let volume = q.volume.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let filter = WindowFilter {
        account_id: &account.id,
        frame_account,
        volume_id: volume,
    };
    // The same text form as the rows' `created_at` (see `catalog::timeline`).
    let (from, to) = (from_t.to_rfc3339(), to_t.to_rfc3339());
    let rpo = target_rpo(c, &account.id, now)?;

    let max_points = q.max_points.unwrap_or(u32::MAX);
    let columns = q.columns.filter(|c| *c > 0).map(|c| c.min(MAX_COLUMNS));
    // Buckets only when the points would be more than asked for: a count first (an index
    // range), then four columns of each row instead of whole rows.
    let bucketed = match columns {
        Some(columns) if c.backups_in_window(filter, &from, &to, 0)?.1 > u64::from(max_points) => {
            let marks = c.backup_marks_in_window(filter, &from, &to)?;
            Some(buckets(&marks, from_t, to_t, columns)?)
        }
        _ => None,
    };
    let (primary, replicas, points_left_out, buckets) = match bucketed {
        Some(b) => (Vec::new(), Vec::new(), 0, b),
        None => {
            let (rows, total) = c.backups_in_window(filter, &from, &to, max_points)?;
            let left_out =
                u32::try_from(total.saturating_sub(rows.len() as u64)).unwrap_or(u32::MAX);
            let (mut primary, mut replicas): (Vec<_>, Vec<_>) = rows
                .into_iter()
                .map(point)
                .partition(|p| p.site == BackupSite::Primary);
            primary.reverse();
            replicas.reverse();
            (primary, replicas, left_out, Vec::new())
        }
    };

    let ((upcoming, upcoming_left_out, runs), (gaps, gaps_left_out)) =
        if q.backups_only == Some(true) {
            ((Vec::new(), 0, Vec::new()), (Vec::new(), 0))
        } else {
            (
                runs(c, &account.id, frame_account, volume, now, from_t, to_t)?,
                gaps(c, filter, &from, &to, now, to_t, rpo.hours)?,
            )
        };

    Ok(Timeline {
        account_id: account.id,
        account_name: account.name,
        frame_account: frame_account.map(str::to_string),
        volume: volume.map(str::to_string),
        from,
        to,
        now: now.to_rfc3339(),
        target_rpo: rpo,
        primary,
        replicas,
        points_left_out,
        buckets,
        upcoming,
        upcoming_left_out,
        runs,
        gaps,
        gaps_left_out,
    })
}

/// How bad a state is for a bucket's `worst`.
fn badness(s: BackupState) -> u8 {
    match s {
        BackupState::Available => 0,
        BackupState::Replicating => 1,
        BackupState::Creating => 2,
        BackupState::Failed => 3,
    }
}

/// A bucket being filled: the instants in milliseconds, with the text they came from.
struct Tally<'a> {
    first: (i64, &'a str),
    last: (i64, &'a str),
    count: u32,
    available: u32,
    in_progress: u32,
    failed: u32,
    worst: BackupState,
}

/// Counts one backup (at `at` ms, from the text `text`) in its lane's column.
fn tally<'a>(
    tallies: &mut std::collections::BTreeMap<(BucketLane, i64), Tally<'a>>,
    width: i64,
    lane: BucketLane,
    at: i64,
    text: &'a str,
    state: BackupState,
) {
    let t = tallies
        .entry((lane, at.div_euclid(width)))
        .or_insert(Tally {
            first: (at, text),
            last: (at, text),
            count: 0,
            available: 0,
            in_progress: 0,
            failed: 0,
            worst: state,
        });
    if at < t.first.0 {
        t.first = (at, text);
    }
    if at >= t.last.0 {
        t.last = (at, text);
    }
    t.count += 1;
    match state {
        BackupState::Available => t.available += 1,
        BackupState::Failed => t.failed += 1,
        BackupState::Creating | BackupState::Replicating => t.in_progress += 1,
    }
    if badness(state) > badness(t.worst) {
        t.worst = state;
    }
}

/// The backups of a window counted per lane and column (see [`TimelineQuery::columns`]).
fn buckets(
    marks: &[crate::catalog::timeline::BackupMark],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    columns: u32,
) -> Result<Vec<TimelineBucket>, CatalogError> {
    use std::collections::BTreeMap;
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|e| CatalogError::Corrupt(format!("backup instant {s:?}: {e}")))
    };
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    // Rounded up, so that `columns` columns cover the window.
    let width = ((to_ms - from_ms + i64::from(columns) - 1) / i64::from(columns)).max(1);
    let mut tallies: BTreeMap<(BucketLane, i64), Tally<'_>> = BTreeMap::new();
    for m in marks {
        let lane = match m.site {
            BackupSite::Primary => BucketLane::Primary,
            BackupSite::Replica => BucketLane::Replica,
        };
        tally(
            &mut tallies,
            width,
            lane,
            parse(&m.created_at)?,
            &m.created_at,
            m.state,
        );
        if let Some(e) = &m.expires_at {
            let at = parse(e)?;
            if (from_ms..=to_ms).contains(&at) {
                tally(&mut tallies, width, BucketLane::Expiry, at, e, m.state);
            }
        }
    }
    let instant = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .to_rfc3339()
    };
    Ok(tallies
        .into_iter()
        .map(|((lane, column), t)| TimelineBucket {
            lane,
            start: instant(column * width),
            end: instant((column + 1) * width),
            first: t.first.1.to_string(),
            last: t.last.1.to_string(),
            count: t.count,
            available: t.available,
            in_progress: t.in_progress,
            failed: t.failed,
            worst: t.worst,
        })
        .collect())
}

type Runs = (Vec<UpcomingRun>, u32, Vec<PastRun>);

/// The schedule's runs to come in the window (never before `now`) and those recorded in it.
fn runs(
    c: &Catalog,
    account_id: &str,
    frame_account: Option<&str>,
    volume: Option<&str>,
    now: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Runs, CatalogError> {
    let Some(stored) = c.schedule(account_id)? else {
        return Ok((Vec::new(), 0, Vec::new()));
    };
    if frame_account.is_some_and(|f| f != stored.frame_account) {
        return Ok((Vec::new(), 0, Vec::new()));
    }
    let schedule = &stored.schedule;
    // `runs_between` is the scheduler's own rule (time zone, daylight saving, the next-day rule);
    // it excludes its lower bound, and a run due exactly now is the scheduler's to start.
    let after = if from > now {
        from - chrono::Duration::nanoseconds(1)
    } else {
        now
    };
    let mut due = if to > after {
        schedule.runs_between(Some(after), to)
    } else {
        Vec::new()
    };
    let upcoming_left_out = due.len().saturating_sub(MAX_UPCOMING) as u32;
    due.truncate(MAX_UPCOMING);
    let upcoming = due
        .into_iter()
        .map(|t| {
            let tz = crate::schedule::parse_tz(&schedule.policy_at(t).time_zone)
                .unwrap_or(chrono_tz::UTC);
            UpcomingRun {
                at: crate::schedule::due_key(t),
                at_local: t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
            }
        })
        .collect();

    let mut past = Vec::new();
    for r in c.schedule_runs(account_id, MAX_PAST_RUNS)? {
        let Ok(due) = DateTime::parse_from_rfc3339(&r.due_at) else {
            continue;
        };
        let due = due.with_timezone(&Utc);
        if due < from || due > to {
            continue;
        }
        // Skips are recorded per job: the run's backup job.
        let skipped = match &r.job_id {
            Some(job) => c
                .skips_of_job(job)?
                .into_iter()
                .filter(|s| volume.is_none_or(|v| s.volume_id == v))
                .map(|s| SkippedVolume {
                    volume_id: s.volume_id,
                    volume_name: s.volume_name,
                    reason: s.reason,
                    message: s.message,
                })
                .collect(),
            None => Vec::new(),
        };
        past.push(PastRun {
            message: r
                .detail
                .as_ref()
                .and_then(|d| d.get("message"))
                .and_then(|m| m.as_str())
                .map(str::to_string),
            due_at: r.due_at,
            state: r.state,
            job_id: r.job_id,
            skipped,
        });
    }
    past.reverse();
    Ok((upcoming, upcoming_left_out, past))
}

fn hours_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 3_600_000.0
}

/// Gaps longer than `rpo_hours` between consecutive usable primary backups (module docs).
fn gaps(
    c: &Catalog,
    f: WindowFilter<'_>,
    from: &str,
    to: &str,
    now: DateTime<Utc>,
    to_t: DateTime<Utc>,
    rpo_hours: u32,
) -> Result<(Vec<Gap>, u32), CatalogError> {
    use std::collections::BTreeMap;
    let parse = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| CatalogError::Corrupt(format!("backup created_at {s:?}: {e}")))
    };
    // Per volume: its name and its usable instants in order.
    let mut volumes: BTreeMap<String, (String, Vec<DateTime<Utc>>)> = BTreeMap::new();
    for (id, name, at) in c.usable_primary_beyond(f, from, true)? {
        volumes
            .entry(id)
            .or_insert((name, Vec::new()))
            .1
            .push(parse(&at)?);
    }
    for (id, name, at) in c.usable_primaries_in_window(f, from, to)? {
        volumes
            .entry(id)
            .or_insert((name, Vec::new()))
            .1
            .push(parse(&at)?);
    }
    // The next usable backup after the window closes a gap that runs past its end; asked only
    // when the window ends before now.
    let mut after: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    if to_t < now {
        for (id, _, at) in c.usable_primary_beyond(f, to, false)? {
            after.insert(id, parse(&at)?);
        }
    }
    let rpo = f64::from(rpo_hours);
    let mut out = Vec::new();
    for (id, (name, times)) in volumes {
        let mut push = |a: DateTime<Utc>, b: DateTime<Utc>, open: bool| {
            let hours = hours_between(a, b);
            if hours > rpo {
                out.push(Gap {
                    volume_id: id.clone(),
                    volume_name: name.clone(),
                    from: a.to_rfc3339(),
                    to: b.to_rfc3339(),
                    hours,
                    open,
                });
            }
        };
        for pair in times.windows(2) {
            push(pair[0], pair[1], false);
        }
        if let Some(last) = times.last().copied() {
            match after.get(&id) {
                Some(next) => push(last, *next, false),
                None if now > last => push(last, now, true),
                None => {}
            }
        }
    }
    if f.volume_id.is_some() {
        out.sort_by(|a, b| a.from.cmp(&b.from));
        return Ok((out, 0));
    }
    out.sort_by(|a, b| b.hours.total_cmp(&a.hours).then(a.from.cmp(&b.from)));
    let left_out = out.len().saturating_sub(MAX_ACCOUNT_GAPS) as u32;
    out.truncate(MAX_ACCOUNT_GAPS);
    Ok((out, left_out))
}
