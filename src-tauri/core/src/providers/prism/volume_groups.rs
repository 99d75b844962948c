//! Volume groups (enterprise profiles and personal drives): list, get, clone and disk resize.

use reqwest::Method;
use serde_json::json;

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::types::{Collection, TaskRef, VolumeGroup};

impl PrismClient {
    pub async fn volume_groups(&self) -> Result<Vec<VolumeGroup>, PrismError> {
        let c: Collection<VolumeGroup> = self.get("volume_groups", &[]).await?;
        Ok(c.entities)
    }

    pub async fn volume_group(&self, uuid: &str) -> Result<VolumeGroup, PrismError> {
        self.get(&format!("volume_groups/{uuid}"), &[]).await
    }

    /// Clones a volume group on the same cluster under `name`; returns the task's uuid. Giving
    /// `new_uuid` lets a caller whose answer was lost find the clone by uuid.
    pub async fn clone_volume_group(
        &self,
        uuid: &str,
        name: &str,
        new_uuid: Option<&str>,
    ) -> Result<String, PrismError> {
        let mut body = json!({ "name": name });
        if let Some(u) = new_uuid {
            body["uuid"] = json!(u);
        }
        let v = self
            .write(
                Method::POST,
                &format!("volume_groups/{uuid}/clone"),
                Some(&body),
            )
            .await
            .map_err(|e| {
                e.outcome_unknown(
                    format!("clone of volume group {uuid} as {name}"),
                    match new_uuid {
                        Some(u) => format!("whether volume group {u} ({name}) exists"),
                        None => format!("whether a volume group named {name} exists"),
                    },
                )
            })?;
        Ok(decode::<TaskRef>(v, "volume_groups/clone")?.task_uuid)
    }

    /// Grows disk `index` of a volume group to `new_size_bytes`; returns the task's uuid.
    pub async fn resize_volume_group_disk(
        &self,
        uuid: &str,
        index: i64,
        new_size_bytes: u64,
    ) -> Result<String, PrismError> {
        let body = json!({ "index": index, "upgrade_spec": { "size": new_size_bytes } });
        let v = self
            .write(
                Method::PUT,
                &format!("volume_groups/{uuid}/disks"),
                Some(&body),
            )
            .await
            .map_err(|e| {
                e.outcome_unknown(
                    format!("resize of disk {index} of volume group {uuid}"),
                    format!("the size of disk {index} of volume group {uuid}"),
                )
            })?;
        Ok(decode::<TaskRef>(v, "volume_groups/disks")?.task_uuid)
    }
}
