//! The desktop app's local HTTP API and automatic actions (issue 6, acceptance 5), against a
//! real pbx-server with SIPp phones. The desktop logic (`cti_desktop::Desktop`: relay, API,
//! action runner) runs here without a window; a stand-in plays the web UI's part on the relay
//! (log in, answer pings), as the window's TauriTransport does.

use centralino_e2e::cti::CtiClient;
use centralino_e2e::http::request;
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, Sipp, SippChild};
use cti_core::relay::{ConnId, FrameSink, RelayHandle};
use cti_core::{LiveState, Server};
use cti_desktop::actions::{Action, ActionKind, ActionSettings, Trigger};
use cti_desktop::settings::{ApiSettings, Settings};
use cti_desktop::Desktop;
use serde_json::{json, Value};
use shared_protocol::Command;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);
const TOKEN: &str = "local-api-test-token-0123456789";

enum Link {
    Open,
    Ping,
}

struct StandInSink(mpsc::UnboundedSender<Link>);

impl FrameSink for StandInSink {
    fn opened(&self) {
        let _ = self.0.send(Link::Open);
    }
    fn frame(&self, text: String) {
        if text.contains("\"type\":\"ping\"") {
            let _ = self.0.send(Link::Ping);
        }
    }
    fn closed(&self, _was_open: bool, _reason: String) {}
}

/// Logs in over the relay as the web UI would, and answers the server's pings.
async fn ui_stand_in(relay: RelayHandle, pbx: &Pbx, user: &str) -> ConnId {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let url = format!("ws://{}/cti", pbx.http);
    let conn = relay
        .open(Server::WebSocket(url), Arc::new(StandInSink(tx)))
        .await;
    let login = json!({"type": "login", "user": user, "password": format!("demo{user}"),
        "tenant": null, "resume_from": null})
    .to_string();
    tokio::spawn(async move {
        while let Some(l) = rx.recv().await {
            match l {
                Link::Open => relay.send(conn, login.clone()).await,
                Link::Ping => relay.send(conn, r#"{"type":"pong"}"#.into()).await,
            }
        }
    });
    conn
}

struct Api(SocketAddr);

impl Api {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = format!("Bearer {TOKEN}");
        request(
            self.0,
            method,
            path,
            &[("Authorization", &auth)],
            body.as_ref(),
        )
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, v) = self.call(method, path, body.clone());
        assert_eq!(status, 200, "{method} {path} {body:?} -> {status} {v}");
        v
    }
}

fn until(what: &str, relay: &RelayHandle, f: impl Fn(&LiveState) -> bool) {
    let start = Instant::now();
    while !f(&relay.state()) {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_ok(what: &str, child: SippChild) {
    let (ok, out) = child.wait(WAIT);
    assert!(ok, "{what}: {out}");
}

fn caller(pbx: &Pbx, scenario: &str, from: &str, to: &str, extra: &[&str]) -> SippChild {
    Sipp::new(scenario, pbx.sip)
        .args(&[
            "-p",
            &free_udp_port().to_string(),
            "-mp",
            &free_media_port().to_string(),
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
        .args(extra)
        .spawn()
}

/// A program that appends its arguments, `|`-separated, to `record.log` beside it.
fn recorder(dir: &Path) -> String {
    let script = dir.join("record.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s|' \"$@\" >> \"$(dirname \"$0\")/record.log\"\necho >> \"$(dirname \"$0\")/record.log\"\n",
    )
    .unwrap();
    let mut p = std::fs::metadata(&script).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(&script, p).unwrap();
    format!("\"{}\"", script.display())
}

fn recorded(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("record.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn wait_recorded(dir: &Path, what: &str, f: impl Fn(&[String]) -> bool) -> Vec<String> {
    let start = Instant::now();
    loop {
        let r = recorded(dir);
        if f(&r) {
            return r;
        }
        assert!(start.elapsed() < WAIT, "{what}: recorded {r:#?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The user's call with `other` in it, once visible.
fn call_with(relay: &RelayHandle, other: &str) -> String {
    let start = Instant::now();
    loop {
        let found = relay
            .state()
            .calls
            .values()
            .find(|c| c.caller.number == other || c.callee.number == other)
            .map(|c| c.id.clone());
        if let Some(id) = found {
            return id;
        }
        assert!(
            start.elapsed() < WAIT,
            "timed out waiting for a call with {other}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start_desktop(rt: &tokio::runtime::Runtime, actions: ActionSettings) -> (Desktop, Api) {
    let settings = Settings {
        api: ApiSettings {
            enabled: true,
            port: 0,
            token: TOKEN.into(),
        },
        actions,
        ..Settings::default()
    };
    let desktop = rt.block_on(Desktop::start(&settings, None));
    let api = Api(desktop.api_addr.expect("the local API listens"));
    (desktop, api)
}

#[test]
fn local_api_guards_itself_and_drives_dnd_queues_click_to_call_and_hangup() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = Pbx::start();
    let (desktop, api) = start_desktop(&rt, ActionSettings::default());
    let relay = desktop.relay.clone();

    // Before the UI signs in there is no session to act with.
    let (status, v) = api.call("POST", "/api/v1/dnd", Some(json!({"enabled": true})));
    assert_eq!((status, v["error"].clone()), (503, json!("not_connected")));
    rt.block_on(ui_stand_in(relay.clone(), &pbx, "201"));
    assert!(
        rt.block_on(relay.wait_live(WAIT)),
        "the stand-in UI signed in"
    );

    // Token and Host checks.
    assert_eq!(request(api.0, "GET", "/api/v1/status", &[], None).0, 401);
    assert_eq!(
        request(
            api.0,
            "GET",
            "/api/v1/status",
            &[("Authorization", "Bearer wrong-token-0123456789012345")],
            None
        )
        .0,
        401
    );
    let evil = request_with_host(api.0, "rebind.example:5049");
    assert_eq!(evil, 403, "a page under a rebound name is refused");
    let v = api.ok("GET", "/api/v1/status", None);
    assert_eq!(
        (
            v["connected"].clone(),
            v["user"].clone(),
            v["extension"].clone()
        ),
        (json!(true), json!("201"), json!("201"))
    );
    let (status, v) = api.call("POST", "/api/v1/dnd", Some(json!({"on": true})));
    assert_eq!(
        (status, v["error"].clone()),
        (400, json!("bad_arguments")),
        "{v}"
    );

    // DND on and off: the PBX applies it (the relay's state follows its events: the user's
    // services and the directory row everyone sees; another user is told too).
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    api.ok("POST", "/api/v1/dnd", Some(json!({"enabled": true})));
    until("DND on", &relay, |s| {
        s.services.as_ref().is_some_and(|x| x.dnd) && s.extensions.get("201").is_some_and(|e| e.dnd)
    });
    assert_eq!(api.ok("GET", "/api/v1/status", None)["dnd"], json!(true));
    c202.wait_event("202 sees 201's DND", WAIT, |e| {
        e["kind"] == "extension_dnd" && e["extension"] == "201" && e["dnd"] == true
    });
    api.ok("POST", "/api/v1/dnd", Some(json!({"enabled": false})));
    until("DND off", &relay, |s| {
        s.services.as_ref().is_some_and(|x| !x.dnd)
    });

    // Pause and resume in all queues: 201 joins two queues first.
    for q in ["600", "601"] {
        rt.block_on(relay.command(Command::QueueLogin {
            queue: q.into(),
            extension: None,
            penalty: None,
        }))
        .unwrap_or_else(|e| panic!("queue_login {q}: {e}"));
    }
    until("201 agent of 2 queues", &relay, |s| {
        s.agents.get("201").is_some_and(|a| a.queues.len() == 2)
    });
    api.ok(
        "POST",
        "/api/v1/queues/pause",
        Some(json!({"reason": "lunch"})),
    );
    until("paused everywhere", &relay, |s| {
        s.agents.get("201").is_some_and(|a| {
            a.queues.iter().all(|q| {
                q.paused
                    .as_ref()
                    .is_some_and(|p| p.reason.as_deref() == Some("lunch"))
            })
        })
    });
    api.ok("POST", "/api/v1/queues/resume", None);
    until("resumed everywhere", &relay, |s| {
        s.agents
            .get("201")
            .is_some_and(|a| a.queues.iter().all(|q| q.paused.is_none()))
    });

    // Click-to-call: 201's phone rings first; the active call is that one; hang up cancels it.
    let (status, v) = api.call("GET", "/api/v1/call", None);
    assert_eq!((status, v["error"].clone()), (404, json!("no_active_call")));
    let p201 = free_udp_port();
    register(&pbx, "201", p201);
    let phone = uas(&pbx, "uas_noanswer.xml", p201, free_media_port(), 1);
    // SIPp needs a moment to bind its port; an INVITE before that is lost.
    std::thread::sleep(Duration::from_secs(1));
    let v = api.ok("POST", "/api/v1/call", Some(json!({"number": "202"})));
    let id = v["call"].as_str().expect("the call's id").to_string();
    until("the click-to-call visible", &relay, |s| {
        s.calls.contains_key(&id)
    });
    let v = api.ok("GET", "/api/v1/call", None);
    assert_eq!(
        (v["id"].as_str(), v["state"].as_str()),
        (Some(id.as_str()), Some("ringing")),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(500));
    api.ok("POST", "/api/v1/hangup", None);
    // Exits 0 only after the INVITE and then its CANCEL.
    wait_ok("201's phone rung by click-to-call", phone);
    until("no call left", &relay, |s| s.calls.is_empty());
    let (status, v) = api.call("POST", "/api/v1/call", Some(json!({})));
    assert_eq!((status, v["error"].clone()), (400, json!("bad_arguments")));
    drop(desktop);
}

/// A GET of the status with the right token and another Host.
fn request_with_host(addr: SocketAddr, host: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /api/v1/status HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    resp.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[test]
fn local_api_transfers_blind_and_attended_and_actions_fire_with_placeholders() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = Pbx::start();
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path());
    let line =
        |on: &str| format!("{rec} {on} <callernum> <callername> <extenNum> <uid> <queueName>");
    let actions = ActionSettings {
        actions: vec![
            Action {
                on: Trigger::Ring,
                kind: ActionKind::Program,
                template: line("IN"),
            },
            Action {
                on: Trigger::Answer,
                kind: ActionKind::Program,
                template: line("RIS"),
            },
            Action {
                on: Trigger::Hangup,
                kind: ActionKind::Program,
                template: line("FIN"),
            },
        ],
        // Every call here is between extensions; outgoing ones stay out of scope.
        internal_calls: true,
        outgoing_calls: false,
    };
    let (desktop, api) = start_desktop(&rt, actions);
    let relay = desktop.relay.clone();
    rt.block_on(ui_stand_in(relay.clone(), &pbx, "201"));
    assert!(rt.block_on(relay.wait_live(WAIT)));
    let (p201, p203) = (free_udp_port(), free_udp_port());
    register(&pbx, "201", p201);
    register(&pbx, "203", p203);

    // 202 calls 201, who answers; the API hangs up the active call.
    let phone = uas(&pbx, "uas_answer.xml", p201, free_media_port(), 1);
    let calling = caller(&pbx, "uac_wait_bye.xml", "202", "201", &[]);
    let first = call_with(&relay, "202");
    until("answered", &relay, |s| {
        s.calls.get(&first).is_some_and(|c| c.answered_ms.is_some())
    });
    let v = api.ok("GET", "/api/v1/call", None);
    assert_eq!(
        (
            v["number"].clone(),
            v["name"].clone(),
            v["direction"].clone(),
            v["state"].clone()
        ),
        (
            json!("202"),
            json!("Bruno Demo"),
            json!("inbound"),
            json!("connected")
        ),
        "{v}"
    );
    std::thread::sleep(Duration::from_millis(300));
    api.ok("POST", "/api/v1/hangup", None);
    wait_ok("caller 202", calling);
    wait_ok("201", phone);
    let r = wait_recorded(dir.path(), "IN, RIS, FIN of the first call", |r| {
        r.len() >= 3
    });
    assert_eq!(
        r,
        [
            format!("IN|202|Bruno Demo|201|{first}||"),
            format!("RIS|202|Bruno Demo|201|{first}||"),
            format!("FIN|202|Bruno Demo|201|{first}||"),
        ]
    );

    // Blind: 202 calls 201, the API sends 202 on to 203.
    let phone = uas(&pbx, "uas_answer.xml", p201, free_media_port(), 1);
    let target = uas(&pbx, "uas_answer.xml", p203, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "202", "201", &["-d", "4000"]);
    let blind = call_with(&relay, "202");
    until("answered", &relay, |s| {
        s.calls.get(&blind).is_some_and(|c| c.answered_ms.is_some())
    });
    std::thread::sleep(Duration::from_millis(300));
    let (status, v) = api.call(
        "POST",
        "/api/v1/transfer",
        Some(json!({"number": "203", "attended": true})),
    );
    assert_eq!((status, v["error"].clone()), (400, json!("bad_arguments")));
    api.ok("POST", "/api/v1/transfer", Some(json!({"number": "203"})));
    wait_ok("transferor 201", phone);
    wait_ok("caller 202", calling);
    wait_ok("target 203", target);
    let cdrs = pbx.closed_cdrs(2);
    let r = cdrs
        .iter()
        .find(|r| r["unique_id"] == blind.as_str())
        .unwrap();
    let steps: Vec<(String, String)> = r["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["detail_destination_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                d["detail_exit_cause"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert!(
        steps
            .first()
            .is_some_and(|s| s.0 == "201" && s.1 == "BLINDXFER"),
        "{r:#}"
    );

    // Attended: 201 calls 202 and then 203; the API joins them. Outgoing calls are out of the
    // actions' scope, so nothing more is recorded.
    let before = recorded(dir.path()).len();
    let mut c202 = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let kept = uas(
        &pbx,
        "uas_answer.xml",
        free_port_registered(&pbx, "202"),
        free_media_port(),
        1,
    );
    let consulted = uas(&pbx, "uas_reinvite.xml", p203, free_media_port(), 1);
    let first_leg = caller(&pbx, "uac_wait_bye.xml", "201", "202", &[]);
    let x = call_with(&relay, "202");
    until("x answered", &relay, |s| {
        s.calls.get(&x).is_some_and(|c| c.answered_ms.is_some())
    });
    let second_leg = caller(&pbx, "uac_wait_bye.xml", "201", "203", &[]);
    let y = call_with(&relay, "203");
    until("y answered", &relay, |s| {
        s.calls.get(&y).is_some_and(|c| c.answered_ms.is_some())
    });
    std::thread::sleep(Duration::from_millis(300));
    api.ok("POST", "/api/v1/transfer", Some(json!({"attended": true})));
    wait_ok("201's first call", first_leg);
    wait_ok("201's consultation", second_leg);
    c202.wait_event("202 with 203", WAIT, |e| {
        e["kind"] == "call"
            && e["call"]["id"] == x.as_str()
            && e["call"]["caller"]["number"] == "203"
    });
    let r = c202.command(json!({"name": "hangup", "call": x}));
    assert_eq!(r["type"], "result", "{r}");
    wait_ok("kept 202", kept);
    wait_ok("consulted 203", consulted);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        recorded(dir.path()).len(),
        before,
        "outgoing calls are out of scope"
    );
    drop(desktop);
}

/// Registers `ext` from a fresh port and returns it.
fn free_port_registered(pbx: &Pbx, ext: &str) -> u16 {
    let p = free_udp_port();
    register(pbx, ext, p);
    p
}

#[test]
fn a_queue_call_fires_the_ring_action_with_the_queue_name() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = Pbx::start();
    let dir = tempfile::tempdir().unwrap();
    let rec = recorder(dir.path());
    let actions = ActionSettings {
        actions: vec![Action {
            on: Trigger::Ring,
            kind: ActionKind::Program,
            template: format!("{rec} <callernum> <extenNum> <queueName> <uid>"),
        }],
        internal_calls: true,
        outgoing_calls: false,
    };
    let (desktop, _api) = start_desktop(&rt, actions);
    let relay = desktop.relay.clone();
    rt.block_on(ui_stand_in(relay.clone(), &pbx, "201"));
    assert!(rt.block_on(relay.wait_live(WAIT)));
    let p201 = free_udp_port();
    register(&pbx, "201", p201);
    // 601 "Support" rings all its agents; its configured ones (204, 205) have no phone.
    rt.block_on(relay.command(Command::QueueLogin {
        queue: "601".into(),
        extension: None,
        penalty: None,
    }))
    .unwrap();
    until("agent of 601", &relay, |s| s.agents.contains_key("201"));
    let phone = uas(&pbx, "uas_answer.xml", p201, free_media_port(), 1);
    let calling = caller(&pbx, "uac_call.xml", "202", "601", &["-d", "1000"]);
    let r = wait_recorded(dir.path(), "the ring action", |r| !r.is_empty());
    let fields: Vec<&str> = r[0].split('|').collect();
    assert_eq!(&fields[..3], ["202", "201", "Support"], "{r:?}");
    assert!(!fields[3].is_empty(), "the call's id: {r:?}");
    wait_ok("caller 202", calling);
    wait_ok("agent 201", phone);
    drop(desktop);
}
