//! The committed TypeScript bindings (`ui/src/bindings.ts`) must match the Rust types.

use std::path::PathBuf;

#[test]
fn bindings_match_the_rust_types() {
    let committed = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
    let fresh = std::env::temp_dir().join(format!("standby-bindings-{}.ts", std::process::id()));
    standby_app::export_bindings(&fresh).expect("export bindings");
    let fresh_text = std::fs::read_to_string(&fresh).unwrap();
    let _ = std::fs::remove_file(&fresh);
    if std::env::var_os("STANDBY_UPDATE_BINDINGS").is_some() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "STANDBY_UPDATE_BINDINGS is set under CI: the drift test would rewrite instead of check"
        );
        std::fs::write(&committed, &fresh_text).unwrap();
        return;
    }
    let committed_text = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        committed_text == fresh_text,
        "ui/src/bindings.ts is out of date with the Rust command and event types.\n\
         Regenerate it with: STANDBY_UPDATE_BINDINGS=1 cargo test -p standby --test bindings"
    );
}
