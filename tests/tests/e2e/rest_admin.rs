//! Configuration through the REST API, effective without a restart (issue 7, acceptance 2):
//! an extension created over the API registers with SIPp and takes a call at once; a renamed
//! or deleted account loses its registration; users and custom roles with their levels.

use super::rest_util::{caller, register_with, Api};
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, Sipp};
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn cti_clients_connected_before_follow_extensions_created_renamed_and_deleted_over_the_api() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut cti = CtiClient::logged_in(pbx.cti, "201", "demo201");
    assert!(!cti.state.extensions.contains_key("301"));
    let seq_before = cti.last_seq;
    admin.expect(
        201,
        "post",
        "/rest/extension",
        Some(&json!({
            "number": "301", "firstName": "Nuovo", "lastName": "Interno",
            "accounts": [{"username": "301", "password": "secret-301"}]
        })),
    );
    let wait = Duration::from_secs(15);
    cti.wait_state("301 in the CTI", wait, |s| {
        s.extensions
            .get("301")
            .is_some_and(|e| e["name"] == "Nuovo Interno" && e["lamp"] == "unavailable")
    });
    assert!(
        cti.last_seq > seq_before,
        "a fresh snapshot moves the seq on"
    );
    // Its lamp follows its phone, as any extension's.
    register_with(&pbx, "301", "secret-301", free_udp_port());
    cti.wait_event("301's lamp idle", wait, |e| {
        e["kind"] == "lamp" && e["extension"] == "301" && e["lamp"] == "idle"
    });
    assert_eq!(cti.state.extensions["301"]["lamp"], "idle");
    assert_eq!(
        cti.state.extensions["301"]["accounts"][0]["registered"], true,
        "{:#}",
        cti.state.extensions["301"]
    );
    // A client logging in now sees it too; one resuming from before the change gets a
    // snapshot with it, not a replay that would miss it.
    let fresh = CtiClient::logged_in(pbx.cti, "202", "demo202");
    assert_eq!(fresh.state.extensions["301"]["lamp"], "idle");
    let mut resumed = CtiClient::connect(pbx.cti);
    let first = resumed.login("203", "demo203", Some(seq_before));
    assert_eq!(first["type"], "snapshot", "{first}");
    assert!(resumed.state.extensions.contains_key("301"));

    // Renamed, then deleted.
    admin.expect(
        200,
        "put",
        "/rest/extension/301",
        Some(&json!({"firstName": "Rinominato"})),
    );
    cti.wait_state("301 renamed", wait, |s| {
        s.extensions
            .get("301")
            .is_some_and(|e| e["name"] == "Rinominato Interno")
    });
    admin.expect(204, "delete", "/rest/extension/301", None);
    cti.wait_state("301 gone", wait, |s| !s.extensions.contains_key("301"));
    assert!(cti.state.extensions.contains_key("202"), "the others stay");
    // The connection is still live: events keep coming for the others.
    register(&pbx, "202", free_udp_port());
    cti.wait_event("202's lamp idle", wait, |e| {
        e["kind"] == "lamp" && e["extension"] == "202" && e["lamp"] == "idle"
    });
}

#[test]
fn an_extension_created_over_the_api_registers_and_takes_a_call_without_a_restart() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let created = admin.expect(
        201,
        "post",
        "/rest/extension",
        Some(&json!({
            "number": "301", "firstName": "Nuovo", "lastName": "Interno",
            "accounts": [{"username": "301", "password": "secret-301"}]
        })),
    );
    let t0 = Instant::now();
    assert_eq!(created["number"], "301");
    assert_eq!(created["accounts"][0]["username"], "301");
    let account_id = created["accounts"][0]["id"].as_i64().unwrap();

    // At once, same process: SIPp registers the new account, then 201 calls it.
    let port = free_udp_port();
    register_with(&pbx, "301", "secret-301", port);
    let registered = t0.elapsed();
    let callee = uas(&pbx, "uas_answer.xml", port, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "301")
        .args(&["-d", "300"])
        .run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(20));
    assert!(ok, "301 answers: {out}");
    println!(
        "REST create -> REGISTER 200: {registered:?}; call answered {:?} after create",
        t0.elapsed()
    );
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(
        (r["status"].as_str(), r["answered_by"].as_str()),
        (Some("OK"), Some("301")),
        "{r:#}"
    );
    assert!(
        pbx.log().contains("directory reloaded"),
        "no restart, a reload"
    );

    // Read back, change, and the listing shows it.
    let one = admin.expect(200, "get", "/rest/extension/301", None);
    assert_eq!(one["firstName"], "Nuovo");
    let changed = admin.expect(
        200,
        "put",
        "/rest/extension/301",
        Some(&json!({"lastName": "Cambiato", "overrides": {"ringTimeout": 5}})),
    );
    assert_eq!(
        (changed["lastName"].as_str(), changed["firstName"].as_str()),
        (Some("Cambiato"), Some("Nuovo"))
    );
    assert_eq!(changed["overrides"]["ringTimeout"], 5);
    let acc = admin.expect(200, "get", &format!("/rest/account/{account_id}"), None);
    assert_eq!(
        (acc["username"].as_str(), acc["extension"].as_str()),
        (Some("301"), Some("301"))
    );

    // A second account on the same extension, over /rest/account; both ring.
    let second = admin.expect(
        201,
        "post",
        "/rest/account",
        Some(&json!({"extension": "301", "username": "301b", "password": "secret-301b"})),
    );
    let second_id = second["id"].as_i64().unwrap();
    register_with(&pbx, "301b", "secret-301b", free_udp_port());
    // Renaming it needs a new secret; the old registration ends.
    admin.expect(
        400,
        "put",
        &format!("/rest/account/{second_id}"),
        Some(&json!({"username": "301c"})),
    );
    admin.expect(
        200,
        "put",
        &format!("/rest/account/{second_id}"),
        Some(&json!({"username": "301c", "password": "secret-301c"})),
    );
    pbx.wait_for(
        "the renamed account's registration to end",
        Duration::from_secs(5),
        |p| !p.locations().iter().any(|l| l["account_id"] == second_id),
    );
    let bad_old = Sipp::new("register_wrong.xml", pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
        "-s",
        "301b",
        "-au",
        "301b",
        "-ap",
        "secret-301b",
        "-m",
        "1",
    ]);
    bad_old.run_ok();
    register_with(&pbx, "301c", "secret-301c", free_udp_port());

    // Deleting the extension takes its accounts and their registrations, at once.
    admin.expect(204, "delete", "/rest/extension/301", None);
    admin.expect(404, "get", "/rest/extension/301", None);
    admin.expect(404, "get", &format!("/rest/account/{account_id}"), None);
    let gone = Sipp::new("register_wrong.xml", pbx.sip).args(&[
        "-p",
        &free_udp_port().to_string(),
        "-s",
        "301",
        "-au",
        "301",
        "-ap",
        "secret-301",
        "-m",
        "1",
    ]);
    gone.run_ok();
    let tmp = tempfile::tempdir().unwrap();
    let refused = centralino_e2e::refused_scenario(tmp.path(), 404);
    caller(&pbx, refused.to_str().unwrap(), "201", "301").run_ok();

    // Bad input: structured 4xx, nothing stored.
    for body in [
        json!({"number": "30a"}),
        json!({"firstName": "no number"}),
        json!({"number": "302", "unknown": 1}),
        json!({"number": "302", "accounts": [{"username": "302"}]}),
        json!({"number": "302", "accounts": [{"username": "302", "password": "x"}]}),
    ] {
        let (status, v) = admin.call("post", "/rest/extension", Some(&body));
        assert_eq!(status, 400, "{body} -> {v}");
        assert_eq!(v["error"], "bad_request", "{v}");
    }
    admin.expect(404, "get", "/rest/extension/302", None);
    admin.expect(
        409,
        "post",
        "/rest/extension",
        Some(&json!({"number": "202"})),
    );
}

#[test]
fn users_and_roles_grant_what_their_levels_say() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    // A custom role: reads the CDR and lists extensions, nothing else.
    let role = admin.expect(
        200,
        "put",
        "/rest/role/reporter",
        Some(&json!({"priority": 5, "access": {"CDR": "read", "EXTENSION": "list"}})),
    );
    assert_eq!(role["access"]["CDR"], "read");
    assert_eq!(role["access"]["USER"], "none");
    admin.expect(409, "put", "/rest/role/admin", Some(&json!({})));
    let u = admin.expect(
        201,
        "post",
        "/rest/user",
        Some(&json!({"username": "rita", "password": "rita-secret-1", "apiAccess": true, "role": "reporter", "extension": "203"})),
    );
    assert_eq!(
        (
            u["role"].as_str(),
            u["extension"].as_str(),
            u["apiAccess"].as_bool()
        ),
        (Some("reporter"), Some("203"), Some(true))
    );
    let rita = Api::new(pbx.http, "rita", "rita-secret-1");
    let list = rita.expect(200, "get", "/rest/extension", None);
    assert_eq!(
        list.as_array().unwrap().len(),
        8,
        "list level: every extension"
    );
    rita.expect(403, "get", "/rest/extension/201", None);
    rita.expect(200, "get", "/rest/extension/203", None);
    rita.expect(200, "get", "/rest/cdr", None);
    rita.expect(403, "get", "/rest/user", None);
    rita.expect(403, "get", "/rest/account", None);
    rita.expect(
        403,
        "post",
        "/rest/extension",
        Some(&json!({"number": "399"})),
    );
    rita.expect(
        403,
        "post",
        "/rest/operation/DND/201",
        Some(&json!({"operationData": "true"})),
    );
    rita.expect(
        200,
        "post",
        "/rest/operation/DND/203",
        Some(&json!({"operationData": "true"})),
    );
    // Her own user; nobody changes their own role.
    rita.expect(200, "get", "/rest/user/rita", None);
    admin.expect(
        403,
        "put",
        "/rest/user/admin",
        Some(&json!({"role": "user"})),
    );
    admin.expect(403, "delete", "/rest/user/admin", None);
    // The role cannot go while she has it; the admin demotes her, then it can.
    admin.expect(409, "delete", "/rest/role/reporter", None);
    admin.expect(
        200,
        "put",
        "/rest/user/rita",
        Some(&json!({"role": "user", "extension": null})),
    );
    rita.expect(403, "get", "/rest/cdr", None);
    admin.expect(204, "delete", "/rest/role/reporter", None);
    admin.expect(204, "delete", "/rest/user/rita", None);
    let (status, _) = rita.call("get", "/rest/extension", None);
    assert_eq!(status, 401, "a deleted user cannot authenticate");
    // Every user of the tenant, the predefined ones included.
    let users = admin.expect(200, "get", "/rest/user", None);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    for n in ["admin", "privacyadmin", "phonebook", "click2call", "201"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    // The click2call user, once enabled, may only click-to-call.
    admin.expect(
        200,
        "put",
        "/rest/user/click2call",
        Some(&json!({"password": "c2c-secret-1", "apiAccess": true})),
    );
    let c2c = Api::new(pbx.http, "click2call", "c2c-secret-1");
    c2c.expect(403, "get", "/rest/cdr", None);
    c2c.expect(403, "get", "/rest/user", None);
    let (status, v) = c2c.call("get", "/rest/phoneServices/c2c/202/201", None);
    assert_eq!(status, 409, "allowed, but 201 has no device: {v}");
}
