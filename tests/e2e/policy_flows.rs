//! The policies an administrator sets in the window, against the lab's Azure subscription
//! (`lab-azure`, Frame account `acme-pd`): autogrow turned on, a disk filled through the lab's
//! control API, *Check now* reporting the growth; a schedule and its next five runs; the
//! retention preview of a changed number retained, empty at first and then, after two real
//! scheduled runs by the app's own scheduler, listing the older run's backups; all of it read
//! back in the notification center with its level and account filters; the last steps in the
//! dark theme. Screenshots `policies-*.png`.
//!
//! Why two scheduled runs: the retention preview counts scheduled (and post-session) backups
//! only, each kind apart, and never deletes a volume's newest one, so a non-empty preview needs
//! two scheduled backups of a volume. The window has no way to start a scheduled backup by hand
//! and the app's scheduler runs on the real clock (30 s ticks; the lab's clock plays no part), so
//! the test sets the schedule to the next minute and, as soon as the scheduler has claimed that
//! run (the dialog's *Latest runs* says *Running*), switches the schedule off and on again at the
//! following minute (switching takes effect at once, a changed time only the next day). The
//! second run is then due while the first is still backing up, and the scheduler starts it at
//! its first tick after the first ends: the two backups' time is most of the test's.
//!
//! Why autogrow comes first: the scheduler also checks autogrow (every 15 min per account) for
//! the Frame account of the account's schedule. Before any schedule exists it has nothing to
//! check on `lab-azure`, so it cannot grow the filled disk between the fill and *Check now*.

use std::time::{Duration, Instant};

use fantoccini::Client;
use standby_tests::lab_control::LabControl;
use standby_tests::screens::{
    choose, click, click_button, click_label, fill, paste, save_screenshot, scroll_to,
    scroll_to_text, select_option, text_of, texts_of, wait_for_heading, wait_for_text,
    wait_for_text_within, wait_until_gone,
};

const MODAL: &str = ".mantine-Modal-content";
const DISK: &str = "acme-pd-profile-0001";
const SCHEDULED: &str = "Scheduled backup due";

async fn shot(client: &Client, name: &str) {
    save_screenshot(client, name).await.unwrap();
}

/// The first whole minute at least `lead_secs` from now, in the window's (the machine's) time
/// zone: `(YYYY-MM-DD, HH:MM)`, as the schedule form takes them.
async fn next_minute(client: &Client, lead_secs: u32) -> (String, String) {
    let v = client
        .execute(
            "const t = new Date(Math.ceil((Date.now() + arguments[0] * 1000) / 60000) * 60000);
             const f = new Intl.DateTimeFormat('en-US', {year: 'numeric', month: '2-digit', day: '2-digit',
               hour: '2-digit', minute: '2-digit', hourCycle: 'h23'});
             const p = Object.fromEntries(f.formatToParts(t).map(x => [x.type, x.value]));
             return [`${p.year}-${p.month}-${p.day}`, `${p.hour}:${p.minute}`];",
            vec![serde_json::json!(lead_secs)],
        )
        .await
        .unwrap();
    (
        v[0].as_str().unwrap().to_string(),
        v[1].as_str().unwrap().to_string(),
    )
}

async fn open_backup_settings(client: &Client) {
    click(client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(client, "Volumes").await.unwrap();
    click(client, "[data-tab='backups']").await.unwrap();
    click_button(client, "Settings").await.unwrap();
    wait_for_text(client, MODAL, "Backup settings")
        .await
        .unwrap();
    choose(client, "Cloud account", "lab-azure").await.unwrap();
    wait_for_text(client, "[data-testid='schedule-in-force']", "")
        .await
        .unwrap();
}

async fn close_dialog(client: &Client) {
    click(client, ".mantine-Modal-close").await.unwrap();
    wait_until_gone(client, MODAL).await.unwrap();
}

/// Opens *Backup settings* until its *Latest runs* has a row for the run due `date` `time`
/// (the window's zone) that says `state`; answers the rows, with the dialog left open. The
/// dialog reads the runs when it opens, so it is opened again every few seconds.
async fn wait_for_run(
    client: &Client,
    date: &str,
    time: &str,
    state: &str,
    secs: u64,
) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let due = format!("{date} {time}");
    loop {
        open_backup_settings(client).await;
        let rows = texts_of(client, "[data-testid='latest-runs'] tr")
            .await
            .unwrap_or_default();
        if rows.iter().any(|r| r.contains(&due) && r.contains(state)) {
            return rows;
        }
        if Instant::now() > deadline {
            shot(client, "failed-wait").await;
            panic!("no run due {due} said {state:?} within {secs} s: {rows:?}");
        }
        close_dialog(client).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Waits, on the notification center as filtered, for `n` notifications whose text contains
/// `needle`; answers their texts, newest first.
async fn wait_for_notifications(client: &Client, needle: &str, n: usize, secs: u64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let rows: Vec<String> = texts_of(client, "li[data-notification-id]")
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.contains(needle))
            .collect();
        if rows.len() >= n {
            return rows;
        }
        if Instant::now() > deadline {
            shot(client, "failed-wait").await;
            panic!("{n} notifications with {needle:?} did not come within {secs} s: {rows:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// "... acme-pd of lab-azure: 113 volumes backed up, ..." → 113.
fn volumes_backed_up(note: &str) -> usize {
    note.split(" volumes backed up")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of volumes in {note:?}"))
}

/// The backup's name a scheduled run's notification quotes: «Scheduled backup due ...Z».
fn run_name(note: &str) -> String {
    note.split('«')
        .nth(1)
        .and_then(|rest| rest.split('»').next())
        .unwrap_or_else(|| panic!("no backup name in {note:?}"))
        .to_string()
}

/// Clicks *Save schedule* and waits for the dialog to say it saved, with `needle` in what it
/// says; the engine's refusal (the dialog's error) fails the test with its message.
async fn save_schedule(client: &Client, needle: &str) -> String {
    click_button(client, "Save schedule").await.unwrap();
    let clicked = Instant::now();
    let deadline = clicked + Duration::from_secs(30);
    loop {
        if let Ok(t) = text_of(client, "[data-testid='schedule-saved']").await {
            assert!(t.to_lowercase().contains(&needle.to_lowercase()), "{t}");
            eprintln!("saved in {:?}: {t}", clicked.elapsed());
            scroll_to_text(client, "[data-testid='schedule-saved']", "Saved")
                .await
                .unwrap();
            return t;
        }
        if let Ok(e) = text_of(client, "[data-testid='schedule-error']").await {
            shot(client, "failed-wait").await;
            panic!("the schedule was not saved: {e}");
        }
        if Instant::now() > deadline {
            scroll_to(
                client,
                "form[aria-label='Scheduled backups'] button[type='submit']",
            )
            .await
            .ok();
            shot(client, "failed-wait").await;
            panic!("the dialog never said the schedule was saved ({needle:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sets the level filter (a segmented control; its radio inputs sit hidden under their labels)
/// and checks that it took.
async fn level_filter(client: &Client, level: &str) {
    let input = format!(
        "[aria-label='Level'] input[value='{}']",
        level.to_lowercase()
    );
    click(client, &format!("{input} + label")).await.unwrap();
    let checked = client
        .execute(
            "return !!document.querySelector(arguments[0]);",
            vec![serde_json::json!(format!("{input}:checked"))],
        )
        .await
        .unwrap();
    assert_eq!(checked, true, "the level filter {level} is not chosen");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn schedule_retention_autogrow_and_notifications_flows() {
    let started = Instant::now();
    // Kept when the test fails (the app's log is in its logs/), removed at the end otherwise.
    let data = tempfile::tempdir().unwrap().keep();
    eprintln!("the app's data folder: {}", data.display());
    let (driver, client) = standby_tests::driver::on_lab(&data).await.unwrap();
    let lab = LabControl::of_app(&client).await.unwrap();

    // ---- Autogrow: on, a disk filled by the lab, Check now -------------------------------------
    click(&client, "nav [data-nav='volumes']").await.unwrap();
    wait_for_heading(&client, "Volumes").await.unwrap();
    click(&client, "[data-tab='volumes']").await.unwrap();
    click_button(&client, "Volume actions").await.unwrap();
    click_button(&client, "Autogrow settings").await.unwrap();
    wait_for_text(&client, MODAL, "Autogrow settings")
        .await
        .unwrap();
    choose(&client, "Cloud account", "lab-azure").await.unwrap();
    click_label(&client, "Enable autogrow").await.unwrap();
    click_button(&client, "Save autogrow settings")
        .await
        .unwrap();
    wait_for_text(&client, "[data-testid='autogrow-saved']", "Autogrow is on")
        .await
        .unwrap();
    fill(&client, "Frame account", "acme-pd").await.unwrap();
    // Before the fill: the disk has room, so it is not grown.
    click_button(&client, "Check now").await.unwrap();
    let before = wait_for_text_within(
        &client,
        "[data-testid='autogrow-outcome']",
        "Check of acme-pd on lab-azure",
        60,
    )
    .await
    .unwrap();
    assert!(
        before.contains("Free space from: standby-lab simulated guest agent"),
        "{before}"
    );
    let row_before: Vec<String> = texts_of(&client, "[data-testid='autogrow-outcome'] tbody tr")
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.starts_with(DISK))
        .collect();
    assert!(
        row_before.len() == 1
            && row_before[0].starts_with(&format!("{DISK}30 GB"))
            && !row_before[0].contains("Grown"),
        "{DISK} is 30 GB with room before the fill: {row_before:?}"
    );
    scroll_to_text(&client, "[data-testid='autogrow-outcome'] tbody tr", DISK)
        .await
        .unwrap();
    shot(&client, "policies-01-autogrow-on-checked").await;
    // The lab's guest agent now says the profile disk has 1 GB free (threshold: 5 GB).
    let filled = lab.fill_azure_disk(DISK, 1.0).await.unwrap();
    assert_eq!(filled["free_gb"], 1.0, "{filled}");
    click_button(&client, "Check now").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let grown = loop {
        let rows: Vec<String> = texts_of(&client, "[data-testid='autogrow-outcome'] tbody tr")
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.starts_with(DISK))
            .collect();
        if let Some(r) = rows.into_iter().next() {
            break r;
        }
        assert!(Instant::now() < deadline, "no outcome for {DISK}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        grown,
        format!("{DISK}30 GB1 GBGrown to 40 GB"),
        "30 GB with 1 GB free grows by the 10 GB increment"
    );
    let summary = text_of(&client, "[data-testid='autogrow-outcome']")
        .await
        .unwrap();
    assert!(!summary.contains(" 0 grown"), "{summary}");
    scroll_to_text(&client, "[data-testid='autogrow-outcome'] tbody tr", DISK)
        .await
        .unwrap();
    shot(&client, "policies-02-autogrow-grown").await;
    // The lab's disk is 40 GB now: the growth happened at the provider, not only on screen.
    let disks = lab.get("/azure/guest/disks").await.unwrap();
    let disk = disks["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == DISK)
        .unwrap();
    assert_eq!(disk["size_gb"], 40, "{disk}");
    close_dialog(&client).await;

    // ---- A schedule and its next five runs -----------------------------------------------------
    open_backup_settings(&client).await;
    let in_force = text_of(&client, "[data-testid='schedule-in-force']")
        .await
        .unwrap();
    assert!(in_force.contains("no schedule yet"), "{in_force}");
    fill(&client, "Frame account", "acme-pd").await.unwrap();
    // Enough lead to fill the form and save before the minute (a run due before the schedule
    // was saved is not run: a schedule never catches up on its past).
    let (date1, time1) = next_minute(&client, 15).await;
    fill(&client, "First backup time", &time1).await.unwrap();
    fill(&client, "First backup date", &date1).await.unwrap();
    let runs = wait_for_text(&client, "[data-testid='next-runs']", "Next five runs")
        .await
        .unwrap();
    let items = texts_of(&client, "[data-testid='next-runs'] li")
        .await
        .unwrap();
    assert_eq!(items.len(), 5, "{runs}");
    assert!(
        items[0].contains(&date1) && items[0].contains(&time1),
        "the first run is the one typed in: {items:?}"
    );
    assert!(
        items.iter().all(|i| i.contains(&time1)),
        "daily at {time1}: {items:?}"
    );
    // A first schedule: the preview of its number retained has nothing to delete yet.
    let preview = wait_for_text(
        &client,
        "[data-testid='retention-preview']",
        "Retention preview with 7 kept",
    )
    .await
    .unwrap();
    assert!(preview.contains("no backup would be deleted"), "{preview}");
    scroll_to(&client, "[data-testid='next-runs']")
        .await
        .unwrap();
    shot(&client, "policies-03-schedule-next-runs").await;
    let saved = save_schedule(&client, "Saved").await;
    assert!(
        saved.contains(&format!("{date1} {time1}")),
        "the next run is today's at {time1}: {saved}"
    );
    shot(&client, "policies-04-schedule-saved").await;
    close_dialog(&client).await;

    // ---- The first run claimed; a changed schedule waits for the next day ----------------------
    // Due within 75 s, claimed at the scheduler's next 30 s tick.
    let runs = wait_for_run(&client, &date1, &time1, "Running", 150).await;
    let in_force = text_of(&client, "[data-testid='schedule-in-force']")
        .await
        .unwrap();
    assert!(
        in_force.contains(&format!("Every day at {time1}")),
        "{in_force}"
    );
    scroll_to(&client, "[data-testid='latest-runs']")
        .await
        .unwrap();
    shot(&client, "policies-05-first-run-running").await;
    let (date_changed, time_changed) = next_minute(&client, 120).await;
    fill(&client, "First backup time", &time_changed)
        .await
        .unwrap();
    let next_day = wait_for_text(&client, "[data-testid='next-day']", "takes effect on")
        .await
        .unwrap();
    assert!(
        !next_day.contains(&date_changed),
        "a change waits for tomorrow: {next_day}"
    );
    shot(&client, "policies-06-changed-schedule-next-day").await;
    // Off, then on: each takes effect at once, so today's run at the new time is next.
    click_label(&client, "Scheduled backups").await.unwrap();
    save_schedule(&client, "No scheduled backup will run").await;
    click_label(&client, "Scheduled backups").await.unwrap();
    let (date2, time2) = next_minute(&client, 10).await;
    fill(&client, "First backup time", &time2).await.unwrap();
    fill(&client, "First backup date", &date2).await.unwrap();
    let saved = save_schedule(&client, "next scheduled backup").await;
    assert!(saved.contains(&format!("{date2} {time2}")), "{saved}");
    shot(&client, "policies-07-schedule-off-and-on").await;
    close_dialog(&client).await;
    assert!(
        runs.iter().any(|r| r.contains("Running")),
        "the first run was running when the schedule was switched: {runs:?}"
    );

    // ---- The first run's outcome and the filters of the notification center ---------------------
    click(&client, "nav [data-nav='notifications']")
        .await
        .unwrap();
    wait_for_heading(&client, "Notifications").await.unwrap();
    fill(&client, "Search", SCHEDULED).await.unwrap();
    // A backup of 113 volumes takes about a minute in the lab.
    let first = wait_for_notifications(&client, SCHEDULED, 1, 180).await;
    assert!(
        first
            .iter()
            .all(|n| n.contains("acme-pd of lab-azure") && n.contains("volumes backed up")),
        "{first:?}"
    );
    // The oldest: should the second run have ended already, it is listed first.
    let first_note = first.last().unwrap();
    let first_name = run_name(first_note);
    let first_count = volumes_backed_up(first_note);
    assert!(
        first_count > 100,
        "acme-pd has 113 persistent volumes: {first:?}"
    );
    shot(&client, "policies-08-first-scheduled-run").await;
    paste(&client, "Search", "").await.unwrap();
    level_filter(&client, "Success").await;
    select_option(&client, "Account", "lab-azure")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let filtered = loop {
        let rows = texts_of(&client, "li[data-notification-id]").await.unwrap();
        let settled = rows.iter().all(|r| r.contains("lab-azure"))
            && rows
                .iter()
                .any(|r| r.contains(&format!("Autogrow of {DISK}")));
        if settled || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        filtered
            .iter()
            .any(|r| r.contains(&format!("Autogrow of {DISK}"))
                && r.contains(&format!("Grew {DISK} from 30 GB to 40 GB"))),
        "{filtered:?}"
    );
    assert!(
        filtered.iter().any(|r| r.contains(&first_name)),
        "the first run's success: {filtered:?}"
    );
    assert!(
        filtered.iter().all(|r| r.contains("lab-azure")),
        "only lab-azure's: {filtered:?}"
    );
    assert!(
        !filtered.iter().any(|r| r.contains("The lab is running")),
        "the lab's start is an info, not a success: {filtered:?}"
    );
    shot(&client, "policies-09-notifications-success-lab-azure").await;
    level_filter(&client, "Warning").await;
    // The list for the new filter replaces the old one once read: wait for rows or the empty
    // state, with no success left among them.
    let deadline = Instant::now() + Duration::from_secs(15);
    let warnings = loop {
        let rows = texts_of(&client, "li[data-notification-id]").await.unwrap();
        let empty = texts_of(&client, "main")
            .await
            .unwrap()
            .concat()
            .contains("No notification matches these filters");
        let settled = (empty || !rows.is_empty())
            && !rows
                .iter()
                .any(|r| r.contains("Grew ") || r.contains(&first_name));
        if settled || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        warnings
            .iter()
            .all(|r| !r.contains("Grew ") && !r.contains(&first_name)),
        "a success is not a warning: {warnings:?}"
    );
    shot(&client, "policies-10-notifications-warnings").await;

    // ---- The second run, in the dark theme --------------------------------------------------------
    click(&client, "button[aria-label='Switch to the dark theme']")
        .await
        .unwrap();
    let scheme = client
        .execute(
            "return document.documentElement.getAttribute('data-mantine-color-scheme');",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scheme, "dark");
    level_filter(&client, "All").await;
    fill(&client, "Search", SCHEDULED).await.unwrap();
    // Due at time2 while the first was still running: started at the scheduler's first tick
    // after the first ended, then about a minute.
    let both = wait_for_notifications(&client, SCHEDULED, 2, 180).await;
    assert!(
        both.iter().all(|n| n.contains("job ")),
        "each names its job: {both:?}"
    );
    let second = both
        .iter()
        .find(|n| !n.contains(&first_name))
        .unwrap_or_else(|| panic!("no second run: {both:?}"));
    // The second run skips what did not change since the first (the desktops' OS disks, unused
    // in the lab): those keep their one scheduled backup. Every volume it backed up now has two.
    let second_count = volumes_backed_up(second);
    assert!(second_count > 0 && second_count <= first_count, "{both:?}");
    shot(&client, "policies-11-dark-notifications-both-runs").await;

    // ---- The retention preview with something to delete ---------------------------------------
    open_backup_settings(&client).await;
    let runs = texts_of(&client, "[data-testid='latest-runs'] tr")
        .await
        .unwrap();
    assert!(
        runs.len() >= 2
            && runs
                .iter()
                .take(2)
                .all(|r| r.contains("backed up") && !r.contains("Failed")),
        "{runs:?}"
    );
    fill(&client, "Number retained", "1").await.unwrap();
    let preview = wait_for_text_within(
        &client,
        "[data-testid='retention-preview']",
        "would be deleted",
        30,
    )
    .await
    .unwrap();
    assert!(
        preview.contains(&format!(
            "Retention preview with 1 kept: {second_count} backups would be deleted"
        )),
        "one per volume the second run backed up: {preview}"
    );
    let deleted = texts_of(&client, "[data-testid='retention-deleted'] tbody tr")
        .await
        .unwrap();
    assert_eq!(deleted.len(), second_count, "{preview}");
    assert!(
        deleted
            .iter()
            .all(|r| r.contains(&format!("{first_name}Primary"))
                && r.contains("older than the 1 newest scheduled backups kept")),
        "the first run's backups go, primary site only (no DR on lab-azure): {deleted:?}"
    );
    let mut volumes: Vec<&str> = deleted
        .iter()
        .map(|r| r.split(SCHEDULED).next().unwrap())
        .collect();
    volumes.sort();
    volumes.dedup();
    assert_eq!(volumes.len(), deleted.len(), "one per volume: {deleted:?}");
    scroll_to(&client, "[data-testid='retention-preview']")
        .await
        .unwrap();
    shot(&client, "policies-12-dark-retention-preview").await;
    // Nothing was deleted by previewing: back to 7, nothing to delete.
    fill(&client, "Number retained", "7").await.unwrap();
    let unchanged = wait_for_text(
        &client,
        "[data-testid='retention-preview']",
        "the number retained is unchanged",
    )
    .await
    .unwrap();
    assert!(unchanged.contains("deletes no backup"), "{unchanged}");
    scroll_to(&client, "[data-testid='retention-preview']")
        .await
        .unwrap();
    shot(&client, "policies-13-dark-retention-back-to-7").await;
    close_dialog(&client).await;

    eprintln!("policy flows took {:?}", started.elapsed());
    client.close().await.unwrap();
    drop(driver);
    std::fs::remove_dir_all(&data).ok();
}
