//! The `cloud_accounts` table: addresses and settings, never secrets (those live in the OS keyring).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::model::{CloudAccount, ProviderKind};

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
            let kind = match kind.as_str() {
                "ahv" => ProviderKind::Ahv,
                "azure" => ProviderKind::Azure,
                other => return Err(CatalogError::Corrupt(format!("account kind {other:?}"))),
            };
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
