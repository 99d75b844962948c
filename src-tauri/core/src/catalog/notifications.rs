//! The `notifications` table: every job's events, for the notification center.
//!
//! Listed newest first by `(at, id)`, which the `notifications_by_time` index serves; a page
//! continues from the last row of the previous one (keyset paging), so rows added meanwhile never
//! shift a page.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use super::{Catalog, CatalogError};
use crate::notifications::{
    stored_time, NewNotification, Notification, NotificationFilter, NotificationId,
    NotificationLevel, DEFAULT_PAGE, MAX_PAGE,
};

const SELECT: &str =
    "SELECT n.id, n.at, n.level, n.title, n.body, n.account_id, a.name, n.job_id, n.read
     FROM notifications n LEFT JOIN cloud_accounts a ON a.id = n.account_id";

/// SQLite's default limit on bound parameters is far above this; chunking keeps a "mark these
/// 10,000 read" within any build's limit.
const IDS_PER_STATEMENT: usize = 500;

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawNotification> {
    Ok(RawNotification {
        id: r.get(0)?,
        at: r.get(1)?,
        level: r.get(2)?,
        title: r.get(3)?,
        body: r.get(4)?,
        account_id: r.get(5)?,
        account_name: r.get(6)?,
        job_id: r.get(7)?,
        read: r.get(8)?,
    })
}

/// A row before the checks that the table's types cannot express.
struct RawNotification {
    id: i64,
    at: String,
    level: String,
    title: String,
    body: String,
    account_id: Option<String>,
    account_name: Option<String>,
    job_id: Option<String>,
    read: bool,
}

impl TryFrom<RawNotification> for Notification {
    type Error = CatalogError;

    fn try_from(r: RawNotification) -> Result<Self, CatalogError> {
        Ok(Notification {
            id: NotificationId::try_from(r.id)
                .map_err(|_| CatalogError::Corrupt(format!("notification id {}", r.id)))?,
            level: NotificationLevel::parse(&r.level).ok_or_else(|| {
                CatalogError::Corrupt(format!("level {:?} of notification {}", r.level, r.id))
            })?,
            at: r.at,
            title: r.title,
            body: r.body,
            account_id: r.account_id,
            account_name: r.account_name,
            job_id: r.job_id,
            read: r.read,
        })
    }
}

/// `%` and `_` typed in the search box are meant literally.
fn like_pattern(search: &str) -> String {
    let mut p = String::with_capacity(search.len() + 2);
    p.push('%');
    for c in search.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl Catalog {
    /// Stores a notification at the time given.
    ///
    /// An account that no longer exists is recorded as none (what `ON DELETE SET NULL` would have
    /// made of it a moment later) instead of failing: a job's outcome must not be lost because its
    /// account was removed while it ran.
    pub fn add_notification(
        &self,
        new: &NewNotification,
        at: DateTime<Utc>,
    ) -> Result<Notification, CatalogError> {
        self.conn.execute(
            "INSERT INTO notifications (at, level, title, body, account_id, job_id, read)
             VALUES (?1, ?2, ?3, ?4, (SELECT id FROM cloud_accounts WHERE id = ?5), ?6, 0)",
            params![
                stored_time(at),
                new.level.as_str(),
                new.title,
                new.body,
                new.account_id,
                new.job_id
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        let raw =
            self.conn
                .query_row(&format!("{SELECT} WHERE n.id = ?1"), params![id], from_row)?;
        raw.try_into()
    }

    /// Newest first (by time, then by id for notifications of the same millisecond).
    pub fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<Notification>, CatalogError> {
        let mut sql = format!("{SELECT} WHERE 1");
        let mut args: Vec<Value> = Vec::new();
        if let Some(level) = filter.level {
            args.push(Value::Text(level.as_str().into()));
            sql.push_str(&format!(" AND n.level = ?{}", args.len()));
        }
        if let Some(account) = &filter.account_id {
            args.push(Value::Text(account.clone()));
            sql.push_str(&format!(" AND n.account_id = ?{}", args.len()));
        }
        if filter.unread_only {
            sql.push_str(" AND n.read = 0");
        }
        if let Some(search) = filter.search.as_deref().map(str::trim) {
            if !search.is_empty() {
                args.push(Value::Text(like_pattern(search)));
                let i = args.len();
                sql.push_str(&format!(
                    " AND (n.title LIKE ?{i} ESCAPE '\\' OR n.body LIKE ?{i} ESCAPE '\\')"
                ));
            }
        }
        if let Some(before) = filter.before_id {
            // A cursor row that no longer exists (pruned with everything older) yields NULL, and
            // so an empty page: there is nothing older left.
            args.push(Value::Integer(before.into()));
            sql.push_str(&format!(
                " AND (n.at, n.id) < (SELECT at, id FROM notifications WHERE id = ?{})",
                args.len()
            ));
        }
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        args.push(Value::Integer(limit.into()));
        sql.push_str(&format!(
            " ORDER BY n.at DESC, n.id DESC LIMIT ?{}",
            args.len()
        ));
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), from_row)?;
        rows.map(|r| r?.try_into()).collect()
    }

    pub fn unread_count(&self) -> Result<u32, CatalogError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM notifications WHERE read = 0",
            [],
            |r| r.get(0),
        )?;
        // More than 4 billion unread notifications cannot be told apart on a badge anyway.
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Marks these notifications read; unknown ids are ignored (another window may have pruned
    /// them). Returns how many changed from unread to read.
    pub fn mark_read(&self, ids: &[NotificationId]) -> Result<u32, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut changed = 0usize;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let marks = vec!["?"; chunk.len()].join(",");
            changed += tx.execute(
                &format!("UPDATE notifications SET read = 1 WHERE read = 0 AND id IN ({marks})"),
                params_from_iter(chunk),
            )?;
        }
        tx.commit()?;
        Ok(u32::try_from(changed).unwrap_or(u32::MAX))
    }

    /// Returns how many changed from unread to read.
    pub fn mark_all_read(&self) -> Result<u32, CatalogError> {
        let changed = self
            .conn
            .execute("UPDATE notifications SET read = 1 WHERE read = 0", [])?;
        Ok(u32::try_from(changed).unwrap_or(u32::MAX))
    }

    /// One notification by id, for callers that hold only the id.
    pub fn find_notification(
        &self,
        id: NotificationId,
    ) -> Result<Option<Notification>, CatalogError> {
        self.conn
            .query_row(&format!("{SELECT} WHERE n.id = ?1"), params![id], from_row)
            .optional()?
            .map(Notification::try_from)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::NewAccount;
    use crate::model::ProviderKind;
    use chrono::TimeZone;
    use NotificationLevel::*;

    fn t(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 9, minute, 0).unwrap()
    }

    fn note(level: NotificationLevel, title: &str, body: &str) -> NewNotification {
        NewNotification::new(level, title, body)
    }

    fn account(c: &Catalog, name: &str) -> String {
        c.insert_account(&NewAccount {
            name,
            kind: ProviderKind::Ahv,
            endpoint: "https://10.0.0.1:9440",
            settings: serde_json::json!({}),
            created_at: t(0),
        })
        .unwrap()
        .id
    }

    fn titles(v: &[Notification]) -> Vec<&str> {
        v.iter().map(|n| n.title.as_str()).collect()
    }

    fn all() -> NotificationFilter {
        NotificationFilter::default()
    }

    #[test]
    fn an_empty_catalog_has_no_notifications() {
        let c = Catalog::in_memory().unwrap();
        assert!(c.list_notifications(&all()).unwrap().is_empty());
        assert_eq!(c.unread_count().unwrap(), 0);
    }

    #[test]
    fn a_notification_comes_back_as_stored_with_its_account_name() {
        let c = Catalog::in_memory().unwrap();
        let acc = account(&c, "ahv-primary");
        let added = c
            .add_notification(
                &note(Error, "Backup failed", "vol-7: snapshot refused")
                    .account(&acc)
                    .job("job-1"),
                t(5),
            )
            .unwrap();
        assert_eq!(
            added,
            Notification {
                id: added.id,
                at: "2026-11-22T09:05:00.000Z".into(),
                level: Error,
                title: "Backup failed".into(),
                body: "vol-7: snapshot refused".into(),
                account_id: Some(acc),
                account_name: Some("ahv-primary".into()),
                job_id: Some("job-1".into()),
                read: false,
            }
        );
        assert_eq!(c.find_notification(added.id).unwrap(), Some(added.clone()));
        assert_eq!(c.list_notifications(&all()).unwrap(), vec![added]);
    }

    #[test]
    fn newest_come_first_by_time_then_by_id() {
        let c = Catalog::in_memory().unwrap();
        // Posted out of time order (a resumed job reporting late), and two in the same millisecond.
        c.add_notification(&note(Info, "b", ""), t(2)).unwrap();
        c.add_notification(&note(Info, "a", ""), t(1)).unwrap();
        c.add_notification(&note(Info, "c1", ""), t(3)).unwrap();
        c.add_notification(&note(Info, "c2", ""), t(3)).unwrap();
        let list = c.list_notifications(&all()).unwrap();
        assert_eq!(titles(&list), ["c2", "c1", "b", "a"]);
    }

    #[test]
    fn pages_continue_from_the_last_row_without_gaps_or_repeats() {
        let c = Catalog::in_memory().unwrap();
        for i in 0..7 {
            c.add_notification(&note(Info, &format!("n{i}"), ""), t(i))
                .unwrap();
        }
        let page = |before_id| {
            c.list_notifications(&NotificationFilter {
                limit: Some(3),
                before_id,
                ..all()
            })
            .unwrap()
        };
        let p1 = page(None);
        assert_eq!(titles(&p1), ["n6", "n5", "n4"]);
        // A newer notification arriving between pages must not shift the next page.
        c.add_notification(&note(Info, "late", ""), t(30)).unwrap();
        let p2 = page(Some(p1.last().unwrap().id));
        assert_eq!(titles(&p2), ["n3", "n2", "n1"]);
        let p3 = page(Some(p2.last().unwrap().id));
        assert_eq!(titles(&p3), ["n0"]);
        assert!(page(Some(p3[0].id)).is_empty());
        assert!(
            page(Some(9999)).is_empty(),
            "an unknown cursor has nothing older"
        );
    }

    #[test]
    fn the_page_size_defaults_and_is_capped() {
        let c = Catalog::in_memory().unwrap();
        for i in 0..(MAX_PAGE + 5) {
            c.add_notification(&note(Info, "x", ""), t(i % 60)).unwrap();
        }
        assert_eq!(
            c.list_notifications(&all()).unwrap().len(),
            DEFAULT_PAGE as usize
        );
        let huge = NotificationFilter {
            limit: Some(u32::MAX),
            ..all()
        };
        assert_eq!(
            c.list_notifications(&huge).unwrap().len(),
            MAX_PAGE as usize
        );
        let zero = NotificationFilter {
            limit: Some(0),
            ..all()
        };
        assert_eq!(c.list_notifications(&zero).unwrap().len(), 1);
    }

    #[test]
    fn filters_narrow_by_level_account_and_unread_and_combine() {
        let c = Catalog::in_memory().unwrap();
        let a = account(&c, "ahv-primary");
        let b = account(&c, "azure-prod");
        let e1 = c
            .add_notification(&note(Error, "e-a", "").account(&a), t(1))
            .unwrap();
        c.add_notification(&note(Error, "e-b", "").account(&b), t(2))
            .unwrap();
        c.add_notification(&note(Success, "s-a", "").account(&a), t(3))
            .unwrap();
        c.add_notification(&note(Warning, "w-none", ""), t(4))
            .unwrap();
        c.mark_read(&[e1.id]).unwrap();

        let list = |f: NotificationFilter| titles(&c.list_notifications(&f).unwrap()).join(" ");
        assert_eq!(
            list(NotificationFilter {
                level: Some(Error),
                ..all()
            }),
            "e-b e-a"
        );
        assert_eq!(
            list(NotificationFilter {
                account_id: Some(a.clone()),
                ..all()
            }),
            "s-a e-a"
        );
        assert_eq!(
            list(NotificationFilter {
                unread_only: true,
                ..all()
            }),
            "w-none s-a e-b"
        );
        assert_eq!(
            list(NotificationFilter {
                level: Some(Error),
                account_id: Some(a.clone()),
                unread_only: true,
                ..all()
            }),
            ""
        );
        assert_eq!(
            list(NotificationFilter {
                level: Some(Error),
                account_id: Some(a),
                ..all()
            }),
            "e-a"
        );
    }

    #[test]
    fn search_matches_title_or_body_ignoring_case_and_wildcards() {
        let c = Catalog::in_memory().unwrap();
        c.add_notification(&note(Info, "Backup of vol-1 started", ""), t(1))
            .unwrap();
        c.add_notification(
            &note(Error, "Restore failed", "the BACKUP is incomplete"),
            t(2),
        )
        .unwrap();
        c.add_notification(&note(Info, "Replica at 50%", "copying"), t(3))
            .unwrap();
        c.add_notification(&note(Info, "Replica at 5 0", "vol_2"), t(4))
            .unwrap();
        let search = |s: &str| {
            let f = NotificationFilter {
                search: Some(s.into()),
                ..all()
            };
            titles(&c.list_notifications(&f).unwrap()).join("|")
        };
        assert_eq!(search("backup"), "Restore failed|Backup of vol-1 started");
        assert_eq!(search("50%"), "Replica at 50%");
        assert_eq!(search("vol_"), "Replica at 5 0");
        assert_eq!(search("nothing like it"), "");
        assert_eq!(
            search("   ").split('|').count(),
            4,
            "blank search is no filter"
        );
    }

    #[test]
    fn unread_count_and_marking_read() {
        let c = Catalog::in_memory().unwrap();
        let ids: Vec<_> = (0..4)
            .map(|i| {
                c.add_notification(&note(Info, &format!("n{i}"), ""), t(i))
                    .unwrap()
                    .id
            })
            .collect();
        assert_eq!(c.unread_count().unwrap(), 4);
        assert_eq!(c.mark_read(&[ids[0], ids[2], 9999]).unwrap(), 2);
        assert_eq!(c.mark_read(&[ids[0]]).unwrap(), 0, "already read");
        assert_eq!(c.mark_read(&[]).unwrap(), 0);
        assert_eq!(c.unread_count().unwrap(), 2);
        let read: Vec<_> = c
            .list_notifications(&all())
            .unwrap()
            .into_iter()
            .map(|n| (n.title, n.read))
            .collect();
        assert_eq!(
            read,
            [
                ("n3".into(), false),
                ("n2".into(), true),
                ("n1".into(), false),
                ("n0".into(), true)
            ]
        );
        assert_eq!(c.mark_all_read().unwrap(), 2);
        assert_eq!(c.unread_count().unwrap(), 0);
        assert_eq!(c.mark_all_read().unwrap(), 0);
    }

    #[test]
    fn marking_more_ids_than_one_statement_takes() {
        let c = Catalog::in_memory().unwrap();
        let ids: Vec<_> = (0..(IDS_PER_STATEMENT as u32 * 2 + 3))
            .map(|i| {
                c.add_notification(&note(Info, "x", ""), t(i % 60))
                    .unwrap()
                    .id
            })
            .collect();
        assert_eq!(c.mark_read(&ids).unwrap() as usize, ids.len());
        assert_eq!(c.unread_count().unwrap(), 0);
    }

    #[test]
    fn deleting_an_account_keeps_its_notifications_without_it() {
        // A file catalog: the one the app opens, with foreign keys enforced.
        let tmp = tempfile::tempdir().unwrap();
        let c = Catalog::open(&tmp.path().join("c.sqlite3")).unwrap();
        let a = account(&c, "ahv-primary");
        let n = c
            .add_notification(&note(Success, "Backup done", "").account(&a), t(1))
            .unwrap();
        assert_eq!(n.account_name.as_deref(), Some("ahv-primary"));
        assert!(c.delete_account(&a).unwrap());
        let after = c.find_notification(n.id).unwrap().unwrap();
        assert_eq!((after.account_id, after.account_name), (None, None));
        assert_eq!(after.title, "Backup done");
    }

    #[test]
    fn a_notification_about_a_removed_account_is_kept_without_it() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Catalog::open(&tmp.path().join("c.sqlite3")).unwrap();
        let n = c
            .add_notification(&note(Error, "Backup failed", "").account("gone"), t(1))
            .unwrap();
        assert_eq!(n.account_id, None);
        assert_eq!(c.unread_count().unwrap(), 1);
    }

    #[test]
    fn a_hand_edited_level_is_reported_not_misread() {
        let c = Catalog::in_memory().unwrap();
        let n = c.add_notification(&note(Info, "x", ""), t(1)).unwrap();
        // The CHECK constraint guards the column; bypass it the way a hand edit would.
        c.conn
            .execute_batch("PRAGMA ignore_check_constraints = ON")
            .unwrap();
        c.conn
            .execute(
                "UPDATE notifications SET level = 'fatal' WHERE id = ?1",
                params![n.id],
            )
            .unwrap();
        let err = c.list_notifications(&all()).unwrap_err();
        assert!(matches!(err, CatalogError::Corrupt(_)), "{err}");
    }
}
