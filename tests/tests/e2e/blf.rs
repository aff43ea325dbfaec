//! BLF against real SIPp phones: a subscriber to an extension's dialog package (RFC 4235)
//! sees that extension ring, talk and hang up, then unsubscribes; other packages and
//! unknown extensions are refused.

use centralino_e2e::blf::{as_blf_sees, notifies, states, Notify};
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{free_media_port, free_udp_port, register, scenarios, uas, Pbx, Sipp};
use std::path::Path;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// `subscriber` subscribes to `target`'s dialog package with `subscribe_dialog.xml`,
/// logging every message to `log`.
pub(crate) fn subscriber(pbx: &Pbx, port: u16, subscriber: &str, target: &str, log: &Path) -> Sipp {
    Sipp::new("subscribe_dialog.xml", pbx.sip).args(&[
        "-p",
        &port.to_string(),
        "-s",
        target,
        "-set",
        "subscriber",
        subscriber,
        "-au",
        subscriber,
        "-ap",
        &format!("demo{subscriber}"),
        "-m",
        "1",
        "-trace_msg",
        "-message_file",
        &log.display().to_string(),
    ])
}

/// The NOTIFYs logged so far, once there are at least `n` (panics after 15 s).
pub(crate) fn wait_notifies(pbx: &Pbx, log: &Path, n: usize) -> Vec<Notify> {
    let start = Instant::now();
    loop {
        let seen = notifies(&std::fs::read_to_string(log).unwrap_or_default());
        if seen.len() >= n {
            return seen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "waiting for {n} NOTIFYs, got {seen:#?}\n{}",
            pbx.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sipp_subscriber_sees_the_extension_ring_talk_and_hang_up_then_unsubscribes() {
    let pbx = Pbx::start();
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("subscriber.log");
    let (p2, p3, p4) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "202", p2);

    let sub = subscriber(&pbx, p4, "204", "202", &log).spawn();
    // The current state comes at once: before the call.
    wait_notifies(&pbx, &log, 1);

    let callee = uas(&pbx, "uas_answer.xml", p2, free_media_port(), 1);
    Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &p3.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "202",
            "-set",
            "caller",
            "203",
            "-au",
            "203",
            "-ap",
            "demo203",
            "-m",
            "1",
            "-d",
            "1000",
        ])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(15));
    assert!(ok, "callee: {out}");
    // Back to idle, the subscriber unsubscribes and gets the terminated NOTIFY.
    let (ok, out) = sub.wait(Duration::from_secs(30));
    let seen = notifies(&std::fs::read_to_string(&log).unwrap_or_default());
    assert!(ok, "subscriber: {out}\n{seen:#?}\n{}", pbx.log());

    let expected = [
        ("202", "idle"),
        ("202", "ringing"),
        ("202", "busy"),
        ("202", "idle"),
        ("202", "idle"),
    ]
    .map(|(e, s)| (e.to_string(), s.to_string()));
    assert_eq!(states(&seen), expected, "{seen:#?}");
    let versions: Vec<u32> = seen.iter().map(|n| n.version).collect();
    assert_eq!(versions, [0, 1, 2, 3, 4]);
    let sub_states: Vec<&str> = seen
        .iter()
        .map(|n| n.subscription_state.split(';').next().unwrap())
        .collect();
    assert_eq!(
        sub_states,
        ["active", "active", "active", "active", "terminated"]
    );
    assert!(seen[0].subscription_state.starts_with("active;expires=600"));
    // The ringing dialog: inbound to 202, from 203, with the call's id.
    assert_eq!(seen[1].direction.as_deref(), Some("recipient"));
    assert!(
        seen[1]
            .remote
            .as_deref()
            .is_some_and(|r| r.starts_with("sip:203@")),
        "{:?}",
        seen[1]
    );
    let cdr = pbx.closed_cdrs(1);
    let id = cdr[0]["unique_id"].as_str().unwrap();
    assert!(seen[1].body.contains(&format!("<dialog id=\"{id}\"")));
    assert!(seen[2].body.contains(&format!("<dialog id=\"{id}\"")));
}

#[test]
fn hold_shows_as_confirmed_not_rendered_and_the_blf_matches_the_cti_lamps() {
    let pbx = Pbx::start();
    let mut watcher = CtiClient::logged_in(pbx.cti, "205", "demo205");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("subscriber.log");
    let (p1, p2, p5) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "201", p1);
    register(&pbx, "202", p2);
    let sub = subscriber(&pbx, p5, "205", "201", &log).spawn();
    wait_notifies(&pbx, &log, 1);

    // 201 calls 202, puts it on hold, resumes, hangs up.
    let callee = uas(&pbx, "uas_hold.xml", p2, free_media_port(), 1);
    Sipp::new("uac_hold.xml", pbx.sip)
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
        ])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(15));
    assert!(ok, "callee: {out}");
    let (ok, out) = sub.wait(Duration::from_secs(30));
    let seen = notifies(&std::fs::read_to_string(&log).unwrap_or_default());
    assert!(ok, "subscriber: {out}\n{seen:#?}\n{}", pbx.log());

    // The BLF while subscribed (the last NOTIFY is the unsubscribe's).
    let blf: Vec<String> = seen[..seen.len() - 1]
        .iter()
        .map(|n| n.state.clone())
        .collect();
    assert_eq!(
        blf,
        ["idle", "ringing", "busy", "hold", "busy", "idle"],
        "{seen:#?}"
    );
    let held = seen.iter().find(|n| n.state == "hold").unwrap();
    assert_eq!(held.direction.as_deref(), Some("initiator"));
    assert!(held.body.contains("<state>confirmed</state>"));

    // The CTI lamps of 201 over the same time (it was unavailable when the watcher logged
    // in), as a BLF key can show them.
    let done = |w: &CtiClient| {
        let l = w.lamps("201");
        l.iter().any(|x| x == "hold") && l.last().map(String::as_str) == Some("idle")
    };
    while !done(&watcher) {
        watcher.wait_event("201 idle after the call", WAIT, |e| {
            e["kind"] == "lamp" && e["extension"] == "201"
        });
    }
    watcher.drain(Duration::from_millis(300));
    let lamps = watcher.lamps("201");
    let cti = std::iter::once("unavailable").chain(lamps.iter().map(String::as_str));
    assert_eq!(as_blf_sees(cti), blf, "CTI lamps: {lamps:?}");
}

/// `tests/sipp/subscribe_refused.xml` expecting `status`.
fn refused(pbx: &Pbx, dir: &Path, event: &str, target: &str, status: u16) {
    let text = std::fs::read_to_string(scenarios().join("subscribe_refused.xml"))
        .unwrap()
        .replace("STATUS", &status.to_string());
    let path = dir.join(format!("subscribe_refused_{status}.xml"));
    std::fs::write(&path, text).unwrap();
    Sipp::new(&path.display().to_string(), pbx.sip)
        .args(&[
            "-p",
            &free_udp_port().to_string(),
            "-s",
            target,
            "-set",
            "subscriber",
            "204",
            "-set",
            "event",
            event,
            "-au",
            "204",
            "-ap",
            "demo204",
            "-m",
            "1",
        ])
        .run_ok();
}

#[test]
fn other_packages_get_489_and_unknown_extensions_404() {
    let pbx = Pbx::start();
    let tmp = tempfile::tempdir().unwrap();
    refused(&pbx, tmp.path(), "presence", "202", 489);
    refused(&pbx, tmp.path(), "dialog", "299", 404);
}
