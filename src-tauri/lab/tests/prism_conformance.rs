//! The simulated Prism answers validate against the official Prism Element v2.0 Swagger specs
//! (`shared/fixtures/nutanix/pe-v2/*.yaml`), endpoint by endpoint.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use base64::Engine;
use chrono::TimeZone;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use standby_lab::clock::LabClock;
use standby_lab::prism::{dr_account, ClusterSpec, PrismLab};
use standby_lab::seed::Account;
use tower::ServiceExt;

use common::swagger;

const BASE: &str = "/api/nutanix/v2.0";

struct Specs {
    by_file: Vec<(String, Value)>,
}

impl Specs {
    fn load(dir: &Path) -> Self {
        let by_file = [
            "protection_domains",
            "remote_sites",
            "storage_containers",
            "tasks",
            "vms",
            "volume_groups",
        ]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                swagger::load_yaml(dir.join("nutanix/pe-v2").join(format!("{f}.yaml"))),
            )
        })
        .collect();
        Self { by_file }
    }

    /// The spec and the 200 response schema of `method` on `path` (a spec path, with or without
    /// its trailing slash).
    fn response_schema(&self, method: &str, path: &str) -> (&Value, Value) {
        let bare = path.trim_end_matches('/');
        for (_, spec) in &self.by_file {
            let paths = spec["paths"].as_object().unwrap();
            for candidate in [bare.to_string(), format!("{bare}/")] {
                if let Some(op) = paths.get(&candidate).and_then(|p| p.get(method)) {
                    let schema = op["responses"]["200"]["schema"].clone();
                    assert!(!schema.is_null(), "{method} {path} has no 200 schema");
                    return (spec, schema);
                }
            }
        }
        panic!("no {method} {path} in the pe-v2 specs");
    }
}

struct Lab {
    lab: Arc<PrismLab>,
    clock: LabClock,
    specs: Specs,
    errors: Vec<String>,
    checked: usize,
}

impl Lab {
    /// Calls the lab and validates the answer against the spec operation `spec_path`.
    async fn check(
        &mut self,
        i: usize,
        method: Method,
        path: &str,
        spec_path: &str,
        body: Option<Value>,
    ) -> Value {
        let pw = if i == 0 { "pw-1" } else { "pw-2" };
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{pw}"))
        );
        let mut b = Request::builder()
            .method(method.clone())
            .uri(format!("{BASE}{path}"))
            .header(header::AUTHORIZATION, auth);
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let req = b
            .body(body.map_or(Body::empty(), |v| Body::from(v.to_string())))
            .unwrap();
        let resp = self.lab.router(i).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, StatusCode::OK, "{method} {path}: {v}");
        let (spec, schema) = self
            .specs
            .response_schema(&method.as_str().to_lowercase(), spec_path);
        for e in swagger::validate(spec, &schema, &v) {
            self.errors.push(format!("{method} {spec_path}: {e}"));
        }
        self.checked += 1;
        v
    }
}

fn clusters() -> Vec<ClusterSpec> {
    let pd = Account::generate("acme-pd", 4, 7);
    let dr = dr_account(&Account::small("acme-pd"));
    vec![
        ClusterSpec {
            name: "ahv-primary".into(),
            username: "admin".into(),
            password: "pw-1".into(),
            ip: "127.0.77.1".parse().unwrap(),
            replication_ports: [2009, 2020],
            account: Some(pd),
        },
        ClusterSpec {
            name: "ahv-secondary".into(),
            username: "admin".into(),
            password: "pw-2".into(),
            ip: "127.0.77.2".parse().unwrap(),
            replication_ports: [2009, 2020],
            account: Some(dr),
        },
    ]
}

#[tokio::test]
async fn every_served_endpoint_answers_in_the_specs_shape() {
    let Some(dir) = require_fixtures!() else {
        return;
    };
    let clock = LabClock::frozen_at(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
    let mut lab = Lab {
        lab: PrismLab::new(clock.clone(), clusters()),
        clock,
        specs: Specs::load(&dir),
        errors: Vec::new(),
        checked: 0,
    };
    let (p, s) = (0, 1);

    let ctrs = lab
        .check(
            p,
            Method::GET,
            "/storage_containers",
            "/storage_containers/",
            None,
        )
        .await;
    let ctr = ctrs["entities"][0]["storage_container_uuid"]
        .as_str()
        .unwrap()
        .to_string();
    lab.check(
        p,
        Method::GET,
        &format!("/storage_containers/{ctr}"),
        "/storage_containers/{uuid}",
        None,
    )
    .await;

    let vms = lab
        .check(
            p,
            Method::GET,
            "/vms?include_vm_disk_config=true",
            "/vms/",
            None,
        )
        .await;
    let desk = vms["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "acme-pd-desk-0001")
        .unwrap()
        .clone();
    let du = desk["uuid"].as_str().unwrap().to_string();
    lab.check(
        p,
        Method::GET,
        &format!("/vms/{du}?include_vm_disk_config=true"),
        "/vms/{uuid}",
        None,
    )
    .await;
    let t = lab
        .check(
            p,
            Method::POST,
            &format!("/vms/{du}/set_power_state"),
            "/vms/{uuid}/set_power_state/",
            Some(json!({ "transition": "OFF" })),
        )
        .await;
    let disk = desk["vm_disk_info"][0]["disk_address"]["vmdisk_uuid"].clone();
    let size = desk["vm_disk_info"][0]["size"].as_u64().unwrap();
    lab.check(p, Method::PUT, &format!("/vms/{du}"), "/vms/{uuid}/", Some(json!({
        "vm_disks": [{ "disk_address": { "vmdisk_uuid": disk }, "vm_disk_create": { "size": size + (1 << 30) } }]
    }))).await;

    let vgs = lab
        .check(p, Method::GET, "/volume_groups", "/volume_groups/", None)
        .await;
    let vg = vgs["entities"][0]["uuid"].as_str().unwrap().to_string();
    lab.check(
        p,
        Method::GET,
        &format!("/volume_groups/{vg}"),
        "/volume_groups/{uuid}",
        None,
    )
    .await;
    lab.check(
        p,
        Method::POST,
        &format!("/volume_groups/{vg}/clone"),
        "/volume_groups/{uuid}/clone",
        Some(json!({ "name": "cloned" })),
    )
    .await;
    lab.check(
        p,
        Method::PUT,
        &format!("/volume_groups/{vg}/disks"),
        "/volume_groups/{uuid}/disks",
        Some(json!({ "index": 0, "upgrade_spec": { "size_mb": 60 * 1024 } })),
    )
    .await;

    let task = t["task_uuid"].as_str().unwrap().to_string();
    lab.check(
        p,
        Method::GET,
        &format!("/tasks/{task}"),
        "/tasks/{uuid}",
        None,
    )
    .await;
    lab.clock.advance(Duration::from_secs(30));
    lab.check(
        p,
        Method::GET,
        &format!("/tasks/{task}"),
        "/tasks/{uuid}",
        None,
    )
    .await;
    lab.check(
        p,
        Method::POST,
        "/tasks/poll",
        "/tasks/poll",
        Some(json!({ "completed_tasks": [task] })),
    )
    .await;
    lab.check(
        p,
        Method::POST,
        "/tasks/list",
        "/tasks/list",
        Some(json!({})),
    )
    .await;

    lab.check(p, Method::POST, "/remote_sites", "/remote_sites/", Some(json!({
        "name": "ahv-secondary",
        "remote_ip_ports": { "127.0.77.2": 2020 },
        "vstore_name_map": { "default-container-77107": "storage-container-112133", "SelfServiceContainer": "SelfServiceContainer" },
        "bandwidth_policy": { "policy_name": "all-day", "default_bandwidth_limit": 1u64 << 30 },
    }))).await;
    lab.check(
        s,
        Method::POST,
        "/remote_sites",
        "/remote_sites/",
        Some(json!({
            "name": "ahv-primary",
            "remote_ip_ports": { "127.0.77.1": 2020 },
            "vstore_name_map": { "storage-container-112133": "default-container-77107" },
        })),
    )
    .await;
    lab.check(
        p,
        Method::PUT,
        "/remote_sites",
        "/remote_sites/",
        Some(json!({ "name": "ahv-secondary", "compression_enabled": false })),
    )
    .await;
    lab.check(p, Method::GET, "/remote_sites", "/remote_sites/", None)
        .await;
    lab.check(
        p,
        Method::GET,
        "/remote_sites/ahv-secondary",
        "/remote_sites/{name}",
        None,
    )
    .await;

    lab.check(
        p,
        Method::POST,
        "/protection_domains",
        "/protection_domains/",
        Some(json!({ "value": "pd" })),
    )
    .await;
    lab.check(
        p,
        Method::POST,
        "/protection_domains/pd/protect_vms",
        "/protection_domains/{name}/protect_vms",
        Some(json!({
            "names": ["acme-pd-desk-0001", "acme-pd-desk-0002"], "volume_group_uuids": [vg],
        })),
    )
    .await;
    lab.check(
        p,
        Method::POST,
        "/protection_domains/pd/unprotect_vms",
        "/protection_domains/{name}/unprotect_vms",
        Some(json!(["acme-pd-desk-0002"])),
    )
    .await;
    lab.check(p, Method::POST, "/protection_domains/pd/schedules", "/protection_domains/{name}/schedules", Some(json!({
        "type": "DAILY", "every_nth": 1,
        "retention_policy": { "local_max_snapshots": 3, "remote_max_snapshots": { "ahv-secondary": 2 } },
    }))).await;
    lab.check(
        p,
        Method::GET,
        "/protection_domains/pd/schedules",
        "/protection_domains/{name}/schedules",
        None,
    )
    .await;
    let oob = lab
        .check(
            p,
            Method::POST,
            "/protection_domains/pd/oob_schedules",
            "/protection_domains/{name}/oob_schedules",
            Some(json!({
                "remote_site_names": ["ahv-secondary"], "snapshot_retention_time_secs": 3600,
            })),
        )
        .await;
    lab.check(
        p,
        Method::POST,
        "/protection_domains/pd/oob_schedules",
        "/protection_domains/{name}/oob_schedules",
        Some(json!({
            "schedule_start_time_usecs": lab.clock.now_usecs() + 600_000_000,
        })),
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/protection_domains/pd/oob_schedules",
        "/protection_domains/{name}/oob_schedules/",
        None,
    )
    .await;
    let id = oob["schedule_id"].as_i64().unwrap();
    let snaps = lab
        .check(
            p,
            Method::GET,
            &format!("/protection_domains/pd/dr_snapshots?oob_schedule_ids={id}"),
            "/protection_domains/{name}/dr_snapshots/",
            None,
        )
        .await;
    assert_eq!(snaps["entities"].as_array().unwrap().len(), 1);
    lab.check(
        p,
        Method::GET,
        "/protection_domains/dr_snapshots",
        "/protection_domains/dr_snapshots/",
        None,
    )
    .await;
    lab.clock.advance(Duration::from_secs(5));
    let reps = lab
        .check(
            p,
            Method::GET,
            "/protection_domains/pd/replications",
            "/protection_domains/{name}/replications/",
            None,
        )
        .await;
    // The daily schedule's first snapshot (taken at its start, now) and the out-of-band one.
    assert_eq!(reps["entities"].as_array().unwrap().len(), 2, "{reps}");
    lab.check(
        p,
        Method::GET,
        "/protection_domains/replications",
        "/protection_domains/replications/",
        None,
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/protection_domains/pd/pending_replications",
        "/protection_domains/{name}/pending_replications/",
        None,
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/remote_sites/ahv-secondary/pending_replications",
        "/remote_sites/{name}/pending_replications/",
        None,
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/protection_domains",
        "/protection_domains/",
        None,
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/protection_domains/pd",
        "/protection_domains/{name}",
        None,
    )
    .await;
    lab.clock.advance(Duration::from_secs(3000));
    lab.check(
        p,
        Method::GET,
        "/remote_sites/ahv-secondary/dr_snapshots",
        "/remote_sites/{name}/dr_snapshots/",
        None,
    )
    .await;
    lab.check(
        p,
        Method::GET,
        "/remote_sites/dr_snapshots",
        "/remote_sites/dr_snapshots/",
        None,
    )
    .await;
    let replicas = lab
        .check(
            s,
            Method::GET,
            "/protection_domains/pd/dr_snapshots",
            "/protection_domains/{name}/dr_snapshots/",
            None,
        )
        .await;
    assert_eq!(
        replicas["entities"].as_array().unwrap().len(),
        2,
        "{replicas}"
    );
    let sid = snaps["entities"][0]["snapshot_id"].clone();
    lab.check(
        p,
        Method::POST,
        "/protection_domains/pd/restore_entities",
        "/protection_domains/{name}/restore_entities",
        Some(json!({
            "snapshot_id": sid, "vm_names": ["acme-pd-desk-0001"], "vm_name_prefix": "r-",
        })),
    )
    .await;
    lab.check(
        p,
        Method::DELETE,
        &format!(
            "/protection_domains/pd/dr_snapshots/{}",
            sid.as_str().unwrap()
        ),
        "/protection_domains/{protection_domain_name}/dr_snapshots/{snapshot_id}",
        None,
    )
    .await;
    lab.check(
        s,
        Method::DELETE,
        "/remote_sites/ahv-primary",
        "/remote_sites/{name}",
        None,
    )
    .await;
    lab.check(
        p,
        Method::DELETE,
        "/protection_domains/pd",
        "/protection_domains/{name}",
        None,
    )
    .await;

    assert!(lab.checked >= 40, "only {} answers checked", lab.checked);
    assert!(
        lab.errors.is_empty(),
        "{} schema violations:\n{}",
        lab.errors.len(),
        lab.errors.join("\n")
    );
}

#[test]
fn the_checker_catches_a_wrong_answer_against_the_real_spec() {
    let Some(dir) = require_fixtures!() else {
        return;
    };
    let specs = Specs::load(&dir);
    let (spec, schema) = specs.response_schema("get", "/vms/{uuid}");
    let bad = json!({ "uuid": 7, "power_state": "sideways", "vm_disk_info": [{ "size": "big" }] });
    let errors = swagger::validate(spec, &schema, &bad);
    assert_eq!(errors.len(), 3, "{errors:?}");
    let good = json!({ "uuid": "6a5c75f8-5b13-4f1b-91fd-723f04375ad5", "power_state": "on", "vm_disk_info": [{ "size": 1 }] });
    assert!(swagger::validate(spec, &schema, &good).is_empty());
}
