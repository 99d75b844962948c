//! The crash test of issue #5 on AHV: `backup all` of a Frame account on the lab's primary cluster,
//! with DR to the secondary, killed with SIGKILL at random moments in each phase (planning, the
//! power-off, the snapshot step, the power-on, the replication) and started again each time,
//! ends with one out-of-band snapshot of the protection domain (never a second one from a step run
//! twice), one backup row per eligible volume naming it, its replica on the secondary cluster with
//! one replica row per volume, no desktop left off that was on, and a catalog that matches the
//! clusters.
//!
//! The lab runs in this test's process on a real clock sped up; the random moments come from a
//! seed printed at the start (`STANDBY_CRASH_SEED` replays a run). Needs a Secret Service.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;
use support::{keyring_available, lab_prism, prism_power, AhvDrLab, BACKUP_ALL_AHV};

/// The default seed's 36 users and a few more.
const USERS: usize = 60;
const KILLS: usize = 11;
/// Lab seconds per real second. The lab goes on while Standby is dead (its tasks and replications
/// run on the lab's clock), so the run must outlast the kills: a power task (1 s queued, then 8 s
/// for an ACPI shutdown, 4 s for a power on) takes seconds, and a run about ten.
const SPEED_UP: f64 = 2.0;
/// The replication link, bytes per lab second. The replication starts with the snapshot and runs
/// while the desktops power on again; the domain (about 5.5 TiB) takes some 24 lab seconds, so it
/// outlasts the power-on (even on a busy machine) and kills land in the replication too.
const BANDWIDTH: u64 = 240 << 30;

#[tokio::test(flavor = "multi_thread")]
async fn ahv_backup_all_survives_kills_and_ends_with_one_snapshot_and_replica() {
    if !keyring_available() {
        return;
    }
    let seed: u64 = std::env::var("STANDBY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test seed: {seed} (STANDBY_CRASH_SEED={seed} replays it)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let AhvDrLab {
        lab,
        http: _http,
        mut cli,
        data,
        protection_domain: pd,
    } = AhvDrLab::start(USERS, SPEED_UP, BANDWIDTH).await;
    let primary = lab_prism(&lab.prism[0]);
    let secondary = lab_prism(&lab.prism[1]);
    let before = prism_power(&primary).await;
    let snapshots_before: BTreeSet<String> = primary
        .snapshots(&pd, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.snapshot_id)
        .collect();

    let mut dry = BACKUP_ALL_AHV.to_vec();
    dry.push("--dry-run");
    let planning = Instant::now();
    let plan = cli.json(&dry, None);
    let planning = planning.elapsed();
    eprintln!("a dry run took {planning:?}");
    let eligible: BTreeSet<String> = plan["plan"]["eligible"]
        .as_array()
        .expect("the dry run lists the eligible volumes")
        .iter()
        .map(|v| v["volume_id"].as_str().unwrap().to_string())
        .collect();
    let cycled_names: Vec<&str> = plan["plan"]["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["power_cycle"] == true)
        .map(|v| v["volume_name"].as_str().unwrap())
        .collect();
    let cycled = cycled_names.len();
    assert!(
        eligible.len() >= USERS / 2,
        "most persistent desktops are eligible, got {}: {plan}",
        eligible.len()
    );
    assert!(cycled > 0, "some desktops are powered off for their backup");

    // Until the job exists, a restart runs `backup all` again; after, `jobs resume` picks it up.
    let catalog_path = data.path().join("standby.sqlite3");
    let job_state = || {
        let c = standby_core::catalog::Catalog::open(&catalog_path).expect("the catalog opens");
        let parent = c
            .recent_jobs(u32::MAX)
            .unwrap()
            .into_iter()
            .any(|j| j.kind == "backup_all");
        (parent, c.unfinished_jobs().unwrap().len())
    };
    // Where a kill landed, for the log: the parent's journaled steps.
    let done_steps = || -> Vec<String> {
        let c = standby_core::catalog::Catalog::open(&catalog_path).expect("the catalog opens");
        let Some(parent) = c
            .recent_jobs(u32::MAX)
            .unwrap()
            .into_iter()
            .find(|j| j.kind == "backup_all")
        else {
            return vec!["(no job yet)".into()];
        };
        c.job_steps(&parent.id)
            .unwrap()
            .into_iter()
            .filter(|s| s.done)
            .map(|s| s.name)
            .collect()
    };
    let all = BACKUP_ALL_AHV;
    let started = Instant::now();
    let mut kills = 0;
    let mut finished_early = false;
    // Each kill waits for a phase of the job to be reached (its step journaled), then a random
    // moment more, so that kills land in every phase: discovery and planning, the power-off, the
    // snapshot, the power-on and the replication.
    // (step reached, then up to this many ms more). First kills at random moments from planning
    // on, a few hundred milliseconds apart: the power-off (an ACPI shutdown takes 4.5 s here) sees
    // several processes die, so that transitions asked by dead processes are still pending while
    // the next one decides. Then kills aimed at each later phase; the snapshot step is short (a
    // list, a POST and a read), so those aimed at it come within milliseconds of its start.
    let after_steps: [(Option<&str>, u64); KILLS] = [
        (None, 800),
        (None, 800),
        (None, 800),
        (None, 800),
        (None, 800),
        (None, 800),
        (Some("power_off"), 25),
        (Some("power_off"), 80),
        (Some("snapshot"), 600),
        (Some("power_on"), 400),
        (Some("power_on"), 400),
    ];
    let plan_ms = planning.as_millis() as u64;
    for (after, up_to) in after_steps {
        let (has_job, _) = job_state();
        let args: &[&str] = if has_job {
            &["jobs", "resume", "--json"]
        } else {
            &all
        };
        let mut run = cli.spawn(args);
        let spawned = Instant::now();
        let mut exited = false;
        if let Some(step) = after {
            while !done_steps().iter().any(|s| s == step) {
                if run.child.try_wait().unwrap().is_some() {
                    exited = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
        let extra = match after {
            None => rng.random_range(plan_ms / 3..=plan_ms + up_to),
            Some(_) => rng.random_range(0..=up_to),
        };
        tokio::time::sleep(Duration::from_millis(extra)).await;
        exited = exited || run.child.try_wait().unwrap().is_some();
        if !exited {
            run.child.kill().expect("SIGKILL is delivered");
            kills += 1;
        }
        cli.reap(args, run);
        if exited {
            let (has_job, unfinished) = job_state();
            if has_job && unfinished == 0 {
                finished_early = true;
                break;
            }
        } else {
            eprintln!(
                "kill {kills} {:?} after start ({after:?} reached, then {extra} ms): steps done {:?}",
                spawned.elapsed(),
                done_steps()
            );
        }
    }
    eprintln!("{kills} kills in {:?}", started.elapsed());
    assert!(
        !finished_early,
        "the backup finished after {kills} kills: the run is too short for {KILLS} (slow the lab's clock down)"
    );
    let resumed = cli.json(&["jobs", "resume", "--json"], None);
    eprintln!("final resume: {resumed}");
    let jobs = cli.json(&["jobs", "list", "--json"], None);
    let unfinished: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["state"] == "running" || j["state"] == "queued")
        .collect();
    assert!(unfinished.is_empty(), "unfinished jobs: {unfinished:?}");
    let parents: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "backup_all")
        .collect();
    assert_eq!(parents.len(), 1, "one backup-all job: {parents:?}");
    assert_eq!(parents[0]["state"], "succeeded", "{parents:?}");

    // The catalog: one primary and one replica row per eligible volume, all available, the
    // primaries naming one snapshot and the replicas one replica.
    let listed = cli.json(&["backup", "list", "--account", "primary", "--json"], None);
    let mut per_volume: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for b in listed.as_array().unwrap() {
        per_volume
            .entry(b["volume_id"].as_str().unwrap().to_string())
            .or_default()
            .push(b);
    }
    assert_eq!(
        per_volume.keys().cloned().collect::<BTreeSet<_>>(),
        eligible,
        "backups of exactly the eligible volumes"
    );
    let mut refs: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (v, rows) in &per_volume {
        for site in ["primary", "replica"] {
            let of_site: Vec<_> = rows.iter().filter(|b| b["site"] == site).collect();
            assert_eq!(of_site.len(), 1, "{v} {site}: {rows:?}");
            assert_eq!(of_site[0]["state"], "available", "{v}: {rows:?}");
            refs.entry(site)
                .or_default()
                .insert(of_site[0]["provider_ref"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(refs["primary"].len(), 1, "one shared snapshot: {refs:?}");
    assert_eq!(refs["replica"].len(), 1, "one shared replica: {refs:?}");
    // `backup list --job` lists the same rows: those of that run, and only those.
    let parent = parents[0]["id"].as_str().unwrap();
    let of_job = cli.json(&["backup", "list", "--job", parent, "--json"], None);
    let ids = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|b| b["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&of_job),
        ids(&listed),
        "the job's rows are the account's rows"
    );

    // The primary cluster: exactly one snapshot more than before, the one the catalog names.
    let snapshots = primary.snapshots(&pd, &[]).await.unwrap();
    let new: Vec<_> = snapshots
        .iter()
        .filter(|s| !snapshots_before.contains(&s.snapshot_id))
        .collect();
    assert_eq!(new.len(), 1, "one snapshot, no duplicate: {new:#?}");
    let taken = new[0];
    assert_eq!(
        refs["primary"].iter().next().unwrap(),
        &format!("{pd}:{}", taken.snapshot_id)
    );
    // The secondary: the replica, under the id the catalog names.
    let remote = secondary.snapshots(&pd, &[]).await.unwrap();
    let landed: Vec<_> = remote
        .iter()
        .filter(|s| s.snapshot_uuid.is_some() && s.snapshot_uuid == taken.snapshot_uuid)
        .collect();
    assert_eq!(landed.len(), 1, "the replica on the secondary: {remote:#?}");
    assert_eq!(
        refs["replica"].iter().next().unwrap(),
        &format!("{pd}:{}", landed[0].snapshot_id)
    );

    // No desktop left off that was on.
    let after = prism_power(&primary).await;
    let left_off: Vec<&String> = before
        .iter()
        .filter(|(name, on)| **on && !after.get(*name).copied().unwrap_or(false))
        .map(|(name, _)| name)
        .collect();
    let journal: Vec<(String, bool, String)> = {
        let c = standby_core::catalog::Catalog::open(&catalog_path).unwrap();
        let parent = parents[0]["id"].as_str().unwrap_or_default().to_string();
        c.job_steps(&parent)
            .unwrap()
            .into_iter()
            .map(|s| {
                let out = s.output.map(|o| o.to_string()).unwrap_or_default();
                (s.name, s.done, out.chars().take(200).collect())
            })
            .collect()
    };
    assert!(
        left_off.is_empty(),
        "desktops left off: {left_off:?} (powered off for their backup: {cycled_names:?}); the job's journal: {journal:#?}"
    );
    lab.shutdown().await.unwrap();
}
