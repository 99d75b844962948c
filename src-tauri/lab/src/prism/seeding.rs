//! Turning a `ClusterSpec` and its Frame account into a cluster's first state.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use super::model::{Cluster, Container, Counters, Disk, Guest, Settings, Vm, VolumeGroup};
use super::ClusterSpec;
use crate::seed::{self, Account, DesktopState, Role};

pub const GIB: u64 = 1024 * 1024 * 1024;
const TIB: u64 = 1024 * GIB;

/// The secondary cluster's container for VM disks, as in the Frame DR document's example mapping.
pub const SECONDARY_DEFAULT_CONTAINER: &str = "storage-container-112133";
/// Every AOS cluster has it; it is never a Frame container, so it tests that clients choose.
pub const MANAGEMENT_CONTAINER: &str = "NutanixManagementShare";

/// The second Frame account (`acme-dr`, 8 users) the default lab seeds on the secondary cluster:
/// three of its users share e-mails with `primary`'s first three users, so that cloning volumes
/// between accounts meets owners who already have an assigned desktop at the destination. Its VM
/// disks live in the secondary's own default container.
pub fn dr_account(primary: &Account) -> Account {
    let mut dr = Account::generate("acme-dr", 8, 11);
    for i in 0..3.min(primary.users.len()) {
        let old = dr.users[i].email.clone();
        dr.users[i] = primary.users[i].clone();
        for r in dr.resources.iter_mut() {
            if r.owner.as_deref() == Some(old.as_str()) {
                r.owner = Some(primary.users[i].email.clone());
            }
        }
    }
    for r in dr.resources.iter_mut() {
        if r.container == seed::DEFAULT_CONTAINER {
            r.container = SECONDARY_DEFAULT_CONTAINER.to_string();
        }
    }
    dr
}

/// Stable per cluster, so that a lab started twice without saved state shows the same uuids.
struct Ids(ChaCha8Rng);

impl Ids {
    fn new(cluster: &str) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        cluster.hash(&mut h);
        Self(ChaCha8Rng::seed_from_u64(h.finish()))
    }
    fn uuid(&mut self) -> Uuid {
        let mut b = [0u8; 16];
        self.0.fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }
}

pub fn cluster(spec: &ClusterSpec) -> Cluster {
    let mut ids = Ids::new(&spec.name);
    let uuid = ids.uuid();
    let cluster_id: i64 = ids.0.random_range(1_000_000_000_000..9_000_000_000_000);
    let incarnation_id: i64 = ids
        .0
        .random_range(1_500_000_000_000_000..1_700_000_000_000_000);
    let host_uuid = ids.uuid();

    let resources: &[seed::Resource] = spec
        .account
        .as_ref()
        .map(|a| a.resources.as_slice())
        .unwrap_or(&[]);
    let mut names: BTreeSet<String> = resources.iter().map(|r| r.container.clone()).collect();
    if names.is_empty() {
        names.insert(format!("default-container-{}", cluster_id % 100_000));
    }
    names.insert(seed::SELF_SERVICE_CONTAINER.to_string());
    names.insert(MANAGEMENT_CONTAINER.to_string());
    let containers = names
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let provisioned: u64 = resources
                .iter()
                .filter(|r| r.container == name)
                .map(|r| r.size_gib * GIB)
                .sum();
            let floor = if name == MANAGEMENT_CONTAINER {
                TIB
            } else {
                40 * TIB
            };
            Container {
                uuid: ids.uuid(),
                id: format!("{uuid}::{}", 1000 + i),
                max_capacity: floor.max(provisioned * 3 / 2),
                other_used_bytes: if name == MANAGEMENT_CONTAINER {
                    3 * GIB
                } else {
                    60 * GIB
                },
                name,
            }
        })
        .collect();

    let mut vms = Vec::new();
    let mut volume_groups = Vec::new();
    let mut logical = 0;
    let mut powered_desktops = 0usize;
    if let Some(account) = &spec.account {
        for r in account.resources.iter().filter(|r| r.role.is_vm()) {
            logical += 1;
            let (memory_mb, num_vcpus) = match r.role {
                Role::UtilityServer => (16_384, 4),
                Role::Sandbox | Role::TemplateImage => (8_192, 4),
                _ => (8_192, 2),
            };
            let mut guest = Guest::default();
            // Half of the running assigned desktops have their user in a session at start.
            if r.powered_on && r.desktop_state == Some(DesktopState::Assigned) {
                powered_desktops += 1;
                if powered_desktops % 2 == 1 {
                    guest.in_session = true;
                    guest.session_user = r.owner.clone();
                }
            }
            vms.push(Vm {
                uuid: ids.uuid(),
                name: r.name.clone(),
                description: r.description(&account.name),
                power_on: r.powered_on,
                memory_mb,
                num_vcpus,
                disk: Disk {
                    uuid: ids.uuid(),
                    size_bytes: r.size_gib * GIB,
                    used_bytes: r.used_gib * GIB,
                    container: r.container.clone(),
                    generation: 1,
                },
                logical_timestamp: logical,
                guest,
            });
        }
        for r in account.resources.iter().filter(|r| !r.role.is_vm()) {
            logical += 1;
            let attached_vm = r.owner.as_ref().and_then(|o| {
                account
                    .resources
                    .iter()
                    .find(|d| {
                        d.role == Role::PersistentDesktop
                            && d.desktop_state == Some(DesktopState::Assigned)
                            && d.owner.as_ref() == Some(o)
                    })
                    .and_then(|d| vms.iter().find(|v: &&Vm| v.name == d.name))
                    .map(|v| v.uuid)
            });
            volume_groups.push(VolumeGroup {
                uuid: ids.uuid(),
                name: r.name.clone(),
                description: r.description(&account.name),
                disks: vec![Disk {
                    uuid: ids.uuid(),
                    size_bytes: r.size_gib * GIB,
                    used_bytes: r.used_gib * GIB,
                    container: r.container.clone(),
                    generation: 1,
                }],
                attached_vm,
                logical_timestamp: logical,
                modified_usecs: 0,
            });
        }
    }

    Cluster {
        name: spec.name.clone(),
        uuid,
        cluster_id,
        incarnation_id,
        ip: spec.ip,
        replication_ports: spec.replication_ports,
        username: spec.username.clone(),
        password: spec.password.clone(),
        reachable: true,
        host_uuid,
        settings: Settings::default(),
        containers,
        vms,
        volume_groups,
        remote_sites: Vec::new(),
        protection_domains: Vec::new(),
        replications: Vec::new(),
        tasks: Vec::new(),
        counters: Counters {
            next_snapshot_id: 1000 + (cluster_id as u64 % 1000) * 10,
            next_schedule_id: 1,
            next_replication_id: 1,
            logical_timestamp: logical,
        },
        account: spec.account.as_ref().map(|a| a.name.clone()),
        sessions: Vec::new(),
    }
}
