fn main() {
    // The product card keeps tauri.conf.json at the workspace root.
    tauri_build::try_build(tauri_build::Attributes::new().config_path("../tauri.conf.json"))
        .expect("tauri build step failed");
}
