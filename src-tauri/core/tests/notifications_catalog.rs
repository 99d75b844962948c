//! The notification center through the public core API, on a catalog file as the app opens it:
//! what a job posts survives a restart with its order, read state and account.
//!
//! `STANDBY_NOTIFICATIONS_DATA_DIR=DIR` makes the first test write into `DIR` (a throwaway data
//! folder) instead of a temporary one, so that the window can be looked at with real rows:
//! `./target/debug/standby --data-dir DIR`. The assertions are the same either way.

use chrono::{DateTime, Duration, TimeZone, Utc};
use standby_core::catalog::{Catalog, NewAccount};
use standby_core::clock::ManualClock;
use standby_core::model::ProviderKind;
use standby_core::notifications::{
    NewNotification, NoSink, NotificationFilter, NotificationLevel, Notifier,
};
use standby_core::paths::DataPaths;

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 8, 0, 0).unwrap()
}

fn account(c: &Catalog, name: &str, kind: ProviderKind, endpoint: &str) -> String {
    c.insert_account(&NewAccount {
        name,
        kind,
        endpoint,
        settings: serde_json::json!({}),
        created_at: base(),
    })
    .unwrap()
    .id
}

/// A morning of jobs on two accounts, as the engine would report them.
fn post_a_morning(c: &Catalog, ahv: &str, azure: &str) {
    use NotificationLevel::*;
    let clock = ManualClock::new(base());
    let n = Notifier {
        catalog: c,
        clock: &clock,
        sink: &NoSink,
    };
    let post = |minutes: i64, new: NewNotification| {
        clock.set(base() + Duration::minutes(minutes));
        n.post(&new).unwrap()
    };
    post(
        0,
        NewNotification::new(
            Info,
            "Scheduled backup started",
            "42 persistent desktop volumes on ahv-primary.",
        )
        .account(ahv)
        .job("7c1e0a52-backup-all"),
    );
    post(
        3,
        NewNotification::new(
            Warning,
            "Skipped desktop of j.doe",
            "The user is in session; it will be backed up on the next run.",
        )
        .account(ahv)
        .job("7c1e0a52-backup-all"),
    );
    post(
        21,
        NewNotification::new(
            Success,
            "Scheduled backup finished",
            "41 volumes backed up, 1 skipped. Replicas are being copied to ahv-secondary.",
        )
        .account(ahv)
        .job("7c1e0a52-backup-all"),
    );
    post(
        95,
        NewNotification::new(
            Error,
            "Replication to West US failed",
            "Azure refused the copy: OperationNotAllowed: the subscription's quota of 100 snapshots per region is used. Raise the quota or lower retention.",
        )
        .account(azure)
        .job("e93b4410-replicate"),
    );
    post(
        190,
        NewNotification::new(
            Success,
            "Restore of vol-alice completed",
            "A safety snapshot of the replaced disk was kept: standby-safety-5d2a.",
        )
        .account(azure)
        .job("5d2a11f0-restore"),
    );
    post(
        240,
        NewNotification::new(
            Info,
            "Disaster recovery enabled",
            "Secondary region: West US. Scheduled backups every day at 01:00 (Europe/Paris).",
        )
        .account(azure),
    );
}

#[test]
fn a_morning_of_jobs_survives_a_restart_in_order_with_its_read_state() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("STANDBY_NOTIFICATIONS_DATA_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let paths = DataPaths::resolve(Some(&dir)).unwrap();
    std::fs::create_dir_all(&paths.data_dir).unwrap();

    let (ahv, azure) = {
        let c = Catalog::open(&paths.catalog).unwrap();
        assert!(
            c.list_notifications(&NotificationFilter::default())
                .unwrap()
                .is_empty(),
            "fill an empty data folder: {}",
            paths.data_dir.display()
        );
        let ahv = account(
            &c,
            "ahv-primary",
            ProviderKind::Ahv,
            "https://10.20.0.10:9440",
        );
        let azure = account(
            &c,
            "azure-prod",
            ProviderKind::Azure,
            "https://management.azure.com",
        );
        post_a_morning(&c, &ahv, &azure);
        // The administrator has read the first two.
        let oldest: Vec<_> = c
            .list_notifications(&NotificationFilter::default())
            .unwrap()
            .iter()
            .rev()
            .take(2)
            .map(|n| n.id)
            .collect();
        assert_eq!(c.mark_read(&oldest).unwrap(), 2);
        (ahv, azure)
    };

    let c = Catalog::open(&paths.catalog).unwrap();
    let all = c
        .list_notifications(&NotificationFilter::default())
        .unwrap();
    let titles: Vec<_> = all.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Disaster recovery enabled",
            "Restore of vol-alice completed",
            "Replication to West US failed",
            "Scheduled backup finished",
            "Skipped desktop of j.doe",
            "Scheduled backup started",
        ]
    );
    assert_eq!(c.unread_count().unwrap(), 4);
    assert!(all[4].read && all[5].read && !all[3].read);
    assert_eq!(all[0].account_name.as_deref(), Some("azure-prod"));
    assert_eq!(all[0].at, "2026-11-22T12:00:00.000Z");

    let errors_on_azure = c
        .list_notifications(&NotificationFilter {
            level: Some(NotificationLevel::Error),
            account_id: Some(azure),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(errors_on_azure.len(), 1);
    assert!(errors_on_azure[0].body.contains("quota"));

    let job: Vec<_> = c
        .list_notifications(&NotificationFilter {
            account_id: Some(ahv),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|n| n.job_id.unwrap())
        .collect();
    assert_eq!(job, ["7c1e0a52-backup-all"; 3]);
}

#[test]
fn removing_an_account_keeps_its_history_without_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("standby.sqlite3");
    let c = Catalog::open(&path).unwrap();
    let ahv = account(
        &c,
        "ahv-primary",
        ProviderKind::Ahv,
        "https://10.0.0.1:9440",
    );
    let azure = account(
        &c,
        "azure-prod",
        ProviderKind::Azure,
        "https://management.azure.com",
    );
    post_a_morning(&c, &ahv, &azure);
    assert!(c.delete_account(&ahv).unwrap());
    drop(c);

    let c = Catalog::open(&path).unwrap();
    let all = c
        .list_notifications(&NotificationFilter::default())
        .unwrap();
    assert_eq!(all.len(), 6);
    let orphans: Vec<_> = all.iter().filter(|n| n.account_id.is_none()).collect();
    assert_eq!(orphans.len(), 3);
    assert!(orphans.iter().all(|n| n.account_name.is_none()));
    let by_removed = c
        .list_notifications(&NotificationFilter {
            account_id: Some(ahv),
            ..Default::default()
        })
        .unwrap();
    assert!(by_removed.is_empty());
}
