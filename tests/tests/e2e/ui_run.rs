//! Runs a browser script of `ui/tests/` (playwright-core with Debian's Chromium) in step with
//! a Rust test: the script prints `STEP <name>` and waits for `GO` on its stdin while the test
//! does the SIP side; `FIGURE <name>=<value>` lines are printed together at the end, `PASS`
//! ends a good run.
//! Screenshots go to `<target>/ui-artifacts/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub(crate) fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    target.join("ui-artifacts")
}

/// The built UI (`ui/dist`) and the Chromium binary, or a failure saying how to get them.
pub(crate) fn built_ui_and_chromium() -> (PathBuf, String) {
    let ui = workspace().join("ui");
    let dist = ui.join("dist");
    assert!(
        dist.join("index.html").is_file() && ui.join("node_modules/playwright-core").is_dir(),
        "the web UI is not built: run `npm ci && npm run build` in ui/ (scripts/test.sh does)"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: apt-get install chromium"
    );
    (dist, chromium)
}

/// How a browser run ended.
pub(crate) struct BrowserRun {
    /// The script printed `PASS`.
    pub passed: bool,
    pub status: ExitStatus,
    /// The script's standard error (its failure reason).
    pub stderr: String,
}

impl BrowserRun {
    pub(crate) fn ok(&self) -> bool {
        self.passed && self.status.success()
    }
}

/// Runs `node <script>` in `ui/` with `UI_URL`, `ARTIFACTS`, `CHROMIUM` and `env` set; calls
/// `on_step` for each `STEP` and answers `GO` when it returns. A run longer than `limit` is
/// killed (a hung step fails the test rather than the suite).
pub(crate) fn run_browser(
    script: &str,
    url: &str,
    chromium: &str,
    env: &[(&str, String)],
    limit: Duration,
    mut on_step: impl FnMut(&str),
) -> BrowserRun {
    let out_dir = artifacts();
    std::fs::create_dir_all(&out_dir).unwrap();
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .current_dir(workspace().join("ui"))
        .env("UI_URL", url)
        .env("ARTIFACTS", &out_dir)
        .env("CHROMIUM", chromium)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut node = cmd.spawn().expect("node is installed");
    let mut to_node = node.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = node.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = node.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            s.push_str(&line);
            s.push('\n');
        }
        s
    });

    let start = Instant::now();
    let mut passed = false;
    let mut figures = Vec::new();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        let line = match rx.recv_timeout(left) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = node.kill();
                break;
            }
        };
        println!("browser: {line}");
        let Some(step) = line.strip_prefix("STEP ") else {
            if let Some(f) = line.strip_prefix("FIGURE ") {
                figures.push(f.to_string());
            }
            passed |= line == "PASS";
            continue;
        };
        on_step(step);
        writeln!(to_node, "GO").unwrap();
    }
    let status = node.wait().unwrap();
    let stderr = errors.join().unwrap_or_default();
    println!("figures: {}", figures.join(", "));
    println!("screenshots: {}", out_dir.display());
    BrowserRun {
        passed,
        status,
        stderr,
    }
}
