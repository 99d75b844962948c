use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};

/// Where the end-to-end tests save their screenshots (named in the README): `artifacts/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("STANDBY_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../artifacts/screenshots")
        });
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    dir
}

pub async fn save_screenshot(client: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let png = client.screenshot().await.context("take a screenshot")?;
    let path = screenshot_dir().join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    Ok(path)
}

/// Waits until the page's main heading (`h1`) reads `text`.
pub async fn wait_for_heading(client: &Client, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last = String::new();
    loop {
        if let Ok(h) = client.find(Locator::Css("main h1")).await {
            last = h.text().await.unwrap_or_default();
            if last.trim() == text {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("the heading never read {text:?} (last seen: {last:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `css` matches an element whose text contains `needle`.
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            let t = el.text().await.unwrap_or_default();
            if t.contains(needle) {
                return Ok(t);
            }
        }
        if Instant::now() > deadline {
            bail!("no {css} containing {needle:?} appeared");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
