//! End-to-end test support: start the real `pbx-server` binary on loopback with free
//! ports, drive it with real SIP user agents (SIPp, baresip), read its records.
//!
//! Tests run `cargo build --workspace` first (the README's test command does), so the
//! binary sits next to the test executable's `deps/` folder.

#![allow(clippy::unwrap_used)]

pub mod blf;
pub mod cti;
pub mod http;
pub mod pcap;
pub mod proxy;
pub mod softphone;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// Path of a binary built by this workspace.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/<test> -> target/debug/<name>
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built; run `cargo build --workspace` first",
        p.display()
    );
    p
}

/// Folder holding the SIPp scenarios.
pub fn scenarios() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sipp")
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free even port for SIPp's -mp (or a baresip `rtp_ports` range) with a block of
/// `MEDIA_BLOCK` free ports from it: SIPp binds audio RTP and RTCP, then video RTP and RTCP
/// (base + 2, base + 3) even with no video, and more for concurrent calls. Taken from
/// 3000-4999: SIPp itself takes 6000 up when run without -mp (and walks on while they are
/// busy) and 8000 up for rtp_stream; the softphones' blocks are 10000 up, the PBXes' RTP ranges
/// 20000 up, and the ephemeral range (32768 up) is where another test's port-0 socket could
/// take it first.
pub fn free_media_port() -> u16 {
    const MEDIA_BLOCK: u16 = 20;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    loop {
        let base = 3000 + (NEXT.fetch_add(MEDIA_BLOCK, Ordering::Relaxed) % 2000);
        if (base..base + MEDIA_BLOCK).all(|p| UdpSocket::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
}

/// Disjoint RTP ranges for PBXes running in parallel tests, all below the ephemeral range.
fn rtp_range() -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let min = 20000 + (n % 63) * 200;
    (min, min + 199)
}

/// A running pbx-server process.
pub struct Pbx {
    child: Option<Child>,
    /// Data directory (kept for restarts).
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// SIP address.
    pub sip: SocketAddr,
    /// HTTP address.
    pub http: SocketAddr,
    /// CTI TCP address.
    pub cti: SocketAddr,
    /// CTI over TLS.
    pub cti_tls: SocketAddr,
    /// RTP range of this instance.
    pub rtp: (u16, u16),
    /// Extra `run` arguments.
    args: Vec<String>,
    /// `--database-url`, when not the default SQLite file.
    db_url: Option<String>,
}

impl Pbx {
    /// A fresh data dir with the demo data, `setup` run against it before the start
    /// (e.g. `pbx-server set-extension`).
    pub fn start_with(setup: &[&[&str]]) -> Pbx {
        Pbx::start_on(None, setup)
    }

    /// Like [`Pbx::start_with`], on the database at `db_url` (e.g. PostgreSQL).
    pub fn start_on(db_url: Option<String>, setup: &[&[&str]]) -> Pbx {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().to_path_buf();
        let with_db = |args: &[&str]| -> Vec<String> {
            let mut v: Vec<String> = Vec::new();
            if let Some(u) = &db_url {
                v.push("--database-url".into());
                v.push(u.clone());
            }
            v.extend(args.iter().map(|s| s.to_string()));
            v
        };
        // Seed the demo data first so setup commands find the extensions.
        cli_args(&data_dir, &with_db(&["seed-demo"]));
        for args in setup {
            cli_args(&data_dir, &with_db(args));
        }
        let mut pbx = Pbx {
            child: None,
            data_dir,
            _tmp: Some(tmp),
            sip: "127.0.0.1:0".parse().unwrap(),
            http: "127.0.0.1:0".parse().unwrap(),
            cti: "127.0.0.1:0".parse().unwrap(),
            cti_tls: "127.0.0.1:0".parse().unwrap(),
            rtp: rtp_range(),
            args: Vec::new(),
            db_url,
        };
        pbx.spawn();
        pbx
    }

    /// Like [`Pbx::start_with`], with extra flags for `pbx-server run`.
    pub fn start_with_args(setup: &[&[&str]], run_args: &[&str]) -> Pbx {
        let mut pbx = Pbx::start_on(None, setup);
        pbx.kill9();
        pbx.args = run_args.iter().map(|s| s.to_string()).collect();
        pbx.spawn();
        pbx
    }

    /// Runs a one-shot `pbx-server` command on this instance's database.
    pub fn admin(&self, args: &[&str]) -> Output {
        self.cli(args)
    }

    /// Demo data, no extra setup.
    pub fn start() -> Pbx {
        Pbx::start_with(&[])
    }

    fn spawn(&mut self) {
        let sip_port = if self.sip.port() == 0 {
            0
        } else {
            self.sip.port()
        };
        let mut cmd = Command::new(workspace_bin("pbx-server"));
        cmd.arg("--data-dir").arg(&self.data_dir);
        if let Some(u) = &self.db_url {
            cmd.args(["--database-url", u]);
        }
        cmd.args(["run", "--demo", "--bind", "127.0.0.1"])
            .args(["--sip-port", &sip_port.to_string()])
            .args(self.free_port_args())
            .args([
                "--rtp-min",
                &self.rtp.0.to_string(),
                "--rtp-max",
                &self.rtp.1.to_string(),
            ])
            .args(&self.args)
            .env(
                "RUST_LOG",
                std::env::var("PBX_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.data_dir.join("pbx.log"))
                    .unwrap(),
            ));
        let mut child = cmd.spawn().expect("start pbx-server");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let line = line.trim();
        assert!(
            line.starts_with("READY "),
            "pbx-server did not start: {line:?}\n{}",
            self.log()
        );
        for part in line.split_whitespace().skip(1) {
            let (k, v) = part.split_once('=').unwrap();
            match k {
                "sip" => self.sip = v.parse().unwrap(),
                "http" => self.http = v.parse().unwrap(),
                "cti" => self.cti = v.parse().unwrap(),
                "cti_tls" => self.cti_tls = v.parse().unwrap(),
                _ => {}
            }
        }
        self.child = Some(child);
    }

    /// `--http-port 0 --cti-port 0` (free ports), less those the test pinned in its run
    /// arguments: a pinned port stays the same across restarts.
    fn free_port_args(&self) -> Vec<&'static str> {
        ["--http-port", "--cti-port"]
            .into_iter()
            .filter(|flag| !self.args.iter().any(|a| a == flag))
            .flat_map(|flag| [flag, "0"])
            .collect()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("pbx.log")).unwrap_or_default()
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill(); // SIGKILL on Unix
            let _ = c.wait();
        }
    }

    /// Starts again on the same data dir and SIP port.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    fn cli(&self, args: &[&str]) -> Output {
        let mut v: Vec<String> = Vec::new();
        if let Some(u) = &self.db_url {
            v.push("--database-url".into());
            v.push(u.clone());
        }
        v.extend(args.iter().map(|s| s.to_string()));
        cli_args(&self.data_dir, &v)
    }

    /// `pbx-server cdr --json`, parsed.
    pub fn cdr(&self) -> Vec<Value> {
        let out = self.cli(&["cdr", "--json"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `pbx-server locations`, parsed.
    pub fn locations(&self) -> Vec<Value> {
        let out = self.cli(&["locations"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `/metrics`.
    pub fn metrics(&self) -> Value {
        let body = http_get(self.http, "/metrics");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls until `f` holds (or panics after `limit` with the server log).
    pub fn wait_for(&self, what: &str, limit: Duration, mut f: impl FnMut(&Pbx) -> bool) {
        let start = Instant::now();
        while !f(self) {
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The records, once `n` of them are closed.
    pub fn closed_cdrs(&self, n: usize) -> Vec<Value> {
        self.wait_for(&format!("{n} closed CDRs"), Duration::from_secs(20), |p| {
            p.cdr().iter().filter(|r| !r["status"].is_null()).count() >= n
        });
        self.cdr()
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs a pbx-server sub-command on a data dir.
pub fn cli(data_dir: &Path, args: &[&str]) -> Output {
    let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    cli_args(data_dir, &v)
}

/// Runs a pbx-server sub-command on a data dir (owned arguments).
pub fn cli_args(data_dir: &Path, args: &[String]) -> Output {
    let out = Command::new(workspace_bin("pbx-server"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pbx-server {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A minimal HTTP/1.0 GET (no client library needed for loopback checks).
pub fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

/// One SIPp run.
pub struct Sipp {
    args: Vec<String>,
    cwd: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Sipp {
    /// SIPp with `scenario` (a file in `tests/sipp/` or an absolute path) against `pbx`.
    pub fn new(scenario: &str, pbx: SocketAddr) -> Sipp {
        let tmp = tempfile::tempdir().unwrap();
        let path = if Path::new(scenario).is_absolute() {
            PathBuf::from(scenario)
        } else {
            scenarios().join(scenario)
        };
        // 1 s of a 440 Hz tone in PCMU for rtp_stream.
        let tone: Vec<u8> = (0..8000)
            .map(|i| {
                let s = (f64::from(i) * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 8000.0;
                media_core::g711::ulaw_encode(s as i16)
            })
            .collect();
        std::fs::write(tmp.path().join("tone.pcmu"), tone).unwrap();
        Sipp {
            args: vec![
                pbx.to_string(),
                "-sf".into(),
                path.display().to_string(),
                "-i".into(),
                "127.0.0.1".into(),
                "-nostdin".into(),
            ],
            cwd: tmp.path().to_path_buf(),
            _tmp: tmp,
        }
    }

    /// Adds arguments.
    pub fn args(mut self, a: &[&str]) -> Sipp {
        self.args.extend(a.iter().map(|s| s.to_string()));
        self
    }

    /// Runs to completion (bounded by `-timeout`), returning the output.
    pub fn run(self) -> Output {
        let out = Command::new("sipp")
            .args(&self.args)
            .args(["-timeout", "60s", "-timeout_error"])
            .current_dir(&self.cwd)
            .output()
            .expect("sipp is installed (Debian sip-tester)");
        out
    }

    /// Runs and asserts success (exit 0: every call succeeded).
    pub fn run_ok(self) -> Output {
        let args = self.args.join(" ");
        let out = self.run();
        assert!(
            out.status.success(),
            "sipp {args} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Starts in the background.
    pub fn spawn(self) -> SippChild {
        let child = Command::new("sipp")
            .args(&self.args)
            .args(["-timeout", "90s"])
            .current_dir(&self.cwd)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp is installed (Debian sip-tester)");
        SippChild {
            child: Some(child),
            _sipp: self,
        }
    }
}

/// A SIPp running in the background; killed on drop.
pub struct SippChild {
    child: Option<Child>,
    _sipp: Sipp,
}

impl SippChild {
    /// Waits for it to finish (bounded), returning (success, stdout+stderr).
    pub fn wait(mut self, limit: Duration) -> (bool, String) {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = s.read_to_string(&mut out);
                }
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut out);
                }
                return (status.success(), out);
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                return (false, "timed out".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SippChild {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Registers `user` (password `demo<user>`) from local port `port` with SIPp, so a SIPp
/// UAS started later on that port receives the calls.
pub fn register(pbx: &Pbx, user: &str, port: u16) {
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-s",
            user,
            "-au",
            user,
            "-ap",
            &format!("demo{user}"),
            "-m",
            "1",
        ])
        .run_ok();
}

/// A SIPp UAS (callee) on `port`, media on `media_port`, `max_calls` calls then exit.
pub fn uas(pbx: &Pbx, scenario: &str, port: u16, media_port: u16, max_calls: u32) -> SippChild {
    Sipp::new(scenario, pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-mp",
            &media_port.to_string(),
            "-m",
            &max_calls.to_string(),
        ])
        .spawn()
}

/// Writes `tests/sipp/uac_refused.xml` with the expected status filled in.
pub fn refused_scenario(dir: &Path, status: u16) -> PathBuf {
    let text = std::fs::read_to_string(scenarios().join("uac_refused.xml"))
        .unwrap()
        .replace("STATUS", &status.to_string());
    let p = dir.join(format!("uac_refused_{status}.xml"));
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes `tests/sipp/<template>` (`uas_keys.xml`, `uas_keys_consult.xml`) with a capture
/// of `keys` pressed (RFC 4733) in `dir`: a callee that answers, then presses the keys.
pub fn keys_scenario(dir: &Path, template: &str, keys: &str) -> PathBuf {
    let name: String = keys
        .chars()
        .map(|c| match c {
            '#' => 'h',
            '*' => 's',
            c => c,
        })
        .collect();
    let pcap = dir.join(format!("keys_{name}.pcap"));
    pcap::write_keys_pcap(&pcap, keys);
    let text = std::fs::read_to_string(scenarios().join(template))
        .unwrap()
        .replace("KEYS_PCAP", &pcap.display().to_string());
    let p = dir.join(format!("{}_{name}.xml", template.trim_end_matches(".xml")));
    std::fs::write(&p, text).unwrap();
    p
}

/// A fresh, empty PostgreSQL database in the cluster of `CENTRALINO_TEST_PG_URL`, or `None`
/// when the variable is not set (the README's test command always sets it).
pub fn fresh_postgres_db() -> Option<String> {
    static N: AtomicU16 = AtomicU16::new(0);
    let base = std::env::var("CENTRALINO_TEST_PG_URL").ok()?;
    let name = format!(
        "e2e_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let status = Command::new("psql")
        .arg(&base)
        .args(["-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .unwrap();
    assert!(status.success(), "creating {name}");
    let (prefix, _) = base.rsplit_once('/').unwrap();
    Some(format!("{prefix}/{name}"))
}
