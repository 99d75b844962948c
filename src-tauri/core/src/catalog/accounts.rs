//! The `cloud_accounts` table: addresses and settings, never secrets (those live in the OS keyring).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::model::{CloudAccount, ProviderKind};

/// An account with its (secret-free) settings as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccount {
    pub account: CloudAccount,
    pub settings: serde_json::Value,
}

fn parse_kind(kind: &str) -> Result<ProviderKind, CatalogError> {
    match kind {
        "ahv" => Ok(ProviderKind::Ahv),
        "azure" => Ok(ProviderKind::Azure),
        other => Err(CatalogError::Corrupt(format!("account kind {other:?}"))),
    }
}

pub struct NewAccount<'a> {
    pub name: &'a str,
    pub kind: ProviderKind,
    pub endpoint: &'a str,
    pub settings: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Catalog {
    pub fn list_accounts(&self) -> Result<Vec<CloudAccount>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, kind, endpoint, created_at FROM cloud_accounts ORDER BY name COLLATE NOCASE",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (id, name, kind, endpoint, created_at) = row?;
            let kind = parse_kind(&kind)?;
            Ok(CloudAccount {
                id,
                name,
                kind,
                endpoint,
                created_at,
            })
        })
        .collect()
    }

    pub fn find_account(&self, id_or_name: &str) -> Result<Option<StoredAccount>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, kind, endpoint, created_at, settings FROM cloud_accounts WHERE id = ?1 OR name = ?1 COLLATE NOCASE",
        )?;
        let mut rows = stmt.query(params![id_or_name])?;
        let Some(r) = rows.next()? else {
            return Ok(None);
        };
        let kind: String = r.get(2)?;
        let settings: String = r.get(5)?;
        Ok(Some(StoredAccount {
            account: CloudAccount {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: parse_kind(&kind)?,
                endpoint: r.get(3)?,
                created_at: r.get(4)?,
            },
            settings: serde_json::from_str(&settings).map_err(|e| {
                CatalogError::Corrupt(format!("settings of account {id_or_name}: {e}"))
            })?,
        }))
    }

    pub fn update_account(
        &self,
        id: &str,
        endpoint: &str,
        settings: &serde_json::Value,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE cloud_accounts SET endpoint = ?2, settings = ?3 WHERE id = ?1",
            params![id, endpoint, settings.to_string()],
        )?;
        Ok(())
    }

    pub fn rename_account(&self, id: &str, name: &str) -> Result<(), CatalogError> {
        match self.conn.execute(
            "UPDATE cloud_accounts SET name = ?2 WHERE id = ?1",
            params![id, name],
        ) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(CatalogError::DuplicateAccount(name.to_string()))
            }
            other => other.map(|_| ()).map_err(Into::into),
        }
    }

    /// Returns whether there was such an account.
    pub fn delete_account(&self, id: &str) -> Result<bool, CatalogError> {
        Ok(self
            .conn
            .execute("DELETE FROM cloud_accounts WHERE id = ?1", params![id])?
            > 0)
    }

    pub fn insert_account(&self, new: &NewAccount<'_>) -> Result<CloudAccount, CatalogError> {
        let id = uuid::Uuid::new_v4().to_string();
        let created_at = new.created_at.to_rfc3339();
        let result = self.conn.execute(
            "INSERT INTO cloud_accounts (id, name, kind, endpoint, settings, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, new.name, new.kind.as_str(), new.endpoint, new.settings.to_string(), created_at],
        );
        match result {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(CatalogError::DuplicateAccount(new.name.to_string()))
            }
            other => other?,
        };
        Ok(CloudAccount {
            id,
            name: new.name.to_string(),
            kind: new.kind,
            endpoint: new.endpoint.to_string(),
            created_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn new<'a>(name: &'a str, kind: ProviderKind) -> NewAccount<'a> {
        NewAccount {
            name,
            kind,
            endpoint: "https://10.0.0.1:9440",
            settings: serde_json::json!({}),
            created_at: chrono::Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn empty_catalog_lists_no_accounts() {
        let c = Catalog::in_memory().unwrap();
        assert!(c.list_accounts().unwrap().is_empty());
    }

    #[test]
    fn accounts_are_listed_by_name_and_names_are_unique() {
        let c = Catalog::in_memory().unwrap();
        c.insert_account(&new("Secondary", ProviderKind::Ahv))
            .unwrap();
        c.insert_account(&new("azure-prod", ProviderKind::Azure))
            .unwrap();
        let names: Vec<_> = c
            .list_accounts()
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["azure-prod", "Secondary"]);
        let dup = c
            .insert_account(&new("secondary", ProviderKind::Ahv))
            .unwrap_err();
        assert!(matches!(dup, CatalogError::DuplicateAccount(_)), "{dup}");
    }

    #[test]
    fn accounts_are_found_updated_and_deleted() {
        let c = Catalog::in_memory().unwrap();
        let a = c
            .insert_account(&new("Primary", ProviderKind::Ahv))
            .unwrap();
        let by_name = c.find_account("primary").unwrap().unwrap();
        assert_eq!(by_name.account, a);
        c.update_account(&a.id, "https://10.0.0.2:9440", &serde_json::json!({"x": 1}))
            .unwrap();
        let by_id = c.find_account(&a.id).unwrap().unwrap();
        assert_eq!(by_id.account.endpoint, "https://10.0.0.2:9440");
        assert_eq!(by_id.settings, serde_json::json!({"x": 1}));
        assert!(c.delete_account(&a.id).unwrap());
        assert!(!c.delete_account(&a.id).unwrap());
        assert!(c.find_account(&a.id).unwrap().is_none());
    }

    #[test]
    fn a_catalog_from_a_newer_standby_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.sqlite3");
        drop(Catalog::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let err = Catalog::open(&path).err().expect("refused");
        assert!(err.to_string().contains("newer Standby"), "{err}");
    }
}
