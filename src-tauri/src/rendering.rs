//! How WebKitGTK draws the window on Linux, decided before GTK starts.
//!
//! WebKitGTK composites the page with OpenGL. Without a GPU (a virtual machine, a remote X
//! session, Xvfb) that OpenGL is Mesa's llvmpipe, which emulates the GPU on the CPU: measured on
//! this project's 2-core machine, every repaint over the 15,000-row Volumes table then took about
//! 130 ms, against 8 to 11 ms with WebKit's own CPU path (`WEBKIT_DISABLE_COMPOSITING_MODE=1`),
//! so a keystroke in the search took about 290 ms to show instead of about 60 (docs/console.md,
//! "Window performance benchmark"). With a GPU, compositing is the fast path and is kept.
//!
//! "Without a GPU" is read as: no DRM render node (`/dev/dri/renderD*`) this user can open, or
//! Mesa told to render in software (`LIBGL_ALWAYS_SOFTWARE`). An administrator's own
//! `WEBKIT_DISABLE_COMPOSITING_MODE` always wins (`0` keeps compositing on).

use std::ffi::OsStr;

pub const DISABLE_COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// What the window's drawing was set to, and why (logged at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compositing {
    /// The administrator set `WEBKIT_DISABLE_COMPOSITING_MODE`; left as it is.
    AsConfigured,
    /// A GPU is there: WebKit composites with it.
    Gpu,
    /// No GPU: compositing turned off, WebKit draws on the CPU directly.
    DisabledForSoftwareGl,
}

/// The pure decision: what is configured and what the machine has in, the choice out.
pub fn decide(
    configured: Option<&OsStr>,
    render_node: bool,
    software_gl_forced: bool,
) -> Compositing {
    if configured.is_some() {
        Compositing::AsConfigured
    } else if render_node && !software_gl_forced {
        Compositing::Gpu
    } else {
        Compositing::DisabledForSoftwareGl
    }
}

/// Mesa reads any value but "0" and "false" as "render in software".
fn software_gl_forced(value: Option<&OsStr>) -> bool {
    value.is_some_and(|v| {
        let v = v.to_string_lossy();
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

fn has_render_node(dri: &std::path::Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dri) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name().to_string_lossy().starts_with("renderD")
            && std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(e.path())
                .is_ok()
    })
}

/// Decides and applies the choice to this process's environment. Must run before any thread
/// starts and before GTK is initialised: WebKit reads the variable once, when its first web
/// process starts, and `set_var` races with threads reading the environment.
pub fn apply() -> Compositing {
    if !cfg!(target_os = "linux") {
        return Compositing::AsConfigured;
    }
    let choice = decide(
        std::env::var_os(DISABLE_COMPOSITING).as_deref(),
        has_render_node(std::path::Path::new("/dev/dri")),
        software_gl_forced(std::env::var_os("LIBGL_ALWAYS_SOFTWARE").as_deref()),
    );
    if choice == Compositing::DisabledForSoftwareGl {
        std::env::set_var(DISABLE_COMPOSITING, "1");
    }
    choice
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compositing_is_kept_only_with_a_gpu_and_an_administrators_setting_always_wins() {
        assert_eq!(decide(None, true, false), Compositing::Gpu);
        assert_eq!(
            decide(None, false, false),
            Compositing::DisabledForSoftwareGl
        );
        assert_eq!(decide(None, true, true), Compositing::DisabledForSoftwareGl);
        assert_eq!(
            decide(Some(OsStr::new("0")), false, true),
            Compositing::AsConfigured
        );
        assert_eq!(
            decide(Some(OsStr::new("1")), true, false),
            Compositing::AsConfigured
        );
    }

    #[test]
    fn mesa_software_rendering_is_forced_by_any_value_but_zero_or_false() {
        assert!(software_gl_forced(Some(OsStr::new("1"))));
        assert!(software_gl_forced(Some(OsStr::new("true"))));
        assert!(!software_gl_forced(Some(OsStr::new("0"))));
        assert!(!software_gl_forced(Some(OsStr::new("FALSE"))));
        assert!(!software_gl_forced(Some(OsStr::new(""))));
        assert!(!software_gl_forced(None));
    }

    #[cfg(unix)]
    #[test]
    fn a_render_node_counts_only_when_it_can_be_opened() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_render_node(dir.path()));
        assert!(!has_render_node(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), b"").unwrap();
        assert!(!has_render_node(dir.path()));
        let node = dir.path().join("renderD128");
        std::fs::write(&node, b"").unwrap();
        assert!(has_render_node(dir.path()));
        // As root, permissions do not stop an open; only check the refusal as another user.
        let mut perms = std::fs::metadata(&node).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o000);
        std::fs::set_permissions(&node, perms).unwrap();
        let root = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&node)
            .is_ok();
        assert_eq!(has_render_node(dir.path()), root);
    }
}
