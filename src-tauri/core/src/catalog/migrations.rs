use std::path::Path;

use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use super::CatalogError;

/// Append only: a released migration is never edited, so every catalog can walk forward.
fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE cloud_accounts (
            id          TEXT PRIMARY KEY,
            name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
            kind        TEXT NOT NULL CHECK (kind IN ('ahv', 'azure')),
            endpoint    TEXT NOT NULL,
            settings    TEXT NOT NULL DEFAULT '{}',
            created_at  TEXT NOT NULL
        ) STRICT;",
        ),
        M::up(
            "CREATE TABLE notifications (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                at          TEXT NOT NULL,
                level       TEXT NOT NULL CHECK (level IN ('info', 'success', 'warning', 'error')),
                title       TEXT NOT NULL,
                body        TEXT NOT NULL DEFAULT '',
                account_id  TEXT REFERENCES cloud_accounts(id) ON DELETE SET NULL,
                job_id      TEXT,
                read        INTEGER NOT NULL DEFAULT 0 CHECK (read IN (0, 1))
            ) STRICT;
            CREATE INDEX notifications_by_time ON notifications (at DESC, id DESC);
            CREATE TABLE dr_configs (
                account_id     TEXT PRIMARY KEY REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                frame_account  TEXT NOT NULL,
                config         TEXT NOT NULL,
                enabled_at     TEXT NOT NULL
            ) STRICT;",
        ),
        M::up(
            "CREATE TABLE mapping_overrides (
                account_id   TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                provider_id  TEXT NOT NULL,
                kind         TEXT,
                owner        TEXT,
                exclude      INTEGER NOT NULL DEFAULT 0 CHECK (exclude IN (0, 1)),
                updated_at   TEXT NOT NULL,
                PRIMARY KEY (account_id, provider_id)
            ) STRICT;",
        ),
    ])
}

pub(super) fn apply(conn: &mut Connection, path: &Path) -> Result<(), CatalogError> {
    let m = migrations();
    let known = 3usize;
    let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let found = usize::try_from(found).unwrap_or(0);
    if found > known {
        return Err(CatalogError::TooNew {
            path: path.display().to_string(),
            found,
            known,
        });
    }
    m.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        super::migrations().validate().unwrap();
    }
}
