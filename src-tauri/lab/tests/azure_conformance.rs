//! Conformance of the lab's ARM with the official specs and examples: every request in
//! `fixtures/azure/examples/*.json` is replayed against a fresh lab (with the lab's subscription,
//! resource group and regions substituted, and the resources it names created first); the status
//! must be one the example lists, the body must have the example's fields (minus features the lab
//! does not model, listed below), and the body must validate against the operation's response
//! schema in DiskRP.json / ComputeRP.json (with common.json and types.json bundled in).

mod common;
#[path = "lab_client.rs"]
mod lab_client;

use std::collections::BTreeSet;
use std::path::Path;

use common::swagger;
use lab_client::*;
use serde_json::{json, Map, Value};
use standby_lab::azure::ids;

/// Example fields for features the lab does not simulate (encryption settings, marketplace plans,
/// extensions, availability sets, ...). Everything else an example shows must be in the answer.
const NOT_MODELLED: &[&str] = &[
    "etag",
    "resources",
    "plan",
    "identity",
    "zones",
    "extendedLocation",
    "managedBy",
    "purchasePlan",
    "supportedCapabilities",
    "supportsHibernation",
    "securityProfile",
    "encryptionSettingsCollection",
    "LastOwnershipUpdateTime",
    "availabilitySet",
    "proximityPlacementGroup",
    "applicationProfile",
    "userData",
    "osProfile",
    "extensionsTimeBudget",
    "propertyUpdatesInProgress",
    "imageReference",
    "bootDiagnostics",
    "extensions",
    "patchStatus",
    "isVMInStandbyPool",
    "platformUpdateDomain",
    "platformFaultDomain",
    "vmAgent",
    "nextLink",
    // Only in the generated "MaximumSet" examples, which set every optional property.
    "additionalCapabilities",
    "billingProfile",
    "capacityReservation",
    "evictionPolicy",
    "vmSizeProperties",
    "host",
    "hostGroup",
    "licenseType",
    "priority",
    "scheduledEventsProfile",
    "deleteOption",
    "diffDiskSettings",
    "encryptionSettings",
    "image",
    "vhd",
    "writeAcceleratorEnabled",
    "virtualMachineScaleSet",
];

fn rewrite_refs(v: &mut Value, local: Option<&str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                match (k.as_str(), x) {
                    ("$ref", Value::String(s)) => {
                        if let Some((file, frag)) = s.clone().split_once('#') {
                            if let Some(name) = frag.strip_prefix("/definitions/") {
                                let stem = if file.is_empty() {
                                    local.map(str::to_string)
                                } else if file.ends_with("common.json") {
                                    Some("common".into())
                                } else if file.ends_with("types.json") {
                                    Some("types".into())
                                } else {
                                    None
                                };
                                if let Some(stem) = stem {
                                    *s = format!("#/definitions/{stem}.{name}");
                                }
                            }
                        }
                    }
                    (_, x) => rewrite_refs(x, local),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_refs(x, local)),
        _ => {}
    }
}

/// The spec with the two common-type files' definitions merged in (as `common.X`, `types.X`), so
/// that the local-ref checker resolves everything.
fn bundle(specs: &Path, file: &str) -> Value {
    let mut spec = swagger::load_json(specs.join(file));
    rewrite_refs(&mut spec, None);
    for stem in ["common", "types"] {
        let mut ext = swagger::load_json(specs.join(format!("{stem}.json")));
        rewrite_refs(&mut ext, Some(stem));
        let defs = ext["definitions"].as_object().cloned().unwrap_or_default();
        let target = spec["definitions"].as_object_mut().expect("definitions");
        for (k, v) in defs {
            target.insert(format!("{stem}.{k}"), v);
        }
    }
    spec
}

struct Op {
    spec: &'static str,
    method: String,
    path: String,
    body_param: Option<String>,
    query_params: Vec<String>,
    responses: Map<String, Value>,
}

/// Finds the operation whose `x-ms-examples` names this example file.
fn operation(specs: &[(&'static str, &Value)], example: &str) -> Op {
    for (name, spec) in specs {
        for (path, ops) in spec["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let Some(ex) = op.get("x-ms-examples").and_then(Value::as_object) else {
                    continue;
                };
                if !ex.values().any(|r| {
                    r["$ref"]
                        .as_str()
                        .is_some_and(|r| r.ends_with(&format!("/{example}")))
                }) {
                    continue;
                }
                let params = op["parameters"].as_array().cloned().unwrap_or_default();
                let body_param = params
                    .iter()
                    .find(|p| p["in"] == "body")
                    .and_then(|p| p["name"].as_str())
                    .map(str::to_string);
                let query_params = params
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .map(str::to_string)
                    .collect();
                return Op {
                    spec: name,
                    method: method.to_uppercase(),
                    path: path.clone(),
                    body_param,
                    query_params,
                    responses: op["responses"].as_object().cloned().unwrap(),
                };
            }
        }
    }
    panic!("no operation in the specs names the example {example}");
}

/// Rewrites resource ids in the example to the lab's subscription and resource group.
fn relocate(v: &mut Value, sub: &str, rg: &str) {
    match v {
        Value::String(s) => {
            if let Some(id) = ids::parse(s) {
                *s = ids::format(sub, rg, id.kind, &id.name);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relocate(x, sub, rg)),
        Value::Object(m) => m.values_mut().for_each(|x| relocate(x, sub, rg)),
        _ => {}
    }
}

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or(id).to_string()
}

async fn make_disk(arm: &Arm, name: &str) {
    let (s, _, v) = arm
        .put(
            &arm.rg_url(&format!("disks/{name}"), DISK_API),
            json!({"location": "westeurope", "sku": {"name": "Premium_LRS"}, "properties": {"osType": "Windows", "creationData": {"createOption": "Empty"}, "diskSizeGB": 128}}),
        )
        .await;
    assert_eq!(s, 200, "setup disk {name}: {v}");
}

async fn make_snapshot(arm: &Arm, name: &str) {
    let disk = format!("{name}-src");
    make_disk(arm, &disk).await;
    let (s, v) = arm.snapshot_disk(name, &disk, "westeurope").await;
    assert_eq!(s, 200, "setup snapshot {name}: {v}");
}

/// Creates what the example's request needs to exist.
async fn setup(
    lab: &standby_lab::LabHandle,
    arm: &Arm,
    example: &str,
    params: &Value,
    body: Option<&Value>,
) {
    let source = body
        .and_then(|b| b.pointer("/properties/creationData/sourceResourceId"))
        .and_then(Value::as_str)
        .map(last_segment);
    if let Some(disk) = params["diskName"].as_str() {
        if !example.contains("Create") {
            make_disk(arm, disk).await;
        }
    }
    if let Some(snap) = params["snapshotName"].as_str() {
        if !example.contains("Create") {
            make_snapshot(arm, snap).await;
        }
    }
    if example.contains("Create") {
        if let Some(src) = source {
            make_snapshot(arm, &src).await;
        }
    }
    if let Some(vm) = params["vmName"].as_str() {
        lab.azure_lab().add_vm(&arm.rg, vm, "westeurope", true);
        if let Some(p) = body {
            for d in p["dataDisksToAttach"].as_array().into_iter().flatten() {
                make_disk(arm, &last_segment(d["diskId"].as_str().unwrap())).await;
            }
            for d in p["dataDisksToDetach"].as_array().into_iter().flatten() {
                let id = d["diskId"].as_str().unwrap();
                make_disk(arm, &last_segment(id)).await;
                let (s, _, v) = arm
                    .post(
                        &arm.rg_url(
                            &format!("virtualMachines/{vm}/attachDetachDataDisks"),
                            COMPUTE_API,
                        ),
                        Some(json!({"dataDisksToAttach": [{"diskId": id}]})),
                    )
                    .await;
                assert_eq!(s, 200, "setup attach: {v}");
            }
        }
    }
}

/// Keys of the example's body (and of its `properties`, and of the first list item) that the
/// lab's body lacks.
fn missing_fields(example: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    let (Some(e), Some(a)) = (example.as_object(), actual.as_object()) else {
        return;
    };
    for (k, v) in e {
        if NOT_MODELLED.contains(&k.as_str()) {
            continue;
        }
        match a.get(k) {
            None => out.push(format!("{path}.{k}")),
            Some(av) => match k.as_str() {
                // A list's first item may have been created differently from the example's.
                "creationData" if path.contains('[') => {}
                "properties" | "storageProfile" | "osDisk" | "creationData" | "hardwareProfile"
                | "name" => missing_fields(v, av, &format!("{path}.{k}"), out),
                "value" | "statuses" | "disks" | "dataDisks" => {
                    if let (Some(ev), Some(av)) = (v.get(0), av.get(0)) {
                        missing_fields(ev, av, &format!("{path}.{k}[0]"), out);
                    }
                }
                _ => {}
            },
        }
    }
}

#[tokio::test]
async fn every_official_example_replays_against_the_lab() {
    let Some(dir) = require_fixtures!() else {
        return;
    };
    let specs_dir = dir.join("azure/specs");
    let disk_rp = bundle(&specs_dir, "DiskRP.json");
    let compute_rp = bundle(&specs_dir, "ComputeRP.json");
    let specs = [("DiskRP.json", &disk_rp), ("ComputeRP.json", &compute_rp)];
    let mut examples: Vec<_> = std::fs::read_dir(dir.join("azure/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    examples.sort();
    assert!(examples.len() >= 20, "the fixtures hold the examples");

    let mut failures = Vec::new();
    for path in &examples {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let example = swagger::load_json(path);
        let op = operation(&specs, &name);
        let spec = if op.spec == "DiskRP.json" {
            &disk_rp
        } else {
            &compute_rp
        };
        // A fresh lab per example: examples reuse names and would trip each other's limits.
        let lab = start().await;
        let arm = Arm::new(&lab).await;
        let mut params = example["parameters"].clone();
        let mut body = op.body_param.as_ref().and_then(|b| params.get(b).cloned());
        if let Some(b) = body.as_mut() {
            relocate(b, &arm.sub, &arm.rg);
            if b.get("location").is_some() {
                let copy_start =
                    b.pointer("/properties/creationData/createOption") == Some(&json!("CopyStart"));
                b["location"] = json!(if copy_start {
                    "northeurope"
                } else {
                    "westeurope"
                });
            }
        }
        params["subscriptionId"] = json!(arm.sub);
        params["resourceGroupName"] = json!(arm.rg);
        if params.get("location").is_some() {
            params["location"] = json!("westeurope");
        }
        setup(&lab, &arm, &name, &params, body.as_ref()).await;

        let mut url_path = op.path.clone();
        for (k, v) in params.as_object().unwrap() {
            if let Some(s) = v.as_str() {
                url_path = url_path.replace(&format!("{{{k}}}"), s);
            }
        }
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("api-version", params["api-version"].as_str().unwrap());
        for q in &op.query_params {
            if let Some(v) = params.get(q) {
                let s = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                query.append_pair(q, &s);
            }
        }
        let url = format!("{}{}?{}", arm.base, url_path, query.finish());
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let (status, headers, actual) = arm.send(method, &url, body).await;

        let listed: BTreeSet<String> = example["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        if !listed.contains(&status.to_string()) {
            failures.push(format!(
                "{name}: status {status} not in {listed:?}: {actual}"
            ));
            lab.shutdown().await.unwrap();
            continue;
        }
        let expected = &example["responses"][status.to_string()];
        let mut missing = Vec::new();
        if let Some(b) = expected.get("body") {
            missing_fields(b, &actual, "$", &mut missing);
        }
        for h in expected
            .get("headers")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|m| m.keys())
        {
            if !headers.contains_key(h.to_ascii_lowercase().as_str()) {
                missing.push(format!("header {h}"));
            }
        }
        if !missing.is_empty() {
            failures.push(format!("{name}: missing {missing:?} in {actual}"));
        }
        if let Some(schema) = op
            .responses
            .get(&status.to_string())
            .and_then(|r| r.get("schema"))
        {
            let errors = swagger::validate(spec, schema, &actual);
            if !errors.is_empty() {
                failures.push(format!("{name}: schema errors {errors:?}"));
            }
        }
        lab.shutdown().await.unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of {} examples fail:\n{}",
        failures.len(),
        examples.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn error_answers_validate_against_cloud_error() {
    let Some(dir) = require_fixtures!() else {
        return;
    };
    let spec = bundle(&dir.join("azure/specs"), "DiskRP.json");
    let cloud_error = json!({"$ref": "#/definitions/common.CloudError"});
    let lab = start().await;
    let arm = Arm::new(&lab).await;
    let bad = [
        arm.put(&arm.rg_url("snapshots/x", DISK_API), json!({"location": "westeurope", "properties": {}})).await,
        arm.get(&arm.rg_url("disks/none", DISK_API)).await,
        arm.get(&arm.rg_url("disks", "2019-01-01")).await,
        arm.put(&arm.rg_url("disks/x", DISK_API), json!({"location": "westeurope", "properties": {"creationData": {"createOption": "Copy"}}})).await,
    ];
    for (status, _, body) in bad {
        assert!(status >= 400, "{body}");
        let errors = swagger::validate(&spec, &cloud_error, &body);
        assert!(errors.is_empty(), "{body}: {errors:?}");
        assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string());
    }
    // The checker itself rejects a wrong shape, so the assertion above can fail.
    assert!(!swagger::validate(&spec, &cloud_error, &json!({"error": {"code": 5}})).is_empty());
    lab.shutdown().await.unwrap();
}

/// `statusOnly=true` on the subscription's VM list (`VirtualMachines_ListAll`): ComputeRP's only
/// example of it is a generated one with placeholder values (replayed above, where `statusOnly`
/// is not `true`), so the answer to a real `statusOnly=true` is checked here: every page
/// validates against `VirtualMachineListResult`, carries each VM's instance view with its power
/// status, and its `nextLink` keeps asking for statuses, until every VM is listed once.
#[tokio::test]
async fn a_status_only_vm_list_validates_page_by_page() {
    let Some(dir) = require_fixtures!() else {
        return;
    };
    let spec = bundle(&dir.join("azure/specs"), "ComputeRP.json");
    let op = &spec["paths"]
        ["/subscriptions/{subscriptionId}/providers/Microsoft.Compute/virtualMachines"]["get"];
    assert!(
        op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "statusOnly"),
        "ComputeRP documents statusOnly on the subscription's VM list"
    );
    let schema = op["responses"]["200"]["schema"].clone();
    let lab = start().await;
    let arm = Arm::new(&lab).await;

    // The VMs as the resource group's list (their model) shows them.
    let mut models = BTreeSet::new();
    let mut url = Some(arm.rg_url("virtualMachines", COMPUTE_API) + "&statusOnly=true");
    while let Some(u) = url.take() {
        let (status, _, page) = arm.get(&u).await;
        assert_eq!(status, 200, "{page}");
        for v in page["value"].as_array().unwrap() {
            // ComputeRP documents statusOnly on the subscription's list only: a resource
            // group's list answers the model.
            assert!(v.pointer("/properties/storageProfile").is_some(), "{v}");
            models.insert(v["id"].as_str().unwrap().to_ascii_lowercase());
        }
        url = page["nextLink"].as_str().map(str::to_string);
    }
    assert!(models.len() > 7, "more VMs than one page holds");

    let mut statuses = BTreeSet::new();
    let mut pages = 0;
    let mut url = Some(format!(
        "{}/subscriptions/{}/providers/Microsoft.Compute/virtualMachines?api-version={COMPUTE_API}&statusOnly=true",
        arm.base, arm.sub
    ));
    while let Some(u) = url.take() {
        let (status, _, page) = arm.get(&u).await;
        assert_eq!(status, 200, "{u}: {page}");
        pages += 1;
        let errors = swagger::validate(&spec, &schema, &page);
        assert!(errors.is_empty(), "page {pages}: {errors:?}");
        for v in page["value"].as_array().unwrap() {
            let codes: Vec<&str> = v["properties"]["instanceView"]["statuses"]
                .as_array()
                .unwrap_or_else(|| panic!("no instance view: {v}"))
                .iter()
                .filter_map(|s| s["code"].as_str())
                .collect();
            assert!(codes.iter().any(|c| c.starts_with("PowerState/")), "{v}");
            assert!(
                statuses.insert(v["id"].as_str().unwrap().to_ascii_lowercase()),
                "listed twice: {v}"
            );
        }
        url = page["nextLink"].as_str().map(|l| {
            assert!(
                l.contains("statusOnly=true"),
                "the next page asks for statuses: {l}"
            );
            l.to_string()
        });
    }
    assert!(pages > 1, "listed in pages");
    assert_eq!(statuses, models, "every VM once");
    lab.shutdown().await.unwrap();
}
