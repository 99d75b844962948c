//! ARM protocol corners the lab does not produce, against a scripted plain-HTTP stand-in: an
//! operation followed by `Location` alone, an operation that fails or is cancelled, status values
//! never seen before, and an operation that "succeeds" without the promised state. None of them may
//! end as a success.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use standby_core::clock::ManualClock;
use standby_core::providers::azure::disks::NewDisk;
use standby_core::providers::azure::{ArmClient, ArmConfig, ArmError, ResourceId};
use standby_core::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Reply = (u16, Vec<(&'static str, String)>, String);
type Script = dyn Fn(&str, &str, usize) -> Reply + Send + Sync;

/// A one-request-per-connection HTTP/1.1 server answering from `script(method, path, nth)`, where
/// `nth` counts earlier requests to the same method and path.
struct Fake {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn fake(script: Arc<Script>) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let counts = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (script, log, counts) = (script.clone(), log.clone(), counts.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while buf.len() < head_end + len {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_string();
                let target = first.next().unwrap_or("").to_string();
                let path = target.split('?').next().unwrap_or("").to_string();
                let key = format!("{method} {path}");
                let nth = {
                    let mut c = counts.lock();
                    let e = c.entry(key.clone()).or_insert(0);
                    *e += 1;
                    *e - 1
                };
                log.lock().push(key);
                let (status, headers, body) = script(&method, &path, nth);
                let mut out = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&body);
                let _ = sock.write_all(out.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Fake { base, seen }
}

const SUB: &str = "sub-1";

fn token() -> Reply {
    (
        200,
        vec![],
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"t1"}"#.into(),
    )
}

fn client(f: &Fake) -> ArmClient {
    let mut c = ArmConfig::new("tenant", "client", Secret::new("s"), SUB);
    c.arm_url = f.base.parse().unwrap();
    c.authority_url = f.base.parse().unwrap();
    c.retry.poll_min = Duration::from_millis(5);
    c.retry.poll_max = Duration::from_millis(20);
    c.retry.min_backoff = Duration::from_millis(5);
    c.retry.max_backoff = Duration::from_millis(20);
    c.retry.max_polls = 50;
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    ArmClient::new(c, clock).unwrap()
}

fn disk_body(state: &str) -> String {
    format!(
        r#"{{"id":"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1","name":"d1","location":"westeurope","properties":{{"provisioningState":"{state}","diskSizeGB":64}}}}"#
    )
}

fn new_disk() -> NewDisk {
    NewDisk {
        resource_group: "rg".into(),
        name: "d1".into(),
        location: "westeurope".into(),
        source_snapshot: ResourceId::snapshot(SUB, "rg", "s1"),
        sku: None,
        tags: Default::default(),
    }
}

#[tokio::test]
async fn an_operation_with_only_a_location_is_polled_until_it_answers_200() {
    let host = Arc::new(Mutex::new(String::new()));
    let f = fake({
        let host = host.clone();
        Arc::new(move |method, path, nth| {
            let monitor =
                "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/op1";
            let at = host.lock().clone();
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                ("PUT", _) => (
                    202,
                    vec![
                        ("Location", format!("http://{at}{monitor}?monitor=true")),
                        ("Retry-After", "0".into()),
                    ],
                    String::new(),
                ),
                ("GET", p) if p == monitor && nth < 2 => {
                    (202, vec![("Retry-After", "0".into())], String::new())
                }
                ("GET", p) if p == monitor => (200, vec![], String::new()),
                ("GET", _) => (200, vec![], disk_body("Succeeded")),
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    *host.lock() = f.base.trim_start_matches("http://").to_string();
    let disk = client(&f)
        .create_disk_from_snapshot(&new_disk())
        .await
        .unwrap();
    assert_eq!(disk.name, "d1");
    let seen = f.seen.lock().clone();
    let monitor_polls = seen
        .iter()
        .filter(|s| s.contains("/operations/op1"))
        .count();
    assert_eq!(monitor_polls, 3, "202, 202, then 200: {seen:?}");
    assert_eq!(seen.iter().filter(|s| s.starts_with("PUT")).count(), 1);
}

#[tokio::test]
async fn a_failed_location_monitor_or_a_disk_left_failed_is_never_a_success() {
    let state = Arc::new(Mutex::new(("fail-monitor", String::new())));
    let f = fake({
        let state = state.clone();
        Arc::new(move |method, path, _| {
            let (mode, host) = state.lock().clone();
            let monitor = "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/op2";
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                ("PUT", _) => (202, vec![("Location", format!("http://{host}{monitor}?monitor=true"))], String::new()),
                ("GET", p) if p == monitor && mode == "fail-monitor" => (
                    409,
                    vec![],
                    r#"{"error":{"code":"OperationNotAllowed","message":"the source is gone"}}"#.into(),
                ),
                ("GET", p) if p == monitor => (200, vec![], String::new()),
                ("GET", _) => (200, vec![], disk_body("Failed")),
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    state.lock().1 = f.base.trim_start_matches("http://").to_string();
    let arm = client(&f);
    match arm
        .create_disk_from_snapshot(&new_disk())
        .await
        .unwrap_err()
    {
        ArmError::OperationFailed { code, message, .. } => {
            assert_eq!(code, "OperationNotAllowed");
            assert_eq!(message, "the source is gone");
        }
        other => panic!("{other:?}"),
    }
    state.lock().0 = "done-but-failed";
    let e = arm
        .create_disk_from_snapshot(&new_disk())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ArmError::OperationFailed { ref code, .. } if code == "NotSucceeded"),
        "{e:?}"
    );
}

#[tokio::test]
async fn async_operations_keep_polling_unknown_states_and_fail_on_canceled_or_a_wrong_power_state()
{
    let mode = Arc::new(Mutex::new(("canceled", String::new())));
    let f = fake({
        let mode = mode.clone();
        Arc::new(move |method, path, nth| {
            let (m, host) = mode.lock().clone();
            let op = "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/op3";
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                ("POST", p) if p.ends_with("/deallocate") => (
                    202,
                    vec![("Azure-AsyncOperation", format!("http://{host}{op}")), ("Retry-After", "0".into())],
                    String::new(),
                ),
                ("GET", p) if p == op => {
                    let status = match (m, nth) {
                        (_, 0) => "InProgress",
                        (_, 1) => "SomethingNew",
                        ("canceled", _) => "Canceled",
                        _ => "Succeeded",
                    };
                    (200, vec![], format!(r#"{{"name":"op3","status":"{status}"}}"#))
                }
                ("GET", p) if p.ends_with("/instanceView") => (
                    200,
                    vec![],
                    r#"{"statuses":[{"code":"ProvisioningState/succeeded"},{"code":"PowerState/running"}]}"#.into(),
                ),
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    mode.lock().1 = f.base.trim_start_matches("http://").to_string();
    let arm = client(&f);
    let vm = ResourceId::vm(SUB, "rg", "vm1");
    match arm.deallocate(&vm).await.unwrap_err() {
        ArmError::OperationFailed { code, .. } => assert_eq!(code, "Canceled"),
        other => panic!("{other:?}"),
    }
    let polls = f
        .seen
        .lock()
        .iter()
        .filter(|s| s.contains("/operations/op3"))
        .count();
    assert_eq!(polls, 3, "InProgress and an unknown status kept it polling");

    // The operation says Succeeded but the VM is still running: not a success.
    mode.lock().0 = "succeeded";
    let e = arm.deallocate(&vm).await.unwrap_err();
    assert!(
        matches!(e, ArmError::OperationFailed { ref code, .. } if code == "UnexpectedPowerState"),
        "{e:?}"
    );
}

const OP: &str =
    "/subscriptions/sub-1/providers/Microsoft.Compute/locations/westeurope/operations/op9";

#[tokio::test]
async fn the_token_never_goes_to_a_monitor_or_next_link_at_another_origin() {
    // Another listener on the same host, another port: it must never see a request.
    let elsewhere = fake(Arc::new(|_, _, _| {
        (
            200,
            vec![],
            r#"{"status":"Succeeded","value":[]}"#.to_string(),
        )
    }))
    .await;
    let other = elsewhere.base.clone();
    let mode = Arc::new(Mutex::new("location"));
    let f = fake({
        let (other, mode) = (other.clone(), mode.clone());
        Arc::new(move |method, path, _| {
            let m = *mode.lock();
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                ("PUT", _) if m == "location" => (
                    202,
                    vec![
                        ("Location", format!("{other}{OP}?monitor=true")),
                        ("Retry-After", "0".into()),
                    ],
                    String::new(),
                ),
                ("PUT", _) => (
                    201,
                    vec![
                        ("Azure-AsyncOperation", format!("{other}{OP}")),
                        ("Retry-After", "0".into()),
                    ],
                    disk_body("Updating"),
                ),
                ("GET", p) if p.ends_with("/disks") => (
                    200,
                    vec![],
                    format!(
                        r#"{{"value":[{}],"nextLink":"{other}/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/disks?api-version=2025-01-02&$skiptoken=1"}}"#,
                        disk_body("Succeeded")
                    ),
                ),
                ("GET", _) => (200, vec![], disk_body("Succeeded")),
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    let arm = client(&f);
    let refused = |e: ArmError| {
        let text = e.to_string();
        match &e {
            ArmError::ForeignOrigin { url, arm_url } => {
                assert!(url.starts_with(&other), "{url}");
                assert!(!url.contains("monitor=true"), "no query shown: {url}");
                assert_eq!(arm_url, &f.base);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            text.contains("refusing to send credentials there"),
            "{text}"
        );
        assert_eq!(
            standby_core::ApiError::from(e).code,
            standby_core::error::ErrorCode::InvalidInput
        );
    };
    refused(
        arm.create_disk_from_snapshot(&new_disk())
            .await
            .unwrap_err(),
    );
    *mode.lock() = "async";
    refused(
        arm.create_disk_from_snapshot(&new_disk())
            .await
            .unwrap_err(),
    );
    refused(arm.list_disks("rg").await.unwrap_err());
    assert!(
        elsewhere.seen.lock().is_empty(),
        "nothing was sent to the other origin: {:?}",
        elsewhere.seen.lock()
    );
}

fn snap_body(name: &str, source: &str, state: &str, pct: Option<f64>) -> String {
    let pct = pct
        .map(|p| format!(r#","completionPercent":{p}"#))
        .unwrap_or_default();
    format!(
        r#"{{"id":"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/snapshots/{name}","name":"{name}","location":"northeurope","properties":{{"provisioningState":"{state}","incremental":true,"creationData":{{"createOption":"CopyStart","sourceResourceId":"{source}"}}{pct}}}}}"#
    )
}

#[tokio::test]
async fn a_copy_is_done_only_at_100_percent_and_an_existing_copy_of_another_source_is_refused() {
    let source = ResourceId::snapshot(SUB, "rg", "s1");
    let f = fake({
        let src = source.as_str().to_string();
        Arc::new(move |method, path, nth| {
            let other = format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/snapshots/someone-else");
            // The same source as ARM may write it: no leading slash, other casing.
            let same = src.trim_start_matches('/').to_ascii_lowercase();
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                // Succeeded without a percentage, then 40%, then 100%.
                ("GET", p) if p.ends_with("/snapshots/r1") => {
                    let pct = [None, Some(40.0)].get(nth).copied().unwrap_or(Some(100.0));
                    (200, vec![], snap_body("r1", &src, "Succeeded", pct))
                }
                ("PUT", p) if p.ends_with("/snapshots/r2") => {
                    (200, vec![], snap_body("r2", &other, "Succeeded", Some(100.0)))
                }
                ("PUT", p) if p.ends_with("/snapshots/r3") => {
                    (200, vec![], snap_body("r3", &same, "Succeeded", Some(100.0)))
                }
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    let arm = client(&f);
    let done = arm
        .follow_copy(&ResourceId::snapshot(SUB, "rg", "r1"))
        .await
        .unwrap();
    assert_eq!(done.properties.completion_percent, Some(100.0));
    let polls = f
        .seen
        .lock()
        .iter()
        .filter(|s| s.ends_with("/snapshots/r1"))
        .count();
    assert_eq!(polls, 3, "no percentage is not done; 40% is not done");

    let copy = |name: &str| standby_core::providers::azure::snapshots::NewCopy {
        resource_group: "rg".into(),
        name: name.into(),
        location: "northeurope".into(),
        source: source.clone(),
        tags: Default::default(),
        enhanced_speed: false,
    };
    let e = arm.start_copy(&copy("r2")).await.unwrap_err();
    assert!(
        matches!(e, ArmError::OperationFailed { ref code, .. } if code == "SnapshotSourceMismatch"),
        "{e:?}"
    );
    assert!(e.to_string().contains("someone-else"), "{e}");
    let ok = arm.start_copy(&copy("r3")).await.unwrap();
    assert_eq!(ok.name, "r3");
}

fn view(provisioning: &str, power: &str) -> Reply {
    (
        200,
        vec![],
        format!(
            r#"{{"statuses":[{{"code":"ProvisioningState/{provisioning}"}},{{"code":"PowerState/{power}"}}]}}"#
        ),
    )
}

#[tokio::test]
async fn an_ambiguous_action_is_uncertain_never_failed_or_sent_twice() {
    let f = fake(Arc::new(move |method, path, nth| {
        match (method, path) {
            ("POST", p) if p.ends_with("/token") => token(),
            // vm1: the deallocate's answer is a 500 while ARM takes it; the VM is Updating (still
            // running) for two reads, then deallocating, then deallocated.
            ("POST", p) if p.ends_with("/vm1/deallocate") && nth == 0 => (
                500,
                vec![],
                r#"{"error":{"code":"InternalServerError","message":"oops"}}"#.into(),
            ),
            ("GET", p) if p.ends_with("/vm1/instanceView") => match nth {
                0 | 1 => view("updating", "running"),
                2 => view("updating", "deallocating"),
                _ => view("succeeded", "deallocated"),
            },
            // vm2: the deallocate gets a 500 and the VM cannot be read back.
            ("POST", p) if p.ends_with("/vm2/deallocate") => (
                500,
                vec![],
                r#"{"error":{"code":"InternalServerError","message":"oops"}}"#.into(),
            ),
            ("POST", p) if p.ends_with("/deallocate") => (200, vec![], String::new()),
            ("GET", p) if p.ends_with("/vm2/instanceView") => (
                503,
                vec![],
                r#"{"error":{"code":"ServiceUnavailable","message":"try later"}}"#.into(),
            ),
            _ => (500, vec![], String::new()),
        }
    }))
    .await;
    let arm = client(&f);

    arm.deallocate(&ResourceId::vm(SUB, "rg", "vm1"))
        .await
        .unwrap();
    let posts = f
        .seen
        .lock()
        .iter()
        .filter(|s| s.starts_with("POST") && s.ends_with("/vm1/deallocate"))
        .count();
    assert_eq!(
        posts, 1,
        "an Updating VM was waited for, not sent the action again"
    );

    let e = arm
        .deallocate(&ResourceId::vm(SUB, "rg", "vm2"))
        .await
        .unwrap_err();
    assert!(matches!(e, ArmError::Uncertain { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("oops") && text.contains("try later"),
        "both errors: {text}"
    );
    assert_eq!(
        standby_core::ApiError::from(e).code,
        standby_core::error::ErrorCode::Conflict
    );
    let posts = f
        .seen
        .lock()
        .iter()
        .filter(|s| s.starts_with("POST") && s.ends_with("/vm2/deallocate"))
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_location_monitor_answering_5xx_is_uncertain_not_a_failure() {
    let host = Arc::new(Mutex::new(String::new()));
    let f = fake({
        let host = host.clone();
        Arc::new(move |method, path, _| {
            let at = host.lock().clone();
            match (method, path) {
                ("POST", p) if p.ends_with("/token") => token(),
                ("PUT", _) => (
                    202,
                    vec![
                        ("Location", format!("http://{at}{OP}?monitor=true")),
                        ("Retry-After", "0".into()),
                    ],
                    String::new(),
                ),
                ("GET", p) if p == OP => (500, vec![], String::new()),
                ("GET", _) => (200, vec![], disk_body("Succeeded")),
                _ => (500, vec![], String::new()),
            }
        })
    })
    .await;
    *host.lock() = f.base.trim_start_matches("http://").to_string();
    let e = client(&f)
        .create_disk_from_snapshot(&new_disk())
        .await
        .unwrap_err();
    assert!(matches!(e, ArmError::Uncertain { .. }), "{e:?}");
    assert!(
        e.to_string().contains("check it before trying again"),
        "{e}"
    );
}
