//! Inventory discovery on Azure: an account's persistent resources from its resource groups'
//! disks and VMs, by Frame's `frame.*` ARM tags, with the administrator's corrections applied.
//!
//! A resource is the managed disk that holds it: the OS disk of the sandbox, utility servers and
//! persistent desktops (power state from the VM's instance view), the data disks of enterprise
//! profiles and personal drives. A disk without `frame.*` tags inherits its VM's when it is that
//! VM's OS disk (a deployment that tags only VMs). See `docs/azure-client.md`.
//!
//! Lists are read page by page and only what [`classify`] reads is kept of each disk and VM
//! ([`DiskFacts`], [`VmFacts`]), so that memory grows by a few strings per resource, not by whole
//! ARM resources. Power states come from one `statusOnly=true` list of the subscription's VMs
//! (one read per page), with one instance view per VM only for VMs that list did not cover.

use std::collections::{HashMap, HashSet};

use super::client::ArmClient;
use super::disks::Disk;
use super::error::ArmError;
use super::ids::{self, ResourceId};
use super::vms::{PowerState as AzPower, VirtualMachine};
use super::{tag, Tags};
use crate::id_prefixes::{IdPrefixes, PrefixedId};
use crate::inventory::{
    DesktopState, DiscoveredResource, PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED,
};

pub const TAG_ACCOUNT: &str = "frame.account";
pub const TAG_ROLE: &str = "frame.role";
pub const TAG_OWNER: &str = "frame.owner";
pub const TAG_DESKTOP_STATE: &str = "frame.desktop-state";

pub use crate::inventory::MappingOverride;

fn desktop_state(s: &str) -> Option<DesktopState> {
    match s.trim().to_ascii_lowercase().as_str() {
        "assigned" => Some(DesktopState::Assigned),
        "unassigned" => Some(DesktopState::Unassigned),
        "shadow" => Some(DesktopState::Shadow),
        _ => None,
    }
}

fn power_of(p: &AzPower) -> PowerState {
    match p {
        AzPower::Running => PowerState::On,
        AzPower::Deallocated | AzPower::Stopped => PowerState::Off,
        _ => PowerState::Other,
    }
}

fn is_vm_kind(k: ResourceKind) -> bool {
    matches!(
        k,
        ResourceKind::Sandbox | ResourceKind::UtilityServer | ResourceKind::PersistentDesktop
    )
}

/// What classifying reads of a resource's `frame.*` tags, read once as each list page arrives:
/// a map of tags per disk and VM (15,000 disks and 5,000 VMs at 5,000 users) was a quarter of
/// discovery's peak memory. The same look-ups as on the tags (`tag`: first key equal without
/// case).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameTags {
    /// `frame.account` names the Frame account being discovered (case aside).
    pub in_account: bool,
    /// `frame.role` when present: the kind it names (`None`: a role Standby does not know).
    pub role: Option<Option<ResourceKind>>,
    pub owner: Option<String>,
    pub desktop_state: Option<DesktopState>,
}

impl FrameTags {
    pub fn read(tags: &Tags, account: &str) -> Self {
        Self {
            in_account: tag(tags, TAG_ACCOUNT).is_some_and(|a| a.eq_ignore_ascii_case(account)),
            role: tag(tags, TAG_ROLE).map(ResourceKind::from_tag),
            owner: tag(tags, TAG_OWNER).map(str::to_string),
            desktop_state: tag(tags, TAG_DESKTOP_STATE).and_then(desktop_state),
        }
    }
}

/// What discovery keeps of a managed disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskFacts {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: FrameTags,
    pub managed_by: Option<String>,
    pub size_bytes: u64,
}

impl DiskFacts {
    /// `account`: the Frame account being discovered (see [`FrameTags`]).
    pub fn new(d: Disk, account: &str) -> Self {
        Self {
            size_bytes: d.size_bytes(),
            tags: FrameTags::read(&d.tags, account),
            id: d.id,
            name: d.name,
            location: d.location,
            managed_by: d.managed_by,
        }
    }
}

/// What discovery keeps of a VM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VmFacts {
    pub id: String,
    pub name: String,
    pub tags: FrameTags,
    pub os_disk_id: Option<String>,
}

impl VmFacts {
    /// `account`: the Frame account being discovered (see [`FrameTags`]).
    pub fn new(v: VirtualMachine, account: &str) -> Self {
        Self {
            os_disk_id: v.storage().os_disk_id().map(str::to_string),
            tags: FrameTags::read(&v.tags, account),
            id: v.id,
            name: v.name,
        }
    }
}

/// The pure part of discovery: disks, VMs and their power states in, resources out (sorted by
/// kind, then name).
pub fn classify(
    account: &str,
    disks: Vec<DiskFacts>,
    vms: &[VmFacts],
    power: &HashMap<String, AzPower>,
    overrides: &[MappingOverride],
) -> Vec<DiscoveredResource> {
    let c = Classifier::new(account, vms.to_vec(), power.clone(), overrides);
    let mut out: Vec<DiscoveredResource> = disks
        .into_iter()
        .filter_map(|d| match c.disk(d, false) {
            Classified::Resource(r) => Some(*r),
            _ => None,
        })
        .collect();
    sort(&mut out);
    out
}

/// The order discovery lists resources in: by kind, then name (stable).
pub fn sort(resources: &mut [DiscoveredResource]) {
    resources.sort_by(|a, b| order(a.kind, &a.name).cmp(&order(b.kind, &b.name)));
}

/// A resource's place in discovery's order (see [`sort`]).
pub fn order(kind: ResourceKind, name: &str) -> (u8, &str) {
    (kind_rank(kind), name)
}

/// What became of one disk.
pub enum Classified {
    Resource(Box<DiscoveredResource>),
    /// Not a resource of the account.
    Left,
    /// The OS disk of a VM whose power state is not known yet (the status list did not cover
    /// it): classified again once its instance view is read. Its VM's key.
    NeedsPower(DiskFacts, String),
}

/// The lower-case form of a VM or disk id ([`ResourceId::key`]), `None` when it is not an ARM id.
fn key_of(id: &str) -> Option<String> {
    ResourceId::parse(id).map(|i| i.key()).ok()
}

/// What classifying keeps of a listed VM (its key is its id).
struct VmEntry {
    name: Box<str>,
    tags: FrameTags,
    /// Its OS disk's key, in the same table as the VMs' keys.
    os_disk: Option<PrefixedId>,
    power: Option<AzPower>,
}

/// Listed VMs by [`ResourceId::key`], the keys (and their OS disks') held by [`IdPrefixes`]: with
/// the VM's id, its key and its OS disk's id kept as strings, and the status list's keys beside
/// them, the VMs were the largest part of discovery's peak at 5,000 users (about 5 MB). A VM
/// whose id does not parse is left out, and of two with one key the later is kept.
#[derive(Default)]
pub struct VmsByKey {
    ids: IdPrefixes,
    vms: HashMap<PrefixedId, VmEntry>,
}

impl VmsByKey {
    pub fn extend(&mut self, vms: impl IntoIterator<Item = VmFacts>) {
        for v in vms {
            let Some(key) = key_of(&v.id) else { continue };
            // An OS disk id that is not an ARM id can be no listed disk's (those parse).
            let os_disk = v
                .os_disk_id
                .as_deref()
                .and_then(key_of)
                .map(|k| self.ids.keep(&k));
            let key = self.ids.keep(&key);
            self.vms.insert(
                key,
                VmEntry {
                    name: v.name.into(),
                    tags: v.tags,
                    os_disk,
                    power: None,
                },
            );
        }
    }

    fn get(&self, key: &str) -> Option<&VmEntry> {
        self.ids.find(key).and_then(|k| self.vms.get(&k))
    }

    /// Gives each listed VM its state from the status list (the others' are dropped).
    fn take_power(&mut self, statuses: Statuses) {
        for (k, p) in statuses.states {
            let Some(key) = self.ids.find(&statuses.ids.join(&k)) else {
                continue;
            };
            if let Some(v) = self.vms.get_mut(&key) {
                v.power = Some(p);
            }
        }
    }
}

/// Power states by VM key, as the subscription's status list gives them (every VM of the
/// subscription, before the account's are known), keys held as in [`VmsByKey`].
#[derive(Default)]
pub struct Statuses {
    ids: IdPrefixes,
    states: HashMap<PrefixedId, AzPower>,
}

impl Statuses {
    /// `key`: the VM's [`ResourceId::key`].
    pub fn insert(&mut self, key: &str, p: AzPower) {
        let k = self.ids.keep(key);
        self.states.insert(k, p);
    }
}

/// Classifies disks one by one once the VMs and their power states are known, so that disk
/// list pages become resources as they arrive and no list of every disk is kept.
pub struct Classifier<'a> {
    account: &'a str,
    /// The listed VMs, with their power states.
    vms: VmsByKey,
    overrides: &'a [MappingOverride],
}

impl<'a> Classifier<'a> {
    pub fn new(
        account: &'a str,
        vms: Vec<VmFacts>,
        power: HashMap<String, AzPower>,
        overrides: &'a [MappingOverride],
    ) -> Self {
        let mut by_key = VmsByKey::default();
        by_key.extend(vms);
        let mut statuses = Statuses::default();
        for (k, p) in power {
            statuses.insert(&k, p);
        }
        Self::keyed(account, by_key, statuses, overrides)
    }

    /// As [`Classifier::new`], with the VMs already by key (built as the VM list's pages come,
    /// so that no list of every VM is held beside the map).
    pub fn keyed(
        account: &'a str,
        mut vms: VmsByKey,
        statuses: Statuses,
        overrides: &'a [MappingOverride],
    ) -> Self {
        vms.take_power(statuses);
        Self {
            account,
            vms,
            overrides,
        }
    }

    /// One disk. `defer`: a VM resource whose power is not known comes back as
    /// [`Classified::NeedsPower`] instead of a resource without power.
    pub fn disk(&self, d: DiskFacts, defer: bool) -> Classified {
        let Some(disk_key) = key_of(&d.id) else {
            return Classified::Left;
        };
        let vm_key = d.managed_by.as_deref().and_then(key_of);
        let vm = vm_key.as_deref().and_then(|k| self.vms.get(k));
        let is_os_disk = vm.is_some_and(|v| {
            v.os_disk.as_ref().is_some_and(|os| {
                // The disk's key is in the table when it is any listed VM's OS disk.
                self.vms.ids.find(&disk_key).as_ref() == Some(os)
            })
        });
        let own_role = d.tags.role.is_some();
        let tags: &FrameTags = match (own_role, vm) {
            (false, Some(v)) if is_os_disk => &v.tags,
            _ => &d.tags,
        };
        let ov = self.overrides.iter().find(|o| {
            ids::same(&o.provider_id, &d.id)
                || (is_os_disk
                    && vm_key
                        .as_deref()
                        .is_some_and(|k| ids::same(&o.provider_id, k)))
        });
        if ov.is_some_and(|o| o.exclude) {
            return Classified::Left;
        }
        let in_account = tags.in_account;
        let kind = ov
            .and_then(|o| o.kind)
            .or_else(|| in_account.then(|| tags.role.flatten())?);
        let Some(kind) = kind else {
            return Classified::Left;
        };
        if !in_account && ov.and_then(|o| o.kind).is_none() {
            return Classified::Left;
        }
        let owner = ov
            .and_then(|o| o.owner.clone())
            .or_else(|| tags.owner.clone());
        let vm_resource = is_os_disk && is_vm_kind(kind);
        let (power, power_detail) = match (vm_resource, vm_key) {
            (true, Some(k)) => match vm.and_then(|v| v.power.as_ref()) {
                Some(p) => (Some(power_of(p)), Some(p.as_str().to_string())),
                None if defer => return Classified::NeedsPower(d, k),
                None => (None, None),
            },
            _ => (None, None),
        };
        Classified::Resource(Box::new(DiscoveredResource {
            // Moved, not cloned: the facts go as the resources come.
            provider_id: d.id,
            name: if vm_resource {
                vm.map(|v| v.name.to_string()).unwrap_or(d.name)
            } else {
                d.name
            },
            kind,
            // Only this account's resources come out (an override may bring in a disk tagged otherwise).
            frame_account: self.account.to_string(),
            owner,
            desktop_state: (kind == ResourceKind::PersistentDesktop)
                .then_some(tags.desktop_state)
                .flatten(),
            size_bytes: d.size_bytes as f64,
            vm_id: d.managed_by,
            power,
            power_detail,
            location: super::normalize_location(&d.location),
            not_protected_reason: (!kind.is_protected())
                .then(|| TEMPLATE_NOT_PROTECTED.to_string()),
        }))
    }
}

fn kind_rank(k: ResourceKind) -> u8 {
    match k {
        ResourceKind::Sandbox => 0,
        ResourceKind::UtilityServer => 1,
        ResourceKind::PersistentDesktop => 2,
        ResourceKind::EnterpriseProfile => 3,
        ResourceKind::PersonalDrive => 4,
        ResourceKind::TemplateImage => 5,
    }
}

/// How many instance views are read at once (VMs the status list did not cover).
const PARALLEL_READS: usize = 8;

/// How many disks discovery keeps while the VMs are still being listed (about five pages): the
/// disk list is read alongside the VM list, and without a bound every disk of the resource
/// groups waited in memory when its list ended first (15,000 at 5,000 users).
const DISKS_WAITING_AT_MOST: usize = 500;

/// Disk pages that arrive before the VMs and their power states are all known wait here; once
/// the classifier is ready they (and every later page) are classified as they come.
struct DiskStage<'c, 'e> {
    classifier: Option<Classifier<'c>>,
    waiting: Vec<DiskFacts>,
    /// OS disks of VMs the status list did not cover (see [`Classified::NeedsPower`]).
    needs_power: Vec<(DiskFacts, String)>,
    emit: &'e mut (dyn FnMut(DiscoveredResource) + Send),
}

impl DiskStage<'_, '_> {
    fn take(&mut self, disks: impl IntoIterator<Item = DiskFacts>) {
        let Some(c) = &self.classifier else {
            self.waiting.extend(disks);
            return;
        };
        for d in disks {
            match c.disk(d, true) {
                Classified::Resource(r) => (self.emit)(*r),
                Classified::Left => {}
                Classified::NeedsPower(d, vm) => self.needs_power.push((d, vm)),
            }
        }
    }
}

impl ArmClient {
    /// Lists the resource groups' disks and VMs, reads the power state of the account's VMs and
    /// classifies (see [`classify`]); the resources sorted by kind, then name.
    pub async fn discover(
        &self,
        account: &str,
        resource_groups: &[String],
        overrides: &[MappingOverride],
    ) -> Result<Vec<DiscoveredResource>, ArmError> {
        let mut out = Vec::new();
        self.discover_each(account, resource_groups, overrides, &mut |r| out.push(r))
            .await?;
        sort(&mut out);
        Ok(out)
    }

    /// As [`ArmClient::discover`], handing each resource to `emit` as its disk's list page is
    /// classified (in no particular order), so that the caller keeps only what it needs: no list
    /// of every disk or resource is held here. The VMs (a few strings each) and their power
    /// states are read first, side by side with the disk list; disk pages that arrive before
    /// them wait, the others are classified at once. OS disks of VMs the status list did not
    /// cover come last, after one instance view per such VM.
    pub async fn discover_each(
        &self,
        account: &str,
        resource_groups: &[String],
        overrides: &[MappingOverride],
        emit: &mut (dyn FnMut(DiscoveredResource) + Send),
    ) -> Result<(), ArmError> {
        let stage = parking_lot::Mutex::new(DiskStage {
            classifier: None,
            waiting: Vec::new(),
            needs_power: Vec::new(),
            emit,
        });
        // Disks cannot be classified before the VMs and their power states are known; until
        // then the disk list is read only as far as DISKS_WAITING_AT_MOST ahead.
        let classifiable = tokio::sync::Notify::new();
        let pace = || async {
            loop {
                // Registered before the look, so that a wake-up between the two is not missed.
                let woken = classifiable.notified();
                {
                    let s = stage.lock();
                    if s.classifier.is_some() || s.waiting.len() < DISKS_WAITING_AT_MOST {
                        return;
                    }
                }
                woken.await;
            }
        };
        let disks = async {
            for rg in resource_groups {
                self.for_each_page_paced(
                    self.disk_list_url(rg),
                    "the disk list",
                    |page: Vec<Disk>| {
                        stage
                            .lock()
                            .take(page.into_iter().map(|d| DiskFacts::new(d, account)))
                    },
                    pace,
                )
                .await?;
            }
            Ok::<_, ArmError>(())
        };
        let vms = async {
            let mut vms = VmsByKey::default();
            for rg in resource_groups {
                self.for_each_page(
                    self.vm_list_url(rg),
                    "the VM list",
                    |page: Vec<VirtualMachine>| {
                        vms.extend(page.into_iter().map(|v| VmFacts::new(v, account)))
                    },
                )
                .await?;
            }
            Ok::<_, ArmError>(vms)
        };
        // Every VM's of the subscription, before the account's are known: a key and a state each
        // (kept for the listed VMs only, see `Classifier::new`).
        let statuses = async {
            let mut seen = Statuses::default();
            let listed = self
                .for_each_vm_status(|page| {
                    for v in page {
                        if let (Some(key), Some(p)) = (key_of(&v.id), v.power_state()) {
                            seen.insert(&key, p);
                        }
                    }
                })
                .await;
            (listed, seen)
        };
        let ready = async {
            let (vms, statuses) = tokio::join!(vms, statuses);
            let vms = vms?;
            let power = match statuses {
                (Ok(()), seen) => seen,
                // A principal allowed to read only its resource groups may be refused the
                // subscription's list: every VM's instance view is read instead.
                (
                    Err(ArmError::Api {
                        status,
                        ref message,
                        ..
                    }),
                    _,
                ) if (400..500).contains(&status) && status != 429 => {
                    tracing::info!(
                        status,
                        %message,
                        "the subscription's VM status list was refused; reading each VM's instance view"
                    );
                    Statuses::default()
                }
                (Err(e), _) => return Err(e),
            };
            {
                let mut s = stage.lock();
                s.classifier = Some(Classifier::keyed(account, vms, power, overrides));
                let waiting = std::mem::take(&mut s.waiting);
                s.take(waiting);
            }
            classifiable.notify_waiters();
            Ok::<_, ArmError>(())
        };
        // The first failure ends both: a disk list waiting for VMs that will never be known
        // must not wait for ever.
        tokio::try_join!(disks, ready)?;
        let DiskStage {
            classifier,
            needs_power,
            emit,
            ..
        } = stage.into_inner();
        let Some(mut classifier) = classifier else {
            return Ok(());
        };
        if needs_power.is_empty() {
            return Ok(());
        }
        // VMs the status list did not cover (created since, or an ARM that answers the list
        // without statuses): one instance view each.
        let rest: Vec<String> = needs_power
            .iter()
            .map(|(_, k)| k.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        tracing::debug!(
            vms = rest.len(),
            "reading instance views of VMs the status list did not cover"
        );
        for chunk in rest.chunks(PARALLEL_READS) {
            let mut set = tokio::task::JoinSet::new();
            for key in chunk {
                // The key is the VM's id in lower case, which ARM reads as the id.
                let Ok(id) = ResourceId::parse(key) else {
                    continue;
                };
                let c = self.clone();
                let key = key.clone();
                set.spawn(async move {
                    let p = c.power_state(&id).await;
                    (key, p)
                });
            }
            while let Some(joined) = set.join_next().await {
                let (key, p) = joined.map_err(|e| ArmError::decode("an instance view", e))?;
                let p = p?;
                if let Some(k) = classifier.vms.ids.find(&key) {
                    if let Some(v) = classifier.vms.vms.get_mut(&k) {
                        v.power = Some(p);
                    }
                }
            }
        }
        for (d, _) in needs_power {
            if let Classified::Resource(r) = classifier.disk(d, false) {
                emit(*r);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk(name: &str, tags: &[(&str, &str)], managed_by: Option<&str>) -> Disk {
        let mut d = Disk {
            id: format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{name}"),
            name: name.into(),
            location: "West Europe".into(),
            managed_by: managed_by.map(|v| {
                format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{v}")
            }),
            ..Disk::default()
        };
        d.properties.disk_size_gb = Some(64);
        d.tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        d
    }

    fn vm(name: &str, os: &str, tags: &[(&str, &str)]) -> VirtualMachine {
        serde_json::from_value(serde_json::json!({
            // ARM answers may lack the leading slash and differ in case.
            "id": format!("SUBSCRIPTIONS/s/resourcegroups/RG/providers/Microsoft.Compute/virtualMachines/{name}"),
            "name": name,
            "location": "westeurope",
            "tags": tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tags>(),
            "properties": {"storageProfile": {"osDisk": {"managedDisk": {
                "id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/{os}")
            }}}},
        }))
        .unwrap()
    }

    #[test]
    fn an_untagged_os_disk_takes_its_vms_tags_and_overrides_bring_in_untagged_disks() {
        let vms = [vm(
            "desk-1",
            "desk-1-os",
            &[
                ("Frame.Account", "acme"),
                ("frame.role", "persistent-desktop"),
                ("frame.owner", "a@x"),
                ("frame.desktop-state", "assigned"),
            ],
        )];
        let disks = [
            disk("desk-1-os", &[], Some("desk-1")),
            disk("stray", &[], None),
            disk(
                "tpl",
                &[("frame.account", "acme"), ("frame.role", "template-image")],
                None,
            ),
            disk(
                "other",
                &[("frame.account", "zeta"), ("frame.role", "sandbox")],
                None,
            ),
        ];
        let power: HashMap<String, AzPower> = [(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/desk-1"
                .to_string(),
            AzPower::Deallocated,
        )]
        .into();
        let disks: Vec<DiskFacts> = disks
            .into_iter()
            .map(|d| DiskFacts::new(d, "acme"))
            .collect();
        let vms: Vec<VmFacts> = vms.into_iter().map(|v| VmFacts::new(v, "acme")).collect();
        let found = classify("acme", disks.clone(), &vms, &power, &[]);
        assert_eq!(found.len(), 2);
        let desk = &found[0];
        assert_eq!(
            (desk.kind, desk.name.as_str()),
            (ResourceKind::PersistentDesktop, "desk-1")
        );
        assert_eq!(desk.owner.as_deref(), Some("a@x"));
        assert_eq!(desk.desktop_state, Some(DesktopState::Assigned));
        assert_eq!(desk.power, Some(PowerState::Off));
        assert_eq!(desk.location, "westeurope");
        assert_eq!(desk.size_bytes, (64u64 << 30) as f64);
        assert_eq!(
            found[1].not_protected_reason.as_deref(),
            Some(TEMPLATE_NOT_PROTECTED)
        );

        let overrides = [MappingOverride {
            provider_id:
                "subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/disks/STRAY".into(),
            kind: Some(ResourceKind::PersonalDrive),
            owner: Some("b@x".into()),
            exclude: false,
        }];
        let found = classify("acme", disks, &vms, &power, &overrides);
        let stray = found.iter().find(|r| r.name == "stray").unwrap();
        assert_eq!(stray.kind, ResourceKind::PersonalDrive);
        assert_eq!(stray.frame_account, "acme");
    }
}
