//! The wire format, proven on the examples of `docs/cti-protocol.md`: every ```json block
//! there is preceded by `<!-- example: NAME -->`, parses into the value listed here under
//! NAME, and serialises back to the same JSON. Plus what must not parse.

use serde_json::{json, Value};
use shared_protocol::*;
use std::collections::BTreeMap;

const DOC: &str = "docs/cti-protocol.md";
const MARKER: &str = "<!-- example: ";

/// A frame in either direction.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a handful of test values
enum Frame {
    C(ClientMsg),
    S(ServerMsg),
}

fn party(number: &str, name: Option<&str>) -> Party {
    Party {
        number: number.into(),
        name: name.map(Into::into),
    }
}

fn anna() -> Party {
    party("201", Some("Anna Rossi"))
}

fn luca() -> Party {
    party("202", Some("Luca Bianchi"))
}

fn masked_caller() -> Party {
    party("0612345xxx", None)
}

fn command(id: CommandId, command: Command) -> Frame {
    Frame::C(ClientMsg::Command { id, command })
}

fn event(seq: u64, event: Event) -> Frame {
    Frame::S(ServerMsg::Event { seq, event })
}

fn error(id: Option<CommandId>, code: ErrorCode, message: &str) -> Frame {
    Frame::S(ServerMsg::error(id, code, message))
}

fn login(resume_from: Option<u64>) -> ClientMsg {
    ClientMsg::Login {
        user: "anna".into(),
        password: "s3cret".into(),
        tenant: Some("default".into()),
        resume_from,
    }
}

fn outbound_to_luca() -> HistoryEntry {
    HistoryEntry {
        id: "1717990000.7".into(),
        started_ms: 1_717_990_000_000,
        direction: Direction::Outbound,
        other: luca(),
        status: "OK".into(),
        answered: true,
        missed: false,
        duration_s: 95,
        talk_s: 88,
    }
}

fn call_42(state: CallState, held_by: Option<CallSide>) -> CallInfo {
    CallInfo {
        id: "1718000000.42".into(),
        caller: masked_caller(),
        callee: anna(),
        state,
        held_by,
        started_ms: 1_718_000_000_000,
        answered_ms: Some(1_718_000_004_000),
    }
}

fn account(
    username: &str,
    address: Option<&str>,
    ua: Option<&str>,
    ms: Option<u32>,
) -> AccountState {
    AccountState {
        username: username.into(),
        registered: address.is_some(),
        address: address.map(Into::into),
        user_agent: ua.map(Into::into),
        latency_ms: ms,
    }
}

fn snapshot() -> Snapshot {
    Snapshot {
        protocol: PROTOCOL_VERSION,
        seq: 4711,
        user: UserInfo {
            username: "anna".into(),
            tenant: "default".into(),
            extension: Some("201".into()),
            role: "user".into(),
            permissions: Permissions {
                call_control: true,
                privacy: false,
                supervisor: false,
            },
            licence: Some(Licence {
                mode: CtiMode::Pro,
                call_center: false,
            }),
        },
        extensions: vec![
            ExtensionState {
                number: "201".into(),
                name: "Anna Rossi".into(),
                lamp: Lamp::Busy,
                peer: Some(masked_caller()),
                direction: Some(Direction::Inbound),
                dnd: false,
                presence: Presence {
                    state: PresenceState::Available,
                    message: None,
                    effective: EffectivePresence::OnThePhone,
                },
                accounts: vec![account(
                    "201",
                    Some("192.0.2.10:5060"),
                    Some("Yealink SIP-T46U"),
                    Some(12),
                )],
                services: Some(Services {
                    dnd: false,
                    forwards: Forwards {
                        unconditional: None,
                        busy: Some("202".into()),
                        no_answer: None,
                        unavailable: None,
                    },
                    fork2mobile: false,
                }),
            },
            ExtensionState {
                number: "202".into(),
                name: "Luca Bianchi".into(),
                lamp: Lamp::Idle,
                peer: None,
                direction: None,
                dnd: false,
                presence: Presence {
                    state: PresenceState::Away,
                    message: Some("back at 14:00".into()),
                    effective: EffectivePresence::Away,
                },
                accounts: vec![account(
                    "202",
                    Some("192.0.2.11:5060"),
                    Some("baresip"),
                    None,
                )],
                services: None,
            },
        ],
        services: Some(Services {
            dnd: false,
            forwards: Forwards {
                unconditional: None,
                busy: Some("202".into()),
                no_answer: Some("+393331234567".into()),
                unavailable: None,
            },
            fork2mobile: false,
        }),
        calls: vec![call_42(CallState::Connected, None)],
        history: vec![outbound_to_luca()],
        call_center: None,
        park_slots: None,
        server_ms: Some(1_718_000_010_000),
    }
}

/// The value each example of the reference stands for.
fn expected_values() -> Vec<(&'static str, Frame)> {
    use Frame::{C, S};
    vec![
        ("login", C(login(None))),
        ("login_resume", C(login(Some(4711)))),
        (
            "error_auth_failed",
            error(None, ErrorCode::AuthFailed, "wrong user or password"),
        ),
        (
            "error_rate_limited",
            error(
                None,
                ErrorCode::RateLimited,
                "too many failed logins from this address; try again in a minute",
            ),
        ),
        (
            "error_not_logged_in",
            error(Some(5), ErrorCode::NotLoggedIn, "log in first"),
        ),
        (
            "resumed",
            S(ServerMsg::Resumed {
                from: 4711,
                replayed: 2,
            }),
        ),
        ("server_ping", S(ServerMsg::Ping)),
        ("server_pong", S(ServerMsg::Pong)),
        ("client_ping", C(ClientMsg::Ping)),
        ("client_pong", C(ClientMsg::Pong)),
        (
            "cmd_dial",
            command(
                1,
                Command::Dial {
                    number: "0612345678".into(),
                },
            ),
        ),
        (
            "result_call",
            S(ServerMsg::Result {
                id: 1,
                data: Some(CommandData::Call {
                    call: "1718000100.43".into(),
                }),
            }),
        ),
        (
            "cmd_hangup",
            command(
                2,
                Command::Hangup {
                    call: "1718000000.42".into(),
                },
            ),
        ),
        ("result_none", S(ServerMsg::Result { id: 2, data: None })),
        (
            "cmd_hold",
            command(
                3,
                Command::Hold {
                    call: "1718000000.42".into(),
                },
            ),
        ),
        (
            "cmd_resume",
            command(
                4,
                Command::Resume {
                    call: "1718000000.42".into(),
                },
            ),
        ),
        (
            "error_invalid_state",
            error(
                Some(3),
                ErrorCode::InvalidState,
                "call 1718000000.42 is not connected",
            ),
        ),
        (
            "cmd_transfer_blind",
            command(
                5,
                Command::Transfer {
                    call: "1718000000.42".into(),
                    number: Some("203".into()),
                    consult: None,
                },
            ),
        ),
        (
            "cmd_transfer_attended",
            command(
                6,
                Command::Transfer {
                    call: "1718000000.42".into(),
                    number: None,
                    consult: Some("1718000050.44".into()),
                },
            ),
        ),
        (
            "cmd_pickup",
            command(
                7,
                Command::Pickup {
                    extension: "202".into(),
                },
            ),
        ),
        (
            "cmd_set_dnd",
            command(
                8,
                Command::SetDnd {
                    extension: Some("202".into()),
                    enabled: true,
                },
            ),
        ),
        (
            "cmd_set_forward",
            command(
                9,
                Command::SetForward {
                    extension: None,
                    kind: ForwardKind::NoAnswer,
                    target: Some("+393331234567".into()),
                },
            ),
        ),
        (
            "cmd_clear_forward",
            command(
                10,
                Command::SetForward {
                    extension: None,
                    kind: ForwardKind::Busy,
                    target: None,
                },
            ),
        ),
        (
            "cmd_set_presence",
            command(
                11,
                Command::SetPresence {
                    state: PresenceState::Away,
                    message: Some("back at 14:00".into()),
                },
            ),
        ),
        (
            "cmd_history",
            command(
                12,
                Command::History {
                    before_ms: Some(1_718_000_000_000),
                    limit: Some(20),
                    missed_only: false,
                },
            ),
        ),
        (
            "result_history",
            S(ServerMsg::Result {
                id: 12,
                data: Some(CommandData::History {
                    entries: vec![outbound_to_luca()],
                    next_before_ms: None,
                }),
            }),
        ),
        ("snapshot", S(ServerMsg::Snapshot(snapshot()))),
        (
            "event_lamp",
            event(
                4712,
                Event::Lamp {
                    extension: "202".into(),
                    lamp: Lamp::Ringing,
                    peer: Some(anna()),
                    direction: Some(Direction::Inbound),
                },
            ),
        ),
        (
            "event_lamp_hidden_peer",
            event(
                4712,
                Event::Lamp {
                    extension: "202".into(),
                    lamp: Lamp::Ringing,
                    peer: None,
                    direction: None,
                },
            ),
        ),
        (
            "event_account",
            event(
                4713,
                Event::Account {
                    extension: "202".into(),
                    account: account("202", None, None, None),
                },
            ),
        ),
        (
            "event_presence",
            event(
                4714,
                Event::Presence {
                    extension: "202".into(),
                    presence: Presence {
                        state: PresenceState::Away,
                        message: Some("back at 14:00".into()),
                        effective: EffectivePresence::Offline,
                    },
                },
            ),
        ),
        (
            "event_services",
            event(
                4715,
                Event::Services {
                    extension: "201".into(),
                    services: Services {
                        dnd: true,
                        forwards: Forwards {
                            busy: Some("202".into()),
                            ..Forwards::default()
                        },
                        fork2mobile: false,
                    },
                },
            ),
        ),
        (
            "event_extension_dnd",
            event(
                4716,
                Event::ExtensionDnd {
                    extension: "201".into(),
                    dnd: true,
                },
            ),
        ),
        (
            "event_call",
            event(
                4717,
                Event::Call {
                    call: call_42(CallState::Held, Some(CallSide::Callee)),
                },
            ),
        ),
        (
            "event_call_ended",
            event(
                4718,
                Event::CallEnded {
                    id: "1718000000.42".into(),
                },
            ),
        ),
        (
            "event_history",
            event(
                4719,
                Event::History {
                    entry: HistoryEntry {
                        id: "1718000200.45".into(),
                        started_ms: 1_718_000_200_000,
                        direction: Direction::Inbound,
                        other: masked_caller(),
                        status: "NOANSWER".into(),
                        answered: false,
                        missed: true,
                        duration_s: 20,
                        talk_s: 0,
                    },
                },
            ),
        ),
        (
            "cmd_queue_login",
            command(
                13,
                Command::QueueLogin {
                    queue: "600".into(),
                    extension: None,
                    penalty: Some(1),
                },
            ),
        ),
        (
            "cmd_queue_logout",
            command(
                14,
                Command::QueueLogout {
                    queue: "600".into(),
                    extension: Some("205".into()),
                },
            ),
        ),
        (
            "cmd_queue_pause",
            command(
                15,
                Command::QueuePause {
                    queue: None,
                    extension: Some("202".into()),
                    reason: Some("lunch".into()),
                },
            ),
        ),
        (
            "cmd_queue_resume",
            command(
                16,
                Command::QueueResume {
                    queue: Some("600".into()),
                    extension: None,
                },
            ),
        ),
        (
            "event_queue",
            event(
                4720,
                Event::Queue {
                    queue: QueueStatus {
                        number: "600".into(),
                        name: "Sales".into(),
                        strategy: QueueStrategy::Rrmemory,
                        waiting: 2,
                        oldest_since_ms: Some(1_718_000_300_000),
                        agents: AgentCounts {
                            free: 0,
                            ringing: 1,
                            talking: 1,
                            wrapup: 0,
                            paused: 1,
                            unavailable: 0,
                        },
                        stats: QueuePeriodStats {
                            since_ms: 1_717_970_400_000,
                            offered: 14,
                            answered: 11,
                            abandoned: 2,
                            overflowed: 1,
                            answered_in_sl: 9,
                            service_level_s: 20,
                            avg_wait_ms: 12_400,
                            longest_wait_ms: 95_000,
                            avg_talk_ms: 181_000,
                        },
                    },
                },
            ),
        ),
        (
            "event_agent",
            event(
                4721,
                Event::Agent {
                    agent: AgentStatus {
                        extension: "202".into(),
                        name: "Luca Bianchi".into(),
                        state: AgentState::Paused,
                        queues: vec![AgentQueue {
                            queue: "600".into(),
                            penalty: 0,
                            dynamic: false,
                            state: AgentState::Paused,
                            paused: Some(AgentPause {
                                reason: Some("lunch".into()),
                                since_ms: 1_718_000_400_000,
                            }),
                            calls_taken: 6,
                            last_call_ms: Some(1_718_000_100_000),
                            pause_ms: 540_000,
                        }],
                        calls_taken: 6,
                        last_call_ms: Some(1_718_000_100_000),
                        pause_ms: 540_000,
                    },
                },
            ),
        ),
        (
            "event_park_slot",
            event(
                4722,
                Event::ParkSlot {
                    slot: ParkSlot {
                        slot: "890".into(),
                        lamp: Lamp::Hold,
                        peer: Some(anna()),
                    },
                },
            ),
        ),
        (
            "error_frame_too_long",
            error(
                None,
                ErrorCode::BadRequest,
                &format!("frame longer than {MAX_FRAME} bytes"),
            ),
        ),
    ]
}

/// The marked ```json blocks of the reference, by name, in order of appearance.
fn doc_examples() -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DOC);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let mut examples = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        if let Some(rest) = line.strip_prefix(MARKER) {
            let name = rest
                .strip_suffix("-->")
                .unwrap_or_else(|| panic!("{DOC}:{}: marker not closed", i + 1))
                .trim();
            assert_eq!(
                lines.get(i + 1).map(|l| l.trim()),
                Some("```json"),
                "{DOC}:{}: the marker of {name} must be followed by a ```json block",
                i + 1
            );
            let start = i + 2;
            let len = lines[start..]
                .iter()
                .position(|l| l.trim() == "```")
                .unwrap_or_else(|| panic!("{DOC}:{}: unclosed block", i + 2));
            examples.push((name.to_string(), lines[start..start + len].join("\n")));
            i = start + len + 1;
            continue;
        }
        assert!(
            line != "```json",
            "{DOC}:{}: a ```json block without an `{MARKER}NAME -->` line before it; \
             every JSON example must be tested",
            i + 1
        );
        i += 1;
    }
    examples
}

fn value_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("frames serialise")
}

#[test]
fn every_documented_example_round_trips() {
    let examples = doc_examples();
    let mut expected: BTreeMap<&str, Frame> = BTreeMap::new();
    for (name, frame) in expected_values() {
        assert!(
            expected.insert(name, frame).is_none(),
            "{name} listed twice"
        );
    }
    let mut seen = Vec::new();
    for (name, json_text) in &examples {
        assert!(!seen.contains(name), "{DOC}: example {name} appears twice");
        seen.push(name.clone());
        let doc_value: Value = serde_json::from_str(json_text)
            .unwrap_or_else(|e| panic!("{DOC}: example {name} is not JSON: {e}"));
        let want = expected
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{DOC}: example {name} has no expected value in wire.rs"));
        let back = match want {
            Frame::C(want) => {
                let got: ClientMsg = serde_json::from_str(json_text)
                    .unwrap_or_else(|e| panic!("example {name} does not parse: {e}"));
                assert_eq!(&got, want, "example {name}");
                value_of(&got)
            }
            Frame::S(want) => {
                let got: ServerMsg = serde_json::from_str(json_text)
                    .unwrap_or_else(|e| panic!("example {name} does not parse: {e}"));
                assert_eq!(&got, want, "example {name}");
                value_of(&got)
            }
        };
        assert_eq!(
            back, doc_value,
            "example {name} does not serialise back to the documented JSON"
        );
    }
    for name in expected.keys() {
        assert!(
            seen.iter().any(|s| s == name),
            "wire.rs expects an example {name} that {DOC} does not have"
        );
    }
}

/// The tags a type accepts, read from its JSON Schema: `field` of each `oneOf` branch (tagged
/// enums), or the constants of a plain string enum.
fn tags(defs: &Value, ty: &str, field: Option<&str>) -> Vec<String> {
    let branches = defs[ty]["oneOf"]
        .as_array()
        .unwrap_or_else(|| panic!("{ty} is not a oneOf in the schema"));
    branches
        .iter()
        .map(|b| match field {
            Some(f) => &b["properties"][f]["const"],
            None => &b["const"],
        })
        .map(|c| {
            c.as_str()
                .unwrap_or_else(|| panic!("{ty}: a branch without a constant tag"))
                .to_string()
        })
        .collect()
}

#[test]
fn every_message_type_event_kind_command_and_error_code_is_documented() {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.subschema_for::<ClientMsg>();
    generator.subschema_for::<ServerMsg>();
    let defs = Value::Object(generator.take_definitions(false));

    // What the examples cover, as `direction:type`, `command:name`, `event:kind`, `data:kind`.
    let mut covered: Vec<String> = Vec::new();
    for (name, frame) in expected_values() {
        let (dir, v) = match &frame {
            Frame::C(m) => ("client", value_of(m)),
            Frame::S(m) => ("server", value_of(m)),
        };
        assert!(v["type"].is_string(), "{name}: no type");
        covered.push(format!("{dir}:{}", v["type"].as_str().unwrap()));
        for (key, path) in [
            ("command", &v["command"]["name"]),
            ("event", &v["event"]["kind"]),
            ("data", &v["data"]["kind"]),
        ] {
            if let Some(tag) = path.as_str() {
                covered.push(format!("{key}:{tag}"));
            }
        }
    }
    let mut missing = Vec::new();
    for (prefix, ty, field) in [
        ("client", "ClientMsg", "type"),
        ("server", "ServerMsg", "type"),
        ("command", "Command", "name"),
        ("event", "Event", "kind"),
        ("data", "CommandData", "kind"),
    ] {
        for tag in tags(&defs, ty, Some(field)) {
            let key = format!("{prefix}:{tag}");
            if !covered.contains(&key) {
                missing.push(key);
            }
        }
    }
    assert!(missing.is_empty(), "{DOC} has no example of {missing:?}");

    // Every error code has a row in the error table.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DOC);
    let text = std::fs::read_to_string(path).unwrap();
    for code in tags(&defs, "ErrorCode", None) {
        assert!(
            text.contains(&format!("| `{code}` |")),
            "{DOC}: error code {code} is missing from the error table"
        );
    }
}

#[test]
fn optional_fields_may_be_omitted() {
    let short: ClientMsg =
        serde_json::from_value(json!({"type": "login", "user": "anna", "password": "s3cret"}))
            .unwrap();
    assert_eq!(
        short,
        ClientMsg::Login {
            user: "anna".into(),
            password: "s3cret".into(),
            tenant: None,
            resume_from: None,
        }
    );
    let cases = [
        (
            json!({"name": "transfer", "call": "c1", "number": "203"}),
            Command::Transfer {
                call: "c1".into(),
                number: Some("203".into()),
                consult: None,
            },
        ),
        (
            json!({"name": "set_dnd", "enabled": false}),
            Command::SetDnd {
                extension: None,
                enabled: false,
            },
        ),
        (
            json!({"name": "set_forward", "kind": "unconditional"}),
            Command::SetForward {
                extension: None,
                kind: ForwardKind::Unconditional,
                target: None,
            },
        ),
        (
            json!({"name": "set_presence", "state": "busy"}),
            Command::SetPresence {
                state: PresenceState::Busy,
                message: None,
            },
        ),
        (
            json!({"name": "history"}),
            Command::History {
                before_ms: None,
                limit: None,
                missed_only: false,
            },
        ),
    ];
    for (value, want) in cases {
        let frame = json!({"type": "command", "id": 1, "command": value});
        let got: ClientMsg = serde_json::from_value(frame).unwrap();
        assert_eq!(
            got,
            ClientMsg::Command {
                id: 1,
                command: want
            }
        );
    }
}

#[test]
fn unknown_fields_are_ignored() {
    let got: ClientMsg = serde_json::from_value(json!({"type": "ping", "sent_at": 1})).unwrap();
    assert_eq!(got, ClientMsg::Ping);
    let got: ServerMsg =
        serde_json::from_value(json!({"type": "resumed", "from": 1, "replayed": 0, "node": "a"}))
            .unwrap();
    assert_eq!(
        got,
        ServerMsg::Resumed {
            from: 1,
            replayed: 0
        }
    );
}

#[test]
fn unknown_tags_do_not_parse() {
    for bad in [
        json!({"type": "shout"}),
        json!({"kind": "ping"}),
        json!({"type": "command", "id": 1, "command": {"name": "fly"}}),
        json!({"type": "command", "id": 1, "command": {"number": "201"}}),
    ] {
        assert!(
            serde_json::from_value::<ClientMsg>(bad.clone()).is_err(),
            "{bad} parsed as a client frame"
        );
    }
    for bad in [
        json!({"type": "shout"}),
        json!({"type": "event", "seq": 1, "event": {"kind": "earthquake"}}),
        json!({"type": "result", "id": 1, "data": {"kind": "pizza"}}),
        json!({"type": "error", "id": 1, "code": "teapot", "message": "no"}),
    ] {
        assert!(
            serde_json::from_value::<ServerMsg>(bad.clone()).is_err(),
            "{bad} parsed as a server frame"
        );
    }
}

#[test]
fn missing_required_fields_do_not_parse() {
    for bad in [
        json!({"type": "login", "password": "s3cret"}),
        json!({"type": "login", "user": "anna"}),
        json!({"type": "command", "command": {"name": "hangup", "call": "c1"}}),
        json!({"type": "command", "id": 1}),
        json!({"type": "command", "id": 1, "command": {"name": "dial"}}),
        json!({"type": "command", "id": 1, "command": {"name": "hangup"}}),
        json!({"type": "command", "id": 1, "command": {"name": "transfer"}}),
        json!({"type": "command", "id": 1, "command": {"name": "set_dnd"}}),
        json!({"type": "command", "id": 1, "command": {"name": "set_forward", "target": "202"}}),
        json!({"type": "command", "id": 1, "command": {"name": "set_presence"}}),
        json!({"type": "command", "id": 1, "command": {"name": "pickup"}}),
    ] {
        assert!(
            serde_json::from_value::<ClientMsg>(bad.clone()).is_err(),
            "{bad} parsed as a client frame"
        );
    }
    for bad in [
        json!({"type": "event", "seq": 1}),
        json!({"type": "event", "event": {"kind": "call_ended", "id": "c1"}}),
        json!({"type": "event", "seq": 1, "event": {"kind": "call_ended"}}),
        json!({"type": "resumed", "from": 1}),
        json!({"type": "result", "data": null}),
        json!({"type": "error", "id": null, "message": "no code"}),
        json!({"type": "snapshot", "protocol": 1, "seq": 0}),
    ] {
        assert!(
            serde_json::from_value::<ServerMsg>(bad.clone()).is_err(),
            "{bad} parsed as a server frame"
        );
    }
}

#[test]
fn no_tag_confusion_between_directions() {
    // A server-only frame is not a client frame and vice versa.
    let snapshot = value_of(&ServerMsg::Snapshot(snapshot()));
    assert!(serde_json::from_value::<ClientMsg>(snapshot).is_err());
    let login = value_of(&login(None));
    assert!(serde_json::from_value::<ServerMsg>(login).is_err());
}
