//! With a state folder, a restarted lab keeps its resources, addresses, certificates (so pinning
//! survives), tokens and the clock's lead; without one, nothing touches the disk.

#[path = "lab_client.rs"]
mod lab_client;

use lab_client::*;
use standby_lab::LabConfig;

#[tokio::test]
async fn state_survives_a_restart_with_a_state_dir() {
    let dir = temp_dir("persist");
    let config = || LabConfig {
        state_dir: Some(dir.clone()),
        ..LabConfig::for_tests()
    };
    let lab = start_with(config()).await;
    let arm = Arm::new(&lab).await;
    let (s, _) = arm
        .snapshot_disk("kept-snap", "acme-pd-desk-0001-osdisk", "westeurope")
        .await;
    assert_eq!(s, 200);
    control(
        &lab,
        reqwest::Method::POST,
        "certificates/ahv-secondary/rotate",
        None,
    )
    .await;
    let fingerprints: Vec<String> = ["ahv-primary", "ahv-secondary"]
        .iter()
        .map(|c| lab.prism_certificate(c).unwrap().sha256_hex())
        .collect();
    let addresses: Vec<_> = lab.prism.iter().map(|p| (p.ip, p.port)).collect();
    let ca = lab.azure.ca_certificate_pem.clone();
    let token = arm.token.clone();
    lab.shutdown().await.unwrap();
    assert!(dir.join("lab-state.json").is_file());
    assert!(dir.join("certs/lab-ca.pem").is_file());

    let lab = start_with(config()).await;
    let again: Vec<String> = lab
        .prism
        .iter()
        .map(|p| p.certificate_sha256.clone())
        .collect();
    assert_eq!(
        again, fingerprints,
        "pinned certificates survive, including a rotated one"
    );
    assert_eq!(
        lab.prism.iter().map(|p| (p.ip, p.port)).collect::<Vec<_>>(),
        addresses
    );
    assert_eq!(lab.azure.ca_certificate_pem, ca);
    let arm2 = Arm {
        token,
        ..Arm::new(&lab).await
    };
    let (s, _, body) = arm2
        .get(&arm2.rg_url("snapshots/kept-snap", DISK_API))
        .await;
    assert_eq!(
        s, 200,
        "the snapshot and the old token both survive: {body}"
    );
    assert_eq!(body["properties"]["incremental"], true);
    lab.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn changes_are_saved_shortly_after_they_happen() {
    let dir = temp_dir("debounce");
    let lab = start_with(LabConfig {
        state_dir: Some(dir.clone()),
        ..LabConfig::for_tests()
    })
    .await;
    let arm = Arm::new(&lab).await;
    arm.snapshot_disk("soon-saved", "acme-pd-desk-0002-osdisk", "westeurope")
        .await;
    let file = dir.join("lab-state.json");
    let mut saved = false;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("soon-saved")
        {
            saved = true;
            break;
        }
    }
    assert!(saved, "saved within a few seconds without a shutdown");
    drop(lab);
    let _ = std::fs::remove_dir_all(&dir);
}
