//! The `skips` table: volumes a backup of many volumes left out, with the reason, so that an
//! administrator can see why a volume has no backup from a given run.

use rusqlite::params;

use super::{Catalog, CatalogError};

/// One skipped volume as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct SkipRecord {
    pub job_id: Option<String>,
    pub account_id: String,
    pub volume_id: String,
    pub volume_name: String,
    /// The reason's code (`in_session`, `unchanged`, ...).
    pub reason: String,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

impl Catalog {
    /// Records skips; a job's skip of a volume is recorded once however often it is written
    /// (a resumed job writes its plan's skips again). One transaction for the lot.
    pub fn record_skips(&self, skips: &[SkipRecord]) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare(
                "INSERT INTO skips (job_id, account_id, volume_id, volume_name, reason, message, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (job_id, volume_id) WHERE job_id IS NOT NULL DO NOTHING",
            )?;
            for s in skips {
                stmt.execute(params![
                    s.job_id,
                    s.account_id,
                    s.volume_id,
                    s.volume_name,
                    s.reason,
                    s.message,
                    s.at
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The skips of one job, in the order they were written.
    pub fn skips_of_job(&self, job_id: &str) -> Result<Vec<SkipRecord>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT job_id, account_id, volume_id, volume_name, reason, message, at FROM skips
             WHERE job_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![job_id], |r| {
            Ok(SkipRecord {
                job_id: r.get(0)?,
                account_id: r.get(1)?,
                volume_id: r.get(2)?,
                volume_name: r.get(3)?,
                reason: r.get(4)?,
                message: r.get(5)?,
                at: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
