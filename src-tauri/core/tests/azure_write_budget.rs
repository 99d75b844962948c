//! ARM's hourly write budget kept to by the client: the lab counts writes past the budget it
//! reports (`x-ms-ratelimit-remaining-subscription-writes`) without refusing them, so a client
//! that goes past it is caught here, not by a 429.

mod azure_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azure_support::*;
use serde_json::{json, Value};
use standby_core::providers::azure::client::Repeat;
use standby_core::providers::azure::{ArmClient, Progress, ResourceId};

async fn stats(lab: &standby_lab::LabHandle) -> Value {
    control(lab, reqwest::Method::GET, "faults/azure:arm/stats", None).await
}

/// A write: the disk's tags set again (ARM's PATCH of a resource we name).
async fn tag(arm: &ArmClient, disk: &ResourceId, n: usize) {
    let url = arm.url(disk.as_str(), &arm.api_versions().disks, &[]);
    arm.send(
        reqwest::Method::PATCH,
        url,
        Some(&json!({"tags": {"standby.test": n.to_string()}})),
        Repeat::Safe,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn many_writers_stop_at_the_write_budget_and_go_on_when_the_hour_turns() {
    let lab = start().await; // the lab's clock stands still: one budget window until advanced
    let (arm, log) = recorded(&client(&lab));
    let disk = disk_id(&lab, "acme-pd-sandbox-osdisk");
    // Reads first, so that the client knows the read count when the hour turns.
    for _ in 0..5 {
        arm.get_disk(&disk).await.unwrap();
    }
    // Spend the hour's writes down to 20, 16 at a time.
    let spent = AtomicUsize::new(0);
    futures_util::future::join_all((0..16).map(|_| async {
        while spent.fetch_add(1, Ordering::SeqCst) < 1_180 {
            tag(&arm, &disk, 0).await;
        }
    }))
    .await;
    assert_eq!(stats(&lab).await["budget_window_writes"], 1_180);

    // 50 writers at once: 20 go, 30 wait, none past the budget.
    let done = AtomicUsize::new(0);
    let writers = futures_util::future::join_all((0..50).map(|n| {
        let (arm, disk, done) = (&arm, &disk, &done);
        async move {
            tag(arm, disk, n).await;
            done.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let advance_after_a_while = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let s = stats(&lab).await;
        assert_eq!(done.load(Ordering::SeqCst), 20, "{s}");
        assert_eq!(s["writes_past_budget"], 0, "{s}");
        assert!(log
            .lock()
            .iter()
            .any(|p| matches!(p, Progress::Slowing { remaining: 0, .. })));
        // The hour turns; a read shows the new budget and the writers go on.
        advance(&lab, 3_600);
        arm.get_disk(&disk).await.unwrap();
    };
    tokio::time::timeout(
        Duration::from_secs(20),
        futures_util::future::join(writers, advance_after_a_while),
    )
    .await
    .expect("the waiting writers went on once the hour turned");
    assert_eq!(done.load(Ordering::SeqCst), 50);
    let s = stats(&lab).await;
    assert_eq!(s["writes_past_budget"], 0, "{s}");
    assert_eq!(s["budget_windows"], 2, "{s}");
    assert_eq!(s["budget_window_writes"], 30, "{s}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_client_keeps_at_most_its_limit_of_requests_on_the_wire() {
    use standby_core::providers::azure::client::IN_FLIGHT;
    let lab = start().await;
    let arm = client(&lab);
    let disk = disk_id(&lab, "acme-pd-sandbox-osdisk");
    arm.get_disk(&disk).await.unwrap(); // the token, first
                                        // Slow answers, so that requests sent together overlap on the wire.
    set_fault(&lab, json!({"latency_ms": 100})).await;
    let answers =
        futures_util::future::join_all((0..3 * IN_FLIGHT).map(|_| arm.get_disk(&disk))).await;
    assert!(answers.iter().all(|a| a.is_ok()));
    let s = stats(&lab).await;
    let most = s["most_in_flight"].as_u64().unwrap() as usize;
    assert!(most <= IN_FLIGHT, "{s}");
    assert!(most >= IN_FLIGHT / 2, "the requests did not overlap: {s}");
    assert_eq!(s["in_flight"], 0, "{s}");
    lab.shutdown().await.unwrap();
}
