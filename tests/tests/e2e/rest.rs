//! The REST API against a client written from the seed's description only
//! (`tests/rest/seed_client.py`, Python standard library): salt, authenticated calls over
//! HTTP and HTTPS (self-signed certificate), refusal of replayed headers, old `Created`,
//! short nonces and wrong passwords, throttling, the factory password outside demo mode,
//! and per-user scoping.

use centralino_e2e::{cli, workspace_bin};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};

/// A pbx-server started by these tests (the shared harness does not expose HTTPS).
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    http: SocketAddr,
    https: SocketAddr,
}

/// RTP ranges above the shared harness's (20000–37999).
fn rtp_range() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let min = 38_200 + NEXT.fetch_add(1, Ordering::Relaxed) % 40 * 100;
    (min, min + 99)
}

impl Server {
    /// Starts `run` (with `--demo` when asked) on a fresh data dir after `setup` commands.
    fn start(demo: bool, setup: &[&[&str]]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Server::start_in(dir, demo, setup)
    }

    fn start_in(dir: tempfile::TempDir, demo: bool, setup: &[&[&str]]) -> Server {
        for args in setup {
            cli(dir.path(), args);
        }
        let (rtp_min, rtp_max) = rtp_range();
        let mut cmd = Command::new(workspace_bin("pbx-server"));
        cmd.arg("--data-dir").arg(dir.path()).arg("run");
        if demo {
            cmd.arg("--demo");
        }
        cmd.args(["--bind", "127.0.0.1", "--sip-port", "0", "--http-port", "0"])
            .args([
                "--https-port",
                "0",
                "--cti-port",
                "0",
                "--qualify-interval",
                "0",
            ])
            .args(["--rtp-min", &rtp_min.to_string()])
            .args(["--rtp-max", &rtp_max.to_string()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.path().join("pbx.log")).unwrap(),
            ));
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let field = |k: &str| -> SocketAddr {
            line.split_whitespace()
                .find_map(|p| p.strip_prefix(&format!("{k}=")))
                .unwrap_or_else(|| panic!("no {k}= in {line:?}"))
                .parse()
                .unwrap()
        };
        assert!(line.starts_with("READY "), "{line:?}");
        let (http, https) = (field("http"), field("https"));
        Server {
            child,
            dir,
            http,
            https,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pbx.log")).unwrap_or_default()
    }

    fn http_base(&self) -> String {
        format!("http://{}", self.http)
    }

    fn https_base(&self) -> String {
        format!("https://{}", self.https)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rest/seed_client.py")
}

/// Runs the seed client; returns its exit success and its stdout parsed as JSON.
fn client(base: &str, user: &str, password: &str, args: &[&str]) -> (bool, Value) {
    let mut cmd = Command::new("python3");
    cmd.arg(client_path())
        .args(["--base", base, "--user", user, "--password", password]);
    if base.starts_with("https") {
        cmd.arg("--insecure");
    }
    let out = cmd.args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "client output is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

/// `pbx-server set-password` with the password on standard input.
fn set_password(dir: &Path, user: &str, password: &str) -> std::process::Output {
    let mut child = Command::new(workspace_bin("pbx-server"))
        .arg("--data-dir")
        .arg(dir)
        .args(["set-password", user])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

/// A raw HTTP/1.0 GET with an `Accept` header; returns (status line, body).
fn get_with_accept(addr: SocketAddr, path: &str, accept: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap_or_default().to_string(),
        body.to_string(),
    )
}

fn failures_logged(log: &str, user: &str) -> usize {
    let line = format!("security: rest auth failed user={user} domain=default src=127.0.0.1");
    log.lines().filter(|l| l.contains(&line)).count()
}

#[test]
fn the_seed_client_authenticates_over_http_and_https_and_refusals_hold() {
    let pbx = Server::start(true, &[]);
    let demo: Vec<String> = (201..=208).map(|n| n.to_string()).collect();
    for base in [pbx.http_base(), pbx.https_base()] {
        let (ok, report) = client(&base, "admin", "admin", &["check"]);
        assert!(ok, "{base}: {report:#}\n{}", pbx.log());
        let numbers: Vec<String> = report["extensions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect();
        assert_eq!(numbers, demo, "{base}");
        for step in ["replay", "old_created", "short_nonce", "wrong_password"] {
            assert_eq!(report["steps"][step]["status"], 401, "{base}: {step}");
        }
        assert_eq!(report["refusals_identical"], true);
    }
    // One security line per refusal (4 per run), fail2ban-matchable.
    assert_eq!(failures_logged(&pbx.log(), "admin"), 8, "{}", pbx.log());

    // The salt is plain text by default and JSON when asked for.
    let (status, text) = get_with_accept(pbx.http, "/rest/salt/default", "*/*");
    assert!(status.contains(" 200 "), "{status}");
    let (_, json) = get_with_accept(pbx.http, "/rest/salt/default", "application/json");
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["salt"].as_str(), Some(text.as_str()));
    let (status, _) = get_with_accept(pbx.http, "/rest/salt/nowhere.example", "*/*");
    assert!(status.contains(" 404 "), "{status}");
}

#[test]
fn repeated_failures_from_one_address_are_throttled() {
    let pbx = Server::start(true, &[]);
    let (_, statuses) = client(&pbx.http_base(), "admin", "admin", &["hammer", "12"]);
    let codes: Vec<i64> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_i64().unwrap())
        .collect();
    assert_eq!(codes[..10], [401; 10], "{codes:?}");
    assert_eq!(codes[10..], [429, 429], "{codes:?}");
    let retry: u64 = statuses[10]["retry_after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // While blocked even good credentials wait (over HTTPS too: same address).
    let (ok, r) = client(
        &pbx.https_base(),
        "admin",
        "admin",
        &["get", "/rest/extension"],
    );
    assert!(!ok);
    assert_eq!(r["status"], 429);
    let log = pbx.log();
    assert_eq!(failures_logged(&log, "admin"), 10, "{log}");
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("security: rest auth blocked src=127.0.0.1"))
            .count(),
        1,
        "{log}"
    );
}

#[test]
fn a_production_start_refuses_the_factory_password_until_it_is_changed() {
    let pbx = Server::start(false, &[]);
    assert!(
        pbx.log()
            .contains("admin@default still has the factory password"),
        "{}",
        pbx.log()
    );
    let base = pbx.https_base();
    let (ok, r) = client(&base, "admin", "admin", &["get", "/rest/extension"]);
    assert!(!ok);
    assert_eq!(r["status"], 403, "{r}");
    assert_eq!(r["body"]["error"], "password_change_required", "{r}");

    let (ok, r) = client(
        &base,
        "admin",
        "admin",
        &["put", "/rest/me/password", r#"{"password": "short"}"#],
    );
    assert!(!ok);
    assert_eq!(r["status"], 400, "{r}");
    let (ok, r) = client(
        &base,
        "admin",
        "admin",
        &[
            "put",
            "/rest/me/password",
            r#"{"password": "n3w-s3cret-pw"}"#,
        ],
    );
    assert!(ok, "{r}");
    assert_eq!(r["status"], 204);

    let (ok, r) = client(&base, "admin", "admin", &["get", "/rest/extension"]);
    assert!(!ok);
    assert_eq!(r["status"], 401, "the old password is gone: {r}");
    let (ok, r) = client(&base, "admin", "n3w-s3cret-pw", &["get", "/rest/extension"]);
    assert!(ok, "{r}");
    assert_eq!(r["body"], serde_json::json!([]), "no demo data");
}

#[test]
fn set_password_on_the_command_line_replaces_the_factory_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = set_password(dir.path(), "admin", "short");
    assert!(!out.status.success(), "short passwords are refused");
    let out = set_password(dir.path(), "admin", "from-the-cli-1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pbx = Server::start_in(dir, false, &[]);
    assert!(!pbx.log().contains("still has the factory password"));
    let (ok, r) = client(
        &pbx.http_base(),
        "admin",
        "from-the-cli-1",
        &["get", "/rest/extension"],
    );
    assert!(ok, "{r}");
}

#[test]
fn a_standard_user_sees_only_their_own_extension() {
    let pbx = Server::start(
        true,
        &[&["seed-demo"], &["set-user", "201", "api_access=1"]],
    );
    let base = pbx.http_base();
    let (ok, r) = client(&base, "201", "demo201", &["get", "/rest/extension"]);
    assert!(ok, "{r}");
    let numbers: Vec<&str> = r["body"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["201"]);
    assert_eq!(r["body"][0]["accounts"][0]["username"], "201");
    assert_eq!(r["body"][0]["firstName"], "Anna");

    let (_, r) = client(&base, "201", "demo201", &["get", "/rest/extension/202"]);
    assert_eq!(r["status"], 403, "{r}");
    let (_, r) = client(&base, "201", "demo201", &["get", "/rest/extension/999"]);
    assert_eq!(r["status"], 403, "existence is not revealed: {r}");
    let (ok, _) = client(&base, "201", "demo201", &["get", "/rest/extension/201"]);
    assert!(ok);

    // 202 has no API permission: a valid password still gets the generic 401.
    let (_, r) = client(&base, "202", "demo202", &["get", "/rest/extension"]);
    assert_eq!(r["status"], 401, "{r}");
    // The admin reads any extension, and gets 404 for one that does not exist.
    let (ok, r) = client(&base, "admin", "admin", &["get", "/rest/extension/202"]);
    assert!(ok, "{r}");
    assert_eq!(r["body"]["number"], "202");
    let (_, r) = client(&base, "admin", "admin", &["get", "/rest/extension/999"]);
    assert_eq!(r["status"], 404, "{r}");
}
