//! `standby --lab`, as a newcomer first sees it: the lab's two clusters and its Azure subscription
//! are registered cloud accounts, and the header says that this is the lab.

use fantoccini::Locator;
use standby_tests::driver::{app_binary, Driver};
use standby_tests::screens::{click, save_screenshot, wait_for_heading, wait_for_text};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn the_lab_run_opens_with_its_clusters_and_subscription_registered() {
    let app = app_binary().unwrap();
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(&[
        ("STANDBY_DATA_DIR", data.path().as_os_str()),
        ("STANDBY_LAB", std::ffi::OsStr::new("true")),
    ])
    .unwrap();
    let client = driver.session(&app).await.unwrap();
    wait_for_heading(&client, "Dashboard").await.unwrap();
    // The badge reads "Lab" (styled in capitals); "Lab failed to start" would mean it did not.
    let badge = wait_for_text(&client, "[data-testid='lab-badge']", "lab")
        .await
        .unwrap();
    assert_eq!(
        badge.to_lowercase(),
        "lab",
        "the lab started and registered itself"
    );

    click(&client, "nav [data-nav='cloud-accounts']")
        .await
        .unwrap();
    wait_for_heading(&client, "Cloud accounts").await.unwrap();
    let table = wait_for_text(&client, "main table", "lab-azure")
        .await
        .unwrap();
    for name in ["lab-ahv-primary", "lab-ahv-secondary", "lab-azure"] {
        assert!(table.contains(name), "{name} is not listed:\n{table}");
    }
    assert!(
        table.contains("Nutanix AHV") && table.contains("Azure"),
        "{table}"
    );
    save_screenshot(&client, "lab-cloud-accounts")
        .await
        .unwrap();

    // Test reaches each account for real: keyring, pinned certificate, sign-in, rights.
    for name in ["lab-ahv-primary", "lab-azure"] {
        click(&client, &format!("[data-testid='test-{name}']"))
            .await
            .unwrap();
        let result = wait_for_text(
            &client,
            &format!("[data-testid='test-result-{name}']"),
            "is reachable and usable",
        )
        .await
        .unwrap();
        assert!(result.contains("Sign-in"), "{result}");
        save_screenshot(&client, &format!("lab-test-{name}"))
            .await
            .unwrap();
        // Close the result (click outside it) and wait until it is gone before the next click.
        click(&client, "main h1").await.unwrap();
        let gone = format!("[data-testid='test-result-{name}']");
        for _ in 0..50 {
            if client.find(Locator::Css(&gone)).await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    click(&client, "nav [data-nav='dashboard']").await.unwrap();
    wait_for_text(&client, "[data-testid='account-count']", "3")
        .await
        .unwrap();
    save_screenshot(&client, "lab-dashboard").await.unwrap();

    // Volumes: discovery of the lab's Frame account on the primary cluster, for real.
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    let field = client
        .find(Locator::Css("[data-testid='frame-account']"))
        .await
        .unwrap();
    field.send_keys("acme-pd").await.unwrap();
    client
        .find(Locator::XPath(
            "//button[normalize-space()='Refresh from the provider']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // 1 sandbox, 2 utility servers, 38 desktops, 36 profiles, 36 personal drives, 1 template.
    wait_for_text(&client, "[data-testid='volume-count']", "114 volumes")
        .await
        .unwrap();
    save_screenshot(&client, "lab-volumes").await.unwrap();

    // Disaster recovery: the accounts exist, nothing replicates yet, and the page says so.
    click(&client, "nav [data-nav='disaster-recovery']")
        .await
        .unwrap();
    wait_for_heading(&client, "Disaster recovery")
        .await
        .unwrap();
    wait_for_text(&client, "main", "Disaster recovery is not enabled yet")
        .await
        .unwrap();
    save_screenshot(&client, "lab-disaster-recovery")
        .await
        .unwrap();

    // The lab's start is in the notification center, unread, and the bell counts it.
    let unread = client
        .find(Locator::Css("header button[data-unread]"))
        .await
        .unwrap()
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(unread, "Notifications, 1 unread");
    click(&client, "header button[data-unread]").await.unwrap();
    wait_for_heading(&client, "Notifications").await.unwrap();
    let item = wait_for_text(&client, "li[data-notification-id]", "The lab is running")
        .await
        .unwrap();
    assert!(item.contains("lab-ahv-primary"), "{item}");
    save_screenshot(&client, "lab-notifications").await.unwrap();
    let mark_all = client
        .find(Locator::XPath(
            "//button[normalize-space()='Mark all as read']",
        ))
        .await
        .unwrap();
    mark_all.click().await.unwrap();
    let mut label = String::new();
    for _ in 0..50 {
        label = client
            .find(Locator::Css("header button[data-unread]"))
            .await
            .unwrap()
            .attr("aria-label")
            .await
            .unwrap()
            .unwrap_or_default();
        if label == "Notifications" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(label, "Notifications", "marking all read clears the bell");

    // Where no GPU renders (Xvfb in CI), the window turned WebKit's asynchronous overflow
    // scrolling off (src-tauri/src/drawing.rs, docs/console.md "Drawing without a GPU"): the
    // feature exists in this WebKitGTK and was set. With a GPU nothing is set.
    if std::env::var_os("STANDBY_WEBKIT_FEATURES").is_none() {
        let gpu = std::fs::read_dir("/dev/dri").is_ok_and(|d| {
            d.flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
        });
        let mut log = String::new();
        for entry in std::fs::read_dir(data.path().join("logs"))
            .unwrap()
            .flatten()
        {
            log.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        for feature in ["AsyncOverflowScrolling", "CanvasUsesAcceleratedDrawing"] {
            let set = log.contains(&format!("WebKit feature set feature={feature} on=false"));
            assert_eq!(
                set, !gpu,
                "{feature}: GPU render node present: {gpu}; the app's log:\n{log}"
            );
        }
        assert!(!log.contains("WebKit feature not set"), "{log}");
    }

    client.close().await.unwrap();
    drop(driver);
}
