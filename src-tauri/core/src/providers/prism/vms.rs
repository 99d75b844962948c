//! VMs: list (with disks), get, power and disk resize. Power and resize answer a task; when the
//! answer is lost the error says the outcome is unknown rather than guessing.

use reqwest::Method;
use serde_json::json;

use super::client::{decode, PrismClient};
use super::error::PrismError;
use super::tasks::Cancellation;
use super::types::{Collection, DiskAddress, PowerTransition, Task, TaskRef, Vm};

/// The operation type of a power transition's task.
const POWER_OPERATION: &str = "kVmSetPowerState";

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

    /// Tasks not finished (queued or running) that name `entity` (its uuid or its name) among
    /// their entities, of one of `operation_types` (any when empty). An entity's state changes
    /// only when its task completes, so a change asked by a process that was killed before it saw
    /// the end still lands later: whoever decides from that state must wait for these first.
    pub async fn pending_tasks_of(
        &self,
        entity: &str,
        operation_types: &[&str],
    ) -> Result<Vec<Task>, PrismError> {
        let mut body = json!({ "include_completed": false });
        if !operation_types.is_empty() {
            body["operation_type_list"] = json!(operation_types);
        }
        let v = self
            .read(Method::POST, "tasks/list", &[], Some(&body))
            .await?;
        let c: Collection<Task> = decode(v, "tasks/list")?;
        let names = |t: &Task| {
            t.entity_list.iter().any(|e| {
                [e.entity_id.as_deref(), e.entity_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|x| x.eq_ignore_ascii_case(entity))
            })
        };
        // Filtered here too: not every release applies every filter of the request.
        Ok(c.entities
            .into_iter()
            .filter(|t| {
                !t.status().is_done()
                    && (operation_types.is_empty()
                        || t.operation_type
                            .as_deref()
                            .is_some_and(|o| operation_types.contains(&o)))
                    && names(t)
            })
            .collect())
    }

    /// Waits for the tasks [`PrismClient::pending_tasks_of`] finds. A pending task that fails is
    /// fine: it changed nothing.
    pub async fn settle_tasks_of(
        &self,
        entity: &str,
        operation_types: &[&str],
        cancel: &Cancellation,
    ) -> Result<(), PrismError> {
        for t in self.pending_tasks_of(entity, operation_types).await? {
            match self.wait_task(&t.uuid, &mut |_| {}, cancel).await {
                Ok(_) | Err(PrismError::TaskFailed { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Waits until no power transition of `vm_uuid` is pending, so that its `power_state` is the
    /// one it will keep.
    pub async fn settle_power(
        &self,
        vm_uuid: &str,
        cancel: &Cancellation,
    ) -> Result<(), PrismError> {
        self.settle_tasks_of(vm_uuid, &[POWER_OPERATION], cancel)
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
