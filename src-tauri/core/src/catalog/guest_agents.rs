//! The `guest_agents` table: where each account's guest agent answers (docs/guest-agent.md).

use rusqlite::{params, OptionalExtension};

use super::{Catalog, CatalogError};

impl Catalog {
    /// Records (or replaces, or with `None` forgets) the guest agent of `account_id`.
    pub fn set_guest_agent(
        &self,
        account_id: &str,
        url: Option<&str>,
        at: &str,
    ) -> Result<(), CatalogError> {
        match url {
            Some(url) => self.conn.execute(
                "INSERT INTO guest_agents (account_id, url, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (account_id) DO UPDATE SET url = ?2, updated_at = ?3",
                params![account_id, url, at],
            )?,
            None => self.conn.execute(
                "DELETE FROM guest_agents WHERE account_id = ?1",
                params![account_id],
            )?,
        };
        Ok(())
    }

    pub fn guest_agent(&self, account_id: &str) -> Result<Option<String>, CatalogError> {
        Ok(self
            .conn
            .query_row(
                "SELECT url FROM guest_agents WHERE account_id = ?1",
                params![account_id],
                |r| r.get(0),
            )
            .optional()?)
    }
}
