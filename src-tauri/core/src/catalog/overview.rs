//! Read-only aggregates for the Volumes table and the dashboard (`crate::overview`): the newest
//! backup and replica of every volume, a Frame account's newest usable points and replication
//! backlog, and an account's recent failed jobs and skips.
//!
//! Everything is aggregated in SQL on the indexes of migration 8: on 5,000 volumes and 100,000
//! backups a listing reads one row per volume, never every backup.

use rusqlite::params;

use super::{Catalog, CatalogError, SkipRecord};
use crate::backup::{BackupKind, BackupSite, BackupState};
use crate::inventory::DiscoveredResource;

/// The newest usable (available) primary backup of a volume.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestBackup {
    pub id: String,
    pub name: String,
    pub kind: BackupKind,
    pub created_at: String,
}

/// The newest replica of a volume, whatever its state.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestReplica {
    pub id: String,
    pub state: BackupState,
    pub percent: f64,
    pub created_at: String,
}

/// One volume of the discovery cache with its newest backup and replica.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeAggregate {
    pub resource: DiscoveredResource,
    /// RFC 3339: the discovery that last saw it.
    pub seen_at: String,
    pub backup: Option<NewestBackup>,
    pub replica: Option<NewestReplica>,
}

/// Replicas of a Frame account whose copy has not finished.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicationBacklog {
    /// RFC 3339: when the oldest primary backup still waiting for its replica was taken.
    pub oldest_waiting: Option<String>,
    /// Replicas being created or copied.
    pub in_progress: u32,
}

/// A job that failed, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedJobRow {
    pub id: String,
    pub kind: String,
    pub parent_id: Option<String>,
    pub error: Option<String>,
    pub message: String,
    pub created_at: String,
    pub updated_at: String,
}

fn corrupt(what: &str, value: &str) -> CatalogError {
    CatalogError::Corrupt(format!("backup {what} {value:?}"))
}

/// The backups' key of a volume in SQL: the same as [`super::provider_key`] (ARM ids without
/// case or leading `/`), written exactly as the index of migration 8 so the grouping uses it.
const VOLUME_KEY: &str = "lower(ltrim(b.volume_id, '/'))";

/// The Volumes table's query: `?1` the account, `?2` a Frame account or NULL. Each volume finds
/// its newest backup and replica with one seek of `backups_newest_by_volume` (migration 8), so
/// the cost follows the number of volumes, not of backups.
fn aggregates_sql() -> String {
    // Pinned to the per-volume index: ordered by time, the timeline's `backups_by_time` looks
    // cheaper to the planner for the replica (any state), and would read a whole account per volume.
    let newest = |site: &str, state: &str| {
        format!(
            "(SELECT b.rowid FROM backups b INDEXED BY backups_newest_by_volume
               WHERE b.account_id = v.account_id AND b.site = '{site}'
                 AND {VOLUME_KEY} = +v.provider_key {state}
               ORDER BY b.created_at DESC, b.rowid DESC LIMIT 1)"
        )
    };
    format!(
        "SELECT v.resource, v.seen_at, p.id, p.name, p.kind, p.created_at,
                r.id, r.state, r.percent, r.created_at
         FROM volumes v
         LEFT JOIN backups p ON p.rowid = {}
         LEFT JOIN backups r ON r.rowid = {}
         WHERE v.account_id = ?1 AND (?2 IS NULL OR v.frame_account = ?2) AND v.gone_at IS NULL
         ORDER BY v.name, v.provider_key",
        newest("primary", "AND b.state = 'available'"),
        newest("replica", ""),
    )
}

type RawAggregate = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<String>,
);

impl Catalog {
    /// The volumes the latest discovery saw of `account_id` (one Frame account, or all), by
    /// name, each with its newest available primary backup and its newest replica.
    pub fn volume_aggregates(
        &self,
        account_id: &str,
        frame_account: Option<&str>,
    ) -> Result<Vec<VolumeAggregate>, CatalogError> {
        let sql = aggregates_sql();
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![account_id, frame_account], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })?;
        rows.map(|row| {
            let (json, seen_at, b_id, b_name, b_kind, b_at, r_id, r_state, r_percent, r_at): RawAggregate =
                row?;
            let resource = serde_json::from_str(&json).map_err(|e| {
                CatalogError::Corrupt(format!("a known volume of {account_id}: {e}"))
            })?;
            let backup = match (b_id, b_kind, b_at) {
                (Some(id), Some(kind), Some(created_at)) => Some(NewestBackup {
                    id,
                    name: b_name.unwrap_or_default(),
                    kind: BackupKind::parse(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    created_at,
                }),
                _ => None,
            };
            let replica = match (r_id, r_state, r_at) {
                (Some(id), Some(state), Some(created_at)) => Some(NewestReplica {
                    id,
                    state: BackupState::parse(&state).ok_or_else(|| corrupt("state", &state))?,
                    percent: r_percent.unwrap_or(0.0),
                    created_at,
                }),
                _ => None,
            };
            Ok(VolumeAggregate {
                resource,
                seen_at,
                backup,
                replica,
            })
        })
        .collect()
    }

    /// The Frame accounts the latest discoveries of `account_id` saw resources of.
    pub fn discovered_frame_accounts(&self, account_id: &str) -> Result<Vec<String>, CatalogError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT frame_account FROM volumes WHERE account_id = ?1 AND gone_at IS NULL
             ORDER BY frame_account",
        )?;
        let rows = stmt.query_map(params![account_id], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// When the newest available backup of a Frame account at `site` was taken (RFC 3339).
    pub fn newest_usable_backup_at(
        &self,
        account_id: &str,
        frame_account: &str,
        site: BackupSite,
    ) -> Result<Option<String>, CatalogError> {
        Ok(self.conn.query_row(
            "SELECT MAX(created_at) FROM backups
             WHERE account_id = ?1 AND frame_account = ?2 AND site = ?3 AND state = 'available'",
            params![account_id, frame_account, site.as_str()],
            |r| r.get(0),
        )?)
    }

    /// The replicas of a Frame account still being created or copied, and when the oldest
    /// primary backup among those they copy was taken.
    pub fn replication_backlog(
        &self,
        account_id: &str,
        frame_account: &str,
    ) -> Result<ReplicationBacklog, CatalogError> {
        let (oldest, n): (Option<String>, i64) = self.conn.query_row(
            "SELECT MIN(COALESCE(p.created_at, r.created_at)), COUNT(*) FROM backups r
             LEFT JOIN backups p ON p.id = r.replica_of
             WHERE r.account_id = ?1 AND r.frame_account = ?2 AND r.site = 'replica'
               AND r.state IN ('creating', 'replicating')",
            params![account_id, frame_account],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(ReplicationBacklog {
            oldest_waiting: oldest,
            in_progress: u32::try_from(n).unwrap_or(u32::MAX),
        })
    }

    /// Replicas of a Frame account that failed since `since` (RFC 3339).
    pub fn failed_replicas_since(
        &self,
        account_id: &str,
        frame_account: &str,
        since: &str,
    ) -> Result<u32, CatalogError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM backups
             WHERE account_id = ?1 AND frame_account = ?2 AND site = 'replica' AND state = 'failed'
               AND created_at >= ?3",
            params![account_id, frame_account, since],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// An account's jobs that ended failed since `since` (RFC 3339): how many, and the `limit`
    /// latest.
    pub fn failed_jobs_since(
        &self,
        account_id: &str,
        since: &str,
        limit: u32,
    ) -> Result<(u32, Vec<FailedJobRow>), CatalogError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM jobs WHERE account_id = ?1 AND state = 'failed' AND updated_at >= ?2",
            params![account_id, since],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, parent_id, error, message, created_at, updated_at FROM jobs
             WHERE account_id = ?1 AND state = 'failed' AND updated_at >= ?2
             ORDER BY updated_at DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![account_id, since, limit], |r| {
            Ok(FailedJobRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                parent_id: r.get(2)?,
                error: r.get(3)?,
                message: r.get(4)?,
                created_at: r.get(5)?,
                updated_at: r.get(6)?,
            })
        })?;
        Ok((
            u32::try_from(n).unwrap_or(u32::MAX),
            rows.collect::<Result<_, _>>()?,
        ))
    }

    /// An account's skipped volumes since `since` (RFC 3339): how many, and the `limit` latest.
    pub fn skips_since(
        &self,
        account_id: &str,
        since: &str,
        limit: u32,
    ) -> Result<(u32, Vec<SkipRecord>), CatalogError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM skips WHERE account_id = ?1 AND at >= ?2",
            params![account_id, since],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT job_id, account_id, volume_id, volume_name, reason, message, at FROM skips
             WHERE account_id = ?1 AND at >= ?2 ORDER BY at DESC, id DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![account_id, since, limit], |r| {
            Ok(SkipRecord {
                job_id: r.get(0)?,
                account_id: r.get(1)?,
                volume_id: r.get(2)?,
                volume_name: r.get(3)?,
                reason: r.get(4)?,
                message: r.get(5)?,
                at: r.get(6)?,
            })
        })?;
        Ok((
            u32::try_from(n).unwrap_or(u32::MAX),
            rows.collect::<Result<_, _>>()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite chooses for `sql`, one line per step.
    fn plan(c: &Catalog, sql: &str) -> String {
        let mut stmt = c
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let rows = stmt
            .query_map(params!["a", "f"], |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn each_volume_finds_its_newest_backup_with_one_index_seek() {
        let c = Catalog::in_memory().unwrap();
        let p = plan(&c, &aggregates_sql());
        assert_eq!(
            p.matches("INDEX backups_newest_by_volume (account_id=? AND site=? AND <expr>=?")
                .count(),
            2,
            "primary and replica both seek the index down to the volume:\n{p}"
        );
        assert!(!p.contains("SCAN b"), "no scan of the backups:\n{p}");
    }
}
