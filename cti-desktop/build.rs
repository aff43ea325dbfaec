//! Tauri's build step. The window embeds the web UI from `ui/dist` (`npm run build` in `ui/`).
//! A workspace build without it still compiles: the window then shows how to build the UI
//! instead (a developer who only works on the server need not install Node).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=../ui/dist/index.html");
    if !Path::new("../ui/dist/index.html").exists() {
        let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
            .join("ui-not-built");
        let _ = std::fs::create_dir_all(&out);
        let _ = std::fs::write(
            out.join("index.html"),
            "<!doctype html><meta charset=utf-8><title>Centralino</title>\
             <h1>The web UI is not built</h1>\
             <p>Run <code>cd ui &amp;&amp; npm ci &amp;&amp; npm run build</code>, then build \
             the desktop app again.</p>",
        );
        println!("cargo:warning=ui/dist is missing: the desktop app is built with a page that says how to build the UI");
        // Read by tauri::generate_context!() while the crate compiles.
        println!("cargo:rustc-env=TAURI_CONFIG={}", serde_json_string(&out));
    }
    tauri_build::build();
}

/// `{"build":{"frontendDist":"<out>"}}` with the path escaped for JSON.
fn serde_json_string(out: &Path) -> String {
    let p = out
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!("{{\"build\":{{\"frontendDist\":\"{p}\"}}}}")
}
