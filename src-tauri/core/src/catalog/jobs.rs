//! The `jobs` and `job_steps` tables: the journal every long operation writes before it acts.

use rusqlite::{params, OptionalExtension};

use super::{Catalog, CatalogError};
use crate::jobs::{JobRecord, JobState, JobUpdate, StepRecord};

fn state_str(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "queued",
        JobState::Running => "running",
        JobState::Succeeded => "succeeded",
        JobState::Failed => "failed",
        JobState::Cancelled => "cancelled",
    }
}

fn parse_state(s: &str) -> Result<JobState, CatalogError> {
    Ok(match s {
        "queued" => JobState::Queued,
        "running" => JobState::Running,
        "succeeded" => JobState::Succeeded,
        "failed" => JobState::Failed,
        "cancelled" => JobState::Cancelled,
        other => return Err(CatalogError::Corrupt(format!("job state {other:?}"))),
    })
}

fn json(v: &Option<String>, what: &str) -> Result<Option<serde_json::Value>, CatalogError> {
    v.as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| CatalogError::Corrupt(format!("{what}: {e}")))
}

impl Catalog {
    pub fn insert_job(&self, job: &JobRecord) -> Result<(), CatalogError> {
        self.insert_job_with(job, "")
    }

    /// Inserts the job unless one with its id exists (a child journaled by an earlier attempt).
    pub fn insert_job_once(&self, job: &JobRecord) -> Result<(), CatalogError> {
        self.insert_job_with(job, "ON CONFLICT (id) DO NOTHING")
    }

    fn insert_job_with(&self, job: &JobRecord, conflict: &str) -> Result<(), CatalogError> {
        self.conn.execute(
            &format!("INSERT INTO jobs (id, kind, account_id, params, state, progress, message, outcome, error, created_at, updated_at, parent_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11) {conflict}"),
            params![
                job.id,
                job.kind,
                job.account_id,
                job.params.to_string(),
                state_str(job.state),
                job.progress,
                job.message,
                job.outcome.as_ref().map(|v| v.to_string()),
                job.error,
                job.created_at,
                job.parent_id,
            ],
        )?;
        Ok(())
    }

    pub fn update_job(&self, id: &str, u: &JobUpdate<'_>) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE jobs SET state = ?2, progress = ?3, message = ?4, outcome = ?5, error = ?6, updated_at = ?7 WHERE id = ?1",
            params![
                id,
                state_str(u.state),
                u.progress,
                u.message,
                u.outcome.map(|v| v.to_string()),
                u.error,
                u.at
            ],
        )?;
        Ok(())
    }

    /// `job` as the catalog has it now: a record read earlier may be stale (a child read before
    /// its parent resumed and finished it). The record given stands when the catalog has none.
    pub fn job_now(&self, job: &JobRecord) -> Result<JobRecord, CatalogError> {
        Ok(self.job(&job.id)?.unwrap_or_else(|| job.clone()))
    }

    pub fn job(&self, id: &str) -> Result<Option<JobRecord>, CatalogError> {
        let row = self
            .conn
            .query_row(
                "SELECT id, kind, account_id, params, state, progress, message, outcome, error, created_at, parent_id FROM jobs WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, f64>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, String>(9)?,
                        r.get::<_, Option<String>>(10)?,
                    ))
                },
            )
            .optional()?;
        let Some((
            id,
            kind,
            account_id,
            params,
            state,
            progress,
            message,
            outcome,
            error,
            created_at,
            parent_id,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(JobRecord {
            params: serde_json::from_str(&params)
                .map_err(|e| CatalogError::Corrupt(format!("parameters of job {id}: {e}")))?,
            outcome: json(&outcome, "a job's outcome")?,
            state: parse_state(&state)?,
            id,
            kind,
            account_id,
            progress,
            message,
            error,
            created_at,
            parent_id,
        }))
    }

    /// The newest jobs first.
    pub fn recent_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, CatalogError> {
        let ids: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?1")?;
            let rows = stmt.query_map(params![limit], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        ids.iter()
            .filter_map(|id| self.job(id).transpose())
            .collect()
    }

    /// The newest top-level jobs first (a backup of many volumes counts once, without its
    /// per-volume children), those still queued or running before the rest.
    pub fn recent_top_level_jobs(&self, limit: u32) -> Result<Vec<JobRecord>, CatalogError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM jobs WHERE parent_id IS NULL
                 ORDER BY state NOT IN ('queued', 'running'), created_at DESC, id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map(params![limit], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        ids.iter()
            .filter_map(|id| self.job(id).transpose())
            .collect()
    }

    /// Jobs a previous run left queued or running (it stopped, crashed or was killed).
    pub fn unfinished_jobs(&self) -> Result<Vec<JobRecord>, CatalogError> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare(
                "SELECT id FROM jobs WHERE state IN ('queued', 'running') ORDER BY created_at, id",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        ids.iter()
            .filter_map(|id| self.job(id).transpose())
            .collect()
    }

    /// The children of a job with their states, oldest first.
    pub fn child_jobs(&self, parent_id: &str) -> Result<Vec<(String, JobState)>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, state FROM jobs WHERE parent_id = ?1 ORDER BY created_at, id")?;
        let rows = stmt.query_map(params![parent_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        rows.map(|row| {
            let (id, state) = row?;
            Ok((id, parse_state(&state)?))
        })
        .collect()
    }

    pub fn job_steps(&self, job_id: &str) -> Result<Vec<StepRecord>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, name, state, output FROM job_steps WHERE job_id = ?1 ORDER BY seq",
        )?;
        let rows = stmt.query_map(params![job_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (seq, name, state, output) = row?;
            Ok(StepRecord {
                seq: seq as u32,
                name,
                done: state == "done",
                output: json(&output, "a step's output")?,
            })
        })
        .collect()
    }

    /// Records that a step is about to act. A step already started (by a run that died) stays as it
    /// is: the step will run again, and must find what its first attempt did.
    pub fn start_step(
        &self,
        job_id: &str,
        seq: u32,
        name: &str,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "INSERT INTO job_steps (job_id, seq, name, state, started_at) VALUES (?1, ?2, ?3, 'started', ?4)
             ON CONFLICT (job_id, seq) DO NOTHING",
            params![job_id, seq, name, at],
        )?;
        Ok(())
    }

    pub fn finish_step(
        &self,
        job_id: &str,
        seq: u32,
        output: &serde_json::Value,
        at: &str,
    ) -> Result<(), CatalogError> {
        self.conn.execute(
            "UPDATE job_steps SET state = 'done', output = ?3, finished_at = ?4 WHERE job_id = ?1 AND seq = ?2",
            params![job_id, seq, output.to_string(), at],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::JobState;

    fn job(id: &str, parent: Option<&str>, state: JobState, at: &str) -> JobRecord {
        JobRecord {
            id: id.into(),
            kind: "backup".into(),
            account_id: None,
            params: serde_json::json!({}),
            state,
            progress: 0.0,
            message: String::new(),
            outcome: None,
            error: None,
            created_at: at.into(),
            parent_id: parent.map(str::to_string),
        }
    }

    #[test]
    fn top_level_jobs_are_listed_without_the_children_of_a_large_run_running_first() {
        let c = Catalog::in_memory().unwrap();
        c.insert_job(&job(
            "old-running",
            None,
            JobState::Running,
            "2026-11-22T08:00:00Z",
        ))
        .unwrap();
        c.insert_job(&job(
            "run",
            None,
            JobState::Succeeded,
            "2026-11-22T09:00:00Z",
        ))
        .unwrap();
        // A backup of 200 volumes: its children are newer than its parent.
        for i in 0..200 {
            c.insert_job(&job(
                &format!("run-{i:03}"),
                Some("run"),
                JobState::Succeeded,
                &format!("2026-11-22T09:{:02}:{:02}Z", 1 + i / 60, i % 60),
            ))
            .unwrap();
        }
        let ids: Vec<String> = c
            .recent_top_level_jobs(20)
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        assert_eq!(ids, ["old-running", "run"]);
    }
}
