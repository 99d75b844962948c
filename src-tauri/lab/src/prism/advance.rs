//! Bringing the clusters up to simulated time `now`: completed tasks take effect, due schedules take
//! snapshots, replications progress and land on the peer, expired snapshots go. Run under the state
//! lock before every read or change, so nothing depends on a background task.

use super::model::{
    Cluster, CronSchedule, Disk, Effect, LabState, Origin, Snapshot, Vm, VolumeGroup,
};
use super::protection::{self, USECS};
use super::remote_sites::{self, Link};

/// Firings of one schedule caught up in one step at most; older ones would be dropped by
/// retention anyway.
const MAX_CATCH_UP: usize = 64;

pub fn run(st: &mut LabState, now: i64) {
    for c in 0..st.clusters.len() {
        apply_tasks(&mut st.clusters[c], now);
    }
    for c in 0..st.clusters.len() {
        fire_schedules(&mut st.clusters[c], now);
    }
    for c in 0..st.clusters.len() {
        replicate(st, c, now);
    }
    for c in 0..st.clusters.len() {
        expire(&mut st.clusters[c], now);
    }
}

fn apply_tasks(cl: &mut Cluster, now: i64) {
    let mut due: Vec<usize> = (0..cl.tasks.len())
        .filter(|&i| !cl.tasks[i].applied && cl.tasks[i].complete_usecs <= now)
        .collect();
    due.sort_by_key(|&i| cl.tasks[i].complete_usecs);
    for i in due {
        cl.tasks[i].applied = true;
        let at = cl.tasks[i].complete_usecs;
        if let Some(effect) = cl.tasks[i].effect.clone() {
            apply(cl, effect, at);
        }
    }
}

fn apply(cl: &mut Cluster, effect: Effect, at: i64) {
    match effect {
        Effect::SetPower { vm, on } => {
            let ts = cl.next_logical();
            if let Some(v) = cl.vm_mut(vm) {
                v.power_on = on;
                v.logical_timestamp = ts;
                if !on {
                    // The guest is gone: whoever was in a session on it is disconnected.
                    v.guest = Default::default();
                }
            }
        }
        Effect::ResizeVmDisk { vm, size_bytes } => {
            let ts = cl.next_logical();
            if let Some(v) = cl.vm_mut(vm) {
                v.disk.size_bytes = v.disk.size_bytes.max(size_bytes);
                v.logical_timestamp = ts;
            }
        }
        Effect::ResizeVgDisk {
            vg,
            index,
            size_bytes,
        } => {
            let ts = cl.next_logical();
            if let Some(g) = cl.vg_mut(vg) {
                if let Some(d) = g.disks.get_mut(index) {
                    d.size_bytes = d.size_bytes.max(size_bytes);
                }
                g.logical_timestamp = ts;
                g.modified_usecs = at;
            }
        }
        Effect::CloneVg {
            source,
            new_uuid,
            new_name,
        } => {
            let ts = cl.next_logical();
            cl.volume_groups.push(VolumeGroup {
                uuid: new_uuid,
                name: new_name,
                description: source.description,
                disks: source.disks.into_iter().map(fresh_disk).collect(),
                attached_vm: None,
                logical_timestamp: ts,
                modified_usecs: at,
            });
        }
        Effect::Restore { vms, volume_groups } => {
            for t in vms {
                let ts = cl.next_logical();
                let mut disk = t.image.disk.clone();
                match t.replace.and_then(|u| cl.vm_mut(u)) {
                    Some(v) => {
                        disk.uuid = v.disk.uuid;
                        v.disk = disk;
                        v.description = t.image.description;
                        v.power_on = false;
                        v.guest = Default::default();
                        v.logical_timestamp = ts;
                    }
                    None => cl.vms.push(Vm {
                        uuid: t.new_uuid,
                        name: t.new_name,
                        description: t.image.description,
                        power_on: false,
                        memory_mb: t.image.memory_mb,
                        num_vcpus: t.image.num_vcpus,
                        disk: fresh_disk(disk),
                        logical_timestamp: ts,
                        guest: Default::default(),
                    }),
                }
            }
            for t in volume_groups {
                let ts = cl.next_logical();
                match t.replace.and_then(|u| cl.vg_mut(u)) {
                    Some(g) => {
                        let uuids: Vec<_> = g.disks.iter().map(|d| d.uuid).collect();
                        g.disks = t.image.disks.clone();
                        for (d, u) in g.disks.iter_mut().zip(uuids) {
                            d.uuid = u;
                        }
                        g.description = t.image.description;
                        g.logical_timestamp = ts;
                        g.modified_usecs = at;
                    }
                    None => cl.volume_groups.push(VolumeGroup {
                        uuid: t.new_uuid,
                        name: t.new_name,
                        description: t.image.description,
                        disks: t.image.disks.into_iter().map(fresh_disk).collect(),
                        attached_vm: None,
                        logical_timestamp: ts,
                        modified_usecs: at,
                    }),
                }
            }
        }
    }
}

/// A copy of a disk's contents under a new virtual disk id.
fn fresh_disk(d: Disk) -> Disk {
    Disk {
        uuid: uuid::Uuid::new_v4(),
        ..d
    }
}

fn period_usecs(s: &CronSchedule) -> Option<i64> {
    let unit = match s.kind.as_str() {
        "MINUTELY" => 60,
        "HOURLY" => 3_600,
        "DAILY" => 86_400,
        "WEEKLY" => 7 * 86_400,
        // Months are taken as 30 days: the lab does not model calendars here.
        "MONTHLY" => 30 * 86_400,
        _ => return None,
    };
    Some(unit * USECS * s.every_nth.max(1))
}

/// The next firing strictly after the last one taken, if any remains.
pub fn next_fire(s: &CronSchedule) -> Option<i64> {
    let p = period_usecs(s)?;
    let after = s.last_fired_usecs.unwrap_or(s.user_start_time_usecs - 1);
    let t = if after < s.user_start_time_usecs {
        s.user_start_time_usecs
    } else {
        let k = (after - s.user_start_time_usecs) / p + 1;
        s.user_start_time_usecs + k * p
    };
    match s.end_time_usecs {
        Some(e) if t > e => None,
        _ => Some(t),
    }
}

fn fire_schedules(cl: &mut Cluster, now: i64) {
    for p in 0..cl.protection_domains.len() {
        if !cl.protection_domains[p].active {
            continue;
        }
        // Out-of-band snapshots.
        let due: Vec<usize> = (0..cl.protection_domains[p].oob_schedules.len())
            .filter(|&o| {
                let s = &cl.protection_domains[p].oob_schedules[o];
                !s.fired && s.start_usecs <= now
            })
            .collect();
        for o in due {
            let s = cl.protection_domains[p].oob_schedules[o].clone();
            cl.protection_domains[p].oob_schedules[o].fired = true;
            let expiry = s.retention_secs.map(|r| s.start_usecs + r * USECS);
            protection::take_snapshot(
                cl,
                p,
                s.start_usecs,
                expiry,
                Some(s.id),
                None,
                s.remote_site_names,
            );
        }
        // Cron schedules.
        for c in 0..cl.protection_domains[p].cron_schedules.len() {
            let mut times = Vec::new();
            let mut s = cl.protection_domains[p].cron_schedules[c].clone();
            if s.suspended {
                continue;
            }
            while let Some(t) = next_fire(&s).filter(|t| *t <= now) {
                times.push(t);
                s.last_fired_usecs = Some(t);
            }
            cl.protection_domains[p].cron_schedules[c].last_fired_usecs = s.last_fired_usecs;
            let skip = times.len().saturating_sub(MAX_CATCH_UP);
            for t in times.into_iter().skip(skip) {
                let expiry = time_retention(&s, t);
                let sites: Vec<String> = s.retention.remote_max_snapshots.keys().cloned().collect();
                protection::take_snapshot(cl, p, t, expiry, None, Some(s.id.clone()), sites);
                enforce_local_retention(cl, p, &s);
            }
        }
    }
}

fn time_retention(s: &CronSchedule, at: i64) -> Option<i64> {
    let n = s.retention.local_retention_period?;
    let unit = match s.retention.local_retention_type.as_deref()? {
        "DAYS" => 86_400,
        "WEEKS" => 7 * 86_400,
        "MONTHS" => 30 * 86_400,
        _ => return None,
    };
    Some(at + n * unit * USECS)
}

/// Keeps the newest `local_max_snapshots` of the schedule; a snapshot still being replicated stays
/// until its replication is done, as Cerebro does.
fn enforce_local_retention(cl: &mut Cluster, p: usize, s: &CronSchedule) {
    let Some(max) = s.retention.local_max_snapshots else {
        return;
    };
    let busy: Vec<u64> = cl
        .replications
        .iter()
        .filter(|r| r.protection_domain == cl.protection_domains[p].name)
        .map(|r| r.snapshot_id)
        .collect();
    let pd = &mut cl.protection_domains[p];
    let mut mine: Vec<(i64, u64)> = pd
        .snapshots
        .iter()
        .filter(|x| x.cron_schedule_id.as_deref() == Some(s.id.as_str()) && x.origin.is_none())
        .map(|x| (x.create_usecs, x.id))
        .collect();
    mine.sort_by(|a, b| b.cmp(a));
    let drop: Vec<u64> = mine
        .into_iter()
        .skip(max.max(0) as usize)
        .map(|(_, id)| id)
        .filter(|id| !busy.contains(id))
        .collect();
    pd.snapshots.retain(|x| !drop.contains(&x.id));
}

/// Bytes per simulated second from cluster `me` to `site`: the cluster's replication bandwidth,
/// capped by the site's bandwidth policy (`default_bandwidth_limit`) and `max_bps`, both read as
/// bytes per second.
pub fn rate(st: &LabState, me: usize, site: &str) -> u64 {
    let cl = &st.clusters[me];
    let mut r = cl.settings.bandwidth_bytes_per_sec;
    if let Some(s) = cl.site(site) {
        if s.bandwidth_policy_enabled {
            if let Some(limit) = s
                .bandwidth_policy
                .as_ref()
                .and_then(|p| p.get("default_bandwidth_limit"))
                .and_then(|v| v.as_u64())
                .filter(|l| *l > 0)
            {
                r = r.min(limit);
            }
        }
        if let Some(m) = s.max_bps.filter(|m| *m > 0) {
            r = r.min(m);
        }
    }
    r
}

fn replicate(st: &mut LabState, me: usize, now: i64) {
    let mut sites: Vec<String> = st.clusters[me]
        .replications
        .iter()
        .map(|r| r.remote_site.clone())
        .collect();
    sites.sort();
    sites.dedup();
    for site in sites {
        // One replication at a time per remote site, oldest first; the rest wait (pending).
        while let Some(ix) = st.clusters[me]
            .replications
            .iter()
            .enumerate()
            .filter(|(_, r)| r.remote_site == site)
            .min_by_key(|(_, r)| r.id)
            .map(|(i, _)| i)
        {
            let link = st.clusters[me]
                .site(&site)
                .map(|s| remote_sites::link(st, me, s));
            let rate = rate(st, me, &site);
            let r = &mut st.clusters[me].replications[ix];
            let Some(Link::Established { peer }) = link else {
                // Stalled: no progress while the link is down; the clock moves on without it.
                r.as_of_usecs = r.as_of_usecs.max(now);
                break;
            };
            if r.started_usecs.is_none() {
                r.started_usecs = Some(r.as_of_usecs);
            }
            let left = r.total_bytes - r.done_bytes;
            let needed = if rate == 0 {
                i64::MAX
            } else {
                (left as u128 * USECS as u128).div_ceil(rate as u128) as i64
            };
            if r.as_of_usecs.saturating_add(needed) <= now {
                let done_at = r.as_of_usecs + needed;
                let r = st.clusters[me].replications.remove(ix);
                land(
                    st,
                    me,
                    peer,
                    &site,
                    r.protection_domain.as_str(),
                    r.snapshot_id,
                );
                if let Some(next) = st.clusters[me]
                    .replications
                    .iter_mut()
                    .filter(|n| n.remote_site == site)
                    .min_by_key(|n| n.id)
                {
                    next.as_of_usecs = next.as_of_usecs.max(done_at);
                }
            } else {
                let dt = (now - r.as_of_usecs).max(0) as u128;
                r.done_bytes = (r.done_bytes as u128 + dt * rate as u128 / USECS as u128)
                    .min(r.total_bytes as u128) as u64;
                r.as_of_usecs = now;
                break;
            }
        }
    }
}

/// A replication is done: the snapshot appears in the peer's protection domain of the same name
/// (created there, inactive, if absent), its disks placed by the site's vStore mapping.
fn land(st: &mut LabState, me: usize, peer: usize, site: &str, pd: &str, snapshot_id: u64) {
    let src = &st.clusters[me];
    let Some(snap) = src
        .pd(pd)
        .and_then(|p| p.snapshots.iter().find(|s| s.id == snapshot_id))
        .cloned()
    else {
        return;
    };
    let map = src
        .site(site)
        .map(|s| s.vstore_name_map.clone())
        .unwrap_or_default();
    let src_name = src.name.clone();
    let back_site = st.clusters[peer]
        .remote_sites
        .iter()
        .find(|s| remote_sites::addressed_cluster(st, peer, s) == Some(me))
        .map(|s| s.name.clone());
    let remote_keep = src
        .pd(pd)
        .and_then(|p| {
            snap.cron_schedule_id
                .as_ref()
                .and_then(|id| p.cron_schedules.iter().find(|s| &s.id == id))
        })
        .and_then(|s| s.retention.remote_max_snapshots.get(site).copied());

    let place = |d: &Disk| Disk {
        container: map
            .get(&d.container)
            .cloned()
            .unwrap_or_else(|| d.container.clone()),
        ..d.clone()
    };
    let dst = &mut st.clusters[peer];
    let id = dst.counters.next_snapshot_id;
    dst.counters.next_snapshot_id += 1;
    let replica = Snapshot {
        id,
        uuid: snap.uuid,
        create_usecs: snap.create_usecs,
        expiry_usecs: snap.expiry_usecs,
        oob_schedule_id: None,
        cron_schedule_id: snap.cron_schedule_id.clone(),
        remote_site_names: Vec::new(),
        replicated_to: Vec::new(),
        vms: snap
            .vms
            .iter()
            .map(|v| super::model::SnapVm {
                disk: place(&v.disk),
                ..v.clone()
            })
            .collect(),
        volume_groups: snap
            .volume_groups
            .iter()
            .map(|g| super::model::SnapVg {
                disks: g.disks.iter().map(place).collect(),
                ..g.clone()
            })
            .collect(),
        origin: Some(Origin {
            cluster: src_name.clone(),
            snapshot_id,
            remote_site_name: back_site,
        }),
    };
    if dst.pd(pd).is_none() {
        dst.protection_domains.push(protection::new_pd(pd, false));
    }
    let dpd = dst.pd_mut(pd).expect("created above");
    dpd.snapshots.push(replica);
    if let (Some(keep), Some(sched)) = (remote_keep, snap.cron_schedule_id.as_ref()) {
        let mut from_schedule: Vec<(i64, u64)> = dpd
            .snapshots
            .iter()
            .filter(|s| {
                s.cron_schedule_id.as_ref() == Some(sched)
                    && s.origin.as_ref().is_some_and(|o| o.cluster == src_name)
            })
            .map(|s| (s.create_usecs, s.id))
            .collect();
        from_schedule.sort_by(|a, b| b.cmp(a));
        let drop: Vec<u64> = from_schedule
            .into_iter()
            .skip(keep.max(0) as usize)
            .map(|(_, id)| id)
            .collect();
        dpd.snapshots.retain(|s| !drop.contains(&s.id));
    }
    if let Some(s) = st.clusters[me]
        .pd_mut(pd)
        .and_then(|p| p.snapshots.iter_mut().find(|s| s.id == snapshot_id))
    {
        s.replicated_to.push(site.to_string());
    }
}

fn expire(cl: &mut Cluster, now: i64) {
    let busy: Vec<(String, u64)> = cl
        .replications
        .iter()
        .map(|r| (r.protection_domain.clone(), r.snapshot_id))
        .collect();
    for pd in cl.protection_domains.iter_mut() {
        let name = pd.name.clone();
        pd.snapshots.retain(|s| {
            s.expiry_usecs.is_none_or(|e| e > now) || busy.contains(&(name.clone(), s.id))
        });
    }
}
