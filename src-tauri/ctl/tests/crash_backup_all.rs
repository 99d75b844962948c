//! The crash test of issue #5: `backup all` on 1,000 Azure volumes, with DR, killed with SIGKILL
//! at 20 random moments and started again each time, ends with exactly one backup and one usable
//! replica per eligible volume, no desktop left off that was on, and a catalog that matches the
//! lab's state.
//!
//! The lab runs in this test's process (killing `standbyctl` does not touch it) on a real clock
//! sped up, so that copies finish in seconds. The random moments come from a seed printed at the
//! start (`STANDBY_CRASH_SEED` replays a run). Needs a Secret Service, like every `standbyctl`
//! test that stores credentials.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::Value;
use standby_lab::LabHandle;
use support::{backup_all_dry_run, keyring_available, lab_get, AzureDrLab, BACKUP_ALL};

const USERS: usize = 1_000;
const KILLS: usize = 20;
/// Lab seconds per real second: a copy of a few GiB at the lab's 100 MiB/s then takes a fraction
/// of a real second, and a power transition (20-30 lab seconds) a few milliseconds.
const SPEED_UP: f64 = 400.0;

async fn lab_state(http: &reqwest::Client, lab: &LabHandle) -> Value {
    lab_get(http, lab, "azure/state").await
}

/// VM name to whether it is (or is becoming) running.
fn running_vms(state: &Value) -> BTreeMap<String, bool> {
    let on = |p: &Value| p.as_str() == Some("running") || p.as_str() == Some("starting");
    state["vms"]
        .as_object()
        .expect("vms")
        .values()
        .map(|vm| {
            let power = match vm["transition"].is_null() {
                true => on(&vm["power"]),
                false => on(&vm["transition"]["to"]),
            };
            (vm["name"].as_str().unwrap().to_string(), power)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_all_survives_twenty_kills_and_ends_with_one_backup_and_replica_each() {
    if !keyring_available() {
        return;
    }
    let seed: u64 = std::env::var("STANDBY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test seed: {seed} (STANDBY_CRASH_SEED={seed} replays it)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    let AzureDrLab {
        lab,
        http,
        mut cli,
        data,
    } = AzureDrLab::start(USERS, SPEED_UP).await;
    let before = running_vms(&lab_state(&http, &lab).await);

    let all = BACKUP_ALL;
    let dry = backup_all_dry_run();
    let planning = Instant::now();
    let plan = cli.json(&dry, None);
    // How long a start takes to plan (discovery, guest agent): kills are spread from half of it
    // (still planning) to a few seconds past it (children, snapshots, power cycles, copies).
    let planning = planning.elapsed();
    eprintln!("a dry run took {planning:?}");
    let eligible: BTreeSet<String> = plan["plan"]["eligible"]
        .as_array()
        .expect("the dry run lists the eligible volumes")
        .iter()
        .map(|v| v["volume_id"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert!(
        eligible.len() >= USERS * 9 / 10,
        "most of the {USERS} persistent desktops are eligible, got {}",
        eligible.len()
    );

    // Until the job exists (discovery and planning come first), a restart runs `backup all` again;
    // after, `jobs resume` picks it up where the last one was killed. Kills land anywhere: in
    // discovery, planning, child creation, snapshots, power cycles and copies.
    let catalog_path = data.path().join("standby.sqlite3");
    let job_state = || {
        let c = standby_core::catalog::Catalog::open(&catalog_path).expect("the catalog opens");
        let parent = c
            .recent_jobs(u32::MAX)
            .unwrap()
            .into_iter()
            .find(|j| j.kind == "backup_all");
        let unfinished = c.unfinished_jobs().unwrap().len();
        (parent.is_some(), unfinished)
    };
    let started = Instant::now();
    let mut kills = 0;
    let mut finished_early = false;
    while kills < KILLS {
        let (has_job, _) = job_state();
        let args: &[&str] = if has_job {
            &["jobs", "resume", "--json"]
        } else {
            &all
        };
        let mut run = cli.spawn(args);
        let plan_ms = planning.as_millis() as u64;
        let wait = Duration::from_millis(rng.random_range(plan_ms / 2..=plan_ms + 3_000));
        tokio::time::sleep(wait).await;
        let exited = run.child.try_wait().unwrap().is_some();
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
        }
    }
    eprintln!("{kills} kills in {:?}", started.elapsed());
    assert!(
        !finished_early,
        "the backup finished after {kills} kills: the run is too short for {KILLS} (slow the lab's clock down)"
    );
    // The last start, left alone, finishes whatever is unfinished.
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

    // The catalog: exactly one primary and one replica per eligible volume, both usable.
    let listed = cli.json(&["backup", "list", "--account", "azure", "--json"], None);
    let mut per_volume: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for b in listed.as_array().unwrap() {
        per_volume
            .entry(b["volume_id"].as_str().unwrap().to_ascii_lowercase())
            .or_default()
            .push(b);
    }
    for v in &eligible {
        let rows = per_volume.get(v).map(Vec::as_slice).unwrap_or_default();
        let primaries: Vec<_> = rows.iter().filter(|b| b["site"] == "primary").collect();
        let replicas: Vec<_> = rows.iter().filter(|b| b["site"] == "replica").collect();
        assert_eq!(primaries.len(), 1, "{v}: {rows:?}");
        assert_eq!(replicas.len(), 1, "{v}: {rows:?}");
        assert_eq!(primaries[0]["state"], "available", "{v}: {rows:?}");
        assert_eq!(replicas[0]["state"], "available", "{v}: {rows:?}");
    }
    assert_eq!(
        per_volume.len(),
        eligible.len(),
        "backups of volumes that were not eligible"
    );

    // The lab: the same snapshots, no more (no duplicate from a step run twice, no orphan).
    let state = lab_state(&http, &lab).await;
    let snapshots = state["snapshots"].as_object().unwrap();
    let catalogued: BTreeSet<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["provider_ref"]
                .as_str()
                .unwrap()
                .trim_start_matches('/')
                .to_ascii_lowercase()
        })
        .collect();
    let sub = lab.azure.subscription_id.to_ascii_lowercase();
    let in_lab: BTreeSet<String> = snapshots
        .values()
        .map(|s| {
            format!(
                "subscriptions/{sub}/resourcegroups/{}/providers/microsoft.compute/snapshots/{}",
                s["resource_group"].as_str().unwrap().to_ascii_lowercase(),
                s["name"].as_str().unwrap().to_ascii_lowercase()
            )
        })
        .collect();
    assert_eq!(
        in_lab.difference(&catalogued).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "snapshots in the lab that the catalog does not know"
    );
    assert_eq!(
        catalogued.difference(&in_lab).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "catalogued backups missing from the lab"
    );
    for s in snapshots.values() {
        if let Some(copy) = s.get("copy").filter(|c| !c.is_null()) {
            assert!(copy["error"].is_null(), "a failed copy: {s}");
        }
    }

    // No desktop left off that was on.
    let after = running_vms(&state);
    let left_off: Vec<&String> = before
        .iter()
        .filter(|(name, on)| **on && !after.get(*name).copied().unwrap_or(false))
        .map(|(name, _)| name)
        .collect();
    assert!(left_off.is_empty(), "desktops left off: {left_off:?}");
    lab.shutdown().await.unwrap();
}
