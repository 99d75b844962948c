//! Managed disks: list, get, create from a snapshot (`Copy`), grow, delete.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{ArmClient, Repeat};
use super::error::ArmError;
use super::ids::ResourceId;
use super::{ProvisioningState, Tags};

pub const GIB: u64 = 1 << 30;

/// Any JSON scalar as text: some enums arrive as numbers or digits (`"diskState": "0"`).
pub(crate) fn lenient_string<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sku {
    pub name: Option<String>,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CreationData {
    #[serde(deserialize_with = "lenient_string")]
    pub create_option: Option<String>,
    pub source_resource_id: Option<String>,
    pub source_unique_id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub provisioned_bandwidth_copy_speed: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DiskProperties {
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: Option<u64>,
    pub disk_size_bytes: Option<u64>,
    pub provisioning_state: ProvisioningState,
    #[serde(deserialize_with = "lenient_string")]
    pub disk_state: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub os_type: Option<String>,
    pub creation_data: Option<CreationData>,
    pub time_created: Option<String>,
    pub unique_id: Option<String>,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Disk {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    /// The VM it is attached to.
    pub managed_by: Option<String>,
    pub sku: Option<Sku>,
    pub properties: DiskProperties,
}

impl Disk {
    pub fn resource_id(&self) -> Result<ResourceId, ArmError> {
        ResourceId::parse(&self.id).map_err(|e| ArmError::decode("a disk id", e))
    }
    pub fn size_bytes(&self) -> u64 {
        self.properties
            .disk_size_bytes
            .or(self.properties.disk_size_gb.map(|g| g.saturating_mul(GIB)))
            .unwrap_or(0)
    }
    pub fn sku_name(&self) -> Option<&str> {
        self.sku.as_ref().and_then(|s| s.name.as_deref())
    }
}

/// A disk to make from a snapshot in the same region.
#[derive(Debug, Clone)]
pub struct NewDisk {
    pub resource_group: String,
    pub name: String,
    pub location: String,
    pub source_snapshot: ResourceId,
    /// Defaults to the source disk's SKU (ARM keeps it through the snapshot).
    pub sku: Option<String>,
    pub tags: Tags,
}

impl ArmClient {
    fn disk_url(&self, id: &ResourceId) -> url::Url {
        self.url(id.as_str(), &self.api_versions().disks, &[])
    }

    pub(crate) fn disk_list_url(&self, resource_group: &str) -> url::Url {
        self.url(
            &self.rg_path(resource_group, "disks"),
            &self.api_versions().disks,
            &[],
        )
    }

    pub async fn list_disks(&self, resource_group: &str) -> Result<Vec<Disk>, ArmError> {
        self.list_all(self.disk_list_url(resource_group), "the disk list")
            .await
    }

    pub async fn get_disk(&self, id: &ResourceId) -> Result<Disk, ArmError> {
        self.get_json(self.disk_url(id), "a disk").await
    }

    /// `PUT` with `createOption: Copy` from a snapshot, followed until the disk is ready. The name
    /// is ours, so the PUT is idempotent and may be repeated after a lost answer.
    pub async fn create_disk_from_snapshot(&self, req: &NewDisk) -> Result<Disk, ArmError> {
        let id = ResourceId::disk(self.subscription_id(), &req.resource_group, &req.name);
        let mut body = json!({
            "location": req.location,
            "tags": req.tags,
            "properties": {"creationData": {
                "createOption": "Copy",
                "sourceResourceId": req.source_snapshot.as_str(),
            }},
        });
        if let Some(s) = &req.sku {
            body["sku"] = json!({ "name": s });
        }
        let what = format!("creating disk {}", req.name);
        self.send_and_follow(
            Method::PUT,
            self.disk_url(&id),
            Some(&body),
            Repeat::Safe,
            &what,
        )
        .await?;
        let disk = self.get_disk(&id).await?;
        expect_succeeded(&what, &disk.properties.provisioning_state)?;
        Ok(disk)
    }

    /// Grows a disk (`PATCH diskSizeGB`). ARM refuses to shrink, and to grow an OS disk (or past
    /// 4 TiB) unless its VM is deallocated: its error comes back as is.
    pub async fn resize_disk(&self, id: &ResourceId, size_gb: u64) -> Result<Disk, ArmError> {
        let body = json!({"properties": {"diskSizeGB": size_gb}});
        let what = format!("resizing disk {} to {size_gb} GB", id.name());
        self.send_and_follow(
            Method::PATCH,
            self.disk_url(id),
            Some(&body),
            Repeat::Safe,
            &what,
        )
        .await?;
        let disk = self.get_disk(id).await?;
        if disk.properties.disk_size_gb != Some(size_gb) {
            return Err(ArmError::OperationFailed {
                what,
                code: "SizeNotApplied".into(),
                message: format!(
                    "the disk reports {:?} GB after the resize",
                    disk.properties.disk_size_gb
                ),
            });
        }
        Ok(disk)
    }

    pub async fn delete_disk(&self, id: &ResourceId) -> Result<(), ArmError> {
        let what = format!("deleting disk {}", id.name());
        self.send_and_follow(Method::DELETE, self.disk_url(id), None, Repeat::Safe, &what)
            .await
            .map(|_| ())
    }
}

pub(crate) fn expect_succeeded(what: &str, state: &ProvisioningState) -> Result<(), ArmError> {
    if *state == ProvisioningState::Succeeded {
        Ok(())
    } else {
        Err(ArmError::OperationFailed {
            what: what.to_string(),
            code: "NotSucceeded".into(),
            message: format!(
                "the operation finished but the resource is in provisioning state {:?}",
                state.as_str()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_size_saturates_instead_of_overflowing() {
        let mut d = Disk::default();
        d.properties.disk_size_gb = Some(u64::MAX / 2);
        assert_eq!(d.size_bytes(), u64::MAX);
        d.properties.disk_size_gb = Some(64);
        assert_eq!(d.size_bytes(), 64 * GIB);
    }
}
