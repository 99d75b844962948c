//! Measures for the window's performance benchmark (`benches/ui_perf.rs`): timings taken inside
//! the page with `performance.now()` and `requestAnimationFrame` (so WebDriver's round trips are
//! not counted), and the memory of the app's process tree read from `/proc`.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

use crate::driver::Driver;

/// Opens a WebDriver session that launches `app` with `args` (tauri-driver hands them to
/// WebKitWebDriver), and lets page scripts run for up to `script_secs`.
pub async fn session_with_args(
    driver: &Driver,
    app: &Path,
    args: &[&str],
    script_secs: u64,
) -> anyhow::Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "tauri:options".into(),
        json!({ "application": app.display().to_string(), "args": args }),
    );
    let url = format!("http://127.0.0.1:{}", driver.port);
    // As `Driver::session`: tauri-driver may listen before WebKitWebDriver behind it does.
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("WebDriver not answering yet ({e}); trying again");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(anyhow::Error::new(e)).context("cannot open a WebDriver session"),
        }
    };
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(script_secs)),
            None,
            None,
        ))
        .await
        .context("set the script timeout")?;
    Ok(client)
}

/// Runs an asynchronous page script that answers `{ok: ...}` or `{err: "..."}`.
async fn run(client: &Client, what: &str, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
    let out = client
        .execute_async(script, args)
        .await
        .with_context(|| format!("{what}: the page script did not answer"))?;
    match out.get("ok") {
        Some(v) => Ok(v.clone()),
        None => bail!("{what}: {}", out.get("err").unwrap_or(&out)),
    }
}

/// Clicks the Volumes entry of the navigation from inside the page and answers the milliseconds
/// from the click to the first paint that shows a volume row: a `MutationObserver` sees the first
/// `volume-row`, then two animation frames pass (the second runs after that row was painted).
pub async fn volumes_first_render_ms(client: &Client) -> anyhow::Result<f64> {
    let v = run(
        client,
        "time the Volumes page",
        r#"
        const done = arguments[arguments.length - 1];
        const nav = document.querySelector("nav [data-nav='volumes']");
        if (!nav) { done({ err: "no Volumes entry in the navigation" }); return; }
        if (document.querySelector("[data-testid='volume-row']")) { done({ err: "volume rows are on screen already" }); return; }
        let seen = false;
        let t0 = 0;
        const timer = setTimeout(() => { obs.disconnect(); done({ err: "no volume row within the script timeout" }); }, 170000);
        const obs = new MutationObserver(() => {
          if (seen || !document.querySelector("[data-testid='volume-row']")) return;
          seen = true;
          obs.disconnect();
          requestAnimationFrame(() => requestAnimationFrame(() => {
            clearTimeout(timer);
            done({ ok: performance.now() - t0 });
          }));
        });
        obs.observe(document.body, { childList: true, subtree: true });
        t0 = performance.now();
        nav.click();
        "#,
        vec![],
    )
    .await?;
    v.as_f64().context("a duration")
}

/// One keystroke in the volumes search, timed inside the page from its `input` event.
#[derive(Debug, Clone, Copy)]
pub struct Keystroke {
    /// To the filtered table in the DOM (the first mutation the key caused): the page's own work.
    pub commit_ms: f64,
    /// Animation frames that began after the key and before the table was in the DOM: 0 when the
    /// next frame shows the answer (the search "answers within a frame").
    pub late_frames: u32,
    /// To the start of the frame after the one that painted the answer: when it is on screen.
    pub results_ms: f64,
    /// How long the frame that painted the answer took (its start to the next frame's start).
    pub paint_frame_ms: f64,
}

/// Sets the search field to `value` as a key press does (React's `onChange` sees an `input`
/// event) and times it. A frame's animation callbacks run before its style, layout and paint, so
/// the first callback after the table changed belongs to the frame that paints it, and the one
/// after that to the next frame, which begins once the painted one is done.
pub async fn keystroke(client: &Client, value: &str) -> anyhow::Result<Keystroke> {
    let v = run(
        client,
        "time a keystroke",
        r#"
        const [value, done] = arguments;
        const input = document.querySelector("input[aria-label='Search volumes']");
        if (!input) { done({ err: "no search field labelled 'Search volumes'" }); return; }
        let commit = null, late = 0, painting = null;
        const obs = new MutationObserver(() => { if (commit === null) commit = performance.now() - t0; });
        obs.observe(document.querySelector("main") || document.body, { childList: true, subtree: true, characterData: true, attributes: true });
        const timer = setTimeout(() => { obs.disconnect(); done({ err: "the page did not change within 10 s of the key" }); }, 10000);
        const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
        input.focus();
        const t0 = performance.now();
        setter.call(input, value);
        input.dispatchEvent(new Event("input", { bubbles: true }));
        const frame = () => {
          const now = performance.now() - t0;
          if (painting !== null) {
            clearTimeout(timer);
            obs.disconnect();
            done({ ok: { commit, late, results: now, paint: now - painting } });
            return;
          }
          if (commit !== null) painting = now; else late++;
          requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
        "#,
        vec![json!(value)],
    )
    .await?;
    Ok(Keystroke {
        commit_ms: v["commit"].as_f64().context("commit")?,
        late_frames: v["late"]
            .as_u64()
            .context("late")?
            .try_into()
            .context("late frames")?,
        results_ms: v["results"].as_f64().context("results")?,
        paint_frame_ms: v["paint"].as_f64().context("paint")?,
    })
}

/// What the timeline run did and the gaps between its animation frames.
#[derive(Debug, Clone)]
pub struct Frames {
    /// Milliseconds between consecutive animation frames.
    pub deltas: Vec<f64>,
    pub actions: u64,
    /// Milliseconds each action's event took to handle (the chart's and the page's synchronous
    /// work, before anything is painted).
    pub action_ms: Vec<f64>,
    /// The chart's "n of m backups shown" text after the run (proves the actions moved it).
    pub visible_text: String,
}

/// Zooms and pans the timeline for `ms` milliseconds (wheel and drag events on the chart's
/// canvas, then its buttons, one action every 40 ms, as a busy hand would) while recording the
/// time between animation frames.
pub async fn timeline_frames(client: &Client, ms: u64) -> anyhow::Result<Frames> {
    let v = run(
        client,
        "pan and zoom the timeline",
        r#"
        const [ms, done] = arguments;
        const chart = document.querySelector("[data-testid='timeline-chart']");
        const canvas = chart && chart.querySelector("canvas");
        if (!canvas) { done({ err: "the timeline chart has no canvas" }); return; }
        const r = canvas.getBoundingClientRect();
        // The plot area: away from the axis labels and the slider under it.
        const cx = r.left + r.width / 2, cy = r.top + r.height * 0.4;
        const mouse = (type, x, buttons) => canvas.dispatchEvent(new MouseEvent(type, {
          bubbles: true, cancelable: true, view: window, clientX: x, clientY: cy, button: 0, buttons }));
        const wheel = (dy) => canvas.dispatchEvent(new WheelEvent("wheel", {
          bubbles: true, cancelable: true, view: window, clientX: cx, clientY: cy, deltaY: dy, deltaMode: 0 }));
        const press = (label) => {
          const b = document.querySelector(`button[aria-label='${label}']`);
          if (b && !b.disabled) b.click();
        };
        const actions = [];
        for (let i = 0; i < 8; i++) actions.push(() => wheel(-100));
        const drag = (dir) => {
          actions.push(() => mouse("mousedown", cx, 1));
          for (let i = 1; i <= 10; i++) actions.push(() => mouse("mousemove", cx + dir * i * 25, 1));
          actions.push(() => mouse("mouseup", cx + dir * 250, 0));
        };
        drag(-1);
        drag(1);
        for (let i = 0; i < 8; i++) actions.push(() => wheel(100));
        for (const l of ["Zoom in", "Zoom in", "Pan left", "Pan left", "Pan right", "Zoom out", "Fit"])
          actions.push(() => press(l));
        const deltas = [];
        let last = null, running = true, k = 0;
        const frame = (t) => {
          if (last !== null) deltas.push(t - last);
          last = t;
          if (running) requestAnimationFrame(frame);
        };
        requestAnimationFrame(frame);
        const start = performance.now();
        const actionMs = [];
        const errors = [];
        // A stalled page (no timer for 30 s past the end) answers an error instead of hanging.
        const guard = setTimeout(() => { running = false; clearInterval(tick); done({ err: `the page stopped answering after ${k} actions` }); }, ms + 30000);
        const tick = setInterval(() => {
          const a0 = performance.now();
          // An action that throws is counted and reported, never retried forever.
          try { actions[k % actions.length](); } catch (e) { errors.push(String(e)); }
          actionMs.push(performance.now() - a0);
          k++;
          if (performance.now() - start >= ms) {
            clearInterval(tick);
            // Let the last action's frame be drawn and counted.
            setTimeout(() => {
              running = false;
              clearTimeout(guard);
              const shown = document.querySelector("[data-testid='timeline-visible']");
              if (errors.length > 0) { done({ err: `${errors.length} actions threw: ${errors[0]}` }); return; }
              done({ ok: { deltas, actions: k, actionMs, visible: shown ? shown.textContent : "" } });
            }, 200);
          }
        }, 40);
        "#,
        vec![json!(ms)],
    )
    .await?;
    let deltas = v["deltas"]
        .as_array()
        .context("frame deltas")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    Ok(Frames {
        deltas,
        actions: v["actions"].as_u64().unwrap_or(0),
        action_ms: v["actionMs"]
            .as_array()
            .context("action times")?
            .iter()
            .filter_map(Value::as_f64)
            .collect(),
        visible_text: v["visible"].as_str().unwrap_or_default().to_string(),
    })
}

/// Frames while nothing is done, and what the page animates meanwhile.
#[derive(Debug, Clone)]
pub struct Idle {
    pub deltas: Vec<f64>,
    /// The running animations and transitions (`document.getAnimations()`): each one makes
    /// WebKit paint on every frame.
    pub animations: Vec<String>,
    /// Canvas redraws meanwhile (`clearRect` calls: ECharts clears a layer before it draws it).
    pub canvas_clears: u64,
    /// DOM mutations meanwhile, and the first few of them described.
    pub mutations: u64,
    pub mutation_samples: Vec<String>,
}

/// The gaps between animation frames while nothing is done, for `ms` milliseconds (a still page
/// paints nothing and gets a frame every 16.7 ms), and the animations running at the end.
pub async fn idle_frames(client: &Client, ms: u64) -> anyhow::Result<Idle> {
    let v = run(
        client,
        "record idle frames",
        r#"
        const [ms, done] = arguments;
        const deltas = [];
        let last = null;
        // What changes while nothing is done: canvas redraws and DOM mutations.
        const proto = CanvasRenderingContext2D.prototype;
        const clearRect = proto.clearRect;
        let clears = 0;
        proto.clearRect = function (...a) { clears++; return clearRect.apply(this, a); };
        let mutations = 0;
        const samples = [];
        const name = (n) => n && n.nodeType === 1 ? `${n.tagName.toLowerCase()}${n.getAttribute("data-testid") ? `[${n.getAttribute("data-testid")}]` : ""}${n.className && typeof n.className === "string" ? `.${n.className.split(" ")[0]}` : ""}` : String(n && n.nodeName);
        const mo = new MutationObserver((list) => {
          mutations += list.length;
          for (const m of list) if (samples.length < 5) samples.push(`${m.type} ${m.attributeName || ""} on ${name(m.target)}`);
        });
        mo.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
        const start = performance.now();
        const frame = (t) => {
          if (last !== null) deltas.push(t - last);
          last = t;
          if (t - start < ms) { requestAnimationFrame(frame); return; }
          proto.clearRect = clearRect;
          mo.disconnect();
          const describe = (a) => {
            const e = a.effect && a.effect.target;
            const what = e ? (e.getAttribute("aria-label") || e.getAttribute("data-testid") || (e.className && e.className.baseVal === undefined ? e.className : e.tagName)) : "?";
            return `${a.animationName || a.transitionProperty || a.constructor.name} on ${String(what).slice(0, 80)} (${a.playState})`;
          };
          const animations = document.getAnimations ? document.getAnimations().map(describe) : ["document.getAnimations is missing"];
          done({ ok: { deltas, animations, clears, mutations, samples } });
        };
        requestAnimationFrame(frame);
        "#,
        vec![json!(ms)],
    )
    .await?;
    Ok(Idle {
        deltas: v["deltas"]
            .as_array()
            .context("frame deltas")?
            .iter()
            .filter_map(Value::as_f64)
            .collect(),
        animations: strings(&v["animations"]),
        canvas_clears: v["clears"].as_u64().unwrap_or(0),
        mutations: v["mutations"].as_u64().unwrap_or(0),
        mutation_samples: strings(&v["samples"]),
    })
}

/// The gaps between animation frames while a window-sized element changes colour on every frame,
/// for `ms` milliseconds: what repainting and compositing the whole window costs on this display
/// (under Xvfb, software rendering), whatever the page holds.
pub async fn repaint_frames(client: &Client, ms: u64) -> anyhow::Result<Vec<f64>> {
    frames_while(
        client,
        "record full-window repaints",
        r#"
        const el = document.createElement("div");
        el.style.cssText = "position:fixed;inset:0;z-index:2147483647;";
        document.body.appendChild(el);
        let n = 0;
        const change = {
          step: () => { el.style.background = (n++ % 2) ? "rgb(250,250,250)" : "rgb(240,244,248)"; },
          end: () => el.remove(),
        };
        "#,
        None,
        ms,
    )
    .await
}

/// The gaps between animation frames while the window scrolls down 40 px a frame (the Volumes
/// table scrolls with the window), for `ms` milliseconds, then back to the top.
pub async fn scroll_frames(client: &Client, ms: u64) -> anyhow::Result<Vec<f64>> {
    frames_while(
        client,
        "record frames while the window scrolls",
        r#"
        const change = { step: () => window.scrollBy(0, 40), end: () => window.scrollTo(0, 0) };
        "#,
        None,
        ms,
    )
    .await
}

/// The gaps between animation frames while the text of the element `css` changes on every frame,
/// for `ms` milliseconds: what one small change costs to lay out and paint on this page.
pub async fn text_change_frames(client: &Client, css: &str, ms: u64) -> anyhow::Result<Vec<f64>> {
    frames_while(
        client,
        "record frames with a changing text",
        r#"
        const el = document.querySelector(arg);
        if (!el) { done({ err: `nothing matches ${arg}` }); return; }
        const before = el.textContent;
        let n = 0;
        const change = {
          step: () => { el.textContent = `${before} ${n++ % 2 ? "." : ".."}`; },
          end: () => { el.textContent = before; },
        };
        "#,
        Some(json!(css)),
        ms,
    )
    .await
}

/// The gaps between animation frames for `ms` milliseconds while `setup` (a script that defines
/// `change = { step, end }`, and may read `arg` or give up with `done({ err })`) changes the page
/// on every frame; `end` puts it back.
async fn frames_while(
    client: &Client,
    what: &str,
    setup: &str,
    arg: Option<Value>,
    ms: u64,
) -> anyhow::Result<Vec<f64>> {
    let script = format!(
        r#"
        const [arg, ms, done] = arguments;
        {setup}
        const deltas = [];
        let last = null;
        const start = performance.now();
        const frame = (t) => {{
          if (last !== null) deltas.push(t - last);
          last = t;
          change.step();
          if (t - start < ms) requestAnimationFrame(frame); else {{ change.end(); done({{ ok: deltas }}); }}
        }};
        requestAnimationFrame(frame);
        "#
    );
    let v = run(
        client,
        what,
        &script,
        vec![arg.unwrap_or(Value::Null), json!(ms)],
    )
    .await?;
    Ok(v.as_array()
        .context("frame deltas")?
        .iter()
        .filter_map(Value::as_f64)
        .collect())
}

/// The strings of a JSON array (none when it is not one).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The `q` quantile (0..=1) of `xs`, by the nearest rank.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Memory of one process, from `/proc/<pid>/status` and `/proc/<pid>/smaps_rollup`.
#[derive(Debug, Clone)]
pub struct ProcessMemory {
    pub pid: i32,
    pub name: String,
    pub rss_kib: u64,
    /// Proportional set size: shared pages divided among the processes that map them, so that
    /// the sum over a tree counts each page once.
    pub pss_kib: u64,
}

/// A process and all its descendants (found through `/proc/*/stat`'s parent ids).
pub fn tree_memory(root: i32) -> anyhow::Result<Vec<ProcessMemory>> {
    let mut parents = Vec::new();
    for p in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(p.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        if let Some(ppid) = after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<i32>().ok())
        {
            parents.push((pid, ppid));
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.into_iter().map(process_memory).collect()
}

fn process_memory(pid: i32) -> anyhow::Result<ProcessMemory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .with_context(|| format!("read /proc/{pid}/smaps_rollup"))?;
    let field = |text: &str, key: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Ok(ProcessMemory {
        pid,
        name: status
            .lines()
            .find_map(|l| l.strip_prefix("Name:"))
            .unwrap_or("?")
            .trim()
            .to_string(),
        rss_kib: field(&status, "VmRSS:"),
        pss_kib: field(&rollup, "Pss:"),
    })
}

/// The `standby` process started with `STANDBY_DATA_DIR=data_dir` (the app a `Driver` launched),
/// waiting up to 30 s for it.
pub async fn app_pid(data_dir: &OsStr) -> anyhow::Result<i32> {
    let marker = [b"STANDBY_DATA_DIR=".as_slice(), data_dir.as_encoded_bytes()].concat();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for p in std::fs::read_dir("/proc")?.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let is_app = std::fs::read_link(p.path().join("exe"))
                .map(|exe| exe.file_name().is_some_and(|n| n == "standby"))
                .unwrap_or(false);
            if !is_app {
                continue;
            }
            let Ok(environ) = std::fs::read(p.path().join("environ")) else {
                continue;
            };
            if environ.split(|b| *b == 0).any(|kv| kv == marker.as_slice()) {
                return Ok(pid);
            }
        }
        if Instant::now() > deadline {
            bail!(
                "no standby process with STANDBY_DATA_DIR={}",
                data_dir.to_string_lossy()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until no `standby` process runs with `STANDBY_DATA_DIR=data_dir` (the next launch would
/// otherwise hand over to it through the single-instance check).
pub async fn wait_app_gone(data_dir: &OsStr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let marker = [b"STANDBY_DATA_DIR=".as_slice(), data_dir.as_encoded_bytes()].concat();
        let alive = std::fs::read_dir("/proc")
            .map(|d| {
                d.flatten().any(|p| {
                    let is_app = std::fs::read_link(p.path().join("exe"))
                        .map(|exe| exe.file_name().is_some_and(|n| n == "standby"))
                        .unwrap_or(false);
                    is_app
                        && std::fs::read(p.path().join("environ"))
                            .map(|e| e.split(|b| *b == 0).any(|kv| kv == marker.as_slice()))
                            .unwrap_or(false)
                })
            })
            .unwrap_or(false);
        if !alive {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
