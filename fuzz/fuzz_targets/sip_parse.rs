//! Feeds arbitrary bytes through everything that reads SIP from the network: the message
//! parser, the transaction endpoint (which answers or drops), the TCP framer, and the
//! SDP and digest-header parsers on whatever the message carries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_core::transaction::{Endpoint, EndpointConfig};
use sip_core::transport::StreamFramer;
use sip_core::{MessageExt, Peer, SipMessage};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let now = Instant::now();
    let peer = Peer::udp(([127, 0, 0, 1], 5070).into());
    let mut ep = Endpoint::new(EndpointConfig::default());
    ep.handle_datagram(now, peer, data);
    ep.handle_timeout(now + Duration::from_secs(64));
    while ep.poll_transmit().is_some() {}
    while ep.poll_event().is_some() {}

    let mut framer = StreamFramer::new();
    framer.push(data);
    while let Ok(Some(_)) = framer.next_frame() {}

    if let Ok(msg) = sip_core::msg::parse(data) {
        let (headers, body) = match &msg {
            SipMessage::Request(r) => (r.headers.clone(), r.body.clone()),
            SipMessage::Response(r) => (r.headers.clone(), r.body.clone()),
        };
        for (_, v) in headers.iter() {
            let _ = sip_core::auth::Credentials::parse(v);
            let _ = sip_core::auth::Challenge::parse(v);
            let _ = sip_core::msg::NameAddr::parse(v);
            let _ = sip_core::msg::Via::parse(v);
        }
        if let Ok(text) = std::str::from_utf8(&body) {
            let _ = sip_core::sdp::SessionDescription::parse(text);
        }
        if let SipMessage::Request(r) = &msg {
            let _ = r.top_via();
            let _ = sip_core::msg::SipUri::parse(&r.uri);
        }
    }
});
