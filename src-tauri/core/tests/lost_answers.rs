//! Writes whose answer was lost after the provider carried them out, and Prism throttling, during
//! real backups against the lab.
//!
//! The lab's `lose_answer` fault lets the request through, lets the simulator act on it, then
//! closes the connection without the answer: Standby cannot tell whether it happened, so it must
//! find out from the provider's state, never by making a second snapshot or copy. ARM's PUTs are
//! idempotent (the same PUT again changes nothing), Prism's out-of-band snapshot POST is not (a
//! second POST is a second snapshot). The fault's counters (`/_lab/faults/{target}/stats`) prove
//! that each fault did hit.

mod world;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};
use standby_core::backup::{Backup, BackupKind, BackupRequest, BackupSite, BackupState};
use standby_core::disaster_recovery::DrTarget;
use standby_core::inventory::ResourceKind;
use standby_core::jobs::{JobState, NoProgress};
use standby_core::providers::prism::types::DrSnapshot;
use world::{Options, Providers, World, FRAME};

fn request(account: &str, volume: &str) -> BackupRequest {
    BackupRequest {
        account: account.into(),
        frame_account: FRAME.into(),
        volume: volume.into(),
        name: "through a lost answer".into(),
        kind: BackupKind::Manual,
    }
}

async fn desktop(w: &World, account: &str) -> String {
    w.resources(account)
        .await
        .into_iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .expect("a persistent desktop")
        .name
}

async fn set_fault(w: &World, target: &str, spec: Value) {
    w.control(Method::PUT, &format!("faults/{target}"), Some(spec))
        .await;
}

async fn stats(w: &World, target: &str) -> Value {
    w.control(Method::GET, &format!("faults/{target}/stats"), None)
        .await
}

/// Both rows of a backup with DR, available, and the job that made them succeeded.
fn assert_one_backup_and_replica(w: &World, rows: &[Backup]) {
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for site in [BackupSite::Primary, BackupSite::Replica] {
        let of_site: Vec<&Backup> = rows.iter().filter(|b| b.site == site).collect();
        assert_eq!(of_site.len(), 1, "{rows:#?}");
        assert_eq!(of_site[0].state, BackupState::Available, "{rows:#?}");
    }
    let job = rows[0].job_id.clone().unwrap();
    let job = w.catalog.lock().job(&job).unwrap().unwrap();
    assert_eq!(job.state, JobState::Succeeded);
    assert!(w.catalog.lock().unfinished_jobs().unwrap().is_empty());
}

// ---- Azure: ARM PUTs are idempotent ------------------------------------------------------------

async fn azure_world() -> World {
    let w = World::with(Options {
        providers: Providers::Azure,
        guest_agents: false,
        ..Options::default()
    })
    .await;
    w.enable_azure_dr().await;
    w
}

/// The lab's snapshots as (resource group, name), lower case.
async fn azure_snapshots(w: &World) -> BTreeSet<(String, String)> {
    let s = w.control(Method::GET, "azure/state", None).await;
    s["snapshots"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| {
            (
                v["resource_group"].as_str().unwrap().to_ascii_lowercase(),
                v["name"].as_str().unwrap().to_ascii_lowercase(),
            )
        })
        .collect()
}

/// Backs up one desktop while the first PUT of a snapshot into `group` loses its answer; checks
/// that the fault hit once and that the lab holds exactly the two snapshots the catalog names.
async fn azure_backup_losing_a_put_into(w: &World, group: &str) {
    let desk = desktop(w, "azure").await;
    let before = azure_snapshots(w).await;
    w.speed_up(500.0);
    set_fault(
        w,
        "azure:arm",
        json!({"lose_answer": {
            "method": "PUT",
            "path": format!("/subscriptions/*/resourceGroups/{group}/providers/Microsoft.Compute/snapshots/*"),
        }}),
    )
    .await;
    let rows = w
        .backup_now(request("azure", &desk), &NoProgress)
        .await
        .expect("the backup succeeds through a lost answer");
    assert_eq!(
        stats(w, "azure:arm").await["answers_lost"],
        1,
        "the PUT's answer was lost"
    );
    assert_one_backup_and_replica(w, &rows);

    let after = azure_snapshots(w).await;
    let new: BTreeSet<String> = after.difference(&before).map(|(_, n)| n.clone()).collect();
    let named: BTreeSet<String> = rows
        .iter()
        .map(|b| {
            let r = b.provider_ref.as_deref().unwrap().to_ascii_lowercase();
            r.rsplit('/').next().unwrap().to_string()
        })
        .collect();
    assert_eq!(new, named, "exactly the snapshot and the replica, no other");
    let state = w.control(Method::GET, "azure/state", None).await;
    for s in state["snapshots"].as_object().unwrap().values() {
        if named.contains(&s["name"].as_str().unwrap().to_ascii_lowercase()) {
            if let Some(copy) = s.get("copy").filter(|c| !c.is_null()) {
                assert!(copy["error"].is_null(), "a failed copy: {s}");
                assert_eq!(
                    copy["copied_mib"], copy["total_mib"],
                    "a finished copy: {s}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_azure_snapshot_put_whose_answer_was_lost_makes_one_snapshot() {
    let w = azure_world().await;
    let group = w.lab.azure.resource_group.clone();
    azure_backup_losing_a_put_into(&w, &group).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_azure_copy_start_whose_answer_was_lost_makes_one_replica() {
    let w = azure_world().await;
    let group = w.lab.azure.secondary_resource_group.clone();
    azure_backup_losing_a_put_into(&w, &group).await;
}

// ---- AHV: Prism's snapshot POST is not idempotent ----------------------------------------------

async fn ahv_world() -> (World, String) {
    let w = World::with(Options {
        providers: Providers::Ahv,
        ..Options::default()
    })
    .await;
    let pd = w.enable_ahv_dr().await;
    (w, pd)
}

fn primary_target(w: &World) -> String {
    format!("prism:{}", w.lab.prism[0].name)
}

fn out_of_band(list: &[DrSnapshot]) -> Vec<&DrSnapshot> {
    list.iter()
        .filter(|s| !s.oob_schedule_ids.is_empty())
        .collect()
}

/// After an AHV backup with DR: exactly one out-of-band snapshot on the primary, the one both
/// rows name, and its replica on the secondary.
async fn assert_one_ahv_snapshot(w: &World, pd: &str, rows: &[Backup]) {
    assert_one_backup_and_replica(w, rows);
    let primary = rows.iter().find(|b| b.site == BackupSite::Primary).unwrap();
    let replica = rows.iter().find(|b| b.site == BackupSite::Replica).unwrap();
    let snaps = w.prism("primary").snapshots(pd, &[]).await.unwrap();
    let oob = out_of_band(&snaps);
    assert_eq!(oob.len(), 1, "one snapshot, not two: {oob:#?}");
    assert_eq!(
        primary.provider_ref.as_deref(),
        Some(format!("{pd}:{}", oob[0].snapshot_id).as_str())
    );
    let remote = w.prism("secondary").snapshots(pd, &[]).await.unwrap();
    let landed = remote
        .iter()
        .find(|s| s.snapshot_uuid.is_some() && s.snapshot_uuid == oob[0].snapshot_uuid)
        .expect("the replica is on the secondary");
    assert_eq!(
        replica.provider_ref.as_deref(),
        Some(format!("{pd}:{}", landed.snapshot_id).as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prism_snapshot_post_whose_answer_was_lost_is_read_back_not_sent_again() {
    let (w, pd) = ahv_world().await;
    let desk = desktop(&w, "primary").await;
    let target = primary_target(&w);
    assert!(out_of_band(&w.prism("primary").snapshots(&pd, &[]).await.unwrap()).is_empty());
    w.speed_up(500.0);
    set_fault(
        &w,
        &target,
        json!({"lose_answer": {"method": "POST", "path": "*/protection_domains/*/oob_schedules"}}),
    )
    .await;
    let rows = w
        .backup_now(request("primary", &desk), &NoProgress)
        .await
        .expect("the backup succeeds through a lost answer");
    assert_eq!(
        stats(&w, &target).await["answers_lost"],
        1,
        "the snapshot POST's answer was lost"
    );
    assert_one_ahv_snapshot(&w, &pd, &rows).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ahv_backup_under_prism_throttling_completes_once() {
    let (w, pd) = ahv_world().await;
    let desk = desktop(&w, "primary").await;
    let target = primary_target(&w);
    // Retry-After is in lab seconds and the client waits it in real ones: a lab clock only a few
    // times faster keeps the waits short while the windows still fill (requests come
    // milliseconds apart). Replication gets a link fast enough for that clock.
    w.set_prism_bandwidth(20u64 << 40).await;
    w.speed_up(5.0);
    set_fault(
        &w,
        &target,
        json!({"rate_limit": {"requests": 3, "window_secs": 1}}),
    )
    .await;
    let rows = w
        .backup_now(request("primary", &desk), &NoProgress)
        .await
        .expect("the backup succeeds under throttling");
    let hit = stats(&w, &target).await;
    assert!(
        hit["throttled"].as_u64().unwrap() > 0,
        "Prism answered 429s: {hit}"
    );
    set_fault(&w, &target, json!({})).await;
    assert_one_ahv_snapshot(&w, &pd, &rows).await;
    let primary_id = w.account_id("primary");
    let dr = w.catalog.lock().dr_config(&primary_id).unwrap().unwrap();
    assert!(matches!(dr.target, DrTarget::Ahv { .. }));
}
