//! The crash test of issue #5 for cloning (AHV to AHV): `standbyctl clone run` of three desktops
//! of `acme-pd` on the lab's primary cluster to `acme-dr` on its secondary, one of them replacing
//! the desktop its owner already has there, killed with SIGKILL in every phase and started again
//! each time (`clone run` until the job exists, then `jobs resume`). It ends with exactly one clone
//! per desktop, one snapshot of the protection domain, no source desktop left off that was on, and
//! the replaced desktop kept (powered off, never deleted).
//!
//! The lab runs in this test's process on a real clock sped up; the random moments come from a
//! seed printed at the start (`STANDBY_CRASH_SEED` replays a run). Needs a Secret Service.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use standby_core::jobs::JobState;
use support::{keyring_available, lab_prism, prism_power, AhvDrLab};

const USERS: usize = 40;
/// Lab seconds per real second: a power task takes half a second, a restore a few.
const SPEED_UP: f64 = 10.0;
/// The replication link, bytes per lab second: the protection domain replicates in seconds.
const BANDWIDTH: u64 = 400 << 30;
const DEST_FRAME: &str = "acme-dr";

/// (`count` steps whose name starts with `prefix` are journaled, then up to `extra` ms more); no
/// prefix: a random moment from the start.
struct KillAt {
    prefix: Option<&'static str>,
    count: usize,
    extra: u64,
}

const fn at(prefix: &'static str, count: usize, extra: u64) -> KillAt {
    KillAt {
        prefix: Some(prefix),
        count,
        extra,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clone_killed_in_every_phase_makes_one_clone_per_desktop_and_leaves_the_source_running() {
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
        http,
        mut cli,
        data,
        protection_domain: pd,
    } = AhvDrLab::start(USERS, SPEED_UP, BANDWIDTH).await;
    let primary = lab_prism(&lab.prism[0]);
    let secondary = lab_prism(&lab.prism[1]);
    let plan_args = |volumes: Option<&str>, verb: &'static str| -> Vec<String> {
        let mut a: Vec<String> = [
            "clone",
            verb,
            "primary",
            "secondary",
            "--frame-account",
            "acme-pd",
            "--dest-frame-account",
            DEST_FRAME,
            "--replace-assigned",
            "--session-timeout",
            "5",
            "--json",
        ]
        .map(String::from)
        .to_vec();
        if let Some(v) = volumes {
            a.extend(["--volumes".to_string(), v.to_string()]);
        }
        a
    };

    // Three desktops: one whose owner has a desktop in acme-dr (replaced), two others, all three
    // running so that the clone powers them off and on again.
    let all_plan = {
        let args = plan_args(None, "plan");
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = cli.run(&args, None);
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("clone plan printed no JSON ({e}):\n{}", cli.tail()))
    };
    let desktops = all_plan["desktops"]
        .as_array()
        .expect("the plan's desktops");
    let action = |d: &Value| {
        d["action"]["action"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let replace = desktops
        .iter()
        .find(|d| action(d) == "replace" && d["running"] == true)
        .unwrap_or_else(|| panic!("a running desktop whose owner has one in {DEST_FRAME}"));
    let mut picked: Vec<&Value> = vec![replace];
    picked.extend(
        desktops
            .iter()
            .filter(|d| action(d) == "clone" && d["running"] == true)
            .take(2),
    );
    assert_eq!(picked.len(), 3, "three running desktops to clone");
    let names: Vec<String> = picked
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    let replaced_uuid = replace["action"]["replaces_uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let cluster = lab.prism[0].name.clone();
    for n in &names {
        // Nobody in session: the clone does not wait for anyone.
        let _ = http
            .post(format!(
                "{}prism/{cluster}/sessions/close",
                support::control(&lab)
            ))
            .json(&json!({ "vm": n }))
            .send()
            .await;
    }
    let before = prism_power(&primary).await;
    let snapshots_before: BTreeSet<String> = primary
        .snapshots(&pd, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.snapshot_id)
        .collect();
    let run_args = plan_args(Some(&names.join(",")), "run");
    let run: Vec<&str> = run_args.iter().map(String::as_str).collect();

    let catalog_path = data.path().join("standby.sqlite3");
    let clone_job = || {
        let c = standby_core::catalog::Catalog::open(&catalog_path).expect("the catalog opens");
        c.recent_jobs(u32::MAX)
            .unwrap()
            .into_iter()
            .find(|j| j.kind == "clone")
            .map(|j| {
                let done: Vec<String> = c
                    .job_steps(&j.id)
                    .unwrap()
                    .into_iter()
                    .filter(|s| s.done)
                    .map(|s| s.name)
                    .collect();
                (j.state, done)
            })
    };
    let kills_at = [
        KillAt {
            prefix: None,
            count: 0,
            extra: 1_500,
        },
        at("session_deadline", 1, 400),
        at("quiesce", 1, 40),
        at("snapshot", 2, 300),
        at("source_power_on", 1, 300),
        at("replicate", 1, 150),
        at("restore:", 1, 1_500),
        at("restore:", 2, 1_500),
    ];
    let started = Instant::now();
    let mut kills = 0;
    let mut finished_early = false;
    for k in &kills_at {
        let resume = ["jobs", "resume", "--json"];
        let args: &[&str] = match clone_job() {
            Some(_) => &resume,
            None => &run,
        };
        let mut child = cli.spawn(args);
        let spawned = Instant::now();
        let mut exited = false;
        if let Some(prefix) = k.prefix {
            loop {
                let reached = clone_job().is_some_and(|(_, done)| {
                    done.iter().filter(|s| s.starts_with(prefix)).count() >= k.count
                });
                if reached {
                    break;
                }
                if child.child.try_wait().unwrap().is_some() {
                    exited = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }
        let extra = rng.random_range(0..=k.extra);
        tokio::time::sleep(Duration::from_millis(extra)).await;
        exited = exited || child.child.try_wait().unwrap().is_some();
        if !exited {
            child.child.kill().expect("SIGKILL is delivered");
            kills += 1;
        }
        cli.reap(args, child);
        if exited {
            if clone_job().is_some_and(|(state, _)| state == JobState::Succeeded) {
                finished_early = true;
                break;
            }
        } else {
            eprintln!(
                "kill {kills} {:?} after start ({:?} x{} reached, then {extra} ms): steps done {:?}",
                spawned.elapsed(),
                k.prefix,
                k.count,
                clone_job().map(|(_, d)| d).unwrap_or_default()
            );
        }
    }
    eprintln!("{kills} kills in {:?}", started.elapsed());
    assert!(
        !finished_early,
        "the clone finished after {kills} kills: the run is too short (slow the lab's clock down)"
    );
    let resumed = cli.json(&["jobs", "resume", "--json"], None);
    eprintln!("final resume: {resumed}");
    let jobs = cli.json(&["jobs", "list", "--json"], None);
    let clones: Vec<&Value> = jobs
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == "clone")
        .collect();
    assert_eq!(clones.len(), 1, "one clone job: {clones:?}");
    assert_eq!(clones[0]["state"], "succeeded", "{clones:?}");

    // Whatever dead processes asked for has landed by now (power tasks take seconds of lab time).
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Exactly one clone per desktop: `clone-<time>-<name>`, one time prefix for all.
    let vms = secondary.vms().await.unwrap();
    let clone_names: Vec<&str> = vms
        .iter()
        .map(|v| v.name.as_str())
        .filter(|n| n.starts_with("clone-"))
        .collect();
    for n in &names {
        let of: Vec<&&str> = clone_names
            .iter()
            .filter(|c| c.ends_with(&format!("-{n}")))
            .collect();
        assert_eq!(of.len(), 1, "one clone of {n}: {clone_names:?}");
    }
    assert_eq!(clone_names.len(), names.len(), "{clone_names:?}");
    let prefixes: BTreeSet<&str> = clone_names.iter().map(|c| &c[..21]).collect();
    assert_eq!(prefixes.len(), 1, "one run's names: {clone_names:?}");

    // The replaced desktop is kept, powered off.
    let kept = vms
        .iter()
        .find(|v| v.uuid == replaced_uuid)
        .expect("the replaced desktop is kept");
    assert_ne!(
        kept.power_state,
        Some(standby_core::providers::prism::types::VmPowerState::On),
        "{} is powered off",
        kept.name
    );

    // One snapshot of the source protection domain, not one per attempt.
    let new: Vec<String> = primary
        .snapshots(&pd, &[])
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.snapshot_id)
        .filter(|s| !snapshots_before.contains(s))
        .collect();
    assert_eq!(new.len(), 1, "one snapshot: {new:?}");

    // No source desktop left off that was on.
    let after = prism_power(&primary).await;
    let left_off: Vec<&String> = before
        .iter()
        .filter(|(name, on)| **on && !after.get(*name).copied().unwrap_or(false))
        .map(|(name, _)| name)
        .collect();
    assert!(
        left_off.is_empty(),
        "source desktops left off: {left_off:?}"
    );
    lab.shutdown().await.unwrap();
}
