//! Export and import of an account's DR configuration, and the backup report, against the
//! in-process lab: the export carries no secret of the lab's accounts, it round-trips through
//! import (policies restored, audited, DR compared but never enabled), a bad file is refused
//! with a message that says what is wrong, and the CSV report lists real backups.

mod world;

use standby_core::autogrow::{self, AutogrowSettings};
use standby_core::backup::{BackupKind, BackupRequest};
use standby_core::dr_export::{self, DrComparison, ExportError, REPORT_COLUMNS};
use standby_core::inventory::ResourceKind;
use standby_core::jobs::NoProgress;
use standby_core::post_session;
use standby_core::retention::{self, RetentionPolicy};
use standby_core::schedule::{parse_date, parse_time, Schedule, SchedulePolicy};
use standby_core::timeline;
use world::{World, FRAME};

fn policy(every_days: u32) -> SchedulePolicy {
    SchedulePolicy {
        frame_account: FRAME.into(),
        enabled: true,
        first_date: parse_date("2026-03-03").unwrap(),
        first_time: parse_time("02:00").unwrap(),
        time_zone: "Europe/Paris".into(),
        every_days,
        keep: 5,
    }
}

/// Gives `account` (by name) a schedule, a retention count, post-session backups of desktops,
/// autogrow settings and a target RPO.
fn configure(w: &World, account: &str) {
    let id = w.account_id(account);
    let c = w.catalog.lock();
    let now = w.clock.now();
    let at = now.to_rfc3339();
    c.set_schedule(&id, &Schedule::new(policy(2), now).unwrap(), &at)
        .unwrap();
    c.set_policy(
        &id,
        retention::POLICY_KIND,
        "",
        &RetentionPolicy { keep: 9 },
        &at,
    )
    .unwrap();
    post_session::set(
        &c,
        &id,
        Some(FRAME),
        &[(ResourceKind::PersistentDesktop, true)],
        &at,
    )
    .unwrap();
    let grow = AutogrowSettings {
        enabled: true,
        threshold_gb: 3.5,
        increment_gb: 20,
        max_gb: Some(500),
    };
    c.set_policy(&id, autogrow::POLICY_KIND, "", &grow, &at)
        .unwrap();
    timeline::set_target_rpo(&c, w.clock.as_ref(), &id, 36, "test").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_has_no_secret_and_round_trips_through_import() {
    let w = World::new().await;
    w.enable_ahv_dr().await;
    configure(&w, "primary");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("primary-dr-config.json");
    let exported =
        dr_export::export_to(&w.catalog.lock(), "primary", w.clock.now(), &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();

    // No secret of any lab account, under any name.
    let secrets = [
        w.lab.prism[0].password.as_str(),
        w.lab.prism[1].password.as_str(),
        w.lab.azure.client_secret.as_str(),
    ];
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "a keyring secret is in the export");
    }
    let lower = text.to_ascii_lowercase();
    assert!(
        !lower.contains("password") && !lower.contains("secret"),
        "{text}"
    );
    // What an administrator needs is there.
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["format"], dr_export::FORMAT);
    assert_eq!(v["version"], dr_export::VERSION);
    assert_eq!(v["account"]["name"], "primary");
    assert_eq!(v["account"]["kind"], "ahv");
    assert_eq!(
        v["account"]["settings"]["address"],
        w.lab.prism[0].ip.to_string()
    );
    assert_eq!(v["disaster_recovery"]["frame_account"], FRAME);
    assert_eq!(v["disaster_recovery"]["target"]["kind"], "ahv");
    assert_eq!(v["schedule"]["every_days"], 2);
    assert_eq!(v["retention"][0]["keep"], 9);
    assert_eq!(v["post_session"]["enabled"][0], "persistent_desktop");
    assert_eq!(v["autogrow"]["increment_gb"], 20);
    assert_eq!(v["target_rpo_hours"], 36);

    // Round trip onto the same account after its policies changed: they come back; DR is the
    // same, so there is nothing for the wizard to do.
    let primary = w.account_id("primary");
    {
        let c = w.catalog.lock();
        let at = w.clock.now().to_rfc3339();
        c.set_policy(
            &primary,
            retention::POLICY_KIND,
            "",
            &RetentionPolicy { keep: 2 },
            &at,
        )
        .unwrap();
        c.set_policy(
            &primary,
            autogrow::POLICY_KIND,
            "",
            &AutogrowSettings::default(),
            &at,
        )
        .unwrap();
        timeline::set_target_rpo(&c, w.clock.as_ref(), &primary, 5, "test").unwrap();
    }
    let out = dr_export::import_from(
        &w.catalog.lock(),
        w.clock.as_ref(),
        "primary",
        &path,
        "importer",
    )
    .unwrap();
    assert_eq!(out.disaster_recovery, DrComparison::Same);
    assert_eq!(
        dr_export::export(&w.catalog.lock(), "primary", w.clock.now())
            .unwrap()
            .retention,
        exported.retention
    );
    {
        let c = w.catalog.lock();
        assert_eq!(
            autogrow::settings(&c, &primary).unwrap(),
            exported.autogrow.clone().unwrap()
        );
        assert_eq!(
            timeline::target_rpo(&c, &primary, w.clock.now())
                .unwrap()
                .hours,
            36
        );
        let audit = c.audit_entries(20).unwrap();
        assert_eq!(audit[0].action, "dr_config.import");
        assert!(
            audit.iter().take(6).all(|a| a.actor == "importer"),
            "{audit:#?}"
        );
        for action in [
            "retention.set",
            "autogrow.set",
            "rpo.set",
            "post_session.set",
        ] {
            assert!(
                audit
                    .iter()
                    .any(|a| a.action == action && a.actor == "importer"),
                "{action}"
            );
        }
    }

    // Onto the secondary cluster, which has no DR: its policies are set, DR is not enabled, and
    // the outcome carries the file's configuration for the Enable DR wizard.
    let secondary = w.account_id("secondary");
    let out = dr_export::import(
        &w.catalog.lock(),
        w.clock.as_ref(),
        "secondary",
        &text,
        "importer",
    )
    .unwrap();
    match &out.disaster_recovery {
        DrComparison::Missing { wanted } => {
            assert_eq!(Some(wanted), exported.disaster_recovery.as_ref())
        }
        other => panic!("{other:?}"),
    }
    assert!(
        w.catalog.lock().dr_config(&secondary).unwrap().is_none(),
        "DR was not enabled"
    );
    let imported = dr_export::export(&w.catalog.lock(), "secondary", w.clock.now()).unwrap();
    assert_eq!(imported.schedule, exported.schedule);
    assert_eq!(imported.post_session, exported.post_session);
    assert_eq!(imported.autogrow, exported.autogrow);
    assert_eq!(imported.target_rpo_hours, Some(36));

    // A different DR configuration is reported field by field, and left as it is.
    let mut other = exported.clone();
    if let Some(standby_core::disaster_recovery::DrTarget::Ahv {
        protection_domain, ..
    }) = other.disaster_recovery.as_mut().map(|d| &mut d.target)
    {
        *protection_domain = "another-pd".into();
    }
    let out = dr_export::import(
        &w.catalog.lock(),
        w.clock.as_ref(),
        "primary",
        &serde_json::to_string(&other).unwrap(),
        "importer",
    )
    .unwrap();
    match &out.disaster_recovery {
        DrComparison::Different { differences, .. } => {
            assert_eq!(differences.len(), 1, "{differences:?}");
            assert!(
                differences[0].contains("protection domain")
                    && differences[0].contains("another-pd")
            );
        }
        other => panic!("{other:?}"),
    }
    let current = w.catalog.lock().dr_config(&primary).unwrap().unwrap();
    assert_eq!(
        Some(current.target),
        exported.disaster_recovery.map(|d| d.target)
    );

    // An AHV file cannot go onto an Azure account.
    let e = dr_export::import(
        &w.catalog.lock(),
        w.clock.as_ref(),
        "azure",
        &text,
        "importer",
    )
    .unwrap_err();
    assert!(matches!(e, ExportError::Kind { .. }), "{e:?}");
    assert!(
        e.to_string().contains("for AHV cloud accounts") && e.to_string().contains("on Azure"),
        "{e}"
    );
}

fn with(text: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(text).unwrap();
    edit(&mut v);
    v.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn import_refuses_a_bad_file_with_a_message_that_says_what_is_wrong_and_changes_nothing() {
    let w = World::new().await;
    configure(&w, "azure");
    let text = serde_json::to_string(
        &dr_export::export(&w.catalog.lock(), "azure", w.clock.now()).unwrap(),
    )
    .unwrap();
    let audit_before = w.catalog.lock().audit_entries(100).unwrap().len();
    let refuse = |t: String| {
        dr_export::import(&w.catalog.lock(), w.clock.as_ref(), "azure", &t, "importer")
            .unwrap_err()
            .to_string()
    };
    let e = refuse(with(&text, |v| v["version"] = 2.into()));
    assert!(
        e.contains("version 2") && e.contains("update Standby"),
        "{e}"
    );
    let e = refuse(with(&text, |v| v["version"] = "one".into()));
    assert!(e.contains("\"one\"") && e.contains("version 1"), "{e}");
    let e = refuse(with(&text, |v| {
        v.as_object_mut().unwrap().remove("version");
    }));
    assert!(e.contains("has no version"), "{e}");
    let e = refuse(with(&text, |v| v["format"] = "something-else".into()));
    assert!(
        e.contains("not a Standby DR configuration") && e.contains("something-else"),
        "{e}"
    );
    let e = refuse("{ not json".into());
    assert!(e.contains("not JSON"), "{e}");
    let e = refuse(with(&text, |v| {
        v["schedule"]["time_zone"] = "Mars/Olympus".into()
    }));
    assert!(
        e.contains("schedule") && e.contains("Mars/Olympus") && e.contains("IANA"),
        "{e}"
    );
    let e = refuse(with(&text, |v| v["retention"][0]["keep"] = 0.into()));
    assert!(
        e.contains("retention") && e.contains("between 1 and"),
        "{e}"
    );
    let e = refuse(with(&text, |v| v["autogrow"]["increment_gb"] = 0.into()));
    assert!(e.contains("autogrow") && e.contains("increment"), "{e}");
    let e = refuse(with(&text, |v| v["target_rpo_hours"] = 0.into()));
    assert!(
        e.contains("target_rpo_hours") && e.contains("between 1 and"),
        "{e}"
    );
    let e = refuse(with(&text, |v| {
        v["post_session"]["enabled"][0] = "teapot".into()
    }));
    assert!(e.contains("post_session") && e.contains("teapot"), "{e}");
    let e = refuse(with(&text, |v| v["surprise"] = true.into()));
    assert!(e.contains("surprise") && e.contains("no such field"), "{e}");
    let e = refuse(with(&text, |v| v["account"]["kind"] = "ahv".into()));
    assert!(e.contains("account.settings"), "{e}");
    // Nothing was applied by any of them.
    assert_eq!(
        w.catalog.lock().audit_entries(100).unwrap().len(),
        audit_before
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_backup_report_lists_real_backups_one_row_each() {
    let w = World::new().await;
    let desks: Vec<_> = w
        .resources("azure")
        .await
        .into_iter()
        .filter(|r| r.kind == ResourceKind::PersistentDesktop)
        .take(2)
        .collect();
    w.speed_up(500.0);
    for d in &desks {
        w.backup_now(
            BackupRequest {
                account: "azure".into(),
                frame_account: FRAME.into(),
                volume: d.name.clone(),
                name: format!("report of {}", d.name),
                kind: BackupKind::Manual,
            },
            &NoProgress,
        )
        .await
        .unwrap();
    }
    w.speed_up(0.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("azure-backups.csv");
    let n = dr_export::backup_report_to(&w.catalog.lock(), "azure", None, &path).unwrap();
    assert_eq!(n, 2);
    let mut r = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header, REPORT_COLUMNS);
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        assert_eq!(&row[0], "azure");
        assert_eq!(&row[1], FRAME);
        // The volume is the desktop's disk (`<desktop>-osdisk`).
        let desk = desks
            .iter()
            .find(|d| row[2].starts_with(d.name.as_str()))
            .unwrap_or_else(|| panic!("{row:?}"));
        assert_eq!(&row[3], format!("report of {}", desk.name));
        assert_eq!(
            (&row[4], &row[5], &row[6]),
            ("manual", "primary", "available")
        );
        assert!(chrono::DateTime::parse_from_rfc3339(&row[7]).is_ok());
    }
    // One volume only, by its disk's name.
    let volume = rows[0][2].to_string();
    let mut one = Vec::new();
    let n = dr_export::backup_report(&w.catalog.lock(), "azure", Some(&volume), &mut one).unwrap();
    assert_eq!(n, 1);
    let text = String::from_utf8(one).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().nth(1).unwrap().contains(&volume), "{text}");
    // An unknown account is named in the error.
    let e = dr_export::backup_report(&w.catalog.lock(), "nowhere", None, Vec::new()).unwrap_err();
    assert!(e.to_string().contains("\"nowhere\""), "{e}");
}
