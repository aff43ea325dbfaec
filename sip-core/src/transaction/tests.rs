//! Deterministic tests of the transaction machines in virtual time.

use super::*;
use crate::msg::{parse, Headers};
use crate::transport::Transport;
use std::net::SocketAddr;
use std::time::Duration;

fn peer() -> Peer {
    Peer::udp(SocketAddr::from(([127, 0, 0, 1], 5070)))
}

fn request(method: Method, branch: &str) -> Request {
    let mut h = Headers::new();
    h.push(
        "Via",
        format!("SIP/2.0/UDP 127.0.0.1:5070;branch={branch};rport"),
    );
    h.push("From", "<sip:201@pbx>;tag=f1");
    h.push("To", "<sip:202@pbx>");
    h.push("Call-ID", "call-1");
    h.push("CSeq", format!("1 {method}"));
    h.push("Max-Forwards", "70");
    Request {
        method,
        uri: "sip:202@127.0.0.1".into(),
        headers: h,
        body: Vec::new(),
    }
}

fn drain(ep: &mut Endpoint) -> Vec<SipMessage> {
    let mut out = Vec::new();
    while let Some(t) = ep.poll_transmit() {
        out.push(parse(&t.data).expect("we only send parsable messages"));
    }
    out
}

fn events(ep: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

/// Runs virtual time until `end`, returning (offset, transmit count) at each timer firing.
fn run_timers(ep: &mut Endpoint, start: Instant, end: Duration) -> Vec<(Duration, usize)> {
    let mut fired = Vec::new();
    while let Some(at) = ep.poll_timeout() {
        if at - start > end {
            break;
        }
        ep.handle_timeout(at);
        let sent = drain(ep).len();
        fired.push((at - start, sent));
    }
    fired
}

#[test]
fn invite_over_total_loss_retransmits_then_times_out_at_32s() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let id = ep
        .send_request(t0, request(Method::Invite, "z9hG4bKa"), peer())
        .unwrap();
    assert_eq!(drain(&mut ep).len(), 1);
    let fired = run_timers(&mut ep, t0, Duration::from_secs(60));
    let retransmits: Vec<f64> = fired
        .iter()
        .filter(|(_, n)| *n == 1)
        .map(|(d, _)| d.as_secs_f64())
        .collect();
    assert_eq!(retransmits, vec![0.5, 1.5, 3.5, 7.5, 15.5, 31.5]);
    assert_eq!(fired.last().map(|(d, _)| d.as_secs_f64()), Some(32.0));
    assert!(matches!(events(&mut ep).as_slice(), [Event::Timeout { id: x }] if *x == id));
    assert!(ep.is_empty());
}

#[test]
fn non_invite_backs_off_to_t2_and_times_out() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    ep.send_request(t0, request(Method::Options, "z9hG4bKb"), peer())
        .unwrap();
    drain(&mut ep);
    let fired = run_timers(&mut ep, t0, Duration::from_secs(60));
    let times: Vec<f64> = fired
        .iter()
        .filter(|(_, n)| *n == 1)
        .map(|(d, _)| d.as_secs_f64())
        .collect();
    assert_eq!(&times[..6], &[0.5, 1.5, 3.5, 7.5, 11.5, 15.5]);
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Timeout { .. }]
    ));
}

#[test]
fn reliable_transport_never_retransmits() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let tcp = Peer {
        transport: Transport::Tcp,
        addr: peer().addr,
    };
    ep.send_request(t0, request(Method::Invite, "z9hG4bKc"), tcp)
        .unwrap();
    drain(&mut ep);
    let fired = run_timers(&mut ep, t0, Duration::from_secs(60));
    assert_eq!(fired, vec![(Duration::from_secs(32), 0)]);
}

#[test]
fn client_invite_acks_non_2xx_once_per_retransmission() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKd");
    let id = ep.send_request(t0, req.clone(), peer()).unwrap();
    drain(&mut ep);
    let mut busy = Response::for_request(&req, 486, "Busy Here");
    busy.set_to_tag("t9");
    ep.handle_datagram(t0, peer(), &busy.to_bytes());
    let sent = drain(&mut ep);
    let SipMessage::Request(ack) = &sent[0] else {
        panic!("expected ACK")
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.to_tag().as_deref(), Some("t9"));
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKd"));
    ep.handle_datagram(t0 + Duration::from_millis(600), peer(), &busy.to_bytes());
    assert_eq!(
        drain(&mut ep).len(),
        1,
        "ACK repeated for the retransmitted 486"
    );
    let evs = events(&mut ep);
    assert_eq!(evs.len(), 1, "the TU sees the 486 once");
    assert!(
        matches!(&evs[0], Event::Response { id: x, response } if *x == id && response.status == 486)
    );
    assert_eq!(ep.state(id), Some(State::Completed));
    run_timers(&mut ep, t0, Duration::from_secs(40));
    assert!(ep.is_empty());
}

#[test]
fn client_invite_2xx_retransmissions_reach_the_tu() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKe");
    let id = ep.send_request(t0, req.clone(), peer()).unwrap();
    let ok = Response::for_request(&req, 200, "OK");
    ep.handle_datagram(t0, peer(), &ok.to_bytes());
    ep.handle_datagram(t0, peer(), &ok.to_bytes());
    assert_eq!(events(&mut ep).len(), 2);
    assert_eq!(ep.state(id), Some(State::Accepted));
}

#[test]
fn server_invite_retransmits_final_until_ack() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKf");
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    let sent = drain(&mut ep);
    assert!(matches!(&sent[0], SipMessage::Response(r) if r.status == 100));
    let evs = events(&mut ep);
    let Event::Request {
        id: Some(id),
        request,
        ..
    } = &evs[0]
    else {
        panic!()
    };
    let via = request.top_via().unwrap();
    assert_eq!(via.param("rport"), Some(Some("5070")));
    // A retransmitted INVITE repeats the 100, creates nothing new.
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    assert_eq!(drain(&mut ep).len(), 1);
    assert!(events(&mut ep).is_empty());
    let mut resp = Response::for_request(request, 480, "Temporarily Unavailable");
    resp.set_to_tag("x");
    ep.respond(t0, *id, resp.clone()).unwrap();
    assert_eq!(drain(&mut ep).len(), 1);
    ep.handle_timeout(t0 + Duration::from_millis(500));
    ep.handle_timeout(t0 + Duration::from_millis(1500));
    assert_eq!(drain(&mut ep).len(), 2, "Timer G retransmits");
    let mut ack = request.clone();
    ack.method = Method::Ack;
    ack.headers.set("CSeq", "1 ACK");
    ep.handle_datagram(t0 + Duration::from_secs(2), peer(), &ack.to_bytes());
    assert!(events(&mut ep).is_empty(), "ACK for non-2xx is absorbed");
    assert_eq!(ep.state(*id), Some(State::Confirmed));
    ep.handle_timeout(t0 + Duration::from_secs(10));
    assert!(drain(&mut ep).is_empty());
    assert!(ep.is_empty());
}

#[test]
fn server_invite_without_ack_times_out() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKg");
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    drain(&mut ep);
    let Event::Request {
        id: Some(id),
        request,
        ..
    } = events(&mut ep).remove(0)
    else {
        panic!()
    };
    ep.respond(t0, id, Response::for_request(&request, 200, "OK"))
        .unwrap();
    run_timers(&mut ep, t0, Duration::from_secs(40));
    assert!(matches!(events(&mut ep).as_slice(), [Event::Timeout { id: x }] if *x == id));
}

#[test]
fn ack_for_2xx_is_matched_by_dialog_and_passed_up() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKh");
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    drain(&mut ep);
    let Event::Request {
        id: Some(id),
        request: inv,
        ..
    } = events(&mut ep).remove(0)
    else {
        panic!()
    };
    ep.respond(t0, id, Response::for_request(&inv, 200, "OK"))
        .unwrap();
    let mut ack = request(Method::Ack, "z9hG4bKother");
    ack.headers.set("CSeq", "1 ACK");
    ep.handle_datagram(t0, peer(), &ack.to_bytes());
    assert!(matches!(
        events(&mut ep).as_slice(),
        [Event::Request { id: None, .. }]
    ));
    assert_eq!(ep.state(id), None, "2xx retransmission stopped");
}

#[test]
fn cancel_is_answered_and_reported() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Invite, "z9hG4bKi");
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    drain(&mut ep);
    let Event::Request { id: Some(id), .. } = events(&mut ep).remove(0) else {
        panic!()
    };
    let mut cancel = request(Method::Cancel, "z9hG4bKi");
    cancel.headers.set("CSeq", "1 CANCEL");
    ep.handle_datagram(t0, peer(), &cancel.to_bytes());
    let sent = drain(&mut ep);
    assert!(matches!(&sent[..], [SipMessage::Response(r)] if r.status == 200));
    assert!(matches!(events(&mut ep).as_slice(), [Event::Cancelled { invite }] if *invite == id));
    let mut stray = request(Method::Cancel, "z9hG4bKnone");
    stray.headers.set("CSeq", "1 CANCEL");
    ep.handle_datagram(t0, peer(), &stray.to_bytes());
    assert!(matches!(&drain(&mut ep)[..], [SipMessage::Response(r)] if r.status == 481));
}

#[test]
fn non_invite_server_repeats_final_for_retransmissions() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let req = request(Method::Options, "z9hG4bKj");
    ep.handle_datagram(t0, peer(), &req.to_bytes());
    let Event::Request {
        id: Some(id),
        request,
        ..
    } = events(&mut ep).remove(0)
    else {
        panic!()
    };
    ep.respond(t0, id, Response::for_request(&request, 200, "OK"))
        .unwrap();
    assert_eq!(
        ep.respond(t0, id, Response::for_request(&request, 200, "OK")),
        Err(TxnError::AlreadyFinal)
    );
    drain(&mut ep);
    ep.handle_datagram(t0 + Duration::from_secs(1), peer(), &req.to_bytes());
    assert_eq!(drain(&mut ep).len(), 1);
    assert!(events(&mut ep).is_empty());
    run_timers(&mut ep, t0, Duration::from_secs(40));
    assert!(ep.is_empty());
}

#[test]
fn garbage_and_unknown_methods() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    ep.handle_datagram(t0, peer(), b"\xff\xfe garbage");
    ep.handle_datagram(t0, peer(), b"INVITE sip:x SIP/2.0\r\nVia: nope\r\n\r\n");
    assert_eq!(ep.malformed, 2);
    assert!(drain(&mut ep).is_empty());
    let mut foo = request(Method::Options, "z9hG4bKk").to_bytes();
    foo.splice(0..7, b"FOO".iter().copied());
    ep.handle_datagram(t0, peer(), &foo);
    assert!(matches!(&drain(&mut ep)[..], [SipMessage::Response(r)] if r.status == 501));
}

#[test]
fn cancel_request_mirrors_the_invite() {
    let mut ep = Endpoint::new(EndpointConfig::default());
    let t0 = Instant::now();
    let id = ep
        .send_request(t0, request(Method::Invite, "z9hG4bKl"), peer())
        .unwrap();
    let c = ep.cancel_request(id).unwrap();
    assert_eq!(c.top_via().unwrap().branch(), Some("z9hG4bKl"));
    assert_eq!(c.cseq(), (1, Some(Method::Cancel)));
    let cid = ep.send_request(t0, c, peer()).unwrap();
    assert_ne!(cid, id);
}
