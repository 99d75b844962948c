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
    // The DOM can be updated before WebKit paints it: wait for two frames so the picture shows
    // what the assertions just read.
    client
        .execute_async(
            "const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            vec![],
        )
        .await
        .context("wait for the page to paint")?;
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
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("the heading never read {text:?} (last seen: {last:?}); screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `css` matches a displayed element whose text contains `needle`, ignoring case
/// (CSS may set it in capitals).
pub async fn wait_for_text(client: &Client, css: &str, needle: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            // WebKitWebDriver's visible-text algorithm drops the text of inline-grid elements
            // (Mantine's badges) that are plainly on screen, so read textContent and ask about
            // visibility separately.
            if !is_visible(client, &el).await {
                continue;
            }
            let t = el
                .prop("textContent")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if t.to_lowercase().contains(&needle.to_lowercase()) {
                return Ok(t);
            }
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("no {css} containing {needle:?} appeared; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the page shows `el`, decided by the page itself: WebKitWebDriver's `is_displayed`
/// atom reports Mantine's inline-grid badges as hidden.
pub async fn is_visible(client: &Client, el: &fantoccini::elements::Element) -> bool {
    let Ok(arg) = serde_json::to_value(el) else {
        return false;
    };
    client
        .execute(
            "const e = arguments[0]; return e.checkVisibility ? e.checkVisibility({visibilityProperty: true}) : e.getClientRects().length > 0;",
            vec![arg],
        )
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Clicks the element `css` matches, saying which one was missing when none does.
pub async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("nothing on screen matches {css}"))?
        .click()
        .await
        .with_context(|| format!("cannot click {css}"))?;
    Ok(())
}
