//! Inventory discovery by Frame's tags and the DR wizard's region and quota checks, against the
//! lab's seeded account (36 users).

mod azure_support;

use std::collections::HashMap;

use azure_support::*;
use standby_core::inventory::{PowerState, ResourceKind, TEMPLATE_NOT_PROTECTED};
use standby_core::providers::azure::setup::DrNeeds;
use standby_core::providers::azure::MappingOverride;

#[tokio::test]
async fn discovery_finds_the_accounts_resources_by_kind_with_owner_and_power() {
    let lab = start().await;
    let arm = client(&lab);
    let found = arm.discover("acme-pd", &[rg(&lab)], &[]).await.unwrap();
    let mut by_kind: HashMap<ResourceKind, usize> = HashMap::new();
    for r in &found {
        *by_kind.entry(r.kind).or_default() += 1;
    }
    assert_eq!(by_kind[&ResourceKind::Sandbox], 1);
    assert_eq!(by_kind[&ResourceKind::UtilityServer], 2);
    assert_eq!(by_kind[&ResourceKind::PersistentDesktop], 38);
    assert_eq!(by_kind[&ResourceKind::EnterpriseProfile], 36);
    assert_eq!(by_kind[&ResourceKind::PersonalDrive], 36);
    assert_eq!(by_kind[&ResourceKind::TemplateImage], 1);
    assert_eq!(found.len(), 114);

    let template: Vec<_> = found
        .iter()
        .filter(|r| r.kind == ResourceKind::TemplateImage)
        .collect();
    assert_eq!(
        template[0].not_protected_reason.as_deref(),
        Some(TEMPLATE_NOT_PROTECTED)
    );
    assert!(found
        .iter()
        .filter(|r| r.kind != ResourceKind::TemplateImage)
        .all(|r| r.not_protected_reason.is_none()));

    // OS disks carry their VM's power state, as the lab has it.
    let on = running_vms(&lab);
    let off = deallocated_vms(&lab);
    let vm_roles = [
        ResourceKind::Sandbox,
        ResourceKind::UtilityServer,
        ResourceKind::PersistentDesktop,
    ];
    for r in found.iter().filter(|r| vm_roles.contains(&r.kind)) {
        let expected = if on.contains(&r.name) {
            PowerState::On
        } else {
            assert!(off.contains(&r.name), "{}", r.name);
            PowerState::Off
        };
        assert_eq!(r.power, Some(expected), "{}", r.name);
        assert!(r.vm_id.is_some());
        assert!(r
            .provider_id
            .to_lowercase()
            .ends_with(&format!("/disks/{}-osdisk", r.name)));
    }
    assert!(found
        .iter()
        .filter(|r| r.kind == ResourceKind::PersistentDesktop)
        .any(|r| r.desktop_state.is_some()));
    let drives = found
        .iter()
        .filter(|r| r.kind == ResourceKind::PersonalDrive);
    assert!(drives
        .clone()
        .all(|r| r.owner.as_deref().is_some_and(|o| o.contains('@'))));
    assert!(drives
        .clone()
        .all(|r| r.location == PRIMARY && r.size_bytes > 0.0));

    // Another account's name finds nothing.
    assert!(arm
        .discover("someone-else", &[rg(&lab)], &[])
        .await
        .unwrap()
        .is_empty());
    lab.shutdown().await.unwrap();
}

/// ARM reads the lab has counted so far (from `x-ms-ratelimit-remaining-subscription-reads` of
/// one more read, which is not counted in the answer).
async fn reads_so_far(
    lab: &standby_lab::LabHandle,
    arm: &standby_core::providers::azure::ArmClient,
) -> u64 {
    let url = arm.url(
        &format!(
            "/subscriptions/{}/providers/Microsoft.Compute/locations/{PRIMARY}/usages",
            lab.azure.subscription_id
        ),
        &arm.api_versions().compute,
        &[],
    );
    let r = arm
        .send(
            reqwest::Method::GET,
            url,
            None,
            standby_core::providers::azure::client::Repeat::Safe,
        )
        .await
        .unwrap();
    let remaining: u64 = r
        .header("x-ms-ratelimit-remaining-subscription-reads")
        .unwrap()
        .parse()
        .unwrap();
    12_000 - remaining - 1
}

/// Power states come from the subscription's `statusOnly=true` VM list, one read per page, not
/// from one instance view per VM: discovery costs the pages of three lists.
#[tokio::test]
async fn discovery_reads_power_states_in_pages_not_one_instance_view_per_vm() {
    let lab = start().await;
    let arm = client(&lab);
    let found = arm.discover("acme-pd", &[rg(&lab)], &[]).await.unwrap();
    let reads = reads_so_far(&lab, &arm).await;
    let desktops = found
        .iter()
        .filter(|r| r.kind == ResourceKind::PersistentDesktop)
        .count();
    assert!(found.iter().filter(|r| r.power.is_some()).count() > desktops);

    let disks = arm.list_disks(&rg(&lab)).await.unwrap().len();
    let vms = arm.list_vms(&rg(&lab)).await.unwrap().len();
    let mut in_subscription = 0;
    arm.for_each_vm_status(|page| in_subscription += page.len())
        .await
        .unwrap();
    let pages = |n: usize| n.div_ceil(7).max(1) as u64; // LabConfig::for_tests: 7 a page
    assert!(vms > 7 && in_subscription >= vms);
    assert_eq!(
        reads,
        pages(disks) + pages(vms) + pages(in_subscription),
        "{vms} VMs: no instance view read one by one"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_administrator_corrects_the_mapping() {
    let lab = start().await;
    let arm = client(&lab);
    let found = arm.discover("acme-pd", &[rg(&lab)], &[]).await.unwrap();
    let profile = found
        .iter()
        .find(|r| r.kind == ResourceKind::EnterpriseProfile)
        .unwrap();
    let desk = found
        .iter()
        .find(|r| r.kind == ResourceKind::PersistentDesktop)
        .unwrap();
    let overrides = vec![
        MappingOverride {
            // Case and leading slash do not matter.
            provider_id: profile.provider_id.trim_start_matches('/').to_uppercase(),
            kind: Some(ResourceKind::PersonalDrive),
            owner: Some("someone.else@acme-pd.example".into()),
            exclude: false,
        },
        MappingOverride {
            // By the VM's id: applies to its OS disk.
            provider_id: desk.vm_id.clone().unwrap(),
            kind: None,
            owner: None,
            exclude: true,
        },
    ];
    let corrected = arm
        .discover("acme-pd", &[rg(&lab)], &overrides)
        .await
        .unwrap();
    assert_eq!(corrected.len(), found.len() - 1);
    assert!(!corrected.iter().any(|r| r.provider_id == desk.provider_id));
    let p = corrected
        .iter()
        .find(|r| r.provider_id == profile.provider_id)
        .unwrap();
    assert_eq!(p.kind, ResourceKind::PersonalDrive);
    assert_eq!(p.owner.as_deref(), Some("someone.else@acme-pd.example"));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_secondary_region_is_checked_and_its_quota_warned_about_with_numbers() {
    let lab = start().await;
    let arm = client(&lab);
    let resources = arm.discover("acme-pd", &[rg(&lab)], &[]).await.unwrap();
    let disks = arm.list_disks(&rg(&lab)).await.unwrap();
    let needs = DrNeeds::for_account(&resources, &disks, 3);
    // 113 protected resources, 3 replicas each; the template image needs nothing.
    assert_eq!(needs.by_usage["StandardSnapshotCount"], 339);
    assert_eq!(needs.by_usage["PremiumDiskCount"], 41);
    assert_eq!(needs.by_usage["StandardSSDDiskCount"], 72);

    let fine = arm
        .check_dr_region(PRIMARY, SECONDARY, &needs)
        .await
        .unwrap();
    assert!(fine.usable(), "{:?}", fine.problems);
    assert!(fine.quota.ok(), "{:?}", fine.quota);

    // A region with a small snapshot quota, one snapshot already there.
    let mut settings = lab.azure_lab().settings();
    settings.limits.snapshots = 50;
    lab.azure_lab().set_settings(settings);
    let src = arm
        .snapshot_disk(&standby_core::providers::azure::snapshots::NewSnapshot {
            resource_group: rg(&lab),
            name: "q-src".into(),
            location: PRIMARY.into(),
            disk: disk_id(&lab, "acme-pd-sandbox-osdisk"),
            tags: Default::default(),
        })
        .await
        .unwrap();
    arm.start_copy(&standby_core::providers::azure::snapshots::NewCopy {
        resource_group: dr_rg(&lab),
        name: "q-dr".into(),
        location: SECONDARY.into(),
        source: src.resource_id().unwrap(),
        tags: Default::default(),
        enhanced_speed: false,
    })
    .await
    .unwrap();
    let tight = arm
        .check_dr_region("West Europe", SECONDARY, &needs)
        .await
        .unwrap();
    assert!(tight.usable());
    assert!(!tight.quota.ok());
    let snaps = tight
        .quota
        .lines
        .iter()
        .find(|l| l.code == "StandardSnapshotCount")
        .unwrap();
    assert_eq!(
        (snaps.current, snaps.limit, snaps.needed, snaps.ok),
        (1, 50, 339, false)
    );
    assert_eq!(
        tight.quota.warnings(),
        vec!["northeurope: 1 of 50 snapshots in use; this account needs 339 more".to_string()]
    );
    assert!(tight
        .quota
        .lines
        .iter()
        .filter(|l| l.code != "StandardSnapshotCount")
        .all(|l| l.ok));

    let same = arm
        .check_dr_region(PRIMARY, "West Europe", &needs)
        .await
        .unwrap();
    assert!(!same.usable());
    assert!(
        same.problems[0].contains("must differ"),
        "{:?}",
        same.problems
    );

    let elsewhere = arm
        .check_dr_region(PRIMARY, "southcentralus", &needs)
        .await
        .unwrap();
    assert!(!elsewhere.usable());
    assert!(
        elsewhere.problems[0].contains("LocationNotAvailableForResourceType"),
        "{:?}",
        elsewhere.problems
    );
    lab.shutdown().await.unwrap();
}
