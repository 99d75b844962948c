//! The `policies` table: an account's settings for one engine feature (post-session backups,
//! autogrow, retention, ...), as JSON per `(account, kind, scope)`. The scope is `""` for the
//! account-wide value, or what the feature narrows it to (a resource kind, a volume id).
//!
//! Each feature owns the type stored under its kind; this module only stores and finds it.

use rusqlite::{params, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Catalog, CatalogError};

impl Catalog {
    pub fn set_policy<T: Serialize>(
        &self,
        account_id: &str,
        kind: &str,
        scope: &str,
        value: &T,
        at: &str,
    ) -> Result<(), CatalogError> {
        let json = serde_json::to_string(value).expect("a policy serialises");
        self.conn.execute(
            "INSERT INTO policies (account_id, kind, scope, value, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account_id, kind, scope) DO UPDATE SET value = ?4, updated_at = ?5",
            params![account_id, kind, scope, json, at],
        )?;
        Ok(())
    }

    pub fn remove_policy(
        &self,
        account_id: &str,
        kind: &str,
        scope: &str,
    ) -> Result<bool, CatalogError> {
        Ok(self.conn.execute(
            "DELETE FROM policies WHERE account_id = ?1 AND kind = ?2 AND scope = ?3",
            params![account_id, kind, scope],
        )? > 0)
    }

    pub fn policy<T: DeserializeOwned>(
        &self,
        account_id: &str,
        kind: &str,
        scope: &str,
    ) -> Result<Option<T>, CatalogError> {
        let json: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM policies WHERE account_id = ?1 AND kind = ?2 AND scope = ?3",
                params![account_id, kind, scope],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| CatalogError::Corrupt(format!("{kind} policy of {account_id}: {e}")))
        })
        .transpose()
    }

    /// Every scope's value of one kind for an account, by scope.
    pub fn policies<T: DeserializeOwned>(
        &self,
        account_id: &str,
        kind: &str,
    ) -> Result<Vec<(String, T)>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT scope, value FROM policies WHERE account_id = ?1 AND kind = ?2 ORDER BY scope",
        )?;
        let rows = stmt.query_map(params![account_id, kind], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (scope, j) = row?;
            let v = serde_json::from_str(&j).map_err(|e| {
                CatalogError::Corrupt(format!("{kind} policy of {account_id} ({scope}): {e}"))
            })?;
            Ok((scope, v))
        })
        .collect()
    }
}
