//! Post-session backups against the in-process lab: a user opens and closes a session (through
//! the lab's control API), the watcher sees the close through the account's guest agent and
//! backs up that user's desktop and profile (the kinds switched on), not their personal drive
//! (off), with kind `post_session`.

mod world;

use standby_core::backup::{BackupKind, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::inventory::{DesktopState, ResourceKind};
use standby_core::jobs::NoProgress;
use standby_core::post_session::{self, SessionWatch};
use standby_core::scheduler::{CoreBackups, Event};
use world::{World, FRAME};

#[tokio::test(flavor = "multi_thread")]
async fn closing_a_session_backs_up_that_users_enabled_volumes() {
    let w = World::small(3).await;
    let azure = w.account_id("azure");
    let report = w.report();
    let backups = CoreBackups::default();
    {
        let c = w.catalog.lock();
        post_session::set(
            &c,
            &azure,
            Some(FRAME),
            &[
                (ResourceKind::PersistentDesktop, true),
                (ResourceKind::EnterpriseProfile, true),
                (ResourceKind::PersonalDrive, false),
            ],
            &w.clock.now().to_rfc3339(),
        )
        .unwrap();
    }
    let resources = w.resources("azure").await;
    let desk = resources
        .iter()
        .find(|r| {
            r.kind == ResourceKind::PersistentDesktop
                && r.desktop_state == Some(DesktopState::Assigned)
        })
        .expect("an assigned desktop");
    let user = desk.owner.clone().unwrap();
    let profile = resources
        .iter()
        .find(|r| {
            r.kind == ResourceKind::EnterpriseProfile && r.owner.as_deref() == Some(user.as_str())
        })
        .expect("the user's profile");
    let drive = resources
        .iter()
        .find(|r| {
            r.kind == ResourceKind::PersonalDrive && r.owner.as_deref() == Some(user.as_str())
        })
        .expect("the user's drive");
    let mut watch = SessionWatch::default();
    let poll = |watch: &mut SessionWatch| {
        let report = &report;
        let backups = &backups;
        let store = w.store.as_ref();
        let mut watch = std::mem::take(watch);
        async move {
            let ev = watch
                .poll(report, store, &NoProgress, backups, CancelFlag::new())
                .await;
            (watch, ev)
        }
    };
    // Make sure the user is not in session at the start, then watch.
    w.azure_session(&user, false).await;
    let (w1, ev) = poll(&mut watch).await;
    watch = w1;
    assert!(ev.is_empty(), "{ev:?}");
    w.azure_session(&user, true).await;
    w.lab.clock.advance(std::time::Duration::from_secs(120));
    let (w2, ev) = poll(&mut watch).await;
    watch = w2;
    assert!(ev.is_empty(), "an open session backs up nothing: {ev:?}");
    assert!(w
        .catalog
        .lock()
        .list_backups(Some(&azure), None)
        .unwrap()
        .is_empty());

    w.azure_session(&user, false).await;
    w.lab.clock.set_scale(500.0); // the desktop is powered off for its backup and on again
    let (_, ev) = poll(&mut watch).await;
    w.lab.clock.set_scale(0.0);
    let job = ev
        .iter()
        .find_map(|e| match e {
            Event::PostSession {
                user: u, job_id, ..
            } if *u == user => job_id.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a post-session backup after {user}'s session: {ev:?}"));
    let rows: Vec<_> = w
        .catalog
        .lock()
        .list_backups(Some(&azure), None)
        .unwrap()
        .into_iter()
        .filter(|b| b.site == BackupSite::Primary)
        .collect();
    let ids = |r: &standby_core::inventory::DiscoveredResource| {
        r.provider_id.trim_start_matches('/').to_ascii_lowercase()
    };
    let backed: Vec<String> = rows
        .iter()
        .map(|b| b.volume_id.trim_start_matches('/').to_ascii_lowercase())
        .collect();
    assert!(backed.contains(&ids(desk)), "the desktop: {rows:?}");
    assert!(backed.contains(&ids(profile)), "the profile: {rows:?}");
    assert!(
        !backed.contains(&ids(drive)),
        "personal drives are off: {rows:?}"
    );
    assert_eq!(rows.len(), 2, "nothing else: {rows:?}");
    assert!(rows
        .iter()
        .all(|b| b.kind == BackupKind::PostSession && b.state == BackupState::Available));
    let parent = w.catalog.lock().job(&job).unwrap().unwrap();
    assert_eq!(parent.kind, "backup_all");
    let audit = w.catalog.lock().audit_entries(20).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "backup_all" && a.actor == "post-session"));
    // What the watcher saw of power is recorded for the scheduled runs' "unchanged" rule.
    let activity = w.catalog.lock().volume_activity(&azure).unwrap();
    assert!(!activity.is_empty());
}
