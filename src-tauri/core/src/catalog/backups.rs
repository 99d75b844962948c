//! The `backups` table: every backup and replica Standby made, with where it stands.
//!
//! A job's step finds its own row again by job id, volume and site (a unique index), so a step
//! run a second time after a crash updates the row its first attempt made instead of adding one.

use rusqlite::{params, OptionalExtension, Row};

use super::{Catalog, CatalogError};
use crate::backup::{Backup, BackupKind, BackupSite, BackupState};

const COLUMNS: &str = "id, job_id, account_id, frame_account, volume_id, volume_name, name, kind, \
     site, location, provider_ref, state, percent, replica_of, error, created_at, updated_at";

fn corrupt(what: &str, value: &str) -> CatalogError {
    CatalogError::Corrupt(format!("backup {what} {value:?}"))
}

/// The raw row; enums are parsed after, so a bad value is a `Corrupt` error rather than a panic.
fn read(r: &Row<'_>) -> rusqlite::Result<(Backup, [String; 3])> {
    let kind: String = r.get(7)?;
    let site: String = r.get(8)?;
    let state: String = r.get(11)?;
    Ok((
        Backup {
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
        [kind, site, state],
    ))
}

fn finish((mut b, [kind, site, state]): (Backup, [String; 3])) -> Result<Backup, CatalogError> {
    b.kind = BackupKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?;
    b.site = BackupSite::parse(&site).ok_or_else(|| corrupt("site", &site))?;
    b.state = BackupState::parse(&state).ok_or_else(|| corrupt("state", &state))?;
    Ok(b)
}

/// The statement that inserts a row (its values from [`insert`]), then `on_conflict`.
fn insert_sql(on_conflict: &str) -> String {
    format!(
        "INSERT INTO backups ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17) {on_conflict}"
    )
}

/// Runs an [`insert_sql`] statement for `b`, its values in the order of [`COLUMNS`].
fn insert(stmt: &mut rusqlite::Statement<'_>, b: &Backup) -> rusqlite::Result<usize> {
    stmt.execute(params![
        b.id,
        b.job_id,
        b.account_id,
        b.frame_account,
        b.volume_id,
        b.volume_name,
        b.name,
        b.kind.as_str(),
        b.site.as_str(),
        b.location,
        b.provider_ref,
        b.state.as_str(),
        b.percent,
        b.replica_of,
        b.error,
        b.created_at,
        b.updated_at,
    ])
}

/// The ARM id form compared: case and a leading `/` do not matter.
fn id_key(s: &str) -> String {
    s.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// Volume id to when it last got an available scheduled backup (RFC 3339).
pub type LastScheduled = std::collections::HashMap<String, String>;

impl Catalog {
    pub fn insert_backup(&self, b: &Backup) -> Result<(), CatalogError> {
        insert(&mut self.conn.prepare(&insert_sql(""))?, b)?;
        Ok(())
    }

    /// Inserts rows in one transaction, leaving alone those a job already made for the same
    /// volume and site (a step run again after a crash).
    pub fn insert_backups_once(&self, rows: &[Backup]) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare(&insert_sql(
                "ON CONFLICT (job_id, volume_id, site) WHERE job_id IS NOT NULL DO NOTHING",
            ))?;
            for b in rows {
                insert(&mut stmt, b)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets the state of every row a job made at a site (a protection-domain snapshot is one
    /// backup of many volumes). `provider_ref` is kept when `None` is given.
    #[allow(clippy::too_many_arguments)]
    pub fn update_job_backups(
        &self,
        job_id: &str,
        site: BackupSite,
        state: BackupState,
        percent: f64,
        provider_ref: Option<&str>,
        error: Option<&str>,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE backups SET state = ?3, percent = ?4, provider_ref = COALESCE(?5, provider_ref), error = ?6, updated_at = ?7
             WHERE job_id = ?1 AND site = ?2",
            params![job_id, site.as_str(), state.as_str(), percent, provider_ref, error, at],
        )?;
        Ok(())
    }

    /// Every row a job made, primaries first.
    pub fn backups_of_job(&self, job_id: &str) -> Result<Vec<Backup>, CatalogError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM backups WHERE job_id = ?1 ORDER BY site, volume_name, id"
        ))?;
        let rows = stmt.query_map(params![job_id], read)?;
        rows.map(|r| finish(r?)).collect()
    }

    /// Every row the children of a job made (a backup of many volumes runs one per volume).
    pub fn backups_of_children(&self, parent_id: &str) -> Result<Vec<Backup>, CatalogError> {
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("b.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {cols} FROM backups b JOIN jobs j ON j.id = b.job_id
             WHERE j.parent_id = ?1 ORDER BY b.site, b.volume_name, b.id"
        ))?;
        let rows = stmt.query_map(params![parent_id], read)?;
        rows.map(|r| finish(r?)).collect()
    }

    /// When each volume of an account last got an available scheduled backup (its primary), by
    /// volume id.
    pub fn last_scheduled_backups(&self, account_id: &str) -> Result<LastScheduled, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT volume_id, MAX(created_at) FROM backups
             WHERE account_id = ?1 AND kind = 'scheduled' AND site = 'primary' AND state = 'available'
             GROUP BY volume_id",
        )?;
        let rows = stmt.query_map(params![account_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets where a backup stands. `provider_ref` is kept when `None` is given.
    pub fn update_backup(
        &self,
        id: &str,
        state: BackupState,
        percent: f64,
        provider_ref: Option<&str>,
        error: Option<&str>,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE backups SET state = ?2, percent = ?3, provider_ref = COALESCE(?4, provider_ref), error = ?5, updated_at = ?6 WHERE id = ?1",
            params![id, state.as_str(), percent, provider_ref, error, at],
        )?;
        Ok(())
    }

    /// Only the percentage of a copy that is running (the state stays `replicating`).
    pub fn update_backup_percent(
        &self,
        id: &str,
        percent: f64,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE backups SET percent = ?2, updated_at = ?3 WHERE id = ?1 AND state = 'replicating'",
            params![id, percent, at],
        )?;
        Ok(())
    }

    pub fn backup(&self, id: &str) -> Result<Option<Backup>, CatalogError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM backups WHERE id = ?1"),
                params![id],
                read,
            )
            .optional()?
            .map(finish)
            .transpose()
    }

    /// The row a job made for a volume at a site, if it made one.
    pub fn backup_of_job(
        &self,
        job_id: &str,
        volume_id: &str,
        site: BackupSite,
    ) -> Result<Option<Backup>, CatalogError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM backups WHERE job_id = ?1 AND volume_id = ?2 AND site = ?3"
                ),
                params![job_id, volume_id, site.as_str()],
                read,
            )
            .optional()?
            .map(finish)
            .transpose()
    }

    /// Backups, newest first, of one account and/or one volume (its ARM id or its disk name,
    /// case-insensitively).
    pub fn list_backups(
        &self,
        account_id: Option<&str>,
        volume: Option<&str>,
    ) -> Result<Vec<Backup>, CatalogError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM backups WHERE (?1 IS NULL OR account_id = ?1) ORDER BY created_at DESC, site, id"
        ))?;
        let rows = stmt.query_map(params![account_id], read)?;
        let want = volume.map(id_key);
        let mut out = Vec::new();
        for row in rows {
            let b = finish(row?)?;
            let keep = want.as_ref().is_none_or(|v| {
                id_key(&b.volume_id) == *v || b.volume_name.eq_ignore_ascii_case(v)
            });
            if keep {
                out.push(b);
            }
        }
        Ok(out)
    }
}
