//! The ARM client's plumbing against the lab: tokens (cache, refresh, refusal), paging, and
//! surviving throttling, 503s and dropped connections without ever reporting a false success.

mod azure_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_support::*;
use serde_json::json;
use standby_core::clock::ManualClock;
use standby_core::providers::azure::{ArmClient, ArmError, CancelFlag, Progress, Watch};
use standby_core::secret::Secret;
use standby_core::{ApiError, ErrorCode};

#[tokio::test]
async fn tokens_are_cached_shared_and_renewed_before_they_expire() {
    let lab = start().await;
    let arm = client(&lab);
    // Eight callers at once on a cold cache: one request to Entra.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let c = arm.clone();
        set.spawn(async move { c.usages(PRIMARY).await.map(|u| u.len()) });
    }
    while let Some(r) = set.join_next().await {
        assert!(r.unwrap().unwrap() > 0);
    }
    assert_eq!(arm.tokens_fetched(), 1);
    arm.usages(PRIMARY).await.unwrap();
    assert_eq!(arm.tokens_fetched(), 1, "the cached token is reused");

    // 3599 s tokens are renewed 5 minutes early: not at 3,290 s, yes at 3,300 s.
    advance(&lab, 3_290);
    arm.usages(PRIMARY).await.unwrap();
    assert_eq!(arm.tokens_fetched(), 1);
    advance(&lab, 10);
    arm.usages(PRIMARY).await.unwrap();
    assert_eq!(
        arm.tokens_fetched(),
        2,
        "renewed before expiry, by the clock"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_arm_calls_expired_is_dropped_and_the_call_retried_once() {
    let lab = start().await;
    // A client whose own clock stands still: only ARM can tell it the token expired.
    let frozen = Arc::new(ManualClock::new(lab.clock.now()));
    let arm = ArmClient::new(config(&lab), frozen).unwrap();
    arm.usages(PRIMARY).await.unwrap();
    advance(&lab, 3_600);
    let disks = arm.list_disks(&rg(&lab)).await.unwrap();
    assert!(!disks.is_empty());
    assert_eq!(
        arm.tokens_fetched(),
        2,
        "ExpiredAuthenticationToken -> one new token"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_auth_error() {
    let lab = start().await;
    let arm = client_with(&lab, |c| c.client_secret = Secret::new("not-the-secret"));
    let e = arm.list_disks(&rg(&lab)).await.unwrap_err();
    match &e {
        ArmError::Auth {
            code,
            explanation,
            error_codes,
            ..
        } => {
            assert_eq!(code, "invalid_client");
            assert_eq!(explanation, "the client secret is wrong or expired");
            assert_eq!(error_codes, &[7000215]);
        }
        other => panic!("expected an Auth error, got {other:?}"),
    }
    let api: ApiError = e.into();
    assert_eq!(api.code, ErrorCode::InvalidInput);
    assert!(
        api.message.contains("client secret is wrong"),
        "{}",
        api.message
    );
    assert!(
        !api.message.contains("not-the-secret"),
        "the secret never shows"
    );

    let arm = client_with(&lab, |c| {
        c.tenant_id = "00000000-0000-0000-0000-000000000000".into()
    });
    let e = arm.sign_in().await.unwrap_err();
    assert!(e.to_string().contains("unknown tenant"), "{e}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_busy_sign_in_endpoint_is_retried() {
    let lab = start().await;
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/azure:token",
        Some(json!({"fail_next": 2})),
    )
    .await;
    let arm = client(&lab);
    arm.sign_in().await.unwrap();
    assert_eq!(arm.tokens_fetched(), 1);
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/azure:token",
        Some(json!({"fail_next": 10})),
    )
    .await;
    let e = client(&lab).sign_in().await.unwrap_err();
    assert!(e.to_string().contains("busy or unavailable"), "{e}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn disks_are_listed_across_pages() {
    let lab = start().await; // 7 per page
    let arm = client(&lab);
    let disks = arm.list_disks(&rg(&lab)).await.unwrap();
    // 41 VMs' OS disks, 72 profiles and personal drives, the template image: 17 pages.
    assert_eq!(disks.len(), 114);
    let names: std::collections::HashSet<_> = disks.iter().map(|d| d.name.clone()).collect();
    assert_eq!(names.len(), 114, "no disk twice, none skipped");
    assert!(disks.iter().all(|d| d.size_bytes() > 0 && !d.id.is_empty()));
    let vms = arm.list_vms(&rg(&lab)).await.unwrap();
    assert_eq!(vms.len(), 41);
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_throttled_read_waits_retry_after_and_succeeds() {
    let lab = start().await;
    speed_up(&lab, 1.0); // the rate-limit window runs on lab time
                         // Without pre-emptive slowing, which would otherwise avoid the 429 altogether.
    let (arm, log) = recorded(&client_with(&lab, |c| c.retry.slow_down.reads_below = 0));
    let id = disk_id(&lab, "acme-pd-sandbox-osdisk");
    arm.get_disk(&id).await.unwrap();
    set_fault(
        &lab,
        json!({"rate_limit": {"requests": 1, "window_secs": 2}}),
    )
    .await;
    arm.get_disk(&id).await.unwrap();
    let t = Instant::now();
    let d = arm.get_disk(&id).await.unwrap();
    assert_eq!(d.name, "acme-pd-sandbox-osdisk");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "Retry-After was honoured"
    );
    let throttled: Vec<_> = log
        .lock()
        .iter()
        .filter_map(|p| match p {
            Progress::Throttled { wait, message } => Some((*wait, message.clone())),
            _ => None,
        })
        .collect();
    assert!(!throttled.is_empty(), "the wait is reported");
    assert!(throttled[0].0 >= Duration::from_secs(1));
    assert!(
        throttled[0].1.contains("exceeded"),
        "ARM's bare {{code, message}} is read"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_retry_after_longer_than_allowed_is_an_error_and_a_wait_can_be_cancelled() {
    let lab = start().await;
    let arm = client_with(&lab, |c| c.retry.slow_down.reads_below = 0);
    let id = disk_id(&lab, "acme-pd-sandbox-osdisk");
    arm.get_disk(&id).await.unwrap();
    set_fault(
        &lab,
        json!({"rate_limit": {"requests": 1, "window_secs": 1200}}),
    )
    .await;
    arm.get_disk(&id).await.unwrap();
    // 1200 s is more than this client may wait (5 s): surfaced, not slept through.
    match arm.get_disk(&id).await.unwrap_err() {
        ArmError::Throttled { retry_after, .. } => {
            assert_eq!(retry_after, Duration::from_secs(1200))
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    // A client allowed to wait that long waits, and stops at once when cancelled.
    let patient = client_with(&lab, |c| {
        c.retry.max_throttle_wait = Duration::from_secs(1800);
        c.retry.slow_down.reads_below = 0;
    });
    let cancel = CancelFlag::new();
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let watched = patient.watched(
        Watch::new()
            .with_cancel(cancel.clone())
            .on_progress(move |p| sink.lock().push(p.clone())),
    );
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let t = Instant::now();
    let e = watched.get_disk(&id).await.unwrap_err();
    stopper.await.unwrap();
    assert!(matches!(e, ArmError::Cancelled(_)), "{e:?}");
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(seen.lock().iter().any(|p| matches!(p,
        Progress::Throttled { wait, .. } if *wait == Duration::from_secs(1200))));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn reads_survive_503s_and_dropped_connections() {
    let lab = start().await;
    let (arm, log) = recorded(&client(&lab));
    let id = disk_id(&lab, "acme-pd-util-01-osdisk");
    set_fault(&lab, json!({"fail_next": 2})).await;
    assert_eq!(
        arm.get_disk(&id).await.unwrap().name,
        "acme-pd-util-01-osdisk"
    );
    set_fault(&lab, json!({"drop_next": 1})).await;
    assert_eq!(arm.list_disks(&rg(&lab)).await.unwrap().len(), 114);
    let retries = log
        .lock()
        .iter()
        .filter(|p| matches!(p, Progress::Retrying { .. }))
        .count();
    assert_eq!(retries, 3);

    // More failures than retries: an error, not a success.
    set_fault(&lab, json!({"fail_next": 10})).await;
    let e = arm.get_disk(&id).await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_low_ratelimit_remaining_slows_requests_down() {
    let lab = start().await;
    let arm = client_with(&lab, |c| {
        c.retry.slow_down.reads_below = 100;
        c.retry.slow_down.max_delay = Duration::from_millis(400);
    });
    let (arm, log) = recorded(&arm);
    let id = disk_id(&lab, "acme-pd-sandbox-osdisk");
    arm.get_disk(&id).await.unwrap();
    let t = Instant::now();
    for _ in 0..6 {
        arm.get_disk(&id).await.unwrap();
    }
    let unhurried = t.elapsed();
    assert!(log.lock().is_empty(), "12,000 reads left: no slowing");

    // 30 requests per hour: `remaining` drops to 29, 28, ... far below 100.
    set_fault(
        &lab,
        json!({"rate_limit": {"requests": 30, "window_secs": 3600}}),
    )
    .await;
    arm.get_disk(&id).await.unwrap();
    let t = Instant::now();
    for _ in 0..6 {
        arm.get_disk(&id).await.unwrap();
    }
    let slowed = t.elapsed();
    let delays: Vec<Duration> = log
        .lock()
        .iter()
        .filter_map(|p| match p {
            Progress::Slowing { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 6);
    // (1 - 29/100) * 400 ms = 284 ms and growing as the budget shrinks.
    assert!(delays[0] >= Duration::from_millis(280), "{delays:?}");
    assert!(delays.windows(2).all(|w| w[1] >= w[0]), "{delays:?}");
    let total: Duration = delays.iter().sum();
    assert!(total >= Duration::from_millis(1_700), "{delays:?}");
    assert!(
        slowed >= total,
        "the delays were waited: {slowed:?} < {total:?}"
    );
    assert!(slowed > unhurried, "slowed {slowed:?} vs {unhurried:?}");
    lab.shutdown().await.unwrap();
}
