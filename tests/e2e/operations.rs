//! *Backup all volumes* on the lab's Azure subscription and *Clone volumes* from the lab's primary
//! AHV cluster to its secondary, walked in the window, then both jobs in the notification center.
//!
//! A clone goes through the remote site between the clusters, which *Enable DR* creates. The
//! Enable DR wizard has its own flow; here the test sends the request the wizard's *Enable*
//! sends (`enable_dr_ahv`, through the page's own IPC) so that this flow stays about the clone.
//! Before that, the clone dialog is opened once to show the remote-site check blocking it.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use standby_tests::ipc::invoke;
use standby_tests::screens::{
    click, click_xpath, save_screenshot, switch_theme, wait_for_heading, wait_for_text,
    wait_for_text_within,
};

/// One call to the lab's control API (plain HTTP on loopback).
fn lab_call(control: &str, method: &str, path: &str, body: Value) -> anyhow::Result<String> {
    let rest = control
        .strip_prefix("http://")
        .context("the control API is plain HTTP")?;
    let host = rest.split('/').next().unwrap_or(rest);
    // The app reports the listener; the control API is mounted under `/_lab`.
    let base = format!("{}/_lab", rest[host.len()..].trim_end_matches('/'));
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(host)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {base}{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    if !answer.starts_with("HTTP/1.1 2") {
        bail!("{method} {path}: {answer}");
    }
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return Ok(body.to_string());
    }
    // Chunked: size line, data, CRLF, until the empty chunk.
    let (mut out, mut rest) = (String::new(), body);
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16)?;
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    Ok(out)
}

/// Chooses `option` in the Mantine select labelled `label`.
async fn choose(client: &Client, label: &str, option: &str) -> anyhow::Result<()> {
    client
        .find(Locator::XPath(&format!(
            "//label[normalize-space()='{label}']/following::input[1]"
        )))
        .await
        .with_context(|| format!("no select labelled {label}"))?
        .click()
        .await?;
    let xpath = format!("//*[@role='option' and normalize-space()='{option}']");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(o) = client.find(Locator::XPath(&xpath)).await {
            if o.click().await.is_ok() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("no option {option} in {label}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn button_enabled(client: &Client, text: &str) -> anyhow::Result<bool> {
    let b = client
        .find(Locator::XPath(&format!(
            "//section[@role='dialog']//button[normalize-space()='{text}']"
        )))
        .await
        .with_context(|| format!("no button {text} in the dialog"))?;
    Ok(b.attr("disabled").await?.is_none())
}

async fn wait_enabled(client: &Client, text: &str, secs: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !button_enabled(client, text).await? {
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("{text} never became enabled; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

async fn close_dialog(client: &Client) -> anyhow::Result<()> {
    click_xpath(
        client,
        "//section[@role='dialog']//button[normalize-space()='Close']",
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while client
        .find(Locator::Css("section[role='dialog']"))
        .await
        .is_ok()
    {
        if Instant::now() > deadline {
            bail!("the dialog did not close");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn open_action(client: &Client, item: &str, title: &str) -> anyhow::Result<()> {
    click_xpath(client, "//button[normalize-space()='Volume actions']").await?;
    let xpath = format!("//button[@role='menuitem' and normalize-space()='{item}']");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Ok(b) = client.find(Locator::XPath(&xpath)).await {
            if b.click().await.is_ok() {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!("no menu item {item}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_for_text(client, "section[role='dialog'] h2", title).await?;
    Ok(())
}

/// Flips the switch whose input has `data-testid`, by its track as a pointer would, and checks
/// that it flipped.
async fn toggle(client: &Client, testid: &str) -> anyhow::Result<()> {
    let input = client
        .find(Locator::Css(&format!("input[data-testid='{testid}']")))
        .await
        .with_context(|| format!("no switch {testid}"))?;
    let before = input.prop("checked").await?;
    let track = client
        .find(Locator::XPath(&format!(
            "//input[@data-testid='{testid}']/following-sibling::*[1]"
        )))
        .await?;
    if let Err(e) = track.click().await {
        bail!("cannot click the switch {testid}: {e:?}");
    }
    if input.prop("checked").await? == before {
        bail!("the switch {testid} did not flip");
    }
    Ok(())
}

/// Scrolls the dialog to its end (its buttons), for a picture of the checks and the action.
async fn scroll_dialog(client: &Client) -> anyhow::Result<()> {
    client
        .execute(
            "const d = document.querySelector(\"section[role='dialog']\"); if (d) d.scrollTop = d.scrollHeight;",
            vec![],
        )
        .await?;
    Ok(())
}

async fn set_field(client: &Client, label: &str, value: &str) -> anyhow::Result<()> {
    let f = client
        .find(Locator::XPath(&format!(
            "//label[normalize-space()='{label}']/following::input[1]"
        )))
        .await
        .with_context(|| format!("no field {label}"))?;
    // Select all and delete as a user would: WebDriver's clear() leaves React's state as it was.
    f.send_keys("\u{E009}a\u{E000}\u{E003}").await?;
    f.send_keys(value).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn backup_all_and_clone_flows() {
    let data = tempfile::tempdir().unwrap();
    let (_driver, client) = standby_tests::driver::on_lab(data.path()).await.unwrap();
    let info = invoke(&client, "app_info", json!({})).await.unwrap();
    let control = info["lab"]["control_url"]
        .as_str()
        .expect("the lab runs")
        .to_string();

    // ---- Backup all volumes on lab-azure ----
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    choose(&client, "Cloud account", "lab-azure").await.unwrap();
    set_field(&client, "Frame account", "acme-pd")
        .await
        .unwrap();
    open_action(&client, "Backup all volumes", "Back up all volumes")
        .await
        .unwrap();
    let counts = wait_for_text(&client, "[data-testid='backup-all-counts']", "to back up")
        .await
        .unwrap();
    let to_back_up: usize = counts
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("counts: {counts}"));
    assert!(to_back_up > 0, "{counts}");
    assert!(counts.contains("skipped"), "{counts}");
    wait_for_text(&client, "[data-testid='backup-all-list']", "acme-pd-")
        .await
        .unwrap();
    assert!(
        !button_enabled(&client, "Back up all").await.unwrap(),
        "Back up all is enabled before the confirmation"
    );
    save_screenshot(&client, "operations-backup-all-dry-run")
        .await
        .unwrap();
    click_xpath(
        &client,
        "//label[starts-with(normalize-space(), 'Skipped (')]",
    )
    .await
    .unwrap();
    // The lab's guest agent has users in session and desktops it cannot see into: each is a skip
    // with its reason; the template image is never backed up.
    let skipped = wait_for_text(&client, "[data-testid='backup-all-list']", "template")
        .await
        .unwrap();
    save_screenshot(&client, "operations-backup-all-skipped")
        .await
        .unwrap();
    eprintln!("skipped: {skipped}");
    set_field(&client, "Backup name", "Before the e2e upgrade")
        .await
        .unwrap();
    click_xpath(
        &client,
        &format!("//label[normalize-space()='Back up {to_back_up} volumes now']"),
    )
    .await
    .unwrap();
    wait_enabled(&client, "Back up all", 5).await.unwrap();
    click_xpath(
        &client,
        "//section[@role='dialog']//button[normalize-space()='Back up all']",
    )
    .await
    .unwrap();
    // The bar while it runs (it may be short on the lab; the outcome is what must come).
    // The engine's step ("n of m volumes done") and the header's count of running jobs.
    if wait_for_text(&client, "section[role='dialog']", "volumes done")
        .await
        .is_ok()
    {
        let _ = wait_for_text(&client, "[data-testid='running-jobs']", "running").await;
        save_screenshot(&client, "operations-backup-all-progress")
            .await
            .unwrap();
    }
    let outcome = wait_for_text_within(
        &client,
        "[data-testid='backup-all-outcome']",
        "backups made",
        300,
    )
    .await
    .unwrap();
    assert!(
        outcome.contains(&format!("{to_back_up} backups made")),
        "{outcome}"
    );
    save_screenshot(&client, "operations-backup-all-outcome")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();

    // ---- Clone volumes from lab-ahv-primary to lab-ahv-secondary ----
    let accounts = invoke(&client, "list_cloud_accounts", json!({}))
        .await
        .unwrap();
    let id_of = |name: &str| -> String {
        accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no account {name}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (primary, secondary) = (id_of("lab-ahv-primary"), id_of("lab-ahv-secondary"));
    choose(&client, "Cloud account", "lab-ahv-primary")
        .await
        .unwrap();
    set_field(&client, "Frame account", "acme-pd")
        .await
        .unwrap();
    // Azure has no clone: the item is disabled there (checked above by choosing AHV to open it).
    open_action(&client, "Clone volumes", "Clone volumes")
        .await
        .unwrap();
    set_field(&client, "Destination Frame account", "acme-dr")
        .await
        .unwrap();
    let checks = wait_for_text_within(&client, "[data-testid='clone-checks']", "Remote site", 60)
        .await
        .unwrap();
    eprintln!("checks before DR: {checks}");
    client
        .find(Locator::Css(
            "[data-testid='clone-checks'] li[data-status='blocked']",
        ))
        .await
        .expect("a check blocks the clone before DR joins the clusters");
    assert!(!button_enabled(&client, "Clone").await.unwrap());
    scroll_dialog(&client).await.unwrap();
    save_screenshot(&client, "operations-clone-blocked")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();

    // What the Enable DR wizard's Enable sends, for the lab's two clusters: their addresses and
    // replication ports as the lab serves them (a busy documented port falls back to another).
    let clusters: Value =
        serde_json::from_str(&lab_call(&control, "GET", "/prism", json!(null)).unwrap()).unwrap();
    let end = |name: &str| -> (String, Vec<u16>) {
        let c = clusters
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no cluster {name}: {clusters}"));
        let ports = c["replication_ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u16)
            .collect();
        (c["ip"].as_str().unwrap().to_string(), ports)
    };
    let ((pa, pp), (sa, sp)) = (end("ahv-primary"), end("ahv-secondary"));
    let request = json!({
        "primary": primary, "secondary": secondary, "frame_account": "acme-pd",
        "plan": {
            "primary": { "site_name": "lab-ahv-primary", "address": pa, "port": pp[1] },
            "secondary": { "site_name": "lab-ahv-secondary", "address": sa, "port": sp[1] },
            "mappings": [
                { "source": "default-container-77107", "destination": "storage-container-112133" },
                { "source": "SelfServiceContainer", "destination": "SelfServiceContainer" }
            ],
            "reverse_mappings": [], "bandwidth_limit_bytes_per_sec": null, "compression": true
        },
        "primary_ports": pp, "secondary_ports": sp
    });
    invoke(&client, "enable_dr_ahv", json!({ "request": request }))
        .await
        .unwrap();
    // The whole protection domain replicates: a fast link and a quick lab clock keep it short.
    lab_call(
        &control,
        "PUT",
        "/prism/ahv-primary/settings",
        json!({ "bandwidth_bytes_per_sec": 200_000_000_000u64 }),
    )
    .unwrap();
    lab_call(&control, "POST", "/time/scale", json!({ "scale": 200.0 })).unwrap();

    // Two desktops whose owner has none on the destination and nobody is in session on them.
    let plan = invoke(
        &client,
        "plan_clone",
        json!({ "request": {
            "source_account": primary, "destination_account": secondary, "frame_account": "acme-pd",
            "destination_frame_account": "acme-dr", "replace_assigned": false, "keep_running": false,
            "volumes": [], "session_timeout_secs": null, "actor": "e2e"
        }}),
    )
    .await
    .unwrap();
    let chosen: Vec<String> = plan["desktops"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["action"]["action"] == "clone" && d["session"]["state"] == "none")
        .take(2)
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(chosen.len(), 2, "{plan}");

    open_action(&client, "Clone volumes", "Clone volumes")
        .await
        .unwrap();
    set_field(&client, "Destination Frame account", "acme-dr")
        .await
        .unwrap();
    wait_for_text_within(&client, "[data-testid='clone-summary']", "Ready", 60)
        .await
        .unwrap();
    let replace = client
        .find(Locator::Css("[data-testid='clone-replace-assigned']"))
        .await
        .unwrap();
    assert_eq!(
        replace.prop("checked").await.unwrap().as_deref(),
        Some("false"),
        "Replace assigned volumes starts off"
    );
    toggle(&client, "clone-keep-running").await.unwrap();
    for name in &chosen {
        let field = client
            .find(Locator::XPath(
                "//label[normalize-space()='Desktops']/following::input[1]",
            ))
            .await
            .unwrap();
        field.click().await.unwrap();
        field.send_keys(name).await.unwrap();
        let option = format!("//*[@role='option' and normalize-space()='{name}']");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(o) = client.find(Locator::XPath(&option)).await {
                if o.click().await.is_ok() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "no option {name}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    wait_for_text_within(
        &client,
        "[data-testid='clone-summary']",
        "Ready: 2 to clone",
        60,
    )
    .await
    .unwrap();
    wait_enabled(&client, "Clone", 30).await.unwrap();
    // Close the desktop picker's dropdown before the picture.
    click(&client, "section[role='dialog'] h2").await.unwrap();
    scroll_dialog(&client).await.unwrap();
    save_screenshot(&client, "operations-clone-plan")
        .await
        .unwrap();
    click_xpath(
        &client,
        "//section[@role='dialog']//button[normalize-space()='Clone']",
    )
    .await
    .unwrap();
    if wait_for_text(&client, "section[role='dialog']", "Cancel clone")
        .await
        .is_ok()
    {
        // The header counts the running job from any page.
        let _ = wait_for_text(&client, "[data-testid='running-jobs']", "running").await;
        scroll_dialog(&client).await.unwrap();
        save_screenshot(&client, "operations-clone-progress")
            .await
            .unwrap();
    }
    let outcome = wait_for_text_within(&client, "[data-testid='clone-outcome']", "cloned", 600)
        .await
        .unwrap();
    assert!(outcome.contains("2 desktops cloned"), "{outcome}");
    let dialog = client
        .find(Locator::Css("section[role='dialog']"))
        .await
        .unwrap()
        .prop("textContent")
        .await
        .unwrap()
        .unwrap_or_default();
    for name in &chosen {
        assert!(dialog.contains(&format!("from {name}")), "{dialog}");
    }
    assert!(dialog.contains("Running"), "keep running: {dialog}");
    scroll_dialog(&client).await.unwrap();
    save_screenshot(&client, "operations-clone-outcome")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();

    // ---- Both jobs in the notification center ----
    click(&client, "header button[data-unread]").await.unwrap();
    wait_for_heading(&client, "Notifications").await.unwrap();
    let panel = wait_for_text(&client, "[data-testid='jobs-panel']", "Clone")
        .await
        .unwrap();
    assert!(panel.contains("Backup of all volumes"), "{panel}");
    let states: Vec<String> = {
        let mut v = Vec::new();
        for el in client
            .find_all(Locator::Css("[data-testid='jobs-panel'] li[data-job-id]"))
            .await
            .unwrap()
        {
            v.push(el.attr("data-state").await.unwrap().unwrap_or_default());
        }
        v
    };
    assert!(
        states.iter().filter(|s| *s == "succeeded").count() >= 2,
        "{states:?}"
    );
    save_screenshot(&client, "operations-notifications-jobs")
        .await
        .unwrap();

    // ---- The same screens in the dark theme ----
    switch_theme(&client, true).await.unwrap();
    save_screenshot(&client, "operations-notifications-jobs-dark")
        .await
        .unwrap();
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    choose(&client, "Cloud account", "lab-ahv-primary")
        .await
        .unwrap();
    set_field(&client, "Frame account", "acme-pd")
        .await
        .unwrap();
    open_action(&client, "Clone volumes", "Clone volumes")
        .await
        .unwrap();
    set_field(&client, "Destination Frame account", "acme-dr")
        .await
        .unwrap();
    toggle(&client, "clone-replace-assigned").await.unwrap();
    // The owners acme-pd shares with acme-dr: their desktops are replaced (the old ones kept).
    wait_for_text_within(&client, "[data-testid='clone-summary']", "to replace", 60)
        .await
        .unwrap();
    scroll_dialog(&client).await.unwrap();
    save_screenshot(&client, "operations-clone-plan-dark")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();

    // A second backup of all volumes, followed from the notification center after its dialog
    // is closed: the job goes on, its bar moves there, and it ends in its final state.
    choose(&client, "Cloud account", "lab-azure").await.unwrap();
    set_field(&client, "Frame account", "acme-pd")
        .await
        .unwrap();
    open_action(&client, "Backup all volumes", "Back up all volumes")
        .await
        .unwrap();
    wait_for_text(&client, "[data-testid='backup-all-list']", "acme-pd-")
        .await
        .unwrap();
    click_xpath(
        &client,
        "//label[starts-with(normalize-space(), 'Back up ')]",
    )
    .await
    .unwrap();
    save_screenshot(&client, "operations-backup-all-dry-run-dark")
        .await
        .unwrap();
    click_xpath(
        &client,
        "//section[@role='dialog']//button[normalize-space()='Back up all']",
    )
    .await
    .unwrap();
    wait_for_text(&client, "section[role='dialog']", "Cancel backup")
        .await
        .unwrap();
    click(&client, "section[role='dialog'] .mantine-Modal-close")
        .await
        .unwrap();
    click(&client, "header button[data-unread]").await.unwrap();
    wait_for_heading(&client, "Notifications").await.unwrap();
    let running = wait_for_text(
        &client,
        "[data-testid='jobs-panel'] li[data-state='running']",
        "Backup of all volumes",
    )
    .await;
    if running.is_ok() {
        let _ = wait_for_text(
            &client,
            "[data-testid='jobs-panel'] li[data-state='running']",
            "volumes done",
        )
        .await;
        save_screenshot(&client, "operations-notifications-jobs-running-dark")
            .await
            .unwrap();
    }
    wait_for_text_within(
        &client,
        "[data-testid='jobs-running-count']",
        "None running",
        300,
    )
    .await
    .unwrap();
    let states = client
        .find(Locator::Css("[data-testid='jobs-panel'] li[data-job-id]"))
        .await
        .unwrap()
        .attr("data-state")
        .await
        .unwrap();
    assert_eq!(states.as_deref(), Some("succeeded"), "the newest job");
    save_screenshot(&client, "operations-notifications-jobs-done-dark")
        .await
        .unwrap();

    client.close().await.unwrap();
}
