//! What the Azure client tests share: a lab, a client configured as the product would configure
//! it for that lab (only URLs and the trusted CA differ), the lab's clock as the client's clock,
//! and the lab's control API.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::{json, Value};
use standby_core::clock::Clock;
use standby_core::providers::azure::{
    ArmClient, ArmConfig, Progress, ResourceId, RetryPolicy, Watch,
};
use standby_core::secret::Secret;
use standby_lab::clock::LabClock;
use standby_lab::{Lab, LabConfig, LabHandle};

pub const PRIMARY: &str = "westeurope";
pub const SECONDARY: &str = "northeurope";

/// The lab's clock seen through the product's `Clock`: advancing the lab ages cached tokens too.
pub struct LabTime(pub LabClock);

impl Clock for LabTime {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now()
    }
}

pub async fn start() -> LabHandle {
    start_with(|_| {}).await
}

pub async fn start_with(f: impl FnOnce(&mut LabConfig)) -> LabHandle {
    let mut cfg = LabConfig::for_tests();
    f(&mut cfg);
    Lab::start(cfg).await.expect("the lab starts")
}

/// Short waits so tests run in seconds; everything else as in production.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 4,
        min_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_throttle_wait: Duration::from_secs(5),
        poll_min: Duration::from_millis(20),
        poll_max: Duration::from_millis(150),
        max_polls: 2_000,
        ..RetryPolicy::default()
    }
}

pub fn config(lab: &LabHandle) -> ArmConfig {
    let a = &lab.azure;
    let mut c = ArmConfig::new(
        &a.tenant_id,
        &a.client_id,
        Secret::new(a.client_secret.clone()),
        &a.subscription_id,
    );
    c.arm_url = a.arm_url.clone();
    c.authority_url = a.authority_url.clone();
    c.extra_ca_pem = Some(a.ca_certificate_pem.clone());
    c.timeout = Duration::from_secs(20);
    c.retry = fast_policy();
    c
}

pub fn client(lab: &LabHandle) -> ArmClient {
    client_with(lab, |_| {})
}

pub fn client_with(lab: &LabHandle, f: impl FnOnce(&mut ArmConfig)) -> ArmClient {
    let mut c = config(lab);
    f(&mut c);
    ArmClient::new(c, Arc::new(LabTime(lab.clock.clone()))).expect("client")
}

/// A client whose progress reports are recorded.
pub fn recorded(client: &ArmClient) -> (ArmClient, Arc<Mutex<Vec<Progress>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let c = client.watched(Watch::new().on_progress(move |p| sink.lock().push(p.clone())));
    (c, log)
}

pub fn rg(lab: &LabHandle) -> String {
    lab.azure.resource_group.clone()
}
pub fn dr_rg(lab: &LabHandle) -> String {
    lab.azure.secondary_resource_group.clone()
}
pub fn disk_id(lab: &LabHandle, name: &str) -> ResourceId {
    ResourceId::disk(&lab.azure.subscription_id, &lab.azure.resource_group, name)
}
pub fn vm_id(lab: &LabHandle, name: &str) -> ResourceId {
    ResourceId::vm(&lab.azure.subscription_id, &lab.azure.resource_group, name)
}

fn control_client() -> reqwest::Client {
    let tls = standby_core::providers::tls::web_client_config(None).expect("tls");
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()
        .expect("client")
}

/// `/_lab/{path}` on the control API.
pub async fn control(
    lab: &LabHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}_lab/{path}", lab.control_url);
    let mut req = control_client().request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control request");
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.json().await.unwrap_or(Value::Null)
}

pub async fn set_fault(lab: &LabHandle, spec: Value) {
    control(lab, reqwest::Method::PUT, "faults/azure:arm", Some(spec)).await;
}

pub async fn clear_faults(lab: &LabHandle) {
    control(lab, reqwest::Method::DELETE, "faults", None).await;
}

/// Makes a disk's used data exactly `gb`, so a copy of it lasts `gb * 1024 / 100` lab seconds.
pub async fn fill(lab: &LabHandle, disk: &str, gb: f64) {
    control(
        lab,
        reqwest::Method::POST,
        &format!("azure/disks/{disk}/fill"),
        Some(json!({ "used_gb": gb })),
    )
    .await;
}

/// The lab's own record of the subscription (for assertions the API cannot make).
pub fn azure_state(lab: &LabHandle) -> Value {
    lab.azure_lab().export_state()
}

/// Long-running operations the lab has accepted so far (one per accepted action or write).
pub fn operation_count(lab: &LabHandle) -> usize {
    azure_state(lab)["operations"]
        .as_object()
        .map(|o| o.len())
        .unwrap_or(0)
}

/// The lab's power state of a VM (`running`, `deallocated`, ...), transitions settled.
pub fn lab_power(lab: &LabHandle, vm: &str) -> String {
    let st = azure_state(lab);
    let v = st["vms"]
        .as_object()
        .unwrap()
        .values()
        .find(|v| v["name"] == vm)
        .unwrap_or_else(|| panic!("no VM {vm} in the lab"));
    let now = lab.clock.now();
    match &v["transition"] {
        Value::Object(t) => {
            let until: chrono::DateTime<chrono::Utc> =
                serde_json::from_value(t["until"].clone()).unwrap();
            if now >= until {
                t["to"].clone()
            } else {
                t["during"].clone()
            }
        }
        _ => v["power"].clone(),
    }
    .as_str()
    .unwrap()
    .to_string()
}

/// Names of the lab's VMs that are running (and in the primary resource group).
pub fn running_vms(lab: &LabHandle) -> Vec<String> {
    let st = azure_state(lab);
    let mut names: Vec<String> = st["vms"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v["power"] == "running" && v["transition"].is_null())
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

pub fn deallocated_vms(lab: &LabHandle) -> Vec<String> {
    let st = azure_state(lab);
    let mut names: Vec<String> = st["vms"]
        .as_object()
        .unwrap()
        .values()
        .filter(|v| v["power"] == "deallocated" && v["transition"].is_null())
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Lab time runs `scale` times faster than real time (power transitions, copies, disk creation).
pub fn speed_up(lab: &LabHandle, scale: f64) {
    lab.clock.set_scale(scale);
}

pub fn advance(lab: &LabHandle, secs: u64) {
    lab.clock.advance(Duration::from_secs(secs));
}
