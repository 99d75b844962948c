//! `standby --lab`: starts the lab in-process and registers its clusters and subscription as
//! cloud accounts (through `standby_core::lab_registration`, like any account).

use standby_core::lab_registration::{LabCluster, LabSubscription};
use standby_core::secret::Secret;
use standby_lab::{LabConfig, LabHandle};

/// The lab's objects in the words of `standby-core`.
pub fn registration(lab: &LabHandle) -> (Vec<LabCluster>, LabSubscription) {
    let clusters = lab
        .prism
        .iter()
        .map(|p| LabCluster {
            name: p.name.clone(),
            address: p.ip.to_string(),
            port: p.port,
            username: p.username.clone(),
            password: Secret::new(p.password.clone()),
            certificate_sha256: p.certificate_sha256.clone(),
            guest_agent_url: format!("{}prism/{}/guest-agent", control(lab), p.name),
        })
        .collect();
    let a = &lab.azure;
    let subscription = LabSubscription {
        tenant_id: a.tenant_id.clone(),
        client_id: a.client_id.clone(),
        client_secret: Secret::new(a.client_secret.clone()),
        subscription_id: a.subscription_id.clone(),
        resource_groups: vec![a.resource_group.clone()],
        primary_region: a.primary_region.clone(),
        arm_url: a.arm_url.to_string(),
        authority_url: a.authority_url.to_string(),
        ca_certificate_pem: a.ca_certificate_pem.clone(),
        guest_agent_url: format!("{}azure/guest-agent", control(lab)),
    };
    (clusters, subscription)
}

/// The control API's base (`http://host:port/_lab/`), where the simulated guest agents answer.
fn control(lab: &LabHandle) -> String {
    format!("{}/_lab/", lab.control_url.as_str().trim_end_matches('/'))
}

/// The default run's lab: documented addresses when free, state kept in the data folder so that
/// its certificates (and so the pinned fingerprints) survive a restart.
pub fn config(data_dir: &std::path::Path) -> LabConfig {
    LabConfig {
        state_dir: Some(data_dir.join("lab")),
        fixed_addresses: true,
        ..LabConfig::default()
    }
}
