//! Behaviour of the simulated Prism Element clusters, driven through their routers on a frozen clock.

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

const BASE: &str = "/PrismGateway/services/rest/v2.0";
const P: usize = 0;
const S: usize = 1;

struct Lab {
    lab: Arc<PrismLab>,
    clock: LabClock,
}

struct Answer {
    status: StatusCode,
    body: Value,
    cookie: Option<String>,
}

fn specs() -> Vec<ClusterSpec> {
    let pd = Account::small("acme-pd");
    let dr = dr_account(&pd);
    vec![
        ClusterSpec {
            name: "ahv-primary".into(),
            username: "admin".into(),
            password: "primary-secret".into(),
            ip: "127.0.77.1".parse().unwrap(),
            replication_ports: [2009, 2020],
            account: Some(pd),
        },
        ClusterSpec {
            name: "ahv-secondary".into(),
            username: "admin".into(),
            password: "secondary-secret".into(),
            ip: "127.0.77.2".parse().unwrap(),
            replication_ports: [2009, 2020],
            account: Some(dr),
        },
    ]
}

fn basic(i: usize) -> String {
    let pw = if i == P {
        "primary-secret"
    } else {
        "secondary-secret"
    };
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{pw}"))
    )
}

impl Lab {
    fn new() -> Self {
        let clock = LabClock::frozen_at(chrono::Utc.with_ymd_and_hms(2026, 3, 1, 8, 0, 0).unwrap());
        let lab = PrismLab::new(clock.clone(), specs());
        Self { lab, clock }
    }

    async fn raw(&self, i: usize, req: Request<Body>) -> Answer {
        let resp = self.lab.router(i).oneshot(req).await.unwrap();
        let status = resp.status();
        let cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Answer {
            status,
            body,
            cookie,
        }
    }

    async fn call(&self, i: usize, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut b = Request::builder()
            .method(method)
            .uri(format!("{BASE}{path}"))
            .header(header::AUTHORIZATION, basic(i));
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let req = b
            .body(body.map_or(Body::empty(), |v| Body::from(v.to_string())))
            .unwrap();
        self.raw(i, req).await
    }

    async fn get(&self, i: usize, path: &str) -> Value {
        let a = self.call(i, Method::GET, path, None).await;
        assert_eq!(a.status, StatusCode::OK, "GET {path}: {}", a.body);
        a.body
    }

    async fn post(&self, i: usize, path: &str, body: Value) -> Value {
        let a = self.call(i, Method::POST, path, Some(body)).await;
        assert_eq!(a.status, StatusCode::OK, "POST {path}: {}", a.body);
        a.body
    }

    async fn control(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if body.is_some() {
            b = b.header(header::CONTENT_TYPE, "application/json");
        }
        let req = b
            .body(body.map_or(Body::empty(), |v| Body::from(v.to_string())))
            .unwrap();
        let resp = self.lab.control_router().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    async fn vm(&self, i: usize, name: &str) -> Value {
        let vms = self.get(i, "/vms?include_vm_disk_config=true").await;
        vms["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no VM {name}"))
    }

    async fn vg(&self, i: usize, name: &str) -> Value {
        let vgs = self.get(i, "/volume_groups").await;
        vgs["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no volume group {name}"))
    }

    async fn task_status(&self, i: usize, task: &Value) -> Value {
        self.get(i, &format!("/tasks/{}", task.as_str().unwrap()))
            .await
    }

    async fn site(&self, i: usize, name: &str) -> Value {
        self.get(i, &format!("/remote_sites/{name}")).await
    }

    /// Remote sites in both directions with the Frame DR document's vStore mapping.
    async fn join(&self) {
        self.post(
            P,
            "/remote_sites",
            json!({
                "name": "ahv-secondary",
                "remote_ip_ports": { "127.0.77.2": 2020 },
                "vstore_name_map": {
                    "default-container-77107": "storage-container-112133",
                    "SelfServiceContainer": "SelfServiceContainer"
                },
                "capabilities": ["BACKUP", "DISASTER_RECOVERY"],
            }),
        )
        .await;
        self.post(
            S,
            "/remote_sites",
            json!({
                "name": "ahv-primary",
                "remote_ip_ports": { "127.0.77.1": 2009 },
                "vstore_name_map": {
                    "storage-container-112133": "default-container-77107",
                    "SelfServiceContainer": "SelfServiceContainer"
                },
            }),
        )
        .await;
    }

    /// A PD protecting one desktop (powered off) and its owner's profile volume group.
    async fn protected_pd(&self, name: &str) -> (Value, Value) {
        let desk = self.vm(P, "acme-pd-desk-0001").await;
        let profile = self.vg(P, "acme-pd-profile-0001").await;
        if desk["power_state"] == "on" {
            let t = self
                .post(
                    P,
                    &format!("/vms/{}/set_power_state", desk["uuid"].as_str().unwrap()),
                    json!({"transition": "OFF"}),
                )
                .await;
            self.advance(10);
            assert_eq!(
                self.task_status(P, &t["task_uuid"]).await["progress_status"],
                "SUCCEEDED"
            );
        }
        self.post(P, "/protection_domains", json!({ "value": name }))
            .await;
        self.post(
            P,
            &format!("/protection_domains/{name}/protect_vms"),
            json!({
                "names": ["acme-pd-desk-0001"],
                "volume_group_uuids": [profile["uuid"]],
            }),
        )
        .await;
        (self.vm(P, "acme-pd-desk-0001").await, profile)
    }
}

fn assert_prism_error(a: &Answer, status: StatusCode, needle: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert!(
        a.body["message"]
            .as_str()
            .is_some_and(|m| m.contains(needle)),
        "message lacks {needle:?}: {}",
        a.body
    );
    assert!(a.body["detailed_message"].is_string(), "{}", a.body);
    assert!(a.body["error_code"]["code"].is_i64(), "{}", a.body);
}

#[tokio::test]
async fn auth_rejects_bad_credentials_and_accepts_the_session_cookie() {
    let lab = Lab::new();
    let no_auth = Request::builder()
        .uri(format!("{BASE}/vms"))
        .body(Body::empty())
        .unwrap();
    let a = lab.raw(P, no_auth).await;
    assert_prism_error(&a, StatusCode::UNAUTHORIZED, "Authentication");

    let wrong = Request::builder()
        .uri(format!("{BASE}/vms"))
        .header(header::AUTHORIZATION, basic(S))
        .body(Body::empty())
        .unwrap();
    assert_eq!(lab.raw(P, wrong).await.status, StatusCode::UNAUTHORIZED);

    let ok = lab.call(P, Method::GET, "/storage_containers", None).await;
    assert_eq!(ok.status, StatusCode::OK);
    let cookie = ok.cookie.expect("a session cookie");
    let session = cookie.split(';').next().unwrap().to_string();
    assert!(session.starts_with("JSESSIONID="));

    // The cookie alone works, on both base paths, with or without the trailing slash.
    for path in [
        "/api/nutanix/v2.0/vms/",
        "/PrismGateway/services/rest/v2.0/vms",
    ] {
        let req = Request::builder()
            .uri(path)
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap();
        let a = lab.raw(P, req).await;
        assert_eq!(a.status, StatusCode::OK, "{path}: {}", a.body);
        assert!(a.body["entities"].as_array().unwrap().len() > 40);
    }
    // A cookie of another cluster does not.
    let req = Request::builder()
        .uri(format!("{BASE}/vms"))
        .header(header::COOKIE, &session)
        .body(Body::empty())
        .unwrap();
    assert_eq!(lab.raw(S, req).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn inventory_carries_frame_tags_sizes_and_containers() {
    let lab = Lab::new();
    let ctrs = lab.get(P, "/storage_containers").await;
    let names: Vec<&str> = ctrs["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"default-container-77107") && names.contains(&"SelfServiceContainer"),
        "{names:?}"
    );
    let c = &ctrs["entities"][0];
    assert!(
        c["max_capacity"].as_u64().unwrap()
            > c["usage_stats"]["storage.usage_bytes"]
                .as_str()
                .unwrap()
                .parse::<u64>()
                .unwrap()
    );
    let sec: Vec<String> = lab.get(S, "/storage_containers").await["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sec.contains(&"storage-container-112133".to_string()),
        "{sec:?}"
    );

    let desk = lab.vm(P, "acme-pd-desk-0001").await;
    assert!(desk["description"]
        .as_str()
        .unwrap()
        .contains("frame.role=persistent-desktop"));
    assert!(desk["vm_disk_info"][0]["size"].as_u64().unwrap() >= 64 << 30);
    let one = lab
        .get(P, &format!("/vms/{}", desk["uuid"].as_str().unwrap()))
        .await;
    assert!(one.get("vm_disk_info").is_none(), "disks only when asked");

    // Three acme-dr users share e-mails with acme-pd users, and have desktops there.
    let pd_owner = "frame.owner=alice.martin@acme-pd.example";
    let dr_vms = lab.get(S, "/vms").await;
    assert!(dr_vms["entities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|v| v["description"].as_str().unwrap().contains(pd_owner)));
    assert!(dr_vms["entities"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["name"].as_str().unwrap().starts_with("acme-dr-")));
}

#[tokio::test]
async fn remote_site_handshake_needs_both_sides_and_valid_mappings() {
    let lab = Lab::new();
    lab.post(P, "/remote_sites", json!({
        "name": "ahv-secondary",
        "remote_ip_ports": { "127.0.77.2": 2020 },
        "vstore_name_map": { "default-container-77107": "storage-container-112133", "SelfServiceContainer": "SelfServiceContainer" },
    })).await;
    let one_sided = lab.site(P, "ahv-secondary").await;
    assert_eq!(one_sided["status"], "RELATIONSHIP_NOT_ESTABLISHED");
    assert!(one_sided["stats"]["status_detail"]
        .as_str()
        .unwrap()
        .contains("no remote site pointing at this cluster"));
    assert!(one_sided.get("latency_in_usecs").is_none());

    // The way back, but mapping to a container the primary lacks.
    lab.post(
        S,
        "/remote_sites",
        json!({
            "name": "ahv-primary",
            "remote_ip_ports": { "127.0.77.1": 2009 },
            "vstore_name_map": { "storage-container-112133": "no-such-container" },
        }),
    )
    .await;
    let bad = lab.site(S, "ahv-primary").await;
    assert_eq!(bad["status"], "RELATIONSHIP_NOT_ESTABLISHED");
    assert!(
        bad["stats"]["status_detail"]
            .as_str()
            .unwrap()
            .contains("no-such-container"),
        "{bad}"
    );
    // The primary's side is valid now that the peer points back.
    let p = lab.site(P, "ahv-secondary").await;
    assert_eq!(p["status"], "RELATIONSHIP_ESTABLISHED", "{p}");
    assert!(p["latency_in_usecs"].as_u64().unwrap() > 0);

    let fixed = lab.call(S, Method::PUT, "/remote_sites/", Some(json!({
        "name": "ahv-primary",
        "vstore_name_map": { "storage-container-112133": "default-container-77107", "SelfServiceContainer": "SelfServiceContainer" },
    }))).await;
    assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.body);
    assert_eq!(fixed.body["status"], "RELATIONSHIP_ESTABLISHED");

    lab.lab.set_reachable("ahv-secondary", false);
    assert_eq!(lab.site(P, "ahv-secondary").await["status"], "UNREACHABLE");
    lab.lab.set_reachable("ahv-secondary", true);
    assert_eq!(
        lab.site(P, "ahv-secondary").await["status"],
        "RELATIONSHIP_ESTABLISHED"
    );

    // An address where no cluster listens.
    lab.post(
        P,
        "/remote_sites",
        json!({ "name": "nowhere", "remote_ip_ports": { "127.0.77.9": 2020 } }),
    )
    .await;
    assert_eq!(lab.site(P, "nowhere").await["status"], "UNREACHABLE");
    let list = lab.get(P, "/remote_sites?names=nowhere").await;
    assert_eq!(list["entities"].as_array().unwrap().len(), 1);

    let dup = lab
        .call(
            P,
            Method::POST,
            "/remote_sites",
            Some(json!({ "name": "nowhere", "remote_ip_ports": { "127.0.77.9": 2020 } })),
        )
        .await;
    assert_prism_error(&dup, StatusCode::BAD_REQUEST, "already exists");
    let del = lab
        .call(P, Method::DELETE, "/remote_sites/nowhere", None)
        .await;
    assert_eq!(del.body, json!({ "value": true }));
    assert_eq!(
        lab.call(P, Method::GET, "/remote_sites/nowhere", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn oob_snapshot_replicates_over_time_and_lands_on_the_peer() {
    let lab = Lab::new();
    lab.join().await;
    let (desk, profile) = lab.protected_pd("acme-pd-backup").await;
    let pd = lab.get(P, "/protection_domains/acme-pd-backup").await;
    assert_eq!(pd["vms"][0]["vm_name"], "acme-pd-desk-0001");
    assert_eq!(pd["volume_groups"][0]["volume_group_uuid"], profile["uuid"]);

    let oob = lab
        .post(
            P,
            "/protection_domains/acme-pd-backup/oob_schedules",
            json!({
                "remote_site_names": ["ahv-secondary"],
                "snapshot_retention_time_secs": 86400,
            }),
        )
        .await;
    let sid = oob["schedule_id"].as_i64().unwrap();
    let snaps = lab
        .get(
            P,
            &format!("/protection_domains/acme-pd-backup/dr_snapshots?oob_schedule_ids={sid}"),
        )
        .await;
    let snap = &snaps["entities"][0];
    assert_eq!(snaps["entities"].as_array().unwrap().len(), 1);
    assert_eq!(snap["state"], "AVAILABLE");
    assert_eq!(snap["vms"][0]["vm_id"], desk["uuid"]);
    assert_eq!(
        snap["snapshot_expiry_time_usecs"].as_i64().unwrap()
            - snap["snapshot_create_time_usecs"].as_i64().unwrap(),
        86_400_000_000
    );
    let size = snap["size_in_bytes"].as_u64().unwrap();
    assert!(size > 1 << 30);
    let snapshot_id = snap["snapshot_id"].as_str().unwrap().to_string();

    // Progress rises with time in proportion to size / bandwidth (100 MiB/s by default).
    let secs_total = size / (100 << 20);
    let r0 = lab
        .get(P, "/protection_domains/acme-pd-backup/replications")
        .await;
    assert_eq!(r0["entities"][0]["snapshot_id"], snapshot_id.as_str());
    assert_eq!(r0["entities"][0]["remote_site_name"], "ahv-secondary");
    assert_eq!(
        r0["entities"][0]["completed_percentage"].as_f64().unwrap(),
        0.0
    );
    lab.advance(secs_total / 4);
    let p1 = lab
        .get(P, "/protection_domains/acme-pd-backup/replications")
        .await["entities"][0]["completed_percentage"]
        .as_f64()
        .unwrap();
    lab.advance(secs_total / 4);
    let p2 = lab
        .get(P, "/protection_domains/acme-pd-backup/replications")
        .await["entities"][0]["completed_percentage"]
        .as_f64()
        .unwrap();
    assert!((20.0..30.0).contains(&p1), "{p1}");
    assert!((45.0..55.0).contains(&p2), "{p2}");

    // Deleting a snapshot in flight is refused.
    let del = lab
        .call(
            P,
            Method::DELETE,
            &format!("/protection_domains/acme-pd-backup/dr_snapshots/{snapshot_id}"),
            None,
        )
        .await;
    assert_prism_error(&del, StatusCode::BAD_REQUEST, "being replicated");

    // Nothing on the peer yet; then it lands.
    assert_eq!(
        lab.call(S, Method::GET, "/protection_domains/acme-pd-backup", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    lab.advance(secs_total);
    assert!(lab
        .get(P, "/protection_domains/acme-pd-backup/replications")
        .await["entities"]
        .as_array()
        .unwrap()
        .is_empty());
    let remote = lab.get(S, "/protection_domains/acme-pd-backup").await;
    assert_eq!(remote["active"], false);
    let replicas = lab
        .get(S, "/protection_domains/acme-pd-backup/dr_snapshots")
        .await;
    assert_eq!(replicas["entities"].as_array().unwrap().len(), 1);
    assert_eq!(
        replicas["entities"][0]["size_in_bytes"].as_u64().unwrap(),
        size
    );
    let seen_from_primary = lab.get(P, "/remote_sites/ahv-secondary/dr_snapshots").await;
    assert_eq!(
        seen_from_primary["entities"][0]["snapshot_uuid"],
        snap["snapshot_uuid"]
    );
    assert_eq!(
        seen_from_primary["entities"][0]["located_remote_site_name"],
        "ahv-secondary"
    );

    // Done replicating: the local snapshot can go now.
    let del = lab
        .call(
            P,
            Method::DELETE,
            &format!("/protection_domains/acme-pd-backup/dr_snapshots/{snapshot_id}"),
            None,
        )
        .await;
    assert_eq!(del.body, json!({ "value": true }));
    assert!(lab
        .get(P, "/protection_domains/acme-pd-backup/dr_snapshots")
        .await["entities"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn replication_stalls_while_the_peer_is_unreachable_and_respects_bandwidth_policy() {
    let lab = Lab::new();
    lab.join().await;
    lab.protected_pd("pd").await;
    // Cap this site at 10 MiB/s through its bandwidth policy.
    let put = lab.call(P, Method::PUT, "/remote_sites", Some(json!({
        "name": "ahv-secondary",
        "bandwidth_policy": { "policy_name": "office-hours", "default_bandwidth_limit": 10 << 20 },
    }))).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    lab.post(
        P,
        "/protection_domains/pd/oob_schedules",
        json!({ "remote_site_names": ["ahv-secondary"] }),
    )
    .await;
    lab.advance(100);
    let r = lab.get(P, "/protection_domains/pd/replications").await;
    assert_eq!(
        r["entities"][0]["completed_bytes"].as_u64().unwrap(),
        100 * (10 << 20)
    );

    lab.lab.set_reachable("ahv-secondary", false);
    lab.advance(3600);
    let r2 = lab.get(P, "/protection_domains/pd/replications").await;
    assert_eq!(
        r2["entities"][0]["completed_bytes"], r["entities"][0]["completed_bytes"],
        "stalled"
    );
    lab.lab.set_reachable("ahv-secondary", true);
    lab.advance(10);
    let r3 = lab.get(P, "/protection_domains/pd/replications").await;
    assert_eq!(
        r3["entities"][0]["completed_bytes"].as_u64().unwrap(),
        110 * (10 << 20)
    );
}

#[tokio::test]
async fn schedules_take_snapshots_and_enforce_retention_on_both_sides() {
    let lab = Lab::new();
    lab.join().await;
    lab.protected_pd("pd").await;
    let bad = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/schedules",
            Some(json!({ "type": "FORTNIGHTLY" })),
        )
        .await;
    assert_prism_error(&bad, StatusCode::BAD_REQUEST, "FORTNIGHTLY");
    lab.post(P, "/protection_domains/pd/schedules", json!({
        "type": "HOURLY",
        "every_nth": 1,
        "retention_policy": { "local_max_snapshots": 2, "remote_max_snapshots": { "ahv-secondary": 1 } },
    })).await;
    let listed = lab.get(P, "/protection_domains/pd/schedules").await;
    assert_eq!(listed[0]["retention_policy"]["local_max_snapshots"], 2);
    // Bandwidth high enough that each hourly replication is done well within the hour.
    lab.control(
        Method::PUT,
        "/ahv-primary/settings",
        Some(json!({ "bandwidth_bytes_per_sec": 10u64 << 30 })),
    )
    .await;
    for _ in 0..4 {
        lab.advance(3600);
        lab.get(P, "/protection_domains/pd/dr_snapshots").await;
    }
    let local = lab.get(P, "/protection_domains/pd/dr_snapshots").await;
    assert_eq!(local["entities"].as_array().unwrap().len(), 2, "{local}");
    // The newest was taken just now; its replica lands a few seconds later.
    let remote = lab.get(S, "/protection_domains/pd/dr_snapshots").await;
    assert_ne!(
        remote["entities"][0]["snapshot_create_time_usecs"],
        local["entities"][0]["snapshot_create_time_usecs"]
    );
    lab.advance(60);
    let remote = lab.get(S, "/protection_domains/pd/dr_snapshots").await;
    assert_eq!(remote["entities"].as_array().unwrap().len(), 1, "{remote}");
    // The replica kept is the newest.
    assert_eq!(
        remote["entities"][0]["snapshot_create_time_usecs"],
        local["entities"][0]["snapshot_create_time_usecs"]
    );
}

#[tokio::test]
async fn snapshots_expire_at_their_expiry_time() {
    let lab = Lab::new();
    lab.protected_pd("pd").await;
    lab.post(
        P,
        "/protection_domains/pd/oob_schedules",
        json!({ "snapshot_retention_time_secs": 600 }),
    )
    .await;
    assert_eq!(
        lab.get(P, "/protection_domains/pd/dr_snapshots").await["entities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    lab.advance(599);
    assert_eq!(
        lab.get(P, "/protection_domains/pd/dr_snapshots").await["entities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    lab.advance(1);
    assert!(
        lab.get(P, "/protection_domains/pd/dr_snapshots").await["entities"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn restore_in_place_needs_the_vm_off_and_brings_back_the_contents() {
    let lab = Lab::new();
    let (desk, _) = lab.protected_pd("pd").await;
    lab.post(P, "/protection_domains/pd/oob_schedules", json!({}))
        .await;
    let snap = lab.get(P, "/protection_domains/pd/dr_snapshots").await["entities"][0].clone();
    let sid = snap["snapshot_id"].as_str().unwrap().to_string();
    let before = lab
        .control(Method::GET, "/ahv-primary/guest/acme-pd-desk-0001", None)
        .await
        .1;

    // The user works after the backup: contents change, and the desktop runs.
    lab.control(
        Method::POST,
        "/ahv-primary/sessions/open",
        Some(json!({ "vm": "acme-pd-desk-0001" })),
    )
    .await;
    let (st, after) = lab
        .control(
            Method::POST,
            "/ahv-primary/disks/fill",
            Some(json!({ "vm": "acme-pd-desk-0001", "free_bytes": 1 << 30 })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{after}");
    assert_ne!(after["contents_generation"], before["contents_generation"]);
    assert_eq!(lab.vm(P, "acme-pd-desk-0001").await["power_state"], "on");

    let refused = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/restore_entities",
            Some(json!({
                "snapshot_id": sid, "vm_names": ["acme-pd-desk-0001"], "replace": true,
            })),
        )
        .await;
    assert_prism_error(&refused, StatusCode::BAD_REQUEST, "powered on");

    let off = lab
        .post(
            P,
            &format!("/vms/{}/set_power_state", desk["uuid"].as_str().unwrap()),
            json!({ "transition": "ACPI_SHUTDOWN" }),
        )
        .await;
    lab.advance(30);
    assert_eq!(
        lab.task_status(P, &off["task_uuid"]).await["progress_status"],
        "SUCCEEDED"
    );
    let t = lab
        .post(
            P,
            "/protection_domains/pd/restore_entities",
            json!({
                "snapshot_id": sid, "vm_names": ["acme-pd-desk-0001"], "replace": true,
            }),
        )
        .await;
    lab.advance(600);
    assert_eq!(
        lab.task_status(P, &t["task_uuid"]).await["progress_status"],
        "SUCCEEDED"
    );
    let g = lab
        .control(Method::GET, "/ahv-primary/guest/acme-pd-desk-0001", None)
        .await
        .1;
    assert_eq!(g["contents_generation"], before["contents_generation"]);
    assert_eq!(g["used_bytes"], before["used_bytes"]);
    assert_eq!(
        lab.vm(P, "acme-pd-desk-0001").await["uuid"],
        desk["uuid"],
        "replaced in place"
    );
}

#[tokio::test]
async fn restore_with_prefix_creates_new_entities_and_both_answer_shapes_work() {
    let lab = Lab::new();
    let (_, profile) = lab.protected_pd("pd").await;
    lab.post(P, "/protection_domains/pd/oob_schedules", json!({}))
        .await;
    let sid = lab.get(P, "/protection_domains/pd/dr_snapshots").await["entities"][0]["snapshot_id"]
        .clone();

    let no_prefix = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/restore_entities",
            Some(json!({ "snapshot_id": sid, "vm_names": ["acme-pd-desk-0001"] })),
        )
        .await;
    assert_prism_error(&no_prefix, StatusCode::BAD_REQUEST, "already exists");

    let t = lab.post(P, "/protection_domains/pd/restore_entities", json!({
        "snapshot_id": sid, "vm_names": ["acme-pd-desk-0001"], "vm_name_prefix": "restored-",
    })).await;
    assert!(t["task_uuid"].is_string(), "{t}");
    lab.advance(600);
    let restored = lab.vm(P, "restored-acme-pd-desk-0001").await;
    assert_eq!(restored["power_state"], "off");
    assert_ne!(
        restored["uuid"],
        lab.vm(P, "acme-pd-desk-0001").await["uuid"]
    );

    // Older AOS answers a boolean.
    let (st, _) = lab
        .control(
            Method::PUT,
            "/ahv-primary/settings",
            Some(json!({ "restore_answer": "boolean" })),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let b = lab.post(P, "/protection_domains/pd/restore_entities", json!({
        "snapshot_id": sid, "volume_group_uuids": [profile["uuid"]], "vg_name_prefix": "old-",
    })).await;
    assert_eq!(b, json!({ "value": true }));
    lab.advance(600);
    lab.vg(P, "old-acme-pd-profile-0001").await;
    lab.control(
        Method::PUT,
        "/ahv-primary/settings",
        Some(json!({ "restore_answer": "bare" })),
    )
    .await;
    let bare = lab.post(P, "/protection_domains/pd/restore_entities", json!({
        "snapshot_id": sid, "volume_group_uuids": [profile["uuid"]], "vg_name_prefix": "bare-",
    })).await;
    assert_eq!(bare, json!(true));
}

#[tokio::test]
async fn restore_from_a_replica_works_on_the_cluster_that_holds_it() {
    let lab = Lab::new();
    lab.join().await;
    lab.protected_pd("pd").await;
    lab.post(
        P,
        "/protection_domains/pd/oob_schedules",
        json!({ "remote_site_names": ["ahv-secondary"] }),
    )
    .await;
    lab.advance(3600);
    let replica = lab.get(S, "/protection_domains/pd/dr_snapshots").await["entities"][0].clone();
    let t = lab
        .post(
            S,
            "/protection_domains/pd/restore_entities",
            json!({ "snapshot_id": replica["snapshot_id"] }),
        )
        .await;
    lab.advance(600);
    assert_eq!(
        lab.task_status(S, &t["task_uuid"]).await["progress_status"],
        "SUCCEEDED"
    );
    let vm = lab.vm(S, "acme-pd-desk-0001").await;
    let ctr = lab
        .get(
            S,
            &format!(
                "/storage_containers/{}",
                vm["vm_disk_info"][0]["storage_container_uuid"]
                    .as_str()
                    .unwrap()
            ),
        )
        .await;
    assert_eq!(
        ctr["name"], "storage-container-112133",
        "placed by the vStore mapping"
    );
    lab.vg(S, "acme-pd-profile-0001").await;
}

#[tokio::test]
async fn power_tasks_progress_and_injected_failures_fail() {
    let lab = Lab::new();
    let vm = lab.vm(P, "acme-pd-sandbox").await;
    assert_eq!(vm["power_state"], "off");
    let uuid = vm["uuid"].as_str().unwrap();
    let t = lab
        .post(
            P,
            &format!("/vms/{uuid}/set_power_state/"),
            json!({ "transition": "ON" }),
        )
        .await;
    let task = t["task_uuid"].clone();
    assert_eq!(lab.task_status(P, &task).await["progress_status"], "QUEUED");
    lab.advance(2);
    let running = lab.task_status(P, &task).await;
    assert_eq!(running["progress_status"], "RUNNING");
    assert!(running["percentage_complete"].as_i64().unwrap() > 0);
    assert_eq!(
        lab.vm(P, "acme-pd-sandbox").await["power_state"],
        "off",
        "not before the task is done"
    );
    let poll = lab
        .post(
            P,
            "/tasks/poll",
            json!({ "completed_tasks": [task], "timeout_interval": 0 }),
        )
        .await;
    assert_eq!(poll["timed_out"], true);
    lab.advance(10);
    let done = lab.task_status(P, &task).await;
    assert_eq!(done["progress_status"], "SUCCEEDED");
    assert_eq!(done["percentage_complete"], 100);
    assert_eq!(done["entity_list"][0]["entity_id"], uuid);
    assert!(
        done["complete_time_usecs"].as_i64().unwrap() > done["create_time_usecs"].as_i64().unwrap()
    );
    assert_eq!(lab.vm(P, "acme-pd-sandbox").await["power_state"], "on");
    let poll = lab
        .post(P, "/tasks/poll", json!({ "completed_tasks": [task] }))
        .await;
    assert_eq!(poll["completed_tasks_info"][0]["uuid"], task);

    let (st, _) = lab
        .control(
            Method::POST,
            "/ahv-primary/faults/tasks",
            Some(
                json!({ "kind": "set_power_state", "count": 1, "message": "host in maintenance" }),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let t = lab
        .post(
            P,
            &format!("/vms/{uuid}/set_power_state"),
            json!({ "transition": "OFF" }),
        )
        .await;
    lab.advance(30);
    let failed = lab.task_status(P, &t["task_uuid"]).await;
    assert_eq!(failed["progress_status"], "FAILED");
    assert_eq!(
        failed["meta_response"]["error_detail"],
        "host in maintenance"
    );
    assert_eq!(
        lab.vm(P, "acme-pd-sandbox").await["power_state"],
        "on",
        "a failed task changes nothing"
    );
    // Only the next one failed.
    let t = lab
        .post(
            P,
            &format!("/vms/{uuid}/set_power_state"),
            json!({ "transition": "OFF" }),
        )
        .await;
    lab.advance(30);
    assert_eq!(
        lab.task_status(P, &t["task_uuid"]).await["progress_status"],
        "SUCCEEDED"
    );
}

#[tokio::test]
async fn disks_grow_but_never_shrink_and_volume_groups_clone() {
    let lab = Lab::new();
    let vm = lab.vm(P, "acme-pd-util-01").await;
    let uuid = vm["uuid"].as_str().unwrap();
    let disk = vm["vm_disk_info"][0]["disk_address"]["vmdisk_uuid"].clone();
    let size = vm["vm_disk_info"][0]["size"].as_u64().unwrap();
    let shrink = lab.call(P, Method::PUT, &format!("/vms/{uuid}/disks/update"), Some(json!({
        "vm_disks": [{ "disk_address": { "vmdisk_uuid": disk, "device_bus": "SCSI", "device_index": 0 }, "vm_disk_create": { "size": size / 2 } }]
    }))).await;
    assert_prism_error(&shrink, StatusCode::BAD_REQUEST, "shrink");
    let grow = lab.call(P, Method::PUT, &format!("/vms/{uuid}/disks/update"), Some(json!({
        "vm_disks": [{ "disk_address": { "vmdisk_uuid": disk }, "vm_disk_create": { "size": size + (10 << 30) } }]
    }))).await;
    assert_eq!(grow.status, StatusCode::OK, "{}", grow.body);
    lab.advance(10);
    assert_eq!(
        lab.vm(P, "acme-pd-util-01").await["vm_disk_info"][0]["size"]
            .as_u64()
            .unwrap(),
        size + (10 << 30)
    );

    let vg = lab.vg(P, "acme-pd-pdrive-0002").await;
    let vu = vg["uuid"].as_str().unwrap();
    let bytes = vg["disk_list"][0]["vmdisk_size_bytes"].as_u64().unwrap();
    let shrink = lab
        .call(
            P,
            Method::PUT,
            &format!("/volume_groups/{vu}/disks"),
            Some(json!({ "index": 0, "upgrade_spec": { "size": bytes - 1 } })),
        )
        .await;
    assert_prism_error(&shrink, StatusCode::BAD_REQUEST, "shrink");
    let no_index = lab
        .call(
            P,
            Method::PUT,
            &format!("/volume_groups/{vu}/disks"),
            Some(json!({ "upgrade_spec": { "size": bytes } })),
        )
        .await;
    assert_prism_error(&no_index, StatusCode::BAD_REQUEST, "index");
    lab.call(
        P,
        Method::PUT,
        &format!("/volume_groups/{vu}/disks"),
        Some(json!({ "index": 0, "upgrade_spec": { "size_mb": (bytes >> 20) + 1024 } })),
    )
    .await;
    let c = lab
        .post(
            P,
            &format!("/volume_groups/{vu}/clone"),
            json!({ "name": "acme-dr-pdrive-from-pd" }),
        )
        .await;
    lab.advance(30);
    assert_eq!(
        lab.task_status(P, &c["task_uuid"]).await["progress_status"],
        "SUCCEEDED"
    );
    let grown = lab.vg(P, "acme-pd-pdrive-0002").await;
    assert_eq!(
        grown["disk_list"][0]["vmdisk_size_bytes"].as_u64().unwrap(),
        bytes + (1 << 30)
    );
    let clone = lab.vg(P, "acme-dr-pdrive-from-pd").await;
    assert_ne!(clone["uuid"], grown["uuid"]);
    assert!(clone["attachment_list"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn requests_are_validated_like_prism_does() {
    let lab = Lab::new();
    let vm = lab.vm(P, "acme-pd-sandbox").await;
    let uuid = vm["uuid"].as_str().unwrap();
    let cases: Vec<(Method, String, Option<Value>, StatusCode, &str)> = vec![
        (
            Method::POST,
            format!("/vms/{uuid}/set_power_state"),
            Some(json!({ "transition": "HIBERNATE" })),
            StatusCode::BAD_REQUEST,
            "HIBERNATE",
        ),
        (
            Method::POST,
            format!("/vms/{uuid}/set_power_state"),
            Some(json!({})),
            StatusCode::BAD_REQUEST,
            "transition",
        ),
        (
            Method::POST,
            format!("/vms/{uuid}/set_power_state"),
            Some(json!({ "transition": 5 })),
            StatusCode::BAD_REQUEST,
            "transition",
        ),
        (
            Method::POST,
            "/vms/not-a-uuid/set_power_state".into(),
            Some(json!({ "transition": "ON" })),
            StatusCode::BAD_REQUEST,
            "Invalid VM UUID",
        ),
        (
            Method::GET,
            format!("/vms/{}", uuid::Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
            "does not exist",
        ),
        (
            Method::POST,
            "/protection_domains".into(),
            Some(json!({ "name": "x" })),
            StatusCode::BAD_REQUEST,
            "value",
        ),
        (
            Method::POST,
            "/protection_domains".into(),
            Some(json!("x")),
            StatusCode::BAD_REQUEST,
            "JSON object",
        ),
        (
            Method::POST,
            "/remote_sites".into(),
            Some(json!({ "name": "x", "remote_ip_ports": { "not-an-ip": 2020 } })),
            StatusCode::BAD_REQUEST,
            "not an IP",
        ),
        (
            Method::POST,
            "/remote_sites".into(),
            Some(json!({ "name": "x", "remote_ip_ports": { "127.0.0.9": "http" } })),
            StatusCode::BAD_REQUEST,
            "TCP port",
        ),
        (
            Method::POST,
            "/remote_sites".into(),
            Some(json!({ "name": "x" })),
            StatusCode::BAD_REQUEST,
            "remote_ip_ports",
        ),
        (
            Method::POST,
            "/remote_sites".into(),
            Some(
                json!({ "name": "x", "remote_ip_ports": { "127.0.0.9": 2020 }, "bandwidth_policy": {} }),
            ),
            StatusCode::BAD_REQUEST,
            "policy_name",
        ),
        (
            Method::POST,
            "/remote_sites".into(),
            Some(json!({ "name": "self", "remote_ip_ports": { "127.0.77.1": 2020 } })),
            StatusCode::BAD_REQUEST,
            "own remote site",
        ),
        (
            Method::GET,
            "/protection_domains/none/dr_snapshots".into(),
            None,
            StatusCode::NOT_FOUND,
            "none",
        ),
        (
            Method::POST,
            "/tasks/poll".into(),
            Some(json!({ "completed_tasks": ["nope"] })),
            StatusCode::BAD_REQUEST,
            "Invalid task UUID",
        ),
        (
            Method::GET,
            "/no_such_thing".into(),
            None,
            StatusCode::NOT_FOUND,
            "no_such_thing",
        ),
    ];
    for (method, path, body, status, needle) in cases {
        let a = lab.call(P, method.clone(), &path, body).await;
        assert_prism_error(&a, status, needle);
    }
    let raw = Request::builder()
        .method(Method::POST)
        .uri(format!("{BASE}/protection_domains"))
        .header(header::AUTHORIZATION, basic(P))
        .body(Body::from("{not json"))
        .unwrap();
    assert_prism_error(
        &lab.raw(P, raw).await,
        StatusCode::BAD_REQUEST,
        "Malformed JSON",
    );

    lab.post(P, "/protection_domains", json!({ "value": "pd" }))
        .await;
    let missing_vm = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/protect_vms",
            Some(json!({ "names": ["ghost"] })),
        )
        .await;
    assert_prism_error(&missing_vm, StatusCode::BAD_REQUEST, "ghost");
    let empty = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/oob_schedules",
            Some(json!({})),
        )
        .await;
    assert_prism_error(&empty, StatusCode::BAD_REQUEST, "protects no entities");
    lab.post(
        P,
        "/protection_domains/pd/protect_vms",
        json!({ "names": ["acme-pd-sandbox"] }),
    )
    .await;
    let no_site = lab
        .call(
            P,
            Method::POST,
            "/protection_domains/pd/oob_schedules",
            Some(json!({ "remote_site_names": ["mars"] })),
        )
        .await;
    assert_prism_error(&no_site, StatusCode::BAD_REQUEST, "mars");
}

#[tokio::test]
async fn sessions_and_the_guest_agent_are_lab_controls() {
    let lab = Lab::new();
    let (st, g) = lab
        .control(
            Method::POST,
            "/ahv-primary/sessions/open",
            Some(json!({ "email": "bob.martin@acme-pd.example" })),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    assert_eq!(g["in_session"], true);
    assert_eq!(g["power_state"], "on");
    let vm = g["vm_name"].as_str().unwrap().to_string();
    assert_eq!(lab.vm(P, &vm).await["power_state"], "on");
    let free = g["free_bytes"].as_u64().unwrap();
    assert_eq!(
        free,
        g["disk_size_bytes"].as_u64().unwrap() - g["used_bytes"].as_u64().unwrap()
    );
    let (st, _) = lab
        .control(
            Method::POST,
            "/ahv-primary/sessions/open",
            Some(json!({ "email": "bob.martin@acme-pd.example" })),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (_, closed) = lab
        .control(
            Method::POST,
            "/ahv-primary/sessions/close",
            Some(json!({ "email": "bob.martin@acme-pd.example" })),
        )
        .await;
    assert_eq!(closed["in_session"], false);
    assert!(
        closed["free_bytes"].as_u64().unwrap() < free,
        "the session wrote data"
    );
    let (st, _) = lab
        .control(
            Method::POST,
            "/ahv-primary/sessions/open",
            Some(json!({ "email": "nobody@x" })),
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _) = lab.control(Method::GET, "/ahv-nowhere/guests", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, all) = lab.control(Method::GET, "/state", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(all["clusters"].as_array().unwrap().len(), 2);
    let (_, list) = lab.control(Method::GET, "/", None).await;
    assert_eq!(list[1]["name"], "ahv-secondary");
    assert_eq!(list[1]["account"], "acme-dr");
}

#[tokio::test]
async fn state_exports_and_imports_exactly() {
    let lab = Lab::new();
    lab.join().await;
    lab.protected_pd("pd").await;
    lab.post(
        P,
        "/protection_domains/pd/oob_schedules",
        json!({ "remote_site_names": ["ahv-secondary"], "snapshot_retention_time_secs": 7200 }),
    )
    .await;
    lab.advance(60);
    let saved = lab.lab.export_state();

    // A fresh lab (same clock time) takes the saved state and answers the same.
    let fresh = PrismLab::new(lab.clock.clone(), specs());
    assert_ne!(fresh.export_state(), saved);
    fresh.import_state(saved.clone()).unwrap();
    assert_eq!(fresh.export_state(), saved);

    // Replication goes on after the import.
    let other = Lab {
        lab: fresh,
        clock: lab.clock.clone(),
    };
    other.advance(3600);
    assert_eq!(
        other.get(S, "/protection_domains/pd/dr_snapshots").await["entities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    assert!(other
        .lab
        .import_state(json!({ "clusters": "nope" }))
        .is_err());
}

#[tokio::test]
async fn import_moves_remote_sites_to_a_peers_new_replication_port() {
    let lab = Lab::new();
    lab.join().await;
    let saved = lab.lab.export_state();
    let mut moved = specs();
    moved[1].replication_ports = [3009, 3020];
    moved[0].replication_ports = [3109, 3120];
    let fresh = PrismLab::new(lab.clock.clone(), moved);
    fresh.import_state(saved).unwrap();
    let other = Lab {
        lab: fresh,
        clock: lab.clock.clone(),
    };
    let site = other.site(P, "ahv-secondary").await;
    assert_eq!(site["remote_ip_ports"]["127.0.77.2"], 3020);
    assert_eq!(site["status"], "RELATIONSHIP_ESTABLISHED");
}
