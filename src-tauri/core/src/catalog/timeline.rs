//! What the timeline reads from the `backups` table (the table itself is `backups.rs`'s): the
//! backups of a time window only, so that an account with 100,000 backups is never read whole.
//!
//! Instants are compared as text: every row's `created_at` is `to_rfc3339()` of a UTC instant,
//! and so are the bounds given here, so text order is time order.

use rusqlite::{params, Row};

use super::{Catalog, CatalogError};
use crate::backup::{Backup, BackupKind, BackupSite, BackupState};

/// A backup as the timeline shows it: the row and the expiry retention gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowBackup {
    pub backup: Backup,
    pub expires_at: Option<String>,
}

/// A backup as a bucket of the timeline counts it (see `timeline::TimelineBucket`).
#[derive(Debug, Clone, PartialEq)]
pub struct BackupMark {
    pub site: BackupSite,
    pub state: BackupState,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// The filter every query here shares: an account, and optionally a Frame account and a volume.
#[derive(Debug, Clone, Copy)]
pub struct WindowFilter<'a> {
    pub account_id: &'a str,
    pub frame_account: Option<&'a str>,
    pub volume_id: Option<&'a str>,
}

const COLUMNS: &str = "id, job_id, account_id, frame_account, volume_id, volume_name, name, kind, \
     site, location, provider_ref, state, percent, replica_of, error, created_at, updated_at, expires_at";

/// `?1` account, `?2` Frame account or null, `?3` volume or null. The volume's test is written
/// out only when there is one: SQLite cannot use the `(account_id, volume_id, created_at)` index
/// through `(?3 IS NULL OR volume_id = ?3)`, and a volume's view must not read the whole account.
fn filter(f: &WindowFilter<'_>) -> &'static str {
    if f.volume_id.is_some() {
        "account_id = ?1 AND (?2 IS NULL OR frame_account = ?2) AND volume_id = ?3"
    } else {
        "account_id = ?1 AND (?2 IS NULL OR frame_account = ?2) AND ?3 IS NULL"
    }
}

fn corrupt(what: &str, value: &str) -> CatalogError {
    CatalogError::Corrupt(format!("backup {what} {value:?}"))
}

fn read(r: &Row<'_>) -> rusqlite::Result<(WindowBackup, [String; 3])> {
    Ok((
        WindowBackup {
            backup: Backup {
                id: r.get(0)?,
                job_id: r.get(1)?,
                account_id: r.get(2)?,
                frame_account: r.get(3)?,
                volume_id: r.get(4)?,
                volume_name: r.get(5)?,
                name: r.get(6)?,
                kind: BackupKind::Manual,
                site: BackupSite::Primary,
                location: r.get(9)?,
                provider_ref: r.get(10)?,
                state: BackupState::Creating,
                percent: r.get(12)?,
                replica_of: r.get(13)?,
                error: r.get(14)?,
                created_at: r.get(15)?,
                updated_at: r.get(16)?,
            },
            expires_at: r.get(17)?,
        },
        [r.get(7)?, r.get(8)?, r.get(11)?],
    ))
}

fn finish(
    (mut w, [kind, site, state]): (WindowBackup, [String; 3]),
) -> Result<WindowBackup, CatalogError> {
    w.backup.kind = BackupKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?;
    w.backup.site = BackupSite::parse(&site).ok_or_else(|| corrupt("site", &site))?;
    w.backup.state = BackupState::parse(&state).ok_or_else(|| corrupt("state", &state))?;
    Ok(w)
}

impl Catalog {
    /// The backups (both sites) created in `[from, to]`, newest first, at most `limit`; and how
    /// many there are in all.
    pub fn backups_in_window(
        &self,
        f: WindowFilter<'_>,
        from: &str,
        to: &str,
        limit: u32,
    ) -> Result<(Vec<WindowBackup>, u64), CatalogError> {
        let total: i64 = self.conn.query_row(
            &format!(
                "SELECT COUNT(*) FROM backups WHERE {} AND created_at >= ?4 AND created_at <= ?5",
                filter(&f)
            ),
            params![f.account_id, f.frame_account, f.volume_id, from, to],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM backups WHERE {} AND created_at >= ?4 AND created_at <= ?5
             ORDER BY created_at DESC, site, id LIMIT ?6",
            filter(&f)
        ))?;
        let rows = stmt.query_map(
            params![f.account_id, f.frame_account, f.volume_id, from, to, limit],
            read,
        )?;
        let out = rows
            .map(|r| finish(r?))
            .collect::<Result<Vec<_>, CatalogError>>()?;
        Ok((out, u64::try_from(total).unwrap_or(0)))
    }

    /// What a bucket of the timeline needs of each backup created in `[from, to]`: its site,
    /// state, `created_at` and `expires_at`, oldest first. Four short columns instead of the
    /// whole row, so that 100,000 backups are counted without building 100,000 points.
    pub fn backup_marks_in_window(
        &self,
        f: WindowFilter<'_>,
        from: &str,
        to: &str,
    ) -> Result<Vec<BackupMark>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT site, state, created_at, expires_at FROM backups
             WHERE {} AND created_at >= ?4 AND created_at <= ?5
             ORDER BY created_at",
            filter(&f)
        ))?;
        let rows = stmt.query_map(
            params![f.account_id, f.frame_account, f.volume_id, from, to],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                ))
            },
        )?;
        rows.map(|r| {
            let (site, state, created_at, expires_at) = r?;
            Ok(BackupMark {
                site: BackupSite::parse(&site).ok_or_else(|| corrupt("site", &site))?,
                state: BackupState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                created_at,
                expires_at,
            })
        })
        .collect()
    }

    /// `(volume id, volume name, created_at)` of every usable primary backup created in
    /// `[from, to]`, by volume then time: what a gap is measured between.
    pub fn usable_primaries_in_window(
        &self,
        f: WindowFilter<'_>,
        from: &str,
        to: &str,
    ) -> Result<Vec<(String, String, String)>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT volume_id, volume_name, created_at FROM backups
             WHERE {} AND site = 'primary' AND state = 'available'
               AND created_at >= ?4 AND created_at <= ?5
             ORDER BY volume_id, created_at",
            filter(&f)
        ))?;
        let rows = stmt.query_map(
            params![f.account_id, f.frame_account, f.volume_id, from, to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Per volume, `(volume id, volume name, created_at)` of the newest usable primary backup
    /// created before `at` (`newest_before`), else of the oldest created after `at`.
    pub fn usable_primary_beyond(
        &self,
        f: WindowFilter<'_>,
        at: &str,
        newest_before: bool,
    ) -> Result<Vec<(String, String, String)>, CatalogError> {
        let (agg, cmp) = if newest_before {
            ("MAX", "<")
        } else {
            ("MIN", ">")
        };
        // SQLite returns the bare columns of the row that holds the MIN or MAX.
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT volume_id, volume_name, {agg}(created_at) FROM backups
             WHERE {} AND site = 'primary' AND state = 'available' AND created_at {cmp} ?4
             GROUP BY volume_id",
            filter(&f)
        ))?;
        let rows = stmt.query_map(
            params![f.account_id, f.frame_account, f.volume_id, at],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
