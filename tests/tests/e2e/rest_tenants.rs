//! Tenant isolation (issue 7, acceptance 4): a second tenant's administrator, created over the
//! API, gets a refusal from every endpoint of the OpenAPI document when it names the first
//! tenant's extensions, accounts, users, roles, services and calls; listings show only its
//! own rows; and the first tenant's data and call are untouched afterwards.

use super::rest_util::{caller, Api};
use centralino_e2e::{free_media_port, free_udp_port, http_get, register, uas, Pbx};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn numbers(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_second_tenant_is_refused_every_endpoint_on_the_first_tenants_data() {
    let pbx = Pbx::start();
    let admin = Api::new(pbx.http, "admin", "admin");
    let t = admin.expect(
        201,
        "post",
        "/rest/tenant",
        Some(&json!({"domain": "acme.example", "name": "Acme"})),
    );
    assert_eq!(t["domain"], "acme.example");
    admin.expect(
        409,
        "post",
        "/rest/tenant",
        Some(&json!({"domain": "acme.example"})),
    );
    let tenants = admin.expect(200, "get", "/rest/tenant", None);
    assert_eq!(tenants.as_array().unwrap().len(), 2);

    // The new tenant's admin (factory password, demo mode) builds its own 201.
    let acme = Api::in_domain(pbx.http, "admin", "admin", "acme.example");
    let own = acme.expect(
        201,
        "post",
        "/rest/extension",
        Some(&json!({"number": "201", "accounts": [{"username": "acme201", "password": "acme-secret"}]})),
    );
    let acme_account = own["accounts"][0]["id"].as_i64().unwrap();
    acme.expect(
        201,
        "post",
        "/rest/user",
        Some(&json!({"username": "acme-user", "password": "acme-user-pw"})),
    );
    acme.expect(
        200,
        "put",
        "/rest/role/acme-role",
        Some(&json!({"access": {"CDR": "read"}})),
    );
    // The default tenant's things the other one will aim at.
    admin.expect(
        200,
        "put",
        "/rest/role/reporter",
        Some(&json!({"access": {"CDR": "read"}})),
    );
    let d202 = admin.expect(200, "get", "/rest/extension/202", None);
    let account = d202["accounts"][0]["id"].as_i64().unwrap();
    let (p202, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "202", p202);
    register(&pbx, "203", p203);
    let callee = uas(&pbx, "uas_answer.xml", p202, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "201", "202")
        .args(&["-d", "25000"])
        .spawn();
    pbx.wait_for("a connected call", Duration::from_secs(15), |_| {
        let calls = admin.expect(200, "get", "/rest/call", None);
        calls[0]["state"] == "connected"
    });
    let calls = admin.expect(200, "get", "/rest/call", None);
    let call = calls[0]["id"].as_str().unwrap().to_string();

    // Every operation of the document, aimed at the default tenant's rows.
    let acc = format!("/rest/account/{account}");
    let checks: Vec<(&str, String, Option<Value>, u16)> = vec![
        ("get", "/rest/extension/202".into(), None, 404),
        (
            "put",
            "/rest/extension/202".into(),
            Some(json!({"firstName": "x"})),
            404,
        ),
        ("delete", "/rest/extension/202".into(), None, 404),
        ("get", "/rest/extension/202/services".into(), None, 404),
        ("get", acc.clone(), None, 404),
        ("put", acc.clone(), Some(json!({"enabled": false})), 404),
        ("delete", acc.clone(), None, 404),
        (
            "post",
            "/rest/account".into(),
            Some(json!({"extension": "202", "username": "steal", "password": "steal-pw"})),
            404,
        ),
        ("get", "/rest/user/201".into(), None, 404),
        (
            "put",
            "/rest/user/201".into(),
            Some(json!({"apiAccess": true})),
            404,
        ),
        ("delete", "/rest/user/201".into(), None, 404),
        (
            "post",
            "/rest/user".into(),
            Some(json!({"username": "x1", "password": "x1-password", "extension": "202"})),
            404,
        ),
        ("get", "/rest/role/reporter".into(), None, 404),
        ("delete", "/rest/role/reporter".into(), None, 404),
        ("get", "/rest/tenant".into(), None, 403),
        (
            "post",
            "/rest/tenant".into(),
            Some(json!({"domain": "evil.example"})),
            403,
        ),
        ("get", "/rest/operation/DND/202".into(), None, 404),
        (
            "post",
            "/rest/operation/DND/202".into(),
            Some(json!({"operationData": "true"})),
            404,
        ),
        ("delete", "/rest/operation/CFIM/202".into(), None, 404),
        ("get", "/rest/operation/queue/Sales".into(), None, 404),
        (
            "post",
            "/rest/operation/queue/pause".into(),
            Some(json!({"account": "SIP/202", "enabled": true})),
            404,
        ),
        (
            "post",
            "/rest/operation/queue/dynamicMember".into(),
            Some(json!({"queue": "Sales", "account": "SIP/204", "enabled": true})),
            404,
        ),
        ("get", "/rest/queue/600".into(), None, 404),
        (
            "put",
            "/rest/queue/600".into(),
            Some(json!({"name": "x"})),
            404,
        ),
        ("delete", "/rest/queue/600".into(), None, 404),
        (
            "put",
            "/rest/queue/600/member/202".into(),
            Some(json!({"penalty": 1})),
            404,
        ),
        ("delete", "/rest/queue/600/member/202".into(), None, 404),
        (
            "post",
            "/rest/queue".into(),
            Some(json!({"number": "610", "members": [{"extension": "202"}]})),
            404,
        ),
        ("get", "/rest/ringGroup/650".into(), None, 404),
        (
            "put",
            "/rest/ringGroup/650".into(),
            Some(json!({"enabled": false})),
            404,
        ),
        ("delete", "/rest/ringGroup/650".into(), None, 404),
        (
            "put",
            "/rest/ringGroup/650/member/206".into(),
            Some(json!({"tier": 2})),
            404,
        ),
        ("delete", "/rest/ringGroup/650/member/206".into(), None, 404),
        (
            "post",
            "/rest/ringGroup".into(),
            Some(json!({"number": "660", "members": [{"extension": "206"}]})),
            404,
        ),
        ("get", "/rest/extension/202/pickupGroups".into(), None, 404),
        (
            "put",
            "/rest/extension/202/pickupGroups".into(),
            Some(json!({"pickupFrom": ["office"]})),
            404,
        ),
        (
            "delete",
            "/rest/extension/202/pickupGroups".into(),
            None,
            404,
        ),
        ("get", "/rest/phoneServices/c2c/203/202".into(), None, 404),
        ("post", format!("/rest/call/{call}/hangup"), None, 404),
        ("post", format!("/rest/call/{call}/hold"), None, 404),
        ("post", format!("/rest/call/{call}/resume"), None, 404),
        (
            "post",
            format!("/rest/call/{call}/transfer"),
            Some(json!({"number": "201"})),
            404,
        ),
        (
            "post",
            format!("/rest/call/{call}/redirect"),
            Some(json!({"number": "201"})),
            404,
        ),
        (
            "get",
            format!("/api/pbx/v2/phoneService/redirectCall/{call}/internal/201"),
            None,
            404,
        ),
        (
            "get",
            format!("/api/pbx/v2/phoneService/redirectCall/{call}/internal/201/202"),
            None,
            404,
        ),
    ];
    for (method, path, body, want) in &checks {
        let (status, v) = acme.call(method, path, body.as_ref());
        assert_eq!(status, *want, "{method} {path} -> {v}");
        assert!(v["error"].is_string(), "structured error: {v}");
    }
    // Listings and writes that name nothing of the other tenant see and touch only its own.
    assert_eq!(
        numbers(&acme.expect(200, "get", "/rest/extension", None)),
        ["201"]
    );
    let accounts = acme.expect(200, "get", "/rest/account", None);
    assert_eq!(accounts.as_array().unwrap().len(), 1);
    assert_eq!(accounts[0]["id"], acme_account);
    let users: BTreeSet<String> = acme
        .expect(200, "get", "/rest/user", None)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    assert!(
        users.contains("acme-user") && !users.contains("201"),
        "{users:?}"
    );
    let roles: Vec<Value> = acme
        .expect(200, "get", "/rest/role", None)
        .as_array()
        .unwrap()
        .clone();
    assert!(!roles.iter().any(|r| r["name"] == "reporter"));
    assert_eq!(acme.expect(200, "get", "/rest/cdr", None)["total"], 0);
    assert_eq!(acme.expect(200, "get", "/rest/call", None), json!([]));
    for list in ["/rest/queue", "/rest/ringGroup", "/rest/pickupGroup"] {
        assert_eq!(acme.expect(200, "get", list, None), json!([]), "{list}");
    }
    assert_eq!(
        acme.expect(200, "get", "/rest/operation/queue", None),
        json!({}),
        "no queue of the default tenant"
    );
    // Numbers are per tenant: acme's own queue 600 and group 650 with its 201.
    acme.expect(
        201,
        "post",
        "/rest/queue",
        Some(&json!({"number": "600", "members": [{"extension": "201"}]})),
    );
    acme.expect(
        201,
        "post",
        "/rest/ringGroup",
        Some(&json!({"number": "650", "members": [{"extension": "201"}]})),
    );
    acme.expect(
        200,
        "put",
        "/rest/extension/201/pickupGroups",
        Some(&json!({"memberOf": ["office"]})),
    );
    acme.expect(200, "get", "/rest/extension/201", None);
    acme.expect(
        200,
        "post",
        "/rest/operation/DND/201",
        Some(&json!({"operationData": "true"})),
    );
    acme.expect(200, "put", "/rest/role/reporter", Some(&json!({})));
    acme.expect(
        201,
        "post",
        "/rest/extension",
        Some(&json!({"number": "209"})),
    );

    // Every operation of the document is among those checked.
    let doc: Value = serde_json::from_str(&http_get(pbx.http, "/api/doc.json")).unwrap();
    let covered: BTreeSet<(String, String)> = checks
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), template(p)))
        .chain(
            [
                ("get", "/rest/extension"),
                ("post", "/rest/extension"),
                ("get", "/rest/extension/{number}"),
                ("get", "/rest/account"),
                ("get", "/rest/user"),
                ("get", "/rest/role"),
                ("put", "/rest/role/{name}"),
                ("get", "/rest/cdr"),
                ("post", "/rest/cdr"),
                ("get", "/rest/call"),
                ("get", "/rest/operation/queue"),
                ("get", "/rest/queue"),
                ("get", "/rest/ringGroup"),
                ("get", "/rest/pickupGroup"),
                ("post", "/rest/operation/{serviceName}/{key}"),
                // Anonymous, or only ever the caller's own password.
                ("get", "/rest/salt/{domain}"),
                ("put", "/rest/me/password"),
            ]
            .map(|(m, p)| (m.to_string(), p.to_string())),
        )
        .collect();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} is not checked"
            );
        }
    }

    // The default tenant is untouched, and its call is still up.
    assert_eq!(
        numbers(&admin.expect(200, "get", "/rest/extension", None)),
        ["201", "202", "203", "204", "205", "206", "207", "208"]
    );
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/DND/202", None)["operationData"],
        false
    );
    assert_eq!(admin.expect(200, "get", &acc, None)["enabled"], true);
    let q600 = admin.expect(200, "get", "/rest/queue/600", None);
    assert_eq!(
        (
            q600["name"].as_str(),
            q600["members"].as_array().unwrap().len()
        ),
        (Some("Sales"), 2)
    );
    let g650 = admin.expect(200, "get", "/rest/ringGroup/650", None);
    assert_eq!(
        (
            g650["enabled"].as_bool(),
            g650["members"].as_array().unwrap().len()
        ),
        (Some(true), 2)
    );
    assert_eq!(
        admin.expect(200, "get", "/rest/extension/202/pickupGroups", None),
        json!({"memberOf": ["office"], "pickupFrom": ["office"]})
    );
    admin.expect(200, "get", "/rest/user/201", None);
    admin.expect(200, "get", "/rest/role/reporter", None);
    assert_eq!(
        admin.expect(200, "get", "/rest/extension/201", None)["accounts"][0]["username"],
        "201"
    );
    assert_eq!(
        admin.expect(200, "get", "/rest/call", None)[0]["id"],
        call.as_str()
    );
    let (ok, out) = calling.wait(Duration::from_secs(60));
    assert!(ok, "{out}");
    let (ok, out) = callee.wait(Duration::from_secs(30));
    assert!(ok, "{out}");
}

/// `/rest/account/12` → `/rest/account/{id}` and so on, as the document names them.
fn template(path: &str) -> String {
    let parts: Vec<&str> = path.split('/').collect();
    let named = match parts.as_slice() {
        ["", "rest", "extension", _] => "/rest/extension/{number}".to_string(),
        ["", "rest", "extension", _, "services"] => "/rest/extension/{number}/services".to_string(),
        ["", "rest", "extension", _, "pickupGroups"] => {
            "/rest/extension/{number}/pickupGroups".to_string()
        }
        ["", "rest", kind @ ("queue" | "ringGroup"), _] => format!("/rest/{kind}/{{number}}"),
        ["", "rest", kind @ ("queue" | "ringGroup"), _, "member", _] => {
            format!("/rest/{kind}/{{number}}/member/{{extension}}")
        }
        ["", "rest", "account", _] => "/rest/account/{id}".to_string(),
        ["", "rest", "user", _] => "/rest/user/{username}".to_string(),
        ["", "rest", "role", _] => "/rest/role/{name}".to_string(),
        ["", "rest", "operation", "queue", "pause" | "dynamicMember"] => path.to_string(),
        ["", "rest", "operation", "queue", _] => "/rest/operation/queue/{queueName}".to_string(),
        ["", "rest", "operation", _, _] => "/rest/operation/{serviceName}/{key}".to_string(),
        ["", "rest", "phoneServices", "c2c", _, _] => {
            "/rest/phoneServices/c2c/{dest}/{src}".to_string()
        }
        ["", "rest", "call", _, op] => format!("/rest/call/{{id}}/{op}"),
        ["", "api", "pbx", "v2", "phoneService", "redirectCall", _, "internal", _] => {
            "/api/pbx/v2/phoneService/redirectCall/{linkedId}/internal/{destination}".to_string()
        }
        ["", "api", "pbx", "v2", "phoneService", "redirectCall", _, "internal", _, _] => {
            "/api/pbx/v2/phoneService/redirectCall/{linkedId}/internal/{destination}/{source}"
                .to_string()
        }
        _ => path.to_string(),
    };
    named
}
