//! Services and call control driven through the CTI (TCP, newline-delimited JSON) against
//! real SIPp phones: DND and the four forwards (and their survival across a restart), then
//! hangup, hold/resume, blind and attended transfer, click-to-call and pickup, each checked
//! on the SIP the phones see and on the call record.

use centralino_e2e::cti::CtiClient;
use centralino_e2e::pcap::{Capture, Datagram};
use centralino_e2e::{free_media_port, free_udp_port, refused_scenario, register, uas, Pbx, Sipp};
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// A SIPp caller `from` -> `to` (auth as `from`), one call, on free ports.
pub(crate) fn caller(pbx: &Pbx, scenario: &str, from: &str, to: &str) -> Sipp {
    Sipp::new(scenario, pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
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
        "-m",
        "1",
    ])
}

/// Sends a command and asserts it succeeded; returns the `result` frame.
pub(crate) fn ok(c: &mut CtiClient, command: Value) -> Value {
    let r = c.command(command.clone());
    assert_eq!(r["type"], "result", "{command} -> {r}");
    r
}

/// Waits until the client sees a connected call whose callee is `callee`; returns its id.
pub(crate) fn connected_call(c: &mut CtiClient, callee: &str) -> String {
    let ev = c.wait_event(&format!("a connected call to {callee}"), WAIT, |e| {
        e["kind"] == "call"
            && e["call"]["state"] == "connected"
            && e["call"]["callee"]["number"] == callee
    });
    ev["call"]["id"].as_str().unwrap().to_string()
}

/// `(destination, exit cause)` of every step of a record.
pub(crate) fn steps(record: &Value) -> Vec<(String, String)> {
    record["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["detail_destination_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                d["detail_exit_cause"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub(crate) fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Captures the RTP the PBX relays (its RTP range).
pub(crate) fn relay_capture(pbx: &Pbx, dir: &std::path::Path) -> Capture {
    Capture::start(
        dir,
        &format!("udp and portrange {}-{}", pbx.rtp.0, pbx.rtp.1),
    )
}

/// Packets of payload type `pt` the relay sent to `port`.
pub(crate) fn relayed_to(pbx: &Pbx, packets: &[Datagram], port: u16, pt: u8) -> usize {
    let relay = |p: u16| (pbx.rtp.0..=pbx.rtp.1).contains(&p);
    packets
        .iter()
        .filter(|d| relay(d.src.port()) && d.dst.port() == port && d.rtp_payload_type() == Some(pt))
        .count()
}

/// Lets a SIPp caller get past its ACK to the step where it waits for the PBX's BYE: the CTI
/// reports the answer when the PBX sends the 200, and a BYE that overtakes SIPp's own ACK step
/// aborts its call as "unexpected".
pub(crate) fn settle() {
    std::thread::sleep(Duration::from_millis(800));
}

pub(crate) fn wait_ok(name: &str, child: centralino_e2e::SippChild) {
    let (ok, out) = child.wait(Duration::from_secs(30));
    assert!(ok, "{name}: {out}");
}

#[test]
fn dnd_set_from_the_cti_makes_the_extension_unavailable_and_survives_a_restart() {
    let mut pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "202", "demo202");
    register(&pbx, "202", free_udp_port());
    ok(&mut c, json!({"name": "set_dnd", "enabled": true}));
    let ev = c.wait_event("services event", WAIT, |e| e["kind"] == "services");
    assert_eq!(ev["services"]["dnd"], true, "{ev}");
    let tmp = tempfile::tempdir().unwrap();
    let refused = refused_scenario(tmp.path(), 480);
    caller(&pbx, refused.to_str().unwrap(), "201", "202").run_ok();
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["status"], "UNAVAILABLE", "{r:#}");
    assert_eq!(steps(r), [pair("202", "UNAVAILABLE")]);

    pbx.restart();
    let mut c = CtiClient::connect(pbx.cti);
    let snap = c.login("202", "demo202", None);
    assert_eq!(snap["services"]["dnd"], true, "stored: {snap}");
    caller(&pbx, refused.to_str().unwrap(), "201", "202").run_ok();
    let cdrs = pbx.closed_cdrs(2);
    assert_eq!(cdrs[1]["status"], "UNAVAILABLE", "{cdrs:#?}");
    // Off again: 202 rings (and refuses on its own here).
    ok(&mut c, json!({"name": "set_dnd", "enabled": false}));
}

#[test]
fn each_forward_set_from_the_cti_reaches_its_target() {
    let pbx = Pbx::start_with(&[&["set-extension", "202", "ring_timeout_s=2"]]);
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let mut c204 = CtiClient::logged_in(pbx.cti, "204", "demo204");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let forward = |c: &mut CtiClient, kind: &str, target: Value| {
        ok(
            c,
            json!({"name": "set_forward", "kind": kind, "target": target}),
        );
    };
    let call_202 = |pbx: &Pbx| {
        caller(pbx, "uac_call.xml", "201", "202")
            .args(&["-d", "300"])
            .run_ok();
    };

    // Unconditional: 202 does not ring at all.
    forward(&mut c202, "unconditional", json!("203"));
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("203 (CFIM)", target);
    forward(&mut c202, "unconditional", Value::Null);

    // Busy: 202 answers 486.
    forward(&mut c202, "busy", json!("203"));
    let busy = uas(&pbx, "uas_busy.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("202 (busy)", busy);
    wait_ok("203 (CFBS)", target);
    forward(&mut c202, "busy", Value::Null);

    // No answer: 202 rings for its 2 s, then is cancelled.
    forward(&mut c202, "no_answer", json!("203"));
    let ringing = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("202 (no answer)", ringing);
    wait_ok("203 (CFNA)", target);

    // Unavailable: 204 has no registered device.
    forward(&mut c204, "unavailable", json!("203"));
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "204")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("203 (CFUN)", target);

    let cdrs = pbx.closed_cdrs(4);
    let got: Vec<_> = cdrs.iter().map(steps).collect();
    assert_eq!(
        got,
        [
            vec![pair("202", "UFWD"), pair("203", "NCC")],
            vec![pair("202", "CFWD"), pair("203", "NCC")],
            vec![pair("202", "CFWD"), pair("203", "NCC")],
            vec![pair("204", "CFWD"), pair("203", "NCC")],
        ],
        "{cdrs:#?}"
    );
    assert!(cdrs
        .iter()
        .all(|r| r["status"] == "OK" && r["answered_by"] == "203"));
    assert!(cdrs.iter().all(|r| r["caller"] == "201"));
    // Bad targets are refused with a clear error.
    let r = c202.command(json!({"name": "set_forward", "kind": "busy", "target": "202"}));
    assert_eq!(r["type"], "error", "{r}");
}

#[test]
fn hangup_from_the_cti_ends_a_connected_call() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let calling = caller(&pbx, "uac_wait_bye.xml", "201", "202").spawn();
    let id = connected_call(&mut c, "202");
    settle();
    ok(&mut c, json!({"name": "hangup", "call": id}));
    wait_ok("caller", calling);
    wait_ok("callee", callee);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["unique_id"], id.as_str());
    assert_eq!(r["status"], "OK");
    assert_eq!(steps(r), [pair("202", "NCC")]);
}

#[test]
fn hold_and_resume_from_the_cti_reinvite_the_other_party() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    // uas_hold.xml checks a=sendonly, then a=sendrecv, in the re-INVITEs it gets.
    let callee = uas(&pbx, "uas_hold.xml", p202, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "6000"])
        .spawn();
    let id = connected_call(&mut c, "202");
    settle();
    ok(&mut c, json!({"name": "hold", "call": id}));
    let held = c.wait_event("held", WAIT, |e| {
        e["kind"] == "call" && e["call"]["state"] == "held"
    });
    assert_eq!(held["call"]["held_by"], "caller", "{held}");
    c.wait_event("201 lamp hold", WAIT, |e| {
        e["kind"] == "lamp" && e["extension"] == "201" && e["lamp"] == "hold"
    });
    let r = c.command(json!({"name": "hold", "call": id}));
    assert_eq!(r["type"], "error", "already held: {r}");
    ok(&mut c, json!({"name": "resume", "call": id}));
    c.wait_event("resumed", WAIT, |e| {
        e["kind"] == "call" && e["call"]["state"] == "connected"
    });
    wait_ok("caller", calling);
    wait_ok("callee", callee);
    assert_eq!(pbx.closed_cdrs(1)[0]["status"], "OK");
}

#[test]
fn blind_transfer_from_the_cti_connects_the_caller_to_the_target() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    // 202 answers, then gets the PBX's BYE when it transfers; 203 answers and gets the
    // caller's BYE at the end.
    let (m201, m203) = (free_media_port(), free_media_port());
    let tmp = tempfile::tempdir().unwrap();
    let cap = relay_capture(&pbx, tmp.path());
    let transferor = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, m203, 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "5000", "-mp", &m201.to_string()])
        .spawn();
    let id = connected_call(&mut c, "202");
    settle();
    ok(
        &mut c,
        json!({"name": "transfer", "call": id, "number": "203"}),
    );
    wait_ok("transferor 202", transferor);
    wait_ok("caller 201", calling);
    wait_ok("target 203", target);
    let packets = cap.finish();
    // The caller's G.711 A-law (7 s long) reaches the target through the same relay, and
    // the target's tone reaches the caller.
    let to_target = relayed_to(&pbx, &packets, m203, 8);
    assert!(
        to_target >= 50,
        "203 got {to_target} PCMA packets from the caller"
    );
    let to_caller = relayed_to(&pbx, &packets, m201, 0);
    assert!(
        to_caller >= 150,
        "201 got {to_caller} PCMU packets (mostly 203's)"
    );
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["status"], "OK", "{r:#}");
    assert_eq!(r["caller"], "201");
    assert_eq!(
        steps(r),
        [pair("202", "BLINDXFER"), pair("203", "NCC")],
        "{r:#}"
    );
}

#[test]
fn attended_transfer_from_the_cti_joins_the_two_other_parties() {
    let pbx = Pbx::start();
    let mut c201 = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let (m202, m203) = (free_media_port(), free_media_port());
    let tmp = tempfile::tempdir().unwrap();
    let kept = uas(&pbx, "uas_answer.xml", p202, m202, 1);
    // 203 gets one re-INVITE pointing its media at the first call's relay.
    let consulted = uas(&pbx, "uas_reinvite.xml", p203, m203, 1);
    let first = caller(&pbx, "uac_wait_bye.xml", "201", "202").spawn();
    let x = connected_call(&mut c201, "202");
    let second = caller(&pbx, "uac_wait_bye.xml", "201", "203").spawn();
    let y = connected_call(&mut c201, "203");
    settle();
    ok(
        &mut c201,
        json!({"name": "transfer", "call": x, "consult": y}),
    );
    // 201 leaves both calls.
    wait_ok("201's first call", first);
    wait_ok("201's consultation", second);
    // 202 now talks to 203 on the first call; 202 hangs up from its CTI.
    c202.wait_event("202 with 203", WAIT, |e| {
        e["kind"] == "call"
            && e["call"]["id"] == x.as_str()
            && e["call"]["caller"]["number"] == "203"
    });
    // Both now stream PCMU tones to each other through the first call's relay (before the
    // transfer each only heard 201's PCMA).
    let cap = relay_capture(&pbx, tmp.path());
    std::thread::sleep(Duration::from_secs(2));
    let packets = cap.finish();
    let (to202, to203) = (
        relayed_to(&pbx, &packets, m202, 0),
        relayed_to(&pbx, &packets, m203, 0),
    );
    assert!(
        to202 >= 50 && to203 >= 50,
        "PCMU relayed: to 202 {to202}, to 203 {to203}"
    );
    ok(&mut c202, json!({"name": "hangup", "call": x}));
    wait_ok("kept 202", kept);
    wait_ok("consulted 203", consulted);
    let cdrs = pbx.closed_cdrs(2);
    let rx = cdrs.iter().find(|r| r["unique_id"] == x.as_str()).unwrap();
    let ry = cdrs.iter().find(|r| r["unique_id"] == y.as_str()).unwrap();
    assert_eq!(
        steps(rx),
        [pair("202", "ATXFER"), pair("203", "NCC")],
        "{rx:#}"
    );
    assert_eq!(steps(ry), [pair("203", "ATXFER")], "{ry:#}");
    assert_eq!(
        (rx["status"].as_str(), ry["status"].as_str()),
        (Some("OK"), Some("OK"))
    );
}

#[test]
fn click_to_call_from_the_cti_rings_the_user_first_with_late_offer() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let (p201, p202) = (free_udp_port(), free_udp_port());
    register(&pbx, "201", p201);
    register(&pbx, "202", p202);
    // Without a registered device there is nothing to ring first.
    let mut c204 = CtiClient::logged_in(pbx.cti, "204", "demo204");
    let r = c204.command(json!({"name": "dial", "number": "202"}));
    assert_eq!(r["type"], "error", "{r}");

    // uas_late_offer.xml checks: no SDP in the INVITE, "c2c: 202" shown, answer in the ACK.
    let (m201, m202) = (free_media_port(), free_media_port());
    let tmp = tempfile::tempdir().unwrap();
    let cap = relay_capture(&pbx, tmp.path());
    let me = uas(&pbx, "uas_late_offer.xml", p201, m201, 1);
    let callee = uas(&pbx, "uas_answer.xml", p202, m202, 1);
    let r = ok(&mut c, json!({"name": "dial", "number": "202"}));
    let id = r["data"]["call"].as_str().unwrap().to_string();
    assert_eq!(connected_call(&mut c, "202"), id);
    std::thread::sleep(Duration::from_secs(2));
    ok(&mut c, json!({"name": "hangup", "call": id}));
    wait_ok("201 (requester)", me);
    wait_ok("202 (callee)", callee);
    // Media flows both ways through the relay: the offer from 201's 2xx and the answer in
    // our ACK were right.
    let packets = cap.finish();
    let (to201, to202) = (
        relayed_to(&pbx, &packets, m201, 0),
        relayed_to(&pbx, &packets, m202, 0),
    );
    assert!(
        to201 >= 50 && to202 >= 50,
        "PCMU relayed: to 201 {to201}, to 202 {to202}"
    );
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["unique_id"], id.as_str());
    assert_eq!(r["status"], "OK", "{r:#}");
    assert_eq!(
        (r["caller"].as_str(), r["called"].as_str()),
        (Some("201"), Some("202"))
    );
    assert_eq!(r["answered_by"], "202");
    assert_eq!(r["src_peer_name"], "201");
    assert_eq!(steps(r), [pair("202", "NCC")]);
}

#[test]
fn pickup_from_the_cti_answers_a_call_ringing_elsewhere() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "203", "demo203");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let ringing = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let picker = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "2000"])
        .spawn();
    c.wait_event("202 ringing", WAIT, |e| {
        e["kind"] == "lamp" && e["extension"] == "202" && e["lamp"] == "ringing"
    });
    let r = ok(&mut c, json!({"name": "pickup", "extension": "202"}));
    let id = r["data"]["call"].as_str().unwrap().to_string();
    wait_ok("202 (cancelled)", ringing);
    wait_ok("201 (caller)", calling);
    wait_ok("203 (picker)", picker);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["unique_id"], id.as_str());
    assert_eq!(r["answered_by"], "203", "{r:#}");
    assert_eq!(steps(r), [pair("202", "PICKUP"), pair("203", "NCC")]);
    let again = c.command(json!({"name": "pickup", "extension": "202"}));
    assert_eq!(again["type"], "error", "nothing rings now: {again}");
}
