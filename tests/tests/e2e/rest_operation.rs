//! The seed's operation API (issue 7, acceptance 3): DND and the forwards set over
//! `/rest/operation/{service}/{key}` with the seed's bodies show in the CTI stream at once,
//! and change what calls do (a forwarded call reaches its target with SIPp); BUSYLEVEL and
//! EXTEN_HUNTING; who may act on which extension.

use super::rest_util::{caller, Api};
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{free_media_port, free_udp_port, refused_scenario, register, uas, Pbx};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn services_event(c: &mut CtiClient, ext: &str, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    c.wait_event(what, WAIT, |e| {
        e["kind"] == "services" && e["extension"] == ext && f(&e["services"])
    })
}

#[test]
fn dnd_and_forwards_set_over_rest_show_in_the_cti_and_in_calls() {
    let pbx = Pbx::start_with(&[&["set-extension", "202", "ring_timeout_s=2"]]);
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut cti = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);

    // DND, as the seed posts it (a boolean in a string).
    let r = admin.expect(200, "get", "/rest/operation/DND/202", None);
    assert_eq!(r["operationData"], false);
    assert_eq!(
        (r["serviceName"].as_str(), r["key"].as_str()),
        (Some("DND"), Some("202"))
    );
    let uuid = r["tenantUuid"].as_str().unwrap().to_string();
    assert_eq!(uuid.len(), 36, "{uuid}");
    let r = admin.expect(
        200,
        "post",
        "/rest/operation/DND/202",
        Some(&json!({"operationData": "true"})),
    );
    assert_eq!(r["operationData"], "true", "echoed as sent");
    assert_eq!(r["tenantUuid"], uuid.as_str());
    services_event(&mut cti, "202", "DND on in the CTI", |s| s["dnd"] == true);
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/DND/202", None)["operationData"],
        true
    );
    let tmp = tempfile::tempdir().unwrap();
    let refused = refused_scenario(tmp.path(), 480);
    caller(&pbx, refused.to_str().unwrap(), "201", "202").run_ok();
    // DELETE: no body, DND off.
    let (status, body) = admin.call("delete", "/rest/operation/DND/202", None);
    assert_eq!((status, body), (200, json!("")));
    services_event(&mut cti, "202", "DND off in the CTI", |s| s["dnd"] == false);

    // CFIM (unconditional), with the seed's escaped quotes: 202 does not ring, 203 answers.
    let r = admin.expect(
        200,
        "post",
        "/rest/operation/CFIM/202",
        Some(&json!({"operationData": "\"203\""})),
    );
    assert_eq!(r["operationData"], "\"203\"");
    services_event(&mut cti, "202", "CFIM in the CTI", |s| {
        s["forwards"]["unconditional"] == "203"
    });
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/CFIM/202", None)["operationData"],
        "203"
    );
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = target.wait(Duration::from_secs(30));
    assert!(ok, "203 answers the forwarded call: {out}");
    admin.expect(200, "delete", "/rest/operation/CFIM/202", None);
    services_event(&mut cti, "202", "CFIM cleared", |s| {
        s["forwards"]["unconditional"].is_null()
    });

    // CFNA: 202 rings its 2 s, then 203.
    admin.expect(
        200,
        "post",
        "/rest/operation/CFNA/202",
        Some(&json!({"operationData": "\"203\""})),
    );
    services_event(&mut cti, "202", "CFNA in the CTI", |s| {
        s["forwards"]["no_answer"] == "203"
    });
    let ringing = uas(&pbx, "uas_noanswer.xml", p202, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = ringing.wait(Duration::from_secs(30));
    assert!(ok, "202 rang: {out}");
    let (ok, out) = target.wait(Duration::from_secs(30));
    assert!(ok, "203 answers after no answer: {out}");

    // CFUN is "unavailable" (not unconditional): 204 has no device, its calls go to 203.
    admin.expect(
        200,
        "post",
        "/rest/operation/CFUN/204",
        Some(&json!({"operationData": "\"203\""})),
    );
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "204")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = target.wait(Duration::from_secs(30));
    assert!(ok, "203 answers 204's call: {out}");
    let cdrs = pbx.closed_cdrs(4);
    let answered: Vec<&str> = cdrs
        .iter()
        .filter_map(|r| r["answered_by"].as_str())
        .collect();
    assert_eq!(answered, ["203", "203", "203"], "{cdrs:#?}");

    // Every service at once.
    let all = admin.expect(200, "get", "/rest/extension/202/services", None);
    assert_eq!(all["CFNA"], "203");
    assert_eq!(all["CFIM"], false);
    assert_eq!(all["DND"], false);
    assert_eq!(all["BUSYLEVEL"], false);

    // The older lower-case path of the seed's changelog.
    admin.expect(
        200,
        "post",
        "/rest/operation/service/dnd/203",
        Some(&json!({"operationData": "true"})),
    );
    // Another extension's DND reaches 202's client as its lamp-field flag.
    cti.wait_event("DND of 203 via the old path", WAIT, |e| {
        e["kind"] == "extension_dnd" && e["extension"] == "203" && e["dnd"] == true
    });

    // Bad bodies: 400 with the reason.
    for (service, data) in [
        ("DND", json!("maybe")),
        ("CFBS", json!(203)),
        ("CFBS", json!("\"20 3\"")),
        ("CFBS", json!("\"202\"")),
        ("BUSYLEVEL", json!("uno")),
        (
            "EXTEN_HUNTING",
            json!("[{\"priority\": 1, \"accounts\": [{\"id\": 999}]}]"),
        ),
    ] {
        let (status, v) = admin.call(
            "post",
            &format!("/rest/operation/{service}/202"),
            Some(&json!({"operationData": data})),
        );
        assert_eq!(status, 400, "{service} {data} -> {v}");
        assert_eq!(v["error"], "bad_request");
    }
    admin.expect(404, "get", "/rest/operation/CLIP/202", None);
    admin.expect(404, "get", "/rest/operation/DND/999", None);
    admin.expect(405, "delete", "/rest/operation/EXTEN_HUNTING/202", None);
}

#[test]
fn busy_level_and_hunting_and_who_may_act() {
    let pbx = Pbx::start_with(&[&["set-user", "201", "api_access=1"]]);
    let admin = Api::new(pbx.http, "admin", "admin");
    // BUSYLEVEL 1: with one call up, 202 is busy for a second caller.
    admin.expect(200, "get", "/rest/operation/BUSYLEVEL/202", None);
    let r = admin.expect(
        200,
        "post",
        "/rest/operation/BUSYLEVEL/202",
        Some(&json!({"operationData": "1"})),
    );
    assert_eq!(r["operationData"], "1");
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/BUSYLEVEL/202", None)["operationData"],
        1
    );
    let p202 = free_udp_port();
    register(&pbx, "202", p202);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let first = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "4000"])
        .spawn();
    pbx.wait_for("the first call up", WAIT, |p| {
        p.metrics()["active_calls"] == 1
    });
    std::thread::sleep(Duration::from_millis(500));
    let tmp = tempfile::tempdir().unwrap();
    let busy = refused_scenario(tmp.path(), 486);
    caller(&pbx, busy.to_str().unwrap(), "203", "202").run_ok();
    let (ok, out) = first.wait(Duration::from_secs(30));
    assert!(ok, "{out}");
    let (ok, out) = callee.wait(Duration::from_secs(30));
    assert!(ok, "{out}");
    admin.expect(200, "delete", "/rest/operation/BUSYLEVEL/202", None);
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/BUSYLEVEL/202", None)["operationData"],
        false
    );

    // EXTEN_HUNTING: default one priority with every account; the seed's string form.
    let ext = admin.expect(200, "get", "/rest/extension/202", None);
    let id = ext["accounts"][0]["id"].as_i64().unwrap();
    let r = admin.expect(200, "get", "/rest/operation/EXTEN_HUNTING/202", None);
    assert_eq!(
        r["operationData"],
        json!([{"priority": 1, "accounts": [{"id": id}]}])
    );
    let posted = format!("[{{\"priority\": 2, \"accounts\": [{{\"id\": {id}}}]}}]");
    admin.expect(
        200,
        "post",
        "/rest/operation/EXTEN_HUNTING/202",
        Some(&json!({"operationData": posted})),
    );
    let r = admin.expect(200, "get", "/rest/operation/EXTEN_HUNTING/202", None);
    assert_eq!(
        r["operationData"],
        json!([{"priority": 2, "accounts": [{"id": id}]}])
    );

    // A standard user acts on their own extension only (403 for others, as the seed).
    let me = Api::new(pbx.http, "201", "demo201");
    me.expect(
        200,
        "post",
        "/rest/operation/DND/201",
        Some(&json!({"operationData": "true"})),
    );
    assert_eq!(
        me.expect(200, "get", "/rest/operation/DND/201", None)["operationData"],
        true
    );
    me.expect(403, "get", "/rest/operation/DND/202", None);
    me.expect(
        403,
        "post",
        "/rest/operation/CFIM/202",
        Some(&json!({"operationData": "\"201\""})),
    );
    me.expect(403, "delete", "/rest/operation/DND/202", None);
    me.expect(200, "delete", "/rest/operation/DND/201", None);
}
