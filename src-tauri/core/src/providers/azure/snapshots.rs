//! Snapshots: incremental `Copy` of a disk (the backup), `CopyStart` of an incremental snapshot
//! into the other region (the replica) and following that copy to 100%, get, list, delete.

use std::time::Duration;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{ArmClient, Repeat};
use super::disks::{expect_succeeded, lenient_string, CreationData, Sku, GIB};
use super::error::ArmError;
use super::ids::{self, ResourceId};
use super::watch::Progress;
use super::{ProvisioningState, Tags};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CopyCompletionError {
    /// e.g. `CopySourceNotFound`.
    #[serde(deserialize_with = "lenient_string")]
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SnapshotProperties {
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: Option<u64>,
    pub disk_size_bytes: Option<u64>,
    pub provisioning_state: ProvisioningState,
    pub incremental: Option<bool>,
    pub incremental_snapshot_family_id: Option<String>,
    pub creation_data: Option<CreationData>,
    /// Of a CopyStart copy: climbs to 100.
    pub completion_percent: Option<f64>,
    pub copy_completion_error: Option<CopyCompletionError>,
    #[serde(deserialize_with = "lenient_string")]
    pub os_type: Option<String>,
    pub time_created: Option<String>,
    pub unique_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Snapshot {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub sku: Option<Sku>,
    pub properties: SnapshotProperties,
}

impl Snapshot {
    pub fn resource_id(&self) -> Result<ResourceId, ArmError> {
        ResourceId::parse(&self.id).map_err(|e| ArmError::decode("a snapshot id", e))
    }
    pub fn size_bytes(&self) -> u64 {
        self.properties
            .disk_size_bytes
            .or(self.properties.disk_size_gb.map(|g| g.saturating_mul(GIB)))
            .unwrap_or(0)
    }
    pub fn create_option(&self) -> Option<&str> {
        self.properties
            .creation_data
            .as_ref()
            .and_then(|c| c.create_option.as_deref())
    }
    pub fn source_resource_id(&self) -> Option<&str> {
        self.properties
            .creation_data
            .as_ref()
            .and_then(|c| c.source_resource_id.as_deref())
    }
    /// Where a cross-region copy stands.
    pub fn copy_state(&self) -> CopyState {
        let p = &self.properties;
        if let Some(e) = &p.copy_completion_error {
            return CopyState::Failed {
                code: e.error_code.clone().unwrap_or_else(|| "CopyFailed".into()),
                message: e.error_message.clone().unwrap_or_default(),
            };
        }
        let pct = p.completion_percent.filter(|x| x.is_finite());
        let is_copy = self
            .create_option()
            .is_some_and(|o| o.eq_ignore_ascii_case("CopyStart"));
        match (&p.provisioning_state, pct) {
            (ProvisioningState::Failed, _) => CopyState::Failed {
                code: "Failed".into(),
                message: "the snapshot's provisioning state is Failed".into(),
            },
            (ProvisioningState::Succeeded, Some(x)) if x >= 100.0 => CopyState::Done,
            // A local snapshot is not a copy: Succeeded is all there is to wait for. A CopyStart
            // replica without a percentage has not said it finished: it is still running.
            (ProvisioningState::Succeeded, None) if !is_copy => CopyState::Done,
            (_, pct) => CopyState::Running(pct.unwrap_or(0.0)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CopyState {
    Running(f64),
    Done,
    Failed { code: String, message: String },
}

/// An incremental snapshot of a disk, in the disk's region.
#[derive(Debug, Clone)]
pub struct NewSnapshot {
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub disk: ResourceId,
    pub tags: Tags,
}

/// A copy of an incremental snapshot into another region.
#[derive(Debug, Clone)]
pub struct NewCopy {
    pub resource_group: String,
    pub name: String,
    /// The target region.
    pub location: String,
    pub source: ResourceId,
    pub tags: Tags,
    /// `provisionedBandwidthCopySpeed: Enhanced` (faster, billed).
    pub enhanced_speed: bool,
}

impl ArmClient {
    fn snapshot_url(&self, id: &ResourceId) -> url::Url {
        self.url(id.as_str(), &self.api_versions().disks, &[])
    }

    pub async fn get_snapshot(&self, id: &ResourceId) -> Result<Snapshot, ArmError> {
        self.get_json(self.snapshot_url(id), "a snapshot").await
    }

    pub async fn list_snapshots(&self, resource_group: &str) -> Result<Vec<Snapshot>, ArmError> {
        let url = self.url(
            &self.rg_path(resource_group, "snapshots"),
            &self.api_versions().disks,
            &[],
        );
        self.list_all(url, "the snapshot list").await
    }

    /// The backup: an incremental snapshot (`Copy` of the disk, `incremental: true`).
    pub async fn snapshot_disk(&self, req: &NewSnapshot) -> Result<Snapshot, ArmError> {
        let id = ResourceId::snapshot(self.subscription_id(), &req.resource_group, &req.name);
        let body = json!({
            "location": req.location,
            "tags": req.tags,
            "properties": {
                "creationData": {"createOption": "Copy", "sourceResourceId": req.disk.as_str()},
                "incremental": true,
            },
        });
        let what = format!("snapshot {} of {}", req.name, req.disk.name());
        let first = self
            .send_and_follow(
                Method::PUT,
                self.snapshot_url(&id),
                Some(&body),
                Repeat::Safe,
                &what,
            )
            .await?;
        // An answer that already shows the finished snapshot of this disk needs no second look
        // (a read less per backup: ARM's read budget is shared by every job of the
        // subscription). Anything else (an accepted operation, a terse body) is read back.
        let answered = first
            .has_body()
            .then(|| first.json::<Snapshot>("the snapshot").ok())
            .flatten()
            .filter(|s| {
                s.properties.provisioning_state == ProvisioningState::Succeeded
                    && s.source_resource_id()
                        .is_some_and(|src| ids::same(src, req.disk.as_str()))
            });
        let snap = match answered {
            Some(s) => s,
            None => self.get_snapshot(&id).await?,
        };
        expect_succeeded(&what, &snap.properties.provisioning_state)?;
        Ok(snap)
    }

    /// The replica: starts a `CopyStart` of an incremental snapshot into `req.location` and returns
    /// at once (the copy runs for minutes to hours; follow it with [`ArmClient::follow_copy`]).
    /// ARM allows one copy per disk at a time, in creation order, and 100 per region: its 409
    /// `OperationNotAllowed` comes back as is.
    pub async fn start_copy(&self, req: &NewCopy) -> Result<Snapshot, ArmError> {
        let id = ResourceId::snapshot(self.subscription_id(), &req.resource_group, &req.name);
        let mut creation =
            json!({"createOption": "CopyStart", "sourceResourceId": req.source.as_str()});
        if req.enhanced_speed {
            creation["provisionedBandwidthCopySpeed"] = json!("Enhanced");
        }
        let body = json!({
            "location": req.location,
            "tags": req.tags,
            "properties": {"creationData": creation, "incremental": true},
        });
        let r = self
            .send(
                Method::PUT,
                self.snapshot_url(&id),
                Some(&body),
                Repeat::Safe,
            )
            .await?;
        let mut snap: Snapshot = match r.has_body() {
            true => r.json("the copy's snapshot")?,
            false => self.get_snapshot(&id).await?,
        };
        if snap.source_resource_id().is_none() && r.has_body() {
            // A terse answer: the resource itself says what it copies.
            snap = self.get_snapshot(&id).await?;
        }
        // A snapshot of that name may already exist (a retry, or a name clash): it is this copy
        // only if it copies the same source.
        match snap.source_resource_id() {
            Some(src) if ids::same(src, req.source.as_str()) => Ok(snap),
            other => Err(ArmError::OperationFailed {
                what: format!("copy {} of {}", req.name, req.source.name()),
                code: "SnapshotSourceMismatch".into(),
                message: format!(
                    "snapshot {} already exists as a copy of {}, not of {}: choose another name or delete it",
                    req.name,
                    other.unwrap_or("an unknown source"),
                    req.source
                ),
            }),
        }
    }

    /// Polls a copied snapshot until `completionPercent` reaches 100 (and the snapshot is
    /// `Succeeded`) or `copyCompletionError` appears, reporting the percentage as it climbs.
    pub async fn follow_copy(&self, id: &ResourceId) -> Result<Snapshot, ArmError> {
        let what = format!("copy of {}", id.name());
        let policy = self.policy().clone();
        let mut pace = CopyPace::default();
        for _ in 0..policy.max_polls {
            let snap = self.get_snapshot(id).await?;
            match snap.copy_state() {
                CopyState::Done => {
                    self.watch.report(Progress::Polling {
                        what: what.clone(),
                        status: "Succeeded".into(),
                        percent: Some(100.0),
                    });
                    return Ok(snap);
                }
                CopyState::Failed { code, message } => {
                    return Err(ArmError::CopyFailed {
                        snapshot: id.name().to_string(),
                        code,
                        message,
                        percent: snap.properties.completion_percent.unwrap_or(0.0),
                    })
                }
                CopyState::Running(pct) => {
                    self.watch.report(Progress::Polling {
                        what: what.clone(),
                        status: snap.properties.provisioning_state.as_str().to_string(),
                        percent: Some(pct),
                    });
                    pace.observe(tokio::time::Instant::now(), pct);
                }
            }
            let wait = pace.next_wait(policy.poll_min, policy.poll_max);
            if !self.watch.cancel.sleep(wait).await {
                return Err(ArmError::Cancelled(what));
            }
        }
        Err(ArmError::OperationFailed {
            what,
            code: "NotFinished".into(),
            message: format!("still copying after {} polls", policy.max_polls),
        })
    }

    /// Deleting the source of a running copy makes that copy fail (`CopySourceNotFound`): callers
    /// check that no copy reads from it first (the catalog knows which copies run).
    pub async fn delete_snapshot(&self, id: &ResourceId) -> Result<(), ArmError> {
        let what = format!("deleting snapshot {}", id.name());
        self.send_and_follow(
            Method::DELETE,
            self.snapshot_url(id),
            None,
            Repeat::Safe,
            &what,
        )
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(create_option: &str, state: &str, pct: Option<f64>) -> Snapshot {
        serde_json::from_value(json!({
            "name": "s",
            "properties": {
                "provisioningState": state,
                "completionPercent": pct,
                "creationData": {"createOption": create_option},
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_copy_without_a_percentage_is_still_running() {
        assert_eq!(
            snap("CopyStart", "Succeeded", None).copy_state(),
            CopyState::Running(0.0)
        );
        assert_eq!(
            snap("copystart", "Succeeded", Some(99.5)).copy_state(),
            CopyState::Running(99.5)
        );
        assert_eq!(
            snap("CopyStart", "Updating", Some(100.0)).copy_state(),
            CopyState::Running(100.0)
        );
        assert_eq!(
            snap("CopyStart", "Succeeded", Some(100.0)).copy_state(),
            CopyState::Done
        );
        // A local snapshot has no percentage to wait for.
        assert_eq!(
            snap("Copy", "Succeeded", None).copy_state(),
            CopyState::Done
        );
    }

    #[test]
    fn an_absurd_size_saturates_instead_of_overflowing() {
        let mut s = Snapshot::default();
        s.properties.disk_size_gb = Some(u64::MAX);
        assert_eq!(s.size_bytes(), u64::MAX);
    }
}

/// When to look at a running copy again. Copies run for minutes to hours, so a blind backoff
/// either polls too often or finds the copy done long after it finished (a copy that ends just
/// after a 60 s wait began is seen a minute late, and with a hundred copies in flight that delay
/// is the whole schedule's). `completionPercent` climbs steadily, so the next look is aimed at the
/// moment the observed rate says it will reach 100, within the policy's bounds.
#[derive(Debug, Default)]
struct CopyPace {
    first: Option<(tokio::time::Instant, f64)>,
    last: Option<(tokio::time::Instant, f64)>,
    polls: u32,
}

impl CopyPace {
    fn observe(&mut self, at: tokio::time::Instant, percent: f64) {
        self.polls += 1;
        if self.first.is_none() {
            self.first = Some((at, percent));
        }
        self.last = Some((at, percent));
    }

    fn next_wait(&self, min: Duration, max: Duration) -> Duration {
        let max = max.max(min);
        // The first look is right after the start (about 0 %): the second comes `min` later,
        // and gives the rate.
        let backoff = min
            .mul_f64(1.5f64.powi(self.polls.saturating_sub(1).min(20) as i32))
            .min(max);
        let (Some((t0, p0)), Some((t1, p1))) = (self.first, self.last) else {
            return min;
        };
        let elapsed = t1.duration_since(t0).as_secs_f64();
        let gained = p1 - p0;
        if elapsed <= 0.0 || gained <= 0.0 {
            // No rate yet (one reading, or a copy that has not moved): back off as before.
            return backoff;
        }
        let remaining = (100.0 - p1).max(0.0) / (gained / elapsed);
        // A little past the estimate, so that one look usually finds it done. Sooner than
        // `min` when the rate says so (down to a tenth of it): a slot is held until the copy is
        // seen done, and `min` past the end of every short copy keeps slots from the next ones.
        Duration::from_secs_f64(remaining * 1.02 + 0.05).clamp(min / 10, max)
    }
}

#[cfg(test)]
mod pace_tests {
    use super::*;

    #[test]
    fn a_steady_copy_is_looked_at_when_it_should_be_done() {
        let t0 = tokio::time::Instant::now();
        let mut p = CopyPace::default();
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(p.next_wait(min, max), min, "nothing seen yet");
        p.observe(t0, 10.0);
        assert_eq!(
            p.next_wait(min, max),
            min,
            "no rate yet: look again after min"
        );
        p.observe(t0 + Duration::from_secs(10), 30.0);
        // 2 % a second, 70 % to go: about 35 s.
        let w = p.next_wait(min, max).as_secs_f64();
        assert!((35.0..37.0).contains(&w), "{w}");
        p.observe(t0 + Duration::from_secs(20), 50.0);
        let w = p.next_wait(min, Duration::from_secs(10)).as_secs_f64();
        assert_eq!(w, 10.0, "never past the policy's maximum");
        p.observe(t0 + Duration::from_secs(44), 98.0);
        // 2 % a second, 2 % to go: about 1 s, not `min` past the end...
        let w = p.next_wait(Duration::from_secs(5), max).as_secs_f64();
        assert!((1.0..1.2).contains(&w), "{w}");
        // ... and never sooner than a tenth of `min`.
        p.observe(t0 + Duration::from_secs(45), 99.99);
        let w = p.next_wait(Duration::from_secs(5), max);
        assert_eq!(w, Duration::from_millis(500));
    }

    #[test]
    fn a_copy_that_does_not_move_backs_off_within_bounds() {
        let t0 = tokio::time::Instant::now();
        let mut p = CopyPace::default();
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for i in 0..30 {
            p.observe(t0 + Duration::from_secs(i), 5.0);
        }
        assert_eq!(p.next_wait(min, max), max);
    }
}
