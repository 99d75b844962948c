//! Protection domains: protecting entities, schedules, snapshots, their replication to remote sites
//! and restoring from them.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::body;
use super::error::{PrismError, PrismResult};
use super::model::{
    Cluster, CronSchedule, Effect, LabState, OobSchedule, ProtectedVg, ProtectedVm,
    ProtectionDomain, Replication, RestoreAnswer, RestoreTarget, Retention, SnapVg, SnapVm,
    Snapshot,
};
use super::remote_sites;
use super::tasks::{self, NewTask};

pub const USECS: i64 = 1_000_000;

fn pd_or_404<'a>(cl: &'a Cluster, name: &str) -> PrismResult<&'a ProtectionDomain> {
    cl.pd(name)
        .ok_or_else(|| PrismError::not_found("Protection domain", name))
}

fn pd_index(cl: &Cluster, name: &str) -> PrismResult<usize> {
    cl.protection_domains
        .iter()
        .position(|p| p.name == name)
        .ok_or_else(|| PrismError::not_found("Protection domain", name))
}

fn render_retention(r: &Retention) -> Value {
    let mut v = json!({
        "local_max_snapshots": r.local_max_snapshots,
        "remote_max_snapshots": r.remote_max_snapshots,
        "remote_retention_period": r.remote_retention_period,
    });
    let m = v.as_object_mut().expect("object");
    if r.local_max_snapshots.is_none() {
        m.remove("local_max_snapshots");
    }
    if let Some(p) = r.local_retention_period {
        m.insert("local_retention_period".into(), json!(p));
    }
    if let Some(t) = &r.local_retention_type {
        m.insert("local_retention_type".into(), json!(t));
    }
    v
}

pub fn render_schedule(pd: &str, s: &CronSchedule) -> Value {
    let mut v = json!({
        "id": s.id,
        "pd_name": pd,
        "type": s.kind,
        "every_nth": s.every_nth,
        "user_start_time_in_usecs": s.user_start_time_usecs,
        "start_times_in_usecs": [s.user_start_time_usecs],
        "timezone_offset": s.timezone_offset,
        "values": s.values,
        "app_consistent": s.app_consistent,
        "suspended": s.suspended,
        "retention_policy": render_retention(&s.retention),
    });
    if let Some(e) = s.end_time_usecs {
        v["end_time_in_usecs"] = json!(e);
    }
    v
}

fn render_pd(cl: &Cluster, pd: &ProtectionDomain) -> Value {
    let mut sites: Vec<String> = pd
        .cron_schedules
        .iter()
        .flat_map(|s| s.retention.remote_max_snapshots.keys().cloned())
        .chain(
            pd.snapshots
                .iter()
                .flat_map(|s| s.remote_site_names.iter().cloned()),
        )
        .collect();
    sites.sort();
    sites.dedup();
    let reps: Vec<&Replication> = cl
        .replications
        .iter()
        .filter(|r| r.protection_domain == pd.name)
        .collect();
    let ongoing = reps.iter().filter(|r| r.started_usecs.is_some()).count();
    let next = pd
        .cron_schedules
        .iter()
        .filter(|s| !s.suspended)
        .filter_map(super::advance::next_fire)
        .min();
    let written: u64 = pd
        .vms
        .iter()
        .filter_map(|p| cl.vm(p.uuid).map(|v| v.disk.used_bytes))
        .sum();
    let mut v = json!({
        "name": pd.name,
        "active": pd.active,
        "annotations": pd.annotations,
        "marked_for_removal": false,
        "schedules_suspended": false,
        "min_snapshot_to_retain": 0,
        "hybrid_schedules_count": 0,
        "vms": pd.vms.iter().map(|p| json!({
            "vm_name": p.name,
            "vm_id": p.uuid,
            "consistency_group": p.consistency_group,
            "app_consistent_snapshots": p.app_consistent,
            "vm_files": [],
            "related_entity_uuids": [],
            "vm_power_state_on_recovery": "POWEREDOFF",
        })).collect::<Vec<_>>(),
        "volume_groups": pd.volume_groups.iter().map(|g| json!({
            "name": g.name,
            "volume_group_uuid": g.uuid,
            "consistency_group": g.consistency_group,
            "nfs_file_paths": [],
            "related_entity_uuids": [],
        })).collect::<Vec<_>>(),
        "nfs_files": [],
        "cron_schedules": pd.cron_schedules.iter().map(|s| render_schedule(&pd.name, s)).collect::<Vec<_>>(),
        "remote_site_names": sites,
        "pending_replication_count": reps.len() - ongoing,
        "ongoing_replication_count": ongoing,
        "replication_links": [],
        "sync_replications": [],
        "total_user_written_bytes": written,
        "usage_stats": {},
        "stats": {},
    });
    if let Some(n) = next {
        v["next_snapshot_time_usecs"] = json!(n);
    }
    v
}

pub fn list(cl: &Cluster, query: &[(String, String)]) -> Value {
    let names: Vec<&str> = query
        .iter()
        .filter(|(k, _)| k == "names")
        .flat_map(|(_, v)| v.split(','))
        .collect();
    super::collection(
        cl.protection_domains
            .iter()
            .filter(|p| names.is_empty() || names.contains(&p.name.as_str()))
            .map(|p| render_pd(cl, p))
            .collect(),
    )
}

pub fn get(cl: &Cluster, name: &str) -> PrismResult<Value> {
    Ok(render_pd(cl, pd_or_404(cl, name)?))
}

pub fn new_pd(name: &str, active: bool) -> ProtectionDomain {
    ProtectionDomain {
        name: name.to_string(),
        active,
        annotations: Vec::new(),
        vms: Vec::new(),
        volume_groups: Vec::new(),
        cron_schedules: Vec::new(),
        oob_schedules: Vec::new(),
        snapshots: Vec::new(),
    }
}

pub fn create(cl: &mut Cluster, req: &Value) -> PrismResult<Value> {
    let m = body::object(req)?;
    let name = body::req_str(m, "value")?;
    if name.len() > 75
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(PrismError::bad_request(format!(
            "Invalid protection domain name '{name}': use up to 75 letters, digits, '-', '_' or '.'"
        )));
    }
    if cl.pd(&name).is_some() {
        return Err(PrismError::exists("Protection domain", &name));
    }
    let mut pd = new_pd(&name, true);
    pd.annotations = body::opt_str_list(m, "annotations")?.unwrap_or_default();
    cl.protection_domains.push(pd);
    get(cl, &name)
}

pub fn delete(cl: &mut Cluster, name: &str) -> PrismResult<Value> {
    pd_or_404(cl, name)?;
    if cl.replications.iter().any(|r| r.protection_domain == name) {
        return Err(PrismError::invalid_state(format!(
            "Protection domain {name} has replications in progress"
        )));
    }
    cl.protection_domains.retain(|p| p.name != name);
    Ok(json!({ "value": true }))
}

fn owner_pd(cl: &Cluster, uuid: Uuid) -> Option<&str> {
    cl.protection_domains
        .iter()
        .find(|p| {
            p.vms.iter().any(|v| v.uuid == uuid) || p.volume_groups.iter().any(|g| g.uuid == uuid)
        })
        .map(|p| p.name.as_str())
}

/// Whether an entity asked for by `key` may join protection domain `pd`, as Prism decides: it must
/// exist and not be protected by another domain (with `ignore_dup_or_missing_vms`, such entities
/// are skipped instead of refused). `None` means skip it.
fn admit(
    cl: &Cluster,
    found: Option<(Uuid, String)>,
    what: &str,
    key: &str,
    pd: &str,
    ignore: bool,
) -> PrismResult<Option<(Uuid, String)>> {
    let Some((uuid, name)) = found else {
        if ignore {
            return Ok(None);
        }
        return Err(PrismError::bad_request(format!(
            "{what} {key} does not exist"
        )));
    };
    match owner_pd(cl, uuid) {
        Some(other) if ignore || other == pd => Ok(None),
        Some(other) => Err(PrismError::invalid_state(format!(
            "{what} {name} is already protected by protection domain {other}"
        ))),
        None => Ok(Some((uuid, name))),
    }
}

/// `protect_vms`: `names` / `uuids` / `ids` of VMs; `volume_group_uuids` (and, leniently,
/// `volume_group_names`) of volume groups, which AOS accepts though the published spec omits them.
pub fn protect(cl: &mut Cluster, name: &str, req: &Value) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let m = body::object(req)?;
    let ignore = body::opt_bool(m, "ignore_dup_or_missing_vms")?.unwrap_or(false);
    let app = body::opt_bool(m, "app_consistent_snapshots")?.unwrap_or(false);
    let cg = body::opt_str(m, "consistency_group_name")?;
    let mut vm_keys = body::opt_str_list(m, "names")?.unwrap_or_default();
    vm_keys.extend(body::opt_str_list(m, "uuids")?.unwrap_or_default());
    vm_keys.extend(body::opt_str_list(m, "ids")?.unwrap_or_default());
    let mut vg_keys = body::opt_str_list(m, "volume_group_uuids")?.unwrap_or_default();
    vg_keys.extend(body::opt_str_list(m, "volume_group_names")?.unwrap_or_default());
    if vm_keys.is_empty() && vg_keys.is_empty() {
        return Err(PrismError::bad_request(
            "Specify the VMs to protect in 'names', 'uuids' or 'ids' (or 'volume_group_uuids')",
        ));
    }
    let mut vms = Vec::new();
    for k in &vm_keys {
        let found = cl
            .find_vm(k)
            .map(|ix| (cl.vms[ix].uuid, cl.vms[ix].name.clone()));
        let Some((uuid, vm_name)) = admit(cl, found, "VM", k, name, ignore)? else {
            continue;
        };
        if !vms.iter().any(|p: &ProtectedVm| p.uuid == uuid) {
            vms.push(ProtectedVm {
                uuid,
                consistency_group: cg.clone().unwrap_or_else(|| vm_name.clone()),
                name: vm_name,
                app_consistent: app,
            });
        }
    }
    let mut vgs = Vec::new();
    for k in &vg_keys {
        let found = cl
            .find_vg(k)
            .map(|ix| (cl.volume_groups[ix].uuid, cl.volume_groups[ix].name.clone()));
        let Some((uuid, vg_name)) = admit(cl, found, "Volume group", k, name, ignore)? else {
            continue;
        };
        if !vgs.iter().any(|p: &ProtectedVg| p.uuid == uuid) {
            vgs.push(ProtectedVg {
                uuid,
                consistency_group: cg.clone().unwrap_or_else(|| vg_name.clone()),
                name: vg_name,
            });
        }
    }
    let pd = &mut cl.protection_domains[i];
    pd.vms.extend(vms);
    pd.volume_groups.extend(vgs);
    get(cl, name)
}

/// `unprotect_vms`: a JSON array of VM names; volume group names or uuids are accepted too.
pub fn unprotect(cl: &mut Cluster, name: &str, req: &Value) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let keys: Vec<String> = match req {
        Value::Array(a) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                other => Err(PrismError::bad_request(format!(
                    "unprotect_vms expects an array of VM names, got {other}"
                ))),
            })
            .collect::<PrismResult<_>>()?,
        Value::Null => return Err(PrismError::bad_request("Request body is required")),
        other => {
            return Err(PrismError::bad_request(format!(
                "unprotect_vms expects an array of VM names, got {other}"
            )))
        }
    };
    let pd = &mut cl.protection_domains[i];
    for k in &keys {
        let before = pd.vms.len() + pd.volume_groups.len();
        pd.vms.retain(|v| v.name != *k && v.uuid.to_string() != *k);
        pd.volume_groups
            .retain(|g| g.name != *k && g.uuid.to_string() != *k);
        if before == pd.vms.len() + pd.volume_groups.len() {
            return Err(PrismError::bad_request(format!(
                "{k} is not protected by protection domain {name}"
            )));
        }
    }
    get(cl, name)
}

fn parse_retention(m: Option<&Map<String, Value>>) -> PrismResult<Retention> {
    let Some(m) = m else {
        return Ok(Retention::default());
    };
    let int_map = |field: &str| -> PrismResult<BTreeMap<String, i64>> {
        match body::opt_object(m, field)? {
            None => Ok(BTreeMap::new()),
            Some(o) => o
                .iter()
                .map(|(k, v)| {
                    body::as_i64(v).map(|n| (k.clone(), n)).ok_or_else(|| {
                        PrismError::bad_request(format!("{field}.{k}: expected integer, got {v}"))
                    })
                })
                .collect(),
        }
    };
    let local_retention_type = body::opt_str(m, "local_retention_type")?
        .map(|t| {
            body::enum_value(
                "local_retention_type",
                &t,
                &["NUM_SNAPSHOTS", "DAYS", "WEEKS", "MONTHS"],
            )
        })
        .transpose()?
        .map(str::to_string);
    let r = Retention {
        local_max_snapshots: body::opt_i64(m, "local_max_snapshots")?,
        local_retention_period: body::opt_i64(m, "local_retention_period")?,
        local_retention_type,
        remote_max_snapshots: int_map("remote_max_snapshots")?,
        remote_retention_period: int_map("remote_retention_period")?,
    };
    if r.local_max_snapshots.is_some_and(|n| n < 1) {
        return Err(PrismError::bad_request(
            "local_max_snapshots must be at least 1",
        ));
    }
    if let Some((site, n)) = r.remote_max_snapshots.iter().find(|(_, n)| **n < 1) {
        return Err(PrismError::bad_request(format!(
            "remote_max_snapshots for {site} must be at least 1, got {n}"
        )));
    }
    Ok(r)
}

pub fn schedules(cl: &Cluster, name: &str) -> PrismResult<Value> {
    let pd = pd_or_404(cl, name)?;
    Ok(Value::Array(
        pd.cron_schedules
            .iter()
            .map(|s| render_schedule(name, s))
            .collect(),
    ))
}

fn parse_schedule(
    cl: &Cluster,
    m: &Map<String, Value>,
    now: i64,
    id: String,
) -> PrismResult<CronSchedule> {
    let kind = body::enum_value(
        "type",
        &body::req_str(m, "type")?,
        &[
            "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY",
        ],
    )?;
    if kind == "SECONDLY" {
        return Err(PrismError::bad_request(
            "SECONDLY schedules are not supported for snapshots",
        ));
    }
    let every_nth = body::opt_i64(m, "every_nth")?.unwrap_or(1);
    if every_nth < 1 {
        return Err(PrismError::bad_request("every_nth must be at least 1"));
    }
    let retention = parse_retention(body::opt_object(m, "retention_policy")?)?;
    for site in retention.remote_max_snapshots.keys() {
        if cl.site(site).is_none() {
            return Err(PrismError::bad_request(format!(
                "retention_policy.remote_max_snapshots names remote site {site}, which does not exist"
            )));
        }
    }
    let start = body::opt_i64(m, "user_start_time_in_usecs")?
        .or(body::opt_array(m, "start_times_in_usecs")?
            .and_then(|a| a.first().and_then(body::as_i64)))
        .unwrap_or(now);
    let values = match body::opt_array(m, "values")? {
        None => Vec::new(),
        Some(a) => a
            .iter()
            .map(|v| {
                body::as_i64(v).ok_or_else(|| {
                    PrismError::bad_request(format!("values: expected integers, got {v}"))
                })
            })
            .collect::<PrismResult<_>>()?,
    };
    Ok(CronSchedule {
        id,
        kind: kind.to_string(),
        every_nth,
        user_start_time_usecs: start,
        end_time_usecs: body::opt_i64(m, "end_time_in_usecs")?,
        timezone_offset: body::opt_i64(m, "timezone_offset")?.unwrap_or(0),
        values,
        app_consistent: body::opt_bool(m, "app_consistent")?.unwrap_or(false),
        suspended: body::opt_bool(m, "suspended")?.unwrap_or(false),
        retention,
        last_fired_usecs: None,
    })
}

pub fn add_schedule(cl: &mut Cluster, name: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let m = body::object(req)?;
    let s = parse_schedule(cl, m, now, Uuid::new_v4().to_string())?;
    let out = render_schedule(name, &s);
    cl.protection_domains[i].cron_schedules.push(s);
    Ok(out)
}

pub fn update_schedule(
    cl: &mut Cluster,
    name: &str,
    id: &str,
    req: &Value,
    now: i64,
) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let j = cl.protection_domains[i]
        .cron_schedules
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| PrismError::not_found("Schedule", id))?;
    let m = body::object(req)?;
    let mut s = parse_schedule(cl, m, now, id.to_string())?;
    s.last_fired_usecs = cl.protection_domains[i].cron_schedules[j].last_fired_usecs;
    let out = render_schedule(name, &s);
    cl.protection_domains[i].cron_schedules[j] = s;
    Ok(out)
}

pub fn set_retention(cl: &mut Cluster, name: &str, id: &str, req: &Value) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let m = body::object(req)?;
    let r = parse_retention(Some(m))?;
    let s = cl.protection_domains[i]
        .cron_schedules
        .iter_mut()
        .find(|s| s.id == id)
        .ok_or_else(|| PrismError::not_found("Schedule", id))?;
    s.retention = r;
    Ok(render_schedule(name, s))
}

pub fn delete_schedules(cl: &mut Cluster, name: &str, id: Option<&str>) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let pd = &mut cl.protection_domains[i];
    match id {
        None => pd.cron_schedules.clear(),
        Some(id) => {
            let before = pd.cron_schedules.len();
            pd.cron_schedules.retain(|s| s.id != id);
            if before == pd.cron_schedules.len() {
                return Err(PrismError::not_found("Schedule", id));
            }
        }
    }
    Ok(json!({ "value": true }))
}

/// Entities of the PD whose containers the site does not map: replicating them would have nowhere to go.
fn unmapped_containers(cl: &Cluster, pd: &ProtectionDomain, site: &str) -> Vec<String> {
    let Some(s) = cl.site(site) else {
        return Vec::new();
    };
    let mut out: Vec<String> = pd
        .vms
        .iter()
        .filter_map(|p| cl.vm(p.uuid).map(|v| v.disk.container.clone()))
        .chain(pd.volume_groups.iter().flat_map(|p| {
            cl.volume_groups
                .iter()
                .filter(|g| g.uuid == p.uuid)
                .flat_map(|g| g.disks.iter().map(|d| d.container.clone()))
                .collect::<Vec<_>>()
        }))
        .filter(|c| !s.vstore_name_map.contains_key(c))
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn add_oob(
    st: &mut LabState,
    me: usize,
    name: &str,
    req: &Value,
    now: i64,
) -> PrismResult<Value> {
    let cl = &st.clusters[me];
    let i = pd_index(cl, name)?;
    let m = body::object(req)?;
    let sites = body::opt_str_list(m, "remote_site_names")?.unwrap_or_default();
    let pd = &cl.protection_domains[i];
    if !pd.active {
        return Err(PrismError::invalid_state(format!(
            "Protection domain {name} is inactive on this cluster; snapshots are taken on its active site"
        )));
    }
    if pd.vms.is_empty() && pd.volume_groups.is_empty() {
        return Err(PrismError::invalid_state(format!(
            "Protection domain {name} protects no entities"
        )));
    }
    for s in &sites {
        if cl.site(s).is_none() {
            return Err(PrismError::bad_request(format!(
                "Remote site {s} does not exist"
            )));
        }
        let missing = unmapped_containers(cl, pd, s);
        if !missing.is_empty() {
            return Err(PrismError::invalid_state(format!(
                "Remote site {s} has no vStore mapping for container(s) {}",
                missing.join(", ")
            )));
        }
    }
    let retention = body::opt_i64(m, "snapshot_retention_time_secs")?;
    if retention.is_some_and(|r| r <= 0) {
        return Err(PrismError::bad_request(
            "snapshot_retention_time_secs must be positive",
        ));
    }
    let delay = cl.settings.oob_snapshot_delay_secs as i64 * USECS;
    let start = body::opt_i64(m, "schedule_start_time_usecs")?
        .unwrap_or(now + delay)
        .max(now);
    let app = body::opt_bool(m, "app_consistent")?.unwrap_or(false);
    let cl = &mut st.clusters[me];
    let id = cl.counters.next_schedule_id;
    cl.counters.next_schedule_id += 1;
    cl.protection_domains[i].oob_schedules.push(OobSchedule {
        id,
        remote_site_names: sites.clone(),
        retention_secs: retention,
        start_usecs: start,
        app_consistent: app,
        fired: false,
    });
    // A snapshot due now exists on the next read, as on a real cluster a moment after the call.
    super::advance::run(st, now);
    let mut out = json!({
        "schedule_id": id,
        "remote_site_names": sites,
        "schedule_start_time_usecs": start,
        "app_consistent": app,
    });
    if let Some(r) = retention {
        out["snapshot_retention_time_secs"] = json!(r);
    }
    Ok(out)
}

pub fn oob_list(cl: &Cluster, name: &str) -> PrismResult<Value> {
    let pd = pd_or_404(cl, name)?;
    let map: Map<String, Value> = pd
        .oob_schedules
        .iter()
        .filter(|o| !o.fired)
        .map(|o| {
            (
                o.id.to_string(),
                json!({
                    "schedule_id": o.id,
                    "remote_site_names": o.remote_site_names,
                    "schedule_start_time_usecs": o.start_usecs,
                    "snapshot_retention_time_secs": o.retention_secs,
                    "app_consistent": o.app_consistent,
                }),
            )
        })
        .collect();
    Ok(json!([{ "pd_name": name, "schedule_map": map }]))
}

/// Captures the PD's entities now, and queues a replication to each site.
pub fn take_snapshot(
    cl: &mut Cluster,
    pd_ix: usize,
    at: i64,
    expiry: Option<i64>,
    oob: Option<i64>,
    cron: Option<String>,
    sites: Vec<String>,
) -> u64 {
    let pd = &cl.protection_domains[pd_ix];
    let vms: Vec<SnapVm> = pd
        .vms
        .iter()
        .filter_map(|p| cl.vm(p.uuid))
        .map(|v| SnapVm {
            uuid: v.uuid,
            name: v.name.clone(),
            description: v.description.clone(),
            memory_mb: v.memory_mb,
            num_vcpus: v.num_vcpus,
            disk: v.disk.clone(),
        })
        .collect();
    let vgs: Vec<SnapVg> = pd
        .volume_groups
        .iter()
        .filter_map(|p| cl.volume_groups.iter().find(|g| g.uuid == p.uuid))
        .map(super::inventory::snap_vg)
        .collect();
    let id = cl.counters.next_snapshot_id;
    cl.counters.next_snapshot_id += 1;
    let snap = Snapshot {
        id,
        uuid: Uuid::new_v4(),
        create_usecs: at,
        expiry_usecs: expiry,
        oob_schedule_id: oob,
        cron_schedule_id: cron,
        remote_site_names: sites.clone(),
        replicated_to: Vec::new(),
        vms,
        volume_groups: vgs,
        origin: None,
    };
    let total = snap.size_bytes();
    let pd_name = cl.protection_domains[pd_ix].name.clone();
    cl.protection_domains[pd_ix].snapshots.push(snap);
    for site in sites {
        let rid = cl.counters.next_replication_id;
        cl.counters.next_replication_id += 1;
        cl.replications.push(Replication {
            id: rid,
            protection_domain: pd_name.clone(),
            snapshot_id: id,
            remote_site: site,
            created_usecs: at,
            started_usecs: None,
            total_bytes: total,
            done_bytes: 0,
            as_of_usecs: at,
        });
    }
    id
}

pub fn render_snapshot(pd: &str, s: &Snapshot, now: i64, located: Option<&str>) -> Value {
    let expired = s.expiry_usecs.is_some_and(|e| e <= now);
    let mut cgs: Vec<String> = s
        .vms
        .iter()
        .map(|v| v.name.clone())
        .chain(s.volume_groups.iter().map(|g| g.name.clone()))
        .collect();
    cgs.sort();
    let size = s.size_bytes();
    let mut v = json!({
        "snapshot_id": s.id.to_string(),
        "snapshot_uuid": s.uuid,
        "protection_domain_name": pd,
        "snapshot_create_time_usecs": s.create_usecs,
        "state": if expired { "EXPIRED" } else { "AVAILABLE" },
        "size_in_bytes": size,
        "exclusive_usage_in_bytes": size / 5,
        "remote_site_names": s.remote_site_names,
        "oob_schedule_ids": s.oob_schedule_id.iter().collect::<Vec<_>>(),
        "consistency_groups": cgs,
        "nfs_files": [],
        "vms": s.vms.iter().map(|v| json!({
            "vm_name": v.name,
            "vm_id": v.uuid,
            "consistency_group": v.name,
            "app_consistent_snapshots": false,
            "vm_files": [format!("/{}/.acropolis/vmdisk/{}", v.disk.container, v.disk.uuid)],
            "related_entity_uuids": [],
            "vm_power_state_on_recovery": "POWEREDOFF",
        })).collect::<Vec<_>>(),
        "volume_groups": s.volume_groups.iter().map(|g| json!({
            "name": g.name,
            "volume_group_uuid": g.uuid,
            "consistency_group": g.name,
            "nfs_file_paths": g.disks.iter().map(|d| format!("/{}/.acropolis/vmdisk/{}", d.container, d.uuid)).collect::<Vec<_>>(),
            "related_entity_uuids": [],
        })).collect::<Vec<_>>(),
    });
    if let Some(e) = s.expiry_usecs {
        v["snapshot_expiry_time_usecs"] = json!(e);
    }
    if let Some(l) = located {
        v["located_remote_site_name"] = json!(l);
    }
    v
}

fn id_filter(query: &[(String, String)], key: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

fn count_limit(query: &[(String, String)]) -> PrismResult<Option<usize>> {
    match query.iter().find(|(k, _)| k == "count") {
        None => Ok(None),
        Some((_, v)) => v.parse::<usize>().map(Some).map_err(|_| {
            PrismError::bad_request(format!("Invalid value '{v}' for query parameter 'count'"))
        }),
    }
}

pub fn snapshot_collection(
    mut items: Vec<(i64, Value)>,
    query: &[(String, String)],
) -> PrismResult<Value> {
    items.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let mut entities: Vec<Value> = items.into_iter().map(|(_, v)| v).collect();
    if let Some(n) = count_limit(query)? {
        entities.truncate(n);
    }
    Ok(super::collection(entities))
}

pub fn snapshots(
    cl: &Cluster,
    name: Option<&str>,
    query: &[(String, String)],
    now: i64,
) -> PrismResult<Value> {
    if let Some(n) = name {
        pd_or_404(cl, n)?;
    }
    let oob = id_filter(query, "oob_schedule_ids");
    let items = cl
        .protection_domains
        .iter()
        .filter(|p| name.is_none_or(|n| p.name == n))
        .flat_map(|p| p.snapshots.iter().map(move |s| (p, s)))
        .filter(|(_, s)| {
            oob.is_empty()
                || s.oob_schedule_id
                    .is_some_and(|o| oob.contains(&o.to_string()))
        })
        .map(|(p, s)| {
            let located = s
                .origin
                .as_ref()
                .and_then(|o| o.remote_site_name.as_deref());
            (s.create_usecs, render_snapshot(&p.name, s, now, located))
        })
        .collect();
    snapshot_collection(items, query)
}

/// Snapshots held on the site's cluster that came from this one (what `/remote_sites/{name}/dr_snapshots` lists).
pub fn remote_snapshots(
    st: &LabState,
    me: usize,
    site: Option<&str>,
    query: &[(String, String)],
    now: i64,
) -> PrismResult<Value> {
    let cl = &st.clusters[me];
    let sites: Vec<&super::model::RemoteSite> = match site {
        Some(n) => vec![cl
            .site(n)
            .ok_or_else(|| PrismError::not_found("Remote site", n))?],
        None => cl.remote_sites.iter().collect(),
    };
    let mut items = Vec::new();
    let mut errors = Vec::new();
    for s in sites {
        let link = remote_sites::link(st, me, s);
        let peer = match &link {
            remote_sites::Link::Unreachable { reason } => {
                errors.push(format!("Remote site {}: {reason}", s.name));
                continue;
            }
            other => other.peer().expect("a reachable link has a peer"),
        };
        for p in &st.clusters[peer].protection_domains {
            for snap in &p.snapshots {
                if snap.origin.as_ref().is_some_and(|o| o.cluster == cl.name) {
                    items.push((
                        snap.create_usecs,
                        render_snapshot(&p.name, snap, now, Some(&s.name)),
                    ));
                }
            }
        }
    }
    let mut v = snapshot_collection(items, query)?;
    if !errors.is_empty() {
        v["error_info"] =
            json!({ "count": errors.len(), "message": errors.join("; "), "entity_list": [] });
    }
    Ok(v)
}

pub fn delete_snapshot(cl: &mut Cluster, name: &str, id: &str) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let sid: u64 = id
        .parse()
        .map_err(|_| PrismError::bad_request(format!("Invalid snapshot id '{id}'")))?;
    if !cl.protection_domains[i]
        .snapshots
        .iter()
        .any(|s| s.id == sid)
    {
        return Err(PrismError::not_found("Snapshot", id));
    }
    if let Some(r) = cl
        .replications
        .iter()
        .find(|r| r.protection_domain == name && r.snapshot_id == sid)
    {
        return Err(PrismError::invalid_state(format!(
            "Snapshot {id} is being replicated to remote site {}; it can be deleted when the replication completes",
            r.remote_site
        )));
    }
    cl.protection_domains[i].snapshots.retain(|s| s.id != sid);
    Ok(json!({ "value": true }))
}

fn render_replication(r: &Replication, rate: u64) -> Value {
    let pct = if r.total_bytes == 0 {
        0.0
    } else {
        ((r.done_bytes as f64 / r.total_bytes as f64) * 10_000.0).floor() / 100.0
    };
    let left = r.total_bytes.saturating_sub(r.done_bytes);
    let mut v = json!({
        "id": r.id,
        "protection_domain_name": r.protection_domain,
        "remote_site_name": r.remote_site,
        "snapshot_id": r.snapshot_id.to_string(),
        "completed_bytes": r.done_bytes,
        "completed_percentage": pct.min(99.99),
        "replication_time_to_complete_secs": if rate == 0 { 0 } else { left.div_ceil(rate) },
        "paused": false,
        "aborted": false,
        "sender": true,
    });
    v["start_replication_time_usecs"] = json!(r.started_usecs.unwrap_or(r.created_usecs));
    v
}

pub fn replications(st: &LabState, me: usize, name: Option<&str>) -> PrismResult<Value> {
    let cl = &st.clusters[me];
    if let Some(n) = name {
        pd_or_404(cl, n)?;
    }
    let entities = cl
        .replications
        .iter()
        .filter(|r| name.is_none_or(|n| r.protection_domain == n))
        .map(|r| render_replication(r, super::advance::rate(st, me, &r.remote_site)))
        .collect();
    Ok(super::collection(entities))
}

/// Replications not yet started (queued behind another to the same site), with their snapshot.
pub fn pending_replications(
    cl: &Cluster,
    name: Option<&str>,
    site: Option<&str>,
    now: i64,
) -> PrismResult<Value> {
    if let Some(n) = name {
        pd_or_404(cl, n)?;
    }
    let out = cl
        .replications
        .iter()
        .filter(|r| r.started_usecs.is_none())
        .filter(|r| name.is_none_or(|n| r.protection_domain == n))
        .filter(|r| site.is_none_or(|s| r.remote_site == s))
        .filter_map(|r| {
            let pd = cl.pd(&r.protection_domain)?;
            let s = pd.snapshots.iter().find(|s| s.id == r.snapshot_id)?;
            Some(json!({
                "protection_domain_name": r.protection_domain,
                "remote_site_name": r.remote_site,
                "snapshot": render_snapshot(&pd.name, s, now, None),
            }))
        })
        .collect();
    Ok(Value::Array(out))
}

/// `restore_entities`: from a snapshot held on this cluster (taken here or replicated here).
pub fn restore(cl: &mut Cluster, name: &str, req: &Value, now: i64) -> PrismResult<Value> {
    let i = pd_index(cl, name)?;
    let m = body::object(req)?;
    let sid_text = body::req_str(m, "snapshot_id")?;
    let sid: u64 = sid_text
        .parse()
        .map_err(|_| PrismError::bad_request(format!("Invalid snapshot_id '{sid_text}'")))?;
    let snap = cl.protection_domains[i]
        .snapshots
        .iter()
        .find(|s| s.id == sid)
        .cloned()
        .ok_or_else(|| PrismError::not_found("Snapshot", &sid_text))?;
    if snap.expiry_usecs.is_some_and(|e| e <= now) {
        return Err(PrismError::invalid_state(format!(
            "Snapshot {sid} has expired"
        )));
    }
    let replace = body::opt_bool(m, "replace")?.unwrap_or(false);
    let vm_prefix = body::opt_str(m, "vm_name_prefix")?.unwrap_or_default();
    let vg_prefix = body::opt_str(m, "vg_name_prefix")?.unwrap_or_default();
    body::opt_str(m, "path_prefix")?;
    let vm_names = body::opt_str_list(m, "vm_names")?.unwrap_or_default();
    let vm_uuids = body::opt_str_list(m, "vm_uuids")?.unwrap_or_default();
    let vg_uuids = body::opt_str_list(m, "volume_group_uuids")?.unwrap_or_default();
    if body::opt_str_list(m, "nfs_files")?.is_some_and(|f| !f.is_empty()) {
        return Err(PrismError::bad_request(
            "nfs_files restore is not supported on AHV",
        ));
    }
    let everything = vm_names.is_empty() && vm_uuids.is_empty() && vg_uuids.is_empty();

    let mut vm_images: Vec<SnapVm> = Vec::new();
    for n in &vm_names {
        let v =
            snap.vms.iter().find(|v| v.name == *n).ok_or_else(|| {
                PrismError::bad_request(format!("VM {n} is not in snapshot {sid}"))
            })?;
        vm_images.push(v.clone());
    }
    for u in &vm_uuids {
        let v = snap
            .vms
            .iter()
            .find(|v| v.uuid.to_string() == *u)
            .ok_or_else(|| PrismError::bad_request(format!("VM {u} is not in snapshot {sid}")))?;
        vm_images.push(v.clone());
    }
    let mut vg_images: Vec<SnapVg> = Vec::new();
    for u in &vg_uuids {
        let g = snap
            .volume_groups
            .iter()
            .find(|g| g.uuid.to_string() == *u)
            .ok_or_else(|| {
                PrismError::bad_request(format!("Volume group {u} is not in snapshot {sid}"))
            })?;
        vg_images.push(g.clone());
    }
    if everything {
        vm_images = snap.vms.clone();
        vg_images = snap.volume_groups.clone();
    }
    vm_images.dedup_by_key(|v| v.uuid);
    vg_images.dedup_by_key(|g| g.uuid);

    for d in vm_images
        .iter()
        .map(|v| &v.disk)
        .chain(vg_images.iter().flat_map(|g| g.disks.iter()))
    {
        if cl.container(&d.container).is_none() {
            return Err(PrismError::invalid_state(format!(
                "Container {} of the snapshot's disk {} does not exist on this cluster",
                d.container, d.uuid
            )));
        }
    }

    let mut vms = Vec::new();
    for img in vm_images {
        let existing = cl
            .vms
            .iter()
            .find(|v| v.uuid == img.uuid)
            .or_else(|| cl.vms.iter().find(|v| v.name == img.name));
        let target = if replace {
            if let Some(v) = existing {
                if v.power_on {
                    return Err(PrismError::invalid_state(format!(
                        "VM {} is powered on; power it off before restoring it in place",
                        v.name
                    )));
                }
            }
            RestoreTarget {
                replace: existing.map(|v| v.uuid),
                new_uuid: existing.map_or(img.uuid, |v| v.uuid),
                new_name: img.name.clone(),
                image: img,
            }
        } else {
            let new_name = format!("{vm_prefix}{}", img.name);
            if cl.vms.iter().any(|v| v.name == new_name) {
                return Err(PrismError::invalid_state(format!(
                    "A VM named {new_name} already exists: set replace or vm_name_prefix"
                )));
            }
            let new_uuid = if existing.is_none() && !cl.vms.iter().any(|v| v.uuid == img.uuid) {
                img.uuid
            } else {
                Uuid::new_v4()
            };
            RestoreTarget {
                replace: None,
                new_uuid,
                new_name,
                image: img,
            }
        };
        vms.push(target);
    }
    let mut vgs = Vec::new();
    for img in vg_images {
        let existing = cl
            .volume_groups
            .iter()
            .find(|g| g.uuid == img.uuid)
            .or_else(|| cl.volume_groups.iter().find(|g| g.name == img.name));
        let target = if replace {
            RestoreTarget {
                replace: existing.map(|g| g.uuid),
                new_uuid: existing.map_or(img.uuid, |g| g.uuid),
                new_name: img.name.clone(),
                image: img,
            }
        } else {
            let new_name = format!("{vg_prefix}{}", img.name);
            if cl.volume_groups.iter().any(|g| g.name == new_name) {
                return Err(PrismError::invalid_state(format!(
                    "A volume group named {new_name} already exists: set replace or vg_name_prefix"
                )));
            }
            let new_uuid =
                if existing.is_none() && !cl.volume_groups.iter().any(|g| g.uuid == img.uuid) {
                    img.uuid
                } else {
                    Uuid::new_v4()
                };
            RestoreTarget {
                replace: None,
                new_uuid,
                new_name,
                image: img,
            }
        };
        vgs.push(target);
    }
    if vms.is_empty() && vgs.is_empty() {
        return Err(PrismError::bad_request(format!(
            "Snapshot {sid} holds nothing to restore"
        )));
    }
    let bytes: u64 = vms.iter().map(|t| t.image.disk.used_bytes).sum::<u64>()
        + vgs
            .iter()
            .flat_map(|t| t.image.disks.iter())
            .map(|d| d.used_bytes)
            .sum::<u64>();
    let mut entities: Vec<_> = vms
        .iter()
        .map(|t| tasks::entity("VM", t.new_uuid, t.new_name.clone()))
        .collect();
    entities.extend(
        vgs.iter()
            .map(|t| tasks::entity("VOLUME_GROUP", t.new_uuid, t.new_name.clone())),
    );
    entities.push(tasks::entity("PROTECTION_DOMAIN", name, name));
    let failure = tasks::take_fault(cl, "restore_entities");
    let shape = cl.settings.restore_answer;
    if shape != RestoreAnswer::Task {
        if let Some(f) = failure {
            return Err(PrismError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                f.code,
                f.detail,
            ));
        }
    }
    // Restores are metadata clones: quick, growing a little with the data restored (1 GiB/s).
    let run = 5 * USECS + (bytes / (1024 * 1024 * 1024)) as i64 * USECS;
    let task = tasks::create_with(
        cl,
        now,
        NewTask {
            kind: "restore_entities",
            operation_type: "kRestoreEntities",
            method_name: "RestoreEntities",
            entities,
            run_usecs: run,
            effect: Some(Effect::Restore {
                vms,
                volume_groups: vgs,
            }),
        },
        failure,
    );
    Ok(match shape {
        RestoreAnswer::Task => json!({ "task_uuid": task }),
        RestoreAnswer::Boolean => json!({ "value": true }),
        RestoreAnswer::Bare => json!(true),
    })
}
