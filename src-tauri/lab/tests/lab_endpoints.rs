//! Every endpoint answers over real HTTPS with the certificate it should present; replication ports
//! accept TCP; the control API reports state; a rotated certificate changes the fingerprint.

#[path = "lab_client.rs"]
mod lab_client;

use lab_client::*;
use serde_json::Value;

const PE: &str = "PrismGateway/services/rest/v2.0";

#[tokio::test]
async fn each_endpoint_answers_over_https_with_its_own_certificate() {
    let lab = start().await;
    assert_eq!(lab.prism.len(), 2);
    assert_eq!(lab.prism[0].name, "ahv-primary");
    assert_ne!(
        lab.prism[0].ip, lab.prism[1].ip,
        "each cluster has its own address"
    );

    for (i, p) in lab.prism.iter().enumerate() {
        // Trusting the cluster's own self-signed certificate works...
        let resp = prism_client(&lab, i)
            .get(format!("{}{PE}/cluster", p.base_url))
            .basic_auth(&p.username, Some(&p.password))
            .send()
            .await
            .expect("the cluster answers over TLS");
        assert!(resp.status().as_u16() < 500, "{}", resp.status());
        // ...and the other cluster's certificate does not.
        let other = prism_client(&lab, 1 - i)
            .get(format!("{}{PE}/cluster", p.base_url))
            .send()
            .await;
        assert!(
            other.is_err(),
            "a client pinned to another cluster must not connect"
        );
        for port in p.replication_ports {
            tokio::net::TcpStream::connect((p.ip, port))
                .await
                .expect("replication port accepts TCP");
        }
    }

    // ARM and the token endpoint chain to the lab CA; a client without it refuses them.
    let t = token(&lab).await;
    assert!(t.split('.').count() == 3);
    let untrusting = client_trusting(&[&lab.prism[0].certificate_pem]);
    assert!(untrusting
        .get(lab.azure.arm_url.as_str())
        .send()
        .await
        .is_err());

    let state = control(&lab, reqwest::Method::GET, "state", None).await;
    assert!(state["azure"]["disks"].as_object().unwrap().len() > 100);
    assert!(state["prism"].is_object() || state["prism"].is_array());
    assert_eq!(
        state["endpoints"]["azure"]["subscription_id"],
        lab.azure.subscription_id.as_str()
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn rotating_a_cluster_certificate_changes_its_fingerprint_live() {
    let lab = start().await;
    let p = lab.prism[0].clone();
    let old_pem = p.certificate_pem.clone();
    let rotated: Value = control(
        &lab,
        reqwest::Method::POST,
        "certificates/ahv-primary/rotate",
        None,
    )
    .await;
    let new_fp = rotated["certificate_sha256"].as_str().unwrap().to_string();
    assert_ne!(new_fp, p.certificate_sha256);
    assert_eq!(
        lab.prism_certificate("ahv-primary").unwrap().sha256_hex(),
        new_fp
    );
    let new_pem = rotated["certificate_pem"].as_str().unwrap().to_string();

    let url = format!("{}{PE}/cluster", p.base_url);
    let old = client_trusting(&[&old_pem]).get(&url).send().await;
    assert!(old.is_err(), "the old certificate is no longer served");
    let new = client_trusting(&[&new_pem]).get(&url).send().await;
    assert!(new.is_ok(), "the new certificate is served: {new:?}");
    // The other cluster is untouched.
    assert_eq!(
        lab.prism_certificate("ahv-secondary").unwrap().sha256_hex(),
        lab.prism[1].certificate_sha256
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn control_api_moves_time() {
    let lab = start().await;
    let before = lab.clock.now();
    let after = control(
        &lab,
        reqwest::Method::POST,
        "time/advance",
        Some(serde_json::json!({"seconds": 3600})),
    )
    .await;
    let now: chrono::DateTime<chrono::Utc> = serde_json::from_value(after["now"].clone()).unwrap();
    assert_eq!((now - before).num_seconds(), 3600);
    lab.shutdown().await.unwrap();
}
