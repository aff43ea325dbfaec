//! The supervisor panel and the agent's queue panel in a real browser (issue 6, acceptance 1's
//! supervisor part; issue 4, acceptance 4 as the panel shows it): 201 supervises the demo's
//! queue 600 (rrmemory, 202 and 203). A SIPp caller waits in the queue while the agents' SIPp
//! phones ring without answering; 203 pauses with `*81` from a SIPp phone; 202 pauses from its
//! own browser session; the supervisor pauses and resumes agents from the panel. Driven by
//! `ui/tests/e2e-callcenter.mjs`; screenshots in `target/ui-artifacts/`.

use crate::control::caller;
use crate::ui_run::{built_ui_and_chromium, run_browser};
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, SippChild};
use std::time::Duration;

const RUN_LIMIT: Duration = Duration::from_secs(240);
const SIPP_LIMIT: Duration = Duration::from_secs(30);
/// How long the caller waits in queue 600 before hanging up: long enough for the browser to
/// see it wait and the age count on, shorter than the queue's 15 s ring time-out, so only the
/// first agent is rung and its ring is not timed out.
const CALLER_WAITS_MS: &str = "13000";

fn finished_ok(what: &str, sipp: SippChild) {
    let (ok, out) = sipp.wait(SIPP_LIMIT);
    assert!(ok, "{what}: {out}");
}

#[test]
fn supervisor_panel_in_chromium_shows_a_waiting_caller_and_agent_pauses() {
    let (dist, chromium) = built_ui_and_chromium();
    let ui_dir = dist.display().to_string();
    // The demo may already make 201 a supervisor; saying so again is harmless.
    let pbx = Pbx::start_with_args(
        &[&["set-user", "201", "role=supervisor"]],
        &["--https-port", "0", "--ui-dir", &ui_dir],
    );
    let url = format!("http://{}/", pbx.http);
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);

    let mut waiting: Option<SippChild> = None;
    let mut agents: Vec<SippChild> = Vec::new();
    let run = run_browser(
        "tests/e2e-callcenter.mjs",
        &url,
        &chromium,
        &[],
        RUN_LIMIT,
        |step| match step {
            "queue_call" => {
                // Both agents' phones ring without answering (rrmemory rings one at a time).
                agents.push(uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1));
                agents.push(uas(&pbx, "uas_noanswer.xml", p203, free_media_port(), 1));
                waiting = Some(
                    caller(&pbx, "uac_cancel.xml", "206", "600")
                        .args(&["-d", CALLER_WAITS_MS])
                        .spawn(),
                );
            }
            "caller_left" => {
                finished_ok("caller 206 waiting in 600", waiting.take().unwrap());
                // rrmemory rang one agent, whose phone then saw the CANCEL and ended well; the
                // other phone was never rung (it is stopped after a short wait).
                let ended: Vec<bool> = agents
                    .drain(..)
                    .map(|a| a.wait(Duration::from_secs(5)).0)
                    .collect();
                assert_eq!(
                    ended.iter().filter(|ok| **ok).count(),
                    1,
                    "one agent rung and cancelled: {ended:?}"
                );
            }
            "pause_by_phone" => {
                // *81<queue>*<reason>: 203 pauses in 600 with reason 7; the PBX answers and
                // hangs up.
                let code = caller(&pbx, "uac_wait_bye.xml", "203", "*81600*7").spawn();
                finished_ok("203 dialling *81600*7", code);
            }
            other => panic!("unknown step {other}"),
        },
    );
    assert!(
        run.ok(),
        "browser run failed ({}):\n{}\nserver log:\n{}",
        run.status,
        run.stderr,
        pbx.log()
    );
}
