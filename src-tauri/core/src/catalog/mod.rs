//! The catalog: Standby's SQLite database (WAL), one module per table.
//!
//! Migrations are forward-only and kept in `migrations.rs`; a catalog written by a newer Standby
//! is refused with a clear message rather than silently misread.

mod accounts;
mod activity;
mod audit;
mod backup_plans;
mod backup_retention;
mod backups;
mod dr_configs;
mod guest_agents;
mod jobs;
mod mapping_overrides;
mod migrations;
mod notifications;
pub mod overview;
mod policies;
pub mod schedules;
mod skips;
pub mod timeline;
mod volumes;

use std::path::Path;

use rusqlite::Connection;

pub use accounts::{NewAccount, StoredAccount};
pub use activity::{VolumeActivity, MAX_GAP_SECS};
pub use skips::SkipRecord;
pub use volumes::{provider_key, KnownVolume};

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot open the catalog {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("the catalog {path} was written by a newer Standby (schema {found}, this one knows {known}); update Standby or use another --data-dir")]
    TooNew {
        path: String,
        found: usize,
        known: usize,
    },
    #[error("cannot update the catalog's schema: {0}")]
    Migrate(#[from] rusqlite_migration::Error),
    #[error("catalog query failed: {0}")]
    Query(#[from] rusqlite::Error),
    #[error("a cloud account named {0:?} already exists: choose another name")]
    DuplicateAccount(String),
    #[error("the catalog holds a value it cannot read ({0}); it may have been edited by hand")]
    Corrupt(String),
}

impl From<CatalogError> for crate::ApiError {
    fn from(e: CatalogError) -> Self {
        let code = match e {
            CatalogError::DuplicateAccount(_) => crate::ErrorCode::Conflict,
            _ => crate::ErrorCode::Storage,
        };
        crate::ApiError::new(code, e.to_string())
    }
}

pub struct Catalog {
    conn: Connection,
}

/// The catalog as long operations share it: lock it for a few statements, never across a network
/// call.
pub type SharedCatalog = std::sync::Arc<parking_lot::Mutex<Catalog>>;

impl Catalog {
    pub fn shared(self) -> SharedCatalog {
        std::sync::Arc::new(parking_lot::Mutex::new(self))
    }
}

impl Catalog {
    pub fn open(path: &Path) -> Result<Self, CatalogError> {
        let open_err = |source| CatalogError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        migrations::apply(&mut conn, path)?;
        Ok(Self { conn })
    }

    /// A private in-memory catalog, for tests.
    pub fn in_memory() -> Result<Self, CatalogError> {
        let mut conn = Connection::open_in_memory().map_err(|source| CatalogError::Open {
            path: ":memory:".into(),
            source,
        })?;
        // Same rules as a file catalog: deleting an account must cascade in tests too.
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations::apply(&mut conn, Path::new(":memory:"))?;
        Ok(Self { conn })
    }
}

/// For unit tests of the catalog's modules: rows the foreign keys need.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::{Catalog, NewAccount};

    /// Adds an AHV account named `name` and returns its id.
    pub fn account(c: &Catalog, name: &str) -> String {
        c.insert_account(&NewAccount {
            name,
            kind: crate::model::ProviderKind::Ahv,
            endpoint: "https://10.0.0.1:9440",
            settings: serde_json::json!({}),
            created_at: chrono::Utc::now(),
        })
        .expect("a fresh in-memory catalog takes an account")
        .id
    }
}
