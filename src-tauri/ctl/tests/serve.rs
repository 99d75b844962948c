//! `standbyctl serve` holds the data folder's scheduler lock across processes: a second `serve`
//! on the same folder is refused with the first one's process id (exit status 3), SIGTERM stops
//! the first cleanly, and then the folder can be served again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn standbyctl(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_standbyctl"));
    c.arg("--data-dir").arg(data).env_remove("STANDBY_DATA_DIR");
    c
}

fn serve(data: &Path) -> Child {
    standbyctl(data)
        .args(["serve", "--tick-secs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("standbyctl serve starts")
}

/// Waits until the lock file names `pid`.
fn wait_for_holder(data: &Path, pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let want = format!("pid {pid},");
    loop {
        let s = std::fs::read_to_string(data.join("scheduler.lock")).unwrap_or_default();
        if s.contains(&want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "serve did not take the lock: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_second_scheduler_is_refused_with_the_holders_pid_until_the_first_stops() {
    let data = tempfile::tempdir().unwrap();
    let mut first = serve(data.path());
    wait_for_holder(data.path(), first.id());

    let second = standbyctl(data.path())
        .arg("serve")
        .output()
        .expect("a second serve runs");
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("another scheduler already runs"), "{err}");

    let status = terminate(&mut first);
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(first.stderr.as_mut().unwrap(), &mut out).unwrap();
    assert!(out.contains("scheduler running"), "{out}");
    assert!(out.contains("stopped"), "{out}");

    // Free again: a new serve takes the folder.
    let mut third = serve(data.path());
    wait_for_holder(data.path(), third.id());
    assert!(terminate(&mut third).success());
}
