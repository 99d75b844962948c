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
        M::up(
            "CREATE TABLE jobs (
                id          TEXT PRIMARY KEY,
                kind        TEXT NOT NULL,
                account_id  TEXT REFERENCES cloud_accounts(id) ON DELETE SET NULL,
                params      TEXT NOT NULL,
                state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
                progress    REAL NOT NULL DEFAULT 0,
                message     TEXT NOT NULL DEFAULT '',
                outcome     TEXT,
                error       TEXT,
                created_at  TEXT NOT NULL,
                updated_at  TEXT NOT NULL
            ) STRICT;
            CREATE INDEX jobs_unfinished ON jobs (state) WHERE state IN ('queued', 'running');
            CREATE TABLE job_steps (
                job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                seq          INTEGER NOT NULL,
                name         TEXT NOT NULL,
                state        TEXT NOT NULL CHECK (state IN ('started', 'done')),
                output       TEXT,
                started_at   TEXT NOT NULL,
                finished_at  TEXT,
                PRIMARY KEY (job_id, seq)
            ) STRICT;",
        ),
        // Backups and their replicas. `location` (the region the snapshot lives in) and `error`
        // (why a row failed) are kept so a listing can say where and why without asking Azure.
        // One row per job, volume and site: a step run again after a crash finds its row.
        M::up(
            "CREATE TABLE backups (
                id             TEXT PRIMARY KEY,
                job_id         TEXT REFERENCES jobs(id) ON DELETE SET NULL,
                account_id     TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                frame_account  TEXT NOT NULL,
                volume_id      TEXT NOT NULL,
                volume_name    TEXT NOT NULL,
                name           TEXT NOT NULL,
                kind           TEXT NOT NULL CHECK (kind IN ('manual', 'scheduled', 'post_session', 'safety')),
                site           TEXT NOT NULL CHECK (site IN ('primary', 'replica')),
                location       TEXT NOT NULL,
                provider_ref   TEXT,
                state          TEXT NOT NULL CHECK (state IN ('creating', 'available', 'replicating', 'failed')),
                percent        REAL NOT NULL DEFAULT 0,
                replica_of     TEXT REFERENCES backups(id) ON DELETE SET NULL,
                error          TEXT,
                created_at     TEXT NOT NULL,
                updated_at     TEXT NOT NULL
            ) STRICT;
            CREATE UNIQUE INDEX backups_one_per_job_site ON backups (job_id, volume_id, site)
                WHERE job_id IS NOT NULL;
            CREATE INDEX backups_by_volume ON backups (account_id, volume_id, created_at);",
        ),
        // The engine's settings and records: where each account's guest agent answers, the
        // audit log, policies (post-session, autogrow, retention: JSON per account and scope),
        // schedules and their runs, skipped volumes with the reason, what Standby saw of each
        // volume's power, child jobs (a backup of many volumes runs one job per volume), and
        // the expiry retention gives a backup.
        M::up(
            "CREATE TABLE guest_agents (
                account_id  TEXT PRIMARY KEY REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                url         TEXT NOT NULL,
                updated_at  TEXT NOT NULL
            ) STRICT;
            CREATE TABLE audit_log (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                at          TEXT NOT NULL,
                actor       TEXT NOT NULL,
                action      TEXT NOT NULL,
                account_id  TEXT REFERENCES cloud_accounts(id) ON DELETE SET NULL,
                job_id      TEXT,
                detail      TEXT NOT NULL DEFAULT '{}'
            ) STRICT;
            CREATE INDEX audit_by_time ON audit_log (at DESC, id DESC);
            CREATE TABLE policies (
                account_id  TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                kind        TEXT NOT NULL,
                scope       TEXT NOT NULL DEFAULT '',
                value       TEXT NOT NULL,
                updated_at  TEXT NOT NULL,
                PRIMARY KEY (account_id, kind, scope)
            ) STRICT;
            CREATE TABLE schedules (
                account_id     TEXT PRIMARY KEY REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                frame_account  TEXT NOT NULL,
                policy         TEXT NOT NULL,
                updated_at     TEXT NOT NULL
            ) STRICT;
            CREATE TABLE schedule_runs (
                account_id  TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                due_at      TEXT NOT NULL,
                state       TEXT NOT NULL,
                job_id      TEXT,
                detail      TEXT,
                at          TEXT NOT NULL,
                PRIMARY KEY (account_id, due_at)
            ) STRICT;
            CREATE TABLE skips (
                id           INTEGER PRIMARY KEY AUTOINCREMENT,
                job_id       TEXT,
                account_id   TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                volume_id    TEXT NOT NULL,
                volume_name  TEXT NOT NULL,
                reason       TEXT NOT NULL,
                message      TEXT NOT NULL,
                at           TEXT NOT NULL
            ) STRICT;
            CREATE UNIQUE INDEX skips_one_per_job ON skips (job_id, volume_id) WHERE job_id IS NOT NULL;
            CREATE INDEX skips_by_volume ON skips (account_id, volume_id, at);
            CREATE TABLE volume_activity (
                account_id     TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                volume_id      TEXT NOT NULL,
                last_on_at     TEXT,
                watched_since  TEXT,
                watched_until  TEXT,
                PRIMARY KEY (account_id, volume_id)
            ) STRICT;
            ALTER TABLE jobs ADD COLUMN parent_id TEXT;
            CREATE INDEX jobs_by_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;
            ALTER TABLE backups ADD COLUMN expires_at TEXT;",
        ),
        // The last discovery of each account's resources, so that listings (the Volumes page on
        // 5,000 volumes, the timeline, the dashboard) need not ask the provider every time. A
        // resource not seen in the latest discovery keeps its row with `gone_at` set: its backups
        // still point at it.
        M::up(
            "CREATE TABLE volumes (
                account_id     TEXT NOT NULL REFERENCES cloud_accounts(id) ON DELETE CASCADE,
                provider_key   TEXT NOT NULL,
                frame_account  TEXT NOT NULL,
                name           TEXT NOT NULL,
                kind           TEXT NOT NULL,
                resource       TEXT NOT NULL,
                seen_at        TEXT NOT NULL,
                gone_at        TEXT,
                PRIMARY KEY (account_id, provider_key)
            ) STRICT;
            CREATE INDEX volumes_by_account ON volumes (account_id, frame_account, name);",
        ),
        // The Volumes table and the dashboard on 5,000 volumes and 100,000 backups: the newest
        // backup of each volume by site and state in one seek (keyed as `catalog::provider_key`
        // keys a volume), the newest of a Frame account, and an account's failed jobs and skips
        // of the last days, without reading every row; and the timeline's window of an account's
        // backups by time.
        M::up(
            "CREATE INDEX backups_newest_by_volume
                ON backups (account_id, site, lower(ltrim(volume_id, '/')), state, created_at);
            CREATE INDEX backups_newest_by_frame
                ON backups (account_id, frame_account, site, state, created_at);
            CREATE INDEX jobs_by_account_state ON jobs (account_id, state, updated_at);
            CREATE INDEX skips_by_time ON skips (account_id, at);
            CREATE INDEX backups_by_time ON backups (account_id, created_at);",
        ),
        // A backup of many volumes journals its plan here, one row per volume in the plan's
        // order (`catalog/backup_plans.rs`), not as one JSON value in its `plan` step: 5,000
        // volumes made that value and its text several megabytes held at once, written and read
        // back whole. A `plan` step journaled whole by an earlier Standby is still read.
        M::up(
            "CREATE TABLE backup_plan_entries (
                job_id   TEXT NOT NULL,
                seq      INTEGER NOT NULL,
                skipped  INTEGER NOT NULL CHECK (skipped IN (0, 1)),
                entry    TEXT NOT NULL,
                PRIMARY KEY (job_id, seq)
            ) STRICT;",
        ),
    ])
}

pub(super) fn apply(conn: &mut Connection, path: &Path) -> Result<(), CatalogError> {
    let m = migrations();
    let known = 9usize;
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
