//! The Backups tab and one-click restore on `standby --lab`, as an administrator walks them on the
//! lab's Azure subscription: back up a persistent desktop before an update and watch its replica
//! complete, restore it from the primary backup (typing the volume's name), restore it from the
//! secondary replica, and meet a restore blocked because its user is in session. Screenshots of
//! every step, light and dark (`artifacts/screenshots/backups-*.png`).
//!
//! Set-up that is not this flow's subject goes around the screens: disaster recovery is enabled
//! through the app's own `enable_dr_azure` command (its wizard has its own flow), and the lab's
//! control API speeds up the lab clock (copies of tens of GiB take minutes of lab time) and opens
//! the user's session.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use standby_tests::driver::KeptOnFailure;
use standby_tests::ipc::invoke;
use standby_tests::screens::{
    click, click_xpath, save_screenshot, switch_theme, text_of, wait_for_heading, wait_for_text,
    wait_for_text_within,
};

/// A call to the lab's control API (plain HTTP on loopback): its status and body.
fn lab_call(
    method: &str,
    control: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<(u16, String)> {
    let rest = control
        .strip_prefix("http://")
        .context("the control API is plain HTTP")?;
    let host = rest.split('/').next().unwrap_or(rest);
    let body = body.to_string();
    let mut s = std::net::TcpStream::connect(host).with_context(|| format!("connect to {host}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("no status line")?;
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// Picks `option` in the Mantine select labelled `label` (typing `search` first when given).
async fn choose(
    client: &Client,
    label: &str,
    search: Option<&str>,
    option: &str,
) -> anyhow::Result<()> {
    let input = format!("//label[normalize-space()='{label}']/following::input[1]");
    click_xpath(client, &input).await?;
    if let Some(text) = search {
        client
            .find(Locator::XPath(&input))
            .await?
            .send_keys(text)
            .await?;
    }
    click_xpath(
        client,
        &format!("//*[@role='option' and contains(normalize-space(), '{option}')]"),
    )
    .await
}

/// The open dialog's button named `name`.
fn dialog_button(name: &str) -> String {
    format!("//section[@role='dialog']//button[normalize-space()='{name}']")
}

/// Opens the restore dialog of the row of `site` (`primary` or `replica`) named `name`.
async fn open_restore(client: &Client, name: &str, site: &str) -> anyhow::Result<()> {
    click_xpath(
        client,
        &format!(
            "//table[@data-testid='backups-table']//tr[@data-site='{site}' and td[1][normalize-space()='{name}']]//button[starts-with(@aria-label, 'Actions for')]"
        ),
    )
    .await?;
    click_xpath(
        client,
        "//*[@role='menuitem' and normalize-space()='Restore']",
    )
    .await?;
    wait_for_text_within(client, "section[role='dialog']", "Checks", 60).await?;
    Ok(())
}

/// Scrolls the restore dialog to its end: the blocked check, the reason and the disabled
/// Restore button in one picture.
async fn show_restore_button(client: &Client) -> anyhow::Result<()> {
    let button = client
        .find(Locator::XPath(&dialog_button("Restore")))
        .await?;
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'end'});",
            vec![serde_json::to_value(&button)?],
        )
        .await?;
    Ok(())
}

async fn close_dialog(client: &Client) -> anyhow::Result<()> {
    click_xpath(client, &dialog_button("Close")).await?;
    for _ in 0..50 {
        if client
            .find(Locator::Css("section[role='dialog']"))
            .await
            .is_err()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the dialog did not close")
}

/// Restores the plan on screen: types the volume's name, and pictures the running restore once
/// its progress shows a step containing `step` (the restore may end before: then it says so).
async fn restore_typing_name(
    client: &Client,
    volume: &str,
    step: &str,
    shot: &str,
) -> anyhow::Result<String> {
    let field = client
        .find(Locator::Css("[data-testid='confirm-volume']"))
        .await
        .context("the plan asks for the volume's name")?;
    let restore = client
        .find(Locator::XPath(&dialog_button("Restore")))
        .await?;
    assert_eq!(
        restore.attr("disabled").await?,
        Some("true".into()),
        "Restore waits for the name"
    );
    field.send_keys(volume).await?;
    save_screenshot(client, &format!("{shot}-confirm")).await?;
    assert_eq!(
        restore.attr("disabled").await?,
        None,
        "the exact name enables Restore"
    );
    restore.click().await?;
    // Progress first (a restore takes a safety snapshot, deallocates, makes a disk, swaps it).
    wait_for_text_within(client, "section[role='dialog']", "Cancel restore", 20).await?;
    match wait_for_text_within(client, "section[role='dialog']", step, 20).await {
        Ok(_) => {
            save_screenshot(client, &format!("{shot}-progress")).await?;
        }
        Err(e) => eprintln!("the restore's progress never showed {step:?}: {e}"),
    }
    let done = wait_for_text_within(client, "section[role='dialog']", "was restored", 240).await?;
    save_screenshot(client, &format!("{shot}-done")).await?;
    Ok(done)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn backup_and_restore_flows() {
    let started = Instant::now();
    let step = |what: &str| {
        eprintln!(
            "[backups e2e {:>5.1} s] {what}",
            started.elapsed().as_secs_f64()
        )
    };
    let data = KeptOnFailure::new();
    let (driver, client) = standby_tests::driver::on_lab(data.path()).await.unwrap();

    // ---- set-up around the screens -----------------------------------------------------------
    let info = invoke(&client, "app_info", json!({})).await.unwrap();
    let control = info["lab"]["control_url"]
        .as_str()
        .expect("the lab runs")
        .to_string();
    let control_path = |p: &str| format!("/_lab/{p}");
    // Copies take (used GiB / 100 MiB/s) of lab time: minutes. A hundredfold clock makes them seconds.
    let (status, body) = lab_call(
        "POST",
        &control,
        &control_path("time/scale"),
        &json!({"scale": 100.0}),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    standby_tests::ipc::enable_lab_azure_dr(&client)
        .await
        .unwrap();
    let desk = standby_tests::ipc::assigned_powered_off_desktop(&client)
        .await
        .unwrap();
    let volume = desk["name"].as_str().unwrap().to_string();
    let owner = desk["owner"].as_str().unwrap().to_string();
    eprintln!("backing up {volume} of {owner}");

    // ---- the Backups tab ---------------------------------------------------------------------
    step("the Backups tab");
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    click(&client, "[data-tab='backups']").await.unwrap();
    choose(&client, "Cloud account", None, "lab-azure")
        .await
        .unwrap();
    // The Frame account comes from the DR configuration, and the volumes are listed at once.
    let frame = client
        .find(Locator::Css("[data-testid='backups-frame-account']"))
        .await
        .unwrap();
    for _ in 0..100 {
        if frame.prop("value").await.unwrap().as_deref() == Some("acme-pd") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        frame.prop("value").await.unwrap().as_deref(),
        Some("acme-pd")
    );
    let short = volume.trim_end_matches("-osdisk");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // The volume select is enabled once discovery answered.
        let input = client
            .find(Locator::XPath(
                "//label[normalize-space()='Volume']/following::input[1]",
            ))
            .await
            .unwrap();
        if input.attr("disabled").await.unwrap().is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the volumes were never listed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    choose(&client, "Volume", Some(short), &volume)
        .await
        .unwrap();
    wait_for_text(&client, "main", "No backups of this volume yet")
        .await
        .unwrap();
    save_screenshot(&client, "backups-01-no-backups")
        .await
        .unwrap();

    // ---- Create backup -----------------------------------------------------------------------
    step("Create backup");
    click_xpath(&client, "//main//button[normalize-space()='Create backup']")
        .await
        .unwrap();
    wait_for_text(&client, "section[role='dialog']", "Create backup")
        .await
        .unwrap();
    let name_field = client
        .find(Locator::Css("[data-testid='backup-name']"))
        .await
        .unwrap();
    name_field.send_keys("  before update ").await.unwrap();
    save_screenshot(&client, "backups-02-create").await.unwrap();
    click_xpath(&client, &dialog_button("Create backup"))
        .await
        .unwrap();
    // The replica's copy is visible in the job's progress while it runs, and in the list.
    wait_for_text_within(&client, "section[role='dialog']", "replicat", 60)
        .await
        .unwrap();
    // The list follows the replica's percentage while it copies (when the copy does not end
    // first: at the lab's speed it may). Pictured once it has moved past 0 %.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = text_of(
            &client,
            "[data-testid='backups-table'] tr[data-site='replica'] [data-testid='backup-state']",
        )
        .await
        .unwrap_or_default();
        let pct = row
            .strip_prefix("Replicating ")
            .and_then(|r| r.trim_end_matches('%').parse::<u32>().ok());
        if matches!(pct, Some(p) if p > 0) {
            eprintln!("while copying, the list reads {row:?}");
            break;
        }
        if row == "Available" || Instant::now() > deadline {
            eprintln!("the list never showed the copy past 0 % (it reads {row:?})");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    save_screenshot(&client, "backups-03-create-progress")
        .await
        .unwrap();
    step("waiting for the backup's end");
    let created = wait_for_text_within(&client, "[data-testid='created-backups']", "Replica", 300)
        .await
        .unwrap();
    assert!(
        created.contains("northeurope") && created.contains("westeurope"),
        "{created}"
    );
    assert!(
        !created.contains("Replicating"),
        "the replica is complete when the job ends: {created}"
    );
    save_screenshot(&client, "backups-04-created")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();
    let count = wait_for_text(&client, "[data-testid='backup-count']", "2 backups")
        .await
        .unwrap();
    assert!(count.contains("1 primary, 1 replica"), "{count}");
    let table = wait_for_text(&client, "[data-testid='backups-table']", "before update")
        .await
        .unwrap();
    assert!(
        table.contains("Manual") && !table.contains("Replicating"),
        "{table}"
    );
    save_screenshot(&client, "backups-05-list").await.unwrap();

    // ---- Restore from the primary backup -----------------------------------------------------
    step("Restore from the primary backup");
    open_restore(&client, "before update", "primary")
        .await
        .unwrap();
    let plan = wait_for_text(&client, "[data-testid='restore-summary']", "Primary backup")
        .await
        .unwrap();
    assert!(plan.contains(&volume) && plan.contains(&owner), "{plan}");
    save_screenshot(&client, "backups-06-restore-primary-plan")
        .await
        .unwrap();
    let done = restore_typing_name(
        &client,
        &volume,
        "creating disk",
        "backups-07-restore-primary",
    )
    .await
    .unwrap();
    assert!(
        done.contains("Restore the safety backup"),
        "the undo path is offered: {done}"
    );
    close_dialog(&client).await.unwrap();
    // The safety backup it took is listed with the others.
    let count = wait_for_text(&client, "[data-testid='backup-count']", "1 safety")
        .await
        .unwrap();
    eprintln!("after the first restore: {count}");

    // ---- Restore from the secondary replica --------------------------------------------------
    step("Restore from the secondary replica");
    open_restore(&client, "before update", "replica")
        .await
        .unwrap();
    let plan = wait_for_text(
        &client,
        "[data-testid='restore-summary']",
        "Secondary replica",
    )
    .await
    .unwrap();
    assert!(plan.contains("northeurope"), "{plan}");
    save_screenshot(&client, "backups-08-restore-replica-plan")
        .await
        .unwrap();
    restore_typing_name(
        &client,
        &volume,
        "copying the replica back",
        "backups-09-restore-replica",
    )
    .await
    .unwrap();
    close_dialog(&client).await.unwrap();
    save_screenshot(&client, "backups-10-list-after-restores")
        .await
        .unwrap();

    // ---- Blocked: the user is in session -----------------------------------------------------
    step("Blocked: the user is in session");
    let (status, body) = lab_call(
        "POST",
        &control,
        &control_path("azure/sessions/open"),
        &json!({"user": owner}),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    open_restore(&client, "before update", "primary")
        .await
        .unwrap();
    let blocked = wait_for_text(&client, "[data-check='blocked']", "session")
        .await
        .unwrap();
    assert!(
        blocked.contains(&owner),
        "the check names the user: {blocked}"
    );
    let restore = client
        .find(Locator::XPath(&dialog_button("Restore")))
        .await
        .unwrap();
    assert_eq!(restore.attr("disabled").await.unwrap(), Some("true".into()));
    wait_for_text(&client, "#restore-blocked", "Restore is blocked")
        .await
        .unwrap();
    show_restore_button(&client).await.unwrap();
    save_screenshot(&client, "backups-11-blocked-in-session")
        .await
        .unwrap();

    // ---- The same screens in the dark theme --------------------------------------------------
    step("The same screens in the dark theme");
    // The dialog is modal: close it to reach the header's theme switch, then open it again.
    close_dialog(&client).await.unwrap();
    switch_theme(&client, true).await.unwrap();
    // The pointer leaves the switch (its tooltip would cover the header in the picture).
    click(&client, "main h1").await.unwrap();
    save_screenshot(&client, "backups-12-list-dark")
        .await
        .unwrap();
    open_restore(&client, "before update", "primary")
        .await
        .unwrap();
    wait_for_text(&client, "[data-check='blocked']", "session")
        .await
        .unwrap();
    show_restore_button(&client).await.unwrap();
    save_screenshot(&client, "backups-13-blocked-in-session-dark")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();
    click_xpath(&client, "//main//button[normalize-space()='Create backup']")
        .await
        .unwrap();
    wait_for_text(&client, "section[role='dialog']", "Create backup")
        .await
        .unwrap();
    save_screenshot(&client, "backups-14-create-dark")
        .await
        .unwrap();
    close_dialog(&client).await.unwrap();
    switch_theme(&client, false).await.unwrap();

    step("done");
    client.close().await.unwrap();
    drop(driver);
}
