//! The Volumes table, the dashboard and the secondary's headroom (`standby_core::overview`):
//! against the in-process lab (a real backup shows in its volume's row, a template image is shown
//! not protected, a failed job and a skipped volume are counted, headroom is read from Azure and
//! Prism), and on a catalog of 5,000 volumes and 100,000 backups where a few rows are checked
//! against what was written (correctness only: timings belong in the benchmarks).

mod world;

use chrono::{DateTime, Duration, TimeZone, Utc};
use standby_core::backup::all::{self, BackupAllRequest};
use standby_core::backup::{Backup, BackupKind, BackupRequest, BackupSite, BackupState};
use standby_core::cancel::CancelFlag;
use standby_core::catalog::{Catalog, NewAccount};
use standby_core::disaster_recovery::{DrConfig, DrTarget};
use standby_core::inventory::{DiscoveredResource, ResourceKind, TEMPLATE_NOT_PROTECTED};
use standby_core::jobs::NoProgress;
use standby_core::limits::Limits;
use standby_core::model::ProviderKind;
use standby_core::overview::{
    self, FreeSpace, GuestReading, ProtectionState, SecondaryHeadroom, VolumeRow,
};
use standby_core::schedule::{parse_time, Schedule, SchedulePolicy};
use world::{Options, Providers, Seen, World, FRAME};

fn row<'a>(rows: &'a [VolumeRow], volume_id: &str) -> &'a VolumeRow {
    rows.iter()
        .find(|r| {
            standby_core::catalog::provider_key(&r.volume_id)
                == standby_core::catalog::provider_key(volume_id)
        })
        .unwrap_or_else(|| panic!("a row for {volume_id}"))
}

// ---- against the lab ---------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn after_a_real_backup_its_row_shows_it_and_a_template_is_not_protected() {
    let w = World::with(Options {
        providers: Providers::Azure,
        ..Options::default()
    })
    .await;
    w.enable_azure_dr().await;
    let resources = w.resources("azure").await;
    let desk = resources
        .iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .expect("a persistent desktop")
        .clone();
    let template = resources
        .iter()
        .find(|r| r.kind == ResourceKind::TemplateImage)
        .expect("the lab seeds a template image")
        .clone();

    // Before any backup: DR covers it, but there is nothing to restore yet.
    let before = overview::volume_overview(&w.catalog, "azure", Some(FRAME), w.clock.now())
        .await
        .unwrap();
    assert_eq!(before.rows.len(), resources.len());
    let r = row(&before.rows, &desk.provider_id);
    assert_eq!(r.protection.state, ProtectionState::NoBackup);
    assert!(r.last_backup.is_none() && r.replica.is_none());

    w.speed_up(500.0);
    let made = w
        .backup_now(
            BackupRequest {
                account: "azure".into(),
                frame_account: FRAME.into(),
                volume: desk.provider_id.clone(),
                name: "for the table".into(),
                kind: BackupKind::Manual,
            },
            &Seen::new(),
        )
        .await
        .unwrap();
    let primary = made.iter().find(|b| b.site == BackupSite::Primary).unwrap();
    let replica = made.iter().find(|b| b.site == BackupSite::Replica).unwrap();

    let after = overview::volume_overview(&w.catalog, "azure", Some(FRAME), w.clock.now())
        .await
        .unwrap();
    assert_eq!(after.provider, ProviderKind::Azure);
    assert!(after.dr.is_some());
    assert!(
        matches!(after.guest, GuestReading::Read { .. }),
        "{:?}",
        after.guest
    );
    let r = row(&after.rows, &desk.provider_id);
    let last = r.last_backup.as_ref().expect("the backup is in its row");
    assert_eq!(last.id, primary.id);
    assert_eq!(last.name, "for the table");
    assert_eq!(last.kind, BackupKind::Manual);
    assert_eq!(last.created_at, primary.created_at);
    let rep = r.replica.as_ref().expect("its replica too");
    assert_eq!(rep.id, replica.id);
    assert_eq!(rep.state, BackupState::Available);
    assert_eq!(rep.percent, 100.0);
    assert_eq!(r.protection.state, ProtectionState::Protected);
    assert!(r.protection.reason.is_none());
    assert_eq!(r.name, desk.name);
    assert_eq!(r.size_bytes, desk.size_bytes);
    assert_eq!(r.owner, desk.owner);
    assert!(
        matches!(r.free_space, Some(FreeSpace::Known { free_bytes, .. }) if free_bytes >= 0.0 && free_bytes <= desk.size_bytes),
        "{:?}",
        r.free_space
    );
    // Autogrow is off by default (Frame's default), so no volume shows it on.
    assert!(!after.autogrow.enabled);
    assert!(after.rows.iter().all(|r| !r.autogrow.enabled));

    let t = row(&after.rows, &template.provider_id);
    assert_eq!(t.protection.state, ProtectionState::NotProtected);
    assert_eq!(t.protection.reason.as_deref(), Some(TEMPLATE_NOT_PROTECTED));
    assert!(!t.protection.covered_by_dr);

    // The dashboard agrees: one protected desktop, the template counted as not protected.
    let d = overview::dashboard(&w.catalog.lock(), w.clock.now()).unwrap();
    let acc = d
        .accounts
        .iter()
        .find(|a| a.account_name == "azure")
        .unwrap();
    let f = acc
        .frame_accounts
        .iter()
        .find(|f| f.frame_account == FRAME)
        .unwrap();
    assert_eq!(f.volumes as usize, resources.len());
    assert_eq!(f.protected, 1);
    assert_eq!(f.not_protected as usize, resources.len() - 1);
    let templates = f
        .by_kind
        .iter()
        .find(|k| k.kind == ResourceKind::TemplateImage)
        .unwrap();
    assert_eq!(templates.protected, 0);
    assert_eq!(templates.not_protected, templates.total);
    assert_eq!(
        f.newest_backup.as_ref().map(|a| a.at.as_str()),
        Some(primary.created_at.as_str())
    );
    assert!(f.newest_replica.is_some());
    assert_eq!(f.worst_volume.as_ref().unwrap().volume_id, desk.provider_id);
    assert_eq!(f.replication.in_progress, 0);
    assert_eq!(f.replication.lag_secs, None);
    assert!(acc.next_run.is_none());
    assert!(acc
        .no_next_run
        .as_deref()
        .unwrap()
        .contains("no backup schedule"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_guest_agent_free_space_is_unknown_with_the_reason() {
    let w = World::with(Options {
        providers: Providers::Azure,
        guest_agents: false,
        ..Options::default()
    })
    .await;
    w.resources("azure").await;
    let o = overview::volume_overview(&w.catalog, "azure", None, w.clock.now())
        .await
        .unwrap();
    assert!(!o.rows.is_empty());
    assert!(matches!(&o.guest, GuestReading::Unknown { why } if why.contains("no guest agent")));
    for r in &o.rows {
        assert!(
            matches!(&r.free_space, Some(FreeSpace::Unknown { why }) if why.contains("no guest agent")),
            "{:?}",
            r.free_space
        );
        // Without DR nothing is covered.
        if r.kind.is_protected() {
            assert_eq!(r.protection.state, ProtectionState::NoDr);
        }
    }
    let e = overview::volume_overview(&w.catalog, "nobody", None, w.clock.now())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nobody"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_counts_a_failed_job_and_a_skipped_volume() {
    let w = World::with(Options {
        providers: Providers::Azure,
        ..Options::default()
    })
    .await;
    w.enable_azure_dr().await;
    let desk = w
        .resources("azure")
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop && r.owner.is_some())
        .expect("an assigned desktop");
    w.azure_session(desk.owner.as_deref().unwrap(), true).await;
    w.speed_up(500.0);
    w.lab.azure_lab().fail_next_copies(1);
    let e = all::run(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &Limits::default(),
        BackupAllRequest {
            account: "azure".into(),
            frame_account: FRAME.into(),
            kind: BackupKind::Manual,
            resource_kinds: Vec::new(),
            volumes: Vec::new(),
            name: Some("with a failure".into()),
            dry_run: false,
            actor: "test".into(),
        },
        CancelFlag::new(),
    )
    .await
    .expect_err("one copy fails, so the run fails");
    assert!(e.to_string().contains("1 of"), "{e}");

    let now = w.clock.now();
    let d = overview::dashboard(&w.catalog.lock(), now).unwrap();
    let acc = d
        .accounts
        .iter()
        .find(|a| a.account_name == "azure")
        .unwrap();
    // The run and the one volume whose copy failed.
    assert!(acc.failed_jobs.count >= 1, "{:#?}", acc.failed_jobs);
    assert!(acc
        .failed_jobs
        .latest
        .iter()
        .any(|j| j.kind == "backup_all"));
    assert!(acc.failed_jobs.latest.iter().all(|j| !j.error.is_empty()));
    assert!(acc.skipped.count >= 1);
    let skip = acc
        .skipped
        .latest
        .iter()
        .find(|s| s.reason == "in_session")
        .expect("the desktop in session was skipped");
    assert_eq!(skip.volume_id, desk.provider_id);
    let f = &acc.frame_accounts[0];
    assert_eq!(f.replication.failed_recently, 1);

    // A week later both have left the window of recent failures.
    let later = now + Duration::days(8);
    let d = overview::dashboard(&w.catalog.lock(), later).unwrap();
    let acc = d
        .accounts
        .iter()
        .find(|a| a.account_name == "azure")
        .unwrap();
    assert_eq!(acc.failed_jobs.count, 0);
    assert_eq!(acc.skipped.count, 0);
    let f = &acc.frame_accounts[0];
    let newest = f.newest_backup.as_ref().unwrap();
    assert!(newest.age_secs >= 8.0 * 86_400.0, "{newest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_azure_secondary_headroom_is_read_from_the_region_quota() {
    let w = World::with(Options {
        providers: Providers::Azure,
        ..Options::default()
    })
    .await;
    let e = overview::secondary_headroom(&w.report(), w.store.as_ref(), "azure")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("enable DR first"), "{e}");
    w.enable_azure_dr().await;
    let h = overview::secondary_headroom(&w.report(), w.store.as_ref(), "azure")
        .await
        .unwrap();
    let SecondaryHeadroom::Azure {
        region,
        problems,
        replicas_assumed,
        lines,
    } = h
    else {
        panic!("an Azure account has an Azure secondary: {h:?}")
    };
    assert_eq!(
        standby_core::providers::azure::normalize_location(&region),
        standby_core::providers::azure::normalize_location(&w.lab.azure.secondary_region)
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(replicas_assumed, 1, "no schedule: one replica per volume");
    let cores = lines.iter().find(|l| l.code == "cores").expect("cores");
    assert_eq!(cores.headroom, cores.limit - cores.current);
    assert_eq!(cores.needed, None);
    let snaps = lines
        .iter()
        .find(|l| l.code == "StandardSnapshotCount")
        .expect("snapshots");
    assert!(snaps.needed.unwrap() > 0);
    assert!(snaps.limit > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ahv_secondary_headroom_is_the_free_space_of_its_receiving_containers() {
    let w = World::with(Options {
        providers: Providers::Ahv,
        ..Options::default()
    })
    .await;
    w.enable_ahv_dr().await;
    let h = overview::secondary_headroom(&w.report(), w.store.as_ref(), "primary")
        .await
        .unwrap();
    let SecondaryHeadroom::Ahv {
        secondary_account_name,
        containers,
        ..
    } = h
    else {
        panic!("an AHV account has an AHV secondary: {h:?}")
    };
    assert_eq!(secondary_account_name, "secondary");
    let mapped = containers
        .iter()
        .find(|c| c.container == "storage-container-112133")
        .expect("the mapped destination");
    assert_eq!(mapped.source.as_deref(), Some("default-container-77107"));
    // Compared with what Prism itself reports for that container.
    let truth = w
        .prism("secondary")
        .storage_containers()
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.name == "storage-container-112133")
        .unwrap();
    assert_eq!(mapped.free_bytes, truth.free_bytes().map(|b| b as f64));
    assert!(mapped.free_bytes.is_some() && mapped.unknown.is_none());
}

// ---- 5,000 volumes, 100,000 backups ------------------------------------------------------

const VOLUMES: usize = 5_000;
const PER_VOLUME: usize = 20;
const SCALE_FRAME: &str = "big-co";

const KINDS: [ResourceKind; 6] = [
    ResourceKind::Sandbox,
    ResourceKind::UtilityServer,
    ResourceKind::PersistentDesktop,
    ResourceKind::EnterpriseProfile,
    ResourceKind::PersonalDrive,
    ResourceKind::TemplateImage,
];

fn base() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

/// Volume `i`'s ARM id as discovery reports it.
fn disk_id(i: usize) -> String {
    format!("/subscriptions/S1/resourceGroups/RG-Big/providers/Microsoft.Compute/disks/Vol-{i:04}")
}

/// Every hundredth volume has no backup: its rows belong to a volume discovery never saw.
fn backed_up(i: usize) -> bool {
    !i.is_multiple_of(100)
}

/// When primary `j` of volume `i` was taken: one a day, volumes a second apart.
fn taken(i: usize, j: usize) -> DateTime<Utc> {
    base() + Duration::days(j as i64) + Duration::seconds(i as i64)
}

fn resource(i: usize) -> DiscoveredResource {
    let kind = KINDS[i % KINDS.len()];
    DiscoveredResource {
        provider_id: disk_id(i),
        name: format!("vol-{i:04}"),
        kind,
        frame_account: SCALE_FRAME.into(),
        owner: Some(format!("user{i}@big.example")),
        desktop_state: None,
        size_bytes: (64 + i) as f64 * 1_073_741_824.0,
        vm_id: None,
        power: None,
        power_detail: None,
        location: "westeurope".into(),
        not_protected_reason: (kind == ResourceKind::TemplateImage)
            .then(|| TEMPLATE_NOT_PROTECTED.to_string()),
    }
}

/// Ten primaries and their ten replicas per volume. The newest primary of every seventh volume
/// failed (its newest usable one is the ninth), and the newest replica of every fifth volume is
/// still copying. Odd volumes' backups name the disk as Azure lower-cases it, without the
/// leading slash: a row must still find them.
fn backups(account_id: &str) -> Vec<Backup> {
    let mut out = Vec::with_capacity(VOLUMES * PER_VOLUME);
    for i in 0..VOLUMES {
        let volume_id = if !backed_up(i) {
            format!("gone-{i}")
        } else if !i.is_multiple_of(2) {
            disk_id(i).trim_start_matches('/').to_lowercase()
        } else {
            disk_id(i)
        };
        for j in 0..PER_VOLUME / 2 {
            let at = taken(i, j).to_rfc3339();
            let primary_id = format!("p-{i}-{j}");
            let newest = j == PER_VOLUME / 2 - 1;
            let mk =
                |id: String, site, state, percent, replica_of: Option<String>, at: String| Backup {
                    id,
                    job_id: None,
                    account_id: account_id.into(),
                    frame_account: SCALE_FRAME.into(),
                    volume_id: volume_id.clone(),
                    volume_name: format!("vol-{i:04}"),
                    name: format!("day {j}"),
                    kind: if j.is_multiple_of(2) {
                        BackupKind::Scheduled
                    } else {
                        BackupKind::PostSession
                    },
                    site,
                    location: "westeurope".into(),
                    provider_ref: None,
                    state,
                    percent,
                    replica_of,
                    error: None,
                    created_at: at.clone(),
                    updated_at: at,
                };
            let p_state = if newest && i.is_multiple_of(7) {
                BackupState::Failed
            } else {
                BackupState::Available
            };
            let (r_state, r_percent) = if newest && i.is_multiple_of(5) {
                (BackupState::Replicating, 40.0)
            } else {
                (BackupState::Available, 100.0)
            };
            out.push(mk(
                primary_id.clone(),
                BackupSite::Primary,
                p_state,
                100.0,
                None,
                at,
            ));
            out.push(mk(
                format!("r-{i}-{j}"),
                BackupSite::Replica,
                r_state,
                r_percent,
                Some(primary_id),
                (taken(i, j) + Duration::minutes(1)).to_rfc3339(),
            ));
        }
    }
    out
}

#[test]
fn five_thousand_volumes_and_a_hundred_thousand_backups_aggregate_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Catalog::open(&dir.path().join("standby.sqlite3")).unwrap();
    let acc = c
        .insert_account(&NewAccount {
            name: "big",
            kind: ProviderKind::Azure,
            endpoint: "https://management.azure.com",
            settings: serde_json::json!({}),
            created_at: base(),
        })
        .unwrap();
    // A first discovery saw one more volume, which the second no longer sees.
    let mut seen: Vec<DiscoveredResource> = (0..VOLUMES).map(resource).collect();
    let mut gone = resource(VOLUMES);
    gone.name = "gone-vol".into();
    seen.push(gone);
    c.record_discovery(&acc.id, SCALE_FRAME, &seen, "t1")
        .unwrap();
    seen.pop();
    c.record_discovery(&acc.id, SCALE_FRAME, &seen, "t2")
        .unwrap();
    let rows = backups(&acc.id);
    assert_eq!(rows.len(), 100_000);
    c.insert_backups_once(&rows).unwrap();
    c.save_dr_config(&DrConfig {
        account_id: acc.id.clone(),
        account_name: "big".into(),
        frame_account: SCALE_FRAME.into(),
        target: DrTarget::Azure {
            secondary_region: "northeurope".into(),
            secondary_resource_group: "rg-dr".into(),
        },
        enabled_at: base().to_rfc3339(),
    })
    .unwrap();

    // Autogrow on, and a daily schedule at 02:00 UTC.
    let on = standby_core::autogrow::AutogrowSettings {
        enabled: true,
        ..Default::default()
    };
    c.set_policy(&acc.id, standby_core::autogrow::POLICY_KIND, "", &on, "t2")
        .unwrap();
    let policy = SchedulePolicy {
        frame_account: SCALE_FRAME.into(),
        enabled: true,
        first_date: base().date_naive(),
        first_time: parse_time("02:00").unwrap(),
        time_zone: "UTC".into(),
        every_days: 1,
        keep: 7,
    };
    c.set_schedule(&acc.id, &Schedule::new(policy, base()).unwrap(), "t2")
        .unwrap();

    let table = overview::volume_rows(&c, "big", Some(SCALE_FRAME)).unwrap();
    assert_eq!(table.len(), VOLUMES, "the gone volume is not listed");
    assert!(table.windows(2).all(|w| w[0].name <= w[1].name), "by name");

    // An even volume: ids match as written; its tenth primary and replica are the newest.
    let r = row(&table, &disk_id(2));
    assert_eq!(r.name, "vol-0002");
    assert_eq!(r.kind, ResourceKind::PersistentDesktop);
    let b = r.last_backup.as_ref().unwrap();
    assert_eq!((b.id.as_str(), b.kind), ("p-2-9", BackupKind::PostSession));
    assert_eq!(b.created_at, taken(2, 9).to_rfc3339());
    let rep = r.replica.as_ref().unwrap();
    assert_eq!(
        (rep.id.as_str(), rep.state),
        ("r-2-9", BackupState::Available)
    );
    assert_eq!(r.protection.state, ProtectionState::Protected);
    assert_eq!(
        r.free_space, None,
        "the catalog-only listing reads no guest"
    );

    // An odd volume whose backups name it in lower case without the slash.
    let r = row(&table, &disk_id(3));
    assert_eq!(r.last_backup.as_ref().unwrap().id, "p-3-9");

    // Volume 35: its newest primary failed (so the ninth is its last usable backup) and its
    // newest replica is still copying.
    let r = row(&table, &disk_id(35));
    let b = r.last_backup.as_ref().unwrap();
    assert_eq!(b.id, "p-35-8");
    assert_eq!(b.kind, BackupKind::Scheduled);
    let rep = r.replica.as_ref().unwrap();
    assert_eq!(rep.id, "r-35-9");
    assert_eq!(rep.state, BackupState::Replicating);
    assert_eq!(rep.percent, 40.0);

    // Volume 100 has no backup of its own (the rows of `gone-100` are not its).
    let r = row(&table, &disk_id(100));
    assert!(r.last_backup.is_none() && r.replica.is_none());
    assert_eq!(r.protection.state, ProtectionState::NoBackup);

    // Volume 5 is a template image: listed, never protected, whatever its rows.
    let r = row(&table, &disk_id(5));
    assert_eq!(r.kind, ResourceKind::TemplateImage);
    assert_eq!(r.protection.state, ProtectionState::NotProtected);
    assert!(!r.autogrow.enabled, "templates are never grown");

    let now = base() + Duration::days(10);
    let d = overview::dashboard(&c, now).unwrap();
    assert_eq!(d.accounts.len(), 1);
    let a = &d.accounts[0];
    assert_eq!(a.frame_accounts.len(), 1);
    let f = &a.frame_accounts[0];
    assert_eq!(f.volumes as usize, VOLUMES);
    let templates = (0..VOLUMES).filter(|i| i % 6 == 5).count();
    let without = (0..VOLUMES)
        .filter(|i| i % 6 != 5 && !backed_up(*i))
        .count();
    assert_eq!(without, 50);
    assert_eq!(f.without_backup as usize, without);
    assert_eq!(f.protected as usize, VOLUMES - templates - without);
    assert_eq!(f.not_protected as usize, templates + without);
    let desktops = f
        .by_kind
        .iter()
        .find(|k| k.kind == ResourceKind::PersistentDesktop)
        .unwrap();
    let desktop_total = (0..VOLUMES).filter(|i| i % 6 == 2).count();
    let desktop_bare = (0..VOLUMES)
        .filter(|i| i % 6 == 2 && !backed_up(*i))
        .count();
    assert_eq!(desktops.total as usize, desktop_total);
    assert_eq!(desktops.no_backup as usize, desktop_bare);
    assert_eq!(desktops.protected as usize, desktop_total - desktop_bare);

    // The newest usable backup: the tenth of the last volume whose tenth did not fail.
    let newest = f.newest_backup.as_ref().unwrap();
    assert_eq!(newest.at, taken(4999, 9).to_rfc3339());
    assert_eq!(newest.age_secs, (now - taken(4999, 9)).num_seconds() as f64);
    // The worst volume: the first protected one whose tenth failed (7), left with its ninth.
    let worst = f.worst_volume.as_ref().unwrap();
    assert_eq!(worst.name, "vol-0007");
    assert_eq!(worst.last_backup.at, taken(7, 8).to_rfc3339());
    // Lag: the oldest primary whose replica still copies is volume 0's tenth.
    let copying = (0..VOLUMES).filter(|i| i.is_multiple_of(5)).count();
    assert_eq!(f.replication.in_progress as usize, copying);
    assert_eq!(
        f.replication.oldest_waiting_at.as_deref(),
        Some(taken(0, 9).to_rfc3339().as_str())
    );
    assert_eq!(
        f.replication.lag_secs,
        Some((now - taken(0, 9)).num_seconds() as f64)
    );
    assert_eq!(a.failed_jobs.count, 0);
    assert_eq!(a.skipped.count, 0);
    let next = a.next_run.as_ref().expect("the schedule's next run");
    assert_eq!(next.at, "2026-10-11T02:00:00Z");
    assert_eq!(next.local, "2026-10-11 02:00 UTC");
    assert_eq!(next.in_secs, 7_200.0);
    assert_eq!(next.frame_account, SCALE_FRAME);
    assert!(a.no_next_run.is_none());
}
