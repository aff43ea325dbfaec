//! The seed's queue operation API (issue 7): `/rest/operation/queue[/{name}]`,
//! `queue/pause` and `queue/dynamicMember` with the seed's bodies act as the CTI's queue
//! commands: a pause set over REST shows in a supervisor's CTI stream and the paused agent is
//! not rung (SIPp agents); a dynamic member added over REST takes the call; who may act on whom.

use super::queues::{answered_call, Agent, WAIT};
use super::rest_util::Api;
use centralino_e2e::cti::CtiClient;
use centralino_e2e::Pbx;
use serde_json::{json, Value};

/// Waits for an `agent` event of `ext` whose membership of `queue` satisfies `f` (`None`:
/// not a member).
fn wait_agent(
    c: &mut CtiClient,
    ext: &str,
    queue: &str,
    what: &str,
    f: impl Fn(Option<&Value>) -> bool,
) {
    c.wait_event(what, WAIT, |e| {
        e["kind"] == "agent"
            && e["agent"]["extension"] == ext
            && f(e["agent"]["queues"]
                .as_array()
                .and_then(|qs| qs.iter().find(|q| q["queue"] == queue)))
    });
}

#[test]
fn pauses_and_dynamic_members_over_rest_show_in_the_cti_and_decide_who_is_rung() {
    let pbx = Pbx::start_with(&[
        &[
            "set-queue",
            "620",
            "name=Helpdesk",
            "strategy=ringall",
            "wrapup_s=0",
        ],
        &["set-queue-member", "620", "202", "0"],
        &["set-user", "204", "api_access=1"],
    ]);
    let admin = Api::new(pbx.http, "admin", "admin");
    let mut sup = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let a202 = Agent::start(&pbx, "202", "uas_answer.xml", 1);
    let a203 = Agent::start(&pbx, "203", "uas_answer.xml", 1);

    // Nothing changed yet: every queue is null, by name.
    let all = admin.expect(200, "get", "/rest/operation/queue", None);
    assert_eq!(
        (&all["Helpdesk"], &all["Sales"], &all["Support"]),
        (&Value::Null, &Value::Null, &Value::Null),
        "{all}"
    );

    // 203 joins Helpdesk as a dynamic member with penalty 1, as the seed posts it.
    admin.expect(
        200,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"queue": "Helpdesk", "account": "SIP/203", "enabled": true, "penalty": 1})),
    );
    wait_agent(&mut sup, "203", "620", "203 dynamic in 620", |m| {
        m.is_some_and(|m| m["dynamic"] == true && m["penalty"] == 1)
    });
    let one = admin.expect(200, "get", "/rest/operation/queue/Helpdesk", None);
    assert_eq!(
        one,
        json!({"Helpdesk": {"dynamicMembers": {"SIP/203": 1}}}),
        "only that queue"
    );

    // The supervisor (admin) pauses 202 in Helpdesk: the CTI shows it and 203 takes the call.
    admin.expect(
        200,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"queue": "Helpdesk", "account": "SIP/202", "enabled": true})),
    );
    wait_agent(&mut sup, "202", "620", "202 paused in 620", |m| {
        m.is_some_and(|m| m["paused"].is_object())
    });
    let one = admin.expect(200, "get", "/rest/operation/queue/620", None);
    let pause = &one["Helpdesk"]["pause"]["SIP/202"];
    assert_eq!(pause["status"], true, "{one}");
    let ts = pause["timestamp"].as_str().unwrap();
    assert!(
        ts.len() == 29 && ts.ends_with("+00") && &ts[10..11] == " ",
        "the seed's timestamp form: {ts}"
    );
    answered_call(&pbx, "620", 500);
    let r = &pbx.closed_cdrs(1)[0];
    assert_eq!(r["answered_by"], "203", "{r:#}");
    assert_eq!(a202.invites(), 0, "the paused agent is not rung");
    assert_eq!(a203.invites(), 1);

    // Unpaused in every queue (no `queue`), with the seed's trailing comma.
    let (status, body) = admin.call(
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"account": "SIP/202", "enabled": false})),
    );
    assert_eq!((status, body), (200, json!("")), "no body");
    wait_agent(&mut sup, "202", "620", "202 back in 620", |m| {
        m.is_some_and(|m| m["paused"].is_null())
    });
    let all = admin.expect(200, "get", "/rest/operation/queue", None);
    assert_eq!(
        all["Helpdesk"]["pause"]["SIP/202"]["status"], false,
        "{all}"
    );

    // 203 leaves (enabled absent means remove).
    admin.expect(
        200,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"queue": "Helpdesk", "account": "SIP/203"})),
    );
    wait_agent(&mut sup, "203", "620", "203 out of 620", |m| m.is_none());
    // A static member is not removed.
    admin.expect(
        409,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"queue": "Helpdesk", "account": "SIP/202"})),
    );

    // Bad input and unknown names.
    admin.expect(404, "get", "/rest/operation/queue/Nope", None);
    admin.expect(
        404,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"queue": "Nope", "account": "SIP/202", "enabled": true})),
    );
    admin.expect(
        404,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"account": "SIP/999", "enabled": true})),
    );
    admin.expect(
        400,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"enabled": true})),
    );
    admin.expect(
        400,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"account": "SIP/203", "enabled": true, "penalty": -1})),
    );

    // An agent (role user) acts on itself only, and sees only its own accounts.
    let agent = Api::new(pbx.http, "204", "demo204");
    agent.expect(
        200,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"queue": "Support", "account": "SIP/204", "enabled": true})),
    );
    wait_agent(&mut sup, "204", "601", "204 paused in 601", |m| {
        m.is_some_and(|m| m["paused"].is_object())
    });
    agent.expect(
        403,
        "post",
        "/rest/operation/queue/pause",
        Some(&json!({"queue": "Support", "account": "SIP/205", "enabled": true})),
    );
    agent.expect(
        403,
        "post",
        "/rest/operation/queue/dynamicMember",
        Some(&json!({"account": "SIP/999", "enabled": true})),
    );
    let seen = agent.expect(200, "get", "/rest/operation/queue", None);
    assert_eq!(
        seen["Support"]["pause"]["SIP/204"]["status"], true,
        "{seen}"
    );
    assert_eq!(
        seen["Helpdesk"],
        Value::Null,
        "202's pause is not 204's business"
    );
}
