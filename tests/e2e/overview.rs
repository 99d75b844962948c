//! The Volumes table, the dashboard and the Disaster recovery page's resource list, against the
//! lab, in both themes. Screenshots `overview-*.png`.
//!
//! Set-up goes through the app's own IPC (what the Enable DR wizard and *Backup all volumes*
//! send; their flows have their own tests): DR for `acme-pd` on `lab-azure`, then a manual backup
//! of a few desktops with the lab's copies slowed so that replicas are seen being copied. The
//! screens themselves are walked as an administrator would: discovery from the Volumes tab, the
//! search, the sort, the dashboard with the secondary's live quota, and the DR page.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};
use serde_json::{json, Value};
use standby_tests::ipc::invoke;
use standby_tests::lab_control::LabControl;
use standby_tests::screens::{
    click, click_button, fill, save_screenshot, text_of, wait_for_heading, wait_for_text,
    wait_for_text_within,
};

/// Starts a command without waiting for its answer (a long job the screens should show running).
async fn start(client: &Client, cmd: &str, args: Value) -> anyhow::Result<()> {
    client
        .execute(
            "const [cmd, args] = arguments; window.__e2e = window.__TAURI_INTERNALS__.invoke(cmd, args).then(v => ({ ok: v }), e => ({ err: e })); return true;",
            vec![json!(cmd), args],
        )
        .await
        .with_context(|| format!("start {cmd}"))?;
    Ok(())
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

async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map(|v| v.len())
        .unwrap_or(0)
}

/// Switches the theme the way the header's button does, without leaving the pointer (and its
/// tooltip) on it.
async fn theme(client: &Client, to: &str) {
    client
        .execute(
            "document.querySelector(`button[aria-label='Switch to the ${arguments[0]} theme']`).click(); return true;",
            vec![json!(to)],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Both themes of the screen as it is: `name.png` in light, `name-dark.png` in dark.
async fn shots(client: &Client, name: &str) {
    save_screenshot(client, name).await.unwrap();
    theme(client, "dark").await;
    save_screenshot(client, &format!("{name}-dark"))
        .await
        .unwrap();
    theme(client, "light").await;
}

/// Scrolls `css` to the top of the window (for a screenshot of what is below the fold).
async fn scroll_to(client: &Client, css: &str) {
    client
        .execute(
            "const e = document.querySelector(arguments[0]); if (e) e.scrollIntoView({ block: 'start' }); return !!e;",
            vec![json!(css)],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn volumes_dashboard_and_dr_pages() {
    let data = tempfile::tempdir().unwrap();
    let (driver, client) = standby_tests::driver::on_lab(data.path()).await.unwrap();
    let lab = LabControl::of_app(&client).await.unwrap();

    // ---- The Volumes tab on the primary cluster: empty, then discovered from the provider ----
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    wait_for_text(&client, "main", "No volumes discovered yet")
        .await
        .unwrap();
    fill(&client, "Frame account", "acme-pd").await.unwrap();
    click_button(&client, "Refresh from the provider")
        .await
        .unwrap();
    // 1 sandbox, 2 utility servers, 38 desktops, 36 profiles, 36 personal drives, 1 template.
    wait_for_text_within(&client, "[data-testid='volume-count']", "114 volumes", 60)
        .await
        .unwrap();
    let rows = count(&client, "[data-testid='volume-row']").await;
    assert!(
        rows > 5 && rows < 114,
        "only the rows in view are in the DOM, not all 114: {rows}"
    );
    let first = text_of(&client, "[data-testid='volume-row']")
        .await
        .unwrap();
    assert!(first.contains("acme-pd"), "{first}");
    shots(&client, "overview-volumes-ahv").await;

    // ---- DR and backups on lab-azure, through the app's IPC ----
    let accounts = invoke(&client, "list_cloud_accounts", json!({}))
        .await
        .unwrap();
    let azure = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "lab-azure")
        .expect("the lab registers lab-azure")["id"]
        .as_str()
        .unwrap()
        .to_string();
    invoke(
        &client,
        "enable_dr_azure",
        json!({ "request": {
            "account": azure, "frame_account": "acme-pd", "secondary_region": "northeurope",
            "secondary_resource_group": "frame-acme-pd-dr", "replicas_kept": 7 } }),
    )
    .await
    .unwrap();
    let found = invoke(
        &client,
        "discover_resources",
        json!({ "accountId": azure, "frameAccount": "acme-pd" }),
    )
    .await
    .unwrap();
    let desktops: Vec<String> = found
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "persistent_desktop")
        .filter_map(|r| r["name"].as_str().map(str::to_string))
        .take(4)
        .collect();
    assert_eq!(desktops.len(), 4, "{found}");
    // Slow copies: the replicas are still being copied when the table is read.
    lab.put("/azure/copy-speed", json!({ "mib_per_sec": 2.0 }))
        .await
        .unwrap();
    start(
        &client,
        "backup_all",
        json!({ "ticket": "e2e-overview", "request": {
            "account": azure, "frame_account": "acme-pd", "kind": "manual",
            "resource_kinds": [], "volumes": desktops, "name": "Before the upgrade",
            "dry_run": false, "actor": "window" } }),
    )
    .await
    .unwrap();

    // ---- The Volumes tab on lab-azure: the DR's Frame account, backups and replicas ----
    choose(&client, "Cloud account", "lab-azure").await.unwrap();
    let total = wait_for_text_within(&client, "[data-testid='volume-count']", "volumes", 30)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // Read again until the backups show (the job runs beside the window).
        click_button(&client, "Refresh from the provider")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let main = text_of(&client, "main").await.unwrap();
        if main.contains("Before the upgrade") {
            break;
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(&client, "failed-wait").await.ok();
            panic!("no backup named 'Before the upgrade' in the table; screen: {shot:?}");
        }
    }
    // The newest backups first.
    click(&client, "button[aria-label='Sort by Last backup']")
        .await
        .unwrap();
    click(&client, "button[aria-label='Sort by Last backup']")
        .await
        .unwrap();
    let top = text_of(&client, "[data-testid='volume-row']")
        .await
        .unwrap();
    assert!(top.contains("Before the upgrade"), "{top}");
    assert!(
        top.contains("free"),
        "the lab's guest agent reports free space: {top}"
    );
    shots(&client, "overview-volumes").await;

    // ---- Search: one frame, no request ----
    fill(&client, "Search volumes", "desk-000").await.unwrap();
    let narrowed = wait_for_text(&client, "[data-testid='volume-count']", " of ")
        .await
        .unwrap();
    assert!(narrowed != total, "{narrowed} / {total}");
    for row in client
        .find_all(Locator::Css("[data-testid='volume-row']"))
        .await
        .unwrap()
    {
        let name = row.attr("data-volume").await.unwrap().unwrap_or_default();
        assert!(
            name.contains("desk-000"),
            "{name} does not match the search"
        );
    }
    shots(&client, "overview-search").await;

    // ---- The dashboard: figures from the catalog, then the secondary's live quota ----
    click(&client, "nav [data-nav='dashboard']").await.unwrap();
    wait_for_heading(&client, "Dashboard").await.unwrap();
    let azure_card = wait_for_text(
        &client,
        "[data-testid='dash-account-lab-azure']",
        "Frame account acme-pd",
    )
    .await
    .unwrap();
    assert!(
        azure_card.contains("Replicates to northeurope"),
        "{azure_card}"
    );
    wait_for_text_within(
        &client,
        "[data-testid='dash-account-lab-azure'] [data-testid='quota-table']",
        "snapshots",
        60,
    )
    .await
    .unwrap();
    let ahv_card = text_of(&client, "[data-testid='dash-account-lab-ahv-primary']")
        .await
        .unwrap();
    assert!(
        ahv_card.contains("Disaster recovery not enabled"),
        "{ahv_card}"
    );
    shots(&client, "overview-dashboard").await;
    scroll_to(&client, "[data-testid='dash-account-lab-azure']").await;
    shots(&client, "overview-dashboard-azure").await;

    // ---- The Disaster recovery page: the resources by type, templates not backed up ----
    click(&client, "nav [data-nav='disaster-recovery']")
        .await
        .unwrap();
    wait_for_heading(&client, "Disaster recovery")
        .await
        .unwrap();
    let list = wait_for_text(
        &client,
        "[data-testid='dr-resources-acme-pd']",
        "Persistent desktops",
    )
    .await
    .unwrap();
    assert!(list.contains("protected"), "{list}");
    click(
        &client,
        "[data-testid='dr-resources-acme-pd'] [data-kind='persistent_desktop'] button",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let templates = text_of(&client, "[data-testid='dr-templates']")
        .await
        .unwrap();
    assert!(
        templates.contains("not backed up") && templates.contains("acme-pd-template-w11"),
        "{templates}"
    );
    shots(&client, "overview-dr").await;
    scroll_to(
        &client,
        "[data-testid='dr-resources-acme-pd'] [data-kind='persistent_desktop']",
    )
    .await;
    shots(&client, "overview-dr-resources").await;
    scroll_to(&client, "[data-testid='dr-templates']").await;
    shots(&client, "overview-dr-templates").await;

    // The backup job ends (copies sped up again) before the app closes.
    lab.put("/azure/copy-speed", json!({ "mib_per_sec": 10_000.0 }))
        .await
        .unwrap();
    client.close().await.unwrap();
    drop(driver);
}
