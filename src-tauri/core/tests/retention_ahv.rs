//! Retention on AHV with DR, against the in-process lab: two desktops backed up together (one
//! protection-domain snapshot holds both) twice by hand and three times on schedule, then
//! `retention::preview` and `retention::apply`. The preview lists exactly what apply deletes; a
//! shared snapshot leaves the cluster only with its last row; manual backups stay unless asked;
//! the newest replica and its primary stay; the snapshots deleted are gone from the primary
//! cluster, their replicas from the secondary, and the catalog says the same.

mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use standby_core::backup::all::{self, BackupAllRequest};
use standby_core::backup::{Backup, BackupKind, BackupSite};
use standby_core::cancel::CancelFlag;
use standby_core::jobs::NoProgress;
use standby_core::limits::Limits;
use standby_core::notifications::NotificationLevel;
use standby_core::providers::prism::PrismError;
use standby_core::retention::{
    self, RetentionOutcome, RetentionPolicy, RetentionRequest, Why, POLICY_KIND,
};
use world::{Options, Providers, World, FRAME};

fn request(volumes: &[String], kind: BackupKind, dry_run: bool) -> BackupAllRequest {
    BackupAllRequest {
        account: "primary".into(),
        frame_account: FRAME.into(),
        kind,
        resource_kinds: Vec::new(),
        volumes: volumes.to_vec(),
        name: None,
        dry_run,
        actor: "test".into(),
    }
}

/// One run of `backup all` on `volumes`; its rows, then an hour passes.
async fn backup(w: &World, volumes: &[String], kind: BackupKind) -> Vec<Backup> {
    let out = all::run(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &Limits::default(),
        request(volumes, kind, false),
        CancelFlag::new(),
    )
    .await
    .unwrap();
    assert!(out.failures.is_empty(), "{:#?}", out.failures);
    assert_eq!(out.backups.len(), 2 * volumes.len(), "{:#?}", out.backups);
    w.lab.clock.advance(Duration::from_secs(3_600));
    out.backups
}

/// The snapshot ids of `pd` on a cluster (none before the domain reached it).
async fn pd_snapshots(w: &World, account: &str, pd: &str) -> BTreeSet<String> {
    match w.prism(account).snapshots(pd, &[]).await {
        Ok(l) => l.into_iter().map(|s| s.snapshot_id).collect(),
        Err(PrismError::NotFound { .. }) => BTreeSet::new(),
        Err(e) => panic!("{e}"),
    }
}

fn snapshot_id(b: &Backup) -> String {
    let r = b.provider_ref.as_deref().expect("a snapshot reference");
    r.split_once(':').expect("pd:snapshot").1.to_string()
}

/// What the test made: run label and volume and site for every row id.
struct Made {
    rows: BTreeMap<String, Backup>,
    runs: BTreeMap<String, &'static str>,
}

impl Made {
    fn id(&self, run: &str, volume: &str, site: BackupSite) -> &str {
        self.rows
            .values()
            .find(|b| self.runs[&b.id] == run && b.volume_id == volume && b.site == site)
            .map(|b| b.id.as_str())
            .unwrap_or_else(|| panic!("no {run} row of {volume} at {site:?}"))
    }

    /// Row ids of `run` for `(volume, site)` pairs.
    fn ids(&self, which: &[(&str, &str, BackupSite)]) -> BTreeSet<String> {
        which
            .iter()
            .map(|(run, v, s)| self.id(run, v, *s).to_string())
            .collect()
    }

    /// The snapshot (on its own site's cluster) of `run`.
    fn snapshot(&self, run: &str, site: BackupSite) -> String {
        let b = self
            .rows
            .values()
            .find(|b| self.runs[&b.id] == run && b.site == site)
            .unwrap();
        snapshot_id(b)
    }
}

/// Preview, then apply the same request, and check that apply did exactly what the preview said
/// (nothing failed in between), at the provider and in the catalog.
async fn preview_then_apply(
    w: &World,
    pd: &str,
    req: &RetentionRequest,
) -> (BTreeSet<String>, RetentionOutcome) {
    let preview = retention::preview(&w.report(), w.store.as_ref(), req).unwrap();
    let previewed: BTreeSet<String> = preview.deleted().map(|v| v.backup.id.clone()).collect();
    let rows_before: BTreeSet<String> = w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let primary_before = pd_snapshots(w, "primary", pd).await;
    let secondary_before = pd_snapshots(w, "secondary", pd).await;

    let out = retention::apply(&w.report(), w.store.as_ref(), req, "test")
        .await
        .unwrap();
    assert!(out.failed.is_empty(), "{:#?}", out.failed);
    let deleted: BTreeSet<String> = out.deleted.iter().cloned().collect();
    assert_eq!(deleted, previewed, "apply deleted what the preview listed");
    assert_eq!(out.preview.snapshots, preview.snapshots);
    assert_eq!(out.preview.rows_only, preview.rows_only);

    // The catalog lost exactly those rows.
    let rows_after: BTreeSet<String> = w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(
        rows_after,
        rows_before.difference(&deleted).cloned().collect()
    );
    // The clusters lost exactly the snapshots listed, each on its own site.
    let gone = |site: BackupSite| -> BTreeSet<String> {
        preview
            .snapshots
            .iter()
            .filter(|d| d.site == site)
            .map(|d| d.provider_ref.split_once(':').unwrap().1.to_string())
            .collect()
    };
    let primary_after = pd_snapshots(w, "primary", pd).await;
    let secondary_after = pd_snapshots(w, "secondary", pd).await;
    assert_eq!(
        primary_before
            .difference(&primary_after)
            .cloned()
            .collect::<BTreeSet<_>>(),
        gone(BackupSite::Primary)
    );
    assert!(primary_after.is_subset(&primary_before));
    assert_eq!(
        secondary_before
            .difference(&secondary_after)
            .cloned()
            .collect::<BTreeSet<_>>(),
        gone(BackupSite::Replica)
    );
    assert!(secondary_after.is_subset(&secondary_before));
    // Every row left still points at a snapshot its cluster holds.
    for b in w.catalog.lock().list_backups(None, None).unwrap() {
        let held = match b.site {
            BackupSite::Primary => &primary_after,
            BackupSite::Replica => &secondary_after,
        };
        assert!(held.contains(&snapshot_id(&b)), "{b:#?}");
    }
    (deleted, out)
}

/// The snapshots an apply deleted: (site, snapshot id).
fn snapshots_deleted(out: &RetentionOutcome) -> BTreeSet<(u8, String)> {
    out.preview
        .snapshots
        .iter()
        .map(|d| {
            let id = d.provider_ref.split_once(':').unwrap().1.to_string();
            (d.site as u8, id)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_on_ahv_deletes_what_its_preview_lists_and_shared_snapshots_with_their_last_row()
{
    let w = World::with(Options {
        providers: Providers::Ahv,
        ..Options::default()
    })
    .await;
    let pd = w.enable_ahv_dr().await;
    // Two desktops that run: Standby powers them on again after each backup, so a scheduled run
    // never skips them as unchanged.
    let plan = all::run(
        &w.report(),
        w.store.as_ref(),
        &NoProgress,
        &Limits::default(),
        request(&[], BackupKind::Scheduled, true),
        CancelFlag::new(),
    )
    .await
    .unwrap()
    .plan;
    let volumes: Vec<String> = plan
        .eligible
        .iter()
        .filter(|v| v.power_cycle)
        .take(2)
        .map(|v| v.volume_id.clone())
        .collect();
    assert_eq!(volumes.len(), 2, "two running desktops: {plan:#?}");
    let (a, b) = (volumes[0].as_str(), volumes[1].as_str());

    w.speed_up(500.0);
    let mut made = Made {
        rows: BTreeMap::new(),
        runs: BTreeMap::new(),
    };
    for (label, kind) in [
        ("m1", BackupKind::Manual),
        ("m2", BackupKind::Manual),
        ("s1", BackupKind::Scheduled),
        ("s2", BackupKind::Scheduled),
        ("s3", BackupKind::Scheduled),
    ] {
        for row in backup(&w, &volumes, kind).await {
            made.runs.insert(row.id.clone(), label);
            made.rows.insert(row.id.clone(), row);
        }
    }
    w.speed_up(0.0);
    // Each run made one snapshot holding both volumes, and one replica of it.
    for run in ["m1", "m2", "s1", "s2", "s3"] {
        for site in [BackupSite::Primary, BackupSite::Replica] {
            let refs: BTreeSet<_> = made
                .rows
                .values()
                .filter(|r| made.runs[&r.id] == run && r.site == site)
                .map(|r| r.provider_ref.clone())
                .collect();
            assert_eq!(refs.len(), 1, "{run} {site:?}: {refs:?}");
        }
    }
    let account_id = w.account_id("primary");
    // Volume b keeps two backups of each kind (its own policy); the account will keep one.
    w.catalog
        .lock()
        .set_policy(
            &account_id,
            POLICY_KIND,
            b,
            &RetentionPolicy { keep: 2 },
            &w.clock.now().to_rfc3339(),
        )
        .unwrap();
    use BackupSite::{Primary as P, Replica as R};

    // 1. Keep 1, manual backups left alone.
    let req = RetentionRequest {
        account: "primary".into(),
        volume: None,
        keep: Some(1),
        include_manual: false,
    };
    let (deleted, out) = preview_then_apply(&w, &pd, &req).await;
    assert_eq!(
        deleted,
        made.ids(&[
            ("s1", a, P),
            ("s1", a, R),
            ("s2", a, P),
            ("s2", a, R),
            ("s1", b, P),
            ("s1", b, R),
        ])
    );
    // s1's snapshot and its replica had no row left: gone. s2's are still b's: kept, a's rows
    // only forgotten.
    let snaps = snapshots_deleted(&out);
    assert_eq!(
        snaps,
        BTreeSet::from([
            (P as u8, made.snapshot("s1", P)),
            (R as u8, made.snapshot("s1", R))
        ])
    );
    assert_eq!(
        out.preview
            .rows_only
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        made.ids(&[("s2", a, P), ("s2", a, R)])
    );
    let why = |id: &str| {
        out.preview
            .verdicts
            .iter()
            .find(|v| v.backup.id == id)
            .unwrap()
            .why
    };
    for v in [a, b] {
        assert_eq!(why(made.id("m1", v, P)), Why::Manual);
        assert_eq!(why(made.id("m2", v, R)), Why::Manual);
        // The newest replica and the primary it was copied from.
        assert_eq!(why(made.id("s3", v, R)), Why::IncrementalBase);
        assert!(
            matches!(
                why(made.id("s3", v, P)),
                Why::NewestUsable | Why::IncrementalBase
            ),
            "{:?}",
            why(made.id("s3", v, P))
        );
    }
    assert_eq!(why(made.id("s2", b, P)), Why::WithinCount);
    let notes = w.notes();
    assert_eq!(notes[0].level, NotificationLevel::Success, "{notes:#?}");
    assert!(
        notes[0].body.contains("deleted 6 backups"),
        "{}",
        notes[0].body
    );

    // 2. The same count (now stored) with manual backups included: a's older manual backup goes,
    // but b still keeps two, so m1's snapshot stays.
    let req = RetentionRequest {
        account: "primary".into(),
        volume: None,
        keep: None,
        include_manual: true,
    };
    let (deleted, out) = preview_then_apply(&w, &pd, &req).await;
    assert_eq!(deleted, made.ids(&[("m1", a, P), ("m1", a, R)]));
    assert!(
        out.preview.snapshots.is_empty(),
        "{:#?}",
        out.preview.snapshots
    );

    // 3. Volume b down to one: its s2 and m1 rows were the last of their snapshots, which go now.
    let req = RetentionRequest {
        account: "primary".into(),
        volume: Some(b.to_string()),
        keep: Some(1),
        include_manual: true,
    };
    let (deleted, out) = preview_then_apply(&w, &pd, &req).await;
    assert_eq!(
        deleted,
        made.ids(&[("s2", b, P), ("s2", b, R), ("m1", b, P), ("m1", b, R)])
    );
    let snaps = snapshots_deleted(&out);
    assert_eq!(
        snaps,
        BTreeSet::from([
            (P as u8, made.snapshot("s2", P)),
            (R as u8, made.snapshot("s2", R)),
            (P as u8, made.snapshot("m1", P)),
            (R as u8, made.snapshot("m1", R)),
        ])
    );

    // What is left: m2 and s3 of both volumes, on both sites, and their snapshots.
    let left: BTreeSet<String> = w
        .catalog
        .lock()
        .list_backups(None, None)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let mut expected = BTreeSet::new();
    for run in ["m2", "s3"] {
        for v in [a, b] {
            for s in [P, R] {
                expected.insert(made.id(run, v, s).to_string());
            }
        }
    }
    assert_eq!(left, expected);
    let on_primary = pd_snapshots(&w, "primary", &pd).await;
    let on_secondary = pd_snapshots(&w, "secondary", &pd).await;
    for run in ["m2", "s3"] {
        assert!(on_primary.contains(&made.snapshot(run, P)));
        assert!(on_secondary.contains(&made.snapshot(run, R)));
    }
    for run in ["m1", "s1", "s2"] {
        assert!(!on_primary.contains(&made.snapshot(run, P)), "{run}");
        assert!(!on_secondary.contains(&made.snapshot(run, R)), "{run}");
    }
}
