//! Remote sites and the handshake between the two clusters. A site is `RELATIONSHIP_ESTABLISHED`
//! only when its address reaches a running peer, the peer has a site pointing back, and every
//! vStore mapping names a local container that exists here and a remote one that exists there.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::body;
use super::error::{PrismError, PrismResult};
use super::model::{Cluster, LabState, RemoteSite};

#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    Established { peer: usize },
    NotEstablished { peer: usize, reason: String },
    Unreachable { reason: String },
}

impl Link {
    pub fn status(&self) -> &'static str {
        match self {
            Link::Established { .. } => "RELATIONSHIP_ESTABLISHED",
            Link::NotEstablished { .. } => "RELATIONSHIP_NOT_ESTABLISHED",
            Link::Unreachable { .. } => "UNREACHABLE",
        }
    }
    pub fn peer(&self) -> Option<usize> {
        match self {
            Link::Established { peer } | Link::NotEstablished { peer, .. } => Some(*peer),
            Link::Unreachable { .. } => None,
        }
    }
    pub fn is_established(&self) -> bool {
        matches!(self, Link::Established { .. })
    }
}

/// The cluster that answers at one of the site's addresses, if any.
pub fn addressed_cluster(st: &LabState, me: usize, site: &RemoteSite) -> Option<usize> {
    site.remote_ip_ports.iter().find_map(|(ip, port)| {
        let ip: IpAddr = ip.parse().ok()?;
        st.clusters.iter().enumerate().find_map(|(j, c)| {
            (j != me && c.ip == ip && c.replication_ports.contains(port)).then_some(j)
        })
    })
}

pub fn link(st: &LabState, me: usize, site: &RemoteSite) -> Link {
    let here = &st.clusters[me];
    let Some(peer) = addressed_cluster(st, me, site) else {
        let addrs: Vec<String> = site
            .remote_ip_ports
            .iter()
            .map(|(ip, port)| format!("{ip}:{port}"))
            .collect();
        return Link::Unreachable {
            reason: format!("No cluster answers at {}", addrs.join(", ")),
        };
    };
    let there = &st.clusters[peer];
    if !here.reachable || !there.reachable {
        return Link::Unreachable {
            reason: format!("Cluster {} is not reachable", there.name),
        };
    }
    let points_back = there
        .remote_sites
        .iter()
        .any(|s| addressed_cluster(st, peer, s) == Some(me));
    if !points_back {
        return Link::NotEstablished {
            peer,
            reason: format!(
                "Remote cluster {} has no remote site pointing at this cluster ({})",
                there.name, here.ip
            ),
        };
    }
    for (local, remote) in &site.vstore_name_map {
        if here.container(local).is_none() {
            return Link::NotEstablished {
                peer,
                reason: format!(
                    "vStore mapping {local} -> {remote}: local container {local} does not exist"
                ),
            };
        }
        if there.container(remote).is_none() {
            return Link::NotEstablished {
                peer,
                reason: format!(
                    "vStore mapping {local} -> {remote}: container {remote} does not exist on remote cluster {}",
                    there.name
                ),
            };
        }
    }
    Link::Established { peer }
}

pub fn render(st: &LabState, me: usize, site: &RemoteSite) -> Value {
    let l = link(st, me, site);
    let cl = &st.clusters[me];
    let mut stats = Map::new();
    match &l {
        Link::NotEstablished { reason, .. } | Link::Unreachable { reason } => {
            stats.insert("status_detail".into(), json!(reason));
        }
        Link::Established { .. } => {}
    }
    let links: Vec<Value> = cl
        .replications
        .iter()
        .filter(|r| r.remote_site == site.name)
        .map(|r| {
            json!({
                "id": r.id.to_string(),
                "protection_domain_name": r.protection_domain,
                "remote_site_name": r.remote_site,
                "current_replicating_snapshot_id": r.snapshot_id.to_string(),
                "current_replicating_snapshot_total_bytes": r.total_bytes,
                "current_replicating_snapshot_transmitted_bytes": r.done_bytes,
                "last_replication_start_time_in_usecs": r.started_usecs.unwrap_or(r.created_usecs),
            })
        })
        .collect();
    let mut v = json!({
        "uuid": site.uuid,
        "name": site.name,
        "remote_ip_ports": site.remote_ip_ports,
        "vstore_name_map": site.vstore_name_map,
        "bandwidth_policy_enabled": site.bandwidth_policy_enabled,
        "compression_enabled": site.compression_enabled,
        "capabilities": site.capabilities,
        "proxy_enabled": site.proxy_enabled,
        "ssh_enabled": site.ssh_enabled,
        "marked_for_removal": false,
        "metro_ready": false,
        "cluster_arch": "x86_64",
        "cluster_type": [],
        "status": l.status(),
        "stats": stats,
        "usage_stats": {},
        "replication_links": links,
    });
    let m = v.as_object_mut().expect("object");
    if let Some(p) = &site.bandwidth_policy {
        m.insert("bandwidth_policy".into(), p.clone());
    }
    if let Some(b) = site.max_bps {
        m.insert("max_bps".into(), json!(b));
    }
    if let Some(peer) = l.peer() {
        let p = &st.clusters[peer];
        m.insert("cluster_id".into(), json!(p.cluster_id));
        m.insert("cluster_incarnation_id".into(), json!(p.incarnation_id));
    }
    if l.is_established() {
        m.insert(
            "latency_in_usecs".into(),
            json!(cl.settings.link_latency_usecs),
        );
    }
    v
}

fn names_filter(query: &[(String, String)]) -> Option<Vec<String>> {
    let names: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "names")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    (!names.is_empty()).then_some(names)
}

pub fn list(st: &LabState, me: usize, query: &[(String, String)]) -> Value {
    let filter = names_filter(query);
    super::collection(
        st.clusters[me]
            .remote_sites
            .iter()
            .filter(|s| filter.as_ref().is_none_or(|f| f.contains(&s.name)))
            .map(|s| render(st, me, s))
            .collect(),
    )
}

pub fn get(st: &LabState, me: usize, name: &str) -> PrismResult<Value> {
    let site = st.clusters[me]
        .site(name)
        .ok_or_else(|| PrismError::not_found("Remote site", name))?;
    Ok(render(st, me, site))
}

fn parse_ip_ports(m: &Map<String, Value>) -> PrismResult<Option<BTreeMap<String, u16>>> {
    let Some(o) = body::opt_object(m, "remote_ip_ports")? else {
        return Ok(None);
    };
    let mut out = BTreeMap::new();
    for (ip, port) in o {
        ip.parse::<IpAddr>().map_err(|_| {
            PrismError::bad_request(format!("remote_ip_ports: '{ip}' is not an IP address"))
        })?;
        let p = body::as_i64(port)
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| {
                PrismError::bad_request(format!(
                    "remote_ip_ports: port {port} for {ip} is not a TCP port"
                ))
            })?;
        out.insert(ip.clone(), p as u16);
    }
    if out.is_empty() {
        return Err(PrismError::bad_request(
            "remote_ip_ports must name at least one address",
        ));
    }
    Ok(Some(out))
}

/// Local container to remote container.
type VstoreMap = BTreeMap<String, String>;

fn parse_vstore_map(m: &Map<String, Value>) -> PrismResult<Option<VstoreMap>> {
    let Some(o) = body::opt_object(m, "vstore_name_map")? else {
        return Ok(None);
    };
    o.iter()
        .map(|(k, v)| match v {
            Value::String(s) if !s.is_empty() => Ok((k.clone(), s.clone())),
            other => Err(PrismError::bad_request(format!(
                "vstore_name_map: the destination for {k} must be a container name, got {other}"
            ))),
        })
        .collect::<PrismResult<_>>()
        .map(Some)
}

fn parse_bandwidth_policy(m: &Map<String, Value>) -> PrismResult<Option<Value>> {
    let Some(p) = body::opt_object(m, "bandwidth_policy")? else {
        return Ok(None);
    };
    body::req_str(p, "policy_name").map_err(|_| body::missing("bandwidth_policy.policy_name"))?;
    body::opt_u64(p, "default_bandwidth_limit")?;
    let mut policy = p.clone();
    policy
        .entry("policy_uuid")
        .or_insert_with(|| json!(Uuid::new_v4()));
    Ok(Some(Value::Object(policy)))
}

/// Applies the fields present in `m` to `site` (POST starts from defaults, PUT from the stored site).
fn apply(site: &mut RemoteSite, m: &Map<String, Value>) -> PrismResult<()> {
    if let Some(t) = body::opt_str(m, "cloud_type")? {
        body::enum_value("cloud_type", &t, &["AWS", "AZURE"])?;
        return Err(PrismError::bad_request(
            "Cloud remote sites are not available on this cluster (the lab simulates physical clusters only)",
        ));
    }
    if let Some(p) = parse_ip_ports(m)? {
        site.remote_ip_ports = p;
    }
    if let Some(v) = parse_vstore_map(m)? {
        site.vstore_name_map = v;
    }
    if let Some(p) = parse_bandwidth_policy(m)? {
        site.bandwidth_policy = Some(p);
        site.bandwidth_policy_enabled = true;
    }
    if let Some(b) = body::opt_bool(m, "bandwidth_policy_enabled")? {
        site.bandwidth_policy_enabled = b;
    }
    if let Some(b) = body::opt_u64(m, "max_bps")? {
        site.max_bps = Some(b);
    }
    if let Some(b) = body::opt_bool(m, "compression_enabled")? {
        site.compression_enabled = b;
    }
    if let Some(c) = body::opt_str_list(m, "capabilities")? {
        site.capabilities = c.iter().map(|c| c.to_ascii_uppercase()).collect();
    }
    if let Some(b) = body::opt_bool(m, "proxy_enabled")? {
        site.proxy_enabled = b;
    }
    if let Some(b) = body::opt_bool(m, "ssh_enabled")? {
        site.ssh_enabled = b;
    }
    Ok(())
}

fn check_not_self(cl: &Cluster, site: &RemoteSite) -> PrismResult<()> {
    let own = site.remote_ip_ports.iter().any(|(ip, port)| {
        ip.parse::<IpAddr>().ok() == Some(cl.ip) && cl.replication_ports.contains(port)
    });
    if own {
        return Err(PrismError::bad_request(
            "The local cluster cannot be added as its own remote site",
        ));
    }
    Ok(())
}

pub fn create(st: &mut LabState, me: usize, req: &Value) -> PrismResult<Value> {
    let m = body::object(req)?;
    let name = body::req_str(m, "name")?;
    if body::opt_object(m, "remote_ip_ports")?.is_none() {
        return Err(body::missing("remote_ip_ports"));
    }
    if st.clusters[me].site(&name).is_some() {
        return Err(PrismError::exists("Remote site", &name));
    }
    let mut site = RemoteSite {
        uuid: Uuid::new_v4(),
        name,
        remote_ip_ports: BTreeMap::new(),
        vstore_name_map: BTreeMap::new(),
        bandwidth_policy: None,
        bandwidth_policy_enabled: false,
        max_bps: None,
        compression_enabled: true,
        capabilities: vec!["BACKUP".into(), "DISASTER_RECOVERY".into()],
        proxy_enabled: false,
        ssh_enabled: false,
    };
    apply(&mut site, m)?;
    check_not_self(&st.clusters[me], &site)?;
    st.clusters[me].remote_sites.push(site.clone());
    Ok(render(st, me, &site))
}

pub fn update(st: &mut LabState, me: usize, req: &Value) -> PrismResult<Value> {
    let m = body::object(req)?;
    let name = body::req_str(m, "name")?;
    let mut site = st.clusters[me]
        .site(&name)
        .cloned()
        .ok_or_else(|| PrismError::not_found("Remote site", &name))?;
    apply(&mut site, m)?;
    check_not_self(&st.clusters[me], &site)?;
    let cl = &mut st.clusters[me];
    let slot = cl
        .remote_sites
        .iter_mut()
        .find(|s| s.name == name)
        .expect("site exists");
    *slot = site.clone();
    Ok(render(st, me, &site))
}

pub fn delete(st: &mut LabState, me: usize, name: &str) -> PrismResult<Value> {
    let cl = &mut st.clusters[me];
    if cl.site(name).is_none() {
        return Err(PrismError::not_found("Remote site", name));
    }
    if cl.replications.iter().any(|r| r.remote_site == name) {
        return Err(PrismError::invalid_state(format!(
            "Remote site {name} has replications in progress"
        )));
    }
    if let Some(pd) = cl.protection_domains.iter().find(|p| {
        p.cron_schedules
            .iter()
            .any(|s| s.retention.remote_max_snapshots.contains_key(name))
    }) {
        return Err(PrismError::invalid_state(format!(
            "Remote site {name} is used by a schedule of protection domain {}",
            pd.name
        )));
    }
    cl.remote_sites.retain(|s| s.name != name);
    Ok(json!({ "value": true }))
}
