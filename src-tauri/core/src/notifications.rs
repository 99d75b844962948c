//! The notification center: what every long operation reports, stored in the catalog and
//! streamed to whoever is watching (the window, a terminal).
//!
//! Callers post through [`Notifier`], which stores first and only then tells the sink, so a
//! notification that reached the window is always one the catalog can list again.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;

/// A notification's id.
///
/// `i32` rather than SQLite's `i64`: specta refuses 64-bit integers in TypeScript (a JS number
/// cannot hold all of them), and an id is compared for equality, never computed with, so `f64`
/// would only invite rounding questions. 2^31 notifications is thousands of years of jobs; a row
/// past it is reported as a corrupt catalog rather than wrapped.
pub type NotificationId = i32;

/// How the notification center shows an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// A job started or passed a milestone.
    Info,
    /// A job ended as asked.
    Success,
    /// A job ended but skipped or degraded something: the body says what.
    Warning,
    /// A job failed: the body says why and what to do.
    Error,
}

impl NotificationLevel {
    pub const ALL: [NotificationLevel; 4] = [Self::Info, Self::Success, Self::Warning, Self::Error];

    /// The value stored in the catalog (and accepted by its CHECK constraint).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Success => "success",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// One stored notification, as the notification center lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Notification {
    pub id: NotificationId,
    /// RFC 3339, UTC, milliseconds.
    pub at: String,
    pub level: NotificationLevel,
    pub title: String,
    pub body: String,
    /// The cloud account it is about; `None` when it concerns none or the account was removed.
    pub account_id: Option<String>,
    /// The account's name at the time of listing (joined, never copied).
    pub account_name: Option<String>,
    /// The job that reported it, to group a job's start, milestones and outcome.
    pub job_id: Option<String>,
    pub read: bool,
}

/// What a caller posts; the catalog assigns the id and the time comes from the caller's clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct NewNotification {
    pub level: NotificationLevel,
    pub title: String,
    pub body: String,
    pub account_id: Option<String>,
    pub job_id: Option<String>,
}

impl NewNotification {
    pub fn new(
        level: NotificationLevel,
        title: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            level,
            title: title.into(),
            body: body.into(),
            account_id: None,
            job_id: None,
        }
    }

    pub fn account(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = Some(account_id.into());
        self
    }

    pub fn job(mut self, job_id: impl Into<String>) -> Self {
        self.job_id = Some(job_id.into());
        self
    }
}

/// Which notifications to list, newest first. Every field narrows; the default lists the newest
/// [`DEFAULT_PAGE`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct NotificationFilter {
    pub level: Option<NotificationLevel>,
    pub account_id: Option<String>,
    #[serde(default)]
    pub unread_only: bool,
    /// Matched, case-insensitively, anywhere in the title or the body.
    pub search: Option<String>,
    /// Page size: [`DEFAULT_PAGE`] when absent, at most [`MAX_PAGE`].
    pub limit: Option<u32>,
    /// Paging: only notifications older than this one (the last of the previous page).
    pub before_id: Option<NotificationId>,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 500;

/// Where posted notifications go live once stored: the window's event, a terminal's progress.
pub trait NotificationSink: Send + Sync {
    fn added(&self, notification: &Notification);
}

/// For callers nobody watches live (tests, `standbyctl --json`): the catalog still has them.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSink;

impl NotificationSink for NoSink {
    fn added(&self, _: &Notification) {}
}

/// Posts notifications: stores them with the clock's time, then tells the sink.
pub struct Notifier<'a> {
    pub catalog: &'a Catalog,
    pub clock: &'a dyn Clock,
    pub sink: &'a dyn NotificationSink,
}

impl Notifier<'_> {
    pub fn post(&self, new: &NewNotification) -> Result<Notification, CatalogError> {
        let n = self.catalog.add_notification(new, self.clock.now())?;
        self.sink.added(&n);
        Ok(n)
    }
}

/// The stored form of a time: fixed width, so that text order is time order in SQL.
pub(crate) fn stored_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::TimeZone;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Notification>>);

    impl NotificationSink for Recorder {
        fn added(&self, n: &Notification) {
            self.0.lock().unwrap().push(n.clone());
        }
    }

    #[test]
    fn levels_round_trip_through_their_stored_names() {
        for l in NotificationLevel::ALL {
            assert_eq!(NotificationLevel::parse(l.as_str()), Some(l));
            assert_eq!(
                serde_json::to_value(l).unwrap(),
                serde_json::json!(l.as_str())
            );
        }
        assert_eq!(NotificationLevel::parse("fatal"), None);
    }

    #[test]
    fn stored_times_sort_as_text_in_time_order() {
        let a = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
        let b = a + chrono::Duration::milliseconds(5);
        let c = a + chrono::Duration::seconds(1);
        let (sa, sb, sc) = (stored_time(a), stored_time(b), stored_time(c));
        assert_eq!(sa, "2026-11-22T09:00:00.000Z");
        assert!(sa < sb && sb < sc, "{sa} {sb} {sc}");
    }

    #[test]
    fn a_posted_notification_is_stored_with_the_clock_time_then_streamed() {
        let catalog = Catalog::in_memory().unwrap();
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 22, 9, 30, 0).unwrap());
        let sink = Recorder::default();
        let notifier = Notifier {
            catalog: &catalog,
            clock: &clock,
            sink: &sink,
        };
        let n = notifier
            .post(
                &NewNotification::new(NotificationLevel::Success, "Backup done", "vol-1").job("j1"),
            )
            .unwrap();
        assert_eq!(n.at, "2026-11-22T09:30:00.000Z");
        assert_eq!(n.job_id.as_deref(), Some("j1"));
        assert_eq!(*sink.0.lock().unwrap(), vec![n.clone()]);
        assert_eq!(
            catalog
                .list_notifications(&NotificationFilter::default())
                .unwrap(),
            vec![n]
        );
    }

    #[test]
    fn a_filter_from_the_window_may_leave_out_unread_only() {
        let f: NotificationFilter = serde_json::from_str(r#"{"level":"error"}"#).unwrap();
        assert_eq!(f.level, Some(NotificationLevel::Error));
        assert!(!f.unread_only);
    }
}
