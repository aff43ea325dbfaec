//! Call control over REST, as thin adapters over the same core operations as the CTI:
//! click-to-call (`/rest/phoneServices/c2c/{dest}/{src}`), the list of active calls, hold
//! and resume, blind transfer and hangup, checked on the SIP the SIPp phones see and on
//! the call records.

use super::rest_util::{caller, Api};
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, SippChild};
use serde_json::{json, Value};
use std::time::Duration;

fn wait_ok(name: &str, child: SippChild) {
    let (ok, out) = child.wait(Duration::from_secs(30));
    assert!(ok, "{name}: {out}");
}

/// Waits for one active call in `state`; returns it.
fn call_in(pbx: &Pbx, api: &Api, state: &str) -> Value {
    let mut found = Value::Null;
    pbx.wait_for(&format!("a {state} call"), Duration::from_secs(15), |_| {
        let calls = api.expect(200, "get", "/rest/call", None);
        match calls
            .as_array()
            .and_then(|c| c.iter().find(|c| c["state"] == state))
        {
            Some(c) => {
                found = c.clone();
                true
            }
            None => false,
        }
    });
    found
}

fn steps(r: &Value) -> Vec<(String, String)> {
    r["details"]
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

#[test]
fn click_to_call_list_hold_resume_and_hangup_over_rest() {
    let pbx = Pbx::start_with(&[
        &["set-user", "201", "api_access=1"],
        &["set-user", "203", "api_access=1"],
    ]);
    let me = Api::new(pbx.http, "201", "demo201");
    let admin = Api::new(pbx.http, "admin", "admin");
    let (p201, p202) = (free_udp_port(), free_udp_port());
    register(&pbx, "201", p201);
    register(&pbx, "202", p202);
    // Someone else's extension: 403; a bad destination: 400.
    me.expect(403, "get", "/rest/phoneServices/c2c/202/203", None);
    me.expect(400, "get", "/rest/phoneServices/c2c/2%200/201", None);
    // 201 rings first (late offer, "c2c: 202" shown), then 202.
    let first = uas(&pbx, "uas_late_offer.xml", p201, free_media_port(), 1);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let r = me.expect(200, "get", "/rest/phoneServices/c2c/202/201", None);
    let id = r["callId"].as_str().unwrap().to_string();
    let call = call_in(&pbx, &me, "connected");
    assert_eq!(
        (
            call["id"].as_str(),
            call["caller"].as_str(),
            call["called"].as_str()
        ),
        (Some(id.as_str()), Some("201"), Some("202"))
    );
    // 203 is no party: it sees nothing and may do nothing.
    let other = Api::new(pbx.http, "203", "demo203");
    assert_eq!(other.expect(200, "get", "/rest/call", None), json!([]));
    other.expect(404, "post", &format!("/rest/call/{id}/hangup"), None);
    std::thread::sleep(Duration::from_secs(1));
    me.expect(200, "post", &format!("/rest/call/{id}/hangup"), None);
    wait_ok("201 (requester)", first);
    wait_ok("202 (callee)", callee);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(
        (r["unique_id"].as_str(), r["status"].as_str()),
        (Some(id.as_str()), Some("OK")),
        "{r:#}"
    );

    // Hold and resume, by the administrator acting for 201's side.
    let callee = uas(&pbx, "uas_hold.xml", p202, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "6000"])
        .spawn();
    let call = call_in(&pbx, &admin, "connected");
    let id = call["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    admin.expect(
        200,
        "post",
        &format!("/rest/call/{id}/hold"),
        Some(&json!({"extension": "201"})),
    );
    call_in(&pbx, &admin, "held");
    admin.expect(
        409,
        "post",
        &format!("/rest/call/{id}/hold"),
        Some(&json!({"extension": "201"})),
    );
    admin.expect(
        400,
        "post",
        &format!("/rest/call/{id}/hold"),
        Some(&json!({"extension": "205"})),
    );
    me.expect(200, "post", &format!("/rest/call/{id}/resume"), None);
    call_in(&pbx, &admin, "connected");
    wait_ok("caller", calling);
    wait_ok("callee (sendonly, then sendrecv)", callee);
}

#[test]
fn blind_transfer_over_rest_connects_the_caller_to_the_target() {
    let pbx = Pbx::start_with(&[&["set-user", "202", "api_access=1"]]);
    let me = Api::new(pbx.http, "202", "demo202");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let transferor = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "5000"])
        .spawn();
    let call = call_in(&pbx, &me, "connected");
    let id = call["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    me.expect(
        400,
        "post",
        &format!("/rest/call/{id}/transfer"),
        Some(&json!({"number": "20 3"})),
    );
    me.expect(
        200,
        "post",
        &format!("/rest/call/{id}/transfer"),
        Some(&json!({"number": "203"})),
    );
    wait_ok("transferor 202", transferor);
    wait_ok("caller 201", calling);
    wait_ok("target 203", target);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["status"], "OK", "{r:#}");
    let want = [
        ("202".to_string(), "BLINDXFER".to_string()),
        ("203".to_string(), "NCC".to_string()),
    ];
    assert_eq!(steps(r), want, "{r:#}");
}

#[test]
fn a_ringing_call_is_redirected_over_rest_and_the_seed_v2_path() {
    let pbx = Pbx::start_with(&[
        &["set-user", "202", "api_access=1"],
        &["set-user", "203", "api_access=1"],
    ]);
    let me = Api::new(pbx.http, "202", "demo202");
    let other = Api::new(pbx.http, "203", "demo203");
    let admin = Api::new(pbx.http, "admin", "admin");
    let (p202, p203, p204) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    register(&pbx, "204", p204);

    // 201 calls 202, which rings; 202's user sends it to 203 (native path), who answers.
    let rung = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "1500"])
        .spawn();
    let call = call_in(&pbx, &me, "ringing");
    let id = call["id"].as_str().unwrap().to_string();
    // Not 203's call to move, a bad number, an unknown call.
    other.expect(
        404,
        "post",
        &format!("/rest/call/{id}/redirect"),
        Some(&json!({"number": "203"})),
    );
    me.expect(
        400,
        "post",
        &format!("/rest/call/{id}/redirect"),
        Some(&json!({"number": "2 3"})),
    );
    me.expect(
        404,
        "post",
        "/rest/call/nope/redirect",
        Some(&json!({"number": "203"})),
    );
    me.expect(
        404,
        "post",
        &format!("/rest/call/{id}/redirect"),
        Some(&json!({"number": "299"})),
    );
    me.expect(
        200,
        "post",
        &format!("/rest/call/{id}/redirect"),
        Some(&json!({"number": "203"})),
    );
    wait_ok("202 (rung, cancelled)", rung);
    wait_ok("203 (answered)", target);
    wait_ok("201 (caller)", calling);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["status"], "OK", "{r:#}");
    assert_eq!(r["answered_by"], "203", "{r:#}");
    assert_eq!(
        steps(r),
        [
            ("202".to_string(), "BLINDXFER".to_string()),
            ("203".to_string(), "NCC".to_string())
        ],
        "{r:#}"
    );

    // The seed's v2 path, by the administrator, naming the rung extension as the source;
    // an answered call cannot be redirected any more.
    let rung = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p204, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "3000"])
        .spawn();
    let call = call_in(&pbx, &admin, "ringing");
    let id = call["id"].as_str().unwrap().to_string();
    admin.expect(
        400,
        "get",
        &format!("/api/pbx/v2/phoneService/redirectCall/{id}/internal/204/203"),
        None,
    );
    admin.expect(
        200,
        "get",
        &format!("/api/pbx/v2/phoneService/redirectCall/{id}/internal/204/202"),
        None,
    );
    wait_ok("202 (rung, cancelled)", rung);
    call_in(&pbx, &admin, "connected");
    admin.expect(
        409,
        "get",
        &format!("/api/pbx/v2/phoneService/redirectCall/{id}/internal/203"),
        None,
    );
    wait_ok("204 (answered)", target);
    wait_ok("201 (caller)", calling);
    let records = pbx.closed_cdrs(2);
    let r = records
        .iter()
        .find(|r| r["unique_id"] == id.as_str())
        .unwrap();
    assert_eq!(r["answered_by"], "204", "{r:#}");
    assert_eq!(
        steps(r),
        [
            ("202".to_string(), "BLINDXFER".to_string()),
            ("204".to_string(), "NCC".to_string())
        ],
        "{r:#}"
    );
}
