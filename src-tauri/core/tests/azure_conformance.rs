//! Conformance: every official example response in `fixtures/azure/examples` parses into the
//! client's models, and the fields the client uses come out exactly as the example has them.
//! (What the client sends is held against the specs by the lab, which answers 400 otherwise: the
//! other `azure_*` tests run every call through it.)

#[path = "../../lab/tests/common/fixtures.rs"]
mod fixtures;

use serde_json::Value;
use standby_core::providers::azure::paging::Page;
use standby_core::providers::azure::usages::Usage;
use standby_core::providers::azure::vms::{InstanceView, StorageProfile};
use standby_core::providers::azure::{Disk, Snapshot, VirtualMachine};

/// The example's value at `ptr` as text (numbers and booleans as JSON prints them).
fn text(body: &Value, ptr: &str) -> Option<String> {
    match body.pointer(ptr)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn same(file: &str, body: &Value, ptr: &str, got: Option<String>) {
    assert_eq!(got, text(body, ptr), "{file}: {ptr}");
}

fn check_disk(file: &str, b: &Value) {
    let d: Disk = serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let p = &d.properties;
    same(file, b, "/id", Some(d.id.clone()).filter(|s| !s.is_empty()));
    same(
        file,
        b,
        "/name",
        Some(d.name.clone()).filter(|s| !s.is_empty()),
    );
    same(
        file,
        b,
        "/location",
        Some(d.location.clone()).filter(|s| !s.is_empty()),
    );
    same(file, b, "/managedBy", d.managed_by.clone());
    same(file, b, "/sku/name", d.sku_name().map(str::to_string));
    same(
        file,
        b,
        "/properties/diskSizeGB",
        p.disk_size_gb.map(|v| v.to_string()),
    );
    same(
        file,
        b,
        "/properties/diskSizeBytes",
        p.disk_size_bytes.map(|v| v.to_string()),
    );
    same(
        file,
        b,
        "/properties/provisioningState",
        Some(p.provisioning_state.as_str().to_string()).filter(|s| !s.is_empty()),
    );
    same(file, b, "/properties/diskState", p.disk_state.clone());
    same(file, b, "/properties/osType", p.os_type.clone());
    same(file, b, "/properties/uniqueId", p.unique_id.clone());
    same(file, b, "/properties/timeCreated", p.time_created.clone());
    let c = p.creation_data.clone().unwrap_or_default();
    same(
        file,
        b,
        "/properties/creationData/createOption",
        c.create_option,
    );
    same(
        file,
        b,
        "/properties/creationData/sourceResourceId",
        c.source_resource_id,
    );
    let tags: std::collections::BTreeMap<String, String> = serde_json::from_value(
        b.get("tags")
            .cloned()
            .unwrap_or(Value::Object(Default::default())),
    )
    .unwrap();
    assert_eq!(d.tags, tags, "{file}: tags");
}

fn check_snapshot(file: &str, b: &Value) {
    let s: Snapshot = serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let p = &s.properties;
    same(file, b, "/id", Some(s.id.clone()).filter(|x| !x.is_empty()));
    same(
        file,
        b,
        "/name",
        Some(s.name.clone()).filter(|x| !x.is_empty()),
    );
    same(
        file,
        b,
        "/location",
        Some(s.location.clone()).filter(|x| !x.is_empty()),
    );
    same(
        file,
        b,
        "/properties/diskSizeGB",
        p.disk_size_gb.map(|v| v.to_string()),
    );
    same(
        file,
        b,
        "/properties/provisioningState",
        Some(p.provisioning_state.as_str().to_string()).filter(|x| !x.is_empty()),
    );
    same(
        file,
        b,
        "/properties/incremental",
        p.incremental.map(|v| v.to_string()),
    );
    same(
        file,
        b,
        "/properties/incrementalSnapshotFamilyId",
        p.incremental_snapshot_family_id.clone(),
    );
    same(
        file,
        b,
        "/properties/completionPercent",
        p.completion_percent
            .map(|v| Value::from(v).to_string())
            .filter(|_| b.pointer("/properties/completionPercent").is_some()),
    );
    same(
        file,
        b,
        "/properties/copyCompletionError/errorCode",
        p.copy_completion_error
            .as_ref()
            .and_then(|e| e.error_code.clone()),
    );
    same(
        file,
        b,
        "/properties/creationData/createOption",
        s.create_option().map(str::to_string),
    );
    same(
        file,
        b,
        "/properties/creationData/sourceResourceId",
        s.source_resource_id().map(str::to_string),
    );
    same(
        file,
        b,
        "/properties/creationData/provisionedBandwidthCopySpeed",
        p.creation_data
            .as_ref()
            .and_then(|c| c.provisioned_bandwidth_copy_speed.clone()),
    );
}

fn check_vm(file: &str, b: &Value) {
    let v: VirtualMachine =
        serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    same(file, b, "/id", Some(v.id.clone()).filter(|x| !x.is_empty()));
    same(
        file,
        b,
        "/name",
        Some(v.name.clone()).filter(|x| !x.is_empty()),
    );
    same(
        file,
        b,
        "/location",
        Some(v.location.clone()).filter(|x| !x.is_empty()),
    );
    let sp = v.storage();
    same(
        file,
        b,
        "/properties/storageProfile/osDisk/managedDisk/id",
        sp.os_disk_id().map(str::to_string),
    );
    let data: Vec<String> = sp.data_disk_ids().map(str::to_string).collect();
    let expected: Vec<String> = b
        .pointer("/properties/storageProfile/dataDisks")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter(|d| d.get("toBeDetached") != Some(&Value::Bool(true)))
                .filter_map(|d| {
                    d.pointer("/managedDisk/id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(data, expected, "{file}: data disks");
    if let Some(iv) = b.pointer("/properties/instanceView") {
        check_instance_view(file, iv);
    }
}

fn check_instance_view(file: &str, b: &Value) {
    let iv: InstanceView =
        serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let expected = b["statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["code"].as_str())
        .find_map(|c| c.strip_prefix("PowerState/"))
        .unwrap_or("");
    assert_eq!(iv.power_state().as_str(), expected, "{file}: power state");
}

fn check_usage(file: &str, b: &Value) {
    let u: Usage = serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    same(file, b, "/currentValue", Some(u.current_value.to_string()));
    same(file, b, "/limit", Some(u.limit.to_string()));
    same(file, b, "/name/value", u.name.value.clone());
}

fn page<T: serde::de::DeserializeOwned>(file: &str, b: &Value, each: fn(&str, &Value)) {
    let p: Page<T> = serde_json::from_value(b.clone()).unwrap_or_else(|e| panic!("{file}: {e}"));
    let items = b["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(p.value.len(), items.len(), "{file}: items");
    assert_eq!(p.next_link, text(b, "/nextLink"), "{file}: nextLink");
    for i in &items {
        each(file, i);
    }
}

#[test]
fn every_example_response_parses_without_losing_what_the_client_uses() {
    let Some(dir) = fixtures::fixtures_dir() else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir.join("azure/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{} examples", files.len());
    let mut bodies = 0;
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let example: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let responses = example["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{file}: no responses"));
        for (status, response) in responses {
            let Some(body) = response.get("body") else {
                continue;
            };
            let file = format!("{file} {status}");
            bodies += 1;
            let name = file.as_str();
            match () {
                _ if name.starts_with("Disk_ListByResourceGroup") => {
                    page::<Disk>(name, body, check_disk)
                }
                _ if name.starts_with("Disk_") => check_disk(name, body),
                _ if name.starts_with("Snapshot_ListByResourceGroup") => {
                    page::<Snapshot>(name, body, check_snapshot)
                }
                _ if name.starts_with("Snapshot_") => check_snapshot(name, body),
                _ if name.starts_with("Usage_List") => page::<Usage>(name, body, check_usage),
                _ if name.starts_with("VirtualMachine_ListAll") => {
                    page::<VirtualMachine>(name, body, check_vm)
                }
                _ if name.starts_with("VirtualMachine_Get_InstanceView") => {
                    check_instance_view(name, body)
                }
                _ if name.starts_with("VirtualMachine_Get") => check_vm(name, body),
                _ if name.starts_with("VirtualMachine_AttachDetachDataDisks") => {
                    let sp: StorageProfile = serde_json::from_value(body.clone())
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    same(
                        name,
                        body,
                        "/osDisk/managedDisk/id",
                        sp.os_disk_id().map(str::to_string),
                    );
                    assert_eq!(
                        sp.data_disks.len(),
                        body["dataDisks"].as_array().map_or(0, |a| a.len())
                    );
                }
                _ => {
                    panic!("{name}: an example with a body this test does not know; add its model")
                }
            }
        }
    }
    assert!(bodies >= 15, "{bodies} bodies checked");
}
