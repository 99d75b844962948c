//! Running `standbyctl` from a test as an administrator would from a shell, with a transcript of
//! everything it printed (for the failure message and the secret-leak scans).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

pub struct Cli {
    pub data: PathBuf,
    pub transcript: String,
}

impl Cli {
    pub fn new(data: &Path) -> Self {
        Self {
            data: data.to_path_buf(),
            transcript: String::new(),
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

    /// Starts `standbyctl` without waiting (its output goes to the transcript when it is reaped).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("standbyctl starts")
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
