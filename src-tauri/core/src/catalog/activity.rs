//! The `volume_activity` table: what Standby saw of each volume's power, so that a scheduled
//! backup can tell a desktop that has not been on since its last scheduled backup.
//!
//! Standby "watches" a volume while it keeps observing it: each observation extends the watched
//! span (`watched_until`) if it comes within [`MAX_GAP_SECS`] of the previous one; after a longer
//! gap nothing is known of the time between, so the span starts again (`watched_since`). A volume
//! seen on sets `last_on_at`. See `backup::plan` for how the rule reads this.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Catalog, CatalogError};

/// Longest time between two observations that still counts as watching without a break.
pub const MAX_GAP_SECS: i64 = 15 * 60;

/// What Standby saw of one volume's power.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeActivity {
    pub last_on_at: Option<DateTime<Utc>>,
    pub watched_since: Option<DateTime<Utc>>,
    pub watched_until: Option<DateTime<Utc>>,
}

fn time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

impl Catalog {
    /// Records observations (`volume_id`, seen on) made at `at`, in one transaction.
    pub fn record_power_seen(
        &self,
        account_id: &str,
        seen: &[(String, bool)],
        at: DateTime<Utc>,
    ) -> Result<(), CatalogError> {
        let now = at.to_rfc3339();
        let cutoff = (at - chrono::Duration::seconds(MAX_GAP_SECS)).to_rfc3339();
        let tx = self.conn.unchecked_transaction()?;
        {
            // RFC 3339 strings of one offset (UTC) compare as times.
            let mut stmt = tx.prepare(
                "INSERT INTO volume_activity (account_id, volume_id, last_on_at, watched_since, watched_until)
                 VALUES (?1, ?2, CASE WHEN ?3 THEN ?4 END, ?4, ?4)
                 ON CONFLICT (account_id, volume_id) DO UPDATE SET
                   last_on_at = CASE WHEN ?3 THEN ?4 ELSE last_on_at END,
                   watched_since = CASE WHEN watched_until IS NULL OR watched_until < ?5 OR watched_until > ?4
                                        THEN ?4 ELSE watched_since END,
                   watched_until = ?4",
            )?;
            for (volume, on) in seen {
                stmt.execute(params![account_id, volume, on, now, cutoff])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every volume's activity on an account, by volume id.
    pub fn volume_activity(
        &self,
        account_id: &str,
    ) -> Result<HashMap<String, VolumeActivity>, CatalogError> {
        let mut stmt = self.conn.prepare(
            "SELECT volume_id, last_on_at, watched_since, watched_until FROM volume_activity WHERE account_id = ?1",
        )?;
        let rows = stmt.query_map(params![account_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                VolumeActivity {
                    last_on_at: time(r.get(1)?),
                    watched_since: time(r.get(2)?),
                    watched_until: time(r.get(3)?),
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Accounts, NewAzureAccount};

    fn account(c: &Catalog) -> String {
        let store = crate::secrets::MemoryStore::default();
        Accounts {
            catalog: c,
            store: &store,
        }
        .add(
            NewAzureAccount {
                name: "a".into(),
                tenant_id: "00000000-0000-0000-0000-000000000001".into(),
                client_id: "00000000-0000-0000-0000-000000000002".into(),
                client_secret: crate::secret::Secret::new("s"),
                subscription_id: "00000000-0000-0000-0000-000000000000".into(),
                resource_groups: vec!["rg".into()],
                primary_region: "westeurope".into(),
                arm_url: None,
                authority_url: None,
                extra_ca_pem: None,
            },
            Utc::now(),
        )
        .unwrap()
        .id
    }

    #[test]
    fn watching_extends_until_a_gap_and_remembers_when_a_volume_was_on() {
        let c = Catalog::in_memory().unwrap();
        let a = account(&c);
        let t0: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let m = |n: i64| t0 + chrono::Duration::minutes(n);
        c.record_power_seen(&a, &[("v".into(), false)], m(0))
            .unwrap();
        c.record_power_seen(&a, &[("v".into(), true)], m(10))
            .unwrap();
        c.record_power_seen(&a, &[("v".into(), false)], m(20))
            .unwrap();
        let got = c.volume_activity(&a).unwrap()["v"].clone();
        assert_eq!(got.watched_since, Some(m(0)));
        assert_eq!(got.watched_until, Some(m(20)));
        assert_eq!(got.last_on_at, Some(m(10)));
        // An hour unobserved: the watch starts again.
        c.record_power_seen(&a, &[("v".into(), false)], m(80))
            .unwrap();
        let got = c.volume_activity(&a).unwrap()["v"].clone();
        assert_eq!(got.watched_since, Some(m(80)));
        assert_eq!(got.last_on_at, Some(m(10)));
    }
}
