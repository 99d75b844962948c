//! Where the official specs and examples are (`../shared/fixtures` beside the clone by default).
//!
//! The product never reads these at run time; only conformance tests do. Point `STANDBY_FIXTURES` at
//! a copy when the clone has no `../shared` beside it. When they are absent, a conformance test says
//! so plainly and is skipped, except under CI (`CI=true`), where a missing copy is a failure: CI
//! always has them, so their absence there means the check silently stopped checking.

use std::path::PathBuf;

pub fn fixtures_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("STANDBY_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
    };
    if dir.join("SOURCES.md").is_file() {
        Some(dir)
    } else {
        let msg = format!(
            "conformance fixtures not found at {} (set STANDBY_FIXTURES to a copy of shared/fixtures)",
            dir.display()
        );
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED: {msg}");
        None
    }
}

/// `let Some(dir) = require_fixtures!() else { return };`
#[macro_export]
macro_rules! require_fixtures {
    () => {
        $crate::common::fixtures::fixtures_dir()
    };
}
