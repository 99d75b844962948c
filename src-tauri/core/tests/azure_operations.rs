//! The ARM calls Standby's jobs make, against the lab: backup (incremental snapshot), replica
//! (CopyStart followed to 100%), restore (disk from snapshot, OS-disk swap, data-disk moves),
//! power, resize; the platform's refusals surfaced in ARM's words; POST actions whose outcome was
//! unknown re-read before anything is sent again.

mod azure_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use azure_support::*;
use serde_json::json;
use standby_core::providers::azure::disks::NewDisk;
use standby_core::providers::azure::snapshots::{NewCopy, NewSnapshot};
use standby_core::providers::azure::{
    ArmError, PowerState, Progress, ProvisioningState, ResourceId, Tags,
};
use standby_core::{ApiError, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn tags() -> Tags {
    [("standby.job".to_string(), "test".to_string())].into()
}

fn snapshot_req(lab: &standby_lab::LabHandle, name: &str, disk: &str) -> NewSnapshot {
    NewSnapshot {
        resource_group: rg(lab),
        name: name.into(),
        location: PRIMARY.into(),
        disk: disk_id(lab, disk),
        tags: tags(),
    }
}

fn copy_req(lab: &standby_lab::LabHandle, name: &str, source: &ResourceId) -> NewCopy {
    NewCopy {
        resource_group: dr_rg(lab),
        name: name.into(),
        location: SECONDARY.into(),
        source: source.clone(),
        tags: tags(),
        enhanced_speed: false,
    }
}

#[tokio::test]
async fn backup_replica_copy_to_100_and_restore_in_the_secondary() {
    let lab = start().await;
    let (arm, log) = recorded(&client(&lab));
    fill(&lab, "acme-pd-desk-0003-osdisk", 20.0).await; // 204.8 lab seconds at 100 MiB/s

    let backup = arm
        .snapshot_disk(&snapshot_req(&lab, "d3-bk", "acme-pd-desk-0003-osdisk"))
        .await
        .unwrap();
    assert_eq!(backup.properties.incremental, Some(true));
    assert_eq!(
        backup.properties.provisioning_state,
        ProvisioningState::Succeeded
    );
    assert_eq!(backup.location, PRIMARY);

    let copy = arm
        .start_copy(&copy_req(&lab, "d3-bk-dr", &backup.resource_id().unwrap()))
        .await
        .unwrap();
    assert_eq!(copy.location, SECONDARY);
    assert_eq!(copy.create_option(), Some("CopyStart"));
    assert_eq!(
        copy.properties.provisioning_state,
        ProvisioningState::Updating
    );

    speed_up(&lab, 100.0);
    let done = arm.follow_copy(&copy.resource_id().unwrap()).await.unwrap();
    assert_eq!(done.properties.completion_percent, Some(100.0));
    assert_eq!(
        done.properties.provisioning_state,
        ProvisioningState::Succeeded
    );
    let percents: Vec<f64> = log
        .lock()
        .iter()
        .filter_map(|p| match p {
            Progress::Polling { percent, .. } => *percent,
            _ => None,
        })
        .collect();
    assert!(percents.len() >= 3, "{percents:?}");
    assert!(
        percents.iter().any(|p| *p > 0.0 && *p < 100.0),
        "{percents:?}"
    );
    assert!(percents.windows(2).all(|w| w[1] >= w[0]), "{percents:?}");
    assert_eq!(percents.last(), Some(&100.0));

    let restored = arm
        .create_disk_from_snapshot(&NewDisk {
            resource_group: dr_rg(&lab),
            name: "acme-pd-desk-0003-osdisk-dr".into(),
            location: SECONDARY.into(),
            source_snapshot: done.resource_id().unwrap(),
            sku: None,
            tags: tags(),
        })
        .await
        .unwrap();
    assert_eq!(
        restored.properties.provisioning_state,
        ProvisioningState::Succeeded
    );
    assert_eq!(restored.location, SECONDARY);
    assert_eq!(
        restored.sku_name(),
        Some("Premium_LRS"),
        "the source disk's SKU"
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_second_copy_of_a_disk_while_one_runs_is_refused_in_arms_words() {
    let lab = start().await;
    let arm = client(&lab);
    let a = arm
        .snapshot_disk(&snapshot_req(&lab, "s-a", "acme-pd-desk-0004-osdisk"))
        .await
        .unwrap();
    let b = arm
        .snapshot_disk(&snapshot_req(&lab, "s-b", "acme-pd-desk-0004-osdisk"))
        .await
        .unwrap();
    arm.start_copy(&copy_req(&lab, "s-a-dr", &a.resource_id().unwrap()))
        .await
        .unwrap();
    let e = arm
        .start_copy(&copy_req(&lab, "s-b-dr", &b.resource_id().unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert_eq!(e.code(), Some("OperationNotAllowed"));
    let api: ApiError = e.into();
    assert_eq!(api.code, ErrorCode::Conflict);
    assert!(
        api.message
            .contains("Only one incremental snapshot of a disk can be copied at a time"),
        "{}",
        api.message
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_snapshot_rate_limit_is_surfaced_with_when_to_retry() {
    let lab = start().await;
    let arm = client(&lab);
    for i in 0..7 {
        arm.snapshot_disk(&snapshot_req(
            &lab,
            &format!("r{i}"),
            "acme-pd-util-02-osdisk",
        ))
        .await
        .unwrap();
    }
    let e = arm
        .snapshot_disk(&snapshot_req(&lab, "r7", "acme-pd-util-02-osdisk"))
        .await
        .unwrap_err();
    match &e {
        ArmError::Api {
            status: 409,
            code,
            retry_after,
            ..
        } => {
            assert_eq!(code, "OperationNotAllowed");
            assert_eq!(*retry_after, Some(std::time::Duration::from_secs(300)));
        }
        other => panic!("expected a 409, got {other:?}"),
    }
    assert!(e.to_string().contains("at most 7"), "{e}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_copy_fails_with_its_error_code_when_its_source_goes_or_the_copy_breaks() {
    let lab = start().await;
    let arm = client(&lab);
    fill(&lab, "acme-pd-desk-0005-osdisk", 20.0).await;
    let src = arm
        .snapshot_disk(&snapshot_req(&lab, "s5", "acme-pd-desk-0005-osdisk"))
        .await
        .unwrap();
    let copy = arm
        .start_copy(&copy_req(&lab, "s5-dr", &src.resource_id().unwrap()))
        .await
        .unwrap();
    advance(&lab, 50);
    arm.delete_snapshot(&src.resource_id().unwrap())
        .await
        .unwrap();
    match arm
        .follow_copy(&copy.resource_id().unwrap())
        .await
        .unwrap_err()
    {
        ArmError::CopyFailed { code, percent, .. } => {
            assert_eq!(code, "CopySourceNotFound");
            assert!((20.0..30.0).contains(&percent), "{percent}");
        }
        other => panic!("expected CopyFailed, got {other:?}"),
    }

    // A copy that breaks half-way on its own (the lab's "fail the next copy").
    lab.azure_lab().fail_next_copies(1);
    let src = arm
        .snapshot_disk(&snapshot_req(&lab, "s6", "acme-pd-desk-0006-osdisk"))
        .await
        .unwrap();
    let copy = arm
        .start_copy(&copy_req(&lab, "s6-dr", &src.resource_id().unwrap()))
        .await
        .unwrap();
    speed_up(&lab, 100.0);
    let e = arm
        .follow_copy(&copy.resource_id().unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("CopySourceNotFound"), "{e}");
    assert!(ApiError::from(e).message.contains("CopySourceNotFound"));
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn deallocate_and_start_are_followed_to_the_promised_power_state() {
    let lab = start().await;
    speed_up(&lab, 100.0);
    let (arm, log) = recorded(&client(&lab));
    let name = running_vms(&lab).into_iter().next().expect("a running VM");
    let vm = vm_id(&lab, &name);
    assert_eq!(arm.power_state(&vm).await.unwrap(), PowerState::Running);
    arm.deallocate(&vm).await.unwrap();
    assert_eq!(arm.power_state(&vm).await.unwrap(), PowerState::Deallocated);
    assert_eq!(lab_power(&lab, &name), "deallocated");
    assert!(log
        .lock()
        .iter()
        .any(|p| matches!(p, Progress::Polling { status, .. } if status == "InProgress")));
    arm.start(&vm).await.unwrap();
    assert_eq!(lab_power(&lab, &name), "running");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_os_disk_is_swapped_only_once_the_vm_is_deallocated() {
    let lab = start().await;
    speed_up(&lab, 100.0);
    let arm = client(&lab);
    let name = running_vms(&lab).into_iter().next().expect("a running VM");
    let vm = vm_id(&lab, &name);
    let os = format!("{name}-osdisk");
    let snap = arm
        .snapshot_disk(&snapshot_req(&lab, "swap-src", &os))
        .await
        .unwrap();
    let new_disk = arm
        .create_disk_from_snapshot(&NewDisk {
            resource_group: rg(&lab),
            name: format!("{os}-restored"),
            location: PRIMARY.into(),
            source_snapshot: snap.resource_id().unwrap(),
            sku: None,
            tags: tags(),
        })
        .await
        .unwrap();
    let new_id = new_disk.resource_id().unwrap();
    let e = arm.swap_os_disk(&vm, &new_id).await.unwrap_err();
    assert_eq!(e.code(), Some("OperationNotAllowed"), "{e}");
    assert_eq!(
        lab_power(&lab, &name),
        "running",
        "refused, nothing changed"
    );

    arm.deallocate(&vm).await.unwrap();
    let after = arm.swap_os_disk(&vm, &new_id).await.unwrap();
    let now_os = ResourceId::parse(after.storage().os_disk_id().unwrap()).unwrap();
    assert_eq!(now_os, new_id);
    let old = arm.get_disk(&disk_id(&lab, &os)).await.unwrap();
    assert!(old.managed_by.is_none(), "the old OS disk is released");
    assert_eq!(old.properties.disk_state.as_deref(), Some("Unattached"));
    arm.start(&vm).await.unwrap();
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn disks_grow_when_allowed_and_never_shrink() {
    let lab = start().await;
    let arm = client(&lab);
    let off = deallocated_vms(&lab)
        .into_iter()
        .next()
        .expect("a deallocated VM");
    let id = disk_id(&lab, &format!("{off}-osdisk"));
    let before = arm
        .get_disk(&id)
        .await
        .unwrap()
        .properties
        .disk_size_gb
        .unwrap();
    let grown = arm.resize_disk(&id, before + 10).await.unwrap();
    assert_eq!(grown.properties.disk_size_gb, Some(before + 10));
    let e = arm.resize_disk(&id, before).await.unwrap_err();
    assert_eq!(
        (e.status(), e.code()),
        (Some(400), Some("BadRequest")),
        "{e}"
    );

    let on = running_vms(&lab).into_iter().next().expect("a running VM");
    let id = disk_id(&lab, &format!("{on}-osdisk"));
    let size = arm
        .get_disk(&id)
        .await
        .unwrap()
        .properties
        .disk_size_gb
        .unwrap();
    let e = arm.resize_disk(&id, size + 10).await.unwrap_err();
    assert_eq!(e.code(), Some("OperationNotAllowed"));
    assert!(e.to_string().contains("deallocated"), "{e}");
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn data_disks_move_between_vms() {
    let lab = start().await;
    let arm = client(&lab);
    let disks = arm.list_disks(&rg(&lab)).await.unwrap();
    let drive = disks
        .iter()
        .find(|d| {
            d.tags.get("frame.role").map(String::as_str) == Some("personal-drive")
                && d.managed_by.is_some()
        })
        .expect("an attached personal drive");
    let drive_id = drive.resource_id().unwrap();
    let from = ResourceId::parse(drive.managed_by.as_deref().unwrap()).unwrap();
    let to = vm_id(&lab, "acme-pd-sandbox");
    let after = arm
        .attach_detach_data_disks(&from, &[], std::slice::from_ref(&drive_id))
        .await
        .unwrap();
    assert!(!after
        .storage()
        .data_disk_ids()
        .any(|i| ResourceId::parse(i).unwrap() == drive_id));
    let after = arm
        .attach_detach_data_disks(&to, std::slice::from_ref(&drive_id), &[])
        .await
        .unwrap();
    assert!(after
        .storage()
        .data_disk_ids()
        .any(|i| ResourceId::parse(i).unwrap() == drive_id));
    let d = arm.get_disk(&drive_id).await.unwrap();
    assert_eq!(
        ResourceId::parse(d.managed_by.as_deref().unwrap()).unwrap(),
        to
    );
    lab.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_power_action_that_never_arrived_is_sent_again_after_reading_the_state() {
    let lab = start().await;
    speed_up(&lab, 100.0);
    let (arm, log) = recorded(&client(&lab));
    let names = running_vms(&lab);
    for (name, fault) in names
        .iter()
        .take(2)
        .zip([json!({"drop_next": 1}), json!({"fail_next": 1})])
    {
        let vm = vm_id(&lab, name);
        arm.instance_view(&vm).await.unwrap();
        let ops = operation_count(&lab);
        set_fault(&lab, fault.clone()).await;
        arm.deallocate(&vm).await.unwrap();
        assert_eq!(lab_power(&lab, name), "deallocated", "{fault}");
        assert_eq!(
            operation_count(&lab),
            ops + 1,
            "exactly one deallocate reached ARM ({fault})"
        );
    }
    let resends = log
        .lock()
        .iter()
        .filter(
            |p| matches!(p, Progress::Retrying { reason, .. } if reason.contains("did not arrive")),
        )
        .count();
    assert_eq!(resends, 2);
    lab.shutdown().await.unwrap();
}

/// A TCP relay in front of ARM that, once armed, lets the next request through on a connection
/// that already existed and then cuts that connection instead of relaying the answer: the action
/// happened, the client never hears of it.
struct LostAnswerProxy {
    addr: SocketAddr,
    armed: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
}

impl LostAnswerProxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let generation = Arc::new(AtomicUsize::new(0));
        let cuts = Arc::new(AtomicUsize::new(0));
        let (a, g, c) = (armed.clone(), generation.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let born = g.load(Ordering::SeqCst);
                let (a, g, c) = (a.clone(), g.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    relay(client, server, born, a, g, c).await;
                });
            }
        });
        Self {
            addr,
            armed,
            generation,
            cuts,
        }
    }

    fn arm(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    born: usize,
    armed: Arc<AtomicBool>,
    generation: Arc<AtomicUsize>,
    cuts: Arc<AtomicUsize>,
) {
    let victim = Arc::new(AtomicBool::new(false));
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let v = victim.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            // Only a connection from before arming: a new one would start with a handshake.
            if born < generation.load(Ordering::SeqCst) && armed.swap(false, Ordering::SeqCst) {
                v.store(true, Ordering::SeqCst);
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if victim.load(Ordering::SeqCst) {
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    up.abort();
    let _ = cw.shutdown().await;
}

#[tokio::test]
async fn a_power_action_whose_answer_was_lost_is_not_sent_twice() {
    let lab = start().await;
    speed_up(&lab, 100.0);
    let host = lab.azure.arm_url.host_str().unwrap().to_string();
    let port = lab.azure.arm_url.port().unwrap();
    let target: SocketAddr = format!("{host}:{port}").parse().unwrap();
    let proxy = LostAnswerProxy::start(target).await;
    let (arm, log) = recorded(&client_with(&lab, |c| {
        c.arm_url = format!("https://{}", proxy.addr).parse().unwrap();
    }));
    let name = running_vms(&lab).into_iter().next().expect("a running VM");
    let vm = vm_id(&lab, &name);
    // A kept-alive connection for the action to travel on.
    assert_eq!(arm.power_state(&vm).await.unwrap(), PowerState::Running);
    let ops = operation_count(&lab);
    proxy.arm();
    arm.deallocate(&vm).await.unwrap();
    assert_eq!(proxy.cuts.load(Ordering::SeqCst), 1, "the answer was cut");
    assert_eq!(lab_power(&lab, &name), "deallocated");
    assert_eq!(
        operation_count(&lab),
        ops + 1,
        "the deallocate reached ARM once, not twice"
    );
    assert!(!log.lock().iter().any(
        |p| matches!(p, Progress::Retrying { reason, .. } if reason.contains("did not arrive"))
    ));
    lab.shutdown().await.unwrap();
}
