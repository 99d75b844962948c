//! The backup timeline on `standby --lab`, as an administrator walks it on the lab's Azure
//! subscription: the Volumes page's Timeline tab for the whole account and for one volume, zoom
//! and pan with the buttons, the target RPO changed, a point selected from the keyboard list and
//! its restore pre-flight opened; then the Disaster recovery page's export and import card.
//! Screenshots light and dark (`artifacts/screenshots/timeline-*.png`).
//!
//! Set-up that is not this flow's subject goes around the screens, through the app's own
//! commands: DR enabled (`enable_dr_azure`), two backups taken (`create_backup`, as the Backups
//! tab does), and a daily schedule from tomorrow so that runs to come are drawn. The file dialogs
//! of the export buttons are native windows a WebDriver cannot reach; their engine side is tested
//! in the app crate.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::actions::InputSource;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use standby_tests::driver::{app_binary, Driver};
use standby_tests::ipc::invoke;
use standby_tests::screens::{
    click, click_xpath, fill, save_screenshot, switch_theme, wait_for_heading, wait_for_text,
};

/// A call to the lab's control API (plain HTTP on loopback): its status.
fn lab_post(control: &str, path: &str, body: &Value) -> anyhow::Result<u16> {
    use std::io::{Read, Write};
    let rest = control
        .strip_prefix("http://")
        .context("the control API is plain HTTP")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(host).with_context(|| format!("connect to {host}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")
}

/// Answers the native file dialog titled `title` (GTK, outside the web view a WebDriver sees)
/// with `xdotool`: types `path` and Enter, or Escape when `path` is `None` (a cancel).
async fn answer_dialog(title: &str, path: Option<&str>) -> anyhow::Result<()> {
    let xdotool = |args: &[&str]| -> anyhow::Result<String> {
        let out = std::process::Command::new("xdotool")
            .args(args)
            .output()
            .context(
                "xdotool answers the native file dialogs: install it (apt-get install xdotool)",
            )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let window = loop {
        let found = xdotool(&["search", "--onlyvisible", "--name", title])?;
        if let Some(w) = found.lines().last().filter(|w| !w.is_empty()) {
            break w.to_string();
        }
        if Instant::now() > deadline {
            bail!("no dialog titled {title:?} appeared");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // GTK builds its widgets after mapping the window; without a window manager the focus is
    // given by hand. On a loaded machine the keys can arrive before the widgets: the answer is
    // given again until the dialog has gone.
    for attempt in 1..=3 {
        tokio::time::sleep(Duration::from_millis(800 * attempt)).await;
        xdotool(&["windowfocus", "--sync", &window])?;
        match path {
            Some(p) => {
                // Save: the name field has the focus with the suggested name selected; Open:
                // typing a "/" opens the location field. A whole path works in both.
                xdotool(&["key", "--clearmodifiers", "ctrl+a"])?;
                xdotool(&["type", "--delay", "20", p])?;
                tokio::time::sleep(Duration::from_millis(300)).await;
                xdotool(&["key", "Return"])?;
            }
            None => {
                xdotool(&["key", "Escape"])?;
            }
        }
        let gone_by = Instant::now() + Duration::from_secs(5);
        while Instant::now() < gone_by {
            let open = xdotool(&["search", "--onlyvisible", "--name", title])?;
            if !open.lines().any(|w| w == window) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    bail!("the dialog titled {title:?} did not close after three answers")
}

/// Scrolls the export and import card's bottom into view (its outcome grows below the buttons).
async fn show_card_end(client: &Client) -> anyhow::Result<()> {
    let el = client
        .find(Locator::Css("[data-testid='dr-exports-acme-pd']"))
        .await?;
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'end'});",
            vec![serde_json::to_value(&el)?],
        )
        .await?;
    Ok(())
}

/// The text of the visible-window line above the chart.
async fn visible_window(client: &Client) -> anyhow::Result<String> {
    let el = client
        .find(Locator::Css("[data-testid='timeline-visible']"))
        .await?;
    Ok(el.prop("textContent").await?.unwrap_or_default())
}

/// Clicks the toolbar button `label` and waits until the visible window changed.
async fn zoom_button(client: &Client, label: &str) -> anyhow::Result<String> {
    let before = visible_window(client).await?;
    click(client, &format!("button[aria-label='{label}']")).await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = visible_window(client).await?;
        if now != before {
            return Ok(now);
        }
        if Instant::now() > deadline {
            bail!("{label} did not change the visible window ({before})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the list under the chart counts `n` points.
async fn list_counts(client: &Client, n: usize) -> anyhow::Result<()> {
    wait_for_text(
        client,
        "#timeline-list-title",
        &format!("visible window: {n}"),
    )
    .await
    .map(|_| ())
}

/// Scrolls the chart to the top of the window so a screenshot shows it with what is below.
async fn show_chart(client: &Client) -> anyhow::Result<()> {
    let el = client
        .find(Locator::Css("[data-testid='timeline-chart']"))
        .await?;
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'start'}); window.scrollBy(0, -120);",
            vec![serde_json::to_value(&el)?],
        )
        .await?;
    // The chart draws on its next frames.
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn timeline_flow() {
    let app = app_binary().unwrap();
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(&[
        ("STANDBY_DATA_DIR", data.path().as_os_str()),
        ("STANDBY_LAB", std::ffi::OsStr::new("true")),
    ])
    .unwrap();
    let client = driver.session(&app).await.unwrap();
    // A backup and its replica take a while: the set-up's commands are awaited in page scripts.
    client
        .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
            Some(Duration::from_secs(300)),
            None,
            None,
        ))
        .await
        .unwrap();
    wait_for_heading(&client, "Dashboard").await.unwrap();
    wait_for_text(&client, "[data-testid='lab-badge']", "lab")
        .await
        .unwrap();

    // ---- set-up around the screens -----------------------------------------------------------
    let info = invoke(&client, "app_info", json!({})).await.unwrap();
    let control = info["lab"]["control_url"]
        .as_str()
        .expect("the lab runs")
        .to_string();
    // Copies of tens of GiB take minutes of lab time: a hundredfold clock makes them seconds.
    let status = lab_post(&control, "/_lab/time/scale", &json!({"scale": 100.0})).unwrap();
    assert_eq!(status, 200);
    standby_tests::ipc::enable_lab_azure_dr(&client)
        .await
        .unwrap();
    let desk = standby_tests::ipc::assigned_powered_off_desktop(&client)
        .await
        .unwrap();
    let volume = desk["name"].as_str().unwrap().to_string();
    let mut primary_created = String::new();
    for (i, name) in ["before update", "after update"].iter().enumerate() {
        eprintln!("[timeline e2e] backing up {volume}: {name}");
        let made = invoke(
            &client,
            "create_backup",
            json!({"ticket": format!("timeline-e2e-{i}"), "request": {
                "account": "lab-azure", "frame_account": "acme-pd", "volume": volume, "name": name
            }}),
        )
        .await
        .unwrap();
        assert_eq!(
            made.as_array().map(Vec::len),
            Some(2),
            "a backup and its replica: {made}"
        );
        primary_created = made
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["site"] == "primary")
            .and_then(|b| b["created_at"].as_str())
            .unwrap()
            .to_string();
    }
    // A daily schedule from tomorrow (nothing runs during the test): its runs to come are drawn.
    let first_date = {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 86_400;
        // Days since the epoch to a civil date (Howard Hinnant's algorithm).
        let z = (secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        let y = yoe + era * 400 + i64::from(m <= 2);
        format!("{y:04}-{m:02}-{d:02}")
    };
    invoke(
        &client,
        "set_schedule",
        json!({"account": "lab-azure", "policy": {
            "frame_account": "acme-pd", "enabled": true, "first_date": first_date,
            "first_time": "03:00", "time_zone": "UTC", "every_days": 1, "keep": 7
        }}),
    )
    .await
    .unwrap();

    // ---- the whole account -------------------------------------------------------------------
    eprintln!("[timeline e2e] the Timeline tab, whole account");
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    click(&client, "[data-tab='timeline']").await.unwrap();
    click_xpath(
        &client,
        "//label[normalize-space()='Cloud account']/following::input[1]",
    )
    .await
    .unwrap();
    click_xpath(
        &client,
        "//*[@role='option' and normalize-space()='lab-azure']",
    )
    .await
    .unwrap();
    // The Frame account comes from the account's DR configuration.
    wait_for_text(&client, "main", "the schedule's interval applies")
        .await
        .unwrap();
    // Two backups and their two replicas in the last 7 days.
    list_counts(&client, 4).await.unwrap();
    let list = wait_for_text(&client, "[data-testid='timeline-list']", "after update")
        .await
        .unwrap();
    assert!(
        list.contains("before update") && list.contains("Replica"),
        "{list}"
    );
    let rpo = client
        .find(Locator::Css("[data-testid='target-rpo']"))
        .await
        .unwrap();
    assert_eq!(rpo.prop("value").await.unwrap().as_deref(), Some("24"));
    wait_for_text(&client, "main", "the schedule's interval applies")
        .await
        .unwrap();
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-01-account")
        .await
        .unwrap();

    // ---- target RPO --------------------------------------------------------------------------
    eprintln!("[timeline e2e] target RPO");
    fill(&client, "Target RPO (hours)", "12").await.unwrap();
    click_xpath(&client, "//button[normalize-space()='Save target RPO']")
        .await
        .unwrap();
    wait_for_text(&client, "[role='status']", "Saved: 12 hours")
        .await
        .unwrap();
    wait_for_text(&client, "main", "Set for this account")
        .await
        .unwrap();
    save_screenshot(&client, "timeline-02-rpo-saved")
        .await
        .unwrap();

    // ---- zoom and pan with the buttons -------------------------------------------------------
    eprintln!("[timeline e2e] zoom and pan");
    let whole = visible_window(&client).await.unwrap();
    // The window is the last 7 days and the next 7: its middle is now, where the backups are.
    zoom_button(&client, "Zoom in").await.unwrap();
    zoom_button(&client, "Zoom in").await.unwrap();
    let zoomed = zoom_button(&client, "Zoom in").await.unwrap();
    eprintln!("zoomed: {zoomed}");
    list_counts(&client, 4).await.unwrap();
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-03-zoomed")
        .await
        .unwrap();
    zoom_button(&client, "Pan left").await.unwrap();
    let right = zoom_button(&client, "Pan right").await.unwrap();
    assert_eq!(right, zoomed, "left then right comes back");
    zoom_button(&client, "Zoom out").await.unwrap();
    let fit = zoom_button(&client, "Fit").await.unwrap();
    assert_eq!(fit, whole, "Fit shows the whole window again");

    // ---- click a point on the chart ----------------------------------------------------------
    eprintln!("[timeline e2e] click a point on the chart");
    // Where the newest primary backup is drawn (the chart's grid: 150 px left, 24 right, 24 top,
    // 64 bottom; five lanes; the window is the last 7 days and the next 7), from the centre.
    let chart = client
        .find(Locator::Css("[data-testid='timeline-chart']"))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'center'});",
            vec![serde_json::to_value(&chart).unwrap()],
        )
        .await
        .unwrap();
    let offset = client
        .execute(
            "const r = arguments[0].getBoundingClientRect();
             const day = 86400000, now = Date.now();
             const f = (Date.parse(arguments[1]) - (now - 7 * day)) / (14 * day);
             const x = 150 + f * (r.width - 150 - 24);
             const y = 24 + (r.height - 24 - 64) / 10;
             return [x - r.width / 2, y - r.height / 2];",
            vec![
                serde_json::to_value(&chart).unwrap(),
                json!(primary_created),
            ],
        )
        .await
        .unwrap();
    let (dx, dy) = (offset[0].as_f64().unwrap(), offset[1].as_f64().unwrap());
    let mouse = fantoccini::actions::MouseActions::new("mouse".into())
        .then(fantoccini::actions::PointerAction::MoveToElement {
            element: chart.clone(),
            duration: None,
            x: dx.round(),
            y: dy.round(),
        })
        .then(fantoccini::actions::PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(fantoccini::actions::PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        });
    client.perform_actions(mouse).await.unwrap();
    let clicked = wait_for_text(
        &client,
        "[data-testid='timeline-selection-text']",
        "Primary backup «",
    )
    .await
    .unwrap();
    eprintln!("clicked: {clicked}");
    save_screenshot(&client, "timeline-04a-clicked")
        .await
        .unwrap();

    // ---- select a point from the list (keyboard) and open its restore pre-flight ------------
    eprintln!("[timeline e2e] select a point and restore");
    let listbox = client
        .find(Locator::Css("[data-testid='timeline-list']"))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].focus();",
            vec![serde_json::to_value(&listbox).unwrap()],
        )
        .await
        .unwrap();
    // Newest first: the replica of "after update", then "after update" itself.
    listbox.send_keys("\u{E015}").await.unwrap(); // ArrowDown
    listbox.send_keys("\u{E007}").await.unwrap(); // Enter
    let selected = wait_for_text(
        &client,
        "[data-testid='timeline-selection-text']",
        "after update",
    )
    .await
    .unwrap();
    assert!(selected.contains("available for a restore"), "{selected}");
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-04-selected")
        .await
        .unwrap();
    click_xpath(&client, "//button[normalize-space()='Restore…']")
        .await
        .unwrap();
    let plan = wait_for_text(&client, "[data-testid='restore-summary']", &volume)
        .await
        .unwrap();
    assert!(
        plan.contains("after update") || plan.contains("Primary"),
        "{plan}"
    );
    save_screenshot(&client, "timeline-05-restore-preflight")
        .await
        .unwrap();
    click_xpath(
        &client,
        "//section[@role='dialog']//button[normalize-space()='Close']",
    )
    .await
    .unwrap();

    // ---- one volume --------------------------------------------------------------------------
    eprintln!("[timeline e2e] one volume");
    click_xpath(&client, "//label[normalize-space()='One volume']")
        .await
        .unwrap();
    let input = "//label[normalize-space()='Volume']/following::input[1]";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let el = client.find(Locator::XPath(input)).await.unwrap();
        if el.attr("disabled").await.unwrap().is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the volumes were never listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    click_xpath(&client, input).await.unwrap();
    client
        .find(Locator::XPath(input))
        .await
        .unwrap()
        .send_keys(volume.trim_end_matches("-osdisk"))
        .await
        .unwrap();
    click_xpath(
        &client,
        &format!("//*[@role='option' and starts-with(normalize-space(), '{volume}')]"),
    )
    .await
    .unwrap();
    list_counts(&client, 4).await.unwrap();
    zoom_button(&client, "Zoom in").await.unwrap();
    zoom_button(&client, "Zoom in").await.unwrap();
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-06-volume")
        .await
        .unwrap();

    // ---- dark theme --------------------------------------------------------------------------
    eprintln!("[timeline e2e] dark theme");
    switch_theme(&client, true).await.unwrap();
    click_xpath(
        &client,
        "//*[@data-testid='timeline-list']//*[@role='option'][1]",
    )
    .await
    .unwrap();
    wait_for_text(&client, "[data-testid='timeline-selection-text']", "update")
        .await
        .unwrap();
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-07-volume-dark")
        .await
        .unwrap();
    zoom_button(&client, "Fit").await.unwrap();
    show_chart(&client).await.unwrap();
    save_screenshot(&client, "timeline-08-volume-fit-dark")
        .await
        .unwrap();

    // ---- export and import on the Disaster recovery page -------------------------------------
    eprintln!("[timeline e2e] export and import card");
    click(&client, "nav [data-nav='disaster-recovery']")
        .await
        .unwrap();
    wait_for_heading(&client, "Disaster recovery")
        .await
        .unwrap();
    let card = wait_for_text(
        &client,
        "[data-testid='dr-exports-acme-pd']",
        "Export backup report (CSV)",
    )
    .await
    .unwrap();
    assert!(card.contains("Import DR configuration"), "{card}");
    let el = client
        .find(Locator::Css("[data-testid='dr-exports-acme-pd']"))
        .await
        .unwrap();
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'center'});",
            vec![serde_json::to_value(&el).unwrap()],
        )
        .await
        .unwrap();
    save_screenshot(&client, "timeline-09-dr-exports-dark")
        .await
        .unwrap();

    // Export: the native save dialog answered with a path; the card says where it wrote.
    let out = tempfile::tempdir().unwrap();
    let json_path = out.path().join("acme-pd-dr.json");
    let json_path = json_path.to_str().unwrap();
    let card = "[data-testid='dr-exports-acme-pd']";
    click_xpath(
        &client,
        "//section[@data-testid='dr-exports-acme-pd']//button[normalize-space()='Export DR configuration']",
    )
    .await
    .unwrap();
    answer_dialog("Export DR configuration", Some(json_path))
        .await
        .unwrap();
    wait_for_text(&client, card, json_path).await.unwrap();
    let written = std::fs::read_to_string(json_path).unwrap();
    assert!(written.contains("standby-dr-config"), "{written}");
    show_card_end(&client).await.unwrap();
    save_screenshot(&client, "timeline-10-exported-dark")
        .await
        .unwrap();
    // A cancelled dialog shows nothing (and the previous answer goes).
    click_xpath(
        &client,
        "//section[@data-testid='dr-exports-acme-pd']//button[normalize-space()='Export backup report (CSV)']",
    )
    .await
    .unwrap();
    answer_dialog("Export backup report", None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = client
            .find(Locator::Css(card))
            .await
            .unwrap()
            .prop("textContent")
            .await
            .unwrap()
            .unwrap_or_default();
        let idle = client
            .find_all(Locator::Css(&format!("{card} button[data-loading]")))
            .await
            .unwrap()
            .is_empty();
        if idle && !text.contains("written to") {
            break;
        }
        assert!(Instant::now() < deadline, "the card still says: {text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The report, then the import of the file just written.
    let csv_path = out.path().join("acme-pd-backups.csv");
    let csv_path = csv_path.to_str().unwrap();
    click_xpath(
        &client,
        "//section[@data-testid='dr-exports-acme-pd']//button[normalize-space()='Export backup report (CSV)']",
    )
    .await
    .unwrap();
    answer_dialog("Export backup report", Some(csv_path))
        .await
        .unwrap();
    let said = wait_for_text(&client, card, csv_path).await.unwrap();
    assert!(said.contains("4 backups"), "{said}");
    click_xpath(
        &client,
        "//section[@data-testid='dr-exports-acme-pd']//button[normalize-space()='Import DR configuration']",
    )
    .await
    .unwrap();
    answer_dialog("Import DR configuration", Some(json_path))
        .await
        .unwrap();
    let imported = wait_for_text(&client, "[data-testid='dr-import-result']", "Applied")
        .await
        .unwrap();
    assert!(imported.contains("the same as the file's"), "{imported}");
    show_card_end(&client).await.unwrap();
    save_screenshot(&client, "timeline-11-imported-dark")
        .await
        .unwrap();
    switch_theme(&client, false).await.unwrap();
    show_card_end(&client).await.unwrap();
    save_screenshot(&client, "timeline-12-imported")
        .await
        .unwrap();

    client.close().await.unwrap();
    drop(driver);
}
