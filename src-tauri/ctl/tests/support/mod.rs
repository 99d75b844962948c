//! Running `standbyctl` from a test as an administrator would from a shell, with a transcript of
//! everything it printed (for the failure message and the secret-leak scans).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Cli {
    pub data: PathBuf,
    pub transcript: String,
    spawned: u32,
}

/// A `standbyctl` started by [`Cli::spawn`].
pub struct Spawned {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Cli {
    pub fn new(data: &Path) -> Self {
        Self {
            data: data.to_path_buf(),
            transcript: String::new(),
            spawned: 0,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_standbyctl"));
        c.args(args)
            .env("STANDBY_DATA_DIR", &self.data)
            .env("STANDBY_LOG", "debug")
            .env_remove("STANDBY_PASSWORD")
            .env_remove("STANDBY_CLIENT_SECRET");
        c
    }

    /// Starts `standbyctl` without waiting. Its output goes to files, not pipes: a caller that
    /// polls the process (to kill it, or to sample its memory) never reads a pipe, and a large
    /// `--json` answer would fill one and block the process forever. [`Cli::reap`] reads them.
    pub fn spawn(&mut self, args: &[&str]) -> Spawned {
        self.spawn_under(&[], args)
    }

    /// As [`Cli::spawn`], with `standbyctl` run by `wrapper` (a profiler: `heaptrack -o FILE`)
    /// when it is not empty; the child is then the wrapper.
    pub fn spawn_under(&mut self, wrapper: &[&str], args: &[&str]) -> Spawned {
        self.spawned += 1;
        let dir = self.data.join("spawned");
        std::fs::create_dir_all(&dir).expect("the output folder is made");
        let out = dir.join(format!("{}.out", self.spawned));
        let err = dir.join(format!("{}.err", self.spawned));
        let mut command = self.command(args);
        if let Some((program, rest)) = wrapper.split_first() {
            let plain = command;
            command = Command::new(program);
            command
                .args(rest)
                .arg(plain.get_program())
                .args(plain.get_args());
            for (k, v) in plain.get_envs() {
                match v {
                    Some(v) => command.env(k, v),
                    None => command.env_remove(k),
                };
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("the stdout file is made"))
            .stderr(std::fs::File::create(&err).expect("the stderr file is made"))
            .spawn()
            .expect("standbyctl starts");
        Spawned { child, out, err }
    }

    /// Waits for a spawned `standbyctl` and records what it printed.
    pub fn reap(&mut self, args: &[&str], mut s: Spawned) -> Output {
        let status = s.child.wait().expect("standbyctl ends");
        let out = Output {
            status,
            stdout: std::fs::read(&s.out).unwrap_or_default(),
            stderr: std::fs::read(&s.err).unwrap_or_default(),
        };
        self.record(args, &out);
        out
    }

    pub fn record(&mut self, args: &[&str], out: &Output) {
        self.transcript.push_str(&format!(
            "$ standbyctl {}\n{}{}[{}]\n",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status
        ));
    }

    pub fn run(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("standbyctl starts");
        let mut pipe = child.stdin.take().expect("stdin is piped");
        if let Some(s) = stdin {
            pipe.write_all(s.as_bytes()).expect("stdin takes the input");
        }
        drop(pipe);
        let out = child.wait_with_output().expect("standbyctl ends");
        self.record(args, &out);
        out
    }

    pub fn ok(&mut self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "standbyctl {} failed:\n{}",
            args.join(" "),
            self.tail()
        );
        String::from_utf8(out.stdout).expect("standbyctl prints UTF-8")
    }

    pub fn json(&mut self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let out = self.ok(args, stdin);
        serde_json::from_str(&out).unwrap_or_else(|e| {
            panic!(
                "standbyctl {} printed no JSON ({e}):\n{out}",
                args.join(" ")
            )
        })
    }

    /// The last part of the transcript (a failure message should not be megabytes).
    pub fn tail(&self) -> &str {
        let t = &self.transcript;
        let mut start = t.len().saturating_sub(20_000);
        while !t.is_char_boundary(start) {
            start += 1;
        }
        &t[start..]
    }
}

/// Whether a Secret Service is reachable; under CI its absence is a failure, elsewhere a skip
/// that says why.
pub fn keyring_available() -> bool {
    let usable = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !usable {
        let msg = "no D-Bus session (and so no Secret Service); ./test provides one";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
    }
    usable
}

/// Registers the lab's Azure subscription as cloud account `name`, with the lab's guest agent.
pub fn add_lab_azure(cli: &mut Cli, lab: &standby_lab::LabHandle, name: &str) {
    let az = &lab.azure;
    let ca = cli.data.join("lab-ca.pem");
    std::fs::write(&ca, &az.ca_certificate_pem).expect("the CA file is written");
    cli.ok(
        &[
            "account",
            "add-azure",
            "--name",
            name,
            "--tenant",
            &az.tenant_id,
            "--client-id",
            &az.client_id,
            "--subscription",
            &az.subscription_id,
            "--resource-group",
            &az.resource_group,
            "--region",
            &az.primary_region,
            "--arm-url",
            az.arm_url.as_str(),
            "--authority-url",
            az.authority_url.as_str(),
            "--ca-file",
            ca.to_str().expect("a UTF-8 temp path"),
        ],
        Some(&format!("{}\n", az.client_secret)),
    );
}

/// The lab's control API base, `http://host:port/_lab/`.
pub fn control(lab: &standby_lab::LabHandle) -> String {
    format!("{}/_lab/", lab.control_url.as_str().trim_end_matches('/'))
}

/// An HTTP client for the lab's control API.
pub fn lab_http() -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(standby_core::providers::tls::web_client_config(None).unwrap())
        .build()
        .unwrap()
}

/// `GET {control}{path}` as JSON (the lab's state, settings, ...).
pub async fn lab_get(
    http: &reqwest::Client,
    lab: &standby_lab::LabHandle,
    path: &str,
) -> serde_json::Value {
    http.get(format!("{}{path}", control(lab)))
        .send()
        .await
        .expect("the control API answers")
        .json()
        .await
        .expect("the control API answers in JSON")
}

/// `standbyctl dr enable-azure` for `azure` and `acme-pd` to the lab's secondary region, with
/// `extra` arguments (`--json`); returns what it printed.
pub fn enable_azure_dr(
    cli: &mut Cli,
    lab: &standby_lab::LabHandle,
    account: &str,
    extra: &[&str],
) -> String {
    let az = &lab.azure;
    let mut args = vec![
        "dr",
        "enable-azure",
        "--account",
        account,
        "--frame-account",
        "acme-pd",
        "--secondary-region",
        &az.secondary_region,
        "--secondary-resource-group",
        &az.secondary_resource_group,
    ];
    args.extend_from_slice(extra);
    cli.ok(&args, None)
}

/// `standbyctl backup all` of the lab's whole Azure account, confirmed, in JSON.
pub const BACKUP_ALL: [&str; 7] = [
    "backup",
    "all",
    "azure",
    "--frame-account",
    "acme-pd",
    "--yes",
    "--json",
];

/// The same with `--dry-run`.
pub fn backup_all_dry_run() -> Vec<&'static str> {
    let mut dry = BACKUP_ALL.to_vec();
    dry.push("--dry-run");
    dry
}

/// What the crash test and the benchmark of `backup all` start from: a lab of `users` users on a
/// real clock `speed_up` times faster, its subscription as account `azure` with its guest agent,
/// and DR to the secondary region; `standbyctl` in a fresh data folder.
pub struct AzureDrLab {
    pub lab: standby_lab::LabHandle,
    pub http: reqwest::Client,
    pub cli: Cli,
    pub data: tempfile::TempDir,
}

impl AzureDrLab {
    pub async fn start(users: usize, speed_up: f64) -> Self {
        let clock = standby_lab::clock::LabClock::system();
        clock.set_scale(speed_up);
        let lab = standby_lab::Lab::start(standby_lab::LabConfig {
            seed: standby_lab::seed::SeedSize::Users(users),
            clock: Some(clock),
            ..standby_lab::LabConfig::default()
        })
        .await
        .expect("the lab starts");
        let data = tempfile::tempdir().unwrap();
        let mut cli = Cli::new(data.path());
        add_lab_azure(&mut cli, &lab, "azure");
        cli.ok(
            &[
                "account",
                "guest-agent",
                "azure",
                "--url",
                &format!("{}azure/guest-agent", control(&lab)),
            ],
            None,
        );
        enable_azure_dr(&mut cli, &lab, "azure", &[]);
        Self {
            lab,
            http: lab_http(),
            cli,
            data,
        }
    }
}

/// `{control}{path}` with a JSON body and `method`; a failure status fails the test.
pub async fn lab_send(
    http: &reqwest::Client,
    lab: &standby_lab::LabHandle,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let resp = http
        .request(method, format!("{}{path}", control(lab)))
        .json(&body)
        .send()
        .await
        .expect("the control API answers");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "{path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)
}

/// The product's Prism client for one of the lab's clusters (for assertions on what it holds).
pub fn lab_prism(ep: &standby_lab::PrismEndpoint) -> standby_core::providers::prism::PrismClient {
    standby_core::providers::prism::PrismClient::new(standby_core::providers::prism::PrismConfig {
        base_url: ep.base_url.clone(),
        username: ep.username.clone(),
        password: standby_core::secret::Secret::new(ep.password.clone()),
        pinned_sha256: ep.certificate_sha256.clone(),
        timeout: std::time::Duration::from_secs(30),
    })
    .expect("a Prism client for the lab")
}

/// Registers the lab's cluster `ep` as AHV cloud account `name` (password on standard input),
/// with the lab's guest agent for that cluster.
pub fn add_lab_ahv(
    cli: &mut Cli,
    lab: &standby_lab::LabHandle,
    ep: &standby_lab::PrismEndpoint,
    name: &str,
) {
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
    cli.ok(
        &[
            "account",
            "guest-agent",
            name,
            "--url",
            &format!("{}prism/{}/guest-agent", control(lab), ep.name),
        ],
        None,
    );
}

/// What the AHV crash tests start from: a lab of `users` users on a real clock `speed_up` times
/// faster, its clusters as accounts `primary` and `secondary` (each with its guest agent), DR of
/// `acme-pd` from `primary` to `secondary` (`standbyctl dr enable-ahv`), and a replication link
/// fast enough that the whole protection domain replicates in moments.
pub struct AhvDrLab {
    pub lab: standby_lab::LabHandle,
    pub http: reqwest::Client,
    pub cli: Cli,
    pub data: tempfile::TempDir,
    /// The protection domain DR made.
    pub protection_domain: String,
}

/// `standbyctl backup all` of the lab's primary cluster, confirmed, in JSON.
pub const BACKUP_ALL_AHV: [&str; 7] = [
    "backup",
    "all",
    "primary",
    "--frame-account",
    "acme-pd",
    "--yes",
    "--json",
];

impl AhvDrLab {
    pub async fn start(users: usize, speed_up: f64, bandwidth_bytes_per_sec: u64) -> Self {
        let clock = standby_lab::clock::LabClock::system();
        clock.set_scale(speed_up);
        let lab = standby_lab::Lab::start(standby_lab::LabConfig {
            seed: standby_lab::seed::SeedSize::Users(users),
            clock: Some(clock),
            ..standby_lab::LabConfig::default()
        })
        .await
        .expect("the lab starts");
        let data = tempfile::tempdir().unwrap();
        let mut cli = Cli::new(data.path());
        let (p, s) = (lab.prism[0].clone(), lab.prism[1].clone());
        add_lab_ahv(&mut cli, &lab, &p, "primary");
        add_lab_ahv(&mut cli, &lab, &s, "secondary");
        let ports = |e: &standby_lab::PrismEndpoint| {
            (
                e.replication_ports[1].to_string(),
                format!("{},{}", e.replication_ports[0], e.replication_ports[1]),
            )
        };
        let ((p_port, p_checks), (s_port, s_checks)) = (ports(&p), ports(&s));
        let enabled = cli.json(
            &[
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
                "--map",
                "default-container-77107=storage-container-112133",
                "--map",
                "SelfServiceContainer=SelfServiceContainer",
                "--json",
            ],
            None,
        );
        let protection_domain = enabled["config"]["target"]["protection_domain"]
            .as_str()
            .unwrap_or_else(|| panic!("DR names its protection domain: {enabled}"))
            .to_string();
        let http = lab_http();
        lab_send(
            &http,
            &lab,
            reqwest::Method::PUT,
            &format!("prism/{}/settings", p.name),
            serde_json::json!({ "bandwidth_bytes_per_sec": bandwidth_bytes_per_sec }),
        )
        .await;
        Self {
            lab,
            http,
            cli,
            data,
            protection_domain,
        }
    }
}

/// The VMs of a cluster by name: whether each is on.
pub async fn prism_power(
    prism: &standby_core::providers::prism::PrismClient,
) -> std::collections::BTreeMap<String, bool> {
    use standby_core::providers::prism::types::VmPowerState;
    prism
        .vms()
        .await
        .expect("the cluster lists its VMs")
        .into_iter()
        .map(|v| (v.name, v.power_state == Some(VmPowerState::On)))
        .collect()
}
