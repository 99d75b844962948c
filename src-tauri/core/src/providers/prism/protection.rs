//! Protection domains: what is protected, schedules, snapshots, their replication, and restore.
//!
//! Writes here are never blindly repeated. After a failure that may have reached the cluster the
//! protection domain is read back: an out-of-band snapshot is looked for among the snapshots that
//! were not there before the request, a protected entity in the domain's list, a schedule among
//! the schedules. Only when state shows the change did not happen is it sent once more. This
//! assumes Standby is the only one taking out-of-band snapshots of its own protection domain
//! (`standby-<account>`) at that moment, which the job layer guarantees by running one job per
//! domain at a time.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::remote_sites::seg;
use super::types::{
    Collection, CronSchedule, DrSnapshot, OobScheduleAnswer, OobScheduleList, ProtectionDomain,
    Replication, RetentionPolicy,
};

/// What to protect: VMs by uuid, volume groups by uuid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProtectEntities {
    pub vm_uuids: Vec<String>,
    pub volume_group_uuids: Vec<String>,
}

impl ProtectEntities {
    pub fn is_empty(&self) -> bool {
        self.vm_uuids.is_empty() && self.volume_group_uuids.is_empty()
    }

    /// Those not yet protected by `pd`.
    pub fn missing_from(&self, pd: &ProtectionDomain) -> Self {
        let vms: BTreeSet<&str> = pd.vms.iter().filter_map(|v| v.vm_id.as_deref()).collect();
        let vgs: BTreeSet<&str> = pd
            .volume_groups
            .iter()
            .filter_map(|g| g.volume_group_uuid.as_deref())
            .collect();
        Self {
            vm_uuids: self
                .vm_uuids
                .iter()
                .filter(|u| !vms.contains(u.as_str()))
                .cloned()
                .collect(),
            volume_group_uuids: self
                .volume_group_uuids
                .iter()
                .filter(|u| !vgs.contains(u.as_str()))
                .cloned()
                .collect(),
        }
    }

    fn body(&self) -> Value {
        let mut b = json!({ "ignore_dup_or_missing_vms": false });
        if !self.vm_uuids.is_empty() {
            b["uuids"] = json!(self.vm_uuids);
        }
        // AOS accepts volume groups in protect_vms though the published v2.0 spec predates it.
        if !self.volume_group_uuids.is_empty() {
            b["volume_group_uuids"] = json!(self.volume_group_uuids);
        }
        b
    }
}

/// `MINUTELY`..`MONTHLY`, every n-th, from a start time, keeping so many snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleSpec {
    /// `MINUTELY`, `HOURLY`, `DAILY`, `WEEKLY` or `MONTHLY`.
    pub kind: String,
    pub every_nth: u32,
    /// Epoch microseconds of the first snapshot (computed by the scheduler in the user's zone).
    #[specta(type = f64)]
    pub start_time_usecs: i64,
    pub local_max_snapshots: u32,
    /// Remote site name to the number of replicas kept there (the sites it replicates to).
    pub remote_max_snapshots: BTreeMap<String, u32>,
}

impl ScheduleSpec {
    fn body(&self) -> Value {
        let retention = RetentionPolicy {
            local_max_snapshots: Some(i64::from(self.local_max_snapshots)),
            remote_max_snapshots: self
                .remote_max_snapshots
                .iter()
                .map(|(k, v)| (k.clone(), i64::from(*v)))
                .collect(),
        };
        json!({
            "type": self.kind,
            "every_nth": self.every_nth,
            "user_start_time_in_usecs": self.start_time_usecs,
            "retention_policy": retention,
        })
    }

    fn matches(&self, s: &CronSchedule) -> bool {
        s.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case(&self.kind))
            && s.every_nth == Some(i64::from(self.every_nth))
            && s.user_start_time_in_usecs.map(|t| t.timestamp_micros())
                == Some(self.start_time_usecs)
    }
}

/// One backup now: the out-of-band schedule Prism made, and the snapshot it took.
#[derive(Debug, Clone)]
pub struct OobSnapshot {
    pub schedule_id: Option<i64>,
    /// `None` while the snapshot is not yet listed (it is taken at the schedule's start time).
    pub snapshot: Option<DrSnapshot>,
}

/// What to restore from a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RestoreSpec {
    pub snapshot_id: String,
    /// Empty `vm_names` and `volume_group_uuids` restore everything in the snapshot.
    pub vm_names: Vec<String>,
    pub volume_group_uuids: Vec<String>,
    /// Restore in place (the VM must be powered off) instead of creating new entities.
    pub replace: bool,
    pub vm_name_prefix: Option<String>,
    pub vg_name_prefix: Option<String>,
}

/// `restore_entities` answers a task on recent AOS and a boolean on older releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreStarted {
    /// Follow it with `wait_task`.
    Task(String),
    /// Accepted with no task to follow: read the entities to see the result.
    Accepted,
}

impl PrismClient {
    pub async fn protection_domains(&self) -> Result<Vec<ProtectionDomain>, PrismError> {
        let c: Collection<ProtectionDomain> = self.get("protection_domains", &[]).await?;
        Ok(c.entities)
    }

    pub async fn protection_domain(&self, name: &str) -> Result<ProtectionDomain, PrismError> {
        self.get(&pd_path(name, ""), &[]).await
    }

    pub async fn find_protection_domain(
        &self,
        name: &str,
    ) -> Result<Option<ProtectionDomain>, PrismError> {
        match self.protection_domain(name).await {
            Ok(p) => Ok(Some(p)),
            Err(PrismError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_protection_domain(
        &self,
        name: &str,
    ) -> Result<ProtectionDomain, PrismError> {
        let body = json!({ "value": name });
        match self
            .write(Method::POST, "protection_domains", Some(&body))
            .await
        {
            Ok(v) => decode(v, "POST protection_domains"),
            Err(e) if e.is_ambiguous() => {
                let op = format!("create protection domain {name}");
                let check = format!("whether protection domain {name} exists");
                match self.find_protection_domain(name).await {
                    Err(read) => Err(e.read_back_failed(op, check, read)),
                    Ok(Some(pd)) => Ok(pd),
                    Ok(None) => decode(
                        self.write(Method::POST, "protection_domains", Some(&body))
                            .await
                            .map_err(|e| e.outcome_unknown(op, check))?,
                        "POST protection_domains",
                    ),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Adds VMs and volume groups to `pd`; those already in it are left alone.
    pub async fn protect(
        &self,
        pd: &str,
        entities: &ProtectEntities,
    ) -> Result<ProtectionDomain, PrismError> {
        let current = self.protection_domain(pd).await?;
        let todo = entities.missing_from(&current);
        if todo.is_empty() {
            return Ok(current);
        }
        let path = pd_path(pd, "protect_vms");
        match self.write(Method::POST, &path, Some(&todo.body())).await {
            Ok(v) => decode(v, "protect_vms"),
            Err(e) if e.is_ambiguous() => {
                let op = format!("protect entities in protection domain {pd}");
                let check = format!("the entities of protection domain {pd}");
                let after = match self.protection_domain(pd).await {
                    Ok(a) => a,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                let left = todo.missing_from(&after);
                if left.is_empty() {
                    Ok(after)
                } else {
                    decode(
                        self.write(Method::POST, &path, Some(&left.body()))
                            .await
                            .map_err(|e| e.outcome_unknown(op, check))?,
                        "protect_vms",
                    )
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Removes entities (VM names, volume group names or uuids) from `pd`.
    pub async fn unprotect(
        &self,
        pd: &str,
        names: &[String],
    ) -> Result<ProtectionDomain, PrismError> {
        let path = pd_path(pd, "unprotect_vms");
        let body = json!(names);
        match self.write(Method::POST, &path, Some(&body)).await {
            Ok(v) => decode(v, "unprotect_vms"),
            Err(e) if e.is_ambiguous() => {
                let op = format!("unprotect entities of protection domain {pd}");
                let check = format!("the entities of protection domain {pd}");
                let after = match self.protection_domain(pd).await {
                    Ok(a) => a,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                let still: Vec<String> = names
                    .iter()
                    .filter(|n| {
                        after.vms.iter().any(|v| &v.vm_name == *n)
                            || after.volume_groups.iter().any(|g| {
                                &g.name == *n || g.volume_group_uuid.as_deref() == Some(n.as_str())
                            })
                    })
                    .cloned()
                    .collect();
                if still.is_empty() {
                    Ok(after)
                } else {
                    decode(
                        self.write(Method::POST, &path, Some(&json!(still)))
                            .await
                            .map_err(|e| e.outcome_unknown(op, check))?,
                        "unprotect_vms",
                    )
                }
            }
            Err(e) => Err(e),
        }
    }

    pub async fn schedules(&self, pd: &str) -> Result<Vec<CronSchedule>, PrismError> {
        self.get(&pd_path(pd, "schedules"), &[]).await
    }

    pub async fn add_schedule(
        &self,
        pd: &str,
        spec: &ScheduleSpec,
    ) -> Result<CronSchedule, PrismError> {
        let path = pd_path(pd, "schedules");
        let body = spec.body();
        match self.write(Method::POST, &path, Some(&body)).await {
            Ok(v) => decode(v, "POST schedules"),
            Err(e) if e.is_ambiguous() => {
                let op = format!("add a schedule to protection domain {pd}");
                let check = format!("the schedules of protection domain {pd}");
                let schedules = match self.schedules(pd).await {
                    Ok(s) => s,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                if let Some(s) = schedules.into_iter().find(|s| spec.matches(s)) {
                    return Ok(s);
                }
                decode(
                    self.write(Method::POST, &path, Some(&body))
                        .await
                        .map_err(|e| e.outcome_unknown(op, check))?,
                    "POST schedules",
                )
            }
            Err(e) => Err(e),
        }
    }

    /// Snapshots of `pd`, newest first; only those of the given out-of-band schedules if any.
    pub async fn snapshots(
        &self,
        pd: &str,
        oob_schedule_ids: &[i64],
    ) -> Result<Vec<DrSnapshot>, PrismError> {
        let query: Vec<(&str, String)> = if oob_schedule_ids.is_empty() {
            Vec::new()
        } else {
            vec![(
                "oob_schedule_ids",
                oob_schedule_ids
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            )]
        };
        let c: Collection<DrSnapshot> = self.get(&pd_path(pd, "dr_snapshots"), &query).await?;
        Ok(c.entities)
    }

    pub async fn oob_schedules(&self, pd: &str) -> Result<Vec<OobScheduleAnswer>, PrismError> {
        let lists: Vec<OobScheduleList> = self.get(&pd_path(pd, "oob_schedules"), &[]).await?;
        Ok(lists
            .into_iter()
            .flat_map(|l| l.schedule_map.into_values())
            .collect())
    }

    /// One backup now, replicated to `remote_sites`, kept `retention_secs` (forever if `None`).
    ///
    /// If the answer is lost, the snapshot is looked for among those that were not there before
    /// (and among pending out-of-band schedules); the request is sent again only if neither
    /// shows it, so a lost answer never makes two snapshots.
    pub async fn take_snapshot(
        &self,
        pd: &str,
        remote_sites: &[String],
        retention_secs: Option<u64>,
    ) -> Result<OobSnapshot, PrismError> {
        let before: BTreeSet<String> = self
            .snapshots(pd, &[])
            .await?
            .into_iter()
            .map(|s| s.snapshot_id)
            .collect();
        let pending_before: BTreeSet<i64> = self
            .oob_schedules(pd)
            .await?
            .into_iter()
            .filter_map(|o| o.schedule_id)
            .collect();
        let mut body = json!({ "remote_site_names": remote_sites });
        if let Some(r) = retention_secs {
            body["snapshot_retention_time_secs"] = json!(r);
        }
        let path = pd_path(pd, "oob_schedules");
        let answer: OobScheduleAnswer = match self.write(Method::POST, &path, Some(&body)).await {
            Ok(v) => decode(v, "oob_schedules")?,
            Err(e) if e.is_ambiguous() => {
                tracing::warn!(pd, error = %e, "a snapshot request may have been carried out; reading the snapshots back");
                let op = format!("snapshot of protection domain {pd}");
                let check =
                    format!("the snapshots and out-of-band schedules of protection domain {pd}");
                let listed = match self.snapshots(pd, &[]).await {
                    Ok(l) => l,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                let fresh: Vec<DrSnapshot> = listed
                    .into_iter()
                    .filter(|s| !before.contains(&s.snapshot_id) && !s.oob_schedule_ids.is_empty())
                    .collect();
                if let Some(s) = fresh.into_iter().next() {
                    return Ok(OobSnapshot {
                        schedule_id: s.oob_schedule_ids.first().and_then(|i| i.parse().ok()),
                        snapshot: Some(s),
                    });
                }
                let pending = match self.oob_schedules(pd).await {
                    Ok(p) => p,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                if let Some(o) = pending
                    .into_iter()
                    .find(|o| o.schedule_id.is_some_and(|i| !pending_before.contains(&i)))
                {
                    return Ok(OobSnapshot {
                        schedule_id: o.schedule_id,
                        snapshot: None,
                    });
                }
                tracing::info!(
                    pd,
                    "no new snapshot: the request did not happen; sending it once more"
                );
                decode(
                    self.write(Method::POST, &path, Some(&body))
                        .await
                        .map_err(|e| e.outcome_unknown(op, check))?,
                    "oob_schedules",
                )?
            }
            Err(e) => return Err(e),
        };
        let snapshot = match answer.schedule_id {
            Some(id) => self.snapshots(pd, &[id]).await?.into_iter().next(),
            None => None,
        };
        Ok(OobSnapshot {
            schedule_id: answer.schedule_id,
            snapshot,
        })
    }

    pub async fn delete_snapshot(&self, pd: &str, snapshot_id: &str) -> Result<(), PrismError> {
        let path = pd_path(pd, &format!("dr_snapshots/{}", seg(snapshot_id)));
        match self.write(Method::DELETE, &path, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_ambiguous() => {
                let op = format!("delete snapshot {snapshot_id} of protection domain {pd}");
                let check = format!("the snapshots of protection domain {pd}");
                let listed = match self.snapshots(pd, &[]).await {
                    Ok(l) => l,
                    Err(read) => return Err(e.read_back_failed(op, check, read)),
                };
                if !listed.iter().any(|s| s.snapshot_id == snapshot_id) {
                    Ok(())
                } else {
                    self.write(Method::DELETE, &path, None)
                        .await
                        .map(|_| ())
                        .map_err(|e| e.outcome_unknown(op, check))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Replications of `pd` in progress or queued (a finished one leaves this list and shows in
    /// the remote site's `dr_snapshots`).
    pub async fn replications(&self, pd: &str) -> Result<Vec<Replication>, PrismError> {
        let c: Collection<Replication> = self.get(&pd_path(pd, "replications"), &[]).await?;
        Ok(c.entities)
    }

    /// Starts a restore. Accepts both answer shapes: a task (`{"task_uuid"}`) and a boolean
    /// (`{"value": true}` or a bare `true`). A `false` is a refusal, never a success.
    pub async fn restore_entities(
        &self,
        pd: &str,
        spec: &RestoreSpec,
    ) -> Result<RestoreStarted, PrismError> {
        let mut body = json!({ "snapshot_id": spec.snapshot_id, "replace": spec.replace });
        if !spec.vm_names.is_empty() {
            body["vm_names"] = json!(spec.vm_names);
        }
        if !spec.volume_group_uuids.is_empty() {
            body["volume_group_uuids"] = json!(spec.volume_group_uuids);
        }
        if let Some(p) = &spec.vm_name_prefix {
            body["vm_name_prefix"] = json!(p);
        }
        if let Some(p) = &spec.vg_name_prefix {
            body["vg_name_prefix"] = json!(p);
        }
        let v = self
            .write(Method::POST, &pd_path(pd, "restore_entities"), Some(&body))
            .await
            .map_err(|e| {
                e.outcome_unknown(
                    format!("restore from snapshot {} of {pd}", spec.snapshot_id),
                    "the restored VMs and volume groups (and the cluster's recent tasks)",
                )
            })?;
        restore_answer(v)
    }
}

/// Reads either shape of a `restore_entities` answer.
pub fn restore_answer(v: Value) -> Result<RestoreStarted, PrismError> {
    let refused = || PrismError::Rejected {
        status: 200,
        code: None,
        message: "Prism answered false: the restore was not started".into(),
    };
    match &v {
        Value::Bool(true) => Ok(RestoreStarted::Accepted),
        Value::Bool(false) => Err(refused()),
        Value::Object(m) => {
            if let Some(t) = m.get("task_uuid").and_then(Value::as_str) {
                return Ok(RestoreStarted::Task(t.to_string()));
            }
            match m.get("value") {
                Some(Value::Bool(true)) => Ok(RestoreStarted::Accepted),
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => {
                    Ok(RestoreStarted::Accepted)
                }
                Some(Value::Bool(false)) => Err(refused()),
                _ => Err(PrismError::Decode {
                    context: "restore_entities".into(),
                    message: format!("neither a task nor a boolean: {v}"),
                }),
            }
        }
        _ => Err(PrismError::Decode {
            context: "restore_entities".into(),
            message: format!("neither a task nor a boolean: {v}"),
        }),
    }
}

fn pd_path(pd: &str, rest: &str) -> String {
    if rest.is_empty() {
        format!("protection_domains/{}", seg(pd))
    } else {
        format!("protection_domains/{}/{rest}", seg(pd))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_restore_answer_shapes_are_read() {
        assert_eq!(
            restore_answer(json!({"task_uuid": "t-1"})).unwrap(),
            RestoreStarted::Task("t-1".into())
        );
        assert_eq!(
            restore_answer(json!({"value": true})).unwrap(),
            RestoreStarted::Accepted
        );
        assert_eq!(
            restore_answer(json!(true)).unwrap(),
            RestoreStarted::Accepted
        );
        assert!(restore_answer(json!({"value": false})).is_err());
        assert!(restore_answer(json!(false)).is_err());
        assert!(restore_answer(json!({"something": 1})).is_err());
    }
}
