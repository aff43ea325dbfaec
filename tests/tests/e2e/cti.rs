//! The CTI stream against real SIPp phones: exact lamp sequences, presence and history,
//! resume with the last `seq` (exact replay, or a snapshot equal to the live state), login
//! errors, privacy masking.

use centralino_e2e::cti::CtiClient;
use centralino_e2e::{free_media_port, free_udp_port, register, uas, Pbx, Sipp};
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

fn caller(pbx: &Pbx, scenario: &str, port: u16, from: &str, to: &str) -> Sipp {
    Sipp::new(scenario, pbx.sip).args(&[
        "-p",
        &port.to_string(),
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
}

fn lamp_is(ext: &'static str, lamp: &'static str) -> impl FnMut(&Value) -> bool {
    move |e| e["kind"] == "lamp" && e["extension"] == ext && e["lamp"] == lamp
}

/// Registers 201 and 202 and waits until a client sees both idle.
fn two_idle_phones(pbx: &Pbx, c: &mut CtiClient) -> (u16, u16) {
    let (p1, p2) = (free_udp_port(), free_udp_port());
    register(pbx, "201", p1);
    register(pbx, "202", p2);
    for ext in ["201", "202"] {
        if c.state.extensions[ext]["lamp"] != "idle" {
            c.wait_event("idle lamp", WAIT, lamp_is(ext, "idle"));
        }
    }
    (p1, p2)
}

#[test]
fn a_sipp_call_with_hold_gives_the_exact_lamp_sequence_presence_and_history() {
    let pbx = Pbx::start();
    let mut watcher = CtiClient::logged_in(pbx.cti, "205", "demo205");
    let mut user = CtiClient::logged_in(pbx.cti, "201", "demo201");
    assert_eq!(user.state.extensions["201"]["lamp"], "unavailable");
    let (p1, p2) = two_idle_phones(&pbx, &mut watcher);
    watcher.drain(Duration::from_millis(300));
    let start = watcher.events.len();

    let callee = uas(&pbx, "uas_hold.xml", p2, free_media_port(), 1);
    caller(&pbx, "uac_hold.xml", p1, "201", "202").run_ok();
    let (ok, out) = callee.wait(Duration::from_secs(10));
    assert!(ok, "callee: {out}");
    watcher.wait_event("201 idle again", WAIT, lamp_is("201", "idle"));
    if watcher.lamps("202").last().map(String::as_str) != Some("idle") {
        watcher.wait_event("202 idle again", WAIT, lamp_is("202", "idle"));
    }
    watcher.drain(Duration::from_millis(300));
    let seen: Vec<Value> = watcher.events[start..]
        .iter()
        .map(|e| e["event"].clone())
        .collect();
    let lamps = |ext: &str| -> Vec<&str> {
        seen.iter()
            .filter(|e| e["kind"] == "lamp" && e["extension"] == ext)
            .map(|e| e["lamp"].as_str().unwrap())
            .collect()
    };
    // The caller put the call on hold and resumed it; the callee stayed busy.
    assert_eq!(
        lamps("201"),
        ["ringing", "busy", "hold", "busy", "idle"],
        "{seen:#?}"
    );
    assert_eq!(lamps("202"), ["ringing", "busy", "idle"], "{seen:#?}");
    let first_ring = seen
        .iter()
        .find(|e| e["kind"] == "lamp" && e["extension"] == "202")
        .unwrap();
    assert_eq!(first_ring["peer"]["number"], "201");
    assert_eq!(first_ring["direction"], "inbound");
    // Presence follows the line.
    let presence: Vec<&str> = seen
        .iter()
        .filter(|e| e["kind"] == "presence" && e["extension"] == "202")
        .map(|e| e["presence"]["effective"].as_str().unwrap())
        .collect();
    assert_eq!(presence, ["on_the_phone", "available"]);
    // 205 is no party: it saw lamps but not the call itself.
    assert!(!seen.iter().any(|e| e["kind"] == "call"));

    // The caller's user saw the call and gets the new history entry.
    let history = user.wait_event("history entry", WAIT, |e| e["kind"] == "history");
    assert_eq!(history["entry"]["direction"], "outbound");
    assert_eq!(history["entry"]["other"]["number"], "202");
    assert_eq!(history["entry"]["status"], "OK");
    assert_eq!(history["entry"]["answered"], true);
    let states: Vec<&str> = user
        .events
        .iter()
        .filter(|e| e["event"]["kind"] == "call")
        .map(|e| e["event"]["call"]["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"ringing") && states.contains(&"held"),
        "{states:?}"
    );
    assert_eq!(states.last(), Some(&"connected"));
    assert!(
        user.state.calls.is_empty(),
        "call ended: {:?}",
        user.state.calls
    );
    let page = user.command(json!({"name": "history", "limit": 5}));
    assert_eq!(page["type"], "result", "{page}");
    assert_eq!(page["data"]["entries"][0]["id"], history["entry"]["id"]);
    let cdr = pbx.closed_cdrs(1);
    assert_eq!(
        page["data"]["entries"][0]["id"], cdr[0]["unique_id"],
        "{cdr:#?}"
    );
}

#[test]
fn a_resumed_client_gets_exactly_the_missed_events_then_a_snapshot_once_out_of_the_window() {
    let pbx = Pbx::start_with_args(&[], &["--cti-replay-events", "40"]);
    let mut reference = CtiClient::logged_in(pbx.cti, "203", "demo203");
    let mut c = CtiClient::logged_in(pbx.cti, "203", "demo203");
    let (p1, p2) = two_idle_phones(&pbx, &mut reference);
    c.drain(Duration::from_millis(300));

    let callee = uas(&pbx, "uas_hold.xml", p2, free_media_port(), 1);
    let call = caller(&pbx, "uac_hold.xml", p1, "201", "202").spawn();
    // Mid-call: the client loses its connection after the callee answered.
    c.wait_event("202 busy", WAIT, lamp_is("202", "busy"));
    let last = c.last_seq;
    let before: Vec<Value> = c.events.clone();
    drop(c);
    let (ok, out) = call.wait(Duration::from_secs(15));
    assert!(ok, "caller: {out}");
    let _ = callee.wait(Duration::from_secs(10));
    reference.wait_event("201 idle", WAIT, lamp_is("201", "idle"));
    reference.drain(Duration::from_millis(300));

    let mut back = CtiClient::connect(pbx.cti);
    let first = back.login("203", "demo203", Some(last));
    assert_eq!(first["type"], "resumed", "{first}");
    back.drain(Duration::from_millis(500));
    let replayed = first["replayed"].as_u64().unwrap() as usize;
    assert!(replayed > 0);
    assert_eq!(back.events.len(), replayed);
    // Before + replayed = what a client that never left saw, in order, no duplicates.
    let mut joined = before;
    joined.extend(back.events.iter().cloned());
    let first_seq = joined[0]["seq"].as_u64().unwrap();
    let from_reference: Vec<&Value> = reference
        .events
        .iter()
        .filter(|e| e["seq"].as_u64().unwrap() >= first_seq)
        .collect();
    assert_eq!(joined.iter().collect::<Vec<_>>(), from_reference);

    // Push the early events out of the 40-event window with more calls, then resume from
    // the old seq: a snapshot, equal to what the reference client built from events.
    for _ in 0..3 {
        let callee = uas(&pbx, "uas_answer.xml", p2, free_media_port(), 1);
        caller(&pbx, "uac_call.xml", p1, "201", "202")
            .args(&["-d", "200"])
            .run_ok();
        let _ = callee.wait(Duration::from_secs(10));
    }
    reference.wait_event("201 idle", WAIT, lamp_is("201", "idle"));
    reference.drain(Duration::from_millis(500));
    let mut late = CtiClient::connect(pbx.cti);
    let first = late.login("203", "demo203", Some(last));
    assert_eq!(first["type"], "snapshot", "{first}");
    // The snapshot's seq counts events 203 may not see (others' history), so it can be ahead.
    assert!(late.last_seq >= reference.last_seq);
    assert_eq!(late.state, reference.state);

    // A seq the server never issued (e.g. from before a restart) also gets a snapshot.
    let mut future = CtiClient::connect(pbx.cti);
    let first = future.login("203", "demo203", Some(reference.last_seq + 1000));
    assert_eq!(first["type"], "snapshot");
}

#[test]
fn bad_logins_and_bad_commands_get_structured_errors() {
    let pbx = Pbx::start();
    let mut c = CtiClient::connect(pbx.cti);
    c.send(&json!({"type": "command", "id": 1, "command": {"name": "dial", "number": "202"}}));
    let e = c.read(WAIT).unwrap();
    assert_eq!(
        (e["code"].as_str(), e["id"].as_u64()),
        (Some("not_logged_in"), Some(1))
    );
    let mut u = CtiClient::logged_in(pbx.cti, "202", "demo202");
    let cases = [
        (json!({"name": "dial", "number": "2 0 3"}), "bad_arguments"),
        (json!({"name": "transfer", "call": "1.1"}), "bad_arguments"),
        (json!({"name": "hold", "call": "no-such-call"}), "not_found"),
        (
            json!({"name": "set_dnd", "extension": "203", "enabled": true}),
            "permission_denied",
        ),
        (
            json!({"name": "set_forward", "kind": "busy", "target": "sip:x"}),
            "bad_arguments",
        ),
        (json!({"name": "history", "limit": 0}), "bad_arguments"),
        (json!({"name": "fly"}), "bad_arguments"),
    ];
    for (cmd, code) in cases {
        let r = u.command(cmd.clone());
        assert_eq!(r["type"], "error", "{cmd} → {r}");
        assert_eq!(r["code"], code, "{cmd} → {r}");
        assert!(!r["message"].as_str().unwrap().is_empty());
    }
    u.send(&json!({"type": "nonsense"}));
    let e = std::iter::from_fn(|| u.read(WAIT))
        .find(|f| f["type"] == "error")
        .unwrap();
    assert_eq!(e["code"], "bad_request");
    // Still connected and working.
    let r = u.command(json!({"name": "set_presence", "state": "away", "message": "lunch"}));
    assert_eq!(r["type"], "result");
    let e = c.login("201", "wrong", None);
    assert_eq!(e["code"], "auth_failed");
    let e = c.login("nobody", "wrong", None);
    assert_eq!(e["code"], "auth_failed");
    assert_eq!(
        e["message"],
        c.login("201", "wrong", None)["message"],
        "same answer for both"
    );
    for _ in 0..2 {
        c.login("201", "wrong", None);
    }
    // Five failures: even the right password is refused for a while.
    assert_eq!(c.login("201", "demo201", None)["code"], "rate_limited");
    assert!(pbx
        .log()
        .contains("security: cti login failed user=nobody src=127.0.0.1"));
}

#[test]
fn external_numbers_are_masked_without_the_privacy_right() {
    let pbx = Pbx::start();
    let p1 = free_udp_port();
    register(&pbx, "201", p1);
    let mut before = CtiClient::logged_in(pbx.cti, "201", "demo201");
    // No trunk yet: the external number fails, but it enters the caller's history.
    let tmp = tempfile::tempdir().unwrap();
    let refused = centralino_e2e::refused_scenario(tmp.path(), 404);
    caller(&pbx, refused.to_str().unwrap(), p1, "201", "0612345678").run_ok();
    let h = before.wait_event("history", WAIT, |e| e["kind"] == "history");
    assert_eq!(h["entry"]["other"]["number"], "0612345xxx");
    let page = before.command(json!({"name": "history"}));
    assert_eq!(page["data"]["entries"][0]["other"]["number"], "0612345xxx");
    assert_eq!(
        before.login_snapshot_history(&pbx, "201", "demo201"),
        "0612345xxx"
    );

    let out = pbx.admin(&["set-user", "201", "privacy=1"]);
    assert!(out.status.success(), "{out:?}");
    let mut privileged = CtiClient::logged_in(pbx.cti, "201", "demo201");
    let page = privileged.command(json!({"name": "history"}));
    assert_eq!(page["data"]["entries"][0]["other"]["number"], "0612345678");
}

trait SnapshotHistory {
    fn login_snapshot_history(&self, pbx: &Pbx, user: &str, pass: &str) -> String;
}

impl SnapshotHistory for CtiClient {
    /// The first history entry's number in a fresh login's snapshot.
    fn login_snapshot_history(&self, pbx: &Pbx, user: &str, pass: &str) -> String {
        let mut c = CtiClient::connect(pbx.cti);
        let s = c.login(user, pass, None);
        s["history"][0]["other"]["number"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

type Ws = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn send(ws: &mut Ws, v: Value) {
    ws.send(tungstenite::Message::Text(v.to_string().into()))
        .unwrap();
}

fn next(ws: &mut Ws) -> Value {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            tungstenite::Message::Close(_) => return Value::Null,
            _ => continue,
        }
    }
}

#[test]
fn websocket_clients_get_the_same_stream_and_oversized_frames_are_refused() {
    use tungstenite::Message;
    let pbx = Pbx::start();
    let url = format!("ws://{}/cti", pbx.http);
    let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
    send(&mut ws, json!({"type": "ping"}));
    assert_eq!(next(&mut ws)["type"], "pong");
    let wall_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    let before = wall_ms();
    send(
        &mut ws,
        json!({"type": "login", "user": "204", "password": "demo204"}),
    );
    let snap = next(&mut ws);
    let after = wall_ms();
    assert_eq!(snap["type"], "snapshot", "{snap}");
    assert_eq!(snap["protocol"], shared_protocol::PROTOCOL_VERSION);
    // The server's clock when it sent the snapshot (same machine: between our two readings).
    let server_ms = snap["server_ms"].as_i64().unwrap();
    assert!(
        (before..=after).contains(&server_ms),
        "{before} {server_ms} {after}"
    );
    assert_eq!(snap["user"]["extension"], "204");
    assert_eq!(snap["extensions"].as_array().unwrap().len(), 8);
    // A registration elsewhere reaches this client as events.
    register(&pbx, "206", free_udp_port());
    let lamp = loop {
        let f = next(&mut ws);
        if f["type"] == "event" && f["event"]["kind"] == "lamp" && f["event"]["extension"] == "206"
        {
            break f;
        }
    };
    assert_eq!(lamp["event"]["lamp"], "idle");
    assert!(lamp["seq"].as_u64().unwrap() > snap["seq"].as_u64().unwrap());
    // Bigger than 64 KiB: refused, connection closed.
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024));
    let _ = ws.send(Message::Text(huge.into()));
    let mut closed = false;
    for _ in 0..50 {
        match ws.read() {
            Ok(Message::Close(_)) | Err(_) => {
                closed = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(
        closed,
        "the server closes a connection that sends an oversized frame"
    );
}

#[test]
fn qualify_pings_report_each_device_latency() {
    let pbx = Pbx::start_with_args(&[], &["--qualify-interval", "1"]);
    let mut c = CtiClient::logged_in(pbx.cti, "204", "demo204");
    let p = free_udp_port();
    register(&pbx, "207", p);
    let device = uas(&pbx, "uas_options.xml", p, free_media_port(), 2);
    let ev = c.wait_event("a latency for 207", WAIT, |e| {
        e["kind"] == "account" && e["extension"] == "207" && e["account"]["latency_ms"].is_u64()
    });
    assert_eq!(ev["account"]["username"], "207");
    assert_eq!(ev["account"]["registered"], true);
    let (ok, out) = device.wait(Duration::from_secs(10));
    assert!(ok, "device answered two pings: {out}");
    // The device stopped answering: its latency goes away.
    c.wait_event("207 silent", Duration::from_secs(60), |e| {
        e["kind"] == "account" && e["extension"] == "207" && e["account"]["latency_ms"].is_null()
    });
}

#[test]
fn the_cti_port_is_available_over_tls() {
    let pbx = Pbx::start();
    // A client with Python's ssl module (the server's certificate is self-signed here).
    let script = format!(
        r#"
import json, socket, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {port})))
f = s.makefile("rw")
f.write(json.dumps({{"type": "login", "user": "205", "password": "demo205"}}) + "\n")
f.flush()
snap = json.loads(f.readline())
print(snap["type"], snap["user"]["extension"], s.version())
"#,
        port = pbx.cti_tls.port()
    );
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("snapshot 205 TLSv1."), "{text}");
}
