//! The `schedules` and `schedule_runs` tables: each account's backup schedule (the one in force
//! and a change waiting for the next day, as JSON) and every run the scheduler decided on.
//!
//! A run is keyed by `(account, due_at)`: the scheduler claims a run by inserting its row before
//! it starts the backup, so a restarted scheduler (or a second one) never runs it twice.

use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::{Catalog, CatalogError};
use crate::schedule::Schedule;

/// One run of a schedule, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleRun {
    pub account_id: String,
    /// RFC 3339, UTC, whole seconds: when the run was due.
    pub due_at: String,
    pub state: RunState,
    /// The backup-all job it started.
    pub job_id: Option<String>,
    /// What happened: the outcome in words, the number of volumes skipped.
    pub detail: Option<serde_json::Value>,
    /// RFC 3339: when the row last changed.
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Claimed; its backup is running (or was, when the scheduler stopped).
    Running,
    Succeeded,
    /// The backup ran and some volumes were skipped or failed: the detail says which.
    Partial,
    Failed,
    /// Due while no scheduler ran and older than the run caught up: not run.
    Missed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Partial => "partial",
            Self::Failed => "failed",
            Self::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Running,
            Self::Succeeded,
            Self::Partial,
            Self::Failed,
            Self::Missed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// An account's schedule row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSchedule {
    pub account_id: String,
    pub frame_account: String,
    pub schedule: Schedule,
    pub updated_at: String,
}

type RawRun = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

fn run_from(raw: RawRun) -> Result<ScheduleRun, CatalogError> {
    let (account_id, due_at, state, job_id, detail, at) = raw;
    Ok(ScheduleRun {
        state: RunState::parse(&state)
            .ok_or_else(|| CatalogError::Corrupt(format!("schedule run state {state:?}")))?,
        detail: detail
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| CatalogError::Corrupt(format!("schedule run detail: {e}")))?,
        account_id,
        due_at,
        job_id,
        at,
    })
}

const RUN_COLUMNS: &str = "account_id, due_at, state, job_id, detail, at";

fn read_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRun> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

impl Catalog {
    pub fn set_schedule(
        &self,
        account_id: &str,
        schedule: &Schedule,
        at: &str,
    ) -> Result<(), CatalogError> {
        let json = serde_json::to_string(schedule).expect("a schedule serialises");
        self.conn.execute(
            "INSERT INTO schedules (account_id, frame_account, policy, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id) DO UPDATE SET frame_account = ?2, policy = ?3, updated_at = ?4",
            params![account_id, schedule.in_force.frame_account, json, at],
        )?;
        Ok(())
    }

    pub fn schedule(&self, account_id: &str) -> Result<Option<StoredSchedule>, CatalogError> {
        self.conn
            .query_row(
                "SELECT account_id, frame_account, policy, updated_at FROM schedules WHERE account_id = ?1",
                params![account_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?)),
            )
            .optional()?
            .map(stored)
            .transpose()
    }

    pub fn schedules(&self) -> Result<Vec<StoredSchedule>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT account_id, frame_account, policy, updated_at FROM schedules ORDER BY account_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?, r.get(3)?))
        })?;
        rows.map(|r| stored(r?)).collect()
    }

    /// Claims a run: `true` when this call recorded it, `false` when a row for that account and
    /// instant already exists (another scheduler, or this one before a restart, has it).
    pub fn claim_schedule_run(
        &self,
        account_id: &str,
        due_at: &str,
        state: RunState,
        detail: Option<&serde_json::Value>,
        at: &str,
    ) -> Result<bool, CatalogError> {
        Ok(self.conn.execute(
            "INSERT INTO schedule_runs (account_id, due_at, state, job_id, detail, at) VALUES (?1, ?2, ?3, NULL, ?4, ?5)
             ON CONFLICT (account_id, due_at) DO NOTHING",
            params![account_id, due_at, state.as_str(), detail.map(|d| d.to_string()), at],
        )? > 0)
    }

    /// Withdraws the claim of a run that never got a job (its scheduler stopped between the claim
    /// and the backup's start), so that the next look at the schedule runs it. `false` when the
    /// run has a job or is no longer running.
    pub fn release_schedule_run(
        &self,
        account_id: &str,
        due_at: &str,
    ) -> Result<bool, CatalogError> {
        Ok(self.conn.execute(
            "DELETE FROM schedule_runs WHERE account_id = ?1 AND due_at = ?2 AND state = 'running' AND job_id IS NULL",
            params![account_id, due_at],
        )? > 0)
    }

    pub fn update_schedule_run(
        &self,
        account_id: &str,
        due_at: &str,
        state: RunState,
        job_id: Option<&str>,
        detail: Option<&serde_json::Value>,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE schedule_runs SET state = ?3, job_id = COALESCE(?4, job_id), detail = COALESCE(?5, detail), at = ?6
             WHERE account_id = ?1 AND due_at = ?2",
            params![account_id, due_at, state.as_str(), job_id, detail.map(|d| d.to_string()), at],
        )?;
        Ok(())
    }

    pub fn schedule_run(
        &self,
        account_id: &str,
        due_at: &str,
    ) -> Result<Option<ScheduleRun>, CatalogError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE account_id = ?1 AND due_at = ?2"
                ),
                params![account_id, due_at],
                read_run,
            )
            .optional()?
            .map(run_from)
            .transpose()
    }

    /// The latest due instant recorded for an account, whatever became of it.
    pub fn last_run_due(&self, account_id: &str) -> Result<Option<String>, CatalogError> {
        Ok(self.conn.query_row(
            "SELECT MAX(due_at) FROM schedule_runs WHERE account_id = ?1",
            params![account_id],
            |r| r.get(0),
        )?)
    }

    /// An account's runs, newest first.
    pub fn schedule_runs(
        &self,
        account_id: &str,
        limit: u32,
    ) -> Result<Vec<ScheduleRun>, CatalogError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE account_id = ?1 ORDER BY due_at DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![account_id, limit], read_run)?;
        rows.map(|r| run_from(r?)).collect()
    }

    /// Runs left `running` (the scheduler stopped while their backup ran), oldest first.
    pub fn running_schedule_runs(&self) -> Result<Vec<ScheduleRun>, CatalogError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {RUN_COLUMNS} FROM schedule_runs WHERE state = 'running' ORDER BY due_at"
        ))?;
        let rows = stmt.query_map([], read_run)?;
        rows.map(|r| run_from(r?)).collect()
    }
}

fn stored(
    (account_id, frame_account, policy, updated_at): (String, String, String, String),
) -> Result<StoredSchedule, CatalogError> {
    let schedule = serde_json::from_str(&policy)
        .map_err(|e| CatalogError::Corrupt(format!("schedule of {account_id}: {e}")))?;
    Ok(StoredSchedule {
        account_id,
        frame_account,
        schedule,
        updated_at,
    })
}
