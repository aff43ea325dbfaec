//! The uniffi bindings: Kotlin and Swift sources are generated from the built library, and the
//! generated Python bindings drive a CTI session against the real server while a SIPp call
//! makes a lamp change.

use centralino_e2e::{free_media_port, free_udp_port, register, uas, workspace_bin, Pbx, Sipp};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn generate(lib: &std::path::Path, language: &str, out: &std::path::Path) {
    let status = Command::new(workspace_bin("uniffi-bindgen"))
        .args(["generate", "--library"])
        .arg(lib)
        .args(["--language", language, "--metadata-no-deps", "--out-dir"])
        .arg(out)
        .output()
        .unwrap();
    assert!(status.status.success(), "{language}: {status:?}");
}

#[test]
fn generated_python_bindings_follow_a_sipp_call_and_place_a_softphone_call_with_audio() {
    let lib = workspace_bin("libcti_mobile_bindings.so");
    let tmp = tempfile::tempdir().unwrap();
    for language in ["kotlin", "swift", "python"] {
        generate(&lib, language, &tmp.path().join(language));
    }
    assert!(tmp
        .path()
        .join("kotlin/uniffi/cti_mobile_bindings/cti_mobile_bindings.kt")
        .exists());
    assert!(tmp.path().join("swift/cti_mobile_bindings.swift").exists());
    let py = tmp.path().join("python");
    std::fs::copy(&lib, py.join("libcti_mobile_bindings.so")).unwrap();

    let pbx = Pbx::start();
    let (p1, p2) = (free_udp_port(), free_udp_port());
    register(&pbx, "201", p1);
    register(&pbx, "202", p2);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bindings/cti_session.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(pbx.cti.to_string())
        .arg(pbx.sip.to_string())
        .env("PYTHONPATH", &py)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "python did not log in: {line}");

    let callee = uas(&pbx, "uas_answer.xml", p2, free_media_port(), 1);
    Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &p1.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "202",
            "-set",
            "caller",
            "201",
            "-au",
            "201",
            "-ap",
            "demo201",
            "-m",
            "1",
            "-d",
            "300",
        ])
        .run_ok();
    assert!(callee.wait(Duration::from_secs(10)).0);
    let rest: Vec<String> = out.lines().map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut err);
    }
    assert!(status.success(), "python: {rest:?}\n{err}");
    assert_eq!(rest.len(), 3, "{rest:?}");
    assert_eq!(rest[0], "LAMPS 202 ringing busy idle");
    assert!(rest[1].starts_with("AUDIO "), "{rest:?}");
    assert_eq!(rest[2], "OK");
}
