//! WebCTI in a real browser (issue 6, acceptance 1 and 2; the supervisor panel is in
//! `ui_callcenter.rs`):
//! pbx-server serves the built UI (`ui/dist`), SIPp phones make and take the calls, and
//! `ui/tests/e2e.mjs` drives Debian's Chromium through playwright-core. The two talk over the
//! script's stdio: it prints `STEP <name>` and waits for `GO` while this test does the SIP
//! side (a call, a UAS for click-to-call, killing and restarting the server).
//! Screenshots go to `target/ui-artifacts/`.
//!
//! Needs `npm ci && npm run build` in `ui/` and `/usr/bin/chromium` (scripts/test.sh does both).

use crate::ui_run::{built_ui_and_chromium, run_browser};
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, Sipp, SippChild};
use std::net::TcpListener;
use std::time::Duration;

/// The whole browser run; a hung step fails the test rather than the suite.
const RUN_LIMIT: Duration = Duration::from_secs(240);
const SIPP_LIMIT: Duration = Duration::from_secs(30);

/// A free TCP port below the ephemeral range (32768 up), so that no server another test starts
/// on port 0 can take it while ours is down for its restart.
fn pinned_tcp_port() -> u16 {
    let start = 30_000 + (std::process::id() % 1000) as u16 * 2;
    (start..32_000)
        .chain(30_000..start)
        .find(|p| TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free port in 30000-31999")
}

/// SIPp caller `from` -> `to` that talks for `talk_ms`, in the background.
fn call(pbx: &Pbx, port: u16, from: &str, to: &str, talk_ms: u32) -> SippChild {
    Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &port.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            to,
            "-set",
            "caller",
            from,
            "-au",
            from,
            "-ap",
            &format!("demo{from}"),
            "-d",
            &talk_ms.to_string(),
            "-m",
            "1",
        ])
        .spawn()
}

fn finished_ok(what: &str, sipp: SippChild) {
    let (ok, out) = sipp.wait(SIPP_LIMIT);
    assert!(ok, "{what}: {out}");
}

#[test]
fn webcti_in_chromium_follows_sipp_calls_clicks_to_call_and_survives_a_server_restart() {
    let (dist, chromium) = built_ui_and_chromium();

    // The HTTP port is pinned so the restarted server is where the page expects it.
    let http_port = pinned_tcp_port().to_string();
    let ui_dir = dist.display().to_string();
    let mut pbx = Pbx::start_with_args(
        &[],
        &[
            "--http-port",
            &http_port,
            "--https-port",
            "0",
            "--ui-dir",
            &ui_dir,
        ],
    );
    let url = format!("http://{}/", pbx.http);
    // The status page moved to /status; / is the UI.
    let status = centralino_e2e::http_get(pbx.http, "/status");
    assert!(status.contains("Centralino PBX"), "{status}");
    assert!(centralino_e2e::http_get(pbx.http, "/").contains("<div id=\"app\">"));
    assert_eq!(centralino_e2e::http_get(pbx.http, "/healthz"), "ok");

    let (p201, p202, p203) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "201", p201);
    register(&pbx, "202", p202);

    let mut caller: Option<SippChild> = None;
    let mut callee: Option<SippChild> = None;
    let run = run_browser("tests/e2e.mjs", &url, &chromium, &[], RUN_LIMIT, |step| {
        match step {
            "call" | "call2" => {
                callee = Some(uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1));
                caller = Some(call(&pbx, p201, "201", "202", 2500));
            }
            "click_to_call" => {
                finished_ok("caller 201", caller.take().unwrap());
                finished_ok("callee 202", callee.take().unwrap());
                // 201's own phone rings first and never answers; the UI hangs up.
                callee = Some(uas(&pbx, "uas_noanswer.xml", p201, free_media_port(), 1));
            }
            "hung_up" => {
                // Exits 0 only after the INVITE of the click-to-call and then its CANCEL.
                finished_ok("201 rung by click-to-call", callee.take().unwrap());
            }
            "kill" => pbx.kill9(),
            "restart" => {
                pbx.restart();
                assert_eq!(pbx.http.port().to_string(), http_port, "same HTTP port");
                // Something changed while the UI was away: it must show after resuming.
                register(&pbx, "203", p203);
            }
            other => panic!("unknown step {other}"),
        }
    });
    if let Some(c) = caller.take() {
        finished_ok("second caller 201", c);
    }
    if let Some(c) = callee.take() {
        finished_ok("second callee 202", c);
    }
    assert!(
        run.ok(),
        "browser run failed ({}):\n{}\nserver log:\n{}",
        run.status,
        run.stderr,
        pbx.log()
    );
}
