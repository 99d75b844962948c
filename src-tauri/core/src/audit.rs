//! The audit log: who asked for what. Every front door (window, `standbyctl`, the scheduler)
//! records the operations it starts, with the actor it acts for.

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError};
use crate::clock::Clock;

/// Who asked: `window`, `standbyctl`, `scheduler`, `post-session` (the operating-system user is
/// added by the front door where it knows it, e.g. `standbyctl:alice`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct AuditEntry {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    pub actor: String,
    /// What was asked (`backup`, `backup_all`, `restore`, `schedule.set`, ...).
    pub action: String,
    pub account_id: Option<String>,
    pub job_id: Option<String>,
    /// The request, without secrets.
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub actor: String,
    pub action: String,
    pub account_id: Option<String>,
    pub job_id: Option<String>,
    pub detail: serde_json::Value,
}

impl NewAuditEntry {
    pub fn new(actor: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            actor: actor.into(),
            action: action.into(),
            account_id: None,
            job_id: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn account(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }

    pub fn job(mut self, id: impl Into<String>) -> Self {
        self.job_id = Some(id.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Appends an entry stamped with the clock's time.
pub fn record(
    catalog: &Catalog,
    clock: &dyn Clock,
    entry: &NewAuditEntry,
) -> Result<i64, CatalogError> {
    catalog.append_audit(entry, &clock.now().to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn entries_come_back_newest_first_with_their_detail() {
        let c = Catalog::in_memory().unwrap();
        let clock = ManualClock::new("2026-11-22T10:00:00Z".parse().unwrap());
        record(&c, &clock, &NewAuditEntry::new("standbyctl", "backup")).unwrap();
        clock.advance(chrono::Duration::seconds(5));
        record(
            &c,
            &clock,
            &NewAuditEntry::new("scheduler", "backup_all")
                .job("j1")
                .detail(serde_json::json!({"frame_account": "acme-pd"})),
        )
        .unwrap();
        let got = c.audit_entries(10).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].action, "backup_all");
        assert_eq!(got[0].job_id.as_deref(), Some("j1"));
        assert_eq!(got[0].detail["frame_account"], "acme-pd");
        assert_eq!(got[1].actor, "standbyctl");
    }
}
