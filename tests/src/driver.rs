use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
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
}

impl Driver {
    /// Starts the driver; the app it launches inherits `envs` (e.g. `STANDBY_DATA_DIR`).
    pub fn start(envs: &[(&str, &Path)]) -> anyhow::Result<Self> {
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
        let driver = Self { child, port };
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
        ClientBuilder::new(hyper_connector())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .context("cannot open a WebDriver session (is WebKitWebDriver installed? package webkit2gtk-driver)")
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
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
