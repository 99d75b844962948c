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

/// The visible, enabled `button` whose text is `text` (trimmed), waiting up to 15 s: wizards
/// keep several steps' buttons in the page (hidden ones are skipped).
pub async fn button(client: &Client, text: &str) -> anyhow::Result<fantoccini::elements::Element> {
    let xpath = format!("//button[normalize-space()={}]", xpath_literal(text));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default()
        {
            let enabled = el.is_enabled().await.unwrap_or(false)
                && el.attr("data-loading").await.ok().flatten().is_none();
            if enabled && is_visible(client, &el).await {
                // A long dialog puts its footer below the window: bring the button into view.
                client
                    .execute(
                        "arguments[0].scrollIntoView({block: 'center'});",
                        vec![serde_json::to_value(&el)?],
                    )
                    .await
                    .context("scroll to a button")?;
                return Ok(el);
            }
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("no enabled button {text:?} on screen; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the button `button` finds.
pub async fn click_button(client: &Client, text: &str) -> anyhow::Result<()> {
    button(client, text)
        .await?
        .click()
        .await
        .with_context(|| format!("cannot click the button {text:?}"))?;
    Ok(())
}

/// The visible form control labelled `label` (a `<label for>` whose text starts with `label`;
/// Mantine adds " *" to required fields), or with `aria-label` equal to `label`.
pub async fn field(client: &Client, label: &str) -> anyhow::Result<fantoccini::elements::Element> {
    let lit = xpath_literal(label);
    let by_label = format!(
        "//label[normalize-space(.)={lit} or starts-with(normalize-space(.), concat({lit}, ' *'))]"
    );
    let by_aria = format!("//*[@aria-label={lit}][self::input or self::select or self::textarea]");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut found = Vec::new();
        for l in client
            .find_all(Locator::XPath(&by_label))
            .await
            .unwrap_or_default()
        {
            let Some(id) = l.attr("for").await.ok().flatten() else {
                continue;
            };
            let xp = format!("//*[@id={}]", xpath_literal(&id));
            if let Ok(el) = client.find(Locator::XPath(&xp)).await {
                if is_visible(client, &el).await {
                    found.push(el);
                }
            }
        }
        for el in client
            .find_all(Locator::XPath(&by_aria))
            .await
            .unwrap_or_default()
        {
            if is_visible(client, &el).await {
                found.push(el);
            }
        }
        // With a dialog open, its field is the one meant (the page behind may have a namesake).
        let mut first = None;
        for el in found {
            if in_dialog(client, &el).await {
                return Ok(el);
            }
            first.get_or_insert(el);
        }
        if let Some(el) = first {
            return Ok(el);
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("no field labelled {label:?} on screen; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Empties the field labelled `label` and types `text` into it, as a user would (React sees each
/// key).
pub async fn fill(client: &Client, label: &str, text: &str) -> anyhow::Result<()> {
    let el = field(client, label).await?;
    set_value(client, &el, "").await?;
    el.send_keys(text)
        .await
        .with_context(|| format!("cannot type into {label:?}"))?;
    Ok(())
}

/// Sets the field labelled `label` at once (a paste), for long values such as a PEM.
pub async fn paste(client: &Client, label: &str, text: &str) -> anyhow::Result<()> {
    let el = field(client, label).await?;
    set_value(client, &el, text).await
}

/// Chooses, in the native select labelled `label`, the option whose text starts with `option`.
pub async fn choose(client: &Client, label: &str, option: &str) -> anyhow::Result<()> {
    let el = field(client, label).await?;
    let arg = serde_json::to_value(&el)?;
    let chosen = client
        .execute(
            "const [s, text] = arguments;
             const o = [...s.options].find(o => o.textContent.trim().startsWith(text));
             if (!o) return [...s.options].map(o => o.textContent.trim()).join(' | ');
             const set = Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, 'value').set;
             set.call(s, o.value);
             s.dispatchEvent(new Event('change', { bubbles: true }));
             return true;",
            vec![arg, serde_json::Value::String(option.into())],
        )
        .await?;
    if chosen != serde_json::Value::Bool(true) {
        bail!("the select {label:?} has no option {option:?}; it offers: {chosen}");
    }
    Ok(())
}

/// Sets an input's or textarea's value the way React notices (its value setter, then `input`).
async fn set_value(
    client: &Client,
    el: &fantoccini::elements::Element,
    value: &str,
) -> anyhow::Result<()> {
    client
        .execute(
            "const [e, v] = arguments;
             const proto = e instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
             Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, v);
             e.dispatchEvent(new Event('input', { bubbles: true }));
             e.focus();",
            vec![serde_json::to_value(el)?, serde_json::Value::String(value.into())],
        )
        .await
        .context("set a field's value")?;
    Ok(())
}

/// Waits until nothing visible matches `css` (a dialog closed, a result went away).
pub async fn wait_until_gone(client: &Client, css: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut shown = false;
        for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
            if is_visible(client, &el).await {
                shown = true;
                break;
            }
        }
        if !shown {
            return Ok(());
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("{css} is still on screen; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the first visible element `css` matches (textContent; see `wait_for_text`).
pub async fn text_of(client: &Client, css: &str) -> anyhow::Result<String> {
    for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        if is_visible(client, &el).await {
            return Ok(el
                .prop("textContent")
                .await
                .ok()
                .flatten()
                .unwrap_or_default());
        }
    }
    bail!("nothing visible matches {css}")
}

/// `s` as an XPath string literal, whatever quotes it holds.
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// `wait_for_text` with a deadline of `secs` seconds, for steps that call a cluster or a
/// subscription (tests, checks, Enable).
pub async fn wait_for_text_within(
    client: &Client,
    css: &str,
    needle: &str,
    secs: u64,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
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
            bail!("no {css} containing {needle:?} appeared within {secs} s; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Clicks the visible `<label>` whose text is `text` (switches, checkboxes, segmented controls:
/// their inputs are hidden under the label).
pub async fn click_label(client: &Client, text: &str) -> anyhow::Result<()> {
    let lit = xpath_literal(text);
    let xpath =
        format!("//label[normalize-space(.)={lit} or starts-with(normalize-space(.), {lit})]");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default()
        {
            if is_visible(client, &el).await {
                el.click()
                    .await
                    .with_context(|| format!("cannot click the label {text:?}"))?;
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("no label {text:?} on screen; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Scrolls the first element `css` matches to the top of its scrolling box (a dialog's body), so
/// that a screenshot shows it from its start.
pub async fn scroll_to(client: &Client, css: &str) -> anyhow::Result<()> {
    let el = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("nothing on screen matches {css}"))?;
    client
        .execute(
            "arguments[0].scrollIntoView({block: 'start'});",
            vec![serde_json::to_value(&el)?],
        )
        .await
        .context("scroll")?;
    Ok(())
}

/// Whether `el` is inside an open dialog (a Mantine `Modal`).
async fn in_dialog(client: &Client, el: &fantoccini::elements::Element) -> bool {
    let Ok(arg) = serde_json::to_value(el) else {
        return false;
    };
    client
        .execute("return !!arguments[0].closest('[role=dialog]');", vec![arg])
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Opens the Mantine `Select` labelled `label` and picks the option `option` (exact text).
pub async fn select_option(client: &Client, label: &str, option: &str) -> anyhow::Result<()> {
    field(client, label).await?.click().await?;
    let xpath = format!(
        "//*[@role='option'][normalize-space()={}]",
        xpath_literal(option)
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client
            .find_all(Locator::XPath(&xpath))
            .await
            .unwrap_or_default()
        {
            if is_visible(client, &el).await {
                el.click().await?;
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("the select {label:?} offers no option {option:?}; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of every visible element `css` matches, in page order.
pub async fn texts_of(client: &Client, css: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for el in client.find_all(Locator::Css(css)).await? {
        if is_visible(client, &el).await {
            out.push(
                el.prop("textContent")
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

/// Scrolls to the middle of the window the first element `css` matches whose text starts with
/// `prefix` (a table's row by its first cell), so that a screenshot shows it.
pub async fn scroll_to_text(client: &Client, css: &str, prefix: &str) -> anyhow::Result<()> {
    let found = client
        .execute(
            "const [css, prefix] = arguments;
             const e = [...document.querySelectorAll(css)].find(e => e.textContent.trim().startsWith(prefix));
             if (!e) return false;
             e.scrollIntoView({block: 'center'});
             return true;",
            vec![
                serde_json::Value::String(css.into()),
                serde_json::Value::String(prefix.into()),
            ],
        )
        .await
        .context("scroll")?;
    if found != serde_json::Value::Bool(true) {
        bail!("nothing matching {css} starts with {prefix:?}");
    }
    Ok(())
}

/// Clicks the first visible element matching `xpath`, scrolled into view first (WebKitWebDriver
/// does not scroll a modal's content for a click), waiting up to 15 s for one to appear.
pub async fn click_xpath(client: &Client, xpath: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        for el in client
            .find_all(Locator::XPath(xpath))
            .await
            .unwrap_or_default()
        {
            if is_visible(client, &el).await {
                let arg = serde_json::to_value(&el)?;
                client
                    .execute("arguments[0].scrollIntoView({block: 'center'});", vec![arg])
                    .await?;
                el.click()
                    .await
                    .with_context(|| format!("cannot click {xpath}"))?;
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let shot = save_screenshot(client, "failed-wait").await.ok();
            bail!("nothing clickable matches {xpath}; screen: {shot:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Switches the window to the dark theme (`dark`) or back to the light one, with the header's
/// theme button as an administrator does.
pub async fn switch_theme(client: &Client, dark: bool) -> anyhow::Result<()> {
    let to = if dark { "dark" } else { "light" };
    click(
        client,
        &format!("header button[aria-label='Switch to the {to} theme']"),
    )
    .await
}
