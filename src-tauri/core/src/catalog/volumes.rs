//! The `volumes` table: the latest discovery of each account's resources (see the migration).

use rusqlite::params;

use super::{Catalog, CatalogError};
use crate::inventory::DiscoveredResource;

/// Provider ids compare without case and without a leading `/` (ARM ids); uuids are unaffected.
pub fn provider_key(id: &str) -> String {
    id.trim().trim_start_matches('/').to_ascii_lowercase()
}

/// The page cache of SQLite's temporary database while a discovery is staged, in KiB (a
/// negative `cache_size` is in KiB).
const STAGED_CACHE_KIB: i64 = -256;

/// The staging table of [`Catalog::stage_discovery`], in the connection's temporary database,
/// created by whichever of staging and committing comes first on a connection.
const STAGED_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS volumes_staged (
    stage INTEGER NOT NULL, provider_key TEXT NOT NULL, name TEXT NOT NULL,
    kind TEXT NOT NULL, resource TEXT NOT NULL)";

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

    /// Writes part of a discovery aside, under `stage` (a number its discovery chose, see
    /// [`crate::inventory::discover_each`]), in a temporary table of this connection: a
    /// discovery read page by page is written as it goes, and [`Catalog::commit_discovery`]
    /// makes it the latest in one transaction, so that no reader sees a half list and nothing
    /// holds every resource in memory.
    pub fn stage_discovery(
        &mut self,
        stage: u64,
        resources: &[DiscoveredResource],
    ) -> Result<(), CatalogError> {
        // The staged rows go to SQLite's temporary database; its page cache is kept small (it
        // spills to a temporary file), or the cache would hold a few megabytes of them.
        self.conn
            .pragma_update(Some("temp"), "cache_size", STAGED_CACHE_KIB)?;
        let tx = self.conn.transaction()?;
        {
            tx.execute(STAGED_TABLE, [])?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO volumes_staged (stage, provider_key, name, kind, resource)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in resources {
                let kind = serde_json::to_value(r.kind).expect("a kind serialises");
                insert.execute(params![
                    stage as i64,
                    provider_key(&r.provider_id),
                    r.name,
                    kind.as_str().unwrap_or_default(),
                    serde_json::to_string(r).expect("a resource serialises"),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the discovery staged under `stage` as [`Catalog::record_discovery`] records one
    /// (in the order it was staged: of two resources with one key, the later wins), in one
    /// transaction, and drops what was staged.
    pub fn commit_discovery(
        &mut self,
        stage: u64,
        account_id: &str,
        frame_account: &str,
        at: &str,
    ) -> Result<(), CatalogError> {
        let tx = self.conn.transaction()?;
        tx.execute(STAGED_TABLE, [])?;
        // `WHERE true`: SQLite's upsert after a SELECT needs a WHERE to parse.
        tx.execute(
            "INSERT INTO volumes (account_id, provider_key, frame_account, name, kind, resource, seen_at, gone_at)
             SELECT ?1, provider_key, ?2, name, kind, resource, ?3, NULL FROM volumes_staged
             WHERE stage = ?4 ORDER BY rowid
             ON CONFLICT (account_id, provider_key) DO UPDATE SET
               frame_account = excluded.frame_account, name = excluded.name, kind = excluded.kind,
               resource = excluded.resource, seen_at = excluded.seen_at, gone_at = NULL",
            params![account_id, frame_account, at, stage as i64],
        )?;
        tx.execute(
            "UPDATE volumes SET gone_at = ?3
             WHERE account_id = ?1 AND frame_account = ?2 AND seen_at <> ?3 AND gone_at IS NULL",
            params![account_id, frame_account, at],
        )?;
        tx.execute(
            "DELETE FROM volumes_staged WHERE stage = ?1",
            params![stage as i64],
        )?;
        tx.commit()?;
        self.release_staging();
        Ok(())
    }

    /// Once nothing is staged, the temporary table goes and SQLite gives back the memory its
    /// caches no longer use (a best effort: a failure only keeps that memory).
    fn release_staging(&self) {
        let left: rusqlite::Result<i64> =
            self.conn
                .query_row("SELECT count(*) FROM volumes_staged", [], |r| r.get(0));
        if left == Ok(0) {
            let _ = self
                .conn
                .execute("DROP TABLE IF EXISTS temp.volumes_staged", []);
            let _ = self.conn.execute_batch("PRAGMA shrink_memory");
        }
    }

    /// Drops what was staged under `stage` (its discovery failed: the latest stays as it was).
    pub fn discard_discovery(&self, stage: u64) -> Result<(), CatalogError> {
        match self.conn.execute(
            "DELETE FROM volumes_staged WHERE stage = ?1",
            params![stage as i64],
        ) {
            Ok(_) => {
                self.release_staging();
                Ok(())
            }
            // Nothing was staged on this connection.
            Err(rusqlite::Error::SqliteFailure(_, Some(m))) if m.contains("no such table") => {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
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
    fn a_staged_discovery_is_seen_only_once_committed_and_a_discarded_one_never() {
        let mut c = Catalog::in_memory().unwrap();
        let id = crate::catalog::tests_support::account(&c, "a");
        c.record_discovery(&id, "acme-pd", &[res("/S/D/A", "a"), res("b", "b")], "t1")
            .unwrap();
        c.stage_discovery(7, &[res("s/d/a", "a2")]).unwrap();
        c.stage_discovery(8, &[res("c", "c")]).unwrap();
        c.stage_discovery(7, &[res("d", "d"), res("D", "d2")])
            .unwrap();
        let names = |c: &Catalog| -> Vec<String> {
            c.known_volumes(&id, Some("acme-pd"), false)
                .unwrap()
                .into_iter()
                .map(|v| v.resource.name)
                .collect()
        };
        assert_eq!(names(&c), ["a", "b"], "nothing staged is seen yet");
        c.commit_discovery(7, &id, "acme-pd", "t2").unwrap();
        // The later of two with one key wins; "b" is gone; stage 8 is not part of it.
        assert_eq!(names(&c), ["a2", "d2"]);
        let all = c.known_volumes(&id, None, true).unwrap();
        let b = all.iter().find(|v| v.resource.name == "b").unwrap();
        assert_eq!(b.gone_at.as_deref(), Some("t2"));
        c.discard_discovery(8).unwrap();
        c.commit_discovery(8, &id, "acme-pd", "t3").unwrap();
        assert!(names(&c).is_empty(), "a discarded stage commits nothing");
        Catalog::in_memory().unwrap().discard_discovery(1).unwrap();
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
