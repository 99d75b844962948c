//! How the webview draws: WebKit features set before the page is shown (docs/console.md, "Drawing
//! without a GPU").
//!
//! WebKitGTK scrolls an overflowing box (the timeline's list, a dialog's list) in a composited
//! layer of its own, on its scrolling thread. Where no GPU renders, that layer is drawn through
//! Mesa's llvmpipe, and it made every frame of a page holding one cost 70 to 150 ms, and its
//! first seconds on screen both cores. Without the feature such a box scrolls like the rest of the
//! page and frames take 16 to 35 ms.
//!
//! WebKitGTK (2.46 and later, on Skia) draws a 2D canvas, the timeline's chart, through the GPU
//! too; through llvmpipe a pan of the timeline on the large seed took 43 ms a frame, and 32 ms
//! with the canvas drawn on the CPU (`CanvasUsesAcceleratedDrawing` off). With a GPU both
//! features stay as WebKit ships them.

use std::path::Path;

/// One WebKit feature to set, by its identifier (`webkit_feature_get_identifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    pub id: String,
    pub on: bool,
}

/// What `STANDBY_WEBKIT_FEATURES` holds that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("STANDBY_WEBKIT_FEATURES: {0:?} is not Name=0 or Name=1 (e.g. AsyncOverflowScrolling=1)")]
pub struct BadFeature(String);

/// What a machine without a GPU turns off.
const OFF_WITHOUT_GPU: [&str; 2] = ["AsyncOverflowScrolling", "CanvasUsesAcceleratedDrawing"];

/// The features to set: overflow scrolling and canvas acceleration off where no GPU renders, then
/// what the administrator names in `STANDBY_WEBKIT_FEATURES` (`Name=0,Name=1`), which wins.
pub fn plan(gpu: bool, env: Option<&str>) -> Result<Vec<Feature>, BadFeature> {
    let mut out = Vec::new();
    if !gpu {
        out.extend(OFF_WITHOUT_GPU.map(|id| Feature {
            id: id.into(),
            on: false,
        }));
    }
    for item in env.unwrap_or("").split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (id, on) = match item.split_once('=') {
            Some((id, "1")) if !id.trim().is_empty() => (id.trim(), true),
            Some((id, "0")) if !id.trim().is_empty() => (id.trim(), false),
            _ => return Err(BadFeature(item.to_string())),
        };
        out.retain(|f| f.id != id);
        out.push(Feature { id: id.into(), on });
    }
    Ok(out)
}

/// Whether a GPU can render: a DRM render node (`/dev/dri/renderD*`) is present. Without one,
/// Mesa falls back to llvmpipe, which draws on the CPU.
pub fn gpu_present(dri: &Path) -> bool {
    std::fs::read_dir(dri).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("renderD"))
    })
}

/// Sets the planned features on the main window's webview; what cannot be set is logged, and the
/// window opens either way.
#[cfg(target_os = "linux")]
pub fn tune(window: &tauri::WebviewWindow) {
    let env = std::env::var("STANDBY_WEBKIT_FEATURES").ok();
    let features = match plan(gpu_present(Path::new("/dev/dri")), env.as_deref()) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!("{e}; the variable is ignored");
            plan(gpu_present(Path::new("/dev/dri")), None).unwrap_or_default()
        }
    };
    if features.is_empty() {
        return;
    }
    let result = window.with_webview(move |wv| {
        use webkit2gtk::glib::translate::ToGlibPtr;
        use webkit2gtk::WebViewExt;
        let Some(settings) = wv.inner().settings() else {
            tracing::warn!("the webview has no settings; WebKit features left as they are");
            return;
        };
        let ptr: *mut webkit2gtk::ffi::WebKitSettings = settings.to_glib_none().0;
        for f in &features {
            match webkit::set_feature(ptr.cast(), &f.id, f.on) {
                Ok(()) => tracing::info!(feature = %f.id, on = f.on, "WebKit feature set"),
                Err(e) => tracing::warn!(feature = %f.id, "WebKit feature not set: {e}"),
            }
        }
    });
    if let Err(e) = result {
        tracing::warn!("cannot reach the webview to set WebKit features: {e}");
    }
}

/// WebKitGTK's feature API (2.42 and later), looked up when called rather than linked, so that
/// Standby still starts on an older WebKitGTK (where it only logs that the API is missing).
#[cfg(target_os = "linux")]
mod webkit {
    use std::ffi::{c_char, c_int, c_void, CStr, CString};

    extern "C" {
        fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    }

    #[derive(Debug, thiserror::Error)]
    pub enum FeatureError {
        #[error("{0} is missing: WebKitGTK 2.42 or later has it")]
        Missing(&'static str),
        #[error("this WebKitGTK has no feature named {0}")]
        Unknown(String),
    }

    fn sym(name: &'static CStr) -> Result<*mut c_void, FeatureError> {
        // SAFETY: dlsym with RTLD_DEFAULT (null) only searches the loaded objects, which include
        // libwebkit2gtk (wry links it).
        let p = unsafe { dlsym(std::ptr::null_mut(), name.as_ptr()) };
        if p.is_null() {
            Err(FeatureError::Missing(
                name.to_str().unwrap_or("a WebKit symbol"),
            ))
        } else {
            Ok(p)
        }
    }

    type All = unsafe extern "C" fn() -> *mut c_void;
    type Len = unsafe extern "C" fn(*mut c_void) -> usize;
    type Get = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
    type Ident = unsafe extern "C" fn(*mut c_void) -> *const c_char;
    type Set = unsafe extern "C" fn(*mut c_void, *mut c_void, c_int);
    type Unref = unsafe extern "C" fn(*mut c_void);

    /// `settings` is a live `WebKitSettings*`.
    pub fn set_feature(settings: *mut c_void, id: &str, on: bool) -> Result<(), FeatureError> {
        let wanted = CString::new(id).map_err(|_| FeatureError::Unknown(id.into()))?;
        // SAFETY: each symbol is cast to the signature WebKitGTK's headers give it
        // (webkit/WebKitFeature.h, WebKitSettings.h); the list is unreferenced once, after use,
        // and a feature from it is only used while the list is alive.
        unsafe {
            let all: All = std::mem::transmute(sym(c"webkit_settings_get_all_features")?);
            let len: Len = std::mem::transmute(sym(c"webkit_feature_list_get_length")?);
            let get: Get = std::mem::transmute(sym(c"webkit_feature_list_get")?);
            let ident: Ident = std::mem::transmute(sym(c"webkit_feature_get_identifier")?);
            let set: Set = std::mem::transmute(sym(c"webkit_settings_set_feature_enabled")?);
            let unref: Unref = std::mem::transmute(sym(c"webkit_feature_list_unref")?);
            let list = all();
            let mut found = false;
            for i in 0..len(list) {
                let f = get(list, i);
                let name = ident(f);
                if !name.is_null() && CStr::from_ptr(name) == wanted.as_c_str() {
                    set(settings, f, c_int::from(on));
                    found = true;
                }
            }
            unref(list);
            if found {
                Ok(())
            } else {
                Err(FeatureError::Unknown(id.into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[Feature]) -> Vec<(&str, bool)> {
        v.iter().map(|f| (f.id.as_str(), f.on)).collect()
    }

    #[test]
    fn without_a_gpu_overflow_scrolling_and_canvas_acceleration_are_turned_off() {
        assert_eq!(
            ids(&plan(false, None).unwrap()),
            [
                ("AsyncOverflowScrolling", false),
                ("CanvasUsesAcceleratedDrawing", false)
            ]
        );
        assert!(plan(true, None).unwrap().is_empty());
    }

    #[test]
    fn the_administrator_s_setting_wins_and_adds() {
        let p = plan(
            false,
            Some("AsyncOverflowScrolling=1, AcceleratedDrawing=0"),
        )
        .unwrap();
        assert_eq!(
            ids(&p),
            [
                ("CanvasUsesAcceleratedDrawing", false),
                ("AsyncOverflowScrolling", true),
                ("AcceleratedDrawing", false)
            ]
        );
    }

    #[test]
    fn an_unreadable_setting_is_refused_with_an_example() {
        let e = plan(true, Some("AcceleratedDrawing=off")).unwrap_err();
        assert!(e.to_string().contains("\"AcceleratedDrawing=off\""), "{e}");
        assert!(e.to_string().contains("AsyncOverflowScrolling=1"), "{e}");
        assert!(plan(true, Some("=1")).is_err());
    }

    #[test]
    fn a_render_node_means_a_gpu() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!gpu_present(dir.path()));
        assert!(!gpu_present(&dir.path().join("missing")));
        std::fs::write(dir.path().join("card0"), b"").unwrap();
        assert!(!gpu_present(dir.path()));
        std::fs::write(dir.path().join("renderD128"), b"").unwrap();
        assert!(gpu_present(dir.path()));
    }
}
