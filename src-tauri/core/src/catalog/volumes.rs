//! The `volumes` table: the latest discovery of each account's resources (see the migration).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::inventory::DiscoveredResource;

/// Provider ids compare without case and without a leading `/` (ARM ids); uuids are unaffected.
pub fn provider_key(id: &str) -> String {
    id.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// A discovered resource as last seen.
#[derive(Debug, Clone, PartialEq, serde::Serialize, specta::Type)]
pub struct KnownVolume {
    pub account_id: String,
    pub resource: DiscoveredResource,
    /// RFC 3339: the discovery that last saw it.
    pub seen_at: String,
    /// RFC 3339: the first discovery that no longer saw it.
    pub gone_at: Option<String>,
}

impl Catalog {
    /// Records one discovery of `frame_account` on `account_id`: every resource seen is written
    /// (and un-gone), every other resource of that Frame account is marked gone. One transaction.
    pub fn record_discovery(
        &mut self,
        account_id: &str,
        frame_account: &str,
        resources: &[DiscoveredResource],
        at: &str,
    ) -> Result<(), CatalogError> {
        let tx = self.conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO volumes (account_id, provider_key, frame_account, name, kind, resource, seen_at, gone_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)
                 ON CONFLICT (account_id, provider_key) DO UPDATE SET
                   frame_account = ?3, name = ?4, kind = ?5, resource = ?6, seen_at = ?7, gone_at = NULL",
            )?;
            for r in resources {
                let kind = serde_json::to_value(r.kind).expect("a kind serialises");
                upsert.execute(params![
                    account_id,
                    provider_key(&r.provider_id),
                    frame_account,
                    r.name,
                    kind.as_str().unwrap_or_default(),
                    serde_json::to_string(r).expect("a resource serialises"),
                    at,
                ])?;
            }
            tx.execute(
                "UPDATE volumes SET gone_at = ?3
                 WHERE account_id = ?1 AND frame_account = ?2 AND seen_at <> ?3 AND gone_at IS NULL",
                params![account_id, frame_account, at],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What the latest discovery saw (and, with `include_gone`, what earlier ones saw), by name.
    pub fn known_volumes(
        &self,
        account_id: &str,
        frame_account: Option<&str>,
        include_gone: bool,
    ) -> Result<Vec<KnownVolume>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT resource, seen_at, gone_at FROM volumes
             WHERE account_id = ?1 AND (?2 IS NULL OR frame_account = ?2) AND (?3 OR gone_at IS NULL)
             ORDER BY name",
        )?;
        let rows = stmt.query_map(params![account_id, frame_account, include_gone], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        rows.map(|row| {
            let (json, seen_at, gone_at) = row?;
            let resource = serde_json::from_str(&json).map_err(|e| {
                CatalogError::Corrupt(format!("a known volume of {account_id}: {e}"))
            })?;
            Ok(KnownVolume {
                account_id: account_id.to_string(),
                resource,
                seen_at,
                gone_at,
            })
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ResourceKind;

    fn res(id: &str, name: &str) -> DiscoveredResource {
        DiscoveredResource {
            provider_id: id.into(),
            name: name.into(),
            kind: ResourceKind::PersistentDesktop,
            frame_account: "acme-pd".into(),
            owner: None,
            desktop_state: None,
            size_bytes: 1.0,
            vm_id: None,
            power: None,
            power_detail: None,
            location: "westeurope".into(),
            not_protected_reason: None,
        }
    }

    #[test]
    fn a_discovery_replaces_the_last_one_and_marks_what_is_gone() {
        let mut c = Catalog::in_memory().unwrap();
        let id = crate::catalog::tests_support::account(&c, "a");
        c.record_discovery(&id, "acme-pd", &[res("/S/D/A", "a"), res("b", "b")], "t1")
            .unwrap();
        c.record_discovery(&id, "acme-pd", &[res("s/d/a", "a2")], "t2")
            .unwrap();
        let live = c.known_volumes(&id, Some("acme-pd"), false).unwrap();
        assert_eq!(
            live.len(),
            1,
            "the ARM id matched whatever its case and slash"
        );
        assert_eq!(live[0].resource.name, "a2");
        let all = c.known_volumes(&id, None, true).unwrap();
        let b = all.iter().find(|v| v.resource.name == "b").unwrap();
        assert_eq!(b.gone_at.as_deref(), Some("t2"));
        c.record_discovery(&id, "acme-pd", &[res("b", "b")], "t3")
            .unwrap();
        assert!(c
            .known_volumes(&id, None, false)
            .unwrap()
            .iter()
            .any(|v| v.resource.name == "b"));
    }
}
