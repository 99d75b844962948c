//! The `dr_configs` table: each account's disaster-recovery configuration (no secrets).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::disaster_recovery::DrConfig;

impl Catalog {
    /// Records (or replaces) the configuration of `config.account_id`.
    pub fn save_dr_config(&self, config: &DrConfig) -> Result<(), CatalogError> {
        let json = serde_json::to_string(config).expect("DR configuration serialises");
        self.conn.execute(
            "INSERT INTO dr_configs (account_id, frame_account, config, enabled_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id) DO UPDATE SET frame_account = ?2, config = ?3, enabled_at = ?4",
            params![config.account_id, config.frame_account, json, config.enabled_at],
        )?;
        Ok(())
    }

    pub fn dr_configs(&self) -> Result<Vec<DrConfig>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT config FROM dr_configs ORDER BY enabled_at")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        rows.map(|json| {
            serde_json::from_str(&json?)
                .map_err(|e| CatalogError::Corrupt(format!("a DR configuration: {e}")))
        })
        .collect()
    }

    pub fn dr_config(&self, account_id: &str) -> Result<Option<DrConfig>, CatalogError> {
        Ok(self
            .dr_configs()?
            .into_iter()
            .find(|c| c.account_id == account_id))
    }
}
