//! Telephone services with real SIPp phones (issue 4, acceptance 3): ring groups, feature
//! codes for DND and the forwards, directed and group pickup, call park, transfers by RFC 4733
//! DTMF; each checked on the SIP the phones see and on the call records' exit causes.

use super::blf::{subscriber, wait_notifies};
use super::control::{caller, connected_call, ok, pair, settle, steps, wait_ok, WAIT};
use centralino_e2e::blf::{notifies, states};
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{
    free_media_port, free_udp_port, keys_scenario, refused_scenario, register, uas, Pbx,
};
use serde_json::{json, Value};
use std::time::Duration;

#[test]
fn ring_group_tiers_ring_in_order_then_overflow() {
    // Group 650 (demo: 206 and 207): 206 in tier 1, 207 in tier 2, 2 s each, then 208.
    let pbx = Pbx::start_with(&[
        &[
            "set-ring-group-member",
            "650",
            "206",
            "--tier",
            "1",
            "--ring-s",
            "2",
        ],
        &[
            "set-ring-group-member",
            "650",
            "207",
            "--tier",
            "2",
            "--ring-s",
            "2",
        ],
        &["set-ring-group", "650", "overflow=extension:208"],
    ]);
    let (p206, p207, p208) = (free_udp_port(), free_udp_port(), free_udp_port());
    register(&pbx, "206", p206);
    register(&pbx, "207", p207);
    register(&pbx, "208", p208);

    // Tier 1 rings out, tier 2 answers.
    let first = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let second = uas(&pbx, "uas_answer.xml", p207, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "650")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("206 (tier 1, no answer)", first);
    wait_ok("207 (tier 2)", second);

    // Nobody answers: the overflow (208) takes the call.
    let first = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let second = uas(&pbx, "uas_noanswer.xml", p207, free_media_port(), 1);
    let overflow = uas(&pbx, "uas_answer.xml", p208, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "202", "650")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("206", first);
    wait_ok("207", second);
    wait_ok("208 (overflow)", overflow);

    let cdrs = pbx.closed_cdrs(2);
    assert_eq!(cdrs[0]["destination_type"], "callg", "{cdrs:#?}");
    assert_eq!(cdrs[0]["answered_by"], "207");
    assert_eq!(steps(&cdrs[0]), [pair("650", "NCC")]);
    assert_eq!(cdrs[1]["answered_by"], "208");
    assert_eq!(
        steps(&cdrs[1]),
        [pair("650", "NOANSWER"), pair("208", "NCC")],
        "{cdrs:#?}"
    );
}

/// A feature-code call from `from`: answered by the PBX, which hangs it up a moment later.
fn code(pbx: &Pbx, from: &str, dialled: &str) {
    caller(pbx, "uac_wait_bye.xml", from, dialled).run_ok();
}

/// The records of calls to `called`, in order.
fn records_to(pbx: &Pbx, n: usize, called: &str) -> Vec<Value> {
    pbx.closed_cdrs(n)
        .into_iter()
        .filter(|r| r["called"] == called)
        .collect()
}

#[test]
fn forwards_and_dnd_set_by_feature_codes_route_the_calls() {
    let pbx = Pbx::start_with(&[&["set-extension", "202", "ring_timeout_s=2"]]);
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let call_202 = |pbx: &Pbx| {
        caller(pbx, "uac_call.xml", "201", "202")
            .args(&["-d", "300"])
            .run_ok();
    };
    let forward_seen = |c: &mut CtiClient, kind: &str, target: Value| {
        c.wait_event(&format!("{kind} forward {target}"), WAIT, |e| {
            e["kind"] == "services" && e["services"]["forwards"][kind] == target
        });
    };

    // Unconditional: 811<dest>, seen by the CTI like a forward set there.
    code(&pbx, "202", "811203");
    forward_seen(&mut c202, "unconditional", json!("203"));
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("203 (CFIM)", target);
    code(&pbx, "202", "810");
    forward_seen(&mut c202, "unconditional", Value::Null);

    // Busy.
    code(&pbx, "202", "821203");
    forward_seen(&mut c202, "busy", json!("203"));
    let busy = uas(&pbx, "uas_busy.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("202 (busy)", busy);
    wait_ok("203 (CFBS)", target);
    code(&pbx, "202", "820");
    forward_seen(&mut c202, "busy", Value::Null);

    // No answer.
    code(&pbx, "202", "831203");
    forward_seen(&mut c202, "no_answer", json!("203"));
    let ringing = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    call_202(&pbx);
    wait_ok("202 (no answer)", ringing);
    wait_ok("203 (CFNA)", target);
    code(&pbx, "202", "830");
    forward_seen(&mut c202, "no_answer", Value::Null);

    // Unavailable: 204 has no registered device.
    let mut c204 = CtiClient::logged_in(pbx.cti, "204", "demo204");
    code(&pbx, "204", "861203");
    forward_seen(&mut c204, "unavailable", json!("203"));
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "204")
        .args(&["-d", "300"])
        .run_ok();
    wait_ok("203 (CFUN)", target);

    // DND: 871 on, the caller hears 480 without 202 ringing; 870 off.
    code(&pbx, "202", "871");
    c202.wait_event("dnd on", WAIT, |e| {
        e["kind"] == "services" && e["services"]["dnd"] == true
    });
    let tmp = tempfile::tempdir().unwrap();
    let refused = refused_scenario(tmp.path(), 480);
    caller(&pbx, refused.to_str().unwrap(), "201", "202").run_ok();
    code(&pbx, "202", "870");
    c202.wait_event("dnd off", WAIT, |e| {
        e["kind"] == "services" && e["services"]["dnd"] == false
    });

    let to202 = records_to(&pbx, 14, "202");
    let got: Vec<_> = to202.iter().map(steps).collect();
    assert_eq!(
        got,
        [
            vec![pair("202", "UFWD"), pair("203", "NCC")],
            vec![pair("202", "CFWD"), pair("203", "NCC")],
            vec![pair("202", "CFWD"), pair("203", "NCC")],
            vec![pair("202", "UNAVAILABLE")],
        ],
        "{to202:#?}"
    );
    assert_eq!(to202[3]["status"], "UNAVAILABLE");
    let to204 = records_to(&pbx, 14, "204");
    assert_eq!(steps(&to204[0]), [pair("204", "CFWD"), pair("203", "NCC")]);
    // Each code call has its own record: one service step, answered by the code.
    let codes = records_to(&pbx, 14, "811203");
    assert_eq!(steps(&codes[0]), [pair("cfim_on", "NCC")], "{codes:#?}");
    assert_eq!(codes[0]["answered_by"], "811203");
    assert_eq!(codes[0]["destination_type"], "service");
}

#[test]
fn directed_and_group_pickup_by_code_answer_a_call_ringing_elsewhere() {
    let pbx = Pbx::start();
    let mut c = CtiClient::logged_in(pbx.cti, "203", "demo203");
    let (p202, p204) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "204", p204);

    // Directed: 203 dials **202 while 202 rings.
    let ringing = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let calling = caller(&pbx, "uac_wait_bye.xml", "201", "202").spawn();
    c.wait_event("202 ringing", WAIT, |e| {
        e["kind"] == "lamp" && e["extension"] == "202" && e["lamp"] == "ringing"
    });
    caller(&pbx, "uac_call.xml", "203", "**202")
        .args(&["-d", "1500"])
        .run_ok();
    wait_ok("202 (cancelled)", ringing);
    wait_ok("201 (caller)", calling);

    // Group: the demo's pickup group "office" (202-205); 205 dials *9 while 204 rings.
    let ringing = uas(&pbx, "uas_noanswer.xml", p204, free_media_port(), 1);
    let calling = caller(&pbx, "uac_wait_bye.xml", "201", "204").spawn();
    c.wait_event("204 ringing", WAIT, |e| {
        e["kind"] == "lamp" && e["extension"] == "204" && e["lamp"] == "ringing"
    });
    caller(&pbx, "uac_call.xml", "205", "*9")
        .args(&["-d", "1500"])
        .run_ok();
    wait_ok("204 (cancelled)", ringing);
    wait_ok("201 (caller)", calling);

    let direct = &records_to(&pbx, 4, "202")[0];
    assert_eq!(direct["answered_by"], "203", "{direct:#}");
    assert_eq!(steps(direct), [pair("202", "PICKUP"), pair("203", "NCC")]);
    let group = &records_to(&pbx, 4, "204")[0];
    assert_eq!(group["answered_by"], "205", "{group:#}");
    assert_eq!(steps(group), [pair("204", "PICKUP"), pair("205", "NCC")]);
    let by_code = &records_to(&pbx, 4, "**202")[0];
    assert_eq!(steps(by_code), [pair("direct_pickup", "PICKUP")]);
    let by_code = &records_to(&pbx, 4, "*9")[0];
    assert_eq!(steps(by_code), [pair("group_pickup", "PICKUP")]);
}

#[test]
fn park_by_transfer_to_888_lights_the_slot_and_dialling_it_retrieves() {
    let pbx = Pbx::start();
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("slot.log");
    let (p202, p205) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    // 205's BLF key on slot 890.
    let sub = subscriber(&pbx, p205, "205", "890", &log).spawn();
    wait_notifies(&pbx, &log, 1);

    let parker = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let parked = caller(&pbx, "uac_parked.xml", "201", "202").spawn();
    let id = connected_call(&mut c202, "202");
    settle();
    ok(
        &mut c202,
        json!({"name": "transfer", "call": id, "number": "888"}),
    );
    wait_ok("202 (parker, let go)", parker);
    let slot = c202.wait_event("slot 890 taken", WAIT, |e| {
        e["kind"] == "park_slot" && e["slot"]["slot"] == "890" && e["slot"]["lamp"] == "hold"
    });
    assert_eq!(slot["slot"]["peer"]["number"], "201", "{slot}");
    // 203 dials the slot and talks to 201; 203 hangs up.
    caller(&pbx, "uac_call.xml", "203", "890")
        .args(&["-d", "1500"])
        .run_ok();
    wait_ok("201 (parked, retrieved)", parked);
    c202.wait_event("slot 890 free", WAIT, |e| {
        e["kind"] == "park_slot" && e["slot"]["slot"] == "890" && e["slot"]["lamp"] == "idle"
    });
    // A client starting now sees the slots in its snapshot.
    let mut later = CtiClient::connect(pbx.cti);
    let snap = later.login("203", "demo203", None);
    let slots = snap["park_slots"].as_array().unwrap();
    assert_eq!(slots.len(), 10, "{snap}");
    assert_eq!(slots[0]["slot"], "890");
    assert_eq!(slots[0]["lamp"], "idle");
    assert_eq!(snap["extensions"].as_array().unwrap().len(), 8);
    let (done, out) = sub.wait(Duration::from_secs(30));
    let seen = notifies(&std::fs::read_to_string(&log).unwrap_or_default());
    assert!(done, "subscriber: {out}\n{seen:#?}");
    let shown: Vec<(String, String)> = states(&seen);
    assert_eq!(
        shown,
        [
            ("890", "idle"),
            ("890", "hold"),
            ("890", "idle"),
            ("890", "idle")
        ]
        .map(|(e, s)| (e.to_string(), s.to_string())),
        "{seen:#?}"
    );
    let r = &records_to(&pbx, 2, "202")[0];
    assert_eq!(r["unique_id"], id.as_str());
    assert_eq!(
        steps(r),
        [pair("202", "PARKED"), pair("203", "NCC")],
        "{r:#}"
    );
}

#[test]
fn an_unretrieved_park_rings_the_parker_again() {
    let pbx = Pbx::start_with_args(&[], &["--park-timeout-s", "2"]);
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    // 202 answers, parks, then answers the same call ringing again.
    let parker = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 2);
    let parked = caller(&pbx, "uac_parked.xml", "201", "202").spawn();
    let id = connected_call(&mut c202, "202");
    settle();
    ok(
        &mut c202,
        json!({"name": "transfer", "call": id, "number": "888"}),
    );
    c202.wait_event("back at 202", WAIT, |e| {
        e["kind"] == "call"
            && e["call"]["id"] == id.as_str()
            && e["call"]["state"] == "connected"
            && e["call"]["callee"]["number"] == "202"
    });
    settle();
    ok(&mut c202, json!({"name": "hangup", "call": id}));
    wait_ok("201 (parked)", parked);
    wait_ok("202 (parker, rung again)", parker);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(
        steps(r),
        [pair("202", "PARKED"), pair("202", "NCC")],
        "{r:#}"
    );
}

#[test]
fn keys_pressed_during_a_call_transfer_blind_and_park() {
    let pbx = Pbx::start();
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let tmp = tempfile::tempdir().unwrap();
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);

    // Blind: 202 answers 201 and presses #4203#; the PBX lets 202 go and rings 203, who
    // answers and gets the caller's BYE at the end.
    let blind = keys_scenario(tmp.path(), "uas_keys.xml", "#4203#");
    let transferor = uas(&pbx, blind.to_str().unwrap(), p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "8000"])
        .spawn();
    wait_ok("transferor 202 (let go by the PBX)", transferor);
    wait_ok("target 203", target);
    wait_ok("caller 201", calling);
    let r = &records_to(&pbx, 1, "202")[0];
    assert_eq!(r["status"], "OK", "{r:#}");
    assert_eq!(
        steps(r),
        [pair("202", "BLINDXFER"), pair("203", "NCC")],
        "{r:#}"
    );

    // Park: 202 answers 201 and presses #8; 201 waits in the first slot, 203 dials it.
    let park = keys_scenario(tmp.path(), "uas_keys.xml", "#8");
    let parker = uas(&pbx, park.to_str().unwrap(), p202, free_media_port(), 1);
    let parked = caller(&pbx, "uac_parked.xml", "201", "202").spawn();
    wait_ok("202 (parker, let go)", parker);
    let slot = c202.wait_event("slot 890 taken", WAIT, |e| {
        e["kind"] == "park_slot" && e["slot"]["slot"] == "890" && e["slot"]["lamp"] == "hold"
    });
    assert_eq!(slot["slot"]["peer"]["number"], "201", "{slot}");
    caller(&pbx, "uac_call.xml", "203", "890")
        .args(&["-d", "1500"])
        .run_ok();
    wait_ok("201 (parked, retrieved)", parked);
    // The blind transfer's record, then the park's.
    let records = records_to(&pbx, 3, "202");
    assert_eq!(records.len(), 2, "{records:#?}");
    let r = &records[1];
    assert_eq!(
        steps(r),
        [pair("202", "PARKED"), pair("203", "NCC")],
        "{r:#}"
    );
}

#[test]
fn star4_consults_with_the_other_party_held_and_hanging_up_completes_the_transfer() {
    let pbx = Pbx::start();
    let mut c203 = CtiClient::logged_in(pbx.cti, "203", "demo203");
    let tmp = tempfile::tempdir().unwrap();
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);

    // 201 calls 202, which presses *4203#: 201 is held by the PBX, 203 answers the
    // consultation and gets 202's media (re-INVITE of 202); 202 hangs up after 2 s, 203's
    // media moves to 201's call (re-INVITE of 203) and 201 comes off hold.
    let consult = keys_scenario(tmp.path(), "uas_keys_consult.xml", "*4203#");
    let transferor = uas(&pbx, consult.to_str().unwrap(), p202, free_media_port(), 1);
    let consulted = uas(&pbx, "uas_reinvite.xml", p203, free_media_port(), 1);
    let transferee = caller(&pbx, "uac_parked.xml", "201", "202").spawn();
    wait_ok("transferor 202 (hung up to complete)", transferor);
    // 201 and 203 talk; 203 ends it from its CTI.
    let ev = c203.wait_event("203 talking to 201", WAIT, |e| {
        e["kind"] == "call"
            && e["call"]["state"] == "connected"
            && e["call"]["callee"]["number"] == "203"
            && e["call"]["caller"]["number"] == "201"
    });
    let id = ev["call"]["id"].as_str().unwrap().to_string();
    settle();
    ok(&mut c203, json!({"name": "hangup", "call": id}));
    wait_ok("transferee 201 (held, then back)", transferee);
    wait_ok("consulted 203 (re-pointed)", consulted);

    let records = pbx.closed_cdrs(2);
    let original = records
        .iter()
        .find(|r| r["caller"] == "201")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(original["status"], "OK", "{original:#}");
    assert_eq!(original["unique_id"], id.as_str());
    assert_eq!(
        steps(original),
        [pair("202", "ATXFER"), pair("203", "NCC")],
        "{original:#}"
    );
    let consultation = records
        .iter()
        .find(|r| r["caller"] == "202")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(consultation["called"], "203", "{consultation:#}");
    assert_eq!(consultation["status"], "OK", "{consultation:#}");
    assert_eq!(
        steps(consultation),
        [pair("203", "ATXFER")],
        "{consultation:#}"
    );
}

#[test]
fn star4_to_a_busy_number_returns_the_consulting_party_to_its_call() {
    let pbx = Pbx::start();
    let tmp = tempfile::tempdir().unwrap();
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    // 203 answers 486: the consultation fails, 202 is re-pointed back to 201's call (its
    // re-INVITE, sent once 201's hold is answered), 201 comes off hold; 202 then hangs up.
    let consult = keys_scenario(tmp.path(), "uas_keys_consult.xml", "*4203#");
    let transferor = uas(&pbx, consult.to_str().unwrap(), p202, free_media_port(), 1);
    let busy = uas(&pbx, "uas_busy.xml", p203, free_media_port(), 1);
    let transferee = caller(&pbx, "uac_parked.xml", "201", "202").spawn();
    wait_ok(
        "consulting 202 (back in its call, then hung up)",
        transferor,
    );
    wait_ok("transferee 201 (held, then back)", transferee);
    wait_ok("busy 203", busy);
    let records = pbx.closed_cdrs(2);
    let original = records
        .iter()
        .find(|r| r["caller"] == "201")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(original["status"], "OK", "{original:#}");
    assert_eq!(steps(original), [pair("202", "NCC")], "{original:#}");
    let consultation = records
        .iter()
        .find(|r| r["caller"] == "202")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(consultation["called"], "203", "{consultation:#}");
    assert_eq!(consultation["status"], "BUSY", "{consultation:#}");
}
