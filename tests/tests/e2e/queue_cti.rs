//! The call center seen and driven over the CTI: a supervisor (demo user 201) follows the
//! waiting count, the oldest caller and the agents' states through real SIPp calls, and the
//! period statistics equal what the call records of those calls give; agents pause with a
//! reason by feature code (SIPp dialling `*81…`), by raw CTI command and through the
//! `cti-core` client; supervisors add and remove dynamic members and pause anyone, agents act
//! only on themselves.

use super::queues::{answered_call, caller, Agent, WAIT};
use centralino_e2e::cti::CtiClient;
use centralino_e2e::{refused_scenario, Pbx};
use cti_core::{Client, CommandError, Config, Credentials, Listener, LiveState, Server, Update};
use serde_json::{json, Value};
use shared_protocol::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ms(v: &Value) -> Option<i64> {
    v.as_str().map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .timestamp_millis()
    })
}

fn is_agent(ext: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["kind"] == "agent" && e["agent"]["extension"] == ext
}

fn is_queue(number: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["kind"] == "queue" && e["queue"]["number"] == number
}

/// The agent's record for `queue` in an `agent` event.
fn membership<'a>(ev: &'a Value, queue: &str) -> Option<&'a Value> {
    ev["agent"]["queues"]
        .as_array()?
        .iter()
        .find(|q| q["queue"] == queue)
}

/// Waits for an `agent` event of `ext` whose membership of `queue` satisfies `f`.
fn wait_membership(
    c: &mut CtiClient,
    ext: &'static str,
    queue: &str,
    what: &str,
    f: impl Fn(Option<&Value>) -> bool,
) -> Value {
    let agent = is_agent(ext);
    c.wait_event(what, WAIT, |e| agent(e) && f(membership(e, queue)))
}

fn paused_for(reason: &str) -> impl Fn(Option<&Value>) -> bool + '_ {
    // The state says `paused` only for an agent with a phone (otherwise `unavailable`).
    move |m| m.is_some_and(|m| m["paused"]["reason"] == reason)
}

fn not_paused(m: Option<&Value>) -> bool {
    m.is_some_and(|m| m["paused"].is_null())
}

fn ok(r: &Value) {
    assert_eq!(r["type"], "result", "{r}");
}

fn refused(r: &Value, code: &str) {
    assert_eq!(
        (r["type"].as_str(), r["code"].as_str()),
        (Some("error"), Some(code)),
        "{r}"
    );
}

/// The period statistics the protocol defines, computed from the `queue` rows of `queue` in
/// the records.
fn stats_from_records(records: &[Value], queue: &str, service_level_s: i64) -> Value {
    let (mut offered, mut answered, mut abandoned, mut overflowed, mut in_sl) = (0, 0, 0, 0, 0);
    let (mut waits, mut talks, mut longest) = (Vec::new(), Vec::new(), 0i64);
    for d in records
        .iter()
        .flat_map(|r| r["details"].as_array().unwrap())
        .filter(|d| d["detail_destination_type"] == "queue" && d["detail_destination_id"] == queue)
    {
        offered += 1;
        let enter = ms(&d["detail_enter_datetime"]).unwrap();
        let exit = ms(&d["detail_exit_datetime"]);
        match (
            ms(&d["detail_answer_datetime"]),
            d["detail_answered_by"].is_string(),
        ) {
            (Some(answer), true) => {
                answered += 1;
                let wait = answer - enter;
                waits.push(wait);
                longest = longest.max(wait);
                if wait <= service_level_s * 1000 {
                    in_sl += 1;
                }
                if let Some(exit) = exit {
                    talks.push(exit - answer);
                }
            }
            _ => {
                let exit = exit.unwrap();
                if d["detail_exit_cause"] == "CANCELED" {
                    abandoned += 1;
                } else {
                    overflowed += 1;
                }
                longest = longest.max(exit - enter);
            }
        }
    }
    let mean = |v: &[i64]| {
        if v.is_empty() {
            0
        } else {
            v.iter().sum::<i64>() / v.len() as i64
        }
    };
    json!({
        "offered": offered, "answered": answered, "abandoned": abandoned,
        "overflowed": overflowed, "answered_in_sl": in_sl, "service_level_s": service_level_s,
        "avg_wait_ms": mean(&waits), "longest_wait_ms": longest, "avg_talk_ms": mean(&talks),
    })
}

/// The statistics of a `queue` event without the period start.
fn stats_of(ev: &Value) -> Value {
    let mut s = ev["queue"]["stats"].clone();
    s.as_object_mut().unwrap().remove("since_ms");
    s
}

/// The states an agent went through, repeated states folded.
fn agent_states(c: &CtiClient, ext: &'static str) -> Vec<String> {
    let agent = is_agent(ext);
    let mut out: Vec<String> = Vec::new();
    for e in c.events.iter().map(|f| &f["event"]).filter(|e| agent(e)) {
        let s = e["agent"]["state"].as_str().unwrap().to_string();
        if out.last() != Some(&s) {
            out.push(s);
        }
    }
    out
}

#[test]
fn a_supervisor_follows_queue_and_agents_and_the_statistics_match_the_records() {
    let pbx = Pbx::start_with(&[
        &[
            "set-queue",
            "620",
            "name=Helpdesk",
            "strategy=ringall",
            "wrapup_s=1",
            "max_wait_s=3",
        ],
        &["set-queue-member", "620", "202", "0"],
    ]);
    let mut sup = CtiClient::connect(pbx.cti);
    let snap = sup.login("201", "demo201", None);
    assert_eq!(snap["user"]["permissions"]["supervisor"], true, "{snap}");
    let queues = snap["call_center"]["queues"].as_array().unwrap();
    let q620 = queues.iter().find(|q| q["number"] == "620").unwrap();
    assert_eq!(
        (&q620["name"], &q620["waiting"], &q620["stats"]["offered"]),
        (&json!("Helpdesk"), &json!(0), &json!(0))
    );
    let names: Vec<&str> = queues
        .iter()
        .map(|q| q["number"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["600", "601", "620"], "the demo's queues and ours");

    let _phone = Agent::start(&pbx, "202", "uas_answer.xml", 1);
    sup.wait_event("202 free", WAIT, |e| {
        is_agent("202")(e) && e["agent"]["state"] == "free"
    });

    // A: answered by 202 (ringing, talking, wrap-up, free again).
    answered_call(&pbx, "620", 1500);
    sup.wait_event("202 free after the wrap-up", WAIT, |e| {
        is_agent("202")(e) && e["agent"]["state"] == "free"
    });
    let states = agent_states(&sup, "202");
    assert!(
        states.ends_with(&["free", "ringing", "talking", "wrapup", "free"].map(String::from)),
        "{states:?}"
    );

    // The supervisor pauses 202 in 620: B waits with nobody to ring and hangs up (abandoned),
    // C waits the maximum 3 s and is sent to the overflow (hang up, 480).
    ok(&sup.command(
        json!({"name": "queue_pause", "queue": "620", "extension": "202", "reason": "lunch"}),
    ));
    wait_membership(&mut sup, "202", "620", "202 paused", paused_for("lunch"));
    caller(&pbx, "uac_cancel.xml", "201", "620")
        .args(&["-d", "1500"])
        .run_ok();
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 480).to_str().unwrap(),
        "205",
        "620",
    )
    .run_ok();

    let records = pbx.closed_cdrs(3);
    let expected = stats_from_records(&records, "620", 20);
    assert_eq!(
        (
            &expected["offered"],
            &expected["answered"],
            &expected["abandoned"],
            &expected["overflowed"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(1)),
        "{records:#?}"
    );
    let last = sup.wait_event("statistics of the three calls", WAIT, |e| {
        is_queue("620")(e) && stats_of(&json!({"queue": e["queue"]})) == expected
    });
    assert_eq!(
        (&last["queue"]["waiting"], &last["queue"]["oldest_since_ms"]),
        (&json!(0), &Value::Null)
    );

    // Every caller showed up as waiting, with its own entry time as the oldest.
    let waiting: Vec<i64> = sup
        .events
        .iter()
        .map(|f| &f["event"])
        .filter(|e| is_queue("620")(e) && e["queue"]["waiting"] == 1)
        .filter_map(|e| e["queue"]["oldest_since_ms"].as_i64())
        .collect();
    for r in &records {
        let enter = ms(&r["details"][0]["detail_enter_datetime"]).unwrap();
        assert!(waiting.contains(&enter), "{enter} not among {waiting:?}");
    }
    // While B and C waited, 202 counted as paused in the queue's agents.
    assert!(sup.events.iter().map(|f| &f["event"]).any(|e| {
        is_queue("620")(e) && e["queue"]["waiting"] == 1 && e["queue"]["agents"]["paused"] == 1
    }));

    // The agent's own figures: one call taken, at A's answer; the pause time once resumed.
    ok(&sup.command(json!({"name": "queue_resume", "queue": "620", "extension": "202"})));
    let ev = wait_membership(&mut sup, "202", "620", "202 resumed", not_paused);
    let m = membership(&ev, "620").unwrap();
    let a = records.iter().find(|r| r["answered_by"] == "202").unwrap();
    assert_eq!(m["calls_taken"], 1);
    assert_eq!(m["last_call_ms"].as_i64(), ms(&a["answer_datetime"]));
    assert!(m["pause_ms"].as_i64().unwrap() > 0, "{m}");
}

#[test]
fn pauses_with_a_reason_by_feature_code_by_cti_and_by_the_agents_own_client() {
    let pbx = Pbx::start();
    let mut sup = CtiClient::logged_in(pbx.cti, "201", "demo201");

    // *81600*3: 202 pauses in 600 with reason 3; *80 ends it.
    caller(&pbx, "uac_wait_bye.xml", "202", "*81600*3").run_ok();
    wait_membership(&mut sup, "202", "600", "202 paused by *81", |m| {
        m.is_some_and(|m| m["paused"]["reason"] == "3")
    });
    caller(&pbx, "uac_wait_bye.xml", "202", "*80").run_ok();
    wait_membership(&mut sup, "202", "600", "202 resumed by *80", not_paused);
    let records = pbx.closed_cdrs(2);
    let services: Vec<(&Value, &Value)> = records
        .iter()
        .map(|r| (&r["details"][0]["detail_destination_id"], &r["status"]))
        .collect();
    assert_eq!(
        services,
        [
            (&json!("queue_pause"), &json!("OK")),
            (&json!("queue_resume"), &json!("OK"))
        ]
    );
    // Not a member of 601: refused.
    let tmp = tempfile::tempdir().unwrap();
    caller(
        &pbx,
        refused_scenario(tmp.path(), 404).to_str().unwrap(),
        "202",
        "*81601",
    )
    .run_ok();

    // Raw CTI: 202 pauses itself everywhere; it may not touch 203.
    let mut agent = CtiClient::logged_in(pbx.cti, "202", "demo202");
    ok(&agent.command(json!({"name": "queue_pause", "reason": "lunch"})));
    wait_membership(
        &mut sup,
        "202",
        "600",
        "202 paused over CTI",
        paused_for("lunch"),
    );
    wait_membership(
        &mut agent,
        "202",
        "600",
        "202 sees its own pause",
        paused_for("lunch"),
    );
    refused(
        &agent.command(json!({"name": "queue_pause", "extension": "203", "reason": "x"})),
        "permission_denied",
    );
    refused(
        &agent.command(json!({"name": "queue_login", "queue": "601", "extension": "203"})),
        "permission_denied",
    );
    refused(
        &agent.command(json!({"name": "queue_resume", "extension": "203"})),
        "permission_denied",
    );
    refused(
        &agent.command(json!({"name": "queue_pause", "reason": "x".repeat(65)})),
        "bad_arguments",
    );
    ok(&agent.command(json!({"name": "queue_resume"})));
    wait_membership(&mut sup, "202", "600", "202 resumed over CTI", not_paused);

    // The cti-core client (the desktop and mobile apps' engine) as 203.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = {
        let _g = rt.enter();
        Client::start(
            Config {
                server: Server::Tcp(pbx.cti.to_string()),
                credentials: Credentials {
                    user: "203".into(),
                    password: "demo203".into(),
                    tenant: None,
                },
            },
            Arc::new(Quiet),
        )
    };
    assert!(rt.block_on(client.wait_live(WAIT)));
    rt.block_on(client.queue_pause(Some("600"), None, Some("coffee")))
        .unwrap();
    wait_membership(
        &mut sup,
        "203",
        "600",
        "203 paused by its client",
        paused_for("coffee"),
    );
    let own = until(&client, |s| {
        s.agents
            .get("203")
            .and_then(|a| a.queues.iter().find(|q| q.queue == "600"))
            .and_then(|q| q.paused.clone())
    });
    assert_eq!(own.reason.as_deref(), Some("coffee"));
    let denied = rt.block_on(client.queue_pause(None, Some("204"), Some("x")));
    assert!(
        matches!(
            &denied,
            Err(CommandError::Server {
                code: ErrorCode::PermissionDenied,
                ..
            })
        ),
        "{denied:?}"
    );
    rt.block_on(client.queue_resume(None, None)).unwrap();
    wait_membership(
        &mut sup,
        "203",
        "600",
        "203 resumed by its client",
        not_paused,
    );

    // An agent logs itself in and out of a queue.
    rt.block_on(client.queue_login("601", None, Some(2)))
        .unwrap();
    let ev = wait_membership(&mut sup, "203", "601", "203 in 601", |m| m.is_some());
    let m = membership(&ev, "601").unwrap();
    assert_eq!((&m["dynamic"], &m["penalty"]), (&json!(true), &json!(2)));
    rt.block_on(client.queue_logout("601", None)).unwrap();
    wait_membership(&mut sup, "203", "601", "203 out of 601", |m| m.is_none());
    rt.block_on(client.stop());
}

#[test]
fn a_supervisor_adds_and_removes_dynamic_members_and_pauses_any_agent() {
    let pbx = Pbx::start_with(&[&["set-queue", "600", "wrapup_s=0"]]);
    let mut sup = CtiClient::logged_in(pbx.cti, "201", "demo201");
    // Both configured members of 600 paused by the supervisor; 205 joins and takes the call.
    for ext in ["202", "203"] {
        ok(&sup.command(
            json!({"name": "queue_pause", "queue": "600", "extension": ext, "reason": "meeting"}),
        ));
    }
    wait_membership(&mut sup, "203", "600", "203 paused", paused_for("meeting"));
    ok(&sup
        .command(json!({"name": "queue_login", "queue": "600", "extension": "205", "penalty": 1})));
    let ev = wait_membership(&mut sup, "205", "600", "205 in 600", |m| m.is_some());
    let m = membership(&ev, "600").unwrap();
    assert_eq!((&m["dynamic"], &m["penalty"]), (&json!(true), &json!(1)));
    let _phone = Agent::start(&pbx, "205", "uas_answer.xml", 1);
    wait_membership(&mut sup, "205", "600", "205 free", |m| {
        m.is_some_and(|m| m["state"] == "free")
    });
    answered_call(&pbx, "600", 300);
    assert_eq!(pbx.closed_cdrs(1)[0]["answered_by"], "205");

    // Configured members cannot be logged out; a member cannot join twice.
    refused(
        &sup.command(json!({"name": "queue_logout", "queue": "600", "extension": "202"})),
        "invalid_state",
    );
    refused(
        &sup.command(json!({"name": "queue_login", "queue": "600", "extension": "205"})),
        "invalid_state",
    );
    refused(
        &sup.command(json!({"name": "queue_login", "queue": "699", "extension": "205"})),
        "not_found",
    );

    // Dynamic members and open pauses are stored: a restart keeps them.
    drop(sup);
    let mut pbx = pbx;
    pbx.restart();
    let mut sup = CtiClient::connect(pbx.cti);
    let snap = sup.login("201", "demo201", None);
    let agents = snap["call_center"]["agents"].as_array().unwrap();
    let agent =
        |ext: &str| json!({"agent": agents.iter().find(|a| a["extension"] == ext).unwrap()});
    let m = agent("205");
    let m = membership(&m, "600").unwrap();
    assert_eq!((&m["dynamic"], &m["penalty"]), (&json!(true), &json!(1)));
    // 202 has no phone since the restart (unavailable); its pause goes on.
    assert_eq!(
        membership(&agent("202"), "600").unwrap()["paused"]["reason"],
        "meeting"
    );

    ok(&sup.command(json!({"name": "queue_logout", "queue": "600", "extension": "205"})));
    // Still a configured member of the demo's 601.
    let ev = wait_membership(&mut sup, "205", "600", "205 out of 600", |m| m.is_none());
    assert!(membership(&ev, "601").is_some(), "{ev}");
    for ext in ["202", "203"] {
        ok(&sup.command(json!({"name": "queue_resume", "extension": ext})));
    }
    let ev = wait_membership(&mut sup, "203", "600", "203 resumed", not_paused);
    assert!(
        membership(&ev, "600").unwrap()["pause_ms"]
            .as_i64()
            .unwrap()
            > 0,
        "{ev}"
    );
}

struct Quiet;

impl Listener for Quiet {
    fn on_update(&self, _update: &Update, _state: &LiveState) {}
}

/// Polls the client's state until `f` gives something.
fn until<T>(c: &Client, f: impl Fn(&LiveState) -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f(&c.state()) {
            return v;
        }
        assert!(start.elapsed() < WAIT, "timed out; state: {:#?}", c.state());
        std::thread::sleep(Duration::from_millis(50));
    }
}
