//! The backend of the AHV disaster-recovery wizard: containers on both clusters, the remote sites
//! in both directions with their vStore mappings, Test connection, and the account's protection
//! domain.
//!
//! Every result is structured (serde + specta) so that the window can show each check with the
//! words an administrator can act on.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::client::PrismClient;
use super::error::PrismError;
use super::protection::ProtectEntities;
use super::remote_sites::RemoteSiteSpec;
use super::types::{RemoteSite, RemoteSiteStatus, StorageContainer};
use crate::error::{ApiError, ErrorCode};
use crate::inventory::{DiscoveredResource, ResourceKind};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Prism(#[from] PrismError),
    /// The plan itself is wrong (a container that does not exist, no mapping, ...).
    #[error("{0}")]
    Invalid(String),
}

impl From<SetupError> for ApiError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Prism(p) => p.into(),
            SetupError::Invalid(m) => ApiError::new(ErrorCode::InvalidInput, m),
        }
    }
}

/// A container the wizard offers for the vStore mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ContainerChoice {
    pub name: String,
    pub uuid: String,
    pub capacity_bytes: Option<f64>,
    pub free_bytes: Option<f64>,
    /// `NutanixManagementShare` and the like: never where Frame's resources live.
    pub nutanix_managed: bool,
    /// Remote site name to the remote container it is mapped to already.
    pub mapped: BTreeMap<String, String>,
}

impl From<&StorageContainer> for ContainerChoice {
    fn from(c: &StorageContainer) -> Self {
        Self {
            name: c.name.clone(),
            uuid: c.storage_container_uuid.clone(),
            capacity_bytes: c.capacity_bytes().map(|b| b as f64),
            free_bytes: c.free_bytes().map(|b| b as f64),
            nutanix_managed: c.is_nutanix_managed.unwrap_or(false),
            mapped: c.mapped_remote_containers.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct BothClusterContainers {
    pub primary: Vec<ContainerChoice>,
    pub secondary: Vec<ContainerChoice>,
}

pub async fn list_containers(
    primary: &PrismClient,
    secondary: &PrismClient,
) -> Result<BothClusterContainers, PrismError> {
    let (p, s) = tokio::try_join!(primary.storage_containers(), secondary.storage_containers())?;
    Ok(BothClusterContainers {
        primary: p.iter().map(ContainerChoice::from).collect(),
        secondary: s.iter().map(ContainerChoice::from).collect(),
    })
}

/// One row of the vStore mapping: a container on the sending cluster to one on the receiving one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct VstoreMapping {
    pub source: String,
    pub destination: String,
}

/// One side of the pair of clusters, as the wizard knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SiteEnd {
    /// The name of the remote site created on the *other* cluster to point at this one.
    pub site_name: String,
    /// This cluster's address as the other cluster reaches it (its external or a CVM address).
    pub address: String,
    /// The replication port the other cluster connects to (2020 by default).
    pub port: u16,
}

/// What the wizard asks for to join the two clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RemoteSitePlan {
    pub primary: SiteEnd,
    pub secondary: SiteEnd,
    /// Primary container to secondary container; several may share a destination.
    pub mappings: Vec<VstoreMapping>,
    /// Secondary to primary, for restores back to the primary; when empty, the inverse of
    /// `mappings` (for a destination shared by several sources, the first of them).
    pub reverse_mappings: Vec<VstoreMapping>,
    /// Bytes per second (numbers cross to the window as doubles).
    #[specta(type = Option<f64>)]
    pub bandwidth_limit_bytes_per_sec: Option<u64>,
    pub compression: bool,
}

impl RemoteSitePlan {
    fn reverse(&self) -> Vec<VstoreMapping> {
        if !self.reverse_mappings.is_empty() {
            return self.reverse_mappings.clone();
        }
        let mut seen = BTreeSet::new();
        self.mappings
            .iter()
            .filter(|m| seen.insert(m.destination.clone()))
            .map(|m| VstoreMapping {
                source: m.destination.clone(),
                destination: m.source.clone(),
            })
            .collect()
    }
}

/// A remote site's `vstore_name_map`: local container to remote container.
type VstoreMap = BTreeMap<String, String>;

fn to_map(mappings: &[VstoreMapping]) -> Result<VstoreMap, SetupError> {
    let mut out = BTreeMap::new();
    for m in mappings {
        if let Some(prev) = out.insert(m.source.clone(), m.destination.clone()) {
            if prev != m.destination {
                return Err(SetupError::Invalid(format!(
                    "container {} is mapped twice ({prev} and {}): a source container maps to one destination",
                    m.source, m.destination
                )));
            }
        }
    }
    Ok(out)
}

fn check_containers(
    mappings: &[VstoreMapping],
    from: &[StorageContainer],
    from_name: &str,
    to: &[StorageContainer],
    to_name: &str,
) -> Result<(), SetupError> {
    for m in mappings {
        if !from.iter().any(|c| c.name == m.source) {
            return Err(SetupError::Invalid(format!(
                "container {} does not exist on the {from_name} cluster",
                m.source
            )));
        }
        if !to.iter().any(|c| c.name == m.destination) {
            return Err(SetupError::Invalid(format!(
                "container {} does not exist on the {to_name} cluster",
                m.destination
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SiteOutcome {
    pub cluster: String,
    pub site_name: String,
    /// `created`, `updated` (existed with other settings) or `unchanged`.
    pub action: String,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RemoteSitesResult {
    pub on_primary: SiteOutcome,
    pub on_secondary: SiteOutcome,
}

/// Creates (or brings up to date) the site on the primary pointing at the secondary and the
/// reverse one on the secondary.
pub async fn setup_remote_sites(
    primary: &PrismClient,
    secondary: &PrismClient,
    plan: &RemoteSitePlan,
) -> Result<RemoteSitesResult, SetupError> {
    if plan.mappings.is_empty() {
        return Err(SetupError::Invalid(
            "map at least one primary container (where the account's resources are) to a secondary container".into(),
        ));
    }
    let (pc, sc) = tokio::try_join!(primary.storage_containers(), secondary.storage_containers())?;
    let reverse = plan.reverse();
    check_containers(&plan.mappings, &pc, "primary", &sc, "secondary")?;
    check_containers(&reverse, &sc, "secondary", &pc, "primary")?;
    let forward = RemoteSiteSpec {
        name: plan.secondary.site_name.clone(),
        remote_ip_ports: BTreeMap::from([(plan.secondary.address.clone(), plan.secondary.port)]),
        vstore_name_map: to_map(&plan.mappings)?,
        bandwidth_limit_bytes_per_sec: plan.bandwidth_limit_bytes_per_sec,
        compression: plan.compression,
    };
    let backward = RemoteSiteSpec {
        name: plan.primary.site_name.clone(),
        remote_ip_ports: BTreeMap::from([(plan.primary.address.clone(), plan.primary.port)]),
        vstore_name_map: to_map(&reverse)?,
        bandwidth_limit_bytes_per_sec: plan.bandwidth_limit_bytes_per_sec,
        compression: plan.compression,
    };
    let on_primary = ensure_site(primary, "primary", &forward).await?;
    let on_secondary = ensure_site(secondary, "secondary", &backward).await?;
    Ok(RemoteSitesResult {
        on_primary,
        on_secondary,
    })
}

async fn ensure_site(
    client: &PrismClient,
    cluster: &str,
    spec: &RemoteSiteSpec,
) -> Result<SiteOutcome, PrismError> {
    let (site, action) = match client.find_remote_site(&spec.name).await? {
        None => (client.create_remote_site(spec).await?, "created"),
        Some(s)
            if s.remote_ip_ports == spec.remote_ip_ports
                && s.vstore_name_map == spec.vstore_name_map
                && s.compression_enabled == Some(spec.compression)
                && s.bandwidth_policy_enabled.unwrap_or(false)
                    == spec.bandwidth_limit_bytes_per_sec.is_some() =>
        {
            (s, "unchanged")
        }
        Some(_) => (client.update_remote_site(spec).await?, "updated"),
    };
    Ok(SiteOutcome {
        cluster: cluster.to_string(),
        site_name: spec.name.clone(),
        action: action.to_string(),
        status: site.status.map(|s| s.to_string()),
    })
}

pub use crate::model::Check;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ConnectionTest {
    pub ok: bool,
    pub checks: Vec<Check>,
}

/// What Test connection looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ConnectionTestSpec {
    /// The site on the primary that points at the secondary.
    pub primary_site: String,
    /// The site on the secondary that points back at the primary.
    pub secondary_site: String,
    /// Ports to reach on the secondary's addresses besides the site's own (tcp/2009 and tcp/2020).
    pub secondary_ports: Vec<u16>,
    /// Ports to reach on the primary's addresses besides the reverse site's own.
    pub primary_ports: Vec<u16>,
    /// Primary containers that hold the account's resources: each must be mapped.
    pub account_containers: Vec<String>,
    pub tcp_timeout_ms: u32,
}

impl ConnectionTestSpec {
    pub fn new(primary_site: &str, secondary_site: &str) -> Self {
        Self {
            primary_site: primary_site.to_string(),
            secondary_site: secondary_site.to_string(),
            secondary_ports: super::remote_sites::DEFAULT_PORTS.to_vec(),
            primary_ports: super::remote_sites::DEFAULT_PORTS.to_vec(),
            account_containers: Vec::new(),
            tcp_timeout_ms: 3000,
        }
    }
}

/// The containers an account's protected resources live in (what the vStore mapping must cover).
pub fn account_containers(resources: &[DiscoveredResource]) -> Vec<String> {
    let set: BTreeSet<String> = resources
        .iter()
        .filter(|r| r.kind.is_protected() && !r.location.is_empty())
        .map(|r| r.location.clone())
        .collect();
    set.into_iter().collect()
}

/// Test connection: each site's status and latency as its cluster sees it, a TCP connect from
/// this computer to every replication address, and every account container mapped to a
/// container that exists on the secondary. Failures are checks with `ok: false`, not errors;
/// an error means a cluster could not be asked at all.
pub async fn test_connection(
    primary: &PrismClient,
    secondary: &PrismClient,
    spec: &ConnectionTestSpec,
) -> Result<ConnectionTest, PrismError> {
    let mut checks = Vec::new();
    let p_site = primary.find_remote_site(&spec.primary_site).await?;
    let s_site = secondary.find_remote_site(&spec.secondary_site).await?;
    checks.push(site_check(
        "Remote site on the primary",
        "primary",
        "secondary",
        &spec.primary_site,
        p_site.as_ref(),
    ));
    checks.push(site_check(
        "Remote site on the secondary",
        "secondary",
        "primary",
        &spec.secondary_site,
        s_site.as_ref(),
    ));
    let timeout = Duration::from_millis(u64::from(spec.tcp_timeout_ms.max(100)));
    for (site, extra, towards) in [
        (&p_site, &spec.secondary_ports, "secondary"),
        (&s_site, &spec.primary_ports, "primary"),
    ] {
        let Some(site) = site else { continue };
        for (ip, port) in &site.remote_ip_ports {
            let mut ports: BTreeSet<u16> = extra.iter().copied().collect();
            ports.insert(*port);
            for p in ports {
                checks.push(tcp_check(ip, p, towards, timeout).await);
            }
        }
    }
    if let Some(site) = &p_site {
        let secondary_containers = secondary.storage_containers().await?;
        checks.extend(mapping_checks(
            site,
            &spec.account_containers,
            &secondary_containers,
        ));
    }
    Ok(ConnectionTest {
        ok: checks.iter().all(|c| c.ok),
        checks,
    })
}

fn site_check(
    name: &str,
    here: &str,
    there: &str,
    site_name: &str,
    site: Option<&RemoteSite>,
) -> Check {
    let Some(site) = site else {
        return Check {
            name: name.to_string(),
            ok: false,
            detail: format!(
                "The {here} cluster has no remote site named {site_name}: add the {there} cluster as a remote site on the {here} cluster (both directions are needed)."
            ),
        };
    };
    let reason = site
        .status_detail()
        .map(|d| format!(" The cluster says: {d}."))
        .unwrap_or_default();
    let addrs = site
        .remote_ip_ports
        .iter()
        .map(|(ip, p)| format!("{ip}:{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    let (ok, detail) = match &site.status {
        Some(RemoteSiteStatus::RelationshipEstablished) => (
            true,
            match site.latency_in_usecs {
                Some(us) => format!(
                    "{site_name}: relationship established, latency {:.2} ms.",
                    us as f64 / 1000.0
                ),
                None => format!("{site_name}: relationship established."),
            },
        ),
        Some(RemoteSiteStatus::Unreachable) => (
            false,
            format!(
                "{site_name}: the {here} cluster cannot reach the {there} cluster at {addrs}.{reason} Check the address, that the {there} cluster is up, and that tcp/2009 and tcp/2020 are open between the clusters."
            ),
        ),
        Some(RemoteSiteStatus::RelationshipNotEstablished) => (
            false,
            format!(
                "{site_name}: the {there} cluster answers but the relationship is not established.{reason} Make sure the {there} cluster has a remote site pointing back at the {here} cluster and that every vStore mapping names containers that exist on both clusters."
            ),
        ),
        Some(other) => (
            false,
            format!("{site_name}: status {other}.{reason} Wait a minute and test again; if it stays so, look at the remote site in Prism."),
        ),
        None => (
            false,
            format!("{site_name}: the cluster reports no status for this site.{reason}"),
        ),
    };
    Check {
        name: name.to_string(),
        ok,
        detail,
    }
}

async fn tcp_check(ip: &str, port: u16, towards: &str, timeout: Duration) -> Check {
    let name = format!("TCP {ip}:{port} ({towards})");
    let target = format!("{}:{port}", bracket(ip));
    let result = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&target)).await;
    let (ok, detail) = match result {
        Ok(Ok(_)) => (true, format!("{target} accepts connections from this computer.")),
        Ok(Err(e)) => (
            false,
            format!(
                "{target} refused or failed ({e}): the replication port is closed or filtered; open tcp/{port} to the {towards} cluster."
            ),
        ),
        Err(_) => (
            false,
            format!(
                "{target} did not answer within {} ms: a firewall may drop tcp/{port}, or the address is wrong.",
                timeout.as_millis()
            ),
        ),
    };
    Check { name, ok, detail }
}

fn bracket(ip: &str) -> String {
    if ip.contains(':') && !ip.starts_with('[') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

fn mapping_checks(
    site: &RemoteSite,
    account_containers: &[String],
    secondary: &[StorageContainer],
) -> Vec<Check> {
    let mut out = Vec::new();
    for (src, dst) in &site.vstore_name_map {
        if !secondary.iter().any(|c| &c.name == dst) {
            out.push(Check {
                name: format!("vStore mapping {src} → {dst}"),
                ok: false,
                detail: format!(
                    "{dst} does not exist on the secondary cluster: pick an existing container for {src}."
                ),
            });
        }
    }
    for c in account_containers {
        let (ok, detail) = match site.vstore_name_map.get(c) {
            Some(dst) => (true, format!("{c} is mapped to {dst} on the secondary.")),
            None => (
                false,
                format!(
                    "Container {c} holds resources of the account but is not mapped on remote site {}: add a vStore mapping from {c} to a container of the secondary cluster, or its backups cannot be replicated.",
                    site.name
                ),
            ),
        };
        out.push(Check {
            name: format!("Container {c} mapped"),
            ok,
            detail,
        });
    }
    out
}

/// The protection domain Standby uses for an account.
pub fn protection_domain_name(account: &str) -> String {
    let clean: String = account
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("standby-{clean}");
    name.truncate(75);
    name
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProtectionResult {
    pub protection_domain: String,
    /// False when an existing domain of that name was adopted.
    pub created: bool,
    /// Every VM the domain protects after this call, read back from the cluster (what this call
    /// added, what was there already, and anything else the domain held before).
    pub protected_vms: u32,
    /// Every volume group the domain protects after this call, read back likewise.
    pub protected_volume_groups: u32,
    /// Of the account's VMs asked for, those this call added to the domain.
    pub newly_protected_vms: u32,
    /// Of the account's volume groups asked for, those this call added to the domain.
    pub newly_protected_volume_groups: u32,
    /// Of the account's VMs asked for, those the domain held before this call.
    pub already_protected_vms: u32,
    /// Of the account's volume groups asked for, those the domain held before this call.
    pub already_protected_volume_groups: u32,
    pub skipped: Vec<Skipped>,
}

/// Creates the account's protection domain (or adopts the existing one) and protects every
/// persistent resource in `resources` (template images and resources another domain already
/// protects are skipped, with the reason). The domain is read back afterwards: a wanted entity
/// missing from it is an error naming it, never a success.
pub async fn ensure_protection(
    primary: &PrismClient,
    account: &str,
    resources: &[DiscoveredResource],
) -> Result<ProtectionResult, PrismError> {
    let name = protection_domain_name(account);
    let all = primary.protection_domains().await?;
    let mut owner: HashMap<String, String> = HashMap::new();
    for pd in all.iter().filter(|p| p.name != name) {
        for v in &pd.vms {
            if let Some(id) = &v.vm_id {
                owner.insert(id.clone(), pd.name.clone());
            }
        }
        for g in &pd.volume_groups {
            if let Some(id) = &g.volume_group_uuid {
                owner.insert(id.clone(), pd.name.clone());
            }
        }
    }
    let created = !all.iter().any(|p| p.name == name);
    if created {
        primary.create_protection_domain(&name).await?;
    }
    let mut want = ProtectEntities::default();
    let mut skipped = Vec::new();
    for r in resources {
        if let Some(reason) = &r.not_protected_reason {
            skipped.push(Skipped {
                name: r.name.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        if let Some(other) = owner.get(&r.provider_id) {
            skipped.push(Skipped {
                name: r.name.clone(),
                reason: format!(
                    "already protected by protection domain {other}; an entity can be in only one protection domain: remove it there first"
                ),
            });
            continue;
        }
        match r.kind {
            ResourceKind::EnterpriseProfile | ResourceKind::PersonalDrive => {
                want.volume_group_uuids.push(r.provider_id.clone())
            }
            _ => want.vm_uuids.push(r.provider_id.clone()),
        }
    }
    // What the domain held before this call (nothing if it was just created).
    let before = all
        .iter()
        .find(|p| p.name == name)
        .map(|p| want.missing_from(p))
        .unwrap_or_else(|| want.clone());
    if !want.is_empty() {
        primary.protect(&name, &want).await?;
    }
    // Whatever `protect` answered, the cluster's own list is what counts.
    let pd = primary.protection_domain(&name).await?;
    let missing = want.missing_from(&pd);
    if !missing.is_empty() {
        let named = |uuids: &[String]| -> Vec<String> {
            uuids
                .iter()
                .map(|u| {
                    resources
                        .iter()
                        .find(|r| &r.provider_id == u)
                        .map(|r| format!("{} ({u})", r.name))
                        .unwrap_or_else(|| u.clone())
                })
                .collect()
        };
        let mut parts = Vec::new();
        if !missing.vm_uuids.is_empty() {
            parts.push(format!("VMs {}", named(&missing.vm_uuids).join(", ")));
        }
        if !missing.volume_group_uuids.is_empty() {
            parts.push(format!(
                "volume groups {}",
                named(&missing.volume_group_uuids).join(", ")
            ));
        }
        return Err(PrismError::Decode {
            context: format!("protecting the account's resources in {name}"),
            message: format!(
                "after protecting, protection domain {name} does not hold {}",
                parts.join("; ")
            ),
        });
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let newly_vms = count(before.vm_uuids.len());
    let newly_vgs = count(before.volume_group_uuids.len());
    Ok(ProtectionResult {
        protection_domain: name,
        created,
        protected_vms: count(pd.vms.len()),
        protected_volume_groups: count(pd.volume_groups.len()),
        newly_protected_vms: newly_vms,
        newly_protected_volume_groups: newly_vgs,
        already_protected_vms: count(want.vm_uuids.len()).saturating_sub(newly_vms),
        already_protected_volume_groups: count(want.volume_group_uuids.len())
            .saturating_sub(newly_vgs),
        skipped,
    })
}
