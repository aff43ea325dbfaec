//! The REST API's own queries on PostgreSQL (the other REST tests run on SQLite): create an
//! extension that registers at once, roles, users, a tenant, the operation API, a call's
//! record through the CDR filters and the XLSX export, and the deletions.

use super::rest_util::{caller, register_with, Api};
use centralino_e2e::{free_media_port, free_udp_port, fresh_postgres_db, uas, Pbx};
use serde_json::json;
use std::time::Duration;

#[test]
fn the_rest_api_on_postgresql() {
    let Some(url) = fresh_postgres_db() else {
        eprintln!("CENTRALINO_TEST_PG_URL not set: skipped");
        return;
    };
    let pbx = Pbx::start_on(Some(url), &[]);
    let admin = Api::new(pbx.http, "admin", "admin");
    let ext = admin.expect(
        201,
        "post",
        "/rest/extension",
        Some(
            &json!({"number": "301", "accounts": [{"username": "301", "password": "secret-301"}]}),
        ),
    );
    let id = ext["accounts"][0]["id"].as_i64().unwrap();
    let port = free_udp_port();
    register_with(&pbx, "301", "secret-301", port);
    let callee = uas(&pbx, "uas_answer.xml", port, free_media_port(), 1);
    caller(&pbx, "uac_call.xml", "201", "301")
        .args(&["-d", "300"])
        .run_ok();
    assert!(callee.wait(Duration::from_secs(20)).0);
    pbx.closed_cdrs(1);

    admin.expect(
        200,
        "put",
        &format!("/rest/account/{id}"),
        Some(&json!({"enabled": true, "overrides": {"maxExpires": 600}})),
    );
    admin.expect(200, "get", "/rest/account", None);
    admin.expect(
        200,
        "put",
        "/rest/role/reporter",
        Some(&json!({"priority": 1, "access": {"CDR": "read"}})),
    );
    admin.expect(201, "post", "/rest/user", Some(&json!({"username": "rita", "password": "rita-secret-1", "role": "reporter", "apiAccess": true})));
    let rita = Api::new(pbx.http, "rita", "rita-secret-1");
    let page = rita.expect(
        200,
        "get",
        "/rest/cdr?caller=20&called=301&status=OK&type=internal&period=today&pageSize=5",
        None,
    );
    assert_eq!(page["total"], 1, "{page}");
    let tmp = tempfile::tempdir().unwrap();
    let (status, _) = rita.download(
        "post",
        "/rest/cdr",
        Some(&json!({"format": "xlsx", "year": 2026})),
        &tmp.path().join("c.xlsx"),
    );
    assert_eq!(status, 200);
    admin.expect(
        200,
        "post",
        "/rest/operation/BUSYLEVEL/301",
        Some(&json!({"operationData": 2})),
    );
    admin.expect(
        200,
        "post",
        "/rest/operation/CFBS/301",
        Some(&json!({"operationData": "\"0612\""})),
    );
    assert_eq!(
        admin.expect(200, "get", "/rest/operation/CFBS/301", None)["operationData"],
        "0612"
    );
    let hunting = format!("[{{\"priority\": 1, \"accounts\": [{{\"id\": {id}}}]}}]");
    admin.expect(
        200,
        "post",
        "/rest/operation/EXTEN_HUNTING/301",
        Some(&json!({"operationData": hunting})),
    );
    admin.expect(
        201,
        "post",
        "/rest/tenant",
        Some(&json!({"domain": "acme.example"})),
    );
    assert_eq!(
        admin
            .expect(200, "get", "/rest/tenant", None)
            .as_array()
            .unwrap()
            .len(),
        2
    );
    admin.expect(409, "delete", "/rest/role/reporter", None);
    admin.expect(204, "delete", "/rest/user/rita", None);
    admin.expect(204, "delete", "/rest/role/reporter", None);
    admin.expect(204, "delete", "/rest/extension/301", None);
    admin.expect(404, "get", &format!("/rest/account/{id}"), None);
}
