//! ARM behaviour: api-version checks, paging, the seeded account, snapshots, restores, resize,
//! power operations through their async operations, OS-disk swap and data-disk moves, usages, and
//! validation errors in ARM's shape.

#[path = "lab_client.rs"]
mod lab_client;

use lab_client::*;
use serde_json::{json, Value};

#[tokio::test]
async fn api_version_is_required_and_checked_per_resource_type() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let no_version = arm
        .rg_url("disks", DISK_API)
        .replace("?api-version=2025-01-02", "");
    let (s, _, body) = arm.get(&no_version).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let (s, _, body) = arm.get(&arm.rg_url("disks", COMPUTE_API)).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("2025-01-02"));
    let (s, _, _) = arm.get(&arm.rg_url("virtualMachines", COMPUTE_API)).await;
    assert_eq!(s, 200);
    let (s, _, _) = arm.get(&arm.rg_url("virtualMachines", DISK_API)).await;
    assert_eq!(s, 400);
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn disks_page_with_next_link_and_carry_the_frame_tags() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let (s, _, first) = arm.get(&arm.rg_url("disks", DISK_API)).await;
    assert_eq!(s, 200);
    assert_eq!(
        first["value"].as_array().unwrap().len(),
        7,
        "the test page size"
    );
    assert!(first["nextLink"]
        .as_str()
        .unwrap()
        .starts_with(arm.base.as_str()));

    let mut url = arm.rg_url("disks", DISK_API);
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let (s, _, v) = arm.get(&url).await;
        assert_eq!(s, 200);
        pages += 1;
        all.extend(v["value"].as_array().unwrap().clone());
        match v["nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    // 36 users: 41 VMs' OS disks (sandbox, 2 utility servers, 38 desktops), 72 volumes, the template image.
    assert_eq!(all.len(), 41 + 72 + 1);
    assert_eq!(pages, all.len().div_ceil(7));
    let names: std::collections::HashSet<_> = all
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), all.len(), "no disk twice across pages");
    assert!(all.iter().all(|d| d["tags"]["frame.account"] == "acme-pd"));
    let template: Vec<_> = all
        .iter()
        .filter(|d| d["tags"]["frame.role"] == "template-image")
        .collect();
    assert_eq!(template.len(), 1);
    let profile = all
        .iter()
        .find(|d| d["tags"]["frame.role"] == "enterprise-profile" && d["managedBy"].is_string())
        .unwrap();
    assert!(profile["tags"]["frame.owner"]
        .as_str()
        .unwrap()
        .contains('@'));
    assert_eq!(profile["properties"]["diskState"], "Attached");

    // Ids are case-insensitive and may lack the leading slash.
    let odd = format!("{}/SUBSCRIPTIONS/{}/resourcegroups/{}/providers/microsoft.compute/DISKS/ACME-PD-SANDBOX-OSDISK?api-version={DISK_API}", arm.base, arm.sub, arm.rg.to_uppercase());
    let (s, _, d) = arm.get(&odd).await;
    assert_eq!(s, 200);
    assert_eq!(d["name"], "acme-pd-sandbox-osdisk");
    lab.shutdown().await.unwrap();
}

async fn wait_operation(
    lab: &standby_lab::LabHandle,
    arm: &Arm,
    headers: &reqwest::header::HeaderMap,
    secs: u64,
) -> Value {
    let op_url = headers["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(headers.contains_key("location"));
    assert!(headers["retry-after"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    let (s, _, v) = arm.get(&op_url).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "InProgress");
    let (s, _, _) = arm.get(headers["location"].to_str().unwrap()).await;
    assert_eq!(s, 202, "Location answers 202 while running");
    advance(lab, secs);
    let (s, _, v) = arm.get(&op_url).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "Succeeded", "{v}");
    let (s, _, _) = arm.get(headers["location"].to_str().unwrap()).await;
    assert_eq!(s, 200);
    v
}

async fn power_state(arm: &Arm, vm: &str) -> String {
    let (s, _, v) = arm
        .get(&arm.rg_url(&format!("virtualMachines/{vm}/instanceView"), COMPUTE_API))
        .await;
    assert_eq!(s, 200);
    v["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["code"].as_str())
        .find(|c| c.starts_with("PowerState/"))
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn backup_restore_cycle_with_deallocate_swap_and_start() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    // A running utility server.
    let vm = "acme-pd-util-01";
    assert_eq!(power_state(&arm, vm).await, "PowerState/running");
    let (s, snap) = arm
        .snapshot_disk("util-01-bk1", "acme-pd-util-01-osdisk", "westeurope")
        .await;
    assert_eq!(s, 200, "{snap}");
    assert_eq!(snap["properties"]["incremental"], true);
    assert_eq!(snap["properties"]["provisioningState"], "Succeeded");
    assert!(snap["properties"]["incrementalSnapshotFamilyId"].is_string());

    // Restore: a disk from the snapshot (long-running).
    let (s, h, disk) = arm
        .put(
            &arm.rg_url("disks/util-01-restored", DISK_API),
            json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": arm.id("snapshots/util-01-bk1")}}}),
        )
        .await;
    assert_eq!(s, 202, "{disk}");
    assert_eq!(disk["properties"]["provisioningState"], "Updating");
    wait_operation(&lab, &arm, &h, 5).await;
    let (_, _, disk) = arm
        .get(&arm.rg_url("disks/util-01-restored", DISK_API))
        .await;
    assert_eq!(disk["properties"]["provisioningState"], "Succeeded");
    assert_eq!(disk["properties"]["diskSizeGB"], 100);

    // Swapping the OS disk of a running VM is refused.
    let swap = json!({"location": "westeurope", "properties": {"storageProfile": {"osDisk": {"managedDisk": {"id": arm.id("disks/util-01-restored")}}}}});
    let (s, _, body) = arm
        .patch(
            &arm.rg_url(&format!("virtualMachines/{vm}"), COMPUTE_API),
            swap.clone(),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "{body}"
    );

    // Deallocate through the async operation, then swap, then start.
    let (s, h, _) = arm
        .post(
            &arm.rg_url(&format!("virtualMachines/{vm}/deallocate"), COMPUTE_API),
            None,
        )
        .await;
    assert_eq!(s, 202);
    assert_eq!(power_state(&arm, vm).await, "PowerState/deallocating");
    wait_operation(&lab, &arm, &h, 30).await;
    assert_eq!(power_state(&arm, vm).await, "PowerState/deallocated");
    let (s, _, body) = arm
        .put(
            &arm.rg_url(&format!("virtualMachines/{vm}"), COMPUTE_API),
            swap,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["properties"]["storageProfile"]["osDisk"]["name"],
        "util-01-restored"
    );
    let (_, _, old) = arm
        .get(&arm.rg_url("disks/acme-pd-util-01-osdisk", DISK_API))
        .await;
    assert!(
        old.get("managedBy").is_none(),
        "the old OS disk is released: {old}"
    );
    let (s, _, body) = arm
        .delete(&arm.rg_url("disks/util-01-restored", DISK_API))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "attached disks cannot be deleted"
    );
    let (s, h, _) = arm
        .post(
            &arm.rg_url(&format!("virtualMachines/{vm}/start"), COMPUTE_API),
            None,
        )
        .await;
    assert_eq!(s, 202);
    wait_operation(&lab, &arm, &h, 20).await;
    assert_eq!(power_state(&arm, vm).await, "PowerState/running");

    let (s, h, _) = arm
        .post(
            &arm.rg_url(&format!("virtualMachines/{vm}/powerOff"), COMPUTE_API),
            None,
        )
        .await;
    assert_eq!(s, 202);
    wait_operation(&lab, &arm, &h, 15).await;
    assert_eq!(power_state(&arm, vm).await, "PowerState/stopped");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn resize_grows_only_and_respects_running_vms() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let url = arm.rg_url("disks/acme-pd-util-02-osdisk", DISK_API);
    let (s, _, body) = arm
        .patch(&url, json!({"properties": {"diskSizeGB": 200}}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "OS disk of a running VM: {body}"
    );

    // A data disk of a running desktop may grow live.
    let drives = disks_with_role(&arm, "personal-drive").await;
    let attached = drives.iter().find(|d| d["managedBy"].is_string()).unwrap();
    let name = attached["name"].as_str().unwrap();
    let durl = arm.rg_url(&format!("disks/{name}"), DISK_API);
    let (s, _, body) = arm
        .patch(&durl, json!({"properties": {"diskSizeGB": 60}}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["properties"]["diskSizeGB"], 60);
    let (s, _, body) = arm
        .patch(&durl, json!({"properties": {"diskSizeGB": 55}}))
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("BadRequest")),
        "never shrinks"
    );
    // The guest agent sees the new free space.
    let guest = control(&lab, reqwest::Method::GET, "azure/guest/disks", None).await;
    let g = guest["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == name)
        .unwrap();
    assert_eq!(g["size_gb"], 60);
    assert!(g["free_gb"].as_f64().unwrap() > 10.0);
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_disks_move_between_vms_with_attach_detach() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let (_, _, vm) = arm
        .get(&arm.rg_url("virtualMachines/acme-pd-desk-0001", COMPUTE_API))
        .await;
    let data = vm["properties"]["storageProfile"]["dataDisks"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(data.len(), 2, "profile and personal drive: {vm}");
    let drive_id = data
        .iter()
        .find(|d| d["name"] == "acme-pd-pdrive-0001")
        .unwrap()["managedDisk"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let url = arm.rg_url(
        "virtualMachines/acme-pd-desk-0002/attachDetachDataDisks",
        COMPUTE_API,
    );
    let (s, _, body) = arm
        .post(
            &url,
            Some(json!({"dataDisksToAttach": [{"diskId": drive_id}]})),
        )
        .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("OperationNotAllowed")),
        "still attached elsewhere"
    );

    let detach = arm.rg_url(
        "virtualMachines/acme-pd-desk-0001/attachDetachDataDisks",
        COMPUTE_API,
    );
    let (s, h, body) = arm.post(&detach, Some(json!({"dataDisksToDetach": [{"diskId": drive_id.trim_start_matches('/').to_uppercase()}]}))).await;
    assert_eq!(s, 200, "{body}");
    assert!(h.contains_key("location"));
    assert_eq!(body["dataDisks"].as_array().unwrap().len(), 1);
    let (s, _, body) = arm
        .post(
            &url,
            Some(json!({"dataDisksToAttach": [{"diskId": drive_id}]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["dataDisks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "acme-pd-pdrive-0001"));

    let (s, _, body) = arm.post(&url, Some(json!({}))).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn usages_report_counts_against_limits() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let url = format!("{}/subscriptions/{}/providers/Microsoft.Compute/locations/westeurope/usages?api-version={COMPUTE_API}", arm.base, arm.sub);
    let (s, _, body) = arm.get(&url).await;
    assert_eq!(s, 200);
    let mut all = body["value"].as_array().unwrap().clone();
    let mut next = body["nextLink"].as_str().map(str::to_string);
    while let Some(n) = next {
        let (_, _, b) = arm.get(&n).await;
        all.extend(b["value"].as_array().unwrap().clone());
        next = b["nextLink"].as_str().map(str::to_string);
    }
    let find = |n: &str| {
        all.iter()
            .find(|u| u["name"]["value"] == n)
            .unwrap_or_else(|| panic!("{n} in {all:?}"))
            .clone()
    };
    let vms = find("virtualMachines");
    assert_eq!(vms["currentValue"], 41);
    assert_eq!(vms["unit"], "Count");
    assert!(vms["limit"].as_u64().unwrap() > 41);
    assert_eq!(find("StandardSSDDiskCount")["currentValue"], 72);
    let before = find("StandardSnapshotCount")["currentValue"]
        .as_u64()
        .unwrap();
    arm.snapshot_disk("usage-snap", "acme-pd-sandbox-osdisk", "westeurope")
        .await;
    let (_, _, body) = arm.get(&url).await;
    let mut all2 = body["value"].as_array().unwrap().clone();
    let mut next = body["nextLink"].as_str().map(str::to_string);
    while let Some(n) = next {
        let (_, _, b) = arm.get(&n).await;
        all2.extend(b["value"].as_array().unwrap().clone());
        next = b["nextLink"].as_str().map(str::to_string);
    }
    let after = all2
        .iter()
        .find(|u| u["name"]["value"] == "StandardSnapshotCount")
        .unwrap()["currentValue"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 1);
    let (s, _, body) = arm.get(&url.replace("westeurope", "mars")).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("LocationNotAvailableForResourceType"))
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn invalid_requests_answer_400_in_arms_shape() {
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let url = arm.rg_url("snapshots/bad", DISK_API);
    let src = arm.id("disks/acme-pd-sandbox-osdisk");
    let cases = [
        (
            json!({"properties": {"creationData": {"createOption": "Copy", "sourceResourceId": src}}}),
            "LocationRequired",
            Some("location"),
        ),
        (
            json!({"location": "westeurope", "properties": {}}),
            "InvalidParameter",
            Some("properties.creationData"),
        ),
        (
            json!({"location": "westeurope", "properties": {"creationData": {}}}),
            "InvalidParameter",
            Some("properties.creationData.createOption"),
        ),
        (
            json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Duplicate", "sourceResourceId": src}}}),
            "InvalidRequestContent",
            Some("properties.creationData.createOption"),
        ),
        (
            json!({"location": "westeurope", "properties": {"incremental": "true", "creationData": {"createOption": "Copy", "sourceResourceId": src}}}),
            "InvalidRequestContent",
            Some("properties.incremental"),
        ),
        (
            json!({"location": "westus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": src}}}),
            "LocationNotAvailableForResourceType",
            Some("location"),
        ),
    ];
    for (body, code, target) in cases {
        let (s, _, err) = arm.put(&url, body.clone()).await;
        assert_eq!(s, 400, "{body} -> {err}");
        assert_eq!(err["error"]["code"], code, "{body} -> {err}");
        assert_eq!(err["error"]["target"].as_str(), target, "{err}");
        assert!(err["error"]["message"].is_string());
    }
    let (s, _, err) = arm.send(reqwest::Method::PUT, &url, None).await;
    assert_eq!(s, 400, "empty body: {err}");
    // A full (non-incremental) snapshot cannot be CopyStart'ed to the other region.
    let (s, _, _) = arm.put(&arm.rg_url("snapshots/full", DISK_API), json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": src}}})).await;
    assert_eq!(s, 200);
    let (s, _, err) = arm.copy_start("full-copy", "full", "northeurope").await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (400, Some("InvalidParameter")),
        "{err}"
    );
    let (s, _, err) = arm.get(&arm.rg_url("disks/nope", DISK_API)).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let other_rg = format!("{}/subscriptions/{}/resourceGroups/nope/providers/Microsoft.Compute/disks?api-version={DISK_API}", arm.base, arm.sub);
    let (s, _, err) = arm.get(&other_rg).await;
    assert_eq!(
        (s, err["error"]["code"].as_str()),
        (404, Some("ResourceGroupNotFound"))
    );
    lab.shutdown().await.unwrap();
}
