//! Queues, ring groups and pickup groups configured over the REST API, effective without a
//! restart (issue 7): SIPp agents are rung by a queue created over the API, a member removed
//! over the API is no longer rung and one added is; a ring group created over the API rings
//! its member; pickup groups set over the API let a phone pick up with `*9`; bad input and
//! missing rights are structured 4xx answers.

use super::queues::{caller, Agent, WAIT};
use super::rest_util::Api;
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{free_media_port, free_udp_port, refused_scenario, register, uas, Pbx};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Who answered each record, oldest first, once `n` are closed.
fn answered_by(pbx: &Pbx, n: usize) -> Vec<String> {
    pbx.closed_cdrs(n)
        .iter()
        .map(|r| r["answered_by"].as_str().unwrap_or("-").to_string())
        .collect()
}

fn members(q: &Value) -> Vec<(String, i64)> {
    q["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["extension"].as_str().unwrap().to_string(),
                m["penalty"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The next snapshot a connected client receives (the hub sends one after a configuration
/// change).
fn fresh_snapshot(c: &mut CtiClient) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no fresh snapshot");
        if let Some(v) = c.read(left) {
            if v["type"] == "snapshot" {
                return v;
            }
        }
    }
}

#[test]
fn a_queue_created_over_the_api_rings_its_members_and_follows_member_changes() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut supervisor = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let t0 = Instant::now();
    let q = admin.expect(
        201,
        "post",
        "/rest/queue",
        Some(&json!({
            "number": "610", "name": "Vendite", "strategy": "ringall", "maxWait": 60,
            "members": [{"extension": "206"}, {"extension": "207", "penalty": 0}]
        })),
    );
    let created = t0.elapsed();
    assert_eq!(
        (
            q["number"].as_str(),
            q["name"].as_str(),
            q["ringTimeout"].as_i64()
        ),
        (Some("610"), Some("Vendite"), Some(15))
    );
    assert_eq!(members(&q), [("206".into(), 0), ("207".into(), 0)]);
    // The supervisor's CTI shows the new queue (the call center reported it).
    supervisor.wait_event("queue 610 in the CTI", WAIT, |e| {
        e["kind"] == "queue" && e["queue"]["number"] == "610"
    });

    // 206 answers, 207 rings and is cancelled.
    let a206 = Agent::start(&pbx, "206", "uas_answer.xml", 2);
    let a207 = Agent::start(&pbx, "207", "uas_noanswer.xml", 2);
    caller(&pbx, "uac_call.xml", "201", "610")
        .args(&["-d", "300"])
        .run_ok();
    println!(
        "REST create -> queue call answered {:?} after the 201 ({created:?} for the POST)",
        t0.elapsed()
    );
    assert_eq!(answered_by(&pbx, 1), ["206"]);
    assert_eq!((a206.invites(), a207.invites()), (1, 1));
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["destination_type"], "queue", "{r:#}");

    // 206 leaves the queue, 205 joins it: the next caller rings 205 and 207, never 206.
    admin.expect(204, "delete", "/rest/queue/610/member/206", None);
    let a205 = Agent::start(&pbx, "205", "uas_answer.xml", 1);
    let (status, q) = admin.call(
        "put",
        "/rest/queue/610/member/205",
        Some(&json!({"penalty": 0})),
    );
    assert_eq!(status, 201, "{q}");
    assert_eq!(members(&q), [("207".into(), 0), ("205".into(), 0)]);
    caller(&pbx, "uac_call.xml", "202", "610")
        .args(&["-d", "300"])
        .run_ok();
    assert_eq!(answered_by(&pbx, 2), ["206", "205"]);
    assert_eq!(
        (a206.invites(), a207.invites(), a205.invites()),
        (1, 2, 1),
        "the removed member is not rung"
    );
    // A penalty change is a 200; the settings change without a restart either.
    let (status, q) = admin.call(
        "put",
        "/rest/queue/610/member/205",
        Some(&json!({"penalty": 4})),
    );
    assert_eq!(status, 200, "{q}");
    assert_eq!(members(&q)[1], ("205".into(), 4));
    let q = admin.expect(
        200,
        "put",
        "/rest/queue/610",
        Some(&json!({"name": "Sales 2", "joinEmpty": ["paused", "unavailable"]})),
    );
    assert_eq!(
        (q["name"].as_str(), &q["joinEmpty"], q["strategy"].as_str()),
        (
            Some("Sales 2"),
            &json!(["paused", "unavailable"]),
            Some("ringall")
        )
    );
    let listed = admin.expect(200, "get", "/rest/queue", None);
    let numbers: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["600", "601", "610"]);
    assert!(pbx.log().contains("call center reloaded"), "no restart");

    // Deleted: its number no longer routes, and the CTI forgets it.
    admin.expect(204, "delete", "/rest/queue/610", None);
    admin.expect(404, "get", "/rest/queue/610", None);
    let snapshot = fresh_snapshot(&mut supervisor);
    let queues: Vec<&str> = snapshot["call_center"]["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["number"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["600", "601"], "the CTI forgets the deleted queue");
    let tmp = tempfile::tempdir().unwrap();
    let refused = refused_scenario(tmp.path(), 404);
    caller(&pbx, refused.to_str().unwrap(), "203", "610").run_ok();
    assert_eq!(pbx.closed_cdrs(3)[2]["status"], "FAILED");
}

#[test]
fn a_ring_group_created_over_the_api_rings_its_member() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let g = admin.expect(
        201,
        "post",
        "/rest/ringGroup",
        Some(&json!({"number": "660", "name": "Notte", "members": [{"extension": "208", "ringTime": 10}]})),
    );
    assert_eq!(
        g["members"],
        json!([{"extension": "208", "tier": 1, "ringTime": 10}])
    );
    let p208 = free_udp_port();
    register(&pbx, "208", p208);
    let callee = uas(&pbx, "uas_answer.xml", p208, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "660")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(20));
    assert!(ok, "208 answers: {out}");
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(
        (r["answered_by"].as_str(), r["status"].as_str()),
        (Some("208"), Some("OK")),
        "{r:#}"
    );

    // Members by tier, changes and deletion.
    let (status, g) = admin.call(
        "put",
        "/rest/ringGroup/660/member/207",
        Some(&json!({"tier": 2})),
    );
    assert_eq!(status, 201, "{g}");
    assert_eq!(
        g["members"][1],
        json!({"extension": "207", "tier": 2, "ringTime": 20})
    );
    admin.expect(
        200,
        "put",
        "/rest/ringGroup/660",
        Some(&json!({"overflow": "extension:201", "enabled": false})),
    );
    admin.expect(204, "delete", "/rest/ringGroup/660/member/207", None);
    admin.expect(404, "delete", "/rest/ringGroup/660/member/207", None);
    let one = admin.expect(200, "get", "/rest/ringGroup/660", None);
    assert_eq!(
        (
            one["enabled"].as_bool(),
            one["overflow"].as_str(),
            one["members"].as_array().unwrap().len()
        ),
        (Some(false), Some("extension:201"), 1)
    );
    admin.expect(204, "delete", "/rest/ringGroup/660", None);
    let listed = admin.expect(200, "get", "/rest/ringGroup", None);
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "the demo's 650: {listed}"
    );
}

#[test]
fn pickup_groups_set_over_the_api_let_a_phone_pick_up_with_star_9() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut c = CtiClient::logged_in(pbx.cti, "201", "demo201");
    // 206 and 207 are in no pickup group: 207's *9 finds nothing to pick up.
    assert_eq!(
        admin.expect(200, "get", "/rest/extension/207/pickupGroups", None),
        json!({"memberOf": [], "pickupFrom": []})
    );
    let p206 = free_udp_port();
    register(&pbx, "206", p206);
    admin.expect(
        200,
        "put",
        "/rest/extension/206/pickupGroups",
        Some(&json!({"memberOf": ["night"]})),
    );
    let set = admin.expect(
        200,
        "put",
        "/rest/extension/207/pickupGroups",
        Some(&json!({"pickupFrom": ["night", "night"]})),
    );
    assert_eq!(set, json!({"memberOf": [], "pickupFrom": ["night"]}));
    let groups = admin.expect(200, "get", "/rest/pickupGroup", None);
    let night = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "night")
        .cloned()
        .unwrap();
    assert_eq!(
        night,
        json!({"name": "night", "members": ["206"], "pickers": ["207"]})
    );

    let ringing = uas(&pbx, "uas_noanswer.xml", p206, free_media_port(), 1);
    let calling = caller(&pbx, "uac_wait_bye.xml", "201", "206").spawn();
    c.wait_event("206 ringing", WAIT, |e| {
        e["kind"] == "lamp" && e["extension"] == "206" && e["lamp"] == "ringing"
    });
    caller(&pbx, "uac_call.xml", "207", "*9")
        .args(&["-d", "1500"])
        .run_ok();
    let (ok, out) = ringing.wait(WAIT);
    assert!(ok, "206 cancelled: {out}");
    let (ok, out) = calling.wait(WAIT);
    assert!(ok, "201: {out}");
    let records = pbx.closed_cdrs(2);
    let picked = records
        .iter()
        .find(|r| r["called"] == "206")
        .unwrap_or_else(|| panic!("{records:#?}"));
    assert_eq!(picked["answered_by"], "207", "{picked:#}");

    // Cleared over the API: 207 may no longer pick up 206's calls.
    admin.expect(204, "delete", "/rest/extension/207/pickupGroups", None);
    assert_eq!(
        admin.expect(200, "get", "/rest/extension/207/pickupGroups", None),
        json!({"memberOf": [], "pickupFrom": []})
    );
}

#[test]
fn bad_input_and_missing_rights_are_refused_with_structured_errors() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let cases: Vec<(&str, &str, Option<Value>, u16)> = vec![
        ("post", "/rest/queue", Some(json!({})), 400),
        ("post", "/rest/queue", Some(json!({"number": "6a"})), 400),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "strategy": "roundrobin"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "ringTimeout": 0})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "retry": -5})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "joinEmpty": ["asleep"]})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "overflow": "voicemail"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "music": "jazz"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "music": "wav:/dev/zero"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "music": "wav:relative.wav"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "bogus": 1})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "maxWait": "long"})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "members": [{"extension": "299"}]})),
            404,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "members": [{"extension": "202"}, {"extension": "202"}]})),
            400,
        ),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "612", "members": [{"extension": "202", "penalty": 1001}]})),
            400,
        ),
        ("post", "/rest/queue", Some(json!({"number": "600"})), 409),
        ("post", "/rest/queue", Some(json!({"number": "201"})), 409),
        ("post", "/rest/queue", Some(json!({"number": "650"})), 409),
        ("post", "/rest/queue", Some(json!({"number": "888"})), 409),
        (
            "post",
            "/rest/queue",
            Some(json!({"number": "811203"})),
            409,
        ),
        (
            "post",
            "/rest/extension",
            Some(json!({"number": "600"})),
            409,
        ),
        (
            "put",
            "/rest/extension/208",
            Some(json!({"number": "650"})),
            409,
        ),
        ("get", "/rest/queue/699", None, 404),
        ("put", "/rest/queue/699", Some(json!({"name": "x"})), 404),
        (
            "put",
            "/rest/queue/600",
            Some(json!({"number": "602"})),
            400,
        ),
        ("put", "/rest/queue/600", Some(json!({"members": []})), 400),
        (
            "put",
            "/rest/queue/600",
            Some(json!({"wrapup": 99999})),
            400,
        ),
        ("delete", "/rest/queue/699", None, 404),
        ("put", "/rest/queue/600/member/299", Some(json!({})), 404),
        ("put", "/rest/queue/699/member/202", Some(json!({})), 404),
        (
            "put",
            "/rest/queue/600/member/202",
            Some(json!({"penalty": -1})),
            400,
        ),
        (
            "put",
            "/rest/queue/600/member/202",
            Some(json!({"penalty": "x"})),
            400,
        ),
        ("delete", "/rest/queue/600/member/204", None, 404),
        (
            "post",
            "/rest/ringGroup",
            Some(json!({"number": "601"})),
            409,
        ),
        (
            "post",
            "/rest/ringGroup",
            Some(json!({"number": "662", "members": [{"extension": "202", "ringTime": 0}]})),
            400,
        ),
        (
            "post",
            "/rest/ringGroup",
            Some(json!({"number": "662", "members": [{"extension": "202", "tier": 0}]})),
            400,
        ),
        (
            "post",
            "/rest/ringGroup",
            Some(json!({"number": "662", "overflow": "extension:"})),
            400,
        ),
        (
            "put",
            "/rest/ringGroup/650/member/202",
            Some(json!({"ringTime": 601})),
            400,
        ),
        ("put", "/rest/ringGroup/669", Some(json!({})), 404),
        (
            "put",
            "/rest/extension/202/pickupGroups",
            Some(json!({"memberOf": ["a b"]})),
            400,
        ),
        (
            "put",
            "/rest/extension/202/pickupGroups",
            Some(json!({"memberOf": "office"})),
            400,
        ),
        (
            "put",
            "/rest/extension/299/pickupGroups",
            Some(json!({})),
            404,
        ),
        ("get", "/rest/extension/299/pickupGroups", None, 404),
    ];
    for (method, path, body, want) in &cases {
        let (status, v) = admin.call(method, path, body.as_ref());
        assert_eq!(status, *want, "{method} {path} {body:?} -> {v}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
    // A dynamic member is logged out over the operation API, not deleted as configuration.
    admin.expect(
        200,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"queue": "Sales", "account": "SIP/204", "enabled": true})),
    );
    pbx.wait_for("the dynamic member stored", WAIT, |_| {
        let q = admin.expect(200, "get", "/rest/queue/600", None);
        q["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["extension"] == "204" && m["dynamic"] == true)
    });
    let (status, v) = admin.call("delete", "/rest/queue/600/member/204", None);
    assert_eq!(status, 409, "{v}");
    // The demo's queues are as they were.
    let q600 = admin.expect(200, "get", "/rest/queue/600", None);
    assert_eq!(
        (q600["name"].as_str(), q600["strategy"].as_str()),
        (Some("Sales"), Some("rrmemory"))
    );

    // A user without EXTENSION rights sees none of it; its own pickup groups it may read.
    admin.expect(
        201,
        "post",
        "/rest/user",
        Some(&json!({"username": "plain", "password": "plain-password", "extension": "203", "apiAccess": true})),
    );
    let plain = Api::new(pbx.http, "plain", "plain-password");
    for (method, path, body) in [
        ("get", "/rest/queue", None),
        ("get", "/rest/queue/600", None),
        ("post", "/rest/queue", Some(json!({"number": "613"}))),
        ("put", "/rest/queue/600", Some(json!({"name": "x"}))),
        ("delete", "/rest/queue/600", None),
        ("put", "/rest/queue/600/member/203", Some(json!({}))),
        ("delete", "/rest/queue/600/member/203", None),
        ("get", "/rest/ringGroup", None),
        ("post", "/rest/ringGroup", Some(json!({"number": "663"}))),
        ("delete", "/rest/ringGroup/650", None),
        ("get", "/rest/pickupGroup", None),
        ("get", "/rest/extension/202/pickupGroups", None),
        (
            "put",
            "/rest/extension/203/pickupGroups",
            Some(json!({"pickupFrom": ["office"]})),
        ),
        ("delete", "/rest/extension/203/pickupGroups", None),
    ] {
        let (status, v) = plain.call(method, path, body.as_ref());
        assert_eq!(status, 403, "{method} {path} -> {v}");
    }
    assert_eq!(
        plain.expect(200, "get", "/rest/extension/203/pickupGroups", None),
        json!({"memberOf": ["office"], "pickupFrom": ["office"]})
    );
}

#[test]
fn a_caller_waiting_in_a_queue_deleted_over_the_api_leaves_by_its_overflow() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut supervisor = CtiClient::logged_in(pbx.cti, "201", "demo201");
    // 204 has no phone: the caller waits (no join-empty rule) until the queue goes.
    admin.expect(
        201,
        "post",
        "/rest/queue",
        Some(&json!({"number": "611", "members": [{"extension": "204"}], "overflow": "extension:208"})),
    );
    let p208 = free_udp_port();
    register(&pbx, "208", p208);
    let overflow = uas(&pbx, "uas_answer.xml", p208, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "203", "611")
        .args(&["-d", "300"])
        .spawn();
    supervisor.wait_event("a caller waiting in 611", WAIT, |e| {
        e["kind"] == "queue" && e["queue"]["number"] == "611" && e["queue"]["waiting"] == 1
    });
    admin.expect(204, "delete", "/rest/queue/611", None);
    let (ok, out) = overflow.wait(WAIT);
    assert!(ok, "208 (the deleted queue's overflow) answers: {out}");
    let (ok, out) = calling.wait(WAIT);
    assert!(ok, "the caller: {out}");
    let r = &pbx.closed_cdrs(1)[0];
    let steps: Vec<(&str, &str)> = r["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["detail_destination_id"].as_str().unwrap_or("-"),
                d["detail_exit_cause"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(r["answered_by"], "208", "{r:#}");
    assert_eq!(steps[0], ("611", "UNAVAILABLE"), "{r:#}");
}
