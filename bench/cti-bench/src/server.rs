//! The pbx-server under test: seeded in a separate process, started on loopback with free
//! ports, its stderr watched for the slow-client drop, its RSS and CPU read from /proc.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The server's line when it drops a client whose queue is full (`cti/hub.rs`).
const SLOW_DROP_LINE: &str = "cti client too slow";
/// Warnings and errors kept to show at the end (the rest are only counted).
const KEEP_WARNINGS: usize = 10;
/// Linux reports process CPU time in USER_HZ ticks, 100 per second on every mainstream port.
const TICKS_PER_SECOND: f64 = 100.0;

/// What the server said on stderr.
#[derive(Default)]
pub(crate) struct LogWatch {
    /// Clients the hub dropped for a full queue.
    pub(crate) slow_drops: AtomicU64,
    /// WARN/ERROR lines other than the slow drops and the expected session noise.
    pub(crate) warnings: AtomicU64,
    /// The first few of those.
    pub(crate) first_warnings: Mutex<Vec<String>>,
}

/// A running pbx-server.
pub(crate) struct Server {
    child: Child,
    /// SIP (UDP) address.
    pub(crate) sip: SocketAddr,
    /// CTI (TCP) address.
    pub(crate) cti: SocketAddr,
    /// Its stderr, digested.
    pub(crate) log: Arc<LogWatch>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Seeds the demo data with `exe seed-demo`, then starts `exe run` on 127.0.0.1.
    pub(crate) fn start(exe: &Path, env: &[(String, String)]) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix("centralino-cti-bench-")
            .tempdir()?;
        // Seeding hashes eight argon2 passwords (19 MiB working set each); done in its own
        // process so that the server's RSS starts clean.
        let seeded = Command::new(exe)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("seed-demo")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        if !seeded.success() {
            bail!("{} seed-demo failed: {seeded}", exe.display());
        }
        let mut child = Command::new(exe)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["run", "--bind", "127.0.0.1", "--sip-port", "0"])
            .args(["--http-port", "0", "--cti-port", "0"])
            .args(["--rtp-min", "46000", "--rtp-max", "46999"])
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        let log = Arc::new(LogWatch::default());
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            let file = std::fs::File::create(dir.path().join("pbx.log")).ok();
            std::thread::spawn(move || watch_stderr(stderr, file, &log));
        }
        let Some(stdout) = child.stdout.take() else {
            bail!("no stdout from pbx-server");
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        // Keep draining stdout: a closed pipe would make the server's next print fail.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let mut parts = line.split_whitespace();
        if parts.next() != Some("READY") {
            let _ = child.kill();
            bail!("pbx-server did not start: {line:?}");
        }
        let mut sip = None;
        let mut cti = None;
        for part in parts {
            match part.split_once('=') {
                Some(("sip", v)) => sip = Some(v.parse()?),
                Some(("cti", v)) => cti = Some(v.parse()?),
                _ => {}
            }
        }
        let (Some(sip), Some(cti)) = (sip, cti) else {
            let _ = child.kill();
            bail!("READY line without sip= or cti=: {line:?}");
        };
        Ok(Server {
            child,
            sip,
            cti,
            log,
            _dir: dir,
        })
    }

    /// Resident set size, KiB.
    pub(crate) fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("no VmRSS in /proc/PID/status")
    }

    /// User + system CPU seconds used so far.
    pub(crate) fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User + system CPU seconds of this process.
pub(crate) fn own_cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// CPU seconds all processes of the machine spent busy (not idle or waiting for I/O) so far.
pub(crate) fn machine_busy_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/stat") else {
        return 0.0;
    };
    // cpu  user nice system idle iowait irq softirq steal ...
    let Some(total) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    let ticks: Vec<u64> = total
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .map(|&i| ticks.get(i).copied().unwrap_or(0))
        .sum();
    busy as f64 / TICKS_PER_SECOND
}

fn cpu_seconds_of(stat_path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(stat_path) else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / TICKS_PER_SECOND
}

fn watch_stderr(stderr: impl std::io::Read, mut file: Option<std::fs::File>, log: &LogWatch) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        if line.contains(SLOW_DROP_LINE) {
            log.slow_drops.fetch_add(1, Ordering::Relaxed);
        } else if line.contains("WARN") || line.contains("ERROR") {
            log.warnings.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut w) = log.first_warnings.lock() {
                if w.len() < KEEP_WARNINGS {
                    w.push(line);
                }
            }
        }
    }
}
