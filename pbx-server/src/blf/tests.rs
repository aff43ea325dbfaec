//! The BLF notifier driven with hand-made SUBSCRIBEs, lamp changes from a real lamp model,
//! NOTIFY answers and virtual time. Transaction ids are made up by the harness.

#![allow(clippy::unwrap_used)]

use super::{Blf, Limits, Output};
use crate::calls::dialog::Local;
use crate::calls::Now;
use crate::directory::Directory;
use crate::guard::Guard;
use crate::lamps::{CallPhase, CallView, LampModel, PartyRef};
use crate::store::{self, AccountConfig, ExtensionConfig};
use shared_protocol::CallSide;
use sip_core::auth::{ha1, respond, Algorithm, Challenge};
use sip_core::transaction::TxnId;
use sip_core::{MessageExt, Method, Peer, Request, Response, Transport};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The subscriber's phone (extension 204's desk phone).
fn phone() -> SocketAddr {
    SocketAddr::from(([10, 1, 0, 4], 5060))
}

fn peer() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: phone(),
    }
}

fn directory() -> Directory {
    let mut extensions = Vec::new();
    let mut accounts = Vec::new();
    for n in 201..=204i64 {
        let number = n.to_string();
        extensions.push(ExtensionConfig {
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
        });
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
    }
    Directory::from_store(
        store::Directory {
            tenant_domain: Some("default".into()),
            extensions,
            accounts,
            services: Vec::new(),
        },
        Vec::new(),
    )
}

fn party(n: &str) -> PartyRef {
    PartyRef {
        extension: (n.len() == 3).then(|| n.to_string()),
        number: n.into(),
        name: None,
    }
}

fn call(from: &str, to: &str, phase: CallPhase) -> CallView {
    CallView {
        id: 1,
        unique_id: "1700000000.1".into(),
        tenant: "default".into(),
        caller: party(from),
        callee: Some(party(to)),
        phase,
        held_by: None,
        started_ms: 1,
        answered_ms: None,
        also_ringing: Vec::new(),
    }
}

/// The subscriber's side of one subscription dialog.
#[derive(Clone)]
struct SubDialog {
    call_id: String,
    from_tag: String,
    to_tag: String,
    to: String,
    cseq: u32,
}

struct Harness {
    blf: Blf,
    dir: Directory,
    guard: Guard,
    lamps: LampModel,
    now: Now,
    next: u64,
    responses: Vec<Response>,
    /// NOTIFYs sent and not yet answered by the test, with their transaction.
    notifies: Vec<(TxnId, Request)>,
    /// Every NOTIFY seen, in order.
    seen: Vec<Request>,
}

impl Harness {
    fn new(limits: Limits) -> Harness {
        let local = Local {
            ip: "192.0.2.1".parse().unwrap(),
            port: 5060,
        };
        let mut lamps = LampModel::new();
        for ext in ["201", "202", "203", "204"] {
            lamps.set_reachable("default", ext, true);
        }
        Harness {
            blf: Blf::new(local, "default", limits),
            dir: directory(),
            guard: Guard::new("default", false),
            lamps,
            now: Now {
                mono: Instant::now(),
                wall_ms: 1_700_000_000_000,
            },
            next: 0,
            responses: Vec::new(),
            notifies: Vec::new(),
            seen: Vec::new(),
        }
    }

    fn txn(&mut self) -> TxnId {
        self.next += 1;
        TxnId::from_raw(self.next)
    }

    /// Collects what the notifier asked for, handing out transaction ids for NOTIFYs.
    fn step(&mut self) {
        while let Some(out) = self.blf.poll_output() {
            match out {
                Output::Respond { response, .. } => self.responses.push(response),
                Output::Notify { sub, request, peer } => {
                    assert_eq!(peer.addr, phone());
                    let txn = self.txn();
                    self.blf.sent(sub, txn);
                    self.seen.push(request.clone());
                    self.notifies.push((txn, request));
                }
            }
        }
    }

    fn deliver(&mut self, req: &Request) -> Response {
        let txn = self.txn();
        self.blf.on_subscribe(
            self.now,
            txn,
            req,
            peer(),
            &self.dir,
            &mut self.guard,
            &self.lamps,
        );
        self.step();
        self.responses.pop().unwrap()
    }

    /// A SUBSCRIBE from 204 to `to`, outside a dialog, with `headers` added.
    fn request(&mut self, to: &str, cseq: u32, headers: &[(&str, &str)]) -> Request {
        let n = self.next;
        let mut r = Request::new(Method::Subscribe, format!("sip:{to}@192.0.2.1:5060"));
        r.headers
            .push("Via", format!("SIP/2.0/UDP {};branch=z9hG4bKs{n}", phone()));
        r.headers.push("Max-Forwards", "70");
        r.headers
            .push("From", format!("<sip:204@192.0.2.1>;tag=f{to}"));
        r.headers.push("To", format!("<sip:{to}@192.0.2.1>"));
        r.headers.push("Call-ID", format!("blf-{to}-{cseq}@test"));
        r.headers.push("CSeq", format!("{cseq} SUBSCRIBE"));
        r.headers.push("Contact", format!("<sip:204@{}>", phone()));
        for (name, value) in headers {
            r.headers.push(name, *value);
        }
        r
    }

    /// 204 subscribes to `to` (answering the 407); returns the final response.
    fn subscribe(&mut self, to: &str, headers: &[(&str, &str)]) -> Response {
        let first = self.request(to, 1, headers);
        let challenge = self.deliver(&first);
        assert_eq!(challenge.status, 407, "{challenge:?}");
        let ch = Challenge::parse(challenge.headers.get("Proxy-Authenticate").unwrap()).unwrap();
        let creds = respond(&ch, "SUBSCRIBE", &first.uri, "204", "demo204", "c", 1);
        let mut second = self.request(to, 2, headers);
        second
            .headers
            .push("Proxy-Authorization", creds.to_header_value());
        self.deliver(&second)
    }

    /// Subscribes to `to` with `Event: dialog`; returns the dialog.
    fn subscribed(&mut self, to: &str, expires: &str) -> SubDialog {
        let ok = self.subscribe(
            to,
            &[
                ("Event", "dialog"),
                ("Accept", "application/dialog-info+xml"),
                ("Expires", expires),
            ],
        );
        assert_eq!(ok.status, 200, "{ok:?}");
        SubDialog {
            call_id: ok.call_id().to_string(),
            from_tag: ok.from_tag().unwrap(),
            to_tag: ok.to_tag().unwrap(),
            to: to.to_string(),
            cseq: 2,
        }
    }

    /// An in-dialog SUBSCRIBE.
    fn resubscribe(&mut self, d: &mut SubDialog, expires: &str) -> Response {
        d.cseq += 1;
        let mut r = Request::new(Method::Subscribe, "sip:202@192.0.2.1:5060");
        r.headers.push(
            "Via",
            format!("SIP/2.0/UDP {};branch=z9hG4bKr{}", phone(), d.cseq),
        );
        r.headers
            .push("From", format!("<sip:204@192.0.2.1>;tag={}", d.from_tag));
        r.headers
            .push("To", format!("<sip:{}@192.0.2.1>;tag={}", d.to, d.to_tag));
        r.headers.push("Call-ID", d.call_id.clone());
        r.headers.push("CSeq", format!("{} SUBSCRIBE", d.cseq));
        r.headers.push("Contact", format!("<sip:204@{}>", phone()));
        r.headers.push("Event", "dialog");
        r.headers.push("Expires", expires);
        assert!(self.blf.owns_dialog(&r));
        self.deliver(&r)
    }

    /// The subscriber answers the oldest unanswered NOTIFY.
    fn answer(&mut self, status: u16) -> Request {
        let (txn, req) = self.notifies.remove(0);
        self.blf.on_response(self.now.mono, txn, status);
        self.step();
        req
    }

    /// Answers every NOTIFY (and those they release) with 200.
    fn answer_all(&mut self) {
        while !self.notifies.is_empty() {
            self.answer(200);
        }
    }

    fn lamp(&mut self, changes: Vec<crate::lamps::LampChange>) {
        for c in changes {
            self.blf.on_lamp(self.now.mono, &c, &self.dir);
        }
        self.step();
    }

    fn update(&mut self, view: CallView) {
        let changes = self.lamps.call_updated(view);
        self.lamp(changes);
    }

    fn ended(&mut self, id: u64) {
        let changes = self.lamps.call_ended(id);
        self.lamp(changes);
    }

    fn reachable(&mut self, ext: &str, reachable: bool) {
        let changes = self.lamps.set_reachable("default", ext, reachable);
        self.lamp(changes);
    }

    fn advance(&mut self, d: Duration) {
        self.now.mono += d;
        self.now.wall_ms += d.as_millis() as i64;
        self.blf.handle_timeout(self.now.mono);
        self.step();
    }
}

fn body(req: &Request) -> String {
    String::from_utf8_lossy(&req.body).into_owned()
}

/// What a BLF key would show: `idle`, `early`, `confirmed` or `hold`.
fn shows(req: &Request) -> &'static str {
    let b = body(req);
    if !b.contains("<dialog ") {
        "idle"
    } else if b.contains("+sip.rendering") {
        "hold"
    } else if b.contains("<state>early</state>") {
        "early"
    } else {
        "confirmed"
    }
}

fn version(req: &Request) -> u32 {
    let b = body(req);
    let v = b.split("version=\"").nth(2).unwrap();
    v[..v.find('"').unwrap()].parse().unwrap()
}

fn sub_state(req: &Request) -> &str {
    req.headers.get("Subscription-State").unwrap()
}

#[test]
fn a_subscription_is_challenged_granted_and_gets_the_current_state_at_once() {
    let mut h = Harness::new(Limits::default());
    let d = h.subscribed("202", "7200");
    assert_eq!(h.notifies.len(), 1);
    let n = &h.notifies[0].1;
    assert_eq!(n.method, Method::Notify);
    assert_eq!(n.uri, format!("sip:204@{}", phone()));
    assert_eq!(n.call_id(), d.call_id);
    assert_eq!(n.from_tag().unwrap(), d.to_tag);
    assert_eq!(n.to_tag().unwrap(), d.from_tag);
    assert_eq!(n.headers.get("Event"), Some("dialog"));
    assert_eq!(sub_state(n), "active;expires=3600");
    assert_eq!(
        n.headers.get("Content-Type"),
        Some("application/dialog-info+xml")
    );
    assert!(n.headers.get("Contact").is_some());
    assert!(body(n).contains("entity=\"sip:202@192.0.2.1:5060\""));
    assert!(body(n).contains("state=\"full\""));
    assert_eq!((shows(n), version(n)), ("idle", 0));
}

#[test]
fn the_granted_expiry_is_in_the_200_and_capped() {
    let mut h = Harness::new(Limits::default());
    let ok = h.subscribe("202", &[("Event", "dialog"), ("Expires", "7200")]);
    assert_eq!(ok.headers.get("Expires"), Some("3600"));
    let ok = h.subscribe("203", &[("Event", "dialog;id=7"), ("Expires", "600")]);
    assert_eq!(ok.headers.get("Expires"), Some("600"));
    let n = &h.notifies[1].1;
    assert_eq!(n.headers.get("Event"), Some("dialog;id=7"));
    let ok = h.subscribe("201", &[("Event", "dialog")]);
    assert_eq!(ok.headers.get("Expires"), Some("3600"), "default");
}

#[test]
fn lamp_changes_become_notifies_one_in_flight_at_a_time() {
    let mut h = Harness::new(Limits::default());
    h.subscribed("202", "3600");
    h.answer_all();
    h.update(call("203", "202", CallPhase::Ringing));
    assert_eq!(h.notifies.len(), 1);
    let early = h.notifies[0].1.clone();
    assert_eq!((shows(&early), version(&early)), ("early", 1));
    let b = body(&early);
    assert!(
        b.contains("<dialog id=\"1700000000.1\" direction=\"recipient\">"),
        "{b}"
    );
    assert!(
        b.contains("<remote>\n      <identity>sip:203@192.0.2.1:5060</identity>"),
        "{b}"
    );
    // Answered, then held by 202, before the subscriber acknowledged the early NOTIFY:
    // one NOTIFY follows, with the state as it is then.
    h.update(call("203", "202", CallPhase::Connected));
    let mut held = call("203", "202", CallPhase::Connected);
    held.held_by = Some(CallSide::Callee);
    h.update(held);
    assert_eq!(h.notifies.len(), 1);
    h.answer(200);
    assert_eq!(h.notifies.len(), 1);
    let n = h.answer(200);
    assert_eq!((shows(&n), version(&n)), ("hold", 2));
    h.update(call("203", "202", CallPhase::Connected));
    let n = h.answer(200);
    assert_eq!((shows(&n), version(&n)), ("confirmed", 3));
    // Changes elsewhere do not reach this subscriber.
    h.reachable("201", false);
    assert!(h.notifies.is_empty());
    h.ended(1);
    let n = h.answer(200);
    assert_eq!((shows(&n), version(&n)), ("idle", 4));
    // Idle to unavailable shows the same: no NOTIFY.
    h.reachable("202", false);
    assert!(h.notifies.is_empty());
}

#[test]
fn an_outgoing_call_is_initiator_and_external_peers_are_masked() {
    let mut h = Harness::new(Limits::default());
    h.subscribed("202", "3600");
    h.answer_all();
    h.update(call("202", "0612345678", CallPhase::Connected));
    let n = h.answer(200);
    let b = body(&n);
    assert!(b.contains("direction=\"initiator\""), "{b}");
    assert!(b.contains("sip:0612345xxx@"), "{b}");
    assert!(!b.contains("0612345678"), "{b}");
}

#[test]
fn refresh_renews_and_unsubscribe_ends_with_a_terminated_notify() {
    let mut h = Harness::new(Limits::default());
    let mut d = h.subscribed("202", "600");
    h.answer_all();
    h.advance(Duration::from_secs(500));
    assert!(h.notifies.is_empty());
    let ok = h.resubscribe(&mut d, "600");
    assert_eq!(ok.status, 200);
    assert_eq!(ok.to_tag().unwrap(), d.to_tag);
    assert_eq!(ok.headers.get("Expires"), Some("600"));
    let n = h.answer(200);
    assert_eq!(sub_state(&n), "active;expires=600");
    assert_eq!(version(&n), 1);
    // The old expiry passes without effect.
    h.advance(Duration::from_secs(200));
    assert!(h.notifies.is_empty());
    let ok = h.resubscribe(&mut d, "0");
    assert_eq!((ok.status, ok.headers.get("Expires")), (200, Some("0")));
    let n = h.answer(200);
    assert_eq!(sub_state(&n), "terminated");
    assert!(h.blf.is_empty());
    // Gone: no more NOTIFYs, and a refresh is refused by the core (481).
    h.update(call("203", "202", CallPhase::Ringing));
    assert!(h.notifies.is_empty());
    d.cseq += 1;
    let mut r = h.request("202", d.cseq, &[("Event", "dialog")]);
    r.headers
        .set("To", format!("<sip:202@192.0.2.1>;tag={}", d.to_tag));
    assert!(!h.blf.owns_dialog(&r));
}

#[test]
fn an_unrefreshed_subscription_times_out_after_the_notify_in_flight() {
    let mut h = Harness::new(Limits::default());
    h.subscribed("202", "60");
    h.answer_all();
    assert_eq!(
        h.blf.poll_timeout(),
        Some(h.now.mono + Duration::from_secs(60))
    );
    h.update(call("203", "202", CallPhase::Ringing));
    h.advance(Duration::from_secs(60));
    assert_eq!(h.notifies.len(), 1, "the terminated NOTIFY waits");
    assert_eq!(h.blf.poll_timeout(), None);
    h.answer(200);
    let n = h.answer(200);
    assert_eq!(sub_state(&n), "terminated;reason=timeout");
    assert_eq!(shows(&n), "early");
    assert!(h.blf.is_empty());
}

#[test]
fn a_481_or_a_timeout_on_a_notify_removes_the_subscription() {
    let mut h = Harness::new(Limits::default());
    h.subscribed("202", "3600");
    h.answer(481);
    assert!(h.blf.is_empty());
    h.subscribed("203", "3600");
    let (txn, _) = h.notifies.remove(0);
    assert!(h.blf.owns(txn));
    h.blf.on_timeout(txn);
    assert!(h.blf.is_empty());
    assert!(!h.blf.owns(txn));
    assert_eq!(h.blf.poll_timeout(), None);
}

#[test]
fn a_fetch_gets_one_terminated_notify() {
    let mut h = Harness::new(Limits::default());
    h.subscribed("202", "0");
    let n = h.answer(200);
    assert_eq!(sub_state(&n), "terminated;reason=timeout");
    assert_eq!(shows(&n), "idle");
    assert!(h.blf.is_empty());
}

#[test]
fn refusals_bad_event_unknown_extension_brief_interval_type_and_limit() {
    let mut h = Harness::new(Limits {
        per_account: 2,
        total: 100,
    });
    // Another package: 489 at once, no challenge.
    let r = h.request("202", 1, &[("Event", "presence")]);
    let resp = h.deliver(&r);
    assert_eq!(resp.status, 489);
    assert_eq!(resp.headers.get("Allow-Events"), Some("dialog"));
    let r = h.request("202", 1, &[]);
    assert_eq!(h.deliver(&r).status, 489, "no Event header");
    // The rest after authentication.
    assert_eq!(h.subscribe("299", &[("Event", "dialog")]).status, 404);
    let r = h.subscribe("202", &[("Event", "dialog"), ("Expires", "10")]);
    assert_eq!((r.status, r.headers.get("Min-Expires")), (423, Some("60")));
    let r = h.subscribe("202", &[("Event", "dialog"), ("Expires", "soon")]);
    assert_eq!(r.status, 400);
    let r = h.subscribe(
        "202",
        &[("Event", "dialog"), ("Accept", "application/pidf+xml")],
    );
    assert_eq!(r.status, 406);
    h.subscribed("202", "3600");
    h.subscribed("203", "3600");
    let r = h.subscribe("201", &[("Event", "dialog")]);
    assert_eq!((r.status, r.headers.get("Retry-After")), (503, Some("300")));
    assert_eq!(h.blf.len(), 2);
    // A wrong password is challenged again.
    let first = h.request("202", 1, &[("Event", "dialog")]);
    let challenge = h.deliver(&first);
    let ch = Challenge::parse(challenge.headers.get("Proxy-Authenticate").unwrap()).unwrap();
    let creds = respond(&ch, "SUBSCRIBE", &first.uri, "204", "wrong", "c", 1);
    let mut second = h.request("202", 2, &[("Event", "dialog")]);
    second
        .headers
        .push("Proxy-Authorization", creds.to_header_value());
    assert_eq!(h.deliver(&second).status, 407);
}

#[test]
fn an_in_dialog_subscribe_out_of_order_or_for_another_package_is_refused() {
    let mut h = Harness::new(Limits::default());
    let mut d = h.subscribed("202", "3600");
    h.answer_all();
    let mut stale = d.clone();
    stale.cseq = 0;
    assert_eq!(h.resubscribe(&mut stale, "3600").status, 500);
    let ok = h.resubscribe(&mut d, "3600");
    assert_eq!(ok.status, 200);
    h.answer_all();
    // Another package inside the dialog.
    d.cseq += 1;
    let mut r = h.request("202", d.cseq, &[("Event", "presence")]);
    r.headers
        .set("From", format!("<sip:204@192.0.2.1>;tag={}", d.from_tag));
    r.headers
        .set("To", format!("<sip:202@192.0.2.1>;tag={}", d.to_tag));
    r.headers.set("Call-ID", d.call_id.clone());
    assert_eq!(h.deliver(&r).status, 489);
    // A stranger's tags: 481.
    let mut other = d.clone();
    other.from_tag = "intruder".into();
    let r481 = {
        other.cseq += 5;
        let mut r = h.request("202", other.cseq, &[("Event", "dialog")]);
        r.headers.set(
            "From",
            format!("<sip:204@192.0.2.1>;tag={}", other.from_tag),
        );
        r.headers
            .set("To", format!("<sip:202@192.0.2.1>;tag={}", other.to_tag));
        r.headers.set("Call-ID", other.call_id.clone());
        h.deliver(&r)
    };
    assert_eq!(r481.status, 481);
    assert_eq!(h.blf.len(), 1);
}
