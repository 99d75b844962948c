//! Benchmark of issue #5: `standbyctl backup all` on the lab's large seed (5,000 users) with DR to
//! the secondary region, the lab at a realistic latency and enforcing Azure's limits. Reports the
//! wall time against the lower bound those limits allow, and the peak memory of `standbyctl`, for
//! two sizes so that "memory stays flat with N" is a ratio measured in the same run.
//!
//! ```text
//! dbus-run-session -- scripts/private-session.sh cargo bench -p standbyctl --bench backup_all
//! ```
//! (`STANDBY_BENCH_USERS=1000,5000` sets the sizes; a Secret Service is needed for the
//! credentials, as for any `standbyctl` session.)
//!
//! The lower bound: every eligible disk's replica is a cross-region copy that takes
//! `max(used, 1 GiB) / copy speed` of lab time, at most `copies_in_flight_per_region` run at
//! once and a disk's copies run one at a time, so no schedule can finish before
//! `max(sum of copy times / copies in flight, longest copy)`. The lab's clock runs `SPEED_UP`
//! times faster than real time; the bound is converted to real seconds. Everything else
//! (snapshots, power cycles, HTTP latency) counts against Standby.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{backup_all_dry_run, control, lab_get, AzureDrLab, BACKUP_ALL};

const SPEED_UP: f64 = 200.0;
const LATENCY_MS: u64 = 25;
const JITTER_MS: u64 = 20;

struct Figures {
    users: usize,
    eligible: usize,
    wall: Duration,
    bound: Duration,
    peak_rss_kib: u64,
}

/// Peak resident set (VmHWM) of a running process, in KiB.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

async fn measure(users: usize) -> Figures {
    let AzureDrLab {
        lab,
        http,
        mut cli,
        data: _data,
    } = AzureDrLab::start(users, SPEED_UP).await;
    let dry = backup_all_dry_run();
    let plan = cli.json(&dry, None);
    let eligible: std::collections::BTreeSet<String> = plan["plan"]["eligible"]
        .as_array()
        .expect("the dry run lists the eligible volumes")
        .iter()
        // The disk's name: the last segment of its ARM id (discovery names an OS disk after its VM).
        .map(|v| {
            let id = v["volume_id"].as_str().unwrap();
            id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase()
        })
        .collect();

    // The lower bound, from the lab's own figures for the eligible disks.
    let state = lab_get(&http, &lab, "azure/state").await;
    let settings = lab_get(&http, &lab, "azure/settings").await;
    let speed_mib = state["copy_speed_mib_per_sec"].as_f64().unwrap_or(100.0);
    let in_flight = settings["limits"]["copies_in_flight_per_region"]
        .as_f64()
        .unwrap_or(100.0);
    let copy_secs: Vec<f64> = state["disks"]
        .as_object()
        .unwrap()
        .values()
        .filter(|d| {
            let name = d["name"].as_str().unwrap().to_ascii_lowercase();
            eligible.contains(&name)
        })
        .map(|d| d["used_gb"].as_f64().unwrap().max(1.0) * 1024.0 / speed_mib)
        .collect();
    let total: f64 = copy_secs.iter().sum();
    let longest = copy_secs.iter().cloned().fold(0.0, f64::max);
    let bound_lab = (total / in_flight).max(longest);
    let bound = Duration::from_secs_f64(bound_lab / SPEED_UP);

    // Realistic latency on every answer from here on.
    for target in ["azure:arm", "azure:token"] {
        http.put(format!("{}faults/{target}", control(&lab)))
            .json(&serde_json::json!({"latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .expect("the latency fault is set");
    }

    // Enough workers that the copies, not the workers, are the bound: a volume holds its worker
    // through its snapshot and power cycle as well as its copy, so with only as many workers as
    // copy slots the slots sit idle while workers snapshot (measured: 0.50 of the bound with 125).
    let workers = (in_flight as usize * 3).to_string();
    let mut all = BACKUP_ALL.to_vec();
    all.extend(["--workers", &workers]);
    let started = Instant::now();
    let mut run = cli.spawn(&all);
    let pid = run.child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = run.child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall = started.elapsed();
    cli.reap(&all, run);
    assert!(status.success(), "backup all failed:\n{}", cli.tail());
    lab.shutdown().await.unwrap();
    Figures {
        users,
        eligible: eligible.len(),
        wall,
        bound,
        peak_rss_kib: peak,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if !support::keyring_available() {
        return;
    }
    let sizes: Vec<usize> = std::env::var("STANDBY_BENCH_USERS")
        .unwrap_or_else(|_| "1000,5000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("STANDBY_BENCH_USERS: numbers, comma-separated")
        })
        .collect();
    let mut figures = Vec::new();
    for users in sizes {
        let f = measure(users).await;
        println!(
            "users {:>5}  eligible {:>5}  wall {:>8.1} s  bound {:>8.1} s  bound/wall {:.2}  peak RSS {:>7.1} MiB",
            f.users,
            f.eligible,
            f.wall.as_secs_f64(),
            f.bound.as_secs_f64(),
            f.bound.as_secs_f64() / f.wall.as_secs_f64(),
            f.peak_rss_kib as f64 / 1024.0
        );
        figures.push(f);
    }
    if let (Some(small), Some(large)) = (figures.first(), figures.last()) {
        if large.users > small.users {
            println!(
                "memory ratio {}→{} users: {:.2} (flat is 1.00; volumes ratio {:.1})",
                small.users,
                large.users,
                large.peak_rss_kib as f64 / small.peak_rss_kib.max(1) as f64,
                large.users as f64 / small.users as f64
            );
        }
    }
}
