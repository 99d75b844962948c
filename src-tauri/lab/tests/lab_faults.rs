//! Injected faults as a client sees them: 429 with Retry-After and ARM's rate-limit headers, 503 in
//! each API's shape, dropped connections, latency, endpoints down and back up.

#[path = "lab_client.rs"]
mod lab_client;

use std::time::{Duration, Instant};

use lab_client::*;
use serde_json::json;
use standby_lab::faults::{FaultSpec, RateLimit};

const PE: &str = "PrismGateway/services/rest/v2.0";

#[tokio::test]
async fn arm_rate_limit_answers_429_with_retry_after_and_counts_down() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/azure:arm",
        Some(json!({"rate_limit": {"requests": 3, "window_secs": 60}})),
    )
    .await;
    let url = arm.rg_url("disks", DISK_API);
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (s, h, _) = arm.get(&url).await;
        assert_eq!(s, 200);
        remaining.push(
            h["x-ms-ratelimit-remaining-subscription-reads"]
                .to_str()
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, vec![2, 1, 0]);
    let (s, h, body) = arm.get(&url).await;
    assert_eq!(s, 429);
    assert_eq!(h["retry-after"], "60");
    assert_eq!(
        body["code"], "TooManyRequests",
        "ARM throttling is the bare shape: {body}"
    );
    assert!(body.get("error").is_none());
    // The window runs on the lab clock.
    advance(&lab, 60);
    assert_eq!(arm.get(&url).await.0, 200);
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_fault_arm_still_reports_remaining_budgets() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let (_, h1, _) = arm.get(&arm.rg_url("disks", DISK_API)).await;
    let (_, h2, _) = arm.get(&arm.rg_url("disks", DISK_API)).await;
    let r = |h: &reqwest::header::HeaderMap| {
        h["x-ms-ratelimit-remaining-subscription-reads"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(r(&h1) - 1, r(&h2));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn next_requests_fail_with_503_in_each_shape() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    lab.faults()
        .set(
            "azure:arm",
            FaultSpec {
                fail_next: 2,
                ..Default::default()
            },
        )
        .unwrap();
    for _ in 0..2 {
        let (s, _, body) = arm.get(&arm.rg_url("disks", DISK_API)).await;
        assert_eq!(s, 503);
        assert_eq!(body["error"]["code"], "ServiceUnavailable");
    }
    assert_eq!(
        arm.get(&arm.rg_url("disks", DISK_API)).await.0,
        200,
        "exactly two failed"
    );

    lab.faults()
        .set(
            "prism:ahv-primary",
            FaultSpec {
                fail_next: 1,
                ..Default::default()
            },
        )
        .unwrap();
    let p = &lab.prism[0];
    let resp = prism_client(&lab, 0)
        .get(format!("{}{PE}/vms", p.base_url))
        .basic_auth(&p.username, Some(&p.password))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["message"].is_string() && body["error_code"]["code"].is_number(),
        "Prism shape: {body}"
    );

    lab.faults()
        .set(
            "azure:token",
            FaultSpec {
                fail_next: 1,
                ..Default::default()
            },
        )
        .unwrap();
    let resp = post_form(
        &azure_client(&lab),
        &token_url(&lab),
        &[("grant_type", "client_credentials")],
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["error"], "temporarily_unavailable",
        "Entra shape: {body}"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn prism_rate_limit_uses_prisms_shape() {
    let lab = start().await;
    lab.faults()
        .set(
            "prism:ahv-secondary",
            FaultSpec {
                rate_limit: Some(RateLimit {
                    requests: 1,
                    window_secs: 30,
                }),
                ..Default::default()
            },
        )
        .unwrap();
    let p = &lab.prism[1];
    let client = prism_client(&lab, 1);
    let get = || {
        client
            .get(format!("{}{PE}/vms", p.base_url))
            .basic_auth(&p.username, Some(&p.password))
            .send()
    };
    assert_ne!(get().await.unwrap().status(), 429);
    let resp = get().await.unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "30");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].is_string() && body["detailed_message"].is_string());
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn dropped_connections_are_connection_errors_not_answers() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    lab.faults()
        .set(
            "azure:arm",
            FaultSpec {
                drop_next: 1,
                ..Default::default()
            },
        )
        .unwrap();
    let err = arm
        .client
        .get(arm.rg_url("disks", DISK_API))
        .bearer_auth(&arm.token)
        .send()
        .await
        .expect_err("no answer comes");
    assert!(err.status().is_none(), "{err:?}");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(
        arm.get(&arm.rg_url("disks", DISK_API)).await.0,
        200,
        "only the next one is dropped"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn latency_delays_answers() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    lab.faults()
        .set(
            "azure:arm",
            FaultSpec {
                latency_ms: 300,
                jitter_ms: 50,
                seed: Some(1),
                ..Default::default()
            },
        )
        .unwrap();
    let t = Instant::now();
    assert_eq!(arm.get(&arm.rg_url("disks", DISK_API)).await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_endpoint_down_refuses_connections_until_brought_back() {
    let lab = start().await;
    let p = lab.prism[0].clone();
    control(
        &lab,
        reqwest::Method::POST,
        "endpoints/prism:ahv-primary/down",
        None,
    )
    .await;
    let reachable = |lab: &standby_lab::LabHandle| {
        lab.prism_lab().export_state()["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "ahv-primary")
            .unwrap()["reachable"]
            .clone()
    };
    assert_eq!(
        reachable(&lab),
        false,
        "the simulator knows its peer cannot reach it"
    );
    let client = prism_client(&lab, 0);
    let err = client
        .get(format!("{}{PE}/vms", p.base_url))
        .send()
        .await
        .expect_err("down");
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    for port in p.replication_ports {
        assert!(
            refused_soon(p.ip, port).await,
            "replication ports refuse too"
        );
    }
    control(
        &lab,
        reqwest::Method::POST,
        "endpoints/prism:ahv-primary/up",
        None,
    )
    .await;
    assert!(accepting_soon(p.ip, p.port).await);
    assert_eq!(reachable(&lab), true);
    let resp = client
        .get(format!("{}{PE}/vms", p.base_url))
        .basic_auth(&p.username, Some(&p.password))
        .send()
        .await
        .expect("back up on the same address");
    assert_eq!(resp.status(), 200);
    assert!(
        accepting_soon(p.ip, p.replication_ports[1]).await,
        "replication port back"
    );

    let arm = Arm::new(&lab).await;
    lab.set_down("azure:arm", true).unwrap();
    assert!(arm
        .client
        .get(arm.rg_url("disks", DISK_API))
        .send()
        .await
        .is_err());
    lab.set_down("azure:arm", false).unwrap();
    let arm_addr = lab.azure.arm_url.socket_addrs(|| None).unwrap()[0];
    assert!(accepting_soon(arm_addr.ip(), arm_addr.port()).await);
    assert_eq!(arm.get(&arm.rg_url("disks", DISK_API)).await.0, 200);
    lab.shutdown().await.unwrap();
}

/// The listener closes (or opens) asynchronously after the control call: poll briefly.
async fn refused_soon(ip: std::net::IpAddr, port: u16) -> bool {
    for _ in 0..40 {
        if tokio::net::TcpStream::connect((ip, port)).await.is_err() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

async fn accepting_soon(ip: std::net::IpAddr, port: u16) -> bool {
    for _ in 0..40 {
        if tokio::net::TcpStream::connect((ip, port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
