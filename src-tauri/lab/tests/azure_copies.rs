//! Cross-region copies (CopyStart): progress on the lab clock, failures, and the platform's limits.

#[path = "lab_client.rs"]
mod lab_client;

use lab_client::*;
use reqwest::Method;
use serde_json::{json, Value};

const PRIMARY: &str = "westeurope";
const SECONDARY: &str = "northeurope";

async fn snapshot_state(arm: &Arm, name: &str) -> Value {
    let (s, _, v) = arm
        .get(&arm.rg_url(&format!("snapshots/{name}"), DISK_API))
        .await;
    assert_eq!(s, 200, "{v}");
    v["properties"].clone()
}

/// Makes the disk's used data exactly `gb` so the copy's duration is known.
async fn fill(lab: &standby_lab::LabHandle, disk: &str, gb: f64) {
    control(
        lab,
        Method::POST,
        &format!("azure/disks/{disk}/fill"),
        Some(json!({"used_gb": gb})),
    )
    .await;
}

#[tokio::test]
async fn copy_start_climbs_to_100_with_time_and_then_restores_in_the_secondary() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    fill(&lab, "acme-pd-desk-0003-osdisk", 20.0).await; // 20 GiB at 100 MiB/s: 204.8 s
    let (s, _) = arm
        .snapshot_disk("d3-bk", "acme-pd-desk-0003-osdisk", PRIMARY)
        .await;
    assert_eq!(s, 200);
    let (s, h, body) = arm.copy_start("d3-bk-dr", "d3-bk", SECONDARY).await;
    assert_eq!(s, 202, "{body}");
    for k in ["azure-asyncoperation", "location", "retry-after"] {
        assert!(h.contains_key(k), "{k}");
    }
    assert_eq!(body["properties"]["provisioningState"], "Updating");
    assert_eq!(body["properties"]["completionPercent"], 0.0);
    assert_eq!(body["location"], SECONDARY);

    advance(&lab, 102);
    let p = snapshot_state(&arm, "d3-bk-dr").await;
    let pct = p["completionPercent"].as_f64().unwrap();
    assert!((49.0..=50.0).contains(&pct), "{pct}");
    assert_eq!(p["provisioningState"], "Updating");
    let op_url = h["azure-asyncoperation"].to_str().unwrap();
    assert_eq!(arm.get(op_url).await.2["status"], "InProgress");

    // A disk cannot be made from a copy that has not finished.
    let restore = json!({"location": SECONDARY, "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": arm.id("snapshots/d3-bk-dr")}}});
    let restore_url = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/d3-restored?api-version={DISK_API}",
        arm.base, arm.sub, lab.azure.secondary_resource_group
    );
    let (s, _, body) = arm.put(&restore_url, restore.clone()).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{body}"
    );

    advance(&lab, 103);
    let p = snapshot_state(&arm, "d3-bk-dr").await;
    assert_eq!(p["completionPercent"], 100.0);
    assert_eq!(p["provisioningState"], "Succeeded");
    assert!(p.get("copyCompletionError").is_none());
    assert_eq!(arm.get(op_url).await.2["status"], "Succeeded");
    let (s, _, body) = arm.put(&restore_url, restore).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["location"], SECONDARY);
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleting_the_source_mid_copy_fails_it_with_copy_source_not_found() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    arm.snapshot_disk("d4-bk", "acme-pd-desk-0004-osdisk", PRIMARY)
        .await;
    let (s, h, _) = arm.copy_start("d4-bk-dr", "d4-bk", SECONDARY).await;
    assert_eq!(s, 202);
    advance(&lab, 10);
    let (s, _, _) = arm.delete(&arm.rg_url("snapshots/d4-bk", DISK_API)).await;
    assert_eq!(s, 200, "Azure allows deleting the source");
    advance(&lab, 10_000);
    let p = snapshot_state(&arm, "d4-bk-dr").await;
    assert_eq!(
        p["copyCompletionError"]["errorCode"], "CopySourceNotFound",
        "{p}"
    );
    assert!(p["copyCompletionError"]["errorMessage"].is_string());
    assert!(p["completionPercent"].as_f64().unwrap() < 100.0);
    let op = arm.get(h["azure-asyncoperation"].to_str().unwrap()).await.2;
    assert_eq!(op["status"], "Failed");
    assert_eq!(op["error"]["code"], "CopySourceNotFound");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_copy_per_disk_at_a_time_and_in_creation_order() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    fill(&lab, "acme-pd-desk-0005-osdisk", 10.0).await;
    arm.snapshot_disk("d5-a", "acme-pd-desk-0005-osdisk", PRIMARY)
        .await;
    advance(&lab, 60);
    arm.snapshot_disk("d5-b", "acme-pd-desk-0005-osdisk", PRIMARY)
        .await;
    assert_eq!(arm.copy_start("d5-a-dr", "d5-a", SECONDARY).await.0, 202);
    let (s, _, body) = arm.copy_start("d5-b-dr", "d5-b", SECONDARY).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{body}"
    );
    // Another disk's copy is not held up.
    arm.snapshot_disk("d6-a", "acme-pd-desk-0006-osdisk", PRIMARY)
        .await;
    assert_eq!(arm.copy_start("d6-a-dr", "d6-a", SECONDARY).await.0, 202);
    advance(&lab, 3600);
    assert_eq!(
        arm.copy_start("d5-b-dr", "d5-b", SECONDARY).await.0,
        202,
        "after the first finished"
    );
    advance(&lab, 3600);
    let (s, _, body) = arm.copy_start("d5-a-dr2", "d5-a", SECONDARY).await;
    assert_eq!(s, 409, "an older snapshot after a newer one: {body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("order"));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn at_most_seven_incremental_snapshots_per_disk_per_five_minutes() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    for i in 0..7 {
        let (s, v) = arm
            .snapshot_disk(&format!("burst-{i}"), "acme-pd-sandbox-osdisk", PRIMARY)
            .await;
        assert_eq!(s, 200, "{v}");
        advance(&lab, 10);
    }
    let (s, v) = arm
        .snapshot_disk("burst-7", "acme-pd-sandbox-osdisk", PRIMARY)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{v}"
    );
    // Another disk is not limited.
    assert_eq!(
        arm.snapshot_disk("other-0", "acme-pd-util-01-osdisk", PRIMARY)
            .await
            .0,
        200
    );
    // The oldest leaves the window 300 s after it was taken.
    advance(&lab, 300 - 70);
    assert_eq!(
        arm.snapshot_disk("burst-7", "acme-pd-sandbox-osdisk", PRIMARY)
            .await
            .0,
        200
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn at_most_100_copies_in_flight_per_region() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    control(
        &lab,
        Method::PUT,
        "azure/copy-speed",
        Some(json!({"mib_per_sec": 1.0})),
    )
    .await;
    let mut disks: Vec<String> = Vec::new();
    let mut url = arm.rg_url("disks", DISK_API);
    loop {
        let (_, _, v) = arm.get(&url).await;
        disks.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_string()),
        );
        match v["nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert!(disks.len() > 101);
    for (i, d) in disks.iter().take(101).enumerate() {
        let (s, v) = arm.snapshot_disk(&format!("many-{i}"), d, PRIMARY).await;
        assert_eq!(s, 200, "{v}");
    }
    for i in 0..100 {
        let (s, _, v) = arm
            .copy_start(&format!("many-{i}-dr"), &format!("many-{i}"), SECONDARY)
            .await;
        assert_eq!(s, 202, "copy {i}: {v}");
    }
    let (s, _, v) = arm.copy_start("many-100-dr", "many-100", SECONDARY).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{v}"
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("100"));
    // A failed copy no longer counts.
    arm.delete(&arm.rg_url("snapshots/many-0", DISK_API)).await;
    assert_eq!(
        arm.copy_start("many-100-dr", "many-100", SECONDARY).await.0,
        202
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn faults_fail_the_next_copy_slow_copies_and_take_a_region_down() {
    let lab = start_long_tokens().await;
    let arm = Arm::new(&lab).await;
    fill(&lab, "acme-pd-desk-0007-osdisk", 10.0).await; // 10240 MiB
    control(
        &lab,
        Method::POST,
        "azure/copies/fail-next",
        Some(json!({"count": 1})),
    )
    .await;
    arm.snapshot_disk("d7", "acme-pd-desk-0007-osdisk", PRIMARY)
        .await;
    assert_eq!(arm.copy_start("d7-dr", "d7", SECONDARY).await.0, 202);
    advance(&lab, 3600);
    let p = snapshot_state(&arm, "d7-dr").await;
    assert_eq!(p["provisioningState"], "Failed");
    assert_eq!(p["copyCompletionError"]["errorCode"], "CopySourceNotFound");
    assert_eq!(p["completionPercent"], 50.0, "it failed half-way");

    // Slow copies: 10240 MiB at 10 MiB/s is 1024 s.
    control(
        &lab,
        Method::PUT,
        "azure/copy-speed",
        Some(json!({"mib_per_sec": 10.0})),
    )
    .await;
    assert_eq!(
        arm.copy_start("d7-dr2", "d7", SECONDARY).await.0,
        202,
        "the next one is not failed"
    );
    advance(&lab, 512);
    assert_eq!(
        snapshot_state(&arm, "d7-dr2").await["completionPercent"],
        50.0
    );

    // The secondary region down: its resources answer 503 and the copy stalls.
    control(
        &lab,
        Method::POST,
        &format!("azure/regions/{SECONDARY}/down"),
        None,
    )
    .await;
    let (s, _, body) = arm.get(&arm.rg_url("snapshots/d7-dr2", DISK_API)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(
        arm.get(&arm.rg_url("snapshots/d7", DISK_API)).await.0,
        200,
        "the primary still answers"
    );
    advance(&lab, 5000);
    control(
        &lab,
        Method::POST,
        &format!("azure/regions/{SECONDARY}/up"),
        None,
    )
    .await;
    assert_eq!(
        snapshot_state(&arm, "d7-dr2").await["completionPercent"],
        50.0,
        "no progress while down"
    );
    advance(&lab, 512);
    assert_eq!(
        snapshot_state(&arm, "d7-dr2").await["completionPercent"],
        100.0
    );
    lab.shutdown().await.unwrap();
}
