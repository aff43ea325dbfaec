//! The engine driven sans-IO: a real transaction `Endpoint`, a directory of eight extensions
//! (201–208, one device each at 10.1.0.<n>:5060), hand-made SIP from the "phones", and
//! assertions on what the engine transmits, its call views and its records. Time is virtual.

#![allow(clippy::unwrap_used)]

mod control;
mod groups;
mod park;
mod queues;
mod services;

use super::super::{dialog::Local, CallUpdate, Now};
use super::Engine;
use crate::control::{CallOp, CallOpError, CallOpOk, ServiceChange};
use crate::directory::Directory;
use crate::guard::Guard;
use crate::lamps::{CallPhase, CallView};
use crate::media::{MediaMetrics, PortPool};
use crate::store::{self, AccountConfig, CdrRecord, ExtensionConfig, Location};
use sip_core::auth::{ha1, respond, Algorithm, Challenge};
use sip_core::msg::parse;
use sip_core::transaction::{Endpoint, EndpointConfig, Event};
use sip_core::{MessageExt, Method, Peer, Request, Response, SipMessage, Transport};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The device address of extension `ext` (201 → 10.1.0.1:5060).
fn phone(ext: &str) -> SocketAddr {
    let n: u8 = ext.parse::<u16>().map(|n| (n - 200) as u8).unwrap();
    SocketAddr::from(([10, 1, 0, n], 5060))
}

/// The SDP a phone offers or answers with.
fn sdp(ext: &str) -> String {
    let ip = phone(ext).ip();
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    )
}

/// The relay port an SDP body names.
fn sdp_port(body: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(body);
    text.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap()
}

fn body_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

struct Harness {
    ep: Endpoint,
    engine: Engine,
    dir: Directory,
    guard: Guard,
    now: Now,
    /// What the engine sent, in order, with the destination.
    sent: Vec<(SocketAddr, SipMessage)>,
    /// Records written, in order.
    records: Vec<CdrRecord>,
    /// Call views reported, in order.
    updates: Vec<CallUpdate>,
    cseq: u32,
}

impl Harness {
    /// Eight extensions; `registered` ones have their device registered. `overrides`
    /// changes extension settings (`ring_timeout_s`, overflow) before the start.
    fn new(registered: &[&str], tweak: impl Fn(&mut ExtensionConfig)) -> Harness {
        let mut extensions = Vec::new();
        let mut accounts = Vec::new();
        let mut locations = Vec::new();
        for n in 201..=208i64 {
            let number = n.to_string();
            let mut e = ExtensionConfig {
                id: n,
                tenant_id: 1,
                tenant_domain: "default".into(),
                number: number.clone(),
                first_name: format!("N{number}"),
                last_name: String::new(),
                email: String::new(),
                mobile: String::new(),
                enabled: true,
                call_limit: 0,
                busy_level: 0,
                ring_timeout_s: 30,
                overflow_noanswer: "hangup".into(),
                overflow_busy: "hangup".into(),
                overflow_unavailable: "hangup".into(),
                account_ids: vec![n],
                pickup_groups: Vec::new(),
                pickup_allowed: Vec::new(),
            };
            tweak(&mut e);
            extensions.push(e);
            accounts.push(AccountConfig {
                id: n,
                tenant_id: 1,
                tenant_domain: "default".into(),
                extension_id: n,
                extension_number: number.clone(),
                username: number.clone(),
                enabled: true,
                ha1_md5: ha1(Algorithm::Md5, &number, "default", &format!("demo{number}")),
                ha1_sha256: String::new(),
                acl: None,
                registration_check: false,
                nat: false,
                min_expires: 60,
                max_expires: 3600,
                default_expires: 3600,
            });
            if registered.contains(&number.as_str()) {
                let addr = phone(&number);
                locations.push(Location {
                    account_id: n,
                    contact: format!("sip:{number}@{addr}"),
                    source_ip: addr.ip().to_string(),
                    source_port: i64::from(addr.port()),
                    transport: "UDP".into(),
                    expires_at_ms: i64::MAX,
                    user_agent: "test".into(),
                    registered_at_ms: 0,
                });
            }
        }
        let dir = Directory::from_store(
            store::Directory {
                tenant_domain: Some("default".into()),
                extensions,
                accounts,
                services: Vec::new(),
            },
            locations,
        );
        let ports = PortPool::new(
            "127.0.0.1".parse().unwrap(),
            30000,
            39999,
            Arc::new(MediaMetrics::default()),
            tokio::runtime::Handle::current(),
        );
        let local = Local {
            ip: "192.0.2.1".parse().unwrap(),
            port: 5060,
        };
        Harness {
            ep: Endpoint::new(EndpointConfig::default()),
            engine: Engine::new(local, "default", ports, 0),
            dir,
            guard: Guard::new("default", false),
            now: Now {
                mono: Instant::now(),
                wall_ms: 1_700_000_000_000,
            },
            sent: Vec::new(),
            records: Vec::new(),
            updates: Vec::new(),
            cseq: 0,
        }
    }

    fn service(&mut self, ext: &str, change: ServiceChange) {
        self.dir.change_services(ext, &change).unwrap();
    }

    /// Runs the engine on every pending event and collects what it sent.
    fn flush(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(ev) = self.ep.poll_event() {
                progressed = true;
                let now = self.now;
                let (ep, dir) = (&mut self.ep, &self.dir);
                match ev {
                    Event::Request { id, request, peer } => {
                        if request.to_tag().is_some() || request.method == Method::Ack {
                            if self.engine.owns_dialog(request.call_id()) {
                                self.engine.on_in_dialog(ep, now, id, request);
                            } else if let Some(id) = id {
                                let r = Response::for_request(&request, 481, "No Dialog");
                                let _ = ep.respond(now.mono, id, r);
                            }
                        } else if let (Some(id), Method::Invite) = (id, &request.method) {
                            self.engine
                                .on_invite(ep, dir, &mut self.guard, now, id, request, peer);
                        }
                    }
                    Event::Cancelled { invite } => self.engine.on_cancelled(ep, now, invite),
                    Event::Response { id, response } => {
                        self.engine.on_response(ep, dir, now, id, response)
                    }
                    Event::Timeout { id } => self.engine.on_timeout(ep, dir, now, id),
                }
            }
            self.engine.settle(&mut self.ep, &self.dir, self.now);
            while let Some(t) = self.ep.poll_transmit() {
                progressed = true;
                self.sent.push((t.peer.addr, parse(&t.data).unwrap()));
            }
            if !progressed {
                break;
            }
        }
        for (ext, change) in self.engine.drain_service_changes() {
            self.dir.change_services(&ext, &change);
        }
        self.records.append(&mut self.engine.outbox);
        self.updates.extend(self.engine.drain_updates());
    }

    /// A datagram from `from`.
    fn deliver(&mut self, from: SocketAddr, msg: SipMessage) {
        let peer = Peer {
            transport: Transport::Udp,
            addr: from,
        };
        self.ep
            .handle_datagram(self.now.mono, peer, &msg.to_bytes());
        self.flush();
    }

    /// Lets virtual time pass, firing what is due.
    fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.wall_ms += d.as_millis() as i64;
        self.ep.handle_timeout(self.now.mono);
        self.engine
            .handle_timeout(&mut self.ep, &self.dir, self.now);
        self.flush();
    }

    fn op(&mut self, op: CallOp) -> Result<CallOpOk, CallOpError> {
        let r = self.engine.call_op(&mut self.ep, &self.dir, self.now, op);
        self.flush();
        r
    }

    /// Everything sent to `to` since the last take, removed.
    fn take(&mut self, to: &str) -> Vec<SipMessage> {
        let addr = phone(to);
        let (mine, rest) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|(a, _)| *a == addr);
        self.sent = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// The requests sent to `to` (removing everything sent to it).
    fn requests(&mut self, to: &str) -> Vec<Request> {
        self.take(to)
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Request(r) => Some(r),
                SipMessage::Response(_) => None,
            })
            .collect()
    }

    /// The only request of `method` sent to `to`.
    fn request(&mut self, to: &str, method: Method) -> Request {
        let all = self.requests(to);
        let mut of: Vec<Request> = all.into_iter().filter(|r| r.method == method).collect();
        assert_eq!(of.len(), 1, "one {method} to {to}: {of:#?}");
        of.remove(0)
    }

    /// The final responses sent to `to` (removing everything sent to it).
    fn finals(&mut self, to: &str) -> Vec<Response> {
        self.take(to)
            .into_iter()
            .filter_map(|m| match m {
                SipMessage::Response(r) if r.status >= 200 => Some(r),
                _ => None,
            })
            .collect()
    }

    /// Phone `ext` answers `req` with `status` (and its SDP on a 2xx if `with_sdp`).
    fn reply(&mut self, ext: &str, req: &Request, status: u16, with_sdp: bool) {
        let mut r = Response::for_request(req, status, "Reason");
        r.set_to_tag(&format!("tag{ext}"));
        r.headers
            .push("Contact", format!("<sip:{ext}@{}>", phone(ext)));
        if with_sdp {
            r.headers.push("Content-Type", "application/sdp");
            r.body = sdp(ext).into_bytes();
        }
        self.deliver(phone(ext), SipMessage::Response(r));
    }

    /// Phone `ext` answers `req` with 200 and `body` as SDP.
    fn reply_sdp(&mut self, ext: &str, req: &Request, body: &str) {
        let mut r = Response::for_request(req, 200, "OK");
        r.set_to_tag(&format!("tag{ext}"));
        r.headers
            .push("Contact", format!("<sip:{ext}@{}>", phone(ext)));
        r.headers.push("Content-Type", "application/sdp");
        r.body = body.as_bytes().to_vec();
        self.deliver(phone(ext), SipMessage::Response(r));
    }

    /// Phone `from` calls `to` (digest included); returns the INVITE it sent.
    fn dial(&mut self, from: &str, to: &str) -> Request {
        self.cseq += 1;
        let addr = phone(from);
        let call_id = format!("call{}-{from}@test", self.cseq);
        let n = self.cseq;
        let build = |cseq: u32, auth: Option<String>| {
            let uri = format!("sip:{to}@192.0.2.1:5060");
            let mut r = Request::new(Method::Invite, uri);
            r.headers.push(
                "Via",
                format!("SIP/2.0/UDP {addr};branch=z9hG4bKd{n}x{cseq}"),
            );
            r.headers.push("Max-Forwards", "70");
            r.headers
                .push("From", format!("<sip:{from}@192.0.2.1>;tag=from{from}"));
            r.headers.push("To", format!("<sip:{to}@192.0.2.1>"));
            r.headers.push("Call-ID", call_id.clone());
            r.headers.push("CSeq", format!("{cseq} INVITE"));
            r.headers.push("Contact", format!("<sip:{from}@{addr}>"));
            r.headers.push("Content-Type", "application/sdp");
            if let Some(a) = auth {
                r.headers.push("Proxy-Authorization", a);
            }
            r.body = sdp(from).into_bytes();
            r
        };
        let first = build(1, None);
        self.deliver(addr, SipMessage::Request(first.clone()));
        let challenge = self
            .finals(from)
            .into_iter()
            .find(|r| r.status == 407)
            .unwrap();
        self.deliver(addr, SipMessage::Request(ack_for(&first, &challenge)));
        let ch = Challenge::parse(challenge.headers.get("Proxy-Authenticate").unwrap()).unwrap();
        let creds = respond(
            &ch,
            "INVITE",
            &first.uri,
            from,
            &format!("demo{from}"),
            "abc",
            1,
        );
        let second = build(2, Some(creds.to_header_value()));
        self.deliver(addr, SipMessage::Request(second.clone()));
        second
    }

    /// An in-dialog request from phone `ext` on the dialog it has with us whose last message
    /// from us was `theirs` (a request we sent it, or our response to its INVITE).
    fn in_dialog(&mut self, ext: &str, dialog: &DialogOf, method: Method) -> Request {
        let addr = phone(ext);
        self.cseq += 1;
        let mut r = Request::new(method.clone(), dialog.our_contact.clone());
        r.headers.push(
            "Via",
            format!("SIP/2.0/UDP {addr};branch=z9hG4bKin{}{ext}", self.cseq),
        );
        r.headers.push("Max-Forwards", "70");
        r.headers.push("From", dialog.phone_side.clone());
        r.headers.push("To", dialog.our_side.clone());
        r.headers.push("Call-ID", dialog.call_id.clone());
        r.headers
            .push("CSeq", format!("{} {method}", 100 + self.cseq));
        r
    }

    /// The current view of the call with `unique_id`.
    fn view(&self, unique_id: &str) -> Option<CallView> {
        let mut v = None;
        for u in &self.updates {
            match u {
                CallUpdate::Updated(view) if view.unique_id == unique_id => v = Some(view.clone()),
                CallUpdate::Ended { unique_id: u, .. } if u == unique_id => v = None,
                _ => {}
            }
        }
        v
    }

    /// The last version of a record.
    fn record(&self, unique_id: &str) -> CdrRecord {
        self.records
            .iter()
            .rev()
            .find(|r| r.unique_id == unique_id)
            .cloned()
            .unwrap()
    }

    /// The last record written.
    fn last_record(&self) -> CdrRecord {
        self.records.last().cloned().unwrap()
    }

    /// The causes of a record's steps: `(destination, cause)`.
    fn steps(rec: &CdrRecord) -> Vec<(String, String)> {
        rec.details
            .iter()
            .map(|d| {
                (
                    d.destination_id.clone(),
                    d.exit_cause.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

/// A dialog as one phone sees it, to send in-dialog requests on it.
struct DialogOf {
    call_id: String,
    /// The phone's own From/To value (with its tag).
    phone_side: String,
    /// Ours (with our tag).
    our_side: String,
    /// Where to send (our Contact).
    our_contact: String,
}

impl DialogOf {
    /// From an INVITE we sent the phone (it answered with tag`ext`).
    fn from_our_invite(ext: &str, invite: &Request) -> DialogOf {
        DialogOf {
            call_id: invite.call_id().to_string(),
            phone_side: format!("{};tag=tag{ext}", invite.headers.get("To").unwrap()),
            our_side: invite.headers.get("From").unwrap().to_string(),
            our_contact: invite.contact().unwrap().uri,
        }
    }

    /// From the phone's own INVITE and our 200 to it.
    fn from_their_invite(invite: &Request, ok: &Response) -> DialogOf {
        DialogOf {
            call_id: invite.call_id().to_string(),
            phone_side: invite.headers.get("From").unwrap().to_string(),
            our_side: ok.headers.get("To").unwrap().to_string(),
            our_contact: ok.contact().unwrap().uri,
        }
    }
}

/// The ACK for a non-2xx final.
fn ack_for(invite: &Request, resp: &Response) -> Request {
    let mut a = Request::new(Method::Ack, invite.uri.clone());
    a.headers
        .push("Via", invite.headers.get("Via").unwrap().to_string());
    a.headers
        .push("From", invite.headers.get("From").unwrap().to_string());
    a.headers
        .push("To", resp.headers.get("To").unwrap().to_string());
    a.headers.push("Call-ID", invite.call_id().to_string());
    a.headers.push("CSeq", format!("{} ACK", invite.cseq().0));
    a
}

/// The ACK for our 2xx on a dialog the phone started.
fn ack_2xx(ext: &str, invite: &Request, ok: &Response) -> Request {
    let mut a = Request::new(Method::Ack, ok.contact().unwrap().uri);
    a.headers.push(
        "Via",
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bKack{}",
            phone(ext),
            invite.cseq().0
        ),
    );
    a.headers
        .push("From", invite.headers.get("From").unwrap().to_string());
    a.headers
        .push("To", ok.headers.get("To").unwrap().to_string());
    a.headers.push("Call-ID", invite.call_id().to_string());
    a.headers.push("CSeq", format!("{} ACK", invite.cseq().0));
    a
}

/// A connected call `from` → `to`: returns (unique id, caller's dialog, callee's dialog,
/// the INVITE the callee got).
fn connected(h: &mut Harness, from: &str, to: &str) -> (String, DialogOf, DialogOf, Request) {
    let invite = h.dial(from, to);
    let fork = h.request(to, Method::Invite);
    h.reply(to, &fork, 200, true);
    let ok = h
        .finals(from)
        .into_iter()
        .find(|r| r.status == 200)
        .unwrap();
    h.deliver(
        phone(from),
        SipMessage::Request(ack_2xx(from, &invite, &ok)),
    );
    let _ = h.take(to); // our ACK
    let uid = h.last_record().unique_id;
    assert_eq!(h.view(&uid).unwrap().phase, CallPhase::Connected);
    (
        uid,
        DialogOf::from_their_invite(&invite, &ok),
        DialogOf::from_our_invite(to, &fork),
        fork,
    )
}
