//! What an administrator does first, in the window, against the lab: add an AHV cluster by hand
//! (address, user, password, the certificate it presents, the live test) and an Azure
//! subscription (tenant, client id, secret, subscription, resource group, region, and the lab's
//! endpoints and CA under Advanced); enable DR on AHV through the remote-site wizard, with a
//! Test connection that fails on a wrong replication address and passes once it is fixed; enable
//! DR on Azure with the secondary region's quota headroom. Screenshots `setup-*.png`.

use fantoccini::Client;
use serde_json::Value;
use standby_tests::lab_control::LabControl;
use standby_tests::screens::{
    button, choose, click, click_button, click_label, fill, paste, save_screenshot, scroll_to,
    text_of, wait_for_heading, wait_for_text, wait_for_text_within, wait_until_gone,
};

const MODAL: &str = ".mantine-Modal-content";

fn colons(hex: &str) -> String {
    hex.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

fn cluster<'a>(endpoints: &'a Value, name: &str) -> &'a Value {
    endpoints["prism"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("the lab has no cluster {name}: {endpoints}"))
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn shot(client: &Client, name: &str) {
    save_screenshot(client, name).await.unwrap();
}

/// The check lines a CheckList shows in the open dialog, as (name and detail, passed).
async fn checks(client: &Client, scope: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for el in client
        .find_all(fantoccini::Locator::Css(&format!("{scope} [data-check]")))
        .await
        .unwrap()
    {
        let text = el.prop("textContent").await.unwrap().unwrap_or_default();
        let ok = el.attr("data-ok").await.unwrap().as_deref() == Some("true");
        out.push((text, ok));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a Secret Service; ./test runs it"]
async fn add_accounts_and_enable_dr_flows() {
    let data = tempfile::tempdir().unwrap();
    let (driver, client) = standby_tests::driver::on_lab(data.path()).await.unwrap();
    // What the lab prints at start: addresses, credentials, fingerprints, its CA.
    let lab = LabControl::of_app(&client).await.unwrap();
    let endpoints = lab.endpoints().await.unwrap();
    let primary = cluster(&endpoints, "ahv-primary");
    let secondary = cluster(&endpoints, "ahv-secondary");
    let azure = &endpoints["azure"];

    // ---- Add cloud account: an AHV cluster by hand -------------------------------------------
    click(&client, "nav [data-nav='cloud-accounts']")
        .await
        .unwrap();
    wait_for_heading(&client, "Cloud accounts").await.unwrap();
    click_button(&client, "Add cloud account").await.unwrap();
    wait_for_text(&client, MODAL, "Add a cloud account")
        .await
        .unwrap();
    fill(&client, "Account name", "ahv-prod").await.unwrap();
    fill(&client, "Cluster address", &s(&primary["ip"]))
        .await
        .unwrap();
    fill(&client, "Port", &s(&primary["port"])).await.unwrap();
    fill(&client, "User name", &s(&primary["username"]))
        .await
        .unwrap();
    fill(&client, "Password", &s(&primary["password"]))
        .await
        .unwrap();
    shot(&client, "setup-01-ahv-cluster").await;
    click_button(&client, "Next: check the certificate")
        .await
        .unwrap();
    // The fingerprint shown is the one the cluster presents (the lab says which).
    let expected = colons(&s(&primary["certificate_sha256"]));
    let fingerprint = wait_for_text(&client, "[data-testid='fingerprint']", &expected)
        .await
        .unwrap();
    assert_eq!(fingerprint.trim(), expected);
    let cert = text_of(&client, "[data-testid='certificate']")
        .await
        .unwrap();
    assert!(cert.contains("self-signed"), "{cert}");
    assert!(
        cert.contains(&s(&primary["ip"])),
        "the subject names the cluster: {cert}"
    );
    click_label(&client, "I compared this fingerprint")
        .await
        .unwrap();
    shot(&client, "setup-02-ahv-certificate").await;
    click_button(&client, "Trust and save").await.unwrap();
    wait_for_text_within(&client, MODAL, "ahv-prod is added and works", 60)
        .await
        .unwrap();
    let ahv_checks = checks(&client, MODAL).await;
    assert!(ahv_checks.len() >= 3, "{ahv_checks:?}");
    assert!(ahv_checks.iter().all(|(_, ok)| *ok), "{ahv_checks:?}");
    assert!(
        ahv_checks.iter().any(|(t, _)| t.contains("Sign-in")),
        "{ahv_checks:?}"
    );
    shot(&client, "setup-03-ahv-test-passed").await;
    click_button(&client, "Done").await.unwrap();
    wait_until_gone(&client, MODAL).await.unwrap();
    wait_for_text(&client, "main table", "ahv-prod")
        .await
        .unwrap();

    // ---- Add cloud account: an Azure subscription ---------------------------------------------
    click_button(&client, "Add cloud account").await.unwrap();
    wait_for_text(&client, MODAL, "Add a cloud account")
        .await
        .unwrap();
    click_label(&client, "Azure subscription").await.unwrap();
    fill(&client, "Account name", "azure-prod").await.unwrap();
    fill(&client, "Tenant ID", &s(&azure["tenant_id"]))
        .await
        .unwrap();
    fill(&client, "Client (application) ID", &s(&azure["client_id"]))
        .await
        .unwrap();
    fill(&client, "Client secret", &s(&azure["client_secret"]))
        .await
        .unwrap();
    fill(&client, "Subscription ID", &s(&azure["subscription_id"]))
        .await
        .unwrap();
    fill(&client, "Resource groups", &s(&azure["resource_group"]))
        .await
        .unwrap();
    fill(&client, "Region", &s(&azure["primary_region"]))
        .await
        .unwrap();
    // The lab stands for Azure's public cloud at its own addresses, with its own CA.
    click_button(&client, "Advanced").await.unwrap();
    fill(
        &client,
        "Resource Manager endpoint",
        s(&azure["arm_url"]).trim_end_matches('/'),
    )
    .await
    .unwrap();
    fill(
        &client,
        "Authority (Entra ID)",
        s(&azure["authority_url"]).trim_end_matches('/'),
    )
    .await
    .unwrap();
    paste(
        &client,
        "Extra trusted CA (PEM)",
        &s(&azure["ca_certificate_pem"]),
    )
    .await
    .unwrap();
    shot(&client, "setup-04-azure-subscription").await;
    click_button(&client, "Add and test").await.unwrap();
    wait_for_text_within(&client, MODAL, "azure-prod is added and works", 60)
        .await
        .unwrap();
    let az_checks = checks(&client, MODAL).await;
    assert!(az_checks.iter().all(|(_, ok)| *ok), "{az_checks:?}");
    assert!(
        az_checks.iter().any(|(t, _)| t.contains("Sign-in")),
        "{az_checks:?}"
    );
    shot(&client, "setup-05-azure-test-passed").await;
    click_button(&client, "Done").await.unwrap();
    wait_until_gone(&client, MODAL).await.unwrap();
    let table = wait_for_text(&client, "main table", "azure-prod")
        .await
        .unwrap();
    assert!(table.contains("ahv-prod"), "{table}");
    assert!(
        table.contains(&format!("{}:{}", s(&primary["ip"]), s(&primary["port"]))),
        "the AHV account's endpoint is the cluster typed in: {table}"
    );
    shot(&client, "setup-06-cloud-accounts").await;

    // ---- Enable DR on AHV: ahv-prod replicates to lab-ahv-secondary ---------------------------
    click(&client, "nav [data-nav='disaster-recovery']")
        .await
        .unwrap();
    wait_for_heading(&client, "Disaster recovery")
        .await
        .unwrap();
    click_label(&client, "Enable DR").await.unwrap();
    wait_for_text(&client, MODAL, "Enable disaster recovery")
        .await
        .unwrap();
    fill(&client, "Frame account", "acme-pd").await.unwrap();
    choose(&client, "Primary infrastructure", "ahv-prod")
        .await
        .unwrap();
    choose(&client, "Secondary infrastructure", "lab-ahv-secondary")
        .await
        .unwrap();
    shot(&client, "setup-07-dr-ahv-accounts").await;
    click_button(&client, "Next").await.unwrap();
    let found = wait_for_text_within(
        &client,
        "[data-testid='found']",
        "persistent resources to protect",
        60,
    )
    .await
    .unwrap();
    assert!(found.contains("acme-pd on ahv-prod"), "{found}");
    // Remote sites: the secondary's address is prefilled from its account. Type a wrong one, as
    // an administrator who mistypes the replication address would: nothing listens there.
    let right = s(&secondary["ip"]);
    let wrong = {
        let mut octets: Vec<u8> = right.split('.').map(|o| o.parse().unwrap()).collect();
        octets[3] = octets[3].wrapping_add(100);
        octets
            .iter()
            .map(|o| o.to_string())
            .collect::<Vec<_>>()
            .join(".")
    };
    let prefilled = button(&client, "Next").await.unwrap(); // the step is up
    drop(prefilled);
    fill(&client, "Address of the secondary", &wrong)
        .await
        .unwrap();
    shot(&client, "setup-08-dr-ahv-remote-sites-wrong-address").await;
    click_button(&client, "Next").await.unwrap();
    wait_for_text(&client, "[data-testid='vstore-mapping']", "holds acme-pd")
        .await
        .unwrap();
    shot(&client, "setup-09-dr-ahv-vstore-mapping").await;
    click_button(&client, "Next").await.unwrap();
    click_button(&client, "Test connection").await.unwrap();
    let failed = wait_for_text_within(
        &client,
        "[data-testid='connection-test']",
        "The clusters cannot replicate yet",
        90,
    )
    .await
    .unwrap();
    let bad: Vec<String> = checks(&client, "[data-testid='connection-test']")
        .await
        .into_iter()
        .filter(|(_, ok)| !ok)
        .map(|(t, _)| t)
        .collect();
    assert!(!bad.is_empty(), "{failed}");
    // Two real reasons, each explained: the primary cannot reach the mistyped address, and a
    // container holding the account's volumes is left unmapped (the lab's default container has
    // no namesake on the secondary, so nothing is preselected for it).
    assert!(
        bad.iter().any(|t| t.contains(&format!(
            "cannot reach the secondary cluster at {wrong}:2020"
        ))),
        "a failed check names the wrong address {wrong}: {bad:?}"
    );
    assert!(
        bad.iter()
            .any(|t| t.contains(&format!("{wrong}:2009 refused"))),
        "{bad:?}"
    );
    let unmapped: Vec<String> = bad
        .iter()
        .filter(|t| t.contains("holds resources of the account but is not mapped"))
        .map(|t| {
            t.split("Container ")
                .nth(1)
                .unwrap_or_default()
                .split(' ')
                .next()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(!unmapped.is_empty(), "{bad:?}");
    scroll_to(&client, "[data-testid='connection-test']")
        .await
        .unwrap();
    shot(&client, "setup-10-dr-ahv-test-failed").await;

    // The fix: back to the remote sites for the right address, then map the unmapped container,
    // then test again.
    click_button(&client, "Back to remote sites").await.unwrap();
    fill(&client, "Address of the secondary", &right)
        .await
        .unwrap();
    click_button(&client, "Next").await.unwrap();
    for container in &unmapped {
        choose(
            &client,
            &format!("Destination for {container}"),
            "SelfServiceContainer",
        )
        .await
        .unwrap();
    }
    let mapping = text_of(&client, "[data-testid='vstore-mapping']")
        .await
        .unwrap();
    assert!(!mapping.contains("choose a destination"), "{mapping}");
    shot(&client, "setup-11-dr-ahv-vstore-mapping-fixed").await;
    click_button(&client, "Next").await.unwrap();
    // The old result is on screen, marked stale: it was for another address.
    wait_for_text(
        &client,
        "[data-testid='connection-test']",
        "The settings changed since this test",
    )
    .await
    .unwrap();
    click_button(&client, "Test again").await.unwrap();
    wait_for_text_within(
        &client,
        "[data-testid='connection-test']",
        "The clusters can replicate",
        90,
    )
    .await
    .unwrap();
    let all = checks(&client, "[data-testid='connection-test']").await;
    assert!(all.iter().all(|(_, ok)| *ok), "{all:?}");
    let test = text_of(&client, "[data-testid='connection-test']")
        .await
        .unwrap();
    assert!(
        test.contains("Remote site lab-ahv-secondary: updated"),
        "{test}"
    );
    scroll_to(&client, "[data-testid='connection-test']")
        .await
        .unwrap();
    shot(&client, "setup-12-dr-ahv-test-passed").await;
    click_button(&client, "Next: backup policies")
        .await
        .unwrap();
    shot(&client, "setup-13-dr-ahv-backup-policies").await;
    click_button(&client, "Next: summary").await.unwrap();
    let summary = wait_for_text(&client, "[data-testid='summary']", "Protection domain")
        .await
        .unwrap();
    assert!(
        summary.contains(&format!("lab-ahv-secondary → {right}:2020")),
        "{summary}"
    );
    assert!(summary.contains("standby-acme-pd"), "{summary}");
    shot(&client, "setup-14-dr-ahv-summary").await;
    click_button(&client, "Enable").await.unwrap();
    let enabled = wait_for_text_within(
        &client,
        "[data-testid='enabled']",
        "Disaster recovery is enabled for acme-pd",
        120,
    )
    .await
    .unwrap();
    assert!(
        enabled.contains("replicate to lab-ahv-secondary"),
        "{enabled}"
    );
    shot(&client, "setup-15-dr-ahv-enabled").await;
    click_button(&client, "Done").await.unwrap();
    wait_until_gone(&client, MODAL).await.unwrap();
    let configs = wait_for_text(&client, "[data-testid='dr-configs']", "ahv-prod")
        .await
        .unwrap();
    assert!(
        configs.contains("lab-ahv-secondary (AHV cluster)"),
        "{configs}"
    );

    // ---- Enable DR on Azure: azure-prod replicates to the secondary region --------------------
    click_label(&client, "Enable DR").await.unwrap();
    wait_for_text(&client, MODAL, "Enable disaster recovery")
        .await
        .unwrap();
    fill(&client, "Frame account", "acme-pd").await.unwrap();
    choose(&client, "Primary infrastructure", "azure-prod")
        .await
        .unwrap();
    shot(&client, "setup-16-dr-azure-accounts").await;
    click_button(&client, "Next").await.unwrap();
    let found = wait_for_text_within(
        &client,
        "[data-testid='found']",
        "acme-pd on azure-prod",
        60,
    )
    .await
    .unwrap();
    let azure_protected: u32 = found
        .split(": ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {found:?}"));
    let region = s(&azure["secondary_region"]);
    fill(&client, "Secondary region", &region).await.unwrap();
    fill(
        &client,
        "Resource group for replicas",
        &s(&azure["secondary_resource_group"]),
    )
    .await
    .unwrap();
    click_button(&client, "Check region").await.unwrap();
    let check = wait_for_text_within(&client, "[data-testid='region-check']", "Quota of", 60)
        .await
        .unwrap();
    assert!(
        check.contains(&format!("{region} is usable")),
        "the lab's secondary region has room: {check}"
    );
    // The headroom of each counter the account needs in the secondary region: its disks by SKU
    // and a snapshot per protected resource and replica kept (7 by default).
    let mut rows = Vec::new();
    for row in client
        .find_all(fantoccini::Locator::Css(
            "[data-testid='quota'] tr[data-quota]",
        ))
        .await
        .unwrap()
    {
        rows.push(row.prop("textContent").await.unwrap().unwrap_or_default());
    }
    for counter in [
        "Premium SSD managed disks",
        "Standard SSD managed disks",
        "snapshots",
    ] {
        let row = rows.iter().find(|r| r.starts_with(counter));
        assert!(
            row.is_some_and(|r| r.ends_with("enough")),
            "{counter}: {rows:?}"
        );
    }
    let snapshots = rows.iter().find(|r| r.starts_with("snapshots")).unwrap();
    assert!(
        snapshots.contains(&(azure_protected * 7).to_string()),
        "{azure_protected} resources x 7 replicas: {snapshots}"
    );
    shot(&client, "setup-17-dr-azure-region-quota").await;
    click_button(&client, "Next: backup policies")
        .await
        .unwrap();
    click_button(&client, "Next: summary").await.unwrap();
    let summary = wait_for_text(&client, "[data-testid='summary']", "Secondary region")
        .await
        .unwrap();
    assert!(summary.contains(&region), "{summary}");
    shot(&client, "setup-18-dr-azure-summary").await;
    click_button(&client, "Enable").await.unwrap();
    let enabled = wait_for_text_within(
        &client,
        "[data-testid='enabled']",
        "Disaster recovery is enabled for acme-pd",
        120,
    )
    .await
    .unwrap();
    assert!(
        enabled.contains(&format!("replicate to {region}")),
        "{enabled}"
    );
    shot(&client, "setup-19-dr-azure-enabled").await;
    click_button(&client, "Done").await.unwrap();
    wait_until_gone(&client, MODAL).await.unwrap();
    let configs = wait_for_text(&client, "[data-testid='dr-configs']", "azure-prod")
        .await
        .unwrap();
    assert!(
        configs.contains(&format!("{region} (Azure region")),
        "{configs}"
    );
    assert!(configs.contains("ahv-prod"), "{configs}");
    shot(&client, "setup-20-dr-configurations").await;

    client.close().await.unwrap();
    drop(driver);
}
