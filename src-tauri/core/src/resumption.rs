//! Picking up jobs a previous run left unfinished (the app or `standbyctl` stopped, crashed or was
//! killed mid-job): each is run again by its kind's resume, which skips the steps its journal says
//! are done. Called when the app starts and by `standbyctl jobs resume`.

use serde::{Deserialize, Serialize};

use crate::cancel::CancelFlag;
use crate::disaster_recovery::Report;
use crate::jobs::ProgressSink;
use crate::secrets::SecretStore;

/// How one unfinished job ended when it was picked up again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Resumed {
    pub job_id: String,
    pub kind: String,
    pub ok: bool,
    /// What happened, in words (the error when it failed).
    pub detail: String,
}

/// Runs every unfinished job again, oldest first, one at a time. A job of a kind this version
/// does not know is left as it is and reported, never guessed at.
pub async fn resume_unfinished(
    report: &Report<'_>,
    store: &dyn SecretStore,
    sink: &dyn ProgressSink,
    limits: &crate::limits::Limits,
    cancel: CancelFlag,
) -> Result<Vec<Resumed>, crate::catalog::CatalogError> {
    let unfinished = report.catalog.lock().unfinished_jobs()?;
    let mut out = Vec::new();
    for job in unfinished {
        if cancel.is_cancelled() {
            break;
        }
        let (ok, detail) = match job.kind.as_str() {
            crate::backup::JOB_KIND => {
                match crate::backup::resume_with(report, store, sink, limits, &job, cancel.clone())
                    .await
                {
                    Ok(rows) => (true, format!("finished: {} backup rows", rows.len())),
                    Err(e) => (false, e.to_string()),
                }
            }
            crate::restore::JOB_KIND => {
                match crate::restore::resume(report, store, sink, &job, cancel.clone()).await {
                    Ok(o) => (true, format!("finished: restored {}", o.plan.volume_name)),
                    Err(e) => (false, e.to_string()),
                }
            }
            crate::clone::JOB_KIND => {
                match crate::clone::resume(report, store, sink, limits, &job, cancel.clone()).await
                {
                    Ok(o) => (
                        true,
                        format!("finished: {} desktops cloned", o.cloned.len()),
                    ),
                    Err(e) => (false, e.to_string()),
                }
            }
            crate::autogrow::JOB_KIND => {
                match crate::autogrow::resume(report, store, sink, &job, cancel.clone()).await {
                    Ok(crate::autogrow::Action::Grown { .. }) => (true, "grown".to_string()),
                    Ok(other) => (false, format!("not grown: {other:?}")),
                    Err(e) => (false, e.to_string()),
                }
            }
            crate::backup::all::JOB_KIND => {
                match crate::backup::all::resume(report, store, sink, limits, &job, cancel.clone())
                    .await
                {
                    Ok(o) => (true, format!("finished: {} backup rows", o.backups.len())),
                    Err(e) => (false, e.to_string()),
                }
            }
            other => (
                false,
                format!(
                    "this version of Standby does not know jobs of kind {other:?}: left as it is"
                ),
            ),
        };
        tracing::info!(job = %job.id, kind = %job.kind, ok, "{detail}");
        out.push(Resumed {
            job_id: job.id,
            kind: job.kind,
            ok,
            detail,
        });
    }
    Ok(out)
}
