//! schemathesis (issue 7, acceptance 5): the property-based API fuzzer from PyPI reads
//! `/api/doc.json`, authenticates every request with the seed's `X-authenticate`
//! (`tests/rest/schemathesis_hooks.py`), and finds no server error (5xx) on any operation.
//! `scripts/test.sh` installs it in a virtualenv (`CENTRALINO_SCHEMATHESIS` names the binary).

use super::rest_util::rest_dir;
use centralino_e2e::{http_get, Pbx};
use std::path::PathBuf;
use std::process::Command;

/// The schemathesis binary: `CENTRALINO_SCHEMATHESIS`, else the one `scripts/test.sh` installs.
fn schemathesis() -> PathBuf {
    if let Ok(p) = std::env::var("CENTRALINO_SCHEMATHESIS") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cache = std::env::var("XDG_CACHE_HOME").unwrap_or_else(|_| format!("{home}/.cache"));
    let p = PathBuf::from(cache).join("centralino/schemathesis-venv/bin/schemathesis");
    assert!(
        p.exists(),
        "schemathesis not found at {}: run scripts/test.sh (it installs it) or set CENTRALINO_SCHEMATHESIS",
        p.display()
    );
    p
}

#[test]
fn schemathesis_finds_no_server_error() {
    let pbx = Pbx::start();
    let base = format!("http://{}", pbx.http);
    let out = Command::new(schemathesis())
        .args(["run", &format!("{base}/api/doc.json")])
        .args(["--checks", "not_a_server_error"])
        .args(["--max-examples", "15", "--seed", "7", "--workers", "1"])
        .args(["--generation-with-security-parameters", "false"])
        .args(["--request-timeout", "20"])
        // The caller's own password: fuzzing it would lock the fuzzer out.
        .args(["--exclude-path", "/rest/me/password"])
        .args(["--no-color", "--warnings", "off"])
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks")
        .env("PYTHONPATH", rest_dir())
        .env("CENTRALINO_BASE", &base)
        .env("CENTRALINO_USER", "admin")
        .env("CENTRALINO_PASSWORD", "admin")
        .output()
        .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "schemathesis failed:\n{text}\n{}",
        pbx.log()
    );
    assert!(!text.contains("Server error"), "{text}");
    // Every request was authenticated (the hook's header): no refusal was logged, so the
    // cases reached the handlers; and the server is still up.
    let log = pbx.log();
    assert!(!log.contains("security: rest auth failed"), "{log}");
    assert!(!log.contains("rest: store failure"), "{log}");
    assert!(text.contains("passed"), "{text}");
    assert_eq!(http_get(pbx.http, "/healthz"), "ok");
}
