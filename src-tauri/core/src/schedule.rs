//! Backup schedules: when an account's scheduled backups are due. Pure functions: every "now" is
//! passed in, so the rules (time zones, daylight saving, the next-day rule, catch-up) are tested
//! without waiting for a clock.
//!
//! A schedule runs on local calendar days of its IANA time zone: the first backup on `first_date`
//! at `first_time` (wall time), then every `every_days` local days at the same wall time. Days
//! are calendar days, not 24-hour periods, so a 02:00 schedule stays at 02:00 across daylight
//! saving changes.
//!
//! Daylight saving: a wall time that does not exist that day (spring forward: 02:30 in
//! Amsterdam on the last Sunday of March) runs at the next valid instant (03:00 CEST, the moment
//! the clocks jump); a wall time that happens twice (fall back: 02:30 on the last Sunday of
//! October) runs once, at its first occurrence (02:30 CEST).
//!
//! The next-day rule: a change to a schedule that is in force takes effect the next local day
//! (in the time zone of the schedule in force); until the end of the day of the change the old
//! schedule still runs. Both are stored, the new one with the date and instant it takes effect.
//! A schedule set where none is in force (the first one, or after it was switched off) takes
//! effect at once, and switching a schedule off takes effect at once: an administrator who
//! switches backups off expects none to run.
//!
//! Catch-up: runs that fell due while no scheduler was running are caught up once: only the
//! latest is executed, the others are recorded as missed.

use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The longest interval accepted (a year): a longer one is more likely a typo than a policy.
pub const MAX_EVERY_DAYS: u32 = 366;
/// The most scheduled backups a policy may retain per volume and site (Azure allows 500
/// incremental snapshots per disk; manual, post-session and replica rows need room too).
pub const MAX_KEEP: u32 = 400;

/// One schedule as an administrator sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct SchedulePolicy {
    /// The Frame account whose volumes are backed up.
    pub frame_account: String,
    pub enabled: bool,
    /// The local date of the first backup.
    pub first_date: NaiveDate,
    /// The local wall time of every backup, `HH:MM`.
    #[serde(with = "hhmm")]
    #[specta(type = String)]
    pub first_time: NaiveTime,
    /// An IANA time zone, e.g. `Europe/Amsterdam`.
    pub time_zone: String,
    /// Days between two backups (1 = daily).
    pub every_days: u32,
    /// Scheduled backups kept per volume and site; older ones are deleted by retention.
    pub keep: u32,
}

mod hhmm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveTime, D::Error> {
        let s = String::deserialize(d)?;
        super::parse_time(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0:?} is not an IANA time zone: give one such as Europe/Amsterdam, America/New_York or UTC")]
    TimeZone(String),
    #[error("{0:?} is not a time of day: give HH:MM, e.g. 02:00")]
    Time(String),
    #[error("{0:?} is not a date: give YYYY-MM-DD")]
    Date(String),
    #[error("the interval must be between 1 and {MAX_EVERY_DAYS} days, not {0}")]
    Interval(u32),
    #[error("the number of backups kept must be between 1 and {MAX_KEEP}, not {0}: the newest backup is always kept")]
    Keep(u32),
    #[error("name the Frame account the schedule backs up")]
    NoFrameAccount,
}

impl From<ScheduleError> for crate::ApiError {
    fn from(e: ScheduleError) -> Self {
        crate::ApiError::new(crate::ErrorCode::InvalidInput, e.to_string())
    }
}

pub fn parse_time(s: &str) -> Result<NaiveTime, ScheduleError> {
    let t = s.trim();
    NaiveTime::parse_from_str(t, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(t, "%H:%M:%S"))
        .map_err(|_| ScheduleError::Time(s.to_string()))
}

pub fn parse_date(s: &str) -> Result<NaiveDate, ScheduleError> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| ScheduleError::Date(s.to_string()))
}

pub fn parse_tz(s: &str) -> Result<Tz, ScheduleError> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::TimeZone(s.to_string()))
}

impl SchedulePolicy {
    /// Checks the policy and returns its time zone.
    pub fn check(&self) -> Result<Tz, ScheduleError> {
        if self.frame_account.trim().is_empty() {
            return Err(ScheduleError::NoFrameAccount);
        }
        if self.every_days == 0 || self.every_days > MAX_EVERY_DAYS {
            return Err(ScheduleError::Interval(self.every_days));
        }
        if self.keep == 0 || self.keep > MAX_KEEP {
            return Err(ScheduleError::Keep(self.keep));
        }
        parse_tz(&self.time_zone)
    }

    /// The instant of the run on local date `date` (which must be a run date).
    fn instant_on(&self, tz: Tz, date: NaiveDate) -> DateTime<Utc> {
        resolve(tz, date.and_time(self.first_time))
    }

    /// The run dates from the first on or after `date`, in order.
    fn dates_from(&self, date: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        let every = i64::from(self.every_days.max(1));
        let k0 = if date <= self.first_date {
            0
        } else {
            let d = (date - self.first_date).num_days();
            (d + every - 1) / every
        };
        (k0..).map_while(move |k| {
            self.first_date
                .checked_add_days(Days::new(u64::try_from(k * every).ok()?))
        })
    }

    /// Run instants `t` with `from < t <= to` (`from` `None`: from the first run). Empty when
    /// switched off.
    pub fn runs_between(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        let Ok(tz) = self.check() else {
            return Vec::new();
        };
        if !self.enabled {
            return Vec::new();
        }
        // Daylight saving moves a run by at most a day (Samoa skipped one); start two local days
        // early and filter on the instant.
        let start = match from {
            Some(f) => f.with_timezone(&tz).date_naive() - Days::new(2),
            None => self.first_date,
        };
        let mut out = Vec::new();
        for date in self.dates_from(start) {
            let t = self.instant_on(tz, date);
            if t > to {
                // Instants grow with dates (a resolved local time never passes the next day's).
                break;
            }
            if from.is_none_or(|f| t > f) {
                out.push(t);
            }
        }
        out
    }

    /// The first `n` run instants strictly after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let Ok(tz) = self.check() else {
            return Vec::new();
        };
        if !self.enabled || n == 0 {
            return Vec::new();
        }
        let start = after.with_timezone(&tz).date_naive() - Days::new(2);
        self.dates_from(start)
            .map(|d| self.instant_on(tz, d))
            .filter(|t| *t > after)
            .take(n)
            .collect()
    }
}

/// A local wall time as an instant: the first occurrence when it happens twice, the next valid
/// instant (the end of the gap) when it does not happen at all.
pub fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // Clocks jump on whole minutes (even Lord Howe's half hour): the first wall minute
            // that exists after the gap is the instant of the jump. Gaps last at most a day.
            let mut probe = local
                .with_second(0)
                .and_then(|t| t.with_nanosecond(0))
                .unwrap_or(local);
            for _ in 0..(26 * 60) {
                probe += chrono::Duration::minutes(1);
                match tz.from_local_datetime(&probe) {
                    LocalResult::Single(t) => return t.with_timezone(&Utc),
                    LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
                    LocalResult::None => {}
                }
            }
            // Unreachable with the IANA database; reading the wall time as UTC keeps a run.
            Utc.from_utc_datetime(&local)
        }
    }
}

/// A change waiting for the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PendingChange {
    pub policy: SchedulePolicy,
    /// The local date (in the time zone of the schedule in force at the change) it takes effect.
    pub effective_date: NaiveDate,
    /// The instant it takes effect: the start of that day.
    pub effective_from: DateTime<Utc>,
}

/// What the catalog stores for an account: the schedule in force and a change waiting for the
/// next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Schedule {
    pub in_force: SchedulePolicy,
    /// When the schedule in force started to be in force: runs before it are not due (setting a
    /// schedule never "catches up" runs from before it existed).
    pub since: DateTime<Utc>,
    pub pending: Option<PendingChange>,
}

impl Schedule {
    /// A schedule set where none was in force: in force at once.
    pub fn new(policy: SchedulePolicy, at: DateTime<Utc>) -> Result<Self, ScheduleError> {
        policy.check()?;
        Ok(Self {
            in_force: policy,
            since: at,
            pending: None,
        })
    }

    /// The schedule as it stands at `at`: a pending change whose day has come is in force.
    pub fn settled(&self, at: DateTime<Utc>) -> Schedule {
        match &self.pending {
            Some(p) if p.effective_from <= at => Schedule {
                in_force: p.policy.clone(),
                since: p.effective_from,
                pending: None,
            },
            _ => self.clone(),
        }
    }

    /// The policy that governs runs at `at`.
    pub fn policy_at(&self, at: DateTime<Utc>) -> &SchedulePolicy {
        match &self.pending {
            Some(p) if p.effective_from <= at => &p.policy,
            _ => &self.in_force,
        }
    }

    /// The schedule after an administrator's change at `at` (the next-day rule, module docs).
    pub fn change(&self, policy: SchedulePolicy, at: DateTime<Utc>) -> Result<Self, ScheduleError> {
        policy.check()?;
        let now = self.settled(at);
        if !now.in_force.enabled || !policy.enabled {
            // Nothing runs now, or nothing should: no old schedule to honour until midnight.
            return Ok(Schedule {
                in_force: policy,
                since: at,
                pending: None,
            });
        }
        if now.in_force == policy {
            return Ok(Schedule {
                pending: None,
                ..now
            });
        }
        let tz = now.in_force.check()?;
        let today = at.with_timezone(&tz).date_naive();
        let effective_date = today + Days::new(1);
        let effective_from = resolve(tz, effective_date.and_time(NaiveTime::MIN));
        Ok(Schedule {
            in_force: now.in_force,
            since: now.since,
            pending: Some(PendingChange {
                policy,
                effective_date,
                effective_from,
            }),
        })
    }

    /// Due runs `t` with `from < t <= to`, never before the schedule was set: the schedule in
    /// force before a pending change takes effect, the change's after.
    pub fn runs_between(
        &self,
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        // `since` itself may be a run instant (a schedule set at 02:00 sharp): it is due.
        let since = self.since - chrono::Duration::nanoseconds(1);
        let floor = Some(from.map_or(since, |f| f.max(since)));
        match &self.pending {
            None => self.in_force.runs_between(floor, to),
            Some(p) => {
                let before_end = p.effective_from - chrono::Duration::nanoseconds(1);
                let mut out = self.in_force.runs_between(floor, to.min(before_end));
                let after = floor.max(Some(before_end));
                out.extend(p.policy.runs_between(after, to));
                out
            }
        }
    }

    /// The next `n` runs strictly after `after`.
    pub fn next_runs(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out: Vec<DateTime<Utc>> = Vec::new();
        match &self.pending {
            None => out = self.in_force.next_runs(after, n),
            Some(p) => {
                if after < p.effective_from {
                    out.extend(
                        self.in_force
                            .next_runs(after, n)
                            .into_iter()
                            .filter(|t| *t < p.effective_from),
                    );
                }
                let from = after.max(p.effective_from - chrono::Duration::nanoseconds(1));
                out.extend(p.policy.next_runs(from, n));
                out.truncate(n);
            }
        }
        out
    }

    /// What a scheduler does at `now`, given the latest run it recorded (`None`: none yet).
    pub fn plan(&self, last_recorded: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Plan {
        let mut due = self.runs_between(last_recorded, now);
        let run = due.pop();
        Plan { run, missed: due }
    }
}

/// The scheduler's decision for one account at one tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The run to execute now: the latest one due.
    pub run: Option<DateTime<Utc>>,
    /// Runs that fell due while no scheduler ran, older than `run`: recorded as missed, not run.
    pub missed: Vec<DateTime<Utc>>,
}

/// The text a run's instant is stored and compared as (RFC 3339, UTC, whole seconds): the key
/// that makes a run idempotent per account.
pub fn due_key(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn policy(tz: &str, first: &str, time: &str, every: u32) -> SchedulePolicy {
        SchedulePolicy {
            frame_account: "acme-pd".into(),
            enabled: true,
            first_date: parse_date(first).unwrap(),
            first_time: parse_time(time).unwrap(),
            time_zone: tz.into(),
            every_days: every,
            keep: 7,
        }
    }

    fn keys(v: &[DateTime<Utc>]) -> Vec<String> {
        v.iter().map(|t| due_key(*t)).collect()
    }

    #[test]
    fn daily_runs_in_amsterdam_follow_the_wall_clock_across_both_changes() {
        let p = policy("Europe/Amsterdam", "2026-03-27", "02:00", 1);
        // 2026-03-29: clocks go 02:00 -> 03:00, so 02:00 does not exist and runs at 03:00 CEST.
        assert_eq!(
            keys(&p.next_runs(utc("2026-03-26T12:00:00Z"), 4)),
            [
                "2026-03-27T01:00:00Z",
                "2026-03-28T01:00:00Z",
                "2026-03-29T01:00:00Z",
                "2026-03-30T00:00:00Z",
            ]
        );
        // 2026-10-25: 02:00 happens twice (CEST then CET); the first occurrence, once.
        let p = policy("Europe/Amsterdam", "2026-10-24", "02:30", 1);
        assert_eq!(
            keys(&p.next_runs(utc("2026-10-23T12:00:00Z"), 3)),
            [
                "2026-10-24T00:30:00Z",
                "2026-10-25T00:30:00Z",
                "2026-10-26T01:30:00Z",
            ]
        );
    }

    #[test]
    fn a_time_inside_the_spring_gap_runs_when_the_clocks_jump() {
        let p = policy("Europe/Amsterdam", "2026-03-29", "02:30", 1);
        assert_eq!(
            keys(&p.next_runs(utc("2026-03-28T00:00:00Z"), 1)),
            ["2026-03-29T01:00:00Z"] // 03:00 CEST
        );
        // New York: 2026-03-08 02:00 -> 03:00 EDT (07:00 UTC).
        let p = policy("America/New_York", "2026-03-07", "02:15", 1);
        assert_eq!(
            keys(&p.next_runs(utc("2026-03-06T00:00:00Z"), 3)),
            [
                "2026-03-07T07:15:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-09T06:15:00Z",
            ]
        );
    }

    #[test]
    fn new_york_fall_back_runs_once_at_the_first_one_thirty() {
        // 2026-11-01: 01:30 EDT (05:30 UTC) then 01:30 EST (06:30 UTC).
        let p = policy("America/New_York", "2026-10-31", "01:30", 1);
        let due = p.runs_between(
            Some(utc("2026-10-31T12:00:00Z")),
            utc("2026-11-01T12:00:00Z"),
        );
        assert_eq!(keys(&due), ["2026-11-01T05:30:00Z"]);
    }

    #[test]
    fn lord_howe_moves_by_half_an_hour() {
        // Australia/Lord_Howe: +10:30 standard, +11 in summer. 2026-10-04 02:00 -> 02:30;
        // 2026-04-05 02:00 -> 01:30 (01:30..02:00 happens twice).
        let p = policy("Australia/Lord_Howe", "2026-10-03", "02:10", 1);
        assert_eq!(
            keys(&p.next_runs(utc("2026-10-01T00:00:00Z"), 3)),
            [
                "2026-10-02T15:40:00Z", // 02:10 +10:30
                "2026-10-03T15:30:00Z", // gap: runs at the jump, 02:30 +11
                "2026-10-04T15:10:00Z", // 02:10 +11
            ]
        );
        let p = policy("Australia/Lord_Howe", "2026-04-04", "01:45", 1);
        assert_eq!(
            keys(&p.next_runs(utc("2026-04-01T00:00:00Z"), 3)),
            [
                "2026-04-03T14:45:00Z", // +11
                "2026-04-04T14:45:00Z", // ambiguous: the first, at +11
                "2026-04-05T15:15:00Z", // +10:30
            ]
        );
    }

    #[test]
    fn kolkata_has_no_daylight_saving_and_a_half_hour_offset() {
        let p = policy("Asia/Kolkata", "2026-01-01", "23:45", 2);
        assert_eq!(
            keys(&p.next_runs(utc("2026-01-01T00:00:00Z"), 3)),
            [
                "2026-01-01T18:15:00Z",
                "2026-01-03T18:15:00Z",
                "2026-01-05T18:15:00Z",
            ]
        );
    }

    #[test]
    fn intervals_count_local_days_from_the_first_date() {
        let p = policy("Europe/Amsterdam", "2026-01-10", "02:00", 3);
        // Asking from the middle of an interval gives the next run of the series, not "now + 3".
        assert_eq!(
            keys(&p.next_runs(utc("2026-01-14T12:00:00Z"), 2)),
            ["2026-01-16T01:00:00Z", "2026-01-19T01:00:00Z"]
        );
        // Nothing before the first date.
        assert_eq!(
            keys(&p.next_runs(utc("2025-12-01T00:00:00Z"), 1)),
            ["2026-01-10T01:00:00Z"]
        );
        // Strictly after: a run at exactly `after` is not "next".
        assert_eq!(
            keys(&p.next_runs(utc("2026-01-10T01:00:00Z"), 1)),
            ["2026-01-13T01:00:00Z"]
        );
        let between = p.runs_between(
            Some(utc("2026-01-10T01:00:00Z")),
            utc("2026-01-16T01:00:00Z"),
        );
        assert_eq!(
            keys(&between),
            ["2026-01-13T01:00:00Z", "2026-01-16T01:00:00Z"]
        );
        let mut off = p.clone();
        off.enabled = false;
        assert!(off.next_runs(utc("2026-01-01T00:00:00Z"), 5).is_empty());
    }

    #[test]
    fn bad_policies_are_refused_with_what_to_give() {
        let mut p = policy("Mars/Olympus", "2026-01-10", "02:00", 1);
        assert_eq!(
            p.check(),
            Err(ScheduleError::TimeZone("Mars/Olympus".into()))
        );
        p.time_zone = "UTC".into();
        p.every_days = 0;
        assert_eq!(p.check(), Err(ScheduleError::Interval(0)));
        p.every_days = 1;
        p.keep = 0;
        assert_eq!(p.check(), Err(ScheduleError::Keep(0)));
        assert!(parse_time("25:00").is_err());
        assert!(parse_time("2:00").is_ok());
        assert!(parse_date("2026-02-30").is_err());
        assert!(ScheduleError::TimeZone("x".into())
            .to_string()
            .contains("Europe/Amsterdam"));
    }

    #[test]
    fn a_change_takes_effect_the_next_local_day() {
        let old = policy("Europe/Amsterdam", "2026-01-01", "22:00", 1);
        let s = Schedule::new(old.clone(), utc("2025-12-31T00:00:00Z")).unwrap();
        // Changed at 10:00 local on 2026-02-10 to 06:00 every day.
        let new = policy("Europe/Amsterdam", "2026-01-01", "06:00", 1);
        let at = utc("2026-02-10T09:00:00Z");
        let changed = s.change(new.clone(), at).unwrap();
        let p = changed.pending.as_ref().unwrap();
        assert_eq!(p.effective_date, parse_date("2026-02-11").unwrap());
        assert_eq!(p.effective_from, utc("2026-02-10T23:00:00Z"));
        // Today's 22:00 still runs under the old schedule; tomorrow 06:00 under the new one.
        assert_eq!(
            keys(&changed.next_runs(at, 3)),
            [
                "2026-02-10T21:00:00Z",
                "2026-02-11T05:00:00Z",
                "2026-02-12T05:00:00Z",
            ]
        );
        assert_eq!(changed.policy_at(at), &old);
        assert_eq!(changed.policy_at(utc("2026-02-11T00:00:00Z")), &new);
        // Due runs across the switch come from both.
        assert_eq!(
            keys(&changed.runs_between(Some(at), utc("2026-02-11T06:00:00Z"))),
            ["2026-02-10T21:00:00Z", "2026-02-11T05:00:00Z"]
        );
        // The day after, the change is simply the schedule in force.
        let settled = changed.settled(utc("2026-02-12T00:00:00Z"));
        assert_eq!(settled.in_force, new);
        assert!(settled.pending.is_none());
        // A second change the same day replaces the pending one, the old still in force.
        let newer = policy("Europe/Amsterdam", "2026-01-01", "04:00", 1);
        let again = changed
            .change(newer.clone(), utc("2026-02-10T10:00:00Z"))
            .unwrap();
        assert_eq!(again.in_force, old);
        assert_eq!(again.pending.unwrap().policy, newer);
    }

    #[test]
    fn the_next_day_is_that_of_the_schedule_in_force() {
        // In force in New York; changed at 22:00 New York time (03:00 UTC the next day).
        let s = Schedule::new(
            policy("America/New_York", "2026-01-01", "23:00", 1),
            utc("2025-12-01T00:00:00Z"),
        )
        .unwrap();
        let changed = s
            .change(
                policy("Asia/Kolkata", "2026-01-01", "01:00", 1),
                utc("2026-02-11T03:00:00Z"),
            )
            .unwrap();
        let p = changed.pending.unwrap();
        assert_eq!(p.effective_date, parse_date("2026-02-11").unwrap());
        assert_eq!(p.effective_from, utc("2026-02-11T05:00:00Z"));
    }

    #[test]
    fn switching_off_is_at_once_and_a_first_schedule_is_in_force_at_once() {
        let on = policy("UTC", "2026-01-01", "02:00", 1);
        let s = Schedule::new(on.clone(), utc("2026-01-05T10:00:00Z")).unwrap();
        let mut off = on.clone();
        off.enabled = false;
        let s2 = s.change(off, utc("2026-01-05T12:00:00Z")).unwrap();
        assert!(s2.pending.is_none());
        assert!(s2.next_runs(utc("2026-01-05T12:00:00Z"), 5).is_empty());
        // Back on: in force at once, and nothing from before is owed.
        let s3 = s2.change(on.clone(), utc("2026-01-09T10:00:00Z")).unwrap();
        assert!(s3.pending.is_none());
        assert!(s3
            .runs_between(None, utc("2026-01-09T10:00:00Z"))
            .is_empty());
        assert_eq!(
            keys(&s3.next_runs(utc("2026-01-09T10:00:00Z"), 1)),
            ["2026-01-10T02:00:00Z"]
        );
        // Setting the same policy again changes nothing.
        let same = s.change(on, utc("2026-01-05T12:00:00Z")).unwrap();
        assert_eq!(same, s);
    }

    #[test]
    fn catch_up_runs_only_the_latest_missed_run_and_records_the_others() {
        let s = Schedule::new(
            policy("UTC", "2026-01-01", "02:00", 1),
            utc("2025-12-31T00:00:00Z"),
        )
        .unwrap();
        // Last run recorded on the 3rd; the machine was off until the 7th at noon.
        let plan = s.plan(
            Some(utc("2026-01-03T02:00:00Z")),
            utc("2026-01-07T12:00:00Z"),
        );
        assert_eq!(plan.run, Some(utc("2026-01-07T02:00:00Z")));
        assert_eq!(
            keys(&plan.missed),
            [
                "2026-01-04T02:00:00Z",
                "2026-01-05T02:00:00Z",
                "2026-01-06T02:00:00Z"
            ]
        );
        // Right after: nothing more is due until tomorrow.
        let plan = s.plan(
            Some(utc("2026-01-07T02:00:00Z")),
            utc("2026-01-07T12:00:05Z"),
        );
        assert_eq!(
            plan,
            Plan {
                run: None,
                missed: vec![]
            }
        );
        // Never anything from before the schedule was set.
        let late = Schedule::new(
            policy("UTC", "2026-01-01", "02:00", 1),
            utc("2026-01-07T12:00:00Z"),
        )
        .unwrap();
        assert_eq!(late.plan(None, utc("2026-01-07T12:00:00Z")).run, None);
        // A schedule set at the very instant of a run owes that run.
        let sharp = Schedule::new(
            policy("UTC", "2026-01-01", "02:00", 1),
            utc("2026-01-07T02:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            sharp.plan(None, utc("2026-01-07T02:00:00Z")).run,
            Some(utc("2026-01-07T02:00:00Z"))
        );
    }

    #[test]
    fn the_stored_form_reads_back_with_hh_mm() {
        let s = Schedule::new(
            policy("Europe/Amsterdam", "2026-01-01", "02:00", 1),
            utc("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["in_force"]["first_time"], "02:00");
        assert_eq!(json["in_force"]["first_date"], "2026-01-01");
        let back: Schedule = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
