//! VMs: list (with disks), get, power and disk resize. Power and resize answer a task; when the
//! answer is lost the error says the outcome is unknown rather than guessing.

use reqwest::Method;
use serde_json::json;

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::types::{Collection, DiskAddress, PowerTransition, TaskRef, Vm};

impl PrismClient {
    /// Every VM with its disk configuration (sizes in bytes).
    pub async fn vms(&self) -> Result<Vec<Vm>, PrismError> {
        let c: Collection<Vm> = self
            .get("vms", &[("include_vm_disk_config", "true".into())])
            .await?;
        Ok(c.entities)
    }

    pub async fn vm(&self, uuid: &str) -> Result<Vm, PrismError> {
        self.get(
            &format!("vms/{uuid}"),
            &[("include_vm_disk_config", "true".into())],
        )
        .await
    }

    /// Starts a power transition; returns the task's uuid.
    pub async fn set_power_state(
        &self,
        vm_uuid: &str,
        transition: PowerTransition,
    ) -> Result<String, PrismError> {
        let body = json!({ "transition": transition.as_str() });
        let v = self
            .write(
                Method::POST,
                &format!("vms/{vm_uuid}/set_power_state"),
                Some(&body),
            )
            .await
            .map_err(|e| {
                e.outcome_unknown(
                    format!("power {transition} of VM {vm_uuid}"),
                    format!("the power state of VM {vm_uuid} and its recent tasks"),
                )
            })?;
        Ok(decode::<TaskRef>(v, "set_power_state")?.task_uuid)
    }

    /// Grows a VM disk to `new_size_bytes` (Acropolis cannot shrink); returns the task's uuid.
    pub async fn resize_vm_disk(
        &self,
        vm_uuid: &str,
        disk: &DiskAddress,
        new_size_bytes: u64,
    ) -> Result<String, PrismError> {
        let body = json!({
            "vm_disks": [{
                "disk_address": disk,
                "vm_disk_create": { "size": new_size_bytes },
            }]
        });
        let v = self
            .write(
                Method::PUT,
                &format!("vms/{vm_uuid}/disks/update"),
                Some(&body),
            )
            .await
            .map_err(|e| {
                e.outcome_unknown(
                    format!("resize of a disk of VM {vm_uuid}"),
                    format!("the disk sizes of VM {vm_uuid}"),
                )
            })?;
        Ok(decode::<TaskRef>(v, "vms/disks/update")?.task_uuid)
    }
}
