//! Virtual machines: list, get, power state, deallocate/start, OS-disk swap and data-disk
//! attach/detach.
//!
//! Power actions and `attachDetachDataDisks` are POSTs, which ARM does not promise to be
//! idempotent. When one fails without a clear answer (connection dropped, 5xx), the VM is read
//! back and the action is re-sent only if the state shows it never took effect. A VM that is
//! `Updating` is first given a few polls to settle (it may be carrying the POST out); one still
//! `Updating`, or one that cannot be read back, is `ArmError::Uncertain`, never re-sent.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::client::{ArmClient, Repeat};
use super::disks::lenient_string;
use super::error::ArmError;
use super::ids::{self, ResourceId};
use super::watch::Progress;
use super::{ProvisioningState, Tags};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ManagedDiskRef {
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub storage_account_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OsDisk {
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub os_type: Option<String>,
    pub managed_disk: Option<ManagedDiskRef>,
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DataDisk {
    pub lun: Option<i64>,
    pub name: Option<String>,
    pub managed_disk: Option<ManagedDiskRef>,
    #[serde(rename = "diskSizeGB")]
    pub disk_size_gb: Option<u64>,
    pub to_be_detached: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct StorageProfile {
    pub os_disk: Option<OsDisk>,
    pub data_disks: Vec<DataDisk>,
}

impl StorageProfile {
    pub fn os_disk_id(&self) -> Option<&str> {
        self.os_disk
            .as_ref()
            .and_then(|o| o.managed_disk.as_ref())
            .and_then(|m| m.id.as_deref())
    }
    pub fn data_disk_ids(&self) -> impl Iterator<Item = &str> {
        self.data_disks
            .iter()
            .filter(|d| d.to_be_detached != Some(true))
            .filter_map(|d| d.managed_disk.as_ref().and_then(|m| m.id.as_deref()))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceViewStatus {
    pub code: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub level: Option<String>,
    pub display_status: Option<String>,
    pub message: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct InstanceView {
    pub computer_name: Option<String>,
    pub os_name: Option<String>,
    pub statuses: Vec<InstanceViewStatus>,
}

impl InstanceView {
    /// From the `PowerState/...` status; `Unknown` when there is none (a VM being created).
    pub fn power_state(&self) -> PowerState {
        self.statuses
            .iter()
            .filter_map(|s| s.code.as_deref())
            .find_map(|c| {
                let (kind, value) = c.split_once('/')?;
                kind.eq_ignore_ascii_case("PowerState")
                    .then(|| PowerState::parse(value))
            })
            .unwrap_or(PowerState::Unknown(String::new()))
    }

    /// From the `ProvisioningState/...` status (`Unknown` when there is none).
    pub fn provisioning_state(&self) -> ProvisioningState {
        self.statuses
            .iter()
            .filter_map(|s| s.code.as_deref())
            .find_map(|c| {
                let (kind, value) = c.split_once('/')?;
                kind.eq_ignore_ascii_case("ProvisioningState")
                    .then(|| ProvisioningState::parse(value))
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PowerState {
    Running,
    Starting,
    Stopping,
    Stopped,
    Deallocating,
    Deallocated,
    /// A value this code has not seen, kept as ARM sent it (empty: no power status at all).
    Unknown(String),
}

impl PowerState {
    pub fn parse(s: &str) -> Self {
        match s.to_ascii_lowercase().as_str() {
            "running" => Self::Running,
            "starting" => Self::Starting,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            "deallocating" => Self::Deallocating,
            "deallocated" => Self::Deallocated,
            _ => Self::Unknown(s.to_string()),
        }
    }
    pub fn as_str(&self) -> &str {
        match self {
            Self::Running => "running",
            Self::Starting => "starting",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::Deallocating => "deallocating",
            Self::Deallocated => "deallocated",
            Self::Unknown(s) => s,
        }
    }
    pub fn is_on(&self) -> bool {
        matches!(self, Self::Running | Self::Starting | Self::Stopping)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HardwareProfile {
    pub vm_size: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VmProperties {
    pub vm_id: Option<String>,
    pub hardware_profile: Option<HardwareProfile>,
    pub storage_profile: Option<StorageProfile>,
    pub provisioning_state: ProvisioningState,
    pub instance_view: Option<InstanceView>,
    pub time_created: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VirtualMachine {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: Tags,
    pub properties: VmProperties,
}

impl VirtualMachine {
    pub fn resource_id(&self) -> Result<ResourceId, ArmError> {
        ResourceId::parse(&self.id).map_err(|e| ArmError::decode("a VM id", e))
    }
    pub fn storage(&self) -> StorageProfile {
        self.properties.storage_profile.clone().unwrap_or_default()
    }
}

/// One VM of a `statusOnly=true` list: its id and its instance view. Nothing else of what the
/// answer may carry is kept.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VmStatus {
    pub id: String,
    pub properties: VmStatusProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VmStatusProperties {
    pub instance_view: Option<InstanceView>,
}

impl VmStatus {
    /// The `PowerState/...` status; `None` when the answer has none (an ARM that ignored
    /// `statusOnly` and sent the model).
    pub fn power_state(&self) -> Option<PowerState> {
        match self.properties.instance_view.as_ref()?.power_state() {
            PowerState::Unknown(s) if s.is_empty() => None,
            p => Some(p),
        }
    }
}

/// The power actions Standby takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerAction {
    Deallocate,
    Start,
}

impl PowerAction {
    fn path(self) -> &'static str {
        match self {
            Self::Deallocate => "deallocate",
            Self::Start => "start",
        }
    }
    fn target(self) -> PowerState {
        match self {
            Self::Deallocate => PowerState::Deallocated,
            Self::Start => PowerState::Running,
        }
    }
    /// States from which the VM is already heading to the target on its own.
    fn on_the_way(self) -> &'static [PowerState] {
        match self {
            Self::Deallocate => &[PowerState::Deallocating],
            Self::Start => &[PowerState::Starting],
        }
    }
}

/// After a POST whose answer was lost, a VM that is `Updating` may be carrying it out: it is read
/// again (every `poll_min`) this many times before deciding whether the POST arrived.
pub const SETTLE_POLLS: u32 = 10;

/// What reading a VM back after a lost POST showed.
enum ReadBack<T> {
    /// The VM settled (not `Updating`); here is what it shows.
    Settled(T),
    /// Still `Updating` after [`SETTLE_POLLS`] reads: something is being done to it, perhaps the
    /// POST: never re-sent then.
    StillUpdating(T),
}

/// The write's failure and the read-back's failure, as one `Uncertain`.
fn read_back_failed(what: &str, write: &ArmError, read: ArmError) -> ArmError {
    ArmError::Uncertain {
        what: what.to_string(),
        state: format!("{write}; reading the VM back then failed: {read}"),
    }
}

/// A failure after which the POST may or may not have been received.
fn outcome_unknown(e: &ArmError) -> bool {
    match e {
        ArmError::Transport { .. } => true,
        ArmError::Api { status, .. } => *status >= 500,
        _ => false,
    }
}

impl ArmClient {
    fn compute_url(&self, path: &str, extra: &[(&str, &str)]) -> url::Url {
        self.url(path, &self.api_versions().compute, extra)
    }

    pub(crate) fn vm_list_url(&self, resource_group: &str) -> url::Url {
        self.compute_url(&self.rg_path(resource_group, "virtualMachines"), &[])
    }

    pub async fn list_vms(&self, resource_group: &str) -> Result<Vec<VirtualMachine>, ArmError> {
        self.list_all(self.vm_list_url(resource_group), "the VM list")
            .await
    }

    /// The run-time status of every VM of the subscription, a page at a time:
    /// `GET /subscriptions/{s}/providers/Microsoft.Compute/virtualMachines?statusOnly=true`
    /// (`VirtualMachines_ListAll`; ComputeRP documents `statusOnly` on the subscription's list
    /// only). One read per page instead of one instance view per VM.
    pub async fn for_each_vm_status(&self, f: impl FnMut(Vec<VmStatus>)) -> Result<(), ArmError> {
        let path = format!(
            "/subscriptions/{}/providers/Microsoft.Compute/virtualMachines",
            self.subscription_id()
        );
        let url = self.compute_url(&path, &[("statusOnly", "true")]);
        self.for_each_page(url, "the VM status list", f).await
    }

    pub async fn get_vm(&self, id: &ResourceId) -> Result<VirtualMachine, ArmError> {
        self.get_json(self.compute_url(id.as_str(), &[]), "a VM")
            .await
    }

    pub async fn instance_view(&self, id: &ResourceId) -> Result<InstanceView, ArmError> {
        let path = format!("{}/instanceView", id.as_str());
        self.get_json(self.compute_url(&path, &[]), "a VM's instance view")
            .await
    }

    pub async fn power_state(&self, id: &ResourceId) -> Result<PowerState, ArmError> {
        Ok(self.instance_view(id).await?.power_state())
    }

    pub async fn deallocate(&self, id: &ResourceId) -> Result<(), ArmError> {
        self.power(id, PowerAction::Deallocate).await
    }

    pub async fn start(&self, id: &ResourceId) -> Result<(), ArmError> {
        self.power(id, PowerAction::Start).await
    }

    /// Sends the action, follows its operation, and confirms the power state it promised.
    pub async fn power(&self, id: &ResourceId, action: PowerAction) -> Result<(), ArmError> {
        let what = format!("{} of VM {}", action.path(), id.name());
        let url = self.compute_url(&format!("{}/{}", id.as_str(), action.path()), &[]);
        let mut resent = false;
        loop {
            match self
                .send(Method::POST, url.clone(), None, Repeat::Never)
                .await
            {
                Ok(first) => {
                    self.follow(&first, &what).await?;
                    return self.await_power(id, action, &what).await;
                }
                Err(e) if outcome_unknown(&e) => {
                    tracing::warn!(error = %e, "{what}: outcome unknown; reading the VM back");
                    let arrived = |v: &InstanceView| {
                        let p = v.power_state();
                        p == action.target() || action.on_the_way().contains(&p)
                    };
                    let view = match self
                        .settled(
                            || self.instance_view(id),
                            |v| !arrived(v) && v.provisioning_state() == ProvisioningState::Updating,
                            &what,
                        )
                        .await
                    {
                        Ok(ReadBack::Settled(v)) => v,
                        Ok(ReadBack::StillUpdating(v)) if !arrived(&v) => {
                            return Err(ArmError::Uncertain {
                                what,
                                state: format!(
                                    "the VM is still Updating (power state {}) after the lost answer; last error: {e}",
                                    v.power_state().as_str()
                                ),
                            })
                        }
                        Ok(ReadBack::StillUpdating(v)) => v,
                        Err(ArmError::Cancelled(c)) => return Err(ArmError::Cancelled(c)),
                        Err(read) => return Err(read_back_failed(&what, &e, read)),
                    };
                    let state = view.power_state();
                    if arrived(&view) {
                        // It was received: follow the VM, do not send it twice.
                        return self.await_power(id, action, &what).await;
                    }
                    if resent {
                        return Err(ArmError::Uncertain {
                            what,
                            state: format!("power state {}; last error: {e}", state.as_str()),
                        });
                    }
                    // The state shows it never arrived: sending it again is not a repeat.
                    resent = true;
                    self.watch.report(Progress::Retrying {
                        attempt: 2,
                        wait: std::time::Duration::ZERO,
                        reason: format!("{what} did not arrive (VM is {})", state.as_str()),
                    });
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads with `read` until `updating` is false, at most [`SETTLE_POLLS`] more times,
    /// `poll_min` apart: a VM still `Updating` after a lost POST may be carrying it out.
    async fn settled<T, F, Fut>(
        &self,
        read: F,
        updating: impl Fn(&T) -> bool,
        what: &str,
    ) -> Result<ReadBack<T>, ArmError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, ArmError>>,
    {
        let mut seen = read().await?;
        for _ in 0..SETTLE_POLLS {
            if !updating(&seen) {
                return Ok(ReadBack::Settled(seen));
            }
            self.watch.report(Progress::Polling {
                what: what.to_string(),
                status: "Updating".into(),
                percent: None,
            });
            if !self.watch.cancel.sleep(self.policy().poll_min).await {
                return Err(ArmError::Cancelled(what.to_string()));
            }
            seen = read().await?;
        }
        Ok(if updating(&seen) {
            ReadBack::StillUpdating(seen)
        } else {
            ReadBack::Settled(seen)
        })
    }

    /// Polls the instance view until the action's target state; a state that is neither the
    /// target nor on the way to it is a failure (someone else acted on the VM).
    async fn await_power(
        &self,
        id: &ResourceId,
        action: PowerAction,
        what: &str,
    ) -> Result<(), ArmError> {
        let policy = self.policy().clone();
        for _ in 0..policy.max_polls {
            let state = self.power_state(id).await?;
            self.watch.report(Progress::Polling {
                what: what.to_string(),
                status: state.as_str().to_string(),
                percent: None,
            });
            if state == action.target() {
                return Ok(());
            }
            if !action.on_the_way().contains(&state) {
                return Err(ArmError::OperationFailed {
                    what: what.to_string(),
                    code: "UnexpectedPowerState".into(),
                    message: format!(
                        "the VM is {} instead of {}",
                        state.as_str(),
                        action.target().as_str()
                    ),
                });
            }
            if !self.watch.cancel.sleep(policy.poll_min).await {
                return Err(ArmError::Cancelled(what.to_string()));
            }
        }
        Err(ArmError::OperationFailed {
            what: what.to_string(),
            code: "NotFinished".into(),
            message: "the VM did not reach its power state".into(),
        })
    }

    /// Replaces the VM's OS disk (restore in place). ARM allows it only while the VM is
    /// deallocated; its 409 comes back as is. Setting the same disk again changes nothing, so the
    /// PATCH may be repeated.
    pub async fn swap_os_disk(
        &self,
        vm: &ResourceId,
        disk: &ResourceId,
    ) -> Result<VirtualMachine, ArmError> {
        let body = json!({"properties": {"storageProfile": {"osDisk": {
            "name": disk.name(),
            "managedDisk": {"id": disk.as_str()},
        }}}});
        let what = format!(
            "swapping the OS disk of VM {} to {}",
            vm.name(),
            disk.name()
        );
        self.send_and_follow(
            Method::PATCH,
            self.compute_url(vm.as_str(), &[]),
            Some(&body),
            Repeat::Safe,
            &what,
        )
        .await?;
        let after = self.get_vm(vm).await?;
        match after.storage().os_disk_id() {
            Some(id) if ids::same(id, disk.as_str()) => Ok(after),
            other => Err(ArmError::OperationFailed {
                what,
                code: "OsDiskNotSwapped".into(),
                message: format!("the VM's OS disk is {other:?} after the update"),
            }),
        }
    }

    /// Attaches and detaches data disks in one call (`attachDetachDataDisks`). After a lost
    /// answer the VM is read back; the call is re-sent only if its disks show no effect.
    pub async fn attach_detach_data_disks(
        &self,
        vm: &ResourceId,
        attach: &[ResourceId],
        detach: &[ResourceId],
    ) -> Result<VirtualMachine, ArmError> {
        let body = json!({
            "dataDisksToAttach": attach.iter().map(|d| json!({"diskId": d.as_str()})).collect::<Vec<_>>(),
            "dataDisksToDetach": detach.iter().map(|d| json!({"diskId": d.as_str()})).collect::<Vec<_>>(),
        });
        let what = format!("attaching/detaching data disks of VM {}", vm.name());
        let url = self.compute_url(&format!("{}/attachDetachDataDisks", vm.as_str()), &[]);
        let applied = |v: &VirtualMachine| {
            let sp = v.storage();
            let ids: Vec<&str> = sp.data_disk_ids().collect();
            attach
                .iter()
                .all(|a| ids.iter().any(|i| ids::same(i, a.as_str())))
                && detach
                    .iter()
                    .all(|d| !ids.iter().any(|i| ids::same(i, d.as_str())))
        };
        let mut resent = false;
        loop {
            match self
                .send(Method::POST, url.clone(), Some(&body), Repeat::Never)
                .await
            {
                Ok(first) => {
                    self.follow(&first, &what).await?;
                    break;
                }
                Err(e) if outcome_unknown(&e) => {
                    let now = match self
                        .settled(
                            || self.get_vm(vm),
                            |v| {
                                !applied(v)
                                    && v.properties.provisioning_state
                                        == ProvisioningState::Updating
                            },
                            &what,
                        )
                        .await
                    {
                        Ok(ReadBack::Settled(v)) => v,
                        Ok(ReadBack::StillUpdating(v)) if !applied(&v) => {
                            return Err(ArmError::Uncertain {
                                what,
                                state: format!(
                                    "the VM is still Updating after the lost answer; last error: {e}"
                                ),
                            })
                        }
                        Ok(ReadBack::StillUpdating(v)) => v,
                        Err(ArmError::Cancelled(c)) => return Err(ArmError::Cancelled(c)),
                        Err(read) => return Err(read_back_failed(&what, &e, read)),
                    };
                    if applied(&now) {
                        return Ok(now);
                    }
                    if resent {
                        return Err(ArmError::Uncertain {
                            what,
                            state: format!("data disks unchanged; last error: {e}"),
                        });
                    }
                    resent = true;
                }
                Err(e) => return Err(e),
            }
        }
        let after = self.get_vm(vm).await?;
        if applied(&after) {
            Ok(after)
        } else {
            Err(ArmError::OperationFailed {
                what,
                code: "DataDisksNotApplied".into(),
                message: "the VM's data disks do not show the change".into(),
            })
        }
    }
}
