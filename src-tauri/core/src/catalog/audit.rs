//! The `audit_log` table: who asked Standby for what, appended and never rewritten.

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::audit::{AuditEntry, NewAuditEntry};

impl Catalog {
    pub fn append_audit(&self, e: &NewAuditEntry, at: &str) -> Result<i64, CatalogError> {
        self.conn.execute(
            "INSERT INTO audit_log (at, actor, action, account_id, job_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![at, e.actor, e.action, e.account_id, e.job_id, e.detail.to_string()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest entries first.
    pub fn audit_entries(&self, limit: u32) -> Result<Vec<AuditEntry>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, actor, action, account_id, job_id, detail FROM audit_log
             ORDER BY at DESC, id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![limit], |r| {
            Ok((
                AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    account_id: r.get(4)?,
                    job_id: r.get(5)?,
                    detail: serde_json::Value::Null,
                },
                r.get::<_, String>(6)?,
            ))
        })?;
        rows.map(|row| {
            let (mut e, detail) = row?;
            e.detail = serde_json::from_str(&detail)
                .map_err(|err| CatalogError::Corrupt(format!("audit entry {}: {err}", e.id)))?;
            Ok(e)
        })
        .collect()
    }
}
