//! CTI frames from the network, both directions: the server's parse of client frames and the
//! client session fed with server frames must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = serde_json::from_str::<shared_protocol::ClientMsg>(text);
    let mut s = cti_core::Session::new(cti_core::Credentials {
        user: "u".into(),
        password: "p".into(),
        tenant: None,
    });
    s.on_connected();
    // A valid snapshot first, so events are applied to a live state too.
    s.on_frame(SNAPSHOT);
    for line in text.lines() {
        s.on_frame(line);
    }
    while s.poll_transmit().is_some() {}
    while s.poll_update().is_some() {}
});

const SNAPSHOT: &str = r#"{"type":"snapshot","protocol":1,"seq":1,"user":{"username":"u","tenant":"default","extension":"201","role":"user","permissions":{"call_control":true,"privacy":false,"supervisor":false}},"extensions":[{"number":"201","name":"A","lamp":"idle","peer":null,"direction":null,"dnd":false,"presence":{"state":"available","message":null,"effective":"available"},"accounts":[],"services":null}],"services":null,"calls":[],"history":[]}"#;
