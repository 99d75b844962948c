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
//! The lower bound is the larger of two:
//! - Copies: every eligible disk's replica is a cross-region copy that takes
//!   `max(used, 1 GiB) / copy speed` of lab time, at most `copies_in_flight_per_region` run at
//!   once and a disk's copies run one at a time, so no schedule can finish before
//!   `max(sum of copy times / copies in flight, longest copy)`.
//! - ARM's write budget (as the lab counts and reports it, see [`write_budget_bound`]): two writes
//!   per eligible volume (its snapshot, its copy) and two per desktop the plan power-cycles
//!   (deallocate, start), whatever the schedule. The lab reports the budget without refusing
//!   past it; Standby slows down as it runs out, as it must against ARM.
//!
//! Reads are not counted: a schedule can learn power states and follow copies with list pages,
//! far within the read budget. The lab's clock runs `SPEED_UP` times faster than real time; the
//! bound is converted to real seconds. Everything else (discovery, snapshots, power cycles, HTTP
//! latency) counts against Standby. `STANDBY_BENCH_WORKERS` sets `--workers` (default: three per
//! copy slot).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{backup_all_dry_run, control, lab_get, AzureDrLab, Cli, BACKUP_ALL};

const SPEED_UP: f64 = 200.0;
const LATENCY_MS: u64 = 25;
const JITTER_MS: u64 = 20;

/// ARM's write budget as the lab counts it (`lab/src/faults.rs`): 1,200 writes per subscription
/// in a window of an hour of lab time that starts at the first request after the previous window
/// ended, reported in `x-ms-ratelimit-remaining-subscription-writes`.
const WRITES_PER_WINDOW: usize = 1_200;
const WINDOW_LAB_SECS: f64 = 3_600.0;

/// Lab seconds no schedule of `writes` writes can beat within that budget. The run may start just
/// before a window ends with all of its writes unused, so that window and the next give 2,400
/// writes for free; every further 1,200 writes need one more window to begin.
fn write_budget_bound(writes: usize) -> f64 {
    let windows = writes.div_ceil(WRITES_PER_WINDOW);
    windows.saturating_sub(2) as f64 * WINDOW_LAB_SECS
}

/// As [`write_budget_bound`], for a run starting when the lab's current window has `left` lab
/// seconds to go with `used` of its writes spent (`left` 0: the run's first request opens a
/// window). The dry run before the run opens a window, so the run does not start just before one
/// ends: no schedule starting then can make its last write before the window that holds it
/// begins.
fn write_budget_bound_from(writes: usize, left: f64, used: usize) -> f64 {
    let (first_writes, first_len) = if left > 0.0 {
        (WRITES_PER_WINDOW.saturating_sub(used), left)
    } else {
        (WRITES_PER_WINDOW, WINDOW_LAB_SECS)
    };
    if writes <= first_writes {
        return 0.0;
    }
    let more = (writes - first_writes).div_ceil(WRITES_PER_WINDOW);
    first_len + (more - 1) as f64 * WINDOW_LAB_SECS
}

struct Figures {
    users: usize,
    eligible: usize,
    cycled: usize,
    copies_bound: Duration,
    /// The write bound for the moment this run started in the lab's budget window ...
    writes_bound: Duration,
    /// ... and for the best moment (just before a window ends).
    writes_bound_best: Duration,
    dry_rss_kib: u64,
    /// How long the dry run took: discovery and the plan, which the run does first as well.
    dry_wall: Duration,
    wall: Duration,
    bound: Duration,
    peak_rss_kib: u64,
    /// Where the run's wall went, from the catalog's journal (see [`phases`]).
    phases: String,
}

/// Seconds from `t0` to an RFC 3339 time the catalog holds.
fn since(t0: chrono::DateTime<chrono::Utc>, at: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| (t.with_timezone(&chrono::Utc) - t0).as_seconds_f64())
        .unwrap_or(f64::NAN)
}

/// Where the wall of a run went, read from the journal it left in the catalog (`standbyctl`
/// journals with the system clock): discovery and the plan (from the process's start to the
/// parent job), then each child step's span (first start, last end) and mean length, the wait
/// for a copy slot (from the end of the snapshot or power-on to the copy's start), how full the
/// copy slots were while copies ran, and the tail (last copy followed to the process's exit).
fn phases(
    db: &std::path::Path,
    t0: chrono::DateTime<chrono::Utc>,
    ended: f64,
    slots: f64,
) -> String {
    use std::collections::HashMap;
    let c = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("the catalog opens");
    let (parent, created): (String, String) = c
        .query_row(
            "SELECT id, created_at FROM jobs WHERE kind = 'backup_all' ORDER BY created_at DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the run journaled its parent job");
    let mut stmt = c
        .prepare(
            "SELECT s.job_id, s.name, s.started_at, s.finished_at FROM job_steps s
             JOIN jobs j ON j.id = s.job_id WHERE j.parent_id = ?1",
        )
        .unwrap();
    // Per child: step name -> (start, end), seconds since t0.
    let mut children: HashMap<String, HashMap<String, (f64, f64)>> = HashMap::new();
    for row in stmt
        .query_map([&parent], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .unwrap()
    {
        let (job, name, start, end) = row.unwrap();
        let end = end.map(|e| since(t0, &e)).unwrap_or(f64::NAN);
        children
            .entry(job)
            .or_default()
            .insert(name, (since(t0, &start), end));
    }
    let mut out = format!("    discovery + plan: 0 -> {:.1} s", since(t0, &created));
    for step in ["power_off", "snapshot", "power_on", "copy", "follow"] {
        let spans: Vec<(f64, f64)> = children
            .values()
            .filter_map(|c| c.get(step).copied())
            .collect();
        if spans.is_empty() {
            continue;
        }
        let first = spans.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
        let last = spans.iter().map(|s| s.1).fold(0.0, f64::max);
        let mean = spans.iter().map(|s| s.1 - s.0).sum::<f64>() / spans.len() as f64;
        out.push_str(&format!(
            "\n    {step:<9} x{:<5} {first:>6.1} -> {last:>6.1} s, mean {mean:.2} s",
            spans.len()
        ));
    }
    let waits: Vec<f64> = children
        .values()
        .filter_map(|c| {
            let ready = c.get("power_on").or(c.get("snapshot"))?.1;
            Some(c.get("copy")?.0 - ready)
        })
        .collect();
    if !waits.is_empty() {
        out.push_str(&format!(
            "\n    waiting for a copy slot: mean {:.2} s",
            waits.iter().sum::<f64>() / waits.len() as f64
        ));
    }
    let held: Vec<(f64, f64)> = children
        .values()
        .filter_map(|c| Some((c.get("copy")?.0, c.get("follow")?.1)))
        .collect();
    if !held.is_empty() {
        let first = held.iter().map(|s| s.0).fold(f64::INFINITY, f64::min);
        let last = held.iter().map(|s| s.1).fold(0.0, f64::max);
        let busy: f64 = held.iter().map(|s| s.1 - s.0).sum();
        out.push_str(&format!(
            "\n    copy slots held {:.0} % of {slots} x {:.1} s; last copy followed at {last:.1} s, exit at {ended:.1} s",
            100.0 * busy / (slots * (last - first)),
            last - first
        ));
        // Slots held on average in each tenth of that span: where they sat empty.
        let tenth = (last - first) / 10.0;
        let occupancy: Vec<String> = (0..10)
            .map(|i| {
                let (a, b) = (first + tenth * i as f64, first + tenth * (i + 1) as f64);
                let overlap: f64 = held
                    .iter()
                    .map(|s| (s.1.min(b) - s.0.max(a)).max(0.0))
                    .sum();
                format!("{:.0}", overlap / tenth)
            })
            .collect();
        out.push_str(&format!(
            "\n    slots held per tenth of it: {}",
            occupancy.join(" ")
        ));
    }
    out
}

/// What `/proc/<pid>/status` says of a process's memory, in KiB (threads: a count).
#[derive(Debug, Default, Clone, Copy)]
struct MemoryReading {
    hwm: u64,
    rss: u64,
    anon: u64,
    file: u64,
    shmem: u64,
    threads: u64,
}

fn read_memory(pid: u32) -> Option<MemoryReading> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(MemoryReading {
        hwm: field("VmHWM:")?,
        rss: field("VmRSS:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
        shmem: field("RssShmem:")?,
        threads: field("Threads:")?,
    })
}

/// A process's memory over its life: the peak resident set (VmHWM, exact), and from samples
/// every 10 ms the reading at the largest resident set seen, the most threads, and the
/// resident set each second (where in the run the peak falls).
#[derive(Debug, Default)]
struct MemoryProfile {
    peak_kib: u64,
    /// Seconds from the start to the sample that first saw the final peak.
    peak_seen_at: f64,
    at_peak: MemoryReading,
    most_threads: u64,
    per_second_mib: Vec<f64>,
}

impl MemoryProfile {
    fn describe(&self) -> String {
        let mib = |k: u64| k as f64 / 1024.0;
        let a = &self.at_peak;
        format!(
            "peak first seen at {:.1} s; largest sample {:.1} MiB: anonymous {:.1}, file-backed {:.1}, shared {:.1} MiB, {} threads (most {}); resident each second (MiB): {}",
            self.peak_seen_at,
            mib(a.rss),
            mib(a.anon),
            mib(a.file),
            mib(a.shmem),
            a.threads,
            self.most_threads,
            self.per_second_mib
                .iter()
                .map(|m| format!("{m:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
}

/// Samples a process's memory every 10 ms until it exits.
async fn sample_until_exit(child: &mut std::process::Child) -> MemoryProfile {
    let mut profile = MemoryProfile::default();
    let started = Instant::now();
    loop {
        if let Some(m) = read_memory(child.id()) {
            if m.hwm > profile.peak_kib {
                profile.peak_kib = m.hwm;
                profile.peak_seen_at = started.elapsed().as_secs_f64();
            }
            if m.rss >= profile.at_peak.rss {
                profile.at_peak = m;
            }
            profile.most_threads = profile.most_threads.max(m.threads);
            if started.elapsed().as_secs() as usize >= profile.per_second_mib.len() {
                profile.per_second_mib.push(m.rss as f64 / 1024.0);
            }
        }
        if child.try_wait().unwrap().is_some() {
            return profile;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `STANDBY_BENCH_WRAP="heaptrack -o /tmp/{}"`: the dry run and the run (not the setup) under
/// that command, `{}` replaced by `dry-run` or `run`; their memory figures are then the wrapper's.
fn wrapper(which: &str) -> Vec<String> {
    std::env::var("STANDBY_BENCH_WRAP")
        .unwrap_or_default()
        .split_whitespace()
        .map(|w| w.replace("{}", which))
        .collect()
}

/// Runs `standbyctl args` (under the wrapper, see [`wrapper`]) to its end: its memory, its
/// wall time and what it printed.
async fn measured(
    cli: &mut Cli,
    which: &str,
    args: &[&str],
) -> (MemoryProfile, Duration, std::process::Output) {
    let wrap = wrapper(which);
    let wrap: Vec<&str> = wrap.iter().map(String::as_str).collect();
    let started = Instant::now();
    let mut child = cli.spawn_under(&wrap, args);
    let memory = sample_until_exit(&mut child.child).await;
    let wall = started.elapsed();
    (memory, wall, cli.reap(args, child))
}

async fn measure(users: usize) -> Figures {
    let AzureDrLab {
        lab,
        http,
        mut cli,
        data,
    } = AzureDrLab::start(users, SPEED_UP).await;
    let dry = backup_all_dry_run();
    let (dry_memory, dry_wall, out) = measured(&mut cli, "dry-run", &dry).await;
    let dry_rss_kib = dry_memory.peak_kib;
    assert!(out.status.success(), "the dry run failed:\n{}", cli.tail());
    // A wrapper (heaptrack) may print lines of its own before the JSON.
    let json_at = out
        .stdout
        .windows(2)
        .position(|w| w == b"\n{")
        .map(|i| i + 1)
        .filter(|_| !out.stdout.starts_with(b"{"))
        .unwrap_or(0);
    let plan: serde_json::Value = serde_json::Deserializer::from_slice(&out.stdout[json_at..])
        .into_iter()
        .next()
        .expect("the dry run prints JSON")
        .expect("the dry run prints JSON");
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
    let copies_lab = (total / in_flight).max(longest);
    // ARM's write budget: every eligible volume needs two writes (its snapshot and its copy) and
    // every desktop the plan power-cycles two more (deallocate, start), whatever the schedule.
    let cycled = plan["plan"]["eligible"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["power_cycle"].as_bool() == Some(true))
        .count();
    let writes = 2 * eligible.len() + 2 * cycled;
    let writes_best_lab = write_budget_bound(writes);

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
    let workers = std::env::var("STANDBY_BENCH_WORKERS")
        .unwrap_or_else(|_| (in_flight as usize * 3).to_string());
    let mut all = BACKUP_ALL.to_vec();
    all.extend(["--workers", &workers]);
    // Where the run starts in ARM's write budget window (opened by the dry run).
    let budget = lab_get(&http, &lab, "faults/azure:arm/stats").await;
    let lab_now: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(lab_get(&http, &lab, "time").await["now"].clone())
            .expect("the lab tells its time");
    let window_left = budget["budget_window_started_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| (t.with_timezone(&chrono::Utc) - lab_now).as_seconds_f64() + WINDOW_LAB_SECS)
        .unwrap_or(0.0)
        .max(0.0);
    let used = budget["budget_window_writes"].as_u64().unwrap_or(0) as usize;
    let writes_lab = write_budget_bound_from(writes, window_left, used);
    let bound_lab = copies_lab.max(writes_lab);
    let bound = Duration::from_secs_f64(bound_lab / SPEED_UP);
    let t0 = chrono::Utc::now();
    let (memory, wall, out) = measured(&mut cli, "run", &all).await;
    let peak = memory.peak_kib;
    let status = out.status;
    assert!(status.success(), "backup all failed:\n{}", cli.tail());
    let mut phases = phases(
        &cli.data.join("standby.sqlite3"),
        t0,
        wall.as_secs_f64(),
        in_flight,
    );
    phases.push_str(&format!(
        "\n    dry run's memory: {}\n    run's memory: {}",
        dry_memory.describe(),
        memory.describe()
    ));
    // Whether the run kept to ARM's write budget (the lab counts, it does not refuse).
    let budget = lab_get(&http, &lab, "faults/azure:arm/stats").await;
    phases.push_str(&format!(
        "\n    ARM budget windows begun {} (dry run's included), writes past the budget {}",
        budget["budget_windows"], budget["writes_past_budget"]
    ));
    lab.shutdown().await.unwrap();
    // `STANDBY_BENCH_KEEP=1`: the run's data folder (catalog, `standbyctl`'s debug log) is kept
    // for a closer look.
    if std::env::var_os("STANDBY_BENCH_KEEP").is_some() {
        phases.push_str(&format!("\n    data kept in {}", data.keep().display()));
    }
    Figures {
        users,
        eligible: eligible.len(),
        cycled,
        copies_bound: Duration::from_secs_f64(copies_lab / SPEED_UP),
        writes_bound: Duration::from_secs_f64(writes_lab / SPEED_UP),
        writes_bound_best: Duration::from_secs_f64(writes_best_lab / SPEED_UP),
        dry_rss_kib,
        dry_wall,
        wall,
        bound,
        peak_rss_kib: peak,
        phases,
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
            "users {:>5}  eligible {:>5} ({} power-cycled)  wall {:>8.1} s  bound {:>8.1} s (copies {:.1} s, writes {:.1} s from this start, {:.1} s from the best)  bound/wall {:.2} (best-start bound/wall {:.2})  peak RSS {:>7.1} MiB (dry run {:.1} s, {:.1} MiB)",
            f.users,
            f.eligible,
            f.cycled,
            f.wall.as_secs_f64(),
            f.bound.as_secs_f64(),
            f.copies_bound.as_secs_f64(),
            f.writes_bound.as_secs_f64(),
            f.writes_bound_best.as_secs_f64(),
            f.bound.as_secs_f64() / f.wall.as_secs_f64(),
            f.copies_bound.max(f.writes_bound_best).as_secs_f64() / f.wall.as_secs_f64(),
            f.peak_rss_kib as f64 / 1024.0,
            f.dry_wall.as_secs_f64(),
            f.dry_rss_kib as f64 / 1024.0
        );
        println!("{}", f.phases);
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
