//! The user agent driven deterministically: virtual time, hand-made server messages.

mod hold;
mod incoming;
mod outgoing;
mod registration;
mod transfer;

use super::*;
use sip_core::auth::{self, Algorithm, Challenge, Credentials};
use sip_core::msg::parse;
use sip_core::sdp::SessionDescription;
use sip_core::{MessageExt, Method, Request, Response, SipMessage};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub(super) const SERVER: &str = "10.0.0.1:5060";
pub(super) const LOCAL: &str = "10.0.0.2:5070";
pub(super) const RTP: &str = "10.0.0.2:30000";
pub(super) const REALM: &str = "centralino";

/// A user agent for 201 and the server side of the conversation.
pub(super) struct Harness {
    pub(super) ua: UserAgent,
    pub(super) now: Instant,
    pub(super) events: Vec<UaEvent>,
}

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Harness {
    pub(super) fn new() -> Harness {
        let mut cfg = UaConfig::new(
            Account::new("201", "demo201", "pbx.test"),
            addr(SERVER),
            addr(LOCAL),
        );
        cfg.expires = 60;
        Harness {
            ua: UserAgent::new(cfg),
            now: Instant::now(),
            events: Vec::new(),
        }
    }

    /// Everything the user agent sent, parsed (all to the server).
    pub(super) fn sent(&mut self) -> Vec<SipMessage> {
        let mut out = Vec::new();
        while let Some(t) = self.ua.poll_transmit() {
            assert_eq!(t.peer.addr, addr(SERVER));
            out.push(parse(&t.data).unwrap());
        }
        self.collect();
        out
    }

    /// The requests sent, skipping responses.
    pub(super) fn sent_requests(&mut self) -> Vec<Request> {
        self.sent()
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Request(r) => Some(r),
                SipMessage::Response(_) => None,
            })
            .collect()
    }

    /// The one request sent now.
    pub(super) fn one_request(&mut self) -> Request {
        let mut r = self.sent_requests();
        assert_eq!(r.len(), 1, "{r:#?}");
        r.remove(0)
    }

    /// The responses sent, skipping requests.
    pub(super) fn sent_responses(&mut self) -> Vec<Response> {
        self.sent()
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Response(r) => Some(r),
                SipMessage::Request(_) => None,
            })
            .collect()
    }

    pub(super) fn deliver(&mut self, bytes: &[u8]) {
        self.ua.handle_datagram(self.now, addr(SERVER), bytes);
        self.collect();
    }

    pub(super) fn deliver_response(&mut self, r: &Response) {
        self.deliver(&r.to_bytes());
    }

    pub(super) fn deliver_request(&mut self, r: &Request) {
        self.deliver(&r.to_bytes());
    }

    /// Moves virtual time forward, firing every timer on the way.
    pub(super) fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(t) = self.ua.poll_timeout().filter(|t| *t <= end) {
            self.now = self.now.max(t);
            self.ua.handle_timeout(self.now);
            self.collect();
        }
        self.now = end;
    }

    pub(super) fn collect(&mut self) {
        while let Some(e) = self.ua.poll_event() {
            self.events.push(e);
        }
    }

    pub(super) fn take_events(&mut self) -> Vec<UaEvent> {
        std::mem::take(&mut self.events)
    }

    /// Registers with a 401 round and a 200 granting `expires`.
    pub(super) fn registered(&mut self, expires: u32) {
        self.ua.register(self.now);
        let r = self.one_request();
        self.deliver_response(&challenge(&r, 401, "n1"));
        let r = self.one_request();
        self.deliver_response(&register_ok(&r, expires));
        self.take_events();
    }
}

/// `resp` for `req` with the server's To tag.
pub(super) fn reply(req: &Request, status: u16, reason: &str) -> Response {
    let mut r = Response::for_request(req, status, reason);
    if status > 100 {
        r.set_to_tag("srv");
    }
    r
}

/// A digest challenge (401 or 407) with `qop=auth`.
pub(super) fn challenge(req: &Request, status: u16, nonce: &str) -> Response {
    let mut r = reply(req, status, "Unauthorized");
    let c = Challenge {
        realm: REALM.into(),
        nonce: nonce.into(),
        opaque: Some("op".into()),
        algorithm: Algorithm::Md5,
        qop: Some(vec!["auth".into()]),
        stale: false,
    };
    let name = if status == 407 {
        "Proxy-Authenticate"
    } else {
        "WWW-Authenticate"
    };
    r.headers.push(name, c.to_header_value());
    r
}

/// Whether `req` carries valid credentials for `user`/`password` in `header`.
pub(super) fn authorized(req: &Request, header: &str, user: &str, password: &str) -> bool {
    let Some(v) = req.headers.get(header) else {
        return false;
    };
    let creds = Credentials::parse(v).unwrap();
    creds.username == user
        && creds.uri == req.uri
        && auth::verify(
            &creds,
            req.method.as_str(),
            &auth::ha1(Algorithm::Md5, user, REALM, password),
        )
}

pub(super) fn register_ok(req: &Request, expires: u32) -> Response {
    let mut r = reply(req, 200, "OK");
    let contact = req.contact().unwrap();
    r.headers
        .push("Contact", format!("<{}>;expires={expires}", contact.uri));
    r.headers.push("Expires", expires.to_string());
    r
}

/// An SDP offer or answer from the server's relay.
pub(super) fn sdp(port: u16, formats: &str, direction: &str) -> String {
    let mut s = format!(
        "v=0\r\no=- 9 2 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP {formats}\r\n"
    );
    if formats.contains("101") {
        s.push_str("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n");
    }
    if formats.contains("111") {
        s.push_str("a=rtpmap:111 opus/48000/2\r\n");
    }
    s.push_str(&format!("a={direction}\r\n"));
    s
}

pub(super) fn with_sdp(mut r: Response, body: &str) -> Response {
    r.headers.push("Content-Type", "application/sdp");
    r.body = body.as_bytes().to_vec();
    r
}

pub(super) fn body_sdp(body: &[u8]) -> SessionDescription {
    SessionDescription::parse(std::str::from_utf8(body).unwrap()).unwrap()
}

/// A request from the server inside the dialog of `invite`'s call (as the PBX builds it).
pub(super) struct Peer {
    pub(super) call_id: String,
    pub(super) our_tag: String,
    pub(super) their_tag: String,
    pub(super) cseq: u32,
    pub(super) branch: u32,
}

impl Peer {
    pub(super) fn request(&mut self, method: Method, body: Option<&str>) -> Request {
        self.cseq += 1;
        self.branch += 1;
        let from = format!("\"Bob\" <sip:202@pbx.test>;tag={}", self.their_tag);
        let to = if self.our_tag.is_empty() {
            "<sip:201@pbx.test>".to_string()
        } else {
            format!("<sip:201@pbx.test>;tag={}", self.our_tag)
        };
        let mut text = format!(
            "{method} sip:201@{LOCAL} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {SERVER};branch=z9hG4bK-srv{}-{};rport\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\n\
             Contact: <sip:202@{SERVER}>\r\nMax-Forwards: 70\r\n",
            self.call_id, self.branch, self.call_id, self.cseq
        );
        if body.is_some() {
            text.push_str("Content-Type: application/sdp\r\n");
        }
        let body = body.unwrap_or_default();
        text.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        match parse(text.as_bytes()).unwrap() {
            SipMessage::Request(r) => r,
            SipMessage::Response(_) => unreachable!(),
        }
    }
}

/// An incoming INVITE from the server (the PBX's B leg) with `body`.
pub(super) fn incoming_invite(call_id: &str, body: Option<&str>) -> (Request, Peer) {
    let mut peer = Peer {
        call_id: call_id.into(),
        our_tag: String::new(),
        their_tag: format!("pbx-{call_id}"),
        cseq: 0,
        branch: 0,
    };
    let req = peer.request(Method::Invite, body);
    (req, peer)
}

pub(super) fn has_event(events: &[UaEvent], f: impl Fn(&UaEvent) -> bool) -> bool {
    events.iter().any(f)
}

pub(super) fn media_of(events: &[UaEvent]) -> Option<crate::media::params::MediaParams> {
    events.iter().rev().find_map(|e| match e {
        UaEvent::Media { params, .. } => Some(params.unwrap()),
        _ => None,
    })
}
