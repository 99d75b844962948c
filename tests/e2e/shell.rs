//! The shell, as an administrator first meets it: every page opens from the navigation, each
//! shows its heading and an honest empty state, and a second launch hands over to the running app
//! and exits (that it also raises and focuses the window is not observable under Xvfb, which has no
//! window manager: `tray::show_main_window` does it).

use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use standby_tests::driver::{app_binary, Driver};
use standby_tests::screens::{click, save_screenshot, wait_for_heading, wait_for_text};

const PAGES: [(&str, &str, &str); 5] = [
    ("dashboard", "Dashboard", "No cloud account yet"),
    (
        "disaster-recovery",
        "Disaster recovery",
        "No cloud account yet",
    ),
    ("volumes", "Volumes", "No cloud account yet"),
    ("notifications", "Notifications", "No notifications yet"),
    ("cloud-accounts", "Cloud accounts", "No cloud account yet"),
];

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver and a display; ./test runs it"]
async fn every_page_opens_from_the_navigation_and_a_second_launch_hands_over() {
    let app = app_binary().unwrap();
    let data = tempfile::tempdir().unwrap();
    let driver = Driver::start(&[("STANDBY_DATA_DIR", data.path().as_os_str())]).unwrap();
    let client = driver.session(&app).await.unwrap();

    assert_eq!(client.title().await.unwrap(), "Standby");
    wait_for_heading(&client, "Dashboard").await.unwrap();

    for (slug, heading, empty) in PAGES {
        client
            .find(Locator::Css(&format!("nav [data-nav='{slug}']")))
            .await
            .unwrap_or_else(|e| panic!("no navigation entry for {heading}: {e}"))
            .click()
            .await
            .unwrap();
        wait_for_heading(&client, heading).await.unwrap();
        wait_for_text(&client, "main", empty).await.unwrap();
        save_screenshot(&client, &format!("shell-{slug}"))
            .await
            .unwrap();
    }

    // The Volumes page has Frame's two tabs.
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    click(&client, "[role='tab'][data-tab='backups']")
        .await
        .unwrap();
    wait_for_text(&client, "[role='tabpanel']", "Backups of a volume")
        .await
        .unwrap();
    save_screenshot(&client, "shell-volumes-backups-tab")
        .await
        .unwrap();

    // The data folder the window reports is the one the test chose, not the user's.
    click(&client, "nav [data-nav='dashboard']").await.unwrap();
    let about = wait_for_text(&client, "[data-testid='data-dir']", "")
        .await
        .unwrap();
    assert_eq!(about.trim(), data.path().display().to_string());

    // The dark theme, for those who work at night.
    click(&client, "button[aria-label='Switch to the dark theme']")
        .await
        .unwrap();
    let scheme = client
        .execute(
            "return document.documentElement.getAttribute('data-mantine-color-scheme')",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scheme, serde_json::json!("dark"));
    save_screenshot(&client, "shell-dashboard-dark")
        .await
        .unwrap();
    click(&client, "button[aria-label='Switch to the light theme']")
        .await
        .unwrap();

    // A second launch hands over to the running app and exits instead of opening a second window.
    let started = Instant::now();
    let mut second = Command::new(&app)
        .env("STANDBY_DATA_DIR", data.path())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = second.kill();
            panic!("a second launch kept running: the app started twice");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "the second launch failed: {status}");
    assert_eq!(client.windows().await.unwrap().len(), 1);
    wait_for_heading(&client, "Dashboard").await.unwrap();

    client.close().await.unwrap();
    drop(driver);
}
