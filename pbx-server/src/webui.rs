//! WebCTI: the built web UI (`ui/dist`, made by `npm run build` in `ui/`) served as static
//! files at `/` on the HTTP and HTTPS ports. The UI talks to the server only through the CTI
//! WebSocket at `/cti`, so serving it is plain file serving: no templating, no state.
//!
//! Only files under the UI folder are served: a path with an empty, `.`-leading or `..`
//! segment, a backslash or a percent escape is refused (404) before it touches the disk.
//! `index.html` is never cached (a new build is picked up at the next load); Vite's
//! content-hashed files under `assets/` are cached for a year.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};

/// Files are read whole; the built UI has none near this size.
const MAX_FILE: u64 = 8 * 1024 * 1024;

/// Where the built web UI lives, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct WebUi {
    root: Option<PathBuf>,
}

impl WebUi {
    /// The UI in `dir`, or none when `dir` holds no `index.html`.
    pub fn at(dir: &Path) -> WebUi {
        WebUi {
            root: dir.join("index.html").is_file().then(|| dir.to_path_buf()),
        }
    }

    /// The folder to serve: `flag` (`--ui-dir`) when given, else `ui/` next to the binary
    /// (an installed layout), else the source tree's `ui/dist` (a developer's build).
    pub fn locate(flag: Option<&Path>) -> WebUi {
        if let Some(dir) = flag {
            let ui = WebUi::at(dir);
            match ui.root() {
                Some(dir) => tracing::info!(dir = %dir.display(), "serving the web UI at /"),
                None => {
                    tracing::warn!(dir = %dir.display(), "--ui-dir holds no index.html; WebCTI is off")
                }
            }
            return ui;
        }
        let beside_binary = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|d| d.join("ui")));
        let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
        let ui = beside_binary
            .into_iter()
            .chain([source_tree])
            .map(|d| WebUi::at(&d))
            .find(|ui| ui.root.is_some())
            .unwrap_or_default();
        match ui.root() {
            Some(dir) => tracing::info!(dir = %dir.display(), "serving the web UI at /"),
            None => tracing::info!(
                "no built web UI found (npm run build in ui/); / shows the status page"
            ),
        }
        ui
    }

    /// Whether there is a UI to serve.
    pub fn is_present(&self) -> bool {
        self.root.is_some()
    }

    /// The folder served, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The response for a request path (`/`, `/assets/index-abc.js`, ...).
    pub async fn serve(&self, path: &str) -> Response {
        let Some(root) = &self.root else {
            return not_found();
        };
        let Some(rel) = safe_relative(path) else {
            return not_found();
        };
        let file = root.join(&rel);
        match tokio::fs::metadata(&file).await {
            Ok(m) if m.is_file() && m.len() <= MAX_FILE => {}
            _ => return not_found(),
        }
        let Ok(body) = tokio::fs::read(&file).await else {
            return not_found();
        };
        let cache = if rel.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        let mut resp = (StatusCode::OK, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(content_type(&rel)),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
                 style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
            ),
        );
        resp
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// `path` as a relative file path under the UI folder, or `None` when it could leave it.
/// `/` and a trailing `/` mean `index.html`.
fn safe_relative(path: &str) -> Option<String> {
    let path = path.strip_prefix('/')?;
    if path.contains(['\\', '%', '\0', ':']) {
        return None;
    }
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.last() == Some(&"") {
        parts.pop();
        parts.push("index.html");
    }
    if parts
        .iter()
        .any(|p| p.is_empty() || p.starts_with('.') || *p == "..")
    {
        return None;
    }
    Some(parts.join("/"))
}

fn content_type(rel: &str) -> &'static str {
    let ext = rel.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_ui_folder() {
        assert_eq!(safe_relative("/").as_deref(), Some("index.html"));
        assert_eq!(
            safe_relative("/assets/index-3f2a.js").as_deref(),
            Some("assets/index-3f2a.js")
        );
        assert_eq!(
            safe_relative("/assets/").as_deref(),
            Some("assets/index.html")
        );
        for bad in [
            "",
            "/..",
            "/../etc/passwd",
            "/assets/../../x",
            "/.env",
            "//etc/passwd",
            "/a//b",
            "/%2e%2e/x",
            "/a\\..\\b",
            "/C:/x",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/a.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("assets/a.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }

    #[tokio::test]
    async fn serves_files_with_cache_headers_and_refuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(dir.path().join("assets/app-1.js"), "1").unwrap();
        std::fs::write(dir.path().join(".secret"), "s").unwrap();
        let ui = WebUi::at(dir.path());
        assert!(ui.is_present());
        let r = ui.serve("/").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let r = ui.serve("/assets/app-1.js").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers()[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable"));
        for missing in ["/nope.js", "/.secret", "/assets", "/../index.html"] {
            assert_eq!(ui.serve(missing).await.status(), StatusCode::NOT_FOUND);
        }
        let none = WebUi::at(&dir.path().join("assets"));
        assert!(!none.is_present());
        assert_eq!(none.serve("/").await.status(), StatusCode::NOT_FOUND);
    }
}
