//! The Prism Element client against the lab's simulated clusters: discovery, tasks, remote sites
//! and Test connection, protection, snapshots and replication, restore in every answer shape,
//! sessions, certificate pinning, and injected faults.
//!
//! Every request the client sends goes through the lab's spec checks (a malformed body answers
//! 400 and fails the test), and every answer is read by the client's own models.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};
use standby_core::error::ErrorCode;
use standby_core::inventory::{DesktopState, ResourceKind, TEMPLATE_NOT_PROTECTED};
use standby_core::providers::prism::protection::RestoreStarted;
use standby_core::providers::prism::setup::{
    self, ConnectionTestSpec, RemoteSitePlan, SiteEnd, VstoreMapping,
};
use standby_core::providers::prism::types::{PowerTransition, RemoteSiteStatus, VmPowerState};
use standby_core::providers::prism::{
    Cancellation, MappingOverride, PrismClient, PrismConfig, PrismError, RestoreSpec, RetryPolicy,
    ScheduleSpec, TaskProgress,
};
use standby_core::secret::Secret;
use standby_core::ApiError;
use standby_lab::{Lab, LabConfig, LabHandle, PrismEndpoint};

const ACCOUNT: &str = "acme-pd";
const DEFAULT_CONTAINER: &str = "default-container-77107";
const SELF_SERVICE: &str = "SelfServiceContainer";
const DR_CONTAINER: &str = "storage-container-112133";

async fn start() -> LabHandle {
    Lab::start(LabConfig::for_tests())
        .await
        .expect("the lab starts")
}

fn config(ep: &PrismEndpoint, password: &str, fingerprint: &str) -> PrismConfig {
    PrismConfig {
        base_url: ep.base_url.clone(),
        username: ep.username.clone(),
        password: Secret::new(password),
        pinned_sha256: fingerprint.to_string(),
        timeout: Duration::from_secs(10),
    }
}

/// Retries quick enough for tests (the policy's shape is what is tested, not its defaults).
fn quick() -> RetryPolicy {
    RetryPolicy {
        retries: 4,
        min_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client(ep: &PrismEndpoint) -> PrismClient {
    PrismClient::with_retry(config(ep, &ep.password, &ep.certificate_sha256), quick())
        .expect("client")
}

fn plain_http() -> reqwest::Client {
    let tls = standby_core::providers::tls::web_client_config(None).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The lab's control API (`/_lab/...`).
async fn control(
    lab: &LabHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let url = format!("{}_lab/{path}", lab.control_url);
    let mut req = plain_http().request(method, &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("control request");
    let status = resp.status();
    let v = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {v}");
    v
}

async fn advance(lab: &LabHandle, seconds: u64) {
    control(
        lab,
        reqwest::Method::POST,
        "time/advance",
        Some(json!({ "seconds": seconds })),
    )
    .await;
}

/// Lab time runs `scale` times faster than real time (0 freezes it).
async fn scale(lab: &LabHandle, scale: f64) {
    control(
        lab,
        reqwest::Method::POST,
        "time/scale",
        Some(json!({ "scale": scale })),
    )
    .await;
}

async fn cluster_state(lab: &LabHandle, cluster: &str) -> Value {
    control(lab, reqwest::Method::GET, &format!("prism/{cluster}"), None).await
}

fn primary(lab: &LabHandle) -> &PrismEndpoint {
    &lab.prism[0]
}

fn secondary(lab: &LabHandle) -> &PrismEndpoint {
    &lab.prism[1]
}

async fn wait(c: &PrismClient, task: &str) -> Result<Vec<TaskProgress>, PrismError> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let mut progress = move |p: TaskProgress| s.lock().push(p);
    c.wait_task(task, &mut progress, &Cancellation::new())
        .await?;
    let out = seen.lock().clone();
    Ok(out)
}

async fn vm_named(c: &PrismClient, name: &str) -> standby_core::providers::prism::types::Vm {
    c.vms()
        .await
        .unwrap()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no VM {name}"))
}

/// The Frame DR document's pair of sites: both clusters' VM containers and self-service containers.
fn plan(lab: &LabHandle, mappings: &[(&str, &str)]) -> RemoteSitePlan {
    RemoteSitePlan {
        primary: SiteEnd {
            site_name: "ahv-primary".into(),
            address: primary(lab).ip.to_string(),
            port: primary(lab).replication_ports[1],
        },
        secondary: SiteEnd {
            site_name: "ahv-secondary".into(),
            address: secondary(lab).ip.to_string(),
            port: secondary(lab).replication_ports[1],
        },
        mappings: mappings
            .iter()
            .map(|(s, d)| VstoreMapping {
                source: s.to_string(),
                destination: d.to_string(),
            })
            .collect(),
        reverse_mappings: Vec::new(),
        bandwidth_limit_bytes_per_sec: None,
        compression: true,
    }
}

const FULL_MAPPING: [(&str, &str); 2] = [
    (DEFAULT_CONTAINER, DR_CONTAINER),
    (SELF_SERVICE, SELF_SERVICE),
];

fn test_spec(lab: &LabHandle, containers: Vec<String>) -> ConnectionTestSpec {
    let mut spec = ConnectionTestSpec::new("ahv-secondary", "ahv-primary");
    spec.secondary_ports = secondary(lab).replication_ports.to_vec();
    spec.primary_ports = primary(lab).replication_ports.to_vec();
    spec.account_containers = containers;
    spec
}

fn check<'a>(t: &'a setup::ConnectionTest, name: &str) -> &'a setup::Check {
    t.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {t:#?}"))
}

#[tokio::test]
async fn discovers_the_seeded_account_with_owners_templates_and_corrections() {
    let lab = start().await;
    let c = client(primary(&lab));
    let cluster = c.cluster().await.unwrap();
    assert_eq!(cluster.name, "ahv-primary");
    assert_eq!(
        cluster.cluster_external_ipaddress,
        Some(primary(&lab).ip.to_string())
    );
    let found = c.discover_account(ACCOUNT, &[]).await.unwrap();
    let count = |k: ResourceKind| found.iter().filter(|r| r.kind == k).count();
    assert_eq!(count(ResourceKind::Sandbox), 1);
    assert_eq!(count(ResourceKind::UtilityServer), 2);
    assert_eq!(count(ResourceKind::PersistentDesktop), 36 + 2);
    assert_eq!(count(ResourceKind::EnterpriseProfile), 36);
    assert_eq!(count(ResourceKind::PersonalDrive), 36);
    assert_eq!(count(ResourceKind::TemplateImage), 1);
    for r in &found {
        assert_eq!(r.frame_account, ACCOUNT);
        assert!(r.size_bytes > 0.0, "{} has a size", r.name);
        let protected = r.kind != ResourceKind::TemplateImage;
        assert_eq!(
            r.not_protected_reason.as_deref(),
            (!protected).then_some(TEMPLATE_NOT_PROTECTED),
            "{}",
            r.name
        );
        match r.kind {
            ResourceKind::EnterpriseProfile | ResourceKind::PersonalDrive => {
                assert!(r
                    .owner
                    .as_deref()
                    .is_some_and(|o| o.ends_with("@acme-pd.example")));
                assert_eq!(r.location, SELF_SERVICE);
            }
            ResourceKind::PersistentDesktop => {
                assert_eq!(r.location, DEFAULT_CONTAINER);
                match r.desktop_state {
                    Some(DesktopState::Shadow) => assert!(r.owner.is_none(), "{}", r.name),
                    Some(_) => assert!(r.owner.is_some(), "{}", r.name),
                    None => panic!("{} has no desktop state", r.name),
                }
                assert!(r.power.is_some());
            }
            _ => assert_eq!(r.location, DEFAULT_CONTAINER),
        }
    }
    let shadows = found
        .iter()
        .filter(|r| r.desktop_state == Some(DesktopState::Shadow))
        .count();
    assert_eq!(shadows, 2);
    // Profiles of users with an assigned desktop are attached to it.
    assert!(found
        .iter()
        .any(|r| r.kind == ResourceKind::EnterpriseProfile && r.vm_id.is_some()));

    // The administrator's corrections: one desktop left out, one owner fixed.
    let desk = found
        .iter()
        .find(|r| r.name == "acme-pd-desk-0001")
        .unwrap()
        .clone();
    let util = found
        .iter()
        .find(|r| r.name == "acme-pd-util-01")
        .unwrap()
        .clone();
    let corrected = c
        .discover_account(
            ACCOUNT,
            &[
                MappingOverride {
                    provider_id: desk.provider_id.clone(),
                    kind: None,
                    owner: None,
                    exclude: true,
                },
                MappingOverride {
                    provider_id: util.provider_id.clone(),
                    kind: None,
                    owner: Some("ops@acme-pd.example".into()),
                    exclude: false,
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(corrected.len(), found.len() - 1);
    assert!(!corrected.iter().any(|r| r.provider_id == desk.provider_id));
    assert_eq!(
        corrected
            .iter()
            .find(|r| r.provider_id == util.provider_id)
            .unwrap()
            .owner
            .as_deref(),
        Some("ops@acme-pd.example")
    );

    // The secondary holds another account: nothing of acme-pd there.
    let other = client(secondary(&lab))
        .discover_account(ACCOUNT, &[])
        .await
        .unwrap();
    assert!(other.is_empty(), "{other:?}");
    let dr = client(secondary(&lab))
        .discover_account("acme-dr", &[])
        .await
        .unwrap();
    assert!(dr.iter().any(|r| r.kind == ResourceKind::PersistentDesktop));
}

#[tokio::test]
async fn power_transitions_run_as_tasks_to_completion() {
    let lab = start().await;
    let c = client(primary(&lab));
    let util = vm_named(&c, "acme-pd-util-01").await;
    assert_eq!(util.power_state, Some(VmPowerState::On));
    // 5 s of lab time per task: run the lab clock fast.
    scale(&lab, 20.0).await;
    let task = c
        .set_power_state(&util.uuid, PowerTransition::Off)
        .await
        .unwrap();
    let seen = wait(&c, &task).await.unwrap();
    assert_eq!(seen.last().unwrap().status, "SUCCEEDED");
    assert_eq!(seen.last().unwrap().percent, 100);
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().power_state,
        Some(VmPowerState::Off)
    );
    let task = c
        .set_power_state(&util.uuid, PowerTransition::On)
        .await
        .unwrap();
    wait(&c, &task).await.unwrap();
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().power_state,
        Some(VmPowerState::On)
    );
    // The finished task reads back with its times (epoch microseconds).
    let t = c.task(&task).await.unwrap();
    assert!(t.complete_time_usecs.unwrap() >= t.create_time_usecs.unwrap());
    let polled = c.poll_tasks(std::slice::from_ref(&task), 0).await.unwrap();
    assert_eq!(polled.completed_tasks_info.len(), 1);

    // Growing disks: a VM disk and a volume group disk, through their tasks.
    let disk = util.disks().next().unwrap().clone();
    let grown = disk.size.unwrap() + 10 * 1024 * 1024 * 1024;
    let t = c
        .resize_vm_disk(&util.uuid, &disk.disk_address, grown)
        .await
        .unwrap();
    wait(&c, &t).await.unwrap();
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().disks().next().unwrap().size,
        Some(grown)
    );
    let vg = c
        .volume_groups()
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == "acme-pd-pdrive-0001")
        .unwrap();
    let size = vg.disk_list[0].size_bytes().unwrap();
    let t = c
        .resize_volume_group_disk(&vg.uuid, 0, size + 1024 * 1024 * 1024)
        .await
        .unwrap();
    wait(&c, &t).await.unwrap();
    let after = c.volume_group(&vg.uuid).await.unwrap();
    assert_eq!(
        after.disk_list[0].size_bytes(),
        Some(size + 1024 * 1024 * 1024)
    );
    // Shrinking is refused with Prism's words.
    let e = c
        .resize_volume_group_disk(&vg.uuid, 0, 1024)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, PrismError::Rejected { message, .. } if message.contains("shrink")),
        "{e:?}"
    );
    // Clone on the same cluster.
    let t = c
        .clone_volume_group(&vg.uuid, "acme-pd-pdrive-0001-copy", None)
        .await
        .unwrap();
    wait(&c, &t).await.unwrap();
    assert!(c
        .volume_groups()
        .await
        .unwrap()
        .iter()
        .any(|g| g.name == "acme-pd-pdrive-0001-copy"));
}

#[tokio::test]
async fn a_failed_task_is_an_error_never_a_success() {
    let lab = start().await;
    let c = client(primary(&lab));
    let util = vm_named(&c, "acme-pd-util-02").await;
    control(
        &lab,
        reqwest::Method::POST,
        "prism/ahv-primary/faults/tasks",
        Some(json!({"kind": "set_power_state", "count": 1, "error_code": 1203, "message": "Host ran out of memory"})),
    )
    .await;
    scale(&lab, 20.0).await;
    let task = c
        .set_power_state(&util.uuid, PowerTransition::Off)
        .await
        .unwrap();
    let e = wait(&c, &task).await.unwrap_err();
    match &e {
        PrismError::TaskFailed {
            status, message, ..
        } => {
            assert_eq!(status, "FAILED");
            assert!(message.contains("Host ran out of memory"), "{message}");
        }
        other => panic!("expected a failed task, got {other:?}"),
    }
    assert_eq!(ApiError::from(e).code, ErrorCode::Unavailable);
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().power_state,
        Some(VmPowerState::On),
        "a failed task changes nothing"
    );
}

#[tokio::test]
async fn a_slow_task_behind_a_slow_gateway_still_completes() {
    let lab = start().await;
    let c = client(primary(&lab));
    let util = vm_named(&c, "acme-pd-util-01").await;
    // Each answer waits 150 ms; lab time crawls (the ACPI task needs 9 s of it, about 4.5 s real).
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"latency_ms": 150})),
    )
    .await;
    scale(&lab, 2.0).await;
    let task = c
        .set_power_state(&util.uuid, PowerTransition::AcpiShutdown)
        .await
        .unwrap();
    let seen = wait(&c, &task).await.unwrap();
    let percents: Vec<u8> = seen.iter().map(|p| p.percent).collect();
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert!(
        seen.iter()
            .any(|p| p.status == "RUNNING" && p.percent > 0 && p.percent < 100),
        "progress was reported on the way: {seen:?}"
    );
    assert_eq!(seen.last().unwrap().status, "SUCCEEDED");
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().power_state,
        Some(VmPowerState::Off)
    );
}

#[tokio::test]
async fn waiting_can_be_cancelled() {
    let lab = start().await;
    let c = client(primary(&lab));
    let util = vm_named(&c, "acme-pd-util-01").await;
    // Frozen clock: the task never finishes by itself.
    let task = c
        .set_power_state(&util.uuid, PowerTransition::Off)
        .await
        .unwrap();
    let cancel = Cancellation::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let started = Instant::now();
    let mut ignore = |_p: TaskProgress| {};
    let e = c.wait_task(&task, &mut ignore, &cancel).await.unwrap_err();
    assert!(matches!(e, PrismError::Cancelled), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn remote_sites_and_test_connection_explain_each_failure_then_pass() {
    let lab = start().await;
    let p = client(primary(&lab));
    let s = client(secondary(&lab));

    let both = setup::list_containers(&p, &s).await.unwrap();
    let names = |v: &[setup::ContainerChoice]| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    assert!(names(&both.primary).contains(&DEFAULT_CONTAINER.to_string()));
    assert!(names(&both.secondary).contains(&DR_CONTAINER.to_string()));
    let mgmt = both
        .primary
        .iter()
        .find(|c| c.name == "NutanixManagementShare")
        .unwrap();
    assert!(mgmt.nutanix_managed);
    assert!(both.primary.iter().all(|c| c.free_bytes.is_some()));

    let resources = p.discover_account(ACCOUNT, &[]).await.unwrap();
    let containers = setup::account_containers(&resources);
    assert_eq!(
        containers,
        vec![SELF_SERVICE.to_string(), DEFAULT_CONTAINER.to_string()]
    );

    // 1. Only the primary's site, with only the VM container mapped: the reverse site is missing.
    let partial = plan(&lab, &[(DEFAULT_CONTAINER, DR_CONTAINER)]);
    let forward = standby_core::providers::prism::RemoteSiteSpec {
        name: "ahv-secondary".into(),
        remote_ip_ports: BTreeMap::from([(
            partial.secondary.address.clone(),
            partial.secondary.port,
        )]),
        vstore_name_map: BTreeMap::from([(DEFAULT_CONTAINER.into(), DR_CONTAINER.into())]),
        bandwidth_limit_bytes_per_sec: Some(50 * 1024 * 1024),
        compression: true,
    };
    let site = p.create_remote_site(&forward).await.unwrap();
    assert_eq!(
        site.status,
        Some(RemoteSiteStatus::RelationshipNotEstablished)
    );
    assert_eq!(
        site.bandwidth_policy
            .as_ref()
            .unwrap()
            .default_bandwidth_limit,
        Some(50 * 1024 * 1024)
    );
    let t = setup::test_connection(&p, &s, &test_spec(&lab, containers.clone()))
        .await
        .unwrap();
    assert!(!t.ok);
    let on_primary = check(&t, "Remote site on the primary");
    assert!(!on_primary.ok);
    assert!(
        on_primary
            .detail
            .contains("relationship is not established")
            && on_primary
                .detail
                .contains("no remote site pointing at this cluster"),
        "{}",
        on_primary.detail
    );
    let on_secondary = check(&t, "Remote site on the secondary");
    assert!(!on_secondary.ok);
    assert!(
        on_secondary
            .detail
            .contains("has no remote site named ahv-primary"),
        "{}",
        on_secondary.detail
    );
    let unmapped = check(&t, &format!("Container {SELF_SERVICE} mapped"));
    assert!(!unmapped.ok);
    assert!(
        unmapped.detail.contains("not mapped"),
        "{}",
        unmapped.detail
    );
    assert!(check(&t, &format!("Container {DEFAULT_CONTAINER} mapped")).ok);
    // The replication ports answer from here even though the relationship is not there.
    let tcp: Vec<_> = t
        .checks
        .iter()
        .filter(|c| c.name.starts_with("TCP"))
        .collect();
    assert_eq!(tcp.len(), 2, "both ports of the secondary: {tcp:?}");
    assert!(tcp.iter().all(|c| c.ok), "{tcp:?}");

    // 2. The wizard's setup adopts the primary's site and adds the reverse one: only the
    //    unmapped container is left.
    let r = setup::setup_remote_sites(&p, &s, &partial).await.unwrap();
    assert_eq!(r.on_primary.action, "updated", "{r:?}");
    assert_eq!(r.on_secondary.action, "created");
    let t = setup::test_connection(&p, &s, &test_spec(&lab, containers.clone()))
        .await
        .unwrap();
    assert!(!t.ok);
    assert!(check(&t, "Remote site on the primary").ok, "{t:#?}");
    assert!(check(&t, "Remote site on the primary")
        .detail
        .contains("latency 0.42 ms"));
    assert!(check(&t, "Remote site on the secondary").ok, "{t:#?}");
    let unmapped = check(&t, &format!("Container {SELF_SERVICE} mapped"));
    assert!(!unmapped.ok && unmapped.detail.contains("ahv-secondary"));
    assert_eq!(t.checks.iter().filter(|c| !c.ok).count(), 1, "{t:#?}");

    // 3. Both containers mapped: everything passes.
    let full = plan(&lab, &FULL_MAPPING);
    let r = setup::setup_remote_sites(&p, &s, &full).await.unwrap();
    assert_eq!(r.on_primary.action, "updated");
    assert_eq!(r.on_secondary.action, "updated");
    let t = setup::test_connection(&p, &s, &test_spec(&lab, containers.clone()))
        .await
        .unwrap();
    assert!(t.ok, "{t:#?}");
    assert_eq!(
        t.checks
            .iter()
            .filter(|c| c.name.starts_with("TCP"))
            .count(),
        4
    );
    // Running it again changes nothing.
    let again = setup::setup_remote_sites(&p, &s, &full).await.unwrap();
    assert_eq!(again.on_primary.action, "unchanged");
    assert_eq!(again.on_secondary.action, "unchanged");
    let back = s.remote_site("ahv-primary").await.unwrap();
    assert_eq!(
        back.vstore_name_map,
        BTreeMap::from([
            (DR_CONTAINER.to_string(), DEFAULT_CONTAINER.to_string()),
            (SELF_SERVICE.to_string(), SELF_SERVICE.to_string()),
        ])
    );
    // Several sources may share one destination.
    let shared = plan(
        &lab,
        &[
            (DEFAULT_CONTAINER, DR_CONTAINER),
            (SELF_SERVICE, DR_CONTAINER),
        ],
    );
    setup::setup_remote_sites(&p, &s, &shared).await.unwrap();
    assert_eq!(
        p.remote_site("ahv-secondary")
            .await
            .unwrap()
            .vstore_name_map[SELF_SERVICE],
        DR_CONTAINER
    );
    setup::setup_remote_sites(&p, &s, &full).await.unwrap();

    // 4. The secondary drops off the network: unreachable, said so.
    control(
        &lab,
        reqwest::Method::PUT,
        "prism/ahv-secondary/settings",
        Some(json!({"reachable": false})),
    )
    .await;
    let t = setup::test_connection(&p, &s, &test_spec(&lab, containers.clone()))
        .await
        .unwrap();
    let c = check(&t, "Remote site on the primary");
    assert!(!c.ok && c.detail.contains("cannot reach"), "{}", c.detail);
    control(
        &lab,
        reqwest::Method::PUT,
        "prism/ahv-secondary/settings",
        Some(json!({"reachable": true})),
    )
    .await;

    // 5. A mapping to a container the secondary does not have is refused before anything is sent.
    let wrong = plan(&lab, &[(DEFAULT_CONTAINER, "no-such-container")]);
    let e = setup::setup_remote_sites(&p, &s, &wrong).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("no-such-container does not exist on the secondary"),
        "{e}"
    );

    // Listing and deleting.
    assert_eq!(p.remote_sites().await.unwrap().len(), 1);
    p.delete_remote_site("ahv-secondary").await.unwrap();
    assert!(p.find_remote_site("ahv-secondary").await.unwrap().is_none());
    let e = p.remote_site("ahv-secondary").await.unwrap_err();
    assert!(matches!(e, PrismError::NotFound { .. }));
    assert_eq!(ApiError::from(e).code, ErrorCode::NotFound);
}

/// Joined clusters and the account protected: the state most DR tests start from.
async fn protected(lab: &LabHandle) -> (PrismClient, PrismClient, String) {
    let p = client(primary(lab));
    let s = client(secondary(lab));
    setup::setup_remote_sites(&p, &s, &plan(lab, &FULL_MAPPING))
        .await
        .unwrap();
    let resources = p.discover_account(ACCOUNT, &[]).await.unwrap();
    let r = setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap();
    (p, s, r.protection_domain)
}

#[tokio::test]
async fn protection_domain_is_created_or_adopted_and_protects_the_account() {
    let lab = start().await;
    let p = client(primary(&lab));
    let resources = p.discover_account(ACCOUNT, &[]).await.unwrap();
    let r = setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap();
    assert_eq!(r.protection_domain, "standby-acme-pd");
    assert!(r.created);
    assert_eq!(r.protected_vms, 1 + 2 + 38);
    assert_eq!(r.protected_volume_groups, 72);
    assert_eq!(
        (r.newly_protected_vms, r.newly_protected_volume_groups),
        (41, 72)
    );
    assert_eq!(
        (r.already_protected_vms, r.already_protected_volume_groups),
        (0, 0)
    );
    assert_eq!(r.skipped.len(), 1, "the template image: {:?}", r.skipped);
    assert_eq!(r.skipped[0].reason, TEMPLATE_NOT_PROTECTED);
    // Again: adopted, nothing added twice.
    let again = setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.protected_vms, r.protected_vms);
    assert_eq!(
        (
            again.newly_protected_vms,
            again.newly_protected_volume_groups
        ),
        (0, 0),
        "nothing added the second time"
    );
    assert_eq!(
        (
            again.already_protected_vms,
            again.already_protected_volume_groups
        ),
        (41, 72)
    );
    let pd = p.protection_domain("standby-acme-pd").await.unwrap();
    assert_eq!(pd.vms.len(), 41);
    assert_eq!(pd.active, Some(true));

    // Unprotect and protect again.
    p.unprotect("standby-acme-pd", &["acme-pd-sandbox".to_string()])
        .await
        .unwrap();
    assert_eq!(
        p.protection_domain("standby-acme-pd")
            .await
            .unwrap()
            .vms
            .len(),
        40
    );
    let again = setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap();
    assert_eq!(again.protected_vms, 41);
    assert_eq!(
        again.newly_protected_vms, 1,
        "only the sandbox was added back"
    );
    assert_eq!(again.already_protected_vms, 40);

    // An entity another domain holds is skipped with the reason, not a failed request.
    p.create_protection_domain("someone-elses").await.unwrap();
    let template = resources
        .iter()
        .find(|r| r.kind == ResourceKind::TemplateImage)
        .unwrap();
    p.protect(
        "someone-elses",
        &standby_core::providers::prism::ProtectEntities {
            vm_uuids: vec![template.provider_id.clone()],
            volume_group_uuids: vec![],
        },
    )
    .await
    .unwrap();
    let mut with_template = resources.clone();
    for r in &mut with_template {
        if r.kind == ResourceKind::TemplateImage {
            r.not_protected_reason = None;
        }
    }
    let r = setup::ensure_protection(&p, ACCOUNT, &with_template)
        .await
        .unwrap();
    assert!(
        r.skipped[0].reason.contains("someone-elses"),
        "{:?}",
        r.skipped
    );
    // A duplicate name is a conflict.
    let e = p
        .create_protection_domain("someone-elses")
        .await
        .unwrap_err();
    assert_eq!(ApiError::from(e).code, ErrorCode::Conflict);
}

#[tokio::test]
async fn backup_replicates_to_completion_and_schedules_keep_retention() {
    let lab = start().await;
    let (p, s, pd) = protected(&lab).await;

    let sched = p
        .add_schedule(
            &pd,
            &ScheduleSpec {
                kind: "DAILY".into(),
                every_nth: 1,
                start_time_usecs: lab.clock.now_usecs() + 30 * 86_400 * 1_000_000,
                local_max_snapshots: 3,
                remote_max_snapshots: BTreeMap::from([("ahv-secondary".to_string(), 2)]),
            },
        )
        .await
        .unwrap();
    let listed = p.schedules(&pd).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, sched.id);
    let rp = listed[0].retention_policy.as_ref().unwrap();
    assert_eq!(rp.local_max_snapshots, Some(3));
    assert_eq!(rp.remote_max_snapshots["ahv-secondary"], 2);

    let snap = p
        .take_snapshot(&pd, &["ahv-secondary".to_string()], Some(7 * 86_400))
        .await
        .unwrap();
    let taken = snap.snapshot.expect("the snapshot is listed at once");
    assert_eq!(taken.state.as_ref().unwrap().as_str(), "AVAILABLE");
    let size = taken.size_in_bytes.unwrap();
    assert!(size > 0);
    assert_eq!(
        (taken.snapshot_expiry_time_usecs.unwrap() - taken.snapshot_create_time_usecs.unwrap())
            .num_seconds(),
        7 * 86_400
    );
    assert_eq!(taken.vms.len(), 41);
    assert_eq!(taken.volume_groups.len(), 72);
    let by_id = p
        .snapshots(&pd, &[snap.schedule_id.unwrap()])
        .await
        .unwrap();
    assert_eq!(by_id.len(), 1);
    assert_eq!(by_id[0].snapshot_id, taken.snapshot_id);
    // Being replicated: it cannot be deleted yet, with Prism's reason.
    let e = p
        .delete_snapshot(&pd, &taken.snapshot_id)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("being replicated"), "{e}");

    // Replication progress climbs with lab time until the replica lands on the secondary.
    let mut percents = Vec::new();
    let step = size / (100 * 1024 * 1024) / 5 + 1;
    loop {
        let reps = p.replications(&pd).await.unwrap();
        let Some(r) = reps.iter().find(|r| r.snapshot_id == taken.snapshot_id) else {
            break;
        };
        assert_eq!(r.remote_site_name.as_deref(), Some("ahv-secondary"));
        percents.push(r.completed_percentage.unwrap());
        assert!(
            percents.len() < 20,
            "replication never completed: {percents:?}"
        );
        advance(&lab, step).await;
    }
    assert!(percents.len() >= 3, "{percents:?}");
    assert!(percents.windows(2).all(|w| w[0] <= w[1]), "{percents:?}");
    assert!(
        percents.iter().any(|p| *p > 0.0 && *p < 100.0),
        "{percents:?}"
    );
    let remote = p.remote_site_snapshots("ahv-secondary").await.unwrap();
    assert!(remote.error.is_none());
    let replica = remote
        .snapshots
        .iter()
        .find(|r| r.snapshot_uuid == taken.snapshot_uuid)
        .expect("the replica is listed on the remote site");
    assert_eq!(
        replica.located_remote_site_name.as_deref(),
        Some("ahv-secondary")
    );
    // The secondary holds it in the protection domain of the same name (inactive there).
    let there = s.snapshots(&pd, &[]).await.unwrap();
    assert_eq!(there.len(), 1);
    assert_eq!(s.protection_domain(&pd).await.unwrap().active, Some(false));

    // Done replicating: now it can go.
    p.delete_snapshot(&pd, &taken.snapshot_id).await.unwrap();
    assert!(p.snapshots(&pd, &[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn restore_accepts_a_task_a_boolean_and_a_bare_true() {
    let lab = start().await;
    let (p, _s, pd) = protected(&lab).await;
    let snap = p.take_snapshot(&pd, &[], None).await.unwrap();
    let snapshot_id = snap.snapshot.unwrap().snapshot_id;
    let guest = |lab: &LabHandle| {
        let url = format!(
            "{}_lab/prism/ahv-primary/guest/acme-pd-sandbox",
            lab.control_url
        );
        async move {
            plain_http()
                .get(url)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["contents_generation"]
                .as_u64()
                .unwrap()
        }
    };
    let at_snapshot = guest(&lab).await;
    control(
        &lab,
        reqwest::Method::POST,
        "prism/ahv-primary/disks/fill",
        Some(json!({"vm": "acme-pd-sandbox", "used_gib": 80})),
    )
    .await;
    assert_ne!(guest(&lab).await, at_snapshot);
    scale(&lab, 20.0).await;

    // Recent AOS: a task, followed to the end; the disk holds the snapshot's data again.
    let started = p
        .restore_entities(
            &pd,
            &RestoreSpec {
                snapshot_id: snapshot_id.clone(),
                vm_names: vec!["acme-pd-sandbox".into()],
                replace: true,
                ..RestoreSpec::default()
            },
        )
        .await
        .unwrap();
    let RestoreStarted::Task(task) = started else {
        panic!("expected a task, got {started:?}")
    };
    wait(&p, &task).await.unwrap();
    assert_eq!(guest(&lab).await, at_snapshot);

    // Older AOS: `{"value": true}`, then a bare `true`: accepted, the copies appear.
    for (shape, prefix) in [("boolean", "restored-"), ("bare", "again-")] {
        control(
            &lab,
            reqwest::Method::PUT,
            "prism/ahv-primary/settings",
            Some(json!({"restore_answer": shape})),
        )
        .await;
        let started = p
            .restore_entities(
                &pd,
                &RestoreSpec {
                    snapshot_id: snapshot_id.clone(),
                    vm_names: vec!["acme-pd-sandbox".into()],
                    vm_name_prefix: Some(prefix.into()),
                    ..RestoreSpec::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(started, RestoreStarted::Accepted, "{shape}");
        let name = format!("{prefix}acme-pd-sandbox");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !p.vms().await.unwrap().iter().any(|v| v.name == name) {
            assert!(Instant::now() < deadline, "{name} never appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // No false success: a failing restore is an error in either shape.
    control(
        &lab,
        reqwest::Method::POST,
        "prism/ahv-primary/faults/tasks",
        Some(json!({"kind": "restore_entities", "count": 1, "message": "Snapshot is corrupt"})),
    )
    .await;
    let e = p
        .restore_entities(
            &pd,
            &RestoreSpec {
                snapshot_id: snapshot_id.clone(),
                vm_names: vec!["acme-pd-sandbox".into()],
                vm_name_prefix: Some("third-".into()),
                ..RestoreSpec::default()
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Snapshot is corrupt"), "{e}");
    control(
        &lab,
        reqwest::Method::PUT,
        "prism/ahv-primary/settings",
        Some(json!({"restore_answer": "task"})),
    )
    .await;
    control(
        &lab,
        reqwest::Method::POST,
        "prism/ahv-primary/faults/tasks",
        Some(json!({"kind": "restore_entities", "count": 1, "message": "Snapshot is corrupt"})),
    )
    .await;
    let started = p
        .restore_entities(
            &pd,
            &RestoreSpec {
                snapshot_id,
                vm_names: vec!["acme-pd-sandbox".into()],
                vm_name_prefix: Some("fourth-".into()),
                ..RestoreSpec::default()
            },
        )
        .await
        .unwrap();
    let RestoreStarted::Task(task) = started else {
        panic!("expected a task")
    };
    let e = wait(&p, &task).await.unwrap_err();
    assert!(
        matches!(&e, PrismError::TaskFailed { message, .. } if message.contains("Snapshot is corrupt")),
        "{e:?}"
    );
    assert!(!p
        .vms()
        .await
        .unwrap()
        .iter()
        .any(|v| v.name == "fourth-acme-pd-sandbox"));
}

#[tokio::test]
async fn wrong_password_is_an_authentication_error() {
    let lab = start().await;
    let ep = primary(&lab);
    let c = PrismClient::with_retry(
        config(ep, "not-the-password", &ep.certificate_sha256),
        quick(),
    )
    .unwrap();
    let e = c.vms().await.unwrap_err();
    assert!(matches!(e, PrismError::Auth { .. }), "{e:?}");
    assert!(e.to_string().contains("user name or password"), "{e}");
    assert_eq!(c.logins(), 1, "a refused password is not tried again");
    let api = ApiError::from(e);
    assert_eq!(api.code, ErrorCode::InvalidInput);
    assert!(!api.message.contains("not-the-password"));
}

#[tokio::test]
async fn a_session_refused_after_a_gateway_restart_logs_in_again_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LabConfig {
        state_dir: Some(dir.path().to_path_buf()),
        ..LabConfig::for_tests()
    };
    let lab = Lab::start(cfg.clone()).await.unwrap();
    let ep = primary(&lab).clone();
    let c = client(&ep);
    c.vms().await.unwrap();
    c.storage_containers().await.unwrap();
    assert_eq!(c.logins(), 1, "the session cookie is reused");
    lab.shutdown().await.unwrap();

    // The gateway restarts (same address and certificate, sessions gone).
    let lab = Lab::start(cfg.clone()).await.unwrap();
    assert_eq!(
        primary(&lab).base_url,
        ep.base_url,
        "the lab came back on its address"
    );
    c.vms().await.unwrap();
    assert_eq!(c.logins(), 2, "one new login");
    c.vms().await.unwrap();
    assert_eq!(c.logins(), 2);
    lab.shutdown().await.unwrap();

    // The password changed meanwhile: one new login, refused, and a clear error.
    let mut changed = cfg;
    changed.prism.password = "rotated-password".into();
    let lab = Lab::start(changed).await.unwrap();
    let e = c.vms().await.unwrap_err();
    assert!(matches!(e, PrismError::Auth { .. }), "{e:?}");
    assert_eq!(c.logins(), 3, "exactly one re-login, no loop");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rotated_certificate_stops_every_call_until_confirmed() {
    let lab = start().await;
    let ep = primary(&lab).clone();
    let old = ep.certificate_sha256.clone();
    client(&ep).vms().await.unwrap();

    let rotated = control(
        &lab,
        reqwest::Method::POST,
        "certificates/ahv-primary/rotate",
        None,
    )
    .await;
    let new = rotated["certificate_sha256"].as_str().unwrap().to_string();
    assert_ne!(new, old);

    let c = client(&ep);
    let e = c.vms().await.unwrap_err();
    match &e {
        PrismError::CertificateChanged {
            expected,
            presented,
            ..
        } => {
            assert_eq!(expected, &old);
            assert_eq!(presented, &new);
        }
        other => panic!("expected CertificateChanged, got {other:?}"),
    }
    let api = ApiError::from(e);
    assert!(
        api.message.contains(&new) && api.message.contains("confirm"),
        "{}",
        api.message
    );

    // Refused without even connecting: with the cluster down it still says "certificate changed".
    control(
        &lab,
        reqwest::Method::POST,
        "endpoints/prism:ahv-primary/down",
        None,
    )
    .await;
    let e = c.storage_containers().await.unwrap_err();
    assert!(matches!(e, PrismError::CertificateChanged { .. }), "{e:?}");
    control(
        &lab,
        reqwest::Method::POST,
        "endpoints/prism:ahv-primary/up",
        None,
    )
    .await;

    // The user confirms the new certificate: a client pinned to it works.
    let confirmed = PrismClient::with_retry(config(&ep, &ep.password, &new), quick()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match confirmed.vms().await {
            Ok(vms) => {
                assert!(!vms.is_empty());
                break;
            }
            // The listener may take a moment to come back up.
            Err(PrismError::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[tokio::test]
async fn reads_ride_out_429_with_retry_after_and_503() {
    let lab = start().await;
    let c = client(primary(&lab));
    c.vms().await.unwrap();
    // The rate-limit window runs on the lab clock: let it run in real time.
    scale(&lab, 1.0).await;
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"rate_limit": {"requests": 1, "window_secs": 1}})),
    )
    .await;
    let started = Instant::now();
    c.vms().await.unwrap();
    c.vms().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the second read waited for Retry-After ({:?})",
        started.elapsed()
    );
    // A write refused with 429 was not handled: it is sent again after Retry-After, once handled.
    let started = Instant::now();
    let created = c.create_protection_domain("throttled-pd").await.unwrap();
    assert_eq!(created.name, "throttled-pd");
    assert!(started.elapsed() >= Duration::from_millis(500));
    let st = cluster_state(&lab, "ahv-primary").await;
    let pds = st["protection_domains"].as_array().unwrap();
    assert_eq!(
        pds.iter().filter(|p| p["name"] == "throttled-pd").count(),
        1
    );
    control(
        &lab,
        reqwest::Method::DELETE,
        "faults/prism:ahv-primary",
        None,
    )
    .await;

    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"fail_next": 2})),
    )
    .await;
    assert!(!c.vms().await.unwrap().is_empty());
    let f = control(&lab, reqwest::Method::GET, "faults/prism:ahv-primary", None).await;
    assert_eq!(f["fail_next"], 0, "both 503s were met and retried");

    // Past the retries the caller gets "unavailable", in Prism's words.
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"fail_next": 10})),
    )
    .await;
    let e = c.vms().await.unwrap_err();
    assert!(matches!(e, PrismError::Unavailable { .. }), "{e:?}");
    assert!(e.to_string().contains("Service unavailable"), "{e}");
    assert_eq!(ApiError::from(e).code, ErrorCode::Unavailable);
}

#[tokio::test]
async fn a_dropped_read_is_retried_but_a_503_on_a_write_is_not_resent() {
    let lab = start().await;
    let c = client(primary(&lab));
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"drop_next": 1})),
    )
    .await;
    assert!(!c.vms().await.unwrap().is_empty());
    let f = control(&lab, reqwest::Method::GET, "faults/prism:ahv-primary", None).await;
    assert_eq!(
        f["drop_next"], 0,
        "the lab dropped the first read and the client retried it: {f}"
    );

    // A 503 on a POST: not sent again (no task exists: a resend would have made one), and the
    // caller is told the outcome is unknown (a conflict to look at), never "unavailable, retry".
    let util = vm_named(&c, "acme-pd-util-01").await;
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"fail_next": 1})),
    )
    .await;
    let e = c
        .set_power_state(&util.uuid, PowerTransition::Off)
        .await
        .unwrap_err();
    assert!(matches!(e, PrismError::OutcomeUnknown { .. }), "{e:?}");
    assert!(!e.is_transient());
    let text = e.to_string();
    assert!(
        text.contains("Service unavailable"),
        "Prism's words kept: {text}"
    );
    assert!(
        text.contains("may or may not have done it")
            && text.contains(&format!("check the power state of VM {}", util.uuid)),
        "{text}"
    );
    assert_eq!(ApiError::from(e).code, ErrorCode::Conflict);
    let st = cluster_state(&lab, "ahv-primary").await;
    let power_tasks = st["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "set_power_state")
        .count();
    assert_eq!(power_tasks, 0);
}

#[tokio::test]
async fn timeouts_bound_every_call() {
    let lab = start().await;
    let ep = primary(&lab);
    let mut cfg = config(ep, &ep.password, &ep.certificate_sha256);
    cfg.timeout = Duration::from_millis(300);
    let c = PrismClient::with_retry(
        cfg,
        RetryPolicy {
            retries: 1,
            ..quick()
        },
    )
    .unwrap();
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"latency_ms": 1500})),
    )
    .await;
    let started = Instant::now();
    let e = c.vms().await.unwrap_err();
    assert!(matches!(e, PrismError::Timeout { .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

mod lossy {
    //! A TLS-terminating proxy between the client and a lab cluster that can lose the answer to
    //! one request after the cluster handled it, or lose the request before the cluster sees it:
    //! the two halves of "the connection dropped during a POST".

    use super::*;
    use standby_core::providers::tls::pinned_client_config;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum Loss {
        /// Forward the request, then close instead of answering.
        Answer,
        /// Close without forwarding.
        Request,
        /// Forward the request, close instead of answering, and from then on close every
        /// connection without forwarding (the cluster went away right after the write).
        AnswerThenCut,
        /// Answer `200 {}` without forwarding: a gateway that says yes to what it never did.
        FakeOk,
    }

    #[derive(Default)]
    pub struct Rules {
        pub rule: Option<(String, String, Loss)>,
        pub seen: Vec<(String, String)>,
        /// Every request with its body, for the spec checks.
        pub bodies: Vec<(String, String, Vec<u8>)>,
        /// Set by `Loss::AnswerThenCut`: nothing gets through any more.
        pub cut: bool,
    }

    pub struct Proxy {
        pub endpoint: PrismEndpoint,
        pub rules: Arc<Mutex<Rules>>,
    }

    pub async fn start(target: &PrismEndpoint) -> Proxy {
        let ip: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let pair = standby_lab::tls::self_signed_for_ip(ip, "proxy").unwrap();
        let fp = pair.sha256_hex();
        let tls =
            standby_lab::tls::server_config(standby_lab::tls::SwappableCert::new(pair).unwrap())
                .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (upstream_tls, _) = pinned_client_config(&target.certificate_sha256).unwrap();
        let upstream = reqwest::Client::builder()
            .use_preconfigured_tls(upstream_tls)
            .http1_only()
            .build()
            .unwrap();
        let base = target.base_url.clone();
        let rules = Arc::new(Mutex::new(Rules::default()));
        let r = rules.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let upstream = upstream.clone();
                let base = base.clone();
                let rules = r.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    while let Some((method, path, headers, body)) = read_request(&mut tls).await {
                        let loss = {
                            let mut g = rules.lock();
                            g.seen.push((method.clone(), path.clone()));
                            g.bodies.push((method.clone(), path.clone(), body.clone()));
                            if g.cut {
                                return;
                            }
                            match &g.rule {
                                Some((m, suffix, loss))
                                    if *m == method
                                        && path
                                            .split('?')
                                            .next()
                                            .unwrap_or_default()
                                            .ends_with(suffix.as_str()) =>
                                {
                                    let l = *loss;
                                    g.rule = None;
                                    Some(l)
                                }
                                _ => None,
                            }
                        };
                        if loss == Some(Loss::Request) {
                            return;
                        }
                        if loss == Some(Loss::FakeOk) {
                            let fake = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                            if tls.write_all(fake.as_bytes()).await.is_err() {
                                return;
                            }
                            continue;
                        }
                        let url = base.join(path.trim_start_matches('/')).unwrap();
                        let mut req = upstream.request(method.parse().unwrap(), url).body(body);
                        for (k, v) in &headers {
                            if ["authorization", "cookie", "content-type", "accept"]
                                .contains(&k.as_str())
                            {
                                req = req.header(k.as_str(), v.as_str());
                            }
                        }
                        let Ok(resp) = req.send().await else { return };
                        if loss == Some(Loss::Answer) {
                            return;
                        }
                        if loss == Some(Loss::AnswerThenCut) {
                            rules.lock().cut = true;
                            return;
                        }
                        let status = resp.status();
                        let mut head = format!(
                            "HTTP/1.1 {} {}\r\n",
                            status.as_u16(),
                            status.canonical_reason().unwrap_or("OK")
                        );
                        for (k, v) in resp.headers() {
                            let k = k.as_str();
                            if [
                                "set-cookie",
                                "content-type",
                                "retry-after",
                                "www-authenticate",
                            ]
                            .contains(&k)
                            {
                                head.push_str(&format!(
                                    "{k}: {}\r\n",
                                    v.to_str().unwrap_or_default()
                                ));
                            }
                        }
                        let bytes = resp.bytes().await.unwrap_or_default();
                        head.push_str(&format!("content-length: {}\r\n\r\n", bytes.len()));
                        if tls.write_all(head.as_bytes()).await.is_err()
                            || tls.write_all(&bytes).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        let mut endpoint = target.clone();
        endpoint.base_url = url::Url::parse(&format!("https://{addr}/")).unwrap();
        endpoint.certificate_sha256 = fp;
        Proxy { endpoint, rules }
    }

    type Request = (String, String, Vec<(String, String)>, Vec<u8>);

    async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Option<Request> {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).await.ok()? == 0 {
                return None;
            }
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).ok()?;
        let mut lines = head.split("\r\n");
        let mut first = lines.next()?.split(' ');
        let method = first.next()?.to_string();
        let path = first.next()?.to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let len = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0usize);
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.ok()?;
        Some((method, path, headers, body))
    }
}

async fn snapshot_count(lab: &LabHandle, pd: &str) -> usize {
    let st = cluster_state(lab, "ahv-primary").await;
    st["protection_domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == pd)
        .unwrap()["snapshots"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_snapshot_whose_answer_was_lost_is_found_by_reading_state_not_taken_twice() {
    let lab = start().await;
    let (_p, _s, pd) = protected(&lab).await;
    let proxy = lossy::start(primary(&lab)).await;
    let c = client(&proxy.endpoint);

    // The cluster takes the snapshot; its answer never arrives.
    proxy.rules.lock().rule = Some(("POST".into(), "/oob_schedules".into(), lossy::Loss::Answer));
    let snap = c
        .take_snapshot(&pd, &["ahv-secondary".to_string()], None)
        .await
        .unwrap();
    assert!(
        snap.snapshot.is_some(),
        "found by reading the snapshots back"
    );
    assert_eq!(snapshot_count(&lab, &pd).await, 1, "exactly one snapshot");
    let seen = proxy.rules.lock().seen.clone();
    let posts: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, (m, p))| m == "POST" && p.ends_with("/oob_schedules"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(posts.len(), 1, "never sent twice: {seen:?}");
    assert!(
        seen[posts[0] + 1..]
            .iter()
            .any(|(m, p)| m == "GET" && p.contains("/dr_snapshots")),
        "state was read after the lost answer: {seen:?}"
    );

    // The request itself is lost: state shows nothing new, so it is sent once more.
    proxy.rules.lock().seen.clear();
    proxy.rules.lock().rule = Some(("POST".into(), "/oob_schedules".into(), lossy::Loss::Request));
    let snap = c
        .take_snapshot(&pd, &["ahv-secondary".to_string()], None)
        .await
        .unwrap();
    assert!(snap.snapshot.is_some());
    assert_eq!(snapshot_count(&lab, &pd).await, 2, "one more, not two");
    let posts = proxy
        .rules
        .lock()
        .seen
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/oob_schedules"))
        .count();
    assert_eq!(posts, 2, "the lost request and its one resend");

    // The lab's own dropped connection (it meets the first request of the call, a read, which is
    // retried): still exactly one snapshot more.
    let direct = client(primary(&lab));
    control(
        &lab,
        reqwest::Method::PUT,
        "faults/prism:ahv-primary",
        Some(json!({"drop_next": 1})),
    )
    .await;
    direct
        .take_snapshot(&pd, &["ahv-secondary".to_string()], None)
        .await
        .unwrap();
    let f = control(&lab, reqwest::Method::GET, "faults/prism:ahv-primary", None).await;
    assert_eq!(
        f["drop_next"], 0,
        "the lab did drop a connection during the call: {f}"
    );
    assert_eq!(snapshot_count(&lab, &pd).await, 3);
}

#[tokio::test]
async fn a_remote_site_whose_answer_was_lost_is_read_back() {
    let lab = start().await;
    let proxy = lossy::start(primary(&lab)).await;
    let c = client(&proxy.endpoint);
    proxy.rules.lock().rule = Some(("POST".into(), "/remote_sites".into(), lossy::Loss::Answer));
    let p = plan(&lab, &FULL_MAPPING);
    let spec = standby_core::providers::prism::RemoteSiteSpec {
        name: "ahv-secondary".into(),
        remote_ip_ports: BTreeMap::from([(p.secondary.address.clone(), p.secondary.port)]),
        vstore_name_map: BTreeMap::from([(DEFAULT_CONTAINER.into(), DR_CONTAINER.into())]),
        bandwidth_limit_bytes_per_sec: None,
        compression: false,
    };
    let site = c.create_remote_site(&spec).await.unwrap();
    assert_eq!(site.name, "ahv-secondary");
    let posts = proxy
        .rules
        .lock()
        .seen
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/remote_sites"))
        .count();
    assert_eq!(
        posts, 1,
        "read back, not sent again (a resend would answer 'already exists')"
    );
}

#[path = "../../lab/tests/common/fixtures.rs"]
mod fixtures;

mod spec {
    //! Just enough of the Prism v2.0 Swagger files to check shapes: the `definitions` section,
    //! read by indentation (core has no YAML parser among its dependencies; these files are
    //! generated with a fixed layout).

    use std::collections::BTreeMap;
    use std::path::Path;

    use serde_json::{json, Map, Value};

    #[derive(Debug, Default, Clone)]
    pub struct Prop {
        pub ty: Option<String>,
        pub reference: Option<String>,
        pub items: Option<Box<Prop>>,
        pub enumv: Vec<String>,
    }

    #[derive(Debug, Default)]
    pub struct Def {
        pub title: String,
        pub ty: Option<String>,
        pub props: BTreeMap<String, Prop>,
        pub required: Vec<String>,
        pub enumv: Vec<String>,
    }

    pub type Defs = BTreeMap<String, Def>;

    fn unquote(s: &str) -> String {
        s.trim().trim_matches('\'').trim_matches('"').to_string()
    }

    fn reference(s: &str) -> String {
        unquote(s).trim_start_matches("#/definitions/").to_string()
    }

    pub fn load(file: &Path) -> Defs {
        let text = std::fs::read_to_string(file).unwrap();
        let mut defs = Defs::new();
        let mut inside = false;
        let (mut def, mut prop): (Option<String>, Option<String>) = (None, None);
        // What a `- x` line at this point belongs to.
        #[derive(PartialEq)]
        enum List {
            None,
            Required,
            DefEnum,
            PropEnum,
        }
        let mut list = List::None;
        let mut in_items = false;
        let mut in_props = false;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let t = line.trim();
            if t.is_empty() {
                continue;
            }
            if indent == 0 {
                inside = t == "definitions:";
                continue;
            }
            if !inside {
                continue;
            }
            if indent == 2 && t.ends_with(':') {
                let name = t.trim_end_matches(':').to_string();
                defs.insert(name.clone(), Def::default());
                def = Some(name);
                (prop, list, in_props, in_items) = (None, List::None, false, false);
                continue;
            }
            let Some(d) = def.as_ref().and_then(|n| defs.get_mut(n)) else {
                continue;
            };
            if let Some(v) = t.strip_prefix("- ") {
                if v.contains(": ") {
                    continue;
                }
                match list {
                    List::Required => d.required.push(unquote(v)),
                    List::DefEnum => d.enumv.push(unquote(v)),
                    List::PropEnum => {
                        if let Some(p) = prop.as_ref().and_then(|p| d.props.get_mut(p)) {
                            p.enumv.push(unquote(v));
                        }
                    }
                    List::None => {}
                }
                continue;
            }
            match indent {
                4 => {
                    prop = None;
                    in_props = t == "properties:";
                    list = match t {
                        "required:" => List::Required,
                        "enum:" => List::DefEnum,
                        _ => List::None,
                    };
                    if let Some(v) = t.strip_prefix("title: ") {
                        d.title = unquote(v);
                    }
                    if let Some(v) = t.strip_prefix("type: ") {
                        d.ty = Some(unquote(v));
                    }
                }
                6 if in_props && t.ends_with(':') && !t.contains(' ') => {
                    let name = t.trim_end_matches(':').to_string();
                    d.props.insert(name.clone(), Prop::default());
                    prop = Some(name);
                    (list, in_items) = (List::None, false);
                }
                8 => {
                    let Some(p) = prop.as_ref().and_then(|p| d.props.get_mut(p)) else {
                        continue;
                    };
                    in_items = t == "items:";
                    list = if t == "enum:" {
                        List::PropEnum
                    } else {
                        List::None
                    };
                    if let Some(v) = t.strip_prefix("type: ") {
                        p.ty = Some(unquote(v));
                    }
                    if let Some(v) = t.strip_prefix("$ref: ") {
                        p.reference = Some(reference(v));
                    }
                }
                10 if in_items => {
                    let Some(p) = prop.as_ref().and_then(|p| d.props.get_mut(p)) else {
                        continue;
                    };
                    let items = p.items.get_or_insert_with(Default::default);
                    if let Some(v) = t.strip_prefix("type: ") {
                        items.ty = Some(unquote(v));
                    }
                    if let Some(v) = t.strip_prefix("$ref: ") {
                        items.reference = Some(reference(v));
                    }
                }
                _ => {}
            }
        }
        defs
    }

    fn scalar(ty: Option<&str>, enumv: &[String]) -> Value {
        if let Some(first) = enumv.first() {
            return json!(first);
        }
        match ty {
            Some("integer") => json!(7),
            Some("number") => json!(1.5),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            Some("object") => json!({}),
            _ => json!("text"),
        }
    }

    fn prop_value(defs: &Defs, p: &Prop, depth: usize) -> Value {
        if let Some(r) = &p.reference {
            return instance(defs, r, depth + 1);
        }
        if p.ty.as_deref() == Some("array") {
            return match &p.items {
                Some(i) => json!([prop_value(defs, i, depth)]),
                None => json!([]),
            };
        }
        scalar(p.ty.as_deref(), &p.enumv)
    }

    /// An instance of a definition with every property filled by its type: what a cluster
    /// following the spec to the letter could send.
    pub fn instance(defs: &Defs, name: &str, depth: usize) -> Value {
        let Some(d) = defs.get(name) else {
            return json!({});
        };
        if !d.enumv.is_empty() {
            return json!(d.enumv[0]);
        }
        // Java maps (the generator even spelled out HashMap's internals as properties).
        if name.starts_with("Java.util.") {
            let value = if d.title.ends_with("Integer>") || d.title.ends_with("Integer&gt;") {
                json!(7)
            } else if d.title.ends_with("String&gt;") || d.title.ends_with("String>") {
                json!("text")
            } else {
                json!({})
            };
            return json!({ "key": value });
        }
        if d.props.is_empty() {
            return scalar(d.ty.as_deref(), &[]);
        }
        let mut m = Map::new();
        if depth > 5 {
            return Value::Object(m);
        }
        for (k, p) in &d.props {
            m.insert(k.clone(), prop_value(defs, p, depth));
        }
        Value::Object(m)
    }

    /// Fields of `body` the definition does not have, and required ones missing, recursively.
    pub fn check_body(
        defs: &Defs,
        name: &str,
        body: &Value,
        at: &str,
        allowed_extra: &[&str],
        errors: &mut Vec<String>,
    ) {
        let Some(d) = defs.get(name) else {
            errors.push(format!("{at}: no definition {name} in the spec"));
            return;
        };
        let Value::Object(m) = body else {
            return;
        };
        if d.props.is_empty() || name.starts_with("Java.util.") {
            return;
        }
        for r in &d.required {
            if !m.contains_key(r) {
                errors.push(format!("{at}: required {r} ({name}) missing"));
            }
        }
        for (k, v) in m {
            let Some(p) = d.props.get(k) else {
                if !allowed_extra.contains(&k.as_str()) {
                    errors.push(format!("{at}.{k}: not a field of {name}"));
                }
                continue;
            };
            if !p.enumv.is_empty() {
                if let Some(s) = v.as_str() {
                    if !p.enumv.iter().any(|e| e.eq_ignore_ascii_case(s)) {
                        errors.push(format!("{at}.{k}: {s} is not one of {:?}", p.enumv));
                    }
                }
            }
            let expected = match p.ty.as_deref() {
                Some("string") => v.is_string(),
                Some("integer") => v.is_i64() || v.is_u64(),
                Some("boolean") => v.is_boolean(),
                Some("array") => v.is_array(),
                _ => true,
            };
            if !expected {
                errors.push(format!(
                    "{at}.{k}: {v} is not a {}",
                    p.ty.as_deref().unwrap_or("?")
                ));
            }
            if let Some(r) = &p.reference {
                check_body(defs, r, v, &format!("{at}.{k}"), &[], errors);
            }
            if let (Some(items), Value::Array(a)) = (&p.items, v) {
                if let Some(r) = &items.reference {
                    for (i, e) in a.iter().enumerate() {
                        check_body(defs, r, e, &format!("{at}.{k}[{i}]"), &[], errors);
                    }
                }
            }
        }
    }
}

#[test]
fn models_read_every_answer_shape_the_specs_define() {
    let Some(dir) = fixtures::fixtures_dir() else {
        return;
    };
    use standby_core::providers::prism::types as t;
    let load = |f: &str| spec::load(&dir.join(format!("nutanix/pe-v2/{f}.yaml")));
    let pd = load("protection_domains");
    let rs = load("remote_sites");
    let sc = load("storage_containers");
    let tasks = load("tasks");
    let vms = load("vms");
    let vgs = load("volume_groups");
    fn read<T: serde::de::DeserializeOwned>(defs: &spec::Defs, name: &str) -> T {
        let v = spec::instance(defs, name, 0);
        assert!(
            v.as_object().is_some_and(|m| !m.is_empty()),
            "{name} was read from the spec: {v}"
        );
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{name}: {e}\n{v:#}"))
    }

    let site: t::RemoteSite = read(&rs, "Get.dto.dr.remotesitedto");
    assert_eq!(site.name, "text");
    assert_eq!(
        site.status,
        Some(t::RemoteSiteStatus::Handshaking),
        "the spec's first status"
    );
    assert_eq!(site.latency_in_usecs, Some(7));
    assert_eq!(site.remote_ip_ports.get("key"), Some(&7));
    assert_eq!(
        site.vstore_name_map.get("key").map(String::as_str),
        Some("text")
    );
    assert_eq!(site.bandwidth_policy.unwrap().policy_name, "text");
    let snap: t::DrSnapshot = read(&pd, "Get.dto.dr.snapshotdto");
    assert_eq!(snap.snapshot_id, "text");
    assert_eq!(snap.state, Some(t::SnapshotState::Expired));
    assert_eq!(snap.oob_schedule_ids, vec!["7".to_string()]);
    assert!(snap.snapshot_create_time_usecs.is_some() && snap.size_in_bytes == Some(7));
    assert_eq!(snap.vms.len(), 1);
    let remote: t::DrSnapshot = read(&rs, "Get.dto.dr.snapshotdto");
    assert_eq!(remote.volume_groups.len(), 1);
    let rep: t::Replication = read(&pd, "Get.dto.dr.replicationdto");
    assert!(rep.completed_percentage.is_some() && rep.completed_bytes.is_some());
    assert!(rep.start_replication_time_usecs.is_some());
    let p: t::ProtectionDomain = read(&pd, "Get.dto.dr.protectiondomaindto");
    assert_eq!(p.active, Some(true));
    assert_eq!(p.vms.len(), 1);
    assert_eq!(p.cron_schedules.len(), 1);
    assert!(p.cron_schedules[0].retention_policy.is_some());
    let oob: t::OobScheduleList = read(&pd, "Get.dto.dr.outofbandschedulepoliciesdto");
    assert_eq!(oob.pd_name, "text");
    let task: t::Task = read(&tasks, "Get.dto.ergon.taskdto");
    assert_eq!(task.status(), t::TaskStatus::Queued);
    assert!(task.create_time_usecs.is_some() && task.percentage_complete == Some(7));
    assert_eq!(task.meta_response.unwrap().error_code, Some(7));
    let poll: t::TaskPollAnswer = read(&tasks, "Create.dto.ergon.taskpollresponsedto");
    assert_eq!(poll.completed_tasks_info.len(), 1);
    let vm: t::Vm = read(&vms, "Get.dto.uhura.vmconfigdto");
    assert!(vm.power_state.is_some() && vm.memory_mb == Some(7));
    assert_eq!(vm.vm_disk_info.len(), 1);
    assert_eq!(vm.vm_disk_info[0].size, Some(7));
    assert!(vm.vm_disk_info[0].disk_address.vmdisk_uuid.is_some());
    let task_id: t::TaskRef = read(&vms, "Create.dto.acropolis.returnvaluedto$taskiddto");
    assert_eq!(task_id.task_uuid, "text");
    let vg: t::VolumeGroup = read(&vgs, "Get.dto.acropolis.volumegroups.volumegroupconfigdto");
    assert_eq!(vg.disk_list.len(), 1);
    assert_eq!(vg.disk_list[0].size_bytes(), Some(7));
    assert_eq!(vg.attachment_list[0].vm_uuid.as_deref(), Some("text"));
    let c: t::StorageContainer = read(&sc, "Get.dto.appliance.configuration.containerdto");
    assert_eq!(c.name, "text");
    assert_eq!(c.max_capacity, Some(7));
}

#[tokio::test]
async fn every_request_body_uses_the_fields_the_specs_define() {
    let Some(dir) = fixtures::fixtures_dir() else {
        return;
    };
    let load = |f: &str| spec::load(&dir.join(format!("nutanix/pe-v2/{f}.yaml")));
    let pd_spec = load("protection_domains");
    let rs_spec = load("remote_sites");
    let task_spec = load("tasks");
    let vm_spec = load("vms");
    let vg_spec = load("volume_groups");

    let lab = start().await;
    let proxy = lossy::start(primary(&lab)).await;
    let p = client(&proxy.endpoint);
    let s = client(secondary(&lab));
    scale(&lab, 20.0).await;
    let mut bandwidth = plan(&lab, &FULL_MAPPING);
    bandwidth.bandwidth_limit_bytes_per_sec = Some(1 << 20);
    setup::setup_remote_sites(&p, &s, &bandwidth).await.unwrap();
    setup::setup_remote_sites(&p, &s, &plan(&lab, &FULL_MAPPING))
        .await
        .unwrap();
    let resources = p.discover_account(ACCOUNT, &[]).await.unwrap();
    let pd = setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap()
        .protection_domain;
    p.unprotect(&pd, &["acme-pd-sandbox".into()]).await.unwrap();
    setup::ensure_protection(&p, ACCOUNT, &resources)
        .await
        .unwrap();
    p.add_schedule(
        &pd,
        &ScheduleSpec {
            kind: "WEEKLY".into(),
            every_nth: 1,
            start_time_usecs: lab.clock.now_usecs() + 86_400_000_000,
            local_max_snapshots: 4,
            remote_max_snapshots: BTreeMap::from([("ahv-secondary".to_string(), 4)]),
        },
    )
    .await
    .unwrap();
    let snap = p
        .take_snapshot(&pd, &["ahv-secondary".into()], Some(3600))
        .await
        .unwrap()
        .snapshot
        .unwrap();
    let started = p
        .restore_entities(
            &pd,
            &RestoreSpec {
                snapshot_id: snap.snapshot_id.clone(),
                vm_names: vec!["acme-pd-sandbox".into()],
                vm_name_prefix: Some("check-".into()),
                vg_name_prefix: Some("check-".into()),
                ..RestoreSpec::default()
            },
        )
        .await
        .unwrap();
    if let RestoreStarted::Task(t) = started {
        p.poll_tasks(&[t], 1).await.unwrap();
    }
    let util = vm_named(&p, "acme-pd-util-01").await;
    p.set_power_state(&util.uuid, PowerTransition::AcpiShutdown)
        .await
        .unwrap();
    let disk = util.disks().next().unwrap().clone();
    p.resize_vm_disk(
        &util.uuid,
        &disk.disk_address,
        disk.size.unwrap() + (1 << 30),
    )
    .await
    .unwrap();
    let vg = p.volume_groups().await.unwrap().remove(0);
    p.clone_volume_group(
        &vg.uuid,
        "spec-check-clone",
        Some("7f0b1d5e-0000-4000-8000-000000000001"),
    )
    .await
    .unwrap();
    p.resize_volume_group_disk(
        &vg.uuid,
        0,
        vg.disk_list[0].size_bytes().unwrap() + (1 << 30),
    )
    .await
    .unwrap();

    let bodies = proxy.rules.lock().bodies.clone();
    let mut errors = Vec::new();
    let mut checked = BTreeMap::<&str, usize>::new();
    for (method, path, raw) in &bodies {
        if method == "GET" || method == "DELETE" {
            continue;
        }
        let body: Value =
            serde_json::from_slice(raw).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let path = path.split('?').next().unwrap();
        let (defs, def, extra): (&spec::Defs, &str, &[&str]) = match (method.as_str(), path) {
            (_, p) if p.ends_with("/remote_sites") => {
                (&rs_spec, "Create.dto.dr.remotesitedto", &[])
            }
            ("POST", p) if p.ends_with("/protection_domains") => {
                (&pd_spec, "Create.dto.dr.protectiondomaincreatedto", &[])
            }
            // AOS takes volume groups here; the published spec predates it (docs/prism-client.md).
            ("POST", p) if p.ends_with("/protect_vms") => (
                &pd_spec,
                "Create.dto.dr.addvmstopdrequestdto",
                &["volume_group_uuids"],
            ),
            ("POST", p) if p.ends_with("/unprotect_vms") => {
                assert!(
                    body.as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string)),
                    "{body}"
                );
                *checked.entry("unprotect_vms").or_default() += 1;
                continue;
            }
            ("POST", p) if p.ends_with("/schedules") => {
                (&pd_spec, "Create.dto.dr.cronscheduledto", &[])
            }
            ("POST", p) if p.ends_with("/oob_schedules") => (
                &pd_spec,
                "Create.dto.dr.outofbandschedulepoliciesdto$schedule",
                &[],
            ),
            ("POST", p) if p.ends_with("/restore_entities") => {
                (&pd_spec, "Create.dto.dr.restoreentitiesrequestdto", &[])
            }
            ("POST", p) if p.ends_with("/set_power_state") => {
                (&vm_spec, "Create.dto.uhura.vmpowerstatedto", &[])
            }
            // The v2.0 spec file has no /disks/update; PUT /vms/{uuid} takes the same vm_disks.
            ("PUT", p) if p.ends_with("/disks/update") => {
                (&vm_spec, "Update.dto.uhura.vmconfigdto", &[])
            }
            ("POST", p) if p.ends_with("/clone") => (
                &vg_spec,
                "Create.dto.acropolis.volumegroups.volumegroupclonedto",
                &[],
            ),
            ("PUT", p) if p.ends_with("/disks") => (
                &vg_spec,
                "Update.dto.acropolis.volumegroups.volumediskupdatedto",
                &[],
            ),
            ("POST", p) if p.ends_with("/tasks/poll") => {
                (&task_spec, "Create.dto.ergon.taskpollrequestdto", &[])
            }
            _ => panic!("no spec mapping for {method} {path}: add one"),
        };
        spec::check_body(
            defs,
            def,
            &body,
            &format!("{method} {path}"),
            extra,
            &mut errors,
        );
        *checked.entry(def).or_default() += 1;
    }
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(
        checked.len() >= 12,
        "every kind of write was checked: {checked:#?}"
    );
}

#[tokio::test]
async fn a_task_is_followed_through_a_short_gateway_outage() {
    let lab = start().await;
    let c = client(primary(&lab));
    let util = vm_named(&c, "acme-pd-util-02").await;
    scale(&lab, 2.0).await;
    let task = c
        .set_power_state(&util.uuid, PowerTransition::Off)
        .await
        .unwrap();
    control(
        &lab,
        reqwest::Method::POST,
        "endpoints/prism:ahv-primary/down",
        None,
    )
    .await;
    let control_url = lab.control_url.clone();
    tokio::spawn(async move {
        // Longer than the reads' own retries: only the task wait's patience bridges it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        plain_http()
            .post(format!("{control_url}_lab/endpoints/prism:ahv-primary/up"))
            .send()
            .await
            .unwrap();
    });
    let seen = wait(&c, &task).await.unwrap();
    assert_eq!(seen.last().unwrap().status, "SUCCEEDED");
    assert_eq!(
        c.vm(&util.uuid).await.unwrap().power_state,
        Some(VmPowerState::Off)
    );
}

#[tokio::test]
async fn a_write_whose_read_back_fails_is_an_unknown_outcome_not_a_retryable_error() {
    let lab = start().await;
    let (_p, _s, pd) = protected(&lab).await;

    // The cluster takes the snapshot, its answer is lost, and then it cannot be reached to read
    // the snapshots back: the caller must not be told "unavailable" (it would take a second one).
    let proxy = lossy::start(primary(&lab)).await;
    let c = client(&proxy.endpoint);
    proxy.rules.lock().rule = Some((
        "POST".into(),
        "/oob_schedules".into(),
        lossy::Loss::AnswerThenCut,
    ));
    let e = c
        .take_snapshot(&pd, &["ahv-secondary".to_string()], None)
        .await
        .unwrap_err();
    assert!(matches!(e, PrismError::OutcomeUnknown { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("reading the state back then failed"),
        "both errors: {text}"
    );
    assert!(
        text.contains(&format!(
            "the snapshots and out-of-band schedules of protection domain {pd}"
        )),
        "{text}"
    );
    assert_eq!(ApiError::from(e).code, ErrorCode::Conflict);
    assert_eq!(
        snapshot_count(&lab, &pd).await,
        1,
        "taken once, never twice"
    );
    let posts = proxy
        .rules
        .lock()
        .seen
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/oob_schedules"))
        .count();
    assert_eq!(posts, 1);

    // The same for a remote site.
    let proxy = lossy::start(primary(&lab)).await;
    let c = client(&proxy.endpoint);
    proxy.rules.lock().rule = Some((
        "POST".into(),
        "/remote_sites".into(),
        lossy::Loss::AnswerThenCut,
    ));
    let spec = standby_core::providers::prism::RemoteSiteSpec {
        name: "another-site".into(),
        remote_ip_ports: BTreeMap::from([("10.9.9.9".to_string(), 2020)]),
        vstore_name_map: BTreeMap::new(),
        bandwidth_limit_bytes_per_sec: None,
        compression: false,
    };
    let e = c.create_remote_site(&spec).await.unwrap_err();
    assert!(matches!(e, PrismError::OutcomeUnknown { .. }), "{e:?}");
    assert!(
        e.to_string().contains("reading the state back then failed"),
        "{e}"
    );
    assert_eq!(ApiError::from(e).code, ErrorCode::Conflict);
}

#[tokio::test]
async fn protection_is_checked_against_the_domain_read_back() {
    let lab = start().await;
    let p = client(primary(&lab));
    let resources = p.discover_account(ACCOUNT, &[]).await.unwrap();
    // A gateway answers "protected" without passing the request on: the domain holds nothing.
    let proxy = lossy::start(primary(&lab)).await;
    let c = client(&proxy.endpoint);
    proxy.rules.lock().rule = Some(("POST".into(), "/protect_vms".into(), lossy::Loss::FakeOk));
    let e = setup::ensure_protection(&c, ACCOUNT, &resources)
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("does not hold"), "{text}");
    assert!(
        text.contains("acme-pd-sandbox"),
        "names what is missing: {text}"
    );
    assert!(text.contains("acme-pd-profile-"), "{text}");
    // Done for real, it passes.
    let r = setup::ensure_protection(&c, ACCOUNT, &resources)
        .await
        .unwrap();
    assert_eq!((r.protected_vms, r.protected_volume_groups), (41, 72));
    assert_eq!((r.newly_protected_vms, r.already_protected_vms), (41, 0));
}
