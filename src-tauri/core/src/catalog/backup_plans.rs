//! The `backup_plan_entries` table: the plan of a backup of many volumes (`backup::all`), one
//! row per volume in the plan's order, eligible and skipped apart, so that neither journaling
//! the plan nor reading it back after a crash holds it as one JSON value.

use rusqlite::params;

use super::{Catalog, CatalogError};

impl Catalog {
    /// Drops a job's plan rows (a plan step run again writes its plan anew).
    pub fn clear_plan_entries(&self, job_id: &str) -> Result<(), CatalogError> {
        self.conn.execute(
            "DELETE FROM backup_plan_entries WHERE job_id = ?1",
            params![job_id],
        )?;
        Ok(())
    }

    /// Writes plan rows from `first_seq` on, one transaction: `entries` are JSON texts.
    pub fn write_plan_entries(
        &self,
        job_id: &str,
        first_seq: usize,
        skipped: bool,
        entries: &[String],
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO backup_plan_entries (job_id, seq, skipped, entry)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (i, e) in entries.iter().enumerate() {
                stmt.execute(params![job_id, (first_seq + i) as i64, skipped, e])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` of a job's eligible (or skipped) plan rows after `after_seq` (`None`: from
    /// the first), in order: `(seq, JSON text)`.
    pub fn plan_entries(
        &self,
        job_id: &str,
        skipped: bool,
        after_seq: Option<usize>,
        limit: usize,
    ) -> Result<Vec<(usize, String)>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, entry FROM backup_plan_entries
             WHERE job_id = ?1 AND skipped = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4",
        )?;
        let after = after_seq.map(|s| s as i64).unwrap_or(-1);
        let rows = stmt.query_map(params![job_id, skipped, after, limit as i64], |r| {
            Ok((r.get::<_, i64>(0)? as usize, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_rows_come_back_in_order_by_pages_and_a_rewrite_replaces_them() {
        let c = Catalog::in_memory().unwrap();
        let rows = |n: usize, p: &str| (0..n).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
        c.write_plan_entries("j", 0, false, &rows(3, "e")).unwrap();
        c.write_plan_entries("j", 3, true, &rows(2, "s")).unwrap();
        c.write_plan_entries("k", 0, false, &rows(1, "x")).unwrap();
        let first = c.plan_entries("j", false, None, 2).unwrap();
        assert_eq!(first, [(0, "e0".to_string()), (1, "e1".to_string())]);
        let next = c.plan_entries("j", false, Some(1), 2).unwrap();
        assert_eq!(next, [(2, "e2".to_string())]);
        assert_eq!(c.plan_entries("j", true, None, 10).unwrap().len(), 2);
        c.clear_plan_entries("j").unwrap();
        assert!(c.plan_entries("j", false, None, 10).unwrap().is_empty());
        assert_eq!(c.plan_entries("k", false, None, 10).unwrap().len(), 1);
    }
}
