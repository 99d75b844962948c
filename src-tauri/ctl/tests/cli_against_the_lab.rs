//! `standbyctl` against the lab, as an administrator would drive it from a shell: add both kinds
//! of account (secrets on standard input), test them, list an inventory, enable disaster recovery
//! on AHV and on Azure, back up a desktop and restore it, fail on purpose, and read the outcome.
//! Then prove that no secret was written to the data folder (catalog, WAL, logs) or printed.
//!
//! Needs a Secret Service: `./test` runs it in a private D-Bus session with a throwaway keyring.
//! Elsewhere it says why it is skipped (and fails under CI).

mod support;

use std::path::Path;

use standby_lab::{Lab, LabConfig};
use support::{add_lab_azure, enable_azure_dr, keyring_available, Cli};

#[tokio::test(flavor = "multi_thread")]
async fn a_full_command_line_session_works_and_leaks_no_secret() {
    if !keyring_available() {
        return;
    }
    let lab = Lab::start(LabConfig::for_tests()).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut cli = Cli::new(data.path());
    let (p, s, az) = (
        lab.prism[0].clone(),
        lab.prism[1].clone(),
        lab.azure.clone(),
    );
    let (p, s, az) = (&p, &s, &az);
    let wrong_password = "Wr0ng-pa55word-never-valid";

    // The certificate an administrator would check before trusting the cluster.
    let probe = cli.ok(
        &[
            "account",
            "probe",
            &p.ip.to_string(),
            "--port",
            &p.port.to_string(),
            "--json",
        ],
        None,
    );
    let probed: serde_json::Value = serde_json::from_str(&probe).unwrap();
    assert_eq!(probed["sha256"], p.certificate_sha256.as_str());

    for (name, ep) in [("primary", p), ("secondary", s)] {
        cli.ok(
            &[
                "account",
                "add-ahv",
                "--name",
                name,
                "--address",
                &format!("{}:{}", ep.ip, ep.port),
                "--user",
                &ep.username,
                "--trust-fingerprint",
                &ep.certificate_sha256,
            ],
            Some(&format!("{}\n", ep.password)),
        );
    }
    add_lab_azure(&mut cli, &lab, "azure");
    let list = cli.ok(&["account", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);

    for name in ["primary", "secondary", "azure"] {
        let out = cli.ok(&["account", "test", name, "--json"], None);
        let health: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(health["ok"], true, "{name}: {out}");
    }

    let inventory = cli.ok(
        &[
            "inventory",
            "list",
            "primary",
            "--frame-account",
            "acme-pd",
            "--json",
        ],
        None,
    );
    let inventory: Vec<serde_json::Value> = serde_json::from_str(&inventory).unwrap();
    assert_eq!(
        inventory
            .iter()
            .filter(|r| r["kind"] == "persistent_desktop")
            .count(),
        38
    );
    let template = inventory
        .iter()
        .find(|r| r["kind"] == "template_image")
        .unwrap();
    assert!(template["not_protected_reason"]
        .as_str()
        .unwrap()
        .contains("not backed up"));

    // The administrator corrects discovery: one desktop is left out, and stays out on every list.
    let desk = inventory
        .iter()
        .find(|r| r["kind"] == "persistent_desktop")
        .unwrap();
    let desk_id = desk["provider_id"].as_str().unwrap().to_string();
    cli.ok(
        &["inventory", "correct", "primary", &desk_id, "--exclude"],
        None,
    );
    let corrected = cli.ok(
        &[
            "inventory",
            "list",
            "primary",
            "--frame-account",
            "acme-pd",
            "--json",
        ],
        None,
    );
    let corrected: Vec<serde_json::Value> = serde_json::from_str(&corrected).unwrap();
    assert!(corrected
        .iter()
        .all(|r| r["provider_id"] != desk_id.as_str()));
    assert_eq!(corrected.len(), inventory.len() - 1);
    let bad = cli.run(
        &[
            "inventory",
            "correct",
            "primary",
            &desk_id,
            "--kind",
            "desktop",
        ],
        None,
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("persistent-desktop"),
        "the error lists the kinds"
    );
    cli.ok(&["inventory", "clear", "primary", &desk_id], None);
    let corrections = cli.ok(&["inventory", "corrections", "primary", "--json"], None);
    assert_eq!(corrections.trim(), "[]");

    let ports = |e: &standby_lab::PrismEndpoint| {
        (
            e.replication_ports[1].to_string(),
            format!("{},{}", e.replication_ports[0], e.replication_ports[1]),
        )
    };
    let ((p_port, p_checks), (s_port, s_checks)) = (ports(p), ports(s));
    let enable_ahv = |maps: &[&str]| {
        let mut args = vec![
            "dr",
            "enable-ahv",
            "--primary",
            "primary",
            "--secondary",
            "secondary",
            "--frame-account",
            "acme-pd",
            "--primary-replication-port",
            &p_port,
            "--secondary-replication-port",
            &s_port,
            "--primary-check-ports",
            &p_checks,
            "--secondary-check-ports",
            &s_checks,
        ];
        for m in maps {
            args.extend(["--map", m]);
        }
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    // Fail on purpose: the account's profiles live in SelfServiceContainer, left unmapped.
    let partial = enable_ahv(&["default-container-77107=storage-container-112133"]);
    let out = cli.run(
        &partial.iter().map(String::as_str).collect::<Vec<_>>(),
        None,
    );
    assert!(
        !out.status.success(),
        "DR must not be enabled with a container unmapped"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SelfServiceContainer"),
        "the error names the unmapped container: {err}"
    );
    let shown = cli.ok(&["dr", "show", "--json"], None);
    assert_eq!(shown.trim(), "[]", "nothing recorded after a failure");

    let full = enable_ahv(&[
        "default-container-77107=storage-container-112133",
        "SelfServiceContainer=SelfServiceContainer",
    ]);
    let out = cli.ok(
        &full
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .iter()
            .copied()
            .chain(["--json"])
            .collect::<Vec<_>>(),
        None,
    );
    let enabled: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(enabled["config"]["frame_account"], "acme-pd");
    assert!(
        enabled["protected_resources"].as_u64().unwrap() >= 100,
        "{out}"
    );
    // The lab now holds the protection domain and both remote sites.
    let state = lab.state();
    assert!(
        state.to_string().contains("standby-acme-pd"),
        "protection domain created in the lab"
    );

    let out = enable_azure_dr(&mut cli, &lab, "azure", &["--json"]);
    let enabled: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        enabled["config"]["target"]["secondary_region"],
        az.secondary_region.as_str()
    );
    let shown: Vec<serde_json::Value> =
        serde_json::from_str(&cli.ok(&["dr", "show", "--json"], None)).unwrap();
    assert_eq!(shown.len(), 2);

    // Each outcome is in the notification center: the refusal first, then both successes.
    let notes: Vec<serde_json::Value> =
        serde_json::from_str(&cli.ok(&["notifications", "--json"], None)).unwrap();
    let titles: Vec<&str> = notes.iter().map(|n| n["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Disaster recovery enabled for acme-pd",
            "Disaster recovery enabled for acme-pd",
            "Disaster recovery not enabled for acme-pd",
        ],
        "{notes:?}"
    );
    assert_eq!(notes[2]["level"], "error");
    assert!(notes[2]["body"]
        .as_str()
        .unwrap()
        .contains("SelfServiceContainer"));
    assert_eq!(notes[1]["account_name"], "primary");
    assert_eq!(notes[0]["account_name"], "azure");

    // One desktop's OS disk backed up now and replicated to the secondary region. The lab's clock
    // is frozen for tests: a background task moves it on while the command runs, so the copy
    // completes (and the tokens it issued expire on the way, as they would over a long copy).
    let azure_inventory: Vec<serde_json::Value> = serde_json::from_str(&cli.ok(
        &[
            "inventory",
            "list",
            "azure",
            "--frame-account",
            "acme-pd",
            "--json",
        ],
        None,
    ))
    .unwrap();
    let disk_of = |kind: &str| {
        let r = azure_inventory.iter().find(|r| r["kind"] == kind).unwrap();
        let id = r["provider_id"].as_str().unwrap();
        id.rsplit('/').next().unwrap().to_string()
    };
    let (desk_disk, template_disk) = (disk_of("persistent_desktop"), disk_of("template_image"));
    let ticker = Ticker::start(&lab);
    let created = cli.ok(
        &[
            "backup",
            "create",
            "--account",
            "azure",
            "--frame-account",
            "acme-pd",
            "--volume",
            &desk_disk,
            "--name",
            "before the upgrade",
            "--json",
        ],
        None,
    );
    ticker.stop().await;
    let created: Vec<serde_json::Value> = serde_json::from_str(&created).unwrap();
    assert_eq!(created.len(), 2, "{created:?}");
    let listed: Vec<serde_json::Value> = serde_json::from_str(&cli.ok(
        &[
            "backup",
            "list",
            "--account",
            "azure",
            "--volume",
            &desk_disk,
            "--json",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().all(|b| b["state"] == "available"),
        "{listed:?}"
    );
    let replica = listed.iter().find(|b| b["site"] == "replica").unwrap();
    assert_eq!(replica["location"], az.secondary_region.as_str());
    assert_eq!(replica["percent"], 100.0);
    // A template image is refused, with exit code 1 and words to act on.
    let out = cli.run(
        &[
            "backup",
            "create",
            "--account",
            "azure",
            "--frame-account",
            "acme-pd",
            "--volume",
            &template_disk,
            "--name",
            "image",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not backed up"),
        "{}",
        cli.transcript
    );
    let text = cli.ok(&["backup", "list"], None);
    assert!(text.contains("before the upgrade"), "{text}");

    // The backup ran as a journaled job; nothing is left unfinished to pick up.
    let jobs: Vec<serde_json::Value> =
        serde_json::from_str(&cli.ok(&["jobs", "list", "--json"], None)).unwrap();
    let backup_jobs: Vec<_> = jobs.iter().filter(|j| j["kind"] == "backup").collect();
    assert!(!backup_jobs.is_empty(), "{jobs:?}");
    assert!(
        backup_jobs.iter().any(|j| j["state"] == "succeeded"),
        "{jobs:?}"
    );
    let resumed = cli.ok(&["jobs", "resume"], None);
    assert!(resumed.contains("No unfinished job."), "{resumed}");

    // Restore the desktop from that backup. The session check needs the guest agent, and the
    // desktop's user signed out; the restore replaces an assigned desktop's disk, so it is
    // refused (exit 3) until the volume's name is typed, then done as a journaled job.
    let agent = format!("{}azure/guest-agent", support::control(&lab));
    cli.ok(&["account", "guest-agent", "azure", "--url", &agent], None);
    let owner = azure_inventory
        .iter()
        .find(|r| {
            r["provider_id"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/{desk_disk}"))
        })
        .and_then(|r| r["owner"].as_str())
        .map(str::to_string);
    if let Some(user) = owner {
        // Closing a session nobody has open is refused by the lab; either way nobody is in.
        let tls = standby_core::providers::tls::web_client_config(None).unwrap();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .build()
            .unwrap();
        let _ = http
            .post(format!("{}azure/sessions/close", support::control(&lab)))
            .json(&serde_json::json!({ "user": user }))
            .send()
            .await;
    }
    let primary_backup = listed.iter().find(|b| b["site"] == "primary").unwrap();
    let backup_id = primary_backup["id"].as_str().unwrap().to_string();
    let plan = cli.json(&["restore", "plan", &backup_id, "--json"], None);
    assert_eq!(plan["can_run"], true, "{plan:#}");
    assert_eq!(plan["in_place"], true);
    assert_eq!(plan["replaces_assigned_desktop"], true);
    let volume = plan["volume_name"].as_str().unwrap().to_string();
    let refused = cli.run(&["restore", "run", &backup_id, "--json"], None);
    assert_eq!(refused.status.code(), Some(3), "{}", cli.tail());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--confirm-volume"),
        "{}",
        cli.tail()
    );
    let ticker = Ticker::start(&lab);
    let restored = cli.run(
        &[
            "restore",
            "run",
            &backup_id,
            "--confirm-volume",
            &volume,
            "--json",
        ],
        None,
    );
    ticker.stop().await;
    assert!(restored.status.success(), "{}", cli.tail());
    let restored: serde_json::Value = serde_json::from_slice(&restored.stdout).unwrap();
    let new_disk = restored["restored_volume"].as_str().unwrap();
    assert!(
        !new_disk.ends_with(&format!("/{desk_disk}")),
        "a new disk: {restored:#}"
    );
    assert!(
        restored["old_volume_kept"]
            .as_str()
            .is_some_and(|d| d.ends_with(&desk_disk)),
        "{restored:#}"
    );
    assert_eq!(restored["safety_backup"]["kind"], "safety", "{restored:#}");
    let jobs: Vec<serde_json::Value> =
        serde_json::from_str(&cli.ok(&["jobs", "list", "--json"], None)).unwrap();
    assert!(
        jobs.iter()
            .any(|j| j["kind"] == "restore" && j["state"] == "succeeded"),
        "{jobs:?}"
    );
    let notes: Vec<serde_json::Value> =
        serde_json::from_str(&cli.ok(&["notifications", "--json"], None)).unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["level"] == "success" && n["title"].as_str().unwrap().starts_with("Restore")),
        "{notes:#?}"
    );

    // A clone's pre-flight from the command line: the clusters have no guest agent here, so the
    // running desktops' sessions cannot be seen and the plan is blocked (exit 3), saying why.
    let out = cli.run(
        &[
            "clone",
            "plan",
            "primary",
            "secondary",
            "--frame-account",
            "acme-pd",
            "--dest-frame-account",
            "acme-dr",
            "--json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", cli.tail());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["can_run"], false);
    let checks = plan["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "Remote site" && c["status"] == "ok"),
        "{plan:#}"
    );
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "Users in session (guest agent)"
                && c["status"] == "blocked"
                && c["message"].as_str().unwrap().contains("guest-agent")),
        "{plan:#}"
    );

    // The cluster's certificate changes: every call stops with a clear error until the
    // administrator checks the new certificate and confirms it.
    let rotated = lab.rotate_certificate(&p.name).unwrap();
    let out = cli.run(&["account", "test", "primary"], None);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("another certificate"), "{said}");
    let probe = cli.ok(
        &[
            "account",
            "probe",
            &p.ip.to_string(),
            "--port",
            &p.port.to_string(),
            "--json",
        ],
        None,
    );
    let probed: serde_json::Value = serde_json::from_str(&probe).unwrap();
    let new_fp = probed["sha256"].as_str().unwrap().to_string();
    assert_ne!(new_fp, p.certificate_sha256);
    assert!(
        said.contains(&new_fp),
        "the error names the certificate now presented: {said}"
    );
    assert_eq!(
        rotated.sha256_hex(),
        new_fp,
        "probe shows what the lab now serves"
    );
    cli.ok(
        &["account", "edit", "primary", "--trust-fingerprint", &new_fp],
        None,
    );
    cli.ok(&["account", "test", "primary"], None);

    // Fail on purpose: a wrong password is refused with words to act on, and nothing leaks.
    cli.ok(
        &[
            "account",
            "add-ahv",
            "--name",
            "typo",
            "--address",
            &format!("{}:{}", p.ip, p.port),
            "--user",
            &p.username,
            "--trust-fingerprint",
            &new_fp,
        ],
        Some(&format!("{wrong_password}\n")),
    );
    let out = cli.run(&["account", "test", "typo"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("password"),
        "{}",
        cli.transcript
    );
    // A secret on the command line is not even accepted, even when everything else is right.
    let out = cli.run(
        &[
            "account",
            "add-ahv",
            "--name",
            "x",
            "--address",
            &format!("{}:{}", p.ip, p.port),
            "--user",
            &p.username,
            "--trust-fingerprint",
            &new_fp,
            "--password",
            "hunter2",
        ],
        Some(&format!("{}\n", p.password)),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unexpected argument '--password'"), "{err}");

    lab.shutdown().await.unwrap();

    // Nothing Standby wrote or printed holds a secret.
    assert_ne!(p.password, s.password, "each cluster has its own password");
    let secrets = [
        p.password.as_str(),
        s.password.as_str(),
        az.client_secret.as_str(),
        wrong_password,
    ];
    let mut files = 0;
    for entry in walk(data.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for secret in secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "{} contains a secret",
                entry.display()
            );
        }
    }
    assert!(
        files >= 3,
        "the catalog and the logs were checked ({files} files)"
    );
    assert!(
        walk(data.path())
            .iter()
            .any(|f| f.to_string_lossy().contains("standbyctl")),
        "a log file was written"
    );
    for secret in secrets {
        assert!(
            !cli.transcript.contains(secret),
            "a secret was printed:\n{}",
            cli.transcript
        );
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Moves the lab's clock 30 s every 50 ms while a command waits on lab time (copies, power).
struct Ticker {
    ticking: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Ticker {
    fn start(lab: &standby_lab::LabHandle) -> Self {
        let ticking = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (clock, on) = (lab.clock.clone(), ticking.clone());
        let task = tokio::spawn(async move {
            while on.load(std::sync::atomic::Ordering::SeqCst) {
                clock.advance(std::time::Duration::from_secs(30));
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        });
        Self { ticking, task }
    }

    async fn stop(self) {
        self.ticking
            .store(false, std::sync::atomic::Ordering::SeqCst);
        self.task.await.unwrap();
    }
}
