//! The desktop app (issue 6, acceptance 3): the real `cti-desktop` binary under Xvfb, driven
//! over WebDriver by tauri-driver and Debian's WebKitWebDriver. It signs in to a test
//! pbx-server through its Rust relay, shows the directory with the lamps of SIPp phones, follows
//! a SIPp call on them, and answers its local HTTP API with the same session. A screenshot goes
//! to `target/ui-artifacts/desktop-directory.png`.
//!
//! Needs `ui/dist` built into the app, `xvfb-run`, `WebKitWebDriver` (webkit2gtk-driver) and
//! `tauri-driver` (scripts/test.sh installs them).

use base64::Engine;
use centralino_e2e::http::request;
use centralino_e2e::{free_media_port, free_udp_port, register, uas, workspace_bin, Pbx, Sipp};
use serde_json::{json, Value};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    target.join("ui-artifacts")
}

fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// tauri-driver: `$TAURI_DRIVER`, the cache scripts/test.sh installs it into, or `PATH`.
fn tauri_driver() -> PathBuf {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return p.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default()
        .join("centralino/tauri-driver/bin/tauri-driver");
    if cache.exists() {
        cache
    } else {
        "tauri-driver".into()
    }
}

/// tauri-driver under its own Xvfb, in its own process group (killed whole at the end).
struct Driver {
    child: Child,
    addr: SocketAddr,
    session: Option<String>,
}

impl Driver {
    fn start(config_dir: &Path) -> Driver {
        let port = free_tcp_port();
        let native = free_tcp_port();
        let child = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1400x900x24"])
            .arg(tauri_driver())
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native.to_string(),
            ])
            .env("CENTRALINO_DESKTOP_CONFIG_DIR", config_dir)
            // Not the file PCMs the sound-card test points this process's ALSA at.
            .env_remove("ALSA_CONFIG_PATH")
            // WebKit's storage (the UI's remembered sign-in among it) of this run only: a
            // previous run's, left in ~/.local/share, signed the page in behind the test.
            .env("XDG_DATA_HOME", config_dir.join("data"))
            .env("XDG_CACHE_HOME", config_dir.join("cache"))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("xvfb-run is installed (apt-get install xvfb)");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        // tauri-driver answers a new session only once WebKitWebDriver listens too.
        for a in [addr, format!("127.0.0.1:{native}").parse().unwrap()] {
            let start = Instant::now();
            while std::net::TcpStream::connect(a).is_err() {
                assert!(start.elapsed() < WAIT, "no WebDriver on {a}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Driver {
            child,
            addr,
            session: None,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = request(self.addr, method, path, &[], body.as_ref());
        assert!(status < 300, "WebDriver {method} {path}: {status} {v}");
        v["value"].clone()
    }

    fn new_session(&mut self, app: &Path) {
        let v = self.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "tauri:options": {"application": app.display().to_string()}}}})),
        );
        self.session = Some(
            v["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("no session: {v}"))
                .to_string(),
        );
    }

    fn s(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session.as_deref().unwrap())
    }

    fn find(&self, css: &str) -> Option<String> {
        let (status, v) = request(
            self.addr,
            "POST",
            &self.s("/element"),
            &[],
            Some(&json!({"using": "css selector", "value": css})),
        );
        if status >= 300 {
            return None;
        }
        v["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    fn wait_for(&self, css: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            assert!(start.elapsed() < WAIT, "nothing matched {css}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn script(&self, js: &str) -> Value {
        self.call(
            "POST",
            &self.s("/execute/sync"),
            Some(json!({"script": js, "args": []})),
        )
    }

    fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/clear")),
            Some(json!({})),
        );
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let e = self.wait_for(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    fn screenshot(&self, file: &Path) {
        let b64 = self.call("GET", &self.s("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(file, png).unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // No DELETE of the session: tauri-driver may keep that answer's connection open.
        // xvfb-run, Xvfb, tauri-driver, WebKitWebDriver and the app share the group.
        let group = format!("-{}", self.child.id());
        // procps' kill needs `--` before a negative pid (a process group).
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) {
            if start.elapsed() > Duration::from_secs(5) {
                let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn desktop_app_signs_in_through_its_relay_shows_lamps_and_answers_its_local_api() {
    // WebKitWebDriver now and then drops its connection to tauri-driver ("connection reset")
    // while the app is up with its page live: seen here in runs repeated back to back, with
    // the app of before the notifications as well, never in a fresh clone's full run. That
    // one failure of the tooling gets one more try, after a pause, with a fresh driver, app
    // and PBX; anything else fails at once, and so does a second loss.
    for attempt in 1..=2 {
        match std::panic::catch_unwind(desktop_session) {
            Ok(()) => return,
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                if attempt == 2 || !msg.starts_with("no HTTP head") {
                    std::panic::resume_unwind(e);
                }
                eprintln!("WebDriver connection lost ({msg}); one more try");
                std::thread::sleep(Duration::from_secs(5));
            }
        }
    }
}

fn desktop_session() {
    let dist = workspace().join("ui/dist/index.html");
    assert!(
        dist.is_file(),
        "the web UI is not built: run `npm ci && npm run build` in ui/, then `cargo build --workspace`"
    );
    let app = workspace_bin("cti-desktop");
    let pbx = Pbx::start();
    let (p201, p202) = (free_udp_port(), free_udp_port());
    register(&pbx, "201", p201);
    register(&pbx, "202", p202);

    // The app's settings: its own folder, and a local API port of this test's.
    let config = tempfile::tempdir().unwrap();
    let api_port = free_tcp_port();
    let token = "desktop-e2e-token-0123456789abcdef";
    std::fs::write(
        config.path().join("desktop.json"),
        json!({"api": {"enabled": true, "port": api_port, "token": token}}).to_string(),
    )
    .unwrap();

    let mut driver = Driver::start(config.path());
    let started = Instant::now();
    driver.new_session(&app);
    driver.wait_for("[data-testid=login]");
    let to_login = started.elapsed();
    // Inside the app the CTI link is the relay, not a WebSocket of the page.
    assert_eq!(
        driver.script("return typeof window.__TAURI_INTERNALS__"),
        json!("object")
    );
    driver.fill("input[name=server]", &pbx.http.to_string());
    driver.fill("input[name=user]", "201");
    driver.fill("input[name=password]", "demo201");
    driver.click("[data-testid=login] button[type=submit]");
    let lamp = |n: &str, l: &str| {
        format!("[data-testid=directory] li[data-number=\"{n}\"][data-lamp=\"{l}\"]")
    };
    driver.wait_for(&lamp("202", "idle"));
    driver.wait_for(&lamp("203", "unavailable"));
    let to_directory = started.elapsed();
    let out = artifacts();
    std::fs::create_dir_all(&out).unwrap();
    driver.screenshot(&out.join("desktop-directory.png"));

    // The local API sees the window's session.
    let api: SocketAddr = format!("127.0.0.1:{api_port}").parse().unwrap();
    let auth = format!("Bearer {token}");
    let (status, v) = request(
        api,
        "GET",
        "/api/v1/status",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["connected"].clone(), v["extension"].clone()),
        (json!(true), json!("201"))
    );
    let (status, _) = request(api, "GET", "/api/v1/status", &[], None);
    assert_eq!(status, 401, "no token, no answer");

    // A SIPp call 202 -> 201 shows on both lamps, without a reload.
    let callee = uas(&pbx, "uas_answer.xml", p201, free_media_port(), 1);
    let caller = Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &p202.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "201",
            "-set",
            "caller",
            "202",
            "-au",
            "202",
            "-ap",
            "demo202",
            "-d",
            "3000",
            "-m",
            "1",
        ])
        .spawn();
    driver.wait_for(&lamp("202", "busy"));
    let (status, v) = request(
        api,
        "GET",
        "/api/v1/call",
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["number"].clone(), v["direction"].clone()),
        (json!("202"), json!("inbound"))
    );
    driver.screenshot(&out.join("desktop-call.png"));
    let (ok, log) = caller.wait(WAIT);
    assert!(ok, "caller: {log}");
    let (ok, log) = callee.wait(WAIT);
    assert!(ok, "callee: {log}");
    driver.wait_for(&lamp("202", "idle"));
    println!(
        "FIGURE desktop_to_login_ms={} desktop_to_live_directory_ms={}",
        to_login.as_millis(),
        to_directory.as_millis()
    );
}
