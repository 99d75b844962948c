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
    // `STANDBY_CRASH_SPEED_UP`: another lab speed (more workers finish sooner: slow the lab
    // down so that twenty kills still land inside the run).
    let speed_up: f64 = std::env::var("STANDBY_CRASH_SPEED_UP")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SPEED_UP);
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
    } = AzureDrLab::start(USERS, speed_up).await;
    let before = running_vms(&lab_state(&http, &lab).await);

    // `STANDBY_CRASH_WORKERS`: `--workers` for every start (the default otherwise).
    let workers = std::env::var("STANDBY_CRASH_WORKERS").ok();
    let with_workers = |args: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        if let Some(w) = &workers {
            v.extend(["--workers".to_string(), w.clone()]);
        }
        v
    };
    let all_owned = with_workers(&BACKUP_ALL);
    let all: Vec<&str> = all_owned.iter().map(String::as_str).collect();
    let resume_owned = with_workers(&["jobs", "resume", "--json"]);
    let resume: Vec<&str> = resume_owned.iter().map(String::as_str).collect();
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
        let args: &[&str] = if has_job { &resume } else { &all };
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
    // Run by hand: on failure, the jobs that did not finish are named (the transcript's tail may
    // hold only the end of a long list).
    let last = cli.command(&resume).output().expect("standbyctl runs");
    cli.record(&resume, &last);
    let resumed: Value = serde_json::from_slice(&last.stdout).unwrap_or(Value::Null);
    let not_ok: Vec<&Value> = resumed
        .as_array()
        .map(|a| a.iter().filter(|r| r["ok"] != Value::Bool(true)).collect())
        .unwrap_or_default();
    let stderr = String::from_utf8_lossy(&last.stderr);
    let tail: String = stderr
        .chars()
        .rev()
        .take(4_000)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        last.status.success() && not_ok.is_empty(),
        "the final `jobs resume` did not finish every job: {not_ok:#?}\nits stderr's end: {tail}"
    );
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
