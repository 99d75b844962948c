//! What retention changes in the `backups` table (the table itself is `backups.rs`'s): rows
//! removed once their snapshot is gone, and the expiry a count-based policy gives a kept backup.

use std::collections::HashMap;

use rusqlite::params;

use super::{Catalog, CatalogError};

/// Backup id to its expiry (RFC 3339).
pub type Expiries = HashMap<String, String>;

impl Catalog {
    /// Removes backup rows (their replicas' `replica_of` becomes null, by the schema).
    pub fn delete_backups(&self, ids: &[String]) -> Result<usize, CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        let mut n = 0;
        {
            let mut stmt = tx.prepare("DELETE FROM backups WHERE id = ?1")?;
            for id in ids {
                n += stmt.execute(params![id])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// Sets (or with `None` clears) when each backup is expected to be deleted by retention.
    pub fn set_backup_expiries(
        &self,
        expiries: &[(String, Option<String>)],
    ) -> Result<(), CatalogError> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut stmt = tx.prepare("UPDATE backups SET expires_at = ?2 WHERE id = ?1")?;
            for (id, at) in expiries {
                stmt.execute(params![id, at])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The expiry of every backup of an account that has one, by backup id.
    pub fn backup_expiries(&self, account_id: &str) -> Result<Expiries, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, expires_at FROM backups WHERE account_id = ?1 AND expires_at IS NOT NULL",
        )?;
        let rows = stmt.query_map(params![account_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
