use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder};

/// The app under test: `STANDBY_APP_BIN`, or the workspace's `target/debug/standby`.
pub fn app_binary() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("STANDBY_APP_BIN") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/standby"),
    };
    let path = path.canonicalize().with_context(|| {
        format!(
            "the app binary {} is missing: build it with `cargo build -p standby` (./test does)",
            path.display()
        )
    })?;
    Ok(path)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A running tauri-driver (which starts WebKitWebDriver). Stopped with SIGTERM on drop: a killed
/// driver leaves WebKitWebDriver holding its port and the next run fails.
pub struct Driver {
    child: Child,
    pub port: u16,
    /// The data folder the app was given: identifies the app processes this driver started.
    data_dir: Option<std::ffi::OsString>,
}

impl Driver {
    /// Starts the driver; the app it launches inherits `envs` (e.g. `STANDBY_DATA_DIR`).
    pub fn start(envs: &[(&str, &std::ffi::OsStr)]) -> anyhow::Result<Self> {
        if std::env::var_os("DISPLAY").is_none() {
            bail!("no DISPLAY: run the end-to-end tests under Xvfb (./test does: xvfb-run -a dbus-run-session -- ...)");
        }
        let port = free_port()?;
        let native_port = free_port()?;
        let mut cmd = Command::new("tauri-driver");
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native_port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .context("cannot start tauri-driver: install it with `cargo install tauri-driver --locked` (./test does)")?;
        let data_dir = envs
            .iter()
            .find(|(k, _)| *k == "STANDBY_DATA_DIR")
            .map(|(_, v)| v.to_os_string());
        let driver = Self {
            child,
            port,
            data_dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("tauri-driver did not listen on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    /// Opens a WebDriver session, which launches the app.
    pub async fn session(&self, app: &Path) -> anyhow::Result<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": app.display().to_string() }),
        );
        // tauri-driver listens before the WebKitWebDriver it starts behind it does; on a loaded
        // machine the first session request can reach it first and be dropped. Only that case
        // (no answer at all) is tried again; a WebDriver error answer is final.
        let url = format!("http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match ClientBuilder::new(hyper_connector())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => return Ok(client),
                Err(
                    e @ (NewSessionError::Failed(_)
                    | NewSessionError::FailedC(_)
                    | NewSessionError::Lost(_)),
                ) if Instant::now() < deadline => {
                    eprintln!("WebDriver not answering yet ({e}); trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e)).context(
                        "cannot open a WebDriver session (is WebKitWebDriver installed? package webkit2gtk-driver)",
                    )
                }
            }
        }
    }
}

/// tauri-driver listens on loopback over plain HTTP: no TLS stack needed.
fn hyper_connector() -> hyper_util::client::legacy::connect::HttpConnector {
    hyper_util::client::legacy::connect::HttpConnector::new()
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SIGTERM lets tauri-driver stop WebKitWebDriver and the app.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut stopped = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                stopped = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        self.reap_app();
    }
}

impl Driver {
    /// Ends app processes started for this test that outlived the driver (Standby hides to the
    /// tray instead of exiting, and a straggler would take over the next test's launch through the
    /// single-instance check).
    fn reap_app(&self) {
        let Some(dir) = &self.data_dir else { return };
        let marker = [b"STANDBY_DATA_DIR=".as_slice(), dir.as_encoded_bytes()].concat();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for p in procs.flatten() {
            let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(environ) = std::fs::read(p.path().join("environ")) else {
                continue;
            };
            let ours = environ.split(|b| *b == 0).any(|kv| kv == marker.as_slice());
            let is_app = std::fs::read_link(p.path().join("exe"))
                .map(|exe| exe.file_name().is_some_and(|n| n == "standby"))
                .unwrap_or(false);
            if ours && is_app {
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
        }
    }
}

/// `standby --lab` on the data folder `data`, driven: the driver, and the session once the
/// Dashboard is shown and the Lab badge says the lab runs.
pub async fn on_lab(data: &Path) -> anyhow::Result<(Driver, Client)> {
    let app = app_binary()?;
    let driver = Driver::start(&[
        ("STANDBY_DATA_DIR", data.as_os_str()),
        ("STANDBY_LAB", std::ffi::OsStr::new("true")),
    ])?;
    let client = driver.session(&app).await?;
    crate::screens::wait_for_heading(&client, "Dashboard").await?;
    crate::screens::wait_for_text(&client, "[data-testid='lab-badge']", "lab").await?;
    Ok((driver, client))
}

/// The app's data folder for one flow, kept when the flow fails: its log says what the engine did.
pub struct KeptOnFailure(Option<tempfile::TempDir>);

impl KeptOnFailure {
    pub fn new() -> Self {
        Self(Some(tempfile::tempdir().expect("a temporary data folder")))
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.as_ref().expect("held until drop").path()
    }
}

impl Default for KeptOnFailure {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if std::thread::panicking() {
                eprintln!(
                    "the app's data folder (its log) is kept: {}",
                    dir.keep().display()
                );
            }
        }
    }
}
