//! The window's performance benchmark (issue #6's quality bar; docs/console.md, "Window
//! performance benchmark"): the real `standby` binary under tauri-driver, on the large seed
//! (5,000 users; 5,000 of their volumes with 20 backup rows each, 100,000 in all) against the
//! default seed with a few backups, and against a blank Tauri window (`standby --blank-window`).
//!
//! Measured inside the page (`performance.now()`, animation frames), so WebDriver's round trips
//! are not counted:
//! - time to first render of the Volumes page (click on the navigation to the first painted row);
//! - typing latency in the volumes search (input event to the paint after the table filtered);
//! - the timeline's frame time while it is zoomed and panned for 3 s;
//! - the memory (PSS and RSS) of the app's process tree against the blank window's.
//!
//! The data: the lab runs in this process (the app is started without `--lab`); its accounts are
//! registered into a fresh data folder's catalog by `standby_core::lab_registration` as `standby
//! --lab` does (passwords in the session's Secret Service), discovery runs through the core (the
//! catalog's discovery cache then holds the volumes), then the backup rows are written straight
//! into the catalog: a fixture for this benchmark, not backups the lab holds.
//!
//! Run (a display and a Secret Service are needed):
//! `xvfb-run -a -s "-screen 0 1280x800x24" dbus-run-session -- scripts/private-session.sh
//!  cargo bench -p standby-tests --bench ui_perf`
//! after `cargo build --release -p standby`.
//! `STANDBY_APP_BIN` picks another build of the app (default: `target/release/standby`).
//! `STANDBY_UI_PERF_ONLY=timeline` measures the timeline only (both seeds; no Volumes page,
//! search, memory or blank window), to iterate on it faster.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use fantoccini::{Client, Locator};
use standby_core::backup::{Backup, BackupKind, BackupSite, BackupState};
use standby_core::catalog::Catalog;
use standby_core::clock::SystemClock;
use standby_core::inventory::DiscoveredResource;
use standby_core::lab_registration::{LabCluster, LabSubscription};
use standby_core::paths::DataPaths;
use standby_core::secret::Secret;
use standby_core::secrets::Keyring;
use standby_lab::config::PRIMARY_ACCOUNT;
use standby_lab::seed::SeedSize;
use standby_lab::{Lab, LabConfig, LabHandle};
use standby_tests::driver::Driver;
use standby_tests::perf::{self, quantile, Keystroke, ProcessMemory};
use standby_tests::screens::{click, save_screenshot, wait_for_heading};

/// One frame at 60 Hz, in milliseconds.
const FRAME_MS: f64 = 1000.0 / 60.0;
/// The large seed's volumes that get backups, and rows per volume (primaries and replicas).
const LARGE_VOLUMES: usize = 5_000;
const LARGE_ROWS_PER_VOLUME: usize = 20;
/// The small baseline: every volume of the default seed, one backup and its replica each.
const SMALL_ROWS_PER_VOLUME: usize = 2;
/// Visits of the Volumes page after the first, for its warm time to first render.
const WARM_VISITS: usize = 5;
/// What is typed into the search, one key at a time, then erased key by key.
const TYPED: &str = "acme-pd-desk-012";
/// How long the timeline is zoomed and panned.
const TIMELINE_MS: u64 = 3_000;

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    if std::env::var_os("DISPLAY").is_none() {
        bail!(
            "no DISPLAY: run under xvfb-run and scripts/private-session.sh (see docs/console.md)"
        );
    }
    let app = app_binary()?;
    let load_before = load_average();
    eprintln!("ui_perf: app {}; load average {load_before}", app.display());
    if only_timeline() {
        let large = measure_app(
            &app,
            "large",
            SeedSize::Large,
            Some(LARGE_VOLUMES),
            LARGE_ROWS_PER_VOLUME,
        )
        .await?;
        let small =
            measure_app(&app, "small", SeedSize::Small, None, SMALL_ROWS_PER_VOLUME).await?;
        report_timeline(&large, &small, &load_before, &load_average());
        return Ok(());
    }

    let large = measure_app(
        &app,
        "large",
        SeedSize::Large,
        Some(LARGE_VOLUMES),
        LARGE_ROWS_PER_VOLUME,
    )
    .await?;
    let small = measure_app(&app, "small", SeedSize::Small, None, SMALL_ROWS_PER_VOLUME).await?;
    let blank = measure_blank(&app).await?;
    let load_after = load_average();
    report(&app, &large, &small, &blank, &load_before, &load_after);
    Ok(())
}

/// `STANDBY_UI_PERF_HOLD=<seconds>`: keeps the window open that long after its measures, and
/// prints the WebDriver address and session, so that a profiler or a script can look into the
/// page as the benchmark left it (docs/console.md, "Looking into the page").
async fn hold(client: &Client, driver: &Driver, label: &str) {
    let Some(secs) = std::env::var("STANDBY_UI_PERF_HOLD")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return;
    };
    let session = client.session_id().await.ok().flatten().unwrap_or_default();
    eprintln!(
        "ui_perf [{label}]: holding the window for {secs} s: WebDriver http://127.0.0.1:{}/session/{session}",
        driver.port
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
}

/// `STANDBY_APP_BIN`, else the release build (what users run; see docs/console.md).
fn app_binary() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("STANDBY_APP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/standby")
        });
    path.canonicalize().with_context(|| {
        format!(
            "the app binary {} is missing: build it with `cargo build --release -p standby`, or name one in STANDBY_APP_BIN",
            path.display()
        )
    })
}

/// `STANDBY_UI_PERF_ONLY=timeline`: the timeline's measures only.
fn only_timeline() -> bool {
    std::env::var("STANDBY_UI_PERF_ONLY").is_ok_and(|v| v == "timeline")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// A lab and a data folder whose catalog knows the lab's accounts, the primary cluster's
/// discovered volumes and the fixture's backups.
struct Fixture {
    data: tempfile::TempDir,
    lab: LabHandle,
    discovered: usize,
    volumes_with_backups: usize,
    backups: usize,
}

async fn fixture(
    seed: SeedSize,
    max_volumes: Option<usize>,
    rows_per_volume: usize,
) -> anyhow::Result<Fixture> {
    let lab = Lab::start(LabConfig {
        seed,
        ..LabConfig::default()
    })
    .await
    .context("start the lab")?;
    let data = tempfile::tempdir()?;
    let paths = DataPaths::resolve(Some(data.path()))?;
    let catalog = Catalog::open(&paths.catalog)?.shared();
    let (clusters, subscription) = registration(&lab);
    let mut registered = {
        let c = catalog.lock();
        let accounts = standby_core::accounts::Accounts {
            catalog: &c,
            store: &Keyring,
        };
        standby_core::lab_registration::register(&accounts, clusters, subscription, Utc::now())
            .context("register the lab's accounts (is a Secret Service running? use scripts/private-session.sh)")?
    };
    // The Volumes page opens on the first account by name, as the catalog lists them.
    registered.sort_by_key(|a| a.name.to_lowercase());
    let shown = registered
        .first()
        .context("the lab registered no account")?
        .clone();
    let secondary = registered
        .iter()
        .find(|a| a.name.contains("secondary"))
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let t = std::time::Instant::now();
    let found = standby_core::inventory::discover(
        &catalog,
        &Keyring,
        &shown.id,
        PRIMARY_ACCOUNT,
        Arc::new(SystemClock),
    )
    .await
    .with_context(|| format!("discover {PRIMARY_ACCOUNT} on {}", shown.name))?;
    eprintln!(
        "ui_perf: discovered {} volumes of {PRIMARY_ACCOUNT} on {} in {:.1} s",
        found.len(),
        shown.name,
        t.elapsed().as_secs_f64()
    );
    let protected: Vec<&DiscoveredResource> = found
        .iter()
        .filter(|r| r.not_protected_reason.is_none())
        .take(max_volumes.unwrap_or(usize::MAX))
        .collect();
    let now = Utc::now();
    let (rows, expiries) = backup_rows(
        &protected,
        &shown.id,
        &shown.name,
        &secondary,
        rows_per_volume,
        now,
    );
    {
        let c = catalog.lock();
        c.insert_backups_once(&rows)?;
        c.set_backup_expiries(&expiries)?;
    }
    Ok(Fixture {
        data,
        lab,
        discovered: found.len(),
        volumes_with_backups: protected.len(),
        backups: rows.len(),
    })
}

/// The lab's objects in the words of `standby-core`: the same mapping as `standby --lab`'s
/// (`src-tauri/src/lab.rs`, `registration`), which this crate cannot call without building the
/// app crate (and tauri) into every end-to-end test.
fn registration(lab: &LabHandle) -> (Vec<LabCluster>, LabSubscription) {
    let control = format!("{}/_lab/", lab.control_url.as_str().trim_end_matches('/'));
    let clusters = lab
        .prism
        .iter()
        .map(|p| LabCluster {
            name: p.name.clone(),
            address: p.ip.to_string(),
            port: p.port,
            username: p.username.clone(),
            password: Secret::new(p.password.clone()),
            certificate_sha256: p.certificate_sha256.clone(),
            guest_agent_url: format!("{control}prism/{}/guest-agent", p.name),
        })
        .collect();
    let a = &lab.azure;
    let subscription = LabSubscription {
        tenant_id: a.tenant_id.clone(),
        client_id: a.client_id.clone(),
        client_secret: Secret::new(a.client_secret.clone()),
        subscription_id: a.subscription_id.clone(),
        resource_groups: vec![a.resource_group.clone()],
        primary_region: a.primary_region.clone(),
        arm_url: a.arm_url.to_string(),
        authority_url: a.authority_url.to_string(),
        ca_certificate_pem: a.ca_certificate_pem.clone(),
        guest_agent_url: format!("{control}azure/guest-agent"),
    };
    (clusters, subscription)
}

/// A cheap, fixed mix of two numbers (the fixture is the same on every run).
fn mix(a: u64, b: u64) -> u64 {
    let mut x = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// A UUID-shaped id that is the same on every run.
fn fixed_uuid(a: u64, b: u64) -> String {
    let h = mix(a, b);
    let l = mix(h, a ^ 0x5bd1_e995);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        l >> 52,
        l & 0xffff_ffff_ffff
    )
}

/// `rows_per_volume` rows per volume, newest first, every 11 hours over the last week (so that
/// the timeline's default window, the last 7 days, holds them all): mostly scheduled backups,
/// some manual, post-session and safety ones; about one primary in forty failed (no replica
/// then); the newest of some volumes still being taken or copied; scheduled ones kept for 14
/// days. Names and references are shaped as the AHV backup job writes them.
fn backup_rows(
    volumes: &[&DiscoveredResource],
    account_id: &str,
    account_name: &str,
    secondary_name: &str,
    rows_per_volume: usize,
    now: DateTime<Utc>,
) -> (Vec<Backup>, Vec<(String, Option<String>)>) {
    let mut rows = Vec::with_capacity(volumes.len() * rows_per_volume);
    let mut expiries = Vec::new();
    let pd = format!("standby-{PRIMARY_ACCOUNT}");
    for (vi, v) in volumes.iter().enumerate() {
        let vi = vi as u64;
        let mut made = 0;
        for j in 0..14u64 {
            if made >= rows_per_volume {
                break;
            }
            let h = mix(vi, j);
            let created = now
                - chrono::Duration::hours((j * 11 + vi % 11) as i64)
                - chrono::Duration::minutes(((vi * 7) % 60) as i64)
                - chrono::Duration::seconds((h % 60) as i64);
            let kind = match h % 20 {
                0 => BackupKind::Manual,
                1 => BackupKind::PostSession,
                2 => BackupKind::Safety,
                _ => BackupKind::Scheduled,
            };
            let (state, percent, error) = if j == 0 && h % 50 == 3 {
                (BackupState::Creating, 0.0, None)
            } else if h % 40 == 1 {
                (
                    BackupState::Failed,
                    0.0,
                    Some("Prism task failed: the protection domain's snapshot could not be taken (kInternalError)".to_string()),
                )
            } else {
                (BackupState::Available, 100.0, None)
            };
            let at = created.to_rfc3339();
            let updated = (created + chrono::Duration::minutes(3)).to_rfc3339();
            let name = format!(
                "{} {}",
                kind.as_str().replace('_', "-"),
                created.format("%Y-%m-%d %H:%M")
            );
            let id = fixed_uuid(vi, j * 2);
            let available = state == BackupState::Available;
            rows.push(Backup {
                id: id.clone(),
                job_id: None,
                account_id: account_id.to_string(),
                frame_account: v.frame_account.clone(),
                volume_id: v.provider_id.clone(),
                volume_name: v.name.clone(),
                name: name.clone(),
                kind,
                site: BackupSite::Primary,
                location: account_name.to_string(),
                provider_ref: available.then(|| format!("{pd}:{}", 100_000 + mix(j, 7) % 900_000)),
                state,
                percent,
                replica_of: None,
                error,
                created_at: at.clone(),
                updated_at: updated.clone(),
            });
            made += 1;
            let expires = (created + chrono::Duration::days(14)).to_rfc3339();
            if available && kind == BackupKind::Scheduled {
                expiries.push((id.clone(), Some(expires.clone())));
            }
            if !available || made >= rows_per_volume {
                continue;
            }
            let copying = j == 0 && h % 25 == 4;
            let replica = fixed_uuid(vi, j * 2 + 1);
            rows.push(Backup {
                id: replica.clone(),
                job_id: None,
                account_id: account_id.to_string(),
                frame_account: v.frame_account.clone(),
                volume_id: v.provider_id.clone(),
                volume_name: v.name.clone(),
                name,
                kind,
                site: BackupSite::Replica,
                location: secondary_name.to_string(),
                provider_ref: (!copying)
                    .then(|| format!("{pd}:{}", 200_000 + mix(j, 11) % 800_000)),
                state: if copying {
                    BackupState::Replicating
                } else {
                    BackupState::Available
                },
                percent: if copying { (h % 90) as f64 } else { 100.0 },
                replica_of: Some(id),
                error: None,
                created_at: at,
                updated_at: updated,
            });
            made += 1;
            if !copying && kind == BackupKind::Scheduled {
                expiries.push((replica, Some(expires)));
            }
        }
    }
    (rows, expiries)
}

/// What one run of the app measured.
struct AppFigures {
    label: &'static str,
    discovered: usize,
    volumes_with_backups: usize,
    backups: usize,
    first_render_cold_ms: f64,
    first_render_warm_ms: Vec<f64>,
    keys: Vec<Keystroke>,
    timeline_open_ms: f64,
    volumes_idle: perf::Idle,
    /// Frames while a window-sized overlay changes colour over the Volumes table.
    volumes_repaint: Vec<f64>,
    /// Frames while the volume count's text changes (a small change in the page).
    volumes_text_change: Vec<f64>,
    /// Frames while the window (and the table with it) scrolls.
    volumes_scroll: Vec<f64>,
    idle_frames: perf::Idle,
    timeline: perf::Frames,
    memory: Vec<ProcessMemory>,
}

async fn measure_app(
    app: &std::path::Path,
    label: &'static str,
    seed: SeedSize,
    max_volumes: Option<usize>,
    rows_per_volume: usize,
) -> anyhow::Result<AppFigures> {
    let t = std::time::Instant::now();
    let fx = fixture(seed, max_volumes, rows_per_volume).await?;
    eprintln!(
        "ui_perf [{label}]: fixture ready in {:.1} s: {} volumes discovered, {} backups for {} of them",
        t.elapsed().as_secs_f64(),
        fx.discovered,
        fx.backups,
        fx.volumes_with_backups
    );
    let dir = fx.data.path().as_os_str().to_os_string();
    let driver = Driver::start(&[("STANDBY_DATA_DIR", dir.as_os_str())])?;
    let client = perf::session_with_args(&driver, app, &[], 180).await?;
    let out = drive_app(&client, label, &fx, &dir).await;
    if let Err(e) = &out {
        eprintln!("ui_perf [{label}]: {e:#}");
    }
    hold(&client, &driver, label).await;
    // Closing the window waits for the page too: a page that stopped painting would hang it.
    let _ = tokio::time::timeout(Duration::from_secs(20), client.close()).await;
    drop(driver);
    perf::wait_app_gone(&dir).await;
    if let Err(e) = fx.lab.shutdown().await {
        eprintln!("ui_perf [{label}]: the lab did not stop cleanly: {e}");
    }
    out
}

async fn drive_app(
    client: &Client,
    label: &'static str,
    fx: &Fixture,
    dir: &OsStr,
) -> anyhow::Result<AppFigures> {
    wait_for_heading(client, "Dashboard").await?;
    // Let the dashboard's own reads finish: the first visit should time the Volumes page only.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if only_timeline() {
        click(client, "nav [data-nav='volumes']").await?;
        wait_for_heading(client, "Volumes").await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (timeline_open_ms, idle_frames, timeline) = measure_timeline(client, label).await?;
        return Ok(AppFigures {
            label,
            discovered: fx.discovered,
            volumes_with_backups: fx.volumes_with_backups,
            backups: fx.backups,
            first_render_cold_ms: f64::NAN,
            first_render_warm_ms: Vec::new(),
            keys: Vec::new(),
            timeline_open_ms,
            volumes_idle: perf::Idle {
                deltas: Vec::new(),
                animations: Vec::new(),
                canvas_clears: 0,
                mutations: 0,
                mutation_samples: Vec::new(),
            },
            volumes_repaint: Vec::new(),
            volumes_text_change: Vec::new(),
            volumes_scroll: Vec::new(),
            idle_frames,
            timeline,
            memory: Vec::new(),
        });
    }

    // ---- Time to first render of the Volumes page: the first visit, then warm visits ----
    let cold = perf::volumes_first_render_ms(client).await?;
    wait_for_heading(client, "Volumes").await?;
    let mut warm = Vec::new();
    for _ in 0..WARM_VISITS {
        click(client, "nav [data-nav='dashboard']").await?;
        wait_for_heading(client, "Dashboard").await?;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        warm.push(perf::volumes_first_render_ms(client).await?);
    }
    wait_for_heading(client, "Volumes").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    save_screenshot(client, &format!("ui-perf-{label}-volumes")).await?;
    let volumes_idle = perf::idle_frames(client, 1_000).await?;
    let volumes_repaint = perf::repaint_frames(client, 1_000).await?;
    let volumes_text_change =
        perf::text_change_frames(client, "[data-testid='volume-count']", 1_000).await?;
    let volumes_scroll = perf::scroll_frames(client, 1_000).await?;
    eprintln!(
        "ui_perf [{label}]: Volumes first render {cold:.0} ms, then {warm:?} ms; frames over the table: idle {:.0} ms, full repaint {:.0} ms, text change {:.0} ms, scrolling {:.0} ms",
        quantile(&volumes_idle.deltas, 0.5),
        quantile(&volumes_repaint, 0.5),
        quantile(&volumes_text_change, 0.5),
        quantile(&volumes_scroll, 0.5)
    );

    // ---- Typing latency in the search: type, then erase, one key at a time ----
    let mut keys = Vec::new();
    let mut typed = String::new();
    let mut values: Vec<String> = TYPED
        .chars()
        .map(|c| {
            typed.push(c);
            typed.clone()
        })
        .collect();
    values.extend((0..TYPED.len()).rev().map(|n| TYPED[..n].to_string()));
    for v in &values {
        keys.push(perf::keystroke(client, v).await?);
        // A quick typist's pace: about eight keys a second.
        tokio::time::sleep(Duration::from_millis(120)).await;
    }

    let results: Vec<f64> = keys.iter().map(|k| k.results_ms).collect();
    let commits: Vec<f64> = keys.iter().map(|k| k.commit_ms).collect();
    eprintln!(
        "ui_perf [{label}]: search keystroke to table painted {:.0} ms, in the DOM {:.0} ms (medians); {} of {} keys answered in the next frame",
        quantile(&results, 0.5),
        quantile(&commits, 0.5),
        keys.iter().filter(|k| k.late_frames == 0).count(),
        keys.len()
    );

    let (timeline_open_ms, idle, timeline) = measure_timeline(client, label).await?;

    // ---- Memory, with the Volumes table and the timeline both shown in this session ----
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = perf::app_pid(dir).await?;
    let memory = perf::tree_memory(pid)?;
    Ok(AppFigures {
        label,
        discovered: fx.discovered,
        volumes_with_backups: fx.volumes_with_backups,
        backups: fx.backups,
        first_render_cold_ms: cold,
        first_render_warm_ms: warm,
        keys,
        timeline_open_ms,
        volumes_idle,
        volumes_repaint,
        volumes_text_change,
        volumes_scroll,
        idle_frames: idle,
        timeline,
        memory,
    })
}

/// The timeline of the whole account, from the Volumes page: the tab's click to the chart
/// painted, a second of frames while nothing is done, then the zoom and pan.
async fn measure_timeline(
    client: &Client,
    label: &str,
) -> anyhow::Result<(f64, perf::Idle, perf::Frames)> {
    let tab = "[data-tab='timeline']";
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(tab))
        .await
        .context("the Volumes page has no Timeline tab ([data-tab='timeline'])")?;
    let timeline_open_ms = timeline_open(client).await?;
    // The whole chart on screen, as an administrator looking at it has it.
    client
        .execute(
            "document.querySelector(\"[data-testid='timeline-chart']\").scrollIntoView({ block: 'center' }); return true;",
            vec![],
        )
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    save_screenshot(client, &format!("ui-perf-{label}-timeline")).await?;
    let idle = tokio::time::timeout(Duration::from_secs(30), perf::idle_frames(client, 1_000))
        .await
        .with_context(|| format!("[{label}] the idle timeline painted no frame for 30 s"))??;
    // A page that stops answering fails the run instead of hanging it.
    let timeline = tokio::time::timeout(
        Duration::from_millis(TIMELINE_MS + 60_000),
        perf::timeline_frames(client, TIMELINE_MS),
    )
    .await
    .with_context(|| {
        format!("[{label}] the timeline's zoom and pan got no answer from the page")
    })??;
    eprintln!(
        "ui_perf [{label}]: timeline painted in {timeline_open_ms:.0} ms; idle frame median {:.1} ms; zoom and pan: {} actions, {} frames, frame median {:.1} ms, p95 {:.1} ms, script per action median {:.1} ms",
        quantile(&idle.deltas, 0.5),
        timeline.actions,
        timeline.deltas.len(),
        quantile(&timeline.deltas, 0.5),
        quantile(&timeline.deltas, 0.95),
        quantile(&timeline.action_ms, 0.5)
    );
    // WebDriver's screenshot waits for a frame: a page that stopped painting would hang it.
    tokio::time::timeout(
        Duration::from_secs(30),
        save_screenshot(client, &format!("ui-perf-{label}-timeline-after")),
    )
    .await
    .with_context(|| {
        format!("[{label}] after the zoom and pan, the page painted no frame for 30 s (the screenshot got none)")
    })??;
    Ok((timeline_open_ms, idle, timeline))
}

/// Clicks the Timeline tab from inside the page and answers the milliseconds until the chart's
/// "shown" line is painted (the timeline was read and the chart given its points).
async fn timeline_open(client: &Client) -> anyhow::Result<f64> {
    let v = client
        .execute_async(
            r#"
            const done = arguments[arguments.length - 1];
            const ready = () => document.querySelector("[data-testid='timeline-chart'] canvas") && document.querySelector("[data-testid='timeline-visible']");
            let seen = false;
            const timer = setTimeout(() => { obs.disconnect(); done({ err: "the timeline chart did not appear" }); }, 170000);
            const obs = new MutationObserver(() => {
              if (seen || !ready()) return;
              seen = true;
              obs.disconnect();
              requestAnimationFrame(() => requestAnimationFrame(() => { clearTimeout(timer); done({ ok: performance.now() - t0 }); }));
            });
            obs.observe(document.body, { childList: true, subtree: true, characterData: true });
            const t0 = performance.now();
            document.querySelector("[data-tab='timeline']").click();
            "#,
            vec![],
        )
        .await
        .context("open the timeline")?;
    match v.get("ok").and_then(|x| x.as_f64()) {
        Some(ms) => Ok(ms),
        None => bail!("open the timeline: {}", v),
    }
}

/// The blank window: its process tree's memory, and what a full-window repaint costs on this
/// display (the floor under every frame time of the app).
struct Blank {
    memory: Vec<ProcessMemory>,
    repaint_frames: Vec<f64>,
}

async fn measure_blank(app: &std::path::Path) -> anyhow::Result<Blank> {
    let data = tempfile::tempdir()?;
    let dir = data.path().as_os_str().to_os_string();
    let driver = Driver::start(&[("STANDBY_DATA_DIR", dir.as_os_str())])?;
    let client = perf::session_with_args(&driver, app, &["--blank-window"], 60).await?;
    // The same settling time as the app's measure gets after its last action.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pid = perf::app_pid(&dir).await?;
    let memory = perf::tree_memory(pid);
    let repaint = perf::repaint_frames(&client, 2_000).await;
    let _ = client.close().await;
    drop(driver);
    perf::wait_app_gone(&dir).await;
    Ok(Blank {
        memory: memory?,
        repaint_frames: repaint?,
    })
}

fn sum(m: &[ProcessMemory], f: fn(&ProcessMemory) -> u64) -> f64 {
    m.iter().map(f).sum::<u64>() as f64 / 1024.0
}

fn describe(m: &[ProcessMemory]) -> String {
    m.iter()
        .map(|p| format!("{} {:.0}", p.name, p.pss_kib as f64 / 1024.0))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One figure of a seed's measures.
type Figure = fn(&AppFigures) -> f64;

/// The timeline's rows of the report (`STANDBY_UI_PERF_ONLY=timeline`).
fn report_timeline(large: &AppFigures, small: &AppFigures, load_before: &str, load_after: &str) {
    println!();
    println!(
        "Timeline benchmark ({}), load average before/after: {load_before} / {load_after}",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    for f in [large, small] {
        println!(
            "{}: {} backups on {} volumes; {} timeline actions, {} frames ({})",
            f.label,
            f.backups,
            f.volumes_with_backups,
            f.timeline.actions,
            f.timeline.deltas.len(),
            f.timeline.visible_text.trim()
        );
    }
    println!("| Measure | Large | Small |");
    println!("|---|---|---|");
    let rows: [(&str, Figure); 6] = [
        ("Timeline tab to chart painted", |f| f.timeline_open_ms),
        ("Timeline idle frame, median", |f| {
            quantile(&f.idle_frames.deltas, 0.5)
        }),
        ("Timeline zoom and pan: frame median", |f| {
            quantile(&f.timeline.deltas, 0.5)
        }),
        ("Timeline zoom and pan: frame p95", |f| {
            quantile(&f.timeline.deltas, 0.95)
        }),
        ("Timeline zoom and pan: script per action, median", |f| {
            quantile(&f.timeline.action_ms, 0.5)
        }),
        ("Timeline zoom and pan: script per action, p95", |f| {
            quantile(&f.timeline.action_ms, 0.95)
        }),
    ];
    for (name, g) in rows {
        println!("| {name} | {:.1} ms | {:.1} ms |", g(large), g(small));
    }
    for f in [large, small] {
        println!(
            "{}: on the idle timeline ({} frames): running animations {:?}; {} canvas clears; {} DOM mutations {:?}",
            f.label,
            f.idle_frames.deltas.len(),
            f.idle_frames.animations,
            f.idle_frames.canvas_clears,
            f.idle_frames.mutations,
            f.idle_frames.mutation_samples
        );
    }
}

fn report(
    app: &std::path::Path,
    large: &AppFigures,
    small: &AppFigures,
    blank: &Blank,
    load_before: &str,
    load_after: &str,
) {
    let med = |x: &[f64]| quantile(x, 0.5);
    let p95 = |x: &[f64]| quantile(x, 0.95);
    let keys = |f: &AppFigures, g: fn(&Keystroke) -> f64| f.keys.iter().map(g).collect::<Vec<_>>();
    let (lr, sr) = (keys(large, |k| k.results_ms), keys(small, |k| k.results_ms));
    let (lc, sc) = (keys(large, |k| k.commit_ms), keys(small, |k| k.commit_ms));
    let (lp, sp) = (
        keys(large, |k| k.paint_frame_ms),
        keys(small, |k| k.paint_frame_ms),
    );
    let next_frame = |f: &AppFigures| f.keys.iter().filter(|k| k.late_frames == 0).count();
    let (lt, st) = (&large.timeline.deltas, &small.timeline.deltas);
    let (la, sa) = (&large.timeline.action_ms, &small.timeline.action_ms);
    let repaint = med(&blank.repaint_frames);
    let janky = |d: &[f64]| d.iter().filter(|x| **x > 2.0 * FRAME_MS).count();
    println!();
    println!(
        "Window performance benchmark ({})",
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("app: {}", app.display());
    println!("load average before/after: {load_before} / {load_after}");
    for f in [large, small] {
        println!(
            "{}: {} volumes discovered, {} backups on {} volumes; {} keystrokes; {} timeline actions, {} frames ({})",
            f.label,
            f.discovered,
            f.backups,
            f.volumes_with_backups,
            f.keys.len(),
            f.timeline.actions,
            f.timeline.deltas.len(),
            f.timeline.visible_text.trim()
        );
    }
    println!();
    println!("| Measure | Large | Small | Large / small | Large / 16.7 ms frame | Large / blank repaint |");
    println!("|---|---|---|---|---|---|");
    let row = |name: &str, l: f64, s: f64, frame: bool| {
        let (fr, rp) = if frame {
            (
                format!("{:.2}", l / FRAME_MS),
                format!("{:.2}", l / repaint),
            )
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "| {name} | {l:.1} ms | {s:.1} ms | {:.2} | {fr} | {rp} |",
            l / s
        );
    };
    row(
        "Volumes page, first render (first visit)",
        large.first_render_cold_ms,
        small.first_render_cold_ms,
        false,
    );
    row(
        "Volumes page, first render (median of 5 later visits)",
        med(&large.first_render_warm_ms),
        med(&small.first_render_warm_ms),
        false,
    );
    row(
        "Search: keystroke to filtered table painted, median",
        med(&lr),
        med(&sr),
        true,
    );
    row(
        "Search: keystroke to filtered table painted, p95",
        p95(&lr),
        p95(&sr),
        true,
    );
    row(
        "Search: keystroke to filtered table in the DOM, median",
        med(&lc),
        med(&sc),
        true,
    );
    row(
        "Search: keystroke to filtered table in the DOM, p95",
        p95(&lc),
        p95(&sc),
        true,
    );
    row(
        "Search: the frame that paints the answer, median",
        med(&lp),
        med(&sp),
        true,
    );
    row(
        "Timeline tab to chart painted",
        large.timeline_open_ms,
        small.timeline_open_ms,
        false,
    );
    row(
        "Timeline idle frame (chart shown, nothing done), median",
        med(&large.idle_frames.deltas),
        med(&small.idle_frames.deltas),
        true,
    );
    row(
        "Volumes table idle frame (nothing done), median",
        med(&large.volumes_idle.deltas),
        med(&small.volumes_idle.deltas),
        true,
    );
    row(
        "Volumes table under a full-window repaint, frame median",
        med(&large.volumes_repaint),
        med(&small.volumes_repaint),
        true,
    );
    row(
        "Volumes table with its count's text changing, frame median",
        med(&large.volumes_text_change),
        med(&small.volumes_text_change),
        true,
    );
    row(
        "Volumes table scrolling (40 px a frame), frame median",
        med(&large.volumes_scroll),
        med(&small.volumes_scroll),
        true,
    );
    row(
        "Volumes table scrolling (40 px a frame), frame p95",
        p95(&large.volumes_scroll),
        p95(&small.volumes_scroll),
        true,
    );
    row(
        "Timeline frame while zooming/panning, median",
        med(lt),
        med(st),
        true,
    );
    row(
        "Timeline frame while zooming/panning, p95",
        p95(lt),
        p95(st),
        true,
    );
    row(
        "Timeline zoom/pan event handling (script), median",
        med(la),
        med(sa),
        true,
    );
    row(
        "Timeline zoom/pan event handling (script), p95",
        p95(la),
        p95(sa),
        true,
    );
    println!(
        "Blank window, full-window repaint frame: median {:.1} ms, p95 {:.1} ms ({:.2} frames of 16.7 ms): this display's floor",
        repaint,
        p95(&blank.repaint_frames),
        repaint / FRAME_MS
    );
    println!(
        "Search: keys answered in the next frame (the filtered table in the DOM before the first frame after the key): large {} of {}, small {} of {}",
        next_frame(large),
        large.keys.len(),
        next_frame(small),
        small.keys.len()
    );
    println!(
        "Timeline frames longer than two frames (33 ms): large {} of {}, small {} of {}",
        janky(lt),
        lt.len(),
        janky(st),
        st.len()
    );
    println!();
    for f in [large, small] {
        println!(
            "{}: running animations on the idle Volumes table: {:?}; on the idle timeline: {:?}",
            f.label, f.volumes_idle.animations, f.idle_frames.animations
        );
    }
    println!();
    let pss = |m: &[ProcessMemory]| sum(m, |p| p.pss_kib);
    let rss = |m: &[ProcessMemory]| sum(m, |p| p.rss_kib);
    println!(
        "| Process tree memory | Large | Small | Blank window | Large / blank | Small / blank |"
    );
    println!("|---|---|---|---|---|---|");
    for (name, f) in [
        ("PSS", pss as fn(&[ProcessMemory]) -> f64),
        ("RSS (sum)", rss),
    ] {
        let (l, s, b) = (f(&large.memory), f(&small.memory), f(&blank.memory));
        println!(
            "| {name} | {l:.0} MiB | {s:.0} MiB | {b:.0} MiB | {:.2} | {:.2} |",
            l / b,
            s / b
        );
    }
    println!();
    println!("PSS by process (MiB): large: {}", describe(&large.memory));
    println!("                      small: {}", describe(&small.memory));
    println!("                      blank: {}", describe(&blank.memory));
}
