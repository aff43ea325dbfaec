//! Calls through the B2BUA between SIPp peers: media relayed, busy, unavailable,
//! no answer with overflow, cancel, parallel ringing of two accounts, and their CDRs.

use centralino_e2e::pcap::Capture;
use centralino_e2e::{free_media_port, free_udp_port, refused_scenario, register, uas, Pbx, Sipp};
use serde_json::Value;
use std::time::Duration;

fn caller(pbx: &Pbx, scenario: &str, from: &str, to: &str) -> Sipp {
    Sipp::new(scenario, pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
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

fn only(records: &[Value]) -> &Value {
    assert_eq!(records.len(), 1, "exactly one CDR: {records:#?}");
    &records[0]
}

#[test]
fn call_201_to_202_relays_rtp_both_ways() {
    let pbx = Pbx::start();
    let (p202, m202, m201) = (free_udp_port(), free_media_port(), free_media_port());
    register(&pbx, "202", p202);
    let callee = uas(&pbx, "uas_answer.xml", p202, m202, 1);
    let tmp = tempfile::tempdir().unwrap();
    let cap = Capture::start(
        tmp.path(),
        &format!("udp and portrange {}-{}", pbx.rtp.0, pbx.rtp.1),
    );
    caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-mp", &m201.to_string(), "-d", "3000"])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(20));
    assert!(ok, "callee scenario: {out}");
    let packets = cap.finish();
    let relay = |p: u16| (pbx.rtp.0..=pbx.rtp.1).contains(&p);
    // What the callee received from the relay: the caller's PCMA audio and its DTMF.
    let to_callee: Vec<_> = packets
        .iter()
        .filter(|d| relay(d.src.port()) && d.dst.port() == m202)
        .collect();
    let pcma = to_callee
        .iter()
        .filter(|d| d.rtp_payload_type() == Some(8))
        .count();
    let dtmf = to_callee
        .iter()
        .filter(|d| d.rtp_payload_type() == Some(101))
        .count();
    // What the caller received from the relay: the callee's PCMU tone.
    let to_caller = packets
        .iter()
        .filter(|d| relay(d.src.port()) && d.dst.port() == m201 && d.rtp_payload_type() == Some(0))
        .count();
    assert!(
        pcma >= 80,
        "callee got {pcma} PCMA packets through the relay"
    );
    assert!(
        dtmf >= 3,
        "callee got {dtmf} RFC 4733 packets through the relay"
    );
    assert!(
        to_caller >= 100,
        "caller got {to_caller} PCMU packets through the relay"
    );
    // Nothing bypassed the relay.
    assert!(packets
        .iter()
        .all(|d| relay(d.src.port()) || relay(d.dst.port())));

    let cdrs = pbx.closed_cdrs(1);
    let r = only(&cdrs);
    assert_eq!(r["status"], "OK");
    assert_eq!(r["source_type"], "local_exten");
    assert_eq!(r["destination_type"], "local_exten");
    assert_eq!(r["caller"], "201");
    assert_eq!(r["called"], "202");
    assert_eq!(r["answered_by"], "202");
    assert!(r["bill_secs"].as_f64().unwrap() >= 3.0, "{r}");
    assert!(!r["answer_datetime"].is_null() && !r["end_datetime"].is_null());
    assert_eq!(r["details"][0]["detail_destination_id"], "202");
    assert_eq!(r["details"][0]["detail_exit_cause"], "NCC");
}

#[test]
fn busy_callee_gives_486_and_busy_record() {
    let pbx = Pbx::start();
    let p = free_udp_port();
    register(&pbx, "203", p);
    let callee = uas(&pbx, "uas_busy.xml", p, free_media_port(), 1);
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 486).to_str().unwrap(),
        "201",
        "203",
    )
    .run_ok();
    assert!(callee.wait(Duration::from_secs(10)).0);
    let cdrs = pbx.closed_cdrs(1);
    let r = only(&cdrs);
    assert_eq!(r["status"], "BUSY");
    assert_eq!(r["details"][0]["detail_exit_cause"], "BUSY");
    assert!(r["answer_datetime"].is_null());
}

#[test]
fn unregistered_callee_gives_480_and_unavailable_record() {
    let pbx = Pbx::start();
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 480).to_str().unwrap(),
        "201",
        "205",
    )
    .run_ok();
    let cdrs = pbx.closed_cdrs(1);
    let r = only(&cdrs);
    assert_eq!(r["status"], "UNAVAILABLE");
    assert_eq!(r["details"][0]["detail_exit_cause"], "UNAVAILABLE");
}

#[test]
fn unknown_number_gives_404_and_failed_record() {
    let pbx = Pbx::start();
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 404).to_str().unwrap(),
        "201",
        "999",
    )
    .run_ok();
    let r = only(&pbx.closed_cdrs(1)).clone();
    assert_eq!(r["status"], "FAILED");
}

#[test]
fn no_answer_times_out_then_overflows_to_another_extension() {
    let pbx = Pbx::start_with(&[&[
        "set-extension",
        "206",
        "ring_timeout_s=2",
        "overflow_noanswer=extension:207",
    ]]);
    let (p206, p207) = (free_udp_port(), free_udp_port());
    register(&pbx, "206", p206);
    register(&pbx, "207", p207);
    let ringing = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let answering = uas(&pbx, "uas_answer.xml", p207, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "206")
        .args(&["-mp", &free_media_port().to_string(), "-d", "500"])
        .run_ok();
    let (ok, out) = ringing.wait(Duration::from_secs(10));
    assert!(ok, "206 was rung then cancelled: {out}");
    assert!(answering.wait(Duration::from_secs(10)).0);
    let cdrs = pbx.closed_cdrs(1);
    let r = only(&cdrs);
    assert_eq!(r["status"], "OK");
    assert_eq!(r["answered_by"], "207");
    let d = r["details"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{r:#}");
    assert_eq!(d[0]["detail_destination_id"], "206");
    assert_eq!(d[0]["detail_exit_cause"], "NOANSWER");
    assert_eq!(d[1]["detail_destination_id"], "207");
    assert_eq!(d[1]["detail_exit_cause"], "NCC");
    let waited = d[0]["detail_exit_datetime"].as_str().unwrap()
        > d[0]["detail_enter_datetime"].as_str().unwrap();
    assert!(waited);
}

#[test]
fn cancel_before_answer_leaves_canceled_record() {
    let pbx = Pbx::start();
    let p = free_udp_port();
    register(&pbx, "208", p);
    let callee = uas(&pbx, "uas_noanswer.xml", p, free_media_port(), 1);
    caller(&pbx, "uac_cancel.xml", "201", "208")
        .args(&["-mp", &free_media_port().to_string(), "-d", "1000"])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(10));
    assert!(ok, "the callee saw the CANCEL: {out}");
    let r = only(&pbx.closed_cdrs(1)).clone();
    assert_eq!(r["status"], "CANCELED");
    assert_eq!(r["details"][0]["detail_exit_cause"], "CANCELED");
}

#[test]
fn extension_with_two_accounts_rings_both_and_cancels_the_loser() {
    let pbx = Pbx::start_with(&[&["add-account", "204", "204b", "secret-204b"]]);
    let (pa, pb) = (free_udp_port(), free_udp_port());
    register(&pbx, "204", pa);
    Sipp::new("register.xml", pbx.sip)
        .args(&[
            "-p",
            &pb.to_string(),
            "-s",
            "204b",
            "-au",
            "204b",
            "-ap",
            "secret-204b",
            "-m",
            "1",
        ])
        .run_ok();
    // Locations reach the database through the background writer.
    pbx.wait_for("two locations stored", Duration::from_secs(5), |p| {
        p.locations().len() == 2
    });
    let answers = uas(&pbx, "uas_answer.xml", pa, free_media_port(), 1);
    let loses = uas(&pbx, "uas_noanswer.xml", pb, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "204")
        .args(&["-mp", &free_media_port().to_string(), "-d", "500"])
        .run_ok();
    let (ok, out) = loses.wait(Duration::from_secs(10));
    assert!(ok, "the second device rang and was cancelled: {out}");
    assert!(answers.wait(Duration::from_secs(10)).0);
    let r = only(&pbx.closed_cdrs(1)).clone();
    assert_eq!(r["status"], "OK");
    assert_eq!(r["answered_by"], "204");
}

#[test]
fn hold_and_resume_reinvites_pass_through_with_media_kept_on_the_relay() {
    let pbx = Pbx::start();
    let p = free_udp_port();
    register(&pbx, "202", p);
    let callee = uas(&pbx, "uas_hold.xml", p, free_media_port(), 1);
    // uac_hold.xml fails unless each 200 carries the answered direction and the relay's
    // address; uas_hold.xml fails unless each re-INVITE offers the caller's direction.
    caller(&pbx, "uac_hold.xml", "201", "202")
        .args(&["-mp", &free_media_port().to_string()])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(10));
    assert!(ok, "callee saw hold and resume: {out}");
    let r = only(&pbx.closed_cdrs(1)).clone();
    assert_eq!(r["status"], "OK");
}

#[test]
fn caller_over_tcp_reaches_callee_over_udp() {
    let pbx = Pbx::start();
    let p = free_udp_port();
    register(&pbx, "202", p);
    let callee = uas(&pbx, "uas_answer.xml", p, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "202")
        .args(&[
            "-t",
            "t1",
            "-mp",
            &free_media_port().to_string(),
            "-d",
            "500",
        ])
        .run_ok();
    assert!(callee.wait(Duration::from_secs(10)).0);
    let r = only(&pbx.closed_cdrs(1)).clone();
    assert_eq!(r["status"], "OK");
    assert_eq!(r["answered_by"], "202");
}

#[test]
fn registration_check_refuses_invite_from_an_unregistered_address() {
    let pbx = Pbx::start_with(&[&["set-account", "201", "registration_check=1"]]);
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 403).to_str().unwrap(),
        "201",
        "202",
    )
    .run_ok();
    // Registered from one port, calling from another: still refused.
    let p201 = free_udp_port();
    register(&pbx, "201", p201);
    caller(
        &pbx,
        refused_scenario(tmp.path(), 403).to_str().unwrap(),
        "201",
        "202",
    )
    .run_ok();
    // From the registered address and port: the call goes through.
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    Sipp::new("uac_call.xml", pbx.sip)
        .args(&[
            "-p",
            &p201.to_string(),
            "-mp",
            &free_media_port().to_string(),
            "-s",
            "202",
        ])
        .args(&[
            "-set", "caller", "201", "-au", "201", "-ap", "demo201", "-m", "1", "-d", "300",
        ])
        .run_ok();
    assert!(callee.wait(Duration::from_secs(10)).0);
}

#[test]
fn busy_level_reached_gives_486_without_ringing_the_phone() {
    let pbx = Pbx::start_with(&[&["set-extension", "203", "busy_level=1"]]);
    let p = free_udp_port();
    register(&pbx, "203", p);
    // The callee answers one call only: a second INVITE reaching it would fail the test.
    let callee = uas(&pbx, "uas_answer.xml", p, free_media_port(), 1);
    let first = caller(&pbx, "uac_call.xml", "201", "203")
        .args(&["-mp", &free_media_port().to_string(), "-d", "3000"])
        .spawn();
    pbx.wait_for("first call connected", Duration::from_secs(10), |p| {
        p.metrics()["active_calls"] == 1
    });
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 486).to_str().unwrap(),
        "202",
        "203",
    )
    .run_ok();
    assert!(first.wait(Duration::from_secs(15)).0);
    assert!(callee.wait(Duration::from_secs(10)).0);
    let cdrs = pbx.closed_cdrs(2);
    let statuses: Vec<_> = cdrs
        .iter()
        .map(|r| r["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["OK", "BUSY"]);
    assert_eq!(cdrs[1]["caller"], "202");
}
