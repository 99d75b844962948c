//! The OS notification of issue #6 on `standby --lab`: a job that ends while the window sits in
//! the tray reaches the desktop's notification service, and one that ends while the window is on
//! screen does not.
//!
//! The test session has no desktop, so the test plays the two parts a desktop would:
//! - the notification service: `org.freedesktop.Notifications` on the session bus (the one
//!   `dbus-run-session` gives the test and the app), answering what notify-rust asks and
//!   recording every `Notify`;
//! - the window manager: under Xvfb there is none, so the test closes the window the way one does,
//!   with a `WM_DELETE_WINDOW` client message to the app's top-level window. The app hides it to
//!   the tray.
//!
//! Backups go around the screens (their dialog has its own flow, `e2e/backups.rs`): the app's own
//! `create_backup` through the page, which resolves when the job ends. The outcome each job posted
//! is read from the notification center (`list_notifications`), and the OS notification must say
//! the same. Screenshots of the notification center afterwards, light and dark
//! (`artifacts/screenshots/os-notification-*.png`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::Client;
use serde_json::{json, Value};
use standby_tests::driver::KeptOnFailure;
use standby_tests::ipc::invoke;
use standby_tests::screens::{
    click, save_screenshot, switch_theme, wait_for_heading, wait_for_text,
};

/// A stand-in for the desktop's notification service (the Desktop Notifications Specification's
/// `org.freedesktop.Notifications`), with the four methods notify-rust 4.19 calls.
mod notification_daemon {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use anyhow::Context;

    pub const NAME: &str = "org.freedesktop.Notifications";
    const PATH: &str = "/org/freedesktop/Notifications";

    /// One `Notify` call as the service received it.
    #[derive(Debug, Clone)]
    pub struct Received {
        pub app_name: String,
        pub summary: String,
        pub body: String,
        pub at: Instant,
    }

    /// Every `Notify` received, in order.
    #[derive(Debug, Clone, Default)]
    pub struct Log(Arc<Mutex<Vec<Received>>>);

    impl Log {
        pub fn all(&self) -> Vec<Received> {
            self.0.lock().expect("the log's lock").clone()
        }
    }

    struct Service {
        log: Log,
        last_id: u32,
    }

    #[zbus::interface(name = "org.freedesktop.Notifications")]
    impl Service {
        /// The arguments in the specification's order; the id is the service's to choose.
        #[allow(clippy::too_many_arguments)]
        fn notify(
            &mut self,
            app_name: String,
            replaces_id: u32,
            _app_icon: String,
            summary: String,
            body: String,
            _actions: Vec<String>,
            _hints: HashMap<String, zbus::OwnedVariant>,
            _expire_timeout: i32,
        ) -> u32 {
            self.log.0.lock().expect("the log's lock").push(Received {
                app_name,
                summary,
                body,
                at: Instant::now(),
            });
            if replaces_id != 0 {
                return replaces_id;
            }
            self.last_id += 1;
            self.last_id
        }

        fn get_capabilities(&self) -> Vec<String> {
            vec!["body".into()]
        }

        /// Name, vendor, version, specification version.
        fn get_server_information(&self) -> (String, String, String, String) {
            (
                "standby-e2e".into(),
                "Standby end-to-end tests".into(),
                env!("CARGO_PKG_VERSION").into(),
                "1.2".into(),
            )
        }

        fn close_notification(&self, _id: u32) {}
    }

    /// Serves the service on the session bus until the connection is dropped. Fails when another
    /// service holds the name (a real desktop's): the test would then watch the wrong one.
    pub async fn serve() -> anyhow::Result<(zbus::Connection, Log)> {
        let log = Log::default();
        let service = Service {
            log: log.clone(),
            last_id: 0,
        };
        let connection = zbus::connection::Builder::session()
            .name(NAME)
            .serve_at(PATH, service)
            .build()
            .await
            .context(
                "cannot serve org.freedesktop.Notifications on the session bus (run under \
                 dbus-run-session; is a desktop's notification service running on it?)",
            )?;
        Ok((connection, log))
    }

    /// Asks the service on the bus who it is, from a connection of its own (as the app does).
    pub async fn server_name() -> anyhow::Result<String> {
        let connection = zbus::Connection::session().await?;
        let reply = connection
            .call_method(Some(NAME), PATH, Some(NAME), "GetServerInformation", &())
            .await?;
        let (name, _vendor, _version, _spec): (String, String, String, String) =
            reply.body().deserialize()?;
        Ok(name)
    }
}

/// The part of a window manager the test plays under Xvfb (which has none): find the app's
/// top-level window, close it as the title bar's close button does, and see whether it is mapped.
mod window_manager {
    use std::ffi::CString;
    use std::os::raw::{c_int, c_long, c_uchar, c_uint, c_ulong};
    use std::ptr;

    use anyhow::{bail, Context};
    use x11_dl::xlib;

    pub struct Display {
        xlib: xlib::Xlib,
        dpy: *mut xlib::Display,
    }

    /// Windows come and go while the test looks at them (WebKit's popups, tooltips): an X error
    /// about a window that vanished must not end the test process, which Xlib's default handler does.
    unsafe extern "C" fn ignore_error(_: *mut xlib::Display, _: *mut xlib::XErrorEvent) -> c_int {
        0
    }

    impl Display {
        /// The display of `DISPLAY` (Xvfb's).
        pub fn open() -> anyhow::Result<Self> {
            let xlib = xlib::Xlib::open().context("libX11 cannot be loaded")?;
            // SAFETY: a null name opens the display of DISPLAY; the pointer is checked.
            let dpy = unsafe { (xlib.XOpenDisplay)(ptr::null()) };
            if dpy.is_null() {
                bail!("cannot open the X display {:?}", std::env::var("DISPLAY"));
            }
            // SAFETY: a handler with the signature Xlib expects.
            unsafe { (xlib.XSetErrorHandler)(Some(ignore_error)) };
            Ok(Self { xlib, dpy })
        }

        fn atom(&self, name: &str) -> c_ulong {
            let name = CString::new(name).expect("no NUL in an atom's name");
            // SAFETY: a valid display and a NUL-terminated name.
            unsafe { (self.xlib.XInternAtom)(self.dpy, name.as_ptr(), xlib::False) }
        }

        /// A property's items: bytes for format 8, longs (one per 32-bit item) for format 32.
        fn property(&self, w: c_ulong, name: &str) -> Option<(c_int, Vec<u8>, Vec<c_long>)> {
            let (mut kind, mut format, mut items, mut after) = (0, 0, 0, 0);
            let mut data: *mut c_uchar = ptr::null_mut();
            // SAFETY: out-pointers to locals; the data is copied, then freed with XFree.
            unsafe {
                let status = (self.xlib.XGetWindowProperty)(
                    self.dpy,
                    w,
                    self.atom(name),
                    0,
                    4096,
                    xlib::False,
                    xlib::AnyPropertyType as c_ulong,
                    &mut kind,
                    &mut format,
                    &mut items,
                    &mut after,
                    &mut data,
                );
                if status != xlib::Success as c_int || data.is_null() {
                    return None;
                }
                let n = items as usize;
                let out = match format {
                    8 => (8, std::slice::from_raw_parts(data, n).to_vec(), vec![]),
                    32 => (
                        32,
                        vec![],
                        std::slice::from_raw_parts(data as *const c_long, n).to_vec(),
                    ),
                    f => (f, vec![], vec![]),
                };
                (self.xlib.XFree)(data.cast());
                Some(out)
            }
        }

        fn pid_of(&self, w: c_ulong) -> Option<u32> {
            let (_, _, longs) = self.property(w, "_NET_WM_PID")?;
            longs.first().map(|p| *p as u32)
        }

        fn title_of(&self, w: c_ulong) -> Option<String> {
            let (_, bytes, _) = self.property(w, "_NET_WM_NAME")?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }

        fn accepts_delete(&self, w: c_ulong) -> bool {
            let wm_delete = self.atom("WM_DELETE_WINDOW");
            let mut protocols: *mut c_ulong = ptr::null_mut();
            let mut n: c_int = 0;
            // SAFETY: out-pointers to locals; the list is freed with XFree.
            unsafe {
                if (self.xlib.XGetWMProtocols)(self.dpy, w, &mut protocols, &mut n) == 0
                    || protocols.is_null()
                {
                    return false;
                }
                let found = std::slice::from_raw_parts(protocols, n as usize).contains(&wm_delete);
                (self.xlib.XFree)(protocols.cast());
                found
            }
        }

        /// The top-level window of process `pid` titled `title` that takes WM_DELETE_WINDOW: the
        /// one a window manager would give a close button. GTK's other top-level windows (its
        /// client leader, popups) carry no such title or protocol.
        pub fn top_level(&self, pid: u32, title: &str) -> anyhow::Result<c_ulong> {
            let (mut root, mut parent) = (0, 0);
            let mut children: *mut c_ulong = ptr::null_mut();
            let mut n: c_uint = 0;
            // SAFETY: out-pointers to locals; the list is copied, then freed with XFree.
            let windows = unsafe {
                let root_window = (self.xlib.XDefaultRootWindow)(self.dpy);
                if (self.xlib.XQueryTree)(
                    self.dpy,
                    root_window,
                    &mut root,
                    &mut parent,
                    &mut children,
                    &mut n,
                ) == 0
                {
                    bail!("cannot list the X display's windows");
                }
                if children.is_null() {
                    vec![]
                } else {
                    let list = std::slice::from_raw_parts(children, n as usize).to_vec();
                    (self.xlib.XFree)(children.cast());
                    list
                }
            };
            let found: Vec<c_ulong> = windows
                .into_iter()
                .filter(|w| self.pid_of(*w) == Some(pid))
                .filter(|w| self.title_of(*w).as_deref() == Some(title))
                .filter(|w| self.accepts_delete(*w))
                .collect();
            match found.as_slice() {
                [w] => Ok(*w),
                [] => {
                    bail!("no top-level window {title:?} of process {pid} takes WM_DELETE_WINDOW")
                }
                more => bail!(
                    "{} windows {title:?} of process {pid}: {more:?}",
                    more.len()
                ),
            }
        }

        /// Whether `w` is on screen (mapped, its ancestors too).
        pub fn is_viewable(&self, w: c_ulong) -> bool {
            // SAFETY: a zeroed plain C struct filled by Xlib.
            unsafe {
                let mut attrs: xlib::XWindowAttributes = std::mem::zeroed();
                (self.xlib.XGetWindowAttributes)(self.dpy, w, &mut attrs) != 0
                    && attrs.map_state == xlib::IsViewable
            }
        }

        /// What a window manager sends when the administrator clicks the close button:
        /// `WM_PROTOCOLS` / `WM_DELETE_WINDOW`, which the app handles as a close request.
        pub fn close(&self, w: c_ulong) -> anyhow::Result<()> {
            let mut data = xlib::ClientMessageData::new();
            data.set_long(0, self.atom("WM_DELETE_WINDOW") as c_long);
            data.set_long(1, xlib::CurrentTime as c_long);
            let message = xlib::XClientMessageEvent {
                type_: xlib::ClientMessage,
                serial: 0,
                send_event: xlib::True,
                display: self.dpy,
                window: w,
                message_type: self.atom("WM_PROTOCOLS"),
                format: 32,
                data,
            };
            let mut event = xlib::XEvent::from(message);
            // SAFETY: a valid display and a fully initialised event.
            unsafe {
                if (self.xlib.XSendEvent)(self.dpy, w, xlib::False, xlib::NoEventMask, &mut event)
                    == 0
                {
                    bail!("the X server refused the close message");
                }
                (self.xlib.XSync)(self.dpy, xlib::False);
            }
            Ok(())
        }
    }

    impl Drop for Display {
        fn drop(&mut self) {
            // SAFETY: opened in `open`, closed once.
            unsafe { (self.xlib.XCloseDisplay)(self.dpy) };
        }
    }
}

/// The process id of the app started on the data folder `data` (the driver's launch).
fn app_pid(data: &Path) -> anyhow::Result<u32> {
    let marker = [
        b"STANDBY_DATA_DIR=".as_slice(),
        data.as_os_str().as_encoded_bytes(),
    ]
    .concat();
    let mut found = vec![];
    for p in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(environ) = std::fs::read(p.path().join("environ")) else {
            continue;
        };
        let is_app = std::fs::read_link(p.path().join("exe"))
            .map(|exe| exe.file_name().is_some_and(|n| n == "standby"))
            .unwrap_or(false);
        if is_app && environ.split(|b| *b == 0).any(|kv| kv == marker.as_slice()) {
            found.push(pid);
        }
    }
    match found.as_slice() {
        [pid] => Ok(*pid),
        other => bail!(
            "expected one app process on {}, found {other:?}",
            data.display()
        ),
    }
}

/// Backs up `volume` through the app's own command, as the Create backup dialog does; resolves
/// when the job has ended. Answers the job's id.
async fn back_up(
    client: &Client,
    volume: &str,
    name: &str,
    ticket: &str,
) -> anyhow::Result<String> {
    let backups = invoke(
        client,
        "create_backup",
        json!({"ticket": ticket, "request": {
            "account": "lab-azure", "frame_account": "acme-pd", "volume": volume, "name": name
        }}),
    )
    .await?;
    let first = backups
        .as_array()
        .and_then(|b| b.first())
        .with_context(|| format!("create_backup answered no backup: {backups}"))?;
    assert_eq!(first["state"], "available", "the backup is made: {first}");
    first["job_id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("the backup names no job: {first}"))
}

/// The outcome the job `job` posted to the notification center (its start and milestones are
/// `info`; the outcome is not).
async fn outcome_of(client: &Client, job: &str) -> anyhow::Result<Value> {
    let list = invoke(
        client,
        "list_notifications",
        json!({"filter": {"level": null, "account_id": null, "unread_only": false,
                          "search": null, "limit": 500, "before_id": null}}),
    )
    .await?;
    let outcomes: Vec<&Value> = list
        .as_array()
        .context("list_notifications answers a list")?
        .iter()
        .filter(|n| n["job_id"] == job && n["level"] != "info")
        .collect();
    match outcomes.as_slice() {
        [n] => Ok((*n).clone()),
        other => bail!(
            "job {job} has {} outcomes in the notification center: {other:?}",
            other.len()
        ),
    }
}

/// Waits until `f` holds, checking every 100 ms, for at most `secs` seconds.
async fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's `document.visibilityState`, as WebKit reports it to the window's code.
async fn page_visibility(client: &Client) -> anyhow::Result<String> {
    let v = client
        .execute("return document.visibilityState;", vec![])
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

/// The page's visibility once it reads `wanted`, or as it last read after 10 s.
async fn page_visibility_becomes(client: &Client, wanted: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = page_visibility(client).await?;
        if now == wanted || Instant::now() > deadline {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long an OS notification may take after the job's end (it is sent from a thread of its own)
/// and, for the negative, how long the test waits for one that must not come.
const SETTLE_SECS: u64 = 5;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "end-to-end: needs the built app, tauri-driver, WebKitWebDriver, a display and a D-Bus session; ./test runs it"]
async fn os_notification_only_while_hidden() {
    let started = Instant::now();
    let step = |what: &str| {
        eprintln!(
            "[os notification e2e {:>5.1} s] {what}",
            started.elapsed().as_secs_f64()
        )
    };

    // ---- the desktop's notification service, before the app starts -------------------------
    let (_service, received) = notification_daemon::serve().await.unwrap();
    assert_eq!(
        notification_daemon::server_name().await.unwrap(),
        "standby-e2e",
        "the session bus's notification service is the test's"
    );

    let data = KeptOnFailure::new();
    let (driver, client) = standby_tests::driver::on_lab(data.path()).await.unwrap();
    // A backup's command resolves when its job ends: longer than WebDriver's script timeout.
    client
        .update_timeouts(TimeoutConfiguration::new(
            Some(Duration::from_secs(300)),
            None,
            None,
        ))
        .await
        .unwrap();
    // Snapshots take lab time; a hundredfold clock keeps them short.
    let lab = standby_tests::lab_control::LabControl::of_app(&client)
        .await
        .unwrap();
    lab.post("/time/scale", json!({"scale": 100.0}))
        .await
        .unwrap();
    let desk = standby_tests::ipc::assigned_powered_off_desktop(&client)
        .await
        .unwrap();
    let volume = desk["name"].as_str().unwrap().to_string();

    let x = window_manager::Display::open().unwrap();
    let pid = app_pid(data.path()).unwrap();
    let window = x.top_level(pid, "Standby").unwrap();
    assert!(x.is_viewable(window), "the window is on screen at start");
    assert_eq!(page_visibility(&client).await.unwrap(), "visible");

    // ---- a job that ends while the window is shown: no OS notification -----------------------
    step("a backup while the window is shown");
    let shown_job = back_up(&client, &volume, "while shown", "os-notification-shown")
        .await
        .unwrap();
    let shown_outcome = outcome_of(&client, &shown_job).await.unwrap();
    eprintln!("the shown job's outcome: {shown_outcome}");
    // The decision is taken on a thread of its own after the outcome is stored: give it time.
    tokio::time::sleep(Duration::from_secs(SETTLE_SECS)).await;
    assert!(
        received.all().is_empty(),
        "a job that ended with the window on screen notified the desktop: {:?}",
        received.all()
    );

    // ---- the administrator closes the window: it goes to the tray ----------------------------
    step("closing the window (WM_DELETE_WINDOW)");
    let closed_at = Instant::now();
    x.close(window).unwrap();
    assert!(
        wait_until(10, || !x.is_viewable(window)).await,
        "the window is still on screen after the window manager's close"
    );
    // Hidden, not ended: the same process, and its page still answers.
    assert_eq!(
        app_pid(data.path()).unwrap(),
        pid,
        "closing keeps Standby running"
    );
    assert_eq!(
        page_visibility_becomes(&client, "hidden").await.unwrap(),
        "hidden",
        "the page knows the window is hidden"
    );

    // ---- a job that ends while hidden: one OS notification, the center's words ---------------
    step("a backup while the window is hidden");
    let hidden_job = back_up(&client, &volume, "while hidden", "os-notification-hidden")
        .await
        .unwrap();
    let ended_at = Instant::now();
    let outcome = outcome_of(&client, &hidden_job).await.unwrap();
    eprintln!("the hidden job's outcome: {outcome}");
    let arrived = wait_until(SETTLE_SECS, || !received.all().is_empty()).await;
    assert!(
        arrived,
        "no OS notification within {SETTLE_SECS} s of a job's end with the window hidden"
    );
    // A second one (a duplicate, another job's) would come as late as the first could.
    tokio::time::sleep(Duration::from_secs(SETTLE_SECS)).await;
    let all = received.all();
    eprintln!("the desktop received: {all:?}");
    assert_eq!(all.len(), 1, "exactly one OS notification: {all:?}");
    let n = &all[0];
    assert_eq!(n.app_name, "Standby");
    assert_eq!(n.summary, outcome["title"].as_str().unwrap(), "{outcome}");
    assert_eq!(n.body, outcome["body"].as_str().unwrap(), "{outcome}");
    assert!(
        n.at > closed_at,
        "the notification came before the window was closed"
    );
    eprintln!(
        "the OS notification came {:.2} s after the job's command resolved",
        n.at.saturating_duration_since(ended_at).as_secs_f64()
    );

    // ---- back from the tray: the notification center has both outcomes ----------------------
    step("opening Standby again (a second launch hands over to the running one)");
    let app = standby_tests::driver::app_binary().unwrap();
    let second = std::process::Command::new(&app)
        .env("STANDBY_DATA_DIR", data.path())
        .env_remove("STANDBY_LAB")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        second.success(),
        "the second launch exits after handing over: {second}"
    );
    assert!(
        wait_until(10, || x.is_viewable(window)).await,
        "the window did not come back on the second launch"
    );
    assert_eq!(
        page_visibility_becomes(&client, "visible").await.unwrap(),
        "visible",
        "the page knows the window is back"
    );
    step("the notification center");
    click(&client, "nav [data-nav='notifications']")
        .await
        .unwrap();
    wait_for_heading(&client, "Notifications").await.unwrap();
    // Both backups' outcomes share a title ("Backup of <volume>"); their bodies name the backup.
    let list = wait_for_text(
        &client,
        "ul[aria-label='Notifications, newest first']",
        outcome["body"].as_str().unwrap(),
    )
    .await
    .unwrap();
    assert!(
        list.contains(shown_outcome["body"].as_str().unwrap()),
        "both outcomes are listed: {list}"
    );
    // WebKitWebDriver's first screenshot after the window came back from the tray takes about a
    // minute (the display itself shows the window repainted at once).
    step("pictures");
    save_screenshot(&client, "os-notification-center")
        .await
        .unwrap();
    switch_theme(&client, true).await.unwrap();
    click(&client, "main h1").await.unwrap();
    save_screenshot(&client, "os-notification-center-dark")
        .await
        .unwrap();
    switch_theme(&client, false).await.unwrap();
    // Nothing more reached the desktop once the window was back.
    assert_eq!(received.all().len(), 1, "{:?}", received.all());

    step("done");
    client.close().await.unwrap();
    drop(driver);
}
